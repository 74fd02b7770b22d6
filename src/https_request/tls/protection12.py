"""TLS 1.2 record protection: AEAD (RFC 5246 6.2.3.3, 5288, 6655, 7905) and
CBC with encrypt-then-MAC (RFC 7366) or the legacy MAC-then-encrypt.

:class:`Protector12` has the same ``seal`` / ``open`` / ``seq`` shape as the
TLS 1.3 :class:`~.protection.Protector`, so the connection's record layer
does not care which version it protects.

* GCM / CCM: nonce = implicit 4-byte IV || 8-byte explicit nonce (the
  sequence number, sent in the record).
* ChaCha20-Poly1305: nonce = 12-byte IV XOR the padded sequence number.
* CBC: a random per-record IV travels in front of the ciphertext. With
  encrypt_then_mac the MAC covers IV and ciphertext; without it the MAC is
  inside the padding, which this module checks in Python and therefore not
  in constant time (the server warns when that mode is chosen). The block
  cipher is the suite's (:class:`CbcCipher`): AES through cryptography, ARIA
  through :mod:`.aria`; this module owns the CBC record format for both.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import Reason, TlsError
from .limits import MAX_PLAINTEXT
from .suites import SuiteParams

__all__ = ["CbcCipher", "Protector12", "cbc_cipher"]

_BLOCK = 16


class CbcCipher(Protocol):
    """A block cipher in CBC mode over whole blocks, under one key."""

    def encrypt(self, iv: bytes, data: bytes) -> bytes: ...

    def decrypt(self, iv: bytes, data: bytes) -> bytes: ...


class _AesCbc:
    __slots__ = ("_aes",)

    def __init__(self, key: bytes) -> None:
        self._aes = algorithms.AES(key)

    def encrypt(self, iv: bytes, data: bytes) -> bytes:
        enc = Cipher(self._aes, modes.CBC(iv)).encryptor()
        return enc.update(data) + enc.finalize()

    def decrypt(self, iv: bytes, data: bytes) -> bytes:
        dec = Cipher(self._aes, modes.CBC(iv)).decryptor()
        return dec.update(data) + dec.finalize()


def cbc_cipher(suite: SuiteParams, key: bytes) -> CbcCipher:
    """The CBC cipher of a CBC suite (``suite.cipher``: AES or ARIA) under ``key``."""
    if suite.cipher == "ARIA":
        from .aria import AriaCbc  # pure Python ARIA: imported only when a device profile negotiates it

        return AriaCbc(key)
    return _AesCbc(key)


class Protector12:
    """Protection for one direction of a TLS 1.2 connection."""

    __slots__ = ("suite", "seq", "_aead", "_cbc", "_iv", "_iv_int", "_mac_key", "_etm", "_random", "secret")

    def __init__(
        self,
        suite: SuiteParams,
        key: bytes,
        iv: bytes,
        mac_key: bytes = b"",
        *,
        etm: bool = False,
        random: Callable[[int], bytes] | None = None,
    ) -> None:
        self.suite = suite
        self.seq = 0
        self.secret = b""
        self._iv = iv
        self._iv_int = int.from_bytes(iv, "big") if iv else 0
        self._mac_key = mac_key
        self._etm = etm
        self._random = random
        self._aead = suite.aead(key) if suite.aead is not None else None
        self._cbc = cbc_cipher(suite, key) if suite.cbc else None

    def _next_seq(self) -> bytes:
        seq = self.seq
        if seq >= (1 << 64) - 1:
            raise TlsError(Reason.INTERNAL, "sequence number exhausted")
        self.seq = seq + 1
        return seq.to_bytes(8, "big")

    def seal(self, content_type: int, data: bytes, padding: int = 0) -> bytes:
        """One TLSCiphertext record carrying ``data``."""
        seq = self._next_seq()
        head = bytes((content_type, 3, 3))
        suite = self.suite
        if self._aead is not None:
            aad = seq + head + len(data).to_bytes(2, "big")
            if suite.mode == "CHACHA":
                payload = self._aead.encrypt((self._iv_int ^ int.from_bytes(seq, "big")).to_bytes(12, "big"), data, aad)
            else:
                payload = seq + self._aead.encrypt(self._iv + seq, data, aad)
        else:
            payload = self._seal_cbc(seq, head, data)
        return head + len(payload).to_bytes(2, "big") + payload

    def _mac(self, data: bytes) -> bytes:
        return hmac.digest(self._mac_key, data, self.suite.mac_name)

    def _seal_cbc(self, seq: bytes, head: bytes, data: bytes) -> bytes:
        assert self._random is not None
        iv = self._random(_BLOCK)
        body = data if self._etm else data + self._mac(seq + head + len(data).to_bytes(2, "big") + data)
        pad = _BLOCK - (len(body) + 1) % _BLOCK
        if pad == _BLOCK:
            pad = 0
        body += bytes((pad,)) * (pad + 1)
        assert self._cbc is not None
        ct = iv + self._cbc.encrypt(iv, body)
        if self._etm:
            ct += self._mac(seq + head + len(ct).to_bytes(2, "big") + ct)
        return ct

    def open(self, header: bytes, payload: bytes) -> tuple[int, bytes]:
        """Decrypt and authenticate a record; returns (content type, data).

        Raises TlsError BAD_RECORD_MAC when authentication fails and
        RECORD_OVERFLOW when the plaintext is too long.
        """
        seq = self._next_seq()
        ctype = header[0]
        head = header[:3]
        suite = self.suite
        if self._aead is not None:
            if suite.mode == "CHACHA":
                nonce, ct = (self._iv_int ^ int.from_bytes(seq, "big")).to_bytes(12, "big"), payload
            else:
                if len(payload) < 8 + suite.tag_len:
                    raise TlsError(Reason.BAD_RECORD_MAC, "record shorter than nonce and tag")
                nonce, ct = self._iv + payload[:8], payload[8:]
            plain_len = len(ct) - suite.tag_len
            if plain_len < 0:
                raise TlsError(Reason.BAD_RECORD_MAC, "record shorter than its tag")
            aad = seq + head + plain_len.to_bytes(2, "big")
            try:
                data = self._aead.decrypt(nonce, ct, aad)
            except InvalidTag:
                raise TlsError(Reason.BAD_RECORD_MAC, "AEAD authentication failed") from None
        else:
            data = self._open_cbc(seq, head, payload)
        if len(data) > MAX_PLAINTEXT:
            raise TlsError(Reason.RECORD_OVERFLOW, f"plaintext of {len(data)} bytes")
        return ctype, data

    def _open_cbc(self, seq: bytes, head: bytes, payload: bytes) -> bytes:
        mac_len = self.suite.mac_len
        if self._etm:
            if len(payload) < 2 * _BLOCK + mac_len or (len(payload) - mac_len) % _BLOCK:
                raise TlsError(Reason.BAD_RECORD_MAC, "malformed CBC record")
            ct, tag = payload[:-mac_len], payload[-mac_len:]
            expected = self._mac(seq + head + len(ct).to_bytes(2, "big") + ct)
            if not hmac.compare_digest(expected, tag):
                raise TlsError(Reason.BAD_RECORD_MAC, "record MAC mismatch")
            body = self._decrypt(ct)
            pad = body[-1]
            if pad + 1 > len(body) or body[-pad - 1 :] != bytes((pad,)) * (pad + 1):
                raise TlsError(Reason.BAD_RECORD_MAC, "bad CBC padding")
            return body[: -pad - 1]
        # MAC-then-encrypt (not constant-time: see the module docstring)
        if len(payload) < _BLOCK + max(_BLOCK, mac_len + 1) or len(payload) % _BLOCK:
            raise TlsError(Reason.BAD_RECORD_MAC, "malformed CBC record")
        body = self._decrypt(payload)
        pad = body[-1]
        ok = pad + 1 + mac_len <= len(body) and body[-pad - 1 :] == bytes((pad,)) * (pad + 1)
        end = len(body) - pad - 1 if ok else len(body) - 1
        data, tag = body[: end - mac_len], body[end - mac_len : end]
        expected = self._mac(seq + head + len(data).to_bytes(2, "big") + data)
        if not (hmac.compare_digest(expected, tag) and ok):
            raise TlsError(Reason.BAD_RECORD_MAC, "record MAC or padding mismatch")
        return data

    def _decrypt(self, ct: bytes) -> bytes:
        assert self._cbc is not None
        return self._cbc.decrypt(ct[:_BLOCK], ct[_BLOCK:])
