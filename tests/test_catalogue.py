"""Cipher-suite catalogue (tls/catalogue.py): IANA names, howsmyssl tables, parsing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from https_request.tls import catalogue as cat
from https_request.tls.catalogue import (
    CLASSIC_EXCLUDED,
    CLASSIC_SUITE_NAMES,
    HOWSMYSSL_EXTRAS,
    IANA_NAMES,
    IMPLEMENTED,
    IMPLEMENTED_TLS12,
    IMPLEMENTED_TLS13,
    NSS_FIPS_NAMES,
    OPENSSL_NAMES,
    SUITE_NAMES,
    grease_name,
    in_classic_table,
    is_implemented,
    parse_cipher_list,
    suite_id,
    suite_name,
)
from https_request.tls.suites import GREASE_IDS, is_grease


def _expand(*spans: tuple[int, int]) -> set[int]:
    return {i for lo, hi in spans for i in range(lo, hi + 1)}


# howsmyssl's all_suites.go coverage (GitHub jmhodges/howsmyssl, 2026 table), written out here on its own,
# independent of the module.
COVERAGE_2026 = _expand(
    (0x0000, 0x001B),
    (0x001E, 0x0046),
    (0x0060, 0x0071),
    (0x0081, 0x0081),
    (0x0084, 0x00C7),
    (0x00FF, 0x00FF),
    (0x1301, 0x1307),
    (0x16B7, 0x16BA),
    (0x5600, 0x5600),
    (0xC001, 0xC0B5),
    (0xC100, 0xC106),
    (0xCC13, 0xCC15),
    (0xCCA8, 0xCCAE),
    (0xD001, 0xD003),
    (0xD005, 0xD005),
    (0xFF85, 0xFF85),
)
NOT_IN_CLASSIC = _expand(
    (0x006E, 0x0071),
    (0x00C6, 0x00C7),
    (0x1306, 0x1307),
    (0xC0B0, 0xC0B5),
    (0xC100, 0xC106),
    (0xD001, 0xD003),
    (0xD005, 0xD005),
)
GREASE = {0x0A0A + 0x1010 * i for i in range(16)}

EXTRAS = {
    0x0081: "TLS_GOST2001-GOST89-GOST89",
    0xFF85: "TLS_GOST2012256-GOST89-GOST89",
    0xCC13: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD",
    0xCC14: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256_OLD",
    0xCC15: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD",
    0x0060: "TLS_RSA_EXPORT1024_WITH_RC4_56_MD5",
    0x0061: "TLS_RSA_EXPORT1024_WITH_RC2_CBC_56_MD5",
    0x0062: "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA",
    0x0063: "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA",
    0x0064: "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA",
    0x0065: "TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA",
    0x0066: "TLS_DHE_DSS_WITH_RC4_128_SHA",
    0x16B7: "TLS_CECPQ1_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0x16B8: "TLS_CECPQ1_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0x16B9: "TLS_CECPQ1_RSA_WITH_AES_256_GCM_SHA384",
    0x16BA: "TLS_CECPQ1_ECDSA_WITH_AES_256_GCM_SHA384",
}

# given_cipher_suites of the ESP-IDF example's howsmyssl output (its README's Example Output, 2024, classic era).
SEED_SUITES = [
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
    "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
    "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_256_CCM",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CCM_8",
    "TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384",
    "TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384",
    "TLS_RSA_WITH_ARIA_256_GCM_SHA384",
    "TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384",
    "TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384",
    "TLS_RSA_WITH_ARIA_256_CBC_SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_128_CCM",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CCM_8",
    "TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256",
    "TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256",
    "TLS_RSA_WITH_ARIA_128_GCM_SHA256",
    "TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256",
    "TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256",
    "TLS_RSA_WITH_ARIA_128_CBC_SHA256",
    "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
]
EXAMPLE_CHECK = Path(__file__).parent / "data" / "howsmyssl" / "esp-idf-2024-02-check.json"


# --- table contents and counts ------------------------------------------------------------------


def test_counts() -> None:
    assert len(IANA_NAMES) == 356
    assert len(HOWSMYSSL_EXTRAS) == 16
    assert len(GREASE_IDS) == 16
    assert len(SUITE_NAMES) == 388  # howsmyssl 2026 table
    assert len(CLASSIC_SUITE_NAMES) == 363  # howsmyssl classic (2019) table
    assert len(CLASSIC_EXCLUDED) == 25


def test_tables_follow_howsmyssl_rules() -> None:
    # 2026 table = the coverage ranges + the 16 GREASE ids, nothing else.
    assert set(SUITE_NAMES) == COVERAGE_2026 | GREASE
    assert len(COVERAGE_2026 | GREASE) == 388
    # Classic = the same without the listed ranges.
    assert set(CLASSIC_EXCLUDED) == NOT_IN_CLASSIC
    assert set(CLASSIC_SUITE_NAMES) == (COVERAGE_2026 | GREASE) - NOT_IN_CLASSIC
    assert len((COVERAGE_2026 | GREASE) - NOT_IN_CLASSIC) == 363
    # No id renamed between the two.
    assert all(SUITE_NAMES[k] == v for k, v in CLASSIC_SUITE_NAMES.items())
    # Built from its three parts, which do not overlap.
    assert set(IANA_NAMES).isdisjoint(HOWSMYSSL_EXTRAS)
    assert set(IANA_NAMES).isdisjoint(GREASE_IDS)
    assert dict(SUITE_NAMES) == {**IANA_NAMES, **HOWSMYSSL_EXTRAS, **{g: grease_name(g) for g in GREASE_IDS}}
    assert list(SUITE_NAMES) == sorted(SUITE_NAMES)


def test_outside_the_table() -> None:
    for unknown in (0x001C, 0x001D, 0x0047, 0x005F, 0x0080, 0x0082, 0x0083, 0x00C8, 0x00FE, 0x1300, 0x1308,
                    0xC0B6, 0xC107, 0xCCAF, 0xD000, 0xD004, 0xD006, 0xFEFE, 0xFEFF, 0xFF00, 0xFFFF):  # fmt: skip
        assert unknown not in SUITE_NAMES, hex(unknown)
    assert dict(NSS_FIPS_NAMES) == {
        0xFEFE: "SSL_RSA_FIPS_WITH_DES_CBC_SHA",
        0xFEFF: "SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA",
    }


def test_extras_verbatim() -> None:
    assert dict(HOWSMYSSL_EXTRAS) == EXTRAS
    for suite in EXTRAS:
        assert in_classic_table(suite)


@pytest.mark.parametrize(
    ("suite", "name"),
    [
        (0x0000, "TLS_NULL_WITH_NULL_NULL"),
        (0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
        (0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5"),
        (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"),
        (0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
        (0x00C6, "TLS_SM4_GCM_SM3"),
        (0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"),
        (0x1301, "TLS_AES_128_GCM_SHA256"),
        (0x1302, "TLS_AES_256_GCM_SHA384"),
        (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
        (0x1304, "TLS_AES_128_CCM_SHA256"),
        (0x1305, "TLS_AES_128_CCM_8_SHA256"),
        (0x1306, "TLS_AEGIS_256_SHA512"),
        (0x1307, "TLS_AEGIS_128L_SHA256"),
        (0x5600, "TLS_FALLBACK_SCSV"),
        (0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
        (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        (0xC09C, "TLS_RSA_WITH_AES_128_CCM"),
        (0xC0AA, "TLS_PSK_DHE_WITH_AES_128_CCM_8"),
        (0xC0AB, "TLS_PSK_DHE_WITH_AES_256_CCM_8"),
        (0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"),
        (0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"),
        (0xC0B4, "TLS_SHA256_SHA256"),
        (0xC100, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC"),
        (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
        (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
        (0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256"),
        (0xD005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256"),
        (0x006E, "TLS_ASCONAEAD128_ASCONHASH256"),
    ],
)
def test_spot_checks(suite: int, name: str) -> None:
    assert SUITE_NAMES[suite] == name
    assert IANA_NAMES[suite] == name
    assert suite_name(suite) == name
    assert suite_id(name) == suite


def test_names_are_well_formed_and_unique() -> None:
    upper = [n.upper() for n in SUITE_NAMES.values()]
    assert len(set(upper)) == len(upper)
    for suite, name in IANA_NAMES.items():
        assert re.fullmatch(r"TLS_[A-Za-z0-9_]+", name), (hex(suite), name)


def test_classic_membership() -> None:
    assert in_classic_table(0xC02F)
    assert in_classic_table(0x1301)
    assert in_classic_table(0x0A0A)
    assert not in_classic_table(0x1306)
    assert not in_classic_table(0xD001)
    assert not in_classic_table(0xFEFE)
    assert 0x1306 in SUITE_NAMES


# --- GREASE -------------------------------------------------------------------------------------


def test_grease() -> None:
    assert set(GREASE_IDS) == GREASE
    assert grease_name(0x0A0A) == "TLS_GREASE_IS_THE_WORD_0A"
    assert grease_name(0xFAFA) == "TLS_GREASE_IS_THE_WORD_FA"
    assert suite_name(0xBABA) == "TLS_GREASE_IS_THE_WORD_BA"
    assert suite_id("tls_grease_is_the_word_da") == 0xDADA
    for g in GREASE:
        assert is_grease(g)
        assert SUITE_NAMES[g] == f"TLS_GREASE_IS_THE_WORD_{g >> 8:02X}"
    for not_g in (0x0A1A, 0x1A0A, 0x0A0B, 0x0000, 0x00FF, 0xAAAB):
        assert not is_grease(not_g)
        with pytest.raises(ValueError, match="not a GREASE"):
            grease_name(not_g)


# --- suite_name / suite_id ----------------------------------------------------------------------


def test_suite_name_unknown_is_hex() -> None:
    assert suite_name(0x00AB) == "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384"
    assert suite_name(0x001C) == "0x001c"
    assert suite_name(0xD004) == "0xd004"
    assert suite_name(0xFFFF) == "0xffff"
    assert suite_name(0xFEFF) == "SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA"
    for bad in (-1, 0x10000):
        with pytest.raises(ValueError, match="out of range"):
            suite_name(bad)


@given(st.integers(min_value=0, max_value=0xFFFF))
def test_name_id_round_trip(suite: int) -> None:
    assert suite_id(suite_name(suite)) == suite


def test_suite_id_forms() -> None:
    assert suite_id("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == 0xC02F
    assert suite_id("tls_ecdhe_rsa_with_aes_128_gcm_sha256") == 0xC02F
    assert suite_id("  TLS_DH_anon_WITH_AES_128_CBC_SHA  ") == 0x0034
    assert suite_id("TLS_DH_ANON_WITH_AES_128_CBC_SHA") == 0x0034
    assert suite_id("0x1301") == 0x1301
    assert suite_id("0XC02F") == 0xC02F
    assert suite_id("0xc02f") == 0xC02F
    assert suite_id("0xff") == 0x00FF
    assert suite_id("0x001c") == 0x001C  # unknown ids are allowed as hex
    assert suite_id("ECDHE-RSA-AES128-GCM-SHA256") == 0xC02F
    assert suite_id("ecdhe-ecdsa-chacha20-poly1305") == 0xCCA9
    assert suite_id("TLS_AES_128_GCM_SHA256") == 0x1301
    assert suite_id("TLS_GOST2001-GOST89-GOST89") == 0x0081
    assert suite_id("SSL_RSA_FIPS_WITH_DES_CBC_SHA") == 0xFEFE


def test_suite_id_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        suite_id("   ")
    with pytest.raises(ValueError, match="did you mean TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"):
        suite_id("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265")
    with pytest.raises(ValueError, match="did you mean ECDHE-RSA-AES128-GCM-SHA256"):
        suite_id("ECDHE-RSA-AES128-GCM-SHA265")
    with pytest.raises(ValueError, match=r"unknown cipher suite 'nonsense'.*0x1301"):
        suite_id("nonsense")
    for bad in ("0x", "0x12345", "0xg000", "0x-1"):
        with pytest.raises(ValueError, match="hex"):
            suite_id(bad)


# --- ESP-IDF example output -----------------------------------------------------------------------


def test_seed_suites_resolve_and_round_trip() -> None:
    assert len(SEED_SUITES) == 59
    ids = [suite_id(name) for name in SEED_SUITES]
    assert len(set(ids)) == 59
    assert [suite_name(i) for i in ids] == SEED_SUITES
    # The classic-era server knew every one of them (no "unknown cipher suite").
    assert all(in_classic_table(i) for i in ids)
    assert ids[0] == 0xC02C
    assert ids[-1] == 0x00FF
    assert parse_cipher_list(",".join(SEED_SUITES)) == tuple(ids)


def test_example_output_matches_embedded_list() -> None:
    # The data file is checked against the console output in test_howsmyssl_rating.
    assert json.loads(EXAMPLE_CHECK.read_text())["given_cipher_suites"] == SEED_SUITES


# --- parse_cipher_list --------------------------------------------------------------------------


def test_parse_cipher_list() -> None:
    assert parse_cipher_list("0x1301") == (0x1301,)
    assert parse_cipher_list(" TLS_AES_256_GCM_SHA384 ,ECDHE-RSA-AES128-GCM-SHA256,\t0x1301 ") == (
        0x1302,
        0xC02F,
        0x1301,
    )
    assert parse_cipher_list("0x0a0a,0x1301") == (0x0A0A, 0x1301)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", "empty cipher-suite list"),
        ("   ", "empty cipher-suite list"),
        (",", "entry 1 is empty"),
        ("0x1301,", "entry 2 is empty"),
        ("0x1301,,0x1302", "entry 2 is empty"),
        ("0x1301, 0x1302, 0x1301", r"entry 3: '0x1301' repeats entry 1 \(TLS_AES_128_GCM_SHA256\)"),
        ("TLS_AES_128_GCM_SHA256,0x1301", r"entry 2: '0x1301' repeats entry 1"),
        ("ECDHE-RSA-AES128-GCM-SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "repeats entry 1"),
        ("0x1301,TLS_AES_128_GCM_SHA265", r"entry 2: unknown cipher suite.*did you mean TLS_AES_128_GCM_SHA256"),
        ("ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA", "separate entries with commas"),
        ("0x10000", "entry 1: bad cipher-suite hex value"),
    ],
)
def test_parse_cipher_list_errors(text: str, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        parse_cipher_list(text)


# --- implemented suites -------------------------------------------------------------------------


def test_implemented() -> None:
    assert IMPLEMENTED_TLS13 == {0x1301, 0x1302, 0x1303, 0x1304, 0x1305}
    assert IMPLEMENTED_TLS12 == {
        0xC02B, 0xC02C, 0xC02F, 0xC030, 0xCCA9, 0xCCA8, 0xC0AC, 0xC0AD, 0xC0AE, 0xC0AF,
        0xC009, 0xC00A, 0xC013, 0xC014, 0xC023, 0xC027, 0xC024, 0xC028,
        0x009C, 0x009D, 0x002F, 0x0035, 0x003C, 0x003D, 0xC09C, 0xC09D, 0xC0A0, 0xC0A1,
        0xC012, 0x000A, 0xC011, 0xC007, 0x0005,
    } | STATIC_ECDH | ARIA  # fmt: skip
    assert IMPLEMENTED == IMPLEMENTED_TLS13 | IMPLEMENTED_TLS12
    assert len(IMPLEMENTED) == 38 + 12 + 20
    assert IMPLEMENTED <= set(IANA_NAMES)
    assert is_implemented(0xC02F)
    assert is_implemented(0x1305)
    assert not is_implemented(0x00FF)
    assert is_implemented(0xC02D)  # ECDH (static) ECDSA GCM
    assert not is_implemented(0xC053)  # DHE_RSA ARIA-256-GCM: no DHE
    for suite in IMPLEMENTED:
        name = SUITE_NAMES[suite]
        assert "_WITH_" in name or suite in IMPLEMENTED_TLS13
        if suite in IMPLEMENTED_TLS12:
            assert name.startswith(
                ("TLS_ECDHE_RSA_", "TLS_ECDHE_ECDSA_", "TLS_RSA_WITH_", "TLS_ECDH_RSA_", "TLS_ECDH_ECDSA_")
            )
        assert ("_ARIA_" in name) == (suite in ARIA)
        assert name.startswith("TLS_ECDH_") == (suite in STATIC_ECDH or (suite in ARIA and "_ECDH_" in name))


# RFC 4492 / 5289's static ECDH suites with AES, and RFC 6209's ARIA suites without (EC)DH(E) finite-field or PSK
STATIC_ECDH = {0xC004, 0xC005, 0xC00E, 0xC00F, 0xC025, 0xC026, 0xC029, 0xC02A, 0xC02D, 0xC02E, 0xC031, 0xC032}
ARIA = {0xC03C, 0xC03D, *range(0xC048, 0xC050), 0xC050, 0xC051, *range(0xC05C, 0xC064)}


def test_check_implemented() -> None:
    cat.check_implemented([0xC05C, 0xC004, 0x00FF, 0x5600, 0x0A0A, 0x1301])  # suites, SCSVs and GREASE pass
    with pytest.raises(ValueError, match=r"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 \(0x009e\) is not implemented here"):
        cat.check_implemented([0xC02F, 0x009E])


@pytest.mark.parametrize("suite", [0x0005, 0xC011, 0x000A, 0xC012])  # RC4 and 3DES, static RSA and ECDHE
def test_rc4_and_3des_are_the_check_servers_only(suite: int) -> None:
    """The engine implements them for serve's howsmyssl role; a client never offers them."""
    from https_request.tls.config import ClientConfig

    with pytest.raises(ValueError, match="is for the check server only: a client never offers RC4 or 3DES"):
        cat.check_implemented([0xC02F, suite])
    with pytest.raises(ValueError, match="never offers RC4 or 3DES"):
        ClientConfig(cipher_suites=(0xC02F, suite), versions=(0x0303,))


def test_openssl_aliases() -> None:
    # OpenSSL has neither ARIA-CBC TLS suites nor static ECDH (gone since 1.1.0)
    aria_cbc = {s for s in ARIA if "_CBC_" in SUITE_NAMES[s]}
    assert set(OPENSSL_NAMES) == IMPLEMENTED_TLS12 - STATIC_ECDH - aria_cbc - {
        s for s in ARIA if "_ECDH_" in SUITE_NAMES[s]
    }
    for suite, alias in OPENSSL_NAMES.items():
        assert suite_id(alias) == suite
        assert suite_id(alias.lower()) == suite
        iana = SUITE_NAMES[suite]
        # The alias and the IANA name agree on key exchange, authentication, cipher and mode.
        kx = "ECDHE" if alias.startswith("ECDHE-") else "RSA"
        assert iana.startswith(f"TLS_{kx}_")
        if kx == "ECDHE":
            auth = alias.split("-")[1]
            auth = "RSA" if auth.startswith("ARIA") else auth  # OpenSSL's ECDHE-ARIA128-GCM-SHA256: RSA
            assert iana.startswith(f"TLS_ECDHE_{auth}_WITH_")
        if "DES-CBC3" in alias:
            assert "_3DES_EDE_CBC_" in iana
        elif "RC4" in alias:
            assert "_RC4_128_" in iana
        elif "CHACHA20" not in alias:
            cipher = "ARIA" if "ARIA" in alias else "AES"
            bits = "256" if f"{cipher}256" in alias else "128"
            assert f"_{cipher}_{bits}_" in iana
        for mode in ("GCM", "CCM", "CHACHA20"):
            assert (mode in alias) == (mode in iana), (alias, iana)
        assert alias.endswith("CCM8") == iana.endswith("_CCM_8")
    # No alias collides with a different suite's IANA name.
    uppers = {n.upper(): k for k, n in SUITE_NAMES.items()}
    for suite, alias in OPENSSL_NAMES.items():
        assert uppers.get(alias.upper(), suite) == suite


# --- consistency with the rest of the engine ----------------------------------------------------


def test_engine_suite_names_match_catalogue() -> None:
    from https_request.tls import suites
    from https_request.tls.enums import CipherSuite

    for member in CipherSuite:
        assert SUITE_NAMES[member.value] == member.name
    for suite, params in suites.SUITES.items():
        assert SUITE_NAMES[suite] == params.name
        assert is_implemented(suite)


def test_exports() -> None:
    assert sorted(cat.__all__) == cat.__all__
    for name in cat.__all__:
        assert hasattr(cat, name)
