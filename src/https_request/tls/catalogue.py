"""Catalogue of TLS cipher-suite names and ids.

Used to display cipher suites, by the howsmyssl-compatible check server, and
to parse ``--ciphers``.

What is here
------------
* :data:`IANA_NAMES`: the IANA "TLS Cipher Suites" registry (registry group
  "Transport Layer Security (TLS) Parameters",
  https://www.iana.org/assignments/tls-parameters/, file
  ``tls-parameters-4.csv``). It holds the Description column, verbatim, for
  every assigned value whose description starts with ``TLS_``. That is 356
  values, including the TLS 1.3 suites 0x1301-0x1307, the SCSVs 0x00FF
  (``TLS_EMPTY_RENEGOTIATION_INFO_SCSV``) and 0x5600 (``TLS_FALLBACK_SCSV``),
  and IANA's odd word order for 0xC0AA/0xC0AB (``TLS_PSK_DHE_WITH_...``).
  Reserved, unassigned and private-use values are left out.
* :data:`HOWSMYSSL_EXTRAS`: 16 non-IANA names that howsmyssl.com's table uses
  (GOST, Chrome's CECPQ1 experiment, the pre-RFC 7905 ChaCha20 code points,
  and the 1024-bit "export" suites).
* GREASE (RFC 8701): the 16 ids ``0x?A?A``, named the howsmyssl way,
  ``TLS_GREASE_IS_THE_WORD_0A`` ... ``TLS_GREASE_IS_THE_WORD_FA`` (the suffix
  is the high byte in upper-case hex).
* :data:`SUITE_NAMES` = IANA + extras + GREASE. These are exactly the
  388 entries of howsmyssl's 2026 known-suites table.
  :data:`CLASSIC_SUITE_NAMES` is the classic (2019) table, 363 entries: the
  same without :data:`CLASSIC_EXCLUDED`.
* :data:`NSS_FIPS_NAMES`: 0xFEFE/0xFEFF, the old NSS "SSL_RSA_FIPS" suites.
  howsmyssl names these outside its table.
* :data:`OPENSSL_NAMES`: OpenSSL-style aliases for the TLS 1.2 suites the
  engine implements (:data:`IMPLEMENTED`, read from :data:`.suites.SUITES`)
  and OpenSSL has. OpenSSL names the TLS 1.3 suites the way IANA does.
  :func:`check_implemented` refuses the others for ``--ciphers``.

Provenance (these are facts, checked against several copies)
-------------------------------------------------------------
* IANA names: from the copy of ``tls-parameters-4.csv`` vendored in GitHub
  ``fbacchella/LogHub``, ``loghub-core/src/main/resources/ciphers/
  tls-parameters-4.csv``, as of commit c3d045ad (2026-04-20). It was added in
  45f01132 (2026-04-16); the later commit changed only whitespace in reserved
  rows. Its header is the current registry layout (Value, Description,
  DTLS-OK, Recommended, Reference, Comment). Checked name by name against
  two other copies:
  - howsmyssl's ``all_suites.go`` (GitHub ``jmhodges/howsmyssl``, commit
    4aaf7443, "update ciphersuites to latest IANA TLS Parameters (#947)").
    It was regenerated from IANA's ``tls-parameters.txt`` on 2026-04-09.
    All 356 IANA values and names are the same.
  - an older copy of the CSV (GitHub ``AnoyingShulkerMC/BootlegTLS``,
    2022-12). The only differences are ones IANA made later: 0x1306 was then
    ``TLS_AEGIS_256_SHA384`` (now ``TLS_AEGIS_256_SHA512``), and 0x006E-0x0071
    (Ascon) were not yet assigned.
  Registry snapshot used: April 2026 (2026-04-09 to 2026-04-20).
* Extras, GREASE naming, coverage ranges and the classic/2026 split:
  howsmyssl's ``all_suites.go`` (GitHub ``jmhodges/howsmyssl``). The classic
  table is that file as of commit ac0fbf20 (2019-09-27, 363 entries). The
  2026 table is that file as of commit 4aaf7443 (2026-04-09, 388 entries).
  Between the two, ids were added (:data:`CLASSIC_EXCLUDED`); none were
  renamed or removed.
* OpenSSL aliases: ``openssl ciphers -V`` (OpenSSL 3.0.19).

No code was copied; only the id/name facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from .suites import GREASE_IDS, SIGNALLING, SUITES, is_grease

__all__ = [
    "CLASSIC_EXCLUDED",
    "CLASSIC_SUITE_NAMES",
    "HOWSMYSSL_EXTRAS",
    "IANA_NAMES",
    "IMPLEMENTED",
    "IMPLEMENTED_TLS12",
    "IMPLEMENTED_TLS13",
    "NSS_FIPS_NAMES",
    "OPENSSL_NAMES",
    "SUITE_NAMES",
    "check_implemented",
    "grease_name",
    "in_classic_table",
    "is_implemented",
    "parse_cipher_list",
    "suite_id",
    "suite_name",
]

# IANA "TLS Cipher Suites" registry, Description column, every assigned TLS_*
# value (356 entries), in id order. Snapshot: April 2026 (see module docstring).
_IANA: Final[dict[int, str]] = {
    0x0000: "TLS_NULL_WITH_NULL_NULL",
    0x0001: "TLS_RSA_WITH_NULL_MD5",
    0x0002: "TLS_RSA_WITH_NULL_SHA",
    0x0003: "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x0006: "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
    0x0007: "TLS_RSA_WITH_IDEA_CBC_SHA",
    0x0008: "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x0009: "TLS_RSA_WITH_DES_CBC_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x000B: "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA",
    0x000C: "TLS_DH_DSS_WITH_DES_CBC_SHA",
    0x000D: "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA",
    0x000E: "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x000F: "TLS_DH_RSA_WITH_DES_CBC_SHA",
    0x0010: "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0011: "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA",
    0x0012: "TLS_DHE_DSS_WITH_DES_CBC_SHA",
    0x0013: "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
    0x0014: "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x0015: "TLS_DHE_RSA_WITH_DES_CBC_SHA",
    0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0017: "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5",
    0x0018: "TLS_DH_anon_WITH_RC4_128_MD5",
    0x0019: "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA",
    0x001A: "TLS_DH_anon_WITH_DES_CBC_SHA",
    0x001B: "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
    0x001E: "TLS_KRB5_WITH_DES_CBC_SHA",
    0x001F: "TLS_KRB5_WITH_3DES_EDE_CBC_SHA",
    0x0020: "TLS_KRB5_WITH_RC4_128_SHA",
    0x0021: "TLS_KRB5_WITH_IDEA_CBC_SHA",
    0x0022: "TLS_KRB5_WITH_DES_CBC_MD5",
    0x0023: "TLS_KRB5_WITH_3DES_EDE_CBC_MD5",
    0x0024: "TLS_KRB5_WITH_RC4_128_MD5",
    0x0025: "TLS_KRB5_WITH_IDEA_CBC_MD5",
    0x0026: "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA",
    0x0027: "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA",
    0x0028: "TLS_KRB5_EXPORT_WITH_RC4_40_SHA",
    0x0029: "TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5",
    0x002A: "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_MD5",
    0x002B: "TLS_KRB5_EXPORT_WITH_RC4_40_MD5",
    0x002C: "TLS_PSK_WITH_NULL_SHA",
    0x002D: "TLS_DHE_PSK_WITH_NULL_SHA",
    0x002E: "TLS_RSA_PSK_WITH_NULL_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0030: "TLS_DH_DSS_WITH_AES_128_CBC_SHA",
    0x0031: "TLS_DH_RSA_WITH_AES_128_CBC_SHA",
    0x0032: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    0x0034: "TLS_DH_anon_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x0036: "TLS_DH_DSS_WITH_AES_256_CBC_SHA",
    0x0037: "TLS_DH_RSA_WITH_AES_256_CBC_SHA",
    0x0038: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x003A: "TLS_DH_anon_WITH_AES_256_CBC_SHA",
    0x003B: "TLS_RSA_WITH_NULL_SHA256",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x003E: "TLS_DH_DSS_WITH_AES_128_CBC_SHA256",
    0x003F: "TLS_DH_RSA_WITH_AES_128_CBC_SHA256",
    0x0040: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    0x0041: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
    0x0042: "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA",
    0x0043: "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA",
    0x0044: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA",
    0x0045: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA",
    0x0046: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA",
    0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    0x0068: "TLS_DH_DSS_WITH_AES_256_CBC_SHA256",
    0x0069: "TLS_DH_RSA_WITH_AES_256_CBC_SHA256",
    0x006A: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    0x006C: "TLS_DH_anon_WITH_AES_128_CBC_SHA256",
    0x006D: "TLS_DH_anon_WITH_AES_256_CBC_SHA256",
    0x006E: "TLS_ASCONAEAD128_ASCONHASH256",
    0x006F: "TLS_ASCONAEAD128_SHA256",
    0x0070: "TLS_AES_128_GCM_ASCONHASH256",
    0x0071: "TLS_AES_128_CCM_ASCONHASH256",
    0x0084: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0085: "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA",
    0x0086: "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0087: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA",
    0x0088: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0089: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA",
    0x008A: "TLS_PSK_WITH_RC4_128_SHA",
    0x008B: "TLS_PSK_WITH_3DES_EDE_CBC_SHA",
    0x008C: "TLS_PSK_WITH_AES_128_CBC_SHA",
    0x008D: "TLS_PSK_WITH_AES_256_CBC_SHA",
    0x008E: "TLS_DHE_PSK_WITH_RC4_128_SHA",
    0x008F: "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA",
    0x0090: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA",
    0x0091: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA",
    0x0092: "TLS_RSA_PSK_WITH_RC4_128_SHA",
    0x0093: "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA",
    0x0094: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA",
    0x0095: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA",
    0x0096: "TLS_RSA_WITH_SEED_CBC_SHA",
    0x0097: "TLS_DH_DSS_WITH_SEED_CBC_SHA",
    0x0098: "TLS_DH_RSA_WITH_SEED_CBC_SHA",
    0x0099: "TLS_DHE_DSS_WITH_SEED_CBC_SHA",
    0x009A: "TLS_DHE_RSA_WITH_SEED_CBC_SHA",
    0x009B: "TLS_DH_anon_WITH_SEED_CBC_SHA",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x00A0: "TLS_DH_RSA_WITH_AES_128_GCM_SHA256",
    0x00A1: "TLS_DH_RSA_WITH_AES_256_GCM_SHA384",
    0x00A2: "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256",
    0x00A3: "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
    0x00A4: "TLS_DH_DSS_WITH_AES_128_GCM_SHA256",
    0x00A5: "TLS_DH_DSS_WITH_AES_256_GCM_SHA384",
    0x00A6: "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
    0x00A7: "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
    0x00A8: "TLS_PSK_WITH_AES_128_GCM_SHA256",
    0x00A9: "TLS_PSK_WITH_AES_256_GCM_SHA384",
    0x00AA: "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256",
    0x00AB: "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384",
    0x00AC: "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256",
    0x00AD: "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384",
    0x00AE: "TLS_PSK_WITH_AES_128_CBC_SHA256",
    0x00AF: "TLS_PSK_WITH_AES_256_CBC_SHA384",
    0x00B0: "TLS_PSK_WITH_NULL_SHA256",
    0x00B1: "TLS_PSK_WITH_NULL_SHA384",
    0x00B2: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256",
    0x00B3: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384",
    0x00B4: "TLS_DHE_PSK_WITH_NULL_SHA256",
    0x00B5: "TLS_DHE_PSK_WITH_NULL_SHA384",
    0x00B6: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256",
    0x00B7: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384",
    0x00B8: "TLS_RSA_PSK_WITH_NULL_SHA256",
    0x00B9: "TLS_RSA_PSK_WITH_NULL_SHA384",
    0x00BA: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BB: "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BC: "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BD: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BE: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BF: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256",
    0x00C0: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C1: "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C2: "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C3: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C4: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C5: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C6: "TLS_SM4_GCM_SM3",
    0x00C7: "TLS_SM4_CCM_SM3",
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x1304: "TLS_AES_128_CCM_SHA256",
    0x1305: "TLS_AES_128_CCM_8_SHA256",
    0x1306: "TLS_AEGIS_256_SHA512",
    0x1307: "TLS_AEGIS_128L_SHA256",
    0x5600: "TLS_FALLBACK_SCSV",
    0xC001: "TLS_ECDH_ECDSA_WITH_NULL_SHA",
    0xC002: "TLS_ECDH_ECDSA_WITH_RC4_128_SHA",
    0xC003: "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA",
    0xC004: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA",
    0xC005: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA",
    0xC006: "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xC008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC00B: "TLS_ECDH_RSA_WITH_NULL_SHA",
    0xC00C: "TLS_ECDH_RSA_WITH_RC4_128_SHA",
    0xC00D: "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC00E: "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA",
    0xC00F: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA",
    0xC010: "TLS_ECDHE_RSA_WITH_NULL_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC015: "TLS_ECDH_anon_WITH_NULL_SHA",
    0xC016: "TLS_ECDH_anon_WITH_RC4_128_SHA",
    0xC017: "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA",
    0xC018: "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
    0xC019: "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
    0xC01A: "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA",
    0xC01B: "TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC01C: "TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA",
    0xC01D: "TLS_SRP_SHA_WITH_AES_128_CBC_SHA",
    0xC01E: "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA",
    0xC01F: "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA",
    0xC020: "TLS_SRP_SHA_WITH_AES_256_CBC_SHA",
    0xC021: "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA",
    0xC022: "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC025: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC026: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xC029: "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256",
    0xC02A: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02D: "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02E: "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xC031: "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256",
    0xC032: "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384",
    0xC033: "TLS_ECDHE_PSK_WITH_RC4_128_SHA",
    0xC034: "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA",
    0xC035: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA",
    0xC036: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA",
    0xC037: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256",
    0xC038: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384",
    0xC039: "TLS_ECDHE_PSK_WITH_NULL_SHA",
    0xC03A: "TLS_ECDHE_PSK_WITH_NULL_SHA256",
    0xC03B: "TLS_ECDHE_PSK_WITH_NULL_SHA384",
    0xC03C: "TLS_RSA_WITH_ARIA_128_CBC_SHA256",
    0xC03D: "TLS_RSA_WITH_ARIA_256_CBC_SHA384",
    0xC03E: "TLS_DH_DSS_WITH_ARIA_128_CBC_SHA256",
    0xC03F: "TLS_DH_DSS_WITH_ARIA_256_CBC_SHA384",
    0xC040: "TLS_DH_RSA_WITH_ARIA_128_CBC_SHA256",
    0xC041: "TLS_DH_RSA_WITH_ARIA_256_CBC_SHA384",
    0xC042: "TLS_DHE_DSS_WITH_ARIA_128_CBC_SHA256",
    0xC043: "TLS_DHE_DSS_WITH_ARIA_256_CBC_SHA384",
    0xC044: "TLS_DHE_RSA_WITH_ARIA_128_CBC_SHA256",
    0xC045: "TLS_DHE_RSA_WITH_ARIA_256_CBC_SHA384",
    0xC046: "TLS_DH_anon_WITH_ARIA_128_CBC_SHA256",
    0xC047: "TLS_DH_anon_WITH_ARIA_256_CBC_SHA384",
    0xC048: "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256",
    0xC049: "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384",
    0xC04A: "TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256",
    0xC04B: "TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384",
    0xC04C: "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256",
    0xC04D: "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384",
    0xC04E: "TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256",
    0xC04F: "TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384",
    0xC050: "TLS_RSA_WITH_ARIA_128_GCM_SHA256",
    0xC051: "TLS_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC052: "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256",
    0xC053: "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC054: "TLS_DH_RSA_WITH_ARIA_128_GCM_SHA256",
    0xC055: "TLS_DH_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC056: "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256",
    0xC057: "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384",
    0xC058: "TLS_DH_DSS_WITH_ARIA_128_GCM_SHA256",
    0xC059: "TLS_DH_DSS_WITH_ARIA_256_GCM_SHA384",
    0xC05A: "TLS_DH_anon_WITH_ARIA_128_GCM_SHA256",
    0xC05B: "TLS_DH_anon_WITH_ARIA_256_GCM_SHA384",
    0xC05C: "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256",
    0xC05D: "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384",
    0xC05E: "TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256",
    0xC05F: "TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384",
    0xC060: "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256",
    0xC061: "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC062: "TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256",
    0xC063: "TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC064: "TLS_PSK_WITH_ARIA_128_CBC_SHA256",
    0xC065: "TLS_PSK_WITH_ARIA_256_CBC_SHA384",
    0xC066: "TLS_DHE_PSK_WITH_ARIA_128_CBC_SHA256",
    0xC067: "TLS_DHE_PSK_WITH_ARIA_256_CBC_SHA384",
    0xC068: "TLS_RSA_PSK_WITH_ARIA_128_CBC_SHA256",
    0xC069: "TLS_RSA_PSK_WITH_ARIA_256_CBC_SHA384",
    0xC06A: "TLS_PSK_WITH_ARIA_128_GCM_SHA256",
    0xC06B: "TLS_PSK_WITH_ARIA_256_GCM_SHA384",
    0xC06C: "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256",
    0xC06D: "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384",
    0xC06E: "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256",
    0xC06F: "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384",
    0xC070: "TLS_ECDHE_PSK_WITH_ARIA_128_CBC_SHA256",
    0xC071: "TLS_ECDHE_PSK_WITH_ARIA_256_CBC_SHA384",
    0xC072: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256",
    0xC073: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xC074: "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_CBC_SHA256",
    0xC075: "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xC076: "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0xC077: "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xC078: "TLS_ECDH_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0xC079: "TLS_ECDH_RSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xC07A: "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC07B: "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC07C: "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC07D: "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC07E: "TLS_DH_RSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC07F: "TLS_DH_RSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC080: "TLS_DHE_DSS_WITH_CAMELLIA_128_GCM_SHA256",
    0xC081: "TLS_DHE_DSS_WITH_CAMELLIA_256_GCM_SHA384",
    0xC082: "TLS_DH_DSS_WITH_CAMELLIA_128_GCM_SHA256",
    0xC083: "TLS_DH_DSS_WITH_CAMELLIA_256_GCM_SHA384",
    0xC084: "TLS_DH_anon_WITH_CAMELLIA_128_GCM_SHA256",
    0xC085: "TLS_DH_anon_WITH_CAMELLIA_256_GCM_SHA384",
    0xC086: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC087: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC088: "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC089: "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC08A: "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC08B: "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC08C: "TLS_ECDH_RSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC08D: "TLS_ECDH_RSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC08E: "TLS_PSK_WITH_CAMELLIA_128_GCM_SHA256",
    0xC08F: "TLS_PSK_WITH_CAMELLIA_256_GCM_SHA384",
    0xC090: "TLS_DHE_PSK_WITH_CAMELLIA_128_GCM_SHA256",
    0xC091: "TLS_DHE_PSK_WITH_CAMELLIA_256_GCM_SHA384",
    0xC092: "TLS_RSA_PSK_WITH_CAMELLIA_128_GCM_SHA256",
    0xC093: "TLS_RSA_PSK_WITH_CAMELLIA_256_GCM_SHA384",
    0xC094: "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xC095: "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC096: "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xC097: "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC098: "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xC099: "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC09A: "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xC09B: "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC09C: "TLS_RSA_WITH_AES_128_CCM",
    0xC09D: "TLS_RSA_WITH_AES_256_CCM",
    0xC09E: "TLS_DHE_RSA_WITH_AES_128_CCM",
    0xC09F: "TLS_DHE_RSA_WITH_AES_256_CCM",
    0xC0A0: "TLS_RSA_WITH_AES_128_CCM_8",
    0xC0A1: "TLS_RSA_WITH_AES_256_CCM_8",
    0xC0A2: "TLS_DHE_RSA_WITH_AES_128_CCM_8",
    0xC0A3: "TLS_DHE_RSA_WITH_AES_256_CCM_8",
    0xC0A4: "TLS_PSK_WITH_AES_128_CCM",
    0xC0A5: "TLS_PSK_WITH_AES_256_CCM",
    0xC0A6: "TLS_DHE_PSK_WITH_AES_128_CCM",
    0xC0A7: "TLS_DHE_PSK_WITH_AES_256_CCM",
    0xC0A8: "TLS_PSK_WITH_AES_128_CCM_8",
    0xC0A9: "TLS_PSK_WITH_AES_256_CCM_8",
    0xC0AA: "TLS_PSK_DHE_WITH_AES_128_CCM_8",
    0xC0AB: "TLS_PSK_DHE_WITH_AES_256_CCM_8",
    0xC0AC: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
    0xC0AD: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
    0xC0AE: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
    0xC0AF: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
    0xC0B0: "TLS_ECCPWD_WITH_AES_128_GCM_SHA256",
    0xC0B1: "TLS_ECCPWD_WITH_AES_256_GCM_SHA384",
    0xC0B2: "TLS_ECCPWD_WITH_AES_128_CCM_SHA256",
    0xC0B3: "TLS_ECCPWD_WITH_AES_256_CCM_SHA384",
    0xC0B4: "TLS_SHA256_SHA256",
    0xC0B5: "TLS_SHA384_SHA384",
    0xC100: "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC",
    0xC101: "TLS_GOSTR341112_256_WITH_MAGMA_CTR_OMAC",
    0xC102: "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT",
    0xC103: "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_L",
    0xC104: "TLS_GOSTR341112_256_WITH_MAGMA_MGM_L",
    0xC105: "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_S",
    0xC106: "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAB: "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAC: "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAD: "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAE: "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xD001: "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256",
    0xD002: "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384",
    0xD003: "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
    0xD005: "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256",
}

# Non-IANA names from howsmyssl's table (all_suites.go), verbatim.
_EXTRAS: Final[dict[int, str]] = {
    # "Some insecure cipher suites discovered in the wild": the 1024-bit export
    # suites of draft-ietf-tls-56-bit-ciphersuites, in IANA's reserved
    # 0x0060-0x0066 block.
    0x0060: "TLS_RSA_EXPORT1024_WITH_RC4_56_MD5",
    0x0061: "TLS_RSA_EXPORT1024_WITH_RC2_CBC_56_MD5",
    0x0062: "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA",
    0x0063: "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA",
    0x0064: "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA",
    0x0065: "TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA",
    0x0066: "TLS_DHE_DSS_WITH_RC4_128_SHA",
    # GOST (howsmyssl #56).
    0x0081: "TLS_GOST2001-GOST89-GOST89",
    0xFF85: "TLS_GOST2012256-GOST89-GOST89",
    # Pre-RFC 7905 ChaCha20-Poly1305 code points.
    0xCC13: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD",
    0xCC14: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256_OLD",
    0xCC15: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD",
    # Chrome's CECPQ1 post-quantum experiment.
    0x16B7: "TLS_CECPQ1_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0x16B8: "TLS_CECPQ1_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0x16B9: "TLS_CECPQ1_RSA_WITH_AES_256_GCM_SHA384",
    0x16BA: "TLS_CECPQ1_ECDSA_WITH_AES_256_GCM_SHA384",
}

_NSS_FIPS: Final[dict[int, str]] = {
    0xFEFE: "SSL_RSA_FIPS_WITH_DES_CBC_SHA",
    0xFEFF: "SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA",
}


def grease_name(suite: int) -> str:
    """howsmyssl's name for a GREASE value, e.g. ``TLS_GREASE_IS_THE_WORD_0A``.

    Raises ValueError if ``suite`` is not a GREASE value.
    """
    if not is_grease(suite):
        raise ValueError(f"0x{suite:04x} is not a GREASE cipher-suite value")
    return f"TLS_GREASE_IS_THE_WORD_{suite >> 8:02X}"


def _ranges(*spans: tuple[int, int]) -> frozenset[int]:
    return frozenset(i for lo, hi in spans for i in range(lo, hi + 1))


#: Ids in howsmyssl's 2026 table but not in its classic (2019) one. In classic
#: mode these were "unknown" (rating Bad). Ranges from comparing all_suites.go at both commits.
CLASSIC_EXCLUDED: Final[frozenset[int]] = _ranges(
    (0x006E, 0x0071),  # Ascon
    (0x00C6, 0x00C7),  # SM4 (RFC 8998)
    (0x1306, 0x1307),  # AEGIS
    (0xC0B0, 0xC0B5),  # ECCPWD (RFC 8492), integrity-only (RFC 9150)
    (0xC100, 0xC106),  # GOST R 34.12 (RFC 9189, 9367)
    (0xD001, 0xD003),  # ECDHE_PSK (RFC 8442)
    (0xD005, 0xD005),
)

#: IANA registry names (356 entries), id -> name.
IANA_NAMES: Final[Mapping[int, str]] = MappingProxyType(_IANA)
#: howsmyssl's non-IANA names (16 entries), id -> name.
HOWSMYSSL_EXTRAS: Final[Mapping[int, str]] = MappingProxyType(_EXTRAS)
#: The two NSS FIPS suites that howsmyssl names outside its table.
NSS_FIPS_NAMES: Final[Mapping[int, str]] = MappingProxyType(_NSS_FIPS)

#: Every known suite: IANA + howsmyssl extras + GREASE, in id order. This is
#: howsmyssl's 2026 known-suites table (388 entries).
SUITE_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    dict(sorted({**_IANA, **_EXTRAS, **{g: grease_name(g) for g in GREASE_IDS}}.items()))
)
#: howsmyssl's classic (2019) known-suites table (363 entries).
CLASSIC_SUITE_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {k: v for k, v in SUITE_NAMES.items() if k not in CLASSIC_EXCLUDED}
)


def in_classic_table(suite: int) -> bool:
    """True if howsmyssl's classic (2019) table knows ``suite``."""
    return suite in CLASSIC_SUITE_NAMES


#: TLS 1.3 suites the engine implements.
IMPLEMENTED_TLS13: Final[frozenset[int]] = frozenset(s for s, p in SUITES.items() if p.tls13)
#: TLS 1.2 suites the engine implements (static RSA, 3DES, RC4: on request; static ECDH: client only).
IMPLEMENTED_TLS12: Final[frozenset[int]] = frozenset(s for s, p in SUITES.items() if not p.tls13)
#: Every suite the engine implements (:data:`.suites.SUITES`' ids).
IMPLEMENTED: Final[frozenset[int]] = IMPLEMENTED_TLS13 | IMPLEMENTED_TLS12


def is_implemented(suite: int) -> bool:
    """True if the engine can negotiate ``suite``."""
    return suite in IMPLEMENTED


#: OpenSSL names of the implemented TLS 1.2 suites that OpenSSL has (``openssl ciphers -V``): not
#: ARIA-CBC (no TLS suites in OpenSSL) nor static ECDH (removed in OpenSSL 1.1.0).
OPENSSL_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {
        0xC02B: "ECDHE-ECDSA-AES128-GCM-SHA256",
        0xC02C: "ECDHE-ECDSA-AES256-GCM-SHA384",
        0xC02F: "ECDHE-RSA-AES128-GCM-SHA256",
        0xC030: "ECDHE-RSA-AES256-GCM-SHA384",
        0xCCA9: "ECDHE-ECDSA-CHACHA20-POLY1305",
        0xCCA8: "ECDHE-RSA-CHACHA20-POLY1305",
        0xC0AC: "ECDHE-ECDSA-AES128-CCM",
        0xC0AD: "ECDHE-ECDSA-AES256-CCM",
        0xC0AE: "ECDHE-ECDSA-AES128-CCM8",
        0xC0AF: "ECDHE-ECDSA-AES256-CCM8",
        0xC009: "ECDHE-ECDSA-AES128-SHA",
        0xC00A: "ECDHE-ECDSA-AES256-SHA",
        0xC013: "ECDHE-RSA-AES128-SHA",
        0xC014: "ECDHE-RSA-AES256-SHA",
        0xC023: "ECDHE-ECDSA-AES128-SHA256",
        0xC024: "ECDHE-ECDSA-AES256-SHA384",
        0xC027: "ECDHE-RSA-AES128-SHA256",
        0xC028: "ECDHE-RSA-AES256-SHA384",
        0x009C: "AES128-GCM-SHA256",
        0x009D: "AES256-GCM-SHA384",
        0x002F: "AES128-SHA",
        0x0035: "AES256-SHA",
        0x003C: "AES128-SHA256",
        0x003D: "AES256-SHA256",
        0xC09C: "AES128-CCM",
        0xC09D: "AES256-CCM",
        0xC0A0: "AES128-CCM8",
        0xC0A1: "AES256-CCM8",
        0xC05C: "ECDHE-ECDSA-ARIA128-GCM-SHA256",
        0xC05D: "ECDHE-ECDSA-ARIA256-GCM-SHA384",
        0xC060: "ECDHE-ARIA128-GCM-SHA256",
        0xC061: "ECDHE-ARIA256-GCM-SHA384",
        0xC050: "ARIA128-GCM-SHA256",
        0xC051: "ARIA256-GCM-SHA384",
        0xC012: "ECDHE-RSA-DES-CBC3-SHA",
        0x000A: "DES-CBC3-SHA",
        0xC011: "ECDHE-RSA-RC4-SHA",
        0xC007: "ECDHE-ECDSA-RC4-SHA",
        0x0005: "RC4-SHA",
    }
)


def _build_index() -> dict[str, tuple[int, str]]:
    """Upper-cased name -> (id, name as spelled in its source)."""
    index: dict[str, tuple[int, str]] = {}
    sources: Iterable[Mapping[int, str]] = (SUITE_NAMES, NSS_FIPS_NAMES, OPENSSL_NAMES)
    for source in sources:
        for suite, name in source.items():
            key = name.upper()
            previous = index.get(key)
            if previous is not None and previous[0] != suite:  # pragma: no cover - guarded by tests
                raise AssertionError(f"cipher-suite name {name!r} is ambiguous")
            index.setdefault(key, (suite, name))
    return index


_BY_NAME: Final[dict[str, tuple[int, str]]] = _build_index()
_HEX_RE: Final = re.compile(r"0[xX]([0-9a-fA-F]{1,4})")


def suite_name(suite: int) -> str:
    """Display name of a cipher-suite id.

    The name is the IANA name, or howsmyssl's name for its extras and for GREASE
    values, or the NSS name for 0xFEFE/0xFEFF. Anything else becomes
    ``"0x%04x"`` (lower-case, 4 digits), e.g. ``0x00ab``.
    """
    if not 0 <= suite <= 0xFFFF:
        raise ValueError(f"cipher-suite id out of range: {suite!r}")
    name = SUITE_NAMES.get(suite) or NSS_FIPS_NAMES.get(suite)
    return name if name is not None else f"0x{suite:04x}"


def suite_id(text: str) -> int:
    """The 16-bit id for a cipher-suite name or hex value.

    Accepts, case-insensitively:
    * IANA names (``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256``);
    * howsmyssl's extra and GREASE names;
    * OpenSSL names of the implemented suites (``ECDHE-RSA-AES128-GCM-SHA256``);
    * hex ids such as ``0x1301`` or ``0xc02f`` (any value up to 0xFFFF).

    Raises ValueError, with close matches where there are any.
    """
    token = text.strip()
    if not token:
        raise ValueError("empty cipher-suite name")
    m = _HEX_RE.fullmatch(token)
    if m is not None:
        return int(m.group(1), 16)
    if token[:2] in ("0x", "0X"):
        raise ValueError(f"bad cipher-suite hex value {token!r}: expected 0x0000 to 0xFFFF, e.g. 0x1301")
    hit = _BY_NAME.get(token.upper())
    if hit is not None:
        return hit[0]
    import difflib  # only for the error message

    close = difflib.get_close_matches(token.upper(), _BY_NAME.keys(), n=3, cutoff=0.6)
    message = f"unknown cipher suite {token!r}"
    if close:
        message += "; did you mean " + ", ".join(_BY_NAME[c][1] for c in close) + "?"
    else:
        message += "; use an IANA name such as TLS_AES_128_GCM_SHA256 or a hex id such as 0x1301"
    raise ValueError(message)


def check_implemented(suites: Iterable[int]) -> None:
    """Raise ValueError, saying why, for the first of ``suites`` the engine cannot negotiate.

    The signalling values (the SCSVs) and GREASE pass: they are offered on purpose
    and never chosen. Anything else that is not implemented would only be offered.
    """
    for suite in suites:
        if suite in SUITES and SUITES[suite].server_only:
            raise ValueError(
                f"{suite_name(suite)} (0x{suite:04x}) is for the check server only: a client never offers RC4 or 3DES"
            )
        if suite in IMPLEMENTED or suite in SIGNALLING or is_grease(suite):
            continue
        raise ValueError(
            f"{suite_name(suite)} (0x{suite:04x}) is not implemented here, so it could be offered but never "
            "negotiated (implemented: TLS 1.3's AES-GCM, AES-CCM and ChaCha20 suites; TLS 1.2's ECDHE, static ECDH "
            "and RSA key exchanges with AES-GCM, AES-CCM, AES-CBC, ARIA-GCM, ARIA-CBC or ChaCha20-Poly1305)"
        )


def parse_cipher_list(text: str) -> tuple[int, ...]:
    """Parse a comma-separated list of cipher suites (``"A, B,0x1301"``) into ids.

    Each entry is anything :func:`suite_id` accepts, and whitespace around
    entries is ignored. The order is kept. Raises ValueError for an empty list,
    an empty entry, an unknown name or a repeated suite.
    """
    if not text.strip():
        raise ValueError("empty cipher-suite list")
    ids: list[int] = []
    seen: dict[int, int] = {}
    for position, raw in enumerate(text.split(","), start=1):
        entry = raw.strip()
        if not entry:
            raise ValueError(f"cipher-suite list {text!r}: entry {position} is empty")
        try:
            suite = suite_id(entry)
        except ValueError as exc:
            hint = " (separate entries with commas)" if ":" in entry else ""
            raise ValueError(f"cipher-suite list entry {position}: {exc}{hint}") from None
        if suite in seen:
            raise ValueError(
                f"cipher-suite list entry {position}: {entry!r} repeats entry {seen[suite]} ({suite_name(suite)})"
            )
        seen[suite] = position
        ids.append(suite)
    return tuple(ids)
