"""Cipher-suite parameters by IANA id: what a suite means for the key
schedule and the record layer.

TLS 1.3 suites (RFC 8446 B.4) name only an AEAD and a hash. TLS 1.2 suites
(RFC 5246, 5288, 5289, 6655, 7251, 7905; ARIA: RFC 6209) also name their key
exchange (``ECDHE``, static ``RSA`` or static ``ECDH``, RFC 4492 2.1-2.3), the
certificate they need (``auth``: the key type for ECDHE and RSA; for ECDH the
leaf's key is EC and ``auth`` names the key that signed it), the cipher
(AES, ARIA, 3DES or RC4), the record protection mode and, for CBC, the MAC hash.
The suites with a SHA-1 MAC and no AEAD (AES-CBC, 3DES-CBC, RC4; RFC 2246,
4346, 4492) also work in TLS 1.0 and 1.1 (:attr:`SuiteParams.legacy_ok`); the
others are TLS 1.2's (RFC 5246 1.2: AEAD and SHA-256 suites are new in it).

Static ECDH is for the client only (:attr:`SuiteParams.client_only`); static RSA
is the client's when a device profile or ``--ciphers`` offers it and the check
server's (serve's howsmyssl role); ARIA is for device profiles and ``--ciphers``.
The default offer has none of them.

Which ids can be used with which version (:func:`check_suites_fit_versions`)
is here too, with the ids that are no suite: the signalling values
(:data:`SIGNALLING`) and GREASE (:data:`GREASE_IDS`). The names of all the
registry's suites are in :mod:`.catalogue`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final

from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from ..structs import Struct

if TYPE_CHECKING:
    from .aria import AriaGcm

    AeadFactory = Callable[[bytes], AESGCM | AESCCM | ChaCha20Poly1305 | AriaGcm]

__all__ = [
    "GREASE_IDS",
    "SIGNALLING",
    "SUITES",
    "SuiteParams",
    "check_suites_fit_versions",
    "is_grease",
    "suite_fits_version",
    "suite_params",
]


def _ccm8(key: bytes) -> AESCCM:
    return AESCCM(key, tag_length=8)


def _aria_gcm(key: bytes) -> AriaGcm:
    from .aria import AriaGcm  # pure Python ARIA: imported only when a device profile negotiates it

    return AriaGcm(key)


class SuiteParams(Struct):
    """One suite. ``mode`` is GCM, CCM, CCM8, CHACHA, CBC or RC4; ``cipher`` the block
    cipher of a CBC suite, AES or 3DES.

    ``iv_len`` is the TLS 1.3 nonce length, or in TLS 1.2 the implicit
    (fixed) IV part from the key block: 4 for GCM/CCM, 12 for ChaCha20, 0 for
    CBC (whose IV travels in each record from TLS 1.1 on; TLS 1.0's first IV
    comes from the key block, :attr:`block` bytes).
    """

    id: int
    name: str
    hash_name: str  # the PRF / HKDF hash (hashlib name)
    hash_len: int
    key_len: int
    iv_len: int
    tag_len: int
    aead: AeadFactory | None
    tls13: bool
    kx: str = ""  # TLS 1.2: "ECDHE", "RSA" or "ECDH"
    auth: str = ""  # TLS 1.2: "RSA" or "ECDSA" (the certificate key type; ECDH: its issuer's)
    mode: str = "GCM"
    mac_name: str = ""  # CBC only: HMAC hash
    mac_len: int = 0
    cipher: str = "AES"  # "AES", "ARIA" or "3DES" (GCM, CCM and CBC suites); "RC4" for RC4 suites

    @property
    def cbc(self) -> bool:
        return self.mode == "CBC"

    @property
    def client_only(self) -> bool:
        """Static ECDH (fixed ECDH from the certificate's key): the server never negotiates it."""
        return self.kx == "ECDH"

    @property
    def server_only(self) -> bool:
        """RC4 and 3DES: the check server accepts them, since howsmyssl rates the clients that
        offer them; our client never does (RFC 7465 forbids RC4; 3DES's 64-bit blocks: Sweet32)."""
        return self.cipher in ("RC4", "3DES")

    @property
    def block(self) -> int:
        """A CBC suite's block size: 8 for 3DES, 16 for AES and ARIA."""
        return 8 if self.cipher == "3DES" else 16

    @property
    def legacy_ok(self) -> bool:
        """Usable in TLS 1.0 and 1.1: CBC or RC4 with a SHA-1 MAC (the others need TLS 1.2)."""
        return self.mode in ("CBC", "RC4") and self.mac_name == "sha1"


_S = SuiteParams
_SHA256 = ("sha256", 32)
_SHA384 = ("sha384", 48)


def _t13(sid: int, name: str, h: tuple[str, int], key: int, tag: int, aead: AeadFactory, mode: str) -> SuiteParams:
    return _S(sid, name, h[0], h[1], key, 12, tag, aead, True, mode=mode)


def _aead12(sid: int, name: str, kx: str, auth: str, h: tuple[str, int], key: int, mode: str) -> SuiteParams:
    factories: dict[str, AeadFactory] = {"GCM": AESGCM, "CCM": AESCCM, "CCM8": _ccm8, "CHACHA": ChaCha20Poly1305}
    aead = factories[mode]
    iv = 12 if mode == "CHACHA" else 4
    tag = 8 if mode == "CCM8" else 16
    return _S(sid, name, h[0], h[1], key, iv, tag, aead, False, kx, auth, mode)


def _cbc12(sid: int, name: str, kx: str, auth: str, key: int, mac: str, cipher: str = "AES") -> SuiteParams:
    # RFC 5246 5: CBC suites with SHA-1/SHA-256 MACs use the SHA-256 PRF; SHA-384 ones use SHA-384 (RFC 5289).
    prf = _SHA384 if mac == "sha384" else _SHA256
    mac_len = {"sha1": 20, "sha256": 32, "sha384": 48}[mac]
    return _S(sid, name, prf[0], prf[1], key, 0, 0, None, False, kx, auth, "CBC", mac, mac_len, cipher)


def _rc4(sid: int, name: str, kx: str, auth: str) -> SuiteParams:
    return _S(sid, name, _SHA256[0], _SHA256[1], 16, 0, 0, None, False, kx, auth, "RC4", "sha1", 20, "RC4")


def _aria12(sid: int, kx: str, auth: str, bits: int, mode: str) -> SuiteParams:
    """RFC 6209: ARIA-128 with SHA-256 (PRF, and the CBC MAC), ARIA-256 with SHA-384; GCM as RFC 5288's."""
    sig = "" if kx == "RSA" else f"_{auth}"
    h = _SHA256 if bits == 128 else _SHA384
    name = f"TLS_{kx}{sig}_WITH_ARIA_{bits}_{mode}_{h[0].upper()}"
    if mode == "CBC":
        return _cbc12(sid, name, kx, auth, bits // 8, h[0], "ARIA")
    return _S(sid, name, h[0], h[1], bits // 8, 4, 16, _aria_gcm, False, kx, auth, "GCM", cipher="ARIA")


# RFC 6209's order of key exchanges, two ids (128, 256) each, from 0xC03C (CBC) and 0xC050 (GCM)
_ARIA_KX = (
    ("RSA", "RSA"),
    ("DH", "DSS"),
    ("DH", "RSA"),
    ("DHE", "DSS"),
    ("DHE", "RSA"),
    ("DH", "anon"),
    ("ECDHE", "ECDSA"),
    ("ECDH", "ECDSA"),
    ("ECDHE", "RSA"),
    ("ECDH", "RSA"),
)
_ARIA_UNUSED = frozenset(range(0xC03E, 0xC048)) | frozenset(range(0xC052, 0xC05C))  # the DH/DHE/anon ones

SUITES: dict[int, SuiteParams] = {
    s.id: s
    for s in (
        _t13(0x1301, "TLS_AES_128_GCM_SHA256", _SHA256, 16, 16, AESGCM, "GCM"),
        _t13(0x1302, "TLS_AES_256_GCM_SHA384", _SHA384, 32, 16, AESGCM, "GCM"),
        _t13(0x1303, "TLS_CHACHA20_POLY1305_SHA256", _SHA256, 32, 16, ChaCha20Poly1305, "CHACHA"),
        _t13(0x1304, "TLS_AES_128_CCM_SHA256", _SHA256, 16, 16, AESCCM, "CCM"),
        _t13(0x1305, "TLS_AES_128_CCM_8_SHA256", _SHA256, 16, 8, _ccm8, "CCM8"),
        # ECDHE AEAD (RFC 5289, 7251, 7905)
        _aead12(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE", "ECDSA", _SHA256, 16, "GCM"),
        _aead12(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE", "ECDSA", _SHA384, 32, "GCM"),
        _aead12(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE", "RSA", _SHA256, 16, "GCM"),
        _aead12(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE", "RSA", _SHA384, 32, "GCM"),
        _aead12(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE", "RSA", _SHA256, 32, "CHACHA"),
        _aead12(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE", "ECDSA", _SHA256, 32, "CHACHA"),
        _aead12(0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "ECDHE", "ECDSA", _SHA256, 16, "CCM"),
        _aead12(0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", "ECDHE", "ECDSA", _SHA256, 32, "CCM"),
        _aead12(0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", "ECDHE", "ECDSA", _SHA256, 16, "CCM8"),
        _aead12(0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", "ECDHE", "ECDSA", _SHA256, 32, "CCM8"),
        # ECDHE CBC (RFC 4492, 5289)
        _cbc12(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE", "ECDSA", 16, "sha1"),
        _cbc12(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE", "ECDSA", 32, "sha1"),
        _cbc12(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE", "RSA", 16, "sha1"),
        _cbc12(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE", "RSA", 32, "sha1"),
        _cbc12(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE", "ECDSA", 16, "sha256"),
        _cbc12(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE", "ECDSA", 32, "sha384"),
        _cbc12(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE", "RSA", 16, "sha256"),
        _cbc12(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "ECDHE", "RSA", 32, "sha384"),
        # RC4 (RFC 5246, 4492; forbidden by RFC 7465) and 3DES (64-bit blocks): the check server's
        # only, howsmyssl accepts them
        _rc4(0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "ECDHE", "RSA"),
        _rc4(0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "ECDHE", "ECDSA"),
        _rc4(0x0005, "TLS_RSA_WITH_RC4_128_SHA", "RSA", "RSA"),
        _cbc12(0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE", "RSA", 24, "sha1", "3DES"),
        _cbc12(0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "RSA", "RSA", 24, "sha1", "3DES"),
        # static RSA key exchange (RFC 5246, 5288, 6655): a client when a profile or the user asks, a server
        # when configured with them (serve's check server)
        _aead12(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", "RSA", "RSA", _SHA256, 16, "GCM"),
        _aead12(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", "RSA", "RSA", _SHA384, 32, "GCM"),
        _aead12(0xC09C, "TLS_RSA_WITH_AES_128_CCM", "RSA", "RSA", _SHA256, 16, "CCM"),
        _aead12(0xC09D, "TLS_RSA_WITH_AES_256_CCM", "RSA", "RSA", _SHA256, 32, "CCM"),
        _aead12(0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8", "RSA", "RSA", _SHA256, 16, "CCM8"),
        _aead12(0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8", "RSA", "RSA", _SHA256, 32, "CCM8"),
        _cbc12(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", "RSA", 16, "sha1"),
        _cbc12(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "RSA", "RSA", 32, "sha1"),
        _cbc12(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", "RSA", "RSA", 16, "sha256"),
        _cbc12(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", "RSA", "RSA", 32, "sha256"),
        # static ECDH key exchange (RFC 4492, 5289): client only, when a profile or the user asks
        _aead12(0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", "ECDH", "ECDSA", _SHA256, 16, "GCM"),
        _aead12(0xC02E, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", "ECDH", "ECDSA", _SHA384, 32, "GCM"),
        _aead12(0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", "ECDH", "RSA", _SHA256, 16, "GCM"),
        _aead12(0xC032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", "ECDH", "RSA", _SHA384, 32, "GCM"),
        _cbc12(0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", "ECDH", "ECDSA", 16, "sha1"),
        _cbc12(0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", "ECDH", "ECDSA", 32, "sha1"),
        _cbc12(0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", "ECDH", "RSA", 16, "sha1"),
        _cbc12(0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", "ECDH", "RSA", 32, "sha1"),
        _cbc12(0xC025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", "ECDH", "ECDSA", 16, "sha256"),
        _cbc12(0xC026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", "ECDH", "ECDSA", 32, "sha384"),
        _cbc12(0xC029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", "ECDH", "RSA", 16, "sha256"),
        _cbc12(0xC02A, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384", "ECDH", "RSA", 32, "sha384"),
        # ARIA (RFC 6209), GCM and CBC, with each key exchange: device profiles and --ciphers only
        *(
            _aria12(0xC03C + 2 * i + (bits == 256), kx, auth, bits, "CBC")
            for i, (kx, auth) in enumerate(_ARIA_KX)
            for bits in (128, 256)
        ),
        *(
            _aria12(0xC050 + 2 * i + (bits == 256), kx, auth, bits, "GCM")
            for i, (kx, auth) in enumerate(_ARIA_KX)
            for bits in (128, 256)
        ),
    )
    if s.id not in _ARIA_UNUSED
}


def suite_params(suite: int) -> SuiteParams | None:
    """Parameters of an implemented suite, or None."""
    return SUITES.get(suite)


#: The 16 GREASE cipher-suite values of RFC 8701: 0x0A0A, 0x1A1A, ... 0xFAFA.
GREASE_IDS: Final[frozenset[int]] = frozenset((hi << 8) | hi for hi in range(0x0A, 0x100, 0x10))

#: TLS_EMPTY_RENEGOTIATION_INFO_SCSV and TLS_FALLBACK_SCSV: signals in a ClientHello's list, no suites.
SIGNALLING: Final[frozenset[int]] = frozenset({0x00FF, 0x5600})

_VERSION_NAMES: Final = {0x0304: "TLS 1.3", 0x0303: "TLS 1.2", 0x0302: "TLS 1.1", 0x0301: "TLS 1.0"}


def is_grease(suite: int) -> bool:
    """True for the 16 GREASE values ``0x?A?A`` (both bytes equal)."""
    return suite in GREASE_IDS


def suite_fits_version(suite: int, version: int) -> bool:
    """Whether ``suite`` can be used at ``version`` (wire value): TLS 1.3 suites (0x13xx)
    only in TLS 1.3, the others in TLS 1.2, and those :attr:`SuiteParams.legacy_ok` (or
    not implemented: a client may offer them) in TLS 1.0 and 1.1 too."""
    if suite >> 8 == 0x13:
        return version == 0x0304
    if version == 0x0303:
        return True
    params = SUITES.get(suite)
    return version in (0x0301, 0x0302) and (params is None or params.legacy_ok)


def check_suites_fit_versions(suites: Iterable[int], versions: Iterable[int]) -> None:
    """Raise ValueError when no suite of ``suites`` can be used with any of ``versions``
    (wire values 0x0301..0x0304, :func:`suite_fits_version`); signalling values and
    GREASE are usable with none.

    The message names the suites and says why (for ``--ciphers`` with ``--tls-version``).
    """
    suites, versions = tuple(suites), tuple(versions)
    real = [s for s in suites if s not in SIGNALLING and not is_grease(s)]
    has13, has12 = any(s >> 8 == 0x13 for s in real), any(s >> 8 != 0x13 for s in real)
    if any(suite_fits_version(s, v) for s in real for v in versions):
        return
    from .catalogue import suite_name  # the registry's name tables: only for this message

    names = ", ".join(suite_name(s) for s in suites) or "no suite"
    shown = " or ".join(_VERSION_NAMES.get(v, f"0x{v:04X}") for v in versions)
    if has13 and not has12:
        why = "TLS 1.3 suites work only with TLS 1.3"
    elif has12 and not has13 and not any(v in (0x0301, 0x0302) for v in versions):
        why = "these suites work only with TLS 1.2"
    elif has12 and not has13:
        why = "TLS 1.0 and 1.1 take only CBC suites with a SHA-1 MAC"
    else:
        why = "no suite usable with these versions"
    raise ValueError(f"none of {names} can be used with {shown} ({why})")
