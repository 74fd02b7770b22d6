"""The high-level API's values: :class:`Timeout`, :class:`Limits`, :class:`EspBundle`,
:class:`Headers` and :class:`Response` (httpx's names and shapes, where httpx has them).

A :class:`Response` arrives with its head; the body is read when asked
(``read()`` / ``content``), or streamed (``iter_bytes()``) from a
:meth:`Client.stream <https_request.api.Client.stream>` block. Its asyncio
twins are ``aread()``, ``aiter_bytes()`` and ``aclose()``.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..redirect import REDIRECTS
from ..structs import Struct
from .errors import HTTPStatusError, RequestError

if TYPE_CHECKING:
    from ..esp_tls.conn_core import TlsInfo

__all__ = [
    "AsyncBodyStream",
    "BodyStream",
    "EspBundle",
    "HeaderTypes",
    "Headers",
    "Limits",
    "RequestBody",
    "RequestContent",
    "Response",
    "ResponseNotRead",
    "SyncBody",
    "Timeout",
    "TimeoutTypes",
    "as_timeout",
    "encode_body",
]

HeaderTypes = Mapping[str, str] | Sequence[tuple[str, str]]
"""Request headers: a mapping, or (name, value) pairs (a name may repeat)."""

_UNSET: Any = object()


class Timeout:
    """How long each step of a request may take, in seconds (None: no limit).

    ``Timeout(5.0)`` gives 5 s to each of ``connect`` (DNS, TCP and the TLS
    handshake together), ``read`` (each wait for data from the server),
    ``write`` (sending the request) and ``pool`` (waiting for a free
    connection when the origin's connections are all busy); keywords set one
    each. The default of :class:`~https_request.api.Client` is 5 s each, as httpx's.
    Raises ValueError for a negative value.
    """

    __slots__ = ("connect", "pool", "read", "write")

    def __init__(
        self,
        timeout: float | None = 5.0,
        *,
        connect: float | None = _UNSET,
        read: float | None = _UNSET,
        write: float | None = _UNSET,
        pool: float | None = _UNSET,
    ) -> None:
        def pick(value: float | None) -> float | None:
            value = timeout if value is _UNSET else value
            if value is not None and value < 0:
                raise ValueError(f"a timeout cannot be negative, got {value!r}")
            return value

        self.connect = pick(connect)
        self.read = pick(read)
        self.write = pick(write)
        self.pool = pick(pool)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timeout):
            return NotImplemented
        return (self.connect, self.read, self.write, self.pool) == (other.connect, other.read, other.write, other.pool)

    def __hash__(self) -> int:
        return hash((self.connect, self.read, self.write, self.pool))

    def __repr__(self) -> str:
        return f"Timeout(connect={self.connect}, read={self.read}, write={self.write}, pool={self.pool})"


TimeoutTypes = Timeout | float | None
"""A :class:`Timeout`, one number for every step, or None (no limits)."""


def as_timeout(value: TimeoutTypes) -> Timeout:
    """``value`` as a :class:`Timeout`."""
    return value if isinstance(value, Timeout) else Timeout(value)


class Limits(Struct):
    """The bounds of a client's connection pool.

    ``max_connections_per_origin``: connections open at once to one origin
    (scheme, host, port); a request beyond them waits up to ``Timeout.pool``.
    ``max_keepalive_connections``: idle connections kept, over all origins
    (the least recently used is closed first). ``keepalive_expiry``: seconds
    an idle connection is kept. Raises ValueError for values below 1 (0 for
    the keep-alive ones).
    """

    max_connections_per_origin: int = 10
    max_keepalive_connections: int = 20
    keepalive_expiry: float = 5.0

    def __post_init__(self) -> None:
        if self.max_connections_per_origin < 1:
            raise ValueError("max_connections_per_origin must be at least 1")
        if self.max_keepalive_connections < 0 or self.keepalive_expiry < 0:
            raise ValueError("max_keepalive_connections and keepalive_expiry cannot be negative")


class EspBundle(Struct):
    """``verify=EspBundle()``: verify servers with an ESP x509 certificate bundle, as
    ``esp_crt_bundle_attach`` does on the device.

    ``data`` is a bundle blob (``https-request bundle build``'s output, ESP-IDF's
    ``x509_crt_bundle``); None means the built-in bundle (certifi's roots in ESP's
    format). :meth:`from_file` reads one from a file.
    """

    data: bytes | None = None

    @classmethod
    def from_file(cls, path: str) -> EspBundle:
        """The bundle in file ``path``. Raises OSError when it cannot be read."""
        with open(path, "rb") as f:
            return cls(f.read())

    def __repr__(self) -> str:
        return "EspBundle(built-in)" if self.data is None else f"EspBundle({len(self.data)} bytes)"


class Headers(Mapping[str, str]):
    """Response (or request) headers: case-insensitive, in arrival order, a name may repeat.

    ``headers["set-cookie"]`` joins repeated values with ``", "`` (as httpx);
    :meth:`get_list` gives them one by one and :meth:`multi_items` every pair.
    """

    __slots__ = ("_items",)

    def __init__(self, headers: HeaderTypes | None = None) -> None:
        items = headers.items() if isinstance(headers, Mapping) else (headers or ())
        self._items: list[tuple[str, str]] = [(str(k), str(v)) for k, v in items]

    def get_list(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        key = name.lower()
        return [v for k, v in self._items if k.lower() == key]

    def multi_items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair, names as received."""
        return list(self._items)

    def __getitem__(self, name: str) -> str:
        values = self.get_list(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k, _ in self._items)

    def __iter__(self) -> Iterator[str]:
        seen: dict[str, None] = {}
        for k, _ in self._items:
            seen.setdefault(k.lower(), None)
        return iter(seen)

    def __len__(self) -> int:
        return len({k.lower() for k, _ in self._items})

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return sorted((k.lower(), v) for k, v in self._items) == sorted((k.lower(), v) for k, v in other._items)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class BodyStream(Protocol):
    """A response body as the pool hands it over: chunks, then ``close()``."""

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class AsyncBodyStream(Protocol):
    """The asyncio twin of :class:`BodyStream`."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class ResponseNotRead(RequestError):
    """``content`` / ``text`` / ``json()`` of a streamed response whose body was not read yet."""


class Response:
    """One HTTP response: the head at once, the body when read.

    ``status_code``, ``reason_phrase``, ``http_version`` (``"HTTP/1.1"``),
    ``headers`` (:class:`Headers`), ``url`` and ``method`` (of the request
    that got it), ``history`` (the redirect responses before it, oldest
    first), ``tls`` (what the connection's handshake negotiated:
    :class:`~https_request.esp_tls.conn_core.TlsInfo`, None for a response
    made by hand). ``content`` / ``text`` / ``json()`` need the body read
    (``read()``; the client reads it unless the request was streamed).
    """

    def __init__(
        self,
        status_code: int,
        *,
        reason_phrase: str = "",
        headers: HeaderTypes | Headers | None = None,
        http_version: str = "HTTP/1.1",
        url: str = "",
        method: str = "GET",
        content: bytes | None = None,
        stream: BodyStream | None = None,
        astream: AsyncBodyStream | None = None,
        tls: TlsInfo | None = None,
    ) -> None:
        self.status_code = status_code
        self.reason_phrase = reason_phrase
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.http_version = http_version
        self.url = url
        self.method = method
        self.history: list[Response] = []
        self.tls = tls
        self._content = content
        self._stream = stream
        self._astream = astream
        self.is_closed = stream is None and astream is None
        self.num_bytes_downloaded = 0

    def __repr__(self) -> str:
        return f"<Response [{self.status_code} {self.reason_phrase}]>".replace(" ]", "]")

    # -- status ---------------------------------------------------------------

    @property
    def is_success(self) -> bool:
        """2xx."""
        return 200 <= self.status_code < 300

    @property
    def is_redirect(self) -> bool:
        """301, 302, 303, 307 or 308 with a Location header."""
        return self.status_code in REDIRECTS and "location" in self.headers

    @property
    def is_error(self) -> bool:
        """4xx or 5xx."""
        return self.status_code >= 400

    def raise_for_status(self) -> Response:
        """Raise :class:`HTTPStatusError` for a 4xx or 5xx response; else return it."""
        if self.is_error:
            kind = "Client error" if self.status_code < 500 else "Server error"
            raise HTTPStatusError(
                f"{kind} '{self.status_code} {self.reason_phrase}' for url '{self.url}'", response=self
            )
        return self

    # -- body -----------------------------------------------------------------

    @property
    def content(self) -> bytes:
        """The whole body. Raises ResponseNotRead for a streamed response not read yet."""
        if self._content is None:
            raise ResponseNotRead("the response body was not read: call read() (or aread()) first", url=self.url)
        return self._content

    @property
    def encoding(self) -> str:
        """The ``charset`` of Content-Type, else UTF-8."""
        ctype = self.headers.get("content-type", "")
        for part in ctype.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                return value.strip('"')
        return "utf-8"

    @property
    def text(self) -> str:
        """The body decoded with :attr:`encoding` (undecodable bytes replaced)."""
        try:
            return self.content.decode(self.encoding, errors="replace")
        except LookupError:  # an unknown charset
            return self.content.decode("utf-8", errors="replace")

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON (``json.loads`` keywords). Raises ValueError."""
        return jsonlib.loads(self.content, **kwargs)

    def iter_bytes(self) -> Iterator[bytes]:
        """The body, chunk by chunk as it arrives (once); the read body when it was read.

        Raises RuntimeError on a response of an AsyncClient, and the transport errors.
        """
        if self._content is not None:
            if self._content:
                yield self._content
            return
        if self._stream is None:
            raise RuntimeError("this response's body is read with aiter_bytes()/aread() (AsyncClient)")
        try:
            for chunk in self._stream:
                self.num_bytes_downloaded += len(chunk)
                yield chunk
        finally:
            self.close()

    def read(self) -> bytes:
        """Read the whole body (the first time) and return it."""
        if self._content is None:
            self._content = b"".join(self.iter_bytes())
        return self._content

    def close(self) -> None:
        """Release the connection (kept for the next request when the body was read to its end)."""
        if not self.is_closed:
            self.is_closed = True
            if self._stream is not None:
                self._stream.close()

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The asyncio twin of :meth:`iter_bytes`."""
        if self._content is not None:
            if self._content:
                yield self._content
            return
        if self._astream is None:
            raise RuntimeError("this response's body is read with iter_bytes()/read() (Client)")
        try:
            async for chunk in self._astream:
                self.num_bytes_downloaded += len(chunk)
                yield chunk
        finally:
            await self.aclose()

    async def aread(self) -> bytes:
        """The asyncio twin of :meth:`read`."""
        if self._content is None:
            self._content = b"".join([chunk async for chunk in self.aiter_bytes()])
        return self._content

    async def aclose(self) -> None:
        """The asyncio twin of :meth:`close`."""
        if not self.is_closed:
            self.is_closed = True
            if self._astream is not None:
                await self._astream.aclose()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


RequestContent = bytes | str | Iterable[bytes] | AsyncIterable[bytes]
"""``content=``: bytes or text (sent with a Content-Length), or an iterable of bytes (an async
iterable too, for :class:`~https_request.api.AsyncClient`), streamed chunk by chunk with
``Transfer-Encoding: chunked``: such a body is sent once (not again after a stale connection,
and a 307/308 redirect cannot be followed with it)."""

RequestBody = bytes | Iterable[bytes] | AsyncIterable[bytes]
"""A request body as the asyncio pool sends it."""

SyncBody = bytes | Iterable[bytes]
"""A request body as the blocking pool sends it."""


def encode_body(
    content: RequestContent | None, data: Mapping[str, str] | None, json: Any
) -> tuple[RequestBody, str | None]:
    """The request body and its Content-Type (None: the caller's) from httpx's three ways of
    giving one (see :data:`RequestContent`). Raises TypeError when more than one is given."""
    given = [x for x in (content, data, json) if x is not None]
    if len(given) > 1:
        raise TypeError("give one of content=, data= and json=")
    if json is not None:
        return jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False).encode(), "application/json"
    if data is not None:
        from urllib.parse import urlencode

        return urlencode(data).encode(), "application/x-www-form-urlencoded"
    if content is None:
        return b"", None
    if isinstance(content, str):
        return content.encode(), None
    if isinstance(content, bytes | bytearray | memoryview):
        return bytes(content), None
    return content, None
