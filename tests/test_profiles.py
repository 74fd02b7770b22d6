"""Client profiles: the esp32 hellos against the captured bytes, and handshakes
with each profile against our own server.

The captured bytes are ClientHellos of upstream Mbed TLS 3.6.2's ``ssl_client2``
built with ESP-IDF v5's default configuration (a TLS 1.2-only build, as the ESP32
in ESP-IDF's ``https_request`` example output; and the same build with TLS 1.3
enabled), kept in ``tests/data/howsmyssl/mbedtls-clienthellos.json`` (its
provenance is in that folder's README).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from certs import make_ca, make_leaf
from helpers import drain, shuttle
from https_request.tls.catalogue import suite_name
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import DEFAULT_CIPHER_SUITES, ClientConfig, ServerConfig
from https_request.tls.enums import NamedGroup, ProtocolVersion
from https_request.tls.events import ApplicationData, HandshakeComplete
from https_request.tls.profiles import PROFILES, Profile, client_config, profile_names
from https_request.tls.server13 import ServerConnection
from https_request.tls.suites import SIGNALLING, SUITES
from https_request.tls.verify import WebPkiVerifier
from https_request.wire import Reader

DATA = Path(__file__).parent / "data" / "howsmyssl"
HOST = "www.howsmyssl.com"
CAPTURE_TIME = 0x6B0940A7  # the gmt_unix_time measured in the capture
CAPTURED = {h["name"]: h for h in json.loads((DATA / "mbedtls-clienthellos.json").read_text())["hellos"]}
# esp32-mbedtls (TLS 1.2-only build), first connection
SUITES_TLS12_BUILD = CAPTURED["esp32-tls12"]["cipher_suites"]
EXTENSIONS_TLS12_BUILD = CAPTURED["esp32-tls12"]["extensions"]
# esp32-mbedtls-tls13 (the same build with TLS 1.3 enabled), first connection
SUITES_TLS13_BUILD = CAPTURED["esp32-tls13-build"]["cipher_suites"]
EXTENSIONS_TLS13_BUILD = CAPTURED["esp32-tls13-build"]["extensions"]
# What howsmyssl.com answered the ESP32 running ESP-IDF's example (2024-02-27).
EXAMPLE_CHECK = json.loads((DATA / "esp-idf-2024-02-check.json").read_text())

CA = make_ca()
LEAF_EC = make_leaf(CA, ["localhost"])
VERIFIER = WebPkiVerifier([CA.cert])


class RecordingRandom:
    """os.urandom that remembers every chunk it handed out, in order."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        out = os.urandom(n)
        self.calls.append(out)
        return out


@dataclass
class Hello:
    record_header: bytes
    handshake_header: bytes
    legacy_version: bytes
    random: bytes
    session_id: bytes
    suites: bytes
    compression: bytes
    extensions: list[tuple[int, bytes]]
    extensions_raw: bytes


def parse_hello(record: bytes) -> Hello:
    """Split one ClientHello record into its fields, checking every length."""
    assert record[0] == 22 and int.from_bytes(record[3:5], "big") == len(record) - 5
    body = record[5:]
    assert body[0] == 1 and int.from_bytes(body[1:4], "big") == len(body) - 4
    r = Reader(body[4:])
    legacy_version = r.take(2)
    random = r.take(32)
    session_id = r.take(r.u8())
    suites = r.take(r.u16())
    compression = r.take(r.u8())
    ext_raw = r.take(r.u16())
    assert r.remaining == 0
    e = Reader(ext_raw)
    exts = []
    while e.remaining:
        typ = e.u16()
        exts.append((typ, e.take(e.u16())))
    return Hello(record[:5], body[:4], legacy_version, random, session_id, suites, compression, exts, ext_raw)


def split_extensions(raw: bytes) -> list[tuple[int, bytes]]:
    return parse_hello(_wrap(raw)).extensions


def _wrap(ext_raw: bytes) -> bytes:
    """A minimal ClientHello record around an extensions block (for parsing captured bytes)."""
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += len(ext_raw).to_bytes(2, "big") + ext_raw
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + len(hs).to_bytes(2, "big") + hs


def first_hello(profile: str, host: str = HOST, **overrides: object) -> tuple[bytes, RecordingRandom]:
    rnd = RecordingRandom()
    kw: dict[str, object] = {"random": rnd, "now": lambda: float(CAPTURE_TIME)}
    kw.update(overrides)
    c = ClientConnection(client_config(profile, **kw), host)
    c.start_handshake()
    return c.data_to_send(), rnd


# --- the registry ---------------------------------------------------------------------------------


def test_profile_names() -> None:
    names = profile_names()
    assert names[0] == "default"
    assert {"default", "esp32-mbedtls", "esp32-mbedtls-tls13"} <= set(names)
    for name in names:
        p = PROFILES[name]
        assert isinstance(p, Profile) and p.name == name and p.description
        client_config(name)  # every recipe is a valid ClientConfig


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown client profile 'esp8266'") as info:
        client_config("esp8266")
    for name in profile_names():
        assert name in str(info.value)


def test_overrides() -> None:
    lines: list[str] = []
    cfg = client_config("esp32-mbedtls", verifier=VERIFIER, alpn_protocols=("http/1.1",), keylog=lines.append)
    assert isinstance(cfg, ClientConfig)
    assert cfg.verifier is VERIFIER and cfg.alpn_protocols == ("http/1.1",) and cfg.keylog == lines.append
    assert cfg.unix_time_random and cfg.hello_record_version == 0x0303
    assert cfg.cipher_suites == PROFILES["esp32-mbedtls"].cipher_suites
    assert client_config("esp32-mbedtls", cipher_suites=(0xC02B,)).cipher_suites == (0xC02B,)
    # Replacing the groups keeps the key shares valid.
    cfg = client_config("default", groups=(NamedGroup.secp256r1, NamedGroup.x25519))
    assert cfg.key_share_groups == (NamedGroup.x25519,)
    cfg = client_config("default", groups=(NamedGroup.secp384r1,))
    assert cfg.key_share_groups == (NamedGroup.secp384r1,)
    assert client_config("default", versions=(ProtocolVersion.TLS1_2,)).versions == (ProtocolVersion.TLS1_2,)
    with pytest.raises(TypeError):
        client_config("default", no_such_field=1)


# --- the recipes, checked against the captures -------------------------------------------------


def test_esp32_suite_names_match_the_example_output() -> None:
    names = [suite_name(s) for s in PROFILES["esp32-mbedtls"].cipher_suites]
    assert len(names) == 59 and names[-1] == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
    assert names == EXAMPLE_CHECK["given_cipher_suites"]


def test_esp32_tls13_suites() -> None:
    suites = PROFILES["esp32-mbedtls-tls13"].cipher_suites
    assert len(suites) == 63
    assert suites[:4] == (0x1302, 0x1301, 0x1304, 0x1305)
    assert suites[4:] == PROFILES["esp32-mbedtls"].cipher_suites


# --- esp32-mbedtls: the captured bytes ------------------------------------------------------------


def test_esp32_mbedtls_hello_is_the_capture() -> None:
    data, rnd = first_hello("esp32-mbedtls")
    h = parse_hello(data)
    assert h.record_header == bytes.fromhex("16030300f5")
    assert h.handshake_header == bytes.fromhex("010000f1")
    assert h.legacy_version == b"\x03\x03"
    assert h.random[:4] == CAPTURE_TIME.to_bytes(4, "big")  # gmt_unix_time
    assert h.random[4:] == rnd.calls[0][4:]  # the rest is the injected randomness
    assert h.session_id == b""
    assert h.suites.hex() == SUITES_TLS12_BUILD
    assert h.compression == b"\x00"
    assert h.extensions_raw.hex() == EXTENSIONS_TLS12_BUILD
    assert [t for t, _ in h.extensions] == [0, 10, 13, 11, 22, 23, 35]
    # The whole record, byte for byte, apart from the 28 random bytes after the time.
    expected = (
        bytes.fromhex("16030300f5")  # record header
        + bytes.fromhex("010000f1")  # handshake header
        + bytes.fromhex("0303")  # legacy_version
        + CAPTURE_TIME.to_bytes(4, "big")
        + h.random[4:]
        + b"\x00"
        + bytes.fromhex("0076" + SUITES_TLS12_BUILD + "0100" + "0052" + EXTENSIONS_TLS12_BUILD)
    )
    assert data == expected


def test_esp32_mbedtls_uses_the_clock() -> None:
    data, _ = first_hello("esp32-mbedtls", now=lambda: 1700000000.9)
    assert parse_hello(data).random[:4] == (1700000000).to_bytes(4, "big")


def test_esp32_mbedtls_length_scales_with_the_host() -> None:
    data, _ = first_hello("esp32-mbedtls", "localhost")
    assert len(data) - 5 == int.from_bytes(data[3:5], "big") == 237 == 228 + len("localhost")
    h = parse_hello(data)
    assert int.from_bytes(h.handshake_header[1:], "big") == 224 + len("localhost")
    assert h.extensions[0] == (0, bytes.fromhex("000c0000096c6f63616c686f7374"))
    assert h.extensions[1:] == split_extensions(bytes.fromhex(EXTENSIONS_TLS12_BUILD))[1:]


# --- esp32-mbedtls-tls13 --------------------------------------------------------------------------


def test_esp32_mbedtls_tls13_hello_matches_the_capture() -> None:
    data, rnd = first_hello("esp32-mbedtls-tls13")
    h = parse_hello(data)
    assert h.record_header == bytes.fromhex("160303015d")  # length 349, as captured
    assert h.handshake_header == bytes.fromhex("01000159")
    assert h.legacy_version == b"\x03\x03"
    assert h.random == rnd.calls[0]  # 32 random bytes, no Unix time with TLS 1.3 offered
    assert h.session_id == rnd.calls[1] and len(h.session_id) == 32  # compatibility mode
    assert h.suites.hex() == SUITES_TLS13_BUILD
    assert h.compression == b"\x00"
    ref = split_extensions(bytes.fromhex(EXTENSIONS_TLS13_BUILD))
    assert [t for t, _ in h.extensions] == [t for t, _ in ref] == [0, 43, 51, 45, 10, 13, 11, 22, 23, 35]
    for (typ, body), (_, ref_body) in zip(h.extensions, ref, strict=True):
        if typ == 51:  # key_share: one x25519 entry, only the public key differs
            assert body[:6] == ref_body[:6] == bytes.fromhex("0024001d0020") and len(body) == len(ref_body)
        else:
            assert body == ref_body, f"extension {typ}"
    assert len(h.extensions_raw) == len(bytes.fromhex(EXTENSIONS_TLS13_BUILD))


# --- default --------------------------------------------------------------------------------------


def test_default_hello() -> None:
    data, _ = first_hello("default")
    h = parse_hello(data)
    assert h.record_header[:3] == bytes.fromhex("160301")
    assert len(h.session_id) == 32
    suites = [int.from_bytes(h.suites[i : i + 2], "big") for i in range(0, len(h.suites), 2)]
    assert suites == [*DEFAULT_CIPHER_SUITES, 0x00FF]
    assert all(SUITES[s].tls13 for s in suites[:3]) and all(SUITES[s].kx == "ECDHE" for s in suites[3:-1])
    assert all(SUITES[s].aead is not None for s in suites[:-1])
    exts = dict(h.extensions)
    assert exts[43] == bytes.fromhex("0403040303")
    assert exts[10][2:4] == NamedGroup.X25519MLKEM768.to_bytes(2, "big")
    r = Reader(exts[51][2:])
    shares = []
    while r.remaining:
        shares.append(r.u16())
        r.take(r.u16())
    assert shares == [NamedGroup.X25519MLKEM768, NamedGroup.x25519]


# --- handshakes against our server ----------------------------------------------------------------


def server(versions: tuple[int, ...], **kw: object) -> ServerConnection:
    kw.setdefault("certificates", (LEAF_EC.certified_key(),))
    return ServerConnection(ServerConfig(versions=versions, **kw))  # type: ignore[arg-type]


def handshake(profile: str, s: ServerConnection, **overrides: object) -> tuple[HandshakeComplete, ClientConnection]:
    c = ClientConnection(client_config(profile, verifier=VERIFIER, **overrides), "localhost")
    c.start_handshake()
    cev, sev = shuttle(c, s)
    done = [e for e in cev if isinstance(e, HandshakeComplete)]
    assert len(done) == 1 and any(isinstance(e, HandshakeComplete) for e in sev)
    c.send_application_data(b"ping")
    s.receive_data(c.data_to_send())
    assert [e for e in drain(s) if isinstance(e, ApplicationData)] == [ApplicationData(b"ping")]
    return done[0], c


TLS12 = (ProtocolVersion.TLS1_2,)
BOTH = (ProtocolVersion.TLS1_3, ProtocolVersion.TLS1_2)


@pytest.mark.parametrize("profile", ["default", "esp32-mbedtls", "esp32-mbedtls-tls13"])
def test_each_profile_against_a_tls12_server(profile: str) -> None:
    done, _ = handshake(profile, server(TLS12))
    assert done.version == ProtocolVersion.TLS1_2
    assert SUITES[done.cipher_suite].kx == "ECDHE" and SUITES[done.cipher_suite].auth == "ECDSA"
    assert done.group == NamedGroup.x25519


@pytest.mark.parametrize(
    "suite",
    [0xC02C, 0xC0AD, 0xC0AF, 0xC024, 0xC00A, 0xC009, 0xC023, 0xC0AE],
    ids=suite_name,
)
def test_esp32_mbedtls_negotiates_its_implemented_ecdsa_suites(suite: int) -> None:
    done, _ = handshake("esp32-mbedtls", server(TLS12, cipher_suites=(suite,)))
    assert done.version == ProtocolVersion.TLS1_2 and done.cipher_suite == suite


def test_esp32_mbedtls_against_an_rsa_server() -> None:
    leaf = make_leaf(CA, ["localhost"], key_type="rsa2048")
    done, _ = handshake("esp32-mbedtls", server(TLS12, certificates=(leaf.certified_key(),)))
    assert done.version == ProtocolVersion.TLS1_2
    assert SUITES[done.cipher_suite].kx == "ECDHE" and SUITES[done.cipher_suite].auth == "RSA"


def test_esp32_mbedtls_tls13_against_a_tls13_server() -> None:
    done, _ = handshake("esp32-mbedtls-tls13", server(BOTH, cipher_suites=(0x1301, 0x1302, 0xC02B)))
    assert done.version == ProtocolVersion.TLS1_3
    assert done.cipher_suite == 0x1301 and done.group == NamedGroup.x25519


def test_default_negotiates_tls13_with_the_hybrid_group() -> None:
    done, _ = handshake("default", server(BOTH))
    assert done.version == ProtocolVersion.TLS1_3
    assert done.group == NamedGroup.X25519MLKEM768


def test_default_falls_back_to_tls12() -> None:
    done, _ = handshake("default", server(TLS12))
    assert done.version == ProtocolVersion.TLS1_2


# --- every suite a profile offers can be negotiated ------------------------------------------------


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_offered_suite_is_implemented(profile: str) -> None:
    """A profile offers no suite it could not complete (ARIA and static ECDH included): only SCSVs besides."""
    offered = PROFILES[profile].cipher_suites
    assert [s for s in offered if s not in SUITES and s not in SIGNALLING] == []
    if profile != "default":
        device_only = [s for s in offered if s in SUITES and (SUITES[s].cipher == "ARIA" or SUITES[s].kx == "ECDH")]
        assert len(device_only) == 32  # the 20 ARIA suites and the 12 static ECDH ones of Mbed TLS's list


def test_default_offer_has_no_aria_nor_static_ecdh() -> None:
    assert not any(SUITES[s].cipher == "ARIA" or SUITES[s].client_only for s in PROFILES["default"].cipher_suites)
