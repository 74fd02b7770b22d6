"""Verification through an ESP certificate bundle (``esp_crt_bundle.c``).

Follows ESP-IDF's ``esp_crt_verify_callback`` on the legacy "dummy CA" path,
in ``esp_crt_bundle.c``. The bundle is a trust source consulted
through mbedTLS's verify callback: :class:`BundleVerifier` walks the
presented chain with :func:`https_request.tls.mbedtls_path.verify` and no CA
certificate (the dummy CA never matches), so the top certificate of the path
ends with NOT_TRUSTED; the callback then runs on each certificate, top
first: one whose flags (BAD_MD aside) are exactly NOT_TRUSTED has its issuer
looked up in the bundle (binary search, prefix-``memcmp`` quirk included,
see :meth:`~https_request.esp_tls.bundle.Bundle.find`) and its signature
checked with the stored key (``esp_crt_check_signature``, with its log
lines). Success logs ``I (..) esp-x509-crt-bundle: Certificate validated``
and clears the flags; failure aborts verification the way mbedTLS does
(``X509_FATAL_ERROR`` -0x3000, flags 0xFFFFFFFF), raised as
:class:`CertVerifyError`.

The bundle format, parsing and the built-in bundle live in
:mod:`https_request.esp_tls.bundle`, which re-exports this module's public
names (importing this module imports ``cryptography``; importing the bundle
module does not).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .. import log
from ..structs import replace
from ..tls import mbedtls_path as mp
from ..tls import x509_flags as xf
from ..tls.der import quiet_serial_warnings
from ..tls.errors import Reason, TlsError
from ..tls.x509_flags import X509_VERIFY_ABORTED
from . import pk
from .bundle import (
    DEFAULT_MAX_CERTS,
    TAG,
    Bundle,
    builtin_bundle,
    bundle_fingerprint,
    check_policy,
    name_to_rfc4514,
    parse_bundle,
)

if TYPE_CHECKING:
    from cryptography import x509

    from ..tls.config import VerifiedChain

__all__ = [
    "MBEDTLS_ERR_SSL_BAD_CERTIFICATE",
    "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED",
    "MBEDTLS_ERR_X509_FATAL_ERROR",
    "X509_VERIFY_ABORTED",
    "BundleVerifier",
    "CertVerifyError",
]

MBEDTLS_ERR_X509_FATAL_ERROR = -0x3000
"""What the handshake returns when the bundle callback rejects the chain."""
MBEDTLS_ERR_X509_CERT_VERIFY_FAILED = -0x2700
"""What the handshake returns for any other X.509 verification failure."""
MBEDTLS_ERR_SSL_BAD_CERTIFICATE = -0x7A00
"""The chain verified but the leaf's keyUsage / extendedKeyUsage does not fit."""
_log = log.get_logger(TAG)


class CertVerifyError(TlsError):
    """A :class:`TlsError` from :class:`BundleVerifier` that also carries mbedTLS's return code.

    ``mbedtls_error`` is -0x3000 (``X509_FATAL_ERROR``, flags 0xFFFFFFFF) when
    the bundle callback failed, -0x2700 when verify flags remain (expired, name
    mismatch, ...), -0x7A00 when only the leaf's key usage is wrong.
    """

    def __init__(self, reason: Reason, detail: str = "", *, verify_flags: int = 0, mbedtls_error: int) -> None:
        super().__init__(reason, detail, verify_flags=verify_flags)
        self.mbedtls_error = mbedtls_error


# mbedTLS md types (3.x, PSA-aligned), PSA hash algorithm ids, digest sizes.
_HASHES: dict[str, tuple[int, int, int]] = {
    "sha1": (0x05, 0x02000005, 20),
    "sha256": (0x09, 0x02000009, 32),
    "sha384": (0x0A, 0x0200000A, 48),
    "sha512": (0x0B, 0x0200000B, 64),
}
_OTHER_MD = {"md5": 0x03, "sha224": 0x08, "sha3-224": 0x10, "sha3-256": 0x11, "sha3-384": 0x12, "sha3-512": 0x13}
_PSA_ECC_FAMILY = {"secp256r1": 0x12, "secp384r1": 0x12, "secp521r1": 0x12, "secp256k1": 0x17}
_PSA_ERROR_INVALID_SIGNATURE = -149


def _hash_name(cert: x509.Certificate) -> str | None:
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    return None if algorithm is None else algorithm.name


def _check_with_bundle_key(child: mp.Cert, spki: bytes) -> bool:
    """``esp_crt_check_signature`` (ESP-IDF HEAD, PSA): its log lines, then the verdict."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        key = load_der_public_key(spki)
    except UnsupportedAlgorithm:
        _log.e("PK parse failed with error 0x%x", -pk.PK_UNKNOWN_PK_ALG)
        return False
    except (ValueError, TypeError):
        _log.e("PK parse failed with error 0x%x", -pk.PK_KEY_INVALID_FORMAT)
        return False
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        _log.e("PK parse failed with error 0x%x", -pk.PK_UNKNOWN_PK_ALG)  # mbedTLS knows RSA and EC keys only
        return False
    name = _hash_name(child.cert)
    if name not in _HASHES:
        md = _OTHER_MD.get(name or "", 0)
        if md == 0:
            _log.e("Unknown message digest type: %d", md)
        else:
            _log.e("Unsupported hash algorithm: %d", md)
        return False
    _, psa_hash, md_size = _HASHES[name]
    algorithm = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}
    hash_algorithm = algorithm[name]
    signature = child.cert.signature
    if isinstance(key, rsa.RSAPublicKey):
        _log.d("Key type: 0x%x, Hash alg: 0x%x", 0x4001, psa_hash)
        _log.d("Using RSA PKCS1V15 SIGN algorithm with hash")
        psa_alg = 0x06000200 | (psa_hash & 0xFF)
        sig_len = len(signature)
    else:
        family = 0x30 if key.curve.name.startswith("brainpool") else _PSA_ECC_FAMILY.get(key.curve.name, 0x12)
        _log.d("Key type: 0x%x, Hash alg: 0x%x", 0x4100 | family, psa_hash)
        _log.d("Using ECDSA_ANY algorithm (no hash constraint)")
        psa_alg = 0x06000600
        size = (key.curve.key_size + 7) // 8
        try:
            r, s = decode_dss_signature(signature)
            if r.bit_length() > 8 * size or s.bit_length() > 8 * size:
                raise ValueError("integer too large for the curve")
        except ValueError:
            _log.e("Failed to convert ECDSA signature to raw format: 0x%x (returned %d)", 0x62, -0x62)
            return False
        sig_len = 2 * size
        _log.d(
            "Converted DER signature (len=%u) to raw format (len=%u) for %u-bit key",
            len(signature),
            sig_len,
            key.curve.key_size,
        )
    _log.d("Verifying signature: alg=0x%08x, hash_len=%d, sig_len=%u", psa_alg, md_size, sig_len)
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, child.parts.tbs, padding.PKCS1v15(), hash_algorithm)
        else:
            key.verify(signature, child.parts.tbs, ec.ECDSA(hash_algorithm))
    except (InvalidSignature, ValueError):
        status = _PSA_ERROR_INVALID_SIGNATURE
        _log.e("PSA signature verification failed with error 0x%x (decimal: %d)", status & 0xFFFFFFFF, status)
        return False
    _log.d("Certificate signature verified successfully")
    return True


def _c_string(raw: bytes) -> str:
    """What ``%s`` prints for a DER buffer: up to the first NUL, non-printables escaped."""
    head = raw.split(b"\0", 1)[0]
    return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in head)


class BundleVerifier:
    """A :class:`~https_request.tls.config.CertificateVerifier` trusting an ESP certificate bundle.

    Models mbedTLS with ``esp_crt_bundle_attach`` on the legacy path (a dummy
    CA plus the verify callback, ESP-IDF v5.x / v6.0 default):

    1. mbedTLS walks the presented chain (:mod:`https_request.tls.mbedtls_path`:
       parents among the certificates after their child, every flag but those
       a CA certificate would settle); with no CA certificate, the top of the
       path gets NOT_TRUSTED.
    2. The callback runs top first: only flags that are exactly NOT_TRUSTED
       (BAD_MD tolerated) go to the bundle; other flags are never masked.
    3. Then esp-tls/mbedTLS SSL checks the leaf's keyUsage/extendedKeyUsage.

    ``bundle=None`` is the detached state (``No certificates in bundle``).
    ``policy`` only picks the host name rule: ``"mbedtls"`` (default, with the
    subject CN when the leaf has no SAN) or ``"webpki"``'s (SAN only). Path
    building and flags are always mbedTLS's: that is what the bundle is.
    """

    def __init__(
        self,
        bundle: Bundle | bytes | None,
        *,
        check_name: bool = True,
        policy: str = "mbedtls",
        max_certs: int = DEFAULT_MAX_CERTS,
    ) -> None:
        check_policy(policy)
        if bundle is not None and not isinstance(bundle, Bundle):
            bundle = parse_bundle(bundle, max_certs)
        self.bundle: Bundle | None = bundle
        self.check_name = check_name
        self.policy = policy

    @property
    def trust_fingerprint(self) -> bytes:
        """The bundle's :func:`~.bundle.bundle_fingerprint` (what a session records)."""
        return bundle_fingerprint(self.bundle.data if self.bundle is not None else None)

    @classmethod
    def builtin(cls, kind: str = "CMN", *, check_name: bool = True, policy: str = "mbedtls") -> BundleVerifier:
        """A verifier over :func:`builtin_bundle` (``kind`` ``CMN`` or ``FULL``)."""
        return cls(builtin_bundle(kind), check_name=check_name, policy=policy)

    def verify(self, chain: Sequence[bytes], server_name: str | None, now: float, *, server: bool) -> VerifiedChain:
        """Verify ``chain`` (DER, leaf first) at ``now`` (Unix seconds).

        Raises :class:`CertVerifyError` (a ``TlsError``) with mbedTLS's verify
        flags and return code; a plain ``TlsError`` (``CERT_BAD``) for DER
        that does not parse.
        """
        from ..tls.config import VerifiedChain

        try:
            with quiet_serial_warnings():
                certs = mp.load_chain(chain, "certificate bundle")
        except TlsError as exc:
            if not exc.verify_flags:
                raise
            code = MBEDTLS_ERR_SSL_BAD_CERTIFICATE
            raise CertVerifyError(exc.reason, exc.detail, verify_flags=exc.verify_flags, mbedtls_error=code) from exc
        when = datetime.fromtimestamp(now, tz=UTC)
        host = server_name if (server and self.check_name and server_name) else None
        rules = mp.MBEDTLS_RULES
        if self.policy == "webpki":
            from ..tls.verify import webpki_name_problem

            rules = replace(rules, names=webpki_name_problem)
        try:
            # The dummy CA never matches: no trust anchor, the callback consults the bundle.
            outcome = mp.verify(certs, (), host, when, server=server, rules=rules, callback=self._callback)
        except xf.VerifyAborted as exc:
            raise self._abort(Reason.CERT_BAD, f"{exc}: chain longer than mbedTLS allows") from exc
        # mbedtls_ssl_check_cert_usage: OR-ed into the result; its own code only when X.509 was fine.
        if outcome.flags:
            raise self._flags_error(outcome.flags | outcome.usage, MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
        if outcome.usage:
            raise self._flags_error(outcome.usage, MBEDTLS_ERR_SSL_BAD_CERTIFICATE)
        return VerifiedChain(path=tuple(link.cert.cert for link in outcome.path))

    def _callback(self, link: mp.Link, depth: int) -> int:
        """``esp_crt_verify_callback``: the flags left for this certificate, or raise (-0x3000)."""
        child, flags = link.cert, link.flags
        if flags & ~xf.X509_BADCERT_BAD_MD != xf.X509_BADCERT_NOT_TRUSTED:
            return flags
        bundle = self.bundle
        if bundle is None:
            _log.e("No certificates in bundle")
            raise self._abort(Reason.CERT_UNTRUSTED, "No certificates in bundle")
        _log.d("%u certificates in bundle", len(bundle) & 0xFFFF)
        entry = bundle.find(child.parts.issuer_raw)
        if entry is not None:
            if _check_with_bundle_key(child, entry.key):
                _log.i("Certificate validated")
                return 0
            _log.e("Certificate matched but signature verification failed")
            if _log.is_enabled(log.DEBUG):
                _log.e("Certificate matched with %s but signature verification failed", _c_string(entry.name))
            what = "Certificate matched but signature verification failed"
        else:
            _log.i("No matching trusted root certificate found")
            what = "No matching trusted root certificate found"
        _log.e("Failed to verify certificate")
        raise self._abort(Reason.CERT_UNTRUSTED, f"{what} (issuer {name_to_rfc4514(child.parts.issuer_raw)})")

    @staticmethod
    def _abort(reason: Reason, detail: str) -> CertVerifyError:
        return CertVerifyError(
            reason,
            f"certificate bundle: {detail} [flags 0x{X509_VERIFY_ABORTED:x}, mbedTLS -0x3000]",
            verify_flags=X509_VERIFY_ABORTED,
            mbedtls_error=MBEDTLS_ERR_X509_FATAL_ERROR,
        )

    @staticmethod
    def _flags_error(flags: int, code: int, detail: str = "") -> CertVerifyError:
        text = "; ".join(xf.describe_flags(flags))
        if detail:
            text = f"{text} ({detail})"
        return CertVerifyError(
            xf.reason_for_flags(flags),
            f"{text} [flags 0x{flags:x}, mbedTLS -0x{-code:04x}]",
            verify_flags=flags,
            mbedtls_error=code,
        )
