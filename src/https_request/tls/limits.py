"""Every bound on what a peer can make the engine hold or repeat, in one place.

A peer decides how many records, messages and bytes it sends; each list,
buffer or counter that grows with them has a limit here, and passing it
fails the connection with a :class:`~.errors.TlsError` whose reason picks the
alert (:data:`~.errors.ALERT_FOR_REASON`), or, for the caller's own misuse,
raises :class:`~.errors.LocalProtocolError`. Both sides (client and server,
TLS 1.3 and 1.2) apply the same limits.

Sizes
    ``MAX_PLAINTEXT`` / ``MAX_CIPHERTEXT``: one record (RFC 8446 5.1 / 5.2);
    ``MAX_CIPHERTEXT12`` once TLS 1.2 or below is chosen (RFC 5246 6.2.3: 2^14 +
    2048, room for up to 255 bytes of CBC padding on a full record);
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
    (``unexpected_message``). 32 is BoringSSL's KeyUpdate limit
    (``kMaxKeyUpdates``) and what tlsfuzzer's "multiple KeyUpdate messages"
    sends.
    ``MAX_EMPTY_RECORDS``: zero-length application data records and, during a
    TLS 1.3 handshake, ignored compatibility change_cipher_spec records
    (``unexpected_message``; OpenSSL's and BoringSSL's 32).

``MAX_RENEGOTIATIONS``: TLS 1.2 renegotiations a server may start (a client
    whose device profile renegotiates, as ESP-TLS's Mbed TLS does) without
    application data with content between them; each costs a full handshake
    (``FLOOD`` past it).

Counts that application data does not reset (a run bound alone lets a peer
repeat a costly record for ever by slipping one byte of data between runs)
    ``MAX_WARNING_ALERTS``: warning alerts (TLS 1.2 warnings, TLS 1.3
    user_canceled) over the whole connection, before, during and after the
    handshake; the next one is ``unexpected_message``. OpenSSL closes at the
    fifth warning in a row (``MAX_WARN_ALERT_COUNT``, ssl/record/rec_layer_s3.c),
    Go at the seventeenth ignored record in a row (``maxUselessRecords``,
    crypto/tls/conn.go); both reset on any record with content, we do not: a
    peer has no use for more than a handful of warnings in a connection.
    close_notify is no warning here: after it the peer may send nothing
    (RFC 8446 6.1), so any further record is ``unexpected_message``, and one
    during the handshake ends it (``Reason.TRUNCATED``, no alert; Go returns
    EOF, OpenSSL fails the handshake).
    ``MAX_KEY_UPDATES`` / ``RECORDS_PER_KEY_UPDATE``: received KeyUpdates are
    paid from a budget of ``MAX_KEY_UPDATES`` (the burst tlsfuzzer sends)
    that each ``RECORDS_PER_KEY_UPDATE`` application data records with
    content refill by one, up to ``MAX_KEY_UPDATES``
    (``unexpected_message`` past it). Per records of data, not per time: the
    engine has no clock (sans-I/O), and records are what wear keys out
    (RFC 8446 5.5 counts records), so a peer can never make us derive keys
    more often than once per 16 records it sends; each derivation costs about
    as much as opening a few records, so a flood costs a few percent over the
    data it rides on.

CPU per hello
    Extensions and the hello's cipher_suites, supported_groups and
    signature_algorithms lists are NOT bounded by count: a conforming server
    must accept what fits in the message (tlsfuzzer's test-large-hello,
    test-tls13-large-number-of-extensions and the signature-algorithms
    "tolerance" tests send up to 16,321 extensions, 10,943 cipher suites and
    32,715 signature schemes, and OpenSSL, NSS and GnuTLS accept them;
    refusing them failed 117 of those tlsfuzzer cases). What bounds a hello's
    cost is the handshake message's size (``MAX_HANDSHAKE_MESSAGE``); the worst
    64 KiB hello (16,000 empty extensions) costs about 100 normal hellos of
    decoding, a known cost. ``MAX_KEY_SHARES``: entries in a ClientHello's
    key_share list (each a public key the server might compute with; OpenSSL
    keeps 16, openssl/openssl#30263), ``decode_error`` past it.

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
    "MAX_CIPHERTEXT12",
    "MAX_EMPTY_RECORDS",
    "MAX_EVENTS_KEPT",
    "MAX_HANDSHAKE_MESSAGE",
    "MAX_KEY_SHARES",
    "MAX_KEY_UPDATES",
    "MAX_PLAINTEXT",
    "MAX_POST_HANDSHAKE_MESSAGES",
    "MAX_RENEGOTIATIONS",
    "MAX_TICKETS_KEPT",
    "MAX_UNREAD_BYTES",
    "MAX_UNREAD_EVENTS",
    "MAX_WARNING_ALERTS",
    "RECORDS_PER_KEY_UPDATE",
]

MAX_PLAINTEXT = 1 << 14
MAX_CIPHERTEXT = MAX_PLAINTEXT + 256
MAX_CIPHERTEXT12 = MAX_PLAINTEXT + 2048
MAX_HANDSHAKE_MESSAGE = 1 << 18
MAX_CERTIFICATE_CHAIN = 16
MAX_POST_HANDSHAKE_MESSAGES = 32
MAX_EMPTY_RECORDS = 32
MAX_RENEGOTIATIONS = 4
MAX_WARNING_ALERTS = 4
MAX_KEY_UPDATES = 32
RECORDS_PER_KEY_UPDATE = 16
MAX_KEY_SHARES = 512
MAX_UNREAD_EVENTS = 4096
MAX_UNREAD_BYTES = 1 << 20
MAX_TICKETS_KEPT = 8
MAX_EVENTS_KEPT = 32
