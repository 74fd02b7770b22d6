"""esp-tls connections: :class:`EspTls` (blocking) and :class:`AsyncEspTls` (asyncio).

Theory of operation
-------------------
This is ``esp_tls.c`` + the client half of ``esp_tls_mbedtls.c``. A
connection walks esp-tls's states (:class:`ConnState`) in esp-tls's order:

1. **INIT**: ``getaddrinfo`` of the host (``cfg.connect_address`` replaces
   it, curl ``--connect-to`` style; SNI and the name check stay the URL's
   host), with the ``addr_family`` hint; only the **first** result is used.
   Socket options (TCP_NODELAY, keep-alive), then a non-blocking connect
   bounded by ``cfg.timeout_s``; the socket is then blocking with
   ``cfg.timeout_s`` as its per-operation timeout (SO_RCVTIMEO/SO_SNDTIMEO).
   With ``cfg.tcp_fastopen`` and a cookie the connect returns at once and
   the SYN carries the ClientHello (and 0-RTT data); a refusal then shows in
   the handshake and is reported as the connect's (0x8004).
2. **CONNECTING**: ``create_ssl_handle``: the SNI / name rule, the
   verification source (:mod:`.trust`), the client certificate, the cipher
   suites and the protocol versions; then the engine (:mod:`.engine`) is
   built on the connected socket.
3. **HANDSHAKE**: the engine's ``start`` (ClientHello, and ``early_data``
   as 0-RTT when the resumed session allows) and ``handshake``.
4. **DONE** (or **FAIL**).

Not in esp-tls: the blocking connection overlaps its own start-up with the
network (:class:`~.conn_core.Meanwhile`). Nothing of the TLS stack is imported
before the TCP connect starts; while it is in flight it runs the caller's
``prepare`` and ``session`` (the session to offer, when a function makes it)
and makes what the ClientHello needs (the engine's modules, what setting up the verifier needs, the
early data when a function makes it), and while the ClientHello travels the
rest: the CA file's parse (below), what checking the server's certificate needs
(when no session is offered) and the caller's ``meanwhile``. The trust anchors
themselves are loaded when a certificate must be checked
(:class:`~.trust.LazyVerifier`): esp-tls parses a CA file in step 2; with the
python engine the blocking connection parses it once the ClientHello is sent
(the X.509 code is ~45% of the work before it), unless the session offered may
resume under it. A CA file that does not parse fails as in step 2 (0x8015,
create_ssl_handle's lines), after the ClientHello; :class:`AsyncEspTls` and the
openssl engine parse it in step 2.

When ``cfg.timeout_ms`` > 0 it also bounds the whole of ``conn_*_new_sync``;
otherwise the handshake as a whole gets ``cfg.timeout_s`` (10 s), where
esp-tls would retry forever.

Sessions: ``get_client_session`` as in esp-tls (TLS 1.3 tickets arrive while
reading). ``wait_client_session``, not in esp-tls, is for callers that keep
sessions and stop reading once they have the response: after a resumed
handshake it waits briefly for the ticket a server may send after its answer,
so that the next connection does not offer the ticket just spent.

Every failure is recorded as esp-tls records it (the last-error triple of
:class:`~.errors.LastError`: ``esp_err_t``, the mbedTLS code stored positive,
the X.509 verify flags) and logged with esp-tls's lines, tags and levels
(``esp-tls`` for ``esp_tls.c``, ``esp-tls-mbedtls`` for the backend):

==========================  =========================================
failure                     last_error / esp_tls_error_code / flags
==========================  =========================================
DNS                         0x8001 / 0 / 0
socket()                    0x8002
setsockopt                  0x8005
connect refused/unreachable 0x8004
connect/handshake timeout   0x8006
bad ``cacert``              0x8015 / parse code
no verification option      0x8017
bad ``crt_bundle`` bytes    0x102 (esp-tls fails later, in the handshake)
no global store             0x103
client cert and key         0x103 (only one given), 0x8015, 0x8019
handshake                   0x801A / -ret / verify flags (when a CA
                            option is set and the server sent a certificate)
read                        0x801D / -ret
write                       0x8018 / -ret
==========================  =========================================

Raises
------
``conn_new_sync`` / ``conn_http_new_sync`` raise :class:`~.errors.EspTlsError`
(its ``last_error`` is the triple above); timeouts raise :class:`EspTlsTimeout`
(an EspTlsError and a TimeoutError). ``read`` / ``write`` raise EspTlsError
(0x801D / 0x8018, recorded) and EspTlsTimeout for a timeout (the mbedTLS
WANT_READ / WANT_WRITE case: not recorded, the connection stays usable);
calls on a closed connection raise EspTlsError(ESP_ERR_INVALID_STATE).
``cfg.engine == "openssl"`` (stdlib ``ssl``, :mod:`.openssl_engine`) raises
EspTlsError(ESP_ERR_NOT_SUPPORTED) for the options it cannot honour; an unknown
engine name raises ESP_ERR_INVALID_ARG. ``is_plain_tcp`` (no TLS: :mod:`.plain`) and ``tunnel``
(a proxy's CONNECT before the handshake; its failure is 0x8004, or 0x8006 when it timed out)
are for :class:`EspTls`; :class:`AsyncEspTls` refuses them (ESP_ERR_NOT_SUPPORTED);
``non_block`` is ignored (use :class:`AsyncEspTls`).
"""

from __future__ import annotations

import socket
from types import TracebackType
from typing import TYPE_CHECKING, Self, TypeVar

from .. import log
from .config import EspTlsCfg
from .conn_core import (
    _READ_SIZE,
    ConnState,
    EarlyData,
    EspTlsTimeout,
    Meanwhile,
    TlsInfo,
    _Core,
    _engine_errors,
    _engine_write_errors,
    _HandshakeTimeout,
)
from .conn_core import MBEDTLS_SSL_OUT_CONTENT_LEN as MBEDTLS_SSL_OUT_CONTENT_LEN  # re-exported
from .engine import AsyncEngine, AsyncEngineFactory, Engine, EngineSpec, SyncEngineFactory, engine_factories
from .errors import EspErr, EspTlsError, LastError
from .url import UrlTarget, parse_url

if TYPE_CHECKING:  # asyncio is imported by the async code paths only (CLI start-up time)
    import asyncio
    from collections.abc import Callable

    from ..dns.happy import Started
    from ..tls.session import Session

__all__ = [
    "AsyncEspTls",
    "ConnState",
    "EspTls",
    "EspTlsTimeout",
    "TlsInfo",
    "UrlTarget",
    "parse_url",
]

_log = log.get_logger("esp-tls")


# --- blocking ------------------------------------------------------------------


_C = TypeVar("_C", bound=_Core)


def _fresh(cls: type[_C], tls: _C | None) -> _C:
    """The handle to connect: ``tls`` when given (it must be unused), else a new one."""
    if tls is None:
        return cls()
    if tls.conn_state is not ConnState.INIT:
        raise EspTlsError(LastError(EspErr.ESP_ERR_INVALID_STATE, 0, 0, "this esp-tls handle was used before"))
    return tls


class EspTls(_Core):
    """A blocking esp-tls client connection (``esp_tls_t``).

    Make one with :meth:`conn_http_new_sync` or :meth:`conn_new_sync`; use
    :meth:`write` / :meth:`read`; :meth:`close` it (or use ``with``).
    Not thread-safe: one thread per connection.
    """

    _PARSE_LATER = True  # the CA parse waits for the first flight to be sent (_handshake)

    def __init__(self) -> None:
        super().__init__()
        self._engine: Engine | None = None
        self._session: Session | None = None  # kept at close, for get_client_session

    @classmethod
    def conn_http_new_sync(
        cls,
        url: str,
        cfg: EspTlsCfg,
        *,
        early_data: EarlyData = b"",
        tls: Self | None = None,
        meanwhile: Callable[[], object] | None = None,
        prepare: Callable[[], object] | None = None,
        session: Callable[[], Session | None] | None = None,
        started: Started | None = None,
    ) -> Self:
        """``esp_tls_conn_http_new_sync``: connect to the URL's host and port (443 for https, 80 for http).

        ``early_data`` is sent as 0-RTT when ``cfg.early_data`` is set and the
        resumed session allows it, else right after the handshake; it may be a
        function that returns the bytes, called once before the ClientHello:
        while the TCP connect is in flight (after its SYN), or once it is up when
        it was quicker (so that the caller makes them, and imports what making
        them needs, during the connect's round trip; b"" offers no early data;
        what it raises propagates). ``tls`` is
        esp-tls's ``esp_tls_t *tls`` argument: a fresh handle (``EspTls()``)
        to connect, which the caller keeps when the call fails (its
        ``last_error``, ``session_refused``); by default a new one.
        ``meanwhile`` (not in esp-tls) is the caller's own work for after the
        connection (imports): it is called once, when the ClientHello has been
        sent, while the connection waits for the server's answer (not during the
        connect: nothing the ClientHello needs waits for it); what it raises
        propagates. ``prepare`` (not in esp-tls) is the caller's work that must be
        done before the handshake starts (checks of its own): it is called once,
        first thing while the TCP connect is in flight (or once it is up when it
        was quicker); what it raises propagates. ``session`` (not in esp-tls) makes
        the session to offer in ``cfg.client_session``'s place, when loading it
        costs more than the connect needs: called once, after ``prepare`` and
        before the early data's function; what it raises propagates.
        ``started`` (not in esp-tls) hands over a TCP connect begun before the
        call, which the first attempt adopts when it is to the same address and
        port (``get``'s: :mod:`https_request.get_early`; see
        :func:`https_request.dns.happy.connect`). Raises EspTlsError (see the
        module docstring), ESP_ERR_INVALID_STATE for a handle that was used
        before.
        """
        target = parse_url(url)
        tls = _fresh(cls, tls)
        tls._open(target.host, target.port, target.host_text, cfg, early_data, meanwhile, prepare, session, started)
        return tls

    @classmethod
    def conn_new_sync(
        cls,
        host: str,
        port: int,
        cfg: EspTlsCfg,
        *,
        early_data: EarlyData = b"",
        tls: Self | None = None,
        meanwhile: Callable[[], object] | None = None,
        prepare: Callable[[], object] | None = None,
        session: Callable[[], Session | None] | None = None,
    ) -> Self:
        """``esp_tls_conn_new_sync``: connect to ``host``:``port`` (the options as in
        :meth:`conn_http_new_sync`). Raises EspTlsError."""
        tls = _fresh(cls, tls)
        tls._open(host, port, host, cfg, early_data, meanwhile, prepare, session)
        return tls

    def _open(
        self,
        host: str,
        port: int,
        host_text: str,
        cfg: EspTlsCfg,
        early_data: EarlyData,
        meanwhile: Callable[[], object] | None,
        prepare: Callable[[], object] | None,
        session: Callable[[], Session | None] | None,
        started: Started | None = None,
    ) -> None:
        factory, _ = engine_factories(cfg.engine)
        self._begin(host, port, cfg)
        deadline = self._t0 + cfg.timeout_ms / 1000 if cfg.timeout_ms > 0 else None
        work = self._meanwhile(meanwhile, early_data, prepare, session)
        sock: socket.socket | None = None
        try:
            sock = self._tcp_connect(host_text, deadline, work, started)
            if cfg.tunnel is not None:
                try:
                    cfg.tunnel(sock, max(self._connect_wait(deadline), 0.001))
                except (OSError, ValueError) as exc:
                    raise self._tunnel_failed(exc) from exc
                sock.settimeout(cfg.timeout_s)
            if cfg.is_plain_tcp:
                from .plain import PlainEngine

                self._engine = PlainEngine(sock)
                work.finish()
                self._handshake_done(self._engine.negotiated(), sock)
                return
            work.ready()  # what the first flight needs, when the connect was quicker than it
            early = self._early_data(early_data)
            spec = self._create_ssl_handle()
            self._engine = self._make_engine(factory, sock, spec)
            self._handshake(self._engine, early, deadline, sock, work, spec)
        except BaseException as exc:
            if self._engine is not None:
                self._engine.close()
                self._engine = None
            elif sock is not None:
                sock.close()
            if isinstance(exc, EspTlsError) and not isinstance(exc, _HandshakeTimeout):
                _log.e("Failed to open new connection")
            raise

    def _tcp_connect(
        self, host_text: str, deadline: float | None, work: Meanwhile, started: Started | None
    ) -> socket.socket:
        from ..dns import happy

        target, port = self._target(self._host, self._port)
        plan = self._connect_plan(host_text, self._port)
        name = target
        try:
            if not target:
                raise LookupError("empty host name")
            if plan.esp:
                from ..dns.lookup import lwip_getaddrinfo
                from ..netif import known_addresses

                wait = self._connect_wait(deadline)
                name = str(lwip_getaddrinfo(plan.lookup.resolve, target, plan.family, known_addresses, wait))
            sock, address = happy.connect(
                name,
                port,
                None,
                timeout=max(self._connect_wait(deadline), 0.001),  # spent already: a timeout, not a ValueError
                family=plan.family,
                esp_compatible=plan.esp,
                on_attempt=plan.on_attempt,
                start=plan.lookup.start,  # the lookups in happy's own loop, no thread
                fastopen=plan.fastopen,
                idle=work.step,
                started=started,
            )
        except happy.ConnectError as exc:
            raise self._connect_failed(target, exc) from exc
        except LookupError as exc:
            raise self._dns_failed(target, exc) from exc
        try:
            self._socket_options(sock)
        except BaseException:
            sock.close()
            raise
        self._connected(sock, address)
        return sock

    def _make_engine(self, factory: SyncEngineFactory, sock: socket.socket, spec: EngineSpec) -> Engine:
        try:
            return factory(sock, spec)
        except EspTlsError as exc:
            raise self._ssl_handle_failed(exc) from exc

    def _handshake(
        self,
        engine: Engine,
        early_data: bytes,
        deadline: float | None,
        sock: socket.socket,
        work: Meanwhile,
        spec: EngineSpec,
    ) -> None:
        self._handshake_starting(engine.session_refused)
        wait = self._handshake_wait(deadline)
        try:
            engine.start(early_data, wait)
            self._load_due_anchors(spec)  # while the first flight travels: create_ssl_handle's CA parse
            work.finish()  # and the rest
            engine.handshake(self._handshake_wait(deadline))
        except _engine_errors() as exc:
            raise self._handshake_error(exc, engine.peer_certificate_received) from exc
        self._handshake_done(engine.negotiated(), sock)
        self._note_ticket(None, engine.session())  # a ticket may come with the server's flight

    def _live(self) -> Engine:
        if self._engine is None:
            raise self._closed_error()
        return self._engine

    def write(self, data: bytes, timeout: float | None = None) -> int:
        """``esp_tls_conn_write``: send ``data``; returns the number of bytes written.

        Raises EspTlsError (0x8018 recorded) or EspTlsTimeout (``timeout``,
        default ``cfg.timeout_s``, expired; not recorded).
        """
        engine = self._live()
        if not data:
            return 0
        self._log_fragments(len(data))
        try:
            return engine.write(bytes(data), self._cfg.timeout_s if timeout is None else timeout)
        except _engine_write_errors() as exc:
            raise self._write_error(exc) from exc

    def read(self, max_bytes: int = _READ_SIZE, timeout: float | None = None) -> bytes:
        """``esp_tls_conn_read``: up to ``max_bytes`` of data; b"" once the server closed.

        b"" comes at close_notify *and* at a bare TCP close after the
        handshake, even one inside a record (mbedTLS returns 0 for all of
        them: the HTTP layer detects truncation). TLS 1.3 session tickets that
        arrive meanwhile are kept for :meth:`get_client_session`. Raises
        EspTlsError (0x801D recorded) or EspTlsTimeout (not recorded).
        """
        engine = self._live()
        if max_bytes <= 0:
            return b""
        before = engine.session()
        try:
            data = engine.read(max_bytes, self._cfg.timeout_s if timeout is None else timeout)
        except _engine_errors() as exc:
            error = self._read_error(exc)
            if error is None:  # EOF inside a record reads as 0, as in mbedTLS
                return b""
            raise error from exc
        self._note_ticket(before, engine.session())
        return data

    def get_client_session(self) -> Session | None:
        """``esp_tls_get_client_session``: a session to resume with ``cfg.client_session``.

        TLS 1.3: the latest NewSessionTicket received (they arrive while
        reading), None before one arrives. TLS 1.2: the session after the
        handshake (None when the server offered neither a ticket nor a
        session ID). After :meth:`close`, the session the connection had then.
        """
        return self._session if self._engine is None else self._engine.session()

    def wait_client_session(self, timeout: float | None = None) -> Session | None:
        """Not in esp-tls: wait briefly for the ticket that follows a resumed handshake.

        A server may send its NewSessionTicket after the response (after 0.5-RTT
        data, once it has our Finished). A caller that keeps sessions and stops
        reading when the response is complete calls this before :meth:`close`, so
        that the next connection offers a fresh ticket, not the one just spent
        (which a server's 0-RTT anti-replay refuses). When this connection resumed
        a TLS 1.3 session and has received no ticket yet, it reads on until a
        ticket, close_notify, EOF or application data (kept for :meth:`read`)
        arrives, or ``timeout`` seconds pass (default: twice the handshake time,
        25-250 ms); otherwise it returns at once. Returns
        :meth:`get_client_session`. Never raises: a failure while waiting ends
        the wait (logged at debug level) and shows in the next read.
        """
        engine = self._engine
        if engine is None:
            return self._session
        before = engine.session()
        wait = self._ticket_wait(timeout, before)
        if wait > 0:
            _log.d("Waiting up to %d ms for a session ticket", round(wait * 1000))
            try:
                engine.wait_session(wait)
            except _engine_errors() as exc:
                _log.d("No session ticket: %s", exc)
            self._note_ticket(before, engine.session())
        return engine.session()

    def close(self) -> None:
        """``esp_tls_conn_destroy``: close_notify (best effort), then close the socket. Idempotent."""
        engine, self._engine = self._engine, None
        if engine is not None:
            self._session = engine.session()
            engine.close()

    def __enter__(self) -> EspTls:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


# --- asyncio -------------------------------------------------------------------


class AsyncEspTls(_Core):
    """The asyncio twin of :class:`EspTls`: same names and semantics, I/O methods are coroutines.

    ``await AsyncEspTls.conn_http_new_sync(url, cfg)`` connects (the name is
    kept from esp-tls: it completes the connection before returning, unlike
    esp-tls's step-wise ``*_async``). Only one task may read at a time.
    """

    def __init__(self) -> None:
        super().__init__()
        self._engine: AsyncEngine | None = None
        self._session: Session | None = None  # kept at close, for get_client_session

    @classmethod
    async def conn_http_new_sync(
        cls,
        url: str,
        cfg: EspTlsCfg,
        *,
        early_data: EarlyData = b"",
        tls: Self | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> Self:
        """See :meth:`EspTls.conn_http_new_sync` (``meanwhile`` runs on the event loop
        once the first flight is sent)."""
        target = parse_url(url)
        tls = _fresh(cls, tls)
        await tls._open(target.host, target.port, target.host_text, cfg, early_data, meanwhile)
        return tls

    @classmethod
    async def conn_new_sync(
        cls,
        host: str,
        port: int,
        cfg: EspTlsCfg,
        *,
        early_data: EarlyData = b"",
        tls: Self | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> Self:
        """See :meth:`EspTls.conn_new_sync`."""
        tls = _fresh(cls, tls)
        await tls._open(host, port, host, cfg, early_data, meanwhile)
        return tls

    async def _open(
        self,
        host: str,
        port: int,
        host_text: str,
        cfg: EspTlsCfg,
        early_data: EarlyData,
        meanwhile: Callable[[], object] | None,
    ) -> None:
        _, factory = engine_factories(cfg.engine)
        self._begin(host, port, cfg)
        if cfg.is_plain_tcp or cfg.tunnel is not None:
            self._capture(esp=EspErr.ESP_ERR_NOT_SUPPORTED, reason="is_plain_tcp and tunnel: blocking EspTls only")
            raise self._error("is_plain_tcp and tunnel are not supported by AsyncEspTls")
        deadline = self._t0 + cfg.timeout_ms / 1000 if cfg.timeout_ms > 0 else None
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await self._tcp_connect(host_text, deadline)
            early = self._early_data(early_data)
            self._engine = self._make_engine(factory, reader, writer)
            work = Meanwhile([], [meanwhile] if meanwhile else [])
            await self._handshake(self._engine, early, deadline, writer.get_extra_info("socket"), work)
        except BaseException as exc:
            if self._engine is not None:
                await self._engine.close()
                self._engine = None
            elif writer is not None:
                writer.close()
            if isinstance(exc, EspTlsError) and not isinstance(exc, _HandshakeTimeout):
                _log.e("Failed to open new connection")
            raise

    async def _tcp_connect(
        self, host_text: str, deadline: float | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        import asyncio

        from ..dns import happy

        target, port = self._target(self._host, self._port)
        plan = self._connect_plan(host_text, self._port)
        name = target
        try:
            if not target:
                raise LookupError("empty host name")
            if plan.esp:  # lwIP asks one family after the other: in a thread, off the loop
                from ..dns.lookup import lwip_getaddrinfo
                from ..netif import known_addresses

                wait = self._connect_wait(deadline)
                address = await asyncio.to_thread(
                    lwip_getaddrinfo, plan.lookup.resolve, target, plan.family, known_addresses, wait
                )
                name = str(address)
            sock, address = await happy.aconnect(
                name,
                port,
                plan.lookup.aresolve,
                timeout=max(self._connect_wait(deadline), 0.001),  # spent already: a timeout, not a ValueError
                family=plan.family,
                esp_compatible=plan.esp,
                on_attempt=plan.on_attempt,
                known=plan.lookup.known,  # resolve and known: on a loop without add_reader only
                start=plan.lookup.start,  # the lookups in aconnect's own loop, no task or thread
                fastopen=plan.fastopen,
            )
        except happy.ConnectError as exc:
            raise self._connect_failed(target, exc) from exc
        except LookupError as exc:
            raise self._dns_failed(target, exc) from exc
        try:
            self._socket_options(sock)
            self._note_connected(sock, address)
            return await asyncio.open_connection(sock=sock)
        except BaseException:
            sock.close()
            raise

    def _make_engine(
        self, factory: AsyncEngineFactory, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> AsyncEngine:
        spec = self._create_ssl_handle()
        try:
            return factory(reader, writer, spec)
        except EspTlsError as exc:
            raise self._ssl_handle_failed(exc) from exc

    async def _handshake(
        self,
        engine: AsyncEngine,
        early_data: bytes,
        deadline: float | None,
        sock: socket.socket | None,
        work: Meanwhile,
    ) -> None:
        self._handshake_starting(engine.session_refused)
        try:
            await engine.start(early_data, self._handshake_wait(deadline))
            work.finish()
            await engine.handshake(self._handshake_wait(deadline))
        except _engine_errors() as exc:
            raise self._handshake_error(exc, engine.peer_certificate_received) from exc
        self._handshake_done(engine.negotiated(), sock)
        self._note_ticket(None, engine.session())  # a ticket may come with the server's flight

    def _live(self) -> AsyncEngine:
        if self._engine is None:
            raise self._closed_error()
        return self._engine

    async def write(self, data: bytes, timeout: float | None = None) -> int:
        """See :meth:`EspTls.write`."""
        engine = self._live()
        if not data:
            return 0
        self._log_fragments(len(data))
        try:
            return await engine.write(bytes(data), self._cfg.timeout_s if timeout is None else timeout)
        except _engine_write_errors() as exc:
            raise self._write_error(exc) from exc

    async def read(self, max_bytes: int = _READ_SIZE, timeout: float | None = None) -> bytes:
        """See :meth:`EspTls.read`."""
        engine = self._live()
        if max_bytes <= 0:
            return b""
        before = engine.session()
        try:
            data = await engine.read(max_bytes, self._cfg.timeout_s if timeout is None else timeout)
        except _engine_errors() as exc:
            error = self._read_error(exc)
            if error is None:  # EOF inside a record reads as 0, as in mbedTLS
                return b""
            raise error from exc
        self._note_ticket(before, engine.session())
        return data

    def get_client_session(self) -> Session | None:
        """See :meth:`EspTls.get_client_session`."""
        return self._session if self._engine is None else self._engine.session()

    async def wait_client_session(self, timeout: float | None = None) -> Session | None:
        """See :meth:`EspTls.wait_client_session`."""
        engine = self._engine
        if engine is None:
            return self._session
        before = engine.session()
        wait = self._ticket_wait(timeout, before)
        if wait > 0:
            _log.d("Waiting up to %d ms for a session ticket", round(wait * 1000))
            try:
                await engine.wait_session(wait)
            except _engine_errors() as exc:
                _log.d("No session ticket: %s", exc)
            self._note_ticket(before, engine.session())
        return engine.session()

    async def close(self) -> None:
        """See :meth:`EspTls.close`."""
        engine, self._engine = self._engine, None
        if engine is not None:
            self._session = engine.session()
            await engine.close()

    async def __aenter__(self) -> AsyncEspTls:
        return self

    async def __aexit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()
