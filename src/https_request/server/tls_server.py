"""The asyncio listeners of ``https-request serve``, on our own TLS engine.

One :class:`Server` per worker process serves an HTTPS listening socket
(and optionally a plain-HTTP one). Each accepted connection is an asyncio
protocol of :mod:`.connections` (handshake, one request, the answer, linger;
one log line each).

Admission: at most ``max_connections`` connections (both listeners) are open
at once in one worker, and at most ``max_per_client`` from one client address;
more are closed as soon as they are accepted. Refusals are counted, not logged
one by one: the first after a quiet spell is logged at once, the rest as one
line per ``refusal_log_interval`` (:class:`RefusalLog`). The listening sockets
keep the ``backlog`` given (asyncio would ``listen(100)`` them again).

:meth:`Server.close` stops accepting, drops the connections that sent
nothing yet, and gives those in flight ``shutdown_grace`` seconds to finish.
:meth:`Server.reload` swaps the TLS configuration (certificates, ticket
keys) for the connections that follow. Nothing a peer sends can stop the loop:
every failure ends its own connection only.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import partial

from ..structs import Struct, field, replace
from ..tls.config import ServerConfig
from .app import AppConfig
from .connections import Connection, HttpConnection, HttpsConnection

__all__ = ["RefusalLog", "Server", "ServerSettings", "stderr_log"]


_stamp: tuple[int, str] = (0, "")  # the last second formatted, and its text


def stderr_log(line: str) -> None:
    """The default log sink: one line on stderr, timestamped (lost if stderr is gone)."""
    global _stamp
    now = int(time.time())
    if _stamp[0] != now:
        _stamp = (now, time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now)))
    try:
        sys.stderr.write(f"{_stamp[1]} {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class ServerSettings(Struct, slots=False):
    """Everything one worker needs."""

    tls: ServerConfig
    app: AppConfig = field(default_factory=AppConfig)
    worker: int = 0
    handshake_timeout: float = 10.0  # TLS: first bytes and handshake; plain HTTP: until a request begins
    read_timeout: float = 20.0
    max_connections: int = 1024
    max_per_client: int = 64
    backlog: int = 1024
    shutdown_grace: float = 5.0
    refusal_log_interval: float = 10.0
    loop: str = "asyncio"  # or "uvloop" (supervisor.run_worker)
    log: Callable[[str], None] = stderr_log


class RefusalLog:
    """Refused connections, logged as a rate: the first refusal after a quiet
    spell at once, then at most one line per ``interval`` seconds with the
    count by reason and the addresses refused most (a bounded tally)."""

    MAX_ADDRESSES = 256

    def __init__(self, worker: int, log: Callable[[str], None], interval: float) -> None:
        self._worker, self._log, self._interval = worker, log, interval
        self._reasons: Counter[str] = Counter()
        self._hosts: Counter[str] = Counter()
        self._other_hosts = 0  # refusals from addresses past the tally's bound
        self._timer: asyncio.TimerHandle | None = None
        self.total = 0

    def note(self, reason: str, host: str) -> None:
        """Count one refusal (call from the event loop)."""
        self.total += 1
        self._reasons[reason] += 1
        if host in self._hosts or len(self._hosts) < self.MAX_ADDRESSES:
            self._hosts[host] += 1
        else:
            self._other_hosts += 1
        if self._timer is None:
            self._flush()

    def _flush(self, again: bool = True) -> None:
        if not self._reasons:
            self._timer = None
            return
        count = sum(self._reasons.values())
        reasons = " ".join(f"{k}={v}" for k, v in sorted(self._reasons.items()))
        top = ",".join(f"{h}({n})" for h, n in self._hosts.most_common(3))
        self._log(
            f"worker={self._worker} refused={count} {reasons} addresses={len(self._hosts) + (self._other_hosts > 0)}"
            f" top={top} next_report_in={self._interval:g}s"
        )
        self._reasons.clear()
        self._hosts.clear()
        self._other_hosts = 0
        self._timer = asyncio.get_running_loop().call_later(self._interval, self._flush) if again else None

    def close(self) -> None:
        """Log what is still counted and stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._flush(again=False)


class Server:
    """One worker's listeners; see the module docstring."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.active = 0
        self.refusals = RefusalLog(settings.worker, settings.log, settings.refusal_log_interval)
        self._per_client: dict[str, int] = {}  # open connections by client address (bounded by ``active``)
        self._open: set[Connection] = set()
        self._servers: list[asyncio.AbstractServer] = []
        self._all_closed: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "Server.start() first"
        return self._loop

    async def start(self, https_sock: socket.socket, http_sock: socket.socket | None = None) -> None:
        """Serve the (bound, listening) sockets, with ``settings.backlog``."""
        self._loop = loop = asyncio.get_running_loop()
        backlog = self.settings.backlog
        listeners: list[tuple[socket.socket | None, type[Connection]]] = [
            (https_sock, HttpsConnection), (http_sock, HttpConnection)
        ]  # fmt: skip
        for sock, kind in listeners:
            if sock is not None:
                self._servers.append(await loop.create_server(partial(kind, self), sock=sock, backlog=backlog))

    def reload(self, tls: ServerConfig) -> None:
        """Serve the connections accepted from now on with ``tls`` (those open keep theirs)."""
        self.settings = replace(self.settings, tls=tls)

    async def close(self, grace: float | None = None) -> None:
        """Stop accepting; drop the connections that sent nothing yet; give those in
        flight ``grace`` seconds (default ``settings.shutdown_grace``), then drop them."""
        for srv in self._servers:
            srv.close()
        for conn in list(self._open):
            if not conn.busy:
                conn.shut_down()
        if self._open:
            self._all_closed = self.loop.create_future()
            wait = self.settings.shutdown_grace if grace is None else grace
            try:
                await asyncio.wait_for(asyncio.shield(self._all_closed), wait)
            except TimeoutError:
                for conn in list(self._open):
                    conn.shut_down()
                try:
                    await asyncio.wait_for(self._all_closed, 1.0)
                except TimeoutError:
                    pass
        self.refusals.close()

    # ---------------------------------------------------------------- admission (the connections call these)

    def admit(self, conn: Connection) -> bool:
        """Count a new connection in, or refuse it (False: the caller drops it)."""
        cfg, host = self.settings, conn.host
        if self.active >= cfg.max_connections:
            self.refusals.note("max_connections", host)
            return False
        count = self._per_client.get(host, 0)
        if count >= cfg.max_per_client:
            self.refusals.note("max_per_client", host)
            return False
        self.active += 1
        self._per_client[host] = count + 1
        self._open.add(conn)
        return True

    def release(self, conn: Connection) -> None:
        """An admitted connection is gone: count it out and log its line."""
        self.active -= 1
        self._open.discard(conn)
        host = conn.host
        left = self._per_client.pop(host) - 1
        if left:
            self._per_client[host] = left
        self.settings.log(conn.log_line())
        if not self._open and self._all_closed is not None and not self._all_closed.done():
            self._all_closed.set_result(None)
