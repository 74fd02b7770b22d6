"""The TLS 1.3 key schedule's HMAC (``keyschedule.hmac_digest``, RFC 2104 from two hash
objects) against RFC 4231's published HMAC-SHA-256/384 vectors and against the standard
library's ``hmac.digest`` (OpenSSL's HMAC) for keys shorter than, as long as and longer
than the hash's block."""

from __future__ import annotations

import hmac
import random

import pytest

from https_request.tls.keyschedule import hmac_digest

# RFC 4231 4.2 (test case 1) and 4.7 (test case 6: a key longer than the block, hashed first)
RFC4231 = [
    (b"\x0b" * 20, b"Hi There", "sha256", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"\x0b" * 20, b"Hi There", "sha384",
     "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First", "sha256",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First", "sha384",
     "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "msg", "name", "expected"), RFC4231)
def test_hmac_digest_rfc4231(key: bytes, msg: bytes, name: str, expected: str) -> None:
    assert hmac_digest(name, key, msg).hex() == expected


@pytest.mark.parametrize("name", ["sha256", "sha384", "sha512"])
def test_hmac_digest_is_hmac(name: str) -> None:
    rng = random.Random(4231)
    for size in (0, 1, 31, 32, 48, 63, 64, 65, 127, 128, 129, 200):
        key = rng.randbytes(size)
        for msg in (b"", rng.randbytes(33), rng.randbytes(300)):
            assert hmac_digest(name, key, msg) == hmac.digest(key, msg, name), (size, len(msg))
