"""``https-request get URL``: one HTTPS request through esp-tls, curl style.

The body goes to stdout (or ``-o FILE``), everything else to stderr: ESP-style
log lines (``-v`` INFO, ``-vv`` DEBUG with esp-tls's lines, ``-vvv`` VERBOSE
with the mbedTLS-style engine trace; without ``-v`` only warnings), warnings
and the one-line error. ``--json FILE`` (``-`` = stderr) adds one JSON object
describing the request (also written when it failed).

Exit status
-----------
0 success (any HTTP status), 2 usage or configuration error, 3 name
resolution, 4 connection refused or unreachable, 5 TLS handshake failure,
6 certificate verification failure, 7 HTTP or protocol error after the
handshake, 8 timeout. Errors print one line::

    https-request: <what failed>: <esp-tls name> (0x..., mbedTLS -0x..., flags 0x... <flag meanings>)

Saved sessions
--------------
``--session FILE`` loads a session saved by an earlier run and, once the
response has been read to its end (TLS 1.3 tickets arrive after the
handshake), writes the newest one back: atomically (a temporary file in the
same directory, created 0600, then ``os.replace``). The file belongs to the
URL's host and port (not a ``--connect-to`` target): it wraps
:meth:`Session.to_bytes` with its own magic, format number, host, port and
checksum. A corrupt, expired or foreign file costs one warning and a full
handshake (:mod:`.session_file`), as does a session whose server was not
verified the way this run verifies it (``-k`` resumes any; the rule is
:meth:`PeerCheck.refusal <https_request.tls.session.PeerCheck.refusal>`).
``--early-data`` sends a GET or HEAD as
0-RTT when the saved session allows it. ``--tcp-fastopen`` (curl's name)
sends the first flight (the ClientHello, and the 0-RTT request) with the SYN
when the kernel holds a TCP Fast Open cookie for the server (the first
connection gets one); off by default (see :class:`~.esp_tls.config.EspTlsCfg`). The ``--json`` report and the error
line's description live in :mod:`.get_report`.

The options are declared in :mod:`.get_args` (what the CLI imports to build its
parser); this module runs the command, importing the TLS stack when it does, so
``https-request --version`` does not load ``cryptography``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Literal

from .get_args import MAX_REDIRECTS

if TYPE_CHECKING:
    from .curlargs import ConnectTo
    from .esp_tls.config import EspTlsCfg, TlsClock
    from .esp_tls.conn import EspTls, TlsInfo
    from .esp_tls.errors import LastError
    from .get_report import Report
    from .http.client import Response
    from .session_file import SessionFile
    from .tls.session import Session

__all__ = [
    "EXIT_CONNECT",
    "EXIT_DNS",
    "EXIT_HTTP",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_TLS",
    "EXIT_USAGE",
    "EXIT_VERIFY",
    "MAX_REDIRECTS",
    "run_get",
]

_PROG = "https-request"
_TAG = "https-request"

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_DNS = 3
EXIT_CONNECT = 4
EXIT_TLS = 5
EXIT_VERIFY = 6
EXIT_HTTP = 7
EXIT_TIMEOUT = 8

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_IDEMPOTENT = frozenset({"GET", "HEAD"})


class _Fail(Exception):
    """Stop with ``code``, printing ``https-request: <message>``."""

    def __init__(self, code: int, message: str, last_error: LastError | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.last_error = last_error  # esp-tls's record of the failure, for --explain


def _connect_target(
    host: str,
    port: int,
    connect_to: list[ConnectTo],
    resolve: list[tuple[str, int, str]],
) -> tuple[str, int] | None:
    """Where to connect for ``host``:``port``, or None for the host itself.

    The first matching ``--connect-to`` rewrites host and port; ``--resolve``
    then gives the rewritten name an address (as curl does).
    """
    target_host, target_port = host, port
    for rule in connect_to:
        if rule.matches(host, port):
            target_host, target_port = rule.target(host, port)
            break
    address = target_host
    for name, rport, addr in resolve:
        if (name == "*" or name.lower() == target_host.lower()) and rport == target_port:
            address = addr
            break
    if (address, target_port) == (host, port):
        return None
    return address, target_port


# --- the request -------------------------------------------------------------


class _Deadline:
    """An EspTls seen through the whole-request deadline (``--timeout``)."""

    def __init__(self, tls: EspTls, deadline: float | None, seconds: float | None) -> None:
        self._tls = tls
        self._deadline = deadline
        self._seconds = seconds

    @property
    def host(self) -> str:
        return self._tls.host

    @property
    def port(self) -> int:
        return self._tls.port

    def _left(self) -> float | None:
        if self._deadline is None:
            return None
        left = self._deadline - time.monotonic()
        if left <= 0:
            from .esp_tls.conn import EspTlsTimeout
            from .esp_tls.errors import EspErr, LastError

            raise EspTlsTimeout(
                LastError(EspErr.ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT, 0, 0, f"the request took over {self._seconds} s")
            )
        return left

    def write(self, data: bytes) -> int:
        return self._tls.write(data, self._left())

    def read(self, max_bytes: int) -> bytes:
        return self._tls.read(max_bytes, self._left())


def _exit_for(le: LastError, timed_out: bool) -> int:
    code = le.last_error
    if timed_out or code in (0x8006, 0x8009):
        return EXIT_TIMEOUT
    if code == 0x8001:
        return EXIT_DNS
    if code in (0x8002, 0x8003, 0x8004, 0x8005, 0x8008):
        return EXIT_CONNECT
    if code == 0x801A:
        if le.esp_tls_flags or le.esp_tls_error_code in (0x2700, 0x3000, 0x7A00):
            return EXIT_VERIFY
        return EXIT_TLS
    if code in (0x801D, 0x8018):
        return EXIT_HTTP
    return EXIT_USAGE


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Plan:
    """Everything decided before the first connection."""

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
    ) -> None:
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.cfg = cfg
        self.versions = versions
        self.connect_to = connect_to
        self.resolve = resolve
        self.timeout = timeout


class _Get:
    """One ``get`` run: redirects, sessions, output, report."""

    def __init__(self, args: argparse.Namespace, report: Report) -> None:
        self.args = args
        self.report = report
        self.t0 = time.monotonic()  # restarted when the request starts (after the imports)
        self.deadline: float | None = None
        self.out: IO[bytes] | None = None
        self.warned: set[str] = set()
        self.clock: TlsClock | None = None  # the clock certificates are checked on (None: the system's)
        self.policy = ""  # the verify policy plan() chose and the trust ("" with --insecure), for --explain
        from . import log

        self.log = log.get_logger(_TAG)

    def warn(self, message: str) -> None:
        if message not in self.warned:
            self.warned.add(message)
            sys.stderr.write(f"{_PROG}: warning: {message}\n")
            sys.stderr.flush()

    # -- options -> plan -----------------------------------------------------

    def _read_file(self, option: str, path: str) -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as exc:
            raise _Fail(EXIT_USAGE, f"{option} {path}: cannot read: {exc.strerror or exc}") from None

    def _read_certificates(self, option: str, path: str) -> bytes:
        """The file's bytes, once known to hold something shaped like a certificate (esp-tls
        would say so only after connecting). Parsing them waits for esp-tls: cryptography's
        X.509 code is not imported before the connection starts, and not at all when a
        saved session resumes (a certificate that does not parse is an exit 2 then)."""
        from .esp_tls.trust import CertParseError, check_certificates

        data = self._read_file(option, path)
        try:
            check_certificates(data)
        except CertParseError as exc:
            raise _Fail(EXIT_USAGE, f"{option} {path}: {exc.detail}") from None
        return data

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
            raise _Fail(EXIT_USAGE, f"key log {path}: cannot open: {exc.strerror or exc}") from None
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
            raise _Fail(EXIT_USAGE if exc.usage else EXIT_CONNECT, str(exc)) from None

    def plan(self) -> _Plan:
        from .esp_tls.config import AddrFamily, EspTlsCfg, TlsVersion

        args = self.args
        url = args.url if "://" in args.url else f"https://{args.url}"
        scheme = url.partition("://")[0].lower()
        if scheme != "https":
            raise _Fail(EXIT_USAGE, f"{url}: only https:// URLs are supported")
        self.report.url = url

        ciphers: tuple[int, ...] | None = None
        if args.ciphers is not None:
            from .tls.catalogue import parse_cipher_list  # the registry's name tables: only with --ciphers
            from .tls.suites import check_suites_fit_versions

            try:
                ciphers = parse_cipher_list(args.ciphers)
            except ValueError as exc:
                raise _Fail(EXIT_USAGE, f"--ciphers: {exc}") from None
        groups = _parse_groups(args.groups) if args.groups is not None else None
        policy: Literal["webpki", "mbedtls"] = "mbedtls" if args.verify_policy == "mbedtls" else "webpki"
        if args.profile != "default":  # the default exists: no TLS stack to import before connecting
            from .tls.profiles import PROFILES

            if args.profile not in PROFILES:
                raise _Fail(EXIT_USAGE, f"--profile: unknown profile {args.profile!r}; known: {', '.join(PROFILES)}")
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
                raise _Fail(EXIT_USAGE, f"--alpn: bad protocol list {args.alpn!r}")

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
            self.log.i("Engine openssl: trusting certifi's Mozilla roots (the source of the built-in bundle)")
        else:
            bundle = True
        if (args.cert is None) != (args.key is None):
            raise _Fail(EXIT_USAGE, "--cert and --key go together")
        clientcert = self._read_certificates("--cert", args.cert) if args.cert is not None else None
        clientkey = self._read_file("--key", args.key) if args.key is not None else None

        method = args.request.upper() if args.request else ("HEAD" if args.head else ("POST" if args.data else "GET"))
        if args.head and args.data:
            raise _Fail(EXIT_USAGE, "-I and -d do not go together")
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

        defaults: list[tuple[str, str]] = [("User-Agent", f"https-request/{__version__}"), ("Accept", "*/*")]
        if args.data:
            defaults.append(("Content-Type", "application/x-www-form-urlencoded"))
        given = {name.lower() for name, _ in args.header}
        headers = [(n, v) for n, v in defaults if n.lower() not in given]
        headers += [(n, v) for n, v in args.header if v is not None]

        version = {"1.2": TlsVersion.TLS_1_2, "1.3": TlsVersion.TLS_1_3}.get(args.tls_version or "", TlsVersion.ANY)
        versions = {TlsVersion.TLS_1_2: (0x0303,), TlsVersion.TLS_1_3: (0x0304,)}.get(version, (0x0304, 0x0303))
        if ciphers is not None:  # a usage error, before connecting: the versions offered need a suite
            from .tls.profiles import get_profile

            offered = versions if version != TlsVersion.ANY else get_profile(args.profile).versions
            try:
                check_suites_fit_versions(ciphers, offered)
            except ValueError as exc:
                chosen = f"--tls-version {args.tls_version}" if args.tls_version else f"--profile {args.profile}"
                raise _Fail(EXIT_USAGE, f"--ciphers with {chosen}: {exc}") from None
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
        return _Plan(url, method, headers, body, cfg, versions, args.connect_to, args.resolve, args.timeout)

    # -- running -------------------------------------------------------------

    def _remaining_ms(self) -> int:
        if self.deadline is None:
            return 0
        left = self.deadline - time.monotonic()
        if left <= 0:
            from .esp_tls.errors import EspErr, LastError
            from .get_report import describe

            le = LastError(EspErr.ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT, 0, 0, "no time left for the next request")
            raise _Fail(
                EXIT_TIMEOUT, f"timed out (the whole request is limited to {self.args.timeout} s): {describe(le)}"
            )
        return max(1, int(left * 1000))

    def _output(self) -> IO[bytes]:
        if self.out is None:
            if self.args.output is not None:
                try:
                    self.out = open(self.args.output, "wb")
                except OSError as exc:
                    raise _Fail(EXIT_USAGE, f"-o {self.args.output}: cannot write: {exc.strerror or exc}") from None
            else:
                self.out = sys.stdout.buffer
        return self.out

    def _write(self, data: bytes) -> None:
        out = self._output()
        try:
            out.write(data)
        except OSError as exc:
            raise _Fail(EXIT_USAGE, f"cannot write the output: {exc.strerror or exc}") from None

    def _show_head(self, resp: Response) -> None:
        lines = [f"HTTP/{resp.http_version} {resp.status} {resp.reason}".rstrip()]
        lines += [f"{name}: {value}" for name, value in resp.headers]
        self._write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def run(self, plan: _Plan) -> int:
        from .esp_tls.conn import EspTls, EspTlsTimeout, parse_url
        from .esp_tls.errors import EspTlsError
        from .get_report import one_line
        from .log import INFO
        from .session_file import SessionFile, origin_key
        from .structs import replace

        args = self.args
        self.t0 = time.monotonic()
        self.deadline = self.t0 + plan.timeout if plan.timeout else None
        url, method, headers, body = plan.url, plan.method, list(plan.headers), plan.body
        try:
            origin = parse_url(url)
        except EspTlsError as exc:
            raise _Fail(EXIT_USAGE, exc.last_error.reason) from None  # "cannot parse URL ...", "port ... out of range"
        if not origin.host:
            raise _Fail(EXIT_USAGE, f"bad URL {url!r}: no host")
        store: SessionFile | None = None
        session: Session | None = None
        server_name = None if args.skip_common_name else (args.common_name or origin.host)
        if args.session is not None and args.engine == "openssl":
            self.warn(
                f"--session {args.session}: the openssl engine cannot resume a saved session (stdlib ssl "
                "cannot import one); not used"
            )
        elif args.session is not None:
            store = SessionFile(args.session, origin.host, origin.port, self.warn)
            session = store.load(plan.versions, server_name)
            if session is not None:
                self.log.i(
                    "Loaded a %s session for %s from %s",
                    _tls_name(session.version),
                    _hostport(origin.host, origin.port),
                    args.session,
                )
        newest: Session | None = None
        redirects = 0
        while True:
            try:
                target = parse_url(url)
            except EspTlsError as exc:
                raise _Fail(EXIT_HTTP, f"bad redirect Location: {exc.last_error.reason}") from None
            where = _hostport(target.host, target.port)
            same_origin = origin_key(target.host, target.port) == origin_key(origin.host, origin.port)
            offer = (newest or session) if same_origin else None
            early: _EarlyRequest | None = None
            if args.early_data:
                if method not in _IDEMPOTENT:
                    self.log.i("Early data is only sent for GET and HEAD, not %s", method)
                elif offer is None or offer.version != 0x0304 or offer.max_early_data <= 0:
                    self.log.i("No saved session allows early data: sending the request after the handshake")
                else:
                    early = _EarlyRequest(self, method, url, headers, body, target.host, target.port, offer)
            cfg = replace(
                plan.cfg,
                client_session=offer,
                early_data=early is not None,
                connect_address=_connect_target(target.host, target.port, plan.connect_to, plan.resolve),
                timeout_ms=self._remaining_ms() if self.deadline is not None else 0,
            )
            if cfg.connect_address is not None:
                self.log.i("Connecting to %s for %s", _hostport(*cfg.connect_address), where)
            t_conn = time.monotonic()
            handle = EspTls()  # ours, so that a refused session is known even when the connection fails
            try:  # what follows the handshake is imported while the ClientHello travels
                tls = EspTls.conn_http_new_sync(
                    url, cfg, early_data=early or b"", tls=handle, meanwhile=lambda: _prepare(store is not None)
                )
            except EspTlsError as exc:
                lookup, shown = target.host, where
                if cfg.connect_address is not None:
                    lookup, shown = cfg.connect_address[0], f"{where} (via {_hostport(*cfg.connect_address)})"
                raise self._esp_failure(exc, isinstance(exc, EspTlsTimeout), shown, lookup) from None
            finally:
                if store is not None:
                    store.warn_if_refused(handle)
            self.report.info = tls.info
            self.report.connect_ms = tls.info.connect_ms
            self.report.tls_ms = tls.info.tls_ms
            if self.report.wanted or self.log.is_enabled(INFO):
                self.report.nat64 = _nat64(tls.info.address, cfg.dns_servers)
            self._log_info(tls.info)
            if args.explain:
                from .get_explain import explain_success

                sys.stderr.write("".join(f"{line}\n" for line in explain_success(args.profile, tls.info, self.policy)))
            from .http.client import HttpError, request

            transport = _Deadline(tls, self.deadline, plan.timeout)
            try:
                try:
                    sent = early is not None and bool(early.data)
                    resp = request(transport, method, _request_target(url), headers, body, already_sent=sent)
                    self.report.first_byte_ms = (time.monotonic() - t_conn) * 1000
                    self.report.status, self.report.reason = resp.status, resp.reason
                    self.report.http_version = resp.http_version
                    location = resp.header("location")
                    follow = args.location and resp.status in _REDIRECTS and location is not None
                    if args.include or args.head:
                        self._show_head(resp)
                    if follow:
                        resp.read()  # to the end: tickets, and a clean close
                    else:
                        self._output()  # -o FILE exists even for an empty body
                        for chunk in resp.iter_body():
                            if not args.head:
                                self._write(chunk)
                    if store is not None and same_origin:
                        tls.wait_client_session()  # a resumed handshake's new ticket may follow the response
                except EspTlsError as exc:
                    raise self._esp_failure(exc, isinstance(exc, EspTlsTimeout), where, None) from None
                except HttpError as exc:
                    raise _Fail(EXIT_HTTP, f"bad response from {where}: {one_line(str(exc))}") from None
                except ValueError as exc:  # "cannot send this request: ..." (http.client's words)
                    raise _Fail(EXIT_USAGE, str(exc)) from None
            finally:
                tls.close()
                if same_origin:
                    newest = tls.get_client_session() or newest
            if not follow:
                break
            assert location is not None
            redirects += 1
            self.report.redirects = redirects
            if redirects > MAX_REDIRECTS:
                raise _Fail(EXIT_HTTP, f"too many redirects (more than {MAX_REDIRECTS})")
            from urllib.parse import urljoin, urlsplit

            next_url = urljoin(url, location)
            if urlsplit(next_url).scheme.lower() != "https":
                raise _Fail(EXIT_HTTP, f"redirect to {next_url}: only https:// URLs are supported")
            self.log.i("Following a %d redirect to %s", resp.status, next_url)
            if (resp.status == 303 and method != "HEAD") or (resp.status in (301, 302) and method == "POST"):
                method, body = "GET", b""
                headers = [(n, v) for n, v in headers if n.lower() not in ("content-type", "content-length")]
            if urlsplit(next_url).netloc.lower() != urlsplit(url).netloc.lower():
                headers = [(n, v) for n, v in headers if n.lower() not in ("authorization", "cookie", "host")]
            url = next_url
            self.report.url = url
        if store is not None and newest is not None:
            store.save(newest)
            self.log.i("Saved the %s session to %s", _tls_name(newest.version), store.path)
        return EXIT_OK

    def _esp_failure(self, exc: Exception, timed_out: bool, where: str, lookup: str | None) -> _Fail:
        """The _Fail for an esp-tls error; ``lookup`` is the name resolved (None once connected)."""
        from .esp_tls.errors import EspTlsError
        from .get_report import describe, time_failure

        assert isinstance(exc, EspTlsError)
        le = exc.last_error
        code = _exit_for(le, timed_out)
        if code == EXIT_TIMEOUT and self.args.timeout:
            what = f"{where}: timed out ({'the whole request is limited to ' + str(self.args.timeout) + ' s'})"
        elif code == EXIT_TIMEOUT:
            what = f"{where}: timed out"
        elif code == EXIT_DNS:
            what = f"cannot resolve {lookup or where}"
        elif code == EXIT_CONNECT:
            what = f"cannot connect to {where}"
        elif code == EXIT_VERIFY:
            what = f"certificate verification failed for {where}"
        elif code == EXIT_TLS:
            what = f"TLS handshake with {where} failed"
        elif code == EXIT_HTTP:
            what = f"{'talking to' if lookup is not None else 'reading the response from'} {where} failed"
        else:
            what = "configuration error"
        note = None
        if time_failure(le):  # name the clock checked, and its skew when an SNTP server answers
            from .tls_clock import sntp_servers, time_note

            note = time_note(self.clock, sntp_servers(self.args), dns_servers=tuple(self.args.dns_server))
        return _Fail(code, f"{what}: {describe(le, note)}", le)

    def _log_info(self, info: TlsInfo) -> None:
        from . import log

        if not self.log.is_enabled(log.INFO):  # only with -v: naming the suite imports the catalogue
            return
        self.log.i(
            "%s, %s, group %s, ALPN %s%s%s",
            info.version,
            info.cipher_suite_name,
            info.group or "-",
            info.alpn or "-",
            ", resumed" if info.resumed else "",
            f", early data {info.early_data}" if info.early_data != "none" else "",
        )
        if info.peer_subject:
            self.log.i("Server certificate: %s", info.peer_subject)
        if info.tcp_fastopen is not None:
            self.log.i("TCP Fast Open: %s", info.tcp_fastopen)
        if self.report.nat64 is not None:
            v4, prefix = self.report.nat64
            self.log.i("Connected to %s: %s through NAT64 (prefix %s)", info.address, v4, prefix)


class _EarlyRequest:
    """The request as 0-RTT data for ``session``, made when esp-tls calls it: while the
    connect is in flight (or once it is up), before the ClientHello (the HTTP layer,
    h11, is imported then, after the SYN). b"" when the request exceeds the
    session's early data limit (then it goes after the handshake); ``data`` is what
    was sent. A request h11 refuses fails the run (exit 2)."""

    def __init__(
        self,
        get: _Get,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        host: str,
        port: int,
        session: Session,
    ) -> None:
        self._get, self._session = get, session
        self._request = (method, url, headers, body, host, port)
        self.data = b""

    def __call__(self) -> bytes:
        from .http.client import request_bytes

        method, url, headers, body, host, port = self._request
        try:
            data = request_bytes(method, _request_target(url), headers, body, host=host, port=port)
        except ValueError as exc:  # "cannot send this request: ..." (http.client's words)
            raise _Fail(EXIT_USAGE, str(exc)) from None
        limit = self._session.max_early_data
        if len(data) > limit:
            self._get.log.i("The request (%d bytes) exceeds the early data limit (%d)", len(data), limit)
            return b""
        self.data = data
        return data


def _request_target(url: str) -> str:
    """The request line's target for ``url``: its path (``/`` when empty) and query."""
    from urllib.parse import urlsplit  # imported once connected

    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _prepare(saves_session: bool) -> None:
    """Import, while the ClientHello travels, what the run needs once connected: the HTTP
    layer (h11), urllib.parse (:func:`_request_target`) and, to save a session, :mod:`.files`
    with the tempfile module its atomic write imports."""
    import urllib.parse  # noqa: F401

    from .http import client  # noqa: F401

    if saves_session:
        import tempfile  # noqa: F401

        from . import files  # noqa: F401


def _nat64(address: str | None, servers: tuple[str, ...]) -> tuple[str, str] | None:
    """``(IPv4 address, prefix)`` when ``address`` is a NAT64 address (RFC 6052):
    under the well-known prefix, or under a prefix the DNS servers' DNS64
    reveals for ipv4only.arpa (RFC 7050; asked only for an IPv6 address
    outside the well-known prefix). None otherwise, or when the DNS cannot say."""
    from ipaddress import IPv6Address, ip_address

    from .dns import nat64

    peer = ip_address(address) if address else None
    if not isinstance(peer, IPv6Address):
        return None
    prefixes: tuple[nat64.Pref64, ...] = (nat64.WELL_KNOWN,)
    if nat64.extract(peer, nat64.WELL_KNOWN) is None:
        from .dns.lookup import resolver_for
        from .dns.resolver import DnsError

        try:
            resolver = resolver_for(servers)
            prefixes = nat64.discover(lambda name, rdtype: resolver.query(name, rdtype).addresses)
        except (DnsError, OSError, ValueError):  # no DNS64 to learn from, or no DNS: nothing to say
            return None
    for prefix in prefixes:
        v4 = nat64.extract(peer, prefix)
        if v4 is not None:
            return str(v4), str(prefix.network)
    return None


def _tls_name(version: int) -> str:
    return {0x0304: "TLS 1.3", 0x0303: "TLS 1.2"}.get(version, f"0x{version:04x}")


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
                raise _Fail(EXIT_USAGE, f"--groups: bad group {entry!r}") from None
            if not 0 < group <= 0xFFFF:
                raise _Fail(EXIT_USAGE, f"--groups: bad group {entry!r}")
        else:
            known = ", ".join(g.name for g in NamedGroup)
            raise _Fail(EXIT_USAGE, f"--groups: unknown group {entry!r}; known: {known} (or 0x ids)")
        if group in ids:
            raise _Fail(EXIT_USAGE, f"--groups: {entry!r} is repeated")
        ids.append(group)
    return tuple(ids)


def _setup_logging(verbose: int) -> None:
    from . import log

    level = (log.WARN, log.INFO, log.DEBUG, log.VERBOSE)[min(verbose, 3)]
    handler = log.setup(level)
    if verbose >= 2:  # -vv: lwIP's DNS lines too, as LWIP_DNS_DEBUG prints them
        from .dns import lookup

        lookup.set_debug(log.raw)
    if verbose == 0:
        # Without -v, the one-line summary replaces the library's error lines.
        handler.add_filter(lambda record: record.level != log.ERROR)


def run_get(args: argparse.Namespace) -> int:
    """Run ``get`` with the options :mod:`.get_args` parsed; returns the exit status."""
    from .get_report import Report, write_json

    _setup_logging(args.verbose)
    report = Report(url=args.url)
    report.wanted = args.json is not None
    get = _Get(args, report)
    try:
        code = get.run(get.plan())
    except _Fail as exc:
        code = exc.code
        report.error = exc.message
        sys.stderr.write(f"{_PROG}: {exc.message}\n")
        if args.explain and exc.last_error is not None:
            from .get_explain import explain_failure

            sys.stderr.write("".join(f"{line}\n" for line in explain_failure(args.profile, exc.last_error)))
    finally:
        if get.out is not None:
            try:
                if get.out is sys.stdout.buffer:
                    get.out.flush()
                else:
                    get.out.close()  # flushes, and closes the file even when that fails
            except OSError as exc:  # a full disk, a reader gone (EPIPE): the body did not all get out
                if get.out is sys.stdout.buffer:
                    from .cli import discard_stdout

                    discard_stdout()  # what is still buffered must not fail again at exit
                message = f"cannot write the output: {exc.strerror or exc}"
                if message != report.error:  # not said already by the write that failed the same way
                    sys.stderr.write(f"{_PROG}: {message}\n")
                if code == 0:  # the body did not get where it was asked to go
                    code, report.error = EXIT_USAGE, message
    report.total_ms = (time.monotonic() - get.t0) * 1000
    report.exit_code = code
    if args.json is not None:
        write_json(args.json, report, _PROG)
    return code
