"""ARIA (tls/aria.py): RFC 5794's vectors, GCM checked with AES against cryptography's AESGCM,
ARIA against Mbed TLS's own (python-mbedtls, ECB and CBC)."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st
from mbedtls import cipher as mbed_cipher
from mbedtls.cipher import ARIA as mbed_aria

from https_request.tls.aria import Aria, AriaCbc, AriaGcm, gcm

# RFC 5794 Appendix A.1-A.3: the key 00 01 02 ..., the plaintext 00 11 22 ... ff.
PLAIN = bytes.fromhex("00112233445566778899aabbccddeeff")
RFC5794_VECTORS = [
    (bytes(range(16)), "d718fbd6ab644c739da95f3be6451778"),
    (bytes(range(24)), "26449c1805dbe7aa25a468ce263a9e79"),
    (bytes(range(32)), "f92bd7c79fb72e2f2b8f80c1972d24fc"),
]


@pytest.mark.parametrize(("key", "cipher"), RFC5794_VECTORS, ids=["128", "192", "256"])
def test_rfc5794_vectors(key: bytes, cipher: str) -> None:
    aria = Aria(key)
    assert aria.encrypt_block(PLAIN).hex() == cipher
    assert aria.decrypt_block(bytes.fromhex(cipher)) == PLAIN


@pytest.mark.parametrize("size", [0, 8, 15, 17, 33, 64])
def test_bad_key_length(size: int) -> None:
    with pytest.raises(ValueError, match="16, 24 or 32 bytes"):
        Aria(bytes(size))


def _aes_gcm(key: bytes) -> object:
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return gcm(lambda block: int.from_bytes(ecb.update(block.to_bytes(16, "big")), "big"))


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=16, max_size=16) | st.binary(min_size=32, max_size=32),
    nonce=st.binary(min_size=12, max_size=12),
    data=st.binary(max_size=300),
    aad=st.binary(max_size=40),
)
def test_gcm_with_aes_matches_aesgcm(key: bytes, nonce: bytes, data: bytes, aad: bytes) -> None:
    """The same GCM code over AES gives cryptography's AES-GCM bytes, both ways."""
    ours = _aes_gcm(key)
    sealed = AESGCM(key).encrypt(nonce, data, aad)
    assert ours.encrypt(nonce, data, aad) == sealed  # type: ignore[attr-defined]
    assert ours.decrypt(nonce, sealed, aad) == data  # type: ignore[attr-defined]


def test_aria_gcm_refuses_tampering() -> None:
    key, nonce = os.urandom(16), os.urandom(12)
    aead = AriaGcm(key)
    sealed = aead.encrypt(nonce, b"hello ARIA", b"head")
    assert aead.decrypt(nonce, sealed, b"head") == b"hello ARIA"
    for bad in (sealed[:-1] + bytes((sealed[-1] ^ 1,)), bytes((sealed[0] ^ 1,)) + sealed[1:], sealed[:15]):
        with pytest.raises(InvalidTag):
            aead.decrypt(nonce, bad, b"head")
    with pytest.raises(InvalidTag):
        aead.decrypt(nonce, sealed, b"other")
    with pytest.raises(ValueError, match="12 bytes"):
        aead.encrypt(b"short", b"", None)


def test_cbc_round_trip_and_bounds() -> None:
    key, iv = os.urandom(32), os.urandom(16)
    data = os.urandom(80)
    cbc = AriaCbc(key)
    ct = cbc.encrypt(iv, data)
    assert len(ct) == 80 and ct != data
    assert cbc.decrypt(iv, ct) == data
    with pytest.raises(ValueError, match="whole 16-byte blocks"):
        cbc.encrypt(iv, data[:-1])


def test_against_mbedtls_aria() -> None:
    """Mbed TLS's ARIA (the library python-mbedtls bundles): the same blocks, ECB and CBC, all key sizes."""
    for size in (16, 24, 32):
        key, iv, data = os.urandom(size), os.urandom(16), os.urandom(96)
        assert Aria(key).encrypt_block(data[:16]) == mbed_aria.new(key, mbed_cipher.MODE_ECB, b"").encrypt(data[:16])
        theirs = mbed_aria.new(key, mbed_cipher.MODE_CBC, iv).encrypt(data)
        assert AriaCbc(key).encrypt(iv, data) == theirs[:96]
        assert AriaCbc(key).decrypt(iv, theirs[:96]) == data
