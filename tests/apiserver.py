"""A keep-alive HTTPS server on stdlib ``ssl`` + ``http.server`` (OpenSSL as the peer),
in a thread on 127.0.0.1, for the high-level API and httpx transport tests.

It counts the TLS connections it accepted (each one full or resumed handshake;
``handshakes``) and keeps connections alive (HTTP/1.1). Paths:

``/echo`` (any method) -> 200, JSON ``{"method", "path", "headers", "body", "chunks"}``
(``chunks``: the sizes of a chunked request body's chunks);
``/chunked`` -> a chunked body of three chunks; ``/big`` -> :data:`BIG`;
``/status/N`` -> status N with a short body; ``/redirect/N`` -> 302 to
``/redirect/N-1`` (``/redirect/0``: 200 ``done``); ``/see-other`` -> 303 to
``/echo``; ``/temporary`` -> 307 to ``/echo``; ``/close`` -> 200 with
``Connection: close``; ``/stall`` -> nothing until the server stops (bounded);
``/until-close`` -> a body without length, ended by closing the connection;
``/stats`` -> JSON ``{"handshakes", "requests"}`` (for a client in another process).
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["BIG", "ApiServer", "serve_api"]

BIG = bytes(range(256)) * 4096  # 1 MiB
WAIT = 5.0
STALL_LIMIT = 15.0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ApiServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> tuple[bytes, list[int]]:
        """The request body, and the sizes of its chunks when it came chunked."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body, sizes = b"", []
            while size := int(self.rfile.readline(64).split(b";")[0], 16):
                body += self.rfile.read(size)
                sizes.append(size)
                self.rfile.readline(8)
            while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return body, sizes
        length = int(self.headers.get("Content-Length") or 0)
        return (self.rfile.read(length) if length else b""), []

    def _handle(self) -> None:
        self.server.requests += 1
        path = self.path
        body, chunks = self._body()
        if path.startswith("/echo"):
            info: dict[str, Any] = {
                "method": self.command,
                "path": path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("latin-1"),
                "chunks": chunks,
            }
            self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"})
        elif path == "/stats":
            stats = {"handshakes": self.server.handshakes, "requests": self.server.requests}
            self._send(200, json.dumps(stats).encode())
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command != "HEAD":
                for part in (b"one,", b"two,", b"three"):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
        elif path == "/big":
            self._send(200, BIG, {"Content-Type": "application/octet-stream"})
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self._send(code, f"status {code}\n".encode(), {"Content-Type": "text/plain"})
        elif path.startswith("/redirect/"):
            n = int(path.rsplit("/", 1)[1])
            if n <= 0:
                self._send(200, b"done", {"Content-Type": "text/plain"})
            else:
                self._send(302, b"moved", {"Location": f"/redirect/{n - 1}"})
        elif path == "/see-other":
            self._send(303, b"", {"Location": "/echo"})
        elif path == "/temporary":
            self._send(307, b"", {"Location": "/echo?kept"})
        elif path == "/close":
            self.close_connection = True
            self._send(200, b"closing", {"Connection": "close"})
        elif path == "/stall":
            self.server.stop.wait(STALL_LIMIT)
            self.close_connection = True
        elif path == "/until-close":
            self.close_connection = True
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"read until the end")
        else:
            self._send(404, b"not found\n")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle


class ApiServer(ThreadingHTTPServer):
    """The server (see the module docstring); ``handshakes``: TLS connections accepted."""

    daemon_threads = True

    def __init__(self, ctx: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.ctx = ctx
        self.handshakes = 0
        self.requests = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._connections: list[ssl.SSLSocket] = []

    def close_idle(self, wait: float) -> None:
        """Close (shut down) the connections accepted so far, as a server ends idle keep-alive
        connections; then wait until the handler threads have seen it (at most ``wait`` s)."""
        with self._lock:
            conns, self._connections = self._connections, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        time.sleep(min(wait, 0.2))

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        sock.settimeout(WAIT * 2)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ctx.wrap_socket(sock, server_side=True)
        except (OSError, ssl.SSLError):
            sock.close()
            raise
        with self._lock:
            self.handshakes += 1
            self._connections.append(tls)
        return tls, addr


@contextmanager
def serve_api(cert: Path, key: Path) -> Iterator[ApiServer]:
    """:class:`ApiServer` with the PEM chain ``cert`` and ``key`` in a thread."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = ApiServer(ctx)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(WAIT)
