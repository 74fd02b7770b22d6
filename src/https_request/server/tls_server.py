"""The asyncio accept loops of ``https-request serve``, on our own TLS engine.

One :class:`Server` per worker process serves an HTTPS listening socket
(and optionally a plain-HTTP one). Each HTTPS connection:

1. waits for its first bytes, then runs the handshake, both within
   ``handshake_timeout`` (a stalled or silent client is dropped when it ends;
   no engine state exists before the first bytes, so idle connections are
   cheap). Bytes that look like plain HTTP get Go's "Client sent an HTTP
   request to an HTTPS server" 400; any other garbage gets the engine's alert;
2. reads one HTTP request (0-RTT data included) within ``read_timeout``.
   With ``send_half_rtt_data`` (``serve --early-data``) the handshake stops
   early once accepted 0-RTT data arrives: a complete request in it is
   answered at once, as 0.5-RTT data before the client's Finished, and the
   handshake is finished afterwards (tickets and close_notify follow);
3. writes the whole response and close_notify in one go (as few TLS records
   as fit: one per 16 KiB), half-closes TCP and drains what the client still
   sends for a moment, so that closing never resets the connection under an
   unread response;
4. logs one line: worker, peer, SNI, version, suite, group, resumed, early
   data, then the request, status and time (or the error).

Admission: at most ``max_connections`` connections (both listeners) are open
at once in one worker, and at most ``max_per_client`` from one client address;
more are reset as soon as they are accepted. Refusals are counted, not logged
one by one: the first after a quiet spell is logged at once, the rest as one
line per ``refusal_log_interval`` (:class:`RefusalLog`). The listening sockets
keep the ``backlog`` given (asyncio would ``listen(100)`` them again). The
plain-HTTP listener has the TLS one's timeouts: a request must begin within
``handshake_timeout`` (also between keep-alive requests) and be complete
within ``read_timeout``.

:meth:`Server.close` stops accepting, resets the connections that sent
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
from collections.abc import Awaitable, Callable

from ..io.aio import TlsStream
from ..io.pump import TlsConnectionError
from ..structs import Struct, field, replace
from ..tls.catalogue import suite_name
from ..tls.config import ServerConfig
from ..tls.enums import ExtensionType, NamedGroup, name_of
from ..tls.errors import TlsError
from ..tls.server13 import ServerConnection
from .app import AppConfig, HttpError, Request, RequestReader, TlsInfo, error_response, route, route_plain

__all__ = ["RefusalLog", "Server", "ServerSettings", "stderr_log"]

_RECV = 65536
_LINGER = 2.0  # seconds to drain the client's last bytes after our response
_LINGER_BYTES = 1 << 18
_WRITE_TIMEOUT = 15.0
_HTTP_ON_TLS = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO", b"DELET", b"PATCH", b"CONNE")
_HTTP_ON_TLS_ANSWER = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"


def stderr_log(line: str) -> None:
    """The default log sink: one line on stderr, timestamped (lost if stderr is gone)."""
    try:
        sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
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


class _Record(Struct, frozen=False, slots=False):
    """What one connection's log line says."""

    kind: str
    peer: str
    start: float = field(default_factory=time.monotonic)
    sni: str | None = None
    version: str = "-"
    suite: str = "-"
    group: str = "-"
    resumed: bool = False
    early: str = "no"
    requests: list[str] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    error: str = ""
    abort: bool = False  # reset rather than close (timeouts)
    busy: bool = False  # a request (or handshake) is under way: shutdown waits for it

    def line(self, worker: int) -> str:
        ms = (time.monotonic() - self.start) * 1000
        parts = [f"worker={worker}", f"peer={self.peer}"]
        if self.kind == "https":
            parts += [
                f"sni={_printable(self.sni or '-')}",
                f"version={self.version}",
                f"suite={self.suite}",
                f"group={self.group}",
                f"resumed={'yes' if self.resumed else 'no'}",
                f"early_data={self.early}",
            ]
        else:
            parts.append("proto=http")
        for req, status in zip(self.requests, self.status, strict=False):
            parts += [f'request="{req}"', f"status={status}"]
        if self.error:
            parts.append(f'error="{self.error}"')
        parts.append(f"ms={ms:.1f}")
        return " ".join(parts)


def _peer(writer: asyncio.StreamWriter) -> tuple[str, str]:
    """(the client's address, ``address:port`` for the log)."""
    addr = writer.get_extra_info("peername")
    if not isinstance(addr, tuple) or len(addr) < 2:
        return str(addr), str(addr)
    host, port = str(addr[0]), addr[1]
    return host, f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _printable(text: str, limit: int = 200) -> str:
    return "".join(c if " " <= c < "\x7f" and c != '"' else "?" for c in text[:limit])


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TlsError):
        return f"tls: {exc}"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, TlsConnectionError | OSError):
        return f"connection: {exc}"
    return f"internal: {type(exc).__name__}: {exc}"


def _tls_info(conn: ServerConnection, early_data: int, rec: _Record, worker: int) -> TlsInfo:
    """What routing sees, from the connection's attributes (all set once the
    ClientHello was answered, so also before the client's Finished); fills the log record too."""
    assert conn.negotiated_version is not None and conn.cipher_suite is not None
    info = TlsInfo(
        conn.client_hello_raw, conn.negotiated_version, conn.cipher_suite, conn.group, conn.server_name,
        conn.alpn_protocol, conn.resumed, early_data, rec.peer, worker,
    )  # fmt: skip
    rec.sni, rec.resumed = conn.server_name, conn.resumed
    rec.version = info.version_name.replace(" ", "")
    rec.suite = suite_name(conn.cipher_suite)
    rec.group = name_of(NamedGroup, conn.group) if conn.group is not None else "-"
    hello = conn.client_hello
    if conn.early_data_accepted:
        rec.early = f"accepted:{early_data}"
    elif hello is not None and hello.ext(ExtensionType.early_data) is not None:
        rec.early = "rejected"
    return info


class Server:
    """One worker's listeners; see the module docstring."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.active = 0
        self.refusals = RefusalLog(settings.worker, settings.log, settings.refusal_log_interval)
        self._per_client: dict[str, int] = {}  # open connections by client address (bounded by ``active``)
        self._tasks: dict[asyncio.Task[None], _Record] = {}
        self._servers: list[asyncio.Server] = []

    async def start(self, https_sock: socket.socket, http_sock: socket.socket | None = None) -> None:
        """Serve the (bound, listening) sockets, with ``settings.backlog``."""
        backlog = self.settings.backlog
        self._servers.append(await asyncio.start_server(self._on_tls, sock=https_sock, limit=_RECV, backlog=backlog))
        if http_sock is not None:
            self._servers.append(
                await asyncio.start_server(self._on_plain, sock=http_sock, limit=_RECV, backlog=backlog)
            )

    def reload(self, tls: ServerConfig) -> None:
        """Serve the connections accepted from now on with ``tls`` (those open keep theirs)."""
        self.settings = replace(self.settings, tls=tls)

    async def close(self, grace: float | None = None) -> None:
        """Stop accepting; reset the connections that sent nothing yet; give those in
        flight ``grace`` seconds (default ``settings.shutdown_grace``), then cancel them."""
        for srv in self._servers:
            srv.close()
        for task, rec in list(self._tasks.items()):
            if not rec.busy:
                task.cancel()
        if self._tasks:
            wait = self.settings.shutdown_grace if grace is None else grace
            _, pending = await asyncio.wait(set(self._tasks), timeout=wait)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        self.refusals.close()

    # ---------------------------------------------------------------- plumbing

    async def _guarded(
        self, kind: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
        body: Callable[[asyncio.StreamReader, asyncio.StreamWriter, _Record], Awaitable[None]],
    ) -> None:  # fmt: skip
        host, peer = _peer(writer)
        cfg = self.settings
        if self.active >= cfg.max_connections:
            writer.transport.abort()
            self.refusals.note("max_connections", host)
            return
        if self._per_client.get(host, 0) >= cfg.max_per_client:
            writer.transport.abort()
            self.refusals.note("max_per_client", host)
            return
        rec = _Record(kind, peer)
        task = asyncio.current_task()
        self.active += 1
        self._per_client[host] = self._per_client.get(host, 0) + 1
        if task is not None:
            self._tasks[task] = rec
        try:
            await body(reader, writer, rec)
        except asyncio.CancelledError:
            rec.error = rec.error or "cancelled (shutdown)"
            raise
        except Exception as exc:  # a connection's failure must never reach the loop
            rec.error = rec.error or _describe(exc)
            rec.abort = True
        finally:
            self.active -= 1
            left = self._per_client.pop(host) - 1
            if left:
                self._per_client[host] = left
            if task is not None:
                self._tasks.pop(task, None)
            if rec.abort:
                writer.transport.abort()
            else:
                writer.close()
            cfg.log(rec.line(cfg.worker))

    async def _on_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._guarded("https", reader, writer, self._serve_tls)

    async def _on_plain(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._guarded("http", reader, writer, self._serve_plain)

    async def _linger(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Half-close and read until the client closes (bounded), so closing sends no RST."""
        try:
            if writer.can_write_eof():
                writer.write_eof()
            drained = 0
            async with asyncio.timeout(_LINGER):
                while drained < _LINGER_BYTES:
                    chunk = await reader.read(_RECV)
                    if not chunk:
                        return
                    drained += len(chunk)
        except (TimeoutError, OSError):
            pass

    # ---------------------------------------------------------------- HTTPS

    async def _serve_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rec: _Record) -> None:
        cfg = self.settings
        handshake_deadline = asyncio.get_running_loop().time() + cfg.handshake_timeout
        try:
            async with asyncio.timeout_at(handshake_deadline):
                first = await reader.read(_RECV)
                if not first:
                    rec.error = "closed before the handshake"
                    return
                rec.busy = True
                if first[:5] in _HTTP_ON_TLS:
                    rec.error = "plain HTTP on the TLS port"
                    writer.write(_HTTP_ON_TLS_ANSWER)
                    await self._linger(reader, writer)
                    return
                conn = ServerConnection(cfg.tls)
                stream = TlsStream(reader, writer, conn)
                try:
                    stream.pump.feed(first)
                except TlsError:
                    writer.write(conn.data_to_send())
                    raise
                if cfg.tls.send_half_rtt_data:  # a 0-RTT request is answered before the client's Finished
                    hs = await stream.handshake_or_early_data()
                else:
                    hs = await stream.handshake()
        except TimeoutError:
            rec.error, rec.abort = "handshake timeout", True
            return
        except TlsError as exc:
            rec.error = _describe(exc)
            await self._linger(reader, writer)  # the alert was queued: let it reach the client
            return
        info = _tls_info(conn, len(stream.pump.early_data), rec, cfg.worker)

        request: Request | None = None
        http = RequestReader()
        try:
            async with asyncio.timeout(cfg.read_timeout):
                while request is None:
                    request = http.feed(await stream.read())
            response = route(request, info, cfg.app)
            rec.requests.append(_printable(f"{request.method} {request.target}"))
            rec.status.append(response.status)
            out = response.encode(request)
        except EOFError:
            rec.error = "closed before a request"
            return
        except TimeoutError:
            rec.error, rec.abort = "timeout waiting for the request", True
            return
        except HttpError as exc:
            rec.requests.append("-")
            rec.status.append(exc.status)
            out = error_response(exc.status)
        conn.send_application_data(out)  # before the client's Finished: sent at once as 0.5-RTT data
        conn.close()
        writer.write(conn.data_to_send())
        async with asyncio.timeout(_WRITE_TIMEOUT):
            await writer.drain()
        if hs is None:  # answered 0-RTT data: finish the handshake (then tickets and close_notify follow)
            try:
                async with asyncio.timeout_at(max(handshake_deadline, asyncio.get_running_loop().time() + 1.0)):
                    await stream.handshake()
            except TimeoutError:
                rec.error = "handshake timeout"  # after the response: close, don't reset it away
            except TlsError as exc:
                rec.error = _describe(exc)
            _tls_info(conn, len(stream.pump.early_data), rec, cfg.worker)
        await self._linger(reader, writer)

    # ---------------------------------------------------------------- plain HTTP

    async def _serve_plain(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rec: _Record) -> None:
        cfg = self.settings
        leftover = b""
        while True:
            http = RequestReader()
            try:
                rec.busy = bool(leftover)
                request = http.feed(leftover) if leftover else None
                async with asyncio.timeout(cfg.read_timeout if leftover else cfg.handshake_timeout) as deadline:
                    while request is None:
                        data = await reader.read(_RECV)
                        if data and not http.started:  # a request began: the idle wait is over
                            deadline.reschedule(asyncio.get_running_loop().time() + cfg.read_timeout)
                            rec.busy = True
                        request = http.feed(data)
            except EOFError:
                return
            except TimeoutError:
                if http.started:
                    rec.error, rec.abort = "timeout waiting for the request", True
                elif not rec.requests:  # (an idle keep-alive connection just ends)
                    rec.error, rec.abort = "idle timeout", True
                return
            except HttpError as exc:
                rec.requests.append("-")
                rec.status.append(exc.status)
                writer.write(error_response(exc.status))
                await writer.drain()
                await self._linger(reader, writer)
                return
            response = route_plain(request)
            rec.requests.append(_printable(f"{request.method} {request.target}"))
            rec.status.append(response.status)
            writer.write(response.encode(request))
            async with asyncio.timeout(_WRITE_TIMEOUT):
                await writer.drain()
            if not request.keep_alive:
                await self._linger(reader, writer)
                return
            leftover = http.leftover
