"""The engine seam of the esp-tls layer: what :mod:`.conn` needs from a TLS stack.

:class:`~.conn.EspTls` owns everything esp-tls owns in C (URL parsing, DNS,
the TCP connect with its timeouts, the verification source, the last-error
triple and the log lines) and hands the connected socket to an **engine**,
the part that plays ``mbedtls_ssl_*``. An engine is chosen by
``EspTlsCfg.engine``; this module defines the interface and the ``python``
engine (our own :class:`~https_request.tls.client13.ClientConnection` over the
I/O drivers).

The engine interface
--------------------
A factory builds one engine per connection, after the TCP connect::

    SyncEngineFactory  = (sock: socket.socket, spec: EngineSpec) -> Engine
    AsyncEngineFactory = (reader, writer, spec: EngineSpec) -> AsyncEngine

:class:`EngineSpec` is everything esp-tls decided: the esp-tls config, the
host, the name for SNI and the certificate check (None = neither), the
verifier (None = no verification, ``insecure``), the client certificate, the
protocol versions and the per-operation timeout. The factory may raise
:class:`~.errors.EspTlsError` (for a configuration it cannot honour).

An engine (:class:`Engine`, or :class:`AsyncEngine` whose I/O methods are
coroutines) provides:

``start(early_data, timeout)``
    Send the ClientHello, and ``early_data`` as 0-RTT when the resumed
    session allows it (otherwise it is sent right after the handshake); the
    ClientHello and the 0-RTT data go in one write (the one a TCP Fast Open
    SYN carries).
``handshake(timeout)``
    Finish the handshake.
``write(data, timeout) -> int``, ``read(max_bytes, timeout) -> bytes``
    Application data; ``read`` returns b"" once the peer sent close_notify
    *or* the TCP stream ended after the handshake (as mbedTLS does).
``close()``
    close_notify (best effort), then close the socket. Idempotent.
``session() -> Session | None``
    The newest resumable session: a TLS 1.3 NewSessionTicket (they arrive
    while reading), or the TLS 1.2 session after the handshake.
``wait_session(timeout)``
    Read on until a session ticket, close_notify, EOF or application data
    (kept for ``read``) arrives, or ``timeout`` seconds pass (not an error);
    an engine that cannot tell returns at once.
``session_refused -> str | None``
    Why ``cfg.client_session`` is not offered because its server was not
    verified the way this connection verifies it
    (:meth:`~https_request.tls.session.PeerCheck.refusal`); None otherwise.
``negotiated() -> Negotiated | None``
    What the handshake settled (None before it completes).
``peer_certificate_received``
    Whether the server's certificate message was seen (esp-tls records
    verify flags only then).

Errors: every I/O method raises :class:`~https_request.tls.errors.TlsError`
for a TLS failure (its ``reason`` and ``verify_flags`` become the mbedTLS code
and verify flags, see :func:`~.errors.mbedtls_code_for`),
:class:`~https_request.io.pump.TlsTimeout` when ``timeout`` expires and
:class:`~https_request.io.pump.TlsConnectionError` for transport failures;
:class:`~https_request.tls.errors.LocalProtocolError` for calls in the wrong
state (writing after close). A second engine (``esp_tls/openssl_engine.py``)
plugs in by defining ``create_engine`` and ``create_async_engine`` with the
factory signatures above; :func:`engine_factories` finds it.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .. import log
from ..structs import Struct
from .config import EspTlsCfg
from .errors import EspErr, EspTlsError, LastError, MbedtlsErr

if TYPE_CHECKING:
    # asyncio stays out of the blocking path, and the engine itself is imported when a
    # connection is made (preload_python_engine: while its TCP connect is in flight)
    import asyncio

    from ..io.aio import TlsStream
    from ..tls.client13 import ClientConnection
    from ..tls.config import CertificateVerifier, CertifiedKey, ClientConfig
    from ..tls.device import DeviceStats
    from ..tls.events import HandshakeComplete
    from ..tls.session import Session

__all__ = [
    "AsyncEngine",
    "AsyncEngineFactory",
    "AsyncPythonEngine",
    "EarlyDataStatus",
    "Engine",
    "EngineSpec",
    "Negotiated",
    "PythonEngine",
    "SyncEngineFactory",
    "engine_factories",
    "preload_python_engine",
    "python_client_config",
]

EarlyDataStatus = Literal["offered", "accepted", "rejected", "none"]
"""``offered``: 0-RTT sent, answer not yet known; ``accepted`` / ``rejected``
by the server; ``none``: not offered."""

_mlog = log.get_logger("esp-tls-mbedtls")


class EngineSpec(Struct, slots=False):
    """What esp-tls decided for one connection, handed to the engine factory.

    ``server_name`` is the SNI and the name the verifier checks (None with
    ``skip_common_name``); ``verifier`` None means no verification at all;
    ``versions`` are wire values (0x0304, 0x0303), None for the profile's;
    ``timeout`` is the per-operation socket timeout in seconds.
    """

    cfg: EspTlsCfg
    host: str
    server_name: str | None
    verifier: CertificateVerifier | None
    certificate: CertifiedKey | None
    versions: tuple[int, ...] | None
    timeout: float


class Negotiated(Struct, slots=False):
    """What a completed handshake settled (wire values)."""

    version: int
    cipher_suite: int
    group: int | None
    alpn_protocol: str | None
    resumed: bool
    early_data: EarlyDataStatus
    peer_certificates: tuple[bytes, ...]
    device_stats: DeviceStats | None = None


class Engine(Protocol):
    """A blocking TLS client connection over a connected socket (see the module docstring)."""

    @property
    def peer_certificate_received(self) -> bool: ...

    def start(self, early_data: bytes, timeout: float | None) -> None: ...

    def handshake(self, timeout: float | None) -> None: ...

    def write(self, data: bytes, timeout: float | None) -> int: ...

    def read(self, max_bytes: int, timeout: float | None) -> bytes: ...

    def close(self) -> None: ...

    def session(self) -> Session | None: ...

    def wait_session(self, timeout: float) -> None: ...

    @property
    def session_refused(self) -> str | None: ...

    def negotiated(self) -> Negotiated | None: ...


class AsyncEngine(Protocol):
    """The asyncio twin of :class:`Engine` (I/O methods are coroutines)."""

    @property
    def peer_certificate_received(self) -> bool: ...

    async def start(self, early_data: bytes, timeout: float | None) -> None: ...

    async def handshake(self, timeout: float | None) -> None: ...

    async def write(self, data: bytes, timeout: float | None) -> int: ...

    async def read(self, max_bytes: int, timeout: float | None) -> bytes: ...

    async def close(self) -> None: ...

    def session(self) -> Session | None: ...

    async def wait_session(self, timeout: float) -> None: ...

    @property
    def session_refused(self) -> str | None: ...

    def negotiated(self) -> Negotiated | None: ...


class SyncEngineFactory(Protocol):
    def __call__(self, sock: socket.socket, spec: EngineSpec) -> Engine: ...


class AsyncEngineFactory(Protocol):
    def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, spec: EngineSpec) -> AsyncEngine: ...


# --- the python engine -------------------------------------------------------


def _setup_failed(detail: str, esp: int = EspErr.ESP_ERR_MBEDTLS_SSL_SETUP_FAILED) -> EspTlsError:
    code = -MbedtlsErr.SSL_BAD_INPUT_DATA
    if esp == EspErr.ESP_ERR_MBEDTLS_SSL_SETUP_FAILED:
        _mlog.e("mbedtls_ssl_setup returned -0x%04X", code)
    return EspTlsError(LastError(esp, code, 0, detail))


def preload_python_engine(cfg: EspTlsCfg | None = None) -> None:
    """Import what the ``python`` engine needs for its first flight (the engine, its
    blocking driver, the profiles, the primitives they use and cryptography's OpenSSL
    backend, which the first key share would load: ~25 M instructions of OpenSSL set-up),
    so that a caller can do it while the TCP connect is in flight. Raises ImportError
    for a broken install.

    When ``cfg``'s hello offers X25519MLKEM768 (the default profile's first key
    share), one ML-KEM-768 key is also made and dropped: a process's first ML-KEM
    key generation fetches OpenSSL's implementation (~2 ms, the later ones
    ~0.1 ms), which would otherwise run between the SYN-ACK and the ClientHello.
    An unknown profile is left for the handshake's set-up to report."""
    from cryptography.hazmat.backends.openssl import backend  # noqa: F401

    from ..io import blocking  # noqa: F401
    from ..tls import client13, profiles  # noqa: F401

    if cfg is None:
        return
    try:
        groups = cfg.groups or profiles.get_profile(cfg.profile).groups
    except ValueError:
        return
    from ..tls.enums import NamedGroup

    if NamedGroup.X25519MLKEM768 in groups:
        from cryptography.hazmat.primitives.asymmetric import mlkem

        mlkem.MLKEM768PrivateKey.generate()


def python_client_config(spec: EngineSpec) -> ClientConfig:
    """The engine's :class:`ClientConfig` for ``spec``: the profile, then the esp-tls fields.

    ``ciphersuites`` is one list for both versions; when ``tls_version`` is
    ANY, a version none of whose suites is listed is not offered. Raises
    EspTlsError: ESP_ERR_INVALID_ARG for an unknown profile,
    ESP_ERR_MBEDTLS_SSL_SETUP_FAILED for a configuration the engine refuses.
    """
    from ..tls.profiles import client_config, get_profile

    cfg = spec.cfg
    try:
        profile = get_profile(cfg.profile)
    except ValueError as exc:
        raise _setup_failed(str(exc), EspErr.ESP_ERR_INVALID_ARG) from exc
    kw: dict[str, Any] = {
        "verifier": spec.verifier,
        "early_data": cfg.early_data,
        "certificate": spec.certificate,
        "send_sni": spec.server_name is not None,
        "keylog": cfg.keylog,
    }
    if cfg.clock is not None:
        kw["now"] = cfg.clock.now
    versions = spec.versions
    if cfg.ciphersuites:
        kw["cipher_suites"] = tuple(cfg.ciphersuites)
        if versions is None:
            has13 = any(s >> 8 == 0x13 for s in cfg.ciphersuites)
            has12 = any(s >> 8 != 0x13 for s in cfg.ciphersuites)
            kept = tuple(v for v in profile.versions if (v == 0x0304 and has13) or (v == 0x0303 and has12))
            versions = kept or None
    if versions is not None:
        kw["versions"] = versions
    if cfg.groups:
        kw["groups"] = tuple(cfg.groups)
    if cfg.alpn_protos:
        kw["alpn_protocols"] = tuple(cfg.alpn_protos)
    if cfg.debug_level > 0:
        kw["debug"] = log.MbedtlsDebug(min(cfg.debug_level, 4))
    try:
        return client_config(cfg.profile, **kw)
    except ValueError as exc:
        raise _setup_failed(str(exc)) from exc


def _negotiated(hs: HandshakeComplete | None, conn: ClientConnection) -> Negotiated | None:
    if hs is None:
        return None
    status: EarlyDataStatus = "none"
    if conn.early_data_offered:
        status = "accepted" if hs.early_data_accepted else "rejected"
    return Negotiated(
        version=hs.version,
        cipher_suite=hs.cipher_suite,
        group=hs.group,
        alpn_protocol=hs.alpn_protocol,
        resumed=hs.resumed,
        early_data=status,
        peer_certificates=hs.peer_certificates,
        device_stats=conn.device_stats,
    )


class PythonEngine:
    """The ``python`` engine, blocking: our ClientConnection over a :class:`TlsSocket`."""

    def __init__(self, sock: socket.socket, spec: EngineSpec) -> None:
        from ..io.blocking import TlsSocket
        from ..tls.client13 import ClientConnection

        self._conn = ClientConnection(python_client_config(spec), spec.server_name, spec.cfg.client_session)
        self._tls = TlsSocket(sock, self._conn, spec.timeout)
        self._closed = False

    @property
    def peer_certificate_received(self) -> bool:
        return bool(self._conn.peer_certificates)

    def start(self, early_data: bytes, timeout: float | None) -> None:
        self._tls.start(timeout, early_data)  # one write: with TCP Fast Open, the SYN carries both

    def handshake(self, timeout: float | None) -> None:
        self._tls.handshake(timeout)

    def write(self, data: bytes, timeout: float | None) -> int:
        self._tls.send(data, timeout)
        return len(data)

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        return self._tls.recv(max_bytes, timeout)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._tls.close()

    def session(self) -> Session | None:
        return self._tls.session

    def wait_session(self, timeout: float) -> None:
        self._tls.wait_session(timeout)

    @property
    def session_refused(self) -> str | None:
        return self._conn.session_refused

    def negotiated(self) -> Negotiated | None:
        return _negotiated(self._tls.pump.handshake, self._conn)


class AsyncPythonEngine:
    """The ``python`` engine, asyncio: our ClientConnection over a :class:`TlsStream`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, spec: EngineSpec) -> None:
        from ..io.aio import TlsStream
        from ..tls.client13 import ClientConnection

        self._conn = ClientConnection(python_client_config(spec), spec.server_name, spec.cfg.client_session)
        self._tls: TlsStream = TlsStream(reader, writer, self._conn, spec.timeout)
        self._closed = False

    @property
    def peer_certificate_received(self) -> bool:
        return bool(self._conn.peer_certificates)

    async def start(self, early_data: bytes, timeout: float | None) -> None:
        await self._tls.start(timeout, early_data)  # one write, as PythonEngine.start

    async def handshake(self, timeout: float | None) -> None:
        await self._tls.handshake(timeout)

    async def write(self, data: bytes, timeout: float | None) -> int:
        await self._tls.write(data, timeout)
        return len(data)

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        return await self._tls.read(max_bytes, timeout)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._tls.close()

    def session(self) -> Session | None:
        return self._tls.session

    async def wait_session(self, timeout: float) -> None:
        await self._tls.wait_session(timeout)

    @property
    def session_refused(self) -> str | None:
        return self._conn.session_refused

    def negotiated(self) -> Negotiated | None:
        return _negotiated(self._tls.pump.handshake, self._conn)


def engine_factories(name: str) -> tuple[SyncEngineFactory, AsyncEngineFactory]:
    """The (sync, async) factories of engine ``name``.

    Raises EspTlsError (ESP_ERR_INVALID_ARG) for an unknown engine.
    """
    if name == "python":
        return PythonEngine, AsyncPythonEngine
    if name == "openssl":
        from . import openssl_engine  # on first use: it imports ssl, which the python engine never needs

        return openssl_engine.create_engine, openssl_engine.create_async_engine
    raise EspTlsError(
        LastError(EspErr.ESP_ERR_INVALID_ARG, 0, 0, f"unknown engine {name!r}"), f"unknown engine {name!r}"
    )
