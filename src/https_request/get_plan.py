"""``https-request get``: from the parsed options to a :class:`Plan` (everything decided
before the first connection: the URL, the request, the esp-tls configuration, the
proxy, the trust files read), and the exit codes with :class:`Fail`, the error
that stops the run. :mod:`.get_cli` runs the plan. Light: what a plain
``get https://...`` needs is imported here; what an option needs, when it is given.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .curlargs import ConnectTo
    from .esp_tls.config import EspTlsCfg, TlsClock, TlsVersion
    from .esp_tls.errors import LastError
    from .get_report import Report
    from .http.proxy import Proxy

__all__ = [
    "EXIT_CONNECT",
    "EXIT_DNS",
    "EXIT_HTTP",
    "EXIT_HTTP_STATUS",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_TLS",
    "EXIT_USAGE",
    "EXIT_VERIFY",
    "PROG",
    "Fail",
    "Plan",
    "Planning",
    "hostport",
]

PROG = "https-request"

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_DNS = 3
EXIT_CONNECT = 4
EXIT_TLS = 5
EXIT_VERIFY = 6
EXIT_HTTP = 7
EXIT_TIMEOUT = 8
EXIT_HTTP_STATUS = 22  # -f and an HTTP status >= 400 (curl's 22)


class Fail(Exception):
    """Stop with ``code``, printing ``https-request: <message>``."""

    def __init__(self, code: int, message: str, last_error: LastError | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.last_error = last_error  # esp-tls's record of the failure, for --explain


def hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Plan:
    """Everything decided before the first connection. ``proxy``/``noproxy``: ``-x`` and
    ``--noproxy`` (:meth:`proxy_for` decides per URL, the environment's too)."""

    def __init__(
        self,
        url: str,
        method: str,
        headers: list[tuple[str, str]],
        body: bytes,
        cfg: EspTlsCfg,
        versions: tuple[int, ...],
        connect_to: list[ConnectTo],
        resolve: list[tuple[str, int, str]],
        timeout: float | None,
        proxy: Proxy | None = None,
        noproxy: str | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.proxy = proxy  # -x's (None: the environment's, looked up per URL)
        self.noproxy = noproxy
        self.user_agent = user_agent
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.cfg = cfg
        self.versions = versions
        self.connect_to = connect_to
        self.resolve = resolve
        self.timeout = timeout


_PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


class Planning:
    """The options of one ``get`` run made into a :class:`Plan` (:meth:`plan`); the warnings said once."""

    def __init__(self, args: argparse.Namespace, report: Report) -> None:
        self.args = args
        self.report = report
        self.warned: set[str] = set()
        self.clock: TlsClock | None = None  # the clock certificates are checked on (None: the system's)
        self._unchecked: list[tuple[str, str, bytes]] = []  # certificate files read, for check_files
        self.policy = ""  # the verify policy plan() chose and the trust ("" with --insecure), for --explain

    def warn(self, message: str) -> None:
        """``https-request: warning: <message>``, once (not with -s)."""
        if message not in self.warned and not self.args.silent:
            self.warned.add(message)
            sys.stderr.write(f"{PROG}: warning: {message}\n")
            sys.stderr.flush()

    def info(self, fmt: str, *args: object) -> None:
        """A ``* `` line of ``-v`` (curl's informational lines)."""
        if self.args.verbose:
            sys.stderr.write("* " + (fmt % args if args else fmt) + "\n")
            sys.stderr.flush()

    def proxy_for(self, plan: Plan, scheme: str, host: str) -> Proxy | None:
        """The proxy for a URL (:func:`.http.proxy.choose`); None, importing nothing, when
        neither ``-x`` nor the environment names one. Raises Fail for a bad $*_proxy."""
        if plan.proxy is None and not any(os.environ.get(name) for name in _PROXY_VARIABLES):
            return None
        from .http.proxy import choose

        try:
            return choose(scheme, host, plan.proxy, plan.noproxy, os.environ)
        except ValueError as exc:
            raise Fail(EXIT_USAGE, str(exc)) from None

    # -- options -> plan -----------------------------------------------------
    def _read_file(self, option: str, path: str) -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as exc:
            raise Fail(EXIT_USAGE, f"{option} {path}: cannot read: {exc.strerror or exc}") from None

    def _read_certificates(self, option: str, path: str) -> bytes:
        """The file's bytes; :meth:`check_files` says whether they hold something shaped
        like a certificate (esp-tls would say so only after connecting). Parsing them
        waits for esp-tls: cryptography's X.509 code is not imported before the connection
        starts, and not at all when a saved session resumes (a certificate that does not
        parse is an exit 2 then)."""
        data = self._read_file(option, path)
        self._unchecked.append((option, path, data))
        return data

    def check_files(self) -> None:
        """Check the certificate files :meth:`plan` read (``--cacert``, ``--cert``) for
        something shaped like a certificate, each once: Fail (exit 2) for the first that
        holds none. get runs it while its first connection's SYN is out (the trust module
        it imports is not needed to connect), and before it reports any other failure, so
        that such a file is said first, as when the check ran before connecting."""
        from .esp_tls.trust import CertParseError, check_certificates

        while self._unchecked:
            option, path, data = self._unchecked.pop(0)
            try:
                check_certificates(data)
            except CertParseError as exc:
                self._unchecked.clear()
                raise Fail(EXIT_USAGE, f"{option} {path}: {exc.detail}") from None

    def _keylog(self) -> Callable[[str], None] | None:
        path = self.args.keylog
        if path is None:
            path = os.environ.get("SSLKEYLOGFILE") or None
            if path is None:
                return None
            self.warn(f"SSLKEYLOGFILE is set: writing TLS secrets to {path}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise Fail(EXIT_USAGE, f"key log {path}: cannot open: {exc.strerror or exc}") from None
        stream = os.fdopen(fd, "a", encoding="ascii")

        def write(line: str) -> None:
            stream.write(line.rstrip("\n") + "\n")
            stream.flush()

        return write

    def _clock(self, dns_servers: tuple[str, ...]) -> TlsClock | None:
        from .tls_clock import ClockError, clock_from_args

        try:
            self.clock = clock_from_args(self.args, dns_servers)
            return self.clock
        except ClockError as exc:
            raise Fail(EXIT_USAGE if exc.usage else EXIT_CONNECT, str(exc)) from None

    def plan(self) -> Plan:
        from .esp_tls.config import AddrFamily, EspTlsCfg, TlsVersion

        args = self.args
        url = args.url if "://" in args.url else f"https://{args.url}"
        scheme = url.partition("://")[0].lower()
        if scheme not in ("https", "http"):
            raise Fail(EXIT_USAGE, f"{url}: only https:// and http:// URLs are supported")
        self.report.url = url

        ciphers: tuple[int, ...] | None = None
        if args.ciphers is not None:
            from .tls.catalogue import check_implemented, parse_cipher_list  # the name tables: only with --ciphers
            from .tls.suites import check_suites_fit_versions

            try:
                ciphers = parse_cipher_list(args.ciphers)
                check_implemented(ciphers)
            except ValueError as exc:
                raise Fail(EXIT_USAGE, f"--ciphers: {exc}") from None
        groups = _parse_groups(args.groups) if args.groups is not None else None
        policy: Literal["webpki", "mbedtls"] = "mbedtls" if args.verify_policy == "mbedtls" else "webpki"
        if args.profile != "default":  # the default exists: no TLS stack to import before connecting
            from .tls.profiles import PROFILES

            if args.profile not in PROFILES:
                raise Fail(EXIT_USAGE, f"--profile: unknown profile {args.profile!r}; known: {', '.join(PROFILES)}")
            if args.verify_policy is None and PROFILES[args.profile].device is not None and args.engine == "python":
                policy = "mbedtls"  # a device profile verifies as the device does
        if args.cacert is not None or args.engine == "openssl":
            trusted = f"--cacert {args.cacert}" if args.cacert else "certifi's roots"
        else:
            trusted = f"--bundle {args.bundle}" if args.bundle else "the built-in ESP certificate bundle"
        self.policy = "" if args.insecure else f"the {policy} policy against {trusted}"
        alpn: tuple[str, ...] = ()
        if args.alpn is not None:
            alpn = tuple(p.strip() for p in args.alpn.split(","))
            if not all(0 < len(p.encode()) < 256 for p in alpn):
                raise Fail(EXIT_USAGE, f"--alpn: bad protocol list {args.alpn!r}")

        cacert: bytes | None = None
        bundle: bool | bytes = False
        if args.insecure:
            pass  # esp-tls warns (W esp-tls-mbedtls: insecure=true: ...), at every verbosity
        elif args.cacert is not None:
            cacert = self._read_certificates("--cacert", args.cacert)
        elif args.bundle is not None:
            bundle = self._read_file("--bundle", args.bundle)
        elif args.engine == "openssl":
            # OpenSSL cannot run the bundle's verify callback: the Mozilla roots the built-in bundle comes from
            import certifi

            cacert = certifi.contents().encode()
            self.info("Engine openssl: trusting certifi's Mozilla roots (the source of the built-in bundle)")
        else:
            bundle = True
        if (args.cert is None) != (args.key is None):
            raise Fail(EXIT_USAGE, "--cert and --key go together")
        clientcert = self._read_certificates("--cert", args.cert) if args.cert is not None else None
        clientkey = self._read_file("--key", args.key) if args.key is not None else None

        method = args.request.upper() if args.request else ("HEAD" if args.head else ("POST" if args.data else "GET"))
        if args.head and args.data:
            raise Fail(EXIT_USAGE, "-I and -d do not go together")
        body = b""
        if args.data:
            parts = []
            for item in args.data:
                if item.startswith("@"):
                    name = item[1:]
                    parts.append(sys.stdin.buffer.read() if name == "-" else self._read_file("-d", name))
                else:
                    parts.append(item.encode())
            body = b"&".join(parts)

        from ._version import __version__

        agent = f"https-request/{__version__}" if args.user_agent is None else args.user_agent
        defaults: list[tuple[str, str]] = [("User-Agent", agent)] if agent else []
        defaults.append(("Accept", "*/*"))
        if args.compressed:
            from .http.encoding import accept_encoding

            defaults.append(("Accept-Encoding", accept_encoding()))
        if args.data:
            defaults.append(("Content-Type", "application/x-www-form-urlencoded"))
        given = {name.lower() for name, _ in args.header}
        headers = [(n, v) for n, v in defaults if n.lower() not in given]
        headers += [(n, v) for n, v in args.header if v is not None]
        proxy = None
        if args.proxy:
            from .http.proxy import parse_proxy

            try:
                proxy = parse_proxy(args.proxy)
            except ValueError as exc:
                raise Fail(EXIT_USAGE, f"-x: {exc}") from None

        version, versions = _versions(args)
        if ciphers is not None:  # a usage error, before connecting: the versions offered need a suite
            from .tls.profiles import get_profile

            offered = versions if version != TlsVersion.ANY else get_profile(args.profile).versions
            try:
                check_suites_fit_versions(ciphers, offered)
            except ValueError as exc:
                chosen = f"--profile {args.profile}"
                if version != TlsVersion.ANY:
                    chosen = f"--tls-version {args.tls_version}" if args.tls_version else "the TLS versions chosen"
                raise Fail(EXIT_USAGE, f"--ciphers with {chosen}: {exc}") from None
        family = AddrFamily.INET if args.ipv4 else AddrFamily.INET6 if args.ipv6 else AddrFamily.UNSPEC
        verbose = args.verbose
        cfg = EspTlsCfg(
            cacert=cacert,
            crt_bundle=bundle,
            skip_common_name=args.skip_common_name,
            common_name=args.common_name,
            ciphersuites=ciphers,
            tls_version=version,
            alpn_protos=alpn,
            timeout_ms=int(args.timeout * 1000) if args.timeout else 0,
            clientcert=clientcert,
            clientkey=clientkey,
            addr_family=family,
            dns_servers=tuple(args.dns_server),
            happy_eyeballs=not args.no_happy_eyeballs,
            tcp_fastopen=args.tcp_fastopen,
            profile=args.profile,
            groups=groups,
            verify_policy=policy,
            engine=args.engine,
            insecure=args.insecure,
            debug_level=4 if verbose >= 3 else 0,
            keylog=self._keylog(),
            clock=self._clock(tuple(args.dns_server)),
        )
        return Plan(
            url,
            method,
            headers,
            body,
            cfg,
            versions,
            args.connect_to,
            args.resolve,
            args.timeout,
            proxy,
            args.noproxy,
            agent or None,
        )


def _versions(args: argparse.Namespace) -> tuple[TlsVersion, tuple[int, ...]]:
    """The TLS versions --tls-version (exactly), --tlsv1.2/--tlsv1.3 (at least) and --tls-max
    (at most) leave, as esp-tls's TlsVersion and wire values. Raises Fail when none is left."""
    from .esp_tls.config import TlsVersion

    low, high = "1.2", "1.3"
    if args.tls_version:
        low = high = args.tls_version
    if args.tls_min and args.tls_min > low:
        low = args.tls_min
    if args.tls_max and args.tls_max != "default" and args.tls_max < high:
        high = args.tls_max
    if low > high:
        raise Fail(EXIT_USAGE, f"no TLS version left: at least {low} and at most {high}")
    if low == high:
        version = TlsVersion.TLS_1_2 if low == "1.2" else TlsVersion.TLS_1_3
        return version, ((0x0303,) if low == "1.2" else (0x0304,))
    return TlsVersion.ANY, (0x0304, 0x0303)


_GROUP_ALIASES = {
    "p-256": "secp256r1",
    "p256": "secp256r1",
    "prime256v1": "secp256r1",
    "p-384": "secp384r1",
    "p384": "secp384r1",
    "p-521": "secp521r1",
    "p521": "secp521r1",
}


def _parse_groups(text: str) -> tuple[int, ...]:
    from .tls.enums import NamedGroup

    by_name = {g.name.lower(): int(g) for g in NamedGroup}
    ids: list[int] = []
    for raw in text.split(","):
        entry = raw.strip()
        key = _GROUP_ALIASES.get(entry.lower(), entry.lower())
        if key in by_name:
            group = by_name[key]
        elif key.startswith("0x"):
            try:
                group = int(key, 16)
            except ValueError:
                raise Fail(EXIT_USAGE, f"--groups: bad group {entry!r}") from None
            if not 0 < group <= 0xFFFF:
                raise Fail(EXIT_USAGE, f"--groups: bad group {entry!r}")
        else:
            known = ", ".join(g.name for g in NamedGroup)
            raise Fail(EXIT_USAGE, f"--groups: unknown group {entry!r}; known: {known} (or 0x ids)")
        if group in ids:
            raise Fail(EXIT_USAGE, f"--groups: {entry!r} is repeated")
        ids.append(group)
    return tuple(ids)
