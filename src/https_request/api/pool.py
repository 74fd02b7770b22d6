"""The blocking connection pool under :class:`~https_request.api.Client` and
:class:`~https_request.httpx.Transport`: esp-tls connections kept alive per origin.

Theory of operation
-------------------
:meth:`ConnectionPool.send` sends one request and returns the response head
with its body still to read (:class:`PooledStream`). It takes an idle
connection to the origin (the most recently used), or opens one when fewer
than ``Limits.max_connections_per_origin`` are open, else waits up to
``Timeout.pool`` for one to come back (:class:`~.errors.PoolTimeout`).

- **New connections** are :meth:`EspTls.conn_http_new_sync
  <https_request.esp_tls.conn.EspTls.conn_http_new_sync>` with the client's
  configuration, the origin's newest session (:class:`~.config.Sessions`) and
  ``Timeout.connect`` as ``timeout_ms`` (the whole connect and handshake). A
  GET or HEAD without a body goes as 0-RTT data when the session allows it and
  the client's ``early_data`` is on: idempotent requests only (RFC 8446 8 and
  E.5: 0-RTT can be replayed). The engine sends it again after the handshake
  when the server refuses 0-RTT.
- **Reuse.** A connection goes back to the pool when its response was read to
  the end and both sides keep it (:attr:`Response.reusable
  <https_request.http.client.Response.reusable>`); a response closed earlier
  closes its connection. Before reuse an idle connection is checked without
  blocking: readable means the server closed it or sent something (a TLS 1.3
  ticket is read and kept; anything else ends it). A request that fails on a
  reused connection before any byte of response is sent once more on a new
  connection when its method is idempotent (RFC 9110 9.2.2): the server may
  close an idle connection at any time.
- **Bounds.** ``Limits.max_keepalive_connections`` idle connections over all
  origins (the least recently used closed first), each for at most
  ``Limits.keepalive_expiry`` seconds.
- **Sessions.** Each connection's newest session is handed to
  :class:`~.config.Sessions` when its response is complete and when it closes.
  With a :class:`~.config.SessionStore`, a connection closed in good order first
  waits briefly for the ticket a resumed handshake's server may still send
  (:meth:`EspTls.wait_client_session
  <https_request.esp_tls.conn.EspTls.wait_client_session>`), so that the next
  process does not offer the ticket just spent.
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar

from ..structs import replace
from .errors import PoolTimeout, ReadError, RemoteProtocolError, TransportError, from_esp
from .models import Limits, RequestBody, SyncBody, Timeout

if TYPE_CHECKING:
    from ..esp_tls.config import EspTlsCfg
    from ..esp_tls.conn import EspTls
    from ..esp_tls.errors import EspTlsError
    from ..http.client import HttpError
    from ..http.client import Response as HttpResponse
    from .config import Sessions
    from .urls import Target

__all__ = [
    "IDEMPOTENT",
    "ConnectionBase",
    "ConnectionPool",
    "IoBase",
    "PoolBase",
    "PoolState",
    "PooledConnection",
    "PooledStream",
    "connect_config",
    "early_request",
    "error_phase",
    "or_no_limit",
    "pool_timeout",
    "request_failure",
    "sends_again",
    "timeout_ms",
]

#: RFC 9110 9.2.2's idempotent methods: sent again after a stale connection.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
#: The methods sent as 0-RTT (safe, and answered the same when replayed).
EARLY_METHODS = frozenset({"GET", "HEAD"})
#: What "no limit" means where the engine needs a number: a day.
NO_LIMIT = 86400.0


def timeout_ms(seconds: float | None) -> int:
    """esp-tls's ``timeout_ms`` for ``seconds`` (None: no limit; at least 1 ms)."""
    return max(1, round((NO_LIMIT if seconds is None else seconds) * 1000))


def or_no_limit(value: float | None) -> float:
    """``value`` seconds, None meaning :data:`NO_LIMIT`."""
    return NO_LIMIT if value is None else value


def error_phase(exc: EspTlsError) -> Literal["read", "write"]:
    """Whether esp-tls's ``exc`` came from a write (0x8018, or WANT_WRITE's timeout) or a read."""
    from ..esp_tls.errors import EspErr, MbedtlsErr

    le = exc.last_error
    if le.last_error == EspErr.ESP_ERR_MBEDTLS_SSL_WRITE_FAILED or le.esp_tls_error_code == -MbedtlsErr.SSL_WANT_WRITE:
        return "write"
    return "read"


_T = TypeVar("_T", bound="_Endpoint")


class _Endpoint(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...


class IoBase(Generic[_T]):
    """The connection as :mod:`https_request.http.client` uses it, with the request's read
    and write timeouts: host and port here, ``read`` and ``write`` (blocking or not) in
    :class:`_Io` and the asyncio pool's twin."""

    __slots__ = ("read_timeout", "tls", "write_timeout")

    def __init__(self, tls: _T, timeout: Timeout) -> None:
        self.tls = tls
        self.read_timeout = or_no_limit(timeout.read)
        self.write_timeout = or_no_limit(timeout.write)

    @property
    def host(self) -> str:
        return self.tls.host

    @property
    def port(self) -> int:
        return self.tls.port


class _Io(IoBase["EspTls"]):
    """:class:`IoBase` on a blocking connection."""

    __slots__ = ()

    def write(self, data: bytes) -> int:
        return self.tls.write(data, self.write_timeout)

    def read(self, max_bytes: int) -> bytes:
        return self.tls.read(max_bytes, self.read_timeout)


def _readable(fd: int) -> bool:
    """Whether ``fd`` has something to read (or is closed, or broken) right now."""
    if fd < 0:
        return True
    if hasattr(select, "poll"):  # no FD_SETSIZE limit
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class ConnectionBase(Generic[_T]):
    """One pooled connection (:class:`PooledConnection`): its esp-tls connection, where it goes,
    since when it is idle. ``usable`` is in :class:`_Connection` and the asyncio pool's twin."""

    __slots__ = ("idle_since", "origin", "target", "tls")

    def __init__(self, tls: _T, target: Target) -> None:
        self.tls = tls
        self.target = target
        self.origin = target.origin
        self.idle_since = 0.0


def sends_again(fresh: bool, attempt: int, method: str, body: RequestBody) -> bool:
    """Whether a request that failed on its connection goes once more, on a new one: it was
    the first try, on a reused connection (the server may have closed it while idle), its
    method is idempotent and its body can be sent again (see the module docstring)."""
    return not fresh and attempt == 0 and method in IDEMPOTENT and isinstance(body, bytes)


def request_failure(
    exc: EspTlsError | HttpError, url: str, phase: Literal["read", "write"] | None = None
) -> TransportError:
    """The :mod:`.errors` exception for a request to ``url`` that failed on its connection:
    RemoteProtocolError for bad HTTP, else :func:`~.errors.from_esp` in ``phase`` (None:
    :func:`error_phase` tells)."""
    from ..http.client import HttpError

    if isinstance(exc, HttpError):
        return RemoteProtocolError(f"{exc} ({url})", url=url)
    return from_esp(exc, phase or error_phase(exc), url)


class _Connection(ConnectionBase["EspTls"]):
    """A blocking pooled connection."""

    __slots__ = ()

    def usable(self) -> bool:
        """Whether this idle connection can carry a request (see the module docstring)."""
        if not _readable(self.tls.fileno()):
            return True
        from ..esp_tls.conn import EspTlsTimeout
        from ..esp_tls.errors import EspTlsError

        try:
            self.tls.read(1, 0.001)
        except EspTlsTimeout:
            return True  # records without data (a session ticket): still good
        except EspTlsError:
            return False
        return False  # EOF, or data nobody asked for


def early_request(
    enabled: bool, method: str, target: Target, headers: list[tuple[str, str]], body: RequestBody, max_early: int
) -> bytes:
    """The request's bytes to send as 0-RTT (b"": none; see the module docstring)."""
    if not enabled or method not in EARLY_METHODS or body != b"" or max_early <= 0:
        return b""
    from ..http.client import request_bytes

    data = request_bytes(method, target.target, headers, b"", host=target.host, port=target.port)
    return data if len(data) <= max_early else b""


def connect_config(
    base: EspTlsCfg,
    sessions: Sessions,
    early_data: bool,
    method: str,
    target: Target,
    headers: list[tuple[str, str]],
    body: RequestBody,
    timeout: Timeout,
) -> tuple[EspTlsCfg, bytes]:
    """A new connection's configuration (the origin's session, 0-RTT, the connect timeout)
    and the request bytes to send as 0-RTT (see the module docstring)."""
    session = sessions.get(target.host, target.port, base) if base.engine == "python" else None
    max_early = session.max_early_data if session is not None and session.version == 0x0304 else 0
    early = early_request(early_data, method, target, headers, body, max_early)
    cfg = replace(base, client_session=session, early_data=bool(early), timeout_ms=timeout_ms(timeout.connect))
    return cfg, early


class PooledStream:
    """A response body read from a pooled connection: the connection goes back to the
    pool when the body was read to its end (and both sides keep it), else it is closed."""

    def __init__(self, pool: ConnectionPool, conn: _Connection, response: HttpResponse) -> None:
        self._pool = pool
        self._conn: _Connection | None = conn
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        from ..esp_tls.errors import EspTlsError
        from ..http.client import HttpError

        conn = self._conn
        if conn is None:
            raise ReadError("the response was closed", url=self._response_url())
        try:
            yield from self._response.iter_body()
        except (EspTlsError, HttpError) as exc:
            url = self._response_url()
            self.close()
            raise request_failure(exc, url, "read") from exc
        except BaseException:
            self.close()
            raise
        self._conn = None
        self._pool.release(conn, self._response.reusable)

    def _response_url(self) -> str:
        return self._conn.target.url if self._conn is not None else ""

    def close(self) -> None:
        """Close the connection unless the body was read to its end (idempotent)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.release(conn, False, broken=True)


_C = TypeVar("_C", bound="PooledConnection")


class PooledConnection(Protocol):
    """What :class:`PoolState` keeps of a connection."""

    origin: str
    idle_since: float


class PoolState(Generic[_C]):
    """The pool's bookkeeping, for the blocking and the asyncio pools (their locks around it):
    idle connections (least recently used first), connections open per origin, the limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.idle: list[_C] = []
        self.open: dict[str, int] = {}  # origin -> connections open (idle or busy)
        self.closed = False
        self.handshakes = 0  # connections made (each one TLS handshake)

    def take(self, origin: str, now: float) -> tuple[_C | None, bool, list[_C]]:
        """(an idle connection to ``origin`` or None, whether a new one may be opened (its slot
        then reserved), the expired idle connections to close). Raises TransportError once closed."""
        if self.closed:
            raise TransportError("the client is closed")
        expiry = self.limits.keepalive_expiry
        stale = [c for c in self.idle if now - c.idle_since > expiry]
        for conn in stale:
            self.idle.remove(conn)
            self.open[conn.origin] -= 1
        found = next((c for c in reversed(self.idle) if c.origin == origin), None)
        if found is not None:
            self.idle.remove(found)
            return found, False, stale
        if self.open.get(origin, 0) < self.limits.max_connections_per_origin:
            self.open[origin] = self.open.get(origin, 0) + 1
            return None, True, stale
        return None, False, stale

    def give(self, conn: _C, keep: bool, now: float) -> list[_C]:
        """``conn`` back (idle when ``keep`` and there is room); the connections to close."""
        if not (keep and not self.closed and self.limits.max_keepalive_connections > 0):
            self.open[conn.origin] -= 1
            return [conn]
        conn.idle_since = now
        self.idle.append(conn)
        evicted: list[_C] = []
        while len(self.idle) > self.limits.max_keepalive_connections:
            old = self.idle.pop(0)
            self.open[old.origin] -= 1
            evicted.append(old)
        return evicted

    def unreserve(self, origin: str) -> None:
        """A new connection's slot, its connect having failed."""
        self.open[origin] -= 1

    def close(self) -> list[_C]:
        """Closed for good; the idle connections, to close."""
        self.closed = True
        idle, self.idle = self.idle, []
        for conn in idle:
            self.open[conn.origin] -= 1
        return idle


def pool_timeout(origin: str) -> PoolTimeout:
    return PoolTimeout(f"no free connection to {origin} within the pool timeout", url=origin)


class PoolBase(Generic[_C]):
    """What the blocking and the asyncio pools hold: the client's configuration, limits,
    sessions and ``early_data``, and their :class:`PoolState`."""

    def __init__(self, cfg: EspTlsCfg, limits: Limits, sessions: Sessions, early_data: bool) -> None:
        self.cfg = cfg
        self.limits = limits
        self.sessions = sessions
        self.early_data = early_data
        self.state: PoolState[_C] = PoolState(limits)

    @property
    def handshakes(self) -> int:
        """Connections made so far (one TLS handshake each)."""
        return self.state.handshakes


class ConnectionPool(PoolBase[_Connection]):
    """Blocking esp-tls connections kept alive per origin (see the module docstring). Thread-safe."""

    def __init__(self, cfg: EspTlsCfg, limits: Limits, sessions: Sessions, early_data: bool) -> None:
        super().__init__(cfg, limits, sessions, early_data)
        self._cond = threading.Condition()

    def send(
        self,
        method: str,
        target: Target,
        headers: list[tuple[str, str]],
        body: SyncBody,
        timeout: Timeout,
    ) -> tuple[HttpResponse, PooledStream, EspTls]:
        """Send one request; the response head, its body stream and the connection.

        Raises the :mod:`.errors` transport errors (PoolTimeout, ConnectError,
        ConnectTimeout, WriteError, ReadTimeout, RemoteProtocolError, ...) and
        ValueError for a request h11 refuses to send.
        """
        from ..esp_tls.errors import EspTlsError
        from ..http.client import HttpError, request

        for attempt in range(2):
            conn = self._acquire(target.origin, timeout.pool)
            fresh = conn is None
            early = b""
            if conn is None:
                conn, early = self._connect(method, target, headers, body, timeout)
            io = _Io(conn.tls, timeout)
            try:
                response = request(io, method, target.target, headers, body, already_sent=bool(early))
            except (EspTlsError, HttpError) as exc:
                self.release(conn, False, broken=True)
                if sends_again(fresh, attempt, method, body):
                    continue
                raise request_failure(exc, target.url) from exc
            except BaseException:
                self.release(conn, False, broken=True)
                raise
            return response, PooledStream(self, conn, response), conn.tls
        raise AssertionError("unreachable")  # pragma: no cover

    def _acquire(self, origin: str, wait: float | None) -> _Connection | None:
        """An idle connection to ``origin``, or None with a slot reserved for a new one."""
        deadline = time.monotonic() + or_no_limit(wait)
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    found, new, stale = self.state.take(origin, now)
                    if found is not None or new or stale:
                        break
                    if now >= deadline:
                        raise pool_timeout(origin)
                    self._cond.wait(deadline - now)
            for conn in stale:
                self._close(conn)
            if new:
                return None
            if found is None:
                continue  # only closed stale ones: look again
            if found.usable():
                return found
            self.release(found, False, broken=True)  # closed by the server meanwhile: take another

    def _connect(
        self, method: str, target: Target, headers: list[tuple[str, str]], body: RequestBody, timeout: Timeout
    ) -> tuple[_Connection, bytes]:
        """A new connection to ``target`` (its slot reserved by :meth:`_acquire`) and the request
        bytes it sent as 0-RTT."""
        from ..esp_tls.conn import EspTls
        from ..esp_tls.errors import EspTlsError

        try:
            cfg, early = connect_config(
                self.cfg, self.sessions, self.early_data, method, target, headers, body, timeout
            )
            tls = EspTls.conn_http_new_sync(target.url, cfg, early_data=early)
        except BaseException as exc:
            with self._cond:
                self.state.unreserve(target.origin)
                self._cond.notify()
            if isinstance(exc, EspTlsError):
                raise from_esp(exc, "connect", target.url) from exc
            raise
        with self._cond:
            self.state.handshakes += 1
        return _Connection(tls, target), early

    def release(self, conn: _Connection, keep: bool, broken: bool = False) -> None:
        """Give ``conn`` back: kept idle when ``keep`` (and the pool has room), else closed
        (``broken``: at once, without waiting for a ticket)."""
        self.sessions.keep(conn.target, self.cfg, conn.tls.get_client_session())
        with self._cond:
            evicted = self.state.give(conn, keep, time.monotonic())
            self._cond.notify()
        for old in evicted:
            self._close(old, broken and old is conn)

    def _close(self, conn: _Connection, broken: bool = False) -> None:
        if not broken and self.sessions.store is not None:
            conn.tls.wait_client_session()  # a resumed connection's new ticket, for the next process
        conn.tls.close()
        self.sessions.keep(conn.target, self.cfg, conn.tls.get_client_session())

    def close(self) -> None:
        """Close every idle connection; busy ones close when their response is done."""
        with self._cond:
            idle = self.state.close()
            self._cond.notify_all()
        for conn in idle:
            self._close(conn)
