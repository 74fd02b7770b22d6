"""The shared core of the esp-tls connections in :mod:`.conn`.

Everything :class:`~.conn.EspTls` and :class:`~.conn.AsyncEspTls` have in
common and that does no blocking or asyncio I/O of its own: the connection states
(:class:`ConnState`), the negotiated-connection record (:class:`TlsInfo`),
the timeout error (:class:`EspTlsTimeout`), and ``_Core``, the base class
holding the esp-tls last-error recording, esp-tls's log lines, the socket
set-up of the TCP connect, ``create_ssl_handle`` and the handshake / read /
write failure bookkeeping. The failure table and the state walk are
documented in :mod:`.conn`, which re-exports the public names.

No asyncio at import time (CLI start-up): the asyncio code lives in :mod:`.conn`.
"""

from __future__ import annotations

import errno
import os
import socket
import time
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Literal

from .. import log
from ..structs import Struct, replace
from .config import AddrFamily, EspTlsCfg, TlsVersion
from .engine import EarlyDataStatus, EngineSpec, Negotiated
from .errors import EspErr, EspTlsError, LastError, MbedtlsErr, esp_err_to_name, mbedtls_code_for

if TYPE_CHECKING:  # the TLS stack, cryptography and the trust are imported where they are used: after the SYN left
    from ..dns.happy import Attempt, ConnectError
    from ..dns.lookup import NameLookup
    from ..io.pump import TlsConnectionError, TlsTimeout
    from ..netif import IPAddress
    from ..tls.config import CertifiedKey
    from ..tls.device import DeviceStats
    from ..tls.errors import LocalProtocolError, TlsError
    from ..tls.session import Session


__all__ = [
    "MBEDTLS_SSL_OUT_CONTENT_LEN",
    "ConnState",
    "EarlyData",
    "EspTlsTimeout",
    "TlsInfo",
]

_log = log.get_logger("esp-tls")
_mlog = log.get_logger("esp-tls-mbedtls")

MBEDTLS_SSL_OUT_CONTENT_LEN = 4096  # ESP-IDF's default (SSL_OUT_CONTENT_LEN)
_READ_SIZE = 16384
_NET_CONN_RESET = -0x0050  # MBEDTLS_ERR_NET_CONN_RESET
_NET_RECV_FAILED = -0x004C  # MBEDTLS_ERR_NET_RECV_FAILED
_NET_SEND_FAILED = -0x004E  # MBEDTLS_ERR_NET_SEND_FAILED
_FAMILIES = {AddrFamily.INET: socket.AF_INET, AddrFamily.INET6: socket.AF_INET6}
# errors that can only answer a SYN: the TCP connect failed (seen in the handshake with TCP Fast Open)
_CONNECT_ERRNOS = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH})
_VERSION_NAMES = {0x0304: "TLS 1.3", 0x0303: "TLS 1.2", 0: "none"}  # 0: plain TCP (esp_tls.plain)
# wait_client_session's default wait: twice the handshake's duration (about two round
# trips of a resumed handshake), at least long enough for a loaded local server, at most 250 ms
_TICKET_WAIT_MIN = 0.025
_TICKET_WAIT_MAX = 0.25


EarlyData = bytes | Callable[[], bytes]
"""A connection's early data: the bytes, or a function that makes them once the TCP
connection is up (see :meth:`~.conn.EspTls.conn_http_new_sync`)."""


class Meanwhile:
    """What a connection does while it waits on the network, one piece at a time, in order.

    Two lists: ``first``, what the first flight needs (the engine's modules, what
    setting up the verifier needs, the early data's bytes), run while the TCP
    connect is in flight (``step``, as dns.happy's ``idle``) and, when the connect
    was quicker, once it is up (``ready``); ``then``, what only the server's answer
    needs (the certificate check's anchors, the caller's ``meanwhile``), run once
    the first flight is sent (``finish``), before the connection waits for the
    answer. A piece of ``then`` never starts during the connect: one running when
    the SYN-ACK arrives would hold the ClientHello back until it ends. Each piece
    runs once; what a piece raises propagates.
    """

    def __init__(self, first: Sequence[Callable[[], object]], then: Sequence[Callable[[], object]] = ()) -> None:
        self._first = list(first)
        self._then = list(then)

    def step(self) -> bool:
        """Run the next piece the first flight needs, if any; returns whether more are left."""
        if self._first:
            self._first.pop(0)()
        return bool(self._first)

    def ready(self) -> None:
        """Run every piece the first flight needs that is left."""
        while self.step():
            pass

    def finish(self) -> None:
        """Run every piece left."""
        self.ready()
        while self._then:
            self._then.pop(0)()


class ConnectPlan(Struct, slots=False):
    """How a connection resolves and connects (see ``_Core._connect_plan``)."""

    lookup: NameLookup
    family: int  # AF_UNSPEC, AF_INET or AF_INET6 (cfg.addr_family)
    esp: bool  # the device's way: lwIP's getaddrinfo + dns_select, then that address only
    on_attempt: Callable[[Attempt], None]
    fastopen: bool  # TCP Fast Open on the attempts' sockets (cfg.tcp_fastopen)


class ConnState(IntEnum):
    """``esp_tls_conn_state_t``."""

    INIT = 0
    CONNECTING = 1
    HANDSHAKE = 2
    FAIL = 3
    DONE = 4


class EspTlsTimeout(EspTlsError, TimeoutError):
    """An esp-tls operation timed out (connect, handshake, read or write)."""


class _HandshakeTimeout(EspTlsTimeout):
    """The handshake outran the timeout (esp-tls warns instead of erring)."""


class TlsInfo(Struct, slots=False):
    """What a connection negotiated, and how long it took.

    ``version`` is "TLS 1.3" or "TLS 1.2"; ``cipher_suite`` the IANA id and
    :attr:`cipher_suite_name` its IANA name; ``group`` the key-exchange group's
    name (None for a resumption without one); ``peer_subject`` the leaf's
    subject (RFC 4514; None on a resumed connection: no certificate is
    sent). ``connect_ms``: DNS + TCP connect; ``tls_ms``: the handshake;
    ``handshake_end_ms``: when it ended, on the log's clock
    (:func:`https_request.log.millis`, the ``(ms)`` of the log lines).
    ``address``: the server address connected to (None when unknown).
    ``tcp_fastopen``: what TCP Fast Open did (:data:`~https_request.fastopen.FastOpenStatus`:
    "data in SYN", "no cookie", ...), None when ``cfg.tcp_fastopen`` was off.
    ``port``, ``local_address``, ``local_port``: the server port and the socket's
    own end; ``lookup_ms``: to the first connection attempt (the name resolved).
    Plain TCP (``cfg.is_plain_tcp``): ``version`` "none", cipher suite 0.
    ``peer_certificates``: the server's chain as sent (DER, leaf first; the leaf
    alone with the openssl engine); ``device_stats``: with a device profile, what
    came nearest its limits (:class:`~https_request.tls.device.DeviceStats`).
    """

    version: str
    cipher_suite: int
    group: str | None
    alpn: str | None
    resumed: bool
    early_data: EarlyDataStatus
    peer_subject: str | None
    connect_ms: float
    tls_ms: float
    handshake_end_ms: int
    address: str | None = None
    tcp_fastopen: str | None = None
    port: int = 0
    local_address: str | None = None
    local_port: int = 0
    lookup_ms: float | None = None
    peer_certificates: tuple[bytes, ...] = ()
    device_stats: DeviceStats | None = None

    @property
    def cipher_suite_name(self) -> str:
        """The IANA name of :attr:`cipher_suite` (read from the catalogue, imported when a name is asked for)."""
        from ..tls.catalogue import suite_name

        return suite_name(self.cipher_suite)


# --- helpers shared by both flavours -------------------------------------------


def _tls_code(exc: TlsError) -> int:
    """The negative mbedTLS code for an engine failure; a verifier may carry its own (``mbedtls_error``)."""
    code = getattr(exc, "mbedtls_error", None)
    return code if isinstance(code, int) and code < 0 else mbedtls_code_for(exc)


def _net_code(exc: TlsConnectionError, sending: bool = False) -> int:
    """The mbedTLS net_sockets code for a transport failure."""
    cause = exc.__cause__
    if isinstance(cause, OSError) and cause.errno in (errno.ECONNRESET, errno.EPIPE):
        return _NET_CONN_RESET
    return _NET_SEND_FAILED if sending else _NET_RECV_FAILED


def _engine_errors() -> tuple[type[TlsError], type[TlsTimeout], type[TlsConnectionError]]:
    """What an engine raises when a handshake, read or write fails (TLS, timeout,
    transport), for ``except``: imported when one is caught, so that nothing of the
    TLS stack is imported before the connection's SYN."""
    from ..io.pump import TlsConnectionError, TlsTimeout
    from ..tls.errors import TlsError

    return TlsError, TlsTimeout, TlsConnectionError


def _engine_write_errors() -> tuple[
    type[TlsError], type[TlsTimeout], type[TlsConnectionError], type[LocalProtocolError]
]:
    """:func:`_engine_errors`, and writing on a connection that is closed."""
    from ..tls.errors import LocalProtocolError

    return (*_engine_errors(), LocalProtocolError)


def _preload_trust(cfg: EspTlsCfg, stage: Literal["setup", "verify"], parse_later: bool = False) -> None:
    """A :class:`Meanwhile` piece: :func:`.trust.preload`, the trust module itself
    included (imported while the connection waits, not before its SYN)."""
    from . import trust

    trust.preload(cfg, stage, parse_later=parse_later)


def _group_name(group: int | None) -> str | None:
    from ..tls.enums import NamedGroup

    if group is None:
        return None
    try:
        return NamedGroup(group).name
    except ValueError:
        return f"0x{group:04X}"


def _peer_address(sock: socket.socket) -> str | None:
    """The address ``sock`` is connected to (None when it cannot say)."""
    try:
        return str(sock.getpeername()[0])
    except (OSError, IndexError):
        return None


def _peer_subject(chain: Sequence[bytes]) -> str | None:
    if not chain:
        return None
    from cryptography import x509  # a resumed handshake has no chain: no x509 import

    try:
        return x509.load_der_x509_certificate(chain[0]).subject.rfc4514_string()
    except (ValueError, x509.InvalidVersion):
        return None


class _Core:
    """State, error tracking and every I/O-free step, shared by EspTls and AsyncEspTls."""

    def __init__(self) -> None:
        self._last = LastError()
        self._state = ConnState.INIT
        self._cfg = EspTlsCfg()
        self._host = ""
        self._port = 0
        self._info: TlsInfo | None = None
        self._t0 = 0.0
        self._t_connected = 0.0
        self._t_lookup: float | None = None
        self._address: str | None = None
        self._local: tuple[str | None, int] = (None, 0)
        self._fd = -1  # the connection's socket, for esp-tls's [sock=N] lines
        self._session_refused: str | None = None
        self._early: bytes | None = None  # made by an early_data function (see _early_data)

    # -- esp_tls_get_and_clear_last_error & co --------------------------------

    @property
    def last_error(self) -> LastError:
        """The recorded error triple (not cleared)."""
        return self._last

    def get_and_clear_last_error(self) -> LastError:
        """``esp_tls_get_and_clear_last_error``: the triple, then zero it."""
        last, self._last = self._last, LastError()
        return last

    @property
    def conn_state(self) -> ConnState:
        return self._state

    @property
    def host(self) -> str:
        """The host the connection is for (the URL's host)."""
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def cfg(self) -> EspTlsCfg:
        return self._cfg

    def fileno(self) -> int:
        """Not in esp-tls (``esp_tls_get_conn_sockfd``): the connection's socket descriptor,
        -1 before the connect; for ``select`` on an idle connection (reads go through the engine)."""
        return self._fd

    @property
    def session_refused(self) -> str | None:
        """Why ``cfg.client_session`` was not offered: its server was not verified
        the way this connection verifies it (the handshake was then a full one).
        None when it was offered, or there was none. Set once the handshake starts."""
        return self._session_refused

    @property
    def info(self) -> TlsInfo:
        """What the handshake negotiated. Raises EspTlsError before a handshake completed."""
        if self._info is None:
            raise EspTlsError(LastError(EspErr.ESP_ERR_INVALID_STATE, 0, 0, "not connected"))
        return self._info

    def _capture(
        self, *, esp: int | None = None, mbedtls: int | None = None, flags: int | None = None, reason: str | None = None
    ) -> None:
        old = self._last
        self._last = LastError(
            last_error=old.last_error if esp is None else esp,
            esp_tls_error_code=old.esp_tls_error_code if mbedtls is None else mbedtls,
            esp_tls_flags=old.esp_tls_flags if flags is None else flags,
            reason=old.reason if reason is None else reason,
        )

    def _error(self, message: str = "", cls: type[EspTlsError] = EspTlsError) -> EspTlsError:
        return cls(self._last, message)

    # -- INIT ----------------------------------------------------------------

    def _meanwhile(
        self,
        meanwhile: Callable[[], object] | None,
        early_data: EarlyData = b"",
        prepare: Callable[[], object] | None = None,
        session: Callable[[], Session | None] | None = None,
    ) -> Meanwhile:
        """The work to overlap with the network (see :class:`Meanwhile`). For the first flight:
        the caller's ``prepare`` and ``session`` (the session to offer, for ``cfg.client_session``),
        the python engine's modules, what setting up the verifier needs (:func:`.trust.preload`'s
        "setup"), the early data when a function makes it. Then: with no session offered (the
        server's certificate will be checked) what that needs ("verify"); the caller's ``meanwhile``."""
        from .engine import preload_python_engine

        first: list[Callable[[], object]] = [prepare] if prepare is not None else []
        then: list[Callable[[], object]] = []
        if session is not None:
            first.append(lambda: self._offer(session()))
        if self._cfg.engine == "python":
            first.append(lambda: preload_python_engine(self._cfg))
        first.append(lambda: _preload_trust(self._cfg, "setup", self._parse_later()))
        if callable(early_data):
            first.append(lambda: self._early_data(early_data))
        then.append(self._preload_verify)
        if meanwhile is not None:
            then.append(meanwhile)
        return Meanwhile(first, then)

    def _preload_verify(self) -> None:  # what checking the certificate needs, when no session is offered
        if self._cfg.client_session is None:
            _preload_trust(self._cfg, "verify")

    def _offer(self, session: Session | None) -> None:  # the session the caller's function made
        self._cfg = replace(self._cfg, client_session=session)

    def _begin(self, host: str, port: int, cfg: EspTlsCfg) -> None:
        self._host, self._port, self._cfg = host, port, cfg
        self._t0 = time.monotonic()

    def _early_data(self, early_data: EarlyData) -> bytes:
        """The early data's bytes, made on the first call when a function makes them
        (a :class:`Meanwhile` piece while the connect is in flight, or once it is up;
        one that makes none, b"", turns ``cfg.early_data`` off for this connection:
        nothing to offer)."""
        if not callable(early_data):
            return early_data
        if self._early is None:
            self._early = early_data()
            if not self._early and self._cfg.early_data:
                self._cfg = replace(self._cfg, early_data=False)
        return self._early

    def _target(self, host: str, port: int) -> tuple[str, int]:
        return self._cfg.connect_address if self._cfg.connect_address is not None else (host, port)

    def _family(self) -> int:
        try:
            return _FAMILIES.get(AddrFamily(self._cfg.addr_family), socket.AF_UNSPEC)
        except ValueError:
            return socket.AF_UNSPEC

    def _dns_failed(self, host: str, exc: BaseException) -> EspTlsError:
        code = exc.errno if isinstance(exc, OSError) and exc.errno is not None else -1
        _log.e("couldn't get hostname for :%s: getaddrinfo() returns %d, addrinfo=0x0", host, code)
        why = getattr(exc, "strerror", None) or exc  # the resolver's words, without "[Errno -2]"
        self._capture(esp=EspErr.ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME, reason=f"getaddrinfo({host!r}): {why}")
        return self._error()

    def _connect_plan(self, host_text: str, port: int) -> ConnectPlan:
        """How ``_tcp_connect`` resolves and connects: the hosts file and the stub
        resolver (``cfg.dns_servers``, else resolv.conf's); Happy Eyeballs with
        RFC 6724 order, or (``cfg.happy_eyeballs`` off) the device's way: lwIP's
        getaddrinfo with esp-lwip's dns_select, then that one address. Logs
        esp-tls's ``host:`` line with the URL's host."""
        from ..dns.lookup import NameLookup, resolver_for

        _log.d("host:%s: strlen %lu", self._host, len(self._host))
        servers = self._cfg.dns_servers
        return ConnectPlan(
            lookup=NameLookup(lambda: resolver_for(servers)),
            family=self._family(),
            esp=not self._cfg.happy_eyeballs,
            on_attempt=lambda attempt: self._attempt(attempt, host_text, port),
            fastopen=self._cfg.tcp_fastopen,
        )

    def _attempt(self, attempt: Attempt, host_text: str, port: int) -> None:
        """esp-tls's lines for one connection attempt (``on_attempt`` of dns.happy)."""
        if attempt.fd < 0:
            return
        if attempt.outcome == "started":
            if self._t_lookup is None:
                self._t_lookup = time.monotonic()
            address = attempt.address
            shown = str(address).upper() if address.version == 6 else str(address)  # lwIP's ipaddr_ntoa
            _log.d("[sock=%d] Resolved IPv%d address: %s", attempt.fd, address.version, shown)
            _log.d("[sock=%d] Connecting to server. HOST: %s, Port: %d", attempt.fd, host_text, port)
        elif attempt.outcome not in ("connected", "cancelled"):
            _log.d("[sock=%d] connect to %s", attempt.fd, attempt.describe())

    def _connect_failed(self, target: str, exc: ConnectError) -> EspTlsError:
        """The esp-tls error for a failed resolution or connection (dns.happy.ConnectError)."""
        if exc.kind == "resolve" or not exc.attempts:
            return self._dns_failed(target, exc)
        fd = exc.attempts[-1].fd
        if exc.kind == "timeout":
            _log.e("[sock=%d] select() timeout", fd)
            self._capture(esp=EspErr.ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT, reason=f"TCP connect timed out: {exc}")
            return self._error(cls=EspTlsTimeout)
        err = exc.errno or 0
        text = os.strerror(err) if err else str(exc)
        _log.e("[sock=%d] delayed connect error: %s", fd, text)
        tried = f"; {exc}" if len(exc.attempts) > 1 else ""  # every address and how it failed
        self._capture(esp=EspErr.ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST, reason=f"connect: {text} (errno {err}){tried}")
        return self._error()

    def _socket_options(self, sock: socket.socket) -> None:
        """esp-tls's socket options on the connected socket (TCP_NODELAY is set by dns.happy)."""
        ka = self._cfg.keep_alive
        if ka is None or not ka.enable:
            return
        option = "SO_KEEPALIVE"
        try:
            _log.d("Enable TCP keep alive. idle: %d, interval: %d, count: %d", ka.idle, ka.interval, ka.count)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for option, value in (("TCP_KEEPIDLE", ka.idle), ("TCP_KEEPINTVL", ka.interval), ("TCP_KEEPCNT", ka.count)):
                if hasattr(socket, option):
                    sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
        except OSError as exc:
            _log.e("Fail to setsockopt %s", option)
            self._capture(esp=EspErr.ESP_ERR_ESP_TLS_SOCKET_SETOPT_FAILED, reason=f"{option}: {exc}")
            raise self._error() from exc

    def _connect_wait(self, deadline: float | None) -> float:
        """How long the connect may take: the socket timeout, capped by the overall deadline."""
        wait = self._cfg.timeout_s
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - time.monotonic()))
        return wait

    def _connected(self, sock: socket.socket, address: IPAddress) -> None:
        """The blocking driver's socket is connected: blocking, with esp-tls's timeout."""
        sock.setblocking(True)
        sock.settimeout(self._cfg.timeout_s)
        self._note_connected(sock, address)

    def _note_connected(self, sock: socket.socket, address: IPAddress) -> None:
        """TCP is up (either driver; with TCP Fast Open and a cookie, its SYN waits
        for the first write): the server's address (``address``, dns.happy's,
        when the socket cannot tell yet) and the time are recorded."""
        self._address = _peer_address(sock) or str(address)
        try:
            local = sock.getsockname()
            self._local = (str(local[0]), int(local[1]))
        except (OSError, IndexError):
            pass
        self._fd = sock.fileno()
        self._t_connected = time.monotonic()
        self._state = ConnState.CONNECTING

    # -- CONNECTING: create_ssl_handle ----------------------------------------

    def _client_certificate(self) -> CertifiedKey | None:
        from . import trust

        cfg = self._cfg
        if cfg.clientcert is not None and cfg.clientkey is not None:
            try:
                certs, _ = trust.parse_certificates(cfg.clientcert)
            except trust.CertParseError as exc:
                _mlog.e("mbedtls_x509_crt_parse of public cert returned -0x%04X", -exc.code)
                _mlog.e("Failed to set client pki context")
                raise EspTlsError(
                    LastError(EspErr.ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED, -exc.code, 0, f"client certificate: {exc}")
                ) from exc
            from .pk import parse_key

            key, code = parse_key(cfg.clientkey, cfg.clientkey_password)
            if key is None:
                _mlog.e("mbedtls_pk_parse_keyfile returned -0x%04X", -code)
                _mlog.e("Failed to set client pki context")
                raise EspTlsError(
                    LastError(EspErr.ESP_ERR_MBEDTLS_PK_PARSE_KEY_FAILED, -code, 0, "client key: cannot parse")
                )
            from ..tls.config import CertifiedKey

            try:
                return CertifiedKey(chain=tuple(certs), key=key)
            except ValueError as exc:  # the key is not the certificate's (mbedtls_pk_check_pair)
                _mlog.e("Client certificate and key do not match")
                _mlog.e("Failed to set client pki context")
                raise EspTlsError(
                    LastError(EspErr.ESP_ERR_MBEDTLS_SSL_CONF_OWN_CERT_FAILED, 0, 0, f"client certificate: {exc}")
                ) from exc
        if cfg.clientcert is not None or cfg.clientkey is not None:
            _mlog.e("You have to provide both clientcert_buf and clientkey_buf for mutual authentication")
            raise EspTlsError(
                LastError(
                    EspErr.ESP_ERR_INVALID_STATE, 0, 0, "client certificate without key or key without certificate"
                )
            )
        return None

    _PARSE_LATER = False  # the driver calls _load_due_anchors once its first flight is sent

    def _parse_later(self) -> bool:
        """Whether create_ssl_handle leaves the CA certificates' parse for the first flight's
        wait (:meth:`_load_due_anchors`): the python engine only (the openssl engine's
        SSLContext takes the parsed buffer), with a driver that does it (``_PARSE_LATER``)."""
        return self._PARSE_LATER and self._cfg.engine == "python"

    def _load_due_anchors(self, spec: EngineSpec) -> None:
        """esp-tls's CA parse of create_ssl_handle, left for the first flight's wait: the
        verifier's anchors when they are ``due`` (no session to offer may resume under
        them), with create_ssl_handle's lines and error, and the signature checks the
        chain will need made ready (:meth:`~..tls.verify.WebPkiVerifier.prepare_signature_checks`).
        Raises EspTlsError (recorded): a CA buffer that does not parse (0x8015)."""
        from . import trust

        verifier = spec.verifier
        if isinstance(verifier, trust.LazyVerifier) and verifier.due and not verifier.loaded:
            try:
                loaded = verifier.load()
            except EspTlsError as exc:
                self._client_config_failed(exc)
                raise self._ssl_handle_failed(exc) from exc
            from ..tls.verify import MbedtlsVerifier, WebPkiVerifier

            if isinstance(loaded, (WebPkiVerifier, MbedtlsVerifier)):
                loaded.prepare_signature_checks()  # the chain's check comes next: its set-up now

    def _set_client_config(self) -> EngineSpec:
        from . import trust

        cfg, host = self._cfg, self._host
        server_name = trust.server_name_for(cfg, host)
        _mlog.d("Enabling client-side tls session ticket support")
        verifier = trust.build_verifier(cfg, host, cfg.client_session, parse_later=self._parse_later())
        certificate = self._client_certificate()
        if cfg.ciphersuites:
            _mlog.d("Set the ciphersuites list")
        return EngineSpec(
            cfg=cfg,
            host=host,
            server_name=server_name,
            verifier=verifier,
            certificate=certificate,
            versions=None,
            timeout=cfg.timeout_s,
        )

    def _create_ssl_handle(self) -> EngineSpec:
        """Everything esp-tls sets up before the handshake. Raises EspTlsError (recorded, logged)."""
        try:
            try:
                spec = self._set_client_config()
            except EspTlsError as exc:
                self._client_config_failed(exc)
                raise
            version = int(self._cfg.tls_version)
            if version == TlsVersion.TLS_1_3:
                _mlog.d("Setting TLS version to 0x%4x", 0x0304)
                spec = replace(spec, versions=(0x0304,))
            elif version == TlsVersion.TLS_1_2:
                _mlog.d("Setting TLS version to 0x%4x", 0x0303)
                spec = replace(spec, versions=(0x0303,))
            elif version != TlsVersion.ANY:
                _mlog.e("Unsupported protocol version")
                raise EspTlsError(LastError(EspErr.ESP_ERR_INVALID_ARG, 0, 0, f"unsupported tls_version {version!r}"))
            return spec
        except EspTlsError as exc:
            raise self._ssl_handle_failed(exc) from exc

    @staticmethod
    def _client_config_failed(exc: EspTlsError) -> None:
        code = exc.last_error.last_error
        _mlog.e("Failed to set client configurations, returned [0x%04X] (%s)", code, esp_err_to_name(code))

    def _ssl_handle_failed(self, exc: EspTlsError) -> EspTlsError:
        le = exc.last_error
        _log.e("create_ssl_handle failed")
        self._capture(esp=le.last_error, mbedtls=le.esp_tls_error_code or None, reason=le.reason)
        self._state = ConnState.FAIL
        return self._error(str(exc))

    # -- HANDSHAKE -------------------------------------------------------------

    def _handshake_starting(self, session_refused: str | None) -> None:
        """``session_refused``: the engine's refusal of ``cfg.client_session`` (logged, kept)."""
        self._state = ConnState.HANDSHAKE
        _log.d("handshake in progress...")
        self._session_refused = session_refused
        if session_refused is not None:
            _mlog.i("Not reusing the saved client session context: %s", session_refused)
        elif self._cfg.client_session is not None:
            _mlog.d("Reusing the already saved client session context")

    def _handshake_wait(self, deadline: float | None) -> float:
        wait = self._cfg.timeout_s
        if deadline is not None:
            wait = max(0.001, deadline - time.monotonic())
        return wait

    def _handshake_failed(self, code: int, flags: int, peer_cert: bool, reason: str) -> EspTlsError:
        """esp_mbedtls_handshake's failure branch; ``code`` is the negative mbedTLS code."""
        from . import trust

        _mlog.e("mbedtls_ssl_handshake returned -0x%04X", -code & 0xFFFFFFFF)
        self._capture(mbedtls=-code, esp=EspErr.ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, reason=reason)
        if trust.has_ca_option(self._cfg):
            if peer_cert or flags:
                if flags:
                    _mlog.i("Failed to verify peer certificate!")
                    self._capture(flags=flags)
                    if log.get_level("*") >= log.DEBUG:  # compiled in only at a DEBUG default level
                        from ..tls.x509_flags import describe_flags

                        info = "".join(f"  ! {line}\n" for line in describe_flags(flags))
                        _mlog.d("verification info: %s", info.rstrip("\n"))
                else:
                    _mlog.i("Certificate verified.")
            else:
                _mlog.d("Skipping certificate verification - no peer certificate received")
        self._state = ConnState.FAIL
        return self._error(reason)

    def _handshake_error(self, exc: TlsError | TlsTimeout | TlsConnectionError, peer_cert: bool) -> EspTlsError:
        """What an engine's handshake failure becomes (recorded), for the sync and asyncio twins.

        A refusal or unreachable host is the TCP connect's failure, reported as
        such: with TCP Fast Open and a cookie, the SYN left with the ClientHello."""
        from ..io.pump import TlsConnectionError, TlsTimeout
        from ..tls.errors import TlsError

        cause = exc.__cause__
        if isinstance(exc, TlsConnectionError) and isinstance(cause, OSError) and cause.errno in _CONNECT_ERRNOS:
            err = cause.errno or 0
            _log.e("[sock=%d] delayed connect error: %s", self._fd, os.strerror(err))
            self._capture(
                esp=EspErr.ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST, reason=f"connect: {os.strerror(err)} (errno {err})"
            )
            self._state = ConnState.FAIL
            return self._error()
        if isinstance(exc, TlsError):
            return self._handshake_failed(_tls_code(exc), exc.verify_flags, peer_cert, str(exc))
        if isinstance(exc, TlsTimeout):
            _log.w("Failed to open new connection in specified timeout")
            self._capture(esp=EspErr.ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT, reason="TLS handshake timed out")
            self._state = ConnState.FAIL
            return self._error(cls=_HandshakeTimeout)
        return self._handshake_failed(_net_code(exc), 0, peer_cert, str(exc))

    def _handshake_done(self, neg: Negotiated | None, sock: socket.socket | None) -> None:
        """The handshake completed; ``sock`` is the connection's socket (for what
        TCP Fast Open did; None when the driver cannot give it)."""
        assert neg is not None, "the engine finished the handshake without a result"
        fastopen: str | None = None
        if self._cfg.tcp_fastopen:
            from ..fastopen import client_status

            fastopen = client_status(sock) if sock is not None else "unavailable"
        now = time.monotonic()
        info = TlsInfo(
            version=_VERSION_NAMES.get(neg.version, f"0x{neg.version:04X}"),
            cipher_suite=neg.cipher_suite,
            group=_group_name(neg.group),
            alpn=neg.alpn_protocol,
            resumed=neg.resumed,
            early_data=neg.early_data,
            peer_subject=_peer_subject(neg.peer_certificates),
            connect_ms=(self._t_connected - self._t0) * 1000,
            tls_ms=(now - self._t_connected) * 1000,
            handshake_end_ms=log.millis(),
            address=self._address,
            tcp_fastopen=fastopen,
            peer_certificates=neg.peer_certificates,
            device_stats=neg.device_stats,
        )
        lookup = None if self._t_lookup is None else (self._t_lookup - self._t0) * 1000
        port = self._target(self._host, self._port)[1]
        self._info = replace(info, port=port, local_address=self._local[0], local_port=self._local[1], lookup_ms=lookup)
        self._state = ConnState.DONE

    def _tunnel_failed(self, exc: BaseException) -> EspTlsError:
        """``cfg.tunnel`` failed: a timeout, or the connect's error (the proxy refused, or broke)."""
        if isinstance(exc, TimeoutError):
            self._capture(esp=EspErr.ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT, reason=f"proxy tunnel timed out: {exc}")
            return self._error(cls=EspTlsTimeout)
        self._capture(esp=EspErr.ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST, reason=f"proxy tunnel: {exc}")
        return self._error()

    # -- DONE: read / write ----------------------------------------------------

    def _read_error(self, exc: TlsError | TlsTimeout | TlsConnectionError) -> EspTlsError | None:
        """What an engine's read failure becomes: None when it reads as EOF (b""), as
        mbedTLS's MBEDTLS_ERR_SSL_CONN_EOF does for an EOF inside a record; a
        timeout is WANT_READ and not recorded; anything else is recorded."""
        from ..io.pump import TlsTimeout
        from ..tls.errors import Reason, TlsError

        if isinstance(exc, TlsTimeout):
            return self._want(MbedtlsErr.SSL_WANT_READ, "read")
        if isinstance(exc, TlsError):
            if exc.reason is Reason.TRUNCATED:
                return None
            code = _tls_code(exc)
        else:
            code = _net_code(exc)
        self._capture(mbedtls=-code, esp=EspErr.ESP_ERR_MBEDTLS_SSL_READ_FAILED, reason=str(exc))
        _mlog.e("read error :-0x%04X", -code & 0xFFFFFFFF)
        return self._error(str(exc))

    def _write_error(self, exc: TlsError | TlsTimeout | TlsConnectionError | LocalProtocolError) -> EspTlsError:
        """What an engine's write failure becomes: a timeout is WANT_WRITE and not
        recorded, writing after close is the closed-connection error, anything else
        is recorded."""
        from ..io.pump import TlsTimeout
        from ..tls.errors import LocalProtocolError, TlsError

        if isinstance(exc, TlsTimeout):
            return self._want(MbedtlsErr.SSL_WANT_WRITE, "write")
        if isinstance(exc, LocalProtocolError):
            return self._closed_error()
        code = _tls_code(exc) if isinstance(exc, TlsError) else _net_code(exc, sending=True)
        self._capture(mbedtls=-code, esp=EspErr.ESP_ERR_MBEDTLS_SSL_WRITE_FAILED, reason=str(exc))
        _mlog.e("write error :-0x%04X", -code & 0xFFFFFFFF)
        return self._error(str(exc))

    @staticmethod
    def _want(code: int, what: str) -> EspTlsTimeout:
        """A timed-out read or write: mbedTLS's WANT_READ / WANT_WRITE, not recorded."""
        return EspTlsTimeout(LastError(EspErr.ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT, -code, 0, f"{what} timed out"))

    def _closed_error(self) -> EspTlsError:
        return EspTlsError(LastError(EspErr.ESP_ERR_INVALID_STATE, 0, 0, "the connection is closed"))

    def _log_fragments(self, size: int) -> None:
        if size > MBEDTLS_SSL_OUT_CONTENT_LEN and _mlog.is_enabled(log.DEBUG):
            for offset in range(0, size, MBEDTLS_SSL_OUT_CONTENT_LEN):
                _mlog.d(
                    "Fragmenting data of excessive size :%d, offset: %d, size %d",
                    size,
                    offset,
                    min(MBEDTLS_SSL_OUT_CONTENT_LEN, size - offset),
                )

    def _ticket_wait(self, timeout: float | None, current: Session | None) -> float:
        """How long wait_client_session reads on: 0 unless this connection resumed a
        TLS 1.3 session and has no ticket of its own yet (``current``); then
        ``timeout``, or by default twice the handshake time within [25 ms, 250 ms]."""
        info = self._info
        if info is None or not info.resumed or info.version != _VERSION_NAMES[0x0304] or current is not None:
            return 0.0
        if timeout is not None:
            return max(timeout, 0.0)
        return min(max(2 * info.tls_ms / 1000, _TICKET_WAIT_MIN), _TICKET_WAIT_MAX)

    def _note_ticket(self, before: Session | None, after: Session | None) -> None:
        if after is not None and after is not before and after.version == 0x0304 and _mlog.is_enabled(log.DEBUG):
            _mlog.d("got session ticket in TLS 1.3 connection, retry read")
            _mlog.d("Session ticket received")
            _mlog.d("Session ticket length: %d", len(after.to_bytes()))
            _mlog.d("Session ticket saved in the client session context")
