"""Differential test of every mbedTLS-style walker (tls/mbedtls_path.py and its three users).

Hypothesis draws a chain *spec* -- root, up to two intermediates and a leaf,
each with its version (v1/v3), key (RSA 2048, P-256, P-384, Ed25519),
signature (RSA PKCS#1 SHA-1/256/384, RSA-PSS, ECDSA SHA-1/256/384, Ed25519),
validity (current, expired, not yet valid), basicConstraints / path length,
keyUsage (incl. keyCertSign, digitalSignature, keyEncipherment,
encipherOnly/decipherOnly), extendedKeyUsage and name form (SAN DNS,
wildcard, CN only, SAN IP) -- plus the host to check, whether the server
also sends the root and whether the anchor is an impostor (the root's name,
another key). The certificates are built from the spec and given to

* ``MbedtlsVerifier`` with the root as its CA certificate,
* ``BundleVerifier`` with the root in an ESP bundle,
* ``WebPkiVerifier`` with the root as anchor (its diagnosis, when webpki refuses the path),

and each verifier's flags must equal what a small model of Mbed TLS 3.6
(x509_crt_verify_chain, x509_crt_check_parent, mbedtls_x509_crt_check_key_usage,
mbedtls_ssl_check_cert_usage) and of esp_crt_verify_callback computes from the
*spec* alone -- never from the certificates. Where the bundle's rules
(a trust source consulted by the verify callback for the top certificate)
cannot differ from a CA file's, the bundle's and the mbedtls verifier's
verdicts must also agree with each other.

Keys are made once per module; examples are bounded (certificates are slow to make).
Real Mbed TLS is not run here: PyPI's python-mbedtls (2.10) bundles Mbed TLS 2.28
and its ``CRT.verify`` only checks one signature, with no chain and no flags.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs import NOW, at, make_key, resign
from https_request.esp_tls.bundle import BundleVerifier, build_bundle
from https_request.tls.errors import TlsError
from https_request.tls.verify import MbedtlsVerifier, WebPkiVerifier
from https_request.tls.x509_flags import (
    X509_BADCERT_BAD_MD,
    X509_BADCERT_BAD_PK,
    X509_BADCERT_CN_MISMATCH,
    X509_BADCERT_EXPIRED,
    X509_BADCERT_EXT_KEY_USAGE,
    X509_BADCERT_FUTURE,
    X509_BADCERT_KEY_USAGE,
    X509_BADCERT_NOT_TRUSTED,
    X509_BADCERT_OTHER,
    X509_VERIFY_ABORTED,
)

KeyKind = Literal["rsa", "p256", "p384", "ed25519"]
Sig = Literal["sha256", "sha384", "sha1", "pss", "ed25519"]


@dataclass(frozen=True)
class Spec:
    """One certificate of a generated chain."""

    key: KeyKind
    sig: Sig  # how its issuer signs it
    version: int = 3
    validity: str = "ok"  # ok | expired | future
    bc: str = "ca"  # CAs: ca | ca_pathlen0 | ca_pathlen1 | not_ca | none
    ku: str = "none"  # CAs: none | certsign | digsig | certsign_encipher
    # leaf: none | digsig | keyenc | certsign | ds_encipher | ds_decipher
    eku: str = "none"  # leaf: none | serverAuth | clientAuth | any
    names: str = "san_dns"  # leaf: san_dns | san_wild | cn_only | san_ip


@dataclass(frozen=True)
class Chain:
    root: Spec
    inters: tuple[Spec, ...]  # nearest the root first
    leaf: Spec
    host: str | None
    send_root: bool
    impostor: str | None = None  # the anchor is another key under the root's name, with this validity


# --- the strategies ---------------------------------------------------------------------------------

_CA_KEYS: list[KeyKind] = ["rsa", "p256", "p384"]


def _weighted(*choices: tuple[object, int]) -> st.SearchStrategy[object]:
    """Mostly the usual value, sometimes each odd one: most chains have one or two things wrong."""
    return st.sampled_from([value for value, weight in choices for _ in range(weight)])


def _sigs(issuer: KeyKind) -> st.SearchStrategy[object]:
    if issuer == "ed25519":
        return st.just("ed25519")
    if issuer == "rsa":
        return _weighted(("sha256", 5), ("sha384", 1), ("sha1", 1), ("pss", 1))
    return _weighted(("sha256", 5), ("sha384", 1), ("sha1", 1))


_VALIDITY = _weighted(("ok", 12), ("expired", 1), ("future", 1))
_VERSION = _weighted((3, 12), (1, 1))
_BC = _weighted(("ca", 14), ("ca_pathlen0", 1), ("ca_pathlen1", 1), ("not_ca", 1), ("none", 1))
_CA_KU = _weighted(("certsign", 10), ("none", 3), ("digsig", 1), ("certsign_encipher", 1))
_INTER_KEY = _weighted(("rsa", 5), ("p256", 5), ("p384", 5), ("ed25519", 1))
_LEAF_KEY = _weighted(("rsa", 5), ("p256", 6), ("p384", 4), ("ed25519", 1))
_LEAF_KU = _weighted(("none", 2), ("digsig", 4), ("keyenc", 1), ("certsign", 1), ("ds_encipher", 1), ("ds_decipher", 1))
_EKU = _weighted(("none", 2), ("serverAuth", 4), ("clientAuth", 1), ("any", 1))
_NAMES = _weighted(("san_dns", 3), ("san_wild", 1), ("cn_only", 1), ("san_ip", 1))
_HOST_FOR = {"san_dns": "localhost", "san_wild": "www.example.com", "cn_only": "localhost", "san_ip": "127.0.0.1"}


@st.composite
def chains(draw: st.DrawFn) -> Chain:
    root_key = draw(st.sampled_from(_CA_KEYS))
    root = Spec(root_key, draw(_sigs(root_key)), draw(_VERSION), draw(_VALIDITY), draw(_BC), draw(_CA_KU))
    issuer = root_key
    inters = []
    for _ in range(draw(st.integers(0, 2))):
        key = draw(_INTER_KEY)
        inters.append(Spec(key, draw(_sigs(issuer)), draw(_VERSION), draw(_VALIDITY), draw(_BC), draw(_CA_KU)))
        issuer = key
    version = draw(_VERSION)
    names = "cn_only" if version == 1 else draw(_NAMES)
    leaf = Spec(
        draw(_LEAF_KEY),
        draw(_sigs(issuer)),
        version,
        draw(_VALIDITY),
        ku=draw(_LEAF_KU),
        eku=draw(_EKU),
        names=names,
    )
    host = draw(_weighted((_HOST_FOR[names], 5), ("other.test", 1), ("localhost", 1), ("127.0.0.1", 1), (None, 1)))
    impostor = draw(_weighted((None, 10), ("ok", 1), ("expired", 1)))
    return Chain(root, tuple(inters), leaf, host, draw(st.booleans()), impostor)  # type: ignore[arg-type]


# --- building the certificates ----------------------------------------------------------------------

_SHA1_ALGORITHM = {
    "rsa": bytes.fromhex("300d06092a864886f70d0101050500"),  # sha1WithRSAEncryption
    "ec": bytes.fromhex("300906072a8648ce3d0401"),  # ecdsa-with-SHA1
}
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
_WINDOWS = {
    "ok": (at(2020), at(2049)),
    "expired": (at(2019), at(2024)),
    "future": (at(2026), at(2049)),
}
_LEAF_NAMES = {"san_dns": "localhost", "san_wild": "wildcard leaf", "cn_only": "localhost", "san_ip": "ip leaf"}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@cache
def _key(role: str, kind: KeyKind) -> PrivateKey:
    return make_key(kind, label=f"walk:{role}")


def _ku(
    *,
    ds: bool = False,
    ke: bool = False,
    ka: bool = False,
    cert_sign: bool = False,
    enc: bool = False,
    dec: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(ds, False, ke, False, ka, cert_sign, cert_sign, enc, dec)


_KEY_USAGES = {
    "certsign": _ku(cert_sign=True),
    "digsig": _ku(ds=True),
    "certsign_encipher": _ku(cert_sign=True, ka=True, enc=True),
    "keyenc": _ku(ke=True),
    "ds_encipher": _ku(ds=True, ka=True, enc=True),
    "ds_decipher": _ku(ds=True, ka=True, dec=True),
}
_EKUS = {
    "serverAuth": [ExtendedKeyUsageOID.SERVER_AUTH],
    "clientAuth": [ExtendedKeyUsageOID.CLIENT_AUTH],
    "any": [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE],
}


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _make(
    spec: Spec, subject: str, key: PrivateKey, issuer: str, issuer_key: PrivateKey, leaf: bool
) -> x509.Certificate:
    not_before, not_after = _WINDOWS[spec.validity]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if leaf:
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        if spec.eku in _EKUS:
            builder = builder.add_extension(x509.ExtendedKeyUsage(_EKUS[spec.eku]), critical=False)
        if spec.names != "cn_only":
            general: x509.GeneralName = {
                "san_dns": x509.DNSName("localhost"),
                "san_wild": x509.DNSName("*.example.com"),
                "san_ip": x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            }[spec.names]
            builder = builder.add_extension(x509.SubjectAlternativeName([general]), critical=False)
    elif spec.bc != "none":
        path_length = {"ca_pathlen0": 0, "ca_pathlen1": 1}.get(spec.bc)
        builder = builder.add_extension(x509.BasicConstraints(spec.bc != "not_ca", path_length), critical=True)
    if spec.ku in _KEY_USAGES:
        builder = builder.add_extension(_KEY_USAGES[spec.ku], critical=True)
    digest: hashes.HashAlgorithm | None = None if spec.sig == "ed25519" else hashes.SHA256()
    if spec.sig == "sha384":
        digest = hashes.SHA384()
    if spec.sig == "pss":
        assert isinstance(issuer_key, rsa.RSAPrivateKey)
        cert = builder.sign(issuer_key, hashes.SHA256(), rsa_padding=_PSS)
    else:
        cert = builder.sign(issuer_key, digest)
    if spec.sig == "sha1":
        algorithm = _SHA1_ALGORITHM["rsa" if isinstance(issuer_key, rsa.RSAPrivateKey) else "ec"]
        return resign(cert, issuer_key, hashes.SHA1(), algorithm_id=algorithm, v1=spec.version == 1)
    if spec.version == 1:
        return resign(cert, issuer_key, digest, v1=True, pss=_PSS if spec.sig == "pss" else None)
    return cert


def build(chain: Chain) -> tuple[x509.Certificate, list[bytes]]:
    """(trust anchor, presented chain DER leaf first)."""
    root_key = _key("root", chain.root.key)
    root = _make(chain.root, "Walk Root", root_key, "Walk Root", root_key, leaf=False)
    anchor = root
    if chain.impostor is not None:
        spec, key = replace(chain.root, validity=chain.impostor), _key("impostor", chain.root.key)
        anchor = _make(spec, "Walk Root", key, "Walk Root", key, leaf=False)
    issuer, issuer_key = "Walk Root", root_key
    made: list[x509.Certificate] = []
    for depth, spec in enumerate(chain.inters):
        key = _key(f"inter{depth}", spec.key)
        made.append(_make(spec, f"Walk Intermediate {depth}", key, issuer, issuer_key, leaf=False))
        issuer, issuer_key = f"Walk Intermediate {depth}", key
    leaf_key = _key("leaf", chain.leaf.key)
    leaf = _make(chain.leaf, _LEAF_NAMES[chain.leaf.names], leaf_key, issuer, issuer_key, leaf=True)
    presented = [leaf, *reversed(made), *([root] if chain.send_root else [])]
    return anchor, [c.public_bytes(Encoding.DER) for c in presented]


# --- the model (Mbed TLS 3.6 and ESP-IDF, from the spec alone) ---------------------------------------


def _time(spec: Spec) -> int:
    return {"ok": 0, "expired": X509_BADCERT_EXPIRED, "future": X509_BADCERT_FUTURE}[spec.validity]


def _own(spec: Spec) -> int:
    """The flags a certificate below the anchor gets for itself: time, BAD_MD."""
    return _time(spec) | (X509_BADCERT_BAD_MD if spec.sig == "sha1" else 0)


def _may_parent(spec: Spec, *, trusted: bool, path_cnt: int) -> bool:
    """x509_crt_check_parent + the pathLenConstraint test of x509_crt_find_parent_in (no self-issued certs here)."""
    if spec.version == 1:
        return trusted  # a v1 certificate needs no CA bit only when it is a CA certificate
    if spec.bc not in ("ca", "ca_pathlen0", "ca_pathlen1") or spec.ku not in ("none", "certsign"):
        return False  # not a CA, or keyUsage without keyCertSign / with an unasked encipherOnly
    max_pathlen = {"ca_pathlen0": 1, "ca_pathlen1": 2}.get(spec.bc, 0)
    return not 0 < max_pathlen < 1 + path_cnt


def _walk(chain: Chain, *, root_trusted: bool) -> list[tuple[Spec, Spec, int]]:
    """x509_crt_verify_chain over the spec: (certificate, its issuer, its flags) per path item."""
    below = [chain.leaf, *reversed(chain.inters)]  # presented order; each one's issuer follows it
    path: list[tuple[Spec, Spec, int]] = []
    for i, spec in enumerate(below):
        parent = below[i + 1] if i + 1 < len(below) else chain.root
        if parent is chain.root:
            # A CA certificate must have signed the child: an impostor anchor is passed over.
            if root_trusted and chain.impostor is None and _may_parent(chain.root, trusted=True, path_cnt=i):
                return [*path, (spec, parent, _own(spec)), (chain.root, chain.root, _time(chain.root))]
            if chain.send_root and _may_parent(chain.root, trusted=False, path_cnt=i):
                # The presented root: self-signed, nothing after it, no CA certificate signed it.
                top = _own(chain.root) | X509_BADCERT_NOT_TRUSTED
                return [*path, (spec, parent, _own(spec)), (chain.root, chain.root, top)]
            return [*path, (spec, parent, _own(spec) | X509_BADCERT_NOT_TRUSTED)]
        if not _may_parent(parent, trusted=False, path_cnt=i):
            return [*path, (spec, parent, _own(spec) | X509_BADCERT_NOT_TRUSTED)]
        path.append((spec, parent, _own(spec)))
    raise AssertionError("unreachable")


def _name_flag(chain: Chain, *, webpki: bool) -> int:
    host, leaf = chain.host, chain.leaf
    if host is None:
        return 0
    fits = {
        "san_dns": host == "localhost",
        "san_wild": host == "www.example.com",
        "san_ip": host == "127.0.0.1",
        "cn_only": host == "localhost" and not webpki,  # webpki reads no CN
    }[leaf.names]
    return 0 if fits else X509_BADCERT_CN_MISMATCH


def _usage(chain: Chain, *, webpki: bool) -> int:
    """mbedtls_ssl_check_cert_usage for a server (webpki: digitalSignature only, no anyExtendedKeyUsage)."""
    leaf = chain.leaf
    if leaf.version == 1:
        return 0
    key_ok = leaf.ku in ("none", "digsig") or (leaf.ku == "keyenc" and leaf.key == "rsa" and not webpki)
    eku_ok = leaf.eku in ("none", "serverAuth") or (leaf.eku == "any" and not webpki)
    return (0 if key_ok else X509_BADCERT_KEY_USAGE) | (0 if eku_ok else X509_BADCERT_EXT_KEY_USAGE)


def _unloadable(chain: Chain) -> bool:
    """A presented certificate mbedTLS cannot load: an EdDSA key or signature."""
    presented = [chain.leaf, *chain.inters, *([chain.root] if chain.send_root else [])]
    return any(s.key == "ed25519" or s.sig == "ed25519" for s in presented)


def expect_ca_file(chain: Chain, *, webpki: bool = False) -> int:
    """mbedtls_x509_crt_verify_with_profile (CA file = the root) + mbedtls_ssl_check_cert_usage."""
    if _unloadable(chain):
        return X509_BADCERT_BAD_PK
    flags = 0
    for _, _, item in _walk(chain, root_trusted=True):
        flags |= item
    return flags | _name_flag(chain, webpki=webpki) | _usage(chain, webpki=webpki)


def expect_bundle(chain: Chain) -> int:
    """The same with no CA certificate and esp_crt_verify_callback over a bundle holding the root."""
    if _unloadable(chain):
        return X509_BADCERT_BAD_PK
    path = _walk(chain, root_trusted=False)
    path[0] = (path[0][0], path[0][1], path[0][2] | _name_flag(chain, webpki=False))
    flags = 0
    for spec, issuer, item in reversed(path):  # top first
        if item & ~X509_BADCERT_BAD_MD == X509_BADCERT_NOT_TRUSTED:
            if issuer is not chain.root or chain.impostor is not None or spec.sig == "pss":
                # Not in the bundle, another key there, or a signature esp_crt_check_signature does not do
                return X509_VERIFY_ABORTED
            item = 0
        flags |= item
    return flags | _usage(chain, webpki=False)


# --- the test -------------------------------------------------------------------------------------


def _flags(verify: object, chain: list[bytes], host: str | None) -> tuple[int, str]:
    assert callable(verify)
    try:
        verify(chain, host, NOW, server=True)
    except TlsError as exc:
        assert exc.verify_flags, exc
        return exc.verify_flags, str(exc)
    return 0, ""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains())
def test_every_walker_agrees_with_mbedtls(chain: Chain) -> None:
    root, presented = build(chain)
    mbedtls, _ = _flags(MbedtlsVerifier([root]).verify, presented, chain.host)
    bundle, _ = _flags(BundleVerifier(build_bundle([root])).verify, presented, chain.host)
    webpki, text = _flags(WebPkiVerifier([root]).verify, presented, chain.host)

    assert mbedtls == expect_ca_file(chain), chain
    assert bundle == expect_bundle(chain), chain
    # And between themselves, without the model: what the CA file accepts, the bundle accepts (ESP-IDF's
    # esp_crt_check_signature does no RSA-PSS); what the bundle accepts has a name and usages the CA file
    # accepts too (the bundle keeps no more of the root than its name and key, so only the root's own
    # checks, the top certificate's weak hash and its validity may differ).
    specs = [chain.root, *chain.inters, chain.leaf]
    if mbedtls == 0 and all(spec.sig != "pss" for spec in specs):
        assert bundle == 0, chain
    if bundle == 0:
        assert (
            mbedtls & ~(X509_BADCERT_BAD_MD | X509_BADCERT_EXPIRED | X509_BADCERT_FUTURE | X509_BADCERT_NOT_TRUSTED)
            == 0
        )
    if "(webpki: " in text:  # webpki refused the path: the diagnosis is the mbedTLS walk with webpki's leaf rules
        assert webpki == (expect_ca_file(chain, webpki=True) or X509_BADCERT_OTHER), chain
    elif webpki:  # webpki took the path; the leaf's usage failed
        assert webpki == _usage(chain, webpki=True), chain


@pytest.mark.parametrize(
    "chain",
    [
        # The two rules the bundle walker used to skip, and a v1 root sent by the server.
        Chain(Spec("p256", "sha256"), (Spec("p256", "sha256", version=1),), Spec("p256", "sha256"), "localhost", False),
        Chain(
            Spec("p256", "sha256"),
            (Spec("p256", "sha256", ku="certsign_encipher"),),
            Spec("p256", "sha256", ku="digsig"),
            "localhost",
            False,
        ),
        Chain(Spec("rsa", "sha256", version=1), (), Spec("rsa", "pss", ku="keyenc"), "localhost", True),
        # An expired CA certificate with the root's name but another key: passed over, not taken as a fallback.
        Chain(Spec("p256", "sha256"), (), Spec("p256", "sha256"), "localhost", True, impostor="expired"),
    ],
    ids=["v1-intermediate", "encipher-only-ca", "v1-root-sent", "impostor-anchor"],
)
def test_known_disagreements(chain: Chain) -> None:
    root, presented = build(chain)
    assert _flags(MbedtlsVerifier([root]).verify, presented, chain.host)[0] == expect_ca_file(chain)
    assert _flags(BundleVerifier(build_bundle([root])).verify, presented, chain.host)[0] == expect_bundle(chain)
