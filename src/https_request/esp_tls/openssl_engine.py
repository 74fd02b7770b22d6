"""The ``openssl`` engine: esp-tls over the stdlib :mod:`ssl` module (OpenSSL).

Selected with ``EspTlsCfg(engine="openssl")``; :func:`~.engine.engine_factories`
finds :func:`create_engine` and :func:`create_async_engine` here. Everything
esp-tls owns (URL, DNS, TCP connect, the trust-source priority, the last-error
triple, the log lines) stays in :mod:`.conn`; this module only replaces our
own TLS client with an :class:`ssl.SSLObject` over two :class:`ssl.MemoryBIO`
(incoming, outgoing), driven over the connected socket (blocking, TCP_NODELAY,
pending output sent before every receive) or over an asyncio
StreamReader/StreamWriter pair.

Here: the I/O-free SSLObject with its BIOs (``_Machine``), the blocking
:class:`OpenSslEngine`, the asyncio :class:`AsyncOpenSslEngine` and their
factories. The SSLObject is made from a shared :class:`ssl.SSLContext` of
:mod:`.openssl_context`, whose docstring says which esp-tls options are
honoured and how, which ones the factories refuse (:class:`~.errors.EspTlsError`
with ``ESP_ERR_NOT_SUPPORTED``), how sessions resume and how OpenSSL errors are
mapped; :class:`OpenSslSession` and :func:`clear_context_cache` are re-exported
from there.

Driving
-------
``debug_level`` is ignored (OpenSSL has no mbedTLS debug trace; a warning is
logged). The keylog lines are handed to the callback after the handshake,
after each read and at close. Transport errors are
:class:`~https_request.io.pump.TlsConnectionError`, timeouts
:class:`~https_request.io.pump.TlsTimeout`; after the handshake a TCP close,
with or without close_notify, reads as b"". Not available from Python 3.11:
the key-exchange group (``Negotiated.group`` is None) and the peer's chain
beyond the leaf (``peer_certificates`` holds the leaf only).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from .. import log
from ..io.pump import TlsConnectionError, TlsTimeout
from ..tls.errors import LocalProtocolError, TlsError
from ..tls.session import Session
from .engine import EarlyDataStatus, EngineSpec, Negotiated
from .errors import EspErr
from .openssl_context import (
    OpenSslSession,
    clear_context_cache,
    peer_check,
    refuse,
    resumable,
    session_to_resume,
    shared_context,
    ssl_error,
    verify_error,
)

__all__ = [
    "AsyncOpenSslEngine",
    "OpenSslEngine",
    "OpenSslSession",
    "clear_context_cache",
    "create_async_engine",
    "create_engine",
]

_T = TypeVar("_T")

_mlog = log.get_logger("esp-tls-mbedtls")

_RECV_SIZE = 65536
_CLOSE_WAIT = 1.0  # how long close() may spend sending close_notify
_WIRE_VERSIONS = {"TLSv1.3": 0x0304, "TLSv1.2": 0x0303}

# --- the SSLObject, I/O-free ----------------------------------------------------


class _Machine:
    """An SSLObject with its two BIOs; the drivers below move the bytes."""

    def __init__(self, spec: EngineSpec) -> None:
        shared = shared_context(spec)
        shared, resume, self.session_refused = session_to_resume(spec, shared)
        self.peer_check = peer_check(spec)
        self.shared = shared
        self.spec = spec
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        try:
            self.obj = shared.ctx.wrap_bio(
                self.incoming, self.outgoing, server_side=False, server_hostname=spec.server_name, session=resume
            )
        except (ValueError, UnicodeError) as exc:
            raise refuse(
                "common_name",
                f"bad server name {spec.server_name!r} ({exc})",
                EspErr.ESP_ERR_MBEDTLS_SSL_SET_HOSTNAME_FAILED,
            ) from exc
        self.eof = False
        self.done = False
        self.cert_seen = False
        self.early_data = b""
        self._negotiated: Negotiated | None = None
        self._session: OpenSslSession | None = None
        if spec.cfg.debug_level > 0:
            _mlog.w("debug_level %d ignored: engine 'openssl' has no mbedTLS debug trace", spec.cfg.debug_level)

    def pending(self) -> bytes:
        return self.outgoing.read()

    def feed(self, data: bytes) -> None:
        if data:
            self.incoming.write(data)
        elif not self.eof:
            self.eof = True
            self.incoming.write_eof()

    def step_handshake(self) -> bool:
        """One ``do_handshake``; True once complete. Raises TlsError / TlsConnectionError."""
        if self.done:
            return True
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            if self.eof:
                raise TlsConnectionError("connection closed by peer") from None
            return False
        except ssl.SSLCertVerificationError as exc:
            self.cert_seen = True
            raise verify_error(exc) from exc
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError) as exc:
            raise TlsConnectionError("connection closed by peer") from exc
        except ssl.SSLError as exc:
            raise ssl_error(exc, handshaking=True) from exc
        self.done = True
        self._negotiated = self._settle()
        self.cert_seen = bool(self._negotiated.peer_certificates) or self.cert_seen
        self.pump_keylog()
        return True

    def step_read(self, max_bytes: int) -> bytes | None:
        """Application data, b"" at the end (close_notify or TCP close), None when more input is needed."""
        try:
            data = self.obj.read(max_bytes)
        except ssl.SSLWantReadError:
            return b"" if self.eof else None
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""
        except ssl.SSLError as exc:
            raise ssl_error(exc, handshaking=False) from exc
        return data

    def step_write(self, data: bytes) -> bool:
        """Queue ``data``; False when OpenSSL first needs input (post-handshake messages)."""
        try:
            self.obj.write(data)
        except ssl.SSLWantReadError:
            if self.eof:
                raise TlsConnectionError("connection closed by peer") from None
            return False
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError) as exc:
            raise TlsConnectionError("connection closed by peer") from exc
        except ssl.SSLError as exc:
            raise ssl_error(exc, handshaking=False) from exc
        return True

    def close_notify(self) -> bytes:
        if self.done:
            try:
                self.obj.unwrap()
            except (ssl.SSLError, ValueError):
                pass  # SSLWantReadError: close_notify queued, the peer's not awaited
        return self.outgoing.read()

    def pump_keylog(self) -> None:
        if self.shared.keylog is not None:
            self.shared.keylog.pump()

    def _settle(self) -> Negotiated:
        version = _WIRE_VERSIONS.get(self.obj.version() or "", 0)
        cipher = self.obj.cipher()
        suite = self.shared.suite_ids.get(cipher[0], 0) if cipher is not None else 0
        leaf = self.obj.getpeercert(binary_form=True)
        status: EarlyDataStatus = "none"
        return Negotiated(
            version=version,
            cipher_suite=suite,
            group=None,
            alpn_protocol=self.obj.selected_alpn_protocol(),
            resumed=self.obj.session_reused,
            early_data=status,
            peer_certificates=(leaf,) if leaf else (),
        )

    def negotiated(self) -> Negotiated | None:
        return self._negotiated

    def session(self) -> OpenSslSession | None:
        neg = self._negotiated
        if neg is None:
            return None
        current = self.obj.session
        if current is None or not resumable(current, neg.version):
            return self._session
        known = self._session
        if known is not None and known.ssl_session is not None and known.ssl_session == current:
            return known
        self._session = OpenSslSession(
            version=neg.version,
            cipher_suite=neg.cipher_suite,
            server_name=self.spec.server_name or "",
            secret=b"",
            lifetime=current.ticket_lifetime_hint,
            received_at=float(current.time),
            alpn_protocol=neg.alpn_protocol or "",
            session_id=current.id[:32],
            peer_check=self.peer_check,
            ssl_session=current,
            shared=self.shared,
        )
        return self._session


# --- blocking -------------------------------------------------------------------


def _deadline(timeout: float | None, default: float) -> float | None:
    wait = default if timeout is None else timeout
    return None if wait is None else time.monotonic() + wait


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TlsTimeout("timed out")
    return left


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except TimeoutError as exc:
        if isinstance(exc, TlsTimeout):
            raise
        raise TlsTimeout(str(exc) or "timed out") from exc
    except OSError as exc:
        raise TlsConnectionError(str(exc) or type(exc).__name__) from exc


def _nodelay(sock: socket.socket | None) -> None:
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class OpenSslEngine:
    """The ``openssl`` engine, blocking: an SSLObject over the connected socket."""

    def __init__(self, sock: socket.socket, spec: EngineSpec) -> None:
        self._m = _Machine(spec)
        self._sock = sock
        self._default = spec.timeout
        self._closed = False
        _nodelay(sock)

    @property
    def peer_certificate_received(self) -> bool:
        return self._m.cert_seen

    def _send(self, deadline: float | None) -> None:
        data = self._m.pending()
        if data:
            with _mapped():
                self._sock.settimeout(_remaining(deadline))
                self._sock.sendall(data)

    def _recv(self, deadline: float | None) -> None:
        with _mapped():
            self._sock.settimeout(_remaining(deadline))
            data = self._sock.recv(_RECV_SIZE)
        self._m.feed(data)

    def _send_quietly(self) -> None:
        """The alert OpenSSL queued for a failure (best effort)."""
        try:
            self._send(time.monotonic() + _CLOSE_WAIT)
        except (TlsTimeout, TlsConnectionError):
            pass

    def _drive(self, step: Callable[[], _T | None], deadline: float | None) -> _T:
        """Run ``step`` until it has a result, moving records both ways in between;
        on a TLS error the alert the SSLObject produced still goes out."""
        try:
            while (result := step()) is None:
                self._send(deadline)
                self._recv(deadline)
        except TlsError:
            self._send_quietly()
            raise
        self._send(deadline)
        return result

    def start(self, early_data: bytes, timeout: float | None) -> None:
        deadline = _deadline(timeout, self._default)
        self._m.early_data = early_data  # no 0-RTT: sent right after the handshake
        self._m.step_handshake()
        self._send(deadline)

    def handshake(self, timeout: float | None) -> None:
        deadline = _deadline(timeout, self._default)
        self._drive(lambda: self._m.step_handshake() or None, deadline)
        early, self._m.early_data = self._m.early_data, b""
        if early:
            self.write(early, _remaining(deadline))

    def write(self, data: bytes, timeout: float | None) -> int:
        if self._closed:
            raise LocalProtocolError("write on a closed connection")
        deadline = _deadline(timeout, self._default)
        self._drive(lambda: self._m.step_write(data) or None, deadline)
        return len(data)

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        if self._closed:
            raise LocalProtocolError("read on a closed connection")
        deadline = _deadline(timeout, self._default)
        data = self._drive(lambda: self._m.step_read(max_bytes), deadline)
        self._m.pump_keylog()
        return data

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            data = self._m.close_notify()
            if data:
                with _mapped():
                    self._sock.settimeout(min(_CLOSE_WAIT, self._default))
                    self._sock.sendall(data)
        except (TlsTimeout, TlsConnectionError):
            pass
        finally:
            self._m.pump_keylog()
            self._sock.close()

    def session(self) -> Session | None:
        return self._m.session()

    def wait_session(self, timeout: float) -> None:
        """Returns at once: the SSLObject reports no ticket arrival, and this engine sends no 0-RTT."""

    @property
    def session_refused(self) -> str | None:
        return self._m.session_refused

    def negotiated(self) -> Negotiated | None:
        return self._m.negotiated()


# --- asyncio --------------------------------------------------------------------


class AsyncOpenSslEngine:
    """The ``openssl`` engine, asyncio: an SSLObject over a StreamReader/StreamWriter pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, spec: EngineSpec) -> None:
        self._m = _Machine(spec)
        self._reader = reader
        self._writer = writer
        self._default = spec.timeout
        self._closed = False
        sock = writer.get_extra_info("socket")
        _nodelay(sock if isinstance(sock, socket.socket) else None)

    @property
    def peer_certificate_received(self) -> bool:
        return self._m.cert_seen

    async def _send(self, deadline: float | None) -> None:
        data = self._m.pending()
        if data:
            wait = _remaining(deadline)
            with _mapped():
                self._writer.write(data)
                await asyncio.wait_for(self._writer.drain(), wait)

    async def _recv(self, deadline: float | None) -> None:
        wait = _remaining(deadline)
        with _mapped():
            data = await asyncio.wait_for(self._reader.read(_RECV_SIZE), wait)
        self._m.feed(data)

    def _send_quietly(self) -> None:
        data = self._m.pending()
        if data and not self._writer.is_closing():
            try:
                self._writer.write(data)
            except OSError:
                pass

    async def _drive(self, step: Callable[[], _T | None], deadline: float | None) -> _T:
        """See :meth:`OpenSslEngine._drive`."""
        try:
            while (result := step()) is None:
                await self._send(deadline)
                await self._recv(deadline)
        except TlsError:
            self._send_quietly()
            raise
        await self._send(deadline)
        return result

    async def start(self, early_data: bytes, timeout: float | None) -> None:
        deadline = _deadline(timeout, self._default)
        self._m.early_data = early_data
        self._m.step_handshake()
        await self._send(deadline)

    async def handshake(self, timeout: float | None) -> None:
        deadline = _deadline(timeout, self._default)
        await self._drive(lambda: self._m.step_handshake() or None, deadline)
        early, self._m.early_data = self._m.early_data, b""
        if early:
            await self.write(early, _remaining(deadline))

    async def write(self, data: bytes, timeout: float | None) -> int:
        if self._closed:
            raise LocalProtocolError("write on a closed connection")
        deadline = _deadline(timeout, self._default)
        await self._drive(lambda: self._m.step_write(data) or None, deadline)
        return len(data)

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        if self._closed:
            raise LocalProtocolError("read on a closed connection")
        deadline = _deadline(timeout, self._default)
        data = await self._drive(lambda: self._m.step_read(max_bytes), deadline)
        self._m.pump_keylog()
        return data

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            data = self._m.close_notify()
            if data and not self._writer.is_closing():
                self._writer.write(data)
        except OSError:
            pass
        finally:
            self._m.pump_keylog()
            self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), _CLOSE_WAIT)
        except (OSError, TimeoutError):
            pass

    def session(self) -> Session | None:
        return self._m.session()

    async def wait_session(self, timeout: float) -> None:
        """See :meth:`OpenSslEngine.wait_session`."""

    @property
    def session_refused(self) -> str | None:
        return self._m.session_refused

    def negotiated(self) -> Negotiated | None:
        return self._m.negotiated()


# --- the factories engine.engine_factories looks for ---------------------------


def create_engine(sock: socket.socket, spec: EngineSpec) -> OpenSslEngine:
    """The blocking engine for ``spec`` on the connected ``sock``. Raises EspTlsError (see :mod:`.openssl_context`)."""
    return OpenSslEngine(sock, spec)


def create_async_engine(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, spec: EngineSpec
) -> AsyncOpenSslEngine:
    """The asyncio engine for ``spec`` on a connected stream pair. Raises EspTlsError."""
    return AsyncOpenSslEngine(reader, writer, spec)
