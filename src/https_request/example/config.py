"""The example's configuration: its Kconfig, an sdkconfig file and ``--set`` overrides.

The options are declared in ``Kconfig`` next to this module, under ESP-IDF's
names: the example's "Example Configuration" menu, plus the few component
options it depends on, under ESP-IDF's menus and prompts (Component config ->
mbedTLS -> Certificate Bundle, ESP-TLS -> Enable client session tickets, LWIP
-> Enable LWIP Debug -> Enable DNS debug messages, Log output -> Default
and Maximum log verbosity); each option's help says what it changes.
:func:`load_config` reads them with esp-idf-kconfig's kconfiglib:

1. the Kconfig defaults;
2. an sdkconfig file (``--sdkconfig FILE``; ``./sdkconfig`` when none is given
   and that file exists). A real ESP-IDF project's sdkconfig sets well over a
   thousand options this example does not define: they are ignored silently,
   as ESP-IDF ignores options of components a build does not include (their
   lines must still be well-formed). Lines inside the "Deprecated options"
   block are skipped, as kconfiglib does;
3. ``--set NAME=VALUE`` overrides (NAME without ``CONFIG_``), in order. An
   unknown name is an error here.

kconfiglib accepts a bad value with a note and silently keeps the default
(or ignores the line), so every value is checked here first, and a bad one is
a :class:`ConfigError` naming the option (and the file and line) and saying
why. Values are typed by the Kconfig (``y``/``n``, decimal integers within
the option's range, strings double-quoted in a file and plain or quoted in
``--set``), then checked per option: URLs, ``curl --connect-to`` entries,
client profile names, log levels, files.

Paths (certificates, the custom bundle) that are relative resolve against the
folder of the sdkconfig file when they come from it (ESP-IDF resolves them
against the project directory, where sdkconfig lives) and against the
current directory when they come from ``--set``.

Choices are set as in an sdkconfig, through their options
(``CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_CMN=y``,
``CONFIG_LOG_DEFAULT_LEVEL_DEBUG=y``), or in ``--set`` by the choice's name:
``MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE=FULL|CMN|NONE``,
``LOG_DEFAULT_LEVEL=NONE|ERROR|WARN|INFO|DEBUG|VERBOSE|0-5``,
``LOG_MAXIMUM_LEVEL=DEFAULT|ERROR|WARN|INFO|DEBUG|VERBOSE|0-5``. As in
ESP-IDF, a maximum level's option exists only above the default level
("Same as default" otherwise): selecting one at or below it is an error.
``MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE_{FULL,CMN,NONE}`` are accepted as other
spellings of ESP-IDF's ``MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_{FULL,CMN,NONE}``.

kconfiglib (and the ``rich`` console it logs through) is imported only when a
configuration is loaded: the CLI imports this module. Its messages are
forwarded to the ``kconfig`` log tag instead of its own console.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, cast

from ..curlargs import ConnectTo, check_host
from ..curlargs import parse_connect_to as _curl_connect_to
from ..log import get_logger
from ..structs import Struct

__all__ = [
    "DATA_DIR",
    "DEFAULT_SDKCONFIG",
    "KCONFIG_PATH",
    "LOCAL_SERVER_CERT",
    "LOCAL_SERVER_KEY",
    "SERVER_ROOT_CERT",
    "ConfigError",
    "ConnectTo",
    "ExampleConfig",
    "check_sdkconfig",
    "load_config",
    "parse_connect_to",
]

PACKAGE_DIR = Path(__file__).resolve().parent
#: The example's Kconfig.
KCONFIG_PATH = PACKAGE_DIR / "Kconfig"
DATA_DIR = PACKAGE_DIR / "data"
#: ISRG Root X1, ESP-IDF's ``server_root_cert.pem``: EXAMPLE_SERVER_ROOT_CERT's default.
SERVER_ROOT_CERT = DATA_DIR / "server_root_cert.pem"
#: The self-signed v1 "ESP32 HTTPS request example" certificate: EXAMPLE_LOCAL_SERVER_CERT's default.
LOCAL_SERVER_CERT = DATA_DIR / "local_server_cert.pem"
#: Its private key (a public test key), for ``https-request serve``.
LOCAL_SERVER_KEY = DATA_DIR / "local_server_key.pem"
#: Read when :func:`load_config` is given no file and this one exists (relative to the current directory).
DEFAULT_SDKCONFIG = Path("sdkconfig")

TAG = "kconfig"
_PREFIX = "CONFIG_"

BundleKind = Literal["FULL", "CMN", "NONE"]

_BUNDLE_CHOICE = "MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE"
_BUNDLE_MEMBERS: dict[str, BundleKind] = {
    "MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_FULL": "FULL",
    "MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_CMN": "CMN",
    "MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_NONE": "NONE",
}
#: Other spellings of the bundle choice's options, in a file or in --set.
_ALIASES = {f"MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE_{kind}": name for name, kind in _BUNDLE_MEMBERS.items()}

_LOG_LEVEL = "LOG_DEFAULT_LEVEL"
_LOG_NAMES = ("NONE", "ERROR", "WARN", "INFO", "DEBUG", "VERBOSE")
_LOG_MEMBERS = tuple(f"LOG_DEFAULT_LEVEL_{name}" for name in _LOG_NAMES)
_LOG_MAX = "LOG_MAXIMUM_LEVEL"
#: "Same as default": the maximum choice's first option.
_LOG_MAX_DEFAULT = "LOG_MAXIMUM_EQUALS_DEFAULT"
#: The maximum choice's options by level (ESP-IDF defines none for NONE: the default covers it).
_LOG_MAX_MEMBERS = {level: f"LOG_MAXIMUM_LEVEL_{name}" for level, name in enumerate(_LOG_NAMES) if level}

_FROM_STDIN = "FROM_STDIN"
_CUSTOM_BUNDLE = "MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE"
_CUSTOM_BUNDLE_PATH = "MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH"
_CERT_FILES = ("EXAMPLE_SERVER_ROOT_CERT", "EXAMPLE_LOCAL_SERVER_CERT")
_PATH_OPTIONS = (*_CERT_FILES, _CUSTOM_BUNDLE_PATH)

# sdkconfig line grammar (after trailing whitespace is dropped).
_SET_LINE = re.compile(r"CONFIG_([A-Za-z0-9_]+)=(.*)", re.ASCII)
_UNSET_LINE = re.compile(r"# CONFIG_([A-Za-z0-9_]+) is not set", re.ASCII)
_QUOTED = re.compile(r'"((?:[^\\"]|\\.)*)"(?:\s+#.*)?', re.DOTALL)
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DEPRECATED_BEGIN = "# Deprecated options for backward compatibility"
_DEPRECATED_END = "# End of deprecated options"
_DEFAULT_MARK = "# default:"


class ConfigError(ValueError):
    """A configuration that cannot be used: the message says where and why."""


class _Bad(Exception):
    """A bad value; the caller adds where it came from."""


# ---------------------------------------------------------------------------
# The result


class ExampleConfig(Struct):
    """The example's configuration, typed and checked (see :func:`load_config`)."""

    session_tickets: bool  #: EXAMPLE_CLIENT_SESSION_TICKETS
    local_server_url: str  #: EXAMPLE_LOCAL_SERVER_URL: an http(s) URL or "FROM_STDIN"
    tls13_client: bool  #: EXAMPLE_SSL_PROTO_TLS1_3_CLIENT
    web_url: str  #: EXAMPLE_WEB_URL
    connect_to: tuple[str, ...]  #: EXAMPLE_CONNECT_TO entries, checked; parsed by :attr:`connect_to_rules`
    server_root_cert: Path  #: EXAMPLE_SERVER_ROOT_CERT, resolved (packaged ISRG Root X1 by default)
    local_server_cert: Path  #: EXAMPLE_LOCAL_SERVER_CERT, resolved (packaged v1 certificate by default)
    crt_bundle: bool  #: MBEDTLS_CERTIFICATE_BUNDLE
    default_bundle: BundleKind  #: the MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE choice
    custom_bundle_path: Path | None  #: MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH when the custom bundle is used
    countdown_s: int  #: EXAMPLE_COUNTDOWN_S
    client_profile: str  #: EXAMPLE_CLIENT_PROFILE, a name from https_request.tls.profiles
    log_level: int  #: LOG_DEFAULT_LEVEL, 0 (NONE) .. 5 (VERBOSE): every tag's level at start
    #: LOG_MAXIMUM_LEVEL, log_level .. 5: the highest level esp_log_level_set() can give a tag
    log_maximum_level: int
    #: ESP_TLS_CLIENT_SESSION_TICKETS: esp-tls's client session tickets are compiled in
    #: (the ClientHello asks for a ticket; sessions can be saved and resumed)
    esp_tls_client_session_tickets: bool
    lwip_dns_debug: bool = False  #: LWIP_DNS_DEBUG (with LWIP_DEBUG): lwIP's DNS lines
    tls_device_clock: bool = False  #: EXAMPLE_TLS_CLOCK_DEVICE: certificate checks on the device's clock
    sdkconfig: Path | None = None  #: the sdkconfig file read, if any

    @property
    def local_server_url_from_stdin(self) -> bool:
        """EXAMPLE_LOCAL_SERVER_URL_FROM_STDIN: the local URL is read from stdin."""
        return self.local_server_url == _FROM_STDIN

    @property
    def connect_to_rules(self) -> tuple[ConnectTo, ...]:
        """:attr:`connect_to`, parsed."""
        return tuple(parse_connect_to(entry) for entry in self.connect_to)

    @property
    def local_server_key(self) -> Path | None:
        """The packaged key, when the local server certificate is the packaged one."""
        return LOCAL_SERVER_KEY if self.local_server_cert == LOCAL_SERVER_CERT else None


# ---------------------------------------------------------------------------
# Value checks (raise _Bad with the reason)


def parse_connect_to(entry: str) -> ConnectTo:
    """Parse one ``curl --connect-to`` entry (:func:`..curlargs.parse_connect_to`); ConfigError if malformed."""
    try:
        return _curl_connect_to(entry)
    except ValueError as exc:
        raise ConfigError(f"EXAMPLE_CONNECT_TO: {exc}") from None


def _check_url(url: str) -> None:
    from urllib.parse import urlsplit

    if not url.lower().startswith(("https://", "http://")):
        raise _Bad(f"{url!r} is not an https:// or http:// URL")
    if any(c.isspace() for c in url):
        raise _Bad(f"{url!r} contains white space")
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when out of range or not a number
    except ValueError as exc:
        raise _Bad(f"{url!r} is not a valid URL ({exc})") from None
    host = parts.hostname
    if not host:
        raise _Bad(f"{url!r} has no host")
    if port == 0:
        raise _Bad(f"{url!r} has port 0")
    try:
        check_host(f"[{host}]" if ":" in host else host)
    except ValueError as exc:
        raise _Bad(str(exc)) from None


def _log_level(text: str) -> int:
    """A log level by name or number (--set LOG_DEFAULT_LEVEL=...)."""
    word = text.strip().upper()
    if word == "WARNING":
        word = "WARN"
    if word in _LOG_NAMES:
        return _LOG_NAMES.index(word)
    if _INT.fullmatch(word) and 0 <= int(word) <= 5:
        return int(word)
    raise _Bad(f"{text!r} is not a log level (NONE, ERROR, WARN, INFO, DEBUG, VERBOSE or 0-5)")


def _check_semantics(name: str, value: str) -> None:
    """Per-option checks of a value already of the right type."""
    if name == "EXAMPLE_LOCAL_SERVER_URL":
        if value != _FROM_STDIN:
            try:
                _check_url(value)
            except _Bad as exc:
                raise _Bad(f"{exc} (nor FROM_STDIN)") from None
    elif name == "EXAMPLE_WEB_URL":
        _check_url(value)
    elif name == "EXAMPLE_CONNECT_TO":
        for entry in value.split():
            try:
                _curl_connect_to(entry)
            except ValueError as exc:
                raise _Bad(str(exc)) from None
    elif name == "EXAMPLE_CLIENT_PROFILE":
        from ..tls.profiles import profile_names

        known = profile_names()
        if value not in known:
            raise _Bad(f"unknown profile {value!r} (known: {', '.join(known)})")
    elif name in (_LOG_LEVEL, _LOG_MAX):
        if not 0 <= int(value) <= 5:
            raise _Bad(f"{value} is not a log level (0-5)")
    elif name in _PATH_OPTIONS and "\0" in value:
        raise _Bad("a path cannot contain NUL")


# ---------------------------------------------------------------------------
# kconfiglib


@contextmanager
def _kconfiglib_log() -> Iterator[None]:
    """Route esp-pylib's log (kconfiglib's notes and warnings) to our ``kconfig`` tag meanwhile.

    kconfiglib installs its own logger in esp-pylib's singleton when the first
    Kconfig is made; the previous one is put back afterwards.
    """
    from esp_pylib.logger import EspLog, EspLogBase

    log = get_logger(TAG)

    def text(args: tuple[Any, ...]) -> str:
        return " ".join(str(a) for a in args).replace("\\[", "[")

    class Forward(EspLogBase):
        def print(self, *args: Any, **kwargs: Any) -> None:
            log.d("%s", text(args))

        def err(self, *args: Any, suggestion: str | None = None) -> None:
            log.w("%s", text(args))

        def warn(self, *args: Any, suggestion: str | None = None) -> None:
            log.w("%s", text(args))

        def note(self, *args: Any) -> None:
            log.d("%s", text(args))

        def hint(self, *args: Any) -> None:
            log.d("%s", text(args))

        def debug(self, *args: Any) -> None:
            log.v("%s", text(args))

        def set_verbosity(self, mode: int | str) -> None:
            pass

        def progress_bar(
            self, cur_iter: int, total_iters: int, prefix: str = "", suffix: str = "", bar_length: int = 30
        ) -> None:
            pass

        def set_console_options(self, **options: Any) -> None:  # an EspLog extra kconfiglib calls
            pass

    previous = EspLog.instance
    forward = Forward()
    EspLog.set_logger(forward)
    try:
        yield
    finally:
        EspLog.instance = previous


def _new_kconfig() -> Any:
    from esp_kconfiglib import Kconfig  # type: ignore[import-untyped]

    with _kconfiglib_log():
        kconf = Kconfig(str(KCONFIG_PATH))
    kconf.warn_assign_undef = False  # other components' options: silent (even with KCONFIG_WARN_UNDEF_ASSIGN=y)
    return kconf


def _type_of(sym: Any) -> str:
    """The symbol's type name: bool, int or string (the types this Kconfig uses)."""
    from esp_kconfiglib.core import TYPE_TO_STR  # type: ignore[import-untyped]

    return cast(str, TYPE_TO_STR[sym.orig_type])


def _unquote(raw: str) -> str | None:
    m = _QUOTED.fullmatch(raw)
    return None if m is None else _UNESCAPE.sub(r"\1", m.group(1))


class _Loader:
    """One load: the Kconfig, and where each value came from (for error messages)."""

    def __init__(self) -> None:
        self.kconf = _new_kconfig()
        self.where: dict[str, str] = {}
        self.base_dir = Path.cwd()
        self.sdkconfig: Path | None = None
        #: The sdkconfig's lines for options this Kconfig does not define, each with its "# default:" mark
        self.foreign: list[str] = []

    # -- symbols

    def sym(self, name: str) -> Any:
        """The defined symbol ``name``, or None."""
        sym = self.kconf.syms.get(name)
        return sym if sym is not None and sym.nodes else None

    def known_names(self) -> set[str]:
        return {sym.name for sym in self.kconf.unique_defined_syms} | set(_ALIASES)

    def check_typed(self, name: str, raw: str, *, in_file: bool) -> str:
        """``raw`` checked against the option's type and range, then per option; the value for kconfiglib."""
        from esp_kconfiglib.core import expr_value

        sym = self.sym(name)
        kind = _type_of(sym)
        if kind == "bool":
            if raw not in ("y", "n"):
                raise _Bad(f"{raw!r} is not a bool (y or n)")
            return raw
        if kind == "int":
            if not _INT.fullmatch(raw):
                raise _Bad(f"{raw!r} is not an integer")
            value = str(int(raw))
            for low, high, cond in sym.ranges:
                if expr_value(cond) and not int(low.str_value) <= int(value) <= int(high.str_value):
                    raise _Bad(f"{value} is out of range [{low.str_value}, {high.str_value}]")
        elif kind == "string":
            unquoted = _unquote(raw)
            if unquoted is None and in_file:
                raise _Bad(f"{raw} is not a double-quoted string")
            value = raw if unquoted is None else unquoted
        else:  # pragma: no cover - the Kconfig has no other types
            raise _Bad(f"unsupported type {kind}")
        _check_semantics(name, value)
        return value

    def set_value(self, name: str, value: str, where: str) -> None:
        with _kconfiglib_log():
            ok = self.sym(name).set_value(value)
        if not ok:  # pragma: no cover - values are checked first
            raise ConfigError(f"{where}: {name}: kconfiglib rejected {value!r}")
        self.where[name] = where

    def select(self, member: str, where: str, choice: str) -> None:
        self.set_value(member, "y", where)
        self.where[choice] = where

    # -- the sdkconfig file

    def read_file(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"sdkconfig {str(path)!r}: no such file") from None
        except IsADirectoryError:
            raise ConfigError(f"sdkconfig {str(path)!r}: is a directory") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"sdkconfig {str(path)!r}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except OSError as exc:
            raise ConfigError(f"sdkconfig {str(path)!r}: {exc.strerror or exc}") from None
        self.sdkconfig = path
        self.base_dir = path.absolute().parent
        known = self.known_names()
        aliases: list[tuple[str, str, str]] = []  # (member, value, where)
        ints: dict[str, tuple[int, str]] = {}  # LOG_DEFAULT_LEVEL / LOG_MAXIMUM_LEVEL lines
        chosen: dict[str, tuple[str, str]] = {}  # choice -> (the option last set to y, where)
        in_deprecated = False
        default_mark = False  # the previous line is esp-idf-kconfig's "# default:" (the value is the default)
        for lineno, line in enumerate(text.split("\n"), 1):
            line = line.rstrip()
            stripped = line.strip()
            marked, default_mark = default_mark, stripped == _DEFAULT_MARK
            if stripped == _DEPRECATED_BEGIN:
                in_deprecated = True
                continue
            if stripped == _DEPRECATED_END:
                in_deprecated = False
                continue
            where = f"{path}:{lineno}"
            m = _SET_LINE.fullmatch(line)
            if m is not None:
                name, raw = m.groups()
                if not raw.startswith('"'):
                    raw = re.split(r"\s+#", raw, maxsplit=1)[0].rstrip()  # inline comment, as kconfiglib
            else:
                m = _UNSET_LINE.fullmatch(line)
                if m is None:
                    if not stripped or stripped.startswith("#"):
                        continue
                    raise ConfigError(
                        f"{where}: malformed line {line!r} (expected CONFIG_NAME=VALUE or '# CONFIG_NAME is not set')"
                    )
                name, raw = m.group(1), ""
            if in_deprecated:
                continue  # kconfiglib skips the deprecated block too
            if name not in known:  # another component's option: ignored silently, as ESP-IDF does
                self.foreign += [_DEFAULT_MARK, line] if marked else [line]
                continue
            try:
                if name in _ALIASES:
                    value = raw or "n"
                    if value not in ("y", "n"):
                        raise _Bad(f"{value!r} is not a bool (y or n)")
                    aliases.append((_ALIASES[name], value, where))
                    continue
                if m.re is _UNSET_LINE:
                    if _type_of(self.sym(name)) != "bool":
                        raise _Bad(f"'# {_PREFIX}{name} is not set' applies to bool options only")
                    value = "n"
                else:
                    value = self.check_typed(name, raw, in_file=True)
            except _Bad as exc:
                raise ConfigError(f"{where}: {name}: {exc}") from None
            if name in (_LOG_LEVEL, _LOG_MAX):
                ints[name] = (int(value), where)
            elif value == "y" and self.sym(name).choice is not None:
                chosen[self.sym(name).choice.name] = (name, where)
            self.where[name] = where

        with _kconfiglib_log():
            self.kconf.load_config(str(path))

        for member, value, where in aliases:
            if value == "y":
                self.select(member, where, _BUNDLE_CHOICE)
        for choice, (member, where) in chosen.items():
            self.check_selected(member, where, choice)
        for name in (_LOG_LEVEL, _LOG_MAX):  # the default first: the maximum's options depend on it
            if name in ints:
                self.log_int_line(name, *ints[name], chosen=name in chosen)
        custom_path = self.sym(_CUSTOM_BUNDLE_PATH).str_value
        if custom_path and _CUSTOM_BUNDLE not in self.where and _CUSTOM_BUNDLE_PATH in self.where:
            # A path without the switch (a hand-written file): the path asks for the custom bundle.
            self.set_value(_CUSTOM_BUNDLE, "y", self.where[_CUSTOM_BUNDLE_PATH])

    def check_selected(self, member: str, where: str, choice: str) -> None:
        """ConfigError unless ``member`` is its choice's selection (an option whose dependency is off is not)."""
        if self.kconf.named_choices[choice].selection is not self.sym(member):
            from esp_kconfiglib.core import AND, Choice, expr_str

            dep = self.sym(member).direct_dep  # "<its own condition> && <choice>"
            if isinstance(dep, tuple) and dep[0] == AND and isinstance(dep[2], Choice):
                dep = dep[1]
            dep = expr_str(dep)
            raise ConfigError(f"{where}: {member}: depends on {dep}, which is false{self.level_note(choice)}")

    def level_note(self, choice: str) -> str:
        if choice != _LOG_MAX:
            return ""
        level = int(self.sym(_LOG_LEVEL).str_value)
        return (
            f" (LOG_DEFAULT_LEVEL is {_LOG_NAMES[level]}: the maximum level can only be above the default level,"
            f" or {_LOG_MAX_DEFAULT})"
        )

    def log_member(self, name: str, level: int, where: str) -> str:
        """The option of the ``name`` choice (LOG_DEFAULT_LEVEL or LOG_MAXIMUM_LEVEL) for ``level``.

        Raises ConfigError for a maximum level below the default level.
        """
        if name == _LOG_LEVEL:
            return _LOG_MEMBERS[level]
        default = int(self.sym(_LOG_LEVEL).str_value)
        if level == default:
            return _LOG_MAX_DEFAULT
        if level < default:
            raise ConfigError(
                f"{where}: {_LOG_MAX}: {_LOG_NAMES[level]} ({level}) is below LOG_DEFAULT_LEVEL"
                f" ({_LOG_NAMES[default]}, {default}); the maximum level cannot be lower than the default"
            )
        return _LOG_MAX_MEMBERS[level]

    def log_int_line(self, name: str, level: int, where: str, *, chosen: bool) -> None:
        """A file's ``CONFIG_LOG_DEFAULT_LEVEL=N`` / ``CONFIG_LOG_MAXIMUM_LEVEL=N`` line.

        ESP-IDF derives the int from its choice; a hand-written file may set only
        the int, which then selects the choice's option. When both are set and
        disagree, the choice wins, with a warning.
        """
        if not chosen:
            self.select(self.log_member(name, level, where), where, name)
            return
        actual = int(self.sym(name).str_value)
        if actual != level:
            get_logger(TAG).w(
                "%s: %s%s=%d disagrees with the %s choice; using the choice (%d)",
                where,
                _PREFIX,
                name,
                level,
                name,
                actual,
            )

    # -- --set NAME=VALUE

    def apply_set(self, item: str) -> None:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if name.startswith(_PREFIX):
            name = name[len(_PREFIX) :]
        if not sep or not name:
            raise ConfigError(f"--set: {item!r}: expected NAME=VALUE (NAME without {_PREFIX})")
        where = "--set"
        name = _ALIASES.get(name, name)
        try:
            if name == _BUNDLE_CHOICE:
                kinds: dict[str, str] = {kind: member for member, kind in _BUNDLE_MEMBERS.items()}
                member = kinds.get(raw.strip().upper())
                if member is None:
                    raise _Bad(f"{raw!r} is not a default bundle (FULL, CMN or NONE)")
                self.select(member, where, _BUNDLE_CHOICE)
                return
            if name in (_LOG_LEVEL, _LOG_MAX):
                if name == _LOG_MAX and raw.strip().upper() in ("DEFAULT", "SAME", "EQUALS_DEFAULT"):
                    member = _LOG_MAX_DEFAULT
                else:
                    member = self.log_member(name, _log_level(raw), where)
                self.select(member, where, name)
                return
            sym = self.sym(name)
            if sym is None:
                import difflib

                close = difflib.get_close_matches(name, sorted(self.known_names() | {_BUNDLE_CHOICE}), n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise ConfigError(f"--set: unknown option {name!r} (not in the example's Kconfig){hint}")
            if sym.choice is not None:
                choice = sym.choice.name
                if raw != "y":
                    members = ", ".join(s.name for s in sym.choice.syms)
                    raise _Bad(f"{raw!r}: a choice option can only be set to y (one of {members}); or set {choice}")
                self.select(name, where, choice)
                self.check_selected(name, where, choice)
                return
            if all(node.prompt is None for node in sym.nodes):
                raise _Bad("derived from other options, it cannot be set")
            value = self.check_typed(name, raw, in_file=False)
            if name in _PATH_OPTIONS and value:
                value = str(Path(value).absolute())  # relative to the current directory
            self.set_value(name, value, where)
            if name == _CUSTOM_BUNDLE_PATH:
                self.set_value(_CUSTOM_BUNDLE, "y" if value else "n", where)
            elif sym.str_value != value:  # kconfiglib keeps the value of an option whose dependency is off
                from esp_kconfiglib.core import expr_str, expr_value

                if expr_value(sym.rev_dep):
                    raise _Bad(f"selected by {expr_str(sym.rev_dep)}, which is on (turn that off first)")
                raise _Bad(f"depends on {expr_str(sym.direct_dep)}, which is off (set it too, before this one)")
        except _Bad as exc:
            raise ConfigError(f"--set: {name}: {exc}") from None

    # -- the result

    def path(self, name: str) -> tuple[Path, str]:
        """The option's path, resolved; and where it was set."""
        where = self.where.get(name, "Kconfig default")
        value = Path(self.sym(name).str_value)
        return (value if value.is_absolute() else self.base_dir / value), where

    def cert_file(self, name: str, default: Path) -> Path:
        if not self.sym(name).str_value:
            return default
        path, where = self.path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{where}: {name}: {str(path)!r}: no such file") from None
        except OSError as exc:
            raise ConfigError(f"{where}: {name}: {str(path)!r}: {exc.strerror or exc}") from None
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise ConfigError(f"{where}: {name}: {str(path)!r} holds no PEM certificate")
        return path

    def custom_bundle(self) -> Path | None:
        if self.sym(_CUSTOM_BUNDLE).str_value != "y":
            return None
        if not self.sym(_CUSTOM_BUNDLE_PATH).str_value:
            where = self.where.get(_CUSTOM_BUNDLE, "Kconfig default")
            raise ConfigError(f"{where}: {_CUSTOM_BUNDLE} is enabled but {_CUSTOM_BUNDLE_PATH} is empty")
        path, where = self.path(_CUSTOM_BUNDLE_PATH)
        if path.is_dir():
            if not any(p.suffix in (".pem", ".der") and p.is_file() for p in path.iterdir()):
                raise ConfigError(f"{where}: {_CUSTOM_BUNDLE_PATH}: no *.pem or *.der certificate in {str(path)!r}")
        elif not path.is_file():
            raise ConfigError(f"{where}: {_CUSTOM_BUNDLE_PATH}: {str(path)!r}: no such file or directory")
        return path

    def result(self) -> ExampleConfig:
        def flag(name: str) -> bool:
            return bool(self.sym(name).str_value == "y")

        def string(name: str) -> str:
            return str(self.sym(name).str_value)

        bundle = self.kconf.named_choices[_BUNDLE_CHOICE].selection
        crt_bundle = flag("MBEDTLS_CERTIFICATE_BUNDLE")
        return ExampleConfig(
            session_tickets=flag("EXAMPLE_CLIENT_SESSION_TICKETS"),
            local_server_url=string("EXAMPLE_LOCAL_SERVER_URL"),
            tls13_client=flag("EXAMPLE_SSL_PROTO_TLS1_3_CLIENT"),
            web_url=string("EXAMPLE_WEB_URL"),
            connect_to=tuple(string("EXAMPLE_CONNECT_TO").split()),
            server_root_cert=self.cert_file("EXAMPLE_SERVER_ROOT_CERT", SERVER_ROOT_CERT),
            local_server_cert=self.cert_file("EXAMPLE_LOCAL_SERVER_CERT", LOCAL_SERVER_CERT),
            crt_bundle=crt_bundle,
            default_bundle=_BUNDLE_MEMBERS[bundle.name],
            custom_bundle_path=self.custom_bundle() if crt_bundle else None,
            countdown_s=int(string("EXAMPLE_COUNTDOWN_S")),
            client_profile=string("EXAMPLE_CLIENT_PROFILE"),
            log_level=int(string(_LOG_LEVEL)),
            lwip_dns_debug=flag("LWIP_DNS_DEBUG"),
            log_maximum_level=int(string(_LOG_MAX)),
            esp_tls_client_session_tickets=flag("ESP_TLS_CLIENT_SESSION_TICKETS"),
            tls_device_clock=flag("EXAMPLE_TLS_CLOCK_DEVICE"),
            sdkconfig=self.sdkconfig,
        )


def check_sdkconfig(path: Path) -> list[str]:
    """Read and check the sdkconfig file ``path`` as :func:`load_config` does, without loading the files it names.

    Returns its lines for options the example's Kconfig does not define (other
    ESP-IDF components'), in order, each preceded by its ``# default:`` mark if
    it had one; the "Deprecated options" block is left out. Raises
    :class:`ConfigError` for a missing or malformed file or a bad value of one
    of the example's options.
    """
    loader = _Loader()
    loader.read_file(Path(path))
    return loader.foreign


def load_config(sdkconfig: Path | None = None, sets: Iterable[str] = (), *, default_file: bool = True) -> ExampleConfig:
    """The example's configuration: Kconfig defaults, then ``sdkconfig``, then ``sets``.

    ``sdkconfig=None`` reads ``./sdkconfig`` when it exists (unless
    ``default_file`` is false). Each of ``sets`` is ``NAME=VALUE``, NAME
    without ``CONFIG_``. Raises :class:`ConfigError` (a ValueError) for a
    missing or malformed file, an unknown ``--set`` name, or a bad value.
    """
    loader = _Loader()
    if sdkconfig is None and default_file and DEFAULT_SDKCONFIG.is_file():
        sdkconfig = DEFAULT_SDKCONFIG
    if sdkconfig is not None:
        loader.read_file(Path(sdkconfig))
    for item in sets:
        loader.apply_set(item)
    return loader.result()
