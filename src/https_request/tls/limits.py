"""Every bound on what a peer can make the engine hold or repeat, in one place.

A peer decides how many records, messages and bytes it sends; each list,
buffer or counter that grows with them has a limit here, and passing it
fails the connection with a :class:`~.errors.TlsError` whose reason picks the
alert (:data:`~.errors.ALERT_FOR_REASON`), or, for the caller's own misuse,
raises :class:`~.errors.LocalProtocolError`. Both sides (client and server,
TLS 1.3 and 1.2) apply the same limits.

Sizes
    ``MAX_PLAINTEXT`` / ``MAX_CIPHERTEXT``: one record (RFC 8446 5.1 / 5.2);
    the record buffer holds at most one incomplete record between two
    ``receive_data`` calls, and a header announcing more is refused at once
    (``record_overflow``).
    ``MAX_HANDSHAKE_MESSAGE``: the handshake reassembly buffer; a message
    header announcing more is refused at once (``decode_error``).
    ``MAX_CERTIFICATE_CHAIN``: certificates in one Certificate message, either
    side (``bad_certificate``); real chains have 2-5, mbedTLS verifies at
    most 8 intermediates.
    Cookies, tickets, extensions, key shares and PSK identities are bounded by
    their own u16 length fields inside that message, the HelloRetryRequest
    (and so its cookie) happens once, and the client keeps only its newest
    ticket (``ClientConnection.session``).

Runs of records that carry no application data (reset by each application
data record with content and at the end of the handshake; OpenSSL, Go and
BoringSSL bound the same things)
    ``MAX_POST_HANDSHAKE_MESSAGES``: handshake messages after the handshake
    (NewSessionTicket, KeyUpdate, TLS 1.2 HelloRequest or renegotiating
    ClientHello); each may make us derive keys or answer
    (``unexpected_message``). 32 is OpenSSL's KeyUpdate limit and what
    tlsfuzzer's "multiple KeyUpdate messages" sends.
    ``MAX_EMPTY_RECORDS``: zero-length application data records and, during a
    TLS 1.3 handshake, ignored compatibility change_cipher_spec records
    (``unexpected_message``; OpenSSL's and BoringSSL's 32).
    ``MAX_WARNING_ALERTS``: warning alerts (TLS 1.2 warnings, TLS 1.3
    user_canceled); the next one is ``unexpected_message`` (OpenSSL closes at
    the fifth).

The caller's side
    ``MAX_UNREAD_EVENTS`` / ``MAX_UNREAD_BYTES``: events (and application data
    bytes in them) waiting in the event queue; ``receive_data`` refuses more
    input with LocalProtocolError until ``next_event`` drains them, so a
    caller that never reads cannot be made to buffer without end.
    ``MAX_TICKETS_KEPT``: session tickets a driver (``io.pump.Pump``) keeps,
    the newest (rustls keeps 8 per server); ``MAX_EVENTS_KEPT``: KeyUpdate
    and warning-alert records a driver keeps, the newest.

Bounded elsewhere, by configuration: early data (``ServerConfig.max_early_data``
accepted, and at most that or 18 KiB of rejected early data skipped), the
server's TLS 1.2 session-ID cache and 0-RTT anti-replay record (their
``max_entries``, :mod:`.session`).
"""

from __future__ import annotations

__all__ = [
    "MAX_CERTIFICATE_CHAIN",
    "MAX_CIPHERTEXT",
    "MAX_EMPTY_RECORDS",
    "MAX_EVENTS_KEPT",
    "MAX_HANDSHAKE_MESSAGE",
    "MAX_PLAINTEXT",
    "MAX_POST_HANDSHAKE_MESSAGES",
    "MAX_TICKETS_KEPT",
    "MAX_UNREAD_BYTES",
    "MAX_UNREAD_EVENTS",
    "MAX_WARNING_ALERTS",
]

MAX_PLAINTEXT = 1 << 14
MAX_CIPHERTEXT = MAX_PLAINTEXT + 256
MAX_HANDSHAKE_MESSAGE = 1 << 18
MAX_CERTIFICATE_CHAIN = 16
MAX_POST_HANDSHAKE_MESSAGES = 32
MAX_EMPTY_RECORDS = 32
MAX_WARNING_ALERTS = 4
MAX_UNREAD_EVENTS = 4096
MAX_UNREAD_BYTES = 1 << 20
MAX_TICKETS_KEPT = 8
MAX_EVENTS_KEPT = 32
