""":class:`AsyncClient`: the asyncio twin of :class:`~.client.Client`, on
:class:`~https_request.esp_tls.conn.AsyncEspTls`, with :class:`AsyncConnectionPool`,
the asyncio twin of :class:`~.pool.ConnectionPool` (same bookkeeping,
:class:`~.pool.PoolState`, and the same rules; see :mod:`.pool`).

An idle connection is checked before reuse by a read that does not wait: the
stream's buffered bytes or end of file show at once (a TLS 1.3 ticket is kept,
anything else ends the connection).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from .client import USE_CLIENT_DEFAULT, ClientBase, UseClientDefault
from .config import Sessions
from .errors import from_esp
from .models import HeaderTypes, Limits, RequestBody, RequestContent, Response, Timeout, TimeoutTypes
from .pool import (
    ConnectionBase,
    IoBase,
    PoolBase,
    connect_config,
    or_no_limit,
    pool_timeout,
    request_failure,
    sends_again,
)
from .urls import QueryParams, Target, split

if TYPE_CHECKING:
    from ..esp_tls.config import EspTlsCfg
    from ..esp_tls.conn import AsyncEspTls
    from ..http.client import AsyncResponse

__all__ = ["AsyncClient", "AsyncConnectionPool", "AsyncPooledStream"]


class _AsyncIo(IoBase["AsyncEspTls"]):
    """:class:`~.pool.IoBase` on an asyncio connection."""

    __slots__ = ()

    async def write(self, data: bytes) -> int:
        return await self.tls.write(data, self.write_timeout)

    async def read(self, max_bytes: int) -> bytes:
        return await self.tls.read(max_bytes, self.read_timeout)


class _AsyncConnection(ConnectionBase["AsyncEspTls"]):
    """An asyncio pooled connection."""

    __slots__ = ()

    async def usable(self) -> bool:
        from ..esp_tls.conn import EspTlsTimeout
        from ..esp_tls.errors import EspTlsError

        try:
            await self.tls.read(1, 0.0005)
        except EspTlsTimeout:
            return True  # nothing, or records without data (a session ticket)
        except EspTlsError:
            return False
        return False  # EOF, or data nobody asked for


class AsyncPooledStream:
    """The asyncio twin of :class:`~.pool.PooledStream`."""

    def __init__(self, pool: AsyncConnectionPool, conn: _AsyncConnection, response: AsyncResponse) -> None:
        self._pool = pool
        self._conn: _AsyncConnection | None = conn
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        from ..esp_tls.errors import EspTlsError
        from ..http.client import HttpError

        conn = self._conn
        if conn is None:
            return
        url = conn.target.url
        try:
            async for chunk in self._response.aiter_body():
                yield chunk
        except (EspTlsError, HttpError) as exc:
            await self.aclose()
            raise request_failure(exc, url, "read") from exc
        except BaseException:
            await self.aclose()
            raise
        self._conn = None
        await self._pool.release(conn, self._response.reusable)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._pool.release(conn, False, broken=True)


class AsyncConnectionPool(PoolBase[_AsyncConnection]):
    """The asyncio twin of :class:`~.pool.ConnectionPool` (one event loop)."""

    def __init__(self, cfg: EspTlsCfg, limits: Limits, sessions: Sessions, early_data: bool) -> None:
        super().__init__(cfg, limits, sessions, early_data)
        self._cond: asyncio.Condition | None = None  # made on the loop that first uses it

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def send(
        self, method: str, target: Target, headers: list[tuple[str, str]], body: RequestBody, timeout: Timeout
    ) -> tuple[AsyncResponse, AsyncPooledStream, AsyncEspTls]:
        """See :meth:`ConnectionPool.send <.pool.ConnectionPool.send>`."""
        from ..esp_tls.errors import EspTlsError
        from ..http.client import HttpError, async_request

        for attempt in range(2):
            conn = await self._acquire(target.origin, timeout.pool)
            fresh = conn is None
            early = b""
            if conn is None:
                conn, early = await self._connect(method, target, headers, body, timeout)
            try:
                io = _AsyncIo(conn.tls, timeout)
                response = await async_request(io, method, target.target, headers, body, already_sent=bool(early))
            except (EspTlsError, HttpError) as exc:
                await self.release(conn, False, broken=True)
                if sends_again(fresh, attempt, method, body):
                    continue
                raise request_failure(exc, target.url) from exc
            except BaseException:
                await self.release(conn, False, broken=True)
                raise
            return response, AsyncPooledStream(self, conn, response), conn.tls
        raise AssertionError("unreachable")  # pragma: no cover

    async def _acquire(self, origin: str, wait: float | None) -> _AsyncConnection | None:
        cond = self._condition()
        deadline = time.monotonic() + or_no_limit(wait)
        while True:
            async with cond:
                while True:
                    now = time.monotonic()
                    found, new, stale = self.state.take(origin, now)
                    if found is not None or new or stale:
                        break
                    if now >= deadline:
                        raise pool_timeout(origin)
                    try:
                        await asyncio.wait_for(cond.wait(), deadline - now)
                    except TimeoutError:
                        raise pool_timeout(origin) from None
            for conn in stale:
                await self._close(conn)
            if new:
                return None
            if found is None:
                continue
            if await found.usable():
                return found
            await self.release(found, False, broken=True)

    async def _connect(
        self, method: str, target: Target, headers: list[tuple[str, str]], body: RequestBody, timeout: Timeout
    ) -> tuple[_AsyncConnection, bytes]:
        from ..esp_tls.conn import AsyncEspTls
        from ..esp_tls.errors import EspTlsError

        try:
            cfg, early = connect_config(
                self.cfg, self.sessions, self.early_data, method, target, headers, body, timeout
            )
            tls = await AsyncEspTls.conn_http_new_sync(target.url, cfg, early_data=early)
        except BaseException as exc:
            async with self._condition():
                self.state.unreserve(target.origin)
                self._condition().notify()
            if isinstance(exc, EspTlsError):
                raise from_esp(exc, "connect", target.url) from exc
            raise
        self.state.handshakes += 1
        return _AsyncConnection(tls, target), early

    async def release(self, conn: _AsyncConnection, keep: bool, broken: bool = False) -> None:
        """See :meth:`ConnectionPool.release <.pool.ConnectionPool.release>`."""
        self.sessions.keep(conn.target, self.cfg, conn.tls.get_client_session())
        cond = self._condition()
        async with cond:
            evicted = self.state.give(conn, keep, time.monotonic())
            cond.notify()
        for old in evicted:
            await self._close(old, broken and old is conn)

    async def _close(self, conn: _AsyncConnection, broken: bool = False) -> None:
        if not broken and self.sessions.store is not None:
            await conn.tls.wait_client_session()
        await conn.tls.close()
        self.sessions.keep(conn.target, self.cfg, conn.tls.get_client_session())

    async def aclose(self) -> None:
        """Close every idle connection."""
        cond = self._condition()
        async with cond:
            idle = self.state.close()
            cond.notify_all()
        for conn in idle:
            await self._close(conn)


class AsyncClient(ClientBase[AsyncConnectionPool, Coroutine[Any, Any, Response]]):
    """The asyncio twin of :class:`~.client.Client`: the same options, coroutine methods
    (``await client.get(url)``: :meth:`get`, :meth:`post`... return :meth:`request`'s
    coroutine), ``async with client.stream(...)``, :meth:`aclose`. Use it on one event loop."""

    def _open_pool(self) -> AsyncConnectionPool:
        return AsyncConnectionPool(self.cfg, self.limits, self.sessions, self.early_data)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: QueryParams | None = None,
        headers: HeaderTypes | None = None,
        content: RequestContent | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | None = None,
    ) -> Response:
        """See :meth:`Client.request <.client.Client.request>`."""
        response = await self._send(method, url, params, headers, content, data, json, timeout, follow_redirects)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        params: QueryParams | None = None,
        headers: HeaderTypes | None = None,
        content: RequestContent | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | None = None,
    ) -> AsyncIterator[Response]:
        """See :meth:`Client.stream <.client.Client.stream>` (``aiter_bytes()`` inside the block)."""
        response = await self._send(method, url, params, headers, content, data, json, timeout, follow_redirects)
        try:
            yield response
        finally:
            await response.aclose()

    async def _send(
        self,
        method: str,
        url: str,
        params: QueryParams | None,
        headers: HeaderTypes | None,
        content: RequestContent | None,
        data: Mapping[str, str] | None,
        json: Any,
        timeout: TimeoutTypes | UseClientDefault,
        follow_redirects: bool | None,
    ) -> Response:
        request = self._build(method, url, params, headers, content, data, json)
        limits, follow = self._timeout(timeout), self._follow(follow_redirects)
        history: list[Response] = []
        while True:
            method, url, hdrs, body = request
            response = await self.send_one(method, split(url), hdrs, body, limits)
            response.history = list(history)
            if not (follow and response.is_redirect):
                return response
            try:
                await response.aread()
            finally:
                await response.aclose()
            request = self._next_hop(response, history, request)

    async def send_one(
        self, method: str, target: Target, headers: list[tuple[str, str]], body: RequestBody, timeout: Timeout
    ) -> Response:
        """See :meth:`Client.send_one <.client.Client.send_one>`."""
        head, stream, tls = await self.pool.send(method, target, headers, body, timeout)
        return self._response(head, target, method, tls.info, astream=stream)

    async def aclose(self) -> None:
        """Close the idle connections (and save their sessions)."""
        await self.pool.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
