"""Mbed TLS 3.6's certificate path rules: the one copy every verifier walks with.

An ESP32 checks a peer's chain with ``mbedtls_x509_crt_verify_with_profile``
under ``mbedtls_x509_crt_profile_default`` (``library/x509_crt.c``), then
``mbedtls_ssl_check_cert_usage`` (``library/ssl_tls.c``). :func:`verify` is
that, for three callers: :class:`~.verify.MbedtlsVerifier` (the trust anchors
are CA certificates), the ESP bundle verifier
(:mod:`https_request.esp_tls.bundle_verify`: no CA certificate; its verify
callback searches the bundle for the issuer of the top certificate, as
``esp_crt_verify_callback`` does) and the webpki policy's diagnosis
(:class:`~.verify.WebPkiVerifier`, which only swaps the end-entity rules).

The rules, with their source in Mbed TLS 3.6:

Loading (``x509_crt_parse_der``, :func:`load_chain`)
    A certificate mbedTLS cannot load fails the chain at once: a malformed
    name, duplicate extensions, an unsupported critical extension or a
    critical certificatePolicies other than anyPolicy -> ``OTHER``; a
    signature algorithm outside ``mbedtls_oid_get_sig_alg``'s table (RSA
    PKCS#1 v1.5 MD5..SHA-512, RSASSA-PSS, ECDSA SHA-1..SHA-512) or a key that
    is neither RSA nor EC (``mbedtls_pk_parse_subpubkey``) -> ``BAD_PK``.
    (mbedTLS's TLS layer drops a peer certificate whose signature algorithm
    it does not know and goes on with the rest; we refuse the chain.)
Path (``x509_crt_verify_chain``, :func:`verify_chain`), from the leaf up
    * every certificate on the path, the trust anchor included: ``EXPIRED``
      when now > notAfter, ``FUTURE`` when now < notBefore (bounds inclusive);
      a trusted certificate ends the path;
    * below the anchor, ``BAD_MD`` unless signed with SHA-256/384/512 (the
      default profile's ``allowed_mds``);
    * the leaf ends the path when it is self-issued and byte-equal to a CA
      certificate (``x509_crt_check_ee_locally_trusted``);
    * the parent (``x509_crt_find_parent``): first among the CA certificates,
      then among the certificates sent *after* the child. A candidate must
      (``x509_crt_check_parent``) have the child's issuer as subject
      (``x509_name_cmp``: same attribute types and RDN structure, values
      byte-equal or, both UTF8String/PrintableString, equal up to ASCII
      case) and be a CA: basicConstraints cA and, with a keyUsage,
      keyCertSign without encipherOnly/decipherOnly
      (``mbedtls_x509_crt_check_key_usage``), unless it is an X.509 v1 CA
      certificate (``top && parent->version < 3``: no CA bit, no keyUsage);
      its pathLenConstraint must hold (``0 < max_pathlen < 1 + path_cnt -
      self_cnt`` refuses it; ``max_pathlen`` = pathLenConstraint + 1,
      ``path_cnt`` = certificates below it, ``self_cnt`` = self-issued
      intermediates). A CA certificate must have signed the child
      (``x509_crt_check_signature``: PKCS#1 v1.5, PSS with its parameters or
      ECDSA by the signature OID); a presented one is taken even so, and the
      child gets ``NOT_TRUSTED``. A currently valid candidate wins, else the
      first fitting one;
    * no parent: ``NOT_TRUSTED`` on the child, the path ends;
    * an untrusted parent above 8 intermediates
      (``MBEDTLS_X509_MAX_INTERMEDIATE_CA``): ``X509_FATAL_ERROR`` and flags
      0xFFFFFFFF (:class:`~.x509_flags.VerifyAborted`);
    * ``BAD_KEY`` for a parent's key the profile refuses
      (``x509_profile_check_key``: RSA below 2048 bits, curves other than
      P-256/384/521 and brainpoolP256/384/512r1).
End entity (``x509_crt_verify_restartable_ca_cb``)
    ``BAD_KEY`` for its own key; ``CN_MISMATCH`` unless the name fits
    (``x509_crt_verify_name``, :func:`mbedtls_name_problem`): with a SAN, a
    dNSName equal up to ASCII case or ``*.`` + the name minus its first
    label (``x509_crt_check_cn``), then an iPAddress equal to the name read
    as an IPv4/IPv6 literal, then a URI byte-equal; without a SAN, any
    subject CN as a dNSName. :class:`EeRules` lets webpki swap in its own.
Verify callback (``x509_crt_merge_flags_with_cb``)
    Top first, each certificate's flags go through the callback, which may
    change them or abort.
Usage (``mbedtls_ssl_check_cert_usage``, :func:`usage_flags`)
    A keyUsage must allow digitalSignature (TLS 1.3, ECDHE, client
    certificates) -- for a server's RSA key, keyEncipherment (static RSA)
    also does, for an EC key keyAgreement (static ECDH), as the verifier is
    not told the key exchange; the TLS 1.2 client then checks the one its
    suite needs (``kx``) -- with
    ``mbedtls_x509_crt_check_key_usage``'s rule that encipherOnly and
    decipherOnly are refused unless asked for -> ``KEY_USAGE``. An
    extendedKeyUsage must list serverAuth (clientAuth for a client) or
    anyExtendedKeyUsage -> ``EXT_KEY_USAGE``.

The flag values and texts are ``include/mbedtls/x509.h``'s and
``x509_crt_verify_strings``. Time is an argument; nothing here reads a clock.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, SignatureAlgorithmOID

from ..structs import Struct, field
from . import x509_flags as xf
from .der import CertParts, NameAttr, cert_parts, parse_name
from .errors import Reason, TlsError

__all__ = [
    "MBEDTLS_RULES",
    "Callback",
    "Cert",
    "EeRules",
    "Link",
    "Outcome",
    "check_key_usage",
    "label",
    "load_cert",
    "load_chain",
    "load_problem",
    "mbedtls_name_problem",
    "names_equal",
    "time_flags",
    "usage_flags",
    "verify",
    "verify_chain",
]

# --- the default profile (mbedtls_x509_crt_profile_default) and what mbedTLS can parse ---------

_MAX_INTERMEDIATE_CA = 8
"""MBEDTLS_X509_MAX_INTERMEDIATE_CA."""

_GOOD_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
_GOOD_CURVES = frozenset(
    {"secp256r1", "secp384r1", "secp521r1", "brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1"}
)
_RSA_MIN_BITS = 2048

_SHA = ("SHA1", "SHA224", "SHA256", "SHA384", "SHA512")
_RSA_PKCS1: frozenset[x509.ObjectIdentifier] = frozenset(
    [getattr(SignatureAlgorithmOID, f"RSA_WITH_{h}") for h in ("MD5", *_SHA)]
    + [x509.ObjectIdentifier("1.3.14.3.2.29")]  # sha-1WithRSAEncryption (OIW), MBEDTLS_OID_RSA_SHA_OBS
)
_ECDSA: frozenset[x509.ObjectIdentifier] = frozenset(getattr(SignatureAlgorithmOID, f"ECDSA_WITH_{h}") for h in _SHA)
_SIGNATURES = _RSA_PKCS1 | _ECDSA | {SignatureAlgorithmOID.RSASSA_PSS}

_ANY_POLICY = x509.ObjectIdentifier("2.5.29.32.0")
_KNOWN_EXTENSIONS = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.CERTIFICATE_POLICIES,
        x509.ObjectIdentifier("2.16.840.1.113730.1.1"),  # nsCertType
    }
)
"""What mbedTLS parses; another critical extension fails the certificate
(MBEDTLS_X509_ALLOW_UNSUPPORTED_CRITICAL_EXTENSION is off)."""

_OID_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    SignatureAlgorithmOID.ED25519: "ed25519",
    SignatureAlgorithmOID.ED448: "ed448",
}


def _oid_name(oid: x509.ObjectIdentifier) -> str:
    return _OID_NAMES.get(oid, oid.dotted_string)


# --- loading ------------------------------------------------------------------------------


def label(cert: x509.Certificate) -> str:
    """``cert``'s subject for messages: ``'CN=...'``."""
    try:
        subject = cert.subject.rfc4514_string()
    except ValueError:
        return "a certificate with a malformed subject"
    return f"'{subject}'" if subject else "a certificate with an empty subject"


class Cert(Struct):
    """A certificate as the walk sees it: DER, parsed form, raw TBS and names."""

    der: bytes
    cert: x509.Certificate
    parts: CertParts
    issuer: tuple[NameAttr, ...]
    subject: tuple[NameAttr, ...]

    @property
    def label(self) -> str:
        return label(self.cert)


def load_problem(cert: x509.Certificate) -> tuple[int, str] | None:
    """Why mbedTLS could not load ``cert`` (flag, text), or None."""
    try:
        cert.subject  # noqa: B018 -- parsed lazily; malformed names raise here
        cert.issuer  # noqa: B018
        extensions = cert.extensions
    except (ValueError, x509.DuplicateExtension) as exc:  # DuplicateExtension is no ValueError
        return xf.X509_BADCERT_OTHER, f"cannot be parsed: {exc}"
    for ext in extensions:
        if not ext.critical:
            continue
        if ext.oid not in _KNOWN_EXTENSIONS:
            return xf.X509_BADCERT_OTHER, f"has an unsupported critical extension ({_oid_name(ext.oid)})"
        if isinstance(ext.value, x509.CertificatePolicies) and any(
            p.policy_identifier != _ANY_POLICY for p in ext.value
        ):
            return (
                xf.X509_BADCERT_OTHER,
                "has a critical certificatePolicies extension with a policy other than anyPolicy",
            )
    if cert.signature_algorithm_oid not in _SIGNATURES:
        name = _oid_name(cert.signature_algorithm_oid)
        return xf.X509_BADCERT_BAD_PK, f"is signed with {name}, which mbedTLS does not support"
    try:
        key = cert.public_key()
    except Exception as exc:  # unknown key algorithm (UnsupportedAlgorithm) or malformed key
        return xf.X509_BADCERT_BAD_PK, f"has a public key mbedTLS cannot use ({exc})"
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        kind = type(key).__name__.removeprefix("_").replace("PublicKey", "")
        return xf.X509_BADCERT_BAD_PK, f"has a public key of type {kind}; mbedTLS only takes RSA and EC keys"
    return None


def load_cert(der: bytes, cert: x509.Certificate | None = None) -> Cert:
    """``der`` as a :class:`Cert`; raises ``TlsError`` (``CERT_BAD``) when it does not parse."""
    try:
        if cert is None:
            cert = x509.load_der_x509_certificate(der)
        parts = cert_parts(der)
        return Cert(der, cert, parts, tuple(parse_name(parts.issuer_raw)), tuple(parse_name(parts.subject_raw)))
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is no ValueError
        raise TlsError(Reason.CERT_BAD, f"cannot parse the peer certificate: {exc}") from exc


def load_chain(chain: Sequence[bytes], what: str = "mbedtls") -> list[Cert]:
    """The peer's chain (leaf first) as mbedTLS would load it.

    Raises ``TlsError``: ``BADCERT_MISSING`` for an empty chain, ``CERT_BAD``
    for DER that does not parse, and the :func:`load_problem` flag for a
    certificate mbedTLS cannot load (``what`` starts the message).
    """
    if not chain:
        raise xf.failure(xf.X509_BADCERT_MISSING, "the peer sent no certificate")
    certs = [load_cert(bytes(der)) for der in chain]
    for index, cert in enumerate(certs):
        problem = load_problem(cert.cert)
        if problem is not None:
            flag, text = problem
            which = "the end-entity certificate" if index == 0 else f"certificate #{index}"
            raise xf.failure(flag, f"{what}: {which} {cert.label} {text}; mbedTLS cannot load it")
    return certs


# --- the rules ----------------------------------------------------------------------------

_ASCII_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
_UTF8_OR_PRINTABLE = (0x0C, 0x13)


def _casefold_eq(a: bytes, b: bytes) -> bool:
    """``x509_memcasecmp``: equal up to ASCII letter case."""
    return len(a) == len(b) and a.translate(_ASCII_LOWER) == b.translate(_ASCII_LOWER)


def names_equal(a: Sequence[NameAttr], b: Sequence[NameAttr]) -> bool:
    """``x509_name_cmp``: same OIDs and RDN structure; UTF8/Printable values compared caselessly."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x.oid != y.oid or x.merged != y.merged:
            return False
        if x.tag == y.tag and x.value == y.value:
            continue
        if x.tag in _UTF8_OR_PRINTABLE and y.tag in _UTF8_OR_PRINTABLE and _casefold_eq(x.value, y.value):
            continue
        return False
    return True


def time_flags(cert: x509.Certificate, when: datetime) -> int:
    """``EXPIRED`` / ``FUTURE`` for ``cert`` at ``when``."""
    flags = 0
    if when > cert.not_valid_after_utc:
        flags |= xf.X509_BADCERT_EXPIRED
    if when < cert.not_valid_before_utc:
        flags |= xf.X509_BADCERT_FUTURE
    return flags


def _key_problem(cert: x509.Certificate) -> str | None:
    """``x509_profile_check_key``: RSA >= 2048 bits, a curve of the profile."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _RSA_MIN_BITS:
            return f"{label(cert)} has a {key.key_size}-bit RSA key (at least {_RSA_MIN_BITS} bits needed)"
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _GOOD_CURVES:
            return f"{label(cert)} has a key on curve {key.curve.name}, which the profile does not allow"
        return None
    return f"{label(cert)} has a key type the profile does not allow"


def _md_problem(cert: x509.Certificate) -> str | None:
    """``x509_profile_check_md_alg``: SHA-256, SHA-384 or SHA-512."""
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # unknown hash
        algorithm = None
    if isinstance(algorithm, _GOOD_HASHES):
        return None
    name = algorithm.name.upper() if algorithm is not None else "an unknown hash"
    return f"{label(cert)} is signed with {name} (only SHA-256, SHA-384 and SHA-512 are accepted)"


def _signed_by(child: Cert, parent: Cert) -> bool:
    """``x509_crt_check_signature``: the parent's key verifies the child's raw TBS, as its OID says."""
    oid = child.cert.signature_algorithm_oid
    try:
        key = parent.cert.public_key()
        algorithm = child.cert.signature_hash_algorithm
        if algorithm is None:
            return False
        tbs, signature = child.parts.tbs, child.cert.signature
        if isinstance(key, rsa.RSAPublicKey) and oid in _RSA_PKCS1:
            key.verify(signature, tbs, padding.PKCS1v15(), algorithm)
        elif isinstance(key, rsa.RSAPublicKey) and oid == SignatureAlgorithmOID.RSASSA_PSS:
            pss = child.cert.signature_algorithm_parameters
            if not isinstance(pss, padding.PSS):
                return False
            key.verify(signature, tbs, pss, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and oid in _ECDSA:
            key.verify(signature, tbs, ec.ECDSA(algorithm))  # built from the hash: no parameters for SHA-1
        else:
            return False  # mbedtls_pk_can_do: the parent's key cannot make this kind of signature
    except Exception:  # InvalidSignature, unsupported parameters
        return False
    return True


# mbedTLS x509.h MBEDTLS_X509_KU_*: the keyUsage bits as it stores them, and cryptography's names.
_KU_DIGITAL_SIGNATURE = 0x80
_KU_KEY_ENCIPHERMENT = 0x20
_KU_KEY_AGREEMENT = 0x08
_KU_KEY_CERT_SIGN = 0x04
_KU_MAY = 0x01 | 0x8000  # encipherOnly | decipherOnly
_KU_BITS = (
    (_KU_DIGITAL_SIGNATURE, "digitalSignature", "digital_signature"),
    (0x40, "nonRepudiation", "content_commitment"),
    (_KU_KEY_ENCIPHERMENT, "keyEncipherment", "key_encipherment"),
    (0x10, "dataEncipherment", "data_encipherment"),
    (_KU_KEY_AGREEMENT, "keyAgreement", "key_agreement"),
    (_KU_KEY_CERT_SIGN, "keyCertSign", "key_cert_sign"),
    (0x02, "cRLSign", "crl_sign"),
    (0x01, "encipherOnly", "encipher_only"),
    (0x8000, "decipherOnly", "decipher_only"),
)


def _ku_bits(cert: x509.Certificate) -> int | None:
    """The keyUsage bits (``MBEDTLS_X509_KU_*``), None without the extension."""
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    bits = 0
    for bit, _, attribute in _KU_BITS:
        # cryptography raises for encipherOnly/decipherOnly without keyAgreement (it never parses them so)
        if (ku.key_agreement or attribute not in ("encipher_only", "decipher_only")) and getattr(ku, attribute):
            bits |= bit
    return bits


def check_key_usage(bits: int | None, usage: int) -> bool:
    """``mbedtls_x509_crt_check_key_usage``: no extension, or every asked bit and no unasked encipher/decipherOnly."""
    if bits is None:
        return True
    must = usage & ~_KU_MAY
    return (bits & ~_KU_MAY) & must == must and (bits & _KU_MAY) | (usage & _KU_MAY) == usage & _KU_MAY


def _ku_text(bits: int) -> str:
    return ", ".join(name for bit, name, _ in _KU_BITS if bits & bit) or "nothing"


def _parent_refusal(parent: Cert, top: bool) -> str | None:
    """``x509_crt_check_parent`` once the name matched: the CA bit and keyCertSign, unless a v1 CA certificate."""
    cert = parent.cert
    if top and cert.version == x509.Version.v1:
        return None
    if cert.version == x509.Version.v1:
        return "is an X.509 v1 certificate, accepted as a CA only when it is a trust anchor"
    bc = _basic_constraints(cert)
    if bc is None or not bc.ca:
        return "is not a CA (basicConstraints cA is not set)"
    bits = _ku_bits(cert)
    if not check_key_usage(bits, _KU_KEY_CERT_SIGN):
        return f"may not sign certificates (keyUsage: {_ku_text(bits or 0)})"
    return None


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _max_pathlen(cert: x509.Certificate) -> int:
    """mbedTLS's ``max_pathlen``: pathLenConstraint + 1, 0 for none."""
    bc = _basic_constraints(cert)
    return 0 if bc is None or bc.path_length is None else bc.path_length + 1


class Link(Struct, frozen=False, slots=False):
    """One certificate of the path and its flags (``mbedtls_x509_crt_verify_chain_item``)."""

    cert: Cert
    trusted: bool
    position: int
    """Index in the presented chain; -1 for a CA certificate."""
    flags: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, flag: int, note: str) -> None:
        self.flags |= flag
        if note not in self.notes:
            self.notes.append(note)


def _find_parent_in(
    child: Cert,
    candidates: Sequence[tuple[int, Cert]],
    top: bool,
    path_cnt: int,
    self_cnt: int,
    when: datetime,
    refusals: list[str],
) -> tuple[int, Cert, bool] | None:
    """``x509_crt_find_parent_in``: (position, parent, signature is good), or None; refusals noted."""
    fallback: tuple[int, Cert, bool] | None = None
    what = "trust anchor" if top else "presented CA certificate"
    for position, parent in candidates:
        if not names_equal(child.issuer, parent.subject):
            continue
        refusal = _parent_refusal(parent, top)
        if refusal is not None:
            refusals.append(f"{what} {parent.label} {refusal}")
            continue
        max_pathlen = _max_pathlen(parent.cert)
        if 0 < max_pathlen < 1 + path_cnt - self_cnt:
            refusals.append(f"{what} {parent.label} has pathLenConstraint {max_pathlen - 1}, exceeded here")
            continue
        signature_ok = _signed_by(child, parent)
        if top and not signature_ok:
            refusals.append(f"{what} {parent.label} has the issuer's name but did not sign {child.label}")
            continue
        if time_flags(parent.cert, when):
            if fallback is None:
                fallback = (position, parent, signature_ok)
            continue
        return position, parent, signature_ok
    return fallback


def _no_parent(child: Cert, refusals: list[str]) -> str:
    try:
        issuer = child.cert.issuer.rfc4514_string()
    except ValueError:
        issuer = "?"
    text = f"no trusted issuer for {child.label} (issuer '{issuer}')"
    if refusals:
        return text + ": " + "; ".join(refusals)
    return text + ": no trust anchor or presented CA certificate has that name"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def verify_chain(certs: Sequence[Cert], anchors: Sequence[Cert], when: datetime) -> list[Link]:
    """``x509_crt_verify_chain``: the path from ``certs[0]`` with each certificate's flags.

    Raises :class:`~.x509_flags.VerifyAborted` past :data:`_MAX_INTERMEDIATE_CA` intermediates.
    """
    trusted = [(-1, anchor) for anchor in anchors]
    anchor_ders = {anchor.der for anchor in anchors}
    path: list[Link] = []
    child = Link(certs[0], trusted=False, position=0)
    self_cnt = 0
    while True:
        path.append(child)
        cert = child.cert.cert
        if when > cert.not_valid_after_utc:
            child.add(xf.X509_BADCERT_EXPIRED, f"{child.cert.label} expired on {_when(cert.not_valid_after_utc)}")
        if when < cert.not_valid_before_utc:
            child.add(
                xf.X509_BADCERT_FUTURE, f"{child.cert.label} is not valid before {_when(cert.not_valid_before_utc)}"
            )
        if child.trusted:
            return path
        md_problem = _md_problem(cert)
        if md_problem is not None:
            child.add(xf.X509_BADCERT_BAD_MD, md_problem)
        if len(path) == 1 and names_equal(child.cert.issuer, child.cert.subject) and child.cert.der in anchor_ders:
            return path  # x509_crt_check_ee_locally_trusted
        refusals: list[str] = []
        path_cnt = len(path) - 1
        found = _find_parent_in(child.cert, trusted, True, path_cnt, self_cnt, when, refusals)
        if found is None:
            later = list(enumerate(certs))[child.position + 1 :]
            found = _find_parent_in(child.cert, later, False, path_cnt, self_cnt, when, refusals)
        if found is None:
            child.add(xf.X509_BADCERT_NOT_TRUSTED, _no_parent(child.cert, refusals))
            return path
        position, parent, signature_ok = found
        if len(path) != 1 and names_equal(child.cert.issuer, child.cert.subject):
            self_cnt += 1
        if position >= 0 and len(path) > _MAX_INTERMEDIATE_CA:
            raise xf.VerifyAborted(f"more than {_MAX_INTERMEDIATE_CA} intermediate CA certificates")
        if not signature_ok:
            child.add(
                xf.X509_BADCERT_NOT_TRUSTED,
                f"the signature of {child.cert.label} does not verify with the key of {parent.label}",
            )
        key_problem = _key_problem(parent.cert)
        if key_problem is not None:
            child.add(xf.X509_BADCERT_BAD_KEY, key_problem)
        child = Link(parent, trusted=position < 0, position=position)


# --- names ---------------------------------------------------------------------------------


def _ascii_fold(text: str) -> str:
    return text.translate(_ASCII_FOLD)


_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _check_cn(pattern: str, host: str) -> bool:
    """``x509_crt_check_cn``: equal up to ASCII case, or ``*.`` + ``host`` minus its first label."""
    if len(pattern) == len(host) and _ascii_fold(pattern) == _ascii_fold(host):
        return True
    if len(pattern) < 3 or not pattern.startswith("*."):
        return False
    dot = host.find(".")
    return dot > 0 and _ascii_fold(pattern[1:]) == _ascii_fold(host[dot:])


def _inet_pton(host: str) -> bytes | None:
    """``mbedtls_x509_crt_parse_cn_inet_pton``: IPv6 when the name has a ':', else dotted IPv4."""
    try:
        address = ipaddress.IPv6Address(host) if ":" in host else ipaddress.IPv4Address(host)
    except ValueError:
        return None
    return None if isinstance(address, ipaddress.IPv6Address) and address.scope_id else address.packed


def _general_name_text(name: x509.GeneralName) -> str:
    kinds = {x509.DNSName: "DNS", x509.IPAddress: "IP", x509.UniformResourceIdentifier: "URI"}
    kind = kinds.get(type(name))
    return f"{kind}:{name.value}" if kind else type(name).__name__


def mbedtls_name_problem(cert: x509.Certificate, host: str) -> str | None:
    """``x509_crt_verify_name``: why ``cert`` does not name ``host``, or None when it does."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        packed = _inet_pton(host)
        if any(_check_cn(name, host) for name in san.get_values_for_type(x509.DNSName)):
            return None
        if packed is not None and any(
            isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address) and ip.packed == packed
            for ip in san.get_values_for_type(x509.IPAddress)
        ):
            return None
        if host in san.get_values_for_type(x509.UniformResourceIdentifier):
            return None
        listed = ", ".join(_general_name_text(name) for name in san) or "empty"
        return f"server name {host!r} is not in the subjectAltName of {label(cert)} ({listed})"
    values = (a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    cns = [v if isinstance(v, str) else v.decode("latin-1") for v in values]
    if any(_check_cn(cn, host) for cn in cns):
        return None
    if not cns:
        return f"{label(cert)} has neither a subjectAltName nor a subject CN to match {host!r}"
    listed = ", ".join(repr(cn) for cn in cns)
    return f"server name {host!r} does not match the CN of {label(cert)} ({listed}; no subjectAltName)"


# --- end entity ----------------------------------------------------------------------------

NameRule = Callable[[x509.Certificate, str], str | None]


class EeRules(Struct):
    """The end-entity rules: mbedTLS's (:data:`MBEDTLS_RULES`), or webpki's in its diagnosis."""

    names: NameRule
    """Why a certificate does not name a host (None when it does)."""
    any_eku: bool = True
    """anyExtendedKeyUsage stands for serverAuth / clientAuth."""
    static_kx: bool = True
    """keyEncipherment alone will do for a server's RSA key, keyAgreement for an EC key (static RSA, ECDH)."""


MBEDTLS_RULES = EeRules(names=mbedtls_name_problem)


def usage_flags(
    cert: x509.Certificate, server: bool, rules: EeRules = MBEDTLS_RULES, kx: str | None = None
) -> tuple[int, list[str]]:
    """``mbedtls_ssl_check_cert_usage``: (``KEY_USAGE`` | ``EXT_KEY_USAGE`` flags, what is wrong). With the
    key exchange ``kx``: keyEncipherment for ``RSA``, keyAgreement for ``ECDH``, else digitalSignature."""
    flags, notes = 0, []
    bits = _ku_bits(cert)
    usages = [_KU_DIGITAL_SIGNATURE]
    if kx is not None:
        usages = [{"RSA": _KU_KEY_ENCIPHERMENT, "ECDH": _KU_KEY_AGREEMENT}.get(kx, _KU_DIGITAL_SIGNATURE)]
    elif server and rules.static_kx:
        key = cert.public_key()
        usages += [_KU_KEY_ENCIPHERMENT] if isinstance(key, rsa.RSAPublicKey) else []
        usages += [_KU_KEY_AGREEMENT] if isinstance(key, ec.EllipticCurvePublicKey) else []
    if not any(check_key_usage(bits, usage) for usage in usages):
        wanted = " or ".join(_ku_text(usage) for usage in usages)
        flags |= xf.X509_BADCERT_KEY_USAGE
        notes.append(f"keyUsage of {label(cert)} is {_ku_text(bits or 0)}; {wanted} is needed")
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    if eku is not None:
        required = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        if required not in eku and not (rules.any_eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku):
            listed = ", ".join(_oid_name(oid) for oid in eku)
            alternative = " nor anyExtendedKeyUsage" if rules.any_eku else ""
            flags |= xf.X509_BADCERT_EXT_KEY_USAGE
            notes.append(f"extendedKeyUsage of {label(cert)} ({listed}) has neither {_oid_name(required)}{alternative}")
    return flags, notes


# --- the whole verification ------------------------------------------------------------------

Callback = Callable[[Link, int], int]
"""A verify callback (``f_vrfy``): (certificate, depth) -> its new flags; raises to abort."""


class Outcome(Struct, slots=False):
    """What :func:`verify` found: the path, the X.509 flags after the callback, the usage flags."""

    path: tuple[Link, ...]
    flags: int
    usage: int
    notes: tuple[str, ...]

    def text(self) -> str:
        return "mbedtls: " + "; ".join(self.notes)


def verify(
    certs: Sequence[Cert],
    anchors: Sequence[Cert],
    host: str | None,
    when: datetime,
    *,
    server: bool,
    rules: EeRules = MBEDTLS_RULES,
    callback: Callback | None = None,
) -> Outcome:
    """``mbedtls_x509_crt_verify_with_profile`` then ``mbedtls_ssl_check_cert_usage``.

    ``certs`` is the presented chain (leaf first, loaded by :func:`load_chain`),
    ``anchors`` the CA certificates, ``host`` the name to check (None: none).
    Raises :class:`~.x509_flags.VerifyAborted` (and whatever ``callback`` raises).
    """
    leaf = certs[0]
    ee = Link(leaf, trusted=False, position=0)
    if host is not None:
        problem = rules.names(leaf.cert, host)
        if problem is not None:
            ee.add(xf.X509_BADCERT_CN_MISMATCH, problem)
    key_problem = _key_problem(leaf.cert)
    if key_problem is not None:
        ee.add(xf.X509_BADCERT_BAD_KEY, key_problem)
    path = verify_chain(certs, anchors, when)
    path[0].flags |= ee.flags
    flags = 0
    for depth in reversed(range(len(path))):
        flags |= callback(path[depth], depth) if callback is not None else path[depth].flags
    usage, usage_notes = usage_flags(leaf.cert, server, rules)
    notes = [*ee.notes, *(note for link in path for note in link.notes if note not in ee.notes), *usage_notes]
    return Outcome(path=tuple(path), flags=flags, usage=usage, notes=tuple(notes))
