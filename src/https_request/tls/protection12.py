"""TLS 1.0-1.2 record protection: AEAD (RFC 5246 6.2.3.3, 5288, 6655, 7905) and
CBC with encrypt-then-MAC (RFC 7366) or the legacy MAC-then-encrypt.

:class:`Protector12` has the same ``seal`` / ``open`` / ``seq`` shape as the
TLS 1.3 :class:`~.protection.Protector`, so the connection's record layer
does not care which version it protects.

* GCM / CCM: nonce = implicit 4-byte IV || 8-byte explicit nonce (the
  sequence number, sent in the record).
* ChaCha20-Poly1305: nonce = 12-byte IV XOR the padded sequence number.
* RC4 (RFC 5246 6.2.3.1; the check server's only, RFC 7465 forbids it
  elsewhere): the MAC after the data, both under one keystream per direction.
* CBC (AES, ARIA or 3DES): from TLS 1.1 on (RFC 4346 6.2.3.2) a random per-record
  IV travels in front of the ciphertext. TLS 1.0 (RFC 2246 6.2.3.2) has no
  explicit IV: the first comes from the key block and each record's is the
  last ciphertext block of the one before, so one cipher context per
  direction runs over the whole connection. With encrypt_then_mac the MAC
  covers IV and ciphertext; without it the MAC is inside the padding, which
  this module checks in Python and therefore not in constant time (the
  server warns when that mode is chosen). The header the MAC and the AEAD
  data cover carries the connection's version (``version``).
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, CipherAlgorithm, CipherContext, algorithms, modes

from .errors import Reason, TlsError
from .keyschedule12 import hmac_keyed
from .limits import MAX_PLAINTEXT
from .suites import SuiteParams

__all__ = ["CbcCipher", "Protector12", "cbc_cipher"]

_AAD = struct.Struct(">QB2sH")  # seq_num, type, version, length (RFC 5246 6.2.3.3's additional_data)
_SEQ_LIMIT = (1 << 64) - 1


class CbcCipher(Protocol):
    """A block cipher in CBC mode over whole blocks, under one key."""

    def encrypt(self, iv: bytes, data: bytes) -> bytes: ...

    def decrypt(self, iv: bytes, data: bytes) -> bytes: ...


class _CryptographyCbc:
    """AES or 3DES in CBC mode through cryptography."""

    __slots__ = ("_algorithm",)

    def __init__(self, algorithm: CipherAlgorithm) -> None:
        self._algorithm = algorithm

    def encrypt(self, iv: bytes, data: bytes) -> bytes:
        enc = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
        return enc.update(data) + enc.finalize()

    def decrypt(self, iv: bytes, data: bytes) -> bytes:
        dec = Cipher(self._algorithm, modes.CBC(iv)).decryptor()
        return dec.update(data) + dec.finalize()


def cbc_cipher(suite: SuiteParams, key: bytes) -> CbcCipher:
    """The CBC cipher of a CBC suite (``suite.cipher``: AES, ARIA or 3DES) under ``key``;
    ARIA (pure Python) and 3DES (cryptography's "decrepit" algorithms) are imported only
    for their suites."""
    if suite.cipher == "ARIA":
        from .aria import AriaCbc

        return AriaCbc(key)
    if suite.cipher == "3DES":
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

        return _CryptographyCbc(TripleDES(key))
    return _CryptographyCbc(algorithms.AES(key))


class Protector12:
    """Protection for one direction of a TLS 1.2 connection."""

    __slots__ = (
        "suite", "seq", "_aead", "_chacha", "_cbc", "_iv", "_iv_int", "_keyed_mac", "_etm", "_random", "secret",
        "_version", "_block", "_chain_iv", "_implicit", "_stream",
    )  # fmt: skip

    def __init__(
        self,
        suite: SuiteParams,
        key: bytes,
        iv: bytes,
        mac_key: bytes = b"",
        *,
        etm: bool = False,
        random: Callable[[int], bytes] | None = None,
        version: int = 0x0303,
    ) -> None:
        """``iv``: the key block's IV (for CBC only at TLS 1.0, ``version`` 0x0301: the first
        record's). Raises ValueError for a CBC suite at TLS 1.0 without a whole block of IV."""
        self.suite = suite
        self.seq = 0
        self.secret = b""
        self._iv = iv
        # CBC and RC4: HMAC under the connection's MAC key, keyed once (hmac.digest fetches and keys per call)
        self._keyed_mac = hmac_keyed(suite.mac_name, mac_key) if suite.mac_name else None
        self._etm = etm
        self._random = random
        self._version = version.to_bytes(2, "big")
        self._chain_iv = iv
        self._stream: tuple[CipherContext, CipherContext] | None = None
        mode = suite.mode
        cbc = mode == "CBC"
        self._aead = suite.aead(key) if suite.aead is not None else None
        self._chacha = mode == "CHACHA"  # nonce = IV XOR the sequence number (RFC 7905 2)
        self._iv_int = int.from_bytes(iv, "big") if self._chacha else 0
        self._block = suite.block if cbc else 0  # (CBC only; a property)
        self._cbc = cbc_cipher(suite, key) if cbc else None
        # TLS 1.0: each record's IV is the last ciphertext block of the one before (the first: the key block's)
        self._implicit = cbc and version <= 0x0301
        if mode == "RC4":  # a stream, one keystream per direction over the connection: (encryptor, decryptor)
            from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4

            self._stream = (Cipher(ARC4(key), None).encryptor(), Cipher(ARC4(key), None).decryptor())
        if self._implicit and len(iv) != self._block:
            raise ValueError(f"TLS 1.0 CBC needs a {self._block}-byte IV from the key block")

    def seal(self, content_type: int, data: bytes, padding: int = 0) -> bytes:
        """One TLSCiphertext record carrying ``data``."""
        seq_num = self.seq  # (the next sequence number inline: a method call per record costs ~1k instructions)
        if seq_num >= _SEQ_LIMIT:
            raise TlsError(Reason.INTERNAL, "sequence number exhausted")
        self.seq = seq_num + 1
        aead = self._aead
        if aead is not None:  # (the common case first, in one struct call)
            aad = _AAD.pack(seq_num, content_type, self._version, len(data))
            if self._chacha:
                payload = aead.encrypt((self._iv_int ^ seq_num).to_bytes(12, "big"), data, aad)
            else:
                explicit = aad[:8]
                payload = explicit + aead.encrypt(self._iv + explicit, data, aad)
            return aad[8:11] + len(payload).to_bytes(2, "big") + payload
        seq = seq_num.to_bytes(8, "big")
        head = bytes((content_type,)) + self._version
        if self._stream is not None:  # RC4: MAC, then the connection-long keystream (RFC 5246 6.2.3.1)
            payload = self._stream[0].update(data + self._mac(seq + head + len(data).to_bytes(2, "big") + data))
        else:
            payload = self._seal_cbc(seq, head, data)
        return head + len(payload).to_bytes(2, "big") + payload

    def _mac(self, data: bytes) -> bytes:
        assert self._keyed_mac is not None
        return self._keyed_mac(data)

    def _seal_cbc(self, seq: bytes, head: bytes, data: bytes) -> bytes:
        block = self._block
        body = data if self._etm else data + self._mac(seq + head + len(data).to_bytes(2, "big") + data)
        pad = block - (len(body) + 1) % block
        if pad == block:
            pad = 0
        body += bytes((pad,)) * (pad + 1)
        assert self._cbc is not None
        if self._implicit:  # TLS 1.0: the chain goes on
            ct = self._cbc.encrypt(self._chain_iv, body)
            self._chain_iv = ct[-block:]
        else:
            assert self._random is not None
            iv = self._random(block)
            ct = iv + self._cbc.encrypt(iv, body)
        if self._etm:
            ct += self._mac(seq + head + len(ct).to_bytes(2, "big") + ct)
        return ct

    def open(self, header: bytes, payload: bytes) -> tuple[int, bytes]:
        """Decrypt and authenticate a record; returns (content type, data).

        Raises TlsError BAD_RECORD_MAC when authentication fails and
        RECORD_OVERFLOW when the plaintext is too long.
        """
        seq_num = self.seq  # (as in seal)
        if seq_num >= _SEQ_LIMIT:
            raise TlsError(Reason.INTERNAL, "sequence number exhausted")
        self.seq = seq_num + 1
        ctype = header[0]
        aead = self._aead
        if aead is not None:
            tag_len = self.suite.tag_len
            if self._chacha:
                nonce, ct = (self._iv_int ^ seq_num).to_bytes(12, "big"), payload
            else:
                if len(payload) < 8 + tag_len:
                    raise TlsError(Reason.BAD_RECORD_MAC, "record shorter than nonce and tag")
                nonce, ct = self._iv + payload[:8], payload[8:]
            plain_len = len(ct) - tag_len
            if plain_len < 0:
                raise TlsError(Reason.BAD_RECORD_MAC, "record shorter than its tag")
            try:
                data = aead.decrypt(nonce, ct, _AAD.pack(seq_num, ctype, header[1:3], plain_len))
            except InvalidTag:
                raise TlsError(Reason.BAD_RECORD_MAC, "AEAD authentication failed") from None
        elif self._stream is not None:
            data = self._open_stream(seq_num.to_bytes(8, "big"), header[:3], payload)
        else:
            data = self._open_cbc(seq_num.to_bytes(8, "big"), header[:3], payload)
        if len(data) > MAX_PLAINTEXT:
            raise TlsError(Reason.RECORD_OVERFLOW, f"plaintext of {len(data)} bytes")
        return ctype, data

    def _open_stream(self, seq: bytes, head: bytes, payload: bytes) -> bytes:
        assert self._stream is not None
        mac_len = self.suite.mac_len
        if len(payload) < mac_len:
            raise TlsError(Reason.BAD_RECORD_MAC, "record shorter than its MAC")
        body = self._stream[1].update(payload)
        data, tag = body[:-mac_len], body[-mac_len:]
        if not hmac.compare_digest(self._mac(seq + head + len(data).to_bytes(2, "big") + data), tag):
            raise TlsError(Reason.BAD_RECORD_MAC, "record MAC mismatch")
        return data

    def _open_cbc(self, seq: bytes, head: bytes, payload: bytes) -> bytes:
        mac_len = self.suite.mac_len
        block = self._block
        explicit = 0 if self._implicit else block  # bytes of IV in front of the ciphertext
        if self._etm:
            if len(payload) < explicit + block + mac_len or (len(payload) - mac_len) % block:
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
        if len(payload) < explicit + max(block, mac_len + 1) or len(payload) % block:
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
        block = self._block
        if self._implicit:  # TLS 1.0: the chain goes on
            iv, self._chain_iv = self._chain_iv, ct[-block:]
            return self._cbc.decrypt(iv, ct)
        return self._cbc.decrypt(ct[:block], ct[block:])
