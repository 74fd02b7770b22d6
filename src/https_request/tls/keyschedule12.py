"""The TLS 1.2 PRF and what it derives (RFC 5246 5, 6.3, 7.4.9; RFC 7627).

P_hash keys HMAC once per PRF call (RFC 2104: the hash states after
``K ^ ipad`` and ``K ^ opad``) and copies them for each block: a copy is
much cheaper than ``hmac.digest``, which looks the hash up by name and
re-keys on every call.
"""

from __future__ import annotations

from collections.abc import Callable

from .keyschedule import new_hash

__all__ = ["finished_verify_data12", "key_block", "master_secret", "prf"]


_TRANS_36 = bytes(x ^ 0x36 for x in range(256))
_TRANS_5C = bytes(x ^ 0x5C for x in range(256))


def _hmac_keyed(hash_name: str, key: bytes) -> Callable[[bytes], bytes]:
    """``msg -> HMAC-<hash>(key, msg)`` (RFC 2104), keyed once."""
    inner = new_hash(hash_name)
    outer = new_hash(hash_name)
    block = inner.block_size
    if len(key) > block:
        key = new_hash(hash_name, key).digest()
    key = key.ljust(block, b"\0")
    inner.update(key.translate(_TRANS_36))
    outer.update(key.translate(_TRANS_5C))

    def mac(msg: bytes) -> bytes:
        i = inner.copy()
        i.update(msg)
        o = outer.copy()
        o.update(i.digest())
        return o.digest()

    return mac


def prf(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """PRF(secret, label, seed) = P_<hash>(secret, label + seed), ``length`` bytes."""
    mac = _hmac_keyed(hash_name, secret)
    seed = label + seed
    out = b""
    a = seed
    while len(out) < length:
        a = mac(a)
        out += mac(a + seed)
    return out[:length]


def master_secret(
    hash_name: str, pre_master: bytes, client_random: bytes, server_random: bytes, session_hash: bytes | None
) -> bytes:
    """The 48-byte master secret; with ``session_hash`` the RFC 7627 extended one."""
    if session_hash is not None:
        return prf(hash_name, pre_master, b"extended master secret", session_hash, 48)
    return prf(hash_name, pre_master, b"master secret", client_random + server_random, 48)


def key_block(
    hash_name: str, master: bytes, client_random: bytes, server_random: bytes, mac_len: int, key_len: int, iv_len: int
) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes]:
    """(client MAC key, server MAC key, client key, server key, client IV, server IV)."""
    n = 2 * (mac_len + key_len + iv_len)
    kb = prf(hash_name, master, b"key expansion", server_random + client_random, n)
    out = []
    pos = 0
    for size in (mac_len, mac_len, key_len, key_len, iv_len, iv_len):
        out.append(kb[pos : pos + size])
        pos += size
    return out[0], out[1], out[2], out[3], out[4], out[5]


def finished_verify_data12(hash_name: str, master: bytes, client: bool, handshake_hash: bytes) -> bytes:
    """verify_data = PRF(master, finished_label, Hash(handshake_messages))[0..11]."""
    label = b"client finished" if client else b"server finished"
    return prf(hash_name, master, label, handshake_hash, 12)
