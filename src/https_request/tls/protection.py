"""TLS 1.3 record protection (RFC 8446 section 5.2-5.3).

A :class:`Protector` seals TLSInnerPlaintext into TLSCiphertext records and
opens them again; it owns the key, the static IV and the sequence number.
The per-record nonce is the IV XORed with the 64-bit sequence number.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag

from .enums import ContentType
from .errors import Reason, TlsError
from .keyschedule import traffic_key_iv
from .limits import MAX_PLAINTEXT
from .suites import SuiteParams

__all__ = ["Protector"]

_APPDATA_HEADER = b"\x17\x03\x03"
_CCS = ContentType.CHANGE_CIPHER_SPEC  # (read per record: see enums.py on an Enum class's attributes)


class Protector:
    """AEAD protection for one direction with one traffic secret."""

    __slots__ = ("suite", "secret", "_aead", "_iv", "seq", "_tag_len")

    def __init__(self, suite: SuiteParams, secret: bytes) -> None:
        key, iv = traffic_key_iv(suite.hash_name, secret, suite.key_len, suite.iv_len)
        self.suite = suite
        self.secret = secret
        if suite.aead is None:
            raise ValueError(f"{suite.name} is not a TLS 1.3 suite")
        self._aead = suite.aead(key)
        self._iv = int.from_bytes(iv, "big")
        self._tag_len = suite.tag_len
        self.seq = 0

    def _nonce(self) -> bytes:
        seq = self.seq
        if seq >= (1 << 64) - 1:
            raise TlsError(Reason.INTERNAL, "sequence number exhausted")
        self.seq = seq + 1
        return (self._iv ^ seq).to_bytes(12, "big")

    def seal(self, content_type: int, data: bytes, padding: int = 0) -> bytes:
        """One TLSCiphertext record carrying ``data`` of ``content_type``."""
        inner = data + bytes((content_type,)) + bytes(padding)
        length = len(inner) + self._tag_len
        header = _APPDATA_HEADER + length.to_bytes(2, "big")
        return header + self._aead.encrypt(self._nonce(), inner, header)

    def open(self, header: bytes, payload: bytes) -> tuple[int, bytes]:
        """Decrypt a record; returns (inner content type, content).

        Raises TlsError BAD_RECORD_MAC on authentication failure, and
        UNEXPECTED_MESSAGE when the inner plaintext is all padding.
        """
        try:
            inner = self._aead.decrypt(self._nonce(), payload, header)
        except InvalidTag:
            raise TlsError(Reason.BAD_RECORD_MAC, "AEAD authentication failed") from None
        if len(inner) > MAX_PLAINTEXT + 1:
            raise TlsError(Reason.RECORD_OVERFLOW, f"inner plaintext of {len(inner)} bytes")
        end = len(inner)
        while end and inner[end - 1] == 0:
            end -= 1
        if not end:
            raise TlsError(Reason.UNEXPECTED_MESSAGE, "record with no content type")
        ctype = inner[end - 1]
        if ctype == _CCS:
            raise TlsError(Reason.UNEXPECTED_MESSAGE, "protected change_cipher_spec")
        return ctype, inner[: end - 1]
