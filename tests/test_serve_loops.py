"""``serve`` on both event loops (``--loop asyncio`` and ``--loop uvloop``): the core
behaviours of a connection, each against a real ``serve`` process per loop.

* a handshake and a request (stdlib ssl, TLS 1.3 and 1.2), the answer read to close_notify
  and the connection closed without a reset (the linger);
* resumption with our client (TLS 1.3 tickets, TLS 1.2 tickets) and a 0-RTT request answered
  as 0.5-RTT data (``--early-data``);
* a plain-HTTP request on the TLS port (Go's 400), garbage (the engine's alert), a silent
  client and a stalled handshake (closed after ``--handshake-timeout``);
* keep-alive and thousands of pipelined requests on ``--http-port``;
* SIGTERM lets a request in flight finish (exit 0).

The attack suite (tests/test_attacks.py) runs on both loops too. ``--loop uvloop`` without
uvloop installed is a usage error naming the extra.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from fuzzkit import record
from https_request.tls.config import ClientConfig
from https_request.tls.enums import AlertDescription, AlertLevel, ContentType, ProtocolVersion
from https_request.tls.session import Session
from https_request.tls.verify import make_verifier
from serveproc import REPO, WAIT, Serve, running
from test_serve import our_get

pytestmark = pytest.mark.timeout(60)

HOST = "www.howsmyssl.com"
LOOPS = ("asyncio", "uvloop")


@pytest.fixture(scope="module", params=LOOPS)
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    state = tmp_path_factory.mktemp("state")
    args = ["--loop", request.param, "--key-type", "ecdsa", "--early-data", "--http-port", "0",
            "--handshake-timeout", "1"]  # fmt: skip
    yield from running(args, state)


def _loop_of(srv: Serve) -> str:
    """The event loop the server process runs: uvloop's extension module is mapped into it or not."""
    maps = Path(f"/proc/{srv.pid}/maps").read_text()
    return "uvloop" if re.search(r"/uvloop/loop\.cpython-[^/]*\.so$", maps, re.M) else "asyncio"


def _config(srv: Serve, version: int, **kw: object) -> ClientConfig:
    ca = x509.load_pem_x509_certificate(Path(srv.ca).read_bytes())
    return ClientConfig(verifier=make_verifier([ca]), versions=(version,), **kw)  # type: ignore[arg-type]


def _split(raw: bytes) -> tuple[int, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _our_get(
    srv: Serve, config: ClientConfig, session: Session | None = None, early: bool = False
) -> tuple[int, dict[str, object], Session | None, bool]:
    """GET /tls with our client: (status, the /tls report, newest session, early data accepted)."""
    status, _, body, newest, accepted = our_get(srv, config, "/tls", session, early)
    return status, json.loads(body), newest, accepted


def _raw_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; a reset fails the test."""
    sock.settimeout(WAIT)
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def test_the_loop_asked_for_runs(srv: Serve) -> None:
    status, _, _, _ = _our_get(srv, _config(srv, ProtocolVersion.TLS1_3))  # (the loop runs by now)
    assert status == 200
    assert f"--loop {_loop_of(srv)}" in " ".join(srv.args)


@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2], ids=["tls13", "tls12"])
def test_handshake_request_and_a_clean_close(srv: Serve, maximum: ssl.TLSVersion) -> None:
    ctx = ssl.create_default_context(cafile=srv.ca)
    ctx.maximum_version = maximum
    mark = srv.log_mark()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOST) as tls:
            tls.sendall(f"GET /tls HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            answer = b""
            while chunk := tls.recv(65536):  # b"" at close_notify; a reset would raise
                answer += chunk
            version = tls.version()
            tls.unwrap()  # our close_notify: the server still reads (linger), so no reset either
    status, body = _split(answer)
    report = json.loads(body)
    assert status == 200 and report["protocol"] == {"TLSv1.3": "TLS 1.3", "TLSv1.2": "TLS 1.2"}[str(version)]
    srv.wait_log(r'request="GET /tls" status=200 ms=', mark)


@pytest.mark.parametrize("version", [ProtocolVersion.TLS1_3, ProtocolVersion.TLS1_2], ids=["tls13", "tls12"])
def test_resumption(srv: Serve, version: int) -> None:
    config = _config(srv, version)
    status, first, session, _ = _our_get(srv, config)
    assert status == 200 and first["resumed"] is False and session is not None
    status, second, _, _ = _our_get(srv, config, session)
    assert status == 200 and second["resumed"] is True


def test_early_request_answered(srv: Serve) -> None:
    config = _config(srv, ProtocolVersion.TLS1_3, early_data=True)
    _, _, session, _ = _our_get(srv, config)
    assert session is not None and session.max_early_data > 0
    mark = srv.log_mark()
    status, report, _, accepted = _our_get(srv, config, session, early=True)
    assert status == 200 and accepted and report["early_data"] is True and report["resumed"] is True
    srv.wait_log(r"resumed=yes early_data=accepted:\d+ request=\"GET /tls\" status=200 ms=", mark)


def test_http_on_the_tls_port_and_garbage(srv: Serve) -> None:
    mark = srv.log_mark()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _raw_answer(s).startswith(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request")
    srv.wait_log(r'error="plain HTTP on the TLS port"', mark)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as s:
        s.sendall(record(ContentType.HANDSHAKE, b"\x01\x00\x00\x02\x03\x03"))  # a ClientHello of 2 bytes
        alert = _raw_answer(s)
    assert alert == record(ContentType.ALERT, bytes((AlertLevel.FATAL, AlertDescription.decode_error)))
    srv.wait_log(r'error="tls: ', mark)


def test_silent_and_stalled_clients_are_closed_after_the_handshake_timeout(srv: Serve) -> None:
    mark = srv.log_mark()
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as silent:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as stalled:
            stalled.sendall(b"\x16\x03\x01\x02\x00\x01")  # a record header and one byte of its body
            for s in (silent, stalled):
                try:
                    assert _raw_answer(s) == b""  # closed, with nothing said
                except ConnectionResetError:
                    pass
    assert 0.9 < time.monotonic() - start < 5
    deadline = time.monotonic() + WAIT
    while sum('error="handshake timeout"' in line for line in srv.err[mark:]) < 2:
        assert time.monotonic() < deadline, srv.err[mark:]
        time.sleep(0.05)


def test_keep_alive_on_the_http_port(srv: Serve) -> None:
    assert srv.http_port is not None
    two = b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n" * 2
    with socket.create_connection(("127.0.0.1", srv.http_port), timeout=WAIT) as s:
        s.sendall(two + b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = _raw_answer(s)
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 2 and answer.count(b"HTTP/1.1 301 Moved Permanently\r\n") == 1


def test_thousands_of_pipelined_requests_on_the_http_port(srv: Serve) -> None:
    """All answered, in order: one read holds a thousand requests or more, handled in a loop
    (recursing from one to the next would exceed Python's recursion limit)."""
    assert srv.http_port is not None
    count = 3000
    requests = b"".join(f"GET /healthcheck?{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(count))
    with socket.create_connection(("127.0.0.1", srv.http_port), timeout=WAIT) as s:
        s.sendall(requests + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = _raw_answer(s)
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == count
    assert answer.rindex(b"HTTP/1.1 200 OK\r\n") < answer.index(b"HTTP/1.1 301 Moved Permanently\r\n")


@pytest.mark.parametrize("loop", LOOPS)
def test_sigterm_lets_the_request_in_flight_finish(tmp_path: Path, loop: str) -> None:
    srv = Serve(["--loop", loop, "--key-type", "ecdsa"], tmp_path)
    try:
        ctx = ssl.create_default_context(cafile=srv.ca)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET / HTTP/1.1\r\n")  # the request begun...
                srv.proc.send_signal(15)
                time.sleep(0.3)
                tls.sendall(b"Host: localhost\r\n\r\n")  # ...and finished after SIGTERM
                answer = tls.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        # the exit the one SIGTERM asked for (srv.stop() would send another: a second SIGTERM
        # after asyncio's loop has given the signal back to its default would kill the process)
        rc = srv.proc.wait(WAIT)
    finally:
        srv.kill()
    assert rc == 0, srv.err[-5:]


def test_uvloop_asked_for_but_not_installed(tmp_path: Path) -> None:
    """(uvloop is hidden from the process: an import of it fails as if it were not installed)"""
    code = "import sys; sys.modules['uvloop'] = None; from https_request.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", code, "serve", "--port", "0", "--loop", "uvloop"],
                         capture_output=True, text=True, timeout=WAIT, cwd=REPO,
                         env={"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path)})  # fmt: skip
    assert run.returncode == 2
    assert "--loop uvloop: uvloop is not installed (pip install 'https-request[uvloop]')" in run.stderr
    assert run.stdout == ""
