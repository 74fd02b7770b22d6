"""``https-request get --explain``: what a connection under a profile negotiated and
which of the device's limits it came near, or why it failed, in mbedTLS's terms
(its error code and name) and in words a person can act on.

The limits are the profile's :class:`~.tls.device.Device` (ESP-IDF v5's Mbed TLS
defaults, docs/DEVICE_PROFILES.md); the failure's cause is read from the esp-tls
``LastError`` (the mbedTLS code, the X.509 verify flags and the engine's reason).
Imported by :mod:`.get_cli` only when ``--explain`` is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .esp_tls.conn import TlsInfo
    from .esp_tls.errors import LastError
    from .tls.device import Device

__all__ = ["explain_failure", "explain_success", "mbedtls_error_name"]

#: A limit counts as "close" from this share of it on.
CLOSE = 0.75
#: Mbed TLS's MBEDTLS_X509_MAX_INTERMEDIATE_CA (mbedtls_config.h default): intermediates a path may have.
MAX_INTERMEDIATE_CA = 8


def mbedtls_error_name(code: int) -> str:
    """``MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE`` for -0x7780 (either sign), or ``mbedTLS error -0x....``."""
    from .esp_tls.errors import MbedtlsErr

    value = -abs(code)
    if value == MbedtlsErr.RSA_PUBLIC_FAILED_MPI_NOT_ACCEPTABLE:  # a low-level code added to a high-level one
        return "MBEDTLS_ERR_RSA_PUBLIC_FAILED + MBEDTLS_ERR_MPI_NOT_ACCEPTABLE"
    try:
        return f"MBEDTLS_ERR_{MbedtlsErr(value).name}"
    except ValueError:
        return f"mbedTLS error -0x{-value:04X}"


def _device(profile: str) -> Device | None:
    from .tls.profiles import get_profile

    return get_profile(profile).device


def _key_text(der: bytes) -> tuple[str, int, str]:
    """The leaf key: (text, bits, kind) with kind "rsa", "ec" or "" (other or unreadable)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        key = x509.load_der_x509_certificate(der).public_key()
    except ValueError:
        return "unreadable", 0, ""
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size} bits", key.key_size, "rsa"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.key_size, "ec"
    return type(key).__name__.removesuffix("PublicKey").lstrip("_"), 0, ""


def _share(value: int, limit: int) -> str:
    return f"{value} of {limit} bytes ({100 * value // limit}%)"


def explain_success(profile: str, info: TlsInfo, policy: str) -> list[str]:
    """The lines for a handshake that completed under ``profile`` (verified as ``policy`` says:
    "the mbedtls policy against --cacert FILE", "" for not at all): what was negotiated, then each device
    limit and how near it came."""
    device = _device(profile)
    lines = [f"explain: profile {profile}" + (f" ({device.name})" if device is not None else "")]
    lines.append(
        f"  negotiated: {info.version}, {info.cipher_suite_name} (0x{info.cipher_suite:04X}), "
        f"group {info.group or '-'}{', resumed' if info.resumed else ''}"
    )
    chain = info.peer_certificates
    if info.resumed:
        lines.append("  verification: none needed (a resumed session: the server's certificate was checked before)")
    elif not policy:
        lines.append("  verification: OFF (--insecure): the device would verify the server's certificate")
    else:
        lines.append(f"  verification: passed, {policy}")
    close: list[str] = []
    if chain:
        size = sum(len(c) for c in chain)
        text, bits, kind = _key_text(chain[0])
        lines.append(f"  server chain: {len(chain)} certificate(s) as sent, {size} bytes; leaf key {text}")
        if device is not None and kind == "rsa" and bits >= device.rsa_max_bits:
            close.append(f"the leaf's RSA key has {bits} bits, the most the device's RSA hardware takes")
        if len(chain) - 1 > MAX_INTERMEDIATE_CA * CLOSE:
            close.append(f"{len(chain) - 1} intermediates sent; Mbed TLS verifies at most {MAX_INTERMEDIATE_CA}")
    stats = info.device_stats
    if device is not None and stats is not None:
        from .tls.enums import HandshakeType, name_of

        limit = device.in_content_len
        lines.append(f"  largest record received: {_share(stats.largest_record, limit)} (MBEDTLS_SSL_IN_CONTENT_LEN)")
        if stats.largest_message_type >= 0:
            name = name_of(HandshakeType, stats.largest_message_type).title().replace("_", "")
            where = "reassembled" if device.reassembles_handshake else "one record: Mbed TLS 3.6.2 does not reassemble"
            lines.append(f"  largest handshake message: {name}, {_share(stats.largest_message, limit)} ({where})")
            if not device.reassembles_handshake and stats.largest_message > limit * CLOSE:
                close.append(
                    f"the server's {name} message is {stats.largest_message} bytes: over {limit - 4} it cannot be "
                    "in one record and the device fails with -0x7080 (a longer chain would do it)"
                )
        if stats.largest_record > limit * CLOSE and stats.largest_record > stats.largest_message:
            close.append(f"records of up to {stats.largest_record} bytes against the device's {limit}")
        out_len = device.out_content_len
        lines.append(f"  records the device writes: at most {out_len} bytes (MBEDTLS_SSL_OUT_CONTENT_LEN)")
    if device is not None:
        lines.append("  limits close: " + ("; ".join(close) if close else "none"))
        lines.append("  outcome: the device connects")
    return lines


def _alert_cause(reason: str, device: Device | None) -> str:
    if "protocol_version" in reason:
        return (
            "the server refused the TLS versions offered: a TLS 1.3-only server needs a device built with "
            "CONFIG_MBEDTLS_SSL_PROTO_TLS1_3=y (profile esp32-mbedtls-tls13); a TLS 1.0/1.1-only one cannot be reached"
        )
    if "handshake_failure" in reason or "insufficient_security" in reason:
        return (
            "the server found nothing it accepts in the hello: no cipher suite, key exchange group or signature "
            "algorithm in common (the device offers ECDHE and RSA key exchange with AES-GCM/CCM/CBC and ARIA, "
            "groups x25519, secp256r1, secp384r1, secp521r1 and the brainpool curves, no ChaCha20 and no DHE); "
            "enable one of those on the server"
        )
    if "unrecognized_name" in reason:
        return "the server does not serve the name sent in SNI: check the URL's host or --common-name"
    if "decode_error" in reason or "illegal_parameter" in reason:
        return "the server could not parse the hello (or an extension of it): a server bug or a middlebox"
    return "the server ended the handshake with this alert"


def _verify_cause(flags: int) -> str:
    from .tls import x509_flags as xf

    causes = []
    if flags & xf.X509_BADCERT_BAD_KEY:
        causes.append(
            "a certificate's key is one Mbed TLS's default X.509 profile refuses (RSA below 2048 bits, or a curve "
            "outside secp256r1/384r1/521r1 and brainpoolP256r1/384r1/512r1): reissue it with RSA 2048+ or P-256/P-384"
        )
    if flags & xf.X509_BADCERT_BAD_MD:
        causes.append("a certificate is signed with SHA-1 or MD5, which the profile refuses: reissue with SHA-256")
    if flags & xf.X509_BADCERT_BAD_PK:
        causes.append("a certificate's key type is one Mbed TLS does not accept (Ed25519 and Ed448 are not)")
    if flags & xf.X509_BADCERT_NOT_TRUSTED:
        causes.append(
            "the chain does not lead to a CA the device trusts: send the intermediates with the leaf, and check "
            "that the root is in the certificate bundle or the CA file"
        )
    if flags & xf.X509_BADCERT_CN_MISMATCH:
        causes.append("the certificate is not for this host name")
    if flags & (xf.X509_BADCERT_EXPIRED | xf.X509_BADCERT_FUTURE):
        causes.append("a certificate is out of its dates on the device's clock (set the time with SNTP first)")
    if flags & (xf.X509_BADCERT_KEY_USAGE | xf.X509_BADCERT_EXT_KEY_USAGE):
        causes.append("the leaf's key usage or extended key usage does not allow a TLS server")
    return "; ".join(causes) or "the certificate chain was refused"


def explain_failure(profile: str, le: LastError) -> list[str]:
    """The lines for a failed connection under ``profile``: the mbedTLS code and name, and the cause."""
    from .esp_tls.errors import MbedtlsErr
    from .get_report import one_line

    device = _device(profile)
    code = -le.esp_tls_error_code
    reason = one_line(le.reason)
    lines = [f"explain: profile {profile}" + (f" ({device.name})" if device is not None else "")]
    if not code:
        lines.append(f"  failed before TLS: {le.name}: {reason}")
        return lines
    lines.append(f"  mbedTLS error: -0x{-code:04X} {mbedtls_error_name(code)}")
    if code == MbedtlsErr.SSL_FEATURE_UNAVAILABLE and "does not end in the record" in reason:
        cause = (
            f"{reason.split(': ', 1)[-1]}. Mbed TLS 3.6.2 reads each handshake message from one record (3.6.3 added "
            "reassembly). On the server: keep the certificate chain well under 16 KiB (send the leaf and its "
            "intermediates only, no root; ECDSA certificates are smaller) and do not cut handshake messages into "
            "small records; on the device: an ESP-IDF release with Mbed TLS 3.6.3 or later"
        )
    elif code == MbedtlsErr.SSL_INVALID_RECORD and "MBEDTLS_SSL_IN_CONTENT_LEN" in reason:
        cause = (
            f"{reason.split(': ', 1)[-1]}: raise CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN (16384 takes any TLS record) "
            "or make the server send smaller records"
        )
    elif code == MbedtlsErr.SSL_BUFFER_TOO_SMALL and "MBEDTLS_SSL_OUT_CONTENT_LEN" in reason:
        cause = (
            f"{reason.split(': ', 1)[-1]}: Mbed TLS writes each handshake message into one record; use a "
            "smaller client certificate chain (ECDSA, no root) or raise CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN"
        )
    elif code == MbedtlsErr.SSL_FATAL_ALERT_MESSAGE:
        alert = reason.rsplit(": ", 1)[-1]
        cause = f"the server sent the fatal alert {alert}: {_alert_cause(reason, device)}"
    elif code == MbedtlsErr.X509_FATAL_ERROR:
        cause = (
            "the certificate bundle's verify callback aborted: no root of the ESP certificate bundle signs "
            "this chain (add the root to the bundle, or serve a chain to a root it has)"
        )
    elif code == MbedtlsErr.X509_CERT_VERIFY_FAILED and "RSA hardware cannot check" in reason:
        cause = (
            f"{reason}: re-sign with a CA key of at most 4096 bits (or ECDSA), or build the device with "
            "CONFIG_MBEDTLS_LARGE_KEY_SOFTWARE_MPI=y (slow)"
        )
    elif code == MbedtlsErr.X509_CERT_VERIFY_FAILED:
        cause = _verify_cause(le.esp_tls_flags)
    elif code == MbedtlsErr.SSL_CONN_EOF:
        cause = (
            "the server closed the connection during the handshake without an alert; servers do that when "
            "nothing in the hello suits them (versions, suites, groups) or when they refuse the name sent"
        )
    elif code == MbedtlsErr.SSL_BAD_PROTOCOL_VERSION:
        cause = f"{reason}: the server answered with a TLS version the device did not offer"
    elif "the device's RSA hardware takes" in reason:
        cause = (
            f"{reason.split(': ', 1)[-1]}: serve an ECDSA certificate or an RSA key of at most that size, or "
            "build the device with CONFIG_MBEDTLS_LARGE_KEY_SOFTWARE_MPI=y (slow)"
        )
    elif "which we do not implement" in reason:
        cause = (
            f"{reason}: a real device would negotiate this suite; this tool cannot, so the device's outcome "
            "here is not known"
        )
    else:
        cause = reason
    lines.append(f"  cause: {cause}")
    lines.append("  outcome: the device fails to connect" if device is not None else "  outcome: the connection fails")
    return lines
