"""``esp_tls_cfg_t`` in Python: :class:`EspTlsCfg`.

Zero values mean "default", as in C: ``timeout_ms`` 0 is 10 s, ``tls_version``
ANY, ``addr_family`` UNSPEC, the host name from the URL, SNI on. Fields after
the esp-tls ones are ours (profile, groups, early data, verification policy,
engine). Trust sources follow esp-tls priority: bundle > global CA store >
cacert; none of them is an error unless ``insecure`` asks, loudly, for no
verification at all.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING, Literal, Protocol

from ..structs import Struct

if TYPE_CHECKING:
    import socket

    from ..tls.session import Session

__all__ = ["AddrFamily", "EspTlsCfg", "KeepAlive", "TlsClock", "TlsVersion"]


class TlsClock(Protocol):
    """The clock a connection checks certificates (and ages sessions) on:
    ``now()`` in Unix seconds, ``name`` for messages ("system", "NVS",
    "SNTP", "fixed"; :mod:`https_request.time_sync` has the clocks)."""

    @property
    def name(self) -> str: ...

    def now(self) -> float: ...


class TlsVersion(IntEnum):
    """``esp_tls_proto_ver_t`` (not wire values)."""

    ANY = 0
    TLS_1_2 = 1
    TLS_1_3 = 2


class AddrFamily(IntEnum):
    """``esp_tls_addr_family_t``."""

    UNSPEC = 0
    INET = 1
    INET6 = 2


class KeepAlive(Struct, slots=False):
    """``tls_keep_alive_cfg_t`` (seconds)."""

    enable: bool = True
    idle: int = 5
    interval: int = 5
    count: int = 3


class EspTlsCfg(Struct, slots=False):
    """What a connection verifies and offers.

    ``cacert``: PEM (one or more certificates) or DER bytes. ``crt_bundle``:
    True attaches the built-in ESP bundle, bytes attach that bundle blob.
    ``skip_common_name`` disables SNI *and* name checking; ``common_name``
    replaces the host name for both. ``client_session`` resumes a session from
    :meth:`EspTls.get_client_session` (or loaded from a file). ``ciphersuites``
    are IANA ids, one list for both versions. ``timeout_ms`` <= 0 means 10 s.
    ``clock`` replaces the system clock for the certificate validity check and
    session ages (the python engine only; the openssl engine refuses it).
    ``tcp_fastopen`` sends the first flight (the ClientHello, and 0-RTT data
    with the python engine) in the SYN when the kernel holds a TCP Fast Open
    cookie for the address, else asks for one; it falls back silently. Off
    by default: with Happy Eyeballs, an address with a cookie wins the race at
    once, before any packet (see :mod:`https_request.dns.happy`), and the
    default profile's ClientHello (two key shares) does not fit in a SYN at
    MTU 1500, so it saves a round trip only with fewer key shares.
    ``is_plain_tcp`` (esp-tls's): no TLS, the connected socket's bytes as they
    are (the blocking :class:`~.conn.EspTls` only; ``http://`` URLs).
    ``tunnel`` is called with the connected socket (to ``connect_address``,
    a proxy) and the seconds left, before the TLS handshake: an HTTP CONNECT
    (:func:`https_request.http.proxy.tunnel`).
    """

    # esp_tls_cfg_t
    cacert: bytes | None = None
    use_global_ca_store: bool = False
    crt_bundle: bool | bytes = False
    skip_common_name: bool = False
    common_name: str | None = None
    client_session: Session | None = None
    ciphersuites: tuple[int, ...] | None = None
    tls_version: TlsVersion = TlsVersion.ANY
    alpn_protos: tuple[str, ...] = ()
    timeout_ms: int = 0
    non_block: bool = False
    keep_alive: KeepAlive | None = None
    clientcert: bytes | None = None
    clientkey: bytes | None = None
    clientkey_password: bytes | None = None
    addr_family: AddrFamily = AddrFamily.UNSPEC
    is_plain_tcp: bool = False
    # ours
    profile: str = "default"
    groups: tuple[int, ...] | None = None
    early_data: bool = False
    verify_policy: Literal["webpki", "mbedtls"] = "webpki"
    engine: Literal["python", "openssl"] = "python"
    insecure: bool = False
    connect_address: tuple[str, int] | None = None  # where to connect instead of the URL's host (curl --connect-to)
    dns_servers: tuple[str, ...] = ()  # ADDR[:PORT] of the DNS servers to ask (none: /etc/resolv.conf's)
    happy_eyeballs: bool = True  # RFC 8305 over RFC 6724's order; False: lwIP's getaddrinfo, one address
    tcp_fastopen: bool = False  # the first flight with the SYN when the kernel has a cookie (https_request.fastopen)
    debug_level: int = 0  # mbedTLS debug threshold 0-4
    keylog: Callable[[str], None] | None = None
    clock: TlsClock | None = None  # the time certificates are checked at (None: the system clock)
    # called with the connected socket and the time left before the TLS handshake (an HTTP CONNECT
    # through a proxy: https_request.http.proxy); what it raises fails the connect
    tunnel: Callable[[socket.socket, float], None] | None = None

    @property
    def timeout_s(self) -> float:
        """The socket timeout esp-tls applies: timeout_ms, or 10 s when <= 0."""
        return self.timeout_ms / 1000 if self.timeout_ms > 0 else 10.0
