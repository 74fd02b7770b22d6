"""HTTP for ``https-request serve``: reading requests, routing, the responses.

Requests are parsed with h11 (:class:`RequestReader`; HTTP/2 streams become the
same :class:`Request` in :mod:`.h2conn`); responses are built here byte by byte
the way Go's net/http writes them (the howsmyssl.com server is Go): handler
headers sorted by name, then ``Date``, then the framing Go picks: the handler's
``Content-Length``, else one for a body of at most :data:`GO_BUFFER` bytes
(what Go's response buffer holds before it must send the head; a gzipped
``/a/check`` fits), else ``Transfer-Encoding: chunked`` (HTTP/1.1) or the end of
the connection (HTTP/1.0); an ``HTTP/1.0`` status line for HTTP/1.0 requests.

Routing (:func:`route`), by the request's path and, only in some modes, its host
(the absolute-form target's host, else the Host header, port stripped):

* ``/tls`` on any host: a small JSON of what the TLS server saw;
* a target that is no path (``FROM_STDIN``, the literal URL of ESP-IDF's CI),
  and every request with ``esp_local`` (``serve --esp-local-server``): ``200
  OK``, ``Connection: close``, empty body, the local server of ESP-IDF's own
  test of the example (the ticket server);
* else howsmyssl's answers, whatever the host: ``/a/check`` (the rating JSON,
  JSONP with a sanitised ``callback``, the Origin/Referer rule), ``/`` (the
  report page, :mod:`.report_page`), ``/healthcheck``, ``/llms.txt`` (2026
  schema), else 404; HSTS, ``Connection: close`` (classic schema: for HTTP/1.1
  requests only, as the classic server set it) and ``Vary: Accept-Encoding``,
  gzipped when the client asks;
* with ``strict_howsmyssl`` (``serve --strict-howsmyssl``) only host
  ``www.howsmyssl.com`` gets them: other hosts get the real server's 301 to
  ``https://www.howsmyssl.com`` (and ``/healthcheck``).

The plain-HTTP listener (:func:`route_plain`) answers ``/healthcheck`` and
redirects everything else, with keep-alive and without HSTS or gzip. The
redirect is the schema's: the 2026 server adds ``Vary: Accept`` and answers
``{}`` to a client that accepts JSON; the classic one always sent Go's HTML
body (GET) and no ``Vary``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from ..howsmyssl import rating
from ..structs import Struct, field
from ..tls.catalogue import suite_name
from ..tls.enums import NamedGroup, ProtocolVersion, name_of
from ..tls.messages import ClientHello

if TYPE_CHECKING:  # imported by the first request httptools does not read (with httptools, maybe never: ~0.5 MiB)
    import h11

_httptools: Any  # the uvloop extra: request heads parsed in C (RequestReader's fast path); else None
try:
    import httptools as _httptools
except ImportError:  # (then h11 reads every request)
    _httptools = None

__all__ = [
    "HOWSMYSSL_HOST",
    "KEPT_HEADS",
    "MAX_KEPT_HEADS",
    "MAX_KEPT_HEAD_BYTES",
    "AppConfig",
    "HttpError",
    "RatingCache",
    "Request",
    "RequestReader",
    "Response",
    "TlsInfo",
    "error_response",
    "fast_request",
    "http_date",
    "rate",
    "rating_inputs",
    "render_report",
    "route",
    "route_plain",
    "version_name",
]

HOWSMYSSL_HOST = "www.howsmyssl.com"
REDIRECT_BASE = "https://www.howsmyssl.com"
HSTS = "max-age=631138519; includeSubdomains; preload"
GO_BUFFER = 2048  # net/http's bufferBeforeChunkingSize: a body this long, written whole, gets a Content-Length
MAX_HEADER_BYTES = 65536
MAX_BODY_BYTES = 65536
DISALLOWED_BODY = (
    b'{"error": "See tls_version for the sign up link", "tls_version": "Err 0 The website calling '
    b"howsmyssl.com's API has been making many calls and does not have a subscription. See "
    b'https://subscriptions.howsmyssl.com/signup for how to get one."}'
)
_CALLBACK_JUNK = re.compile(r"[^0-9A-Za-z]")
_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})
_VERSION_NAMES: dict[int, str] = {
    ProtocolVersion.TLS1_0: "TLS 1.0",
    ProtocolVersion.TLS1_1: "TLS 1.1",
    ProtocolVersion.TLS1_2: "TLS 1.2",
    ProtocolVersion.TLS1_3: "TLS 1.3",
}


# ------------------------------------------------------------------ configuration and inputs


class RatingCache:
    """The howsmyssl answers rendered lately, by the rating's inputs (:class:`rating.Inputs`:
    the ClientHello's suites, compression, versions, groups, signature algorithms and
    session-ticket flag, the connection's version, the schema and which of its cutovers
    have passed). Many clients send the same hello but for its random, session id and
    key shares, and the rating and its rendering (the JSON or the HTML page) are a
    function of these inputs alone: the same inputs get the same bytes, whoever asks.
    Nothing else of a connection (address, server name, time) is in what is kept.

    Bounded: at most ``max_entries`` answers and ``max_bytes`` of them and their keys
    (the least recently used go first); an answer larger than ``max_bytes // 16`` is
    not kept (a peer controls the hello's size, up to its limits).
    """

    def __init__(self, max_entries: int = 256, max_bytes: int = 1 << 20) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: dict[tuple[str, rating.Inputs], tuple[bytes, int]] = {}  # (kind, inputs): (body, size)
        self.bytes = 0
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, kind: str, inputs: rating.Inputs, render: Callable[[dict[str, Any]], bytes]) -> bytes:
        """The ``kind`` answer for ``inputs``: the one kept, else ``render(rating.rate(inputs))``
        (kept if it fits). Raises ValueError as :func:`rating.rate` does (nothing is kept)."""
        key = (kind, inputs)
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._entries[key] = entry  # now the most recently used
            self.hits += 1
            return entry[0]
        self.misses += 1
        body = render(rating.rate(inputs))
        size = len(body) + _inputs_size(inputs)
        if size <= self.max_bytes // 16:
            self._entries[key] = (body, size)
            self.bytes += size
            while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
                oldest = next(iter(self._entries))  # (a dict keeps insertion order: the least recently used)
                self.bytes -= self._entries.pop(oldest)[1]
        return body


def _inputs_size(inputs: rating.Inputs) -> int:
    """About the memory one key holds: its variable-length fields (an int object per
    suite), and a fixed part for the rest."""
    raw = (inputs.compression_methods, inputs.supported_versions, inputs.supported_groups, inputs.signature_algorithms)
    return 512 + 40 * len(inputs.cipher_suites) + sum(len(r) for r in raw if r is not None)


class AppConfig(Struct, slots=False):
    """``clock``: the rating's clock, Unix seconds (``serve``'s clock: fixed, SNTP, NVS; None: the
    system's); ``strict_howsmyssl``: howsmyssl's answers for its host only, 301s for the others;
    ``esp_local``: ESP-IDF's local test server (200, no body) for every request but ``/tls``;
    ``cache``: the rendered howsmyssl answers (shared by the connections of one worker)."""

    schema: rating.Schema = "classic"
    clock: Callable[[], float] | None = None
    strict_howsmyssl: bool = False
    esp_local: bool = False
    cache: RatingCache = field(default_factory=RatingCache, repr=False, compare=False)


class TlsInfo(NamedTuple):
    """What the TLS server saw on one connection. (A NamedTuple, not a Struct: made on every
    connection, in C: ~3k instructions against a Struct's ~14k for its twelve fields.)"""

    client_hello: bytes
    version: int
    cipher_suite: int
    group: int | None
    server_name: str | None
    alpn_protocol: str | None
    resumed: bool
    early_data: int  # bytes of 0-RTT data accepted
    peer: str
    worker: int
    hello: ClientHello | None = None  # client_hello decoded (the engine's), if known
    # TLS 1.0: the plaintext length of the client's first application data record (None: not read)
    first_app_data_length: int | None = None

    @property
    def version_name(self) -> str:
        return version_name(self.version)


def version_name(version: int) -> str:
    """ "TLS 1.3", "TLS 1.2", else the code point in hex."""
    return _VERSION_NAMES.get(version, f"0x{version:04x}")


class Request(Struct, slots=False):
    """One parsed request; header names lower-case, values as sent (latin-1)."""

    method: str
    target: str
    http_version: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for k, v in self.headers:  # (a loop, not next() of a generator: asked a few times per request)
            if k == name:
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]

    @property
    def http10(self) -> bool:
        return self.http_version == "1.0"

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for v in self.header_all("connection") for t in v.split(",")}
        return "close" not in tokens if not self.http10 else "keep-alive" in tokens


class HttpError(Exception):
    """A request that cannot be served: answer ``status`` and close."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(detail or HTTPStatus(status).phrase)
        self.status = status


class RequestReader:
    """Bytes in, one :class:`Request` out (h11 does the parsing).

    :meth:`feed` takes received bytes (``b""`` = EOF) and returns the request
    once it is complete, else None; it raises HttpError (431 for headers over
    ``max_header_bytes``, 413 for a body over ``max_body_bytes``, 400 for
    anything malformed) and EOFError when the peer closed before sending
    anything. :attr:`leftover` is what followed the request (keep-alive).

    ``fast`` (default: when httptools is installed, the ``uvloop`` extra): a
    first chunk that is one whole request head without a body is read by
    httptools (C), and taken only when it is what h11 would make of it (see
    :func:`fast_request`); anything else, and every later chunk, is h11's.
    """

    def __init__(
        self, max_header_bytes: int = MAX_HEADER_BYTES, max_body_bytes: int = MAX_BODY_BYTES, fast: bool | None = None
    ) -> None:
        self._h11: h11.Connection | None = None
        self._max_header = max_header_bytes
        self._max_body = max_body_bytes
        self._fast = _httptools is not None if fast is None else fast
        self._head: h11.Request | None = None
        self._body = bytearray()
        self.leftover = b""
        self.started = False

    def feed(self, data: bytes) -> Request | None:
        if self._fast and not self.started and data:
            self.started = True
            request = fast_request(data, self._max_header)
            if request is not None:
                return request
        self.started = self.started or bool(data)
        import h11  # (here, not at the top: see TYPE_CHECKING above)

        conn = self._h11
        if conn is None:
            self._h11 = conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._max_header)
        try:
            conn.receive_data(data)
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    return None
                if isinstance(event, h11.Request):
                    # h11 limits only a head still incomplete; one that arrived whole is measured here
                    size = len(event.method) + len(event.target) + sum(len(k) + len(v) + 4 for k, v in event.headers)
                    if size > self._max_header:
                        raise HttpError(431)
                    self._head = event
                elif isinstance(event, h11.Data):
                    self._body += event.data
                    if len(self._body) > self._max_body:
                        raise HttpError(413)
                elif isinstance(event, h11.EndOfMessage):
                    return self._finish(conn)
                elif isinstance(event, h11.ConnectionClosed):
                    raise EOFError("closed before a request")
        except h11.RemoteProtocolError as exc:
            raise HttpError(exc.error_status_hint, str(exc)) from None

    def _finish(self, conn: h11.Connection) -> Request:
        head = self._head
        assert head is not None
        self.leftover = conn.trailing_data[0]
        return Request(
            head.method.decode("ascii", "replace"),
            head.target.decode("ascii", "replace"),
            head.http_version.decode("ascii", "replace"),
            tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in head.headers),
            bytes(self._body),
        )


# RFC 9110 5.6.2 token (methods, field names), RFC 9112 3.2 request-target as h11 takes it (visible
# ASCII), RFC 9110 5.5 field-value (obs-text allowed; no NUL, CR, LF; no whitespace at either end).
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_TARGET = re.compile(rb"[\x21-\x7e]+")
_FIELD_VALUE = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?")
_BODY_HEADERS = (b"content-length", b"transfer-encoding")
# fast_request's answers by the head's bytes: what it reads is a function of those bytes alone, and
# clients of one kind send the same head byte for byte (a check server's probes, a fleet of devices,
# a load generator). Bounded: heads of at most 1 KiB, the 128 last read (the oldest go first).
KEPT_HEADS: dict[bytes, Request] = {}
MAX_KEPT_HEAD_BYTES = 1024
MAX_KEPT_HEADS = 128


class _Head:
    """httptools' callbacks: the target and the header fields of one request head."""

    __slots__ = ("complete", "fields", "url")

    def __init__(self) -> None:
        self.url = b""
        self.fields: list[tuple[bytes, bytes]] = []
        self.complete = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.fields.append((name, value.rstrip(b" \t")))  # (llhttp keeps trailing whitespace; h11 does not)

    def on_message_complete(self) -> None:
        self.complete = True


def fast_request(data: bytes, max_header: int) -> Request | None:
    """The request in ``data`` read by httptools, when ``data`` is exactly one request
    head (CRLF line ends, no folded lines, no bytes after it) of at most ``max_header``
    bytes, without a body (no Content-Length or Transfer-Encoding), and what httptools
    read is what h11 reads from the same bytes: the request line is ``method SP target SP
    HTTP/1.x CRLF`` byte for byte, the method and field names are tokens, the target is
    visible ASCII, every line is one field with a valid value, and Host appears as h11
    requires (once for HTTP/1.1, at most once for 1.0). None otherwise (and when
    httptools is missing or refuses the bytes): h11 reads them, and decides every error.
    A head read before is answered from :data:`KEPT_HEADS` (the same Request: a Struct, frozen).
    Raises nothing."""
    if _httptools is None or len(data) > max_header:
        return None
    known = KEPT_HEADS.get(data)
    if known is not None:
        return known
    request = _read_head(data)
    if request is not None and len(data) <= MAX_KEPT_HEAD_BYTES:
        if len(KEPT_HEADS) >= MAX_KEPT_HEADS:
            del KEPT_HEADS[next(iter(KEPT_HEADS))]  # (a dict keeps insertion order: the oldest)
        KEPT_HEADS[data] = request
    return request


def _read_head(data: bytes) -> Request | None:
    """:func:`fast_request` without its kept heads (httptools is there, ``data`` within the limit)."""
    if data.find(b"\r\n\r\n") != len(data) - 4:
        return None
    lines = data.count(b"\n")
    if data.count(b"\r\n") != lines or data.count(b"\r") != lines or b"\n " in data or b"\n\t" in data:
        return None  # a bare LF or CR, or a folded line
    head = _Head()
    parser = _httptools.HttpRequestParser(head)
    try:
        parser.feed_data(data)
    except (_httptools.HttpParserError, _httptools.HttpParserUpgrade):
        return None
    version = parser.get_http_version()
    method = parser.get_method()
    if not head.complete or version not in ("1.0", "1.1") or len(head.fields) != lines - 2:
        return None
    if not data.startswith(b"%s %s HTTP/%s\r\n" % (method, head.url, version.encode())):
        return None
    if _TOKEN.fullmatch(method) is None or _TARGET.fullmatch(head.url) is None:
        return None
    hosts = 0
    fields = []
    for name, value in head.fields:
        if _TOKEN.fullmatch(name) is None or _FIELD_VALUE.fullmatch(value) is None:
            return None
        lower = name.lower()
        if lower in _BODY_HEADERS:
            return None
        hosts += lower == b"host"
        fields.append((lower.decode("latin-1"), value.decode("latin-1")))
    if hosts > 1 or (hosts == 0 and version == "1.1"):
        return None
    return Request(method.decode("ascii"), head.url.decode("ascii"), version, tuple(fields), b"")


# ------------------------------------------------------------------ responses


class Response:
    """A response before framing. ``headers`` are the handler's (Go sorts them); without
    a Content-Length header the writer adds one for a body of at most ``GO_BUFFER``
    bytes, else chunks it (HTTP/1.1) or ends it with the connection (HTTP/1.0).

    A plain class, not a Struct: mutable, never compared, made for every request
    (~3k instructions against a Struct's ~12k)."""

    __slots__ = ("status", "headers", "body", "http11")

    def __init__(
        self, status: int, headers: list[tuple[str, str]] | None = None, body: bytes = b"", http11: bool = False
    ) -> None:
        self.status = status
        self.headers: list[tuple[str, str]] = headers if headers is not None else []
        self.body = body
        self.http11 = http11  # an HTTP/1.1 status line even for an HTTP/1.0 request

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.headers!r}, <{len(self.body)} bytes>, http11={self.http11})"

    def has(self, name: str) -> bool:
        lower = name.lower()
        for k, _ in self.headers:  # (a loop: no list made for every response)
            if k.lower() == lower:
                return True
        return False

    def encode(self, request: Request | None, date: str | None = None) -> bytes:
        """The bytes on the wire for ``request`` (None: a request that could not be parsed)."""
        http10 = request is not None and request.http10 and not self.http11
        head_only = request is not None and request.method == "HEAD"
        lines = [f"HTTP/{'1.0' if http10 else '1.1'} {self.status} {_phrase(self.status)}"]
        lines += [f"{k}: {v}" for k, v in sorted(self.headers, key=itemgetter(0))]
        lines.append(f"Date: {date or http_date()}")
        body = self.body
        if not self.has("Content-Length"):
            length = implicit_length(self, head_only, GO_BUFFER)
            if length is not None:
                lines.append(f"Content-Length: {length}")
            elif not http10:
                lines.append("Transfer-Encoding: chunked")
                body = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + body


def implicit_length(response: Response, head_only: bool, buffer: int) -> str | None:
    """The Content-Length Go adds to a response whose handler set none: the body's length
    when the whole body fit in its ``buffer`` before the handler returned (none for a HEAD
    request whose handler wrote nothing); None when the body is longer (then it is chunked,
    or on HTTP/2 simply sent)."""
    size = len(response.body)
    if size > buffer or (head_only and not size):
        return None
    return str(size)


_PHRASES = {s.value: s.phrase for s in HTTPStatus}
_date: tuple[int, str] = (0, "")  # the last second formatted, and its Date


def _phrase(status: int) -> str:
    """The reason phrase of ``status`` (ValueError for a code HTTP does not define)."""
    phrase = _PHRASES.get(status)
    return phrase if phrase is not None else HTTPStatus(status).phrase


def http_date() -> str:
    """Now, as a ``Date`` header says it (RFC 9110 5.6.7); formatted once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


def error_response(status: int) -> bytes:
    """Go's answer to a request it could not parse: plain text, ``Connection: close``, no length."""
    text = f"{status} {_phrase(status)}"
    return (f"HTTP/1.1 {text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{text}").encode()


def _text(status: int, body: str, *extra: tuple[str, str]) -> Response:
    return Response(status, [("Content-Type", "text/plain; charset=utf-8"), *extra], body.encode())


def _not_found() -> Response:
    return _text(404, "404 Not Found\n", ("X-Content-Type-Options", "nosniff"))


def local_ok() -> Response:
    """ESP-IDF's local test server: 200, ``Connection: close``, no body."""
    return Response(200, [("Connection", "close"), ("Content-Length", "0")], http11=True)


def _wants_json(request: Request) -> bool:
    for value in request.header_all("accept"):
        for part in value.split(","):
            media, *params = (p.strip() for p in part.split(";"))
            if media.lower() != "application/json":
                continue
            q = next((p.split("=", 1)[1].strip() for p in params if p.lower().startswith("q=")), "1")
            try:
                if float(q) > 0:
                    return True
            except ValueError:
                return True
    return False


def redirect(request: Request, path: str, query: str, schema: rating.Schema) -> Response:
    """The real server's 301 to https://www.howsmyssl.com + path (+ query): Go's http.Redirect
    (an HTML link for GET, its Content-Type for GET and HEAD); the 2026 server also says
    ``Vary: Accept`` and answers ``{}`` to a client that accepts JSON, the classic one did not."""
    location = REDIRECT_BASE + path + (f"?{query}" if query else "")
    resp = Response(301, [("Location", location)])
    if schema != "classic":
        resp.headers.append(("Vary", "Accept"))
        if _wants_json(request):
            resp.headers.append(("Content-Type", "application/json"))
            resp.body = b"{}"
            return resp
    if request.method in ("GET", "HEAD"):
        resp.headers.append(("Content-Type", "text/html; charset=utf-8"))
    if request.method == "GET":
        resp.body = f'<a href="{location.translate(_HTML_ESCAPES)}">Moved Permanently</a>.\n\n'.encode()
    return resp


# ------------------------------------------------------------------ request helpers


_PLAIN_HOST = re.compile(r"([A-Za-z0-9.-]+)(?::[0-9]*)?")


def _split_target(request: Request) -> tuple[str | None, str, str]:
    """(host or None, path, query); path "" when the target is no path (``FROM_STDIN``)."""
    target = request.target
    try:
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            return parts.hostname, parts.path or "/", parts.query
        host_header = request.header("host")
        plain = _PLAIN_HOST.fullmatch(host_header) if host_header else None
        if plain is not None:  # a name or IPv4 address, maybe a port: what urlsplit would make of it, sooner
            host = plain[1].lower()
        else:
            host = urlsplit("//" + host_header).hostname if host_header else None
    except ValueError:  # e.g. an unclosed "[" of an IPv6 literal (no usable host; an absolute URL: no path either)
        if not target.startswith("/"):
            return None, "", ""
        host = None
    if not target.startswith("/"):
        return host, "", ""
    path, _, query = target.partition("?")
    return host, path, query


def form_value(request: Request, query: str, name: str) -> str:
    """Go's ``r.FormValue``: a urlencoded POST/PUT/PATCH body first, then the query string."""
    sources = []
    ctype = (request.header("content-type") or "").split(";")[0].strip().lower()
    if request.method in ("POST", "PUT", "PATCH") and ctype == "application/x-www-form-urlencoded":
        sources.append(request.body.decode("latin-1"))
    sources.append(query)
    for source in sources:
        for key, value in parse_qsl(source, keep_blank_values=True):
            if key == name:
                return value
    return ""


def _origin_host(value: str) -> str:
    """The host named by an Origin or Referer value ("" when it names none)."""
    text = value.strip().lower()
    if text == "localhost":
        return "localhost"
    try:
        return urlsplit(text).hostname or ""
    except ValueError:
        return ""


def origin_allowed(request: Request) -> bool:
    """The Origin/Referer rule with no allow or block lists: a value that names no host is refused."""
    value = request.header("origin") or request.header("referer")
    return not value or bool(_origin_host(value))


# ------------------------------------------------------------------ howsmyssl


def rating_inputs(tls: TlsInfo, config: AppConfig) -> rating.Inputs:
    """What the rating of this connection reads. Raises ValueError for a malformed ClientHello."""
    now = datetime.fromtimestamp(config.clock(), UTC) if config.clock is not None else datetime.now(UTC)
    hello = tls.hello if tls.hello is not None else rating.parse_client_hello(tls.client_hello)
    # BEAST (TLS 1.0): the server saw the client's record splitting when it chose a probe suite
    # (ServerConfig.beast_probe, as howsmyssl's server), then the first record's length tells
    probe = rating.beast_probe_suite(hello.cipher_suites, tls.version)
    able = probe is not None and probe == tls.cipher_suite
    return rating.inputs(
        hello, negotiated_version=tls.version, schema=config.schema, now=now,
        able_to_detect_n_minus_one_splitting=able, first_app_data_length=tls.first_app_data_length,
    )  # fmt: skip


def rate(tls: TlsInfo, config: AppConfig) -> dict[str, Any]:
    """The ``/a/check`` object of this connection. Raises ValueError for a malformed ClientHello."""
    return rating.rate(rating_inputs(tls, config))


def render_report(result: Mapping[str, Any], inputs: rating.Inputs | None = None) -> str:
    """The report page of a rating (:func:`.report_page.render`, imported on first use)."""
    from .report_page import render

    return render(result, inputs)


def _check(request: Request, query: str, tls: TlsInfo, config: AppConfig) -> Response:
    callback = _CALLBACK_JUNK.sub("", form_value(request, query, "callback"))
    if origin_allowed(request):
        status, body = 200, config.cache.get("json", rating_inputs(tls, config), rating.to_json)
    else:
        status, body = 400, DISALLOWED_BODY
    ctype = "application/json"
    if callback:
        status, ctype, body = 200, "application/javascript", callback.encode() + b"(" + body + b");"
    return _api(status, ctype, body)


def _api(status: int, ctype: str, body: bytes) -> Response:
    headers = [("Access-Control-Allow-Origin", "*"), ("Content-Length", str(len(body))), ("Content-Type", ctype)]
    return Response(status, headers, body)


_LLMS_TXT = """# How's My SSL?

> A TLS client checker: GET https://www.howsmyssl.com/a/check returns a JSON rating of the
> connecting client's TLS (cipher suites, version, known weaknesses).

Clients that only need the TLS version: https://www.tlsversion.com/v1/version.json

- API: https://www.howsmyssl.com/a/check
- API docs: https://www.howsmyssl.com/s/api.html
"""


def _howsmyssl(request: Request, path: str, query: str, tls: TlsInfo, config: AppConfig) -> Response:
    try:
        if path == "/a/check":
            return _check(request, query, tls, config)
        if path == "/":
            inputs = rating_inputs(tls, config)
            body = config.cache.get("html", inputs, lambda result: render_report(result, inputs).encode())
            return _api(200, "text/html;charset=utf-8", body)
    except ValueError:
        return Response(500, [("Access-Control-Allow-Origin", "*"), ("Content-Type", "text/plain")],
                        b"500 Internal Server Error")  # fmt: skip
    if path == "/healthcheck":
        return _text(200, "ok")
    if path == "/llms.txt" and config.schema == "2026":
        return _text(200, _LLMS_TXT)
    return _not_found()


def _https_finish(resp: Response, request: Request, path: str, config: AppConfig) -> Response:
    """What every howsmyssl HTTPS answer gets: HSTS, Connection: close (the classic server set it
    for HTTP/1.1 requests only, and Go sends none on an HTTP/1.0 answer it closes), the gzip wrapper."""
    resp.headers.append(("Strict-Transport-Security", HSTS))
    if config.schema != "classic" or request.http_version == "1.1":
        resp.headers.append(("Connection", "close"))
    resp.headers.insert(0, ("Vary", "Accept-Encoding"))
    accept = request.header_all("accept-encoding")
    wants = bool(accept) and (any("gzip" in v.lower() for v in accept) or any(v.strip() == "*" for v in accept))
    if wants and "/img/" not in path and request.method != "HEAD" and resp.body:
        import gzip  # (here: a worker whose clients never ask for gzip never loads it)

        resp.body = gzip.compress(resp.body, mtime=0)
        resp.headers = [(k, v) for k, v in resp.headers if k.lower() != "content-length"]
        resp.headers.append(("Content-Encoding", "gzip"))
    return resp


def tls_report(tls: TlsInfo) -> Response:
    """``/tls``: what the server saw, as compact JSON."""
    report = {
        "protocol": tls.version_name,
        "cipher_suite": suite_name(tls.cipher_suite),
        "group": name_of(NamedGroup, tls.group) if tls.group is not None else None,
        "sni": tls.server_name,
        "alpn": tls.alpn_protocol,
        "resumed": tls.resumed,
        "early_data": tls.early_data > 0,
        "early_data_bytes": tls.early_data,
        "client_hello_bytes": len(tls.client_hello),
        "peer": tls.peer,
        "worker": tls.worker,
    }
    import json  # (here: only /tls answers JSON)

    body = json.dumps(report, separators=(",", ":")).encode()
    headers = [("Connection", "close"), ("Content-Length", str(len(body))), ("Content-Type", "application/json")]
    return Response(200, headers, body)


def route(request: Request, tls: TlsInfo, config: AppConfig) -> Response:
    """The HTTPS listener's answer to ``request`` (see the module docstring)."""
    host, path, query = _split_target(request)
    if path == "/tls":
        return tls_report(tls)
    if not path or config.esp_local:
        return local_ok()
    if config.strict_howsmyssl and host != HOWSMYSSL_HOST:
        resp = _text(200, "ok") if path == "/healthcheck" else redirect(request, path, query, config.schema)
    else:
        resp = _howsmyssl(request, path, query, tls, config)
    return _https_finish(resp, request, path, config)


def route_plain(request: Request, config: AppConfig) -> Response:
    """The plain-HTTP listener: ``/healthcheck``, else the 301 to HTTPS."""
    _, path, query = _split_target(request)
    if path == "/healthcheck":
        return _text(200, "ok")
    return redirect(request, path or "/", query, config.schema)
