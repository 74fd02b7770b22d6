"""Mbed TLS 3.6's X.509 verify flags (``include/mbedtls/x509.h``, "X509 Verify codes"):
the ``MBEDTLS_X509_BADCERT_*`` bits, mbedTLS's text for each
(``mbedtls_x509_crt_verify_info``), the :class:`~.errors.Reason` a set of flags
maps to, and the ``TlsError`` a refused chain raises. :mod:`.mbedtls_path` sets
them and re-exports them; ``get --explain`` reads them without loading the path rules.
"""

from __future__ import annotations

from .errors import Reason, TlsError

__all__ = [
    "X509_BADCERT_BAD_KEY",
    "X509_BADCERT_BAD_MD",
    "X509_BADCERT_BAD_PK",
    "X509_BADCERT_CN_MISMATCH",
    "X509_BADCERT_EXPIRED",
    "X509_BADCERT_EXT_KEY_USAGE",
    "X509_BADCERT_FUTURE",
    "X509_BADCERT_KEY_USAGE",
    "X509_BADCERT_MISSING",
    "X509_BADCERT_NOT_TRUSTED",
    "X509_BADCERT_NS_CERT_TYPE",
    "X509_BADCERT_OTHER",
    "X509_BADCERT_REVOKED",
    "X509_BADCERT_SKIP_VERIFY",
    "X509_BADCRL_BAD_KEY",
    "X509_BADCRL_BAD_MD",
    "X509_BADCRL_BAD_PK",
    "X509_BADCRL_EXPIRED",
    "X509_BADCRL_FUTURE",
    "X509_BADCRL_NOT_TRUSTED",
    "X509_VERIFY_ABORTED",
    "VerifyAborted",
    "describe_flags",
    "failure",
    "reason_for_flags",
]

X509_BADCERT_EXPIRED = 0x01
X509_BADCERT_REVOKED = 0x02
X509_BADCERT_CN_MISMATCH = 0x04
X509_BADCERT_NOT_TRUSTED = 0x08
X509_BADCRL_NOT_TRUSTED = 0x10
X509_BADCRL_EXPIRED = 0x20
X509_BADCERT_MISSING = 0x40
X509_BADCERT_SKIP_VERIFY = 0x80
X509_BADCERT_OTHER = 0x0100
X509_BADCERT_FUTURE = 0x0200
X509_BADCRL_FUTURE = 0x0400
X509_BADCERT_KEY_USAGE = 0x0800
X509_BADCERT_EXT_KEY_USAGE = 0x1000
X509_BADCERT_NS_CERT_TYPE = 0x2000
X509_BADCERT_BAD_MD = 0x4000
X509_BADCERT_BAD_PK = 0x8000
X509_BADCERT_BAD_KEY = 0x010000
X509_BADCRL_BAD_MD = 0x020000
X509_BADCRL_BAD_PK = 0x040000
X509_BADCRL_BAD_KEY = 0x080000
X509_VERIFY_ABORTED = 0xFFFFFFFF
"""What mbedTLS records when verification aborts (``X509_FATAL_ERROR``, a failed verify callback)."""

# library/x509_crt.c x509_crt_verify_strings, in its order.
_FLAG_MESSAGES: tuple[tuple[int, str], ...] = (
    (X509_BADCERT_EXPIRED, "The certificate validity has expired"),
    (X509_BADCERT_REVOKED, "The certificate has been revoked (is on a CRL)"),
    (X509_BADCERT_CN_MISMATCH, "The certificate Common Name (CN) does not match with the expected CN"),
    (X509_BADCERT_NOT_TRUSTED, "The certificate is not correctly signed by the trusted CA"),
    (X509_BADCRL_NOT_TRUSTED, "The CRL is not correctly signed by the trusted CA"),
    (X509_BADCRL_EXPIRED, "The CRL is expired"),
    (X509_BADCERT_MISSING, "Certificate was missing"),
    (X509_BADCERT_SKIP_VERIFY, "Certificate verification was skipped"),
    (X509_BADCERT_OTHER, "Other reason (can be used by verify callback)"),
    (X509_BADCERT_FUTURE, "The certificate validity starts in the future"),
    (X509_BADCRL_FUTURE, "The CRL is from the future"),
    (X509_BADCERT_KEY_USAGE, "Usage does not match the keyUsage extension"),
    (X509_BADCERT_EXT_KEY_USAGE, "Usage does not match the extendedKeyUsage extension"),
    (X509_BADCERT_NS_CERT_TYPE, "Usage does not match the nsCertType extension"),
    (X509_BADCERT_BAD_MD, "The certificate is signed with an unacceptable hash."),
    (X509_BADCERT_BAD_PK, "The certificate is signed with an unacceptable PK alg (eg RSA vs ECDSA)."),
    (X509_BADCERT_BAD_KEY, "The certificate is signed with an unacceptable key (eg bad curve, RSA too short)."),
    (X509_BADCRL_BAD_MD, "The CRL is signed with an unacceptable hash."),
    (X509_BADCRL_BAD_PK, "The CRL is signed with an unacceptable PK alg (eg RSA vs ECDSA)."),
    (X509_BADCRL_BAD_KEY, "The CRL is signed with an unacceptable key (eg bad curve, RSA too short)."),
)


def describe_flags(flags: int) -> list[str]:
    """mbedTLS's ``mbedtls_x509_crt_verify_info`` lines for ``flags``, without prefix."""
    lines: list[str] = []
    for code, text in _FLAG_MESSAGES:
        if flags & code:
            lines.append(text)
            flags &= ~code
    if flags:
        lines.append("Unknown reason (this should not happen)")
    return lines


def reason_for_flags(flags: int) -> Reason:
    """The most specific :class:`Reason` for a non-zero set of verify flags (an abort is ``CERT_BAD``)."""
    if flags == X509_VERIFY_ABORTED:
        return Reason.CERT_BAD
    for bit, reason in (
        (X509_BADCERT_EXPIRED, Reason.CERT_EXPIRED),
        (X509_BADCERT_FUTURE, Reason.CERT_NOT_YET_VALID),
        (X509_BADCERT_NOT_TRUSTED, Reason.CERT_UNTRUSTED),
        (X509_BADCERT_CN_MISMATCH, Reason.CERT_NAME_MISMATCH),
        (X509_BADCERT_MISSING, Reason.CERT_REQUIRED),
    ):
        if flags & bit:
            return reason
    return Reason.CERT_BAD


def failure(flags: int, detail: str = "") -> TlsError:
    """The ``TlsError`` for ``flags``: mbedTLS's text for each flag, then ``detail``, then the flags."""
    text = "certificate verification aborted" if flags == X509_VERIFY_ABORTED else "; ".join(describe_flags(flags))
    if detail:
        text = f"{text} ({detail})"
    return TlsError(reason_for_flags(flags), f"{text} [flags 0x{flags:x}]", verify_flags=flags)


class VerifyAborted(Exception):
    """``X509_FATAL_ERROR``: mbedTLS stopped walking (flags become 0xFFFFFFFF)."""
