""":class:`Client`: the blocking high-level client (httpx's shape) on the esp-tls engine,
and what it shares with :class:`~https_request.api.AsyncClient` (:class:`ClientBase`).

A client keeps connections alive per origin (:mod:`.pool`), follows redirects
when asked (:func:`.urls.redirect`, at most ``max_redirects``), applies a
:class:`~.models.Timeout` to each step, and resumes TLS sessions: always
within the client, and across processes with ``sessions=``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .._version import __version__
from .config import Sessions, SessionStore, VerifyTypes, tls_config
from .errors import TooManyRedirects
from .models import (
    AsyncBodyStream,
    BodyStream,
    Headers,
    HeaderTypes,
    Limits,
    RequestBody,
    RequestContent,
    Response,
    SyncBody,
    Timeout,
    TimeoutTypes,
    as_timeout,
    encode_body,
)
from .pool import ConnectionPool
from .urls import QueryParams, Target, redirect, split, with_params

if TYPE_CHECKING:
    from ..esp_tls.config import EspTlsCfg
    from ..esp_tls.conn_core import TlsInfo
    from ..http.client import AsyncResponse
    from ..http.client import Response as HttpResponse

__all__ = [
    "DEFAULT_TIMEOUT",
    "USE_CLIENT_DEFAULT",
    "Client",
    "ClientBase",
    "SessionsTypes",
    "UseClientDefault",
    "store_for",
]

DEFAULT_TIMEOUT = Timeout(5.0)
"""5 s for each step, as httpx."""

SessionsTypes = SessionStore | str | os.PathLike[str] | bool | None
"""``sessions=``: a :class:`SessionStore`, a folder for one, True (the default folder),
or None/False (sessions kept in memory only, for this client's life)."""

_DEFAULT_HEADERS = (("User-Agent", f"https-request/{__version__}"), ("Accept", "*/*"))


class UseClientDefault:
    """The type of :data:`USE_CLIENT_DEFAULT`: "this request takes the client's setting"."""

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT = UseClientDefault()


def store_for(sessions: SessionsTypes) -> SessionStore | None:
    """The :class:`SessionStore` ``sessions=`` names (None: memory only)."""
    if sessions is None or sessions is False:
        return None
    if sessions is True:
        return SessionStore()
    if isinstance(sessions, SessionStore):
        return sessions
    return SessionStore(sessions)


def _merge(base: Headers, extra: HeaderTypes | None, content_type: str | None) -> list[tuple[str, str]]:
    """The client's headers, with those of the request replacing them by name."""
    given = Headers(extra).multi_items() if extra else []
    names = {k.lower() for k, _ in given}
    merged = [(k, v) for k, v in base.multi_items() if k.lower() not in names] + given
    if content_type is not None and "content-type" not in {k.lower() for k, _ in merged}:
        merged.append(("Content-Type", content_type))
    return merged


_P = TypeVar("_P")
"""The client's connection pool."""
_R = TypeVar("_R")
"""What a request method returns: the :class:`~.models.Response`, or a coroutine of one."""


class ClientBase(Generic[_P, _R]):
    """What :class:`Client` and :class:`~https_request.api.AsyncClient` share: their
    options (see :class:`Client`), how a request is built from its arguments and
    follows a redirect, and the methods named after HTTP methods (:meth:`get`,
    :meth:`post`...), which call :meth:`request`."""

    pool: _P

    def __init__(
        self,
        *,
        verify: VerifyTypes = True,
        profile: str | None = None,
        tls: EspTlsCfg | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        limits: Limits | None = None,
        follow_redirects: bool = False,
        max_redirects: int = 20,
        headers: HeaderTypes | None = None,
        base_url: str = "",
        sessions: SessionsTypes = None,
        early_data: bool = True,
    ) -> None:
        if max_redirects < 0:
            raise ValueError("max_redirects cannot be negative")
        self.cfg = tls_config(verify, profile, tls)
        self.timeout = as_timeout(timeout)
        self.limits = limits if limits is not None else Limits()
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.headers = Headers(_merge(Headers(_DEFAULT_HEADERS), headers, None))
        self.base_url = base_url
        self.sessions = Sessions(store_for(sessions))
        self.early_data = early_data
        self.pool = self._open_pool()

    def _open_pool(self) -> _P:
        raise NotImplementedError

    def _build(
        self,
        method: str,
        url: str,
        params: QueryParams | None,
        headers: HeaderTypes | None,
        content: RequestContent | None,
        data: Mapping[str, str] | None,
        json: Any,
    ) -> tuple[str, str, list[tuple[str, str]], RequestBody]:
        """(method, absolute URL, headers, body) of a request. Raises TypeError for two bodies."""
        if self.base_url and "://" not in url:
            from urllib.parse import urljoin

            url = urljoin(self.base_url.rstrip("/") + "/", url.lstrip("/"))
        body, content_type = encode_body(content, data, json)
        return method.upper(), with_params(url, params), _merge(self.headers, headers, content_type), body

    def _timeout(self, timeout: TimeoutTypes | UseClientDefault) -> Timeout:
        return self.timeout if isinstance(timeout, UseClientDefault) else as_timeout(timeout)

    def _follow(self, follow_redirects: bool | None) -> bool:
        return self.follow_redirects if follow_redirects is None else follow_redirects

    def _next_hop(
        self,
        response: Response,
        history: list[Response],
        request: tuple[str, str, list[tuple[str, str]], RequestBody],
    ) -> tuple[str, str, list[tuple[str, str]], RequestBody]:
        """The request after ``response``, a redirect. Raises TooManyRedirects."""
        if len(history) >= self.max_redirects:
            raise TooManyRedirects(f"more than {self.max_redirects} redirects", url=response.url)
        history.append(response)
        method, url, headers, body = request
        return redirect(method, url, headers, body, response.status_code, response.headers["location"])

    @staticmethod
    def _response(
        head: HttpResponse | AsyncResponse,
        target: Target,
        method: str,
        info: TlsInfo,
        *,
        stream: BodyStream | None = None,
        astream: AsyncBodyStream | None = None,
    ) -> Response:
        """The :class:`~.models.Response` of the head the pool read, its body still to read."""
        return Response(
            head.status,
            reason_phrase=head.reason,
            headers=head.headers,
            http_version=f"HTTP/{head.http_version}",
            url=target.url,
            method=method,
            stream=stream,
            astream=astream,
            tls=info,
        )

    def request(
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
    ) -> _R:
        """Send a request (see :meth:`Client.request`)."""
        raise NotImplementedError

    def get(
        self,
        url: str,
        *,
        params: QueryParams | None = None,
        headers: HeaderTypes | None = None,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | None = None,
    ) -> _R:
        """A GET request (see :meth:`request`)."""
        return self.request(
            "GET", url, params=params, headers=headers, timeout=timeout, follow_redirects=follow_redirects
        )

    def head(
        self,
        url: str,
        *,
        params: QueryParams | None = None,
        headers: HeaderTypes | None = None,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | None = None,
    ) -> _R:
        """A HEAD request (see :meth:`request`)."""
        return self.request(
            "HEAD", url, params=params, headers=headers, timeout=timeout, follow_redirects=follow_redirects
        )

    def options(
        self,
        url: str,
        *,
        params: QueryParams | None = None,
        headers: HeaderTypes | None = None,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | None = None,
    ) -> _R:
        """An OPTIONS request (see :meth:`request`)."""
        return self.request(
            "OPTIONS", url, params=params, headers=headers, timeout=timeout, follow_redirects=follow_redirects
        )

    def delete(
        self,
        url: str,
        *,
        params: QueryParams | None = None,
        headers: HeaderTypes | None = None,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | None = None,
    ) -> _R:
        """A DELETE request (see :meth:`request`)."""
        return self.request(
            "DELETE", url, params=params, headers=headers, timeout=timeout, follow_redirects=follow_redirects
        )

    def post(
        self,
        url: str,
        *,
        content: RequestContent | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        params: QueryParams | None = None,
        headers: HeaderTypes | None = None,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | None = None,
    ) -> _R:
        """A POST request (see :meth:`request`)."""
        return self.request(
            "POST", url, content=content, data=data, json=json, params=params, headers=headers,
            timeout=timeout, follow_redirects=follow_redirects,
        )  # fmt: skip

    def put(
        self,
        url: str,
        *,
        content: RequestContent | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        params: QueryParams | None = None,
        headers: HeaderTypes | None = None,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | None = None,
    ) -> _R:
        """A PUT request (see :meth:`request`)."""
        return self.request(
            "PUT", url, content=content, data=data, json=json, params=params, headers=headers,
            timeout=timeout, follow_redirects=follow_redirects,
        )  # fmt: skip

    def patch(
        self,
        url: str,
        *,
        content: RequestContent | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        params: QueryParams | None = None,
        headers: HeaderTypes | None = None,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        follow_redirects: bool | None = None,
    ) -> _R:
        """A PATCH request (see :meth:`request`)."""
        return self.request(
            "PATCH", url, content=content, data=data, json=json, params=params, headers=headers,
            timeout=timeout, follow_redirects=follow_redirects,
        )  # fmt: skip


class Client(ClientBase[ConnectionPool, Response]):
    """A blocking HTTPS client on this package's TLS engine, in the style of ``httpx.Client``.

    ``verify``: True (certifi's CAs, the default), a CA file path, an
    :class:`~.models.EspBundle`, or False (no verification: warned loudly).
    ``profile``: the ClientHello recipe (``"default"``, ``"esp32-mbedtls"``,
    ``"esp32-mbedtls-tls13"``; :mod:`https_request.tls.profiles`). ``tls``: the
    :class:`~https_request.esp_tls.config.EspTlsCfg` to start from (groups,
    versions, client certificate, engine...; ``verify`` sets its trust fields).
    ``timeout``: a :class:`~.models.Timeout` or seconds for every step (default
    5 s). ``limits``: the pool's :class:`~.models.Limits`. ``follow_redirects``
    (default False, as httpx) and ``max_redirects`` (20). ``headers``: sent with
    every request (``User-Agent: https-request/VERSION`` and ``Accept: */*``
    unless replaced). ``base_url``: joined with relative request URLs.
    ``sessions``: where sessions outlive the process (:data:`SessionsTypes`);
    ``early_data``: send GET and HEAD requests without a body as 0-RTT when a
    resumed session allows it (default True).

    Only ``https://`` URLs; HTTP/1.1. Use it as a context manager, or call
    :meth:`close`. Thread-safe. Raises ValueError for a ``verify`` CA file that
    cannot be read.
    """

    def _open_pool(self) -> ConnectionPool:
        return ConnectionPool(self.cfg, self.limits, self.sessions, self.early_data)

    def request(
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
        """Send a request and read its response (body included).

        ``content`` (bytes or str; an iterable of bytes is streamed, chunked), ``data``
        (a form, url-encoded) or ``json`` (serialised): one body at most.
        Raises the transport errors of :mod:`.errors` (ConnectError,
        ConnectTimeout, ReadTimeout, ...), TooManyRedirects, UnsupportedProtocol
        (not https), TypeError (two bodies), ValueError (a request h11 refuses).
        """
        response = self._send(method, url, params, headers, content, data, json, timeout, follow_redirects)
        try:
            response.read()
        finally:
            response.close()
        return response

    @contextmanager
    def stream(
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
    ) -> Iterator[Response]:
        """Send a request; the response's body is streamed (``iter_bytes()``) inside the block.

        The connection goes back to the pool when the body was read to its end,
        else it is closed when the block ends. Raises as :meth:`request`.
        """
        response = self._send(method, url, params, headers, content, data, json, timeout, follow_redirects)
        try:
            yield response
        finally:
            response.close()

    def _send(
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
        if isinstance(request[3], AsyncIterable):
            raise TypeError("an async iterable request body needs AsyncClient")
        limits, follow = self._timeout(timeout), self._follow(follow_redirects)
        history: list[Response] = []
        while True:
            method, url, hdrs, body = request
            assert not isinstance(body, AsyncIterable)
            response = self.send_one(method, split(url), hdrs, body, limits)
            response.history = list(history)
            if not (follow and response.is_redirect):
                return response
            try:
                response.read()
            finally:
                response.close()
            request = self._next_hop(response, history, request)

    def send_one(
        self,
        method: str,
        target: Target,
        headers: list[tuple[str, str]],
        body: SyncBody,
        timeout: Timeout,
    ) -> Response:
        """One request, no redirects: the response with its body to read. Raises as :meth:`request`."""
        head, stream, tls = self.pool.send(method, target, headers, body, timeout)
        return self._response(head, target, method, tls.info, stream=stream)

    def close(self) -> None:
        """Close the idle connections (and save their sessions); the client cannot be used after."""
        self.pool.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
