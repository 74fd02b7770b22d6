"""``get`` as curl users expect it, checked against curl itself on the same servers.

Peers: the stdlib ``http.server`` over stdlib ``ssl`` and without TLS
(:mod:`stdlibhttps`, with its ``/status``, ``/gzip``, ``/flaky`` paths), curl
(the reference for ``-v``'s ``>``/``<`` lines, ``-i``, ``-w``, ``-f``,
``--compressed``, ``--retry``), Debian's ``tinyproxy`` as the HTTP proxy (with
and without Basic authentication), a listening socket that never answers
(timeouts), and a pseudo-terminal for the progress meter.
"""

from __future__ import annotations

import os
import pty
import re
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from certs import make_ca, make_leaf, write_pki
from clirun import Run, cmd, get
from clirun import env as _env
from dnsserver import Responder
from procs import Proc, needs, tool
from stdlibhttps import BIG, BODY, serve_http, serve_https

pytestmark = pytest.mark.timeout(90)

CA = make_ca(name="get-curl Test Root CA")
LEAF = make_leaf(CA, ["localhost", "127.0.0.1"])
AGENT = "curl-compatible/1.0"  # the same User-Agent for both, so that the request heads can be equal


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pki(tmp_path_factory.mktemp("pki"), CA, LEAF)


@pytest.fixture
def https(pki: Path) -> Iterator[int]:
    with serve_https(pki / "leaf.pem", pki / "leaf.key") as port:
        yield port


@pytest.fixture
def http() -> Iterator[ThreadingHTTPServer]:
    with serve_http() as server:
        yield server


def curl(*args: str, env: dict[str, str] | None = None) -> Run:
    proc = subprocess.run([tool("curl"), *args], capture_output=True, timeout=30, env=env, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))


def head_lines(err: str) -> list[str]:
    """-v's request (``>``) and response (``<``) lines, as written (CR included), Date's value blanked."""
    lines = [line for line in err.split("\n") if line.startswith(("> ", "< "))]
    return [re.sub(r"^< Date: .*\r$", "< Date: -\r", line) for line in lines]


def no_date(data: bytes) -> bytes:
    return re.sub(rb"(?m)^Date: [^\r\n]*", b"Date: -", data)


def urls(https_port: int, http: ThreadingHTTPServer, path: str) -> dict[str, str]:
    return {
        "https": f"https://127.0.0.1:{https_port}{path}",
        "http": f"http://127.0.0.1:{http.server_address[1]}{path}",
    }


# --------------------------------------------------------------------------- -v, -i


@needs("curl")
@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize("path", ["/", "/status/404"])
def test_verbose_head_lines_equal_curls(
    https: int, http: ThreadingHTTPServer, pki: Path, scheme: str, path: str
) -> None:
    url = urls(https, http, path)[scheme]
    ours = get(url, "-v", "-A", AGENT, "--cacert", str(pki / "ca.pem"))
    theirs = curl(url, "-v", "-A", AGENT, "--cacert", str(pki / "ca.pem"))
    assert ours.code == theirs.code == 0, ours.err
    assert ours.out == theirs.out == BODY
    assert head_lines(ours.err) == head_lines(theirs.err), ours.err
    assert head_lines(ours.err)[0] == f"> GET {path} HTTP/1.1\r"
    assert any(line.startswith("< Content-Type: ") for line in head_lines(ours.err))  # names as received
    assert re.search(r"^\* Connected to 127\.0\.0\.1 \(127\.0\.0\.1\) port \d+$", ours.err, re.M), ours.err
    if scheme == "https":
        assert re.search(r"^\* SSL connection using TLSv1\.3 / TLS_\w+ / \w+$", ours.err, re.M), ours.err


@needs("curl")
@pytest.mark.parametrize("scheme", ["https", "http"])
def test_include_shows_the_head_as_received(https: int, http: ThreadingHTTPServer, pki: Path, scheme: str) -> None:
    url = urls(https, http, "/")[scheme]
    ours = get(url, "-i", "--cacert", str(pki / "ca.pem"))
    theirs = curl(url, "-i", "--cacert", str(pki / "ca.pem"))
    assert ours.code == theirs.code == 0, ours.err
    assert b"\r\nContent-Type: text/plain\r\n" in ours.out
    assert no_date(ours.out) == no_date(theirs.out)


# --------------------------------------------------------------------------- -w


EXACT = (
    "%{http_code} %{response_code} %{http_version} %{num_connects} %{num_redirects} %{size_download} "
    "%{size_header} %{size_request} %{url_effective} %{remote_ip} %{remote_port} %{local_ip} %{scheme} "
    "[%{content_type}] [%header{content-length}] %{ssl_verify_result} [%{redirect_url}] %{exitcode}\\n"
)
TIMES = "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_pretransfer} %{time_starttransfer} %{time_total}"


@needs("curl")
@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize(("path", "extra"), [("/", ()), ("/status/503", ()), ("/redirect", ("-L",)), ("/redirect", ())])
def test_write_out_equals_curls(
    https: int, http: ThreadingHTTPServer, pki: Path, scheme: str, path: str, extra: tuple[str, ...]
) -> None:
    url = urls(https, http, path)[scheme]
    args = (url, "-s", "-o", os.devnull, "-A", AGENT, "--cacert", str(pki / "ca.pem"), *extra)
    ours, theirs = get(*args, "-w", EXACT), curl(*args, "-w", EXACT)
    assert ours.code == theirs.code == 0, ours.err
    assert ours.out.decode() == theirs.out.decode()
    assert re.match(r"(200|302|503) \1 1\.1 (1 0|2 1) ", ours.out.decode()), ours.out


def test_write_out_times_are_ordered(https: int, pki: Path, tmp_path: Path) -> None:
    (tmp_path / "fmt").write_text(TIMES + "\\n%{stderr}to stderr %% %{nonsense}")
    r = get(f"https://127.0.0.1:{https}/", "-s", "-o", os.devnull, "--cacert", str(pki / "ca.pem"), "-w",
            f"@{tmp_path / 'fmt'}")  # fmt: skip
    assert r.code == 0, r.err
    times = [float(t) for t in r.out.decode().split()]
    assert len(times) == 6 and 0 < times[0] <= times[1] < times[2] <= times[3] <= times[4] <= times[5] < 10, times
    assert "to stderr % " in r.err and "unknown --write-out variable: 'nonsense'" in r.err


def test_write_out_after_a_failure() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        r = get(f"https://127.0.0.1:{port}/", "-w", "%{http_code} %{exitcode} %{num_connects} [%{errormsg}]")
    assert r.code == 4
    assert re.fullmatch(r"000 4 0 \[cannot connect to 127\.0\.0\.1:\d+: ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST .*\]",
                        r.out.decode()), r.out  # fmt: skip


# --------------------------------------------------------------------------- -f, -s, -S, -A, --tls-max


@needs("curl")
@pytest.mark.parametrize("status", [200, 400, 404, 500])
def test_fail_exit_codes_equal_curls(https: int, pki: Path, status: int) -> None:
    url = f"https://127.0.0.1:{https}/status/{status}"
    ours, theirs = get(url, "-f", "--cacert", str(pki / "ca.pem")), curl(url, "-sf", "--cacert", str(pki / "ca.pem"))
    assert ours.code == theirs.code == (22 if status >= 400 else 0), ours.err
    assert ours.out == theirs.out == (BODY if status < 400 else b"")
    if status >= 400:
        assert ours.err == f"https-request: the requested URL returned error: {status}\n"
    assert get(url, "--cacert", str(pki / "ca.pem")).code == 0  # without -f, any status is a success


def test_silent_and_show_error() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"https://127.0.0.1:{closed.getsockname()[1]}/"
        silent, shown, plain = get(url, "-s"), get(url, "-sS"), get(url)
    assert (silent.code, silent.err) == (4, "")
    assert shown.code == 4 and shown.err == plain.err and shown.err.startswith("https-request: cannot connect to ")


def test_user_agent_and_tls_max(https: int, pki: Path) -> None:
    url = f"https://127.0.0.1:{https}/"
    r = get(url, "-v", "-A", "Mozilla/5.0 (test)", "--tls-max", "1.2", "--json", "-", "--cacert", str(pki / "ca.pem"))
    assert r.code == 0 and r.json["version"] == "TLS 1.2", r.err
    assert "> User-Agent: Mozilla/5.0 (test)\r" in r.err.split("\n")
    r = get(url, "-v", "-A", "", "--tlsv1.3", "--json", "-", "--cacert", str(pki / "ca.pem"))
    assert r.code == 0 and r.json["version"] == "TLS 1.3", r.err
    assert "User-Agent" not in r.err


# --------------------------------------------------------------------------- --compressed


@needs("curl")
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_compressed_equals_curls(https: int, pki: Path, coding: str) -> None:
    url = f"https://127.0.0.1:{https}/{coding}"
    ours, theirs = get(url, "--compressed", "--cacert", str(pki / "ca.pem")), curl(url, "--compressed", "--cacert",
                                                                                   str(pki / "ca.pem"))  # fmt: skip
    assert ours.code == theirs.code == 0, ours.err
    assert ours.out == theirs.out == BODY
    raw = get(url, "--cacert", str(pki / "ca.pem"))  # without --compressed: the bytes as sent, as curl
    assert raw.code == 0 and raw.out == curl(url, "--cacert", str(pki / "ca.pem")).out != BODY
    r = get(url, "--compressed", "-v", "-w", "%{size_download}", "--cacert", str(pki / "ca.pem"))
    assert "> Accept-Encoding: deflate, gzip\r" in r.err.split("\n")
    assert r.out == BODY + str(len(raw.out)).encode()  # size_download: the body as received


# --------------------------------------------------------------------------- --retry


@needs("curl")
def test_retry_after_transient_http_errors_as_curl(http: ThreadingHTTPServer) -> None:
    base = f"http://127.0.0.1:{http.server_address[1]}"
    hits = http.hits  # type: ignore[attr-defined]
    r = get(f"{base}/flaky/2/503", "--retry", "3", "--retry-delay", "0")
    assert r.code == 0 and r.out == BODY, r.err
    assert r.err.count("https-request: warning: transient problem: HTTP 503; will retry in 0 s") == 2, r.err
    c = curl(f"{base}/flaky/2/503/", "-s", "--retry", "3", "--retry-delay", "0")
    assert c.code == 0 and c.out == b"try again\n" * 2 + BODY  # curl writes the bodies it gives up on; we do not
    assert hits["/flaky/2/503"] == hits["/flaky/2/503/"] == 3
    # out of tries: the last answer is the result (exit 0, or 22 with -f); Retry-After (0) is the delay
    r, c = get(f"{base}/flaky/9/429", "--retry", "1"), curl(f"{base}/flaky/9/429/", "-s", "--retry", "1")
    assert (r.code, r.out, c.code, c.out) == (0, b"try again\n", 0, b"try again\n" * 2), r.err
    assert hits["/flaky/9/429"] == hits["/flaky/9/429/"] == 2
    assert get(f"{base}/flaky/9/502", "--retry", "1", "-f", "-s").code == 22
    # not transient: no retry
    r, c = get(f"{base}/flaky/3/404", "--retry", "3"), curl(f"{base}/flaky/3/404/", "-s", "--retry", "3")
    assert r.code == c.code == 0 and hits["/flaky/3/404"] == hits["/flaky/3/404/"] == 1
    # --retry-max-time: no new try once it has passed
    t0 = time.monotonic()
    r = get(f"{base}/flaky/9/500", "--retry", "5", "--retry-delay", "1", "--retry-max-time", "0.5")
    assert r.code == 0 and hits["/flaky/9/500"] == 2 and time.monotonic() - t0 < 10, r.err


def test_retry_after_a_timeout() -> None:
    with socket.socket() as silent:  # connects (the kernel's backlog), never answers: the handshake times out
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        r = get(f"https://127.0.0.1:{silent.getsockname()[1]}/", "--timeout", "0.5", "--retry", "1",
                "--retry-delay", "0")  # fmt: skip
        silent.settimeout(1)
        accepted = [silent.accept()[0] for _ in range(2)]
        for conn in accepted:
            conn.close()
    assert r.code == 8, r.err
    assert "transient problem: timeout; will retry in 0 s, 0 retries left" in r.err


def test_retry_after_a_name_that_does_not_resolve() -> None:
    def nxdomain(responder: Responder, data: bytes, client: tuple[str, int]) -> None:
        answer = dns.message.make_response(dns.message.from_wire(data))
        answer.set_rcode(dns.rcode.NXDOMAIN)
        responder.sock.sendto(answer.to_wire(), client)

    with Responder(nxdomain) as dns_server:
        r = get("https://nothing.example.test/", "--dns-server", f"127.0.0.1:{dns_server.port}", "--retry", "2",
                "--retry-delay", "0")  # fmt: skip
        names = {str(q.question[0].name) for q in dns_server.queries()}
    assert r.code == 3, r.err
    assert r.err.count("transient problem: cannot resolve the host; will retry in 0 s") == 2, r.err
    assert names == {"nothing.example.test."} and len(dns_server.received) >= 3


# --------------------------------------------------------------------------- http://


def test_plain_http(http: ThreadingHTTPServer, tmp_path: Path) -> None:
    port = http.server_address[1]
    r = get(f"http://127.0.0.1:{port}/big", "--json", "-")
    assert r.code == 0 and r.out == BIG, r.err
    assert r.json["status"] == 200 and r.json["version"] is None and r.json["address"] == "127.0.0.1"
    r = get(f"http://127.0.0.1:{port}/redirect", "-L", "-w", "%{url_effective} %{num_redirects}")
    assert r.code == 0 and r.out == BODY + f"http://127.0.0.1:{port}/ 1".encode(), r.err
    r = get(f"http://127.0.0.1:{port}/", "--session", str(tmp_path / "s"), "--early-data")
    assert r.code == 0 and r.out == BODY and not (tmp_path / "s").exists(), r.err  # no TLS: nothing to save


# --------------------------------------------------------------------------- -x, --noproxy, $https_proxy


class Tinyproxy:
    """tinyproxy in the foreground on 127.0.0.1, its log collected (``proc``)."""

    def __init__(self, tmp: Path, auth: str | None = None) -> None:
        for _ in range(3):  # tinyproxy cannot bind port 0: the kernel picks a free one, tinyproxy binds it
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
            conf = tmp / f"tinyproxy-{self.port}.conf"
            lines = [f"Port {self.port}", "Listen 127.0.0.1", "Timeout 10", "LogLevel Connect", "MaxClients 8",
                     "Allow 127.0.0.1"]  # fmt: skip
            if auth is not None:
                lines.append("BasicAuth " + auth.replace(":", " "))
            conf.write_text("\n".join(lines) + "\n")
            self.proc = Proc([tool("tinyproxy"), "-d", "-c", str(conf)])
            time.sleep(0.05)
            for _ in range(100):
                if self._listening():
                    return
                if self.proc.p.poll() is not None:
                    break
                time.sleep(0.05)
            self.proc.kill()
        pytest.fail(f"tinyproxy did not start:\n{self.proc.text}")

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    p = Tinyproxy(tmp_path)
    yield p
    p.proc.kill()


@pytest.fixture
def auth_proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    p = Tinyproxy(tmp_path, auth="user:s3cret")
    yield p
    p.proc.kill()


@needs("tinyproxy")
def test_proxy_connect_and_absolute_form(proxy: Tinyproxy, https: int, http: ThreadingHTTPServer, pki: Path) -> None:
    r = get(f"https://127.0.0.1:{https}/", "-x", proxy.url, "-v", "--cacert", str(pki / "ca.pem"))
    assert r.code == 0 and r.out == BODY, r.err
    proxy.proc.wait_for(rf"Request \(file descriptor \d+\): CONNECT 127\.0\.0\.1:{https} HTTP/1\.1")
    lines = r.err.split("\n")
    assert f"> CONNECT 127.0.0.1:{https} HTTP/1.1\r" in lines and f"> Host: 127.0.0.1:{https}\r" in lines
    assert any(re.fullmatch(r"< HTTP/1\.[01] 200 Connection established\r", line) for line in lines), r.err
    assert re.search(rf"^\* Connected to 127\.0\.0\.1 \(127\.0\.0\.1\) port {proxy.port}$", r.err, re.M), r.err
    port = http.server_address[1]
    r = get(f"http://127.0.0.1:{port}/", "-x", f"127.0.0.1:{proxy.port}", "-w", "%{remote_port}")
    assert r.code == 0 and r.out == BODY + str(proxy.port).encode(), r.err
    proxy.proc.wait_for(rf"Request \(file descriptor \d+\): GET http://127\.0\.0\.1:{port}/ HTTP/1\.1")


@needs("tinyproxy", "curl")
def test_proxy_authentication(auth_proxy: Tinyproxy, https: int, http: ThreadingHTTPServer, pki: Path) -> None:
    url = f"https://127.0.0.1:{https}/"
    r, c = get(url, "-x", auth_proxy.url, "--cacert", str(pki / "ca.pem")), curl(url, "-x", auth_proxy.url)
    assert (r.code, c.code) == (4, 56), r.err  # --help: 4 stands for curl's 7 and 56
    assert "refused CONNECT to 127.0.0.1:" in r.err and ": 407 " in r.err, r.err
    with_credentials = auth_proxy.url.replace("http://", "http://user:s3cret@")
    r = get(url, "-x", with_credentials, "--cacert", str(pki / "ca.pem"))
    assert r.code == 0 and r.out == BODY, r.err
    plain = f"http://127.0.0.1:{http.server_address[1]}/"
    r = get(plain, "-x", auth_proxy.url, "-w", "%{http_code}")
    c = curl(plain, "-x", auth_proxy.url, "-w", "%{http_code}")
    assert (r.code, r.out[-3:]) == (c.code, c.out[-3:]) == (0, b"407")  # http://: the proxy's answer is the answer
    r = get(plain, "-x", with_credentials)
    assert r.code == 0 and r.out == BODY, r.err


@needs("tinyproxy")
def test_proxy_from_the_environment(proxy: Tinyproxy, https: int, http: ThreadingHTTPServer, pki: Path) -> None:
    url, ca = f"https://127.0.0.1:{https}/", str(pki / "ca.pem")
    r = get(url, "--cacert", ca, env=_env(HTTPS_PROXY=proxy.url))
    assert r.code == 0 and r.out == BODY, r.err
    proxy.proc.wait_for(rf"CONNECT 127\.0\.0\.1:{https} HTTP/1\.1")
    with socket.socket() as closed:  # a proxy that refuses: whether the request went to it shows in the exit code
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
        assert get(url, "--cacert", ca, env=_env(https_proxy=dead)).code == 4
        assert get(url, "--cacert", ca, env=_env(https_proxy=dead, no_proxy="localhost,127.0.0.0/8")).code == 0
        assert get(url, "--cacert", ca, "--noproxy", "*", env=_env(https_proxy=dead)).code == 0
        assert get(url, "--cacert", ca, "-x", dead, "--noproxy", "127.0.0.1").code == 0
        plain = f"http://127.0.0.1:{http.server_address[1]}/"
        assert get(plain, env=_env(HTTPS_PROXY=dead)).code == 0  # http:// reads http_proxy
        assert get(plain, env=_env(HTTP_PROXY=dead)).code == 0  # only in lower case, as curl
        assert get(plain, env=_env(http_proxy=dead)).code == 4
        r = get(url, env=_env(https_proxy="socks5://127.0.0.1:1"))
        assert r.code == 2 and "$https_proxy: proxy 'socks5://127.0.0.1:1': only http:// proxies" in r.err, r.err


# --------------------------------------------------------------------------- the progress meter


def on_a_terminal(argv: list[str]) -> str:
    """What ``argv`` writes to stderr when stderr is a terminal (a pty); it must exit 0."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(argv, stderr=slave, stdout=subprocess.DEVNULL, env=_env())
        os.close(slave)
        seen = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the terminal's other end closed
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(10) == 0, seen
    finally:
        os.close(master)
    return seen.decode()


@needs("curl")
def test_progress_meter_on_a_terminal_only(https: int, pki: Path, tmp_path: Path) -> None:
    url = f"https://127.0.0.1:{https}/big"
    ours = on_a_terminal(cmd(url, "--cacert", str(pki / "ca.pem"), "-o", str(tmp_path / "ours")))
    theirs = on_a_terminal([tool("curl"), url, "--cacert", str(pki / "ca.pem"), "-o", str(tmp_path / "theirs")])
    assert (tmp_path / "ours").read_bytes() == (tmp_path / "theirs").read_bytes() == BIG
    assert ours.split("\r\n")[:2] == theirs.split("\r\n")[:2]  # the two header lines
    assert ours.split("\r\n")[0].startswith("  % Total    % Received % Xferd  Average Speed   Time")
    # the last line: the same fields in the same columns (the speeds and times as they came)
    speed, clock = r"[ 0-9.]{4}[ 0-9kMG]", r"(?:--:--:--|[ 0-9]\d:\d\d:\d\d)"
    last = rf"\r100 2048k  100 2048k    0     0  {speed}      0 {clock} {clock} {clock} {speed}\r\n$"
    assert re.search(last, ours) and re.search(last, theirs), (ours, theirs)
    assert get(url, "--cacert", str(pki / "ca.pem"), "-o", str(tmp_path / "x")).err == ""  # no terminal: no meter
    assert on_a_terminal(cmd(url, "--cacert", str(pki / "ca.pem"), "-o", str(tmp_path / "x"), "-s")) == ""
