"""``https-request get URL`` end to end: a subprocess per request, servers on loopback.

Peers:

* our own asyncio TLS server (:mod:`echoserver`'s thread) speaking a tiny
  HTTP/1.1, with ticket keys, 0-RTT (16 KiB) and both versions: it records
  each connection's handshake (resumed, early data accepted) and the early
  data it read;
* a stdlib-``ssl`` HTTPS server (``http.server`` on a wrapped socket);
* ``openssl s_server -early_data`` (without ``-www``, which refuses early
  data: the test answers on its stdin);
* a listening socket that never answers (timeouts), a closed port (refused).

Each check is on what the command shows: exit status, stdout, stderr, the
``--json`` object, the files it writes, and what the server saw.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certs import at, make_ca, make_leaf, make_zero_serial_ca, write_pki
from clirun import Run, cmd, get
from clirun import env as _env
from echoserver import Served, ServerThread, read_head
from https_request.curlargs import ConnectTo, parse_connect_to, parse_resolve
from https_request.esp_tls.bundle import build_bundle
from https_request.io.aio import TlsStream, start_server
from https_request.session_file import decode_session_file, encode_session_file
from https_request.tls.config import ServerConfig
from https_request.tls.session import Session, TicketKeys
from procs import Proc, needs, tool
from stdlibhttps import BIG, BODY, serve_https

pytestmark = pytest.mark.timeout(60)

WAIT = 10.0
NAMES = ("localhost", "127.0.0.1", "::1", "example.test")
CA = make_ca(name="get-cli Test Root CA")
OTHER_CA = make_ca(name="get-cli Other CA")
LEAF = make_leaf(CA, NAMES)
EXPIRED = make_leaf(CA, NAMES, not_before=at(2020), not_after=at(2021))


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


IPV6 = _ipv6_loopback()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = write_pki(tmp_path_factory.mktemp("pki"), CA, LEAF)
    (d / "other.pem").write_bytes(OTHER_CA.cert_pem)
    return d


# --------------------------------------------------------------------------- our server


async def http_handler(stream: TlsStream, rec: Served) -> None:
    """A tiny HTTP/1.1 responder: the body names the request and the handshake.

    ``/redirect`` -> 302 to ``final`` (relative), ``/loop`` -> 302 to itself,
    ``/truncated`` -> Content-Length 100 with 10 bytes then a TCP close,
    ``/stall`` -> headers then silence.
    """
    rec.handshake = hs = await stream.handshake()
    buf = await read_head(stream)
    if buf is None:
        return
    head, _, body = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    while m is not None and len(body) < int(m[1]):
        body += await stream.read()
    rec.received += head + b"\r\n\r\n" + body
    method, path, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
    if path == "/stall":
        await stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        while await stream.read():  # silence until the client gives up
            pass
        return
    if path == "/truncated":
        await stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        stream.writer.close()  # no close_notify
        return
    if path in ("/redirect", "/loop"):
        where = "final" if path == "/redirect" else "/loop"
        await stream.write(b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 6\r\n\r\nmoved\n" % where.encode())
        await stream.close()
        return
    text = f"{method} {path} resumed={hs.resumed} early={hs.early_data_accepted}\n".encode() + body
    extra = b"X-Served-By: our-server\r\n"
    out = b"HTTP/1.1 200 OK\r\n" + extra + b"Content-Length: %d\r\n\r\n" % len(text)
    await stream.write(out if method == "HEAD" else out + text)
    await stream.close()


class HttpServer(ServerThread):
    """:class:`ServerThread` with :func:`http_handler`, on any loopback address."""

    def __init__(self, config: ServerConfig, host: str = "127.0.0.1") -> None:
        super().__init__(config, http_handler, timeout=WAIT)
        self.host = host

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(start_server(self._handle, self.host, 0, self.config))
        self.port = self._server.sockets[0].getsockname()[1]
        self._started.set()
        self._loop.run_forever()


def server_config(**kw: Any) -> ServerConfig:
    kw.setdefault("certificates", (LEAF.certified_key(),))
    kw.setdefault("ticket_keys", TicketKeys(os.urandom, now=time.time()))
    kw.setdefault("max_early_data", 16384)
    kw.setdefault("versions", (0x0304, 0x0303))
    return ServerConfig(**kw)


@pytest.fixture(scope="module")
def ours() -> Iterator[HttpServer]:
    with HttpServer(server_config()) as srv:
        yield srv


def drain(srv: HttpServer) -> None:
    """Forget what the server recorded so far."""
    while not srv._served.empty():
        srv._served.get_nowait()


# --------------------------------------------------------------------------- stdlib server


@pytest.fixture(scope="module")
def stdlib(pki: Path) -> Iterator[int]:
    with serve_https(pki / "leaf.pem", pki / "leaf.key") as port:
        yield port


# --------------------------------------------------------------------------- unit: grammars and file format


def test_resolve_and_connect_to_grammar() -> None:
    assert parse_resolve("example.test:443:127.0.0.1") == ("example.test", 443, "127.0.0.1")
    assert parse_resolve("+example.test:443:[::1],127.0.0.1") == ("example.test", 443, "::1")
    assert parse_resolve("example.test:8443:::1") == ("example.test", 8443, "::1")
    assert parse_connect_to("a.test:443:b.test:8443") == ConnectTo("a.test", 443, "b.test", 8443)
    assert parse_connect_to("::[::1]:") == ConnectTo("", None, "::1", None)
    assert parse_connect_to("[::1]:443::") == ConnectTo("::1", 443, "", None)
    for bad in ("a:443", "a:x:1.2.3.4", "a:443:"):
        with pytest.raises(ValueError):
            parse_resolve(bad)
    for bad in ("a:443:b", "a:443:b:x", "[::1:443:b:1", "a:1:2:3:4"):
        with pytest.raises(ValueError):
            parse_connect_to(bad)


def test_session_file_format() -> None:
    blob = Session(0x0304, 0x1301, "localhost", b"s" * 32, b"ticket", lifetime=60, received_at=time.time()).to_bytes()
    data = encode_session_file("LocalHost", 8443, blob)
    assert decode_session_file(data) == ("localhost", 8443, blob)
    for broken in (data[:-1], b"X" + data[1:], data[:20], data[:9] + b"\xff" + data[10:]):
        with pytest.raises(ValueError):
            decode_session_file(broken)


# --------------------------------------------------------------------------- body, headers, json


def test_body_to_stdout_and_headers(stdlib: int, pki: Path) -> None:
    url = f"https://127.0.0.1:{stdlib}/"
    r = get(url, "--cacert", str(pki / "ca.pem"))
    assert (r.code, r.out) == (0, BODY), r.err
    assert r.err == ""  # nothing on stderr without -v
    r = get(url, "--cacert", str(pki / "ca.pem"), "-i")
    assert r.code == 0 and r.out.startswith(b"HTTP/1.1 200 OK\r\n") and r.out.endswith(b"\r\n\r\n" + BODY)
    assert re.search(rb"(?i)\r\ncontent-length: %d\r\n" % len(BODY), r.out)
    r = get(url, "--cacert", str(pki / "ca.pem"), "-I")
    assert r.code == 0 and r.out.startswith(b"HTTP/1.1 200 OK\r\n") and r.out.endswith(b"\r\n\r\n"), r.out


def test_big_body_reaches_a_pipe_whole(stdlib: int, pki: Path) -> None:
    """Everything written to stdout reaches the pipe before the process exits."""
    r = get(f"https://127.0.0.1:{stdlib}/big", "--cacert", str(pki / "ca.pem"))
    assert r.code == 0, r.err
    assert len(r.out) == len(BIG) and r.out == BIG


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_that_cannot_be_written_is_an_error(stdlib: int, pki: Path) -> None:
    r = get(f"https://127.0.0.1:{stdlib}/big", "--cacert", str(pki / "ca.pem"), "-o", "/dev/full", "--json", "-")
    assert r.code == 2, r.err
    assert "cannot write the output: No space left on device" in r.err
    report = json.loads(r.err.strip().splitlines()[-1])
    assert report["exit_code"] == 2 and "No space left" in report["error"]


def _stdout_env(buffered: bool) -> dict[str, str]:
    """The environment with stdout buffered (the body written at the end) or not (written as it comes)."""
    env = {k: v for k, v in _env().items() if k != "PYTHONUNBUFFERED"}
    return env if buffered else {**env, "PYTHONUNBUFFERED": "1"}


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_stdout_that_cannot_be_written_is_an_error(stdlib: int, pki: Path, buffered: bool) -> None:
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            cmd(f"https://127.0.0.1:{stdlib}/", "--cacert", str(pki / "ca.pem")),
            stdout=full,
            stderr=subprocess.PIPE,
            env=_stdout_env(buffered),
            timeout=30,
            check=False,
        )
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2, err
    assert err == "https-request: cannot write the output: No space left on device\n"  # said once, no traceback


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_stdout_closed_by_its_reader_is_an_error(stdlib: int, pki: Path, buffered: bool) -> None:
    """A reader that went away (EPIPE) loses the body: exit 2 with a message, not a silent 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            cmd(f"https://127.0.0.1:{stdlib}/", "--cacert", str(pki / "ca.pem"), "--json", "-"),
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=_stdout_env(buffered),
            timeout=30,
            check=False,
        )
    finally:
        os.close(write_end)
    r = Run(proc.returncode, b"", proc.stderr.decode(errors="replace"))
    assert r.code == 2, r.err
    assert "https-request: cannot write the output: Broken pipe\n" in r.err
    assert "Exception ignored" not in r.err and "Traceback" not in r.err
    assert r.json["exit_code"] == 2 and r.json["error"] == "cannot write the output: Broken pipe"


def test_get_ends_with_a_normal_interpreter_exit(stdlib: int, pki: Path) -> None:
    """atexit handlers run (coverage, flushes of files a library left open): no os._exit."""
    code = (
        "import atexit, sys\n"
        "from https_request.cli import console_main\n"
        "atexit.register(lambda: sys.stderr.write('atexit ran\\n'))\n"
        f"sys.argv[1:] = ['get', '--cacert', {str(pki / 'ca.pem')!r}, 'https://127.0.0.1:{stdlib}/']\n"
        "console_main()\n"
    )
    env = _stdout_env(buffered=True)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=30, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, BODY, b"atexit ran\n")


# The project's own modules `get` never needs: the server side and the second engine. (Which modules
# third-party packages import is theirs to choose; start-up time is bench/cold_get.py's budget.)
NOT_ON_GET_PATH = (
    "https_request.server",
    "https_request.howsmyssl",
    "https_request.tls.server13",
    "https_request.tls.server12",
    "https_request.esp_tls.openssl_engine",
    "https_request.esp_tls.openssl_context",
)


def test_get_loads_no_server_code(stdlib: int, pki: Path) -> None:
    code = (
        "import sys\n"
        "from https_request.cli import main\n"
        f"rc = main(['get', '--cacert', {str(pki / 'ca.pem')!r}, 'https://localhost:{stdlib}/'])\n"
        "sys.stderr.write('MODULES ' + ' '.join(sorted(sys.modules)) + '\\n')\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, env=_env(), timeout=30, check=False)
    assert proc.returncode == 0 and proc.stdout == BODY, proc.stderr
    loaded = set(proc.stderr.decode().rsplit("MODULES ", 1)[1].split())
    assert {"https_request.tls.client13", "h11", "cryptography.x509.verification"} <= loaded  # it did the work
    assert sorted(loaded & set(NOT_ON_GET_PATH)) == []


def test_json_post_output_file(ours: HttpServer, pki: Path, tmp_path: Path) -> None:
    drain(ours)
    out, js = tmp_path / "body.txt", tmp_path / "report.json"
    r = get(
        f"https://localhost:{ours.port}/form?x=1",
        "--cacert", str(pki / "ca.pem"), "-d", "a=1", "-d", "b=2", "-H", "X-Test: yes",
        "-o", str(out), "--json", str(js), "--alpn", "http/1.1", "--tls-version", "1.3",
    )  # fmt: skip
    assert r.code == 0 and r.out == b"", r.err
    assert out.read_bytes() == b"POST /form?x=1 resumed=False early=False\na=1&b=2"
    received = bytes(ours.next().received)
    assert b"\r\nX-Test: yes\r\n" in received and b"\r\nHost: localhost:%d\r\n" % ours.port in received
    report = json.loads(js.read_text())
    assert report["url"] == f"https://localhost:{ours.port}/form?x=1"
    assert report["status"] == 200 and report["version"] == "TLS 1.3"
    assert report["cipher_suite"].startswith("TLS_") and report["group"]
    assert report["resumed"] is False and report["early_data"] == {"offered": False, "accepted": False}
    assert report["peer_subject"] == "CN=localhost"
    assert report["alpn"] is None  # our server configures no ALPN
    timings = report["timings"]
    assert set(timings) == {"connect", "tls", "first_byte", "total"}
    assert all(isinstance(v, float) and v >= 0 for v in timings.values())
    assert timings["first_byte"] <= timings["total"]


def test_redirects(ours: HttpServer, pki: Path) -> None:
    drain(ours)
    url = f"https://127.0.0.1:{ours.port}/redirect"
    r = get(url, "--cacert", str(pki / "ca.pem"))
    assert (r.code, r.out) == (0, b"moved\n")
    r = get(url, "--cacert", str(pki / "ca.pem"), "-L", "-i", "--json", "-")
    assert r.code == 0, r.err
    assert r.out.startswith(b"HTTP/1.1 302 Found\r\n")
    assert r.out.endswith(b"GET /final resumed=True early=False\n")  # same origin: the first session resumes
    assert r.json["redirects"] == 1 and r.json["url"].endswith("/final")
    r = get(f"https://127.0.0.1:{ours.port}/loop", "--cacert", str(pki / "ca.pem"), "-L")
    assert r.code == 7 and "too many redirects" in r.err


# --------------------------------------------------------------------------- exit codes


def test_usage_errors(pki: Path) -> None:
    url = "https://127.0.0.1:9/"
    for args in (
        ("--tls-version", "1.1"),
        ("--ciphers", "TLS_BOGUS_SUITE"),
        ("--groups", "x25519,nope"),
        ("--profile", "nope"),
        ("--resolve", "bad"),
        ("--connect-to", "a:b"),
        ("--cacert", str(pki / "missing.pem")),
        ("--cert", str(pki / "leaf.pem")),
        ("-H", "no colon"),
    ):
        r = get(url, *args)
        assert r.code == 2, (args, r.err)
        assert len(r.err.strip().splitlines()) >= 1
    r = get("ftp://127.0.0.1:9/")
    assert r.code == 2 and "only https:// and http:// URLs are supported" in r.err
    for args in (("--tls-version", "1.3", "--tls-max", "1.2"), ("-x", "socks5://127.0.0.1:9"), ("--retry", "-1")):
        r = get(url, *args)
        assert r.code == 2, (args, r.err)


def test_ciphers_implemented_nowhere_are_a_usage_error() -> None:
    """A named suite the engine cannot negotiate (DHE, Camellia, RC4...): exit 2 before connecting, saying
    why, never offered; ARIA and static ECDH are implemented and pass."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"https://127.0.0.1:{listener.getsockname()[1]}/"
        for listed, name in (
            ("ECDHE-RSA-AES128-GCM-SHA256,TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
            ("TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
            ("0x0005", "TLS_RSA_WITH_RC4_128_SHA"),  # the check server's only
            ("DES-CBC3-SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),  # the check server's only
        ):  # fmt: skip
            r = get(url, "-k", "--ciphers", listed, "--profile", "esp32-mbedtls")
            assert r.code == 2, r.err
            why = "is for the check server only" if "RC4" in name or "3DES" in name else "is not implemented here"
            assert f"--ciphers: {name} (0x" in r.err and why in r.err, r.err
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):  # nobody connected
            listener.accept()


def test_ciphers_that_fit_no_offered_version_are_a_usage_error() -> None:
    """Suites the chosen versions cannot use: exit 2 before any ClientHello, saying why. (The TCP
    connect to an address in the URL may have started before the arguments were checked, see
    https_request.get_early: the listener then sees connections closed without a byte.)"""
    with socket.socket() as listener:  # a peer that would see a connection attempt
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"https://127.0.0.1:{listener.getsockname()[1]}/"
        for args, text in (
            (("--ciphers", "TLS_AES_128_GCM_SHA256", "--tls-version", "1.2"),
             "--ciphers with --tls-version 1.2: none of TLS_AES_128_GCM_SHA256 can be used with TLS 1.2 "
             "(TLS 1.3 suites work only with TLS 1.3)"),
            (("--ciphers", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "--tls-version", "1.3"),
             "--ciphers with --tls-version 1.3: none of TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 can be used with "
             "TLS 1.3 (these suites work only with TLS 1.2)"),
            (("--ciphers", "TLS_AES_256_GCM_SHA384", "--profile", "esp32-mbedtls"),  # a TLS 1.2-only profile
             "--ciphers with --profile esp32-mbedtls: none of TLS_AES_256_GCM_SHA384 can be used with TLS 1.2"),
        ):  # fmt: skip
            r = get(url, "-k", *args)
            assert r.code == 2 and f"https-request: {text}" in r.err, (args, r.err)
        listener.settimeout(0.5)
        accepted = 0
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                break
            accepted += 1
            with conn:
                conn.settimeout(10)
                assert conn.recv(100) == b""  # closed, no ClientHello
        assert accepted <= 3
    r = get(url, "-k", "--ciphers", "TLS_AES_128_GCM_SHA256", "--json", "-")  # any version: TLS 1.3 is offered
    assert r.code == 4, r.err  # it did try (the listener is gone)


def test_client_key_that_is_not_the_certificates(stdlib: int, pki: Path, tmp_path: Path) -> None:
    """--cert with another certificate's --key: exit 2 when loaded, even if the server asks for no certificate."""
    other_key = tmp_path / "other.key"
    other_key.write_bytes(make_leaf(CA, ["client.example"]).key_pem)
    url = f"https://127.0.0.1:{stdlib}/"
    r = get(url, "--cacert", str(pki / "ca.pem"), "--cert", str(pki / "leaf.pem"), "--key", str(other_key))
    assert r.code == 2, r.err
    assert r.err.endswith(
        "ESP_ERR_MBEDTLS_SSL_CONF_OWN_CERT_FAILED (0x8016, mbedTLS -0x0000, flags 0x0): client certificate: "
        "the private key does not match the certificate CN=localhost (another public key)\n"
    ), r.err
    r = get(url, "--cacert", str(pki / "ca.pem"), "--cert", str(pki / "leaf.pem"), "--key", str(pki / "leaf.key"))
    assert (r.code, r.out) == (0, BODY), r.err  # the pair that matches


def test_cacert_without_a_certificate(tmp_path: Path, pki: Path) -> None:
    """Said in the user's terms, before connecting (port 9 would give exit 4)."""
    neither = "no certificate found in it (no PEM '-----BEGIN CERTIFICATE-----' block, and not DER)"
    cases = {
        "empty.pem": (b"", "no certificate found in it (it is empty)"),
        "notes.txt": (b"hello\n", neither),
        "key.pem": ((pki / "leaf.key").read_bytes(), neither),
        "bad.der": (b"\x30\x82\x01\x00" + bytes(40), "not a valid DER certificate (malformed or truncated)"),
    }
    for name, (content, why) in cases.items():
        (tmp_path / name).write_bytes(content)
        for option in ("--cacert", "--cert"):
            extra = ("--key", str(pki / "leaf.key"), "-k") if option == "--cert" else ()
            r = get("https://127.0.0.1:9/", option, str(tmp_path / name), *extra)
            assert (r.code, r.err.splitlines()[-1]) == (2, f"https-request: {option} {tmp_path / name}: {why}"), r.err


@pytest.mark.parametrize("policy", ["webpki", "mbedtls"])
def test_root_with_serial_zero_is_used_quietly(tmp_path: Path, policy: str) -> None:
    """Some public roots have serial number 0: cryptography warns (with a source line) when it parses
    one. The root is used, and nothing but the body is printed."""
    ca, zero_der = make_zero_serial_ca()
    leaf = make_leaf(ca, ["localhost"])
    (tmp_path / "leaf.pem").write_bytes(leaf.chain_pem)
    (tmp_path / "leaf.key").write_bytes(leaf.key_pem)
    (tmp_path / "roots.pem").write_bytes(
        CA.cert_pem + b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(zero_der) + b"-----END CERTIFICATE-----\n"
    )
    with serve_https(tmp_path / "leaf.pem", tmp_path / "leaf.key") as port:
        r = get(f"https://localhost:{port}/", "--cacert", str(tmp_path / "roots.pem"), "--verify-policy", policy)
    assert (r.code, r.out, r.err) == (0, BODY, "")


async def _not_http(stream: TlsStream, rec: Served) -> None:
    """Answers any request with a line that is not an HTTP status line."""
    rec.handshake = await stream.handshake()
    while b"\r\n\r\n" not in rec.received:
        data = await stream.read()
        if not data:
            return
        rec.received += data
    await stream.write(b"NOT HTTP AT ALL\r\n\r\n")
    await stream.close()


def test_messages_say_each_thing_once(ours: HttpServer, pki: Path) -> None:
    """No doubled prefix ("cannot send this request: cannot send this request: ..."), no internals."""
    url, ca = f"https://127.0.0.1:{ours.port}", str(pki / "ca.pem")
    for args, line in (
        ((f"{url}/", "-X", "GE T"), "https-request: cannot send this request: Illegal method characters"),
        ((f"{url}/a b",), "https-request: cannot send this request: Illegal target characters"),
        (("https://[::1/",), "https-request: cannot parse URL 'https://[::1/'"),
        (("https://127.0.0.1:99999/",), "https-request: port 99999 out of range in 'https://127.0.0.1:99999/'"),
    ):
        r = get(*args, "--cacert", ca)
        assert (r.code, r.err) == (2, line + "\n"), (args, r.err)
    with ServerThread(server_config(), _not_http, timeout=WAIT) as srv:
        r = get(f"https://127.0.0.1:{srv.port}/", "--cacert", ca)
    assert r.code == 7 and r.err.startswith(
        f"https-request: bad response from 127.0.0.1:{srv.port}: malformed HTTP response (illegal status line"
    ), r.err
    drain(ours)


def test_dns_refused_and_timeouts() -> None:
    r = get("https://no-such-host.invalid/", "--json", "-")
    assert r.code == 3, r.err
    assert (
        "https-request: cannot resolve no-such-host.invalid: ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME (0x8001" in r.err
    )
    assert r.json["exit_code"] == 3 and r.json["status"] is None
    assert "getaddrinfo('no-such-host.invalid'): " in r.err and "[Errno" not in r.err  # the OS reason, once
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = get(f"https://127.0.0.1:{port}/")
    assert r.code == 4 and "ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST (0x8004" in r.err
    with socket.socket() as s:  # accepts TCP (backlog), never answers the ClientHello
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        t0 = time.monotonic()
        r = get(f"https://127.0.0.1:{s.getsockname()[1]}/", "--timeout", "0.5")
        assert r.code == 8 and "ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT (0x8006" in r.err, r.err
        assert time.monotonic() - t0 < 5


def test_stalled_response_times_out(ours: HttpServer, pki: Path) -> None:
    r = get(f"https://127.0.0.1:{ours.port}/stall", "--cacert", str(pki / "ca.pem"), "--timeout", "1")
    assert r.code == 8, r.err
    assert r.err.count("\n") == 1 and "timed out" in r.err


def test_handshake_failure(pki: Path) -> None:
    with HttpServer(server_config(cipher_suites=(0x1301,), versions=(0x0304,))) as srv:
        r = get(
            f"https://127.0.0.1:{srv.port}/", "--cacert", str(pki / "ca.pem"), "--ciphers", "TLS_AES_256_GCM_SHA384"
        )
    assert r.code == 5, r.err
    assert re.search(r"https-request: TLS handshake with 127\.0\.0\.1:\d+ failed: ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED "
                     r"\(0x801A, mbedTLS -0x7780, flags 0x0\)", r.err), r.err  # fmt: skip


def test_verification_failures(ours: HttpServer, pki: Path, tmp_path: Path) -> None:
    url = f"https://127.0.0.1:{ours.port}/"
    for policy in ("webpki", "mbedtls"):  # the issuer is simply not trusted: named as mbedTLS names it, and which
        r = get(url, "--cacert", str(pki / "other.pem"), "--verify-policy", policy)
        assert r.code == 6, r.err
        assert r.err == (
            f"https-request: certificate verification failed for 127.0.0.1:{ours.port}: "
            "ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED (0x801A, mbedTLS -0x2700, flags 0x8 "
            f"MBEDTLS_X509_BADCERT_NOT_TRUSTED): {policy}: no trusted issuer for 'CN=localhost' "
            "(issuer 'CN=get-cli Test Root CA'): no trust anchor or presented CA certificate has that name\n"
        ), r.err
    impostor = tmp_path / "impostor.pem"  # our CA's name on another key: mbedTLS passes over such an anchor
    impostor.write_bytes(make_ca(name="get-cli Test Root CA").cert_pem)
    r = get(url, "--cacert", str(impostor))
    assert r.code == 6 and r.err.endswith(
        "flags 0x8 MBEDTLS_X509_BADCERT_NOT_TRUSTED): webpki: no trusted issuer for 'CN=localhost' (issuer "
        "'CN=get-cli Test Root CA'): trust anchor 'CN=get-cli Test Root CA' has the issuer's name but did not sign "
        "'CN=localhost'\n"
    ), r.err
    r = get(url)  # the built-in bundle does not know our CA: the bundle's -0x3000
    assert r.code == 6 and "mbedTLS -0x3000, flags 0xFFFFFFFF verification aborted by the certificate bundle)" in r.err
    assert "No matching trusted root certificate found" in r.err
    r = get(url, "--cacert", str(pki / "ca.pem"), "--common-name", "wrong.example")
    assert r.code == 6 and "flags 0x4 The certificate Common Name (CN) does not match with the expected CN" in r.err
    with HttpServer(server_config(certificates=(EXPIRED.certified_key(),))) as srv:
        r = get(
            f"https://127.0.0.1:{srv.port}/",
            "--cacert",
            str(pki / "ca.pem"),
            "--verify-policy",
            "mbedtls",
            "--sntp-server",
            "none",  # no skew measurement: these tests stay on loopback (test_tls_clock measures it)
        )
    assert r.code == 6 and "flags 0x1 The certificate validity has expired" in r.err, r.err
    r = get(url, "-k")  # no verification: loud warning, success
    assert r.code == 0 and r.out.startswith(b"GET / ") and "server certificate verification DISABLED" in r.err
    drain(ours)


def test_truncated_body(stdlib: int, ours: HttpServer, pki: Path) -> None:
    for port in (stdlib, ours.port):
        r = get(f"https://127.0.0.1:{port}/truncated", "--cacert", str(pki / "ca.pem"))
        assert r.code == 7, r.err
        assert r.out == b"0123456789" and "truncated" in r.err and "after 10 of 100 bytes" in r.err
    drain(ours)


# --------------------------------------------------------------------------- --resolve, --connect-to, --bundle


def test_resolve_and_connect_to(ours: HttpServer, pki: Path) -> None:
    drain(ours)
    ca = str(pki / "ca.pem")
    r = get(f"https://example.test:{ours.port}/r", "--cacert", ca, "--resolve", f"example.test:{ours.port}:127.0.0.1")
    assert r.code == 0 and r.out.startswith(b"GET /r "), r.err
    r = get("https://example.test/c", "--cacert", ca, "--connect-to", f"example.test:443:127.0.0.1:{ours.port}")
    assert r.code == 0 and r.out.startswith(b"GET /c "), r.err
    r = get("https://example.test/e", "--cacert", ca, "--connect-to", f"::localhost:{ours.port}", "-4")
    assert r.code == 0 and r.out.startswith(b"GET /e "), r.err
    hosts = [re.search(rb"\r\nHost: ([^\r]*)", bytes(ours.next().received)) for _ in range(3)]
    assert [m[1] for m in hosts if m] == [b"example.test:%d" % ours.port, b"example.test", b"example.test"]
    # the name checked stays the URL's: a mapping does not make a wrong name right
    r = get("https://wrong.test/", "--cacert", ca, "--connect-to", f"::127.0.0.1:{ours.port}")
    assert r.code == 6 and "flags 0x4" in r.err


@pytest.mark.skipif(not IPV6, reason="no IPv6 loopback")
def test_connect_to_ipv6(pki: Path) -> None:
    with HttpServer(server_config(), host="::1") as srv:
        r = get("https://example.test/six", "--cacert", str(pki / "ca.pem"), "--connect-to", f"::[::1]:{srv.port}")
        assert r.code == 0 and r.out.startswith(b"GET /six "), r.err
        r = get(f"https://[::1]:{srv.port}/lit", "--cacert", str(pki / "ca.pem"), "-6")
        assert r.code == 0 and r.out.startswith(b"GET /lit "), r.err
        r = get(f"https://localhost:{srv.port}/", "--cacert", str(pki / "ca.pem"), "--resolve",
                f"localhost:{srv.port}:[::1]")  # fmt: skip
        assert r.code == 0, r.err


def test_bundle_file(ours: HttpServer, pki: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "test.bundle"
    bundle.write_bytes(build_bundle([CA.cert]))
    r = get(f"https://127.0.0.1:{ours.port}/", "--bundle", str(bundle), "-vv")
    assert r.code == 0, r.err
    assert re.search(r"^I \(\d+\) esp-x509-crt-bundle: Certificate validated$", r.err, re.M), r.err
    other = tmp_path / "other.bundle"
    other.write_bytes(build_bundle([OTHER_CA.cert]))
    r = get(f"https://127.0.0.1:{ours.port}/", "--bundle", str(other))
    assert r.code == 6 and "(0x801A, mbedTLS -0x3000, flags 0xFFFFFFFF" in r.err, r.err
    drain(ours)


# --------------------------------------------------------------------------- sessions and 0-RTT


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_session_resumed_by_second_process(ours: HttpServer, pki: Path, tmp_path: Path, version: str) -> None:
    drain(ours)
    sess = tmp_path / "session.bin"
    args = (f"https://localhost:{ours.port}/", "--cacert", str(pki / "ca.pem"), "--session", str(sess))
    first = get(*args, "--tls-version", version, "--json", "-")
    assert first.code == 0 and first.json["resumed"] is False, first.err
    assert first.json["version"] == f"TLS {version}"
    assert stat.S_IMODE(sess.stat().st_mode) == 0o600
    assert decode_session_file(sess.read_bytes())[:2] == ("localhost", ours.port)
    assert not list(tmp_path.glob(".session-*"))  # no temporary file left behind
    rec = ours.next()
    assert rec.handshake is not None and not rec.handshake.resumed
    second = get(*args, "--tls-version", version, "--json", "-", "-v")
    assert second.code == 0 and second.json["resumed"] is True, second.err
    assert second.json["peer_subject"] is None and second.out.startswith(b"GET / resumed=True")
    rec = ours.next()
    assert rec.handshake is not None and rec.handshake.resumed
    assert second.warnings() == []


def test_early_data_accepted_by_our_server(ours: HttpServer, pki: Path, tmp_path: Path) -> None:
    drain(ours)
    sess = tmp_path / "session.bin"
    args = (f"https://localhost:{ours.port}/zero", "--cacert", str(pki / "ca.pem"), "--session", str(sess))
    first = get(*args, "--early-data", "--json", "-")  # nothing saved yet: a full handshake
    assert first.code == 0 and first.json["early_data"] == {"offered": False, "accepted": False}, first.err
    assert ours.next().early_data == b""
    second = get(*args, "--early-data", "--json", "-")
    assert second.code == 0, second.err
    assert second.json["resumed"] is True and second.json["early_data"] == {"offered": True, "accepted": True}
    assert second.out == b"GET /zero resumed=True early=True\n"
    rec = ours.next()
    assert rec.early_data.startswith(b"GET /zero HTTP/1.1\r\n") and rec.handshake is not None
    assert rec.handshake.early_data_accepted
    third = get(*args, "-d", "x", "--early-data", "--json", "-")  # POST: never 0-RTT
    assert third.code == 0 and third.json["early_data"]["offered"] is False and third.json["resumed"] is True
    assert ours.next().early_data == b""


@needs("openssl", "stdbuf")
def test_early_data_accepted_by_openssl(pki: Path, tmp_path: Path) -> None:
    sess = tmp_path / "session.bin"
    server = Proc([
        tool("stdbuf"), "-o0", tool("openssl"), "s_server", "-accept", "127.0.0.1:0", "-cert", str(pki / "leaf.pem"),
        "-key", str(pki / "leaf.key"), "-early_data",
    ], wait=WAIT)  # fmt: skip
    try:
        server.wait_for(r"ACCEPT 127\.0\.0\.1:\d+")
        port = re.findall(r"ACCEPT 127\.0\.0\.1:(\d+)", server.text)[0]
        reply = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
        runs: list[Run] = []
        for n in (1, 2):
            client = subprocess.Popen(
                cmd(f"https://localhost:{port}/", "--cacert", str(pki / "ca.pem"), "--session", str(sess),
                    "--early-data", "--json", "-"),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
            )  # fmt: skip
            try:
                server.wait_for(r"GET / HTTP/1\.1", count=n)
                server.write(reply)
                out, err = client.communicate(timeout=WAIT)
            finally:
                if client.poll() is None:
                    client.kill()
                    client.communicate()
            runs.append(Run(client.returncode, out, err.decode(errors="replace")))
            assert runs[-1].code == 0 and runs[-1].out == b"ok\n", runs[-1].err
    finally:
        server.close()
    assert runs[0].json["early_data"]["offered"] is False
    assert runs[1].json["resumed"] is True and runs[1].json["early_data"] == {"offered": True, "accepted": True}
    assert re.search(r"Early data received:\s*GET / HTTP/1\.1\r?\n", server.text), server.text
    assert "End of early data" in server.text


def test_bad_session_files(ours: HttpServer, pki: Path, tmp_path: Path) -> None:
    drain(ours)
    ca = str(pki / "ca.pem")
    sess = tmp_path / "session.bin"
    sess.write_bytes(b"\x00garbage, not a session\n" * 3)
    r = get(f"https://localhost:{ours.port}/", "--cacert", ca, "--session", str(sess), "--json", "-")
    assert r.code == 0 and r.json["resumed"] is False, r.err
    assert len(r.warnings()) == 1 and "corrupt" in r.warnings()[0] and "full handshake" in r.warnings()[0]
    assert decode_session_file(sess.read_bytes())[:2] == ("localhost", ours.port)  # replaced by a good one
    data = bytearray(sess.read_bytes())
    data[30] ^= 1
    sess.write_bytes(bytes(data))
    r = get(f"https://localhost:{ours.port}/", "--cacert", ca, "--session", str(sess), "--json", "-")
    assert r.code == 0 and r.json["resumed"] is False and len(r.warnings()) == 1, r.err
    old = Session(0x0304, 0x1301, "localhost", b"s" * 32, b"t" * 40, lifetime=60, received_at=time.time() - 3600)
    sess.write_bytes(encode_session_file("localhost", ours.port, old.to_bytes()))
    r = get(f"https://localhost:{ours.port}/", "--cacert", ca, "--session", str(sess), "--json", "-")
    assert r.code == 0 and r.json["resumed"] is False, r.err
    assert len(r.warnings()) == 1 and "expired" in r.warnings()[0]
    with HttpServer(server_config()) as other:  # the file belongs to `ours`: another server's port
        r = get(f"https://localhost:{other.port}/", "--cacert", ca, "--session", str(sess), "--json", "-")
        assert r.code == 0 and r.json["resumed"] is False, r.err
        assert len(r.warnings()) == 1 and f"localhost:{ours.port}, not localhost:{other.port}" in r.warnings()[0]
        assert decode_session_file(sess.read_bytes())[:2] == ("localhost", other.port)
    drain(ours)


def test_session_path_that_is_not_a_file(ours: HttpServer, pki: Path, tmp_path: Path) -> None:
    """Warnings name --session's path and the OS's reason, never the temporary file of the save."""
    (tmp_path / "file").write_bytes(b"")
    for path, why in ((tmp_path, "Is a directory"), (tmp_path / "file" / "F", "Not a directory")):
        r = get(f"https://localhost:{ours.port}/", "--cacert", str(pki / "ca.pem"), "--session", str(path))
        assert r.code == 0, r.err
        assert r.warnings() == [
            f"https-request: warning: session file {path}: cannot read it: {why}; doing a full handshake",
            f"https-request: warning: cannot save the session to {path}: {why}",
        ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    drain(ours)


# --------------------------------------------------------------------------- key log


def test_keylog(ours: HttpServer, pki: Path, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    url = f"https://127.0.0.1:{ours.port}/"
    r = get(url, "--cacert", str(pki / "ca.pem"), "--keylog", str(keylog))
    assert r.code == 0 and r.warnings() == [], r.err
    lines = keylog.read_text().splitlines()
    labels = {line.split()[0] for line in lines}
    assert {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"} <= labels
    assert all(re.fullmatch(r"[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64,96}", line) for line in lines), lines
    env_log = tmp_path / "env.log"
    r = get(url, "--cacert", str(pki / "ca.pem"), "--tls-version", "1.2", env=_env(SSLKEYLOGFILE=str(env_log)))
    assert r.code == 0, r.err
    assert len(r.warnings()) == 1 and "SSLKEYLOGFILE" in r.warnings()[0]
    assert re.fullmatch(r"CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}\n", env_log.read_text())
    assert stat.S_IMODE(env_log.stat().st_mode) == 0o600
    drain(ours)


def test_verbosity_levels(ours: HttpServer, pki: Path) -> None:
    url = f"https://127.0.0.1:{ours.port}/"
    ca = str(pki / "ca.pem")
    v1, v2, v3 = (get(url, "--cacert", ca, "-" + "v" * n) for n in (1, 2, 3))
    assert all(r.code == 0 for r in (v1, v2, v3))
    # -v: curl's lines only ("* " info, "> " request, "< " response head), no ESP log line
    assert re.search(r"^\* SSL connection using TLSv1\.3 / TLS_", v1.err, re.M), v1.err
    assert re.search(r"^> GET / HTTP/1\.1\r$", v1.err, re.M) and re.search(r"^< HTTP/1\.1 200 OK\r$", v1.err, re.M)
    assert not re.search(r"^[EWIDV] \(", v1.err, re.M), v1.err
    assert re.search(r"^\* SSL connection using TLSv1\.3 / TLS_", v2.err, re.M), v2.err
    assert re.search(r"^D \(\d+\) esp-tls: handshake in progress\.\.\.$", v2.err, re.M), v2.err
    assert " mbedtls: " not in v2.err
    assert re.search(r"^[IDV] \(\d+\) mbedtls: \S+\.py:\d+ ", v3.err, re.M), v3.err[:2000]
    drain(ours)


def test_openssl_engine(ours: HttpServer, pki: Path, tmp_path: Path) -> None:
    url = f"https://127.0.0.1:{ours.port}/"
    r = get(
        url, "--engine", "openssl", "--cacert", str(pki / "ca.pem"), "--json", "-", "--session", str(tmp_path / "s")
    )
    assert r.code == 0 and r.out.startswith(b"GET / "), r.err
    assert r.json["version"] == "TLS 1.3" and r.json["resumed"] is False
    assert len(r.warnings()) == 1 and "cannot resume a saved session" in r.warnings()[0]
    assert not (tmp_path / "s").exists()
    r = get(url, "--engine", "openssl", "--cacert", str(pki / "other.pem"))
    assert r.code == 6, r.err
    r = get(url, "--engine", "openssl", "--groups", "x25519")  # the engine refuses what it cannot honour
    assert r.code == 2 and "ESP_ERR_NOT_SUPPORTED (0x106" in r.err, r.err
    drain(ours)
