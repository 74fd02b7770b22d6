"""Verification through an ESP certificate bundle (``esp_crt_bundle.c``).

Follows ESP-IDF's ``esp_crt_verify_callback`` on the legacy "dummy CA" path,
as described in ``esp-tls.md`` §4.4: :class:`BundleVerifier` computes
mbedTLS's per-certificate verify flags for the presented chain, then runs the
callback rule on each certificate, top first: a certificate whose flags
(BAD_MD aside) are exactly NOT_TRUSTED has its issuer looked up in the bundle
(binary search, prefix-``memcmp`` quirk included, see
:meth:`~https_request.esp_tls.bundle.Bundle.find`) and its signature checked
with the stored key (``esp_crt_check_signature``, with its log lines).
Success logs ``I (..) esp-x509-crt-bundle: Certificate validated`` and clears
the flags; failure aborts verification the way mbedTLS does
(``X509_FATAL_ERROR`` -0x3000, flags 0xFFFFFFFF), raised as
:class:`CertVerifyError`.

The bundle format, parsing and the built-in bundle live in
:mod:`https_request.esp_tls.bundle`, which re-exports this module's public
names. ``cryptography`` is imported inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import log
from ..structs import Struct
from ..tls.errors import Reason, TlsError
from .bundle import (
    DEFAULT_MAX_CERTS,
    TAG,
    Bundle,
    _Attr,
    _cert_parts,
    _CertParts,
    _names_equal,
    _parse_name,
    builtin_bundle,
    name_to_rfc4514,
    parse_bundle,
    quiet_serial_warnings,
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
X509_VERIFY_ABORTED = 0xFFFFFFFF
"""The verify flags mbedTLS records when a verify callback fails (``(uint32_t) -1``)."""

_MAX_INTERMEDIATE_CA = 8  # MBEDTLS_X509_MAX_INTERMEDIATE_CA

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
_PROFILE_HASHES = ("sha256", "sha384", "sha512")  # mbedtls_x509_crt_profile_default
_PROFILE_CURVES = ("secp256r1", "secp384r1", "secp521r1", "brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1")
_PSA_ECC_FAMILY = {"secp256r1": 0x12, "secp384r1": 0x12, "secp521r1": 0x12, "secp256k1": 0x17}
_PSA_ERROR_INVALID_SIGNATURE = -149
_PK_UNKNOWN_PK_ALG = 0x3C80
_PK_KEY_INVALID_FORMAT = 0x3D00


class _Cert(Struct, slots=False):
    der: bytes
    cert: x509.Certificate
    parts: _CertParts
    issuer: list[_Attr]
    subject: list[_Attr]


def _load_cert(der: bytes) -> _Cert:
    from cryptography import x509 as _x509

    with quiet_serial_warnings():
        try:
            cert = _x509.load_der_x509_certificate(der)
            parts = _cert_parts(der)
            cert.not_valid_after_utc  # noqa: B018  (parsed lazily: fail here, not later)
        except (ValueError, _x509.InvalidVersion) as exc:  # InvalidVersion is no ValueError
            raise TlsError(Reason.CERT_BAD, f"cannot parse the peer certificate: {exc}") from exc
    try:
        issuer, subject = _parse_name(parts.issuer_raw), _parse_name(parts.subject_raw)
    except ValueError as exc:
        raise TlsError(Reason.CERT_BAD, f"cannot parse the peer certificate: {exc}") from exc
    return _Cert(der, cert, parts, issuer, subject)


def _hash_name(cert: x509.Certificate) -> str | None:
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    return None if algorithm is None else algorithm.name


def _sig_alg_flags(cert: x509.Certificate) -> int:
    """``x509_profile_check_md_alg`` / ``_pk_alg`` for how ``cert`` is signed (default profile)."""
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    from ..tls.verify import X509_BADCERT_BAD_MD, X509_BADCERT_BAD_PK

    flags = 0
    try:
        params = cert.signature_algorithm_parameters
    except Exception:  # unsupported signature algorithm
        params = None
    if not isinstance(params, padding.PKCS1v15 | padding.PSS | ec.ECDSA):
        flags |= X509_BADCERT_BAD_PK
    if _hash_name(cert) not in _PROFILE_HASHES:
        flags |= X509_BADCERT_BAD_MD
    return flags


def _key_flags(cert: x509.Certificate) -> int:
    """``x509_profile_check_key`` (default profile): RSA >= 2048 bits, 128-bit-security curves."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from ..tls.verify import X509_BADCERT_BAD_KEY

    try:
        key = cert.public_key()
    except Exception:  # an unsupported or malformed key
        return X509_BADCERT_BAD_KEY
    if isinstance(key, rsa.RSAPublicKey):
        return 0 if key.key_size >= 2048 else X509_BADCERT_BAD_KEY
    if isinstance(key, ec.EllipticCurvePublicKey):
        return 0 if key.curve.name in _PROFILE_CURVES else X509_BADCERT_BAD_KEY
    return X509_BADCERT_BAD_KEY


def _ext(cert: x509.Certificate, kind: type[Any]) -> Any:
    from cryptography import x509 as _x509

    try:
        return cert.extensions.get_extension_for_class(kind).value
    except _x509.ExtensionNotFound:
        return None


def _may_sign_certs(parent: x509.Certificate) -> bool:
    """``x509_crt_check_parent`` for an untrusted parent: CA bit, keyCertSign if keyUsage."""
    from cryptography import x509 as _x509

    try:
        bc = _ext(parent, _x509.BasicConstraints)
        ku = _ext(parent, _x509.KeyUsage)
    except ValueError:
        return False
    if not (isinstance(bc, _x509.BasicConstraints) and bc.ca):
        return False
    return not (isinstance(ku, _x509.KeyUsage) and not ku.key_cert_sign)


def _max_pathlen(cert: x509.Certificate) -> int:
    """mbedTLS's ``max_pathlen``: pathLenConstraint + 1, 0 when absent."""
    from cryptography import x509 as _x509

    try:
        bc = _ext(cert, _x509.BasicConstraints)
    except ValueError:
        return 0
    if isinstance(bc, _x509.BasicConstraints) and bc.path_length is not None:
        return int(bc.path_length) + 1
    return 0


def _signed_by(child: _Cert, parent: x509.Certificate) -> bool:
    """``x509_crt_check_signature``: PKCS#1 v1.5, PSS or ECDSA as the child says, with the parent key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        key = parent.public_key()
        params = child.cert.signature_algorithm_parameters
        algorithm = child.cert.signature_hash_algorithm
        signature = child.cert.signature
        if algorithm is None:
            return False
        if isinstance(key, rsa.RSAPublicKey) and isinstance(params, padding.PKCS1v15 | padding.PSS):
            key.verify(signature, child.parts.tbs, params, algorithm)
            return True
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(params, ec.ECDSA):
            key.verify(signature, child.parts.tbs, ec.ECDSA(algorithm))
            return True
    except (InvalidSignature, ValueError, TypeError):
        return False
    except Exception:  # UnsupportedAlgorithm and friends: not a usable parent
        return False
    return False


def _check_with_bundle_key(child: _Cert, spki: bytes) -> bool:
    """``esp_crt_check_signature`` (ESP-IDF HEAD, PSA): its log lines, then the verdict."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        key = load_der_public_key(spki)
    except UnsupportedAlgorithm:
        _log.e("PK parse failed with error 0x%x", _PK_UNKNOWN_PK_ALG)
        return False
    except (ValueError, TypeError):
        _log.e("PK parse failed with error 0x%x", _PK_KEY_INVALID_FORMAT)
        return False
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        _log.e("PK parse failed with error 0x%x", _PK_UNKNOWN_PK_ALG)  # mbedTLS knows RSA and EC keys only
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


def _usage_flags(leaf: x509.Certificate, server: bool) -> int:
    """``mbedtls_ssl_check_cert_usage`` for (EC)DHE suites: digitalSignature, serverAuth/clientAuth."""
    from cryptography import x509 as _x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from ..tls.verify import X509_BADCERT_EXT_KEY_USAGE, X509_BADCERT_KEY_USAGE

    flags = 0
    try:
        ku = _ext(leaf, _x509.KeyUsage)
        eku = _ext(leaf, _x509.ExtendedKeyUsage)
    except ValueError:
        return X509_BADCERT_KEY_USAGE
    if isinstance(ku, _x509.KeyUsage) and not ku.digital_signature:
        flags |= X509_BADCERT_KEY_USAGE
    wanted = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    if isinstance(eku, _x509.ExtendedKeyUsage) and not (
        {wanted, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(eku)
    ):
        flags |= X509_BADCERT_EXT_KEY_USAGE
    return flags


class BundleVerifier:
    """A :class:`~https_request.tls.config.CertificateVerifier` trusting an ESP certificate bundle.

    Models mbedTLS with ``esp_crt_bundle_attach`` on the legacy path (a dummy
    CA plus the verify callback, ESP-IDF v5.x / v6.0 default):

    1. mbedTLS builds the chain from the presented certificates (each parent
       found among the certificates after its child: issuer name, CA bit,
       keyCertSign, path length; a parent with a bad signature is still taken
       and its child flagged NOT_TRUSTED) and flags every certificate: time
       validity, signature hash (SHA-256+), signer key size; the leaf also
       gets CN_MISMATCH when ``check_name`` and a server name are given.
       No trusted parent exists, so the top-most one gets NOT_TRUSTED.
    2. The callback runs top first: only flags that are exactly NOT_TRUSTED
       (BAD_MD tolerated) go to the bundle; other flags are never masked.
    3. Then esp-tls/mbedTLS SSL checks the leaf's keyUsage/extendedKeyUsage.

    ``bundle=None`` is the detached state (``No certificates in bundle``).
    ``policy`` only picks the host name rule: ``"mbedtls"`` (default) falls
    back to the subject CN when the leaf has no SAN, ``"webpki"`` never does.
    Path building and flags are always mbedTLS's: that is what the bundle is.
    """

    def __init__(
        self,
        bundle: Bundle | bytes | None,
        *,
        check_name: bool = True,
        policy: str = "mbedtls",
        max_certs: int = DEFAULT_MAX_CERTS,
    ) -> None:
        if policy not in ("mbedtls", "webpki"):
            raise ValueError(f"verify policy must be 'mbedtls' or 'webpki', got {policy!r}")
        if bundle is not None and not isinstance(bundle, Bundle):
            bundle = parse_bundle(bundle, max_certs)
        self.bundle: Bundle | None = bundle
        self.check_name = check_name
        self.policy = policy

    @property
    def trust_fingerprint(self) -> bytes:
        """The bundle's :func:`~https_request.tls.session.trust_fingerprint` (what a session records)."""
        from ..tls.session import trust_fingerprint

        return trust_fingerprint("esp-bundle", (self.bundle.data,) if self.bundle is not None else ())

    @classmethod
    def builtin(cls, kind: str = "CMN", *, check_name: bool = True, policy: str = "mbedtls") -> BundleVerifier:
        """A verifier over :func:`builtin_bundle` (``kind`` ``CMN`` or ``FULL``)."""
        return cls(builtin_bundle(kind), check_name=check_name, policy=policy)

    def verify(self, chain: Sequence[bytes], server_name: str | None, now: float, *, server: bool) -> VerifiedChain:
        """Verify ``chain`` (DER, leaf first) at ``now`` (Unix seconds).

        Raises :class:`CertVerifyError` (a ``TlsError``) with mbedTLS's verify
        flags and return code.
        """
        from ..tls.config import VerifiedChain
        from ..tls.verify import (
            X509_BADCERT_CN_MISMATCH,
            X509_BADCERT_MISSING,
            X509_BADCERT_NOT_TRUSTED,
            match_name,
            time_flags,
        )

        if not chain:
            raise self._flags_error(
                X509_BADCERT_MISSING, MBEDTLS_ERR_SSL_BAD_CERTIFICATE, "the peer sent no certificate"
            )
        certs = [_load_cert(bytes(der)) for der in chain]
        when = datetime.fromtimestamp(now, tz=UTC)
        host = server_name if (server and self.check_name and server_name) else None

        # mbedtls_x509_crt_verify: end-entity flags, then x509_crt_verify_chain.
        leaf = certs[0].cert
        ee_flags = _key_flags(leaf)
        if host is not None:
            try:
                named = match_name(leaf, host, cn_fallback=self.policy == "mbedtls")
            except ValueError:
                named = False
            if not named:
                ee_flags |= X509_BADCERT_CN_MISMATCH
        path: list[int] = []
        flags: list[int] = []
        index, self_cnt = 0, 0
        while True:
            child = certs[index]
            path.append(index)
            flags.append(time_flags(child.cert, when) | _sig_alg_flags(child.cert))
            parent, signature_ok = self._find_parent(certs, index, len(path) - 1, self_cnt, when)
            if parent is None:
                flags[-1] |= X509_BADCERT_NOT_TRUSTED
                break
            if len(path) != 1 and _names_equal(child.issuer, child.subject):
                self_cnt += 1
            if len(path) > _MAX_INTERMEDIATE_CA:
                raise self._abort(Reason.CERT_BAD, "chain longer than mbedTLS allows")
            if not signature_ok:
                flags[-1] |= X509_BADCERT_NOT_TRUSTED
            flags[-1] |= _key_flags(certs[parent].cert)
            index = parent
        flags[0] |= ee_flags

        # x509_crt_merge_flags_with_cb: the bundle callback, top first.
        total = 0
        for position in reversed(range(len(path))):
            total |= self._callback(certs[path[position]], flags[position])
        # mbedtls_ssl_check_cert_usage: OR-ed into the result; its own code only when X.509 was fine.
        usage = _usage_flags(leaf, server)
        if total:
            raise self._flags_error(total | usage, MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
        if usage:
            raise self._flags_error(usage, MBEDTLS_ERR_SSL_BAD_CERTIFICATE)
        return VerifiedChain(chain=tuple(certs[i].der for i in path))

    @staticmethod
    def _find_parent(
        certs: Sequence[_Cert], index: int, path_cnt: int, self_cnt: int, when: datetime
    ) -> tuple[int | None, bool]:
        """``x509_crt_find_parent_in`` over the certificates after ``index`` (the dummy CA never matches)."""
        from ..tls.verify import time_flags

        child = certs[index]
        fallback: tuple[int | None, bool] = (None, False)
        for candidate in range(index + 1, len(certs)):
            parent = certs[candidate]
            if not _names_equal(child.issuer, parent.subject) or not _may_sign_certs(parent.cert):
                continue
            max_pathlen = _max_pathlen(parent.cert)
            if max_pathlen > 0 and max_pathlen < 1 + path_cnt - self_cnt:
                continue
            signature_ok = _signed_by(child, parent.cert)
            if time_flags(parent.cert, when):
                if fallback[0] is None:
                    fallback = (candidate, signature_ok)
                continue
            return candidate, signature_ok
        return fallback

    def _callback(self, child: _Cert, flags: int) -> int:
        """``esp_crt_verify_callback``: the flags left for this certificate, or raise (-0x3000)."""
        from ..tls.verify import X509_BADCERT_BAD_MD, X509_BADCERT_NOT_TRUSTED

        if flags & ~X509_BADCERT_BAD_MD != X509_BADCERT_NOT_TRUSTED:
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
        from ..tls.verify import describe_flags, reason_for_flags

        text = "; ".join(describe_flags(flags))
        if detail:
            text = f"{text} ({detail})"
        return CertVerifyError(
            reason_for_flags(flags),
            f"{text} [flags 0x{flags:x}, mbedTLS -0x{-code:04x}]",
            verify_flags=flags,
            mbedtls_error=code,
        )
