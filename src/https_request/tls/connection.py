"""The sans-I/O connection: record layer, alerts, events, state dispatch.

Theory of operation
-------------------
A connection is fed bytes with :meth:`Connection.receive_data` (``b""`` means
the transport reached EOF) and processes them at once: complete records are
deprotected, handshake messages reassembled and dispatched through the
``EXPECTED_*`` table of :mod:`.states` to one handler per message. A handler
returns the next state; only :meth:`_set_state` assigns it (and logs it the
way mbedTLS does). What the connection wants to send accumulates and is
drained with :meth:`data_to_send`; what the application should see queues up
as events for :meth:`next_event`.

Outgoing handshake messages of one flight are coalesced: they collect in a
plaintext buffer that becomes as few records as fit whenever the write keys
change or processing ends.

Bounds: whatever the peer can make us hold or repeat is limited by
:mod:`.limits`: records and handshake messages by size, runs of records that
carry no application data (post-handshake messages, empty records) by count,
warning alerts by count over the whole connection, KeyUpdates by a budget
that application data records refill, nothing accepted after close_notify,
certificate chains by length, and the event queue: while
the caller leaves more than ``MAX_UNREAD_EVENTS`` events or
``MAX_UNREAD_BYTES`` of application data in it, :meth:`Connection.receive_data`
takes no more input.

Errors: every failure is a :class:`TlsError`. The first one queues at most one
fatal alert (chosen by the error's reason, see :mod:`.errors`), poisons the
connection and propagates; every later call raises :class:`ConnectionPoisoned`.
Anything else escaping a handler is turned into an ``internal_error`` so that
arbitrary peer bytes can only ever produce the engine's own errors.

Subclasses (:mod:`.client13`, :mod:`.server13`) supply the handlers.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, ClassVar

from ..wire import DecodeError
from .config import ClientConfig, ServerConfig
from .device import Device, DeviceStats
from .enums import AlertDescription, AlertLevel, ContentType, HandshakeType, ProtocolVersion, name_of
from .errors import TLS12_ALERT, AlertReceived, ConnectionPoisoned, LocalProtocolError, Reason, TlsError
from .events import (
    NEED_DATA,
    AlertReceivedEvent,
    ApplicationData,
    CloseNotify,
    ConnectionClosed,
    EarlyDataReceived,
    Event,
    HandshakeComplete,
    KeyUpdated,
    NeedData,
)
from .keyschedule import next_traffic_secret
from .limits import (
    MAX_CERTIFICATE_CHAIN,
    MAX_EMPTY_RECORDS,
    MAX_KEY_UPDATES,
    MAX_PLAINTEXT,
    MAX_POST_HANDSHAKE_MESSAGES,
    MAX_UNREAD_BYTES,
    MAX_UNREAD_EVENTS,
    MAX_WARNING_ALERTS,
    RECORDS_PER_KEY_UPDATE,
)
from .messages import KeyUpdate, handshake_message
from .protection import Protector
from .record import HandshakeJoiner, RecordReader, fragment, record_payloads
from .states import HsState
from .suites import SuiteParams

if TYPE_CHECKING:
    from .protection12 import Protector12  # TLS 1.2's records: imported by the TLS 1.2 halves

__all__ = ["Connection"]

# compared per record and per message: read from globals (see enums.py on an Enum class's attributes)
_HANDSHAKE = ContentType.HANDSHAKE
_ALERT = ContentType.ALERT
_CCS = ContentType.CHANGE_CIPHER_SPEC
_APPLICATION_DATA = ContentType.APPLICATION_DATA
_OVER = HsState.HANDSHAKE_OVER
_HELLO_REQUEST = HsState.HELLO_REQUEST
_CLIENT_HELLO = HsState.CLIENT_HELLO
_TLS13 = ProtocolVersion.TLS1_3
_TLS10 = ProtocolVersion.TLS1_0  # (_seal_app's, on every write)
# read once or twice on every connection (its close_notify each way, a client's compatibility CCS)
_WARNING = AlertLevel.WARNING
_CLOSE_NOTIFY = AlertDescription.close_notify
_CLOSE_NOTIFY_EVENT = CloseNotify()  # (frozen and fieldless: every connection's is this one)


def _label(handler: str) -> str:
    """'_parse_server_hello' -> 'parse server hello' (mbedTLS wording)."""
    return handler.lstrip("_").replace("_", " ")


class Connection:
    """Shared machinery of client and server connections."""

    is_client: ClassVar[bool]
    _expected_initial: ClassVar[dict[HsState, dict[int, str]]]

    def __init__(self, config: ClientConfig | ServerConfig) -> None:
        self._cfg = config
        self._dbg = config.debug
        self._records = RecordReader()
        self._joiner = HandshakeJoiner()
        self._out = bytearray()
        self._hs_out = bytearray()
        self._events: deque[Event] = deque()
        self._read: Protector | Protector12 | None = None
        self._write: Protector | Protector12 | None = None
        # which message each state accepts; switched to the TLS 1.2 table when that version is chosen
        self._expected: dict[HsState, dict[int, str]] = self._expected_initial
        self._hello_version = b"\x03\x01"
        self._record_version = b"\x03\x03"  # every other record's; TLS 1.0/1.1 once chosen: theirs
        self._suite: SuiteParams | None = None
        self._error: TlsError | None = None
        self._eof = False
        self._peer_closed = False
        self._closed = False
        self._close_after_handshake = False
        self._pending_app = bytearray()
        self._skip_budget = 0  # server: bytes of rejected early data it may still discard
        self._plain_hs_sent = False  # a plaintext handshake record went out (a later ClientHello is a retry)
        self._ccs_seen = False  # TLS 1.3: a compatibility change_cipher_spec arrived
        self._hs_done = 0  # bytes of _hs_out written by handshake messages that were fully processed
        self._device: Device | None = None  # a client profile's device limits (tls.device)
        self.device_stats: DeviceStats | None = None  # what came near them (with _device)
        self._renegotiating = False  # a TLS 1.2 client renegotiating (a device profile's)
        self._renegotiations = 0  # renegotiations since the last application data (limits.MAX_RENEGOTIATIONS)
        # runs since the last application data record with content (bounded in .limits)
        self._post_hs_run = 0  # handshake messages after the handshake
        self._empty_run = 0  # empty application data records, ignored TLS 1.3 change_cipher_spec
        self._warnings = 0  # warning alerts over the whole connection
        self._key_update_budget = MAX_KEY_UPDATES  # KeyUpdates we may still receive
        self._data_records = 0  # application data records towards the next KeyUpdate of budget
        self.state = _HELLO_REQUEST
        self.client_random = b""
        # negotiated parameters
        self.negotiated_version: int | None = None
        self.cipher_suite: int | None = None
        self.group: int | None = None
        self.alpn_protocol: str | None = None
        self.resumed = False
        self.early_data_accepted = False
        self.server_name: str | None = None
        self.peer_certificates: tuple[bytes, ...] = ()
        # plaintext length of the peer's first application data record (a howsmyssl server reads
        # TLS 1.0 clients' 1/n-1 record splitting from it); None until one arrives
        self.first_app_data_length: int | None = None
        self._app_read_secret = b""
        self._app_write_secret = b""

    # ------------------------------------------------------------------ API

    @property
    def _pre13(self) -> bool:
        """A version before TLS 1.3 was chosen (1.2, or 1.0/1.1 on a server configured for them)."""
        v = self.negotiated_version
        return v is not None and v < _TLS13

    @property
    def is_handshaking(self) -> bool:
        return self.state != _OVER

    @property
    def closed(self) -> bool:
        """True once we sent close_notify or the connection failed."""
        return self._closed or self._error is not None

    @property
    def error(self) -> TlsError | None:
        return self._error

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the transport (``b""`` = EOF) and process them.

        Raises TlsError (after queueing the alert to send) when the peer's
        bytes are not acceptable, ConnectionPoisoned if the connection had
        already failed, and LocalProtocolError (taking nothing) while the
        event queue holds more than the caller may leave in it (see
        :mod:`.limits`): drain :meth:`next_event`, then feed the bytes again.
        """
        self._check_usable()
        if data and self._events:
            self._check_drained()
        if self._eof:
            if data:
                raise LocalProtocolError("data received after EOF")
            return
        try:
            if data:
                self._records.feed(data)
                self._process_records()
            else:
                self._eof = True
                self._on_eof()
            self._flush_handshake()
        except TlsError as exc:
            self._fail(exc)
        except DecodeError as exc:
            self._fail(TlsError(Reason.DECODE, str(exc)))
        except (ValueError, IndexError, KeyError, OverflowError, TypeError, AttributeError) as exc:
            self._fail(TlsError(Reason.INTERNAL, f"{type(exc).__name__}: {exc}"), exc)

    def next_event(self) -> Event | NeedData:
        """The next event, or NEED_DATA. Raises ConnectionPoisoned after a failure."""
        if self._events:
            return self._events.popleft()
        self._check_usable()
        return NEED_DATA

    def data_to_send(self) -> bytes:
        """Drain the bytes queued for the transport (alerts included after a failure)."""
        out = bytes(self._out)
        self._out.clear()
        return out

    @property
    def renegotiating(self) -> bool:
        """A TLS 1.2 renegotiation is under way (a device profile's client answering a
        HelloRequest); application data sent meanwhile waits for its end, as
        ``mbedtls_ssl_write`` finishes the handshake first."""
        return self._renegotiating

    def send_application_data(self, data: bytes) -> None:
        """Queue application data; buffered until the handshake completes
        (clients configured for 0-RTT send it as early data when allowed).

        Raises LocalProtocolError after close(), ConnectionPoisoned after a failure.
        """
        self._check_usable()
        if self._closed:
            raise LocalProtocolError("connection closed for writing")
        if not data:
            return
        if self.state == _OVER:
            self._seal_app(data)
        elif not self._try_early_data(data):
            self._pending_app += data

    def close(self) -> None:
        """Send close_notify; further writes are refused."""
        if self._error is not None or self._closed:
            return
        self._closed = True
        if self.state != _OVER and (self._pending_app or self._defer_close()):
            self._close_after_handshake = True  # close_notify follows the handshake and buffered data
            return
        self._flush_handshake()
        self._send_alert(_WARNING, _CLOSE_NOTIFY)

    def update_keys(self, request_peer: bool = False) -> None:
        """Send a KeyUpdate and switch our sending keys (RFC 8446 4.6.3)."""
        self._check_usable()
        if self.state != _OVER or self.negotiated_version != _TLS13:
            raise LocalProtocolError("KeyUpdate needs an established TLS 1.3 connection")
        if self._closed:  # nothing may follow our close_notify
            raise LocalProtocolError("connection closed for writing")
        self._write_key_update(1 if request_peer else 0)

    # ------------------------------------------------------ subclass hooks

    def _try_early_data(self, data: bytes) -> bool:
        return False

    def _on_handshake_complete(self) -> None:
        pass

    def _defer_close(self) -> bool:
        """True when close() during the handshake must wait for its end."""
        return False

    # --------------------------------------------------------- internals

    def _check_usable(self) -> None:
        if self._error is not None:
            raise ConnectionPoisoned(self._error)

    def _check_drained(self) -> None:
        events = self._events
        unread = sum(len(e.data) for e in events if isinstance(e, ApplicationData | EarlyDataReceived))
        if len(events) > MAX_UNREAD_EVENTS or unread > MAX_UNREAD_BYTES:
            raise LocalProtocolError(
                f"{len(events)} events ({unread} bytes of application data) not taken with next_event(): "
                "drain them before feeding more data"
            )

    def _content_received(self) -> None:
        """Application data with content (or the end of the handshake) ends every
        run of records that carry none."""
        self._post_hs_run = self._empty_run = 0

    def _empty_record(self, what: str) -> None:
        self._empty_run += 1
        if self._empty_run > MAX_EMPTY_RECORDS:
            raise TlsError(Reason.FLOOD, f"{self._empty_run} {what} records in a row (limit {MAX_EMPTY_RECORDS})")

    def _check_chain_length(self, chain: tuple[bytes, ...]) -> None:
        """Both sides, both versions: a peer's certificate chain has a bounded length."""
        if len(chain) > MAX_CERTIFICATE_CHAIN:
            raise TlsError(
                Reason.CERT_BAD, f"certificate chain of {len(chain)} certificates (limit {MAX_CERTIFICATE_CHAIN})"
            )

    def _fail(self, exc: TlsError, cause: BaseException | None = None) -> None:
        done = bytes(self._hs_out[: self._hs_done])  # the flight answering earlier messages still goes out
        self._hs_out.clear()
        self._hs_done = 0
        if self._dbg.threshold >= 1:
            self._dbg.msg(1, f"handshake failed in state {self.state.name}: {exc}")
        alert = exc.alert
        if alert is not None and self._pre13:
            alert = TLS12_ALERT.get(alert, alert)
        if alert is not None and not isinstance(exc, AlertReceived):
            try:
                if done:
                    self._send_record(_HANDSHAKE, done)
                self._send_alert(AlertLevel.FATAL, alert)
            except TlsError:
                pass
        self._error = exc
        if cause is not None:
            raise exc from cause
        raise exc

    def _set_state(self, new: HsState) -> None:
        old = self.state
        if self._dbg.threshold >= 3 and old != new:
            self._dbg.msg(3, f"handshake state: {int(old)} ({old.name}) -> {int(new)} ({new.name})")
        self.state = new

    def _keylogging(self) -> bool:
        """Whether :meth:`_keylog` writes anywhere (a secret only logged is derived only then)."""
        return self._cfg.keylog is not None or self._dbg.threshold >= 4

    def _keylog(self, label: str, secret: bytes) -> None:
        if self._cfg.keylog is not None:
            self._cfg.keylog(f"{label} {self.client_random.hex()} {secret.hex()}")
        if self._dbg.threshold >= 4:
            self._dbg.buf(4, label, secret)

    # records out

    def _queue_handshake(self, msg_type: int, body: bytes) -> bytes:
        """Frame a handshake message, queue it and return its bytes (for the transcript).
        Raises TlsError DEVICE_MESSAGE_TOO_LARGE as :meth:`_check_device_output` says."""
        msg = handshake_message(msg_type, body)
        if self._device is not None:  # (a client profile's: no call per message otherwise)
            self._check_device_output(msg)
        if self._dbg.threshold >= 4:
            self._dbg.buf(4, f"handshake message {name_of(HandshakeType, msg_type)}", msg)
        self._hs_out += msg
        return msg

    def _check_device_output(self, msg: bytes) -> None:
        """A device profile writes each handshake message into one record of its output buffer
        (Mbed TLS 3.6.2: ``mbedtls_ssl_write_certificate``'s "certificate too large", the
        writers' ``MBEDTLS_SSL_CHK_BUF_PTR``; it never fragments a TLS handshake message): one
        longer than ``MBEDTLS_SSL_OUT_CONTENT_LEN`` is not sent, -0x6A00 BUFFER_TOO_SMALL."""
        dev = self._device
        if dev is not None and len(msg) > dev.out_content_len:
            raise TlsError(
                Reason.DEVICE_MESSAGE_TOO_LARGE,
                f"our {name_of(HandshakeType, msg[0]).title().replace('_', '')} message of {len(msg)} bytes "
                f"does not fit the device's MBEDTLS_SSL_OUT_CONTENT_LEN of {dev.out_content_len}",
            )

    def _flush_handshake(self) -> None:
        if self._hs_out:
            data = bytes(self._hs_out)
            self._hs_out.clear()
            self._hs_done = 0
            self._send_record(_HANDSHAKE, data)

    def _send_record(self, ctype: int, data: bytes) -> None:
        limit = self._cfg.max_fragment_length
        if self._write is None:
            # only the first plaintext handshake flight can be an initial ClientHello (0x0301)
            for rec in fragment(
                ctype, data, limit, retry=self._plain_hs_sent, hello_version=self._hello_version,
                version=self._record_version,
            ):  # fmt: skip
                self._emit(rec)
            self._plain_hs_sent = self._plain_hs_sent or ctype == _HANDSHAKE
            return
        for chunk in record_payloads(ctype, data, limit):
            self._emit(self._write.seal(ctype, chunk))

    def _emit(self, record: bytes) -> None:
        if self._dbg.threshold >= 4:
            self._dbg.buf(4, "output record sent to network", record)
        self._out += record

    def _send_ccs(self) -> None:
        self._flush_handshake()
        if self._renegotiating:  # TLS 1.2 renegotiation: under the keys in use
            self._send_record(_CCS, b"\x01")
            return
        self._emit(b"\x14" + self._record_version + b"\x00\x01\x01")

    def _set_write_key(self, secret: bytes | None) -> None:
        """Flush what the old keys must carry, then switch (None = plaintext)."""
        self._flush_handshake()
        assert self._suite is not None
        self._write = Protector(self._suite, secret) if secret is not None else None

    def _set_read_key(self, secret: bytes) -> None:
        # RFC 8446 5.1: a key change must fall on a record boundary.
        if not self._joiner.empty:
            raise TlsError(Reason.UNEXPECTED_MESSAGE, "handshake message spans a key change")
        assert self._suite is not None
        self._read = Protector(self._suite, secret)

    def _send_alert(self, level: int, desc: int) -> None:
        if self._dbg.threshold >= 2:
            self._dbg.msg(2, f"send alert message: level {level}, description {desc}")
        self._send_record(_ALERT, bytes((level, desc)))

    def _seal_app(self, data: bytes) -> None:
        limit = min(self._cfg.max_fragment_length, MAX_PLAINTEXT)
        if self.negotiated_version == _TLS10 and len(data) > 1 and self._suite and self._suite.cbc:
            # 1/n-1 record splitting against BEAST (TLS 1.0's predictable CBC IV), as Go and NSS do:
            # the first byte alone, so that the next record's IV is a MAC-randomised block
            self._send_record(_APPLICATION_DATA, data[:1])
            data = data[1:]
        for off in range(0, len(data), limit):
            self._send_record(_APPLICATION_DATA, data[off : off + limit])

    def _complete_handshake(self) -> None:
        """Enter HANDSHAKE_OVER, report it and release buffered application data."""
        self._set_state(_OVER)
        self._content_received()
        assert self.negotiated_version is not None and self.cipher_suite is not None
        self._events.append(
            HandshakeComplete(  # (every field, in order: a Struct is made fastest so)
                self.negotiated_version,
                self.cipher_suite,
                self.group,
                self.alpn_protocol,
                self.resumed,
                self.early_data_accepted,
                self.server_name,
                self.peer_certificates,
            )
        )
        self._on_handshake_complete()
        if self._pending_app:
            data = bytes(self._pending_app)
            self._pending_app.clear()
            self._seal_app(data)
        if self._close_after_handshake:
            self._close_after_handshake = False
            self._send_alert(_WARNING, _CLOSE_NOTIFY)

    # records in

    def _on_eof(self) -> None:
        if self._records.pending:
            raise TlsError(Reason.TRUNCATED, f"EOF inside a record ({self._records.pending} bytes buffered)")
        if self.state != _OVER:
            raise TlsError(Reason.TRUNCATED, f"EOF in state {self.state.name}")
        self._events.append(ConnectionClosed(self._peer_closed))  # (positional: a Struct's fast path)

    def _process_records(self) -> None:
        while self._error is None:
            rec = self._records.next_record()
            if rec is None:
                return
            ctype, header, payload = rec
            if self._dbg.threshold >= 4:
                self._dbg.buf(4, "input record from network", header + payload)
            if self._peer_closed:  # RFC 8446 6.1: nothing may follow it (not even read)
                raise TlsError(Reason.UNEXPECTED_MESSAGE, f"record of content type {ctype} after close_notify")
            if ctype == _CCS and not self._renegotiating:
                self._handle_ccs(payload)
                continue
            if self._read is not None:
                tls12 = self._pre13
                handshaking = self.state != _OVER
                if ctype == _ALERT and len(payload) == 2 and handshaking and not tls12:
                    self._handle_alert(payload)  # a peer that failed before it had our keys
                    continue
                if ctype != _APPLICATION_DATA and not tls12:
                    raise TlsError(Reason.UNEXPECTED_MESSAGE, f"unprotected record of type {ctype} after key change")
                try:
                    ctype, data = self._read.open(header, payload)
                except TlsError as exc:
                    if exc.reason is Reason.BAD_RECORD_MAC and 0 < len(payload) <= self._skip_budget:
                        self._read.seq -= 1
                        self._skip_budget -= len(payload)
                        continue
                    raise
                self._skip_budget = 0  # RFC 8446 4.2.10: the first record that opens ends the skipping
            else:
                if ctype == _APPLICATION_DATA and 0 < len(payload) <= self._skip_budget:
                    self._skip_budget -= len(payload)  # early data the server will not read
                    continue
                if len(payload) > MAX_PLAINTEXT:
                    raise TlsError(Reason.RECORD_OVERFLOW, f"plaintext record of {len(payload)} bytes")
                data = payload
            if self._device is not None:
                self._device_record(ctype, data)
            self._dispatch_record(ctype, data)

    def _handle_ccs(self, payload: bytes) -> None:
        if payload != b"\x01":
            raise TlsError(Reason.UNEXPECTED_MESSAGE, "malformed change_cipher_spec")
        if self._pre13:
            self._handle_ccs12()
            return
        # RFC 8446 5: a single 0x01 CCS may arrive during the handshake (middlebox compatibility).
        if self.state == _OVER or self.state in (_HELLO_REQUEST, _CLIENT_HELLO):
            if not (self.state == _CLIENT_HELLO and self._ccs_ok_before_hello()):
                raise TlsError(Reason.UNEXPECTED_MESSAGE, "change_cipher_spec outside the handshake")
        # a client sends it once at most (RFC 8446 D.4); refuse floods (CVE-2020-25648)
        if self._ccs_seen and not self.is_client:
            raise TlsError(Reason.UNEXPECTED_MESSAGE, "second change_cipher_spec")
        self._ccs_seen = True
        self._empty_record("ignored change_cipher_spec")

    def _handle_ccs12(self) -> None:
        """TLS 1.2: switch the read keys (the version's subclass knows when)."""
        raise TlsError(Reason.UNEXPECTED_MESSAGE, "change_cipher_spec")

    def _ccs_ok_before_hello(self) -> bool:
        return False

    def _dispatch_record(self, ctype: int, data: bytes) -> None:
        if ctype == _HANDSHAKE:
            if not data:
                raise TlsError(Reason.UNEXPECTED_MESSAGE, "empty handshake record")
            self._joiner.feed(data)
            while self._error is None:
                msg = self._joiner.next_message()
                if msg is None:
                    break
                self._handle_handshake(*msg)
            if self._device is not None and not self._device.reassembles_handshake and not self._joiner.empty:
                self._device_fragmented()
        elif ctype == _ALERT:
            self._handle_alert(data)
        elif ctype == _CCS:  # a renegotiation's, opened with the keys in use
            self._handle_ccs(data)
        elif ctype == _APPLICATION_DATA:
            if not self._joiner.empty:
                raise TlsError(Reason.UNEXPECTED_MESSAGE, "application data inside a handshake message")
            self._handle_application_data(data)
        else:
            raise TlsError(Reason.UNEXPECTED_MESSAGE, f"record of content type {ctype}")

    def _device_record(self, ctype: int, data: bytes) -> None:
        """A device profile's input buffer: the record's size noted, or refused past the limit."""
        dev, stats = self._device, self.device_stats
        assert dev is not None and stats is not None
        size = len(data)
        if size > dev.in_content_len:
            raise TlsError(
                Reason.DEVICE_RECORD_TOO_LARGE,
                f"a record of {size} bytes; the device's MBEDTLS_SSL_IN_CONTENT_LEN is {dev.in_content_len}",
            )
        if size > stats.largest_record:
            stats.largest_record = size
        if ctype == _HANDSHAKE and self._joiner.empty:  # messages that start in this record
            view = memoryview(data)
            pos = 0
            while pos + 4 <= size:
                length = int.from_bytes(view[pos + 1 : pos + 4], "big")
                if length + 4 > stats.largest_message:
                    stats.largest_message = length + 4
                    stats.largest_message_type = data[pos]
                pos += 4 + length

    def _device_fragmented(self) -> None:
        """A handshake message goes on in the next record: a device that cannot reassemble fails."""
        msg_type, length, held = self._joiner.partial()
        name = name_of(HandshakeType, msg_type).title().replace("_", "") if msg_type >= 0 else "handshake"
        size = f"of {length + 4} bytes " if length >= 0 else ""
        raise TlsError(
            Reason.DEVICE_HANDSHAKE_FRAGMENTED,
            f"the {name} message {size}does not end in the record it starts in ({held} bytes there)",
        )

    def _handle_application_data(self, data: bytes) -> None:
        if self.state != _OVER and not self._renegotiating:  # RFC 5246: data may interleave
            raise TlsError(Reason.UNEXPECTED_MESSAGE, f"application data in state {self.state.name}")
        if self.first_app_data_length is None:
            self.first_app_data_length = len(data)
        if data:
            self._content_received()
            self._renegotiations = 0
            self._data_records += 1
            if self._data_records >= RECORDS_PER_KEY_UPDATE:
                self._data_records = 0
                self._key_update_budget = min(self._key_update_budget + 1, MAX_KEY_UPDATES)
            self._events.append(ApplicationData(data))
        else:
            self._empty_record("empty application data")

    def _handle_alert(self, data: bytes) -> None:
        if not data:  # RFC 8446 5.4 (protected), 5.1 and RFC 5246 6.2.1: never sent empty
            raise TlsError(Reason.UNEXPECTED_MESSAGE, "empty alert record")
        if len(data) != 2 or not self._joiner.empty:
            raise TlsError(Reason.DECODE, "malformed alert")
        level, desc = data
        if self._dbg.threshold >= 2:
            self._dbg.msg(2, f"got an alert message, type: [{level}:{desc}]")
        if desc == _CLOSE_NOTIFY:
            if self.state != _OVER:  # the handshake cannot finish (Go: EOF)
                raise TlsError(Reason.TRUNCATED, f"close_notify in state {self.state.name}")
            self._peer_closed = True
            self._events.append(_CLOSE_NOTIFY_EVENT)
            return
        tls12 = self._pre13
        if level == _WARNING and (desc == AlertDescription.user_canceled or tls12):
            self._warnings += 1
            if self._warnings > MAX_WARNING_ALERTS:
                detail = f"{self._warnings} warning alerts (limit {MAX_WARNING_ALERTS} per connection)"
                raise TlsError(Reason.FLOOD, detail)
            self._events.append(AlertReceivedEvent(level, desc))
            return
        raise AlertReceived(desc)

    def _handle_handshake(self, msg_type: int, body: bytes, whole: bytes) -> None:
        handlers = self._expected.get(self.state)
        name = handlers.get(msg_type) if handlers else None
        if name is None:
            raise TlsError(
                Reason.UNEXPECTED_MESSAGE,
                f"{name_of(HandshakeType, msg_type)} in state {self.state.name}",
            )
        if self.state == _OVER:
            self._post_hs_run += 1
            if self._post_hs_run > MAX_POST_HANDSHAKE_MESSAGES:
                raise TlsError(
                    Reason.FLOOD,
                    f"{self._post_hs_run} handshake messages after the handshake without application data "
                    f"(limit {MAX_POST_HANDSHAKE_MESSAGES}), the last a {name_of(HandshakeType, msg_type)}",
                )
        dbg = self._dbg.threshold >= 2
        if dbg:
            self._dbg.msg(2, f"=> {_label(name)}")
        new_state: HsState = getattr(self, name)(body, whole)
        if dbg:
            self._dbg.msg(2, f"<= {_label(name)}")
        self._set_state(new_state)
        self._hs_done = len(self._hs_out)

    # KeyUpdate (both sides, RFC 8446 4.6.3)

    def _write_key_update(self, request: int) -> None:
        if self._dbg.threshold >= 2:
            self._dbg.msg(2, "=> write key update")
        assert self._suite is not None
        self._queue_handshake(HandshakeType.KEY_UPDATE, KeyUpdate(request).encode())
        self._app_write_secret = next_traffic_secret(self._suite.hash_name, self._app_write_secret)
        self._set_write_key(self._app_write_secret)
        self._events.append(KeyUpdated(sending=True))
        if self._dbg.threshold >= 2:
            self._dbg.msg(2, "<= write key update")

    def _parse_key_update(self, body: bytes, whole: bytes) -> HsState:
        ku = KeyUpdate.decode(body)
        self._key_update_budget -= 1
        if self._key_update_budget < 0:
            raise TlsError(
                Reason.FLOOD,
                f"KeyUpdate beyond the budget ({MAX_KEY_UPDATES} at once, then one per "
                f"{RECORDS_PER_KEY_UPDATE} records of application data)",
            )
        assert self._suite is not None
        self._app_read_secret = next_traffic_secret(self._suite.hash_name, self._app_read_secret)
        self._set_read_key(self._app_read_secret)
        self._events.append(KeyUpdated(sending=False))
        if ku.request_update == 1 and not self._closed:
            self._write_key_update(0)
        return _OVER
