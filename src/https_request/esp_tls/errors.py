"""esp-tls error reporting: ESP error codes, mbedTLS codes, the last-error triple.

The engine never deals in integer codes; this module alone turns exceptions
into what esp-tls reports (``esp_tls_get_and_clear_last_error``): an
``esp_err_t`` (0x80xx), the mbedTLS error stored *positive*, and the X.509
verify flags. Code values are those of ESP-IDF's ``esp_tls_errors.h`` /
``esp_err.h`` and mbedTLS 3.x's ``ssl.h`` / ``x509.h`` (names and numbers are
facts copied from those headers).
"""

from __future__ import annotations

from enum import IntEnum
from functools import cache
from typing import TYPE_CHECKING

from ..structs import Struct

if TYPE_CHECKING:  # the engine's errors are imported when one is mapped: esp-tls connects without them
    from ..tls.errors import Reason, TlsError

__all__ = [
    "EspErr",
    "EspTlsError",
    "LastError",
    "MbedtlsErr",
    "esp_err_to_name",
    "mbedtls_code_for",
]


class EspErr(IntEnum):
    ESP_OK = 0
    ESP_FAIL = -1
    ESP_ERR_NO_MEM = 0x101
    ESP_ERR_INVALID_ARG = 0x102
    ESP_ERR_INVALID_STATE = 0x103
    ESP_ERR_NOT_SUPPORTED = 0x106
    ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME = 0x8001
    ESP_ERR_ESP_TLS_CANNOT_CREATE_SOCKET = 0x8002
    ESP_ERR_ESP_TLS_UNSUPPORTED_PROTOCOL_FAMILY = 0x8003
    ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST = 0x8004
    ESP_ERR_ESP_TLS_SOCKET_SETOPT_FAILED = 0x8005
    ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT = 0x8006
    ESP_ERR_ESP_TLS_SE_FAILED = 0x8007
    ESP_ERR_ESP_TLS_TCP_CLOSED_FIN = 0x8008
    ESP_ERR_ESP_TLS_SERVER_HANDSHAKE_TIMEOUT = 0x8009
    ESP_ERR_MBEDTLS_CERT_PARTLY_OK = 0x8010
    ESP_ERR_MBEDTLS_CTR_DRBG_SEED_FAILED = 0x8011
    ESP_ERR_MBEDTLS_SSL_SET_HOSTNAME_FAILED = 0x8012
    ESP_ERR_MBEDTLS_SSL_CONFIG_DEFAULTS_FAILED = 0x8013
    ESP_ERR_MBEDTLS_SSL_CONF_ALPN_PROTOCOLS_FAILED = 0x8014
    ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED = 0x8015
    ESP_ERR_MBEDTLS_SSL_CONF_OWN_CERT_FAILED = 0x8016
    ESP_ERR_MBEDTLS_SSL_SETUP_FAILED = 0x8017
    ESP_ERR_MBEDTLS_SSL_WRITE_FAILED = 0x8018
    ESP_ERR_MBEDTLS_PK_PARSE_KEY_FAILED = 0x8019
    ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED = 0x801A
    ESP_ERR_MBEDTLS_SSL_CONF_PSK_FAILED = 0x801B
    ESP_ERR_MBEDTLS_SSL_TICKET_SETUP_FAILED = 0x801C
    ESP_ERR_MBEDTLS_SSL_READ_FAILED = 0x801D


def esp_err_to_name(code: int) -> str:
    """The macro name of an ESP error code, or ``UNKNOWN ERROR`` (as ESP-IDF)."""
    try:
        return EspErr(code).name
    except ValueError:
        return "UNKNOWN ERROR"


class MbedtlsErr(IntEnum):
    """mbedTLS 3.x error codes (negative, as the library returns them)."""

    X509_FATAL_ERROR = -0x3000
    X509_CERT_VERIFY_FAILED = -0x2700
    X509_BAD_INPUT_DATA = -0x2800
    SSL_FEATURE_UNAVAILABLE = -0x7080
    SSL_BAD_INPUT_DATA = -0x7100
    SSL_INVALID_MAC = -0x7180
    SSL_INVALID_RECORD = -0x7200
    SSL_CONN_EOF = -0x7280
    SSL_DECODE_ERROR = -0x7300
    SSL_CA_CHAIN_REQUIRED = -0x7680
    SSL_UNEXPECTED_MESSAGE = -0x7700
    SSL_FATAL_ALERT_MESSAGE = -0x7780
    SSL_PEER_CLOSE_NOTIFY = -0x7880
    SSL_BAD_CERTIFICATE = -0x7A00
    SSL_RECEIVED_NEW_SESSION_TICKET = -0x7B00
    SSL_BAD_PROTOCOL_VERSION = -0x6E80
    SSL_HANDSHAKE_FAILURE = -0x6E00
    SSL_SESSION_TICKET_EXPIRED = -0x6D80
    SSL_INTERNAL_ERROR = -0x6C00
    SSL_BUFFER_TOO_SMALL = -0x6A00
    SSL_WANT_READ = -0x6900
    SSL_WANT_WRITE = -0x6880
    SSL_TIMEOUT = -0x6800
    SSL_ILLEGAL_PARAMETER = -0x6600
    # MBEDTLS_ERR_RSA_PUBLIC_FAILED (-0x4280) + MBEDTLS_ERR_MPI_NOT_ACCEPTABLE (-0x000E): mbedtls_rsa_public adds them
    RSA_PUBLIC_FAILED_MPI_NOT_ACCEPTABLE = -0x428E


@cache
def _mbedtls_for_reason() -> dict[Reason, MbedtlsErr]:
    """The mbedTLS code for each engine failure reason (built on first use)."""
    from ..tls.errors import Reason

    return {
        Reason.DECODE: MbedtlsErr.SSL_DECODE_ERROR,
        Reason.BAD_RECORD_MAC: MbedtlsErr.SSL_INVALID_MAC,
        Reason.RECORD_OVERFLOW: MbedtlsErr.SSL_INVALID_RECORD,
        Reason.UNEXPECTED_MESSAGE: MbedtlsErr.SSL_UNEXPECTED_MESSAGE,
        Reason.ILLEGAL_PARAMETER: MbedtlsErr.SSL_ILLEGAL_PARAMETER,
        Reason.DUPLICATE_EXTENSION: MbedtlsErr.SSL_ILLEGAL_PARAMETER,
        Reason.PSK_NOT_LAST: MbedtlsErr.SSL_ILLEGAL_PARAMETER,
        Reason.UNSOLICITED_EXTENSION: MbedtlsErr.SSL_UNEXPECTED_MESSAGE,
        Reason.MISSING_EXTENSION: MbedtlsErr.SSL_HANDSHAKE_FAILURE,
        Reason.NO_COMMON_VERSION: MbedtlsErr.SSL_BAD_PROTOCOL_VERSION,
        Reason.PROTOCOL_VERSION: MbedtlsErr.SSL_BAD_PROTOCOL_VERSION,
        Reason.NO_COMMON_SUITE: MbedtlsErr.SSL_HANDSHAKE_FAILURE,
        Reason.NO_COMMON_GROUP: MbedtlsErr.SSL_HANDSHAKE_FAILURE,
        Reason.NO_COMMON_SIGNATURE: MbedtlsErr.SSL_HANDSHAKE_FAILURE,
        Reason.NO_COMMON_ALPN: MbedtlsErr.SSL_HANDSHAKE_FAILURE,
        Reason.HANDSHAKE_FAILURE: MbedtlsErr.SSL_HANDSHAKE_FAILURE,
        Reason.INSUFFICIENT_SECURITY: MbedtlsErr.SSL_HANDSHAKE_FAILURE,
        Reason.BAD_FINISHED: MbedtlsErr.SSL_HANDSHAKE_FAILURE,
        Reason.BAD_BINDER: MbedtlsErr.SSL_HANDSHAKE_FAILURE,
        Reason.BAD_SIGNATURE: MbedtlsErr.SSL_HANDSHAKE_FAILURE,
        Reason.BAD_KEY_SHARE: MbedtlsErr.SSL_ILLEGAL_PARAMETER,
        Reason.DOWNGRADE: MbedtlsErr.SSL_ILLEGAL_PARAMETER,
        Reason.CERT_EXPIRED: MbedtlsErr.X509_CERT_VERIFY_FAILED,
        Reason.CERT_NOT_YET_VALID: MbedtlsErr.X509_CERT_VERIFY_FAILED,
        Reason.CERT_UNTRUSTED: MbedtlsErr.X509_CERT_VERIFY_FAILED,
        Reason.CERT_NAME_MISMATCH: MbedtlsErr.X509_CERT_VERIFY_FAILED,
        Reason.CERT_BAD: MbedtlsErr.SSL_BAD_CERTIFICATE,
        Reason.CERT_UNSUPPORTED: MbedtlsErr.SSL_BAD_CERTIFICATE,
        Reason.CERT_REQUIRED: MbedtlsErr.SSL_BAD_CERTIFICATE,
        Reason.EARLY_DATA_TOO_LARGE: MbedtlsErr.SSL_UNEXPECTED_MESSAGE,
        Reason.FLOOD: MbedtlsErr.SSL_UNEXPECTED_MESSAGE,
        Reason.RENEGOTIATION: MbedtlsErr.SSL_UNEXPECTED_MESSAGE,
        Reason.INAPPROPRIATE_FALLBACK: MbedtlsErr.SSL_HANDSHAKE_FAILURE,
        Reason.INTERNAL: MbedtlsErr.SSL_INTERNAL_ERROR,
        Reason.PEER_ALERT: MbedtlsErr.SSL_FATAL_ALERT_MESSAGE,
        Reason.TRUNCATED: MbedtlsErr.SSL_CONN_EOF,
        Reason.DEVICE_RECORD_TOO_LARGE: MbedtlsErr.SSL_INVALID_RECORD,
        Reason.DEVICE_HANDSHAKE_FRAGMENTED: MbedtlsErr.SSL_FEATURE_UNAVAILABLE,
        Reason.DEVICE_RSA_TOO_LARGE: MbedtlsErr.RSA_PUBLIC_FAILED_MPI_NOT_ACCEPTABLE,
        Reason.DEVICE_MESSAGE_TOO_LARGE: MbedtlsErr.SSL_BUFFER_TOO_SMALL,
    }


def mbedtls_code_for(exc: TlsError) -> int:
    """The (negative) mbedTLS code an ESP32 would report for this failure.

    A verification failure through the certificate bundle is -0x3000 (its
    verify callback aborts, flags 0xFFFFFFFF), any other X.509 failure -0x2700:
    ``mbedtls_x509_crt_verify_with_profile``'s own flags (a key or hash its
    profile refuses among them) make ``mbedtls_ssl_verify_certificate`` return
    -0x2700; only the checks after it (``mbedtls_ssl_check_cert_usage``: key
    usage, extended key usage) return -0x7A00 on their own.
    """
    flags = exc.verify_flags
    if flags == 0xFFFFFFFF:
        return MbedtlsErr.X509_FATAL_ERROR
    if flags & ~_FLAGS_AFTER_X509:
        return MbedtlsErr.X509_CERT_VERIFY_FAILED
    return _mbedtls_for_reason().get(exc.reason, MbedtlsErr.SSL_INTERNAL_ERROR)


# MBEDTLS_X509_BADCERT_MISSING (no certificate sent), _KEY_USAGE, _EXT_KEY_USAGE: not flags of the X.509 verify
_FLAGS_AFTER_X509 = 0x0040 | 0x0800 | 0x1000


class LastError(Struct, slots=False):
    """``esp_tls_last_error_t``: what the last failure recorded.

    ``esp_tls_error_code`` is the mbedTLS code stored *positive* (``-ret``),
    as esp-tls stores it; ``esp_tls_flags`` the X.509 verify flags.
    ``reason`` is our own one-line explanation (TLS reason or alert, OS error).
    """

    last_error: int = 0
    esp_tls_error_code: int = 0
    esp_tls_flags: int = 0
    reason: str = ""

    @property
    def name(self) -> str:
        return esp_err_to_name(self.last_error)

    def __bool__(self) -> bool:
        return self.last_error != 0


class EspTlsError(Exception):
    """A failed esp-tls operation; ``last_error`` holds the esp-tls triple."""

    def __init__(self, last_error: LastError, message: str = "") -> None:
        self.last_error = last_error
        super().__init__(message or f"{last_error.name}: {last_error.reason}")
