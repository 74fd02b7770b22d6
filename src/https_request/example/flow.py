"""The example itself: ESP-IDF's ``https_request_task``, line for line.

Theory of operation
-------------------
:func:`run` walks the C task in order: the session-ticket pair against the
local server (the URL from the configuration, or one line from stdin when it
is ``FROM_STDIN``), the certificate bundle, the memory line, ``cacert_buf``,
the global CA store, then the supported and the unsupported cipher suites.
Each request is the C ``https_get_request``: connect with an
:class:`~https_request.esp_tls.config.EspTlsCfg` built the way the C code fills
its ``esp_tls_cfg_t``, write the request bytes, print the raw response in
chunks of at most 511 bytes with a newline after each, then the countdown.

Logs and the response share one stream, as on the device's UART. Each request
appends an :class:`Outcome` to the returned list, which ``demo`` turns into its
closing table. The web request's Host header is the URL's host
(``www.howsmyssl.com``): 106 bytes, as in the example's published output
(its README's "Example Output").
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO
from urllib.parse import urlsplit

from .. import log
from ..dns import lookup
from ..esp_tls import trust
from ..esp_tls.config import EspTlsCfg, TlsVersion
from ..esp_tls.conn import EspTls
from ..esp_tls.errors import EspTlsError, esp_err_to_name
from ..nvs import Nvs
from ..structs import Struct, replace
from ..time_sync import DeviceClock, PeriodicTimeSync, TimeSyncError, update_time_from_nvs
from ..tls.session import Session
from .config import ExampleConfig
from .network import Network

__all__ = ["DEVICE_FREE_HEAP", "AppAbort", "Outcome", "build_request", "run"]

TAG = "example"
TLS13_WEB_URL = "https://tls13.browserleaks.com/tls"
# ESP-IDF's lists (https_request_example_main.c), as IANA ids
SUPPORTED_TLS12 = (0xCCA8, 0xC0AC)  # ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, ECDHE_ECDSA_WITH_AES_128_CCM
SUPPORTED_TLS13 = (0x1302, 0x1304)  # TLS_AES_256_GCM_SHA384, TLS_AES_128_CCM_SHA256
UNSUPPORTED = (0xC04C,)  # TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256
_CHUNK = 511


class Outcome(Struct, slots=False):
    """What one request did (for the demo's table)."""

    method: str
    expected_ok: bool
    connected: bool
    status_line: str
    version: str
    cipher_suite: str
    resumed: bool
    rating: str
    validated: bool = False


def build_request(url: str, host: str) -> bytes:
    """``GET <url> HTTP/1.1`` with the example's Host and User-Agent headers."""
    return f"GET {url} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: esp-idf/1.0 esp32\r\n\r\n".encode()


def _rating(body: bytes) -> str:
    start = body.find(b'"rating":"')
    if start < 0:
        return ""
    end = body.find(b'"', start + 10)
    return body[start + 10 : end].decode(errors="replace") if end > 0 else ""


class _Runner:
    """One run of the task: configuration, output stream and results."""

    def __init__(self, cfg: ExampleConfig, out: TextIO, sleep: Callable[[float], None], network: Network) -> None:
        self.cfg = cfg
        self.out = out
        self.sleep = sleep
        self.network = network
        self.started = threading.Event()  # set once the task has logged its first line
        self.heap = _Heap()  # traced while the task runs
        self.log = log.get_logger(TAG)
        self.outcomes: list[Outcome] = []
        self.session: Session | None = None
        profile = cfg.client_profile
        if cfg.tls13_client and profile == "esp32-mbedtls":
            profile = "esp32-mbedtls-tls13"
        # the device's name resolution: lwIP's getaddrinfo with esp-lwip's dns_select, one address
        self.base = EspTlsCfg(profile=profile, verify_policy="mbedtls", happy_eyeballs=False)

    def _route(self, tls_cfg: EspTlsCfg, url: str) -> EspTlsCfg:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        for rule in self.cfg.connect_to_rules:
            if rule.matches(host, port):
                return replace(tls_cfg, connect_address=(rule.to_host or host, rule.to_port or port))
        return tls_cfg

    def countdown(self) -> None:
        for i in range(self.cfg.countdown_s, -1, -1):
            self.log.i("%d...", i)
            if i:
                self.sleep(1.0)

    def tick(self) -> None:
        """What the device's event handlers and timers log meanwhile: new
        addresses (``Got IPv6 event``), lwIP's ``dns_tmr``."""
        self.network.poll()
        lookup.tick()

    def request(
        self,
        method: str,
        tls_cfg: EspTlsCfg,
        url: str,
        req: bytes,
        *,
        expect_ok: bool = True,
        save_session: bool = False,
    ) -> None:
        """The C ``https_get_request``: connect, write, read to the end, count down."""
        body = bytearray()
        info = None
        connected = False
        self.heap.request_starts()
        try:
            tls = EspTls.conn_http_new_sync(url, self._route(tls_cfg, url))
        except EspTlsError:
            self.log.e("Connection failed...")
        else:
            connected = True
            with tls:
                self.log.i("Connection established...")
                written = 0
                try:
                    while written < len(req):
                        n = tls.write(req[written:])
                        written += n
                        self.log.i("%d bytes written", n)
                    self.log.i("Reading HTTP response...")
                    while True:
                        chunk = tls.read(_CHUNK)
                        if not chunk:
                            self.log.i("connection closed")
                            break
                        self.log.d("%d bytes read", len(chunk))
                        body += chunk
                        self.out.write(chunk.decode("latin-1") + "\n")
                        self.out.flush()
                except EspTlsError as exc:
                    err = exc.last_error
                    self.log.e("esp_tls_conn_read  returned [-0x%02X](%s)", err.esp_tls_error_code, err.name)
                info = tls.info
                if save_session:
                    self.session = tls.get_client_session()
        self.heap.request_ended()
        self.outcomes.append(
            Outcome(
                method=method,
                expected_ok=expect_ok,
                connected=connected,
                status_line=bytes(body.split(b"\r\n", 1)[0]).decode("latin-1") if body else "",
                version=info.version if info else "-",
                cipher_suite=info.cipher_suite_name if info else "-",
                resumed=bool(info and info.resumed),
                rating=_rating(bytes(body)),
            )
        )
        self.countdown()

    def web(self) -> tuple[str, bytes]:
        url = TLS13_WEB_URL if self.cfg.tls13_client and self.cfg.web_url == _DEFAULT_WEB else self.cfg.web_url
        host = urlsplit(url).hostname or ""
        return url, build_request(url, host)


class _Ticker:
    """Calls ``tick`` once a second in a daemon thread until stopped (the device's
    timers and event handlers run beside the task)."""

    def __init__(self, tick: Callable[[], None]) -> None:
        self._tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="example-ticker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failed = False
        while not self._stop.wait(1.0):
            try:
                self._tick()
            except Exception as exc:  # the ticks stop mattering, the task does not: said once, then on
                if not failed:
                    log.get_logger("example").w("timer tick failed: %s", exc)
                failed = True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


_DEFAULT_WEB = "https://www.howsmyssl.com/a/check"


def _bundle_bytes(cfg: ExampleConfig) -> bytes:
    """The certificate bundle the device would embed: the default set plus the custom path."""
    from ..esp_tls import bundle

    certs = []
    if cfg.default_bundle != "NONE":
        names = None if cfg.default_bundle == "FULL" else bundle.cmn_authorities()
        certs.extend(bundle.certifi_certificates(names))
    if cfg.custom_bundle_path is not None:
        certs.extend(bundle.load_inputs([str(cfg.custom_bundle_path)]))
    return bundle.build_bundle(certs)


#: The emulated device's free heap when the task starts, in bytes (an ESP32 running Wi-Fi and lwIP
#: has about this much left for the application).
DEVICE_FREE_HEAP = 230_000


#: The modules a request runs that are imported when first used (see _Heap.start).
_REQUEST_CODE = (
    "cryptography.hazmat.backends.openssl.backend",
    "cryptography.hazmat.primitives.serialization",
    "https_request.dns.happy",
    "https_request.dns.lookup",
    "https_request.esp_tls.bundle_verify",
    "https_request.esp_tls.engine",
    "https_request.io.blocking",
    "https_request.tls.catalogue",
    "https_request.tls.client13",
    "https_request.tls.kx",
    "https_request.tls.profiles",
    "https_request.tls.protection12",
    "https_request.tls.verify",
)


class _Heap:
    """``esp_get_minimum_free_heap_size()`` on a host: :data:`DEVICE_FREE_HEAP`
    minus the most memory one request held, measured with :mod:`tracemalloc`
    (Python's allocator, every thread) from the task's start: the peak during
    the request minus what was still allocated after it (what the connection
    held and gave back; modules it imported stay, and are not counted). The
    device's figure is its heap's low-water mark since boot; this one is the
    same idea with the host's measure of a connection's cost. Never below 0."""

    def __init__(self) -> None:
        import tracemalloc

        self._tracemalloc = tracemalloc
        self._started_here = False
        self.most_held = 0

    def start(self) -> None:
        """Trace from now (unless something else traces already), once the code a
        request runs is loaded: on the device, code lives in flash, not in the heap
        (importing a module allocates, and frees, far more than a connection holds)."""
        import importlib

        for module in _REQUEST_CODE:
            importlib.import_module(module)
        self._started_here = not self._tracemalloc.is_tracing()
        if self._started_here:
            self._tracemalloc.start()

    def request_starts(self) -> None:
        self._tracemalloc.reset_peak()

    def request_ended(self) -> None:
        current, peak = self._tracemalloc.get_traced_memory()
        self.most_held = max(self.most_held, peak - current)

    def minimum_free(self) -> int:
        return max(0, DEVICE_FREE_HEAP - self.most_held)

    def stop(self) -> None:
        if self._started_here:
            self._tracemalloc.stop()


def run(
    cfg: ExampleConfig,
    *,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    network: Network | None = None,
    nvs: Nvs | None = None,
) -> list[Outcome]:
    """Run the example's ``app_main``: ``example_connect()`` (the host's
    interface and its addresses, see :mod:`.network`; ``network`` defaults to
    this host's), the fork's ``esp_log_level_set("esp-tls", DEBUG)`` (capped by
    LOG_MAXIMUM_LEVEL), ``Updating time from NVS`` (:mod:`..time_sync` on
    ``nvs``, by default the user's store; the device's clock, which the
    requests check certificates on with EXAMPLE_TLS_CLOCK_DEVICE), the 24-hour
    time refresh, then the task; returns one :class:`Outcome` per request.

    Raises :class:`ValueError` when the local server URL is ``FROM_STDIN`` but
    stdin gives nothing usable, :class:`AppAbort` when ``ESP_ERROR_CHECK``
    would abort (no time from NVS or SNTP).
    """
    out = out if out is not None else sys.stdout
    stdin = stdin if stdin is not None else sys.stdin
    r = _Runner(cfg, out, sleep, network if network is not None else Network())
    if cfg.lwip_dns_debug:
        lookup.set_debug(log.raw)
    r.network.connect()
    # sgryphon/esp-idf's app_main: "Enable debug logging for esp-tls (if Maximum log verbosity is set)"
    log.set_level("esp-tls", log.DEBUG)
    store = nvs if nvs is not None else Nvs()
    device_clock = DeviceClock()
    r.log.i("Updating time from NVS")  # every run is a power-on reset
    try:
        update_time_from_nvs(store, device_clock)
    except TimeSyncError as exc:
        log.raw(f"ESP_ERROR_CHECK failed: esp_err_t {exc.code} ({exc})")
        log.raw("expression: update_time_from_nvs()")
        raise AppAbort(f"ESP_ERROR_CHECK failed in app_main: {exc}") from exc
    if cfg.tls_device_clock:
        r.base = replace(r.base, clock=device_clock)
    refresh = PeriodicTimeSync(store, device_clock).start()  # esp_timer_start_periodic(..., TIME_PERIOD)
    ticker = _Ticker(r.tick)
    try:
        return _app_main(r, cfg, stdin)
    finally:
        ticker.stop()
        refresh.stop(timeout=1.0)
        if cfg.lwip_dns_debug:
            lookup.set_debug(None)


class AppAbort(RuntimeError):
    """``app_main`` aborted (``ESP_ERROR_CHECK`` failed): the device would reset."""


def _app_main(r: _Runner, cfg: ExampleConfig, stdin: TextIO) -> list[Outcome]:
    """``app_main`` after ``example_connect()``: it creates ``https_request_task``
    (priority 5, above the main task's 1, so the task runs at once) and returns;
    the main task then logs ``main_task: Returned from app_main()``, between the
    task's first lines, as on the device. The task runs in a thread here; what
    it raises is raised here."""
    outcomes: list[Outcome] = []
    failure: list[BaseException] = []

    def task() -> None:
        try:
            outcomes.extend(_task(r, cfg, stdin))
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)
        finally:
            r.started.set()

    thread = threading.Thread(target=task, name="https_get_task", daemon=True)
    thread.start()
    r.started.wait()
    log.get_logger("main_task").i("Returned from app_main()")
    thread.join()
    if failure:
        raise failure[0]
    return outcomes


def _task(r: _Runner, cfg: ExampleConfig, stdin: TextIO) -> list[Outcome]:
    """``https_request_task``: the requests in the C code's order."""
    r.log.i("Start https_request example")
    r.started.set()  # the task is running: app_main returns
    r.heap.start()
    try:
        return _requests(r, cfg, stdin)
    finally:
        r.heap.stop()


def _requests(r: _Runner, cfg: ExampleConfig, stdin: TextIO) -> list[Outcome]:
    out = r.out
    root = cfg.server_root_cert.read_bytes()
    web_url, web_req = r.web()
    if cfg.session_tickets:
        url = cfg.local_server_url
        if cfg.local_server_url_from_stdin:
            line = stdin.readline()[:256]
            url = line[:-1] if line.endswith("\n") else line
            if not url:
                raise ValueError("FROM_STDIN: no server URL on stdin")
            out.write(f"\nServer URL obtained is {url}\n\n")
            out.flush()
        # the request line carries the configured URL (the literal FROM_STDIN in ESP-IDF's CI)
        local_req = build_request(cfg.local_server_url, urlsplit(web_url).hostname or "")
        local = replace(r.base, cacert=cfg.local_server_cert.read_bytes(), skip_common_name=True)
        r.log.i("https_request to local server")
        r.request("to local server", local, url, local_req, save_session=True)
        r.log.i("https_request using saved client session")
        r.request("using saved client session", replace(local, client_session=r.session), url, local_req)
        r.session = None
    if cfg.crt_bundle:
        r.log.i("https_request using crt bundle")
        r.request("using crt bundle", replace(r.base, crt_bundle=_bundle_bytes(cfg)), web_url, web_req)
    r.log.i("Minimum free heap size: %d bytes", r.heap.minimum_free())
    r.log.i("https_request using cacert_buf")
    r.request("using cacert_buf", replace(r.base, cacert=root), web_url, web_req)
    r.log.i("https_request using global ca_store")
    code = trust.set_global_ca_store(root)
    if code != 0:
        what = "could not complete the https_request using global_ca_store"
        r.log.e("Error in setting the global ca store: [%02X] (%s),%s", code, esp_err_to_name(code), what)
    else:
        r.request("using global ca_store", replace(r.base, use_global_ca_store=True), web_url, web_req)
        trust.free_global_ca_store()
    version = TlsVersion.TLS_1_3 if cfg.tls13_client else TlsVersion.TLS_1_2
    supported = SUPPORTED_TLS13 if cfg.tls13_client else SUPPORTED_TLS12
    suites_cfg = replace(r.base, cacert=root, tls_version=version)
    r.log.i("https_request using server supported ciphersuites")
    r.request("server supported ciphersuites", replace(suites_cfg, ciphersuites=supported), web_url, web_req)
    r.log.i("https_request using server unsupported ciphersuites")
    r.request(
        "server unsupported ciphersuites",
        replace(suites_cfg, ciphersuites=UNSUPPORTED),
        web_url,
        web_req,
        expect_ok=False,
    )
    r.log.i("Finish https_request example")
    return r.outcomes
