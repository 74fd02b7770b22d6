"""A real TLS server for driver and interop tests: our asyncio driver in a thread.

:class:`ServerThread` runs an event loop in a daemon thread and serves
127.0.0.1 on an ephemeral port with :func:`https_request.io.aio.start_server`.
Each accepted connection gets a :class:`Served` record (handshake event,
early data, KeyUpdates, what was read, how it ended) that the test collects
with :meth:`ServerThread.next`.

The default handler :func:`echo` runs the handshake and echoes what it reads,
with three commands (at the start of a read): ``KEYUPDATE`` makes the server
send a KeyUpdate requesting one back, ``DROP`` closes TCP without
close_notify, ``BYE`` echoes then closes with close_notify.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

from https_request.io.aio import TlsStream, start_server
from https_request.tls.config import ServerConfig
from https_request.tls.events import HandshakeComplete, KeyUpdated

__all__ = ["Served", "ServerThread", "echo", "read_head"]


@dataclass
class Served:
    """What happened on one server-side connection."""

    handshake: HandshakeComplete | None = None
    early_data: bytes = b""
    key_updates: list[KeyUpdated] = field(default_factory=list)
    received: bytearray = field(default_factory=bytearray)
    peer_closed: bool = False
    eof: bool = False
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


Handler = Callable[[TlsStream, Served], Awaitable[None]]


async def read_head(stream: TlsStream) -> bytes | None:
    """An HTTP request's bytes up to and including the blank line ending its head (and
    whatever came with them), or None when the client closed first."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = await stream.read()
        if not data:
            return None
        buf += data
    return buf


async def echo(stream: TlsStream, rec: Served) -> None:
    rec.handshake = await stream.handshake()
    while True:
        data = await stream.read()
        if not data:
            return
        rec.received += data
        if data.startswith(b"KEYUPDATE"):
            await stream.update_keys(request_peer=True)
        elif data.startswith(b"DROP"):
            stream.writer.close()
            return
        await stream.write(data)
        if data.startswith(b"BYE"):
            await stream.close()
            return


class ServerThread:
    """``with ServerThread(config) as srv:`` serves on ``srv.port`` until the block ends."""

    def __init__(self, config: ServerConfig, handler: Handler = echo, timeout: float = 10.0) -> None:
        self.config = config
        self.handler = handler
        self.timeout = timeout
        self.port = 0
        self._served: queue.Queue[Served] = queue.Queue()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._started = threading.Event()
        self._server: asyncio.Server | None = None

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("server thread did not start")
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def next(self, timeout: float = 10.0) -> Served:
        """The next served connection, once its handler has finished."""
        rec = self._served.get(timeout=timeout)
        if not rec.done.wait(timeout):
            raise TimeoutError("server handler still running")
        return rec

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(start_server(self._handle, "127.0.0.1", 0, self.config))
        self.port = self._server.sockets[0].getsockname()[1]
        self._started.set()
        self._loop.run_forever()

    async def _handle(self, stream: TlsStream) -> None:
        rec = Served()
        self._served.put(rec)
        stream.timeout = self.timeout
        try:
            await self.handler(stream, rec)
        except Exception as exc:
            rec.error = exc
        finally:
            rec.early_data = bytes(stream.pump.early_data)
            rec.key_updates = list(stream.pump.key_updates)
            rec.peer_closed = stream.pump.peer_closed
            rec.eof = stream.pump.eof
            rec.done.set()

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
