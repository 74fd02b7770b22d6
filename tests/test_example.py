"""``python -m https_request example`` end to end, checked the way ESP-IDF's own test of the
example (``examples/protocols/https_request/pytest_https_request.py``) checks the device's output.

For each request method: the banner, then ``Connection established...``, ``Reading HTTP
response...``, ``HTTP/1.1 200 OK`` and ``connection closed``; the crt-bundle request also logs
``Certificate validated``; the unsupported cipher suites give ``Connection failed...``.

The example always runs as a subprocess with ``EXAMPLE_COUNTDOWN_S=0``. Its servers:

* ``check``: ``https-request serve --name tls13.browserleaks.com`` with a fresh CA. Both
  www.howsmyssl.com:443 and tls13.browserleaks.com:443 are connected to it (EXAMPLE_CONNECT_TO),
  and its CA is EXAMPLE_SERVER_ROOT_CERT and the custom bundle;
* ``ticket``: ``https-request serve --esp-local-server`` with the packaged local certificate and key
  (as ``demo``);
* :class:`EspPytestServer`: ESP-IDF's pytest server, in this process (``http.server`` wrapped
  with ``ssl.SSLContext(PROTOCOL_TLS_SERVER)``, ``do_GET`` answers 200 with no body and closes),
  holding the real ESP-IDF local certificate and key from ``tests/data``. It records each request
  line and whether the TLS session was resumed.
"""

from __future__ import annotations

import http.server
import itertools
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pytest

from https_request.example import flow
from serveproc import Serve, running

REPO = Path(__file__).resolve().parent.parent
ESP_CERT = "tests/data/esp_local_server_cert.pem"  # relative: the example runs in REPO
ESP_KEY = REPO / "tests" / "data" / "esp_local_server_key.pem"
WAIT = 20.0

BANNERS = (
    "https_request to local server",
    "https_request using saved client session",
    "https_request using crt bundle",
    "https_request using cacert_buf",
    "https_request using global ca_store",
    "https_request using server supported ciphersuites",
    "https_request using server unsupported ciphersuites",
)
LOCAL = BANNERS[:2]
WEB_OK = BANNERS[2:6]
EXPECT_ALL = ("Connection established...", "Reading HTTP response...", "HTTP/1.1 200 OK", "connection closed")
TLS12_SUPPORTED = ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"]
TLS13_SUPPORTED = {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_CCM_SHA256"}

pytestmark = pytest.mark.timeout(90)


# ------------------------------------------------------------------ servers


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def check(state: Path) -> Iterator[Serve]:
    yield from running(["--name", "tls13.browserleaks.com"], state)


@pytest.fixture(scope="module")
def ticket(state: Path) -> Iterator[Serve]:
    from https_request.example.config import LOCAL_SERVER_CERT, LOCAL_SERVER_KEY

    args = ["--esp-local-server", "--cert", str(LOCAL_SERVER_CERT), "--key", str(LOCAL_SERVER_KEY), "--key-type", "rsa"]
    yield from running(args, state)


@dataclass(frozen=True)
class Seen:
    """What :class:`EspPytestServer` saw of one request."""

    request_line: str
    session_reused: bool
    version: str | None


class EspPytestServer:
    """ESP-IDF's pytest HTTPS server (HTTP/1.1 status line), in a thread; records what it saw."""

    def __init__(self, cert: Path, key: Path) -> None:
        seen: list[Seen] = []
        self.seen = seen

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = WAIT

            def do_GET(self) -> None:
                tls = self.request
                assert isinstance(tls, ssl.SSLSocket)
                seen.append(Seen(self.requestline, bool(tls.session_reused), tls.version()))
                self.close_connection = True
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile=str(cert), keyfile=str(key))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> EspPytestServer:
        self.thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(WAIT)


# ------------------------------------------------------------------ running the example


_DEVICE_STATE: list[str] = []


def device_state() -> str:
    """The example's state folder (XDG_STATE_HOME) for these tests, its NVS holding the host's time,
    written with `https-request nvs set-time` as ESP-IDF's CI writes it into the device."""
    if not _DEVICE_STATE:
        import tempfile

        folder = tempfile.mkdtemp(prefix="https-request-test-device-")
        env = dict(os.environ, XDG_STATE_HOME=folder)
        argv = [sys.executable, "-m", "https_request", "nvs", "set-time"]
        subprocess.run(argv, env=env, check=True, capture_output=True, timeout=30)
        _DEVICE_STATE.append(folder)
    return _DEVICE_STATE[0]


def run_example(*sets: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "https_request", "example", "--set", "EXAMPLE_COUNTDOWN_S=0"]
    for item in sets:
        args += ["--set", item]
    env = dict(os.environ, PYTHONUNBUFFERED="1", XDG_STATE_HOME=device_state())
    # bytes, decoded here: text mode would turn the responses' CRLFs into LFs
    run = subprocess.run(args, input=stdin.encode(), capture_output=True, timeout=60, cwd=REPO, env=env)
    return subprocess.CompletedProcess(run.args, run.returncode, run.stdout.decode("latin-1"), run.stderr.decode())


def web_sets(check: Serve) -> list[str]:
    """Both web servers of the example connected to ``check``, whose CA is trusted."""
    rules = f"www.howsmyssl.com:443:127.0.0.1:{check.port} tls13.browserleaks.com:443:127.0.0.1:{check.port}"
    return [
        f"EXAMPLE_CONNECT_TO={rules}",
        f"EXAMPLE_SERVER_ROOT_CERT={check.ca}",
        f"MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH={check.ca}",
    ]


def run_flow(check: Serve, *sets: str, stdin: str = "") -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The example with its web requests on ``check``; also the five log lines ``check`` writes for
    them (crt bundle, cacert_buf, global CA store, supported and unsupported suites)."""
    mark = check.log_mark()
    proc = run_example(*sets, *web_sets(check), stdin=stdin)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, serve_lines(check, mark, 5)


_BANNER = re.compile(r"^I \(\d+\) example: (https_request .*|Finish https_request example)$", re.M)


def sections(out: str) -> dict[str, str]:
    """The output after each banner, up to the next banner (the banner line included)."""
    marks = list(_BANNER.finditer(out))
    found = {m.group(1): out[m.start() : nxt.start()] for m, nxt in itertools.pairwise(marks)}
    assert [m.group(1) for m in marks] == [*BANNERS, "Finish https_request example"], out
    return found


def assert_ok(section: str) -> None:
    """ESP-IDF's expect_all for a request that works (in the device's order, too)."""
    at = 0
    for text in EXPECT_ALL:
        found = section.find(text, at)
        assert found >= 0, f"{text!r} missing after offset {at}:\n{section}"
        at = found + len(text)
    assert "Connection failed..." not in section and not re.search(r"^E \(", section, re.M), section


def assert_fails(section: str) -> None:
    assert re.search(r"^E \(\d+\) example: Connection failed\.\.\.$", section, re.M), section
    assert "Connection established..." not in section


def body_of(section: str) -> bytes:
    """The response body: the example prints each chunk of at most 511 bytes plus a newline; the
    headers end in CRLF, the JSON bodies hold no newline, so dropping every LF rebuilds the body."""
    start = section.index("Reading HTTP response...\n") + len("Reading HTTP response...\n")
    end = section.index("connection closed")
    printed = section[start:end].rsplit("\n", 1)[0]  # the log line's own prefix after the last LF
    raw = printed.replace("\n", "")
    head, sep, body = raw.partition("\r\r")
    assert sep and head.startswith("HTTP/1.1 200 OK\r"), raw[:200]
    return body.encode("latin-1")


def serve_lines(srv: Serve, mark: int, count: int) -> list[str]:
    """The ``count`` connection log lines ``srv`` wrote after ``mark`` (waits for them)."""
    deadline = time.monotonic() + WAIT
    while len(srv.err) - mark < count:
        assert time.monotonic() < deadline, "\n".join(srv.err[mark:])
        time.sleep(0.02)
    time.sleep(0.1)
    lines = srv.err[mark:]
    assert len(lines) == count, "\n".join(lines)
    return lines


def assert_network_start(lines: list[str]) -> None:
    """``example_connect()``'s lines for this host's interface, in the device's order: the header,
    the address events (IPv6 link-local, then IPv4 with esp_netif_handlers' line, then other IPv6),
    ``example_common``'s summary; every address listed is one the host has."""
    from https_request.netif import esp_ip6_str, local_addresses

    m = re.match(r"^I \(\d+\) example_connect: Connecting to (\S+)\.\.\.$", lines[0])
    assert m, lines
    iface = m.group(1)
    assert lines[1].endswith("example_connect: Waiting for IP(s)"), lines
    summary = lines.index(next(line for line in lines if line.endswith(f"example_common: Connected to {iface}")))
    events, listed = lines[2:summary], lines[summary + 1 :]
    have = {str(a.address) for a in local_addresses() if a.interface == iface} | {
        esp_ip6_str(a.address) for a in local_addresses() if a.interface == iface and a.address.version == 6
    }
    for line in events:
        m = re.search(r'Got IPv[46] event: Interface "(\S+)" address: (\S+?)(?:, type: ESP_IP6_ADDR_IS_\w+)?$', line)
        if m:
            assert m.group(1) == iface and m.group(2) in have, line
        else:
            assert re.match(rf"^I \(\d+\) esp_netif_handlers: {iface} ip: \S+, mask: \S+, gw: \S+$", line), line
    assert all(re.match(r"^I \(\d+\) example_common: - IPv[46] address: ", line) for line in listed), listed
    assert len(listed) == sum("Got IPv" in line for line in events), lines


def assert_transcript(proc: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The whole default flow worked as ESP-IDF's test expects; returns the sections."""
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith(" example: Start https_request example"))
    assert lines[start - 1].endswith(" example: Updating time from NVS"), lines[: start + 1]  # app_main, power-on
    assert_network_start(lines[: start - 1])
    parts = sections(out)
    for banner in (*LOCAL, *WEB_OK):
        assert_ok(parts[banner])
    assert re.search(r"^I \(\d+\) esp-x509-crt-bundle: Certificate validated$", parts[BANNERS[2]], re.M)
    for banner in (*LOCAL, *BANNERS[3:]):
        assert "Certificate validated" not in parts[banner]
    assert_fails(parts[BANNERS[6]])
    return parts


# ------------------------------------------------------------------ (a) the default flow against serve


def test_default_flow_against_serve(check: Serve, ticket: Serve) -> None:
    ticket_mark = ticket.log_mark()
    proc, web = run_flow(check, f"EXAMPLE_LOCAL_SERVER_URL=https://127.0.0.1:{ticket.port}")
    parts = assert_transcript(proc)
    for banner in WEB_OK:
        assert "106 bytes written" in parts[banner]  # the seed's request: Host www.howsmyssl.com
        result = json.loads(body_of(parts[banner]))
        assert (result["tls_version"], result["rating"]) == ("TLS 1.2", "Probably Okay"), banner
    supported = json.loads(body_of(parts[BANNERS[5]]))
    assert supported["given_cipher_suites"] == [*TLS12_SUPPORTED, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"]

    # app_main returns once the task runs: the main task's line comes after the task's first line
    out = proc.stdout
    assert out.count("main_task: Returned from app_main()") == 1
    assert out.index("main_task: Returned from app_main()") > out.index("example: Start https_request example")
    # the memory line where the device prints it, its figure a device heap minus what a request held
    heap = re.findall(r"^I \(\d+\) example: Minimum free heap size: (\d+) bytes$", parts[BANNERS[2]], re.M)
    assert len(heap) == 1 and 0 < int(heap[0]) < flow.DEVICE_FREE_HEAP, parts[BANNERS[2]]

    first, second = serve_lines(ticket, ticket_mark, 2)  # the session-ticket pair: saved, then resumed
    assert "version=TLS1.2" in first and "resumed=no" in first and "status=200" in first
    assert "version=TLS1.2" in second and "resumed=yes" in second and "status=200" in second
    for line in web[:4]:
        assert 'request="GET https://www.howsmyssl.com/a/check" status=200' in line and "version=TLS1.2" in line
    assert "suite=TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" in web[3]
    assert "error=" in web[4] and "status=" not in web[4]  # the unsupported suite: no handshake


# ------------------------------------------------------------------ (b) FROM_STDIN


@pytest.mark.parametrize("server", ["esp-pytest", "serve"])
def test_local_server_url_from_stdin(check: Serve, ticket: Serve, server: str) -> None:
    """ESP-IDF's CI configuration (sdkconfig.ci.cli_ses_tkt): the URL comes on stdin, the request
    line carries the configured URL, i.e. the literal ``FROM_STDIN``."""
    sets = ["EXAMPLE_LOCAL_SERVER_URL=FROM_STDIN"]
    if server == "serve":
        mark = ticket.log_mark()
        url = f"https://127.0.0.1:{ticket.port}"
        proc, _ = run_flow(check, *sets, stdin=url + "\n")
        lines = serve_lines(ticket, mark, 2)
        assert all('request="GET FROM_STDIN" status=200' in line for line in lines), lines
        assert "resumed=no" in lines[0] and "resumed=yes" in lines[1]
    else:
        with EspPytestServer(REPO / ESP_CERT, ESP_KEY) as esp:
            url = f"https://127.0.0.1:{esp.port}"
            proc, _ = run_flow(check, *sets, f"EXAMPLE_LOCAL_SERVER_CERT={ESP_CERT}", stdin=url + "\n")
        assert [s.request_line for s in esp.seen] == ["GET FROM_STDIN HTTP/1.1"] * 2
    parts = assert_transcript(proc)
    out = proc.stdout
    printed = f"\nServer URL obtained is {url}\n"
    assert printed in out and out.index(printed) < out.index(BANNERS[0])  # printf, before the requests
    for banner in LOCAL:
        assert "83 bytes written" in parts[banner]  # GET FROM_STDIN HTTP/1.1 + Host + User-Agent


def test_from_stdin_without_a_line_is_an_error() -> None:
    proc = run_example("EXAMPLE_LOCAL_SERVER_URL=FROM_STDIN", stdin="")
    assert proc.returncode == 2 and "FROM_STDIN: no server URL on stdin" in proc.stderr, proc.stderr
    assert "Connection established" not in proc.stdout


# ------------------------------------------------------------------ (c) ESP-IDF's pytest server


@pytest.mark.parametrize("tls13", [False, True], ids=["tls12", "tls13"])
def test_session_tickets_against_esp_pytest_server(check: Serve, tls13: bool) -> None:
    """The real ESP-IDF local certificate and key in a stdlib ssl server: the saved session is
    resumed by the second request (TLS 1.2 ticket, or TLS 1.3 PSK as in sdkconfig.ci.ssldyn_tls1_3)."""
    extra = ["EXAMPLE_SSL_PROTO_TLS1_3_CLIENT=y"] if tls13 else []
    with EspPytestServer(REPO / ESP_CERT, ESP_KEY) as esp:
        url = f"https://127.0.0.1:{esp.port}"
        proc, _ = run_flow(check, f"EXAMPLE_LOCAL_SERVER_URL={url}", f"EXAMPLE_LOCAL_SERVER_CERT={ESP_CERT}", *extra)
    parts = assert_transcript(proc)
    for banner in LOCAL:
        assert body_of(parts[banner]) == b""
    version = "TLSv1.3" if tls13 else "TLSv1.2"
    assert esp.seen == [
        Seen(f"GET {url} HTTP/1.1", False, version),
        Seen(f"GET {url} HTTP/1.1", True, version),
    ]


# ------------------------------------------------------------------ (d) the TLS 1.3 build


def test_tls13_client_variant(check: Serve, ticket: Serve) -> None:
    ticket_mark = ticket.log_mark()
    proc, web = run_flow(
        check, "EXAMPLE_SSL_PROTO_TLS1_3_CLIENT=y", f"EXAMPLE_LOCAL_SERVER_URL=https://127.0.0.1:{ticket.port}"
    )
    parts = assert_transcript(proc)
    for banner in WEB_OK:
        section = parts[banner]
        assert "112 bytes written" in section  # GET https://tls13.browserleaks.com/tls ...
        assert "TLS 1.3" in section.replace("\n", "")  # ESP-IDF's expectation, across chunk boundaries
        seen = json.loads(body_of(section))  # the /tls route
        assert (seen["protocol"], seen["sni"]) == ("TLS 1.3", "tls13.browserleaks.com"), banner
    assert json.loads(body_of(parts[BANNERS[5]]))["cipher_suite"] in TLS13_SUPPORTED

    first, second = serve_lines(ticket, ticket_mark, 2)
    assert "version=TLS1.3" in first and "resumed=no" in first
    assert "version=TLS1.3" in second and "resumed=yes" in second
    for line in web[:4]:
        assert 'request="GET https://tls13.browserleaks.com/tls" status=200' in line and "version=TLS1.3" in line
    assert re.search(r"suite=TLS_AES_(256_GCM_SHA384|128_CCM_SHA256) ", web[3]), web[3]
    assert "error=" in web[4]


# ------------------------------------------------------------------ (e) configuration errors


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("NOPE=1", "--set: unknown option 'NOPE' (not in the example's Kconfig)"),
        ("EXAMPLE_COUNTDOWN=1", "did you mean EXAMPLE_COUNTDOWN_S?"),
        ("EXAMPLE_COUNTDOWN_S=-1", "EXAMPLE_COUNTDOWN_S: -1 is out of range [0, 3600]"),
        ("EXAMPLE_COUNTDOWN_S=ten", "EXAMPLE_COUNTDOWN_S: 'ten' is not an integer"),
        ("EXAMPLE_CLIENT_SESSION_TICKETS=maybe", "'maybe' is not a bool (y or n)"),
        ("EXAMPLE_LOCAL_SERVER_URL=ftp://x", "'ftp://x' is not an https:// or http:// URL (nor FROM_STDIN)"),
        ("EXAMPLE_CONNECT_TO=garbage", "'garbage' is not HOST1:PORT1:HOST2:PORT2"),
        ("LOG_DEFAULT_LEVEL=LOUD", "'LOUD' is not a log level"),
        ("EXAMPLE_LOCAL_SERVER_CERT=/nonexistent.pem", "'/nonexistent.pem': no such file"),
        ("EXAMPLE_SERVER_ROOT_CERT=pyproject.toml", "holds no PEM certificate"),
        ("EXAMPLE_CLIENT_PROFILE=nokia", "unknown profile 'nokia'"),
        ("EXAMPLE_LOCAL_SERVER_URL_FROM_STDIN=y", "derived from other options, it cannot be set"),
        ("noequals", "'noequals': expected NAME=VALUE"),
    ],
)
def test_configuration_errors_exit_2(item: str, message: str) -> None:
    proc = run_example(item)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("https-request example: ") and message in proc.stderr, proc.stderr
    assert proc.stdout == ""  # nothing runs


def test_missing_sdkconfig_exits_2() -> None:
    args = [sys.executable, "-m", "https_request", "example", "--sdkconfig", "no/such/sdkconfig"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2 and "sdkconfig 'no/such/sdkconfig': no such file" in proc.stderr, proc.stderr
    assert proc.stdout == ""


def test_example_local_runs_offline_against_its_own_servers() -> None:
    """`example --local` starts the two local servers itself (as demo does); -v adds esp-tls's DEBUG lines."""
    args = [sys.executable, "-m", "https_request", "example", "--local", "-v", "--set", "EXAMPLE_COUNTDOWN_S=0"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    done = subprocess.run(args, capture_output=True, timeout=120, cwd=REPO, env=env, check=False)
    out = done.stdout.decode("latin-1")
    assert done.returncode == 0, out + done.stderr.decode()
    assert out.count("example: Connection established...") == 6 and out.count("example: Connection failed...") == 1
    connecting = r"^D \(\d+\) esp-tls: \[sock=\d+\] Connecting to server\. HOST: www\.howsmyssl\.com/a/check"
    assert re.search(connecting, out, re.M), out


def test_example_and_demo_help_state_their_exit_codes() -> None:
    for command in ("example", "demo"):
        argv = [sys.executable, "-m", "https_request", command, "--help"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0
        text = " ".join(done.stdout.split())
        assert "0 every request behaved as" in text and "2 " in text and "configuration error" in text, done.stdout
