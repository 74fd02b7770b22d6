"""TLS 1.2 building blocks: the PRF and what it derives, record protection
(AEAD and CBC, both MAC orders), the TLS 1.2 handshake message codecs and
the server's session-ID cache.

Published vectors:

* PRF: the TLS 1.2 PRF test vectors posted to the IETF TLS list
  (https://www.ietf.org/mail-archive/web/tls/current/msg03416.html), also
  checked here against OpenSSL 3.0's ``openssl kdf ... TLS1-PRF``, which
  gives the same bytes.
* Master secret, key block, client Finished and the CBC (MAC-then-encrypt)
  records: "The Illustrated TLS 1.2 Connection" (https://tls12.xargs.org,
  repository syncsynchalt/illustrated-tls12, ``captures/keylog.txt`` and
  ``captures/caps/*``), a TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA connection.
"""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from https_request.tls.aria import AriaCbc
from https_request.tls.enums import ContentType
from https_request.tls.errors import Reason, TlsError
from https_request.tls.keyschedule12 import finished_verify_data12, key_block, master_secret, prf
from https_request.tls.messages12 import (
    Certificate12,
    CertificateRequest12,
    DigitallySigned,
    LegacySignature,
    NewSessionTicket12,
    ServerEcdhParams,
    ServerKeyExchange12,
)
from https_request.tls.protection12 import Protector12
from https_request.tls.session import SessionCache, TicketKeys, TicketState, encode_ticket_state
from https_request.tls.suites import SUITES, SuiteParams
from https_request.wire import DecodeError, Reader, Writer

SUITES12 = [s for s in SUITES.values() if not s.tls13]
CBC_SUITES = [s for s in SUITES12 if s.cbc]
AES_CBC_SUITES = [s for s in CBC_SUITES if s.cipher == "AES"]  # the hand-made records below are AES's
AEAD_SUITES = [s for s in SUITES12 if s.aead is not None]
H = ContentType.HANDSHAKE
APP = ContentType.APPLICATION_DATA


def _hex(s: str) -> bytes:
    return bytes.fromhex("".join(s.split()))


# ------------------------------------------------------------------ PRF


def test_prf_sha256_published_vector() -> None:
    secret, seed = _hex("9bbe436ba940f017b17652849a71db35"), _hex("a0ba9f936cda311827a6f796ffd5198c")
    out = prf("sha256", secret, b"test label", seed, 100)
    assert out == _hex(
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
        "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
        "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
        "87347b66"
    )


def test_prf_sha384_published_vector() -> None:
    secret, seed = _hex("b80b733d6ceefcdc71566ea48e5567df"), _hex("cd665cf6a8447dd6ff8b27555edb7465")
    out = prf("sha384", secret, b"test label", seed, 148)
    assert out == _hex(
        "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd"
        "e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd"
        "8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425"
        "9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6"
        "91c8f3a26854308d5eaa3be85e0990703d73e56f"
    )


def _p_hash(name: str, secret: bytes, seed: bytes, n: int) -> bytes:
    """RFC 5246 5 written out the long way (hmac.new objects, A(i) list)."""
    a = [seed]
    out = b""
    while len(out) < n:
        a.append(hmac.new(secret, a[-1], name).digest())
        out += hmac.new(secret, a[-1] + seed, name).digest()
    return out[:n]


@pytest.mark.parametrize("name", ["sha256", "sha384"])
@pytest.mark.parametrize("length", [0, 1, 12, 31, 32, 33, 48, 64, 104, 200])
def test_prf_lengths_are_prefixes(name: str, length: int) -> None:
    secret, seed = b"s" * 48, b"r" * 64
    out = prf(name, secret, b"key expansion", seed, length)
    assert len(out) == length
    assert out == _p_hash(name, secret, b"key expansion" + seed, length)
    assert prf(name, secret, b"key expansion", seed, 200)[:length] == out


# ------------------------------------------------- master secret, key block

# https://tls12.xargs.org: client random 00..1f, server random 70..8f, X25519 shared secret
XARGS_CLIENT_RANDOM = bytes(range(0x00, 0x20))
XARGS_SERVER_RANDOM = bytes(range(0x70, 0x90))
XARGS_PRE_MASTER = _hex("df4a291baa1eb7cfa6934b29b474baad2697e29f1f920dcc77c8a0a088447624")
XARGS_MASTER = _hex("916abf9da55973e13614ae0a3f5d3f37b023ba129aee02cc9134338127cd7049781c8e19fc1eb2a7387ac06ae237344c")
XARGS_CLIENT_MAC = _hex("1b7d117c7d5f690bc263cae8ef60af0f1878acc2")
XARGS_SERVER_MAC = _hex("2ad8bdd8c601a617126f63540eb20906f781fad2")
XARGS_CLIENT_KEY = _hex("f656d037b173ef3e11169f27231a84b6")
XARGS_SERVER_KEY = _hex("752a18e7a9fcb7cbcdd8f98dd8f769eb")
XARGS_HANDSHAKE_HASH = _hex("061dda04b3c2217ff73bd79b9cf88a2bb6ec505404aac8722db03ef417b54cb4")
XARGS_CLIENT_VERIFY = _hex("cf919626f1360c536aaad73a")
# records (header included), protected with TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, MAC-then-encrypt
XARGS_CLIENT_RECORDS = [
    (  # Finished, seq 0
        _hex(
            "1603030040404142434445464748494a4b4c4d4e4f227bc9ba81ef30f2a8a78ff1df50844d5804b7eeb2e214c32b"
            "6892aca3db7b78077fdd90067c516bacb3ba90dedf720f"
        ),
        H,
        b"\x14\x00\x00\x0c" + XARGS_CLIENT_VERIFY,
    ),
    (  # "ping", seq 1
        _hex(
            "1703030030000102030405060708090a0b0c0d0e0f6c421c71c42b183bfa06195d133d0a09d00fc7cb4e0f5d1cda59d147ec790c99"
        ),
        APP,
        b"ping",
    ),
    (  # close_notify, seq 2
        _hex(
            "1503030030101112131415161718191a1b1c1d1e1f0d83f97904750dd8fd8aa130218632634fd065e4628379b88bbf9efd1287a62d"
        ),
        ContentType.ALERT,
        b"\x01\x00",
    ),
]
XARGS_SERVER_RECORDS = [
    (  # Finished, seq 0
        _hex(
            "16030300405152535455565758595a5b5c5d5e5f6018e075317b100315f6081fcbf313781aac73efe19fe25ba1af"
            "59c20be94fc01bda2d6800298b73a7e849d74bd494cf7d"
        ),
        H,
        _hex("1400000c844d3c10746dd722f92f0c7e"),
    ),
    (  # "pong", seq 1
        _hex(
            "17030300306162636465666768696a6b6c6d6e6f709783488af5fa20bf7a2ef69debb534db9fb07a8c2721dee5409f77af0c3dde56"
        ),
        APP,
        b"pong",
    ),
]


def test_master_secret_published_vector() -> None:
    ms = master_secret("sha256", XARGS_PRE_MASTER, XARGS_CLIENT_RANDOM, XARGS_SERVER_RANDOM, None)
    assert ms == XARGS_MASTER


def test_key_block_published_vector() -> None:
    # the page derives 16-byte IVs too (TLS 1.0 style); TLS 1.2 CBC suites take iv_len 0
    cmac, smac, ckey, skey, civ, siv = key_block(
        "sha256", XARGS_MASTER, XARGS_CLIENT_RANDOM, XARGS_SERVER_RANDOM, 20, 16, 16
    )
    assert (cmac, smac, ckey, skey) == (XARGS_CLIENT_MAC, XARGS_SERVER_MAC, XARGS_CLIENT_KEY, XARGS_SERVER_KEY)
    assert civ == _hex("a0d2550c9238eebfef5c32251abb67d6")
    assert siv == _hex("434528db4937d540d393135e06a11bb8")
    suite = SUITES[0xC013]  # what the connection uses: no implicit IV for CBC
    short = key_block(
        "sha256", XARGS_MASTER, XARGS_CLIENT_RANDOM, XARGS_SERVER_RANDOM, suite.mac_len, suite.key_len, suite.iv_len
    )
    assert short == (cmac, smac, ckey, skey, b"", b"")


def test_finished_published_vector() -> None:
    assert finished_verify_data12("sha256", XARGS_MASTER, True, XARGS_HANDSHAKE_HASH) == XARGS_CLIENT_VERIFY
    server = finished_verify_data12("sha256", XARGS_MASTER, False, XARGS_HANDSHAKE_HASH)
    assert len(server) == 12 and server != XARGS_CLIENT_VERIFY  # another label


def test_extended_master_secret_definition() -> None:
    """RFC 7627 4: PRF(pre_master, "extended master secret", session_hash)[0..47];
    the randoms do not enter it, the session hash does."""
    pm = bytes(range(48))
    session_hash = hashlib.sha256(b"handshake messages").digest()
    ems = master_secret("sha256", pm, b"c" * 32, b"s" * 32, session_hash)
    assert ems == _p_hash("sha256", pm, b"extended master secret" + session_hash, 48)
    assert ems == master_secret("sha256", pm, b"x" * 32, b"y" * 32, session_hash)
    assert ems != master_secret("sha256", pm, b"c" * 32, b"s" * 32, hashlib.sha256(b"other").digest())
    assert ems != master_secret("sha256", pm, b"c" * 32, b"s" * 32, None)
    sha384_hash = hashlib.sha384(b"handshake messages").digest()
    ems384 = master_secret("sha384", pm, b"c" * 32, b"s" * 32, sha384_hash)
    assert ems384 == _p_hash("sha384", pm, b"extended master secret" + sha384_hash, 48)


@pytest.mark.parametrize("suite", SUITES12, ids=lambda s: s.name)
def test_key_block_layout(suite: SuiteParams) -> None:
    """RFC 5246 6.3: MAC keys, then keys, then IVs, client before server."""
    ms, cr, sr = b"m" * 48, b"c" * 32, b"s" * 32
    parts = key_block(suite.hash_name, ms, cr, sr, suite.mac_len, suite.key_len, suite.iv_len)
    sizes = (suite.mac_len, suite.mac_len, suite.key_len, suite.key_len, suite.iv_len, suite.iv_len)
    assert tuple(len(p) for p in parts) == sizes
    whole = _p_hash(suite.hash_name, ms, b"key expansion" + sr + cr, sum(sizes))
    assert b"".join(parts) == whole


# ------------------------------------------------------- record protection


def test_cbc_mac_then_encrypt_published_records() -> None:
    suite = SUITES[0xC013]
    client = Protector12(suite, XARGS_CLIENT_KEY, b"", XARGS_CLIENT_MAC, etm=False)
    for record, ctype, data in XARGS_CLIENT_RECORDS:
        assert client.open(record[:5], record[5:]) == (ctype, data)
    server = Protector12(suite, XARGS_SERVER_KEY, b"", XARGS_SERVER_MAC, etm=False)
    for record, ctype, data in XARGS_SERVER_RECORDS:
        assert server.open(record[:5], record[5:]) == (ctype, data)
    # sealing with the same per-record IVs gives the very same bytes
    ivs = iter(r[5:21] for r, _, _ in XARGS_CLIENT_RECORDS)
    sealer = Protector12(suite, XARGS_CLIENT_KEY, b"", XARGS_CLIENT_MAC, etm=False, random=lambda n: next(ivs))
    for record, ctype, data in XARGS_CLIENT_RECORDS:
        assert sealer.seal(ctype, data) == record


def _pair(suite: SuiteParams, etm: bool = False, seed: int = 7) -> tuple[Protector12, Protector12]:
    rnd = random.Random(seed).randbytes
    key, iv, mac = rnd(suite.key_len), rnd(suite.iv_len), rnd(suite.mac_len)
    return (
        Protector12(suite, key, iv, mac, etm=etm, random=rnd),
        Protector12(suite, key, iv, mac, etm=etm, random=rnd),
    )


def _modes(suites: list[SuiteParams]) -> list[tuple[SuiteParams, bool]]:
    out: list[tuple[SuiteParams, bool]] = []
    for s in suites:
        out += [(s, True), (s, False)] if s.cbc else [(s, False)]
    return out


def _mode_id(v: object) -> str:
    if isinstance(v, SuiteParams):
        return v.name
    return "etm" if v else "plain"


ALL_MODES = _modes(SUITES12)


def _bad_mac(fn: object, *args: object) -> TlsError:
    with pytest.raises(TlsError) as ei:
        fn(*args)  # type: ignore[operator]
    assert ei.value.reason is Reason.BAD_RECORD_MAC, ei.value
    return ei.value


@pytest.mark.parametrize(("suite", "etm"), ALL_MODES, ids=_mode_id)
def test_round_trip(suite: SuiteParams, etm: bool) -> None:
    w, r = _pair(suite, etm)
    sizes = [0, 1, 15, 16, 17, 31, 32, 100, 1000, 16384]
    for i, n in enumerate(sizes):
        data = bytes((i + j) & 0xFF for j in range(n))
        ctype = (H, APP, ContentType.ALERT)[i % 3]
        rec = w.seal(ctype, data)
        assert rec[:3] == bytes((ctype, 3, 3))
        assert int.from_bytes(rec[3:5], "big") == len(rec) - 5
        assert r.open(rec[:5], rec[5:]) == (ctype, data)
    assert w.seq == r.seq == len(sizes)


@pytest.mark.parametrize(("suite", "etm"), ALL_MODES, ids=_mode_id)
def test_record_sizes(suite: SuiteParams, etm: bool) -> None:
    w, _ = _pair(suite, etm)
    payload = len(w.seal(APP, b"x" * 20)) - 5
    if suite.mode == "CHACHA":
        assert payload == 20 + 16
    elif suite.mode == "RC4":
        assert payload == 20 + suite.mac_len  # data, MAC (a stream: no IV, no padding)
    elif not suite.cbc:
        assert payload == 8 + 20 + suite.tag_len  # explicit nonce, data, tag
    elif etm:
        b = suite.block  # 16 (AES) or 8 (3DES)
        assert payload == b + (20 // b + 1) * b + suite.mac_len  # IV, padded data, MAC
        assert (payload - b - suite.mac_len) % b == 0
    else:
        b = suite.block
        assert payload % b == 0 and payload >= b + 20 + suite.mac_len + 1


@pytest.mark.parametrize("suite", [s for s in AEAD_SUITES if s.mode != "CHACHA"], ids=lambda s: s.name)
def test_explicit_nonce_is_the_sequence_number(suite: SuiteParams) -> None:
    w, _ = _pair(suite)
    for seq in range(3):
        rec = w.seal(APP, b"data")
        assert rec[5:13] == seq.to_bytes(8, "big")


@pytest.mark.parametrize("suite", CBC_SUITES, ids=lambda s: s.name)
def test_cbc_iv_is_fresh_per_record(suite: SuiteParams) -> None:
    w, _ = _pair(suite, etm=True)
    ivs = {w.seal(APP, b"same")[5 : 5 + suite.block] for _ in range(4)}
    assert len(ivs) == 4


def _regions(suite: SuiteParams, etm: bool, payload_len: int) -> dict[str, int]:
    """Offsets (into the payload) of one byte of each part of a record."""
    if suite.mode == "CHACHA":
        return {"ciphertext": 0, "tag": payload_len - 1}
    if not suite.cbc:
        return {"nonce": 3, "ciphertext": 8, "tag": payload_len - 1}
    if etm:
        return {"iv": 0, "ciphertext": 16, "last block": payload_len - suite.mac_len - 1, "mac": payload_len - 1}
    return {"iv": 0, "ciphertext": 16, "last block": payload_len - 1}


@pytest.mark.parametrize(("suite", "etm"), ALL_MODES, ids=_mode_id)
def test_tamper_detected(suite: SuiteParams, etm: bool) -> None:
    w, _ = _pair(suite, etm)
    rec = w.seal(APP, b"attack at dawn" * 3)
    header, payload = rec[:5], rec[5:]
    for where, pos in _regions(suite, etm, len(payload)).items():
        for bit in (0x01, 0x80):
            bad = bytearray(payload)
            bad[pos] ^= bit
            _, r = _pair(suite, etm)
            err = _bad_mac(r.open, header, bytes(bad))
            assert err.alert is not None and err.alert.name == "bad_record_mac", where
    # the header is authenticated too (content type, version)
    for i, bit in ((0, 0x01), (2, 0x01)):
        bad_header = bytearray(header)
        bad_header[i] ^= bit
        _, r = _pair(suite, etm)
        _bad_mac(r.open, bytes(bad_header), payload)
    _, r = _pair(suite, etm)
    assert r.open(header, payload) == (APP, b"attack at dawn" * 3)


@pytest.mark.parametrize(("suite", "etm"), ALL_MODES, ids=_mode_id)
def test_replay_and_reorder_detected(suite: SuiteParams, etm: bool) -> None:
    w, r = _pair(suite, etm)
    first, second = w.seal(APP, b"one"), w.seal(APP, b"two")
    _bad_mac(r.open, second[:5], second[5:])  # opened at seq 0
    w, r = _pair(suite, etm)
    first = w.seal(APP, b"one")
    assert r.open(first[:5], first[5:]) == (APP, b"one")
    _bad_mac(r.open, first[:5], first[5:])  # the same record again, at seq 1


@pytest.mark.parametrize(("suite", "etm"), ALL_MODES, ids=_mode_id)
def test_truncated_records(suite: SuiteParams, etm: bool) -> None:
    w, _ = _pair(suite, etm)
    rec = w.seal(APP, b"y" * 40)
    header, payload = rec[:5], rec[5:]
    cuts = {0, 1, 7, 8, 15, 16, 17, 31, 32, len(payload) // 2, len(payload) - 16, len(payload) - 1}
    for cut in sorted(c for c in cuts if 0 <= c < len(payload)):
        _, r = _pair(suite, etm)
        short = payload[:cut]
        _bad_mac(r.open, header[:3] + len(short).to_bytes(2, "big"), short)
    # an empty protected record (even an empty fragment has a MAC or tag)
    _, r = _pair(suite, etm)
    _bad_mac(r.open, header[:3] + b"\x00\x00", b"")


@pytest.mark.parametrize(("suite", "etm"), ALL_MODES, ids=_mode_id)
def test_plaintext_too_long(suite: SuiteParams, etm: bool) -> None:
    w, r = _pair(suite, etm)
    rec = w.seal(APP, bytes(16385))  # seal does not police the limit; open must
    with pytest.raises(TlsError) as ei:
        r.open(rec[:5], rec[5:])
    assert ei.value.reason is Reason.RECORD_OVERFLOW


def _cbc_encrypt(suite: SuiteParams, key: bytes, iv: bytes, body: bytes) -> bytes:
    if suite.cipher == "ARIA":
        return AriaCbc(key).encrypt(iv, body)  # checked against Mbed TLS's ARIA in test_aria
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(body) + enc.finalize()


def _mac(suite: SuiteParams, key: bytes, seq: int, ctype: int, data: bytes) -> bytes:
    msg = seq.to_bytes(8, "big") + bytes((ctype, 3, 3)) + len(data).to_bytes(2, "big") + data
    return hmac.digest(key, msg, suite.mac_name)


BAD_PADDINGS = {  # the end of the decrypted fragment
    "wrong pad byte": bytes((3, 3, 2, 3)),  # pad length 3, one pad byte says 2
    "pad longer than record": b"\xff",
    "pad length says 15, bytes say 0": bytes(15) + b"\x0f",
}


@pytest.mark.parametrize("suite", AES_CBC_SUITES, ids=lambda s: s.name)
@pytest.mark.parametrize("bad", list(BAD_PADDINGS), ids=list(BAD_PADDINGS))
def test_bad_cbc_padding_etm(suite: SuiteParams, bad: str) -> None:
    """encrypt_then_mac: a record whose MAC is right but whose padding is not."""
    key, mac_key, iv = b"k" * suite.key_len, b"m" * suite.mac_len, b"i" * 16
    data = b"hello"
    tail = BAD_PADDINGS[bad]
    body = data + b"z" * (-(len(data) + len(tail)) % 16) + tail
    assert len(body) % 16 == 0
    ct = iv + _cbc_encrypt(suite, key, iv, body)
    tag = _mac(suite, mac_key, 0, APP, ct)
    payload = ct + tag
    r = Protector12(suite, key, b"", mac_key, etm=True)
    _bad_mac(r.open, bytes((APP, 3, 3)) + len(payload).to_bytes(2, "big"), payload)
    # the same construction with good padding opens (so the MAC above was right)
    pad = 15 - len(data) % 16
    good = data + bytes((pad,)) * (pad + 1)
    ct = iv + _cbc_encrypt(suite, key, iv, good)
    payload = ct + _mac(suite, mac_key, 0, APP, ct)
    r = Protector12(suite, key, b"", mac_key, etm=True)
    assert r.open(bytes((APP, 3, 3)) + len(payload).to_bytes(2, "big"), payload) == (APP, data)


@pytest.mark.parametrize("suite", AES_CBC_SUITES, ids=lambda s: s.name)
def test_bad_cbc_padding_mac_then_encrypt(suite: SuiteParams) -> None:
    key, mac_key, iv = b"k" * suite.key_len, b"m" * suite.mac_len, b"i" * 16
    data = b"hello"
    mac = _mac(suite, mac_key, 0, APP, data)
    inner = data + mac
    pad = 15 - len(inner) % 16
    header = bytes((APP, 3, 3))

    def opened(body: bytes) -> tuple[int, bytes]:
        ct = iv + _cbc_encrypt(suite, key, iv, body)
        r = Protector12(suite, key, b"", mac_key, etm=False)
        return r.open(header + len(ct).to_bytes(2, "big"), ct)

    assert opened(inner + bytes((pad,)) * (pad + 1)) == (APP, data)
    assert pad >= 1
    wrong = bytearray(inner + bytes((pad,)) * (pad + 1))
    wrong[-2] ^= 1
    _bad_mac(opened, bytes(wrong))
    _bad_mac(opened, inner + bytes((pad + 16,)) * (pad + 1))  # length byte claims one more block
    block = 16 * ((len(inner) + 16) // 16)
    _bad_mac(opened, (inner + bytes(block))[: block - 1] + b"\xff")  # pad longer than the record


def test_sequence_number_exhausted() -> None:
    w, r = _pair(SUITES[0xC02F])
    record = w.seal(APP, b"x")
    w.seq = (1 << 64) - 1
    with pytest.raises(TlsError) as ei:
        w.seal(APP, b"x")
    assert ei.value.reason is Reason.INTERNAL
    r.seq = (1 << 64) - 1  # the reading side: refused before the record is opened
    with pytest.raises(TlsError) as ei:
        r.open(record[:5], record[5:])
    assert ei.value.reason is Reason.INTERNAL
    assert r.seq == (1 << 64) - 1


# ------------------------------------------------------------ messages12

CERTS = (b"\x30\x03\x02\x01\x01", b"\x30" * 300)
MESSAGES = [
    Certificate12(()),
    Certificate12(CERTS),
    CertificateRequest12(b"\x01\x40", (0x0403, 0x0804, 0x0401)),
    CertificateRequest12(b"\x40", (0x0807,), (b"\x30\x00", b"\x30\x02\x05\x00")),
    NewSessionTicket12(0, b""),
    NewSessionTicket12(7200, bytes(range(200))),
    ServerKeyExchange12(ServerEcdhParams(0x001D, b"\x11" * 32), DigitallySigned(0x0403, b"\x30" * 71)),
    ServerKeyExchange12(ServerEcdhParams(0x0017, b"\x04" + b"\x22" * 64), DigitallySigned(0x0804, b"")),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_messages12_round_trip(msg: object) -> None:
    body = msg.encode()  # type: ignore[attr-defined]
    assert type(msg).decode(body) == msg  # type: ignore[attr-defined]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_messages12_truncated_and_trailing(msg: object) -> None:
    cls = type(msg)
    body = msg.encode()  # type: ignore[attr-defined]
    for cut in range(len(body)):
        with pytest.raises(DecodeError):
            cls.decode(body[:cut])  # type: ignore[attr-defined]
    with pytest.raises(DecodeError):
        cls.decode(body + b"\x00")  # type: ignore[attr-defined]


def test_server_key_exchange_wire_layout() -> None:
    ske = ServerKeyExchange12(ServerEcdhParams(0x001D, b"\xaa" * 32), DigitallySigned(0x0807, b"\xbb" * 64))
    body = ske.encode()
    assert body[:4] == b"\x03\x00\x1d\x20"  # named_curve, x25519, point length
    assert body[36:40] == b"\x08\x07\x00\x40"
    assert ske.params.encode() == body[:36]  # what the signature covers (after the randoms)


MALFORMED = {
    "ske explicit curve": (ServerKeyExchange12, b"\x01\x00\x1d\x01\xaa\x04\x03\x00\x00"),
    "ske empty point": (ServerKeyExchange12, b"\x03\x00\x1d\x00\x04\x03\x00\x00"),
    "ske no signature": (ServerKeyExchange12, b"\x03\x00\x1d\x01\xaa"),
    "ske signature overruns": (ServerKeyExchange12, b"\x03\x00\x1d\x01\xaa\x04\x03\x00\x05\x01"),
    "cert list overruns": (Certificate12, b"\x00\x00\x10\x00\x00\x01\x30"),
    "cert list too short": (Certificate12, b"\x00\x00\x02\x00\x00\x01\x30"),
    "empty certificate": (Certificate12, b"\x00\x00\x03\x00\x00\x00"),
    "cert inner overruns list": (Certificate12, b"\x00\x00\x04\x00\x00\x05\x30"),
    "cr no types": (CertificateRequest12, b"\x00\x00\x02\x04\x03\x00\x00"),
    "cr no algorithms": (CertificateRequest12, b"\x01\x40\x00\x00\x00\x00"),
    "cr odd algorithms": (CertificateRequest12, b"\x01\x40\x00\x03\x04\x03\x08\x00\x00"),
    "cr empty DN": (CertificateRequest12, b"\x01\x40\x00\x02\x04\x03\x00\x02\x00\x00"),
    "cr missing CA list": (CertificateRequest12, b"\x01\x40\x00\x02\x04\x03"),
    "nst short hint": (NewSessionTicket12, b"\x00\x00\x1c"),
    "nst ticket overruns": (NewSessionTicket12, b"\x00\x00\x1c\x20\x00\x05\x01\x02"),
    "empty body": (NewSessionTicket12, b""),
}


@pytest.mark.parametrize("name", list(MALFORMED), ids=list(MALFORMED))
def test_messages12_malformed(name: str) -> None:
    cls, body = MALFORMED[name]
    with pytest.raises(DecodeError):
        cls.decode(body)  # type: ignore[attr-defined]


def test_digitally_signed_read_write() -> None:
    w = Writer()
    DigitallySigned(0x0401, b"sig").write(w)
    assert w.getvalue() == b"\x04\x01\x00\x03sig"
    r = Reader(w.getvalue())
    assert DigitallySigned.read(r) == DigitallySigned(0x0401, b"sig")
    r.expect_end()
    with pytest.raises(DecodeError):
        DigitallySigned.read(Reader(b"\x04\x01\x00\x04sig"))


def test_messages12_fields_too_long_for_their_length_prefix() -> None:
    too_long = [
        ServerEcdhParams(0x001D, b"\x11" * 256),
        DigitallySigned(0x0403, bytes(65536)),
        LegacySignature(bytes(65536)),
        NewSessionTicket12(7200, bytes(65536)),
    ]
    for msg in too_long:
        with pytest.raises(OverflowError):
            msg.encode()
    assert LegacySignature(b"sig").encode() == b"\x00\x03sig"


# ------------------------------------------------------------- session cache


def _state(n: int) -> bytes:
    return TicketState(0x0303, 0xC02F, bytes((n,)) * 48, 1.0, 0, 3600, 0, "", "", bytes(16), True).encode()


def test_session_cache_is_bounded_oldest_first() -> None:
    cache = SessionCache(max_entries=3)
    for i in range(5):
        cache.put(bytes((i,)) * 32, _state(i))
        assert len(cache) == min(i + 1, 3)
    assert cache.get(bytes((0,)) * 32) is None and cache.get(bytes((1,)) * 32) is None
    assert [cache.get(bytes((i,)) * 32) for i in (2, 3, 4)] == [_state(2), _state(3), _state(4)]


def test_session_cache_put_again_refreshes() -> None:
    cache = SessionCache(max_entries=2)
    a, b, c = b"a" * 32, b"b" * 32, b"c" * 32
    cache.put(a, _state(1))
    cache.put(b, _state(2))
    cache.put(a, _state(3))  # a is now the newest
    cache.put(c, _state(4))  # so b goes
    assert cache.get(b) is None
    assert cache.get(a) == _state(3) and cache.get(c) == _state(4)
    assert len(cache) == 2


def test_session_cache_many_entries_stay_bounded() -> None:
    cache = SessionCache(max_entries=100)
    for i in range(1000):
        cache.put(i.to_bytes(32, "big"), b"x")
    assert len(cache) == 100
    assert cache.get((999).to_bytes(32, "big")) == b"x" and cache.get((899).to_bytes(32, "big")) is None
    assert SessionCache().max_entries == 10_000


def test_ticket_state_layout_and_every_cut_refused() -> None:
    st = TicketState(0x0304, 0x1301, b"s" * 32, 1.5, 7, 3600, 16384, "h2", "example.com", b"i" * 16, True)
    raw = st.encode()
    assert raw == (
        b"\x01\x03\x04\x13\x01\x20" + b"s" * 32  # format, version, suite, secret<1..255>
        + (1500).to_bytes(8, "big") + (7).to_bytes(4, "big") + (3600).to_bytes(4, "big") + (16384).to_bytes(4, "big")
        + b"\x02h2" + b"\x0bexample.com" + b"\x10" + b"i" * 16 + b"\x01"
    )  # fmt: skip
    assert TicketState.decode(raw) == st
    assert all(TicketState.decode(raw[:n]) is None for n in range(len(raw)))
    assert TicketState.decode(raw + b"\x00") is None
    assert TicketState.decode(b"\x02" + raw[1:]) is None  # another format
    assert TicketState.decode(raw[:5] + b"\x00" + raw[38:]) is None  # no secret
    with pytest.raises(OverflowError):
        TicketState(0x0303, 0xC02F, b"s" * 48, 1.0, 0, 3600, 0, "", "x" * 256, bytes(16)).encode()
    # the encoder from fields (what a TLS 1.2 server seals) is the same format
    fields = (0x0304, 0x1301, b"s" * 32, 1.5, 7, 3600, 16384, "h2", "example.com", b"i" * 16, True)
    assert encode_ticket_state(*fields) == raw
    with pytest.raises(OverflowError):
        encode_ticket_state(0x0303, 0xC02F, b"s" * 256, 1.0, 0, 3600, 0, "", "", bytes(16))


def test_ticket_that_does_not_authenticate_is_not_opened() -> None:
    keys = TicketKeys(random.Random(5).randbytes, 3600, 0.0)
    ticket = keys.seal(b"state", 1.0)
    assert keys.open(ticket, 1.0) == (b"state", False)
    for pos in (16, 16 + 12, len(ticket) - 1):  # the nonce, the ciphertext, the tag (the key name kept)
        bad = ticket[:pos] + bytes((ticket[pos] ^ 1,)) + ticket[pos + 1 :]
        assert keys.open(bad, 1.0) is None
    assert keys.open(ticket[:-1], 1.0) is None


def test_ticket_state_round_trip_tls12() -> None:
    raw = _state(9)
    st = TicketState.decode(raw)
    assert st is not None and st.version == 0x0303 and st.extended_master_secret
    assert TicketState.decode(raw[:-1]) is None and TicketState.decode(raw + b"\x00") is None
