"""Blocking-socket driver: a :class:`TlsSocket` is a connected socket plus a
sans-I/O connection, pumped by :class:`~.pump.Pump` (send before receive, one
blocking operation per loop iteration).

Timeouts are per call (``timeout=None`` means the socket's default given at
construction; that default ``None`` blocks forever) and cover the whole call,
not each system call. OS errors become :class:`TlsConnectionError`, timeouts
:class:`TlsTimeout`; the engine's own failures propagate as
:class:`~https_request.tls.errors.TlsError` after the alert was sent (best
effort).

0-RTT: ``connect(..., handshake=False)``, then :meth:`TlsSocket.start` with
the early data (sent with the ClientHello as 0-RTT if the session allows,
else after the handshake; :meth:`TlsSocket.send` after ``start`` does the
same in a second write), then :meth:`TlsSocket.handshake`.
:meth:`TlsSocket.wait_session` reads on, bounded, for a session ticket that may
follow the data the caller wanted. Not thread-safe: one thread per socket.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from ..tls.client13 import ClientConnection
from ..tls.config import ClientConfig
from ..tls.connection import Connection
from ..tls.errors import TlsError
from ..tls.events import HandshakeComplete
from ..tls.session import Session
from .pump import DONE, RECV, Pump, TlsConnectionError, TlsTimeout

__all__ = ["TlsSocket", "connect"]

_RECV_SIZE = 65536


@contextmanager
def _mapped() -> Iterator[None]:
    """Socket exceptions -> ours (httpcore's map_exceptions)."""
    try:
        yield
    except TimeoutError as exc:
        raise TlsTimeout(str(exc) or "timed out") from exc
    except OSError as exc:
        raise TlsConnectionError(str(exc) or type(exc).__name__) from exc


class TlsSocket:
    """A TLS connection over a connected blocking socket."""

    def __init__(self, sock: socket.socket, conn: Connection, timeout: float | None = None) -> None:
        self.sock = sock
        self.conn = conn
        self.timeout = timeout
        self.pump = Pump(conn)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def sessions(self) -> list[Session]:
        """The session tickets received so far, oldest first, at most the newest
        ``limits.MAX_TICKETS_KEPT`` (TLS 1.3 tickets arrive after the handshake:
        they are picked up while reading)."""
        return list(self.pump.sessions)

    @property
    def session(self) -> Session | None:
        """The newest session ticket, for resuming later."""
        return self.pump.sessions[-1] if self.pump.sessions else None

    def start(self, timeout: float | None = None, early_data: bytes = b"") -> None:
        """Client: send the ClientHello without waiting for the answer, and
        ``early_data`` as for :meth:`send`, in the same write: one first flight
        (with TCP Fast Open, the one write the SYN carries)."""
        self.pump.start()
        if early_data:
            self.conn.send_application_data(early_data)
        self._run(lambda: True, timeout)

    def handshake(self, timeout: float | None = None) -> HandshakeComplete:
        """Run the handshake to its end and return what was negotiated."""
        self.pump.start()
        self._run(lambda: self.pump.handshake is not None, timeout)
        assert self.pump.handshake is not None
        return self.pump.handshake

    def send(self, data: bytes, timeout: float | None = None) -> None:
        """Send application data (buffered by the engine until the handshake is
        over, unless it goes out as 0-RTT)."""
        self.conn.send_application_data(data)
        self._run(lambda: not self.conn.renegotiating or self.pump.finished, timeout)  # renegotiation: to its end

    def recv(self, max_bytes: int = _RECV_SIZE, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes`` of application data; b"" once the peer closed."""
        self._run(lambda: self.pump.buffered > 0 or self.pump.finished, timeout)
        return self.pump.read(max_bytes)

    def update_keys(self, request_peer: bool = False, timeout: float | None = None) -> None:
        """Send a KeyUpdate (asking the peer to update too if ``request_peer``)."""
        self.conn.update_keys(request_peer)
        self._run(lambda: True, timeout)

    def wait_session(self, timeout: float) -> Session | None:
        """Read on until a session ticket arrives, the peer closes, application
        data arrives (kept for :meth:`recv`) or ``timeout`` seconds pass (no
        error then); returns the newest session. Engine and transport errors
        propagate as for :meth:`recv`."""
        pump = self.pump
        tickets, buffered = pump.tickets, pump.buffered
        try:
            self._run(lambda: pump.tickets > tickets or pump.finished or pump.buffered > buffered, timeout)
        except TlsTimeout:
            pass
        return self.session

    def close(self) -> None:
        """Send close_notify (best effort) and close the socket."""
        try:
            self.pump.close()
            self._send_best_effort()
        finally:
            self.sock.close()

    def __enter__(self) -> TlsSocket:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _run(self, done: Callable[[], bool], timeout: float | None) -> None:
        timeout = self.timeout if timeout is None else timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            action = self.pump.next_action(done)
            if action is DONE:
                return
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TlsTimeout("timed out")
                self.sock.settimeout(remaining)
            else:
                self.sock.settimeout(None)
            if action is RECV:
                with _mapped():
                    data = self.sock.recv(_RECV_SIZE)
                self._feed(data)
            else:
                with _mapped():
                    self.sock.sendall(action)

    def _feed(self, data: bytes) -> None:
        try:
            self.pump.feed(data)
        except TlsError:
            self._send_best_effort()
            raise

    def _send_best_effort(self) -> None:
        out = self.conn.data_to_send()
        if out:
            try:
                self.sock.settimeout(1.0)
                self.sock.sendall(out)
            except OSError:
                pass


def connect(
    host: str,
    port: int,
    config: ClientConfig,
    server_name: str | None = None,
    session: Session | None = None,
    timeout: float | None = 30.0,
    *,
    handshake: bool = True,
) -> TlsSocket:
    """Open a TCP connection and (unless ``handshake=False``) run the handshake.

    ``server_name`` defaults to ``host`` (IP literals are not sent as SNI but
    still checked against the certificate).
    """
    with _mapped():
        sock = socket.create_connection((host, port), timeout=timeout)
    try:
        tls = TlsSocket(sock, ClientConnection(config, server_name or host, session), timeout)
        if handshake:
            tls.handshake()
    except BaseException:
        sock.close()
        raise
    return tls
