"""Where esp-tls gets its trust from: CA buffers, the global CA store, the bundle.

What is here
------------
* :func:`parse_certificates`: ``mbedtls_x509_crt_parse`` semantics for a
  buffer. A buffer containing ``-----BEGIN CERTIFICATE-----`` is PEM (every
  CERTIFICATE block is parsed; blocks that fail are counted, and the buffer
  fails only when none parses); anything else is one DER certificate. Unlike
  mbedTLS we do not insist on the trailing NUL of a PEM buffer. Returns the
  certificates and the number of failed blocks, or raises
  :class:`CertParseError` carrying the (negative) mbedTLS code.
* The process-wide **global CA store** (``esp_tls_*_global_ca_store``):
  :func:`set_global_ca_store` *appends* to it, creating it on first use; a
  parse error frees it. Thread-safe.
* :func:`server_name_for`: the name used for SNI and for the certificate name
  check (``common_name``, else the host; ``None`` with ``skip_common_name``).
* :func:`build_verifier`: the verification source in esp-tls priority,
  ``crt_bundle`` > ``use_global_ca_store`` > ``cacert`` > ``insecure`` > error.

Log lines are esp-tls's own, under the tag ``esp-tls-mbedtls`` (the C code
logs them from ``esp_tls_mbedtls.c``), at esp-tls's levels.

Raises
------
:func:`parse_certificates` raises :class:`CertParseError`.
:func:`parse_cacert` and :func:`build_verifier` raise
:class:`~.errors.EspTlsError` with the last-error triple esp-tls records
(``ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED`` + parse code,
``ESP_ERR_INVALID_STATE`` for a missing global store,
``ESP_ERR_MBEDTLS_SSL_SETUP_FAILED`` when no verification option is set).
The global-store functions never raise: they return ``esp_err_t`` values, as
in C.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from threading import Lock
from typing import TYPE_CHECKING, Literal

from .. import log
from ..tls.der import cert_parts, quiet_serial_warnings
from .config import EspTlsCfg
from .errors import EspErr, EspTlsError, LastError

if TYPE_CHECKING:  # cryptography's x509 is imported when a certificate is parsed: a resumed connection parses none
    from cryptography import x509

    from ..tls.config import CertificateVerifier, VerifiedChain
    from ..tls.session import Session

__all__ = [
    "MBEDTLS_ERR_PEM_INVALID_DATA_BASE64",
    "MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT",
    "MBEDTLS_ERR_X509_INVALID_FORMAT",
    "CertParseError",
    "LazyVerifier",
    "build_verifier",
    "cacert_fingerprint",
    "check_certificates",
    "free_global_ca_store",
    "get_global_ca_store",
    "has_ca_option",
    "init_global_ca_store",
    "parse_cacert",
    "parse_certificates",
    "preload",
    "server_name_for",
    "set_global_ca_store",
]

TAG = "esp-tls-mbedtls"
_log = log.get_logger(TAG)

# mbedTLS 3.x codes a parse can return (x509.h, pem.h, base64.h).
MBEDTLS_ERR_X509_INVALID_FORMAT = -0x2180
MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT = -0x2780
MBEDTLS_ERR_PEM_INVALID_DATA_BASE64 = -0x112C  # PEM_INVALID_DATA + BASE64_INVALID_CHARACTER

_PEM_HEADER = b"-----BEGIN CERTIFICATE-----"
_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)
_X509_BADCERT_NOT_TRUSTED = 0x08


class CertParseError(ValueError):
    """No certificate could be parsed; ``code`` is the negative mbedTLS code,
    ``detail`` what is wrong in the user's terms."""

    def __init__(self, code: int, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"-0x{-code:04X}: {detail}")


def _parse_der(der: bytes) -> x509.Certificate:
    """One DER certificate, its names and extensions parsed now (fail here, not mid-handshake).

    cryptography's warning about a non-positive serial number (some public roots
    have serial 0; mbedTLS loads them) is not shown, as ESP-IDF's bundle
    generator does not show it; parsing the extensions now means it is not shown
    later either. Extensions that do not parse are left for the verifier to judge.
    """
    from cryptography import x509

    with quiet_serial_warnings():
        try:
            cert = x509.load_der_x509_certificate(der)
            cert.subject  # noqa: B018 - fields are parsed lazily
            cert.issuer  # noqa: B018
        except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is no ValueError
            raise _bad_der() from exc
        try:
            cert.extensions  # noqa: B018
        except (ValueError, x509.DuplicateExtension):
            pass
    return cert


def _der_blocks(buf: bytes) -> list[bytes | CertParseError]:
    """What ``buf`` holds before any certificate is parsed: the DER of each PEM
    ``CERTIFICATE`` block (a CertParseError for a block that is not base64), or
    ``buf`` itself as one DER certificate.

    Raises CertParseError when it cannot hold one: empty, neither PEM nor DER, or
    no complete PEM block.
    """
    if _PEM_HEADER not in buf:
        if not buf.strip():
            raise CertParseError(MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT, "no certificate found in it (it is empty)")
        if buf[:1] != b"\x30":  # a DER certificate is a SEQUENCE
            raise CertParseError(
                MBEDTLS_ERR_X509_INVALID_FORMAT,
                "no certificate found in it (no PEM '-----BEGIN CERTIFICATE-----' block, and not DER)",
            )
        return [bytes(buf)]
    blocks: list[bytes | CertParseError] = []
    for m in _PEM_BLOCK.finditer(buf):
        try:
            blocks.append(base64.b64decode(b"".join(m.group(1).split()), validate=True))
        except (binascii.Error, ValueError):
            blocks.append(
                CertParseError(MBEDTLS_ERR_PEM_INVALID_DATA_BASE64, "a PEM certificate block is not valid base64")
            )
    if not blocks:
        raise CertParseError(
            MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT, "no certificate found in it (no complete PEM certificate block)"
        )
    return blocks


def _bad_der() -> CertParseError:
    return CertParseError(MBEDTLS_ERR_X509_INVALID_FORMAT, "not a valid DER certificate (malformed or truncated)")


def _framed(blocks: list[bytes | CertParseError]) -> list[bytes]:
    """The blocks shaped like a certificate (:func:`~https_request.tls.der.cert_parts`
    finds its pieces); raises the first block's error when none is."""
    framed: list[bytes] = []
    first_error: CertParseError | None = None
    for block in blocks:
        if isinstance(block, bytes):
            try:
                cert_parts(block)
                framed.append(block)
                continue
            except ValueError:
                block = _bad_der()
        first_error = first_error or block
    if not framed:
        assert first_error is not None
        raise first_error
    return framed


def check_certificates(buf: bytes) -> None:
    """What :func:`parse_certificates` would find wrong with ``buf`` before
    parsing a certificate (no ``cryptography`` import): nothing that could be a
    certificate (empty, neither PEM nor DER, no PEM block, every block not base64
    or not shaped like a certificate). Raises CertParseError as
    :func:`parse_certificates` would; a buffer that passes may still hold only
    certificates that do not parse (found when they are parsed).
    """
    _framed(_der_blocks(buf))


def cacert_fingerprint(buf: bytes) -> bytes:
    """The :func:`~https_request.tls.session.trust_fingerprint` of a CA buffer, without parsing it:
    ``("anchors", the SHA-256 of each certificate's DER)``, what a verifier over
    the certificates parsed from it reports (a block that does not parse makes it
    differ, and so refuses sessions made with verifiers over parsed anchors only:
    a block that does not parse is never an anchor). Raises CertParseError as
    :func:`check_certificates`.
    """
    import hashlib

    from ..tls.session import trust_fingerprint

    return trust_fingerprint("anchors", (hashlib.sha256(der).digest() for der in _framed(_der_blocks(buf))))


def parse_certificates(buf: bytes) -> tuple[list[x509.Certificate], int]:
    """``mbedtls_x509_crt_parse``: (certificates, number of failed PEM blocks).

    ``buf`` holds PEM ``CERTIFICATE`` blocks or one DER certificate. Raises
    CertParseError (with the first block's error code, as mbedTLS) when
    nothing parses, its ``detail`` in the user's terms.
    """
    certs: list[x509.Certificate] = []
    failed = 0
    first_error: CertParseError | None = None
    for block in _der_blocks(buf):
        if isinstance(block, bytes):
            try:
                certs.append(_parse_der(block))
                continue
            except CertParseError as exc:
                block = exc
        failed += 1
        first_error = first_error or block
    if certs:
        return certs, failed
    assert first_error is not None
    raise first_error


def parse_cacert(buf: bytes) -> list[x509.Certificate]:
    """``set_ca_cert``: parse ``cfg.cacert``, with esp-tls's log lines.

    A partly successful parse logs a warning and keeps what parsed. Raises
    EspTlsError (``ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED``, the positive
    parse code) when nothing parses.
    """
    return _parse_cacert_counted(buf)[0]


def _parse_cacert_counted(buf: bytes) -> tuple[list[x509.Certificate], int]:
    """:func:`parse_cacert` with the number of blocks that failed to parse."""
    try:
        certs, failed = parse_certificates(buf)
    except CertParseError as exc:
        _log.e("mbedtls_x509_crt_parse of CA cert returned -0x%04X", -exc.code)
        raise EspTlsError(
            LastError(EspErr.ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED, -exc.code, 0, f"CA certificate: {exc}")
        ) from exc
    if failed:
        _log.w("mbedtls_x509_crt_parse was partly successful. No. of failed certificates: %d", failed)
    return certs, failed


# --- the global CA store -----------------------------------------------------

_store_lock = Lock()
_global_store: list[x509.Certificate] | None = None


def init_global_ca_store() -> int:
    """``esp_tls_init_global_ca_store``: create an empty store unless one exists. Returns ESP_OK."""
    global _global_store
    with _store_lock:
        if _global_store is None:
            _global_store = []
    return EspErr.ESP_OK


def set_global_ca_store(pem: bytes | None) -> int:
    """``esp_tls_set_global_ca_store``: *append* the certificates of ``pem``.

    Returns ESP_OK; ESP_ERR_INVALID_ARG for None or empty input; ESP_FAIL when
    nothing parses (the whole store is then freed, as in esp-tls);
    ESP_ERR_MBEDTLS_CERT_PARTLY_OK when some blocks failed (the others are
    kept).
    """
    global _global_store
    if not pem:
        _log.e("cacert_pem_buf is null")
        return EspErr.ESP_ERR_INVALID_ARG
    with _store_lock:
        if _global_store is None:
            _global_store = []
        try:
            certs, failed = parse_certificates(pem)
        except CertParseError as exc:
            _log.e("mbedtls_x509_crt_parse of global CA cert returned -0x%04X", -exc.code)
            _global_store = None
            return EspErr.ESP_FAIL
        _global_store.extend(certs)
    if failed:
        _log.e("mbedtls_x509_crt_parse was partly successful. No. of failed certificates: %d", failed)
        return EspErr.ESP_ERR_MBEDTLS_CERT_PARTLY_OK
    return EspErr.ESP_OK


def get_global_ca_store() -> tuple[x509.Certificate, ...] | None:
    """``esp_tls_get_global_ca_store``: a snapshot of the store, or None when there is none."""
    with _store_lock:
        return None if _global_store is None else tuple(_global_store)


def free_global_ca_store() -> None:
    """``esp_tls_free_global_ca_store``: drop the store (a no-op when there is none)."""
    global _global_store
    with _store_lock:
        _global_store = None


# --- verification ------------------------------------------------------------


def has_ca_option(cfg: EspTlsCfg) -> bool:
    """Is a CA option set (bundle, global store or cacert)? esp-tls then records verify flags."""
    return _bundle_requested(cfg) or cfg.use_global_ca_store or cfg.cacert is not None


def _bundle_requested(cfg: EspTlsCfg) -> bool:
    return cfg.crt_bundle is True or isinstance(cfg.crt_bundle, bytes)


def _server_name(cfg: EspTlsCfg, host: str) -> str | None:
    return None if cfg.skip_common_name else (cfg.common_name if cfg.common_name is not None else host)


def server_name_for(cfg: EspTlsCfg, host: str) -> str | None:
    """The name for SNI and the certificate check: ``common_name``, else ``host``.

    None with ``skip_common_name`` (logged as a warning, as esp-tls HEAD does).
    """
    if cfg.skip_common_name:
        _log.w(
            "skip_common_name=true: hostname matching and SNI disabled. This disables ALL server-name "
            "authentication (CN/SAN/SNI), not just CN. Only intended for loopback / debug clients."
        )
    return _server_name(cfg, host)


class LazyVerifier:
    """The verifier esp-tls sets up, with its trust anchors loaded when first needed.

    ``policy``, ``check_name`` and ``trust_fingerprint`` (what a session records, see
    :class:`~https_request.tls.session.PeerCheck`) come from the configuration
    without parsing a certificate; ``load`` makes the verifier itself (parsing the
    CA certificates, building the built-in bundle, importing the X.509 code) on the
    first :meth:`verify`, or earlier through :meth:`load` (esp-tls calls it while it
    waits on the network, when a full handshake is expected). A resumed handshake
    checks no certificate: it never loads them.
    """

    def __init__(
        self, policy: str, check_name: bool, trust_fingerprint: bytes, load: Callable[[], CertificateVerifier]
    ) -> None:
        self.policy = policy
        self.check_name = check_name
        self.trust_fingerprint = trust_fingerprint
        self._load = load
        self._verifier: CertificateVerifier | None = None
        #: The anchors must be loaded before the server's certificate comes (no session
        #: to offer may resume under them), and the caller does it: build_verifier's
        #: ``parse_later``. Its failure is then the configuration's (load's errors).
        self.due = False

    @property
    def loaded(self) -> bool:
        return self._verifier is not None

    def load(self) -> CertificateVerifier:
        """The verifier, made now if it was not. Raises what making it raises
        (:func:`parse_cacert`'s EspTlsError, a bundle's ValueError); a failed load
        is tried again by the next call."""
        if self._verifier is None:
            self._verifier = self._load()
        return self._verifier

    def verify(self, chain: Sequence[bytes], server_name: str | None, now: float, *, server: bool) -> VerifiedChain:
        """Load (see :meth:`load`), then verify. Trust anchors that cannot be loaded
        trust nothing: TlsError CERT_UNTRUSTED with MBEDTLS_X509_BADCERT_NOT_TRUSTED."""
        from ..tls.errors import Reason, TlsError

        try:
            verifier = self.load()
        except (EspTlsError, ValueError) as exc:
            raise TlsError(
                Reason.CERT_UNTRUSTED,
                f"The certificate is not correctly signed by the trusted CA (the trusted certificates cannot be "
                f"loaded: {exc})",
                verify_flags=_X509_BADCERT_NOT_TRUSTED,
            ) from exc
        return verifier.verify(chain, server_name, now, server=server)


def _may_resume(verifier: CertificateVerifier, session: Session | None, server_name: str | None) -> bool:
    """Would ``session`` be offered under ``verifier`` (nothing in PeerCheck.refusal against it)?"""
    from ..tls.session import PeerCheck

    return session is not None and PeerCheck.of(verifier, server_name).refusal(session.peer_check) is None


class _NoAnchorsVerifier:
    """An empty CA chain (an initialised but empty global store): nothing is trusted."""

    def __init__(self, policy: str, check_name: bool) -> None:
        self.policy = policy
        self.check_name = check_name

    @property
    def trust_fingerprint(self) -> bytes:
        from ..tls.session import trust_fingerprint

        return trust_fingerprint("anchors", ())

    def verify(self, chain: Sequence[bytes], server_name: str | None, now: float, *, server: bool) -> VerifiedChain:
        from ..tls.errors import Reason, TlsError

        raise TlsError(
            Reason.CERT_UNTRUSTED,
            "The certificate is not correctly signed by the trusted CA (the CA store is empty)",
            verify_flags=_X509_BADCERT_NOT_TRUSTED,
        )


def _anchor_verifier(anchors: Sequence[x509.Certificate], cfg: EspTlsCfg) -> CertificateVerifier:
    """A verifier over ``anchors`` with the configured policy (``verify.make_verifier`` when present)."""
    if not anchors:
        return _NoAnchorsVerifier(cfg.verify_policy, not cfg.skip_common_name)
    from ..tls.verify import make_verifier

    return make_verifier(list(anchors), cfg.verify_policy, not cfg.skip_common_name)


def _bundle_verifier(cfg: EspTlsCfg) -> LazyVerifier:
    """The bundle's verifier, made when first needed; the blob is checked now (ValueError)."""
    from . import bundle

    check_name, policy = not cfg.skip_common_name, cfg.verify_policy
    bundle.check_policy(policy)
    blob = cfg.crt_bundle
    if isinstance(blob, bytes):
        parsed: bundle.Bundle | None = bundle.parse_bundle(blob)
        fingerprint = bundle.bundle_fingerprint(blob)
    else:
        parsed, fingerprint = None, bundle.builtin_fingerprint("cmn")

    def load() -> CertificateVerifier:
        from .bundle_verify import BundleVerifier

        verifier: CertificateVerifier = BundleVerifier(
            parsed if parsed is not None else bundle.builtin_bundle("cmn"), check_name=check_name, policy=policy
        )
        return verifier

    return LazyVerifier(policy, check_name, fingerprint, load)


#: CA buffers seen lately (by value): their fingerprint, how many blocks failed to parse, and
#: the verifiers made over them per (policy, name rule). A client making connection after
#: connection with the same ``cacert`` (certifi's ~140 roots: ~25 ms to parse, fingerprint and
#: index) pays it once; the verifiers hold no per-connection state (``now`` comes with each
#: verify). Bounded: the least recently used buffer goes first.
_CACERT_CACHE_SIZE = 8


class _CacertEntry:
    __slots__ = ("failed", "fingerprint", "verifiers")

    def __init__(self, fingerprint: bytes) -> None:
        self.fingerprint = fingerprint
        self.failed = -1  # unknown until parsed
        self.verifiers: dict[tuple[str, bool], CertificateVerifier] = {}


_cacert_cache: dict[bytes, _CacertEntry] = {}
_cacert_lock = Lock()


def _cacert_entry(buf: bytes) -> _CacertEntry:
    """The cache entry of ``buf`` (made with its fingerprint). Raises CertParseError as
    :func:`cacert_fingerprint`."""
    with _cacert_lock:
        entry = _cacert_cache.pop(buf, None)
        if entry is not None:
            _cacert_cache[buf] = entry  # most recently used last
            return entry
    entry = _CacertEntry(cacert_fingerprint(buf))
    with _cacert_lock:
        entry = _cacert_cache.setdefault(buf, entry)
        while len(_cacert_cache) > _CACERT_CACHE_SIZE:
            del _cacert_cache[next(iter(_cacert_cache))]
    return entry


def _cached_anchor_verifier(entry: _CacertEntry, buf: bytes, cfg: EspTlsCfg) -> CertificateVerifier:
    """:func:`_anchor_verifier` over :func:`parse_cacert`'s certificates of ``buf``, made once per
    policy and name rule; esp-tls's partial-parse warning is logged at every use, as on the device."""
    key = (cfg.verify_policy, not cfg.skip_common_name)
    verifier = entry.verifiers.get(key)
    if verifier is None:
        certs, entry.failed = _parse_cacert_counted(buf)
        verifier = entry.verifiers.setdefault(key, _anchor_verifier(certs, cfg))
    elif entry.failed > 0:
        _log.w("mbedtls_x509_crt_parse was partly successful. No. of failed certificates: %d", entry.failed)
    return verifier


def _cacert_verifier(
    cfg: EspTlsCfg, buf: bytes, resumable: Callable[[CertificateVerifier], bool], parse_later: bool
) -> CertificateVerifier:
    """The CA certificates' verifier: parsed now (errors now, as esp-tls) unless
    ``resumable`` says the session to offer may resume under it, or ``parse_later``
    leaves the parse to the caller (``due``). Parsed once for connections with the
    same buffer (the cache above)."""
    try:
        entry = _cacert_entry(buf)
    except CertParseError:  # nothing there looks like a certificate: parse_cacert says what, now
        return _anchor_verifier(parse_cacert(buf), cfg)
    verifier = LazyVerifier(
        cfg.verify_policy,
        not cfg.skip_common_name,
        entry.fingerprint,
        lambda: _cached_anchor_verifier(entry, buf, cfg),
    )
    if not resumable(verifier):
        if parse_later:
            verifier.due = True
        else:
            verifier.load()
    return verifier


def preload(cfg: EspTlsCfg, stage: Literal["setup", "verify"], *, parse_later: bool = False) -> None:
    """Import and build, quietly, what esp-tls will need to check a server under
    ``cfg``, so that it can do it while it waits on the network. ``stage``
    "setup": what :func:`build_verifier` needs before the first flight (the
    bundle's module and the built-in bundle's fingerprint; the X.509 code and the
    verifier for CA certificates it parses then: a global store's, or ``cacert``
    when no session is offered, unless ``parse_later``: build_verifier's, the
    parse then waits for the first flight). "verify": what checking the server's
    certificate needs besides (a bundle's verifier, the built-in bundle). Errors are
    left for the verifier to report where esp-tls reports them (ImportError
    propagates)."""
    if _bundle_requested(cfg):
        from . import bundle

        try:
            if stage == "setup" and cfg.crt_bundle is True:
                bundle.builtin_fingerprint("cmn")  # cached
            elif stage == "verify":
                from . import bundle_verify  # noqa: F401

                if cfg.crt_bundle is True:
                    bundle.builtin_bundle("cmn")  # cached
        except ValueError:
            pass
    elif stage == "setup" and (
        cfg.use_global_ca_store or (cfg.cacert is not None and cfg.client_session is None and not parse_later)
    ):
        from ..tls import verify  # noqa: F401 - and cryptography.x509 (with its verification module)


def build_verifier(
    cfg: EspTlsCfg, host: str, session: Session | None = None, *, parse_later: bool = False
) -> CertificateVerifier | None:
    """The verifier esp-tls's ``set_client_config`` would set up, in its priority.

    ``crt_bundle`` (True: the built-in common-CA bundle; bytes: that bundle)
    > ``use_global_ca_store`` > ``cacert`` > ``insecure`` (None: no
    verification, with a loud warning). ``host`` is used in messages and as the
    name a session was checked for (:func:`server_name_for` decides it).

    Trust anchors are loaded when first needed (:class:`LazyVerifier`): a bundle
    is checked here but its verifier made (the built-in one built) when the
    server's certificate must be checked; CA certificates (``cacert``) are
    parsed here, as in esp-tls, unless ``session`` (the session to offer) may be
    resumed under them, when they are parsed only if the server's certificate must
    be checked after all (a resumption the server declines). ``parse_later``: CA
    certificates that would be parsed here are not; the verifier comes back with
    ``due`` set, and the caller loads it (:meth:`LazyVerifier.load`, which raises
    this function's EspTlsError) before the server's certificate can arrive: the
    blocking esp-tls connection does it while its first flight travels.

    Raises EspTlsError: ESP_ERR_INVALID_STATE (global store requested but
    absent), ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED (bad cacert),
    ESP_ERR_INVALID_ARG (bad bundle), ESP_ERR_MBEDTLS_SSL_SETUP_FAILED (no
    verification option at all).
    """
    if _bundle_requested(cfg):
        _log.d("Use certificate bundle")
        try:
            return _bundle_verifier(cfg)
        except ValueError as exc:
            # esp-tls ignores esp_crt_bundle_attach's result and fails later (no CA chain, -0x7680);
            # we stop here, with the bundle component's lines.
            bundle_log = log.get_logger("esp-x509-crt-bundle")
            if getattr(exc, "max_certs_exceeded", False):
                bundle_log.e("Cert bundle certificates exceed max allowed certificates")
            bundle_log.e("Failed to attach bundle")
            raise EspTlsError(LastError(EspErr.ESP_ERR_INVALID_ARG, 0, 0, f"certificate bundle: {exc}")) from exc
    if cfg.use_global_ca_store:
        anchors = get_global_ca_store()
        if anchors is None:
            _log.e("global_cacert is NULL")
            raise EspTlsError(LastError(EspErr.ESP_ERR_INVALID_STATE, 0, 0, "the global CA store is not set"))
        return _anchor_verifier(anchors, cfg)
    if cfg.cacert is not None:
        name = _server_name(cfg, host)
        return _cacert_verifier(cfg, cfg.cacert, lambda verifier: _may_resume(verifier, session, name), parse_later)
    if cfg.insecure:
        _log.w(
            "insecure=true: server certificate verification DISABLED for %s (CONFIG_ESP_TLS_INSECURE + "
            "CONFIG_ESP_TLS_SKIP_SERVER_CERT_VERIFY). Anyone on the path can impersonate the server.",
            host,
        )
        return None
    _log.e("No server verification option set in esp_tls_cfg_t structure. Check esp_tls API reference")
    raise EspTlsError(
        LastError(EspErr.ESP_ERR_MBEDTLS_SSL_SETUP_FAILED, 0, 0, "no server verification option set"),
        "No server verification option set in esp_tls_cfg_t structure. Check esp_tls API reference",
    )
