"""httpx transports on this package's engine: ``httpx.Client(transport=Transport())``.

httpx keeps doing what it does (its request and response models, redirects,
cookies, authentication, decoding, its timeouts); the transport sends each
request over the high-level API's connection pool (:mod:`https_request.api.pool`):
keep-alive per origin, this engine's TLS (X25519MLKEM768 whatever OpenSSL is
installed, the device ClientHello ``profile``), ESP bundles (``verify=EspBundle()``),
sessions saved across processes (``sessions=``) and 0-RTT for GET and HEAD
without a body on a resumed session (``early_data``, on by default)::

    import httpx
    from https_request import SessionStore
    from https_request.httpx import Transport

    with httpx.Client(transport=Transport(sessions=SessionStore())) as client:
        client.get("https://www.howsmyssl.com/a/check")

httpx is an optional dependency (``pip install 'https-request[httpx]'``);
importing this module without it raises ImportError saying so. Only https://
URLs (httpx.UnsupportedProtocol otherwise). Errors are httpx's own classes
(our :mod:`~https_request.api.errors` have their names), with ours as
``__cause__``. The response's ``extensions["tls"]`` is the connection's
:class:`~https_request.esp_tls.conn_core.TlsInfo` (resumed, early data, ...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

try:
    import httpx
except ImportError as exc:  # pragma: no cover - the extra is installed for the tests
    raise ImportError("https_request.httpx needs httpx: pip install 'https-request[httpx]'") from exc

from .api.aclient import AsyncConnectionPool, AsyncPooledStream
from .api.client import SessionsTypes, store_for
from .api.config import Sessions, VerifyTypes, tls_config
from .api.errors import HTTPError
from .api.models import Limits, RequestBody, SyncBody, Timeout
from .api.pool import ConnectionPool, PooledStream
from .api.urls import split

if TYPE_CHECKING:
    from .esp_tls.config import EspTlsCfg
    from .esp_tls.conn_core import TlsInfo
    from .http.client import AsyncResponse
    from .http.client import Response as HttpResponse

__all__ = ["AsyncTransport", "Transport"]


def _httpx_error(exc: HTTPError, request: httpx.Request) -> Exception:
    """httpx's exception of the same name as ``exc``'s class (or its nearest base's)."""
    for cls in type(exc).__mro__:
        target = getattr(httpx, cls.__name__, None)
        if isinstance(target, type) and issubclass(target, httpx.TransportError):
            return target(str(exc), request=request)
    return httpx.TransportError(str(exc), request=request)


def _timeout(request: httpx.Request) -> Timeout:
    """httpx's per-request timeouts (``request.extensions["timeout"]``) as ours."""
    given: dict[str, float | None] = request.extensions.get("timeout", {})
    return Timeout(
        None,
        connect=given.get("connect", 5.0),
        read=given.get("read", 5.0),
        write=given.get("write", 5.0),
        pool=given.get("pool", 5.0),
    )


def _request(request: httpx.Request) -> tuple[str, list[tuple[str, str]]]:
    """(method, headers) of ``request`` as the pool sends them."""
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
    return request.method, headers


def _body(request: httpx.Request) -> SyncBody:
    """The request's body: its bytes when httpx has them, else its stream (sent chunk by chunk)."""
    try:
        return request.content
    except httpx.RequestNotRead:
        if not isinstance(request.stream, httpx.SyncByteStream):
            raise TypeError("an async request body needs AsyncTransport") from None
        return request.stream


def _abody(request: httpx.Request) -> RequestBody:
    """See :func:`_body` (a sync or async stream)."""
    try:
        return request.content
    except httpx.RequestNotRead:
        stream = request.stream
        return stream if isinstance(stream, httpx.AsyncByteStream) else cast(SyncBody, stream)


def _extensions(reason: str, tls: TlsInfo) -> dict[str, Any]:
    return {"http_version": b"HTTP/1.1", "reason_phrase": reason.encode("latin-1"), "tls": tls}


class _SyncStream(httpx.SyncByteStream):
    def __init__(self, stream: PooledStream, request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except HTTPError as exc:
            raise _httpx_error(exc, self._request) from exc

    def close(self) -> None:
        self._stream.close()


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncPooledStream, request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except HTTPError as exc:
            raise _httpx_error(exc, self._request) from exc

    async def aclose(self) -> None:
        await self._stream.aclose()


_P = TypeVar("_P", ConnectionPool, AsyncConnectionPool)


class _Pooled(Generic[_P]):
    """The transports' options and their pool (see :class:`Transport`)."""

    def __init__(
        self,
        *,
        verify: VerifyTypes = True,
        profile: str | None = None,
        tls: EspTlsCfg | None = None,
        limits: Limits | None = None,
        sessions: SessionsTypes = None,
        early_data: bool = True,
    ) -> None:
        cfg = tls_config(verify, profile, tls)
        self.pool: _P = self._open_pool(cfg, limits or Limits(), Sessions(store_for(sessions)), early_data)

    def _open_pool(self, cfg: EspTlsCfg, limits: Limits, sessions: Sessions, early_data: bool) -> _P:
        raise NotImplementedError


@contextmanager
def _sending(request: httpx.Request) -> Iterator[None]:
    """Our errors while ``request`` is sent, as httpx's."""
    try:
        yield
    except HTTPError as exc:
        raise _httpx_error(exc, request) from exc
    except ValueError as exc:  # a request h11 refuses to send
        raise httpx.LocalProtocolError(str(exc), request=request) from exc


def _response(
    head: HttpResponse | AsyncResponse, stream: httpx.SyncByteStream | httpx.AsyncByteStream, info: TlsInfo
) -> httpx.Response:
    """httpx's response for the head the pool read, its body to stream."""
    return httpx.Response(head.status, headers=head.headers, stream=stream, extensions=_extensions(head.reason, info))


class Transport(_Pooled[ConnectionPool], httpx.BaseTransport):
    """An ``httpx.BaseTransport`` on this package's engine (see the module docstring).

    ``verify`` (True: certifi's CAs; a CA file path; an
    :class:`~https_request.api.models.EspBundle`; False, warned), ``profile``,
    ``tls`` (the :class:`~https_request.esp_tls.config.EspTlsCfg` to start from),
    ``limits``, ``sessions`` and ``early_data`` mean what they mean for
    :class:`https_request.Client`. Timeouts are httpx's (``httpx.Client(timeout=...)``).
    Raises ValueError for a CA file that cannot be read.
    """

    def _open_pool(self, cfg: EspTlsCfg, limits: Limits, sessions: Sessions, early_data: bool) -> ConnectionPool:
        return ConnectionPool(cfg, limits, sessions, early_data)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; the response with its body to stream. Raises httpx's transport errors."""
        method, headers = _request(request)
        with _sending(request):
            target = split(str(request.url))
            head, stream, tls = self.pool.send(method, target, headers, _body(request), _timeout(request))
        return _response(head, _SyncStream(stream, request), tls.info)

    def close(self) -> None:
        """Close the idle connections (and save their sessions)."""
        self.pool.close()


class AsyncTransport(_Pooled[AsyncConnectionPool], httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`Transport`, for ``httpx.AsyncClient(transport=...)``."""

    def _open_pool(self, cfg: EspTlsCfg, limits: Limits, sessions: Sessions, early_data: bool) -> AsyncConnectionPool:
        return AsyncConnectionPool(cfg, limits, sessions, early_data)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """See :meth:`Transport.handle_request`."""
        method, headers = _request(request)
        with _sending(request):
            target = split(str(request.url))
            head, stream, tls = await self.pool.send(method, target, headers, _abody(request), _timeout(request))
        return _response(head, _AsyncStream(stream, request), tls.info)

    async def aclose(self) -> None:
        """See :meth:`Transport.close`."""
        await self.pool.aclose()
