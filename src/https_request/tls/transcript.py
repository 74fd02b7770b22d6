"""The handshake transcript hash (RFC 8446 4.4.1).

Messages are buffered until the cipher suite fixes the hash; a
HelloRetryRequest replaces ClientHello1 with a synthetic ``message_hash``
message.
"""

from __future__ import annotations

from typing import Any

from .enums import HandshakeType
from .keyschedule import new_hash

__all__ = ["Transcript"]


class Transcript:
    __slots__ = ("_pending", "_hash", "hash_name")

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._hash: Any = None
        self.hash_name = ""

    def set_hash(self, hash_name: str) -> None:
        """Fix the hash function and hash the buffered messages."""
        self.hash_name = hash_name
        self._hash = new_hash(hash_name)
        for m in self._pending:
            self._hash.update(m)
        self._pending = []

    def add(self, message: bytes) -> None:
        if self._hash is None:
            self._pending.append(message)
        else:
            self._hash.update(message)

    def digest(self) -> bytes:
        """Transcript-Hash of everything added so far (hash must be set)."""
        return bytes(self._hash.copy().digest())

    def digest_with(self, extra: bytes) -> bytes:
        """The hash as if ``extra`` were appended, without appending it."""
        h = self._hash.copy()
        h.update(extra)
        return bytes(h.digest())

    def restart_for_hrr(self) -> None:
        """Replace ClientHello1 by message_hash(Hash(ClientHello1)) (RFC 8446 4.4.1)."""
        ch1_hash = self.digest()
        self._hash = new_hash(self.hash_name)
        self._hash.update(bytes((HandshakeType.MESSAGE_HASH, 0, 0, len(ch1_hash))) + ch1_hash)
