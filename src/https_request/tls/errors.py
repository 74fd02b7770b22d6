"""The engine's exceptions, and the one table from error reason to alert.

Every error the engine raises is a :class:`TlsError`. Its ``reason`` is a
:class:`Reason` that says precisely what went wrong (for users and for the
esp-tls facade); the alert that goes on the wire is looked up in
:data:`ALERT_FOR_REASON`, never chosen at the raise site.
"""

from __future__ import annotations

from enum import Enum

from .enums import AlertDescription as AD

__all__ = [
    "ALERT_FOR_REASON",
    "TLS12_ALERT",
    "AlertReceived",
    "ConnectionPoisoned",
    "LocalProtocolError",
    "Reason",
    "TlsError",
]


class Reason(Enum):
    """Why a connection failed; each maps to one alert in ALERT_FOR_REASON."""

    DECODE = "malformed message"
    BAD_RECORD_MAC = "record authentication failed"
    RECORD_OVERFLOW = "record too large"
    UNEXPECTED_MESSAGE = "message not allowed in this state"
    ILLEGAL_PARAMETER = "illegal parameter"
    DUPLICATE_EXTENSION = "duplicate extension"
    PSK_NOT_LAST = "pre_shared_key extension is not the last one"
    UNSOLICITED_EXTENSION = "extension the client did not offer"
    MISSING_EXTENSION = "required extension missing"
    NO_COMMON_VERSION = "no protocol version in common"
    NO_COMMON_SUITE = "no cipher suite in common"
    NO_COMMON_GROUP = "no key exchange group in common"
    NO_COMMON_SIGNATURE = "no signature scheme in common"
    NO_COMMON_ALPN = "no application protocol in common"
    BAD_FINISHED = "Finished verify_data mismatch"
    BAD_BINDER = "PSK binder mismatch"
    BAD_SIGNATURE = "handshake signature does not verify"
    BAD_KEY_SHARE = "invalid key share"
    DOWNGRADE = "downgrade sentinel in ServerHello.random"
    CERT_EXPIRED = "certificate expired"
    CERT_NOT_YET_VALID = "certificate not yet valid"
    CERT_UNTRUSTED = "certificate not trusted"
    CERT_NAME_MISMATCH = "certificate name mismatch"
    CERT_BAD = "certificate rejected"
    CERT_UNSUPPORTED = "certificate type not supported"
    CERT_REQUIRED = "certificate required"
    EARLY_DATA_TOO_LARGE = "too much early data"
    FLOOD = "too many records without application data"
    RENEGOTIATION = "renegotiation refused"
    INAPPROPRIATE_FALLBACK = "fallback to a lower version while a higher one is supported"
    HANDSHAKE_FAILURE = "handshake failure"
    INSUFFICIENT_SECURITY = "insufficient security"
    PROTOCOL_VERSION = "protocol version not supported"
    INTERNAL = "internal error"
    PEER_ALERT = "peer sent a fatal alert"
    TRUNCATED = "connection closed before the handshake finished"
    # a device profile's limits (tls.device): the device fails without an alert
    DEVICE_RECORD_TOO_LARGE = "record larger than the device's input buffer"
    DEVICE_HANDSHAKE_FRAGMENTED = "handshake message split across records, which the device cannot reassemble"
    DEVICE_RSA_TOO_LARGE = "RSA key larger than the device's RSA hardware takes"
    DEVICE_MESSAGE_TOO_LARGE = "handshake message larger than the device's output buffer"


ALERT_FOR_REASON: dict[Reason, AD | None] = {
    Reason.DECODE: AD.decode_error,
    Reason.BAD_RECORD_MAC: AD.bad_record_mac,
    Reason.RECORD_OVERFLOW: AD.record_overflow,
    Reason.UNEXPECTED_MESSAGE: AD.unexpected_message,
    Reason.ILLEGAL_PARAMETER: AD.illegal_parameter,
    Reason.DUPLICATE_EXTENSION: AD.illegal_parameter,
    Reason.PSK_NOT_LAST: AD.illegal_parameter,
    Reason.UNSOLICITED_EXTENSION: AD.unsupported_extension,
    Reason.MISSING_EXTENSION: AD.missing_extension,
    Reason.NO_COMMON_VERSION: AD.protocol_version,
    Reason.NO_COMMON_SUITE: AD.handshake_failure,
    Reason.NO_COMMON_GROUP: AD.handshake_failure,
    Reason.NO_COMMON_SIGNATURE: AD.handshake_failure,
    Reason.NO_COMMON_ALPN: AD.no_application_protocol,
    Reason.BAD_FINISHED: AD.decrypt_error,
    Reason.BAD_BINDER: AD.decrypt_error,
    Reason.BAD_SIGNATURE: AD.decrypt_error,
    Reason.BAD_KEY_SHARE: AD.illegal_parameter,
    Reason.DOWNGRADE: AD.illegal_parameter,
    Reason.CERT_EXPIRED: AD.certificate_expired,
    Reason.CERT_NOT_YET_VALID: AD.certificate_expired,
    Reason.CERT_UNTRUSTED: AD.unknown_ca,
    Reason.CERT_NAME_MISMATCH: AD.bad_certificate,
    Reason.CERT_BAD: AD.bad_certificate,
    Reason.CERT_UNSUPPORTED: AD.unsupported_certificate,
    Reason.CERT_REQUIRED: AD.certificate_required,
    Reason.EARLY_DATA_TOO_LARGE: AD.unexpected_message,
    Reason.FLOOD: AD.unexpected_message,
    Reason.RENEGOTIATION: AD.no_renegotiation,
    Reason.INAPPROPRIATE_FALLBACK: AD.inappropriate_fallback,
    Reason.HANDSHAKE_FAILURE: AD.handshake_failure,
    Reason.INSUFFICIENT_SECURITY: AD.insufficient_security,
    Reason.PROTOCOL_VERSION: AD.protocol_version,
    Reason.INTERNAL: AD.internal_error,
    Reason.PEER_ALERT: None,
    Reason.TRUNCATED: None,
    Reason.DEVICE_RECORD_TOO_LARGE: None,
    Reason.DEVICE_HANDSHAKE_FRAGMENTED: None,
    Reason.DEVICE_RSA_TOO_LARGE: AD.decrypt_error,  # the alert ssl_parse_server_key_exchange sends
    Reason.DEVICE_MESSAGE_TOO_LARGE: None,  # nothing is written: Mbed TLS returns BUFFER_TOO_SMALL
}


# TLS 1.2 has no certificate_required or missing_extension alert (RFC 5246 7.2.2):
# the closest one it has goes on the wire instead.
TLS12_ALERT: dict[AD, AD] = {
    AD.certificate_required: AD.handshake_failure,
    AD.missing_extension: AD.handshake_failure,
}


class TlsError(Exception):
    """A failed connection: ``reason`` says why, ``alert`` what we sent.

    ``verify_flags`` carries mbedTLS-style X.509 verify flags for
    certificate failures (0 otherwise).
    """

    def __init__(self, reason: Reason, detail: str = "", *, verify_flags: int = 0) -> None:
        self.reason = reason
        self.detail = detail
        self.verify_flags = verify_flags
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)

    @property
    def alert(self) -> AD | None:
        """The alert this error sends to the peer, if any."""
        return ALERT_FOR_REASON[self.reason]


class AlertReceived(TlsError):
    """The peer sent a fatal alert (nothing is sent back)."""

    def __init__(self, description: int) -> None:
        try:
            name = AD(description).name
        except ValueError:
            name = f"alert {description}"
        self.description = description
        super().__init__(Reason.PEER_ALERT, name)


class ConnectionPoisoned(TlsError):
    """A call on a connection that already failed; ``original`` is why."""

    def __init__(self, original: TlsError) -> None:
        self.original = original
        super().__init__(original.reason, f"connection already failed ({original})")


class LocalProtocolError(Exception):
    """The caller misused the API (wrong state, wrong side)."""
