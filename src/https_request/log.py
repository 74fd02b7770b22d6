"""ESP-IDF-style log lines, written straight to a stream.

Lines read ``<L> (<ms>) <tag>: <message>`` as ``esp_log`` prints them, where
``L`` is one of ``E W I D V`` and ``ms`` counts milliseconds since this module
was imported (the process's "boot"). Each tag has its own level, as with
``esp_log_level_set``: a per-tag override wins, otherwise the default set with
``set_level("*", level)`` applies. Colour (red errors, yellow warnings, green
info) is used only when the output stream is a TTY.

The level test happens before any formatting: a disabled ``log.d("%r", obj)``
neither formats the string nor calls ``repr(obj)``.

:class:`MbedtlsDebug` is the bridge from the engine's
:class:`~https_request.tls.debug.TlsDebug` channel to these lines, in the shape
of ESP-IDF's ``mbedtls_esp_enable_debug_log``: tag ``mbedtls``, mbedTLS levels
1-4 printed as W/I/D/V, each line prefixed with the caller's ``file:line``.

Where the lines go: a library must not print, so by default (:func:`reset`)
each record goes to :mod:`logging`, to the logger ``https_request.<tag>``
(``https_request.esp-tls``, ``https_request.mbedtls``...; E/W/I/D/V as
ERROR/WARNING/INFO/DEBUG/5), silent unless the application configures logging
(a :class:`logging.NullHandler` on ``https_request``, as the logging HOWTO asks
of libraries); :mod:`logging` is imported with the first record. The
``https-request`` command installs :class:`EspHandler` (:func:`use_esp_handler`,
:func:`setup`), which writes the ESP lines to stderr: the CLI's output, and its
start-up (no :mod:`logging` import, ~5 ms), stay as they were. The per-tag
levels apply either way, before any formatting.

This module stays light (no ``cryptography``, no :mod:`logging` until a
record goes there): the CLI imports it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from enum import IntEnum
from threading import RLock
from typing import TYPE_CHECKING, Any, TextIO

from .structs import Struct

if TYPE_CHECKING:
    from cryptography import x509

__all__ = [
    "DEBUG",
    "ERROR",
    "INFO",
    "NONE",
    "VERBOSE",
    "WARN",
    "EspHandler",
    "EspLogger",
    "EspRecord",
    "Level",
    "LoggingHandler",
    "MbedtlsDebug",
    "format_line",
    "get_level",
    "get_logger",
    "millis",
    "raw",
    "reset",
    "set_level",
    "setup",
    "use_esp_handler",
]


class Level(IntEnum):
    """``esp_log_level_t``: a line prints when its level <= the tag's level."""

    NONE = 0
    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4
    VERBOSE = 5


NONE = Level.NONE
ERROR = Level.ERROR
WARN = Level.WARN
INFO = Level.INFO
DEBUG = Level.DEBUG
VERBOSE = Level.VERBOSE

_LETTERS = ("N", "E", "W", "I", "D", "V")
_COLORS = ("", "\033[0;31m", "\033[0;33m", "\033[0;32m", "", "")
_RESET = "\033[0m"


def _process_start_ns() -> int:
    """When this process started, on the monotonic clock: the device counts its
    log's milliseconds from boot, a host process from its own start. Linux gives
    the start in /proc/self/stat (field 22, clock ticks since boot, as
    CLOCK_BOOTTIME counts); elsewhere, or when that cannot be read, now (this
    module's import) stands in for it."""
    now = time.monotonic_ns()
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after "pid (comm)": comm may hold spaces
        started_s = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        since_start = time.clock_gettime_ns(time.CLOCK_BOOTTIME) - int(started_s * 1e9)
    except (OSError, ValueError, IndexError, AttributeError):
        return now
    return now - max(0, since_start)


_start_ns = _process_start_ns()


def millis() -> int:
    """Milliseconds since the process started: the ``(ms)`` field (the device's count from boot)."""
    return (time.monotonic_ns() - _start_ns) // 1_000_000


def _check_level(level: int) -> int:
    if not NONE <= level <= VERBOSE:
        raise ValueError(f"log level must be 0..5, got {level!r}")
    return int(level)


class _Levels:
    """The runtime filter: a default, per-tag overrides, and the maximum no
    level may exceed (``CONFIG_LOG_MAXIMUM_LEVEL``: lines above it are not
    compiled in on the device)."""

    __slots__ = ("default", "maximum", "tags")

    def __init__(self) -> None:
        self.default: int = INFO
        self.maximum: int = VERBOSE
        self.tags: dict[str, int] = {}


_levels = _Levels()


def set_level(tag: str, level: int) -> None:
    """``esp_log_level_set``: ``"*"`` sets the default, any other tag an override;
    a level above the maximum (:func:`setup`'s ``maximum``) gives the maximum."""
    level = min(_check_level(level), _levels.maximum)
    if tag == "*":
        _levels.default = level
    else:
        _levels.tags[tag] = level


def get_level(tag: str) -> int:
    """``esp_log_level_get``: the tag's override, else the default."""
    if tag == "*":
        return _levels.default
    return _levels.tags.get(tag, _levels.default)


class EspRecord(Struct):
    """One log line before formatting: ESP level, tag, milliseconds, message."""

    level: int
    tag: str
    ms: int
    message: str


def format_line(record: EspRecord) -> str:
    """``L (ms) tag: message`` (no colour, no newline)."""
    return f"{_LETTERS[record.level]} ({record.ms}) {record.tag}: {record.message}"


class EspHandler:
    """Writes ESP lines to a stream (``sys.stderr`` when none is given).

    The whole line, colour codes and newline included, is written with one
    ``write`` call under a lock, then flushed. ``color=None`` means colour when
    the stream is a TTY and ``NO_COLOR`` is unset. Filters (``add_filter``)
    see each :class:`EspRecord`; a line prints only when all return True. A
    stream that fails (closed, broken pipe) loses the line: logging never raises.
    """

    def __init__(self, stream: TextIO | None = None, color: bool | None = None) -> None:
        self._stream = stream
        self.color = color
        self._filters: list[Callable[[EspRecord], bool]] = []
        self._lock = RLock()  # reentrant: a stream that logs, or a signal handler, cannot deadlock

    @property
    def stream(self) -> TextIO:
        # Looked up at each write, so a replaced sys.stderr (pytest's capture) is honoured.
        return self._stream if self._stream is not None else sys.stderr

    def add_filter(self, keep: Callable[[EspRecord], bool]) -> None:
        """Print only the records for which ``keep(record)`` is True."""
        self._filters.append(keep)

    def use_color(self, stream: TextIO) -> bool:
        if self.color is not None:
            return self.color
        if os.environ.get("NO_COLOR"):
            return False
        try:
            return bool(stream.isatty())
        except (AttributeError, ValueError, OSError):
            return False

    def handle(self, record: EspRecord) -> None:
        for keep in self._filters:
            if not keep(record):
                return
        self.write(format_line(record), _COLORS[record.level])

    def write(self, line: str, color: str = "") -> None:
        """One line as it is (plus a newline), in ``color`` on a colour stream. Never raises."""
        stream: TextIO | None = self.stream  # typeshed says TextIO; sys.stderr may be None
        if stream is None:  # sys.stderr is None (pythonw, fd 2 closed at start-up)
            return
        if color and self.use_color(stream):
            line = f"{color}{line}{_RESET}"
        with self._lock:
            try:
                stream.write(line + "\n")
                stream.flush()
            except Exception:  # no stream (None), closed, broken pipe, unencodable: the line is lost
                pass


#: ESP level -> :mod:`logging` level (VERBOSE below DEBUG, unnamed).
_LOGGING_LEVELS = (0, 40, 30, 20, 10, 5)
#: The logger tree's root: ``https_request.<tag>`` below it.
LOGGER = "https_request"


class LoggingHandler:
    """The library's default: each record to :mod:`logging`'s ``https_request.<tag>`` logger
    (see the module docstring); :func:`raw` lines to ``https_request.raw`` at DEBUG.
    ``extra`` carries the ESP fields: ``esp_tag``, ``esp_level`` (E/W/I/D/V) and ``esp_ms``."""

    def __init__(self) -> None:
        self._ready = False

    def _logger(self, tag: str) -> Any:
        import logging

        if not self._ready:  # libraries add a NullHandler to their top logger (logging HOWTO)
            top = logging.getLogger(LOGGER)
            if not any(isinstance(h, logging.NullHandler) for h in top.handlers):
                top.addHandler(logging.NullHandler())
            self._ready = True
        return logging.getLogger(f"{LOGGER}.{tag}")

    def handle(self, record: EspRecord) -> None:
        level = _LOGGING_LEVELS[record.level]
        logger = self._logger(record.tag)
        if logger.isEnabledFor(level):
            extra = {"esp_tag": record.tag, "esp_level": _LETTERS[record.level], "esp_ms": record.ms}
            logger.log(level, "%s", record.message, extra=extra)

    def write(self, line: str, color: str = "") -> None:
        """A prefix-less line (:func:`raw`), at DEBUG."""
        logger = self._logger("raw")
        if logger.isEnabledFor(10):
            logger.debug("%s", line)


_handler: EspHandler | LoggingHandler = LoggingHandler()


def use_esp_handler(stream: TextIO | None = None, color: bool | None = None) -> EspHandler:
    """Print ESP lines to ``stream`` (None: the current ``sys.stderr``) from now on, instead of
    handing records to :mod:`logging`; the levels are left as they are. What the CLI does.
    Returns the handler."""
    global _handler
    _handler = EspHandler(stream, color)
    return _handler


def reset() -> None:
    """The library's defaults: INFO for every tag, no overrides, no cap, records to :mod:`logging`."""
    global _handler
    _levels.maximum = VERBOSE
    _levels.default = INFO
    _levels.tags.clear()
    _handler = LoggingHandler()


def raw(line: str) -> None:
    """A line without the ESP prefix, where the log goes: what C code prints
    with ``printf`` (lwIP's ``LWIP_PLATFORM_DIAG``: its ``dns_*`` lines)."""
    _handler.write(line)


def setup(
    default_level: int = INFO, stream: TextIO | None = None, color: bool | None = None, maximum: int | None = None
) -> EspHandler:
    """Configure ESP lines from scratch: default level, no per-tag overrides, written to
    ``stream`` (:class:`EspHandler`, not :mod:`logging`).

    ``stream=None`` writes to the current ``sys.stderr``; ``color=None`` picks
    colour for TTYs only. ``maximum`` (``CONFIG_LOG_MAXIMUM_LEVEL``; None: no
    cap) caps what :func:`set_level` can enable later (never below the default
    level). Returns the handler now in use.
    """
    _levels.maximum = _check_level(max(default_level, maximum if maximum is not None else VERBOSE))
    set_level("*", default_level)
    _levels.tags.clear()
    return use_esp_handler(stream, color)


class EspLogger:
    """One tag's logger: ``e/w/i/d/v(fmt, *args)`` with printf-style ``fmt``.

    Formatting happens only when the level is enabled for the tag.
    """

    __slots__ = ("tag",)

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __repr__(self) -> str:
        return f"EspLogger({self.tag!r}, level={get_level(self.tag)})"

    def is_enabled(self, level: int) -> bool:
        return 0 < level <= _levels.tags.get(self.tag, _levels.default)

    def level(self) -> int:
        return _levels.tags.get(self.tag, _levels.default)

    def set_level(self, level: int) -> None:
        set_level(self.tag, level)

    def log(self, level: int, fmt: str, *args: object) -> None:
        if 0 < level <= _levels.tags.get(self.tag, _levels.default):
            self._emit(level, fmt, args)

    def e(self, fmt: str, *args: object) -> None:
        if _levels.tags.get(self.tag, _levels.default) >= ERROR:
            self._emit(ERROR, fmt, args)

    def w(self, fmt: str, *args: object) -> None:
        if _levels.tags.get(self.tag, _levels.default) >= WARN:
            self._emit(WARN, fmt, args)

    def i(self, fmt: str, *args: object) -> None:
        if _levels.tags.get(self.tag, _levels.default) >= INFO:
            self._emit(INFO, fmt, args)

    def d(self, fmt: str, *args: object) -> None:
        if _levels.tags.get(self.tag, _levels.default) >= DEBUG:
            self._emit(DEBUG, fmt, args)

    def v(self, fmt: str, *args: object) -> None:
        if _levels.tags.get(self.tag, _levels.default) >= VERBOSE:
            self._emit(VERBOSE, fmt, args)

    def _emit(self, level: int, fmt: str, args: tuple[object, ...]) -> None:
        if args:
            try:
                msg = fmt % args
            except (TypeError, ValueError, KeyError) as exc:  # a log line never raises
                msg = f"{fmt} % {args!r} ({type(exc).__name__}: {exc})"
        else:
            msg = fmt
        _handler.handle(EspRecord(level, self.tag, millis(), msg))


_loggers: dict[str, EspLogger] = {}


def get_logger(tag: str) -> EspLogger:
    """The (cached) logger for ``tag``."""
    logger = _loggers.get(tag)
    if logger is None:
        logger = _loggers.setdefault(tag, EspLogger(tag))
    return logger


# ---------------------------------------------------------------------------
# mbedTLS debug bridge

#: mbedTLS debug level (1 error, 2 state change, 3 info, 4 verbose) -> ESP level.
_MBEDTLS_TO_ESP = (NONE, WARN, INFO, DEBUG, VERBOSE)
#: MBEDTLS_ERR_SSL_WANT_READ: mbedTLS does not log it, to avoid floods.
_WANT_READ = -0x6900
#: Frames in these modules are helpers, not the caller to name.
_SKIP_MODULES = frozenset({__name__, "https_request.tls.debug"})


class MbedtlsDebug:
    """A :class:`~https_request.tls.debug.TlsDebug` sink printing ESP log lines.

    Like ``mbedtls_esp_enable_debug_log(conf, threshold)``: lines go under the
    tag ``mbedtls`` at W/I/D/V for mbedTLS levels 1/2/3/4, read
    ``<file>:<line> <msg>`` with the engine caller's file base name and line,
    and (unless ``set_tag_level=False``) the ``mbedtls`` tag's ESP level is set
    to match the threshold.
    """

    TAG = "mbedtls"

    def __init__(self, threshold: int = 0, *, set_tag_level: bool = True) -> None:
        if not 0 <= threshold <= 4:
            raise ValueError(f"mbedTLS debug threshold must be 0..4, got {threshold!r}")
        self.threshold = threshold
        self._log = get_logger(self.TAG)
        if set_tag_level:
            set_level(self.TAG, _MBEDTLS_TO_ESP[threshold])

    def __repr__(self) -> str:
        return f"MbedtlsDebug(threshold={self.threshold})"

    def _enabled(self, level: int) -> int:
        """The ESP level to print ``level`` at, or 0 when it is filtered out."""
        if level <= 0 or level > self.threshold or level > 4:
            return 0
        esp = _MBEDTLS_TO_ESP[level]
        return esp if self._log.is_enabled(esp) else 0

    @staticmethod
    def _where() -> str:
        frame = sys._getframe(2)
        while frame.f_back is not None and frame.f_globals.get("__name__") in _SKIP_MODULES:
            frame = frame.f_back
        return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"

    def msg(self, level: int, text: str) -> None:
        esp = self._enabled(level)
        if esp:
            self._log._emit(esp, "%s %s", (self._where(), text))

    def ret(self, level: int, fn: str, err: int) -> None:
        esp = self._enabled(level)
        if esp and err != _WANT_READ:
            self._log._emit(esp, "%s %s() returned %d (-0x%04x)", (self._where(), fn, err, -err & 0xFFFFFFFF))

    def buf(self, level: int, text: str, data: bytes) -> None:
        esp = self._enabled(level)
        if not esp:
            return
        from .tls.debug import hexdump_lines

        where = self._where()
        emit = self._log._emit
        emit(esp, "%s dumping '%s' (%d bytes)", (where, text, len(data)))
        for line in hexdump_lines(bytes(data)):
            emit(esp, "%s %s", (where, line))

    def crt(self, level: int, text: str, der: bytes) -> None:
        esp = self._enabled(level)
        if not esp:
            return
        where = self._where()
        emit = self._log._emit
        emit(esp, "%s %s:", (where, text))
        for line in certificate_summary(der):
            emit(esp, "%s %s", (where, line))


#: mbedTLS's descriptions (``oid.c``'s signature-algorithm table) of the
#: signature algorithms it knows, by dotted OID: what ``mbedtls_x509_crt_info``
#: prints after "signed using".
_MBEDTLS_SIGNATURE_NAMES = {
    "1.2.840.113549.1.1.4": "RSA with MD5",
    "1.2.840.113549.1.1.5": "RSA with SHA1",
    "1.2.840.113549.1.1.14": "RSA with SHA-224",
    "1.2.840.113549.1.1.11": "RSA with SHA-256",
    "1.2.840.113549.1.1.12": "RSA with SHA-384",
    "1.2.840.113549.1.1.13": "RSA with SHA-512",
    "1.3.14.3.2.29": "RSA with SHA1",
    "1.2.840.10045.4.1": "ECDSA with SHA1",
    "1.2.840.10045.4.3.1": "ECDSA with SHA224",
    "1.2.840.10045.4.3.2": "ECDSA with SHA256",
    "1.2.840.10045.4.3.3": "ECDSA with SHA384",
    "1.2.840.10045.4.3.4": "ECDSA with SHA512",
    "1.2.840.113549.1.1.10": "RSASSA-PSS",
}


def _signature_name(cert: x509.Certificate) -> str:
    """mbedTLS's name for how ``cert`` is signed; the dotted OID for one mbedTLS does not know
    (where it prints ``???``)."""
    oid = cert.signature_algorithm_oid.dotted_string
    return _MBEDTLS_SIGNATURE_NAMES.get(oid, oid)


def certificate_summary(der: bytes) -> list[str]:
    """``mbedtls_x509_crt_info``-like lines for a DER certificate.

    ``cryptography`` is imported here, only when a certificate is printed.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    try:
        cert = x509.load_der_x509_certificate(bytes(der))
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is no ValueError
        return [f"unparseable certificate ({len(der)} bytes): {exc}"]

    def name(n: x509.Name) -> str:
        return ", ".join(f"{a.rfc4514_attribute_name}={a.value!s}" for rdn in n.rdns for a in rdn)

    try:  # fields are parsed lazily: a malformed one (or a negative serial) raises only here
        serial = cert.serial_number.to_bytes((cert.serial_number.bit_length() + 7) // 8 or 1, "big")
        lines = [
            f"cert. version     : {cert.version.value + 1}",
            f"serial number     : {':'.join(f'{b:02X}' for b in serial)}",
            f"issuer name       : {name(cert.issuer)}",
            f"subject name      : {name(cert.subject)}",
            f"issued  on        : {cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S}",
            f"expires on        : {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S}",
            f"signed using      : {_signature_name(cert)}",
        ]
    except (ValueError, OverflowError) as exc:
        return [f"unparseable certificate ({len(der)} bytes): {exc}"]
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        key = cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):  # unsupported key type
        lines.append("public key        : unsupported")
        return lines
    if isinstance(key, rsa.RSAPublicKey):
        lines.append(f"RSA key size      : {key.key_size} bits")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        lines.append(f"EC key size       : {key.key_size} bits ({key.curve.name})")
    elif isinstance(key, ed25519.Ed25519PublicKey):
        lines.append("EdDSA key         : Ed25519")
    elif isinstance(key, ed448.Ed448PublicKey):
        lines.append("EdDSA key         : Ed448")
    else:
        lines.append(f"public key        : {type(key).__name__}")
    return lines
