"""``https-request get``'s options: the parser the CLI builds, and the checks of
option values (curl's grammars for --resolve / --connect-to / --dns-servers,
headers, timeouts). Light: argparse only; :mod:`.get_cli` runs the command."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .curlargs import ConnectTo

__all__ = ["MAX_REDIRECTS", "add_parser", "dns_servers_arg"]

#: Redirects followed with -L at most (curl's default is 50; the example's servers never redirect).
MAX_REDIRECTS = 10


def _run(args: argparse.Namespace) -> int:
    from .get_cli import run_get

    return run_get(args)


def _resolve_arg(text: str) -> tuple[str, int, str]:
    from .curlargs import parse_resolve  # only when --resolve is given

    try:
        return parse_resolve(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _connect_to_arg(text: str) -> ConnectTo:
    from .curlargs import parse_connect_to  # as in _resolve_arg

    try:
        return parse_connect_to(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def dns_servers_arg(text: str) -> list[str]:
    """curl's ``--dns-servers`` list: ``ADDR[:PORT]`` entries separated by commas, each checked."""
    from .dns.resolver import parse_server  # dnspython: only when the option is given

    entries = [entry.strip() for entry in text.split(",")]
    try:
        return [str(parse_server(entry)) for entry in entries]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _header_arg(text: str) -> tuple[str, str | None]:
    """``Name: value`` (``Name:`` removes a default header)."""
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name or any(c in name for c in " \t\r\n"):
        raise argparse.ArgumentTypeError(f"bad header {text!r}: expected 'Name: value'")
    value = value.strip()
    return name, (value if value else None)


def _timeout_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1e7:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _count_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be 0-1000: {text}")
    return value


def _seconds_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 1e7:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text}")
    return value


#: ``--help``'s exit codes: ours, and the curl codes each stands for.
EXIT_CODES = (
    "Exit codes (curl's for the same failure in brackets): 0 ok, any HTTP status unless -f [0]; "
    "2 usage, configuration, unreadable file or unwritable output [2, 3, 23, 26]; 3 DNS [6]; "
    "4 connect, or a proxy that refused the tunnel [7, 56]; 5 TLS handshake [35]; "
    "6 certificate verification [60]; 7 HTTP or protocol error after the handshake, too many "
    "redirects, a body that does not decode [8, 18, 47, 56, 61]; 8 timeout [28]; "
    "22 HTTP status >= 400 with -f [22]."
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``get`` on the CLI's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "get",
        help="fetch an https:// (or http://) URL through esp-tls (curl-like)",
        description="Fetch an https:// URL through esp-tls (http:// without TLS): the body to stdout, "
        "logs to stderr. Without --timeout, esp-tls's default applies: 10 s for the connect, for the "
        "handshake and for each read or write. " + EXIT_CODES,
    )
    p.add_argument("url", metavar="URL", help="https://host[:port]/path (or http://)")
    trust = p.add_argument_group("trust")
    trust.add_argument("--cacert", metavar="FILE", help="trust these CA certificates (PEM or DER)")
    trust.add_argument("--bundle", metavar="FILE", help="trust an ESP x509 certificate bundle (default: the built-in)")
    trust.add_argument("-k", "--insecure", action="store_true", help="no certificate verification at all (unsafe)")
    trust.add_argument("--skip-common-name", action="store_true", help="no SNI and no host name check")
    trust.add_argument("--common-name", metavar="NAME", help="SNI and name to check instead of the URL's host")
    trust.add_argument(
        "--verify-policy",
        choices=("webpki", "mbedtls"),
        help="(default webpki; mbedtls with a device profile such as esp32-mbedtls)",
    )
    tls = p.add_argument_group("TLS")
    tls.add_argument("--tls-version", choices=("1.2", "1.3"), help="only this version (default: both)")
    tls.add_argument("--tls-max", choices=("1.2", "1.3", "default"), help="at most this version (curl's)")
    tls.add_argument("--tlsv1.2", dest="tls_min", action="store_const", const="1.2", help="at least TLS 1.2")
    tls.add_argument("--tlsv1.3", dest="tls_min", action="store_const", const="1.3", help="at least TLS 1.3")
    tls.add_argument("--ciphers", metavar="LIST", help="cipher suites: IANA names or 0x ids, comma separated")
    tls.add_argument("--groups", metavar="LIST", help="key exchange groups, comma separated (x25519,secp256r1,...)")
    tls.add_argument("--profile", default="default", metavar="NAME", help="ClientHello profile (default: default)")
    tls.add_argument("--alpn", metavar="LIST", help="ALPN protocols, comma separated")
    tls.add_argument("--engine", choices=("python", "openssl"), default="python", help="TLS engine (default python)")
    tls.add_argument(
        "--session",
        metavar="FILE",
        help="resume from and save the session to FILE (0600); it resumes only if "
        "this run verifies the server as the saving run did (-k: any)",
    )
    tls.add_argument("--early-data", action="store_true", help="send a GET/HEAD as 0-RTT when the session allows")
    tls.add_argument("--cert", metavar="FILE", help="client certificate (PEM or DER)")
    tls.add_argument("--key", metavar="FILE", help="client private key (PEM or DER)")
    tls.add_argument("--keylog", metavar="FILE", help="append NSS key log lines (else $SSLKEYLOGFILE)")
    from .tls_clock import add_options

    add_options(p.add_argument_group("clock"))
    net = p.add_argument_group("connection")
    net.add_argument(
        "--resolve",
        action="append",
        default=[],
        type=_resolve_arg,
        metavar="HOST:PORT:ADDR",
        help="connect to ADDR for HOST:PORT (repeatable)",
    )
    net.add_argument(
        "--connect-to",
        action="append",
        default=[],
        type=_connect_to_arg,
        metavar="HOST1:PORT1:HOST2:PORT2",
        help="connect to HOST2:PORT2 for HOST1:PORT1, empty fields allowed (repeatable)",
    )
    net.add_argument(
        "--dns-server",
        "--dns-servers",
        action="extend",
        default=[],
        type=dns_servers_arg,
        metavar="ADDR[:PORT][,...]",
        help="DNS servers to ask instead of /etc/resolv.conf's ([IPV6]:PORT with a port; repeatable)",
    )
    net.add_argument(
        "--no-happy-eyeballs",
        action="store_true",
        help="resolve and connect as the device (and the example) does: AAAA then A, "
        "esp-lwip's dns_select picks one address, no racing",
    )
    net.add_argument(
        "--tcp-fastopen",
        action="store_true",
        help="send the ClientHello (and 0-RTT data) with the SYN when the kernel has a TCP Fast Open cookie "
        "for the server; falls back silently",
    )
    family = net.add_mutually_exclusive_group()
    family.add_argument("-4", "--ipv4", action="store_true", help="IPv4 only")
    family.add_argument("-6", "--ipv6", action="store_true", help="IPv6 only")
    net.add_argument(
        "--timeout",
        "-m",
        "--max-time",
        type=_timeout_arg,
        metavar="S",
        help="limit for the whole request, in seconds (default: none; 10 s for each connect, handshake, "
        "read and write)",
    )
    net.add_argument(
        "-x",
        "--proxy",
        metavar="[http://][USER:PASS@]HOST[:PORT]",
        help="through this HTTP proxy: CONNECT for https://, absolute-form for http:// (port 1080 by "
        "default); default: $https_proxy/$HTTPS_PROXY, $http_proxy, $all_proxy",
    )
    net.add_argument(
        "--noproxy",
        metavar="LIST",
        help="hosts reached without the proxy: names (and their subdomains), "
        "addresses, CIDR blocks, '*' (default: $no_proxy/$NO_PROXY)",
    )
    net.add_argument(
        "--retry",
        type=_count_arg,
        default=0,
        metavar="N",
        help="try again up to N times after a transient "
        "error (curl's): a timeout, a name that does not resolve, HTTP 408/429/500/502/503/504 (default 0)",
    )
    net.add_argument(
        "--retry-delay",
        type=_seconds_arg,
        metavar="S",
        help="wait S seconds between tries (default: Retry-After, else 1 s doubling up to 10 min)",
    )
    net.add_argument(
        "--retry-max-time",
        type=_seconds_arg,
        default=0.0,
        metavar="S",
        help="no new try after S seconds (default 0: no limit)",
    )
    http = p.add_argument_group("HTTP")
    http.add_argument(
        "-H", "--header", action="append", default=[], type=_header_arg, metavar="'NAME: VALUE'", help="extra header"
    )
    http.add_argument("-X", "--request", metavar="METHOD", help="request method")
    http.add_argument("-A", "--user-agent", metavar="NAME", help="User-Agent header ('' sends none)")
    http.add_argument(
        "--compressed", action="store_true", help="ask for a gzip or deflate body (Accept-Encoding) and decode it"
    )
    http.add_argument("-f", "--fail", action="store_true", help="an HTTP status >= 400 is a failure: no body, exit 22")
    http.add_argument("-d", "--data", action="append", metavar="DATA", help="request body (@FILE reads a file); POST")
    http.add_argument("-i", "--include", action="store_true", help="show the response headers")
    http.add_argument("-I", "--head", action="store_true", help="HEAD request, show the headers")
    http.add_argument("-L", "--location", action="store_true", help=f"follow redirects (up to {MAX_REDIRECTS})")
    http.add_argument("-o", "--output", metavar="FILE", help="write the body to FILE")
    out = p.add_argument_group("diagnostics")
    out.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v curl's lines ('* ' info, '> ' request, '< ' response headers), -vv with esp-tls's log "
        "lines (DEBUG), -vvv with the engine's mbedTLS-style trace",
    )
    out.add_argument("-s", "--silent", action="store_true", help="no progress meter, warnings or error message")
    out.add_argument("-S", "--show-error", action="store_true", help="with -s: the error message still")
    out.add_argument(
        "-w",
        "--write-out",
        metavar="FORMAT",
        help="after the transfer, write FORMAT to stdout with curl's %%{variables} (http_code, time_total, "
        "size_download, remote_ip, ... %%header{NAME}), \\n escapes; @FILE reads it from FILE (@- stdin)",
    )
    out.add_argument("--json", metavar="FILE", help="write a JSON summary to FILE ('-' = stderr)")
    out.add_argument(
        "--explain",
        action="store_true",
        help="after the request, say what was negotiated and which of the profile's device limits came close; "
        "on failure, the mbedTLS error, its name and the server-side cause",
    )
    p.set_defaults(func=_run)
    return p
