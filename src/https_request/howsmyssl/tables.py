"""The fixed tables behind howsmyssl.com's ``/a/check`` answer.

Everything here is data; :mod:`.rating` holds the rules. The cipher-suite
*names* (the known-suites table, classic and 2026) live in
:mod:`https_request.tls.catalogue`; this module holds what the check does with
them.

Source: GitHub ``jmhodges/howsmyssl`` at commit b073d57b (2026-08-19):
``client_info.go`` (version names, rating cutovers), ``cbc_suites.go`` and the
crypto/tls fork (CBC ids, BEAST probe suites), ``insecure_suites.go``
(insecure-suite lists and reason strings), ``groups.go`` and
``signature_schemes.go`` (named groups, signature schemes), checked entry by
entry, and for the classic era the same files at commit ac0fbf20 (2019-09-27).
Only the facts were taken, no code.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final

from ..tls.suites import GREASE_IDS

__all__ = [
    "BAD_AT",
    "BEAST_PROBE_SUITES",
    "CBC_SUITES",
    "FEW_BIT_REASON",
    "FEW_BIT_SUITES",
    "IMPROVABLE_AT",
    "META_SUITES",
    "NAMED_GROUPS",
    "NULL_AUTH_REASON",
    "NULL_AUTH_SUITES",
    "NULL_REASON",
    "NULL_SUITES",
    "POST_QUANTUM_GROUPS",
    "RC4_REASON",
    "RC4_SUITES",
    "SIGNATURE_SCHEMES",
    "SWEET32_REASON",
    "SWEET32_SUITES",
    "TLS13_SUITES",
    "UNKNOWN_VERSION",
    "VERSION_NAMES",
    "WEIRD_NSS_REASON",
]


def _ranges(*spans: tuple[int, int]) -> frozenset[int]:
    return frozenset(i for lo, hi in spans for i in range(lo, hi + 1))


# --- versions --------------------------------------------------------------------------------------

#: ``tls_version`` strings. TLS 1.3 drafts 18 and 21-33 (0x7f12, 0x7f15-0x7f21) all read "TLS 1.3".
VERSION_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {
        0x0300: "SSL 3.0",
        0x0301: "TLS 1.0",
        0x0302: "TLS 1.1",
        0x0303: "TLS 1.2",
        0x0304: "TLS 1.3",
        **{0x7F00 | draft: "TLS 1.3" for draft in (18, *range(21, 34))},
    }
)
#: ``tls_version`` when neither the negotiated version nor supported_versions has a name.
UNKNOWN_VERSION: Final = "an unknown version of SSL/TLS"

# --- rating cutovers, 2026 schema only -------------------------------------------------------------

#: 2026-06-14 10:00 America/Los_Angeles (PDT): TLS <= 1.2 and no-PQ clients become Improvable.
IMPROVABLE_AT: Final = datetime(2026, 6, 14, 17, 0, 0, tzinfo=UTC)
#: 2026-12-14 10:00 America/Los_Angeles (PST): TLS <= 1.2 and no-PQ clients become Bad.
BAD_AT: Final = datetime(2026, 12, 14, 18, 0, 0, tzinfo=UTC)

# --- cipher-suite classes --------------------------------------------------------------------------

#: "Meta" suites that may follow a 3DES suite without flagging it: GREASE and the renegotiation SCSV.
META_SUITES: Final[frozenset[int]] = GREASE_IDS | {0x00FF}
#: TLS 1.3 suites that may follow a 3DES suite (0x1306/0x1307, AEGIS, are *not* in this set).
TLS13_SUITES: Final[frozenset[int]] = frozenset(range(0x1301, 0x1306))

#: The 180 CBC suite ids (IANA names containing "CBC"), for BEAST detection.
CBC_SUITES: Final[frozenset[int]] = _ranges(
    (0x0006, 0x0016), (0x0019, 0x001B), (0x001E, 0x001F), (0x0021, 0x0023), (0x0025, 0x0027),
    (0x0029, 0x002A), (0x002F, 0x003A), (0x003C, 0x0046), (0x0067, 0x006D), (0x0084, 0x0089),
    (0x008B, 0x008D), (0x008F, 0x0091), (0x0093, 0x009B), (0x00AE, 0x00AF), (0x00B2, 0x00B3),
    (0x00B6, 0x00B7), (0x00BA, 0x00C5), (0xC003, 0xC005), (0xC008, 0xC00A), (0xC00D, 0xC00F),
    (0xC012, 0xC014), (0xC017, 0xC02A), (0xC034, 0xC038), (0xC03C, 0xC04F), (0xC064, 0xC069),
    (0xC070, 0xC079), (0xC094, 0xC09B),
)  # fmt: skip

#: The suites a howsmyssl server forces on a TLS <= 1.0 client so that it can watch for 1/n-1
#: record splitting: TLS_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_AES_256_CBC_SHA and
#: TLS_RSA_WITH_AES_128_CBC_SHA256 (the last is TLS 1.2-only, so never usable at TLS 1.0).
BEAST_PROBE_SUITES: Final[tuple[int, ...]] = (0x002F, 0x0035, 0x003C)

# --- insecure suites: exact names, matched against the rendered name ---------------------------------

FEW_BIT_REASON: Final = "uses keys smaller than 128 bits in its encryption"
NULL_REASON: Final = "specifies no encryption at all for the connection"
NULL_AUTH_REASON: Final = "is open to man-in-the-middle attacks because it does not authenticate the server"
RC4_REASON: Final = "uses RC4 which has insecure biases in its output"
WEIRD_NSS_REASON: Final = "was meant to die with SSL 3.0 and is of unknown safety"
SWEET32_REASON: Final = (
    "uses 3DES which is vulnerable to the Sweet32 attack but was not configured as a fallback in the ciphersuite order"
)

#: 27 names. The 40-bit TLS_KRB5_EXPORT_WITH_RC2_CBC_40_{SHA,MD5} are missing upstream too.
FEW_BIT_SUITES: Final[frozenset[str]] = frozenset(
    {
        "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA",
        "TLS_DHE_DSS_WITH_DES_CBC_SHA",
        "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
        "TLS_DHE_RSA_WITH_DES_CBC_SHA",
        "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA",
        "TLS_DH_DSS_WITH_DES_CBC_SHA",
        "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA",
        "TLS_DH_RSA_WITH_DES_CBC_SHA",
        "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA",
        "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5",
        "TLS_DH_anon_WITH_DES_CBC_SHA",
        "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
        "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
        "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
        "TLS_RSA_WITH_DES_CBC_SHA",
        "TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5",
        "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA",
        "TLS_KRB5_EXPORT_WITH_RC4_40_MD5",
        "TLS_KRB5_EXPORT_WITH_RC4_40_SHA",
        "TLS_KRB5_WITH_DES_CBC_MD5",
        "TLS_KRB5_WITH_DES_CBC_SHA",
        "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA",
        "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA",
        "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA",
        "TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA",
        "TLS_RSA_EXPORT1024_WITH_RC4_56_MD5",
        "TLS_RSA_EXPORT1024_WITH_RC2_CBC_56_MD5",
    }
)

#: 21 names.
NULL_SUITES: Final[frozenset[str]] = frozenset(
    {
        "TLS_DHE_PSK_WITH_NULL_SHA",
        "TLS_DHE_PSK_WITH_NULL_SHA256",
        "TLS_DHE_PSK_WITH_NULL_SHA384",
        "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
        "TLS_ECDHE_PSK_WITH_NULL_SHA",
        "TLS_ECDHE_PSK_WITH_NULL_SHA256",
        "TLS_ECDHE_PSK_WITH_NULL_SHA384",
        "TLS_ECDHE_RSA_WITH_NULL_SHA",
        "TLS_ECDH_ECDSA_WITH_NULL_SHA",
        "TLS_ECDH_RSA_WITH_NULL_SHA",
        "TLS_ECDH_anon_WITH_NULL_SHA",
        "TLS_NULL_WITH_NULL_NULL",
        "TLS_PSK_WITH_NULL_SHA",
        "TLS_PSK_WITH_NULL_SHA256",
        "TLS_PSK_WITH_NULL_SHA384",
        "TLS_RSA_PSK_WITH_NULL_SHA",
        "TLS_RSA_PSK_WITH_NULL_SHA256",
        "TLS_RSA_PSK_WITH_NULL_SHA384",
        "TLS_RSA_WITH_NULL_MD5",
        "TLS_RSA_WITH_NULL_SHA",
        "TLS_RSA_WITH_NULL_SHA256",
    }
)

#: 27 names.
NULL_AUTH_SUITES: Final[frozenset[str]] = frozenset(
    {
        "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA",
        "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5",
        "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
        "TLS_DH_anon_WITH_AES_128_CBC_SHA",
        "TLS_DH_anon_WITH_AES_128_CBC_SHA256",
        "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
        "TLS_DH_anon_WITH_AES_256_CBC_SHA",
        "TLS_DH_anon_WITH_AES_256_CBC_SHA256",
        "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
        "TLS_DH_anon_WITH_ARIA_128_CBC_SHA256",
        "TLS_DH_anon_WITH_ARIA_128_GCM_SHA256",
        "TLS_DH_anon_WITH_ARIA_256_CBC_SHA384",
        "TLS_DH_anon_WITH_ARIA_256_GCM_SHA384",
        "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA",
        "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256",
        "TLS_DH_anon_WITH_CAMELLIA_128_GCM_SHA256",
        "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA",
        "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256",
        "TLS_DH_anon_WITH_CAMELLIA_256_GCM_SHA384",
        "TLS_DH_anon_WITH_DES_CBC_SHA",
        "TLS_DH_anon_WITH_RC4_128_MD5",
        "TLS_DH_anon_WITH_SEED_CBC_SHA",
        "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
        "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
        "TLS_ECDH_anon_WITH_NULL_SHA",
        "TLS_ECDH_anon_WITH_RC4_128_SHA",
    }
)

#: 21 names. TLS_RSA_EXPORT1024_WITH_RC4_56_MD5 is few-bit but, upstream too, not here.
RC4_SUITES: Final[frozenset[str]] = frozenset(
    {
        "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
        "TLS_RSA_WITH_RC4_128_MD5",
        "TLS_RSA_WITH_RC4_128_SHA",
        "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5",
        "TLS_DH_anon_WITH_RC4_128_MD5",
        "TLS_KRB5_WITH_RC4_128_SHA",
        "TLS_KRB5_WITH_RC4_128_MD5",
        "TLS_KRB5_EXPORT_WITH_RC4_40_SHA",
        "TLS_KRB5_EXPORT_WITH_RC4_40_MD5",
        "TLS_PSK_WITH_RC4_128_SHA",
        "TLS_DHE_PSK_WITH_RC4_128_SHA",
        "TLS_RSA_PSK_WITH_RC4_128_SHA",
        "TLS_ECDH_ECDSA_WITH_RC4_128_SHA",
        "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
        "TLS_ECDH_RSA_WITH_RC4_128_SHA",
        "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        "TLS_ECDH_anon_WITH_RC4_128_SHA",
        "TLS_ECDHE_PSK_WITH_RC4_128_SHA",
        "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA",
        "TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA",
        "TLS_DHE_DSS_WITH_RC4_128_SHA",
    }
)

#: The 20 3DES names (Sweet32).
SWEET32_SUITES: Final[frozenset[str]] = frozenset(
    {
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA",
        "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
        "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
        "TLS_KRB5_WITH_3DES_EDE_CBC_SHA",
        "TLS_KRB5_WITH_3DES_EDE_CBC_MD5",
        "TLS_PSK_WITH_3DES_EDE_CBC_SHA",
        "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA",
        "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA",
        "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA",
        "TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA",
    }
)

# --- 2026 name tables ------------------------------------------------------------------------------

_GREASE_NAMES: Final[dict[int, str]] = {g: f"GREASE_{g >> 8:02X}" for g in sorted(GREASE_IDS)}

_SECT_SECP = (
    "sect163k1", "sect163r1", "sect163r2", "sect193r1", "sect193r2", "sect233k1", "sect233r1", "sect239k1",
    "sect283k1", "sect283r1", "sect409k1", "sect409r1", "sect571k1", "sect571r1",
    "secp160k1", "secp160r1", "secp160r2", "secp192k1", "secp192r1", "secp224k1", "secp224r1", "secp256k1",
)  # fmt: skip

#: supported_groups (extension 10) names; GREASE values read ``GREASE_0A`` ... ``GREASE_FA``.
NAMED_GROUPS: Final[Mapping[int, str]] = MappingProxyType(
    {
        **{0x0001 + i: name for i, name in enumerate(_SECT_SECP)},  # 0x0001-0x0016
        0x0017: "secp256r1",
        0x0018: "secp384r1",
        0x0019: "secp521r1",
        0x001A: "brainpoolP256r1",
        0x001B: "brainpoolP384r1",
        0x001C: "brainpoolP512r1",
        0x001D: "x25519",
        0x001E: "x448",
        0x001F: "brainpoolP256r1tls13",
        0x0020: "brainpoolP384r1tls13",
        0x0021: "brainpoolP512r1tls13",
        0x0022: "GC256A",
        0x0023: "GC256B",
        0x0024: "GC256C",
        0x0025: "GC256D",
        0x0026: "GC512A",
        0x0027: "GC512B",
        0x0028: "GC512C",
        0x0029: "curveSM2",
        0x0100: "ffdhe2048",
        0x0101: "ffdhe3072",
        0x0102: "ffdhe4096",
        0x0103: "ffdhe6144",
        0x0104: "ffdhe8192",
        0x0200: "MLKEM512",
        0x0201: "MLKEM768",
        0x0202: "MLKEM1024",
        0x11EB: "SecP256r1MLKEM768",
        0x11EC: "X25519MLKEM768",
        0x11ED: "SecP384r1MLKEM1024",
        **_GREASE_NAMES,
    }
)

#: Groups that make ``post_quantum_key_agreement`` true: pure ML-KEM and the three hybrids.
POST_QUANTUM_GROUPS: Final[frozenset[int]] = frozenset({0x0200, 0x0201, 0x0202, 0x11EB, 0x11EC, 0x11ED})

#: signature_algorithms (extension 13) names; GREASE values read ``GREASE_0A`` ... ``GREASE_FA``.
SIGNATURE_SCHEMES: Final[Mapping[int, str]] = MappingProxyType(
    {
        0x0201: "rsa_pkcs1_sha1",
        0x0401: "rsa_pkcs1_sha256",
        0x0501: "rsa_pkcs1_sha384",
        0x0601: "rsa_pkcs1_sha512",
        0x0203: "ecdsa_sha1",
        0x0403: "ecdsa_secp256r1_sha256",
        0x0503: "ecdsa_secp384r1_sha384",
        0x0603: "ecdsa_secp521r1_sha512",
        0x0804: "rsa_pss_rsae_sha256",
        0x0805: "rsa_pss_rsae_sha384",
        0x0806: "rsa_pss_rsae_sha512",
        0x0807: "ed25519",
        0x0808: "ed448",
        0x0809: "rsa_pss_pss_sha256",
        0x080A: "rsa_pss_pss_sha384",
        0x080B: "rsa_pss_pss_sha512",
        0x081A: "ecdsa_brainpoolP256r1tls13_sha256",
        0x081B: "ecdsa_brainpoolP384r1tls13_sha384",
        0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
        0x0904: "mldsa44",
        0x0905: "mldsa65",
        0x0906: "mldsa87",
        **_GREASE_NAMES,
    }
)
