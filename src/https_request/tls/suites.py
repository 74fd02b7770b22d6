"""Cipher-suite parameters: hash, AEAD, key and nonce sizes, by IANA id.

TLS 1.3 suites (RFC 8446 B.4) and the TLS 1.2 AEAD suites share the AEAD
table; the TLS 1.2 entries also name their key exchange and authentication.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from .enums import CipherSuite

__all__ = ["SUITES", "Aead", "SuiteParams", "suite_params"]


class Aead:
    """The two calls record protection makes on an AEAD object."""

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        raise NotImplementedError

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        raise NotImplementedError


def _ccm8(key: bytes) -> AESCCM:
    return AESCCM(key, tag_length=8)


@dataclass(frozen=True, slots=True)
class SuiteParams:
    """What a cipher suite means for the key schedule and record layer."""

    id: int
    name: str
    hash_name: str  # hashlib name: "sha256" / "sha384"
    hash_len: int
    key_len: int
    iv_len: int  # TLS 1.3 nonce length / TLS 1.2 fixed IV part
    tag_len: int
    aead: Callable[[bytes], AESGCM | AESCCM | ChaCha20Poly1305]
    tls13: bool


_S = SuiteParams
SUITES: dict[int, SuiteParams] = {
    s.id: s
    for s in (
        _S(0x1301, "TLS_AES_128_GCM_SHA256", "sha256", 32, 16, 12, 16, AESGCM, True),
        _S(0x1302, "TLS_AES_256_GCM_SHA384", "sha384", 48, 32, 12, 16, AESGCM, True),
        _S(0x1303, "TLS_CHACHA20_POLY1305_SHA256", "sha256", 32, 32, 12, 16, ChaCha20Poly1305, True),
        _S(0x1304, "TLS_AES_128_CCM_SHA256", "sha256", 32, 16, 12, 16, AESCCM, True),
        _S(0x1305, "TLS_AES_128_CCM_8_SHA256", "sha256", 32, 16, 12, 8, _ccm8, True),
    )
}


def suite_params(suite: int) -> SuiteParams | None:
    """Parameters of an implemented suite, or None."""
    return SUITES.get(suite)


assert all(CipherSuite(s) for s in SUITES)
