"""The engine's server at TLS 1.0 and 1.1 (what serve's check server runs), in memory:

* against OpenSSL (the stdlib ssl client on memory BIOs, SECLEVEL=0 set in the test's client):
  every SHA-1 CBC suite with RSA and ECDSA certificates, with and without encrypt-then-MAC and
  extended master secret; OpenSSL itself reports the version and suite, and its NSS key log's
  master secret equals ours (RFC 2246 5 / RFC 4346 5: the MD5/SHA-1 PRF);
* the version choice (RFC 5246 E.1: the highest we have up to the client's), SSL 3.0 refused
  (protocol_version), RFC 7507's TLS_FALLBACK_SCSV and RFC 8446 4.1.3's DOWNGRD sentinels;
* static RSA with RFC 5246 7.4.7.1's countermeasure: a ClientKeyExchange whose premaster does not
  decrypt, has the wrong length or the wrong version gets no error of its own; every one of them
  fails the same way, at the client's Finished (bad_record_mac), while the same flight with a
  good premaster completes;
* the records: TLS 1.0's IV chained from the previous record (RFC 2246 6.2.3.2), the chosen
  version in every record header, ``first_app_data_length``, and the server's own 1/n-1 split of
  what it writes at TLS 1.0 with CBC (Go's crypto/tls does the same, tlsfuzzer expects it).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import padding

from certs import make_leaf
from https_request.tls.config import ServerConfig
from https_request.tls.enums import AlertDescription, ContentType
from https_request.tls.errors import TlsError
from https_request.tls.events import HandshakeComplete
from https_request.tls.keyschedule12 import MD5_SHA1, finished_verify_data12, handshake_hash, key_block, master_secret
from https_request.tls.messages import ClientHello, Extension, ServerHello, handshake_message
from https_request.tls.protection12 import Protector12
from https_request.tls.server13 import ServerConnection
from https_request.tls.suites import SUITES
from test_interop_memory import HOST, Link, StdlibPeer, drain
from tlsenv import CA, seeded, split_records

TLS10, TLS11, TLS12, TLS13 = 0x0301, 0x0302, 0x0303, 0x0304
ALL = (TLS13, TLS12, TLS11, TLS10)
RSA_LEAF = make_leaf(CA, [HOST], key_type="rsa2048")
EC_LEAF = make_leaf(CA, [HOST], key_type="p256")
LEGACY_SUITES = [s for s in SUITES.values() if s.legacy_ok and s.cipher != "3DES"]  # (OpenSSL 3 has no 3DES)
OPENSSL = {0xC009: "ECDHE-ECDSA-AES128-SHA", 0xC00A: "ECDHE-ECDSA-AES256-SHA", 0xC013: "ECDHE-RSA-AES128-SHA",
           0xC014: "ECDHE-RSA-AES256-SHA", 0x002F: "AES128-SHA", 0x0035: "AES256-SHA"}  # fmt: skip
OP_NO_ENCRYPT_THEN_MAC, OP_NO_EXTENDED_MASTER_SECRET = 0x80000, 0x1
TLS_VERSION = {TLS10: ssl.TLSVersion.TLSv1, TLS11: ssl.TLSVersion.TLSv1_1}
OPENSSL_VERSION = {TLS10: "TLSv1", TLS11: "TLSv1.1"}


def server(suites: tuple[int, ...], versions: tuple[int, ...] = ALL, **kw: object) -> ServerConnection:
    kw.setdefault("require_extended_master_secret", False)
    cfg = ServerConfig(
        certificates=(RSA_LEAF.certified_key(), EC_LEAF.certified_key()), versions=versions, cipher_suites=suites,
        random=seeded(5), **kw,  # type: ignore[arg-type]
    )  # fmt: skip
    return ServerConnection(cfg)


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("legacy-ca") / "ca.pem"
    path.write_bytes(CA.cert_pem)
    return str(path)


def stdlib_client(ca_file: str, version: int, cipher: str, *, etm: bool = True, ems: bool = True,
                  keylog: Path | None = None) -> StdlibPeer:  # fmt: skip
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = TLS_VERSION[version]
    ctx.set_ciphers(f"{cipher}:@SECLEVEL=0")
    ctx.load_verify_locations(cafile=ca_file)
    ctx.options |= (0 if etm else OP_NO_ENCRYPT_THEN_MAC) | (0 if ems else OP_NO_EXTENDED_MASTER_SECRET)
    if keylog is not None:
        ctx.keylog_filename = str(keylog)
    return StdlibPeer(ctx, server=False)


pytestmark = pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")


@pytest.mark.parametrize("version", [TLS10, TLS11], ids=["tls1.0", "tls1.1"])
@pytest.mark.parametrize("suite", [s.id for s in LEGACY_SUITES if s.id in OPENSSL], ids=lambda s: OPENSSL[s])
@pytest.mark.parametrize(("etm", "ems"), [(True, True), (False, False)], ids=["etm-ems", "mte-no-ems"])
def test_openssl_client(ca_file: str, tmp_path: Path, version: int, suite: int, etm: bool, ems: bool) -> None:
    keylog = tmp_path / "keys.txt"
    ours: list[str] = []
    link = Link(server((suite,), keylog=ours.append), stdlib_client(ca_file, version, OPENSSL[suite], etm=etm,
                                                                     ems=ems, keylog=keylog))  # fmt: skip
    done = link.handshake()
    peer = link.peer
    assert isinstance(peer, StdlibPeer)
    assert done.version == version and peer.obj.version() == OPENSSL_VERSION[version]
    assert peer.cipher_name == OPENSSL[suite]
    theirs = {ln.strip() for ln in keylog.read_text().splitlines() if ln.startswith("CLIENT_RANDOM ")}
    assert theirs == set(ours) and len(ours) == 1  # the same master secret: the MD5/SHA-1 PRF agrees
    assert {h[1:3] for _, h, _ in split_records(b"".join(link.from_ours))} == {version.to_bytes(2, "big")}
    link.exchange(40000)  # many records each way: TLS 1.0's chained IV holds across them
    assert link.ours.first_app_data_length == (0 if version == TLS10 else 16384)  # OpenSSL's empty fragment
    link.close_both(ours_first=False)


def test_version_choice_and_downgrade_sentinels(ca_file: str) -> None:
    """RFC 5246 E.1: a TLS 1.1 client gets TLS 1.1 from a 1.0-1.3 server, with DOWNGRD\\x00 in the
    random (RFC 8446 4.1.3); a server of 1.0 and 1.1 only puts no sentinel."""
    for versions, sentinel in ((ALL, b"DOWNGRD\x00"), ((TLS11, TLS10), None)):
        link = Link(server((0xC013,), versions), stdlib_client(ca_file, TLS11, "ECDHE-RSA-AES128-SHA"))
        assert link.handshake().version == TLS11
        first = link.from_ours[0]
        sh = ServerHello.decode(first[9 : 9 + int.from_bytes(first[6:9], "big")])
        assert sh.legacy_version == TLS11
        assert (sh.random[-8:] == sentinel) if sentinel else sh.random[-8:] not in (b"DOWNGRD\x00", b"DOWNGRD\x01")


def _hello(version: int, suites: tuple[int, ...], *exts: Extension) -> bytes:
    body = ClientHello(version, bytes(range(32)), b"", suites, b"\x00", tuple(exts)).encode()
    return handshake_message(1, body)


def _record(ctype: int, data: bytes, version: int = TLS10) -> bytes:
    return bytes((ctype,)) + version.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data


def _alert(s: ServerConnection, flight: bytes) -> int:
    with pytest.raises(TlsError) as info:
        s.receive_data(flight)
    out = s.data_to_send()
    assert out[-7:-2] == b"\x15" + out[-6:-4] + b"\x00\x02" and out[-2] == 2
    assert info.value.alert == out[-1]
    return out[-1]


def test_ssl3_is_refused() -> None:
    """Go's crypto/tls (the real howsmyssl) has no SSL 3.0: protocol_version."""
    ssl3 = _record(22, _hello(0x0300, (0x002F,)), 0x0300)
    assert _alert(server((0x002F,)), ssl3) == AlertDescription.protocol_version


def test_sslv2_compatible_hello_is_refused() -> None:
    """An SSLv2-compatible ClientHello (RFC 5246 E.2) gets protocol_version, as from Go's server
    ("unsupported SSLv2 handshake received"); tlsfuzzer's test-sslv2hello-protocol sends one."""
    body = b"\x01\x03\x01" + b"\x00\x03" + b"\x00\x00" + b"\x00\x10" + b"\x00\x00\x2f" + bytes(16)
    s = server((0x002F,))
    with pytest.raises(TlsError) as info:
        s.receive_data(bytes((0x80, len(body))) + body)
    assert info.value.alert == AlertDescription.protocol_version


def test_fallback_scsv() -> None:
    """RFC 7507 3: TLS_FALLBACK_SCSV with a version below our highest is inappropriate_fallback; at our
    highest (a server of TLS 1.0 only) it is nothing."""
    s = server((0x002F,))
    assert _alert(s, _record(22, _hello(TLS10, (0x002F, 0x5600)))) == AlertDescription.inappropriate_fallback
    s = server((0x002F,), (TLS10,))
    s.receive_data(_record(22, _hello(TLS10, (0x002F, 0x5600))))
    assert s.negotiated_version == TLS10 and s.cipher_suite == 0x002F


def test_tls12_only_suites_are_not_taken_at_tls10() -> None:
    """RFC 5246 1.2: AEAD and SHA-256 suites are TLS 1.2's; a TLS 1.0 client offering only them gets
    handshake_failure."""
    s = server((0x009C, 0xC02F, 0x003C, 0xC027))
    flight = _record(22, _hello(TLS10, (0x009C, 0xC02F, 0x003C, 0xC027), Extension(10, b"\x00\x02\x00\x17")))
    assert _alert(s, flight) == AlertDescription.handshake_failure


def test_beast_probe_takes_the_clients_first_probe_suite() -> None:
    """howsmyssl's fork (pickCipherSuite): at TLS 1.0 the client's first of AES128-SHA / AES256-SHA,
    whatever the server's order; at TLS 1.1 and without beast_probe the server's order."""
    offered = (0xC013, 0x0035, 0x002F)
    groups = Extension(10, b"\x00\x02\x00\x17")
    for version, probe, chosen in ((TLS10, True, 0x0035), (TLS11, True, 0xC013), (TLS10, False, 0xC013)):
        s = server((0xC013, 0x002F, 0x0035), beast_probe=probe)
        s.receive_data(_record(22, _hello(version, offered, groups)))
        assert s.cipher_suite == chosen, (version, probe)


# ------------------------------------------------------------------ static RSA, RFC 5246 7.4.7.1


def _rsa_client_flight(
    s: ServerConnection, version: int, pre_master_plain: bytes | None, raw: bytes = b"", keys: list[bytes] | None = None
) -> bytes:
    """A static-RSA client's second flight, made by hand: ClientKeyExchange carrying
    ``pre_master_plain`` encrypted to the server's key (or ``raw`` as the ciphertext), CCS and a
    Finished under keys from that premaster (appended to ``keys``: MAC key, key)."""
    hello = _hello(version, (0x002F,))
    s.receive_data(_record(22, hello))
    flight = s.data_to_send()
    msgs = b"".join(p for ctype, _, p in split_records(flight) if ctype == 22)
    sh = ServerHello.decode(msgs[4 : 4 + int.from_bytes(msgs[1:4], "big")])
    key = RSA_LEAF.certified_key().key.public_key()  # type: ignore[union-attr]
    encrypted = raw or key.encrypt(pre_master_plain, padding.PKCS1v15())  # type: ignore[union-attr,arg-type]
    cke = handshake_message(16, len(encrypted).to_bytes(2, "big") + encrypted)
    transcript = hello + msgs + cke
    prf = MD5_SHA1 if version < TLS12 else "sha256"
    pm = pre_master_plain if pre_master_plain is not None and len(pre_master_plain) == 48 else bytes(48)
    master = master_secret(prf, pm, bytes(range(32)), sh.random, None)
    suite = SUITES[0x002F]
    iv_len = 16 if version == TLS10 else 0
    cmac, _, ckey, _, civ, _ = key_block(prf, master, bytes(range(32)), sh.random, 20, 16, iv_len)
    write = Protector12(suite, ckey, civ, cmac, random=seeded(9), version=version)
    if keys is not None:
        keys += [cmac, ckey]
    verify_data = finished_verify_data12(prf, master, True, handshake_hash(prf, transcript))
    return (
        _record(22, cke, version) + _record(20, b"\x01", version)
        + write.seal(22, handshake_message(20, verify_data))
    )  # fmt: skip


@pytest.mark.parametrize("version", [TLS10, TLS12], ids=["tls1.0", "tls1.2"])
def test_rsa_premaster_failures_are_indistinguishable(version: int) -> None:
    good = version.to_bytes(2, "big") + bytes(range(46))
    s = server((0x002F,))
    s.receive_data(_rsa_client_flight(s, version, good))
    assert [type(e) for e in drain(s)] == [HandshakeComplete]  # the control: a good premaster completes

    bad = {
        "not PKCS#1": (None, b"\x01" * 256),
        "47 bytes": (good[:47], b""),
        "49 bytes": (good + b"x", b""),
        "wrong version": (b"\x03\x00" + good[2:], b""),
        "short ciphertext": (None, b"\x00" * 255),
    }
    for name, (plain, raw) in bad.items():
        s = server((0x002F,))
        flight = _rsa_client_flight(s, version, plain, raw)
        cke_end = 5 + int.from_bytes(flight[3:5], "big")
        s.receive_data(flight[:cke_end])  # the ClientKeyExchange alone: taken, no alert, no output
        assert s.data_to_send() == b"" and s.error is None, name
        with pytest.raises(TlsError) as info:
            s.receive_data(flight[cke_end:])
        assert info.value.alert == AlertDescription.bad_record_mac, name  # at the Finished, as for any wrong key


def test_record_versions_chained_iv_and_split() -> None:
    """At TLS 1.0 every record the server writes says 0x0301, CBC records carry no IV of their
    own (RFC 2246 6.2.3.2), and what it writes goes out split 1/n-1."""
    s = server((0x002F,))
    flight = _rsa_client_flight(s, TLS10, TLS10.to_bytes(2, "big") + bytes(46))
    s.receive_data(flight)
    drain(s)
    s.send_application_data(b"x" * 41)
    records = split_records(s.data_to_send())
    assert {h[1:3] for _, h, _ in records} == {b"\x03\x01"}
    app = [len(p) for ctype, _, p in records if ctype == ContentType.APPLICATION_DATA]
    # 1/n-1 splitting (our own BEAST countermeasure, as Go's): 1 + 20 (MAC) + padding = 32, then
    # 40 + 20 + padding = 64; whole blocks and no IV of their own
    assert app == [32, 64]


def test_legacy_versions_refuse_client_certificates() -> None:
    with pytest.raises(ValueError, match=r"client certificates need TLS 1\.2 or 1\.3"):
        ServerConfig(
            certificates=(RSA_LEAF.certified_key(),), versions=(TLS12, TLS10), request_client_certificate=True,
        )  # fmt: skip


def test_tls12_record_with_full_cbc_padding() -> None:
    """RFC 5246 6.2.3: a TLS 1.2 record may be 2^14 + 2048 long; 2^14 bytes of data with 252 bytes
    of CBC padding (as tlsfuzzer's test-atypical-padding) opens; a longer one is record_overflow."""
    import hmac as hmac_mod

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    s = server((0x002F,))
    keys: list[bytes] = []
    s.receive_data(_rsa_client_flight(s, TLS12, TLS12.to_bytes(2, "big") + bytes(46), keys=keys))
    drain(s)
    mac_key, key = keys
    data = b"G" * (1 << 14)
    head = b"\x17\x03\x03"
    mac = hmac_mod.digest(mac_key, (1).to_bytes(8, "big") + head + len(data).to_bytes(2, "big") + data, "sha1")
    body = data + mac + bytes((251,)) * 252  # 16384 + 20 + 252 padding bytes: whole blocks
    iv = bytes(16)
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    payload = iv + enc.update(body) + enc.finalize()
    assert len(payload) > (1 << 14) + 256  # over TLS 1.3's bound
    s.receive_data(head + len(payload).to_bytes(2, "big") + payload)
    (event,) = drain(s)
    assert event.data == data  # type: ignore[attr-defined]
    with pytest.raises(TlsError) as info:
        s.receive_data(head + ((1 << 14) + 2049).to_bytes(2, "big"))
    assert info.value.alert == AlertDescription.record_overflow


def test_no_signature_algorithms_at_tls12_is_refused() -> None:
    """A TLS 1.2 client without signature_algorithms implies SHA-1 (RFC 5246 7.4.1.4.1), which
    RFC 9155 forbids in TLS 1.2 (Go's server refuses it since Go 1.25): handshake_failure, even from
    a server that signs MD5+SHA-1 for TLS 1.0 clients; the same hello at TLS 1.0 is served."""
    groups = Extension(10, b"\x00\x02\x00\x17")
    hello12 = _record(22, _hello(TLS12, (0xC013,), groups))
    assert _alert(server((0xC013,)), hello12) == AlertDescription.handshake_failure
    s = server((0xC013,))
    s.receive_data(_record(22, _hello(TLS10, (0xC013,), groups)))
    assert s.negotiated_version == TLS10 and s.cipher_suite == 0xC013
