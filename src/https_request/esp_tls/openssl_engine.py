"""The ``openssl`` engine: esp-tls over the stdlib :mod:`ssl` module (OpenSSL).

Selected with ``EspTlsCfg(engine="openssl")``; :func:`~.engine.engine_factories`
finds :func:`create_engine` and :func:`create_async_engine` here. Everything
esp-tls owns (URL, DNS, TCP connect, the trust-source priority, the last-error
triple, the log lines) stays in :mod:`.conn`; this module only replaces our
own TLS client with an :class:`ssl.SSLObject` over two :class:`ssl.MemoryBIO`
(incoming, outgoing), driven over the connected socket (blocking, TCP_NODELAY,
pending output sent before every receive) or over an asyncio
StreamReader/StreamWriter pair.

What it honours
---------------
=============================  ===============================================
esp-tls option                 stdlib ``ssl`` (Python 3.11, OpenSSL 3)
=============================  ===============================================
``cacert`` (PEM or DER)        ``load_verify_locations(cadata=DER...)``; the
                               buffer is parsed as esp-tls parses it (PEM
                               blocks that fail are skipped)
``use_global_ca_store``        the store's certificates, the same way (an
                               empty store trusts nothing)
``insecure``                   ``CERT_NONE`` (SNI still sent)
``skip_common_name``           ``CERT_REQUIRED``, ``check_hostname=False`` and
                               no SNI (``server_hostname=None``)
``common_name``                ``server_hostname`` (SNI and the name check)
``tls_version``                ``minimum_version`` / ``maximum_version``
``ciphersuites`` (TLS 1.2)     an OpenSSL cipher string (``catalogue.
                               OPENSSL_NAMES``); with ``tls_version`` ANY and
                               only TLS 1.2 suites listed, TLS 1.3 is not
                               offered (as the python engine)
``alpn_protos``                ``set_alpn_protocols``
``clientcert`` / ``clientkey`` ``load_cert_chain`` from a 0600 temporary file,
                               deleted right after loading
``keylog``                     ``keylog_filename`` on a 0600 temporary file
                               that is unlinked at once; its lines are handed
                               to the callback after the handshake, after each
                               read and at close
``client_session``             in-process resumption only (see below)
=============================  ===============================================

What it cannot honour, and says so
----------------------------------
The engine factory raises :class:`~.errors.EspTlsError` with
``ESP_ERR_NOT_SUPPORTED`` (0x106) and a message naming the option for:
``crt_bundle`` (the ESP bundle's verify callback cannot run inside OpenSSL's
verification), ``verify_policy="mbedtls"`` (OpenSSL applies its own policy),
``client_session`` loaded from bytes or made by the python engine (stdlib
``ssl`` cannot import a session), ``early_data`` (no 0-RTT in stdlib ``ssl``),
TLS 1.3 ids in ``ciphersuites`` ("cannot choose TLS 1.3 suites with stdlib
ssl"), ``groups`` (Python 3.11 cannot set the key-exchange groups), a
``profile`` other than ``default``, and a certificate verifier that is none
of the esp-tls trust sources. ``debug_level`` is ignored (OpenSSL has no
mbedTLS debug trace). A TLS 1.2-only ``ciphersuites`` list with
``tls_version`` TLS 1.3 fails with ESP_ERR_MBEDTLS_SSL_SETUP_FAILED, as it
does on the python engine.

Sessions
--------
``ssl.SSLSession`` objects cannot leave the process and are bound to the
:class:`ssl.SSLContext` that made them. So there is one shared SSLContext per
configuration (a small module-level cache keyed by everything the context is
built from), and :meth:`OpenSslEngine.session` returns an
:class:`OpenSslSession`: a :class:`~https_request.tls.session.Session` that
carries the ``SSLSession`` and its context. Passing it back as
``cfg.client_session`` resumes (in the same process, with the same
configuration; a different configuration is refused with
ESP_ERR_NOT_SUPPORTED). It has no secret and no ticket bytes (stdlib ``ssl``
does not expose them): ``to_bytes`` works, but what it writes cannot be
resumed. TLS 1.2: the session is there right after the handshake. TLS 1.3:
only once a NewSessionTicket was read (they arrive while reading), as on the
python engine.

Errors
------
:class:`ssl.SSLCertVerificationError` becomes a :class:`TlsError` with a
``CERT_*`` reason and mbedTLS verify flags mapped from OpenSSL's
``verify_code``; **best effort**: OpenSSL stops at the first problem, so one
flag is reported where mbedTLS may report several (10 expired ->
``EXPIRED``, 9 -> ``FUTURE``, 62/64 -> ``CN_MISMATCH``, 2/18/19/20/21/27 ->
``NOT_TRUSTED``, 26 -> ``EXT_KEY_USAGE``, 23 -> ``REVOKED``, anything else
``OTHER``). Other :class:`ssl.SSLError` reasons are mapped to the nearest
:class:`~https_request.tls.errors.Reason` (alerts from the peer to
:class:`~https_request.tls.errors.AlertReceived`; unknown ones to
HANDSHAKE_FAILURE during the handshake, DECODE after). Transport errors are
:class:`~https_request.io.pump.TlsConnectionError`, timeouts
:class:`~https_request.io.pump.TlsTimeout`; after the handshake a TCP close,
with or without close_notify, reads as b"". Not available from Python 3.11:
the key-exchange group (``Negotiated.group`` is None) and the peer's chain
beyond the leaf (``peer_certificates`` holds the leaf only).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import ssl
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from cryptography.hazmat.primitives import serialization

from .. import log
from ..io.pump import TlsConnectionError, TlsTimeout
from ..structs import Struct, field
from ..tls.catalogue import OPENSSL_NAMES
from ..tls.config import CertifiedKey
from ..tls.enums import AlertDescription
from ..tls.errors import AlertReceived, LocalProtocolError, Reason, TlsError
from ..tls.session import Session
from ..tls.verify import (
    X509_BADCERT_CN_MISMATCH,
    X509_BADCERT_EXPIRED,
    X509_BADCERT_EXT_KEY_USAGE,
    X509_BADCERT_FUTURE,
    X509_BADCERT_NOT_TRUSTED,
    X509_BADCERT_OTHER,
    X509_BADCERT_REVOKED,
    describe_flags,
    reason_for_flags,
)
from . import trust
from .config import EspTlsCfg
from .engine import EarlyDataStatus, EngineSpec, Negotiated
from .errors import EspErr, EspTlsError, LastError

__all__ = [
    "AsyncOpenSslEngine",
    "OpenSslEngine",
    "OpenSslSession",
    "clear_context_cache",
    "create_async_engine",
    "create_engine",
]

_mlog = log.get_logger("esp-tls-mbedtls")

_RECV_SIZE = 65536
_CLOSE_WAIT = 1.0  # how long close() may spend sending close_notify
_CONTEXT_CACHE_SIZE = 32
_WIRE_VERSIONS = {"TLSv1.3": 0x0304, "TLSv1.2": 0x0303}
_SSL_VERSIONS = {0x0304: ssl.TLSVersion.TLSv1_3, 0x0303: ssl.TLSVersion.TLSv1_2}
_DEFAULT_VERSIONS = (0x0303, 0x0304)

# --- configuration -> SSLContext ------------------------------------------------


def _refuse(option: str, why: str, esp: int = EspErr.ESP_ERR_NOT_SUPPORTED) -> EspTlsError:
    message = f"engine 'openssl' cannot honour {option}: {why}"
    _mlog.e("%s", message)
    return EspTlsError(LastError(esp, 0, 0, message), message)


class _Callback:
    """A keylog callback as part of a cache key: equal callbacks, even unhashable ones
    (``lines.append``), share a context."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[str], None]) -> None:
        self.fn = fn

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Callback) and (self.fn is other.fn or self.fn == other.fn)

    def __hash__(self) -> int:
        try:
            return hash(self.fn)
        except TypeError:
            return id(getattr(self.fn, "__self__", self.fn))


class _ContextKey(Struct, slots=False):
    """Everything an SSLContext is built from (client key material as a digest)."""

    anchors: bytes | None  # concatenated DER; None = no verification
    check_hostname: bool
    versions: tuple[int, int]
    ciphers: str | None
    alpn: tuple[str, ...]
    certificate_digest: bytes | None
    keylog: _Callback | None


class _KeyLog:
    """The keylog file of one context: unlinked at once, read back line by line."""

    def __init__(self, ctx: ssl.SSLContext, callback: Callable[[str], None]) -> None:
        fd, path = tempfile.mkstemp(prefix="esp-tls-keylog-")  # 0600
        os.close(fd)
        try:
            ctx.keylog_filename = path  # OpenSSL opens it (append) now
            self._reader: IO[bytes] = open(path, "rb")  # closed by the finalizer below
        finally:
            os.unlink(path)
        self._callback = callback
        self._partial = b""
        self._lock = threading.Lock()
        weakref.finalize(self, self._reader.close)

    def pump(self) -> None:
        """Hand the complete new lines to the callback (comments skipped)."""
        with self._lock:
            data = self._partial + self._reader.read()
            *complete, self._partial = data.split(b"\n")
        for raw in complete:
            line = raw.decode("ascii", "replace").strip()
            if line and not line.startswith("#"):
                self._callback(line)


class _SharedContext(Struct, frozen=False, eq=False, slots=False):
    """One SSLContext per configuration, with what the engines need from it."""

    key: _ContextKey
    ctx: ssl.SSLContext
    suite_ids: dict[str, int]
    keylog: _KeyLog | None


_cache_lock = threading.Lock()
_contexts: OrderedDict[_ContextKey, _SharedContext] = OrderedDict()


def clear_context_cache() -> None:
    """Forget the shared SSLContexts (sessions already handed out keep theirs)."""
    with _cache_lock:
        _contexts.clear()


def _certificate_pem(certificate: CertifiedKey) -> bytes:
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificate.chain)
    key = certificate.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain + key


def _load_certificate(ctx: ssl.SSLContext, pem: bytes) -> None:
    """``load_cert_chain`` wants a file: a 0600 temporary one, deleted right after loading."""
    fd, path = tempfile.mkstemp(prefix="esp-tls-client-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        ctx.load_cert_chain(path)
    finally:
        os.unlink(path)


def _anchors(spec: EngineSpec) -> bytes | None:
    """The trust anchors as concatenated DER (b"" trusts nothing), None for no verification."""
    cfg = spec.cfg
    if spec.verifier is None:
        return None
    if cfg.use_global_ca_store:
        certs = list(trust.get_global_ca_store() or ())
    elif cfg.cacert is not None:
        certs, _ = trust.parse_certificates(cfg.cacert)  # already accepted by trust.build_verifier
    else:
        raise _refuse("the certificate verifier", "only cacert, use_global_ca_store and insecure are supported")
    return b"".join(c.public_bytes(serialization.Encoding.DER) for c in certs)


def _versions_and_ciphers(spec: EngineSpec) -> tuple[tuple[int, int], str | None]:
    cfg = spec.cfg
    versions = tuple(sorted(spec.versions or _DEFAULT_VERSIONS))
    ciphers: str | None = None
    if cfg.ciphersuites:
        tls13 = [s for s in cfg.ciphersuites if s >> 8 == 0x13]
        if tls13:
            listed = ", ".join(f"0x{s:04X}" for s in tls13)
            raise _refuse("ciphersuites", f"cannot choose TLS 1.3 suites with stdlib ssl ({listed})")
        unknown = [s for s in cfg.ciphersuites if s not in OPENSSL_NAMES]
        if unknown:
            listed = ", ".join(f"0x{s:04X}" for s in unknown)
            raise _refuse("ciphersuites", f"no OpenSSL name for TLS 1.2 suite(s) {listed}")
        ciphers = ":".join(OPENSSL_NAMES[s] for s in cfg.ciphersuites)
        if spec.versions is None:
            versions = (0x0303,)  # no TLS 1.3 suite listed: TLS 1.3 is not offered
        elif 0x0303 not in versions:
            raise _refuse(
                "ciphersuites",
                "only TLS 1.2 suites listed but TLS 1.2 is not enabled",
                EspErr.ESP_ERR_MBEDTLS_SSL_SETUP_FAILED,
            )
    unknown_versions = [v for v in versions if v not in _SSL_VERSIONS]
    if unknown_versions:
        raise _refuse("tls_version", f"unsupported protocol version 0x{unknown_versions[0]:04X}")
    return (versions[0], versions[-1]), ciphers


def _check_supported(cfg: EspTlsCfg) -> None:
    if cfg.profile != "default":
        raise _refuse("profile", f"only the 'default' profile is available (got {cfg.profile!r})")
    if cfg.crt_bundle is True or isinstance(cfg.crt_bundle, bytes):
        raise _refuse("crt_bundle", "certificate bundle verification needs the python engine")
    if cfg.verify_policy != "webpki" and trust.has_ca_option(cfg):
        raise _refuse("verify_policy", f"{cfg.verify_policy!r} (mbedTLS verify flags) needs the python engine")
    if cfg.early_data:
        raise _refuse("early_data", "stdlib ssl has no 0-RTT")
    if cfg.groups:
        raise _refuse("groups", "Python 3.11's ssl cannot set the key-exchange groups")


def _build_context(key: _ContextKey, certificate: CertifiedKey | None) -> _SharedContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = _SSL_VERSIONS[key.versions[0]]
    ctx.maximum_version = _SSL_VERSIONS[key.versions[1]]
    if key.anchors is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.check_hostname = key.check_hostname
        ctx.verify_mode = ssl.CERT_REQUIRED
        if key.anchors:
            try:
                ctx.load_verify_locations(cadata=key.anchors)
            except ssl.SSLError as exc:
                raise _refuse(
                    "cacert", f"OpenSSL rejects a CA certificate ({exc})", EspErr.ESP_ERR_MBEDTLS_SSL_SETUP_FAILED
                ) from exc
    if key.ciphers is not None:
        try:
            ctx.set_ciphers(key.ciphers)
        except ssl.SSLError as exc:
            raise _refuse(
                "ciphersuites",
                f"OpenSSL enables none of {key.ciphers} ({exc})",
                EspErr.ESP_ERR_MBEDTLS_SSL_SETUP_FAILED,
            ) from exc
    if key.alpn:
        ctx.set_alpn_protocols(list(key.alpn))
    if certificate is not None:
        try:
            _load_certificate(ctx, _certificate_pem(certificate))
        except (ssl.SSLError, ValueError) as exc:
            raise _refuse(
                "clientcert",
                f"OpenSSL rejects the client certificate ({exc})",
                EspErr.ESP_ERR_MBEDTLS_SSL_CONF_OWN_CERT_FAILED,
            ) from exc
    keylog = _KeyLog(ctx, key.keylog.fn) if key.keylog is not None else None
    suite_ids = {c["name"]: c["id"] & 0xFFFF for c in ctx.get_ciphers()}
    return _SharedContext(key=key, ctx=ctx, suite_ids=suite_ids, keylog=keylog)


def _shared_context(spec: EngineSpec) -> _SharedContext:
    cfg = spec.cfg
    _check_supported(cfg)
    versions, ciphers = _versions_and_ciphers(spec)
    anchors = _anchors(spec)
    pem = _certificate_pem(spec.certificate) if spec.certificate is not None else None
    key = _ContextKey(
        anchors=anchors,
        check_hostname=anchors is not None and spec.server_name is not None,
        versions=versions,
        ciphers=ciphers,
        alpn=tuple(cfg.alpn_protos),
        certificate_digest=hashlib.sha256(pem).digest() if pem is not None else None,
        keylog=_Callback(cfg.keylog) if cfg.keylog is not None else None,
    )
    with _cache_lock:
        shared = _contexts.get(key)
        if shared is not None:
            _contexts.move_to_end(key)
            return shared
    shared = _build_context(key, spec.certificate)
    with _cache_lock:
        shared = _contexts.setdefault(key, shared)
        _contexts.move_to_end(key)
        while len(_contexts) > _CONTEXT_CACHE_SIZE:
            _contexts.popitem(last=False)
    return shared


# --- sessions -------------------------------------------------------------------


class OpenSslSession(Session, eq=False, slots=False):
    """A :class:`Session` of the openssl engine: the ``ssl.SSLSession`` and its context.

    Only resumable in this process, with the configuration that made it.
    ``secret`` and ``ticket`` are empty (stdlib ssl does not expose them).
    """

    ssl_session: ssl.SSLSession | None = field(default=None, repr=False, compare=False)
    shared: _SharedContext | None = field(default=None, repr=False, compare=False)


def _resumable(sess: ssl.SSLSession, version: int) -> bool:
    if version == 0x0304:
        return sess.has_ticket
    return sess.has_ticket or bool(sess.id)


def _session_to_resume(spec: EngineSpec, shared: _SharedContext) -> tuple[_SharedContext, ssl.SSLSession | None]:
    """The context to use and the SSLSession to offer for ``cfg.client_session``."""
    session = spec.cfg.client_session
    if session is None:
        return shared, None
    if not isinstance(session, OpenSslSession) or session.ssl_session is None or session.shared is None:
        raise _refuse(
            "client_session",
            "stdlib ssl cannot load a saved session (from bytes or from the python engine); "
            "only a session from get_client_session() of an openssl connection in this process resumes",
        )
    if session.shared.key != shared.key:
        raise _refuse(
            "client_session",
            "the session was made with a different TLS configuration (stdlib ssl binds a session to its SSLContext)",
        )
    return session.shared, session.ssl_session


# --- errors ---------------------------------------------------------------------

_VERIFY_FLAGS: dict[int, int] = {
    10: X509_BADCERT_EXPIRED,  # X509_V_ERR_CERT_HAS_EXPIRED
    9: X509_BADCERT_FUTURE,  # X509_V_ERR_CERT_NOT_YET_VALID
    62: X509_BADCERT_CN_MISMATCH,  # X509_V_ERR_HOSTNAME_MISMATCH
    64: X509_BADCERT_CN_MISMATCH,  # X509_V_ERR_IP_ADDRESS_MISMATCH
    2: X509_BADCERT_NOT_TRUSTED,  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
    18: X509_BADCERT_NOT_TRUSTED,  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    19: X509_BADCERT_NOT_TRUSTED,  # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
    20: X509_BADCERT_NOT_TRUSTED,  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: X509_BADCERT_NOT_TRUSTED,  # X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
    27: X509_BADCERT_NOT_TRUSTED,  # X509_V_ERR_CERT_UNTRUSTED
    7: X509_BADCERT_NOT_TRUSTED,  # X509_V_ERR_CERT_SIGNATURE_FAILURE
    23: X509_BADCERT_REVOKED,  # X509_V_ERR_CERT_REVOKED
    26: X509_BADCERT_EXT_KEY_USAGE,  # X509_V_ERR_INVALID_PURPOSE
}


def _verify_error(exc: ssl.SSLCertVerificationError) -> TlsError:
    code = exc.verify_code if isinstance(exc.verify_code, int) else -1
    flags = _VERIFY_FLAGS.get(code, X509_BADCERT_OTHER)
    text = "; ".join(describe_flags(flags))
    return TlsError(
        reason_for_flags(flags), f"{text} (OpenSSL verify error {code}: {exc.verify_message})", verify_flags=flags
    )


_ALERT = re.compile(r"^(?:SSLV3_ALERT|TLSV1_ALERT|TLSV13_ALERT|TLSV1)_([A-Z_]+)$")
_SSL_REASONS: dict[str, Reason] = {
    "DECRYPTION_FAILED_OR_BAD_RECORD_MAC": Reason.BAD_RECORD_MAC,
    "BAD_RECORD_MAC": Reason.BAD_RECORD_MAC,
    "WRONG_VERSION_NUMBER": Reason.PROTOCOL_VERSION,
    "UNSUPPORTED_PROTOCOL": Reason.PROTOCOL_VERSION,
    "NO_PROTOCOLS_AVAILABLE": Reason.NO_COMMON_VERSION,
    "NO_CIPHERS_AVAILABLE": Reason.NO_COMMON_SUITE,
    "NO_SHARED_CIPHER": Reason.NO_COMMON_SUITE,
    "WRONG_CIPHER_RETURNED": Reason.NO_COMMON_SUITE,
    "NO_SUITABLE_KEY_SHARE": Reason.NO_COMMON_GROUP,
    "WRONG_CURVE": Reason.BAD_KEY_SHARE,
    "BAD_KEY_SHARE": Reason.BAD_KEY_SHARE,
    "BAD_ECPOINT": Reason.BAD_KEY_SHARE,
    "BAD_SIGNATURE": Reason.BAD_SIGNATURE,
    "WRONG_SIGNATURE_TYPE": Reason.BAD_SIGNATURE,
    "NO_SUITABLE_SIGNATURE_ALGORITHM": Reason.NO_COMMON_SIGNATURE,
    "DIGEST_CHECK_FAILED": Reason.BAD_FINISHED,
    "UNEXPECTED_MESSAGE": Reason.UNEXPECTED_MESSAGE,
    "UNEXPECTED_RECORD": Reason.UNEXPECTED_MESSAGE,
    "UNEXPECTED_CCS_MESSAGE": Reason.UNEXPECTED_MESSAGE,
    "CCS_RECEIVED_EARLY": Reason.UNEXPECTED_MESSAGE,
    "RECORD_LENGTH_MISMATCH": Reason.RECORD_OVERFLOW,
    "ENCRYPTED_LENGTH_TOO_LONG": Reason.RECORD_OVERFLOW,
    "PACKET_LENGTH_TOO_LONG": Reason.RECORD_OVERFLOW,
    "DATA_LENGTH_TOO_LONG": Reason.RECORD_OVERFLOW,
    "EXCESSIVE_MESSAGE_SIZE": Reason.RECORD_OVERFLOW,
    "LENGTH_MISMATCH": Reason.DECODE,
    "BAD_PACKET_LENGTH": Reason.DECODE,
    "LENGTH_TOO_SHORT": Reason.DECODE,
    "BAD_LENGTH": Reason.DECODE,
    "BAD_PACKET": Reason.DECODE,
    "BAD_EXTENSION": Reason.DECODE,
    "MISSING_SIGALGS_EXTENSION": Reason.MISSING_EXTENSION,
    "MISSING_SUPPORTED_GROUPS_EXTENSION": Reason.MISSING_EXTENSION,
    "INAPPROPRIATE_FALLBACK": Reason.INAPPROPRIATE_FALLBACK,
    "NO_RENEGOTIATION": Reason.RENEGOTIATION,
    "INTERNAL_ERROR": Reason.INTERNAL,
}


def _ssl_error(exc: ssl.SSLError, handshaking: bool) -> TlsError:
    name = exc.reason or ""
    alert = _ALERT.match(name)
    if alert is not None and alert[1].lower() in AlertDescription.__members__:
        return AlertReceived(AlertDescription[alert[1].lower()])
    fallback = Reason.HANDSHAKE_FAILURE if handshaking else Reason.DECODE
    return TlsError(_SSL_REASONS.get(name, fallback), f"OpenSSL: {name or exc}")


# --- the SSLObject, I/O-free ----------------------------------------------------


class _Machine:
    """An SSLObject with its two BIOs; the drivers below move the bytes."""

    def __init__(self, spec: EngineSpec) -> None:
        shared = _shared_context(spec)
        shared, resume = _session_to_resume(spec, shared)
        self.shared = shared
        self.spec = spec
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        try:
            self.obj = shared.ctx.wrap_bio(
                self.incoming, self.outgoing, server_side=False, server_hostname=spec.server_name, session=resume
            )
        except (ValueError, UnicodeError) as exc:
            raise _refuse(
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
            raise _verify_error(exc) from exc
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError) as exc:
            raise TlsConnectionError("connection closed by peer") from exc
        except ssl.SSLError as exc:
            raise _ssl_error(exc, handshaking=True) from exc
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
            raise _ssl_error(exc, handshaking=False) from exc
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
            raise _ssl_error(exc, handshaking=False) from exc
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
        if current is None or not _resumable(current, neg.version):
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

    def start(self, early_data: bytes, timeout: float | None) -> None:
        deadline = _deadline(timeout, self._default)
        self._m.early_data = early_data  # no 0-RTT: sent right after the handshake
        self._m.step_handshake()
        self._send(deadline)

    def handshake(self, timeout: float | None) -> None:
        deadline = _deadline(timeout, self._default)
        try:
            while not self._m.step_handshake():
                self._send(deadline)
                self._recv(deadline)
        except TlsError:
            self._send_quietly()
            raise
        self._send(deadline)
        early, self._m.early_data = self._m.early_data, b""
        if early:
            self.write(early, _remaining(deadline))

    def write(self, data: bytes, timeout: float | None) -> int:
        if self._closed:
            raise LocalProtocolError("write on a closed connection")
        deadline = _deadline(timeout, self._default)
        try:
            while not self._m.step_write(data):
                self._send(deadline)
                self._recv(deadline)
        except TlsError:
            self._send_quietly()
            raise
        self._send(deadline)
        return len(data)

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        if self._closed:
            raise LocalProtocolError("read on a closed connection")
        deadline = _deadline(timeout, self._default)
        try:
            while (data := self._m.step_read(max_bytes)) is None:
                self._send(deadline)
                self._recv(deadline)
        except TlsError:
            self._send_quietly()
            raise
        self._send(deadline)
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

    async def start(self, early_data: bytes, timeout: float | None) -> None:
        deadline = _deadline(timeout, self._default)
        self._m.early_data = early_data
        self._m.step_handshake()
        await self._send(deadline)

    async def handshake(self, timeout: float | None) -> None:
        deadline = _deadline(timeout, self._default)
        try:
            while not self._m.step_handshake():
                await self._send(deadline)
                await self._recv(deadline)
        except TlsError:
            self._send_quietly()
            raise
        await self._send(deadline)
        early, self._m.early_data = self._m.early_data, b""
        if early:
            await self.write(early, _remaining(deadline))

    async def write(self, data: bytes, timeout: float | None) -> int:
        if self._closed:
            raise LocalProtocolError("write on a closed connection")
        deadline = _deadline(timeout, self._default)
        try:
            while not self._m.step_write(data):
                await self._send(deadline)
                await self._recv(deadline)
        except TlsError:
            self._send_quietly()
            raise
        await self._send(deadline)
        return len(data)

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        if self._closed:
            raise LocalProtocolError("read on a closed connection")
        deadline = _deadline(timeout, self._default)
        try:
            while (data := self._m.step_read(max_bytes)) is None:
                await self._send(deadline)
                await self._recv(deadline)
        except TlsError:
            self._send_quietly()
            raise
        await self._send(deadline)
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

    def negotiated(self) -> Negotiated | None:
        return self._m.negotiated()


# --- the factories engine.engine_factories looks for ---------------------------


def create_engine(sock: socket.socket, spec: EngineSpec) -> OpenSslEngine:
    """The blocking engine for ``spec`` on the connected ``sock``. Raises EspTlsError (see the module docstring)."""
    return OpenSslEngine(sock, spec)


def create_async_engine(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, spec: EngineSpec
) -> AsyncOpenSslEngine:
    """The asyncio engine for ``spec`` on a connected stream pair. Raises EspTlsError."""
    return AsyncOpenSslEngine(reader, writer, spec)
