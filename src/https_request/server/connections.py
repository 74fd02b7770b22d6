"""One accepted connection of ``https-request serve``, as an asyncio protocol.

The event loop calls :class:`HttpsConnection` / :class:`HttpConnection`
back with the bytes it read; each drives the sans-I/O engine (through
:class:`~..io.pump.Pump`) and the HTTP reader right there and hands what
they produce to ``transport.write``: no task, stream or ``wait_for`` per
connection. Its deadline is one timer (``loop.call_at``), replaced as the
connection moves on: the handshake (first bytes included), the request, the
write and linger at the end; a later deadline keeps a timer due sooner, which
waits on when it fires (two timer calls in an HTTPS connection's usual run).
Every callback catches what it raises: a connection's failure ends that
connection only and never reaches the loop.

HTTPS, in order (:class:`HttpsConnection`):

1. first bytes and handshake within ``handshake_timeout``. Bytes that look
   like plain HTTP get Go's "Client sent an HTTP request to an HTTPS server"
   400; anything else is the engine's (garbage gets its alert). No engine
   state exists before the first bytes, so idle connections are cheap;
2. one HTTP request (0-RTT data included) within ``read_timeout``. With
   ``send_half_rtt_data`` (``serve --early-data``) the request phase begins
   as soon as accepted 0-RTT data arrives: a complete request in it is
   answered at once, as 0.5-RTT data before the client's Finished, and the
   handshake is finished afterwards (tickets and close_notify follow);
3. the whole response and close_notify written in one go (one TLS record per
   16 KiB), then TCP half-closed and what the client still sends drained for
   a moment (:data:`LINGER` seconds, :data:`LINGER_BYTES`), so that closing
   never resets the connection under an unread response. A response the
   client does not take within :data:`WRITE_TIMEOUT` is dropped;
4. one log line when the connection is gone (:meth:`Connection.log_line`).

Plain HTTP (:class:`HttpConnection`): a request must begin within
``handshake_timeout`` (also between keep-alive requests) and be complete
within ``read_timeout``; reading pauses while the client does not take its
answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from ..io.pump import Pump
from ..tls.catalogue import suite_name
from ..tls.enums import ExtensionType, NamedGroup, name_of
from ..tls.errors import TlsError
from ..tls.server13 import ServerConnection
from .app import HttpError, Request, RequestReader, TlsInfo, error_response, route, route_plain, version_name

if TYPE_CHECKING:
    from .h2conn import H2Session
    from .tls_server import Server, ServerSettings

__all__ = ["LINGER", "LINGER_BYTES", "WRITE_TIMEOUT", "Connection", "HttpConnection", "HttpsConnection"]

LINGER = 2.0  # seconds to drain the client's last bytes after our response
LINGER_BYTES = 1 << 18
WRITE_TIMEOUT = 15.0  # for the client to take a response
_TLS1_0 = 0x0301
_HTTP_ON_TLS = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO", b"DELET", b"PATCH", b"CONNE")
_HTTP_ON_TLS_ANSWER = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
_EARLY_DATA = ExtensionType.early_data  # (read for every log line: see tls/enums.py on an Enum class's attributes)

# Phases (plain ints: compared on every callback). The first one after admission is the class's ``first_phase``.
_START, _HANDSHAKE, _REQUEST, _FINISH, _LINGER, _CLOSED = range(6)


def _printable(text: str, limit: int = 200) -> str:
    """``text`` for the log line: at most ``limit`` characters, controls, quotes and non-ASCII as "?"."""
    text = text[:limit]
    if text.isascii() and text.isprintable() and '"' not in text:  # (the usual case, at C speed)
        return text
    return "".join(c if " " <= c < "\x7f" and c != '"' else "?" for c in text)


_NEGOTIATED: dict[tuple[int, int, int | None], str] = {}  # (few: the server's versions x suites x groups)


def _negotiated(version: int, suite: int, group: int | None) -> str:
    """The log line's ``version=... suite=... group=...`` (made once per combination)."""
    key = (version, suite, group)
    text = _NEGOTIATED.get(key)
    if text is None:
        name = version_name(version).replace(" ", "")
        group_name = name_of(NamedGroup, group) if group is not None else "-"
        text = f"version={name} suite={suite_name(suite)} group={group_name}"
        if len(_NEGOTIATED) < 256:
            _NEGOTIATED[key] = text
    return text


def describe(exc: BaseException) -> str:
    """A connection's failure, for its log line."""
    if isinstance(exc, TlsError):
        return f"tls: {exc}"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionError | OSError):
        return f"connection: {exc}"
    return f"internal: {type(exc).__name__}: {exc}"


def _peer(transport: asyncio.BaseTransport) -> tuple[str, str]:
    """(the client's address, ``address:port`` for the log)."""
    addr = transport.get_extra_info("peername")
    if not isinstance(addr, tuple) or len(addr) < 2:
        return str(addr), str(addr)
    host, port = str(addr[0]), addr[1]
    return host, f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _no_deadline() -> None:
    """A closed connection's deadline callback (see Connection.connection_lost)."""


class Connection(asyncio.Protocol):
    """What both listeners' connections share: admission through the server,
    the one timer, linger, and the log line."""

    kind = ""
    first_phase = _REQUEST
    # the deadline (set by _arm with the timer, read when the timer fires): when the loop's timer is
    # due, the deadline itself (that or later) and what runs then
    _timer_at: float
    _deadline: float
    _on_deadline: Callable[[], None]

    def __init__(self, server: Server) -> None:
        self.server = server
        self.settings: ServerSettings = server.settings  # a reload serves the connections that follow
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.host = self.peer = ""
        self.start = 0.0
        self.phase = _START
        self.admitted = False
        self.busy = False  # a request (or handshake) is under way: shutdown waits for it
        self.error = ""
        self.requests: list[tuple[str, int]] = []  # (method and target, status)
        self._timer: asyncio.TimerHandle | None = None
        self._drained = 0
        self._written_at = 0.0

    # ---------------------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's TCP transports are asyncio.Transport in all but name: not subclasses)
        self.transport = transport = cast(asyncio.Transport, transport)
        self.start = time.monotonic()
        try:
            self.host, self.peer = _peer(transport)
            if self.server.admit(self):
                self.admitted = True
                self.phase = self.first_phase
                self._arm(self.settings.handshake_timeout, self._on_first_timeout)
                return
        except Exception as exc:  # a connection's failure must never reach the loop
            self.error = describe(exc)
        self.phase = _CLOSED
        transport.abort()

    def data_received(self, data: bytes) -> None:
        phase = self.phase
        if phase == _LINGER:
            self._drained += len(data)
            if self._drained >= LINGER_BYTES:
                self._close()
            return
        if phase == _CLOSED:
            return
        try:
            self._on_data(data)
        except Exception as exc:  # a connection's failure must never reach the loop
            self.fail(describe(exc))

    def eof_received(self) -> bool:
        if self.phase not in (_LINGER, _CLOSED):
            try:
                self._on_data(b"")
            except Exception as exc:
                self.fail(describe(exc))
        if self.phase != _CLOSED:
            self._close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # the deadline's callback is one of this connection's bound methods: dropped, so that the
        # connection is freed when its last reference goes, not by the cycle collector's next pass
        # (a connection's engine and buffers held that long: +2.5 MiB of peak RSS under load)
        self._on_deadline = _no_deadline
        if exc is not None and self.phase not in (_LINGER, _CLOSED) and not self.error:
            self.error = describe(exc)
        self.phase = _CLOSED
        if self.admitted:
            self.admitted = False
            self.server.release(self)

    # ---------------------------------------------------------------- for subclasses and the server

    def _on_data(self, data: bytes) -> None:
        """Handle received bytes (``b""``: EOF)."""
        raise NotImplementedError

    def _flush(self) -> None:
        """Write what is still queued for the client (before the half-close)."""

    def _on_first_timeout(self) -> None:
        """The first deadline (``handshake_timeout``) passed."""
        raise NotImplementedError

    def log_fields(self) -> list[str]:
        """The fields of the log line between the peer and the requests."""
        raise NotImplementedError

    def log_line(self) -> str:
        ms = (time.monotonic() - self.start) * 1000
        parts = [f"worker={self.settings.worker}", f"peer={self.peer}", *self.log_fields()]
        for req, status in self.requests:
            parts += [f'request="{req}"', f"status={status}"]
        if self.error:
            parts.append(f'error="{self.error}"')
        parts.append(f"ms={ms:.1f}")
        return " ".join(parts)

    def shut_down(self) -> None:
        """Server shutdown: drop the connection now."""
        self.fail("cancelled (shutdown)")

    def fail(self, error: str) -> None:
        """Drop the connection at once (``transport.abort``: what is still unsent is discarded),
        with ``error`` for the log (unless it already has one)."""
        self.error = self.error or error
        self.phase = _CLOSED
        if self.transport is not None:
            self.transport.abort()

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        """The connection's one deadline, ``delay`` seconds from now, replacing the one before:
        ``callback`` runs then. The loop's timer moves only when the new deadline comes sooner; a
        timer due earlier is kept and, when it fires, waits on for the rest (:meth:`_expired`): the
        request's deadline follows the handshake's without a timer call of its own."""
        loop = self.loop
        deadline = loop.time() + delay
        self._deadline, self._on_deadline = deadline, callback
        timer = self._timer
        if timer is not None:
            if self._timer_at <= deadline:
                return
            timer.cancel()
        self._timer_at = deadline
        self._timer = loop.call_at(deadline, self._expired)

    def _expired(self) -> None:
        deadline = self._deadline
        if deadline > self._timer_at:  # a later deadline replaced the one this timer was set for
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._expired)
            return
        self._timer = None
        try:
            self._on_deadline()
        except Exception as exc:  # a connection's failure must never reach the loop
            self.fail(describe(exc))

    def _close(self) -> None:
        """Close once what was written is sent (dropped if that takes :data:`WRITE_TIMEOUT`)."""
        self.phase = _CLOSED
        transport = self.transport
        assert transport is not None
        transport.close()
        if transport.get_write_buffer_size():
            self._arm(WRITE_TIMEOUT, self._on_write_timeout)

    def _linger(self) -> None:
        """The answer is written: half-close, then drain the client's last bytes for a moment."""
        self._flush()
        transport = self.transport
        assert transport is not None
        self.phase = _LINGER
        self._written_at = time.monotonic()
        if transport.can_write_eof():
            try:
                transport.write_eof()
            except OSError:
                pass
        self._arm(LINGER, self._linger_over)

    def _linger_over(self) -> None:
        transport = self.transport
        assert transport is not None
        left = WRITE_TIMEOUT - (time.monotonic() - self._written_at)
        if not transport.get_write_buffer_size():
            self._close()
        elif left > 0:  # the client still has not taken the whole answer
            self._arm(min(left, LINGER), self._linger_over)
        else:
            self.fail("timeout")

    def _on_write_timeout(self) -> None:
        self.fail("timeout")


class HttpsConnection(Connection):
    """One HTTPS connection; see the module docstring."""

    kind = "https"
    first_phase = _HANDSHAKE

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.tls: ServerConnection | None = None
        self.pump: Pump | None = None
        self.info: TlsInfo | None = None
        self.http: RequestReader | None = None
        self.h2: H2Session | None = None  # HTTP/2, when the client's ALPN picked h2
        self._h2_waiting = False  # its answers wait for the client's flow-control window

    def _on_first_timeout(self) -> None:
        self.fail("handshake timeout")

    def _on_data(self, data: bytes) -> None:
        phase = self.phase
        if phase == _REQUEST:
            if self._feed_tls(data, self._fail_now):
                self._read_request()
        elif phase == _HANDSHAKE:
            self._handshake(data)
        elif phase == _FINISH:
            if self._feed_tls(data, self._finish_failed):
                self._finish()
        self._flush()

    def _flush(self) -> None:
        """Send what the engine has queued. Called once a callback is done with the engine, so that
        what one chunk of input makes it say (tickets, then the response) goes out in one write."""
        tls = self.tls
        if tls is not None and self.phase not in (_LINGER, _CLOSED):
            out = tls.data_to_send()
            if out:
                self._write(out)

    def _handshake(self, data: bytes) -> None:
        pump = self.pump
        if pump is None:
            if not data:
                self.error = "closed before the handshake"
                return
            self.busy = True
            if data[:5] in _HTTP_ON_TLS:
                self.error = "plain HTTP on the TLS port"
                self._write(_HTTP_ON_TLS_ANSWER)
                self._linger()
                return
            self.tls = ServerConnection(self.settings.tls)
            self.pump = pump = Pump(self.tls)
        if not self._feed_tls(data, self._handshake_failed):
            return
        if pump.handshake is not None or (self.settings.tls.send_half_rtt_data and pump.early_data):
            self.info = info = self._tls_info()
            self.phase = _REQUEST
            self._arm(self.settings.read_timeout, self._on_read_timeout)
            if info.alpn_protocol == "h2":
                self._start_h2(info)
            else:
                self.http = RequestReader()
            self._read_request()
        elif pump.eof:
            self.fail("connection: connection closed by peer")

    def _feed_tls(self, data: bytes, on_error: Callable[[TlsError], None]) -> bool:
        """Give bytes to the engine (its answer waits for :meth:`_flush`); False if it failed
        (its alert was sent and ``on_error`` called)."""
        pump, tls = self.pump, self.tls
        assert pump is not None and tls is not None
        try:
            pump.feed(data)
        except TlsError as exc:
            self._write(tls.data_to_send())  # the alert
            on_error(exc)
            return False
        return True

    def _handshake_failed(self, exc: TlsError) -> None:
        self.error = describe(exc)
        self._linger()  # the alert was queued: let it reach the client

    def _fail_now(self, exc: TlsError) -> None:
        self.fail(describe(exc))

    def _tls_info(self, first_app_data_length: int | None = None) -> TlsInfo:
        """What routing sees (all set once the ClientHello was answered, so also before the client's Finished)."""
        tls, pump = self.tls, self.pump
        assert tls is not None and pump is not None
        assert tls.negotiated_version is not None and tls.cipher_suite is not None
        return TlsInfo(
            tls.client_hello_raw, tls.negotiated_version, tls.cipher_suite, tls.group, tls.server_name,
            tls.alpn_protocol, tls.resumed, len(pump.early_data), self.peer, self.settings.worker, tls.client_hello,
            first_app_data_length,
        )  # fmt: skip

    def _on_read_timeout(self) -> None:
        self.fail("timeout waiting for the request")

    def _start_h2(self, info: TlsInfo) -> None:
        from .h2conn import H2Session  # (only here: HTTP/1.1 never loads h2)

        tls = self.tls
        assert tls is not None
        self.h2 = H2Session(info, self.settings.app, self._note)
        tls.send_application_data(self.h2.start())

    def _note(self, request: Request, status: int) -> None:
        self.requests.append((_printable(f"{request.method} {request.target}"), status))

    def _read_h2(self, session: H2Session) -> None:
        """HTTP/2: the client's bytes to the session, its answers to the engine (sent by :meth:`_flush`);
        the end once the session said GOAWAY or the client closed."""
        pump, tls = self.pump, self.tls
        assert pump is not None and tls is not None
        while pump.buffered and not session.closed:
            out = session.receive(pump.read(pump.buffered))
            if out:
                tls.send_application_data(out)
        if not session.closed and pump.finished:  # the client left (close_notify or EOF): nothing more to say
            self.error = self.error or ("" if self.requests else "closed before a request")
            self._close()
            return
        if session.closed:
            self.error = self.error or session.error
            self._end_response()
        elif session.waiting and not self._h2_waiting:  # (armed once: frames do not push it back)
            self._h2_waiting = True
            self._arm(WRITE_TIMEOUT, self._on_write_timeout)

    def _read_request(self) -> None:
        if self.h2 is not None:
            self._read_h2(self.h2)
            return
        pump, http, info = self.pump, self.http, self.info
        assert pump is not None and http is not None and info is not None
        request: Request | None = None
        try:
            while request is None:
                if pump.buffered:
                    data = pump.read(pump.buffered)
                elif pump.finished:
                    data = b""
                else:
                    return
                request = http.feed(data)
            if info.version <= _TLS1_0:  # howsmyssl's BEAST check reads the first record's length
                info = self._tls_info(self.tls.first_app_data_length)  # type: ignore[union-attr]
            response = route(request, info, self.settings.app)
            self.requests.append((_printable(f"{request.method} {request.target}"), response.status))
            out = response.encode(request)
        except EOFError:
            self.error = "closed before a request"
            self._close()
            return
        except HttpError as exc:
            self.requests.append(("-", exc.status))
            out = error_response(exc.status)
        self._respond(out)

    def _respond(self, out: bytes) -> None:
        tls = self.tls
        assert tls is not None
        tls.send_application_data(out)  # before the client's Finished: sent at once as 0.5-RTT data
        self._end_response()

    def _end_response(self) -> None:
        """The answer is queued: close_notify, then linger (or finish the handshake first)."""
        tls, pump = self.tls, self.pump
        assert tls is not None and pump is not None
        tls.close()
        self._write(tls.data_to_send())
        if pump.handshake is None:  # answered 0-RTT data: finish the handshake (then tickets and close_notify)
            self.phase = _FINISH
            self._written_at = time.monotonic()
            handshake_left = self.start + self.settings.handshake_timeout - self._written_at
            self._arm(max(handshake_left, 1.0), self._on_finish_timeout)
        else:
            self._linger()

    def _finish(self) -> None:
        pump = self.pump
        assert pump is not None
        if pump.handshake is not None:
            self._linger()
        elif pump.eof:
            self.fail("connection: connection closed by peer")

    def _finish_failed(self, exc: TlsError) -> None:
        self.error = describe(exc)
        self._linger()

    def _on_finish_timeout(self) -> None:
        self.error = "handshake timeout"  # after the response: close, do not drop it
        self._linger()

    def _write(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None
        transport.write(data)

    def log_fields(self) -> list[str]:
        tls, pump = self.tls, self.pump
        if self.info is None or tls is None or pump is None:
            return ["sni=-", "version=-", "suite=-", "group=-", "resumed=no", "early_data=no"]
        assert tls.cipher_suite is not None
        if tls.early_data_accepted:
            early = f"accepted:{len(pump.early_data)}"
        elif tls.client_hello is not None and tls.client_hello.ext(_EARLY_DATA) is not None:
            early = "rejected"
        else:
            early = "no"
        negotiated = _negotiated(self.info.version, tls.cipher_suite, tls.group)
        fields = [f"sni={_printable(tls.server_name or '-')}", negotiated, f"resumed={'yes' if tls.resumed else 'no'}",
                  f"early_data={early}"]  # fmt: skip
        if self.h2 is not None:
            fields.append("proto=h2")
        return fields


class HttpConnection(Connection):
    """One connection to the plain-HTTP listener: requests (keep-alive) until one
    asks to close, or the client goes idle; see the module docstring."""

    kind = "http"

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.http = RequestReader()
        self._pending = b""  # what followed the last request, while the client is not taking answers
        self._paused = False

    def _on_first_timeout(self) -> None:
        if self.http.started:
            self.fail("timeout waiting for the request")
        elif not self.requests:
            self.fail("idle timeout")
        else:  # an idle keep-alive connection just ends
            self._close()

    def _on_data(self, data: bytes) -> None:
        while True:  # a loop, not recursion: one chunk may hold thousands of pipelined requests
            http = self.http
            if data and not http.started:  # a request began: the idle wait is over
                self.busy = True
                self._arm(self.settings.read_timeout, self._on_first_timeout)
            try:
                request = http.feed(data)
            except EOFError:
                self._close()
                return
            except HttpError as exc:
                self.requests.append(("-", exc.status))
                self._write_answer(error_response(exc.status))
                self._linger()
                return
            if request is None:
                return
            response = route_plain(request, self.settings.app)
            self.requests.append((_printable(f"{request.method} {request.target}"), response.status))
            self._write_answer(response.encode(request))
            if not request.keep_alive:
                self._linger()
                return
            data = http.leftover
            self.http = RequestReader()
            self.busy = False
            self._arm(self.settings.handshake_timeout, self._on_first_timeout)
            if self._paused:  # (the answer filled the write buffer) the rest waits for resume_writing
                self._pending = data
                return
            if not data:
                return

    def _write_answer(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None
        transport.write(data)

    def pause_writing(self) -> None:
        """The client is not taking its answers: read no more requests until it does."""
        transport = self.transport
        if transport is not None and self.phase == _REQUEST:
            self._paused = True
            transport.pause_reading()
            self._arm(WRITE_TIMEOUT, self._on_write_timeout)

    def resume_writing(self) -> None:
        transport = self.transport
        if transport is None or not self._paused or self.phase != _REQUEST:
            return
        self._paused = False
        transport.resume_reading()
        self._arm(self.settings.handshake_timeout, self._on_first_timeout)
        pending, self._pending = self._pending, b""
        if pending:
            try:
                self._on_data(pending)
            except Exception as exc:
                self.fail(describe(exc))

    def log_fields(self) -> list[str]:
        return ["proto=http"]
