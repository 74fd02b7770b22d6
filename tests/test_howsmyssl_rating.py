"""howsmyssl ``/a/check``: the answer computed from a raw ClientHello.

Vectors from howsmyssl's own tests (GitHub ``jmhodges/howsmyssl`` at commit
b073d57b: ``tls_test.go`` and the ``index_test.go`` bodies), the real answers
howsmyssl.com gave the ESP32 in ESP-IDF's ``https_request`` example output
(``tests/data/howsmyssl/``, provenance in its README) and vectors derived from
the rules of howsmyssl's ``client_info.go``. Then the example's ESP32 hello
built by our ``esp32-mbedtls`` profile, our default TLS 1.3 hello under both
schemas around the 2026 cutovers, GREASE, unknown and insecure suites, and
Go-compatible JSON printing.

No test reads today's date: every ``now`` is fixed.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import https_request.howsmyssl as howsmyssl_pkg
from certs import make_ca, make_leaf
from helpers import shuttle
from https_request.howsmyssl import tables
from https_request.howsmyssl.rating import (
    BAD,
    IMPROVABLE,
    PROBABLY_OKAY,
    beast_probe_suite,
    check,
    n_minus_one_split,
    parse_client_hello,
    to_json,
)
from https_request.tls.catalogue import suite_id
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import ServerConfig
from https_request.tls.enums import ExtensionType as ET
from https_request.tls.enums import NamedGroup, ProtocolVersion
from https_request.tls.events import HandshakeComplete
from https_request.tls.extensions import encode_supported_versions, encode_u16_list
from https_request.tls.messages import ClientHello, Extension, handshake_message
from https_request.tls.profiles import client_config
from https_request.tls.server13 import ServerConnection
from https_request.tls.verify import WebPkiVerifier

DATA = Path(__file__).parent / "data" / "howsmyssl"

SSL3, TLS10, TLS11, TLS12, TLS13 = 0x0300, 0x0301, 0x0302, 0x0303, 0x0304

# Unless a vector says otherwise, now = 2026-01-01T00:00:00Z (before any cutover), as in howsmyssl's tests.
PRE = datetime(2026, 1, 1, tzinfo=UTC)
# The instants of howsmyssl's TestRatingCutovers (tls_test.go).
B = datetime(2026, 6, 13, 23, 59, tzinfo=UTC)
I = datetime(2026, 6, 14, 17, 0, tzinfo=UTC)
X = datetime(2026, 12, 14, 18, 0, tzinfo=UTC)
SEED_TIME = datetime(2024, 2, 27, 22, 11, 22, tzinfo=UTC)  # the Date header of the example output's answer

FEW_BIT = "uses keys smaller than 128 bits in its encryption"
NULL = "specifies no encryption at all for the connection"
NULL_AUTH = "is open to man-in-the-middle attacks because it does not authenticate the server"
RC4 = "uses RC4 which has insecure biases in its output"
WEIRD_NSS = "was meant to die with SSL 3.0 and is of unknown safety"
SWEET32 = (
    "uses 3DES which is vulnerable to the Sweet32 attack but was not configured as a fallback in the ciphersuite order"
)

CLASSIC_KEYS = [
    "given_cipher_suites", "ephemeral_keys_supported", "session_ticket_supported", "tls_compression_supported",
    "unknown_cipher_suite_supported", "beast_vuln", "able_to_detect_n_minus_one_splitting", "insecure_cipher_suites",
    "tls_version", "rating",
]  # fmt: skip
KEYS_2026 = [
    "given_cipher_suites", "given_named_groups", "given_signature_algorithms", "post_quantum_key_agreement",
    *CLASSIC_KEYS[1:],
]  # fmt: skip

# The 59 suites howsmyssl.com printed to the ESP32 in ESP-IDF's example output (2024-02-27), in order.
SEED_SUITE_NAMES = [
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
    "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384", "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
    "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_256_CCM", "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_256_CCM_8",
    "TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384", "TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384",
    "TLS_RSA_WITH_ARIA_256_GCM_SHA384", "TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384",
    "TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384", "TLS_RSA_WITH_ARIA_256_CBC_SHA384", "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_128_CCM", "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_128_CCM_8",
    "TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256", "TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256",
    "TLS_RSA_WITH_ARIA_128_GCM_SHA256", "TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256",
    "TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256", "TLS_RSA_WITH_ARIA_128_CBC_SHA256", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
]  # fmt: skip


# --- helpers --------------------------------------------------------------------------------------


def hello(
    suites: Sequence[int],
    *,
    versions: Sequence[int] | None = None,
    groups: Sequence[int] | None = None,
    sigalgs: Sequence[int] | None = None,
    ticket: bytes | None = None,
    compression: bytes = b"\x00",
    legacy_version: int = TLS12,
    extra: Sequence[Extension] = (),
) -> bytes:
    """A ClientHello handshake message (header + body) with exactly these fields."""
    exts: list[Extension] = []
    if versions is not None:
        exts.append(Extension(ET.supported_versions, encode_supported_versions(versions)))
    if groups is not None:
        exts.append(Extension(ET.supported_groups, encode_u16_list(groups)))
    if sigalgs is not None:
        exts.append(Extension(ET.signature_algorithms, encode_u16_list(sigalgs)))
    if ticket is not None:
        exts.append(Extension(ET.session_ticket, ticket))
    exts.extend(extra)
    body = ClientHello(legacy_version, bytes(32), b"", tuple(suites), compression, tuple(exts)).encode()
    return handshake_message(1, body)


def run(ch: bytes, version: int = TLS12, schema: str = "classic", now: datetime = PRE, **kw: Any) -> dict[str, Any]:
    result = check(ch, negotiated_version=version, schema=schema, now=now, **kw)  # type: ignore[arg-type]
    assert list(result) == (CLASSIC_KEYS if schema == "classic" else KEYS_2026)
    return result


def profile_hello(profile: str, **overrides: Any) -> bytes:
    """The first ClientHello handshake message of a client profile (the record minus its 5-byte header)."""
    cfg = client_config(profile, random=lambda n: bytes(range(n)), now=lambda: SEED_TIME.timestamp(), **overrides)
    c = ClientConnection(cfg, "www.howsmyssl.com")
    c.start_handshake()
    record = c.data_to_send()
    assert record[0] == 22 and int.from_bytes(record[3:5], "big") == len(record) - 5
    return record[5:]


def example_output_bodies() -> list[bytes]:
    """The /a/check bodies in ESP-IDF's example output, with the console's line wrapping and
    interleaved log lines removed."""
    text = (DATA / "esp-idf-2024-02-example-output.txt").read_text()
    return [
        "".join(line for line in m.group(0).split("\n") if not line.startswith("dns_tmr:")).encode()
        for m in re.finditer(r'\{"given_cipher_suites".*?"rating":"[^"]*"\}', text, re.S)
    ]


def data_body(name: str) -> bytes:
    return (DATA / name).read_bytes().rstrip(b"\n")


GO_SUITES = [0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC009, 0xC013, 0xC00A, 0xC014, 0x1301, 0x1302, 0x1303]
GO_GROUPS = [0x11EC, 0x11EB, 0x11ED, 0x001D, 0x0017, 0x0018, 0x0019]
GO_SIGALGS = [0x0804, 0x0403, 0x0807, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0503, 0x0603]


def go_hello(*, ticket: bool = False, **kw: Any) -> bytes:
    """A Go (crypto/tls 1.26) default client's hello: the fields howsmyssl looks at."""
    kw.setdefault("versions", [TLS13, TLS12])
    kw.setdefault("groups", GO_GROUPS)
    kw.setdefault("sigalgs", GO_SIGALGS)
    return hello(kw.pop("suites", GO_SUITES), ticket=b"" if ticket else None, **kw)


# --- howsmyssl's tls_test.go ----------------------------------------------------------------------


def test_beast_tls10_only_cbc() -> None:
    """Go client, TLS 1.0 only, [0x002F]; Go splits its first write 1/n-1 (a 1-byte record first)."""
    ch = hello([0x002F])
    able = beast_probe_suite([0x002F], TLS10) is not None
    r = run(ch, TLS10, able_to_detect_n_minus_one_splitting=able, first_app_data_length=1)
    assert r["beast_vuln"] is False and r["able_to_detect_n_minus_one_splitting"] is True
    assert r["tls_version"] == "TLS 1.0" and r["rating"] == BAD  # TLS 1.0 (not asserted upstream)
    # OpenSSL-style splitting (an empty record first) counts too; no splitting does not.
    assert run(ch, TLS10, able_to_detect_n_minus_one_splitting=True, first_app_data_length=0)["beast_vuln"] is False
    r = run(ch, TLS10, able_to_detect_n_minus_one_splitting=True, first_app_data_length=256)
    assert r["beast_vuln"] is True and r["able_to_detect_n_minus_one_splitting"] is True
    # A server that could not watch (no probe suite forced, or no record seen) treats the client as vulnerable.
    r = run(ch, TLS10)
    assert r["beast_vuln"] is True and r["able_to_detect_n_minus_one_splitting"] is False
    r = run(ch, TLS10, able_to_detect_n_minus_one_splitting=True)
    assert r["beast_vuln"] is True and r["able_to_detect_n_minus_one_splitting"] is True
    r = run(ch, TLS10, first_app_data_length=1)  # a length without detection ability means nothing
    assert r["beast_vuln"] is True and r["able_to_detect_n_minus_one_splitting"] is False


def test_beast_tls10_no_cbc() -> None:
    r = run(hello([0x0005]), TLS10, able_to_detect_n_minus_one_splitting=False)
    assert r["beast_vuln"] is False and r["able_to_detect_n_minus_one_splitting"] is False
    assert r["insecure_cipher_suites"] == {"TLS_RSA_WITH_RC4_128_SHA": [RC4]}
    assert r["rating"] == BAD


@pytest.mark.parametrize(("schema", "version"), [("classic", TLS12), ("2026", TLS13)])
def test_beast_tls12_no_cbc(schema: str, version: int) -> None:
    r = run(go_hello(suites=[0xCCA8, 0x1301, 0x1302, 0x1303]), version, schema)
    assert r["beast_vuln"] is False and r["able_to_detect_n_minus_one_splitting"] is False


def test_beast_ignored_above_tls10() -> None:
    """CBC suites and a server that claims it could detect: nothing is set at TLS 1.1 or later."""
    for version in (TLS11, TLS12):
        r = run(hello([0x002F, 0xC013]), version, able_to_detect_n_minus_one_splitting=True, first_app_data_length=500)
        assert r["beast_vuln"] is False and r["able_to_detect_n_minus_one_splitting"] is False


def test_beast_ssl3_counts_as_tls10_or_below() -> None:
    r = run(hello([0x000A]), SSL3)
    assert r["beast_vuln"] is True and r["tls_version"] == "SSL 3.0" and r["rating"] == BAD


@pytest.mark.parametrize(("schema", "version"), [("classic", TLS12), ("2026", TLS13)])
def test_go_default_is_okay(schema: str, version: int) -> None:
    r = run(go_hello(ticket=True), version, schema)
    assert r["rating"] == PROBABLY_OKAY
    assert r["given_cipher_suites"]
    assert r["tls_compression_supported"] is False
    assert r["session_ticket_supported"] is True


SWEET32_CASES = [
    (
        BAD,
        [0xCCA8, 0xC012, 0xC023, 0x000A, 0xC013],
        {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": [SWEET32], "TLS_RSA_WITH_3DES_EDE_CBC_SHA": [SWEET32]},
    ),
    (BAD, [0xCCA8, 0xC012, 0xC023, 0x000A], {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": [SWEET32]}),
    (PROBABLY_OKAY, [0xCCA8, 0xC013, 0xC023, 0x000A, 0xC012], {}),
    (PROBABLY_OKAY, [0xCCA8, 0xC013, 0xC023, 0x000A, 0xC012, 0x0A0A], {}),
    (PROBABLY_OKAY, [0xCCA8, 0xC013, 0xC023, 0x000A, 0xC012, 0x0A0A, 0x00FF], {}),
]


@pytest.mark.parametrize(("rating", "suites", "expected"), SWEET32_CASES, ids=[f"#{i}" for i in range(5)])
@pytest.mark.parametrize("schema", ["classic", "2026"])
def test_sweet32(rating: str, suites: list[int], expected: dict[str, list[str]], schema: str) -> None:
    r = run(hello(suites), TLS12, schema)
    assert r["rating"] == rating
    assert r["insecure_cipher_suites"] == expected
    assert len(r["given_cipher_suites"]) == len(suites)
    if 0x0A0A in suites:
        assert r["given_cipher_suites"][5] == "TLS_GREASE_IS_THE_WORD_0A"


def test_pq_with_mlkem() -> None:
    r = run(go_hello(groups=[0x11EC, 0x001D]), TLS13, "2026")
    assert r["post_quantum_key_agreement"] is True
    assert r["given_named_groups"] == ["X25519MLKEM768", "x25519"]


def test_pq_without_mlkem() -> None:
    r = run(go_hello(groups=[0x001D, 0x0017]), TLS13, "2026")
    assert r["post_quantum_key_agreement"] is False
    assert r["given_named_groups"] == ["x25519", "secp256r1"]


def test_sigalgs_tls13_default() -> None:
    names = run(go_hello(), TLS13, "2026")["given_signature_algorithms"]
    assert names and all(names)
    assert {"ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256", "rsa_pkcs1_sha256"} & set(names)


def test_sigalgs_tls10_empty_but_not_null() -> None:
    r = run(hello([0x002F]), TLS10, "2026")
    assert r["given_signature_algorithms"] == [] and r["given_named_groups"] == []
    assert b'"given_named_groups":[],"given_signature_algorithms":[],' in to_json(r)


@pytest.mark.parametrize(
    ("sigalgs", "names"),
    [
        ([0x0401, 0x0805], ["rsa_pkcs1_sha256", "rsa_pss_rsae_sha384"]),  # CustomListEchoed
        ([0x0A0A, 0x0401, 0x1A1A], ["GREASE_0A", "rsa_pkcs1_sha256", "GREASE_1A"]),  # GREASERenders
        ([0x0904, 0x0905, 0x0906, 0x0401], ["mldsa44", "mldsa65", "mldsa87", "rsa_pkcs1_sha256"]),  # MLDSARenders
        ([0x0710, 0x0401], ["Unknown signature scheme: 0x0710", "rsa_pkcs1_sha256"]),  # UnknownFallback
    ],
)
def test_sigalgs_rendered(sigalgs: list[int], names: list[str]) -> None:
    r = run(hello([0xC02F], sigalgs=sigalgs), TLS12, "2026")
    assert r["given_signature_algorithms"] == names


def test_signature_algorithms_cert_is_not_reported() -> None:
    ch = hello([0xC02F], sigalgs=[0x0401], extra=[Extension(ET.signature_algorithms_cert, encode_u16_list([0x0807]))])
    assert run(ch, TLS12, "2026")["given_signature_algorithms"] == ["rsa_pkcs1_sha256"]


CUTOVER_CLIENTS = [
    # (description, hello, negotiated version, expected at B, I, X; None = not in the upstream table)
    ("max TLS 1.2, no PQ", hello([0xC02F], groups=[0x001D, 0x0017]), TLS12, (PROBABLY_OKAY, IMPROVABLE, BAD)),
    ("TLS 1.1 only", hello([0xC013], groups=[0x001D], legacy_version=TLS11), TLS11, (IMPROVABLE, IMPROVABLE, BAD)),
    ("max TLS 1.2, PQ", hello([0xC02F], groups=[0x11EC, 0x001D]), TLS12, (PROBABLY_OKAY, IMPROVABLE, BAD)),
    ("TLS 1.3, no PQ", go_hello(groups=[0x001D, 0x0017]), TLS13, (PROBABLY_OKAY, IMPROVABLE, BAD)),
    ("TLS 1.3, PQ", go_hello(groups=[0x11EC, 0x001D]), TLS13, (PROBABLY_OKAY, PROBABLY_OKAY, PROBABLY_OKAY)),
]


@pytest.mark.parametrize(
    ("ch", "version", "expected"), [c[1:] for c in CUTOVER_CLIENTS], ids=[c[0] for c in CUTOVER_CLIENTS]
)
def test_rating_cutovers(ch: bytes, version: int, expected: tuple[str, str, str]) -> None:
    assert [run(ch, version, "2026", now)["rating"] for now in (B, I, X)] == list(expected)
    # The classic schema has no cutovers.
    assert len({run(ch, version, "classic", now)["rating"] for now in (B, I, X)}) == 1


def test_cutover_instants_are_inclusive() -> None:
    assert tables.IMPROVABLE_AT == I and tables.BAD_AT == X
    ch = hello([0xC02F], groups=[0x001D])
    tick = timedelta(microseconds=1)
    assert run(ch, TLS12, "2026", I - tick)["rating"] == PROBABLY_OKAY
    assert run(ch, TLS12, "2026", I)["rating"] == IMPROVABLE
    assert run(ch, TLS12, "2026", X - tick)["rating"] == IMPROVABLE
    assert run(ch, TLS12, "2026", X)["rating"] == BAD
    # 10:00 in Los Angeles, whatever the offset the clock is given in.
    pdt, pst = timezone(timedelta(hours=-7)), timezone(timedelta(hours=-8))
    assert run(ch, TLS12, "2026", datetime(2026, 6, 14, 9, 59, 59, tzinfo=pdt))["rating"] == PROBABLY_OKAY
    assert run(ch, TLS12, "2026", datetime(2026, 6, 14, 10, 0, tzinfo=pdt))["rating"] == IMPROVABLE
    assert run(ch, TLS12, "2026", datetime(2026, 12, 14, 9, 59, 59, tzinfo=pst))["rating"] == IMPROVABLE
    assert run(ch, TLS12, "2026", datetime(2026, 12, 14, 10, 0, tzinfo=pst))["rating"] == BAD


# --- howsmyssl's index_test.go TestJSONAPI bodies -------------------------------------------------

GO_CLASSIC_BODY = (
    b'{"given_cipher_suites":["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256","TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",'
    b'"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384","TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",'
    b'"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256","TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",'
    b'"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA","TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",'
    b'"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA","TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA","TLS_AES_128_GCM_SHA256",'
    b'"TLS_AES_256_GCM_SHA384","TLS_CHACHA20_POLY1305_SHA256"],"ephemeral_keys_supported":true,'
    b'"session_ticket_supported":false,"tls_compression_supported":false,"unknown_cipher_suite_supported":false,'
    b'"beast_vuln":false,"able_to_detect_n_minus_one_splitting":false,"insecure_cipher_suites":{},'
    b'"tls_version":"TLS 1.3","rating":"Probably Okay"}'
)
GO_2026_INSERT = (
    b'"given_named_groups":["X25519MLKEM768","SecP256r1MLKEM768","SecP384r1MLKEM1024","x25519","secp256r1",'
    b'"secp384r1","secp521r1"],"given_signature_algorithms":["rsa_pss_rsae_sha256","ecdsa_secp256r1_sha256",'
    b'"ed25519","rsa_pss_rsae_sha384","rsa_pss_rsae_sha512","rsa_pkcs1_sha256","rsa_pkcs1_sha384",'
    b'"rsa_pkcs1_sha512","ecdsa_secp384r1_sha384","ecdsa_secp521r1_sha512"],"post_quantum_key_agreement":true,'
)


def test_json_api_classic_body() -> None:
    """A TLS 1.3-capable Go client on the classic (TLS 1.2-max) server reads "TLS 1.3"."""
    assert to_json(run(go_hello(), TLS12, "classic")) == GO_CLASSIC_BODY


def test_json_api_2026_body() -> None:
    cut = GO_CLASSIC_BODY.index(b'"ephemeral_keys_supported"')
    expected = GO_CLASSIC_BODY[:cut] + GO_2026_INSERT + GO_CLASSIC_BODY[cut:]
    assert to_json(run(go_hello(), TLS13, "2026")) == expected


# --- real ESP-IDF answers and Mbed TLS hellos -----------------------------------------------------


def test_check_data_file_is_the_example_output() -> None:
    body = data_body("esp-idf-2024-02-check.json")
    assert len(body) == 2545  # the response's Content-Length
    # Two answers (crt-bundle run and cacert_buf run), both these bytes.
    assert example_output_bodies() == [body, body]


def test_esp32_profile_given_cipher_suites_are_the_example_list() -> None:
    r = run(profile_hello("esp32-mbedtls"), TLS12)
    assert r["given_cipher_suites"] == SEED_SUITE_NAMES
    assert len(SEED_SUITE_NAMES) == 59
    assert json.loads(data_body("esp-idf-2024-02-check.json"))["given_cipher_suites"] == SEED_SUITE_NAMES


def test_esp32_profile_json_is_the_example_body() -> None:
    body = to_json(run(profile_hello("esp32-mbedtls"), TLS12, "classic", SEED_TIME))
    assert len(body) == 2545
    assert body == data_body("esp-idf-2024-02-check.json")
    assert body.endswith(b'"tls_version":"TLS 1.2","rating":"Probably Okay"}')


def test_esp32_through_our_server() -> None:
    """End to end: our TLS 1.2 server's client_hello_raw and negotiated version give the example's body."""
    ca = make_ca()
    leaf = make_leaf(ca, ["www.howsmyssl.com"])
    server = ServerConnection(ServerConfig(versions=(ProtocolVersion.TLS1_2,), certificates=(leaf.certified_key(),)))
    client = ClientConnection(client_config("esp32-mbedtls", verifier=WebPkiVerifier([ca.cert])), "www.howsmyssl.com")
    client.start_handshake()
    cev, sev = shuttle(client, server)
    assert any(isinstance(e, HandshakeComplete) for e in cev) and any(isinstance(e, HandshakeComplete) for e in sev)
    assert server.negotiated_version is not None
    result = check(server.client_hello_raw, negotiated_version=server.negotiated_version, now=SEED_TIME)
    assert to_json(result) == data_body("esp-idf-2024-02-check.json")


def test_esp_idf_2021_capture() -> None:
    """Mbed TLS 2.x (2021): 49 suites with DHE_RSA; the hello is rebuilt from the names in the body."""
    expected = data_body("esp-idf-2021-09-check.json")
    assert len(expected) == 2091  # the response's Content-Length
    names = json.loads(expected)["given_cipher_suites"]
    assert len(names) == 49 and names[-1] == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
    ch = hello(
        [suite_id(n) for n in names],
        groups=[0x0019, 0x001C, 0x0018, 0x001B, 0x0017, 0x001A],  # Mbed TLS 2.x's curve list; not reported in classic
        sigalgs=[0x0603, 0x0601, 0x0503, 0x0501, 0x0403, 0x0401],
        ticket=b"",
    )
    assert to_json(run(ch, TLS12, "classic", datetime(2021, 9, 7, 8, 30, tzinfo=UTC))) == expected


def test_esp32_in_2026() -> None:
    """The 2026 cutovers: the ESP-IDF example (TLS 1.2, no ML-KEM) slides from Probably Okay to Bad."""
    ch = profile_hello("esp32-mbedtls")
    assert [run(ch, TLS12, "2026", now)["rating"] for now in (B, I, X)] == [PROBABLY_OKAY, IMPROVABLE, BAD]
    r = run(ch, TLS12, "2026", X)
    assert r["given_named_groups"] == [
        "x25519", "secp256r1", "secp384r1", "secp521r1", "brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1",
    ]  # fmt: skip
    assert r["given_signature_algorithms"] == [
        "ecdsa_secp521r1_sha512", "rsa_pkcs1_sha512", "ecdsa_secp384r1_sha384",
        "rsa_pkcs1_sha384", "ecdsa_secp256r1_sha256", "rsa_pkcs1_sha256",
    ]  # fmt: skip
    assert r["post_quantum_key_agreement"] is False
    assert r["given_cipher_suites"] == SEED_SUITE_NAMES  # none of the 59 is new since 2019


def _captured(name: str) -> bytes:
    data = json.loads((DATA / "mbedtls-clienthellos.json").read_text())
    (h,) = [h for h in data["hellos"] if h["name"] == name]
    suites = bytes.fromhex(h["cipher_suites"])
    comp = bytes.fromhex(h["compression_methods"])
    exts = bytes.fromhex(h["extensions"])
    body = (
        bytes.fromhex(h["legacy_version"])
        + bytes(32)
        + bytes([h["session_id_length"]])
        + bytes(h["session_id_length"])
        + len(suites).to_bytes(2, "big")
        + suites
        + bytes([len(comp)])
        + comp
        + len(exts).to_bytes(2, "big")
        + exts
    )
    message = handshake_message(1, body)
    assert len(message) == h["record_length"]
    return message


def test_captured_mbedtls_hellos() -> None:
    seed = data_body("esp-idf-2024-02-check.json")
    # The real Mbed TLS hello (TLS 1.2-only build), first connection and ticket resumption: the example's body.
    assert to_json(run(_captured("esp32-tls12"), TLS12)) == seed
    assert to_json(run(_captured("esp32-tls12-ticket"), TLS12)) == seed
    # Same bytes as our profile's hello, apart from the random.
    ours = parse_client_hello(profile_hello("esp32-mbedtls"))
    real = parse_client_hello(_captured("esp32-tls12"))
    assert (ours.cipher_suites, ours.extensions) == (real.cipher_suites, real.extensions)
    # A TLS 1.3 build forced to TLS 1.2: same suites, so the same classic answer.
    assert to_json(run(_captured("esp32-tls13-build-forced-tls12"), TLS12)) == seed
    # A TLS 1.3-capable build on the classic TLS 1.2-max server: "TLS 1.3" although 1.2 was negotiated.
    r = run(_captured("esp32-tls13-build"), TLS12)
    assert r["given_cipher_suites"][:4] == [
        "TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256",
    ]  # fmt: skip
    assert r["given_cipher_suites"][4:] == SEED_SUITE_NAMES
    assert (r["tls_version"], r["rating"]) == ("TLS 1.3", PROBABLY_OKAY)
    r = run(_captured("esp32-tls13-build"), TLS13, "2026", X)
    assert (r["tls_version"], r["post_quantum_key_agreement"], r["rating"]) == ("TLS 1.3", False, BAD)
    # TLS 1.3 resumption hello: TLS 1.3 suites + SCSV only, so no "DHE_" name: the Improvable quirk.
    r = run(_captured("esp32-tls13-resumption"), TLS13)
    assert r["given_cipher_suites"] == [
        "TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256",
        "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    ]  # fmt: skip
    assert r["ephemeral_keys_supported"] is False and r["session_ticket_supported"] is False
    assert r["rating"] == IMPROVABLE


# --- vectors derived from client_info.go's rules --------------------------------------------------


def test_derived_grease_first() -> None:
    r = run(hello([0x0A0A, 0xC02F, 0x00FF]))
    assert r["given_cipher_suites"] == [
        "TLS_GREASE_IS_THE_WORD_0A",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    ]
    assert r["unknown_cipher_suite_supported"] is False and r["rating"] == PROBABLY_OKAY


@pytest.mark.parametrize(("suite", "name"), [(0x1234, "0x1234"), (0x0047, "0x0047")])
def test_derived_unknown_suite(suite: int, name: str) -> None:
    r = run(hello([0xC02F, suite]))
    assert r["given_cipher_suites"][1] == f"Some unknown cipher suite: {name}"
    assert r["unknown_cipher_suite_supported"] is True and r["rating"] == BAD
    assert r["insecure_cipher_suites"] == {}


def test_derived_weird_nss() -> None:
    r = run(hello([0xFEFF, 0xC02F]))
    assert r["given_cipher_suites"][0] == "SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA"
    assert r["insecure_cipher_suites"] == {"SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA": [WEIRD_NSS]}
    assert r["unknown_cipher_suite_supported"] is False and r["rating"] == BAD
    r = run(hello([0xC02F, 0xFEFE]))
    assert r["insecure_cipher_suites"] == {"SSL_RSA_FIPS_WITH_DES_CBC_SHA": [WEIRD_NSS]}


def test_derived_compression() -> None:
    r = run(hello([0xC02F], compression=b"\x01\x00"))
    assert r["tls_compression_supported"] is True and r["rating"] == BAD


def test_derived_no_ephemeral() -> None:
    r = run(hello([0x009C, 0x002F]))
    assert r["ephemeral_keys_supported"] is False and r["rating"] == IMPROVABLE


def test_derived_rc4() -> None:
    r = run(hello([0xC02F, 0xC011]))
    assert r["insecure_cipher_suites"] == {"TLS_ECDHE_RSA_WITH_RC4_128_SHA": [RC4]}
    assert r["rating"] == BAD


def test_derived_supported_versions_beat_the_negotiated_one() -> None:
    r = run(hello([0xC02F], versions=[0x7A7A, TLS13, TLS12]), TLS12)
    assert r["tls_version"] == "TLS 1.3" and r["rating"] == PROBABLY_OKAY


def test_derived_tls13_suites_only() -> None:
    r = run(hello([0x1301, 0x1302, 0x1303], versions=[TLS13]), TLS13)
    assert r["ephemeral_keys_supported"] is False and r["rating"] == IMPROVABLE


# --- our own hellos -------------------------------------------------------------------------------


@pytest.mark.parametrize("negotiated", [TLS13, TLS12])
def test_default_profile_both_schemas(negotiated: int) -> None:
    """Our default TLS 1.3 hello (X25519MLKEM768 first) before and after the 2026-12-14 cutover."""
    ch = profile_hello("default")
    before, after = datetime(2026, 12, 14, 17, 59, 59, tzinfo=UTC), datetime(2026, 12, 14, 18, 0, tzinfo=UTC)
    for now in (before, after):
        classic = run(ch, negotiated, "classic", now)
        assert classic["given_cipher_suites"][:3] == [
            "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
        ]  # fmt: skip
        assert classic["given_cipher_suites"][-1] == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
        assert (classic["tls_version"], classic["rating"], classic["ephemeral_keys_supported"]) == (
            "TLS 1.3",
            PROBABLY_OKAY,
            True,
        )
        r = run(ch, negotiated, "2026", now)
        assert r["given_named_groups"][0] == "X25519MLKEM768" and r["post_quantum_key_agreement"] is True
        assert r["tls_version"] == "TLS 1.3" and r["rating"] == PROBABLY_OKAY
        assert {k: v for k, v in r.items() if k in CLASSIC_KEYS} == classic
    # Without the hybrid group the same hello is downgraded on schedule.
    no_pq = profile_hello("default", groups=(NamedGroup.x25519, NamedGroup.secp256r1))
    assert run(no_pq, negotiated, "2026", before)["rating"] == IMPROVABLE
    assert run(no_pq, negotiated, "2026", after)["rating"] == BAD
    assert run(no_pq, negotiated, "2026", PRE)["rating"] == PROBABLY_OKAY
    assert run(no_pq, negotiated, "classic", after)["rating"] == PROBABLY_OKAY


def test_esp32_tls13_profile() -> None:
    r = run(profile_hello("esp32-mbedtls-tls13"), TLS12)
    assert r["tls_version"] == "TLS 1.3" and r["rating"] == PROBABLY_OKAY
    assert r["given_cipher_suites"][4:] == SEED_SUITE_NAMES


def test_hello_retry_request_keeps_the_first_hello() -> None:
    """The server keeps the first ClientHello; after an HRR the answer still describes it."""
    ca = make_ca()
    leaf = make_leaf(ca, ["www.howsmyssl.com"])
    server = ServerConnection(
        ServerConfig(
            versions=(ProtocolVersion.TLS1_3,), groups=(NamedGroup.secp256r1,), certificates=(leaf.certified_key(),)
        )
    )
    client = ClientConnection(client_config("default", verifier=WebPkiVerifier([ca.cert])), "www.howsmyssl.com")
    client.start_handshake()
    first = client.data_to_send()
    server.receive_data(first)
    cev, _ = shuttle(client, server)
    (done,) = [e for e in cev if isinstance(e, HandshakeComplete)]
    assert done.group == NamedGroup.secp256r1  # not in the first hello's key shares: an HRR happened
    shares = parse_client_hello(first[5:]).ext(ET.key_share)
    assert shares is not None and b"\x00\x17" not in shares[2:4]
    assert server.negotiated_version == TLS13
    assert server.client_hello_raw == first[5:]
    r = check(server.client_hello_raw, negotiated_version=TLS13, schema="2026", now=PRE)
    assert r["given_named_groups"][0] == "X25519MLKEM768" and r["rating"] == PROBABLY_OKAY


# --- GREASE, unknown ids, tables ------------------------------------------------------------------


def test_grease_everywhere() -> None:
    ch = hello(
        [0xDADA, 0x1301, 0xC02F, 0x2A2A],
        versions=[0xFAFA, TLS13, TLS12],
        groups=[0x3A3A, 0x11EC, 0x001D],
        sigalgs=[0x4A4A, 0x0804],
    )
    r = run(ch, TLS13, "2026")
    assert r["given_cipher_suites"] == [
        "TLS_GREASE_IS_THE_WORD_DA",
        "TLS_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_GREASE_IS_THE_WORD_2A",
    ]
    assert r["given_named_groups"] == ["GREASE_3A", "X25519MLKEM768", "x25519"]
    assert r["given_signature_algorithms"] == ["GREASE_4A", "rsa_pss_rsae_sha256"]
    assert r["tls_version"] == "TLS 1.3"  # the GREASE version is not a name
    assert r["unknown_cipher_suite_supported"] is False and r["rating"] == PROBABLY_OKAY


def test_unknown_named_group() -> None:
    r = run(hello([0xC02F], groups=[0x0ABC, 0x001D]), TLS12, "2026")
    assert r["given_named_groups"] == ["Unknown named group: 0x0abc", "x25519"]


@pytest.mark.parametrize("suite", [0x001C, 0x001D, 0x0080, 0x0082, 0x0083, 0xD004, 0xFF00, 0x0A0B, 0x00DE])
def test_unknown_suites_are_bad(suite: int) -> None:
    for schema in ("classic", "2026"):
        r = run(hello([0xC02F, suite]), TLS12, schema)
        assert r["given_cipher_suites"][1] == f"Some unknown cipher suite: 0x{suite:04x}"
        assert r["unknown_cipher_suite_supported"] is True and r["rating"] == BAD
    assert run(hello([0xC02F, 0x00DE]))["given_cipher_suites"][1] == "Some unknown cipher suite: 0x00de"


@pytest.mark.parametrize(
    ("suite", "name"),
    [
        (0x1306, "TLS_AEGIS_256_SHA512"),
        (0x1307, "TLS_AEGIS_128L_SHA256"),
        (0x00C6, "TLS_SM4_GCM_SM3"),
        (0xD001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256"),
        (0xC100, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC"),
    ],
)
def test_ids_new_since_2019_are_unknown_in_classic(suite: int, name: str) -> None:
    classic = run(hello([0xC02F, suite]), TLS12, "classic")
    assert classic["given_cipher_suites"][1] == f"Some unknown cipher suite: 0x{suite:04x}"
    assert classic["rating"] == BAD
    modern = run(hello([0xC02F, suite]), TLS12, "2026")
    assert modern["given_cipher_suites"][1] == name
    assert modern["unknown_cipher_suite_supported"] is False


def test_later_real_suites_that_flag_3des() -> None:
    # TLS_FALLBACK_SCSV is not "meta"; AEGIS (2026 table) is not in the TLS 1.3 exemption.
    r = run(hello([0xC02F, 0x000A, 0x5600]))
    assert r["insecure_cipher_suites"] == {"TLS_RSA_WITH_3DES_EDE_CBC_SHA": [SWEET32]}
    r = run(hello([0xC02F, 0x000A, 0x1306]), TLS12, "2026")
    assert r["insecure_cipher_suites"] == {"TLS_RSA_WITH_3DES_EDE_CBC_SHA": [SWEET32]}
    # In classic mode AEGIS is unknown: unknown ids neither flag nor clear (the client is Bad anyway).
    r = run(hello([0xC02F, 0x000A, 0x1306]))
    assert r["insecure_cipher_suites"] == {} and r["rating"] == BAD
    # TLS 1.3 suites, GREASE, the renegotiation SCSV and weird NSS ids after 3DES are fine.
    r = run(hello([0xC02F, 0x000A, 0x1301, 0x1305, 0xEAEA, 0x00FF, 0xFEFE]), TLS12)
    assert list(r["insecure_cipher_suites"]) == ["SSL_RSA_FIPS_WITH_DES_CBC_SHA"]


def test_insecure_reasons_accumulate() -> None:
    r = run(hello([0x0017, 0x001B, 0x0060, 0x0027, 0x002A, 0x0001, 0x0001, 0xC02F]))
    assert r["insecure_cipher_suites"] == {
        "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5": [FEW_BIT, NULL_AUTH, RC4],
        "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA": [NULL_AUTH, SWEET32],
        "TLS_RSA_EXPORT1024_WITH_RC4_56_MD5": [FEW_BIT],  # few-bit but not in the RC4 list
        "TLS_RSA_WITH_NULL_MD5": [NULL, NULL],  # listed twice, flagged twice
    }
    # The 40-bit KRB5 RC2 suites are in no list (0x0027, 0x002A), as upstream.
    assert "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA" in r["given_cipher_suites"]
    assert r["rating"] == BAD
    # Two 3DES suites pending, the same one twice: each occurrence gets its reason.
    r = run(hello([0x000A, 0x000A, 0xC02F]))
    assert r["insecure_cipher_suites"] == {"TLS_RSA_WITH_3DES_EDE_CBC_SHA": [SWEET32, SWEET32]}


def test_insecure_keys_sorted_in_json() -> None:
    r = run(hello([0xC011, 0x0005, 0x0001, 0xC02F]))
    assert list(r["insecure_cipher_suites"]) == [
        "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        "TLS_RSA_WITH_RC4_128_SHA",
        "TLS_RSA_WITH_NULL_MD5",
    ]  # order found
    text = to_json(r).decode()
    start = text.index('"insecure_cipher_suites":')
    keys = re.findall(r'"(TLS_[A-Z0-9_]+)":\[', text[start:])
    assert (
        keys
        == sorted(keys)
        == [
            "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
            "TLS_RSA_WITH_NULL_MD5",
            "TLS_RSA_WITH_RC4_128_SHA",
        ]
    )


@pytest.mark.parametrize(
    ("name", "suite", "ephemeral"),
    [
        ("ECDHE", 0xC02F, True),
        ("DHE", 0x009E, True),
        ("DHE_PSK", 0x00AA, True),
        ("PSK_DHE (IANA word order)", 0xC0AA, True),
        ("ChaCha _OLD", 0xCC13, True),
        ("static ECDH", 0xC031, False),
        ("static DH", 0x0030, False),
        ("DH_anon", 0x0034, False),
        ("RSA", 0x009C, False),
        ("PSK", 0x00A8, False),
        ("CECPQ1", 0x16B7, False),
        ("TLS 1.3", 0x1301, False),
    ],
)
def test_ephemeral_is_a_name_match(name: str, suite: int, ephemeral: bool) -> None:
    assert run(hello([suite]))["ephemeral_keys_supported"] is ephemeral, name


def test_session_ticket_does_not_affect_the_rating() -> None:
    without = run(hello([0xC02F]))
    empty = run(hello([0xC02F], ticket=b""))
    full = run(hello([0xC02F], ticket=bytes(176)))
    assert (without["session_ticket_supported"], empty["session_ticket_supported"]) == (False, True)
    assert full["session_ticket_supported"] is True
    assert without["rating"] == empty["rating"] == full["rating"] == PROBABLY_OKAY


@pytest.mark.parametrize(
    ("version", "sv", "name", "rating"),
    [
        (SSL3, None, "SSL 3.0", BAD),
        (TLS10, None, "TLS 1.0", BAD),
        (TLS11, None, "TLS 1.1", IMPROVABLE),
        (TLS12, None, "TLS 1.2", PROBABLY_OKAY),
        (TLS13, None, "TLS 1.3", PROBABLY_OKAY),
        (TLS12, [0x7F12], "TLS 1.3", PROBABLY_OKAY),  # draft 18
        (TLS12, [0x7F21, TLS12], "TLS 1.3", PROBABLY_OKAY),  # draft 33
        (TLS12, [0x7F13], "TLS 1.2", PROBABLY_OKAY),  # draft 19 is not in the table
        (TLS11, [TLS12, TLS11], "TLS 1.2", PROBABLY_OKAY),  # the maximum feeds the rating too
        (TLS13, [TLS12], "TLS 1.3", PROBABLY_OKAY),  # never lowered
        (0x0305, None, "an unknown version of SSL/TLS", PROBABLY_OKAY),
        (0x0200, [0x0A0A], "an unknown version of SSL/TLS", BAD),  # below TLS 1.0 numerically
    ],
)
def test_tls_version(version: int, sv: list[int] | None, name: str, rating: str) -> None:
    r = run(hello([0xC02F], versions=sv), version)
    assert (r["tls_version"], r["rating"]) == (name, rating)


# --- BEAST helpers ----------------------------------------------------------------------------------


def test_beast_probe_suite() -> None:
    assert beast_probe_suite([0xC013, 0x0035, 0x002F], TLS10) == 0x0035  # the client's order
    assert beast_probe_suite([0x002F, 0x0035], SSL3) == 0x002F
    assert beast_probe_suite([0x003C], TLS10) is None  # SHA-256 suite: TLS 1.2 only
    assert beast_probe_suite([0x000A, 0xC013], TLS10) is None
    assert beast_probe_suite([0x002F], TLS11) is None
    assert beast_probe_suite([0x002F], TLS12) is None


def test_n_minus_one_split() -> None:
    assert n_minus_one_split(0) and n_minus_one_split(1)
    assert not n_minus_one_split(2) and not n_minus_one_split(16384)
    with pytest.raises(ValueError):
        n_minus_one_split(-1)


def test_beast_flags_need_a_cbc_suite() -> None:
    # TLS 1.0 with only non-CBC suites: nothing set, even when the server says it could detect.
    r = run(hello([0xC011, 0x0005]), TLS10, able_to_detect_n_minus_one_splitting=True, first_app_data_length=300)
    assert r["beast_vuln"] is False and r["able_to_detect_n_minus_one_splitting"] is False
    # A TLS 1.0 client offering CBC suites but none of the probe suites cannot be checked: vulnerable.
    ch = hello([0xC013, 0xC014])
    able = beast_probe_suite([0xC013, 0xC014], TLS10) is not None
    r = run(ch, TLS10, able_to_detect_n_minus_one_splitting=able, first_app_data_length=1)
    assert r["beast_vuln"] is True and r["able_to_detect_n_minus_one_splitting"] is False and r["rating"] == BAD


# --- errors ---------------------------------------------------------------------------------------


def test_bad_inputs() -> None:
    ch = hello([0xC02F])
    with pytest.raises(ValueError, match="timezone-aware"):
        check(ch, negotiated_version=TLS12, now=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="schema"):
        check(ch, negotiated_version=TLS12, now=PRE, schema="2025")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negotiated_version"):
        check(ch, negotiated_version=0x10000, now=PRE)
    with pytest.raises(ValueError, match="not a ClientHello"):
        check(b"\x02" + ch[1:], negotiated_version=TLS12, now=PRE)
    with pytest.raises(ValueError, match="not a ClientHello"):
        check(b"\x01\x00", negotiated_version=TLS12, now=PRE)
    with pytest.raises(ValueError, match="length"):
        check(ch + b"\x00", negotiated_version=TLS12, now=PRE)
    record = b"\x16\x03\x03" + len(ch).to_bytes(2, "big") + ch
    with pytest.raises(ValueError):
        check(record, negotiated_version=TLS12, now=PRE)  # a record, not a handshake message
    bad_groups = hello([0xC02F], extra=[Extension(ET.supported_groups, b"\x00\x03\x00\x1d\x00")])
    with pytest.raises(ValueError):
        check(bad_groups, negotiated_version=TLS12, now=PRE)


def test_result_is_fresh_and_classic_ignores_the_clock() -> None:
    ch = hello([0xC02F, 0xC011])
    a, b = run(ch), run(ch, now=X)
    assert a == b and a is not b
    a["insecure_cipher_suites"]["x"] = []
    assert "x" not in run(ch)["insecure_cipher_suites"]


# --- JSON printing --------------------------------------------------------------------------------


def test_to_json_like_go() -> None:
    assert to_json({"b": True, "a": False}) == b'{"b":true,"a":false}'  # struct order kept
    assert to_json({"m": {"b": ["2"], "a": ["1"], "B": []}}) == b'{"m":{"B":[],"a":["1"],"b":["2"]}}'  # map sorted
    assert to_json({"n": None, "l": [], "m": {}, "i": 7}) == b'{"n":null,"l":[],"m":{},"i":7}'
    assert to_json({"s": "<a & b>"}) == b'{"s":"\\u003ca \\u0026 b\\u003e"}'
    assert to_json({"s": 'q"b\\'}) == b'{"s":"q\\"b\\\\"}'
    assert to_json({"s": "\n\r\t\b\f\x00\x1f\x7f"}) == b'{"s":"\\n\\r\\t\\b\\f\\u0000\\u001f\x7f"}'
    assert to_json({"s": "caf\u00e9 \u2028\u2029"}) == '{"s":"café \\u2028\\u2029"}'.encode()
    assert to_json({"s": "\ud800"}) == '{"s":"\ufffd"}'.encode()
    with pytest.raises(TypeError):
        to_json({"x": 1.5})


def test_to_json_of_a_result() -> None:
    r = run(hello([0x0A0A, 0xC02F, 0xC011, 0x1234]), TLS12, "2026", X)
    body = to_json(r)
    assert b" " not in re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', body)  # compact: spaces only inside strings
    assert not body.endswith(b"\n")
    assert json.loads(body) == r
    assert list(json.loads(body)) == KEYS_2026


# --- the package stays sans-I/O -------------------------------------------------------------------


def test_howsmyssl_package_is_sans_io() -> None:
    forbidden = {"socket", "asyncio", "time", "selectors", "ssl", "threading"}
    package = Path(howsmyssl_pkg.__file__).parent
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & forbidden, f"{path.name} imports {names}"
        assert len(path.read_text().splitlines()) < 800, path.name
