"""``https-request serve``: the howsmyssl.com-compatible HTTPS server (and ESP-IDF's local test server).

On start it prints, one per line on stdout: ``ca-file: PATH`` (only when it
uses its own CA), then ``listening: https://HOST:PORT/`` (the real port), then
``listening: http://HOST:PORT/`` with ``--http-port``. Each connection is
logged as one line on stderr; refused connections as a rate (one line per
10 s at most). SIGINT and SIGTERM stop it cleanly: connections in flight get
``--shutdown-grace`` seconds, then exit 0. SIGHUP re-reads the certificate
(``--cert/--key``, or the local one) and the ticket keys
(:func:`reload_ticket_keys`, the key store's reload) for the connections that follow.

Roles: by default the check server answers howsmyssl's paths on any host
(:mod:`.app`); ``--strict-howsmyssl`` only for Host www.howsmyssl.com (301s for
the others; with the classic schema it refuses TLS 1.3 too, as the classic
server); ``--esp-local-server`` is ESP-IDF's local test server (200, no body).
``--schema 2026`` offers HTTP/2 (ALPN h2, then http/1.1: :mod:`.h2conn`, which
answers h2 below TLS 1.2 or on a prohibited suite with GOAWAY INADEQUATE_SECURITY,
as Go's HTTP/2 server), the classic schema HTTP/1.x only, as the classic server.

Admission: ``--max-connections`` open connections per worker (the listen
backlog follows it, 128..4096), ``--max-per-client`` of them from one client
address, so one client cannot lock the others out.

TCP Fast Open (RFC 7413): the listening sockets take a ClientHello (and
0-RTT data) carried in a SYN, ``--tcp-fastopen-queue`` of them at most
waiting to be accepted (0 turns it off); Linux does so only with the server
bit of ``net.ipv4.tcp_fastopen`` set (2; the default, 1, is the client's).

``--workers N`` runs N processes, each with its own SO_REUSEPORT socket on
the one port (the kernel spreads connections over them). They share the
session-ticket keys through a key file (``--ticket-keys FILE``, else
``ticket-keys`` in the state folder) and the 0-RTT anti-replay record through
``FILE.replay`` (SQLite), so each resumes the others' tickets and a ticket
carries early data once in all. The parent only supervises
(:mod:`.supervisor`): it restarts a worker that dies, forwards SIGHUP and
the stop signal.

The clock (``--clock system|nvs|sntp``, ``--now``, ``--sntp-server``,
``--nvs-file``: :mod:`..tls_clock`'s options, as ``get`` has them) is the
server's TLS clock (ticket lifetimes and key rotation, 0-RTT anti-replay, the
client certificates ``--client-ca`` requires) and the rating's; a clock other
than the system's is logged at start (``clock: the SNTP clock, <time>``). With
``sntp`` or ``nvs``, each worker sets it again over SNTP every
``--clock-refresh`` seconds (:class:`..time_sync.PeriodicTimeSync`; ``nvs``
stores the new time, as the device does) and logs the outcome; a refresh that
fails leaves the clock running on from its last time. The local certificate
and the ``Date`` header stay on the host's clock.

``--loop``: the workers' event loop, uvloop when it is installed (the
``uvloop`` extra), else asyncio's own.

Usage and configuration errors exit with 2; no SNTP answer for ``--clock
sntp`` at start exits 1. This module stays light: the TLS stack is imported
when the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the rest is imported when the command runs: `https-request --version` stays fast
    import socket
    from collections.abc import Callable
    from types import FrameType

    from ..esp_tls.config import TlsClock
    from ..tls.config import CertificateVerifier, CertifiedKey, ServerConfig
    from ..tls.session import TicketKeys
    from .supervisor import Background
    from .tls_server import ServerSettings

__all__ = ["add_parser", "event_loop", "parse_groups", "reload_ticket_keys", "run", "worker_settings"]

_PROG = "https-request serve"
DEFAULT_PORT = 8070
DEFAULT_PER_CLIENT = 64
EARLY_DATA_DEFAULT = 16384
TCP_FASTOPEN_QUEUE = 256  # connections whose SYN carried data, waiting to be accepted (the bound on what they hold)
_REFRESH_S = 86400.0  # time_sync.REFRESH_INTERVAL_S (not imported: the parser stays light)

# howsmyssl.com's TLS <= 1.2 suites (howsmyssl.go's makeTLSConfig) after the TLS 1.3 suites: the ticket
# server's, ECDHE only; the check server's adds static RSA, 3DES and RC4 as the real one, last (the order
# Go's crypto/tls ranks them in: anything before 3DES, anything before RC4)
DEFAULT_SUITES: tuple[int, ...] = (
    0x1301, 0x1302, 0x1303,
    0xCCA9, 0xCCA8, 0xC02F, 0xC02B, 0xC030, 0xC02C,
    0xC013, 0xC009, 0xC023, 0xC014, 0xC027, 0xC00A,
)  # fmt: skip
CHECK_SUITES: tuple[int, ...] = (
    *DEFAULT_SUITES, 0x009C, 0x009D, 0x002F, 0x003C, 0x0035, 0xC012, 0x000A, 0xC011, 0xC007, 0x0005,
)  # fmt: skip
# which versions each role takes by default (--tls-version narrows to one)
VERSIONS = {"1.0": 0x0301, "1.1": 0x0302, "1.2": 0x0303, "1.3": 0x0304}
CHECK_VERSIONS: tuple[int, ...] = (0x0304, 0x0303, 0x0302, 0x0301)
TICKET_VERSIONS: tuple[int, ...] = (0x0304, 0x0303)
CHECK_HOST = "www.howsmyssl.com"  # (app.HOWSMYSSL_HOST; not imported: the parser stays light)
_ROLES_HELP = (
    "Two roles for TLS: with a certificate that names www.howsmyssl.com (the local one always does) and "
    "without --esp-local-server, the check server takes TLS 1.0 to 1.3 with howsmyssl's suites (static RSA, "
    "CBC, 3DES, RC4) and no extended master secret required, because telling old clients how bad their TLS is "
    "is its purpose (SSL 3.0 gets protocol_version, as from the real server); otherwise (--esp-local-server, "
    "the example's ticket server, or a --cert for another name) TLS 1.2 and 1.3 with ECDHE suites only. "
    "--tls-version and --ciphers narrow either. `get` never offers TLS 1.0 or 1.1."
)
DEFAULT_GROUPS: tuple[int, ...] = (0x11EC, 0x001D, 0x0017, 0x0018, 0x0019)
_GROUP_ALIASES = {
    "x25519mlkem768": 0x11EC,
    "x25519": 0x001D,
    "secp256r1": 0x0017, "p-256": 0x0017, "p256": 0x0017, "prime256v1": 0x0017,
    "secp384r1": 0x0018, "p-384": 0x0018, "p384": 0x0018,
    "secp521r1": 0x0019, "p-521": 0x0019, "p521": 0x0019,
    # RFC 7027, TLS 1.2 only
    "brainpoolp256r1": 0x001A, "brainpoolp384r1": 0x001B, "brainpoolp512r1": 0x001C,
}  # fmt: skip


class _Stop(Exception):
    """Raised by the start-up signal handler: stop before the loop runs."""


class UsageError(Exception):
    """A bad option value (exit 2)."""


def _error(message: str, code: int = 2) -> int:
    sys.stderr.write(f"{_PROG}: error: {message}\n")
    return code


# ------------------------------------------------------------------ option values


def parse_groups(text: str) -> tuple[int, ...]:
    """``--groups``: comma-separated names (x25519, secp256r1, P-256, X25519MLKEM768...) or hex ids."""
    out: list[int] = []
    for raw in text.split(","):
        token = raw.strip().lower()
        if not token:
            raise UsageError(f"--groups {text!r}: empty entry")
        if token.startswith("0x"):
            try:
                group = int(token, 16)
            except ValueError:
                raise UsageError(f"--groups: bad hex id {raw.strip()!r}") from None
        elif token in _GROUP_ALIASES:
            group = _GROUP_ALIASES[token]
        else:
            raise UsageError(f"--groups: unknown group {raw.strip()!r}; known: {', '.join(sorted(_GROUP_ALIASES))}")
        if group not in _GROUP_ALIASES.values():
            raise UsageError(f"--groups: group 0x{group:04x} is not supported by the engine")
        if group in out:
            raise UsageError(f"--groups: {raw.strip()!r} is listed twice")
        out.append(group)
    return tuple(out)


def _parse_ciphers(text: str, versions: tuple[int, ...]) -> tuple[int, ...]:
    from ..tls.catalogue import is_implemented, parse_cipher_list, suite_name
    from ..tls.suites import SUITES, check_suites_fit_versions

    try:
        suites = parse_cipher_list(text)
    except ValueError as exc:
        raise UsageError(f"--ciphers: {exc}") from None
    for s in suites:
        params = SUITES.get(s)
        if not is_implemented(s) or params is None or params.client_only:
            raise UsageError(f"--ciphers: the server cannot negotiate {suite_name(s)}")
    if len(versions) == 1:
        shown = {0x0301: "1.0", 0x0302: "1.1", 0x0303: "1.2", 0x0304: "1.3"}[versions[0]]
        try:
            check_suites_fit_versions(suites, versions)
        except ValueError:
            raise UsageError(f"--ciphers: no suite for --tls-version {shown} among them") from None
    return suites


def _names_check_host(certified_key: CertifiedKey) -> bool:
    """Whether the served certificate names www.howsmyssl.com (or *.howsmyssl.com): the check server's role."""
    from cryptography import x509

    try:
        san = certified_key.chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    names = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
    return CHECK_HOST in names or "*." + CHECK_HOST.split(".", 1)[1] in names


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low}..{high}: {value}")
        return value

    return check


# ------------------------------------------------------------------ parser


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the howsmyssl.com-compatible HTTPS server (and ESP-IDF's local test server)",
        description=(
            "HTTPS on our own TLS engine. howsmyssl's answers on any host name: /a/check (the rating of the "
            "raw ClientHello as JSON, ?callback= for JSONP), / (the same rating as a page), /healthcheck; "
            "/tls shows what the server saw. --strict-howsmyssl keeps them for Host www.howsmyssl.com and "
            "sends the real server's 301 to other hosts. --esp-local-server answers every request (but /tls) "
            "with '200 OK', 'Connection: close' and no body, as the local server of ESP-IDF's test of the "
            "example; so does any server for a target that is no path (FROM_STDIN). HTTP/2 (ALPN h2, then "
            "http/1.1) with --schema 2026, as howsmyssl.com today: a client that offers h2 below TLS 1.2 or "
            "on a suite HTTP/2 prohibits (static RSA, CBC, 3DES, RC4) gets h2 and then only GOAWAY "
            "INADEQUATE_SECURITY, as from Go's HTTP/2 server (rated over HTTP/1.1 only); HTTP/1.1 only with "
            "the classic schema, as the classic server. Prints 'ca-file: PATH' (own CA only) and "
            "'listening: https://HOST:PORT/'; "
            "logs one line per connection on stderr. " + _ROLES_HELP
        ),
    )
    a = parser.add_argument
    a("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    a("--port", type=_int_in(0, 65535), default=DEFAULT_PORT, help="TCP port (default 8070; 0 = any free port)")
    a("--cert", metavar="FILE", help="PEM certificate chain, leaf first (with --key)")
    a("--key", metavar="FILE", help="PEM private key of --cert (unencrypted)")
    a("--name", metavar="NAME", action="append", default=[],
      help="extra DNS name or IP for the local certificate (repeatable)")  # fmt: skip
    a("--key-type", choices=("rsa", "ecdsa"), default="rsa", help="local server key: RSA-2048 or P-256 (default rsa)")
    a("--tls-version", choices=tuple(VERSIONS), help="only this version (default: the check server 1.0 to 1.3, "
      "the ticket server 1.2 and 1.3; see above)")  # fmt: skip
    a("--ciphers", metavar="LIST", help="comma-separated cipher suites, IANA/OpenSSL names or hex ids")
    a("--groups", metavar="LIST", help="comma-separated key-exchange groups (x25519, secp256r1, X25519MLKEM768...)")
    a("--no-tickets", action="store_true", help="issue no session tickets")
    a("--ticket-lifetime", type=_int_in(1, 604800), default=86400, metavar="S",
      help="ticket lifetime and key rotation period in seconds (default 86400)")  # fmt: skip
    a("--early-data", type=_int_in(1, 1 << 30), nargs="?", const=EARLY_DATA_DEFAULT, default=0, metavar="BYTES",
      help=f"accept 0-RTT data (limit BYTES, default {EARLY_DATA_DEFAULT})")  # fmt: skip
    a("--handshake-timeout", type=_positive_float, default=10.0, metavar="S",
      help="first bytes and handshake; on --http-port, until a request begins (default 10 seconds)")  # fmt: skip
    a("--max-connections", type=_int_in(1, 1 << 20), default=1024, metavar="N",
      help="open connections per worker, more are refused; the listen backlog follows it (default 1024)")  # fmt: skip
    a("--max-per-client", type=_int_in(1, 1 << 20), default=DEFAULT_PER_CLIENT, metavar="N",
      help=f"open connections per worker from one client address (default {DEFAULT_PER_CLIENT})")  # fmt: skip
    a("--shutdown-grace", type=_positive_float, default=5.0, metavar="S",
      help="on SIGTERM/SIGINT, time for connections in flight to finish (default 5 seconds)")  # fmt: skip
    a("--schema", choices=("classic", "2026"), default="classic",
      help="howsmyssl.com as of: classic (to 2026-04: its /a/check fields, HTTP/1.1 only) or 2026 (the 13 fields "
      "and dated rules, HTTP/2 through ALPN h2) (default classic)")  # fmt: skip
    role = parser.add_mutually_exclusive_group()
    role.add_argument("--strict-howsmyssl", action="store_true",
                      help="howsmyssl's answers for Host www.howsmyssl.com only; other hosts get its 301; with "
                      "the classic schema, no TLS 1.3 either, as the classic server")  # fmt: skip
    role.add_argument("--esp-local-server", action="store_true",
                      help="the local server of ESP-IDF's test of the example (the ticket server): every "
                      "request but /tls gets 200, Connection: close, no body")  # fmt: skip
    a("--http-port", type=_int_in(0, 65535), metavar="PORT", help="also listen for plain HTTP (redirects)")
    a("--tcp-fastopen-queue", type=_int_in(0, 1 << 20), default=TCP_FASTOPEN_QUEUE, metavar="N",
      help=f"TCP Fast Open on the listening sockets: at most N connections whose SYN carried data wait to be "
           f"accepted; 0 turns it off (default {TCP_FASTOPEN_QUEUE}; Linux takes such data only when "
           "net.ipv4.tcp_fastopen has the server bit, 2)")  # fmt: skip
    a("--workers", type=_int_in(1, 256), default=1, metavar="N",
      help="processes sharing the port (SO_REUSEPORT); one that dies is restarted")  # fmt: skip
    a("--ticket-keys", metavar="FILE|URL",
      help="keys shared by processes: a file (created 0600), or redis://HOST:PORT/N across machines")  # fmt: skip
    a("--keylog", metavar="FILE", help="append NSS key log lines to FILE")
    a("--loop", choices=("auto", "asyncio", "uvloop"), default="auto",
      help="event loop: uvloop (extra 'uvloop') or the standard one (default auto: uvloop if installed)")  # fmt: skip
    a("--client-ca", metavar="FILE",
      help="require a client certificate issued by a CA in FILE (PEM), valid on the clock")  # fmt: skip
    from ..tls_clock import add_options

    clock = parser.add_argument_group("clock")
    add_options(clock, server=True)
    clock.add_argument("--clock-refresh", type=_positive_float, default=_REFRESH_S, metavar="S",
                       help="with --clock sntp or nvs: set the clock again over SNTP every S seconds, in each "
                       "worker (default 86400: the device's 24 h); nvs: the new time is stored")  # fmt: skip
    parser.set_defaults(func=run)
    return parser


# ------------------------------------------------------------------ set-up


def _keylog_sink(path: str) -> Callable[[str], None]:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    f = os.fdopen(fd, "a", buffering=1, encoding="ascii")

    def write(line: str) -> None:
        f.write(line + "\n")

    return write


def _clock(args: argparse.Namespace) -> TlsClock | None:
    """The clock ``--clock``/``--now`` ask for (None: the system clock). Raises UsageError
    for a bad option or store, ClockError (not usage) when no SNTP server answered."""
    from ..tls_clock import ClockError, clock_from_args

    try:
        return clock_from_args(args)
    except ClockError as exc:
        if exc.usage:
            raise UsageError(str(exc)) from None
        raise


def _client_verifier(path: str) -> CertificateVerifier:
    """``--client-ca``: a verifier of client certificates issued by a CA in ``path``. Raises UsageError."""
    from cryptography import x509

    from ..tls.verify import WebPkiVerifier

    try:
        with open(path, "rb") as f:
            data = f.read(1 << 22)
    except OSError as exc:
        raise UsageError(f"--client-ca: cannot read {path}: {exc.strerror or exc}") from None
    try:
        anchors = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise UsageError(f"--client-ca: {path}: no PEM certificate found in it") from None
    return WebPkiVerifier(anchors)


def worker_settings(args: argparse.Namespace, clock: TlsClock | None = None) -> tuple[ServerSettings, str | None]:
    """The worker settings, on ``clock`` (None: the system clock), and the CA file to announce
    (None with --cert). Raises UsageError for an unusable option."""
    import time

    from ..files import state_dir
    from ..tls.config import ServerConfig
    from ..tls.enums import PskKeyExchangeMode
    from ..tls.session import AntiReplay, MemoryAntiReplay, TicketKeys
    from .app import AppConfig
    from .keys import KeyFileError, open_shared
    from .tls_server import ServerSettings

    loop = event_loop(args.loop)
    try:
        certified_key, ca_file = _identity(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    check_role = not args.esp_local_server and _names_check_host(certified_key)
    if args.tls_version is not None:
        versions: tuple[int, ...] = (VERSIONS[args.tls_version],)
    else:
        versions = CHECK_VERSIONS if check_role and not args.client_ca else TICKET_VERSIONS
    versions = _classic_versions(args, versions)
    if args.ciphers:
        suites = _parse_ciphers(args.ciphers, versions)
    else:
        suites = CHECK_SUITES if check_role else DEFAULT_SUITES
    groups = parse_groups(args.groups) if args.groups else DEFAULT_GROUPS
    # tickets, anti-replay, client certificates, rating; the system's through time.time (the engine's
    # default reads the same clock through datetime, ~20x slower)
    now = clock.now if clock is not None else time.time
    client_verifier = _client_verifier(args.client_ca) if args.client_ca else None
    if client_verifier is not None and versions[0] < 0x0303:
        raise UsageError("--client-ca needs TLS 1.2 or 1.3: the engine asks TLS 1.0/1.1 clients for no certificate")

    ticket_keys: TicketKeys | None = None
    anti_replay: AntiReplay = MemoryAntiReplay()
    if not args.no_tickets:
        key_file = args.ticket_keys
        if key_file is None and args.workers > 1:
            folder = state_dir()
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            key_file = str(folder / "ticket-keys")
        if key_file is None:
            ticket_keys = TicketKeys(os.urandom, args.ticket_lifetime, now())
        else:
            try:
                ticket_keys, anti_replay = open_shared(key_file, args.ticket_lifetime, now)
            except KeyFileError as exc:
                raise UsageError(str(exc)) from None
    try:
        keylog = _keylog_sink(args.keylog) if args.keylog else None
        tls = ServerConfig(
            certificates=(certified_key,), versions=versions, cipher_suites=suites, groups=groups,
            ticket_keys=ticket_keys, num_tickets=0 if args.no_tickets else 2, ticket_lifetime=args.ticket_lifetime,
            max_early_data=args.early_data, send_half_rtt_data=args.early_data > 0, anti_replay=anti_replay,
            keylog=keylog, alpn_protocols=_alpn(args), psk_modes=(PskKeyExchangeMode.psk_dhe_ke,),
            now=now, request_client_certificate=client_verifier is not None,
            require_client_certificate=client_verifier is not None, client_verifier=client_verifier,
            require_extended_master_secret=not check_role, beast_probe=check_role,
        )  # fmt: skip
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    app = AppConfig(schema=args.schema, clock=now, strict_howsmyssl=args.strict_howsmyssl,
                    esp_local=args.esp_local_server)  # fmt: skip
    settings = ServerSettings(
        tls, app, handshake_timeout=args.handshake_timeout, max_connections=args.max_connections,
        max_per_client=args.max_per_client, backlog=_backlog(args.max_connections),
        shutdown_grace=args.shutdown_grace, loop=loop,
    )  # fmt: skip
    return settings, ca_file


def _classic_versions(args: argparse.Namespace, versions: tuple[int, ...]) -> tuple[int, ...]:
    """``--strict-howsmyssl`` with the classic schema is the classic server, which refused TLS 1.3
    (a Go 1.10 fork: at most TLS 1.2); unless ``--tls-version`` names one, its versions lose 1.3.
    The person-friendly default (any host) keeps TLS 1.3, as does ``--esp-local-server``."""
    if args.strict_howsmyssl and args.schema == "classic" and args.tls_version is None:
        return tuple(v for v in versions if v != 0x0304)
    return versions


def _alpn(args: argparse.Namespace) -> tuple[str, ...]:
    """The ALPN protocols chosen from, in the server's order of preference: h2 first with the
    2026 schema, as howsmyssl.com today; HTTP/1.x only with the classic one (the classic server
    answered no ALPN at all; we select http/1.1, or http/1.0 for curl -0, as tlsfuzzer's
    test-alpn-negotiation expects) and as ESP-IDF's local server."""
    http1 = ("http/1.1", "http/1.0")
    return ("h2", *http1) if args.schema == "2026" and not args.esp_local_server else http1


def event_loop(choice: str) -> str:
    """``--loop``: the event loop to run, "uvloop" or "asyncio" ("auto": uvloop when installed)."""
    if choice == "asyncio":
        return choice
    from importlib.util import find_spec

    if find_spec("uvloop") is not None:  # (found, not imported: the worker imports it)
        return "uvloop"
    if choice == "uvloop":
        raise UsageError("--loop uvloop: uvloop is not installed (pip install 'https-request[uvloop]')")
    return "asyncio"


def _refresh(args: argparse.Namespace, clock: TlsClock | None) -> Background | None:
    """``--clock sntp|nvs``: the clock set again over SNTP every ``--clock-refresh`` seconds in
    each worker (time_sync.PeriodicTimeSync; nvs: stored in NVS, as the device does), each
    outcome logged; a failed refresh leaves the clock running on from its last time. None
    for the system or a fixed clock, or with --sntp-server none."""
    if clock is None:  # the system clock (time_sync not imported: a worker would keep it for nothing)
        return None
    from ..time_sync import DeviceClock
    from ..tls_clock import sntp_servers

    servers = sntp_servers(args)
    if not isinstance(clock, DeviceClock) or not servers:
        return None
    device: DeviceClock = clock
    nvs_file = args.nvs_file if args.clock == "nvs" else None

    def start(settings: ServerSettings) -> Callable[[], None]:
        from pathlib import Path

        from ..nvs import Nvs, NvsError
        from ..time_sync import RETRY_COUNT, RETRY_WAIT_S, PeriodicTimeSync, TimeSyncError, iso

        where = f"worker={settings.worker} clock"
        store: Nvs | None = None
        if args.clock == "nvs":
            try:
                store = Nvs(Path(nvs_file) if nvs_file else None)
            except NvsError as exc:
                settings.log(f"{where}: cannot open NVS ({exc}): the refreshed time is not stored")

        def done(failure: TimeSyncError | None) -> None:
            if failure is None:
                settings.log(f"{where} set again over SNTP: {iso(device.now())}")
            else:
                settings.log(f"{where} refresh failed, running on from its last time ({iso(device.now())}): {failure}")

        # the device's 10 waits of 2 s, shortened to fit in half a (short) period: a refresh gives up before the next
        wait = min(RETRY_WAIT_S, args.clock_refresh / (2 * RETRY_COUNT))
        timer = PeriodicTimeSync(store, device, servers, interval=args.clock_refresh, wait=wait, on_done=done).start()

        def stop() -> None:
            if timer.stop(0.2) and store is not None:  # a refresh still waiting for SNTP ends with the process
                store.close()

        return stop

    return start


def _clock_line(clock: TlsClock | None, refresh: Background | None, every: float) -> str | None:
    """The log line that says which clock serves (None for the system clock)."""
    if clock is None:
        return None
    from ..time_sync import iso

    line = f"clock: the {clock.name} clock, {iso(clock.now())}"
    return line + (f"; set again over SNTP every {every:g} s" if refresh is not None else "")


def _backlog(max_connections: int) -> int:
    return min(max(max_connections, 128), 4096)


def _identity(args: argparse.Namespace) -> tuple[CertifiedKey, str | None]:
    """The certified key to serve and the CA file to announce (None with --cert).
    Raises ValueError naming the file and what is wrong with it."""
    from .identity import IdentityError, local_identity
    from .identity import load_files as load_identity

    try:
        if args.cert:
            identity = load_identity(args.cert, args.key)
        else:
            identity = local_identity(args.name, args.key_type)
    except IdentityError as exc:
        raise ValueError(str(exc)) from None
    return identity.certified_key, str(identity.ca_file) if identity.ca_file is not None else None


def reload_ticket_keys(keys: TicketKeys | None) -> str:
    """SIGHUP's ticket-key reload (each worker and the supervisor call it):
    :func:`.keys.reload` re-reads a shared store (the key file or Redis); keys
    private to the process stay. Returns what it did, for the log line; a store
    that cannot be read keeps its last good keys (the store logs why)."""
    from .keys import reload

    done = reload(keys)
    if keys is None:
        return "no tickets"
    if done is None:
        return "ticket keys in memory, kept"
    return "ticket keys reloaded" if done else "ticket keys unreadable, the last good ones kept"


def _reloader(args: argparse.Namespace) -> Callable[[ServerConfig], tuple[ServerConfig, str]]:
    """SIGHUP's reload: the certificate re-read (``--cert/--key`` or the local one), then the ticket keys."""
    from ..structs import replace

    def reload(tls: ServerConfig) -> tuple[ServerConfig, str]:
        certified_key, _ = _identity(args)
        leaf = certified_key.chain[0]
        what = f"certificate serial {leaf.serial_number:x}, {reload_ticket_keys(tls.ticket_keys)}"
        return replace(tls, certificates=(certified_key,)), what

    return reload


def _listeners(host: str, port: int, count: int, backlog: int, fastopen_queue: int = 0) -> list[socket.socket]:
    """``count`` listening sockets on one port (SO_REUSEPORT when more than one),
    with TCP Fast Open's queue of ``fastopen_queue`` (0: off). Raises UsageError."""
    import socket

    from ..fastopen import enable_listen

    # An ASCII name or address goes to getaddrinfo as bytes: as a str it would go through the IDNA
    # codec, whose import (encodings.idna, stringprep, unicodedata: ~0.6 MiB) a worker keeps for life.
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]  # fmt: skip
    except (socket.gaierror, UnicodeError) as exc:  # UnicodeError: a name IDNA cannot encode
        raise UsageError(f"cannot resolve {host!r}: {exc}") from None
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if count > 1:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(addr)
            addr = (addr[0], sock.getsockname()[1], *addr[2:])  # the others join the port the first got
            enable_listen(sock, fastopen_queue)
            sock.listen(backlog)
    except OSError as exc:
        for sock in socks:
            sock.close()
        raise UsageError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    return socks


def _url(scheme: str, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}/"


def _raise_fd_limit(wanted: int) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass


# ------------------------------------------------------------------ running


def _on_startup_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def run(args: argparse.Namespace) -> int:
    """The ``serve`` command."""
    if (args.cert is None) != (args.key is None):
        return _error("--cert and --key go together")
    import signal

    previous = {sig: signal.signal(sig, _on_startup_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})  # held until the reload can run
    from ..tls_clock import ClockError

    try:
        clock = _clock(args)
        settings, ca_file = worker_settings(args, clock)
        refresh = _refresh(args, clock)
        if (line := _clock_line(clock, refresh, args.clock_refresh)) is not None:
            settings.log(line)
        _raise_fd_limit(args.max_connections + 256)
        tfo = args.tcp_fastopen_queue
        https = _listeners(args.host, args.port, args.workers, settings.backlog, tfo)
        http = (_listeners(args.host, args.http_port, args.workers, settings.backlog, tfo)
                if args.http_port is not None else None)  # fmt: skip
        if ca_file is not None:
            print(f"ca-file: {ca_file}")
        print(f"listening: {_url('https', https[0])}")
        if http is not None:
            print(f"listening: {_url('http', http[0])}")
        sys.stdout.flush()
        from .supervisor import run_worker, supervise

        if args.workers == 1:
            return run_worker(settings, https[0], http[0] if http else None, _reloader(args), refresh)
        return supervise(settings, https, http, _reloader(args), refresh)
    except UsageError as exc:
        return _error(str(exc))
    except ClockError as exc:  # no SNTP server answered: no time to serve on
        return _error(str(exc), 1)
    except (_Stop, KeyboardInterrupt):
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
