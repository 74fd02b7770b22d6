"""What a ``serve`` worker keeps in memory: the modules it imports only when a connection needs them.

Each test runs a real ``serve`` (one worker, the local ECDSA certificate) with
``PYTHONPROFILEIMPORTTIME=1``, so the process reports every module it imports on
stderr as it imports it, and drives it with the stdlib ssl client. A module a worker
does not need is memory it holds for its whole life (docs/PERFORMANCE.md, "Memory").
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from serveproc import WAIT, Serve, running

pytestmark = pytest.mark.timeout(60)

HOST = "www.howsmyssl.com"
_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$")


@pytest.fixture
def srv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Serve]:
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    yield from running(["--key-type", "ecdsa", "--schema", "2026"], tmp_path)


def imported(srv: Serve) -> set[str]:
    """The modules the server process has imported so far (its import-time lines)."""
    return {m.group(1) for m in map(_IMPORTED.match, list(srv.err)) if m}


def get(srv: Serve, request: bytes) -> bytes:
    """The answer to ``request``, read to close_notify."""
    ctx = ssl.create_default_context(cafile=srv.ca)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with ctx.wrap_socket(raw, server_hostname=HOST) as tls:
            tls.sendall(request)
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
            tls.unwrap()
    return answer


def test_h11_is_imported_only_for_a_request_httptools_does_not_read(srv: Serve) -> None:
    pytest.importorskip("httptools")
    request = f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
    mark = srv.log_mark()
    for _ in range(3):
        assert get(srv, request).startswith(b"HTTP/1.1 200 OK\r\n")
    srv.wait_log(r'request="GET /" status=200', mark)
    assert "https_request.server.app" in imported(srv)
    assert "h11" not in imported(srv)
    # a head with a Content-Length is never httptools': h11 reads it (and is imported now)
    mark = srv.log_mark()
    answer = get(srv, request.replace(b"\r\n\r\n", b"\r\nContent-Length: 0\r\n\r\n"))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    srv.wait_log(r'request="GET /" status=200', mark)
    assert "h11" in imported(srv)


def test_idna_json_gzip_and_time_sync_wait_for_what_needs_them(srv: Serve) -> None:
    """A worker on the system clock, bound to an ASCII host, answering the report page without
    gzip, never loads the IDNA codec (with unicodedata and stringprep), json, gzip or time_sync;
    /tls loads json and an Accept-Encoding: gzip request loads gzip."""
    lazy = {"encodings.idna", "unicodedata", "json", "gzip", "https_request.time_sync"}
    request = f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
    mark = srv.log_mark()
    for _ in range(3):
        answer = get(srv, request)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"<html" in answer.lower()
    srv.wait_log(r'request="GET /" status=200', mark)
    assert "https_request.server.report_page" in imported(srv)
    assert lazy.isdisjoint(imported(srv)), lazy & imported(srv)
    mark = srv.log_mark()
    answer = get(srv, request.replace(b"GET / ", b"GET /tls "))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b'"resumed":false' in answer
    srv.wait_log(r'request="GET /tls" status=200', mark)
    assert "json" in imported(srv) and "gzip" not in imported(srv)
    mark = srv.log_mark()
    answer = get(srv, request.replace(b"\r\n\r\n", b"\r\nAccept-Encoding: gzip\r\n\r\n"))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nContent-Encoding: gzip\r\n" in answer
    srv.wait_log(r'request="GET /" status=200', mark)
    assert "gzip" in imported(srv)
