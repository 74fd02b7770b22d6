"""The ``openssl`` engine's SSLContexts, sessions and error mapping (stdlib :mod:`ssl`).

:mod:`.openssl_engine` drives an :class:`ssl.SSLObject`; this module owns what
that object is made from and what its failures become: the shared
:class:`ssl.SSLContext` built from an :class:`~.engine.EngineSpec` (and the
refusal of what stdlib ``ssl`` cannot honour), the :class:`OpenSslSession`
handed out for resumption, and the mapping of :class:`ssl.SSLError` to
:class:`~https_request.tls.errors.TlsError`. It does no I/O.

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
``clock`` (OpenSSL verifies on the system clock; stdlib ``ssl`` cannot set
the verification time), a
``profile`` other than ``default``, and a certificate verifier that is none
of the esp-tls trust sources. A TLS 1.2-only ``ciphersuites`` list with
``tls_version`` TLS 1.3 fails with ESP_ERR_MBEDTLS_SSL_SETUP_FAILED, as it
does on the python engine.

Sessions
--------
``ssl.SSLSession`` objects cannot leave the process and are bound to the
:class:`ssl.SSLContext` that made them. So there is one shared SSLContext per
configuration (a small module-level cache keyed by everything the context is
built from), and :meth:`.openssl_engine.OpenSslEngine.session` returns an
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
HANDSHAKE_FAILURE during the handshake, DECODE after).
"""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import IO

from cryptography.hazmat.primitives import serialization

from .. import log
from ..structs import Struct, field, replace
from ..tls.catalogue import OPENSSL_NAMES
from ..tls.config import CertifiedKey
from ..tls.enums import AlertDescription
from ..tls.errors import AlertReceived, Reason, TlsError
from ..tls.session import PeerCheck, Session
from ..tls.x509_flags import (
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
from .engine import EngineSpec
from .errors import EspErr, EspTlsError, LastError

__all__ = [
    "OpenSslSession",
    "SharedContext",
    "check_supported",
    "clear_context_cache",
    "peer_check",
    "refuse",
    "resumable",
    "session_to_resume",
    "shared_context",
    "ssl_error",
    "verify_error",
]

_mlog = log.get_logger("esp-tls-mbedtls")

_CONTEXT_CACHE_SIZE = 32
_SSL_VERSIONS = {0x0304: ssl.TLSVersion.TLSv1_3, 0x0303: ssl.TLSVersion.TLSv1_2}
_DEFAULT_VERSIONS = (0x0303, 0x0304)

# --- configuration -> SSLContext ------------------------------------------------


def refuse(option: str, why: str, esp: int = EspErr.ESP_ERR_NOT_SUPPORTED) -> EspTlsError:
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


class SharedContext(Struct, frozen=False, eq=False, slots=False):
    """One SSLContext per configuration, with what the engines need from it."""

    key: _ContextKey
    ctx: ssl.SSLContext
    suite_ids: dict[str, int]
    keylog: _KeyLog | None


_cache_lock = threading.Lock()
_contexts: OrderedDict[_ContextKey, SharedContext] = OrderedDict()


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


def _said(exc: Exception) -> str:
    """What OpenSSL said, without the ``(_ssl.c:NNNN)`` source reference."""
    return re.sub(r"\s*\(_ssl\.c:\d+\)$", "", str(exc))


def _load_certificate(ctx: ssl.SSLContext, pem: bytes) -> None:
    """``load_cert_chain`` wants a file: a 0600 temporary one, deleted right after loading.
    Raises ssl.SSLError, and ValueError (not OSError) when the temporary file cannot be made."""
    try:
        fd, path = tempfile.mkstemp(prefix="esp-tls-client-", suffix=".pem")
    except OSError as exc:  # its name is an implementation detail
        raise ValueError(f"cannot create a temporary file for it: {exc.strerror or exc}") from None
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
        raise refuse("the certificate verifier", "only cacert, use_global_ca_store and insecure are supported")
    return b"".join(c.public_bytes(serialization.Encoding.DER) for c in certs)


def _versions_and_ciphers(spec: EngineSpec) -> tuple[tuple[int, int], str | None]:
    cfg = spec.cfg
    versions = tuple(sorted(spec.versions or _DEFAULT_VERSIONS))
    ciphers: str | None = None
    if cfg.ciphersuites:
        tls13 = [s for s in cfg.ciphersuites if s >> 8 == 0x13]
        if tls13:
            listed = ", ".join(f"0x{s:04X}" for s in tls13)
            raise refuse("ciphersuites", f"cannot choose TLS 1.3 suites with stdlib ssl ({listed})")
        unknown = [s for s in cfg.ciphersuites if s not in OPENSSL_NAMES]
        if unknown:
            listed = ", ".join(f"0x{s:04X}" for s in unknown)
            raise refuse("ciphersuites", f"no OpenSSL name for TLS 1.2 suite(s) {listed}")
        ciphers = ":".join(OPENSSL_NAMES[s] for s in cfg.ciphersuites)
        if spec.versions is None:
            versions = (0x0303,)  # no TLS 1.3 suite listed: TLS 1.3 is not offered
        elif 0x0303 not in versions:
            raise refuse(
                "ciphersuites",
                "only TLS 1.2 suites listed but TLS 1.2 is not enabled",
                EspErr.ESP_ERR_MBEDTLS_SSL_SETUP_FAILED,
            )
    unknown_versions = [v for v in versions if v not in _SSL_VERSIONS]
    if unknown_versions:
        raise refuse("tls_version", f"unsupported protocol version 0x{unknown_versions[0]:04X}")
    return (versions[0], versions[-1]), ciphers


def check_supported(cfg: EspTlsCfg) -> None:
    if cfg.profile != "default":
        raise refuse("profile", f"only the 'default' profile is available (got {cfg.profile!r})")
    if cfg.crt_bundle is True or isinstance(cfg.crt_bundle, bytes):
        raise refuse("crt_bundle", "certificate bundle verification needs the python engine")
    if cfg.verify_policy != "webpki" and trust.has_ca_option(cfg):
        raise refuse("verify_policy", f"{cfg.verify_policy!r} (mbedTLS verify flags) needs the python engine")
    if cfg.early_data:
        raise refuse("early_data", "stdlib ssl has no 0-RTT")
    if cfg.groups:
        raise refuse("groups", "Python 3.11's ssl cannot set the key-exchange groups")
    if cfg.clock is not None and not cfg.insecure:
        raise refuse("clock", f"OpenSSL checks certificates on the system clock, not the {cfg.clock.name} clock")


def _build_context(key: _ContextKey, certificate: CertifiedKey | None) -> SharedContext:
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
                raise refuse(
                    "cacert",
                    f"OpenSSL rejects a CA certificate ({_said(exc)})",
                    EspErr.ESP_ERR_MBEDTLS_SSL_SETUP_FAILED,
                ) from exc
    if key.ciphers is not None:
        try:
            ctx.set_ciphers(key.ciphers)
        except ssl.SSLError as exc:
            raise refuse(
                "ciphersuites",
                f"OpenSSL enables none of {key.ciphers} ({_said(exc)})",
                EspErr.ESP_ERR_MBEDTLS_SSL_SETUP_FAILED,
            ) from exc
    if key.alpn:
        ctx.set_alpn_protocols(list(key.alpn))
    if certificate is not None:
        try:
            _load_certificate(ctx, _certificate_pem(certificate))
        except (ssl.SSLError, ValueError) as exc:
            raise refuse(
                "clientcert",
                f"OpenSSL rejects the client certificate ({_said(exc)})",
                EspErr.ESP_ERR_MBEDTLS_SSL_CONF_OWN_CERT_FAILED,
            ) from exc
    try:
        keylog = _KeyLog(ctx, key.keylog.fn) if key.keylog is not None else None
    except OSError as exc:  # its temporary file: an implementation detail, not named
        raise refuse("keylog", f"cannot create the key log's temporary file ({exc.strerror or exc})") from exc
    suite_ids = {c["name"]: c["id"] & 0xFFFF for c in ctx.get_ciphers()}
    return SharedContext(key=key, ctx=ctx, suite_ids=suite_ids, keylog=keylog)


def shared_context(spec: EngineSpec) -> SharedContext:
    cfg = spec.cfg
    check_supported(cfg)
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
    shared: SharedContext | None = field(default=None, repr=False, compare=False)


def resumable(sess: ssl.SSLSession, version: int) -> bool:
    if version == 0x0304:
        return sess.has_ticket
    return sess.has_ticket or bool(sess.id)


def peer_check(spec: EngineSpec) -> PeerCheck:
    """How this engine checks the server (what its sessions record): OpenSSL's own
    verification (policy ``openssl``) over the trust anchors of ``spec.verifier``."""
    check = PeerCheck.of(spec.verifier, spec.server_name)
    return replace(check, policy="openssl") if check.verified else check


def session_to_resume(
    spec: EngineSpec, shared: SharedContext
) -> tuple[SharedContext, ssl.SSLSession | None, str | None]:
    """The context to use, the SSLSession to offer for ``cfg.client_session``
    and why the session is not offered (:meth:`PeerCheck.refusal`), if so."""
    session = spec.cfg.client_session
    if session is None:
        return shared, None, None
    if not isinstance(session, OpenSslSession) or session.ssl_session is None or session.shared is None:
        raise refuse(
            "client_session",
            "stdlib ssl cannot load a saved session (from bytes or from the python engine); "
            "only a session from get_client_session() of an openssl connection in this process resumes",
        )
    refused = peer_check(spec).refusal(session.peer_check)
    if refused is not None:
        return shared, None, refused
    if session.shared.key != shared.key:
        raise refuse(
            "client_session",
            "the session was made with a different TLS configuration (stdlib ssl binds a session to its SSLContext)",
        )
    return session.shared, session.ssl_session, None


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


def verify_error(exc: ssl.SSLCertVerificationError) -> TlsError:
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


def ssl_error(exc: ssl.SSLError, handshaking: bool) -> TlsError:
    name = exc.reason or ""
    alert = _ALERT.match(name)
    if alert is not None and alert[1].lower() in AlertDescription.__members__:
        return AlertReceived(AlertDescription[alert[1].lower()])
    fallback = Reason.HANDSHAKE_FAILURE if handshaking else Reason.DECODE
    return TlsError(_SSL_REASONS.get(name, fallback), f"OpenSSL: {name or exc}")
