"""Signatures by TLS SignatureScheme (tls/signatures.py)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes as PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from certs import make_ca, make_key, make_leaf
from https_request.tls.enums import SignatureScheme as SS
from https_request.tls.errors import Reason, TlsError
from https_request.tls.signatures import (
    choose_scheme,
    schemes_for_key,
    sign,
    tls13_certificate_verify_input,
    verify,
)

_rsa = make_key("rsa", label="signatures")
assert isinstance(_rsa, rsa.RSAPrivateKey)
RSA = _rsa
P256 = ec.generate_private_key(ec.SECP256R1())
P384 = ec.generate_private_key(ec.SECP384R1())
P521 = ec.generate_private_key(ec.SECP521R1())
ED25519 = ed25519.Ed25519PrivateKey.generate()
ED448 = ed448.Ed448PrivateKey.generate()

ROUND_TRIPS = [
    (SS.rsa_pss_rsae_sha256, RSA),
    (SS.rsa_pss_rsae_sha384, RSA),
    (SS.rsa_pss_rsae_sha512, RSA),
    (SS.rsa_pkcs1_sha256, RSA),
    (SS.rsa_pkcs1_sha384, RSA),
    (SS.rsa_pkcs1_sha512, RSA),
    (SS.ecdsa_secp256r1_sha256, P256),
    (SS.ecdsa_secp384r1_sha384, P384),
    (SS.ecdsa_secp521r1_sha512, P521),
    (SS.ed25519, ED25519),
    (SS.ed448, ED448),
]


@pytest.mark.parametrize(("scheme", "key"), ROUND_TRIPS, ids=lambda v: getattr(v, "name", type(v).__name__))
def test_round_trip(scheme: SS, key: PrivateKey) -> None:
    data = b"handshake transcript"
    signature = sign(key, scheme, data)
    verify(key.public_key(), scheme, data, signature)
    with pytest.raises(TlsError) as info:
        verify(key.public_key(), scheme, data + b"!", signature)
    assert info.value.reason is Reason.BAD_SIGNATURE


@pytest.mark.parametrize(("scheme", "key"), ROUND_TRIPS, ids=lambda v: getattr(v, "name", type(v).__name__))
def test_corrupted_signature_is_bad_signature(scheme: SS, key: PrivateKey) -> None:
    signature = bytearray(sign(key, scheme, b"data"))
    signature[len(signature) // 2] ^= 0x01
    with pytest.raises(TlsError) as info:
        verify(key.public_key(), scheme, b"data", bytes(signature))
    assert info.value.reason is Reason.BAD_SIGNATURE
    with pytest.raises(TlsError) as info:
        verify(key.public_key(), scheme, b"data", b"")
    assert info.value.reason is Reason.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("scheme", "key"),
    [
        (SS.rsa_pss_rsae_sha256, P256),
        (SS.rsa_pkcs1_sha256, ED25519),
        (SS.ecdsa_secp256r1_sha256, RSA),
        (SS.ecdsa_secp256r1_sha256, P384),  # TLS 1.3 binds the curve
        (SS.ecdsa_secp384r1_sha384, P256),
        (SS.ed25519, ED448),
        (SS.ed448, P256),
        (SS.rsa_pss_pss_sha256, RSA),  # PSS-only keys are not supported
        (SS.rsa_pkcs1_sha1, RSA),  # SHA-1 is never used to sign
        (SS.ecdsa_sha1, P256),
        (0x0101, RSA),  # unknown
    ],
)
def test_scheme_that_does_not_fit_is_illegal_parameter(scheme: int, key: PrivateKey) -> None:
    with pytest.raises(TlsError) as info:
        sign(key, scheme, b"data")
    assert info.value.reason is Reason.ILLEGAL_PARAMETER
    with pytest.raises(TlsError) as info:
        verify(key.public_key(), scheme, b"data", b"\x00" * 64)
    assert info.value.reason is Reason.ILLEGAL_PARAMETER


def test_legacy_sha1_schemes_verify_only_with_allow_legacy() -> None:
    rsa_sig = RSA.sign(b"tls12", padding.PKCS1v15(), hashes.SHA1())
    ec_sig = P256.sign(b"tls12", ec.ECDSA(hashes.SHA1()))
    for key, scheme, sig in ((RSA, SS.rsa_pkcs1_sha1, rsa_sig), (P256, SS.ecdsa_sha1, ec_sig)):
        with pytest.raises(TlsError) as info:
            verify(key.public_key(), scheme, b"tls12", sig)
        assert info.value.reason is Reason.ILLEGAL_PARAMETER
        verify(key.public_key(), scheme, b"tls12", sig, allow_legacy=True)


def test_tls12_ecdsa_is_not_bound_to_a_curve() -> None:
    sig = P384.sign(b"tls12", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(TlsError):
        verify(P384.public_key(), SS.ecdsa_secp256r1_sha256, b"tls12", sig)
    verify(P384.public_key(), SS.ecdsa_secp256r1_sha256, b"tls12", sig, allow_legacy=True)


def test_pss_salt_is_the_hash_length() -> None:
    data = b"pss"
    exact = RSA.sign(data, padding.PSS(padding.MGF1(hashes.SHA384()), salt_length=48), hashes.SHA384())
    verify(RSA.public_key(), SS.rsa_pss_rsae_sha384, data, exact)
    longest = RSA.sign(data, padding.PSS(padding.MGF1(hashes.SHA384()), padding.PSS.MAX_LENGTH), hashes.SHA384())
    with pytest.raises(TlsError) as info:
        verify(RSA.public_key(), SS.rsa_pss_rsae_sha384, data, longest)
    assert info.value.reason is Reason.BAD_SIGNATURE
    ours = sign(RSA, SS.rsa_pss_rsae_sha256, data)
    RSA.public_key().verify(ours, data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())


def test_pkcs1_matches_cryptography() -> None:
    ours = sign(RSA, SS.rsa_pkcs1_sha512, b"x")
    assert ours == RSA.sign(b"x", padding.PKCS1v15(), hashes.SHA512())  # deterministic


def test_schemes_for_key() -> None:
    rsa_order = [
        SS.rsa_pss_rsae_sha256,
        SS.rsa_pss_rsae_sha384,
        SS.rsa_pss_rsae_sha512,
        SS.rsa_pkcs1_sha256,
        SS.rsa_pkcs1_sha384,
        SS.rsa_pkcs1_sha512,
    ]
    assert schemes_for_key(RSA) == rsa_order
    assert schemes_for_key(RSA.public_key()) == rsa_order
    assert schemes_for_key(P256) == [SS.ecdsa_secp256r1_sha256]
    assert schemes_for_key(P384.public_key()) == [SS.ecdsa_secp384r1_sha384]
    assert schemes_for_key(P521) == [SS.ecdsa_secp521r1_sha512]
    assert schemes_for_key(ED25519) == [SS.ed25519]
    assert schemes_for_key(ED448.public_key()) == [SS.ed448]
    assert schemes_for_key(ec.generate_private_key(ec.SECP256K1())) == []


ALL = [int(s) for s in SS]


def test_choose_scheme_follows_our_order() -> None:
    peer = [SS.rsa_pkcs1_sha256, SS.rsa_pss_rsae_sha512, SS.rsa_pss_rsae_sha256]
    assert choose_scheme(RSA, peer, ALL, tls13=True) == SS.rsa_pss_rsae_sha256
    # Filtered by what we enable.
    assert choose_scheme(RSA, peer, [SS.rsa_pss_rsae_sha512, SS.rsa_pkcs1_sha256], tls13=True) == SS.rsa_pss_rsae_sha512


def test_choose_scheme_no_pkcs1_in_tls13() -> None:
    peer = [SS.rsa_pkcs1_sha256, SS.rsa_pkcs1_sha384, SS.ecdsa_secp256r1_sha256]
    assert choose_scheme(RSA, peer, ALL, tls13=True) is None
    assert choose_scheme(RSA, peer, ALL, tls13=False) == SS.rsa_pkcs1_sha256


def test_choose_scheme_no_match() -> None:
    assert choose_scheme(P256, [SS.ecdsa_secp384r1_sha384, SS.ed25519], ALL, tls13=True) is None
    assert choose_scheme(P256, [SS.ecdsa_secp256r1_sha256], [SS.ed25519], tls13=True) is None
    assert choose_scheme(ED25519, [SS.ed25519], ALL, tls13=False) == SS.ed25519
    assert choose_scheme(P384, [0x0A0A, SS.ecdsa_secp384r1_sha384], ALL, tls13=True) == SS.ecdsa_secp384r1_sha384


def test_certificate_verify_input() -> None:
    digest = bytes(range(32))
    server = tls13_certificate_verify_input(digest, server=True)
    assert server == b" " * 64 + b"TLS 1.3, server CertificateVerify" + b"\x00" + digest
    client = tls13_certificate_verify_input(digest, server=False)
    assert client == b" " * 64 + b"TLS 1.3, client CertificateVerify" + b"\x00" + digest
    assert len(tls13_certificate_verify_input(bytes(48), server=True)) == 64 + 33 + 1 + 48


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=512), scheme=st.sampled_from([SS.ecdsa_secp256r1_sha256, SS.ed25519]))
def test_round_trip_any_data(data: bytes, scheme: SS) -> None:
    key = P256 if scheme == SS.ecdsa_secp256r1_sha256 else ED25519
    verify(key.public_key(), scheme, data, sign(key, scheme, data))


def test_certified_key_is_checked_when_built() -> None:
    """A key that is not the leaf's is refused when the pair is made (client certificates, ``serve --cert``)."""
    from https_request.tls.config import CertifiedKey

    ca = make_ca(name="certified-key CA")
    ours = make_leaf(ca, ["a.example"])
    assert CertifiedKey((ours.cert,), ours.key).key is ours.key
    for key in (make_key("ec", label="another"), RSA):  # same type, other key; another type
        with pytest.raises(ValueError, match=r"private key does not match the certificate CN=a\.example"):
            CertifiedKey((ours.cert,), key)
