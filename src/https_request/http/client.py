"""HTTP/1.1 over an esp-tls connection, with h11.

:func:`request` sends one request on an :class:`~https_request.esp_tls.conn.EspTls`
(or anything with ``write(bytes) -> int``, ``read(int) -> bytes``, ``host`` and
``port``) and returns a :class:`Response` as soon as the status line and
headers are in; the body is then streamed with :meth:`Response.iter_body` (or
collected with :meth:`Response.read`). :func:`async_request` is the asyncio
twin over :class:`~https_request.esp_tls.conn.AsyncEspTls`.

The request target is sent as given: origin-form (``/a/check``) or
absolute-form (``https://www.howsmyssl.com/a/check``, what the ESP-IDF example
sends). Without a ``Host`` header one is made from the absolute URL, else from
the connection's host (and port unless 443). A body given as bytes gets a
``Content-Length``, one given as an iterable of chunks is streamed with
``Transfer-Encoding: chunked``, unless a framing header is given. HEAD responses have no
body, whatever their ``Content-Length`` says (h11 knows).

The ESP-IDF example itself does not use this module: it writes its own
request bytes and prints raw chunks, i.e. ``EspTls.write`` / ``EspTls.read``.

Raises
------
:class:`TruncatedBody` when the connection ends before the body that
``Content-Length`` or chunked framing announced; :class:`HttpError` for a
response that is malformed or missing (connection closed before the head).
Transport failures propagate as :class:`~https_request.esp_tls.errors.EspTlsError`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from typing import Protocol

import h11

__all__ = [
    "AsyncResponse",
    "AsyncTransport",
    "HttpError",
    "Response",
    "SyncTransport",
    "TruncatedBody",
    "async_request",
    "request",
    "request_bytes",
]

_READ_SIZE = 16384
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://(?P<authority>[^/?#]*)")

Headers = Sequence[tuple[str, str]] | Sequence[tuple[bytes, bytes]]


class HttpError(Exception):
    """The server's HTTP was malformed, or the connection closed before a response."""


class TruncatedBody(HttpError):
    """The connection ended before the announced body did.

    ``received`` is the number of body bytes that arrived; ``expected`` the
    Content-Length (None for a chunked body).
    """

    def __init__(self, message: str, received: int, expected: int | None) -> None:
        super().__init__(message)
        self.received = received
        self.expected = expected


class SyncTransport(Protocol):
    """What :func:`request` needs (EspTls has it)."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    def write(self, data: bytes) -> int: ...

    def read(self, max_bytes: int) -> bytes: ...


class AsyncTransport(Protocol):
    """What :func:`async_request` needs (AsyncEspTls has it)."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    async def write(self, data: bytes) -> int: ...

    async def read(self, max_bytes: int) -> bytes: ...


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _host_header(target: str, host: str, port: int) -> str:
    m = _ABSOLUTE.match(target)
    if m is not None:
        return m["authority"].rpartition("@")[2]
    shown = f"[{host}]" if ":" in host else host
    return shown if port in (443, 0) else f"{shown}:{port}"


def _start(
    method: str, target: str, headers: Headers, framing: tuple[str, str] | None, host: str, port: int
) -> tuple[h11.Connection, bytes]:
    """The h11 connection and the request head; ``framing`` is the body's header (Content-Length
    or Transfer-Encoding), added unless the caller gave one. Raises ValueError."""
    items = [(_text(k), _text(v)) for k, v in headers]
    names = {k.lower() for k, _ in items}
    if "host" not in names:
        items.insert(0, ("Host", _host_header(target, host, port)))
    if framing is not None and not names & {"content-length", "transfer-encoding"}:
        items.append(framing)
    conn = h11.Connection(our_role=h11.CLIENT)
    try:
        return conn, conn.send(h11.Request(method=method, target=target, headers=items)) or b""
    except h11.LocalProtocolError as exc:
        raise ValueError(f"cannot send this request: {exc}") from exc


def _send(conn: h11.Connection, event: h11.Data | h11.EndOfMessage) -> bytes:
    try:
        return conn.send(event) or b""
    except h11.LocalProtocolError as exc:  # more or fewer bytes than the Content-Length given
        raise ValueError(f"cannot send this request: {exc}") from exc


def _prepare(
    method: str, target: str, headers: Headers, body: bytes, host: str, port: int
) -> tuple[h11.Connection, bytes]:
    """The h11 connection and the request bytes (head and body)."""
    conn, out = _start(method, target, headers, ("Content-Length", str(len(body))) if body else None, host, port)
    if body:
        out += _send(conn, h11.Data(data=body))
    return conn, out + _send(conn, h11.EndOfMessage())


_CHUNKED = ("Transfer-Encoding", "chunked")


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _Reader:
    """The h11 side of a response: turns events into a head and body chunks."""

    def __init__(self, conn: h11.Connection) -> None:
        self.conn = conn
        self.received = 0
        self.expected: int | None = None
        self.done = False

    def feed(self, data: bytes) -> None:
        self.conn.receive_data(data)

    def next(self) -> h11.Event | None:
        """The next event; None when more bytes are needed. Raises HttpError."""
        try:
            event = self.conn.next_event()
        except h11.RemoteProtocolError as exc:
            if "complete message body" in str(exc):
                expected = "" if self.expected is None else f" of {self.expected}"
                framing = "Content-Length" if self.expected is not None else "chunked encoding"
                raise TruncatedBody(
                    f"response body truncated: the connection closed after {self.received}{expected} bytes ({framing})",
                    self.received,
                    self.expected,
                ) from exc
            raise HttpError(f"malformed HTTP response ({exc})") from exc
        if event is h11.NEED_DATA:
            return None
        if not isinstance(event, h11.Event):  # PAUSED: we never start a second cycle
            raise HttpError(f"unexpected h11 state {event!r}")
        if isinstance(event, h11.ConnectionClosed):
            raise HttpError("the connection closed before a complete HTTP response")
        return event

    def head(self, event: h11.Event) -> tuple[int, str, list[tuple[str, str]], str, list[tuple[str, str]]] | None:
        """(status, reason, lower-case headers, version, headers as received) for a final response."""
        if isinstance(event, h11.Response):
            raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items()]
            headers = [(k.lower(), v) for k, v in raw]
            self.expected = _content_length(headers)
            return event.status_code, event.reason.decode("latin-1"), headers, event.http_version.decode("ascii"), raw
        return None  # InformationalResponse (1xx): skipped

    def chunk(self, event: h11.Event) -> bytes | None:
        """Body bytes for a Data event; None at the end of the message."""
        if isinstance(event, h11.Data):
            self.received += len(event.data)
            return bytes(event.data)
        if isinstance(event, h11.EndOfMessage):
            self.done = True
            return None
        raise HttpError(f"unexpected HTTP event {type(event).__name__}")


class _ResponseHead:
    """What :class:`Response` and :class:`AsyncResponse` share: the head, and the body reader."""

    def __init__(
        self,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        http_version: str,
        raw_headers: list[tuple[str, str]],
        reader: _Reader,
        request_head: bytes,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.http_version = http_version
        self.raw_headers = raw_headers
        self.request_head = request_head
        self._reader = reader

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.status} {self.reason!r}, HTTP/{self.http_version}, "
            f"{len(self.headers)} headers)"
        )

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        key = name.lower()
        return next((v for k, v in self.headers if k == key), None)

    @property
    def received(self) -> int:
        """Body bytes received so far."""
        return self._reader.received

    @property
    def reusable(self) -> bool:
        """The exchange is over and both sides keep the connection for another one
        (h11: the body read to its end, no ``Connection: close``, not HTTP/1.0)."""
        conn = self._reader.conn
        return self._reader.done and conn.our_state is h11.DONE and conn.their_state is h11.DONE


class Response(_ResponseHead):
    """A response head, with the body still to be streamed.

    ``headers`` are (lower-case name, value) pairs in arrival order,
    ``raw_headers`` the same with the names as the server wrote them;
    ``http_version`` is ``"1.1"`` or ``"1.0"``; ``request_head`` the request's
    head as sent (request line and headers, up to the blank line).
    """

    def __init__(
        self,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        http_version: str,
        raw_headers: list[tuple[str, str]],
        *,
        tls: SyncTransport,
        reader: _Reader,
        request_head: bytes = b"",
    ) -> None:
        super().__init__(status, reason, headers, http_version, raw_headers, reader, request_head)
        self._tls = tls

    def iter_body(self, chunk_size: int = _READ_SIZE) -> Iterator[bytes]:
        """The body, chunk by chunk as it arrives. Raises TruncatedBody, HttpError, EspTlsError."""
        reader = self._reader
        while not reader.done:
            event = reader.next()
            if event is None:
                reader.feed(self._tls.read(chunk_size))
                continue
            data = reader.chunk(event)
            if data:
                yield data

    def read(self) -> bytes:
        """The whole (rest of the) body."""
        return b"".join(self.iter_body())


class AsyncResponse(_ResponseHead):
    """The asyncio twin of :class:`Response` (``aiter_body`` / ``await read()``)."""

    def __init__(
        self,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        http_version: str,
        raw_headers: list[tuple[str, str]],
        *,
        tls: AsyncTransport,
        reader: _Reader,
        request_head: bytes = b"",
    ) -> None:
        super().__init__(status, reason, headers, http_version, raw_headers, reader, request_head)
        self._tls = tls

    async def aiter_body(self, chunk_size: int = _READ_SIZE) -> AsyncIterator[bytes]:
        """See :meth:`Response.iter_body`."""
        reader = self._reader
        while not reader.done:
            event = reader.next()
            if event is None:
                reader.feed(await self._tls.read(chunk_size))
                continue
            data = reader.chunk(event)
            if data:
                yield data

    async def read(self) -> bytes:
        """See :meth:`Response.read`."""
        return b"".join([chunk async for chunk in self.aiter_body()])


def _head_of(request: bytes) -> bytes:
    """The head of request bytes: up to and with the blank line."""
    end = request.find(b"\r\n\r\n")
    return request if end < 0 else request[: end + 4]


def _advance(view: memoryview, written: int) -> memoryview:
    if written <= 0:
        raise HttpError("the connection accepted none of the request bytes")
    return view[written:]


def _write_all(tls: SyncTransport, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = _advance(view, tls.write(bytes(view)))


def request_bytes(
    method: str, url_or_target: str, headers: Headers = (), body: bytes = b"", *, host: str, port: int
) -> bytes:
    """The exact bytes :func:`request` sends on a connection to ``host``:``port``.

    For 0-RTT: pass them as ``early_data`` when connecting, then call
    :func:`request` with ``already_sent=True``. Raises ValueError as request does.
    """
    return _prepare(method, url_or_target, headers, body, host, port)[1]


def request(
    tls: SyncTransport,
    method: str,
    url_or_target: str,
    headers: Headers = (),
    body: bytes | Iterable[bytes] = b"",
    *,
    already_sent: bool = False,
) -> Response:
    """Send one request; return the response head (stream the body from it).

    ``body``: bytes (sent with a Content-Length), or an iterable of bytes,
    streamed chunk by chunk as it is made (``Transfer-Encoding: chunked``
    unless ``headers`` frame it). ``already_sent``: the request's bytes
    (:func:`request_bytes`) already went out, as early data; only the response
    is read. Raises HttpError (no or malformed response), ValueError (a request
    h11 refuses to send), EspTlsError from the connection.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        conn, out = _start(method, url_or_target, headers, _CHUNKED, tls.host, tls.port)
        _write_all(tls, out)
        for chunk in body:
            if chunk:
                _write_all(tls, _send(conn, h11.Data(data=bytes(chunk))))
        _write_all(tls, _send(conn, h11.EndOfMessage()))
        return _response(tls, conn, out)
    conn, out = _prepare(method, url_or_target, headers, bytes(body), tls.host, tls.port)
    if not already_sent:
        _write_all(tls, out)
    return _response(tls, conn, _head_of(out))


def _response(tls: SyncTransport, conn: h11.Connection, request_head: bytes) -> Response:
    """The response head read from ``tls`` for the request ``conn`` sent (its head: ``request_head``)."""
    reader = _Reader(conn)
    while True:
        event = reader.next()
        if event is None:
            reader.feed(tls.read(_READ_SIZE))
            continue
        head = reader.head(event)
        if head is not None:
            return Response(*head, tls=tls, reader=reader, request_head=request_head)


async def _awrite_all(tls: AsyncTransport, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = _advance(view, await tls.write(bytes(view)))


async def async_request(
    tls: AsyncTransport,
    method: str,
    url_or_target: str,
    headers: Headers = (),
    body: bytes | Iterable[bytes] | AsyncIterable[bytes] = b"",
    *,
    already_sent: bool = False,
) -> AsyncResponse:
    """The asyncio twin of :func:`request` (``body`` may also be an async iterable)."""
    if not isinstance(body, bytes | bytearray | memoryview):
        conn, out = _start(method, url_or_target, headers, _CHUNKED, tls.host, tls.port)
        await _awrite_all(tls, out)
        if isinstance(body, AsyncIterable):
            async for chunk in body:
                if chunk:
                    await _awrite_all(tls, _send(conn, h11.Data(data=bytes(chunk))))
        else:
            for chunk in body:
                if chunk:
                    await _awrite_all(tls, _send(conn, h11.Data(data=bytes(chunk))))
        await _awrite_all(tls, _send(conn, h11.EndOfMessage()))
    else:
        conn, out = _prepare(method, url_or_target, headers, bytes(body), tls.host, tls.port)
        if not already_sent:
            await _awrite_all(tls, out)
    reader = _Reader(conn)
    while True:
        event = reader.next()
        if event is None:
            reader.feed(await tls.read(_READ_SIZE))
            continue
        head = reader.head(event)
        if head is not None:
            return AsyncResponse(*head, tls=tls, reader=reader, request_head=_head_of(out))
