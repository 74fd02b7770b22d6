"""Test certificate factory: CAs, intermediates and leaves made on the fly.

Every certificate is RFC 5280 conformant (and passes Python 3.13's
``VERIFY_X509_STRICT``): v3, random 159-bit serial, basicConstraints
(critical), keyUsage (critical), SKI, and AKI (the root's AKI names its own
key). Times are explicit so tests can run on a fixed clock: the defaults
cover :data:`NOW` (a fixed instant) and also the real present.

RSA keys are slow to make, so they are cached per process by (size, label);
the label defaults to the certificate's name, so two certificates with
different names get different keys. EC and EdDSA keys are always fresh.

Usage::

    ca = make_ca()
    leaf = make_leaf(ca, ["localhost", "127.0.0.1"])
    leaf.certified_key()        # CertifiedKey(chain=(leaf,), key)
    inter = make_ca(name="Test Intermediate", parent=ca)
    leaf2 = make_leaf(inter)    # leaf2.chain == (inter.cert,)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from https_request.tls.config import CertifiedKey

__all__ = [
    "NOT_AFTER",
    "NOT_BEFORE",
    "NOW",
    "NOW_DT",
    "Issued",
    "KeyType",
    "at",
    "key_usage",
    "make_ca",
    "make_key",
    "make_leaf",
    "make_self_signed_leaf",
    "resign",
    "shifted",
    "write_pki",
]

KeyType = Literal[
    "ec", "p256", "p384", "p521", "bp256", "bp384", "bp512", "rsa", "rsa2048", "rsa3072", "rsa4096", "ed25519"
]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
EkuSpec = Literal["serverAuth", "clientAuth", "both"] | Sequence[x509.ObjectIdentifier] | None

NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)
NOW_DT = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
NOW: float = NOW_DT.timestamp()
"""A fixed "now" (Unix seconds) inside the default validity window."""


def at(year: int, month: int = 1, day: int = 1) -> datetime:
    """A UTC midnight, for explicit validity windows."""
    return datetime(year, month, day, tzinfo=UTC)


@cache
def _rsa_key(bits: int, label: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


_BRAINPOOL: dict[str, ec.EllipticCurve] = {
    "bp256": ec.BrainpoolP256R1(),
    "bp384": ec.BrainpoolP384R1(),
    "bp512": ec.BrainpoolP512R1(),
}


def make_key(key_type: KeyType = "ec", label: str = "") -> PrivateKey:
    """A private key of ``key_type`` (RSA keys cached per (size, label))."""
    if key_type in ("ec", "p256"):
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type == "p521":
        return ec.generate_private_key(ec.SECP521R1())
    if key_type in _BRAINPOOL:
        return ec.generate_private_key(_BRAINPOOL[key_type])
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if key_type in ("rsa", "rsa2048"):
        return _rsa_key(2048, label)
    if key_type == "rsa3072":
        return _rsa_key(3072, label)
    if key_type == "rsa4096":
        return _rsa_key(4096, label)
    raise ValueError(f"unknown key type {key_type!r}")


def _sig_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


@dataclass(frozen=True)
class Issued:
    """A certificate, its private key and the intermediates above it.

    ``chain`` holds the issuing intermediates (nearest first), never the root:
    exactly what a server sends after its leaf.
    """

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...] = field(default=())

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def chain_der(self) -> tuple[bytes, ...]:
        """This certificate then its intermediates, DER (what goes on the wire)."""
        return (self.der, *(c.public_bytes(serialization.Encoding.DER) for c in self.chain))

    @property
    def chain_pem(self) -> bytes:
        """This certificate then its intermediates, PEM."""
        return self.cert_pem + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def certified_key(self) -> CertifiedKey:
        return CertifiedKey(chain=(self.cert, *self.chain), key=self.key)


def write_pki(directory: Path, ca: Issued, leaf: Issued) -> Path:
    """``directory`` with ``ca.pem`` (the CA's certificate), ``leaf.pem`` (the leaf then its
    intermediates: what a server sends) and ``leaf.key``, as servers and ``--cacert`` read them."""
    (directory / "ca.pem").write_bytes(ca.cert_pem)
    (directory / "leaf.pem").write_bytes(leaf.chain_pem)
    (directory / "leaf.key").write_bytes(leaf.key_pem)
    return directory


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _eku(spec: EkuSpec) -> x509.ExtendedKeyUsage | None:
    if spec is None:
        return None
    named = {
        "serverAuth": [ExtendedKeyUsageOID.SERVER_AUTH],
        "clientAuth": [ExtendedKeyUsageOID.CLIENT_AUTH],
        "both": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
    }
    if isinstance(spec, str):
        return x509.ExtendedKeyUsage(named[spec])
    return x509.ExtendedKeyUsage(list(spec))


def key_usage(
    *,
    digital_signature: bool = False,
    key_encipherment: bool = False,
    key_agreement: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    """A keyUsage value with only the named bits set."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=key_agreement,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def make_ca(
    key_type: KeyType = "ec",
    name: str = "Test Root CA",
    not_before: datetime = NOT_BEFORE,
    not_after: datetime = NOT_AFTER,
    *,
    parent: Issued | None = None,
    path_length: int | None = None,
    key: PrivateKey | None = None,
    eku: EkuSpec = None,
) -> Issued:
    """A self-signed root CA, or an intermediate CA when ``parent`` is given."""
    key = key if key is not None else make_key(key_type, label=f"ca:{name}")
    public_key = key.public_key()
    issuer_key = parent.key if parent is not None else key
    builder = (
        _builder(_name(name), parent.cert.subject if parent else _name(name), public_key, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    ext = _eku(eku)
    if ext is not None:
        builder = builder.add_extension(ext, critical=False)
    cert = builder.sign(issuer_key, _sig_hash(issuer_key))
    return Issued(cert=cert, key=key, chain=() if parent is None else _chain_below(parent))


def _chain_below(issuer: Issued) -> tuple[x509.Certificate, ...]:
    """What a server sends above a certificate ``issuer`` signed: no root."""
    if issuer.cert.issuer == issuer.cert.subject:
        return ()
    return (issuer.cert, *issuer.chain)


_DEFAULT: Literal["default"] = "default"


def make_leaf(
    ca: Issued,
    names: Sequence[str] = ("localhost", "127.0.0.1"),
    key_type: KeyType = "ec",
    not_before: datetime = NOT_BEFORE,
    not_after: datetime = NOT_AFTER,
    *,
    eku: EkuSpec = "serverAuth",
    key_usage_ext: x509.KeyUsage | Literal["default"] | None = _DEFAULT,
    common_name: str | None = None,
    key: PrivateKey | None = None,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> Issued:
    """An end-entity certificate issued by ``ca``.

    ``names`` go in the SAN (IP literals as iPAddress, the rest as dNSName);
    an empty ``names`` leaves the SAN out. The subject CN is ``common_name``,
    else the first name. ``eku``: "serverAuth" (default), "clientAuth",
    "both", a list of OIDs, or None (no EKU extension). ``key_usage_ext``:
    default digitalSignature (+ keyEncipherment for RSA), None = no keyUsage.
    """
    cn = common_name if common_name is not None else (names[0] if names else "leaf")
    key = key if key is not None else make_key(key_type, label=f"leaf:{cn}")
    return _issue_leaf(
        issuer_name=ca.cert.subject,
        issuer_key=ca.key,
        chain=_chain_below(ca),
        key=key,
        names=names,
        cn=cn,
        not_before=not_before,
        not_after=not_after,
        eku=eku,
        key_usage_ext=key_usage_ext,
        extra_extensions=extra_extensions,
    )


def make_self_signed_leaf(
    names: Sequence[str] = ("localhost", "127.0.0.1"),
    key_type: KeyType = "ec",
    not_before: datetime = NOT_BEFORE,
    not_after: datetime = NOT_AFTER,
    *,
    eku: EkuSpec = "serverAuth",
    common_name: str | None = None,
) -> Issued:
    """A self-signed v3 end-entity certificate (CA:FALSE, AKI = own SKI).

    Only useful when trusted as its own anchor.
    """
    cn = common_name if common_name is not None else (names[0] if names else "self-signed leaf")
    key = make_key(key_type, label=f"self:{cn}")
    return _issue_leaf(
        issuer_name=_name(cn),
        issuer_key=key,
        chain=(),
        key=key,
        names=names,
        cn=cn,
        not_before=not_before,
        not_after=not_after,
        eku=eku,
        key_usage_ext=_DEFAULT,
        extra_extensions=(),
    )


def _issue_leaf(
    *,
    issuer_name: x509.Name,
    issuer_key: PrivateKey,
    chain: tuple[x509.Certificate, ...],
    key: PrivateKey,
    names: Sequence[str],
    cn: str,
    not_before: datetime,
    not_after: datetime,
    eku: EkuSpec,
    key_usage_ext: x509.KeyUsage | Literal["default"] | None,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]],
) -> Issued:
    public_key = key.public_key()
    builder = (
        _builder(_name(cn), issuer_name, public_key, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if key_usage_ext == _DEFAULT:
        key_usage_ext = key_usage(digital_signature=True, key_encipherment=isinstance(key, rsa.RSAPrivateKey))
    if key_usage_ext is not None:
        assert not isinstance(key_usage_ext, str)
        builder = builder.add_extension(key_usage_ext, critical=True)
    ext = _eku(eku)
    if ext is not None:
        builder = builder.add_extension(ext, critical=False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
    for value, critical in extra_extensions:
        builder = builder.add_extension(value, critical=critical)
    cert = builder.sign(issuer_key, _sig_hash(issuer_key))
    return Issued(cert=cert, key=key, chain=chain)


def shifted(days: float, base: datetime = NOW_DT) -> datetime:
    """``base`` moved by ``days`` (negative = earlier)."""
    return base + timedelta(days=days)


# --- re-encoding: what cryptography's builder will not make (X.509 v1, SHA-1 signatures) ---


def _der_read(data: bytes, pos: int = 0) -> tuple[int, int, int]:
    """(tag, content start, end) of the DER TLV at ``pos``."""
    tag, length, start = data[pos], data[pos + 1], pos + 2
    if length & 0x80:
        size = length & 0x7F
        length, start = int.from_bytes(data[start : start + size], "big"), start + size
    return tag, start, start + length


def _der_items(data: bytes) -> list[bytes]:
    """The TLVs inside the constructed TLV ``data``."""
    _, pos, end = _der_read(data)
    items = []
    while pos < end:
        _, _, stop = _der_read(data, pos)
        items.append(data[pos:stop])
        pos = stop
    return items


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def resign(
    cert: x509.Certificate,
    issuer_key: object,
    digest: hashes.HashAlgorithm | None,
    *,
    algorithm_id: bytes | None = None,
    v1: bool = False,
    pss: padding.PSS | None = None,
) -> x509.Certificate:
    """``cert`` signed again by ``issuer_key`` with ``digest``.

    ``algorithm_id`` replaces the AlgorithmIdentifier (both copies), e.g. to
    say SHA-1, which cryptography no longer signs with; ``v1`` drops the
    version and the extensions (an X.509 v1 certificate); ``pss`` signs with
    RSASSA-PSS (keep the template's PSS AlgorithmIdentifier); an Ed25519
    ``issuer_key`` takes no digest.
    """
    tbs, outer_alg, _ = _der_items(cert.public_bytes(serialization.Encoding.DER))
    items = _der_items(tbs)
    if v1:
        items = [item for item in items if item[0] not in (0xA0, 0xA3)]
    alg = algorithm_id or outer_alg
    items[2 if items[0][0] == 0xA0 else 1] = alg  # TBSCertificate.signature
    new_tbs = _der(0x30, b"".join(items))
    if isinstance(issuer_key, ed25519.Ed25519PrivateKey):
        signature = issuer_key.sign(new_tbs)
    elif isinstance(issuer_key, rsa.RSAPrivateKey):
        assert digest is not None
        signature = issuer_key.sign(new_tbs, pss or padding.PKCS1v15(), digest)
    else:
        assert isinstance(issuer_key, ec.EllipticCurvePrivateKey) and digest is not None
        signature = issuer_key.sign(new_tbs, ec.ECDSA(digest))
    return x509.load_der_x509_certificate(_der(0x30, new_tbs + alg + _der(0x03, b"\x00" + signature)))


def make_zero_serial_ca(name: str = "Zero Serial Root") -> tuple[Issued, bytes]:
    """A root CA whose certificate, as handed to clients, has serial number 0, as some public
    roots do (cryptography warns when it parses one; mbedTLS loads it): (the CA to issue leaves
    with, the serial-0 certificate's DER). The serial-0 copy is the serial-1 original with the
    serial patched, so its self-signature no longer verifies: trust anchors' self-signatures are
    not checked (mbedTLS, webpki)."""
    key = make_key("ec", label=f"ca:{name}")
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .sign(key, _sig_hash(key))
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    version_and_serial = b"\xa0\x03\x02\x01\x02\x02\x01\x01"  # [0] v3, INTEGER 1
    assert der.count(version_and_serial) == 1
    return Issued(cert=cert, key=key), der.replace(version_and_serial, b"\xa0\x03\x02\x01\x02\x02\x01\x00")
