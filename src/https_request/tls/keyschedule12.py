"""The TLS 1.0-1.2 PRF and what it derives (RFC 5246 5, 6.3, 7.4.9; RFC 7627;
RFC 2246 5 and RFC 4346 5 for TLS 1.0 and 1.1).

TLS 1.2's PRF is P_<hash> with the suite's hash. TLS 1.0 and 1.1 have one PRF
for every suite, named :data:`MD5_SHA1` here: the secret split in two halves
(sharing a middle byte when its length is odd), P_MD5 of the first XOR P_SHA1
of the second; their handshake hash (Finished, RFC 7627's session hash) is
MD5 || SHA-1 of the messages (36 bytes). :func:`prf_name` says which applies.

P_hash keys HMAC once per secret (RFC 2104: the hash states after
``K ^ ipad`` and ``K ^ opad``) and copies them for each block: a copy is
much cheaper than ``hmac.digest``, which looks the hash up by name and
re-keys on every call. :class:`Prf` keeps the keyed states of one secret:
a handshake derives the key block and both Finished from the master secret,
keyed once (each keying is two hash objects and two compressions).
"""

from __future__ import annotations

from collections.abc import Callable

from .keyschedule import IPAD, OPAD, HashObject, new_hash

__all__ = [
    "MD5_SHA1",
    "HandshakeHash",
    "Prf",
    "finished_verify_data12",
    "handshake_hash",
    "hmac_keyed",
    "key_block",
    "master_secret",
    "prf",
    "prf_name",
]

#: The TLS 1.0/1.1 PRF's name (not a hashlib name): P_MD5 XOR P_SHA1, MD5 || SHA-1 handshake hashes.
MD5_SHA1 = "md5-sha1"
_TLS1_2 = 0x0303


def hmac_keyed(hash_name: str, key: bytes) -> Callable[[bytes], bytes]:
    """``msg -> HMAC-<hash>(key, msg)`` (RFC 2104), keyed once: the PRF's, and the CBC and RC4
    records' MAC (:mod:`.protection12`), whose key serves a whole connection."""
    inner = new_hash(hash_name)
    outer = new_hash(hash_name)
    block = inner.block_size
    if len(key) > block:
        key = new_hash(hash_name, key).digest()
    key = key.ljust(block, b"\0")
    inner.update(key.translate(IPAD))
    outer.update(key.translate(OPAD))

    def mac(msg: bytes) -> bytes:
        i = inner.copy()
        i.update(msg)
        o = outer.copy()
        o.update(i.digest())
        return o.digest()

    return mac


def prf_name(version: int, suite_hash: str) -> str:
    """The PRF of a connection at ``version`` (wire value) with a suite whose PRF hash is
    ``suite_hash``: that hash from TLS 1.2 on, :data:`MD5_SHA1` below."""
    return suite_hash if version >= _TLS1_2 else MD5_SHA1


def handshake_hash(name: str, messages: bytes | bytearray) -> bytes:
    """Hash(handshake_messages) for the PRF ``name``: MD5 || SHA-1 for :data:`MD5_SHA1`."""
    running = HandshakeHash(name)
    running.update(messages)
    return running.digest()


class HandshakeHash:
    """:func:`handshake_hash` of the messages fed so far, kept running: a handshake that
    takes it several times (the extended master secret, both Finished) hashes each
    message once."""

    __slots__ = ("_hashes", "_one")

    def __init__(self, name: str) -> None:
        # TLS 1.2's one hash kept apart: the loop and join are for TLS 1.0/1.1's pair only
        self._one: HashObject | None = None if name == MD5_SHA1 else new_hash(name)
        self._hashes = (self._one,) if self._one is not None else (new_hash("md5"), new_hash("sha1"))

    def update(self, data: bytes | bytearray) -> None:
        if self._one is not None:
            self._one.update(data)
            return
        for h in self._hashes:
            h.update(data)

    def digest(self) -> bytes:
        """The hash of what was fed so far; the hashing goes on (hashlib's ``digest`` does not finalise)."""
        if self._one is not None:
            return self._one.digest()
        return b"".join([h.digest() for h in self._hashes])


class Prf:
    """PRF(secret, label, seed) of one secret (RFC 5246 5; for :data:`MD5_SHA1`
    P_MD5(S1, label + seed) XOR P_SHA1(S2, label + seed), RFC 2246 5), its HMAC
    keyed once for every derivation from it."""

    __slots__ = ("_macs",)

    def __init__(self, hash_name: str, secret: bytes) -> None:
        self._macs: tuple[Callable[[bytes], bytes], ...]
        if hash_name == MD5_SHA1:
            half = (len(secret) + 1) // 2  # the halves share a middle byte when the length is odd
            self._macs = (hmac_keyed("md5", secret[:half]), hmac_keyed("sha1", secret[len(secret) - half :]))
        else:
            self._macs = (hmac_keyed(hash_name, secret),)

    def __call__(self, label: bytes, seed: bytes, length: int) -> bytes:
        """``length`` bytes of PRF(secret, label, seed)."""
        seed = label + seed
        if len(self._macs) == 1:
            return _p_hash(self._macs[0], seed, length)
        md5, sha1 = (_p_hash(mac, seed, length) for mac in self._macs)
        return (int.from_bytes(md5, "big") ^ int.from_bytes(sha1, "big")).to_bytes(length, "big")

    def key_block(
        self, client_random: bytes, server_random: bytes, mac_len: int, key_len: int, iv_len: int
    ) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes]:
        """(client MAC key, server MAC key, client key, server key, client IV, server IV), with
        this PRF of the master secret (RFC 5246 6.3)."""
        kb = self(b"key expansion", server_random + client_random, 2 * (mac_len + key_len + iv_len))
        out = []
        pos = 0
        for size in (mac_len, mac_len, key_len, key_len, iv_len, iv_len):
            out.append(kb[pos : pos + size])
            pos += size
        return out[0], out[1], out[2], out[3], out[4], out[5]

    def finished(self, client: bool, handshake_hash: bytes) -> bytes:
        """verify_data = PRF(master, finished_label, Hash(handshake_messages))[0..11], with this
        PRF of the master secret (RFC 5246 7.4.9)."""
        return self(b"client finished" if client else b"server finished", handshake_hash, 12)


def prf(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """PRF(secret, label, seed), ``length`` bytes (:class:`Prf` for one derivation)."""
    return Prf(hash_name, secret)(label, seed, length)


def _p_hash(mac: Callable[[bytes], bytes], seed: bytes, length: int) -> bytes:
    blocks = []
    n = 0
    a = seed
    while n < length:
        a = mac(a)
        block = mac(a + seed)
        blocks.append(block)
        n += len(block)
    return b"".join(blocks)[:length]


def master_secret(
    hash_name: str, pre_master: bytes, client_random: bytes, server_random: bytes, session_hash: bytes | None
) -> bytes:
    """The 48-byte master secret; with ``session_hash`` the RFC 7627 extended one."""
    prf = Prf(hash_name, pre_master)
    if session_hash is not None:
        return prf(b"extended master secret", session_hash, 48)
    return prf(b"master secret", client_random + server_random, 48)


def key_block(
    hash_name: str, master: bytes, client_random: bytes, server_random: bytes, mac_len: int, key_len: int, iv_len: int
) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes]:
    """(client MAC key, server MAC key, client key, server key, client IV, server IV): :meth:`Prf.key_block`."""
    return Prf(hash_name, master).key_block(client_random, server_random, mac_len, key_len, iv_len)


def finished_verify_data12(hash_name: str, master: bytes, client: bool, handshake_hash: bytes) -> bytes:
    """verify_data = PRF(master, finished_label, Hash(handshake_messages))[0..11]: :meth:`Prf.finished`."""
    return Prf(hash_name, master).finished(client, handshake_hash)
