"""Client profiles: named, complete ClientHello recipes.

A :class:`Profile` fixes everything a ClientHello shows about the client:
the versions, the cipher suites and their order, the groups, the signature
algorithms, the PSK modes and the extension order, plus the few legacy
details that differ between stacks (the record-layer version of the first
hello, gmt_unix_time in the random, a compatibility session id).
:func:`client_config` turns one into a :class:`~.config.ClientConfig`; the
caller adds what is not part of the hello's shape (verifier, ALPN, debug,
key log, injected clock and randomness...).

Profiles
--------
``default``
    TLS 1.3 and 1.2, AEAD only: the three TLS 1.3 suites then the ECDHE AEAD
    TLS 1.2 suites; X25519MLKEM768 first among the groups, with key shares for
    X25519MLKEM768 and x25519.
``esp32-mbedtls``
    The ClientHello of the ESP32 in ESP-IDF's ``https_request`` example
    output (ESP-IDF v5.x, Mbed TLS 3.x, TLS 1.2 build), byte for byte apart
    from the random and the server name: the 59 suites of its howsmyssl.com
    reply (2024-02-27) in order, ending with the
    renegotiation SCSV, and the extensions server_name, supported_groups,
    signature_algorithms, ec_point_formats, encrypt_then_mac,
    extended_master_secret, session_ticket. The random starts with the Unix
    time and the session id of a first connection is empty.
``esp32-mbedtls-tls13``
    The same device built with TLS 1.3 (``CONFIG_MBEDTLS_SSL_PROTO_TLS1_3=y``):
    four TLS 1.3 suites before the 59, supported_versions, one x25519 key share,
    psk_key_exchange_modes (psk_dhe_ke, psk_ke), the TLS 1.3 signature
    algorithm preset and a 32-byte compatibility session id.

Source for both esp32 profiles: ClientHellos captured from upstream Mbed TLS
3.6.2's ``ssl_client2`` built with ESP-IDF v5's default configuration (3.5.2
and 3.6.0 send the same bytes), without and with TLS 1.3; the captured bytes
are in ``tests/data/howsmyssl/mbedtls-clienthellos.json``.

Every suite the esp32 profiles offer can be completed, the ARIA (RFC 6209) and
static ECDH (RFC 4492) ones included: the engine has them for the client, used
only by these profiles and ``--ciphers`` (docs/DEVICE_SUITES.md: each one against
Mbed TLS, OpenSSL and serve).

Both esp32 profiles carry the device (:data:`.device.ESP32_MBEDTLS`): its
record buffers (records out of at most ``MBEDTLS_SSL_OUT_CONTENT_LEN`` =
4096 bytes, in at most ``MBEDTLS_SSL_IN_CONTENT_LEN`` = 16384), no handshake
message across records (Mbed TLS 3.6.2), and Mbed TLS's per-version hello
rules: a resumption offers the session's version only (the TLS 1.3 one:
supported_versions 1.3, four suites and the SCSV, four groups, no TLS 1.2
extension), a TLS 1.2-only hello lists no RSA-PSS scheme. docs/DEVICE_PROFILES.md
lists each limit with its source.
"""

from __future__ import annotations

from typing import Any

from ..structs import Struct, fields
from .config import DEFAULT_CIPHER_SUITES, DEFAULT_GROUPS, DEFAULT_SIGNATURE_SCHEMES, ClientConfig
from .device import ESP32_MBEDTLS, Device
from .enums import ExtensionType as ET
from .enums import NamedGroup, ProtocolVersion, PskKeyExchangeMode
from .enums import SignatureScheme as SS
from .kx import SUPPORTED_GROUPS

__all__ = ["PROFILES", "Profile", "client_config", "get_profile", "profile_names"]


class Profile(Struct, slots=False):
    """A named ClientHello recipe; the fields mirror :class:`ClientConfig`'s."""

    name: str
    description: str
    versions: tuple[int, ...]
    cipher_suites: tuple[int, ...]
    groups: tuple[int, ...]
    key_share_groups: tuple[int, ...]
    signature_schemes: tuple[int, ...]
    psk_modes: tuple[int, ...] = (PskKeyExchangeMode.psk_dhe_ke,)
    middlebox_compat: bool = True
    unix_time_random: bool = False
    extension_order: tuple[int, ...] = ()
    hello_record_version: int = 0x0301
    max_fragment_length: int = 16384
    device: Device | None = None

    def config_fields(self) -> dict[str, Any]:
        """The recipe as ClientConfig keyword arguments."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("name", "description")}


# The 59 suites of the ESP-IDF example's howsmyssl.com reply, in order (the TLS 1.2-only build's hello).
ESP32_MBEDTLS_SUITES: tuple[int, ...] = (
    0xC02C,  # TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    0xC030,  # TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    0xC0AD,  # TLS_ECDHE_ECDSA_WITH_AES_256_CCM
    0xC024,  # TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
    0xC028,  # TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384
    0xC00A,  # TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
    0xC014,  # TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
    0xC0AF,  # TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8
    0xC05D,  # TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384
    0xC061,  # TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384
    0xC049,  # TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384
    0xC04D,  # TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384
    0xC02B,  # TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    0xC02F,  # TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    0xC0AC,  # TLS_ECDHE_ECDSA_WITH_AES_128_CCM
    0xC023,  # TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
    0xC027,  # TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256
    0xC009,  # TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
    0xC013,  # TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    0xC0AE,  # TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8
    0xC05C,  # TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256
    0xC060,  # TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256
    0xC048,  # TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256
    0xC04C,  # TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256
    0x009D,  # TLS_RSA_WITH_AES_256_GCM_SHA384
    0xC09D,  # TLS_RSA_WITH_AES_256_CCM
    0x003D,  # TLS_RSA_WITH_AES_256_CBC_SHA256
    0x0035,  # TLS_RSA_WITH_AES_256_CBC_SHA
    0xC032,  # TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384
    0xC02A,  # TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384
    0xC00F,  # TLS_ECDH_RSA_WITH_AES_256_CBC_SHA
    0xC02E,  # TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384
    0xC026,  # TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384
    0xC005,  # TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA
    0xC0A1,  # TLS_RSA_WITH_AES_256_CCM_8
    0xC05F,  # TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384
    0xC063,  # TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384
    0xC051,  # TLS_RSA_WITH_ARIA_256_GCM_SHA384
    0xC04B,  # TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384
    0xC04F,  # TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384
    0xC03D,  # TLS_RSA_WITH_ARIA_256_CBC_SHA384
    0x009C,  # TLS_RSA_WITH_AES_128_GCM_SHA256
    0xC09C,  # TLS_RSA_WITH_AES_128_CCM
    0x003C,  # TLS_RSA_WITH_AES_128_CBC_SHA256
    0x002F,  # TLS_RSA_WITH_AES_128_CBC_SHA
    0xC031,  # TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256
    0xC029,  # TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256
    0xC00E,  # TLS_ECDH_RSA_WITH_AES_128_CBC_SHA
    0xC02D,  # TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256
    0xC025,  # TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256
    0xC004,  # TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA
    0xC0A0,  # TLS_RSA_WITH_AES_128_CCM_8
    0xC05E,  # TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256
    0xC062,  # TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256
    0xC050,  # TLS_RSA_WITH_ARIA_128_GCM_SHA256
    0xC04A,  # TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256
    0xC04E,  # TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256
    0xC03C,  # TLS_RSA_WITH_ARIA_128_CBC_SHA256
    0x00FF,  # TLS_EMPTY_RENEGOTIATION_INFO_SCSV
)

# Mbed TLS 3.x's TLS 1.3 suites without ChaCha20 (ESP-IDF turns it off), in its order.
ESP32_MBEDTLS_TLS13_SUITES: tuple[int, ...] = (
    0x1302,  # TLS_AES_256_GCM_SHA384
    0x1301,  # TLS_AES_128_GCM_SHA256
    0x1304,  # TLS_AES_128_CCM_SHA256
    0x1305,  # TLS_AES_128_CCM_8_SHA256
)

# Mbed TLS 3.x's fixed supported_groups preset (x448 and FFDHE not compiled in by ESP-IDF). The
# brainpool curves (RFC 7027) are TLS 1.2 ECDHE curves: a TLS 1.3-only hello leaves them out.
ESP32_MBEDTLS_GROUPS: tuple[int, ...] = (
    NamedGroup.x25519,
    NamedGroup.secp256r1,
    NamedGroup.secp384r1,
    NamedGroup.secp521r1,
    NamedGroup.brainpoolP256r1,
    NamedGroup.brainpoolP384r1,
    NamedGroup.brainpoolP512r1,
)

# ssl_tls12_preset_default_sig_algs: chosen when the build has no TLS 1.3 (SHA-512 first).
ESP32_MBEDTLS_SIGALGS_TLS12: tuple[int, ...] = (
    SS.ecdsa_secp521r1_sha512,
    SS.rsa_pkcs1_sha512,
    SS.ecdsa_secp384r1_sha384,
    SS.rsa_pkcs1_sha384,
    SS.ecdsa_secp256r1_sha256,
    SS.rsa_pkcs1_sha256,
)

# ssl_preset_default_sig_algs: chosen when TLS 1.3 is compiled in.
ESP32_MBEDTLS_SIGALGS_TLS13: tuple[int, ...] = (
    SS.ecdsa_secp256r1_sha256,
    SS.ecdsa_secp384r1_sha384,
    SS.ecdsa_secp521r1_sha512,
    SS.rsa_pss_rsae_sha512,
    SS.rsa_pss_rsae_sha384,
    SS.rsa_pss_rsae_sha256,
    SS.rsa_pkcs1_sha512,
    SS.rsa_pkcs1_sha384,
    SS.rsa_pkcs1_sha256,
)

# Mbed TLS 3.x emission order (ssl_write_client_hello_body / mbedtls_ssl_tls12_write_client_hello_exts),
# limited to what the esp32 profiles send; ALPN would follow server_name, max_fragment_length ec_point_formats.
ESP32_MBEDTLS_EXTENSION_ORDER: tuple[int, ...] = (
    ET.server_name,
    ET.application_layer_protocol_negotiation,
    ET.supported_versions,
    ET.cookie,
    ET.key_share,
    ET.early_data,
    ET.psk_key_exchange_modes,
    ET.supported_groups,
    ET.signature_algorithms,
    ET.renegotiation_info,  # a renegotiation's hello only
    ET.ec_point_formats,
    ET.max_fragment_length,
    ET.encrypt_then_mac,
    ET.extended_master_secret,
    ET.session_ticket,
)

_TLS13_AND_12 = (ProtocolVersion.TLS1_3, ProtocolVersion.TLS1_2)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="default",
            description="TLS 1.3 + 1.2, AEAD suites only, X25519MLKEM768 hybrid key share first",
            versions=_TLS13_AND_12,
            cipher_suites=DEFAULT_CIPHER_SUITES,
            groups=DEFAULT_GROUPS,
            key_share_groups=(NamedGroup.X25519MLKEM768, NamedGroup.x25519),
            signature_schemes=DEFAULT_SIGNATURE_SCHEMES,
        ),
        Profile(
            name="esp32-mbedtls",
            description="ESP-IDF's example ESP32 (ESP-IDF v5, Mbed TLS 3.x, TLS 1.2 only): 59 suites, byte-exact hello",
            versions=(ProtocolVersion.TLS1_2,),
            cipher_suites=ESP32_MBEDTLS_SUITES,
            groups=ESP32_MBEDTLS_GROUPS,
            key_share_groups=(NamedGroup.x25519,),  # unused: no TLS 1.3 offered
            signature_schemes=ESP32_MBEDTLS_SIGALGS_TLS12,
            psk_modes=(PskKeyExchangeMode.psk_dhe_ke, PskKeyExchangeMode.psk_ke),  # unused without TLS 1.3
            middlebox_compat=True,  # no effect here: a TLS 1.2-only first hello has an empty session id
            unix_time_random=True,
            extension_order=ESP32_MBEDTLS_EXTENSION_ORDER,
            hello_record_version=0x0303,
            max_fragment_length=ESP32_MBEDTLS.out_content_len,
            device=ESP32_MBEDTLS,
        ),
        Profile(
            name="esp32-mbedtls-tls13",
            description="the same ESP32 with TLS 1.3 enabled in Mbed TLS: 63 suites, x25519 key share",
            versions=_TLS13_AND_12,
            cipher_suites=ESP32_MBEDTLS_TLS13_SUITES + ESP32_MBEDTLS_SUITES,
            groups=ESP32_MBEDTLS_GROUPS,
            key_share_groups=(NamedGroup.x25519,),
            signature_schemes=ESP32_MBEDTLS_SIGALGS_TLS13,
            psk_modes=(PskKeyExchangeMode.psk_dhe_ke, PskKeyExchangeMode.psk_ke),
            middlebox_compat=True,  # MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE: 32-byte session id
            unix_time_random=True,  # only in a TLS 1.2-only hello (a TLS 1.2 resumption, --tls-version 1.2)
            extension_order=ESP32_MBEDTLS_EXTENSION_ORDER,
            hello_record_version=0x0303,
            max_fragment_length=ESP32_MBEDTLS.out_content_len,
            device=ESP32_MBEDTLS,
        ),
    )
}


def profile_names() -> list[str]:
    """The known profile names, ``default`` first."""
    return list(PROFILES)


def get_profile(name: str) -> Profile:
    """The profile called ``name``; ValueError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown client profile {name!r}; known profiles: {', '.join(profile_names())}") from None


def client_config(profile_name: str, **overrides: Any) -> ClientConfig:
    """A :class:`ClientConfig` with the hello of ``profile_name``.

    ``overrides`` are ClientConfig fields (verifier, alpn_protocols,
    early_data, debug, keylog, random, now...) and may replace recipe fields
    too (cipher_suites, groups, versions...). When ``groups`` is replaced but
    ``key_share_groups`` is not, the key shares keep the recipe's groups that
    are still offered, or else the first new group TLS 1.3 has (none: the server
    may ask for one with a HelloRetryRequest).
    """
    kw = get_profile(profile_name).config_fields()
    if "groups" in overrides and "key_share_groups" not in overrides:
        groups = tuple(overrides["groups"])
        kept = tuple(g for g in kw["key_share_groups"] if g in groups)
        kw["key_share_groups"] = kept or tuple(g for g in groups if g in SUPPORTED_GROUPS)[:1]
    kw.update(overrides)
    return ClientConfig(**kw)
