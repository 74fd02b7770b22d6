"""The esp32 profiles' hellos beyond the first one: Mbed TLS 3.6.2's per-version rules
(``ssl_prepare_client_hello`` / ``mbedtls_ssl_write_client_hello`` in
``library/ssl_client.c``, tag v3.6.2), compared byte for byte with the captures in
``tests/data/howsmyssl/mbedtls-clienthellos.json`` (see that folder's README):

- ``esp32-tls13-resumption``: a TLS 1.3 ticket resumption. ``handshake->resume``
  makes ``min_tls_version = tls_version = the session's`` (1.3), so the hello has
  supported_versions 1.3 alone, the four TLS 1.3 suites and the SCSV (written
  whenever TLS 1.2 is compiled in), the groups ``mbedtls_ssl_tls13_named_group_is_ecdhe``
  allows (no brainpool), the TLS 1.3 signature algorithms, and no TLS 1.2
  extension (``propose_tls12`` is false), pre_shared_key last.
- ``esp32-tls13-build-forced-tls12``: the TLS 1.3 build with TLS 1.2 only: no
  RSA-PSS scheme (``mbedtls_ssl_tls12_sig_alg_is_supported``).

The capture's random, session id, x25519 public key and binder change on every
run; the test injects its own randomness and session (the captured 208-byte ticket
and its obfuscated age) and puts the bytes our hello must have in those places:
everything else must be the captured bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from https_request.tls.client13 import ClientConnection
from https_request.tls.enums import NamedGroup, ProtocolVersion
from https_request.tls.keyschedule import KeySchedule, finished_verify_data
from https_request.tls.kx import ClientShare
from https_request.tls.profiles import PROFILES, client_config
from https_request.tls.session import Session
from https_request.tls.transcript import Transcript
from https_request.wire import Reader

DATA = Path(__file__).parent / "data" / "howsmyssl"
CAPTURED = {h["name"]: h for h in json.loads((DATA / "mbedtls-clienthellos.json").read_text())["hellos"]}
HOST = "www.howsmyssl.com"
NOW = 1_764_201_600.0  # 2025-11-27 (the capture's day); any time inside the ticket's lifetime


class Randomness:
    """os.urandom that keeps what it handed out, in order (the test's injected randomness)."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        out = os.urandom(n)
        self.calls.append(out)
        return out


def _extensions(raw: bytes) -> list[tuple[int, bytes]]:
    r = Reader(raw)
    out = []
    while r.remaining:
        typ = r.u16()
        out.append((typ, r.take(r.u16())))
    return out


def _hello_parts(record: bytes) -> dict[str, bytes]:
    body = record[9:]
    r = Reader(body)
    parts = {"version": r.take(2), "random": r.take(32), "session_id": r.take(r.u8())}
    parts["suites"] = r.take(r.u16())
    parts["compression"] = r.take(r.u8())
    parts["extensions"] = r.take(r.u16())
    assert r.remaining == 0
    return parts


def _psk_ext(ticket: bytes, age: int, binder: bytes) -> bytes:
    identity = len(ticket).to_bytes(2, "big") + ticket + age.to_bytes(4, "big")
    identities = len(identity).to_bytes(2, "big") + identity
    binders = (len(binder) + 1).to_bytes(2, "big") + bytes((len(binder),)) + binder
    return identities + binders


def _captured_resumption() -> tuple[list[tuple[int, bytes]], bytes, int]:
    """The captured resumption hello's extensions, its ticket and obfuscated age."""
    cap = CAPTURED["esp32-tls13-resumption"]
    exts = _extensions(bytes.fromhex(cap["extensions"]))
    psk = dict(exts)[41]
    r = Reader(psk)
    ids = Reader(r.take(r.u16()))
    ticket = ids.take(ids.u16())
    age = ids.u32()
    assert ids.remaining == 0
    return exts, ticket, age


def test_tls13_resumption_hello_is_the_capture() -> None:
    cap = CAPTURED["esp32-tls13-resumption"]
    exts, ticket, age = _captured_resumption()
    assert len(ticket) == 208 and [t for t, _ in exts] == [0, 43, 51, 45, 10, 13, 41]
    secret = os.urandom(48)
    session = Session(
        version=ProtocolVersion.TLS1_3,
        cipher_suite=0x1302,  # TLS_AES_256_GCM_SHA384: the capture's 48-byte binder
        server_name=HOST,
        secret=secret,
        ticket=ticket,
        ticket_age_add=age,  # received now: obfuscated age = ticket_age_add
        lifetime=7200,
        received_at=NOW,
    )
    rnd = Randomness()
    c = ClientConnection(client_config("esp32-mbedtls-tls13", random=rnd, now=lambda: NOW), HOST, session)
    c.start_handshake()
    record = c.data_to_send()

    # The randomness, in the order the hello takes it: random, session id, x25519 private key.
    random, session_id, share_key = rnd.calls[:3]
    public = ClientShare(NamedGroup.x25519, lambda n: share_key[:n]).key_exchange
    expected_exts = []
    for typ, body in exts:
        if typ == 51:
            body = body[:6] + public  # key_share: client_shares length, x25519, key length, our key
        elif typ == 41:
            body = _psk_ext(ticket, age, bytes(48))  # the binder is filled in below
        expected_exts.append((typ, body))
    ext_block = b"".join(t.to_bytes(2, "big") + len(b).to_bytes(2, "big") + b for t, b in expected_exts)
    body = (
        bytes.fromhex(cap["legacy_version"])
        + random
        + bytes((32,))
        + session_id
        + (len(cap["cipher_suites"]) // 2).to_bytes(2, "big")
        + bytes.fromhex(cap["cipher_suites"])
        + bytes((len(cap["compression_methods"]) // 2,))
        + bytes.fromhex(cap["compression_methods"])
        + len(ext_block).to_bytes(2, "big")
        + ext_block
    )
    msg = b"\x01" + len(body).to_bytes(3, "big") + body
    # RFC 8446 4.2.11.2: the binder over the hello up to the binders list, under the session's PSK.
    truncated = msg[: -(2 + 1 + 48)]
    t = Transcript()
    t.set_hash("sha384")
    t.add(truncated)
    binder = finished_verify_data("sha384", KeySchedule("sha384", secret).binder_key(), t.digest())
    msg = truncated + (49).to_bytes(2, "big") + b"\x30" + binder
    expected = b"\x16\x03\x03" + len(msg).to_bytes(2, "big") + msg

    assert len(record) - 5 == cap["record_length"] == 478
    assert record == expected
    parts = _hello_parts(record)
    assert parts["suites"].hex() == "130213011304130500ff"  # 4 suites + SCSV
    assert dict(_extensions(parts["extensions"]))[43] == b"\x02\x03\x04"  # TLS 1.3 alone
    assert dict(_extensions(parts["extensions"]))[10].hex() == "0008001d001700180019"  # no brainpool


def test_tls13_resumption_hello_size_scales_with_the_ticket() -> None:
    """Mbed TLS's hello for a short ticket: the issue's ~380 bytes is the same layout with a
    ~110-byte ticket; every byte but the ticket's is the same as with the captured one."""
    _, ticket, age = _captured_resumption()
    for size in (110, 208):
        session = Session(
            version=ProtocolVersion.TLS1_3, cipher_suite=0x1302, server_name=HOST, secret=bytes(48),
            ticket=ticket[:size], ticket_age_add=age, lifetime=7200, received_at=NOW,
        )  # fmt: skip
        c = ClientConnection(client_config("esp32-mbedtls-tls13", now=lambda: NOW), HOST, session)
        c.start_handshake()
        assert len(c.data_to_send()) - 5 == 478 - 208 + size


def test_tls12_resumption_with_the_tls13_build_is_a_tls12_hello() -> None:
    """Resuming a TLS 1.2 session pins TLS 1.2: the capture's TLS 1.2-only hello of this build
    (``esp32-tls13-build-forced-tls12``) with the ticket in session_ticket and a 32-byte id."""
    forced = CAPTURED["esp32-tls13-build-forced-tls12"]
    ticket = bytes(range(176))
    session = Session(
        version=ProtocolVersion.TLS1_2, cipher_suite=0xC02B, server_name=HOST, secret=bytes(48),
        ticket=ticket, lifetime=7200, received_at=NOW, extended_master_secret=True,
    )  # fmt: skip
    rnd = Randomness()
    c = ClientConnection(client_config("esp32-mbedtls-tls13", random=rnd, now=lambda: NOW), HOST, session)
    c.start_handshake()
    parts = _hello_parts(c.data_to_send())
    assert parts["random"][:4] == int(NOW).to_bytes(4, "big")  # gmt_unix_time: tls_version is 1.2
    assert parts["session_id"] == rnd.calls[1] and len(parts["session_id"]) == 32  # RFC 5077 3.4
    assert parts["suites"].hex() == forced["cipher_suites"]
    expected = [(t, ticket if t == 35 else b) for t, b in _extensions(bytes.fromhex(forced["extensions"]))]
    assert _extensions(parts["extensions"]) == expected


def test_forced_tls12_hello_is_the_capture() -> None:
    forced = CAPTURED["esp32-tls13-build-forced-tls12"]
    rnd = Randomness()
    config = client_config("esp32-mbedtls-tls13", versions=(ProtocolVersion.TLS1_2,), random=rnd, now=lambda: NOW)
    c = ClientConnection(config, HOST)
    c.start_handshake()
    record = c.data_to_send()
    parts = _hello_parts(record)
    assert len(record) - 5 == forced["record_length"] == 245
    assert parts["random"] == int(NOW).to_bytes(4, "big") + rnd.calls[0][4:]
    assert parts["session_id"] == b""
    assert parts["suites"].hex() == forced["cipher_suites"]
    assert parts["extensions"].hex() == forced["extensions"]  # sigalgs without RSA-PSS


def test_first_hellos_are_unchanged_by_the_device_rules() -> None:
    """No session: the device's rules change nothing in the first hellos (both captured)."""
    for profile, name in (("esp32-mbedtls", "esp32-tls12"), ("esp32-mbedtls-tls13", "esp32-tls13-build")):
        assert PROFILES[profile].device is not None
        c = ClientConnection(client_config(profile, now=lambda: NOW), HOST)
        c.start_handshake()
        parts = _hello_parts(c.data_to_send())
        assert parts["suites"].hex() == CAPTURED[name]["cipher_suites"]
        ours = [t for t, _ in _extensions(parts["extensions"])]
        assert ours == [t for t, _ in _extensions(bytes.fromhex(CAPTURED[name]["extensions"]))]
