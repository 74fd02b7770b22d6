"""The ``mbedtls`` verification policy: what an ESP32 accepts.

mbedTLS 3.x ``mbedtls_x509_crt_verify_with_profile`` with the default profile
(as esp-tls configures it) plus the TLS layer's keyUsage / extendedKeyUsage
check of the end-entity; see :mod:`.verify` for the flags, the webpki policy
and what both policies share. Time is an argument; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, SignatureAlgorithmOID

from ..structs import Struct, field
from .config import VerifiedChain
from .verify import (
    _ANY_EKU,
    X509_BADCERT_BAD_KEY,
    X509_BADCERT_BAD_MD,
    X509_BADCERT_BAD_PK,
    X509_BADCERT_CN_MISMATCH,
    X509_BADCERT_EXPIRED,
    X509_BADCERT_EXT_KEY_USAGE,
    X509_BADCERT_FUTURE,
    X509_BADCERT_KEY_USAGE,
    X509_BADCERT_NOT_TRUSTED,
    X509_BADCERT_OTHER,
    _der,
    _ext,
    _fail,
    _ip,
    _label,
    _load_chain,
    _san,
    bad_signature_note,
    no_issuer_note,
)

__all__ = ["MbedtlsVerifier"]


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


class _Findings(Struct, frozen=False, slots=False):
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


class _Candidate(Struct, slots=False):
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

    @property
    def trust_fingerprint(self) -> bytes:
        """The trust anchors' :func:`~.session.trust_fingerprint` (what a session records)."""
        from .session import trust_fingerprint

        return trust_fingerprint("anchors", self._anchor_ders)

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
                found.add(X509_BADCERT_NOT_TRUSTED, no_issuer_note(child.cert, refusals))
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
                    bad_signature_note(child.cert, parent.cert),
                )
            key_problem = _mb_key_problem(parent.cert)
            if key_problem is not None:
                found.add(X509_BADCERT_BAD_KEY, key_problem)
            child = parent
