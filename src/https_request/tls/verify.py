"""Certificate chain verification behind the :class:`CertificateVerifier` protocol.

Two policies, picked with :func:`make_verifier` (``policy="webpki"`` or
``"mbedtls"``):

``webpki`` -- :class:`WebPkiVerifier`
    Builds and checks the path with ``cryptography.x509.verification`` (a
    CA/B-Forum "webpki" profile: v3 only, SAN only, no CN fallback, AKI
    required, RSA >= 2048, no SHA-1), plus our own checks to compute the
    mbedTLS flags. The default for ``get``.

``mbedtls`` -- :class:`MbedtlsVerifier`
    What an ESP32 accepts: mbedTLS 3.x ``mbedtls_x509_crt_verify_with_profile``
    with the default profile (as esp-tls configures it) plus the TLS layer's
    keyUsage / extendedKeyUsage check of the end-entity. Its own path builder
    (cryptography's refuses X.509 v1): parents by subject/issuer name and
    signature, trust anchors first, then the certificates the peer sent
    after the child; X.509 v1 accepted, a v1 CA only as a trust anchor; the
    subject CN compared when there is no SAN. The default for the example.

Common to both:

* **Locally trusted leaf.** A presented leaf whose DER is byte-equal to a
  trust anchor is accepted without a path (mbedTLS does the same for a
  self-signed trusted end-entity). Its validity period, and with
  ``check_name`` its name, EKU and keyUsage, are still checked. This is what
  makes the ESP-IDF example's self-signed X.509 v1 server certificate usable
  as its own CA. Under ``webpki`` the name check stays strict: a
  certificate without a SAN (every v1 certificate) never matches a name,
  whatever its CN says; under ``mbedtls`` its CN is compared.
* **keyUsage.** When the leaf has a keyUsage extension it must allow the
  handshake's use of the key. ``webpki`` requires digitalSignature (webpki
  itself does not check this, mbedTLS does); ``mbedtls`` accepts
  digitalSignature, keyEncipherment or keyAgreement for a server (the
  verifier does not know the key exchange) and digitalSignature for a client.
* **Failures** raise :class:`TlsError` with mbedTLS X.509 verify flags
  (``MBEDTLS_X509_BADCERT_*``) and a message made of mbedTLS's text for each
  flag followed by what exactly is wrong.

For ``webpki`` the flags are computed mbedTLS-style, by walking the
presented chain towards the anchors (:func:`_diagnose`): validity of each
certificate on the path (anchor included), the end-entity's name, EKU and
keyUsage, a missing or badly signed parent. The reason is the most specific
one: expired, then not yet valid, then untrusted, then name mismatch, else
``CERT_BAD`` (``BADCERT_OTHER`` when webpki refused something mbedTLS would
not flag, such as a missing AKI or a v1 certificate). Path building and the
name rule live in :class:`_Policy`. The ``mbedtls`` policy does not use that
seam: its flags fall out of its own path walk, as in mbedTLS.

Time is an argument (Unix seconds); nothing here reads a clock.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import verification as xv
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, SignatureAlgorithmOID

from .config import VerifiedChain
from .errors import Reason, TlsError

__all__ = [
    "POLICIES",
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
    "MbedtlsVerifier",
    "VerifyPolicy",
    "WebPkiVerifier",
    "describe_flags",
    "make_verifier",
    "match_name",
    "reason_for_flags",
]

# mbedTLS include/mbedtls/x509.h, "X509 Verify codes".
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
"""What mbedTLS records when a verify callback aborts (esp-tls bundle failure)."""

# mbedTLS library/x509_crt.c x509_crt_verify_strings, in its order.
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
    """The most specific :class:`Reason` for a non-zero set of verify flags."""
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


# --- names -----------------------------------------------------------------


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host[1:-1] if host.startswith("[") and host.endswith("]") else host)
    except ValueError:
        return None


def _dns_match(pattern: str, host: str) -> bool:
    """RFC 6125 matching: case-insensitive; ``*`` only as a whole leftmost label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if not pattern or not host:
        return False
    if "*" not in pattern:
        return pattern == host
    if not pattern.startswith("*.") or "*" in pattern[2:]:
        return False
    label, dot, rest = host.partition(".")
    return bool(label) and bool(dot) and rest == pattern[2:]


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def match_name(cert: x509.Certificate, host: str, *, cn_fallback: bool = False) -> bool:
    """Does ``cert`` name ``host`` (a DNS name or an IP literal)?

    SAN dNSName (with wildcards) for names, SAN iPAddress for IP literals.
    The subject CN is only consulted when ``cn_fallback`` is set and the
    certificate has no SAN extension at all (mbedTLS's rule; webpki never).
    """
    ip = _ip(host)
    san = _san(cert)
    if san is not None:
        if ip is not None:
            return ip in san.get_values_for_type(x509.IPAddress)
        return any(_dns_match(p, host) for p in san.get_values_for_type(x509.DNSName))
    if not cn_fallback:
        return False
    for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        cn = attr.value if isinstance(attr.value, str) else attr.value.decode("latin-1")
        if (ip is not None and _ip(cn) == ip) or (ip is None and _dns_match(cn, host)):
            return True
    return False


# --- policies --------------------------------------------------------------


class _PathError(Exception):
    """The policy found no acceptable path (message for diagnostics)."""


_ANY_EKU = x509.ObjectIdentifier("2.5.29.37.0")
_GOOD_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
_EDDSA_SIGNATURES = (SignatureAlgorithmOID.ED25519, SignatureAlgorithmOID.ED448)
_GOOD_CURVES = ("secp256r1", "secp384r1", "secp521r1")
_MAX_DEPTH = 8


@dataclass(frozen=True)
class _Policy:
    """How a path is built and which names match; one instance per profile."""

    name: str
    cn_fallback: bool
    any_eku_ok: bool

    def build_path(
        self,
        store: xv.Store,
        leaf: x509.Certificate,
        intermediates: list[x509.Certificate],
        subject: str | None,
        when: datetime,
        server: bool,
    ) -> list[x509.Certificate]:
        raise NotImplementedError


_EkuCallback = Callable[[xv.Policy, x509.Certificate, "x509.ExtendedKeyUsage | None"], None]


def _eku_validator(required: x509.ObjectIdentifier, *, allow_any: bool) -> _EkuCallback:
    def check(_policy: xv.Policy, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
        if eku is not None and required not in eku and not (allow_any and _ANY_EKU in eku):
            raise ValueError(f"EKU without {required.dotted_string}")

    return check


@dataclass(frozen=True)
class _WebPkiPolicy(_Policy):
    """``cryptography.x509.verification``'s webpki profile."""

    def build_path(
        self,
        store: xv.Store,
        leaf: x509.Certificate,
        intermediates: list[x509.Certificate],
        subject: str | None,
        when: datetime,
        server: bool,
    ) -> list[x509.Certificate]:
        builder = xv.PolicyBuilder().store(store).time(when)
        try:
            if not server:
                return builder.build_client_verifier().verify(leaf, intermediates).chain
            if subject is not None:
                ip = _ip(subject)
                name: xv.Subject = x509.IPAddress(ip) if ip is not None else x509.DNSName(subject.rstrip("."))
                return builder.build_server_verifier(name).verify(leaf, intermediates)
            # No name to check: there is no such server verifier (cryptography#10276), so use the
            # client verifier with the EKU rule swapped for serverAuth (same criticality as webpki).
            server_auth = ExtendedKeyUsageOID.SERVER_AUTH
            ee = xv.ExtensionPolicy.webpki_defaults_ee().may_be_present(
                x509.ExtendedKeyUsage, xv.Criticality.NON_CRITICAL, _eku_validator(server_auth, allow_any=False)
            )
            ca = xv.ExtensionPolicy.webpki_defaults_ca().may_be_present(
                x509.ExtendedKeyUsage, xv.Criticality.NON_CRITICAL, _eku_validator(server_auth, allow_any=True)
            )
            verifier = builder.extension_policies(ca_policy=ca, ee_policy=ee).build_client_verifier()
            return verifier.verify(leaf, intermediates).chain
        except (xv.VerificationError, ValueError) as exc:
            raise _PathError(str(exc)) from exc


_WEBPKI = _WebPkiPolicy(name="webpki", cn_fallback=False, any_eku_ok=False)


# --- mbedTLS-style diagnosis -------------------------------------------------


def _time_flags(cert: x509.Certificate, when: datetime) -> int:
    flags = 0
    if when > cert.not_valid_after_utc:
        flags |= X509_BADCERT_EXPIRED
    if when < cert.not_valid_before_utc:
        flags |= X509_BADCERT_FUTURE
    return flags


def _key_flags(cert: x509.Certificate) -> int:
    """BAD_KEY for a key mbedTLS's default profile refuses (RSA < 2048, odd curves)."""
    try:
        key = cert.public_key()
    except Exception:  # an unparsable key is a bad key
        return X509_BADCERT_BAD_KEY
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        return X509_BADCERT_BAD_KEY
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in _GOOD_CURVES:
        return X509_BADCERT_BAD_KEY
    return 0


def _signature_alg_flags(cert: x509.Certificate) -> int:
    """BAD_MD / BAD_PK for how ``cert`` itself is signed."""
    if cert.signature_algorithm_oid in _EDDSA_SIGNATURES:
        return X509_BADCERT_BAD_PK
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # unknown signature algorithm
        return X509_BADCERT_BAD_PK
    if algorithm is None or not isinstance(algorithm, _GOOD_HASHES):
        return X509_BADCERT_BAD_MD
    return 0


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _may_issue(parent: x509.Certificate, trusted: bool) -> bool:
    """Could ``parent`` be a CA? (basicConstraints cA, or a trusted v1 root; keyCertSign if keyUsage.)"""
    try:
        bc = _ext(parent, x509.BasicConstraints)
        ku = _ext(parent, x509.KeyUsage)
    except (ValueError, x509.DuplicateExtension):  # DuplicateExtension is no ValueError
        return False
    if isinstance(bc, x509.BasicConstraints):
        is_ca = bc.ca
    else:
        is_ca = trusted and parent.version == x509.Version.v1
    return is_ca and not (isinstance(ku, x509.KeyUsage) and not ku.key_cert_sign)


def _signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except Exception:  # any failure means "not this parent"
        return False
    return True


def _find_parent(
    child: x509.Certificate,
    anchors: Sequence[x509.Certificate],
    rest: list[x509.Certificate],
    when: datetime,
) -> tuple[x509.Certificate | None, bool, bool]:
    """mbedTLS's parent search: anchors first, then the presented chain.

    Returns (parent, parent_is_trusted, signature_ok). A parent whose name
    fits but whose signature or validity does not is kept as a fallback.
    """
    fallback: tuple[x509.Certificate | None, bool, bool] = (None, False, False)
    for trusted, candidates in ((True, anchors), (False, rest)):
        for parent in candidates:
            if parent.subject != child.issuer or not _may_issue(parent, trusted):
                continue
            sig_ok = _signed_by(child, parent)
            if sig_ok and not _time_flags(parent, when):
                return parent, trusted, True
            if fallback[0] is None or (sig_ok and not fallback[2]):
                fallback = (parent, trusted, sig_ok)
    return fallback


def _ee_flags(
    policy: _Policy, leaf: x509.Certificate, host: str | None, server: bool, *, check_key_usage: bool = True
) -> int:
    """Flags for the end-entity itself: name, EKU, keyUsage."""
    flags = 0
    try:
        if host is not None and not match_name(leaf, host, cn_fallback=policy.cn_fallback):
            flags |= X509_BADCERT_CN_MISMATCH
        eku = _ext(leaf, x509.ExtendedKeyUsage)
        required = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        if isinstance(eku, x509.ExtendedKeyUsage) and required not in eku:
            if not (policy.any_eku_ok and _ANY_EKU in eku):
                flags |= X509_BADCERT_EXT_KEY_USAGE
        ku = _ext(leaf, x509.KeyUsage)
        if check_key_usage and isinstance(ku, x509.KeyUsage) and not ku.digital_signature:
            flags |= X509_BADCERT_KEY_USAGE
    except (ValueError, x509.DuplicateExtension):  # malformed or duplicate extensions
        flags |= X509_BADCERT_OTHER
    return flags


def _diagnose(
    policy: _Policy,
    certs: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    host: str | None,
    when: datetime,
    server: bool,
) -> int:
    """mbedTLS-like verify flags for a chain the policy refused.

    Walks leaf -> parent like ``x509_crt_verify_chain``: time flags on every
    certificate of the path including the anchor it reaches; signature
    algorithm and key-size flags below the anchor; NOT_TRUSTED on the
    topmost certificate when no (correctly signed) parent exists.
    """
    leaf = certs[0]
    flags = _ee_flags(policy, leaf, host, server) | _key_flags(leaf)
    rest = list(certs[1:])
    child, child_trusted = leaf, False
    for _ in range(_MAX_DEPTH + 2):
        flags |= _time_flags(child, when)
        if child_trusted:
            return flags
        flags |= _signature_alg_flags(child)
        parent, parent_trusted, sig_ok = _find_parent(child, anchors, rest, when)
        if parent is None:
            return flags | X509_BADCERT_NOT_TRUSTED
        if not sig_ok:
            flags |= X509_BADCERT_NOT_TRUSTED
        flags |= _key_flags(parent)
        if not parent_trusted:
            rest.remove(parent)
        child, child_trusted = parent, parent_trusted
    return flags | X509_BADCERT_NOT_TRUSTED  # path too long


# --- the verifier ------------------------------------------------------------


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _load_chain(chain: Sequence[bytes]) -> list[x509.Certificate]:
    """Parse the peer's chain; ``BADCERT_MISSING`` when empty, ``CERT_BAD`` when unparsable."""
    if not chain:
        raise _fail(X509_BADCERT_MISSING, "the peer sent no certificate")
    try:
        return [x509.load_der_x509_certificate(bytes(der)) for der in chain]
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is no ValueError
        raise TlsError(Reason.CERT_BAD, f"cannot parse the peer certificate: {exc}") from exc


def _fail(flags: int, detail: str = "") -> TlsError:
    text = "; ".join(describe_flags(flags))
    if detail:
        text = f"{text} ({detail})"
    return TlsError(reason_for_flags(flags), f"{text} [flags 0x{flags:x}]", verify_flags=flags)


class WebPkiVerifier:
    """Verifies a peer chain (DER, leaf first) against fixed trust anchors.

    ``check_name=False`` is esp-tls's ``skip_common_name``: the chain is
    still verified (including serverAuth EKU when an EKU is present) but the
    server name is not compared. The name is also not compared when
    ``server_name`` is None, nor for client certificates (``server=False``,
    which require clientAuth instead of serverAuth when an EKU is present).
    """

    policy: ClassVar[str] = "webpki"
    _policy: _Policy = _WEBPKI

    def __init__(self, anchors: Sequence[x509.Certificate], *, check_name: bool = True) -> None:
        if not anchors:
            raise ValueError("a verifier needs at least one trust anchor")
        self._anchors: tuple[x509.Certificate, ...] = tuple(anchors)
        self._anchor_ders = frozenset(_der(c) for c in self._anchors)
        self._store = xv.Store(list(self._anchors))
        self.check_name = check_name

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        return self._anchors

    def verify(self, chain: Sequence[bytes], server_name: str | None, now: float, *, server: bool) -> VerifiedChain:
        """Verify ``chain`` at ``now`` (Unix seconds); raise ``TlsError`` with verify flags."""
        certs = _load_chain(chain)
        when = datetime.fromtimestamp(now, tz=UTC)
        host = server_name if (server and self.check_name and server_name) else None
        leaf = certs[0]
        try:
            path = self._policy.build_path(self._store, leaf, certs[1:], host, when, server)
        except _PathError as exc:
            if bytes(chain[0]) in self._anchor_ders:
                return self._trusted_leaf(leaf, bytes(chain[0]), host, when, server)
            try:
                flags = _diagnose(self._policy, certs, self._anchors, host, when, server)
            except (ValueError, x509.DuplicateExtension):  # lazily parsed names/extensions are malformed
                flags = X509_BADCERT_OTHER
            raise _fail(flags or X509_BADCERT_OTHER, f"{self._policy.name}: {exc}") from exc
        flags = _ee_flags(self._policy, leaf, None, server)
        if flags:
            raise _fail(flags)
        return VerifiedChain(chain=tuple(_der(c) for c in path))

    def _trusted_leaf(
        self, leaf: x509.Certificate, der: bytes, host: str | None, when: datetime, server: bool
    ) -> VerifiedChain:
        """The leaf is itself a trust anchor: check its own validity, name and usage only."""
        flags = _time_flags(leaf, when) | _ee_flags(self._policy, leaf, host, server)
        if flags:
            raise _fail(flags, "locally trusted certificate")
        return VerifiedChain(chain=(der,))


# --- the mbedtls policy ----------------------------------------------------------
#
# mbedTLS 3.x library/x509_crt.c (x509_crt_verify_chain, x509_crt_find_parent_in,
# x509_crt_check_parent, x509_crt_verify_name, x509_profile_check_*) and
# ssl_tls.c mbedtls_ssl_check_cert_usage, with mbedtls_x509_crt_profile_default.

_MB_MAX_INTERMEDIATE_CA = 8
"""MBEDTLS_X509_MAX_INTERMEDIATE_CA."""

_MB_GOOD_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
"""The default profile's ``allowed_mds`` (3.x dropped SHA-1 and SHA-224)."""

_MB_GOOD_CURVES = frozenset(
    {"secp256r1", "secp384r1", "secp521r1", "brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1"}
)
"""The default profile's ``allowed_curves``."""

_MB_RSA_MIN_BITS = 2048

_MB_RSA_SIGNATURES = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_MD5,
        SignatureAlgorithmOID.RSA_WITH_SHA1,
        SignatureAlgorithmOID._RSA_WITH_SHA1,
        SignatureAlgorithmOID.RSA_WITH_SHA224,
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
        SignatureAlgorithmOID.RSASSA_PSS,
    }
)
_MB_ECDSA_SIGNATURES = frozenset(
    {
        SignatureAlgorithmOID.ECDSA_WITH_SHA1,
        SignatureAlgorithmOID.ECDSA_WITH_SHA224,
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
    }
)
_MB_SIGNATURES = _MB_RSA_SIGNATURES | _MB_ECDSA_SIGNATURES
"""Signature algorithms mbedTLS can parse (any other makes the certificate unparsable)."""

_ANY_POLICY = x509.ObjectIdentifier("2.5.29.32.0")
_NS_CERT_TYPE = x509.ObjectIdentifier("2.16.840.1.113730.1.1")
_MB_KNOWN_EXTENSIONS = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.CERTIFICATE_POLICIES,
        _NS_CERT_TYPE,
    }
)
"""Extensions mbedTLS parses; any other critical one makes the certificate unparsable
(MBEDTLS_X509_ALLOW_UNSUPPORTED_CRITICAL_EXTENSION is off)."""

VerifyPolicy = Literal["webpki", "mbedtls"]
POLICIES: tuple[VerifyPolicy, ...] = ("webpki", "mbedtls")


def _label(cert: x509.Certificate) -> str:
    try:
        subject = cert.subject.rfc4514_string()
    except ValueError:
        return "a certificate with a malformed subject"
    return f"'{subject}'" if subject else "a certificate with an empty subject"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(text: str) -> str:
    """x509_memcasecmp's folding: ASCII letters only."""
    return text.translate(_ASCII_FOLD)


def _mb_string_eq(a: str | bytes, b: str | bytes) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a == b or _fold(a) == _fold(b)
    return a == b


def _mb_name_eq(a: x509.Name, b: x509.Name) -> bool:
    """x509_name_cmp: same RDN structure, same types, values equal up to ASCII case."""
    if len(a.rdns) != len(b.rdns):
        return False
    for rdn_a, rdn_b in zip(a.rdns, b.rdns, strict=True):
        attrs_a, attrs_b = list(rdn_a), list(rdn_b)
        if len(attrs_a) != len(attrs_b):
            return False
        for x, y in zip(attrs_a, attrs_b, strict=True):
            if x.oid != y.oid or not _mb_string_eq(x.value, y.value):
                return False
    return True


def _oid_name(oid: x509.ObjectIdentifier) -> str:
    name = getattr(oid, "_name", None)
    return oid.dotted_string if not name or name == "Unknown OID" else str(name)


def _mb_unparsable(cert: x509.Certificate) -> tuple[int, str] | None:
    """Why mbedTLS could not load ``cert`` at all (flag, text), or None.

    mbedTLS fails the handshake on such a certificate without verify flags;
    here it maps to BADCERT_OTHER, or BADCERT_BAD_PK for a key or signature
    algorithm mbedTLS does not know.
    """
    try:
        cert.subject  # noqa: B018 -- parsed lazily; malformed names raise here
        cert.issuer  # noqa: B018
        extensions = cert.extensions
    except (ValueError, x509.DuplicateExtension) as exc:  # DuplicateExtension is no ValueError
        return X509_BADCERT_OTHER, f"cannot be parsed: {exc}"
    for ext in extensions:
        if not ext.critical:
            continue
        if ext.oid not in _MB_KNOWN_EXTENSIONS:
            return X509_BADCERT_OTHER, f"has an unsupported critical extension ({_oid_name(ext.oid)})"
        if isinstance(ext.value, x509.CertificatePolicies) and any(
            p.policy_identifier != _ANY_POLICY for p in ext.value
        ):
            return X509_BADCERT_OTHER, "has a critical certificatePolicies extension with a policy other than anyPolicy"
    if cert.signature_algorithm_oid not in _MB_SIGNATURES:
        name = _oid_name(cert.signature_algorithm_oid)
        return X509_BADCERT_BAD_PK, f"is signed with {name}, which mbedTLS does not support"
    try:
        key = cert.public_key()
    except Exception as exc:  # unknown key algorithm (UnsupportedAlgorithm) or malformed key
        return X509_BADCERT_BAD_PK, f"has a public key mbedTLS cannot use ({exc})"
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        kind = type(key).__name__.removeprefix("_").replace("PublicKey", "")
        return X509_BADCERT_BAD_PK, f"has a public key of type {kind}; mbedTLS only takes RSA and EC keys"
    return None


def _mb_key_problem(cert: x509.Certificate) -> str | None:
    """x509_profile_check_key with the default profile: RSA >= 2048 bits, allowed curves."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MB_RSA_MIN_BITS:
            return f"{_label(cert)} has a {key.key_size}-bit RSA key (at least {_MB_RSA_MIN_BITS} bits needed)"
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _MB_GOOD_CURVES:
            return f"{_label(cert)} has a key on curve {key.curve.name}, which the profile does not allow"
        return None
    return f"{_label(cert)} has a key type the profile does not allow"


def _mb_md_problem(cert: x509.Certificate) -> str | None:
    """x509_profile_check_md_alg: only SHA-256/384/512."""
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # unknown hash
        algorithm = None
    if isinstance(algorithm, _MB_GOOD_HASHES):
        return None
    name = algorithm.name.upper() if algorithm is not None else "an unknown hash"
    return f"{_label(cert)} is signed with {name} (only SHA-256, SHA-384 and SHA-512 are accepted)"


def _mb_signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """x509_crt_check_signature: the parent's key verifies the child's signature (any hash)."""
    oid = child.signature_algorithm_oid
    try:
        key = parent.public_key()
        algorithm = child.signature_hash_algorithm
        if algorithm is None:
            return False
        if isinstance(key, rsa.RSAPublicKey) and oid in _MB_RSA_SIGNATURES:
            pad: padding.AsymmetricPadding = padding.PKCS1v15()
            if oid == SignatureAlgorithmOID.RSASSA_PSS:
                params = child.signature_algorithm_parameters
                if not isinstance(params, padding.PSS):
                    return False
                pad = params
            key.verify(child.signature, child.tbs_certificate_bytes, pad, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and oid in _MB_ECDSA_SIGNATURES:
            # Built from the hash: cryptography gives no ECDSA parameters for ecdsa-with-SHA1.
            key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except Exception:  # InvalidSignature, unsupported parameters
        return False
    return True


def _ku_extra_bits(ku: x509.KeyUsage) -> bool:
    """encipherOnly / decipherOnly set: mbedTLS refuses every usage it was not asked for."""
    return ku.key_agreement and (ku.encipher_only or ku.decipher_only)


def _ku_names(ku: x509.KeyUsage) -> str:
    bits = [
        ("digitalSignature", ku.digital_signature),
        ("nonRepudiation", ku.content_commitment),
        ("keyEncipherment", ku.key_encipherment),
        ("dataEncipherment", ku.data_encipherment),
        ("keyAgreement", ku.key_agreement),
        ("keyCertSign", ku.key_cert_sign),
        ("cRLSign", ku.crl_sign),
        ("encipherOnly", ku.key_agreement and ku.encipher_only),
        ("decipherOnly", ku.key_agreement and ku.decipher_only),
    ]
    return ", ".join(name for name, on in bits if on) or "nothing"


def _mb_parent_refusal(parent: x509.Certificate, trusted: bool) -> str | None:
    """x509_crt_check_parent (the name already matched): CA bit, keyCertSign; None when fine."""
    if trusted and parent.version == x509.Version.v1:
        return None  # a v1 trust anchor needs no CA bit (mbedTLS: "top && version < 3")
    if parent.version == x509.Version.v1:
        return "is an X.509 v1 certificate, accepted as a CA only when it is a trust anchor"
    bc = _ext(parent, x509.BasicConstraints)
    if not (isinstance(bc, x509.BasicConstraints) and bc.ca):
        return "is not a CA (basicConstraints cA is not set)"
    ku = _ext(parent, x509.KeyUsage)
    if isinstance(ku, x509.KeyUsage) and (not ku.key_cert_sign or _ku_extra_bits(ku)):
        return f"may not sign certificates (keyUsage: {_ku_names(ku)})"
    return None


def _mb_max_pathlen(parent: x509.Certificate) -> int:
    """mbedTLS's ``max_pathlen``: pathLenConstraint + 1, 0 for none."""
    bc = _ext(parent, x509.BasicConstraints) if parent.version == x509.Version.v3 else None
    if isinstance(bc, x509.BasicConstraints) and bc.path_length is not None:
        return bc.path_length + 1
    return 0


@dataclass
class _Findings:
    """Verify flags and, for each, what exactly is wrong."""

    flags: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, flag: int, note: str) -> None:
        self.flags |= flag
        if note not in self.notes:
            self.notes.append(note)

    def time(self, cert: x509.Certificate, when: datetime) -> None:
        if when > cert.not_valid_after_utc:
            self.add(X509_BADCERT_EXPIRED, f"{_label(cert)} expired on {_when(cert.not_valid_after_utc)}")
        if when < cert.not_valid_before_utc:
            self.add(X509_BADCERT_FUTURE, f"{_label(cert)} is not valid before {_when(cert.not_valid_before_utc)}")

    def text(self) -> str:
        return "mbedtls: " + "; ".join(self.notes)


@dataclass(frozen=True)
class _Candidate:
    cert: x509.Certificate
    trusted: bool
    position: int
    """Index in the presented chain (-1 for a trust anchor)."""


def _mb_find_parent_in(
    child: x509.Certificate,
    candidates: Sequence[_Candidate],
    top: bool,
    path_cnt: int,
    self_cnt: int,
    when: datetime,
    refusals: list[str],
) -> tuple[_Candidate, bool] | None:
    """x509_crt_find_parent_in: first fitting, currently valid parent; else the first fitting one.

    Returns (parent, signature_is_good); why name-matching candidates were
    passed over goes to ``refusals``.
    """
    fallback: tuple[_Candidate, bool] | None = None
    for candidate in candidates:
        parent = candidate.cert
        if not _mb_name_eq(child.issuer, parent.subject):
            continue
        what = "trust anchor" if top else "presented CA certificate"
        refusal = _mb_parent_refusal(parent, top)
        if refusal is not None:
            refusals.append(f"{what} {_label(parent)} {refusal}")
            continue
        max_pathlen = _mb_max_pathlen(parent)
        if 0 < max_pathlen < 1 + path_cnt - self_cnt:
            refusals.append(f"{what} {_label(parent)} has pathLenConstraint {max_pathlen - 1}, exceeded here")
            continue
        signature_ok = _mb_signed_by(child, parent)
        if top and not signature_ok:
            refusals.append(f"{what} {_label(parent)} has the issuer's name but did not sign {_label(child)}")
            continue
        if when > parent.not_valid_after_utc or when < parent.not_valid_before_utc:
            if fallback is None:
                fallback = (candidate, signature_ok)
            continue
        return candidate, signature_ok
    return fallback


def _mb_dns_match(pattern: str, host: str) -> bool:
    """x509_crt_check_cn: exact (ASCII case-insensitive), or ``*.`` + the host minus its first label."""
    if len(pattern) == len(host) and _fold(pattern) == _fold(host):
        return True
    if len(pattern) < 3 or not pattern.startswith("*."):
        return False
    dot = host.find(".")
    if dot <= 0:
        return False
    return _fold(pattern[1:]) == _fold(host[dot:])


def _mb_san_match(name: x509.GeneralName, host: str) -> bool:
    """x509_crt_check_san: dNSName as a DNS name, iPAddress against an IP literal, URI exactly."""
    if isinstance(name, x509.DNSName):
        return _mb_dns_match(name.value, host)
    if isinstance(name, x509.IPAddress):
        ip = _ip(host)
        return ip is not None and name.value == ip
    if isinstance(name, x509.UniformResourceIdentifier):
        return name.value == host
    return False


def _general_name_text(name: x509.GeneralName) -> str:
    if isinstance(name, x509.DNSName):
        return f"DNS:{name.value}"
    if isinstance(name, x509.IPAddress):
        return f"IP:{name.value}"
    if isinstance(name, x509.UniformResourceIdentifier):
        return f"URI:{name.value}"
    return type(name).__name__


def _common_names(cert: x509.Certificate) -> list[str]:
    values = (a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    return [v if isinstance(v, str) else v.decode("latin-1") for v in values]


def _mb_name_problem(cert: x509.Certificate, host: str) -> str | None:
    """x509_crt_verify_name: the SAN when there is one, else every subject CN."""
    san = _san(cert)
    if san is not None:
        if any(_mb_san_match(name, host) for name in san):
            return None
        listed = ", ".join(_general_name_text(name) for name in san) or "empty"
        return f"server name {host!r} is not in the subjectAltName of {_label(cert)} ({listed})"
    cns = _common_names(cert)
    if any(_mb_dns_match(cn, host) for cn in cns):
        return None
    if not cns:
        return f"{_label(cert)} has neither a subjectAltName nor a subject CN to match {host!r}"
    listed = ", ".join(repr(cn) for cn in cns)
    return f"server name {host!r} does not match the CN of {_label(cert)} ({listed}; no subjectAltName)"


def _mb_ee_checks(leaf: x509.Certificate, host: str | None, server: bool, found: _Findings) -> None:
    """End-entity checks: name, key against the profile, keyUsage and extendedKeyUsage."""
    if host is not None:
        problem = _mb_name_problem(leaf, host)
        if problem is not None:
            found.add(X509_BADCERT_CN_MISMATCH, problem)
    key_problem = _mb_key_problem(leaf)
    if key_problem is not None:
        found.add(X509_BADCERT_BAD_KEY, key_problem)
    ku = _ext(leaf, x509.KeyUsage)
    if isinstance(ku, x509.KeyUsage):
        if server:
            ok = ku.digital_signature or ku.key_encipherment or ku.key_agreement
            wanted = "digitalSignature, keyEncipherment or keyAgreement"
        else:
            ok = ku.digital_signature
            wanted = "digitalSignature"
        if not ok or _ku_extra_bits(ku):
            found.add(X509_BADCERT_KEY_USAGE, f"keyUsage of {_label(leaf)} is {_ku_names(ku)}; {wanted} is needed")
    eku = _ext(leaf, x509.ExtendedKeyUsage)
    if isinstance(eku, x509.ExtendedKeyUsage):
        required = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        if required not in eku and _ANY_EKU not in eku:
            listed = ", ".join(_oid_name(oid) for oid in eku)
            found.add(
                X509_BADCERT_EXT_KEY_USAGE,
                f"extendedKeyUsage of {_label(leaf)} ({listed}) has neither {_oid_name(required)} "
                "nor anyExtendedKeyUsage",
            )


class MbedtlsVerifier:
    """Verifies a peer chain (DER, leaf first) the way an ESP32's mbedTLS 3.x does.

    ``mbedtls_x509_crt_verify_with_profile`` with the default profile:

    * path: for each certificate, a parent among the trust anchors (whose
      signature must verify), else among the certificates sent *after* it;
      the parent's subject must equal the child's issuer (ASCII case
      folded), it must be a CA (basicConstraints cA, and keyCertSign when
      it has a keyUsage) unless it is an X.509 v1 trust anchor, and its
      pathLenConstraint must hold; a currently valid parent is preferred.
      No parent: NOT_TRUSTED; a presented parent with a bad signature:
      NOT_TRUSTED; more than 8 intermediates: NOT_TRUSTED | OTHER.
    * every certificate on the path, trust anchor included: EXPIRED, FUTURE;
      every one below the anchor: BAD_MD unless signed with SHA-256/384/512;
      every key on the path: BAD_KEY when RSA < 2048 bits or an EC curve
      other than P-256/384/521 and brainpoolP256/384/512r1.
    * the end-entity: with ``check_name`` and a ``server_name``, the SAN
      (dNSName with a ``*.`` leftmost wildcard, iPAddress, URI) or, with no
      SAN extension, the subject CNs -> CN_MISMATCH; keyUsage present
      without digitalSignature / keyEncipherment / keyAgreement (client
      certificates: digitalSignature) -> KEY_USAGE; extendedKeyUsage present
      without serverAuth (clientAuth) or anyExtendedKeyUsage -> EXT_KEY_USAGE.
    * a certificate mbedTLS could not parse (an unsupported critical
      extension, duplicate extensions, an EdDSA / DSA key or signature)
      fails at once with OTHER or BAD_PK.
    * a presented leaf byte-equal to a trust anchor is accepted without a
      parent (its validity, name, key and usage are still checked).

    Trust anchors mbedTLS could not load are left out (esp-tls warns and
    goes on when part of a CA bundle fails to parse).
    """

    policy: ClassVar[str] = "mbedtls"

    def __init__(self, anchors: Sequence[x509.Certificate], *, check_name: bool = True) -> None:
        if not anchors:
            raise ValueError("a verifier needs at least one trust anchor")
        usable = [cert for cert in anchors if _mb_unparsable(cert) is None]
        if not usable:
            reasons = "; ".join(f"{_label(c)} {(_mb_unparsable(c) or (0, ''))[1]}" for c in anchors)
            raise ValueError(f"no trust anchor mbedTLS could load: {reasons}")
        self._anchors: tuple[x509.Certificate, ...] = tuple(usable)
        self._anchor_ders = frozenset(_der(c) for c in self._anchors)
        self.check_name = check_name

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        """The trust anchors in use (those mbedTLS could load)."""
        return self._anchors

    def verify(self, chain: Sequence[bytes], server_name: str | None, now: float, *, server: bool) -> VerifiedChain:
        """Verify ``chain`` at ``now`` (Unix seconds); raise ``TlsError`` with verify flags."""
        certs = _load_chain(chain)
        for index, cert in enumerate(certs):
            problem = _mb_unparsable(cert)
            if problem is not None:
                flag, text = problem
                which = "the end-entity certificate" if index == 0 else f"certificate #{index}"
                raise _fail(flag, f"mbedtls: {which} {_label(cert)} {text}; mbedTLS cannot load it")
        when = datetime.fromtimestamp(now, tz=UTC)
        host = server_name if (server and self.check_name and server_name) else None
        found = _Findings()
        _mb_ee_checks(certs[0], host, server, found)
        path = self._walk(certs, bytes(chain[0]), when, found)
        if found.flags:
            raise _fail(found.flags, found.text())
        return VerifiedChain(chain=tuple(_der(c) for c in path))

    def _walk(
        self, certs: list[x509.Certificate], leaf_der: bytes, when: datetime, found: _Findings
    ) -> list[x509.Certificate]:
        """x509_crt_verify_chain: the path it reached (flags and notes go to ``found``)."""
        anchors = [_Candidate(cert, True, -1) for cert in self._anchors]
        presented = [_Candidate(cert, False, i) for i, cert in enumerate(certs)]
        path: list[x509.Certificate] = []
        child = presented[0]
        self_cnt = 0
        while True:
            path.append(child.cert)
            found.time(child.cert, when)
            if child.trusted:
                return path
            md_problem = _mb_md_problem(child.cert)
            if md_problem is not None:
                found.add(X509_BADCERT_BAD_MD, md_problem)
            if len(path) == 1 and leaf_der in self._anchor_ders:
                return path  # locally trusted end-entity
            refusals: list[str] = []
            path_cnt = len(path) - 1
            result = _mb_find_parent_in(child.cert, anchors, True, path_cnt, self_cnt, when, refusals)
            if result is None:
                later = presented[child.position + 1 :]
                result = _mb_find_parent_in(child.cert, later, False, path_cnt, self_cnt, when, refusals)
            if result is None:
                found.add(X509_BADCERT_NOT_TRUSTED, self._no_parent(child.cert, refusals))
                return path
            parent, signature_ok = result
            if len(path) != 1 and _mb_name_eq(child.cert.issuer, child.cert.subject):
                self_cnt += 1
            if not parent.trusted and len(path) > _MB_MAX_INTERMEDIATE_CA:
                found.add(
                    X509_BADCERT_NOT_TRUSTED | X509_BADCERT_OTHER,
                    f"more than {_MB_MAX_INTERMEDIATE_CA} intermediate CA certificates",
                )
                return path
            if not signature_ok:
                found.add(
                    X509_BADCERT_NOT_TRUSTED,
                    f"the signature of {_label(child.cert)} does not verify with the key of {_label(parent.cert)}",
                )
            key_problem = _mb_key_problem(parent.cert)
            if key_problem is not None:
                found.add(X509_BADCERT_BAD_KEY, key_problem)
            child = parent

    @staticmethod
    def _no_parent(child: x509.Certificate, refusals: list[str]) -> str:
        try:
            issuer = child.issuer.rfc4514_string()
        except ValueError:
            issuer = "?"
        text = f"no trusted issuer for {_label(child)} (issuer '{issuer}')"
        if refusals:
            text += ": " + "; ".join(refusals)
        else:
            text += ": no trust anchor or presented CA certificate has that name"
        return text


def make_verifier(
    anchors: Sequence[x509.Certificate], policy: str = "webpki", check_name: bool = True
) -> WebPkiVerifier | MbedtlsVerifier:
    """A :class:`CertificateVerifier` for ``policy`` (one of :data:`POLICIES`).

    ``check_name=False`` is esp-tls's ``skip_common_name``: everything but
    the server name is still checked.
    """
    if policy == "webpki":
        return WebPkiVerifier(anchors, check_name=check_name)
    if policy == "mbedtls":
        return MbedtlsVerifier(anchors, check_name=check_name)
    raise ValueError(f"unknown verification policy {policy!r} (expected one of {', '.join(POLICIES)})")
