"""An HTTPS server on stdlib ``ssl`` + ``http.server`` (OpenSSL as the peer), on
127.0.0.1 in a thread, for the esp-tls and ``get`` tests.

Paths: GET/HEAD ``/`` -> 200 with :data:`BODY`; ``/big`` -> :data:`BIG`;
``/truncated`` -> Content-Length 100, 10 bytes, then a TCP close without
close_notify; ``/garbage``, ``/half-record`` -> a bad TLS record or half of one
on the raw socket, then a TCP close; ``/empty`` (and the target ``FROM_STDIN``)
-> 200 without a body, as the ESP example's own pytest server answers.
For ``get``'s curl options: ``/status/NNN`` -> that status with :data:`BODY`;
``/gzip``, ``/deflate`` -> :data:`BODY` with that Content-Encoding;
``/flaky/N/STATUS`` -> STATUS (with ``Retry-After: 0``) for the first N requests
to that path, then 200 (the server's ``hits`` counts requests by path);
``/redirect`` -> 302 to ``/``.

:func:`serve_http` is the same server without TLS.
"""

from __future__ import annotations

import socket
import ssl
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["BIG", "BODY", "Handler", "serve_http", "serve_https"]

BODY = b"hello from the stdlib server\n"
BIG = bytes(range(256)) * 8192  # 2 MiB: more than any pipe holds, so stdout must be drained before exit
WAIT = 5.0


class Handler(BaseHTTPRequestHandler):
    """The paths in the module docstring; every response closes the connection."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _head(self, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._head(len(BODY))
        self.close_connection = True

    def _answer(self, status: int, body: bytes, *headers: tuple[str, str]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.close_connection = True
        path = urlsplit(self.path).path  # absolute-form targets too
        hits: Counter[str] = getattr(self.server, "hits", Counter())
        hits[path] += 1
        parts = path.split("/")
        if path.startswith("/status/"):
            self._answer(int(parts[2]), BODY)
        elif path in ("/gzip", "/deflate"):
            packer = zlib.compressobj(wbits=31 if path == "/gzip" else 15)
            self._answer(200, packer.compress(BODY) + packer.flush(), ("Content-Encoding", path[1:]))
        elif path.startswith("/flaky/"):
            failures, status = int(parts[2]), int(parts[3])
            if hits[path] <= failures:
                self._answer(status, b"try again\n", ("Retry-After", "0"))
            else:
                self._answer(200, BODY)
        elif path == "/redirect":
            self._answer(302, b"moved\n", ("Location", "/"))
        elif path == "/truncated":
            self._head(100)
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.request.shutdown(socket.SHUT_RDWR)  # SSLSocket.shutdown: no close_notify
        elif path in ("/garbage", "/half-record"):  # raw bytes under TLS: a bad record, or half of one
            record = b"\x17\x03\x03\x00\x40" + bytes(64 if path == "/garbage" else 10)
            socket.socket.sendall(self.request, record)
            self.request.shutdown(socket.SHUT_RDWR)
        elif path in ("/empty", "FROM_STDIN"):
            self.send_response(200)
            self.end_headers()
        elif path == "/big":
            self._head(len(BIG))
            self.wfile.write(BIG)
        else:
            self._head(len(BODY))
            self.wfile.write(BODY)


@contextmanager
def serve_https(
    cert: Path,
    key: Path,
    *,
    max_version: ssl.TLSVersion | None = None,
    client_ca_der: bytes | None = None,
    alpn: list[str] | None = None,
    tcp_fastopen: int = 0,
) -> Iterator[int]:
    """Serve :class:`Handler` over TLS with the PEM chain ``cert`` and ``key``; yields the port.

    ``client_ca_der``: client certificates are required, issued by this CA;
    ``alpn``: the protocols the server accepts; ``tcp_fastopen``: TCP_FASTOPEN's
    queue on the listening socket (0: none)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if max_version is not None:
        ctx.maximum_version = max_version
    if client_ca_der is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=client_ca_der)
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    with _serve(ctx, tcp_fastopen) as server:
        yield server.server_address[1]


@contextmanager
def serve_http() -> Iterator[ThreadingHTTPServer]:
    """:class:`Handler` without TLS; yields the server (``server_address``, ``hits``)."""
    with _serve(None, 0) as server:
        yield server


@contextmanager
def _serve(ctx: ssl.SSLContext | None, tcp_fastopen: int) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.hits = Counter()  # type: ignore[attr-defined]
    if tcp_fastopen:
        server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, tcp_fastopen)
    if ctx is not None:
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)
