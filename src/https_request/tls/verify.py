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
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding as _Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

from ..structs import Struct
from .config import VerifiedChain
from .errors import Reason, TlsError

if TYPE_CHECKING:  # cryptography.x509.verification costs ~30 ms to import: only when a chain is built
    from cryptography.x509 import verification as xv

    from .verify_mbedtls import MbedtlsVerifier

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
    "time_flags",
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


class _Policy(Struct, slots=False):
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


_EkuCallback = Callable[["xv.Policy", x509.Certificate, "x509.ExtendedKeyUsage | None"], None]


def _eku_validator(required: x509.ObjectIdentifier, *, allow_any: bool) -> _EkuCallback:
    def check(_policy: xv.Policy, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
        if eku is not None and required not in eku and not (allow_any and _ANY_EKU in eku):
            raise ValueError(f"EKU without {required.dotted_string}")

    return check


class _WebPkiPolicy(_Policy, slots=False):
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
        from cryptography.x509 import verification as xv

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


def time_flags(cert: x509.Certificate, when: datetime) -> int:
    """EXPIRED / FUTURE for ``cert`` at ``when`` (mbedTLS checks every certificate of a chain)."""
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
            if sig_ok and not time_flags(parent, when):
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
        flags |= time_flags(child, when)
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
    return cert.public_bytes(_Encoding.DER)


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
        from cryptography.x509 import verification as xv

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
        flags = time_flags(leaf, when) | _ee_flags(self._policy, leaf, host, server)
        if flags:
            raise _fail(flags, "locally trusted certificate")
        return VerifiedChain(chain=(der,))


VerifyPolicy = Literal["webpki", "mbedtls"]
POLICIES: tuple[VerifyPolicy, ...] = ("webpki", "mbedtls")


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
        from .verify_mbedtls import MbedtlsVerifier

        return MbedtlsVerifier(anchors, check_name=check_name)
    raise ValueError(f"unknown verification policy {policy!r} (expected one of {', '.join(POLICIES)})")


def __getattr__(name: str) -> object:
    """``MbedtlsVerifier`` lives in :mod:`.verify_mbedtls` (imported on first use)."""
    if name == "MbedtlsVerifier":
        from .verify_mbedtls import MbedtlsVerifier

        return MbedtlsVerifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
