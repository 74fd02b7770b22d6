"""Handshake signatures by TLS SignatureScheme, on ``cryptography`` primitives.

One table (:data:`_SCHEMES`) says what each scheme means: the key type, the
hash, the padding and, for ECDSA in TLS 1.3, the curve the scheme is bound to.
:func:`sign` and :func:`verify` refuse a scheme that does not fit the key with
``ILLEGAL_PARAMETER``; a signature that does not verify is ``BAD_SIGNATURE``.

Rules, per RFC 8446 section 4.2.3 and RFC 5246 section 7.4.1.4.1:

* RSASSA-PSS ``rsa_pss_rsae_*`` uses MGF1 with the same hash and a salt as
  long as the hash. ``rsa_pss_pss_*`` (keys restricted to PSS in their SPKI)
  is not supported and is refused.
* ``rsa_pkcs1_*`` is not allowed for TLS 1.3 CertificateVerify:
  :func:`choose_scheme` never picks it when ``tls13`` is set.
* ``rsa_pkcs1_sha1`` and ``ecdsa_sha1`` exist only for verifying TLS 1.2
  peers; :func:`verify` accepts them only with ``allow_legacy=True``, which
  also lifts the TLS 1.3 binding of an ECDSA scheme to one curve (in TLS 1.2
  ``ecdsa_secp256r1_sha256`` just means "ECDSA with SHA-256").
* A brainpool key (RFC 7027) signs in TLS 1.2 with the ECDSA scheme of its
  size's hash (brainpoolP256r1: ``ecdsa_secp256r1_sha256``...), as Mbed TLS
  and OpenSSL do; TLS 1.3's ``ecdsa_brainpool*tls13`` schemes are not
  implemented, so such a key has no TLS 1.3 scheme here.
* TLS 1.0 and 1.1 have no schemes (RFC 2246 7.4.3, RFC 4492 5.4): a server
  signs its key exchange with :func:`sign_legacy`, RSA over MD5 || SHA-1
  without a DigestInfo, ECDSA over SHA-1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

from ..structs import Struct
from .enums import NOT_FOR_TLS13
from .enums import SignatureScheme as SS
from .errors import Reason, TlsError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import (
        CertificateIssuerPrivateKeyTypes,
        CertificateIssuerPublicKeyTypes,
        CertificatePublicKeyTypes,
    )

__all__ = [
    "LEGACY_SCHEMES",
    "choose_scheme",
    "key_kind",
    "leaf_public_key",
    "schemes_for_key",
    "sign",
    "sign_legacy",
    "tls13_certificate_verify_input",
    "verify",
]

_RSA, _RSA_PSS, _ECDSA, _ED25519, _ED448 = "rsa_pkcs1", "rsa_pss", "ecdsa", "ed25519", "ed448"


class _Scheme(Struct, slots=False):
    kind: str
    hash: type[hashes.HashAlgorithm] | None
    curve: str | None = None  # the curve a TLS 1.3 ECDSA scheme is bound to


_SCHEMES: dict[int, _Scheme] = {
    SS.rsa_pkcs1_sha1: _Scheme(_RSA, hashes.SHA1),
    SS.rsa_pkcs1_sha256: _Scheme(_RSA, hashes.SHA256),
    SS.rsa_pkcs1_sha384: _Scheme(_RSA, hashes.SHA384),
    SS.rsa_pkcs1_sha512: _Scheme(_RSA, hashes.SHA512),
    SS.ecdsa_sha1: _Scheme(_ECDSA, hashes.SHA1),
    SS.ecdsa_secp256r1_sha256: _Scheme(_ECDSA, hashes.SHA256, "secp256r1"),
    SS.ecdsa_secp384r1_sha384: _Scheme(_ECDSA, hashes.SHA384, "secp384r1"),
    SS.ecdsa_secp521r1_sha512: _Scheme(_ECDSA, hashes.SHA512, "secp521r1"),
    SS.rsa_pss_rsae_sha256: _Scheme(_RSA_PSS, hashes.SHA256),
    SS.rsa_pss_rsae_sha384: _Scheme(_RSA_PSS, hashes.SHA384),
    SS.rsa_pss_rsae_sha512: _Scheme(_RSA_PSS, hashes.SHA512),
    SS.ed25519: _Scheme(_ED25519, None),
    SS.ed448: _Scheme(_ED448, None),
}

LEGACY_SCHEMES: frozenset[int] = frozenset({SS.rsa_pkcs1_sha1, SS.ecdsa_sha1})
"""SHA-1 schemes: verification of TLS 1.2 peers only (``allow_legacy``)."""

_RSA_PREFERENCE = (
    SS.rsa_pss_rsae_sha256,
    SS.rsa_pss_rsae_sha384,
    SS.rsa_pss_rsae_sha512,
    SS.rsa_pkcs1_sha256,
    SS.rsa_pkcs1_sha384,
    SS.rsa_pkcs1_sha512,
)
_P256, _P384, _P521 = SS.ecdsa_secp256r1_sha256, SS.ecdsa_secp384r1_sha384, SS.ecdsa_secp521r1_sha512
_EC_PREFERENCE: dict[str, tuple[int, ...]] = {
    "secp256r1": (_P256,),
    "secp384r1": (_P384,),
    "secp521r1": (_P521,),
    # TLS 1.2 only (:func:`choose_scheme` skips them for TLS 1.3, where they are bound to the secp curves):
    # the hash of the key's size first, then the others (in TLS 1.2 any ECDSA hash fits any curve)
    "brainpoolP256r1": (_P256, _P384, _P521),
    "brainpoolP384r1": (_P384, _P521, _P256),
    "brainpoolP512r1": (_P521, _P384, _P256),
}

_CV_CONTEXT = {True: b"TLS 1.3, server CertificateVerify", False: b"TLS 1.3, client CertificateVerify"}


def _illegal(scheme: int, what: str) -> TlsError:
    return TlsError(Reason.ILLEGAL_PARAMETER, f"signature scheme 0x{scheme:04x} {what}")


def _lookup(scheme: int, legacy: bool) -> _Scheme:
    spec = _SCHEMES.get(scheme)
    if spec is None:
        raise _illegal(scheme, "is not supported")
    if scheme in LEGACY_SCHEMES and not legacy:
        raise _illegal(scheme, "(SHA-1) is only allowed for TLS 1.2 verification")
    return spec


def _hash(spec: _Scheme) -> hashes.HashAlgorithm:
    assert spec.hash is not None
    return spec.hash()


_ECDSA_ALGORITHMS: dict[int, ec.ECDSA] = {}  # an ECDSA scheme -> its ec.ECDSA, made at its first use


def _ecdsa(scheme: int, spec: _Scheme) -> ec.ECDSA:
    """``ec.ECDSA`` with the scheme's hash, made once per scheme (~10k instructions to make; a
    server signs with it on every full handshake). At most one per ECDSA scheme in _SCHEMES."""
    algorithm = _ECDSA_ALGORITHMS.get(scheme)
    if algorithm is None:
        algorithm = _ECDSA_ALGORITHMS[scheme] = ec.ECDSA(_hash(spec))
    return algorithm


def _pss(spec: _Scheme) -> padding.PSS:
    algorithm = _hash(spec)
    return padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)


def _check_curve(spec: _Scheme, scheme: int, curve: ec.EllipticCurve, legacy: bool) -> None:
    if spec.curve is not None and not legacy and curve.name != spec.curve:
        raise _illegal(scheme, f"does not fit an ECDSA key on {curve.name}")


def sign(key: CertificateIssuerPrivateKeyTypes, scheme: int, data: bytes, *, tls12: bool = False) -> bytes:
    """Sign ``data`` with ``key`` as ``scheme`` says (no SHA-1; an ECDSA scheme is bound to its
    curve unless ``tls12``). Raises TlsError ILLEGAL_PARAMETER when the scheme does not fit the key."""
    spec = _lookup(scheme, legacy=False)
    if spec.kind == _RSA and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), _hash(spec))
    if spec.kind == _RSA_PSS and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, _pss(spec), _hash(spec))
    if spec.kind == _ECDSA and isinstance(key, ec.EllipticCurvePrivateKey):
        if not tls12:  # (TLS 1.2 binds no curve: its key's curve is not read)
            _check_curve(spec, scheme, key.curve, legacy=False)
        return key.sign(data, _ecdsa(scheme, spec))
    if spec.kind == _ED25519 and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if spec.kind == _ED448 and isinstance(key, ed448.Ed448PrivateKey):
        return key.sign(data)
    raise _illegal(scheme, f"does not fit a {type(key).__name__}")


def sign_legacy(key: CertificateIssuerPrivateKeyTypes, data: bytes, random: Callable[[int], bytes]) -> bytes:
    """A TLS 1.0/1.1 ServerKeyExchange signature over ``data``: with an RSA key PKCS#1 v1.5
    (block type 1) over MD5(data) || SHA-1(data), 36 bytes without a DigestInfo; with an
    ECDSA key ECDSA over SHA-1. Raises TlsError ILLEGAL_PARAMETER for another key type.

    ``cryptography`` signs only with a DigestInfo, so the RSA private operation runs here on
    integers, CRT with base blinding (a random ``r`` from ``random``: the time taken does not
    follow the message), and the result is checked with the public key before it is used.
    """
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA1()))
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TlsError(Reason.ILLEGAL_PARAMETER, f"TLS 1.0/1.1 cannot sign with a {type(key).__name__}")
    import hashlib

    digest = hashlib.md5(data).digest() + hashlib.sha1(data).digest()
    priv = key.private_numbers()
    pub = priv.public_numbers
    n, e, size = pub.n, pub.e, (pub.n.bit_length() + 7) // 8
    m = int.from_bytes(b"\x00\x01" + b"\xff" * (size - 3 - len(digest)) + b"\x00" + digest, "big")
    while True:
        r = int.from_bytes(random(size), "big") % n
        if r > 1 and math.gcd(r, n) == 1:
            break
    blinded = m * pow(r, e, n) % n
    s1, s2 = pow(blinded, priv.dmp1, priv.p), pow(blinded, priv.dmq1, priv.q)
    s = (s2 + (priv.iqmp * (s1 - s2) % priv.p) * priv.q) * pow(r, -1, n) % n
    signature = s.to_bytes(size, "big")
    try:
        ok = key.public_key().recover_data_from_signature(signature, padding.PKCS1v15(), None) == digest
    except InvalidSignature:
        ok = False
    if not ok:  # a fault in the computation must not leave (it could reveal a factor of n)
        raise TlsError(Reason.INTERNAL, "RSA signature failed its check")
    return signature


def leaf_public_key(der: bytes, whose: str) -> CertificatePublicKeyTypes:
    """The public key of the ``whose`` ("server" or "client") leaf certificate.

    Raises TlsError CERT_BAD when the certificate or its key cannot be parsed.
    """
    from cryptography import x509  # here, not at import: a resumed handshake parses no certificate

    try:
        return x509.load_der_x509_certificate(der).public_key()
    except (ValueError, x509.InvalidVersion, UnsupportedAlgorithm) as exc:  # the last two are no ValueError
        raise TlsError(Reason.CERT_BAD, f"cannot parse the {whose} certificate: {exc}") from None


def verify(
    public_key: CertificatePublicKeyTypes,
    scheme: int,
    data: bytes,
    signature: bytes,
    *,
    allow_legacy: bool = False,
) -> None:
    """Check ``signature`` over ``data``; raise ``BAD_SIGNATURE`` if it is wrong.

    ``allow_legacy`` applies TLS 1.2 rules: SHA-1 schemes are accepted and an
    ECDSA scheme is not bound to a curve.
    """
    spec = _lookup(scheme, legacy=allow_legacy)
    try:
        if spec.kind == _RSA and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), _hash(spec))
        elif spec.kind == _RSA_PSS and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, _pss(spec), _hash(spec))
        elif spec.kind == _ECDSA and isinstance(public_key, ec.EllipticCurvePublicKey):
            _check_curve(spec, scheme, public_key.curve, legacy=allow_legacy)
            public_key.verify(signature, data, _ecdsa(scheme, spec))
        elif spec.kind == _ED25519 and isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        elif spec.kind == _ED448 and isinstance(public_key, ed448.Ed448PublicKey):
            public_key.verify(signature, data)
        else:
            raise _illegal(scheme, f"does not fit a {type(public_key).__name__}")
    except (InvalidSignature, ValueError) as exc:
        raise TlsError(Reason.BAD_SIGNATURE, f"{SS(scheme).name} signature does not verify") from exc


_KEY_KINDS: dict[type, str] = {}  # a key's class -> key_kind (cryptography's few key classes)


def key_kind(key: object) -> str:
    """``"rsa"``, ``"ec"``, ``"ed25519"`` or ``"ed448"`` for such a key (private or public), else ``""``.
    Known by the key's class after its first key: ``isinstance`` against cryptography's abstract
    key classes goes through ``ABCMeta.__instancecheck__`` (~1-3k instructions a check, a
    handshake made a dozen)."""
    kind = _KEY_KINDS.get(type(key))
    if kind is None:
        if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
            kind = "rsa"
        elif isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
            kind = "ec"
        elif isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
            kind = "ed25519"
        elif isinstance(key, (ed448.Ed448PrivateKey, ed448.Ed448PublicKey)):
            kind = "ed448"
        else:
            kind = ""
        if len(_KEY_KINDS) < 64:
            _KEY_KINDS[type(key)] = kind
    return kind


def _curve_name(key: object) -> str:
    """An EC key's curve name (``key`` of :func:`key_kind` "ec")."""
    return cast("ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey", key).curve.name


def schemes_for_key(key: CertificateIssuerPrivateKeyTypes | CertificateIssuerPublicKeyTypes) -> list[int]:
    """The schemes ``key`` (private or public) can sign with, best first.

    RSA: PSS (SHA-256, 384, 512) then PKCS#1 v1.5 (same order); ECDSA: the
    one scheme bound to the key's curve (P-256, P-384, P-521), for a brainpool
    key the three TLS 1.2 ones, its size's hash first; EdDSA: its own scheme.
    Anything else (DSA, other curves): none.
    """
    kind = key_kind(key)
    return _schemes_of(kind, _curve_name(key) if kind == "ec" else None)


def _schemes_of(kind: str, curve: str | None) -> list[int]:
    """:func:`schemes_for_key` of a key of ``kind`` (:func:`key_kind`) on ``curve`` (EC keys)."""
    if kind == "rsa":
        return [int(s) for s in _RSA_PREFERENCE]
    if kind == "ec":
        return [int(s) for s in _EC_PREFERENCE.get(curve or "", ())]
    if kind == "ed25519":
        return [SS.ed25519]
    if kind == "ed448":
        return [SS.ed448]
    return []


def choose_scheme(
    key: CertificateIssuerPrivateKeyTypes | CertificateIssuerPublicKeyTypes,
    peer_offered: Sequence[int],
    ours: Sequence[int],
    tls13: bool,
) -> int | None:
    """Our most preferred scheme for ``key`` that we enable and the peer offered.

    Preference is :func:`schemes_for_key` order, filtered by ``ours``. With
    ``tls13`` the ``rsa_pkcs1_*`` schemes are skipped (RFC 8446 4.2.3), and so is
    an ECDSA scheme bound to a curve that is not the key's (a brainpool key).
    ``None`` when there is no common scheme.
    """
    kind = key_kind(key)
    curve = _curve_name(key) if kind == "ec" else None
    for scheme in _schemes_of(kind, curve):  # (a few: the lists' own `in` is cheaper than making sets)
        if tls13 and (scheme in NOT_FOR_TLS13 or _SCHEMES[scheme].curve not in (None, curve)):
            continue
        if scheme in ours and scheme in peer_offered:
            return scheme
    return None


def tls13_certificate_verify_input(transcript_hash: bytes, server: bool) -> bytes:
    """The content a TLS 1.3 CertificateVerify signs (RFC 8446 4.4.3).

    64 spaces, the context string for the signer's side, a zero byte, then
    the transcript hash.
    """
    return b"\x20" * 64 + _CV_CONTEXT[server] + b"\x00" + transcript_hash
