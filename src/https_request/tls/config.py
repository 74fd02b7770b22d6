"""Client and server configuration: immutable, validated when built.

Clock, randomness, debug sink and key log are injected here; the defaults are
the real clock, ``os.urandom``, no debug output and no key log.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from ..structs import Struct, field
from .debug import NULL_DEBUG, TlsDebug
from .device import Device
from .enums import CipherSuite, NamedGroup, ProtocolVersion, PskKeyExchangeMode, SignatureScheme
from .session import AntiReplay, MemoryAntiReplay, SessionCache, TicketKeys
from .suites import SUITES, check_suites_fit_versions

if TYPE_CHECKING:  # x509 is imported where a certificate is read: a resumed handshake reads none
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

    from .messages import Extension

__all__ = [
    "DEFAULT_CIPHER_SUITES",
    "DEFAULT_GROUPS",
    "DEFAULT_SIGNATURE_SCHEMES",
    "CertificateVerifier",
    "CertifiedKey",
    "ClientConfig",
    "ServerConfig",
    "Signer",
    "VerifiedChain",
    "system_clock",
]


def system_clock() -> float:
    """Seconds since the Unix epoch (the default clock)."""
    return datetime.now(UTC).timestamp()


DEFAULT_CIPHER_SUITES: tuple[int, ...] = (
    CipherSuite.TLS_AES_128_GCM_SHA256,
    CipherSuite.TLS_AES_256_GCM_SHA384,
    CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    # TLS 1.2: ECDHE with AEAD only (used when TLS 1.2 is among the versions)
    0xC02B,  # TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    0xC02F,  # TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    0xC02C,  # TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    0xC030,  # TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    0xCCA9,  # TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    0xCCA8,  # TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
)
DEFAULT_GROUPS: tuple[int, ...] = (
    NamedGroup.X25519MLKEM768,
    NamedGroup.x25519,
    NamedGroup.secp256r1,
    NamedGroup.secp384r1,
)
DEFAULT_SIGNATURE_SCHEMES: tuple[int, ...] = (
    SignatureScheme.ecdsa_secp256r1_sha256,
    SignatureScheme.ecdsa_secp384r1_sha384,
    SignatureScheme.rsa_pss_rsae_sha256,
    SignatureScheme.rsa_pss_rsae_sha384,
    SignatureScheme.rsa_pss_rsae_sha512,
    SignatureScheme.ed25519,
    SignatureScheme.rsa_pkcs1_sha256,
    SignatureScheme.rsa_pkcs1_sha384,
    SignatureScheme.rsa_pkcs1_sha512,
)


class VerifiedChain(Struct, slots=False):
    """Proof that a peer chain was verified; only verifiers build it.

    ``path`` is the verified path, leaf first, up to the trust anchor (the
    leaf alone when it is itself trusted); :attr:`chain` is the same as DER.
    """

    path: tuple[x509.Certificate, ...]

    @property
    def chain(self) -> tuple[bytes, ...]:
        """The path as DER (re-encoded here, on demand: nothing on a handshake's path needs it)."""
        from cryptography.hazmat.primitives.serialization import Encoding

        return tuple(cert.public_bytes(Encoding.DER) for cert in self.path)


class CertificateVerifier(Protocol):
    """Checks a peer's certificate chain (DER, leaf first).

    Implementations raise :class:`~https_request.tls.errors.TlsError` with a
    ``CERT_*`` reason (and mbedTLS verify flags) when the chain is not
    acceptable.

    ``policy``, ``trust_fingerprint`` and ``check_name`` describe the check
    (a session records them, see :class:`~https_request.tls.session.PeerCheck`):
    the verify policy's name, :func:`~https_request.tls.session.trust_fingerprint`
    of the trust source, and whether the server name is compared.
    """

    @property
    def policy(self) -> str: ...

    @property
    def trust_fingerprint(self) -> bytes: ...

    @property
    def check_name(self) -> bool: ...

    def verify(self, chain: Sequence[bytes], server_name: str | None, now: float, *, server: bool) -> VerifiedChain:
        """``server`` is True when the chain is a server's (EKU serverAuth)."""
        ...


Signer = Callable[[int, bytes], bytes]
"""``signer(scheme, data) -> signature``: replaces the private key's own
signing (a hook for reproducing published traces)."""


class CertifiedKey(Struct, slots=False):
    """A certificate chain (leaf first) and the leaf's private key.

    Raises ValueError for an empty chain or a key that is not the leaf's
    (its public key differs from the one the leaf certifies; a leaf whose key
    type cannot be read is not checked).
    """

    chain: tuple[x509.Certificate, ...]
    key: CertificateIssuerPrivateKeyTypes

    def __post_init__(self) -> None:
        from cryptography.exceptions import UnsupportedAlgorithm

        if not self.chain:
            raise ValueError("a certified key needs at least one certificate")
        try:
            certified = self.chain[0].public_key()
        except (ValueError, UnsupportedAlgorithm):  # a key type we cannot read: the peer decides
            return
        if certified != self.key.public_key():
            subject = self.chain[0].subject.rfc4514_string() or "with an empty subject"
            raise ValueError(f"the private key does not match the certificate {subject} (another public key)")

    @cached_property
    def chain_der(self) -> tuple[bytes, ...]:
        from cryptography.hazmat.primitives.serialization import Encoding

        return tuple(c.public_bytes(Encoding.DER) for c in self.chain)

    @cached_property
    def certificate13(self) -> bytes:
        """The body of a server's TLS 1.3 Certificate message for this chain (no request context, no
        entry extensions): the same for every connection, so encoded once."""
        from .messages import Certificate, CertificateEntry

        return Certificate(b"", tuple(CertificateEntry(d) for d in self.chain_der)).encode()

    @cached_property
    def certificate12(self) -> bytes:
        """The body of a TLS 1.2 Certificate message for this chain, encoded once."""
        from .messages12 import Certificate12

        return Certificate12(self.chain_der).encode()


_MODERN = (ProtocolVersion.TLS1_2, ProtocolVersion.TLS1_3)
_ALL_VERSIONS = (ProtocolVersion.TLS1_0, ProtocolVersion.TLS1_1, *_MODERN)


def _check_common(cfg: ClientConfig | ServerConfig) -> None:
    if not cfg.cipher_suites:
        raise ValueError("cipher_suites must not be empty")
    if not cfg.groups:
        raise ValueError("groups must not be empty")
    if isinstance(cfg, ServerConfig):  # a server may take TLS 1.0 and 1.1 clients; our client never offers them
        if not cfg.versions or any(v not in _ALL_VERSIONS for v in cfg.versions):
            raise ValueError("versions must be a non-empty subset of TLS 1.0, 1.1, 1.2 and 1.3")
    elif not cfg.versions or any(v not in _MODERN for v in cfg.versions):
        raise ValueError("versions must be a non-empty subset of TLS 1.2 and TLS 1.3")
    if not 64 <= cfg.max_fragment_length <= 16384:
        raise ValueError("max_fragment_length must be 64..16384")
    for p in cfg.alpn_protocols:
        if not 1 <= len(p.encode()) <= 255:
            raise ValueError(f"bad ALPN protocol name {p!r}")


class ClientConfig(Struct, slots=False):
    """What a client offers and how it checks the server.

    ``verifier=None`` means *no verification at all*: only the facade may ask
    for that, loudly. ``key_share_groups`` chooses which groups get a key share
    in the first ClientHello (the rest are offered and reachable by HRR).
    ``extensions_hook`` may rewrite the ClientHello's extension list (tests use
    it to reproduce published traces).

    TLS 1.2 (when among ``versions``): ``cipher_suites`` may hold TLS 1.2
    suites, including ones the engine does not implement (a profile offers them;
    a server that picks one gets handshake_failure). ``false_start`` sends
    application data right after our Finished (RFC 7918; ECDHE + AEAD only).
    ``unix_time_random`` puts gmt_unix_time in the first 4 random bytes when TLS
    1.2 is the highest version offered (as mbedTLS does). ``extension_order``
    sorts the ClientHello's extensions by type (those not listed keep their
    place after the listed ones; pre_shared_key stays last).
    ``hello_record_version`` is the record-layer version of the first
    ClientHello (0x0301 by default, as OpenSSL; mbedTLS uses 0x0303).
    ``device``: a device stack's limits and hello rules (:mod:`.device`), set
    by device profiles; None for none.
    """

    verifier: CertificateVerifier | None = None
    versions: tuple[int, ...] = (ProtocolVersion.TLS1_3,)
    cipher_suites: tuple[int, ...] = DEFAULT_CIPHER_SUITES
    groups: tuple[int, ...] = DEFAULT_GROUPS
    key_share_groups: tuple[int, ...] = (NamedGroup.X25519MLKEM768, NamedGroup.x25519)
    signature_schemes: tuple[int, ...] = DEFAULT_SIGNATURE_SCHEMES
    alpn_protocols: tuple[str, ...] = ()
    psk_modes: tuple[int, ...] = (PskKeyExchangeMode.psk_dhe_ke,)
    early_data: bool = False
    certificate: CertifiedKey | None = None
    send_sni: bool = True
    middlebox_compat: bool = True
    max_fragment_length: int = 16384
    false_start: bool = False
    unix_time_random: bool = False
    extension_order: tuple[int, ...] = ()
    hello_record_version: int = 0x0301
    device: Device | None = None
    extensions_hook: Callable[[list[Extension]], list[Extension]] | None = None
    signer: Signer | None = None
    now: Callable[[], float] = system_clock
    random: Callable[[int], bytes] = os.urandom
    debug: TlsDebug = NULL_DEBUG
    keylog: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        _check_common(self)
        check_suites_fit_versions(self.cipher_suites, self.versions)
        if any((p := SUITES.get(s)) is not None and p.server_only for s in self.cipher_suites):
            raise ValueError("the client never offers RC4 or 3DES suites (the check server's only)")
        from .kx import SUPPORTED_GROUPS  # (the key exchanges: imported with the engine anyway)

        for g in self.key_share_groups:
            if g not in self.groups:
                raise ValueError(f"key share group 0x{g:04x} is not in groups")
            if g not in SUPPORTED_GROUPS:  # brainpool's 0x001A-0x001C are TLS 1.2 curves (RFC 8446 4.2.7)
                raise ValueError(f"key share group 0x{g:04x} is not a TLS 1.3 group implemented here")
        if not self.psk_modes:
            raise ValueError("psk_modes must not be empty")


class ServerConfig(Struct, slots=False):
    """What a server accepts.

    ``certificates``: one or more certified keys; the first whose signature
    scheme the client accepts is used. ``ticket_keys``: the ticket key holder
    (None = no tickets). ``num_tickets``: TLS 1.3 tickets after a full
    handshake; after a resumption at most one (it replaces the ticket used,
    as OpenSSL does). ``max_early_data``: 0 rejects 0-RTT.
    ``send_half_rtt_data``: TLS 1.3 application data written after our
    Finished goes out at once, before the client's Finished (RFC 8446 "0.5-RTT":
    the answer to a 0-RTT request then costs no extra round trip); otherwise it
    waits for the client's Finished.
    ``early_tickets``: when 0-RTT data was accepted, the NewSessionTickets
    follow our Finished at once (RFC 8446 4.6.1: the server computes the
    client's Finished itself), ahead of the 0.5-RTT answer, so a client that
    stops reading after that answer still has a fresh ticket; False (and every
    handshake without accepted 0-RTT) sends them after the client's Finished,
    as OpenSSL does.
    ``hrr_cookie``: send a cookie in HelloRetryRequest. TLS 1.2 and below:
    static RSA key exchange (``TLS_RSA_*``) only when such suites are listed;
    ``session_cache`` serves session-ID resumption (None disables it);
    ``require_extended_master_secret`` refuses clients without RFC 7627.
    ``versions`` may hold TLS 1.0 and 1.1 (a check server's clients), with
    the suites they can use (CBC or RC4 with SHA-1 MACs) and no client certificates.
    ``beast_probe``: at TLS 1.0, take the client's first offered
    TLS_RSA_WITH_AES_128_CBC_SHA or TLS_RSA_WITH_AES_256_CBC_SHA when
    listed, whatever the server's order, and resume no session, so that the
    client's first application data record shows whether it splits records
    1/n-1 against BEAST (what howsmyssl's server does).
    ``extensions_hook(handshake_type, extensions)`` may rewrite the extension
    list of the ServerHello (and HelloRetryRequest) and EncryptedExtensions the
    server builds (tests use it to reproduce published traces).
    """

    certificates: tuple[CertifiedKey, ...] = field(default_factory=tuple)
    versions: tuple[int, ...] = (ProtocolVersion.TLS1_3,)
    cipher_suites: tuple[int, ...] = DEFAULT_CIPHER_SUITES
    groups: tuple[int, ...] = DEFAULT_GROUPS
    signature_schemes: tuple[int, ...] = DEFAULT_SIGNATURE_SCHEMES
    alpn_protocols: tuple[str, ...] = ()
    psk_modes: tuple[int, ...] = (PskKeyExchangeMode.psk_dhe_ke, PskKeyExchangeMode.psk_ke)
    ticket_keys: TicketKeys | None = None
    session_cache: SessionCache | None = field(default_factory=SessionCache)
    require_extended_master_secret: bool = True
    num_tickets: int = 2
    ticket_lifetime: int = 86400
    max_early_data: int = 0
    send_half_rtt_data: bool = False
    early_tickets: bool = True
    anti_replay: AntiReplay = field(default_factory=MemoryAntiReplay)
    hrr_cookie: bool = False
    beast_probe: bool = False
    request_client_certificate: bool = False
    require_client_certificate: bool = False
    client_verifier: CertificateVerifier | None = None
    max_fragment_length: int = 16384
    extensions_hook: Callable[[int, list[Extension]], list[Extension]] | None = None
    signer: Signer | None = None
    now: Callable[[], float] = system_clock
    random: Callable[[int], bytes] = os.urandom
    debug: TlsDebug = NULL_DEBUG
    keylog: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        _check_common(self)
        if not self.certificates:
            raise ValueError("a server needs at least one certificate")
        if self.num_tickets < 0:
            raise ValueError("num_tickets must be >= 0")
        if not 0 < self.ticket_lifetime <= 604800:
            raise ValueError("ticket_lifetime must be 1..604800 seconds (RFC 8446 4.6.1)")
        if self.max_early_data < 0:
            raise ValueError("max_early_data must be >= 0")
        if any((p := SUITES.get(s)) is not None and p.client_only for s in self.cipher_suites):
            raise ValueError("the server never does static ECDH key exchange: remove the TLS_ECDH_* suites")
        legacy = [v for v in self.versions if v < ProtocolVersion.TLS1_2]
        if legacy and self.request_client_certificate:
            raise ValueError("client certificates need TLS 1.2 or 1.3: leave TLS 1.0 and 1.1 out of versions")
        if self.require_client_certificate and self.client_verifier is None:
            raise ValueError("require_client_certificate needs a client_verifier")
