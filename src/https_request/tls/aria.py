"""ARIA, the Korean 128-bit block cipher (RFC 5794), with the GCM and CBC
modes its TLS 1.2 suites use (RFC 6209).

cryptography has no ARIA, and its GCM and CBC modes take only its own
ciphers, so this module has all three, in pure Python:

* :class:`Aria`: the block cipher for 128-, 192- and 256-bit keys (12, 14 or
  16 rounds). Each round is the substitution layer (the four S-boxes of
  RFC 5794 2.4.2, SB1 SB2 SB3 SB4 or SB3 SB4 SB1 SB2 by byte position) then
  the involutional diffusion layer A (2.4.3). Both are folded into 16
  tables of 256 128-bit integers per layer type, one per byte position, so
  a round is 16 look-ups and XORs. The tables are built once, on the first
  use of ARIA (ARIA suites are offered by device profiles and ``--ciphers``
  only).
* :class:`AriaGcm`: GCM (NIST SP 800-38D) over ARIA, with the 12-byte
  nonces and 16-byte tags of TLS; the same ``encrypt(nonce, data, aad)`` /
  ``decrypt(nonce, data, aad)`` shape as cryptography's ``AESGCM`` (raising
  its ``InvalidTag``), so the record layer treats both alike. GHASH
  multiplies by H through 16 tables of 256 entries made per key (Shoup's
  method, byte-wide).
* :class:`AriaCbc`: CBC encryption and decryption of whole blocks (the
  record layer pads and MACs).

:func:`gcm` builds GCM over any 128-bit block function; the tests check it
with AES against cryptography's AESGCM and ARIA against RFC 5794's vectors
and real TLS peers. Nothing here is constant-time.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import cache

from cryptography.exceptions import InvalidTag

__all__ = ["Aria", "AriaCbc", "AriaGcm", "Gcm", "gcm"]

BLOCK = 16
_MASK128 = (1 << 128) - 1

# RFC 5794 2.4.2: SB1 (the AES S-box) and SB2; SB3 and SB4 are their inverses.
_SB1 = bytes.fromhex(
    "63 7c 77 7b f2 6b 6f c5 30 01 67 2b fe d7 ab 76"
    "ca 82 c9 7d fa 59 47 f0 ad d4 a2 af 9c a4 72 c0"
    "b7 fd 93 26 36 3f f7 cc 34 a5 e5 f1 71 d8 31 15"
    "04 c7 23 c3 18 96 05 9a 07 12 80 e2 eb 27 b2 75"
    "09 83 2c 1a 1b 6e 5a a0 52 3b d6 b3 29 e3 2f 84"
    "53 d1 00 ed 20 fc b1 5b 6a cb be 39 4a 4c 58 cf"
    "d0 ef aa fb 43 4d 33 85 45 f9 02 7f 50 3c 9f a8"
    "51 a3 40 8f 92 9d 38 f5 bc b6 da 21 10 ff f3 d2"
    "cd 0c 13 ec 5f 97 44 17 c4 a7 7e 3d 64 5d 19 73"
    "60 81 4f dc 22 2a 90 88 46 ee b8 14 de 5e 0b db"
    "e0 32 3a 0a 49 06 24 5c c2 d3 ac 62 91 95 e4 79"
    "e7 c8 37 6d 8d d5 4e a9 6c 56 f4 ea 65 7a ae 08"
    "ba 78 25 2e 1c a6 b4 c6 e8 dd 74 1f 4b bd 8b 8a"
    "70 3e b5 66 48 03 f6 0e 61 35 57 b9 86 c1 1d 9e"
    "e1 f8 98 11 69 d9 8e 94 9b 1e 87 e9 ce 55 28 df"
    "8c a1 89 0d bf e6 42 68 41 99 2d 0f b0 54 bb 16"
)
_SB2 = bytes.fromhex(
    "e2 4e 54 fc 94 c2 4a cc 62 0d 6a 46 3c 4d 8b d1"
    "5e fa 64 cb b4 97 be 2b bc 77 2e 03 d3 19 59 c1"
    "1d 06 41 6b 55 f0 99 69 ea 9c 18 ae 63 df e7 bb"
    "00 73 66 fb 96 4c 85 e4 3a 09 45 aa 0f ee 10 eb"
    "2d 7f f4 29 ac cf ad 91 8d 78 c8 95 f9 2f ce cd"
    "08 7a 88 38 5c 83 2a 28 47 db b8 c7 93 a4 12 53"
    "ff 87 0e 31 36 21 58 48 01 8e 37 74 32 ca e9 b1"
    "b7 ab 0c d7 c4 56 42 26 07 98 60 d9 b6 b9 11 40"
    "ec 20 8c bd a0 c9 84 04 49 23 f1 4f 50 1f 13 dc"
    "d8 c0 9e 57 e3 c3 7b 65 3b 02 8f 3e e8 25 92 e5"
    "15 dd fd 17 a9 bf d4 9a 7e c5 39 67 fe 76 9d 43"
    "a7 e1 d0 f5 68 f2 1b 34 70 05 a3 8a d5 79 86 a8"
    "30 c6 51 4b 1e a6 27 f6 35 d2 6e 24 16 82 5f da"
    "e6 75 a2 ef 2c b2 1c 9f 5d 6f 80 0a 72 44 9b 6c"
    "90 0b 5b 33 7d 5a 52 f3 61 a1 f7 b0 d6 3f 7c 6d"
    "ed 14 e0 a5 3d 22 b3 f8 89 de 71 1a af ba b5 81"
)
_SB3 = bytes(_SB1.index(i) for i in range(256))
_SB4 = bytes(_SB2.index(i) for i in range(256))
_SL1 = (_SB1, _SB2, _SB3, _SB4)  # substitution layer type 1, by byte position mod 4
_SL2 = (_SB3, _SB4, _SB1, _SB2)  # type 2, the inverse of type 1

# RFC 5794 2.4.3: the diffusion layer A; output byte j is the XOR of these input bytes.
_A_ROWS = (
    (3, 4, 6, 8, 9, 13, 14),
    (2, 5, 7, 8, 9, 12, 15),
    (1, 4, 6, 10, 11, 12, 15),
    (0, 5, 7, 10, 11, 13, 14),
    (0, 2, 5, 8, 11, 14, 15),
    (1, 3, 4, 9, 10, 14, 15),
    (0, 2, 7, 9, 10, 12, 13),
    (1, 3, 6, 8, 11, 12, 13),
    (0, 1, 4, 7, 10, 13, 15),
    (0, 1, 5, 6, 11, 12, 14),
    (2, 3, 5, 6, 8, 13, 15),
    (2, 3, 4, 7, 9, 12, 14),
    (1, 2, 6, 7, 9, 11, 12),
    (0, 3, 6, 7, 8, 10, 13),
    (0, 3, 4, 5, 9, 11, 14),
    (1, 2, 4, 5, 8, 10, 15),
)
# RFC 5794 2.2: the key-schedule constants (the fractional part of 1/pi).
_C1 = 0x517CC1B727220A94FE13ABE8FA9A6EE0
_C2 = 0x6DB14ACC9E21C820FF28B1D5EF5DE2B0
_C3 = 0xDB92371D2126E9700324977504E8C90E
_CK = {16: (_C1, _C2, _C3), 24: (_C2, _C3, _C1), 32: (_C3, _C1, _C2)}
_ROUNDS = {16: 12, 24: 14, 32: 16}

Tables = tuple[tuple[int, ...], ...]


@cache
def _column_masks() -> tuple[int, ...]:
    """For each input byte i, the 128-bit integer with 0x01 at the output bytes A sends it to."""
    masks = [0] * 16
    for j, row in enumerate(_A_ROWS):
        for i in row:
            masks[i] |= 1 << (8 * (15 - j))
    return tuple(masks)


@cache
def _round_tables() -> tuple[Tables, Tables]:
    """A(SL1(x)) and A(SL2(x)) as 16 tables each: byte i's value -> its share of the result."""
    masks = _column_masks()

    def layer(sl: tuple[bytes, ...]) -> Tables:
        return tuple(tuple(sl[i % 4][v] * masks[i] for v in range(256)) for i in range(16))

    return layer(_SL1), layer(_SL2)


def _diffuse(x: int) -> int:
    """A(x) on a 128-bit integer."""
    masks = _column_masks()
    out = 0
    for i, b in enumerate(x.to_bytes(16, "big")):
        out ^= b * masks[i]
    return out


def _layer(t: Tables, x: int) -> int:
    b = x.to_bytes(16, "big")
    return (
        t[0][b[0]] ^ t[1][b[1]] ^ t[2][b[2]] ^ t[3][b[3]] ^ t[4][b[4]] ^ t[5][b[5]] ^ t[6][b[6]] ^ t[7][b[7]]
        ^ t[8][b[8]] ^ t[9][b[9]] ^ t[10][b[10]] ^ t[11][b[11]] ^ t[12][b[12]] ^ t[13][b[13]] ^ t[14][b[14]]
        ^ t[15][b[15]]
    )  # fmt: skip


def _sl2(x: int) -> int:
    """The last round's substitution (type 2) without diffusion."""
    b = x.to_bytes(16, "big")
    return int.from_bytes(bytes(_SL2[i % 4][v] for i, v in enumerate(b)), "big")


def _rot(x: int, n: int) -> int:
    """Rotate a 128-bit integer right by ``n`` bits (left for negative ``n``)."""
    n %= 128
    return ((x >> n) | (x << (128 - n))) & _MASK128


class Aria:
    """The ARIA block cipher under one key (16, 24 or 32 bytes).

    Raises ValueError for another key length.
    """

    __slots__ = ("_dec", "_enc", "_fe", "_fo")

    def __init__(self, key: bytes) -> None:
        if len(key) not in _ROUNDS:
            raise ValueError(f"ARIA keys are 16, 24 or 32 bytes, not {len(key)}")
        self._fo, self._fe = _round_tables()
        rounds = _ROUNDS[len(key)]
        # RFC 5794 2.3.1: KL || KR = the key padded to 256 bits; W0..W3 from three Feistel rounds.
        kl = int.from_bytes(key[:16], "big")
        kr = int.from_bytes(key[16:].ljust(16, b"\0"), "big")
        ck1, ck2, ck3 = _CK[len(key)]
        w0 = kl
        w1 = _layer(self._fo, w0 ^ ck1) ^ kr
        w2 = _layer(self._fe, w1 ^ ck2) ^ w0
        w3 = _layer(self._fo, w2 ^ ck3) ^ w1
        w = (w0, w1, w2, w3)
        # RFC 5794 2.3.2: ek1..ek17 = W[i] ^ (W[i+1] rotated by 19, 31, -61, -31, -19 bits).
        enc = []
        for shift in (19, 31, -61, -31, -19):
            for i in range(4):
                enc.append(w[i] ^ _rot(w[(i + 1) % 4], shift))
        self._enc = tuple(enc[: rounds + 1])
        # decryption keys: the encryption keys in reverse, the inner ones through A
        self._dec = (self._enc[-1], *(_diffuse(k) for k in self._enc[-2:0:-1]), self._enc[0])

    def _crypt(self, x: int, keys: tuple[int, ...]) -> int:
        """RFC 5794 2.4: rounds 1..n-1 alternate FO (odd) and FE (even); round n is SL2 and two keys."""
        fo, fe = self._fo, self._fe
        n = len(keys) - 1  # the number of rounds, always even
        for r in range(0, n - 2, 2):
            x = _layer(fe, _layer(fo, x ^ keys[r]) ^ keys[r + 1])
        x = _layer(fo, x ^ keys[n - 2])
        return _sl2(x ^ keys[n - 1]) ^ keys[n]

    def encrypt_int(self, block: int) -> int:
        """Encrypt one block given as a 128-bit big-endian integer."""
        return self._crypt(block, self._enc)

    def encrypt_block(self, block: bytes) -> bytes:
        """Encrypt one 16-byte block."""
        return self._crypt(int.from_bytes(block, "big"), self._enc).to_bytes(16, "big")

    def decrypt_int(self, block: int) -> int:
        """Decrypt one block given as a 128-bit big-endian integer."""
        return self._crypt(block, self._dec)

    def decrypt_block(self, block: bytes) -> bytes:
        """Decrypt one 16-byte block."""
        return self._crypt(int.from_bytes(block, "big"), self._dec).to_bytes(16, "big")


# --- GCM (NIST SP 800-38D) over a 128-bit block function -----------------------------------------

_R = 0xE1 << 120


def _ghash_tables(h: int) -> Tables:
    """For each byte position of a block, its 256 values times H in GF(2^128) (GCM's bit order)."""
    v = h
    powers = []  # H * x^k for k = 0..127: bit k of a block (MSB first) contributes powers[k]
    for _ in range(128):
        powers.append(v)
        v = (v >> 1) ^ _R if v & 1 else v >> 1
    tables = []
    for i in range(16):
        row = [0] * 256
        for bit in range(8):
            row[0x80 >> bit] = powers[8 * i + bit]
        for value in range(1, 256):
            low = value & -value
            if value != low:
                row[value] = row[value ^ low] ^ row[low]
        tables.append(tuple(row))
    return tuple(tables)


class Gcm:
    """GCM with 12-byte nonces and 16-byte tags over ``encrypt`` (128-bit integers in and out)."""

    __slots__ = ("_encrypt", "_h")

    def __init__(self, encrypt: Callable[[int], int]) -> None:
        self._encrypt = encrypt
        self._h = _ghash_tables(encrypt(0))

    def _ghash(self, aad: bytes, data: bytes) -> int:
        t = self._h
        y = 0
        for part in (aad, data):
            for off in range(0, len(part), 16):
                chunk = part[off : off + 16]
                y ^= int.from_bytes(chunk.ljust(16, b"\0"), "big")
                b = y.to_bytes(16, "big")
                y = (
                    t[0][b[0]] ^ t[1][b[1]] ^ t[2][b[2]] ^ t[3][b[3]] ^ t[4][b[4]] ^ t[5][b[5]] ^ t[6][b[6]]
                    ^ t[7][b[7]] ^ t[8][b[8]] ^ t[9][b[9]] ^ t[10][b[10]] ^ t[11][b[11]] ^ t[12][b[12]]
                    ^ t[13][b[13]] ^ t[14][b[14]] ^ t[15][b[15]]
                )  # fmt: skip
        y ^= (len(aad) * 8) << 64 | len(data) * 8
        b = y.to_bytes(16, "big")
        out = 0
        for i in range(16):
            out ^= t[i][b[i]]
        return out

    def _ctr(self, j0: int, data: bytes) -> bytes:
        encrypt = self._encrypt
        prefix, counter = j0 >> 32 << 32, j0 & 0xFFFFFFFF
        n = len(data)
        blocks = (n + 15) // 16
        stream = b"".join(
            encrypt(prefix | ((counter + k) & 0xFFFFFFFF)).to_bytes(16, "big") for k in range(1, blocks + 1)
        )
        return (int.from_bytes(data, "big") ^ int.from_bytes(stream[:n], "big")).to_bytes(n, "big") if n else b""

    def _tag(self, j0: int, aad: bytes, ct: bytes) -> bytes:
        return (self._encrypt(j0) ^ self._ghash(aad, ct)).to_bytes(16, "big")

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        """``data`` encrypted, then the 16-byte tag. Raises ValueError for a nonce that is not 12 bytes."""
        j0 = self._j0(nonce)
        ct = self._ctr(j0, data)
        return ct + self._tag(j0, associated_data or b"", ct)

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        """The plaintext of ``data`` (ciphertext and tag). Raises cryptography's ``InvalidTag``
        when the tag does not match, ValueError for a nonce that is not 12 bytes."""
        j0 = self._j0(nonce)
        if len(data) < 16:
            raise InvalidTag
        ct, tag = data[:-16], data[-16:]
        if not hmac.compare_digest(self._tag(j0, associated_data or b"", ct), tag):
            raise InvalidTag
        return self._ctr(j0, ct)

    @staticmethod
    def _j0(nonce: bytes) -> int:
        if len(nonce) != 12:
            raise ValueError(f"GCM nonces here are 12 bytes, not {len(nonce)}")
        return int.from_bytes(nonce, "big") << 32 | 1


def gcm(encrypt: Callable[[int], int]) -> Gcm:
    """GCM over any 128-bit block cipher's encryption function."""
    return Gcm(encrypt)


class AriaGcm(Gcm):
    """ARIA-GCM (RFC 6209 suites) under ``key``; raises ValueError for a bad key length."""

    __slots__ = ()

    def __init__(self, key: bytes) -> None:
        super().__init__(Aria(key).encrypt_int)


class AriaCbc:
    """ARIA in CBC mode over whole blocks (the TLS record layer pads)."""

    __slots__ = ("_aria",)

    def __init__(self, key: bytes) -> None:
        self._aria = Aria(key)

    def encrypt(self, iv: bytes, data: bytes) -> bytes:
        """CBC-encrypt ``data`` (a multiple of 16 bytes) after ``iv``; raises ValueError otherwise."""
        if len(data) % BLOCK or len(iv) != BLOCK:
            raise ValueError("CBC takes a 16-byte IV and whole 16-byte blocks")
        aria = self._aria
        prev = int.from_bytes(iv, "big")
        out = []
        for off in range(0, len(data), BLOCK):
            prev = aria.encrypt_int(prev ^ int.from_bytes(data[off : off + BLOCK], "big"))
            out.append(prev.to_bytes(16, "big"))
        return b"".join(out)

    def decrypt(self, iv: bytes, data: bytes) -> bytes:
        """CBC-decrypt ``data`` (a multiple of 16 bytes) after ``iv``; raises ValueError otherwise."""
        if len(data) % BLOCK or len(iv) != BLOCK:
            raise ValueError("CBC takes a 16-byte IV and whole 16-byte blocks")
        decrypt = self._aria.decrypt_int
        prev = int.from_bytes(iv, "big")
        out = []
        for off in range(0, len(data), BLOCK):
            c = int.from_bytes(data[off : off + BLOCK], "big")
            out.append((decrypt(c) ^ prev).to_bytes(16, "big"))
            prev = c
        return b"".join(out)
