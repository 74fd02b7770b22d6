"""asyncio driver: a :class:`TlsStream` is an ``asyncio.StreamReader`` /
``StreamWriter`` pair plus a sans-I/O connection, pumped by
:class:`~.pump.Pump` exactly like the blocking driver (send before receive,
one await per loop iteration).

Bytes are handed to ``writer.write`` the moment they are drained from the
connection (no await in between), so ciphertext stays in order even when one
task reads while others write. Only one task may read at a time.

Timeouts are per call (``timeout=None``: the stream's default) and map to
:class:`TlsTimeout`; OS errors to :class:`TlsConnectionError`; engine failures
propagate as :class:`~https_request.tls.errors.TlsError` after the alert was
sent (best effort). :func:`open_connection` is the client entry point,
:meth:`TlsStream.server` / :func:`start_server` the server side.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..tls.client13 import ClientConnection
from ..tls.config import ClientConfig, ServerConfig
from ..tls.connection import Connection
from ..tls.errors import TlsError
from ..tls.events import HandshakeComplete
from ..tls.server13 import ServerConnection
from ..tls.session import Session
from .pump import DONE, RECV, Pump, TlsConnectionError, TlsTimeout

__all__ = ["TlsStream", "open_connection", "start_server"]

_RECV_SIZE = 65536
_T = TypeVar("_T")


async def _mapped(aw: Awaitable[_T]) -> _T:
    try:
        return await aw
    except TimeoutError as exc:
        raise TlsTimeout(str(exc) or "timed out") from exc
    except OSError as exc:
        raise TlsConnectionError(str(exc) or type(exc).__name__) from exc


class TlsStream:
    """A TLS connection over an asyncio stream pair."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: Connection, timeout: float | None = None
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = conn
        self.timeout = timeout
        self.pump = Pump(conn)
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @classmethod
    def server(
        cls,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        config: ServerConfig,
        timeout: float | None = None,
    ) -> TlsStream:
        """Wrap an accepted stream pair in a new ServerConnection."""
        return cls(reader, writer, ServerConnection(config), timeout)

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

    async def start(self, timeout: float | None = None, early_data: bytes = b"") -> None:
        """Client: send the ClientHello without waiting for the answer, and
        ``early_data`` as for :meth:`write`, in the same write (see
        :meth:`TlsSocket.start <https_request.io.blocking.TlsSocket.start>`)."""
        self.pump.start()
        if early_data:
            self.conn.send_application_data(early_data)
        await self._run(lambda: True, timeout)

    async def handshake(self, timeout: float | None = None) -> HandshakeComplete:
        """Run the handshake to its end and return what was negotiated."""
        self.pump.start()
        await self._run(lambda: self.pump.handshake is not None, timeout)
        assert self.pump.handshake is not None
        return self.pump.handshake

    async def handshake_or_early_data(self, timeout: float | None = None) -> HandshakeComplete | None:
        """Server: run the handshake until it completes, or until accepted 0-RTT
        data is readable (then None: :meth:`read` it and answer at once, as
        0.5-RTT data when the config sends it; :meth:`handshake` finishes later)."""
        await self._run(lambda: self.pump.handshake is not None or bool(self.pump.early_data), timeout)
        return self.pump.handshake

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        """Send application data (held by the engine until the handshake is
        over, unless it goes out as 0-RTT)."""
        self.conn.send_application_data(data)
        await self._run(lambda: not self.conn.renegotiating or self.pump.finished, timeout)  # as TlsSocket.send

    async def read(self, max_bytes: int = _RECV_SIZE, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes`` of application data; b"" once the peer closed."""
        await self._run(lambda: self.pump.buffered > 0 or self.pump.finished, timeout)
        return self.pump.read(max_bytes)

    async def update_keys(self, request_peer: bool = False, timeout: float | None = None) -> None:
        """Send a KeyUpdate (asking the peer to update too if ``request_peer``)."""
        self.conn.update_keys(request_peer)
        await self._run(lambda: True, timeout)

    async def wait_session(self, timeout: float) -> Session | None:
        """See :meth:`TlsSocket.wait_session <https_request.io.blocking.TlsSocket.wait_session>`."""
        pump = self.pump
        tickets, buffered = pump.tickets, pump.buffered
        try:
            await self._run(lambda: pump.tickets > tickets or pump.finished or pump.buffered > buffered, timeout)
        except TlsTimeout:
            pass
        return self.session

    async def close(self) -> None:
        """Send close_notify (best effort) and close the transport."""
        self.pump.close()
        self._write_best_effort()
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        except (OSError, TimeoutError):
            pass

    async def _run(self, done: Callable[[], bool], timeout: float | None) -> None:
        timeout = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(timeout):
                while True:
                    action = self.pump.next_action(done)
                    if action is DONE:
                        return
                    if action is RECV:
                        self._feed(await _mapped(self.reader.read(_RECV_SIZE)))
                    else:
                        self.writer.write(action)
                        await _mapped(self.writer.drain())
        except TimeoutError as exc:
            if isinstance(exc, TlsTimeout):
                raise
            raise TlsTimeout("timed out") from exc

    def _feed(self, data: bytes) -> None:
        try:
            self.pump.feed(data)
        except TlsError:
            self._write_best_effort()
            raise

    def _write_best_effort(self) -> None:
        out = self.conn.data_to_send()
        if out and not self.writer.is_closing():
            try:
                self.writer.write(out)
            except OSError:
                pass


async def open_connection(
    host: str,
    port: int,
    config: ClientConfig,
    server_name: str | None = None,
    session: Session | None = None,
    timeout: float | None = 30.0,
    *,
    handshake: bool = True,
) -> TlsStream:
    """Connect and (unless ``handshake=False``) run the handshake."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await _mapped(asyncio.open_connection(host, port))
    except TimeoutError as exc:
        if isinstance(exc, TlsTimeout):
            raise
        raise TlsTimeout(f"connect to {host}:{port} timed out") from exc
    stream = TlsStream(reader, writer, ClientConnection(config, server_name or host, session), timeout)
    if handshake:
        try:
            await stream.handshake()
        except BaseException:
            writer.close()
            raise
    return stream


async def start_server(
    handler: Callable[[TlsStream], Awaitable[None]],
    host: str,
    port: int,
    config: ServerConfig,
    timeout: float | None = None,
) -> asyncio.Server:
    """Serve TLS: ``handler`` gets each accepted connection as a TlsStream
    (handshake not yet run) and the stream is closed when it returns."""

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stream = TlsStream.server(reader, writer, config, timeout)
        try:
            await handler(stream)
        finally:
            await stream.close()

    return await asyncio.start_server(on_client, host, port)
