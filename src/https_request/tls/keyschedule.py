"""The TLS 1.3 key schedule (RFC 8446 section 7) on stdlib hashlib.

The handshake's HMACs (some two dozen, on short messages) are RFC 2104's
two hashes, made by :func:`hmac_digest` from hashlib's hash objects: with
OpenSSL 3, ``hmac.digest`` fetches the HMAC algorithm and its digest by name
on every call (a table lookup under locks), which costs more than the four
hash blocks of the HMAC itself. Secrets are plain bytes; the schedule object
keeps only the current stage's secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Protocol


class HashObject(Protocol):
    """What hashlib's hash objects offer (the engine's transcripts and HMACs use these)."""

    @property
    def block_size(self) -> int: ...

    def update(self, data: bytes | bytearray, /) -> None: ...

    def digest(self) -> bytes: ...

    def copy(self) -> HashObject: ...


_DIGEST_SIZE = {"sha256": 32, "sha384": 48}
_CONSTRUCTORS: dict[str, Callable[[bytes | bytearray], HashObject]] = {
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
}
_BLOCK_SIZE = {"sha256": 64, "sha384": 128}
_EMPTY_HASH = {name: hashlib.new(name, b"").digest() for name in _DIGEST_SIZE}  # Transcript-Hash("")
IPAD = bytes(x ^ 0x36 for x in range(256))  # (bytes.translate tables: a key XOR ipad, XOR opad)
OPAD = bytes(x ^ 0x5C for x in range(256))
_NO_PSK: dict[str, tuple[bytes, bytes]] = {}  # hash -> (Early Secret without a PSK, Derive-Secret(it, "derived", ""))

__all__ = [
    "IPAD",
    "OPAD",
    "HashObject",
    "KeySchedule",
    "derive_secret",
    "finished_verify_data",
    "hkdf_expand",
    "hkdf_expand_label",
    "hkdf_extract",
    "hmac_digest",
    "new_hash",
    "next_traffic_secret",
    "traffic_key_iv",
]


def new_hash(hash_name: str, data: bytes | bytearray = b"") -> HashObject:
    """``hashlib.new(hash_name, data)``, through the named constructor for the TLS hashes
    (hashlib.new's Python wrapper costs more than the hash of a short message)."""
    make = _CONSTRUCTORS.get(hash_name)
    return make(data) if make is not None else hashlib.new(hash_name, data)


def hmac_digest(hash_name: str, key: bytes, msg: bytes) -> bytes:
    """HMAC-<hash>(key, msg), as ``hmac.digest(key, msg, hash_name)`` (RFC 2104: the hash of
    the key XOR opad and the hash of the key XOR ipad and ``msg``), from two hash objects
    for the TLS hashes (see the module docstring); other hashes through ``hmac.digest``."""
    make = _CONSTRUCTORS.get(hash_name)
    if make is None:
        return hmac.digest(key, msg, hash_name)
    block = _BLOCK_SIZE[hash_name]
    if len(key) > block:
        key = make(key).digest()
    key = key.ljust(block, b"\0")
    inner = make(key.translate(IPAD))
    inner.update(msg)
    return make(key.translate(OPAD) + inner.digest()).digest()


def hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869): HMAC(salt, ikm); an empty salt is zeros."""
    if not salt:
        salt = bytes(_DIGEST_SIZE.get(hash_name) or hashlib.new(hash_name).digest_size)
    return hmac_digest(hash_name, salt, ikm)


def hkdf_expand(hash_name: str, prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand (RFC 5869)."""
    if length <= _DIGEST_SIZE.get(hash_name, 0):  # one block: every TLS 1.3 output
        return hmac_digest(hash_name, prk, info + b"\x01")[:length]
    out = b""
    block = b""
    i = 1
    while len(out) < length:
        block = hmac_digest(hash_name, prk, block + info + bytes((i,)))
        out += block
        i += 1
    return out[:length]


_LABEL_HEADS: dict[tuple[bytes, int], bytes] = {}  # (label, length) -> HkdfLabel up to its context


def hkdf_expand_label(hash_name: str, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """HKDF-Expand-Label: HkdfLabel = length, "tls13 " + label, context."""
    head = _LABEL_HEADS.get((label, length))
    if head is None:
        full = b"tls13 " + label
        head = length.to_bytes(2, "big") + bytes((len(full),)) + full
        if len(_LABEL_HEADS) < 64:  # the handshake's dozen labels; a caller's exporter labels are not kept
            _LABEL_HEADS[label, length] = head
    info = head + bytes((len(context),)) + context
    if length <= _DIGEST_SIZE.get(hash_name, 0):  # one block, as hkdf_expand takes it (every TLS 1.3 label)
        return hmac_digest(hash_name, secret, info + b"\x01")[:length]
    return hkdf_expand(hash_name, secret, info, length)


def derive_secret(hash_name: str, secret: bytes, label: bytes, transcript_hash: bytes) -> bytes:
    """Derive-Secret(secret, label, Messages) with the hash already taken."""
    return hkdf_expand_label(hash_name, secret, label, transcript_hash, len(transcript_hash))


def traffic_key_iv(hash_name: str, secret: bytes, key_len: int, iv_len: int) -> tuple[bytes, bytes]:
    """The write key and IV of a traffic secret (RFC 8446 7.3)."""
    return (
        hkdf_expand_label(hash_name, secret, b"key", b"", key_len),
        hkdf_expand_label(hash_name, secret, b"iv", b"", iv_len),
    )


def next_traffic_secret(hash_name: str, secret: bytes) -> bytes:
    """application_traffic_secret_N+1 (RFC 8446 7.2, KeyUpdate)."""
    return hkdf_expand_label(hash_name, secret, b"traffic upd", b"", len(secret))


def finished_verify_data(hash_name: str, base_key: bytes, transcript_hash: bytes) -> bytes:
    """verify_data = HMAC(finished_key, Transcript-Hash) (RFC 8446 4.4.4)."""
    finished_key = hkdf_expand_label(hash_name, base_key, b"finished", b"", len(transcript_hash))
    return hmac_digest(hash_name, finished_key, transcript_hash)


class KeySchedule:
    """Walks Early Secret -> Handshake Secret -> Master Secret.

    Each ``*_stage`` call mixes in the next input; derived secrets are taken
    with the transcript hash of the messages the RFC names.
    """

    __slots__ = ("hash_name", "hash_len", "secret", "_empty_hash", "_salt")

    def __init__(self, hash_name: str, psk: bytes | None = None) -> None:
        self.hash_name = hash_name
        self._empty_hash = _EMPTY_HASH.get(hash_name) or hashlib.new(hash_name).digest()
        self.hash_len = len(self._empty_hash)
        self._salt: bytes | None = None  # the next stage's salt, when known in advance
        if psk is not None:
            self.secret = hkdf_extract(hash_name, b"", psk)
            return
        known = _NO_PSK.get(hash_name)
        if known is None:  # without a PSK the Early Secret and its "derived" salt are constants
            early = hkdf_extract(hash_name, b"", bytes(self.hash_len))
            known = (early, derive_secret(hash_name, early, b"derived", self._empty_hash))
            if hash_name in _DIGEST_SIZE:
                _NO_PSK[hash_name] = known
        self.secret, self._salt = known

    def derive(self, label: bytes, transcript_hash: bytes) -> bytes:
        return derive_secret(self.hash_name, self.secret, label, transcript_hash)

    def binder_key(self, resumption: bool = True) -> bytes:
        return self.derive(b"res binder" if resumption else b"ext binder", self._empty_hash)

    def _next(self, ikm: bytes | None) -> None:
        salt = self._salt if self._salt is not None else self.derive(b"derived", self._empty_hash)
        self._salt = None
        self.secret = hkdf_extract(self.hash_name, salt, ikm if ikm is not None else bytes(self.hash_len))

    def handshake_stage(self, shared_secret: bytes | None) -> None:
        """Early -> Handshake Secret (shared_secret None for psk_ke)."""
        self._next(shared_secret)

    def master_stage(self) -> None:
        """Handshake -> Master Secret."""
        self._next(None)
