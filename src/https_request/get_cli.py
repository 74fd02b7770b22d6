"""``https-request get URL``: one HTTPS (or plain HTTP) request through esp-tls, curl style.

The body goes to stdout (or ``-o FILE``, with curl's progress meter when stderr
is a terminal), everything else to stderr: with ``-v`` curl's lines (``* ``
info, ``> `` the request head as sent, ``< `` the response head as received,
the proxy's CONNECT exchange too), with ``-vv`` also ESP-style log lines (INFO
and DEBUG: esp-tls's), with ``-vvv`` the mbedTLS-style engine trace; without
``-v`` only warnings; with ``-s`` nothing but what ``-S`` keeps (the error).
``--json FILE`` (``-`` = stderr) adds one JSON object describing the request
(also written when it failed); ``-w FORMAT`` curl's write-out (:mod:`.get_curl`).

Exit status
-----------
0 success (any HTTP status, unless ``-f``), 2 usage or configuration error, 3
name resolution, 4 connection refused or unreachable (or the proxy refused the
tunnel), 5 TLS handshake failure, 6 certificate verification failure, 7 HTTP or
protocol error after the handshake, 8 timeout, 22 an HTTP status >= 400 with
``-f``. ``--help`` names the curl codes each stands for. ``--retry N`` tries
again after a timeout, a DNS failure or HTTP 408/429/500/502/503/504 (curl's
transient failures; the answers it gives up on are not written). Errors print one line::

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
parser) and made into a plan by :mod:`.get_plan`; this module runs the command, importing the TLS stack when it does, so
``https-request --version`` does not load ``cryptography``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from functools import cache, partial
from typing import IO, TYPE_CHECKING

from .get_args import MAX_REDIRECTS
from .get_plan import (
    EXIT_CONNECT,
    EXIT_DNS,
    EXIT_HTTP,
    EXIT_HTTP_STATUS,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_TLS,
    EXIT_USAGE,
    EXIT_VERIFY,
    PROG,
    Fail,
    Plan,
    Planning,
    hostport,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from .curlargs import ConnectTo
    from .esp_tls.conn import EspTls, TlsInfo
    from .esp_tls.errors import LastError
    from .get_curl import Meter
    from .get_report import Report
    from .http.client import Response
    from .session_file import SessionFile
    from .tls.session import Session

__all__ = ["run_get"]  # the exit codes belong to get_plan, MAX_REDIRECTS to get_args

_IDEMPOTENT = frozenset({"GET", "HEAD"})
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})  # curl's transient HTTP errors for --retry
_RETRY_DELAY_MAX = 600.0  # curl's cap on the doubling delay (10 minutes)


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


class _Step:
    """The request a connection makes (redirects change it), and the run's sessions: the
    saved one (``saved()`` reads it on its first call: while the first connection's SYN
    is out) and the newest one a connection received."""

    def __init__(
        self,
        url: str,
        method: str,
        headers: list[tuple[str, str]],
        body: bytes,
        store: SessionFile | None,
        load: Callable[[], Session | None] | None,
        origin_host: str,
        origin_port: int,
    ) -> None:
        self.url, self.method, self.headers, self.body = url, method, headers, body
        self.store, self.saved = store, cache(load) if load is not None else (lambda: None)
        self.origin_host, self.origin_port = origin_host, origin_port
        self.newest: Session | None = None


class _Get(Planning):
    """One ``get`` run: its tries (--retry), redirects, sessions, output, report."""

    def __init__(self, args: argparse.Namespace, report: Report) -> None:
        super().__init__(args, report)
        self.t0 = time.monotonic()  # restarted when a try starts (after the imports)
        self.first_try = self.t0
        self.deadline: float | None = None
        self.out: IO[bytes] | None = None
        self.written = 0  # body bytes written to stdout (a try after them cannot take them back)
        self.tries_left = args.retry

    def attempts(self, plan: Plan) -> int:
        """:meth:`run`, and again after a transient failure while --retry allows (curl's
        rules: a timeout, a name that does not resolve, HTTP 408/429/500/502/503/504;
        --retry-delay, else Retry-After, else 1 s doubling; --retry-max-time). Raises
        Fail for the last try's failure."""
        from .get_report import Report

        delay = 1.0
        while True:
            try:
                code = self.run(plan)
            except Fail as exc:
                if exc.code not in (EXIT_TIMEOUT, EXIT_DNS) or not self.retrying(None):
                    raise
                problem = "timeout" if exc.code == EXIT_TIMEOUT else "cannot resolve the host"
            else:
                if not self.report.retry:
                    return code
                problem = f"HTTP {self.report.status}"
            wait = self._retry_wait(delay)
            delay = min(delay * 2, _RETRY_DELAY_MAX)
            self.tries_left -= 1
            if not self.args.silent:
                sys.stderr.write(
                    f"{PROG}: warning: transient problem: {problem}; will retry in {wait:g} s, "
                    f"{self.tries_left} {'retry' if self.tries_left == 1 else 'retries'} left\n"
                )
                sys.stderr.flush()
            time.sleep(wait)
            if self.out is not None and self.out is not sys.stdout.buffer:
                self.out.close()
                self.out = None  # -o FILE starts afresh
            wanted = self.report.wanted
            self.report = Report(url=plan.url)
            self.report.wanted = wanted

    def _retry_wait(self, delay: float) -> float:
        """Seconds before the next try: --retry-delay, else the answer's Retry-After (seconds), else ``delay``."""
        if self.args.retry_delay is not None:
            return float(self.args.retry_delay)
        after = self.report.retry_after
        if after is not None and after.strip().isdigit():
            return min(float(after.strip()), _RETRY_DELAY_MAX)
        return delay

    def _remaining_ms(self) -> int:
        if self.deadline is None:
            return 0
        left = self.deadline - time.monotonic()
        if left <= 0:
            from .esp_tls.errors import EspErr, LastError
            from .get_report import describe

            le = LastError(EspErr.ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT, 0, 0, "no time left for the next request")
            raise Fail(
                EXIT_TIMEOUT, f"timed out (the whole request is limited to {self.args.timeout} s): {describe(le)}"
            )
        return max(1, int(left * 1000))

    def _output(self) -> IO[bytes]:
        if self.out is None:
            if self.args.output is not None:
                try:
                    self.out = open(self.args.output, "wb")
                except OSError as exc:
                    raise Fail(EXIT_USAGE, f"-o {self.args.output}: cannot write: {exc.strerror or exc}") from None
            else:
                self.out = sys.stdout.buffer
        return self.out

    def _write(self, data: bytes) -> None:
        out = self._output()
        try:
            out.write(data)
            if out is sys.stdout.buffer:
                self.written += len(data)
        except OSError as exc:
            raise Fail(EXIT_USAGE, f"cannot write the output: {exc.strerror or exc}") from None

    def run(self, plan: Plan) -> int:
        """One try of the request: the connections of its redirects, the output, the session saved."""
        from .esp_tls.conn import parse_url
        from .esp_tls.errors import EspTlsError
        from .session_file import SessionFile

        args = self.args
        self.t0 = time.monotonic()
        self.deadline = self.t0 + plan.timeout if plan.timeout else None
        url = plan.url
        try:
            origin = parse_url(url)
        except EspTlsError as exc:
            raise Fail(EXIT_USAGE, exc.last_error.reason) from None  # "cannot parse URL ...", "port ... out of range"
        if not origin.host:
            raise Fail(EXIT_USAGE, f"bad URL {url!r}: no host")
        store: SessionFile | None = None
        load: Callable[[], Session | None] | None = None
        server_name = None if args.skip_common_name else (args.common_name or origin.host)
        if args.session is not None and args.engine == "openssl":
            self.warn(
                f"--session {args.session}: the openssl engine cannot resume a saved session (stdlib ssl "
                "cannot import one); not used"
            )
        elif args.session is not None and url.lower().startswith("https:"):
            store = SessionFile(args.session, origin.host, origin.port, self.warn)
            load = partial(self._load_session, store, plan.versions, server_name)
        step = _Step(url, plan.method, list(plan.headers), plan.body, store, load, origin.host, origin.port)
        while True:
            location = self._transfer(plan, step)
            if location is None:
                break
            self._redirect(step, location)
        if store is not None and step.newest is not None:
            store.save(step.newest)
            self.info("Saved the %s session to %s", _tls_name(step.newest.version), store.path)
        return EXIT_OK

    def _load_session(self, store: SessionFile, versions: tuple[int, ...], server_name: str | None) -> Session | None:
        """The saved session (:meth:`.SessionFile.load`: tls.session with hashlib, whose
        OpenSSL set-up is ~17 M instructions: esp-tls calls this while the SYN is out)."""
        session = store.load(versions, server_name)
        if session is not None:
            where = hostport(store.host, store.port)
            self.info("Loaded a %s session for %s from %s", _tls_name(session.version), where, store.path)
        return session

    def _redirect(self, step: _Step, location: str) -> None:
        """Make ``step`` the request to ``location`` (:mod:`.redirect`'s rule). Raises Fail past
        MAX_REDIRECTS or for a bad scheme."""
        from urllib.parse import urlsplit

        from .redirect import redirect

        status = self.report.status
        assert status is not None  # a response with a Location was read
        self.report.redirects += 1
        if self.report.redirects > MAX_REDIRECTS:
            raise Fail(EXIT_HTTP, f"too many redirects (more than {MAX_REDIRECTS})")
        after = redirect(step.method, step.url, step.headers, status, location)
        if urlsplit(after.url).scheme.lower() not in ("https", "http"):
            raise Fail(EXIT_HTTP, f"redirect to {after.url}: only https:// and http:// URLs are supported")
        self.info("Following a %d redirect to %s", status, after.url)
        step.method, step.url, step.headers = after.method, after.url, after.headers
        if after.drops_body:
            step.body = b""
        self.report.url = after.url

    def _transfer(self, plan: Plan, step: _Step) -> str | None:
        """One connection and its request; the Location to follow next, or None (done)."""
        from . import get_early
        from .esp_tls.conn import EspTls, EspTlsTimeout, parse_url
        from .esp_tls.errors import EspTlsError
        from .session_file import origin_key
        from .structs import replace

        args = self.args
        url, method, headers, body = step.url, step.method, step.headers, step.body
        try:
            target = parse_url(url)
        except EspTlsError as exc:
            raise Fail(EXIT_HTTP, f"bad redirect Location: {exc.last_error.reason}") from None
        plain = url[:5].lower() == "http:"
        where = hostport(target.host, target.port)
        same_origin = origin_key(target.host, target.port) == origin_key(step.origin_host, step.origin_port)
        resumes = same_origin and not plain
        offer = step.newest if resumes else None
        saved = step.saved if resumes and offer is None else None  # esp-tls reads it while the SYN is out
        early: _EarlyRequest | None = None
        if args.early_data and not plain:
            if method not in _IDEMPOTENT:
                self.info("Early data is only sent for GET and HEAD, not %s", method)
            else:
                session = saved or (lambda: offer)
                early = _EarlyRequest(self, method, url, headers, body, target.host, target.port, session)
        proxy = self.proxy_for(plan, "http" if plain else "https", target.host)
        connect_address = _connect_target(target.host, target.port, plan.connect_to, plan.resolve)
        tunnel = None
        request_target = None
        if proxy is not None:
            from .http.proxy import authorization
            from .http.proxy import tunnel as make_tunnel

            connect_address = _connect_target(proxy.host, proxy.port, [], plan.resolve) or (proxy.host, proxy.port)
            self.info("Using the HTTP proxy %s for %s", proxy, where)
            if plain:  # absolute-form through the proxy, with its credentials
                request_target = url.split("#", 1)[0]
                credentials = authorization(proxy)
                if credentials is not None:
                    headers = [*headers, ("Proxy-Authorization", credentials)]
            else:
                trace = self._trace if args.verbose else None
                tunnel = make_tunnel(proxy, target.host, target.port, plan.user_agent, trace)
        cfg = replace(
            plan.cfg,
            client_session=offer,
            early_data=early is not None,
            connect_address=connect_address,
            timeout_ms=self._remaining_ms() if self.deadline is not None else 0,
            is_plain_tcp=plain,
            tunnel=tunnel,
        )
        if cfg.connect_address is not None and proxy is None:
            self.info("Connecting to %s for %s", hostport(*cfg.connect_address), where)
        t_conn = time.monotonic()
        self.report.conn_start_ms = (t_conn - self.t0) * 1000
        handle = EspTls()  # ours, so that a refused session is known even when the connection fails
        store = step.store
        try:  # what follows the handshake is imported while the ClientHello travels
            tls = EspTls.conn_http_new_sync(
                url,
                cfg,
                early_data=early or b"",
                tls=handle,
                meanwhile=lambda: _prepare(store is not None),
                prepare=self._while_connecting,
                session=saved,
                started=get_early.claim,  # the connect the CLI began before parsing, if this is where it goes
            )
        except EspTlsError as exc:
            self.check_files()  # when the connection failed first: a file that holds no certificate is said first
            lookup, shown = target.host, where
            if cfg.connect_address is not None:
                lookup, shown = cfg.connect_address[0], f"{where} (via {hostport(*cfg.connect_address)})"
            raise self._esp_failure(exc, isinstance(exc, EspTlsTimeout), shown, lookup) from None
        finally:
            if store is not None:
                store.warn_if_refused(handle)
        self.report.num_connects += 1
        self.report.info = tls.info
        self.report.connect_ms = tls.info.connect_ms
        self.report.tls_ms = tls.info.tls_ms
        self.report.scheme = "HTTP" if plain else "HTTPS"
        if self.report.wanted or args.verbose:
            from .dns.nat64 import translated_peer

            self.report.nat64 = translated_peer(tls.info.address, cfg.dns_servers)
        self._log_info(tls.info, target.host)
        if self.args.explain:
            from .get_explain import explain_success

            sys.stderr.write("".join(f"{line}\n" for line in explain_success(self.args.profile, tls.info, self.policy)))
        try:
            return self._exchange(tls, step, early, request_target or _request_target(url), headers, where, same_origin)
        finally:
            tls.close()
            if same_origin:
                step.newest = tls.get_client_session() or step.newest

    def _exchange(
        self,
        tls: EspTls,
        step: _Step,
        early: _EarlyRequest | None,
        target: str,
        headers: list[tuple[str, str]],
        where: str,
        same_origin: bool,
    ) -> str | None:
        """The request on ``tls`` and its response: shown, written, decoded; the Location to follow, or None."""
        from .esp_tls.conn import EspTlsTimeout
        from .esp_tls.errors import EspTlsError
        from .get_report import one_line
        from .http.client import HttpError, request

        args, report = self.args, self.report
        transport = _Deadline(tls, self.deadline, args.timeout)
        try:
            sent = early is not None and bool(early.data)
            report.pretransfer_ms = (time.monotonic() - self.t0) * 1000
            resp = request(transport, step.method, target, headers, step.body, already_sent=sent)
            report.first_byte_ms = (time.monotonic() - self.t0) * 1000 - report.conn_start_ms
            report.status, report.reason = resp.status, resp.reason
            report.http_version = resp.http_version
            report.headers = resp.raw_headers
            report.size_request += len(resp.request_head) + len(step.body)  # curl's sizes add up over redirects
            head = f"HTTP/{resp.http_version} {resp.status} {resp.reason}".rstrip()
            head_lines = [head, *(f"{name}: {value}" for name, value in resp.raw_headers)]
            report.size_header += sum(len(line) + 2 for line in head_lines) + 2
            if args.verbose:
                for line in resp.request_head.decode("latin-1").split("\r\n")[:-1]:
                    self._trace(">", line)
                for line in [*head_lines, ""]:
                    self._trace("<", line)
            location = resp.header("location")
            report.redirect_url = None
            if location is not None:
                from urllib.parse import urljoin

                report.redirect_url = urljoin(step.url, location)
            follow = False
            if args.location and location is not None:
                from .redirect import REDIRECTS

                follow = resp.status in REDIRECTS
            if args.fail and resp.status >= 400:
                resp.read()  # to the end: a clean close
                raise Fail(EXIT_HTTP_STATUS, f"the requested URL returned error: {resp.status}")
            if self.retrying(resp.status):
                resp.read()  # its body is not the answer: another try comes
                report.retry, report.retry_after = True, resp.header("retry-after")
                return None
            if args.include or args.head:
                self._write(("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1"))
            if follow:
                resp.read()  # to the end: tickets, and a clean close
            else:
                self._body(resp)
            report.size_download = resp.received
            if step.store is not None and same_origin:
                tls.wait_client_session()  # a resumed handshake's new ticket may follow the response
        except EspTlsError as exc:
            raise self._esp_failure(exc, isinstance(exc, EspTlsTimeout), where, None) from None
        except HttpError as exc:
            raise Fail(EXIT_HTTP, f"bad response from {where}: {one_line(str(exc))}") from None
        except ValueError as exc:  # "cannot send this request: ..." (http.client's words), or a coding
            raise Fail(EXIT_HTTP if report.status is not None else EXIT_USAGE, str(exc)) from None
        return location if follow else None

    def _body(self, resp: Response) -> None:
        """The body to the output: decoded with --compressed, counted by the progress meter."""
        from collections.abc import Iterator

        self._output()  # -o FILE exists even for an empty body
        chunks: Iterator[bytes] = resp.iter_body()
        meter = self._meter(resp)
        if meter is not None:
            chunks = meter.count(chunks, lambda: resp.received)
        if self.args.compressed and resp.header("content-encoding") is not None:
            from .http.encoding import Decoder

            chunks = Decoder(resp.header("content-encoding")).decode(chunks)
        for chunk in chunks:
            if not self.args.head:
                self._write(chunk)
        if meter is not None:
            meter.done()

    def _meter(self, resp: Response) -> Meter | None:
        """curl's progress meter, for ``-o`` on a terminal (not with -s)."""
        if self.args.output is None or self.args.silent or self.args.head or not sys.stderr.isatty():
            return None
        from .get_curl import Meter

        length = resp.header("content-length")
        return Meter(int(length) if length is not None and length.isdigit() else None, sys.stderr)

    def retrying(self, status: int | None) -> bool:
        """Whether --retry tries again after HTTP ``status`` (None: a timeout or DNS failure): tries are
        left, --retry-max-time has not passed, no body went to stdout already."""
        if self.tries_left <= 0 or (status is not None and status not in _RETRY_STATUSES):
            return False
        limit = self.args.retry_max_time
        if limit and time.monotonic() - self.first_try >= limit:
            return False
        if self.written:
            self.warn("not trying again: part of the body went to stdout already")
            return False
        return True

    def _trace(self, prefix: str, line: str) -> None:
        """A ``> `` or ``< `` line of -v, as curl writes them (with CR LF)."""
        sys.stderr.write(f"{prefix} {line}\r\n")
        sys.stderr.flush()

    def _while_connecting(self) -> None:
        """esp-tls's ``prepare``, the first work done while the SYN is out: automatic
        garbage collection on again (run_get turned it off for the start-up), then the
        certificate files' shape check."""
        gc.enable()
        self.check_files()

    def _esp_failure(self, exc: Exception, timed_out: bool, where: str, lookup: str | None) -> Fail:
        """The Fail for an esp-tls error; ``lookup`` is the name resolved (None once connected)."""
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
        return Fail(code, f"{what}: {describe(le, note)}", le)

    def _log_info(self, info: TlsInfo, host: str) -> None:
        """-v's ``* `` lines about the connection, as curl's (and ours: resumption, 0-RTT, TFO, NAT64)."""
        if not self.args.verbose:  # naming the suite imports the catalogue
            return
        self.info("Connected to %s (%s) port %d", host, info.address or "?", info.port)
        if info.version != "none":
            self.info(
                "SSL connection using %s / %s / %s",
                info.version.replace("TLS ", "TLSv"),
                info.cipher_suite_name,
                info.group or "-",
            )
            self.info("ALPN: server %s", f"accepted {info.alpn}" if info.alpn else "did not agree on a protocol")
            if info.resumed or info.early_data != "none":
                self.info(
                    "%s%s",
                    "Resumed a saved session" if info.resumed else "Full handshake",
                    f", early data {info.early_data}" if info.early_data != "none" else "",
                )
        if info.peer_subject:
            self.info("Server certificate:")
            self.info(" subject: %s", info.peer_subject)
        if info.tcp_fastopen is not None:
            self.info("TCP Fast Open: %s", info.tcp_fastopen)
        if self.report.nat64 is not None:
            v4, prefix = self.report.nat64
            self.info("Connected to %s: %s through NAT64 (prefix %s)", info.address, v4, prefix)


class _EarlyRequest:
    """The request as 0-RTT data for the session ``session()`` returns, made when esp-tls
    calls it: while the connect is in flight (or once it is up), before the ClientHello
    (the HTTP layer, h11, is imported then, after the SYN). b"" when no session allows
    early data or the request exceeds the session's limit (then it goes after the
    handshake); ``data`` is what was sent. A request h11 refuses fails the run (exit 2)."""

    def __init__(
        self,
        get: _Get,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        host: str,
        port: int,
        session: Callable[[], Session | None],
    ) -> None:
        self._get, self._session = get, session
        self._request = (method, url, headers, body, host, port)
        self.data = b""

    def __call__(self) -> bytes:
        session = self._session()
        if session is None or session.version != 0x0304 or session.max_early_data <= 0:
            self._get.info("No saved session allows early data: sending the request after the handshake")
            return b""
        from .http.client import request_bytes

        method, url, headers, body, host, port = self._request
        try:
            data = request_bytes(method, _request_target(url), headers, body, host=host, port=port)
        except ValueError as exc:  # "cannot send this request: ..." (http.client's words)
            raise Fail(EXIT_USAGE, str(exc)) from None
        limit = session.max_early_data
        if len(data) > limit:
            self._get.info("The request (%d bytes) exceeds the early data limit (%d)", len(data), limit)
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


def _tls_name(version: int) -> str:
    return {0x0304: "TLS 1.3", 0x0303: "TLS 1.2"}.get(version, f"0x{version:04x}")


def _setup_logging(verbose: int, silent: bool) -> None:
    """ESP-style lines from -vv (INFO and DEBUG), -vvv (VERBOSE and the engine trace); warnings
    without (none with -s); -v alone adds curl's lines, written by :class:`_Get`."""
    from . import log

    level = (log.WARN, log.WARN, log.DEBUG, log.VERBOSE)[min(verbose, 3)]
    handler = log.setup(log.NONE if silent and not verbose else level)
    if verbose >= 2:  # -vv: lwIP's DNS lines too, as LWIP_DNS_DEBUG prints them
        from .dns import lookup

        lookup.set_debug(log.raw)
    if verbose == 0:
        # Without -v, the one-line summary replaces the library's error lines.
        handler.add_filter(lambda record: record.level != log.ERROR)


def _finish_output(get: _Get, code: int) -> int:
    """Flush stdout or close -o's file; a failure there is exit 2 (when all else went well)."""
    report = get.report
    if get.out is None:
        return code
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
        if message != report.error and (not get.args.silent or get.args.show_error):
            sys.stderr.write(f"{PROG}: {message}\n")  # not said already by the write that failed the same way
        if code == 0:  # the body did not get where it was asked to go
            code, report.error = EXIT_USAGE, message
    return code


def run_get(args: argparse.Namespace) -> int:
    """Run ``get`` with the options :mod:`.get_args` parsed; returns the exit status."""
    from .get_report import Report, write_json

    _setup_logging(args.verbose, args.silent)
    report = Report(url=args.url)
    report.wanted = args.json is not None
    get = _Get(args, report)
    # No automatic collection until the SYN is out (_Get._while_connecting): the imports before it make
    # long-lived objects, not garbage (-3.3 M of ~159 M instructions before the SYN, callgrind).
    gc.disable()
    try:
        try:
            code = get.attempts(get.plan())
        except Fail:
            get.check_files()  # a certificate file that holds none is the first error, as it was checked first
            raise
    except Fail as exc:
        code = exc.code
        get.report.error = exc.message
        if not args.silent or args.show_error:
            sys.stderr.write(f"{PROG}: {exc.message}\n")
        if args.explain and exc.last_error is not None:
            from .get_explain import explain_failure

            sys.stderr.write("".join(f"{line}\n" for line in explain_failure(args.profile, exc.last_error)))
    finally:
        gc.enable()
    code = _finish_output(get, code)
    report = get.report
    report.total_ms = (time.monotonic() - get.t0) * 1000
    report.exit_code = code
    if args.write_out is not None:
        from .get_curl import write_out

        code = write_out(args.write_out, report, code)
    if args.json is not None:
        write_json(args.json, report, PROG)
    return code
