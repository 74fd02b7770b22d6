"""HTTP/2 on one check-server connection (ALPN ``h2``), through the ``h2`` library.

Imported only when a client's ALPN picked h2 (:class:`.connections.HttpsConnection`),
so the HTTP/1.1 path never loads it. Sans-I/O like the engine under it: bytes of
the TLS connection's application data in, bytes to send out.

Each request stream becomes the :class:`.app.Request` HTTP/1.1 reads
(``:path`` the target, ``:authority`` the Host) and is answered by the same
:func:`.app.route`, so the bodies are the ones HTTP/1.1 gets, byte for byte.
The head is what Go's HTTP/2 server makes of the handler's headers: ``:status``,
the headers by name in lower case without the connection-specific ones, a
``content-length`` for a body that fits Go's 4 KiB handler buffer
(:data:`H2_BUFFER`), ``date``. A ``Connection: close`` from the handler (every
check-server answer has one) is, as in Go, no header but a graceful end: once
the answers given are sent, GOAWAY (NO_ERROR, the last stream answered) and the
connection closes; streams the client opened meanwhile are left unanswered, as
GOAWAY tells it.

TLS it does not serve (RFC 9113 9.2): the check server negotiates ALPN h2 with any
client that offers it, as howsmyssl's TLS fork does (its ALPN choice looks at
neither the version nor the suite), and then, as Go's HTTP/2 server that it
hands the connection to (golang.org/x/net/http2 ``ServeConn``, without
``PermitProhibitedCipherSuites``), answers a connection below TLS 1.2 or on a
suite of RFC 9113 Appendix A with nothing but GOAWAY INADEQUATE_SECURITY and
Go's debug text (:func:`inadequate_security`): no SETTINGS, no answer. Such a
client gets its rating over HTTP/1.1 (without h2 in its ALPN).

Bounds (everything a client can make a connection hold or repeat):
:data:`MAX_STREAMS` concurrent streams and a header list of at most
:data:`MAX_HEADER_LIST` bytes (our SETTINGS; h2 enforces both, and at most 64
CONTINUATION frames per header block); request bodies of at most
:data:`.app.MAX_BODY_BYTES` (413), their flow-control windows returned as the
bytes arrive; :data:`MAX_STREAMS_TOTAL` streams per connection (a rapid-reset
flood ends there); :data:`MAX_EVENTS` frames of any kind per connection (floods
of SETTINGS, PING, RST_STREAM, PRIORITY, WINDOW_UPDATE or empty DATA frames end
there, with GOAWAY ENHANCE_YOUR_CALM, before their acknowledgements pile up);
:data:`MAX_PENDING` bytes of answers waiting for the client's flow-control
window (further streams are refused). Time is the connection's: its read
timeout until an answer, the write timeout while an answer waits for window.
"""

from __future__ import annotations

from collections.abc import Callable

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes

from ..tls.suites import suite_params
from .app import MAX_BODY_BYTES, AppConfig, Request, Response, TlsInfo, http_date, implicit_length, route

__all__ = ["H2_BUFFER", "MAX_EVENTS", "MAX_HEADER_LIST", "MAX_PENDING", "MAX_STREAMS", "MAX_STREAMS_TOTAL",
           "H2Session", "inadequate_security"]  # fmt: skip

MAX_STREAMS = 100  # SETTINGS_MAX_CONCURRENT_STREAMS
MAX_HEADER_LIST = 65536  # SETTINGS_MAX_HEADER_LIST_SIZE (app.MAX_HEADER_BYTES for HTTP/1.1)
MAX_STREAMS_TOTAL = 1000  # streams one connection may open
MAX_EVENTS = 4096  # frames (h2 events) one connection may send
MAX_PENDING = 1 << 20  # bytes of answers waiting for flow-control window
H2_BUFFER = 4096  # Go's HTTP/2 handler buffer: a body this long, written whole, gets a content-length
_CONNECTION_HEADERS = frozenset(("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"))


def inadequate_security(version: int, suite: int) -> str:
    """Why HTTP/2 may not run on a connection of ``version`` with ``suite`` (RFC 9113 9.2),
    in the words of Go's HTTP/2 server; "" when it may. Below TLS 1.2: "TLS version too low".
    A TLS 1.2 suite of RFC 9113 Appendix A, which lists every suite but those with an
    ephemeral key exchange and an AEAD (for the suites we implement: all but ECDHE with GCM,
    CCM or ChaCha20-Poly1305): "Prohibited TLS 1.2 Cipher Suite: " and its id in hex."""
    if version < 0x0303:
        return "TLS version too low"
    params = suite_params(suite)
    if params is not None and (params.tls13 or (params.kx == "ECDHE" and params.aead is not None)):
        return ""
    return f"Prohibited TLS 1.2 Cipher Suite: {suite:x}"


class _Stream:
    __slots__ = ("body", "headers")

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.headers = headers
        self.body = bytearray()


class H2Session:
    """The server side of one HTTP/2 connection; see the module docstring.

    :meth:`start` gives the server's preface, :meth:`receive` takes the client's
    bytes; both return what to send. :attr:`closed`: GOAWAY is sent, nothing is
    left to send, the connection may close (:attr:`error` says why, when it was
    not a graceful end); :attr:`waiting`: answers wait for the client's window.
    ``note(request, status)`` is called for each request answered (the log)."""

    def __init__(self, info: TlsInfo, config: AppConfig, note: Callable[[Request, int], None]) -> None:
        self.info, self.config, self._note = info, config, note
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None, validate_inbound_headers=True)
        )
        self._streams: dict[int, _Stream] = {}  # open request streams, not answered yet
        self._pending: dict[int, memoryview] = {}  # answered streams: body bytes still to send
        self._pending_bytes = 0
        self._opened = self._events = 0
        self._last_answered = 0
        self._closing = False  # an answer said Connection: close
        self.closed = False
        self.error = ""

    @property
    def waiting(self) -> bool:
        return bool(self._pending)

    def start(self) -> bytes:
        """The server's preface (SETTINGS); on TLS that HTTP/2 may not use, GOAWAY
        INADEQUATE_SECURITY alone, and the session is :attr:`closed`."""
        conn = self.conn
        refusal = inadequate_security(self.info.version, self.info.cipher_suite)
        if refusal:
            self.closed = True
            self.error = f"h2: INADEQUATE_SECURITY ({refusal})"
            conn.close_connection(ErrorCodes.INADEQUATE_SECURITY, additional_data=refusal.encode(), last_stream_id=0)
            return conn.data_to_send()
        conn.local_settings.update(
            {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_STREAMS,
             h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST}
        )  # fmt: skip
        conn.initiate_connection()
        return conn.data_to_send()

    def receive(self, data: bytes) -> bytes:
        """Take the client's bytes; returns what to send. Raises nothing: a protocol error
        ends the connection with GOAWAY and sets :attr:`error`."""
        if self.closed:
            return b""
        conn = self.conn
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:  # h2 has queued its GOAWAY
            self.closed = True
            self.error = f"h2: {exc}"
            return conn.data_to_send()
        self._events += len(events)
        if self._events > MAX_EVENTS:
            self._end(ErrorCodes.ENHANCE_YOUR_CALM, f"h2: more than {MAX_EVENTS} frames")
            return conn.data_to_send()
        try:
            self._dispatch(events)
        except h2.exceptions.H2Error as exc:  # (what the client's frames made of our answers)
            self._end(ErrorCodes.INTERNAL_ERROR, f"h2: {exc}")
        return conn.data_to_send()

    # ---------------------------------------------------------------- events

    def _dispatch(self, events: list[h2.events.Event]) -> None:
        for event in events:
            self._on_event(event)
            if self.closed:
                return
        self._send_pending()
        if self._closing and not self._pending:
            self._end(ErrorCodes.NO_ERROR, "")

    def _on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self._opened += 1
            sid = event.stream_id
            if self._opened > MAX_STREAMS_TOTAL:
                self._end(ErrorCodes.ENHANCE_YOUR_CALM, f"h2: more than {MAX_STREAMS_TOTAL} streams")
            elif self._closing or self._pending_bytes > MAX_PENDING:
                self.conn.reset_stream(sid, ErrorCodes.REFUSED_STREAM)
            else:
                self._streams[sid] = _Stream(list(event.headers or ()))
                if event.stream_ended is not None:
                    self._answer(sid)
        elif isinstance(event, h2.events.DataReceived):
            sid = event.stream_id
            if event.flow_controlled_length:
                self.conn.acknowledge_received_data(event.flow_controlled_length, sid)
            stream = self._streams.get(sid)
            if stream is not None:
                stream.body += event.data or b""
                if len(stream.body) > MAX_BODY_BYTES:
                    del self._streams[sid]
                    self._respond(sid, None, Response(413, [("Content-Type", "text/plain; charset=utf-8")],
                                                      b"413 Request Entity Too Large"))  # fmt: skip
                elif event.stream_ended is not None:
                    self._answer(sid)
        elif isinstance(event, h2.events.StreamEnded):
            if event.stream_id in self._streams:
                self._answer(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            sid = event.stream_id
            self._streams.pop(sid, None)
            dropped = self._pending.pop(sid, None)
            if dropped is not None:
                self._pending_bytes -= len(dropped)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.closed = True  # the client's GOAWAY: nothing more to do
            self.error = "" if event.error_code == ErrorCodes.NO_ERROR else f"h2: client GOAWAY {event.error_code!s}"

    def _request(self, stream: _Stream) -> Request:
        """The stream's request as HTTP/1.1 reads one (names lower-case, values latin-1)."""
        method = target = authority = ""
        fields: list[tuple[str, str]] = []
        for raw_name, raw_value in stream.headers:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            if name == ":method":
                method = value
            elif name == ":path":
                target = value
            elif name == ":authority":
                authority = value
            elif not name.startswith(":"):
                fields.append((name, value))
        if authority and not any(name == "host" for name, _ in fields):
            fields.insert(0, ("host", authority))
        return Request(method, target or authority, "2.0", tuple(fields), bytes(stream.body))

    def _answer(self, sid: int) -> None:
        request = self._request(self._streams.pop(sid))
        self._respond(sid, request, route(request, self.info, self.config))

    def _respond(self, sid: int, request: Request | None, response: Response) -> None:
        head_only = request is not None and request.method == "HEAD"
        headers = [(":status", str(response.status))]
        for name, value in sorted(response.headers, key=lambda kv: kv[0]):
            lower = name.lower()
            if lower == "connection":
                self._closing = self._closing or "close" in value.lower()
            elif lower not in _CONNECTION_HEADERS:
                headers.append((lower, value))
        if request is None:
            self._closing = True
        if not response.has("Content-Length"):
            length = implicit_length(response, head_only, H2_BUFFER)
            if length is not None:
                headers.append(("content-length", length))
        headers.append(("date", http_date()))
        body = b"" if head_only else response.body
        self.conn.send_headers(sid, headers, end_stream=not body)
        if body:
            self._pending[sid] = memoryview(body)
            self._pending_bytes += len(body)
        self._last_answered = max(self._last_answered, sid)
        self._note(request or Request("-", "-", "2.0"), response.status)

    def _send_pending(self) -> None:
        """Send what the client's flow-control windows allow, one frame at most its frame size."""
        conn = self.conn
        for sid in list(self._pending):
            data = self._pending[sid]
            while data:
                room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, len(data))
                if room <= 0:
                    break
                conn.send_data(sid, data[:room].tobytes(), end_stream=room == len(data))
                data = data[room:]
                self._pending_bytes -= room
            if data:
                self._pending[sid] = data
            else:
                del self._pending[sid]

    def _end(self, code: int, error: str) -> None:
        """GOAWAY with ``code``; the connection is over (what is still pending is dropped)."""
        self.closed = True
        self.error = self.error or error
        self._pending.clear()
        self._pending_bytes = 0
        try:
            self.conn.close_connection(code, last_stream_id=self._last_answered)
        except h2.exceptions.H2Error:  # (already closed: nothing more to say)
            pass
