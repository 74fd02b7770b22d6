"""ESP-IDF's ``time_sync.c`` (the HTTPS request example's) on a host, with a device clock.

The device has no battery-backed clock: at power-on the example's ``app_main``
logs ``Updating time from NVS`` (tag ``example``) and calls
:func:`update_time_from_nvs`, which sets the time from the i64 ``timestamp``
in NVS namespace ``storage`` or, when there is none, fetches it over SNTP
(:func:`fetch_and_store_time_in_nvs`); an esp_timer repeats the fetch every
24 hours (:class:`PeriodicTimeSync`). A host's clock is not the device's, so
the time these functions set is a :class:`DeviceClock`'s: an offset kept from
the monotonic clock (``settimeofday``), which the example and esp-tls read
when the user picks it (``EspTlsCfg.clock``).

The lines are the C example's, tag ``time_sync``::

    I time_sync: Time not found in NVS. Syncing time from SNTP server.
    I time_sync: Initializing SNTP
    I time_sync: Waiting for system time to be set... (1/10)     (up to 9/10)
    I time_sync: Updated time in NVS
    E time_sync: Error updating time in nvs
    E time_sync: Error opening NVS

and, as ``esp_netif_sntp_sync_wait`` does, each wait lasts up to ``wait``
seconds (2) and returns as soon as a server answered; the 10th failed wait
fails the fetch. Each wait asks the servers in turn (ESP-IDF's two,
``time.windows.com`` then ``pool.ntp.org``), sharing the wait between those
not yet asked, through :func:`.sntp.query`; a server that sent a
kiss-o'-death is not asked again during that fetch (RFC 4330 section 5; a W
line under the tag ``sntp`` says so; other failures are D lines there).

The store is any object with NVS's open/get_i64/set_i64/commit/close
(:class:`NvsStore`; :class:`https_request.nvs.Nvs` is one): a missing key is
a ``KeyError`` (``NvsNotFound`` is one), any other error an exception from
the store. Failures are logged as the C code logs them and raised as
:class:`TimeSyncError` (the C functions return the ``esp_err_t``; the
example's ``ESP_ERROR_CHECK`` aborts on it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from . import log

__all__ = [
    "DEFAULT_SERVERS",
    "REFRESH_INTERVAL_S",
    "RETRY_COUNT",
    "RETRY_WAIT_S",
    "STORAGE_NAMESPACE",
    "TIMESTAMP_KEY",
    "DeviceClock",
    "FixedClock",
    "NvsStore",
    "NvsStoreHandle",
    "PeriodicTimeSync",
    "SystemClock",
    "TimeSyncError",
    "fetch_and_store_time_in_nvs",
    "iso",
    "read_nvs_time",
    "sync_clock",
    "update_time_from_nvs",
]

STORAGE_NAMESPACE = "storage"
TIMESTAMP_KEY = "timestamp"
DEFAULT_SERVERS = ("time.windows.com", "pool.ntp.org")
"""``ESP_SNTP_SERVER_LIST("time.windows.com", "pool.ntp.org")`` of the example."""
RETRY_COUNT = 10
RETRY_WAIT_S = 2.0
REFRESH_INTERVAL_S = 86400.0
"""The example's esp_timer period (86400000000 us)."""

_log = log.get_logger("time_sync")
_sntp_log = log.get_logger("sntp")


def iso(unix: float) -> str:
    """``2019-01-01T00:00:00Z``: Unix seconds as an ISO 8601 UTC instant (whole seconds)."""
    try:
        return datetime.fromtimestamp(int(unix), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{unix:.0f} s after the Unix epoch"


# --- clocks ---------------------------------------------------------------------------


class SystemClock:
    """The host's clock (``time.time``): ``get``'s default."""

    name = "system"

    def now(self) -> float:
        return time.time()


class FixedClock:
    """A clock stopped at ``at`` (Unix seconds): ``--now``."""

    name = "fixed"

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at


class DeviceClock:
    """What "the system time" is for the device: Unix seconds kept as an offset
    from ``monotonic`` (the host's clock is never touched).

    A device boots at the Unix epoch and counts from there until something sets
    its time; ``start`` is the time it reads right after it is created (0.0: as
    a device at boot). :meth:`set` is ``settimeofday``; ``source`` says where
    the time came from ("NVS", "SNTP"...) and names the clock in certificate
    errors ("on the NVS clock, ..."). Reads and sets are safe from any thread.
    """

    def __init__(self, start: float = 0.0, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._offset = start - monotonic()
        self._source: str | None = None

    @property
    def name(self) -> str:
        """The source of the time last set ("NVS", "SNTP"...), or "device" before any."""
        return self._source or "device"

    @property
    def is_set(self) -> bool:
        """Whether :meth:`set` was called."""
        return self._source is not None

    def now(self) -> float:
        """Unix seconds on this clock."""
        return self._monotonic() + self._offset

    def set(self, unix: float, *, source: str = "settimeofday") -> None:
        """``settimeofday``: this clock reads ``unix`` now and runs on from there."""
        self._offset, self._source = unix - self._monotonic(), source


# --- the store -------------------------------------------------------------------------


class NvsStoreHandle(Protocol):
    """What time_sync uses of an NVS handle (``nvs_handle_t``)."""

    def get_i64(self, key: str) -> int: ...

    def set_i64(self, key: str, value: int) -> None: ...

    def commit(self) -> None: ...

    def close(self) -> None: ...


class NvsStore(Protocol):
    """What time_sync uses of NVS: ``nvs_open`` (read-write)."""

    def open(self, namespace: str, *, readwrite: bool = True) -> NvsStoreHandle: ...


class TimeSyncError(Exception):
    """The time could not be set or stored; ``code`` is the ``esp_err_t`` name
    the C function returns (``ESP_FAIL``, or the NVS error's)."""

    def __init__(self, message: str, code: str = "ESP_FAIL") -> None:
        super().__init__(message)
        self.code = code


def _nvs_code(exc: Exception) -> str:
    return str(getattr(exc, "code", "ESP_FAIL"))


# --- SNTP -------------------------------------------------------------------------------


def _wait_for_sync(
    clock: DeviceClock,
    servers: list[tuple[str, int]],
    wait: float,
    dns_servers: tuple[str, ...],
    problems: dict[tuple[str, int], str],
) -> bool:
    """One ``esp_netif_sntp_sync_wait(wait)``: ask the servers still usable in
    turn within ``wait`` seconds; True once one answered (the clock is set).
    A server that sent a kiss-o'-death is removed from ``servers``."""
    from . import sntp

    deadline = time.monotonic() + wait
    for index, (host, port) in enumerate(list(servers)):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        share = left / (len(servers) - index) if len(servers) > index else left
        try:
            result = sntp.query(host, port, timeout=max(share, 0.05), clock=clock.now, dns_servers=dns_servers)
        except sntp.KissOfDeath as exc:
            _sntp_log.w("%s", exc)
            servers.remove((host, port))
            problems[host, port] = str(exc)
            continue
        except sntp.SntpError as exc:
            _sntp_log.d("%s", exc)
            problems[host, port] = str(exc)
            continue
        clock.set(clock.now() + result.offset, source="SNTP")
        _sntp_log.d(
            "time from %s (%s, stratum %d, ref %s): offset %+.6f s, delay %.6f s",
            result.server,
            result.address,
            result.stratum,
            result.reference_id,
            result.offset,
            result.delay,
        )
        return True
    left = deadline - time.monotonic()
    if left > 0:
        time.sleep(left)  # the wait lasts its time even when every server failed at once
    return False


def sync_clock(
    clock: DeviceClock,
    servers: Sequence[str] = DEFAULT_SERVERS,
    sntp_port: int = 123,
    *,
    tries: int = RETRY_COUNT,
    wait: float = RETRY_WAIT_S,
    dns_servers: tuple[str, ...] = (),
) -> None:
    """``initialize_sntp`` + ``obtain_time``: set ``clock`` from the first
    server that answers, logging ``Initializing SNTP`` and the waits.

    ``servers`` are ``HOST`` or ``HOST:PORT`` (``sntp_port`` when no port is
    given). Raises TimeSyncError (what each server did, in short) when no
    server answered in ``tries`` waits; ValueError for a malformed server.
    """
    from . import sntp

    parsed = [sntp.parse_server(s, sntp_port) for s in servers]
    if not parsed:
        raise ValueError("no SNTP server given")
    _log.i("Initializing SNTP")
    problems: dict[tuple[str, int], str] = {}  # each server's latest failure
    retry = 0
    while True:
        if parsed and _wait_for_sync(clock, parsed, wait, dns_servers, problems):
            return
        if not parsed:  # every server sent a kiss-o'-death: the C code waits on in vain
            time.sleep(wait)
        retry += 1
        if retry >= tries:
            break
        _log.i("Waiting for system time to be set... (%d/%d)", retry, tries)
    raise TimeSyncError(f"no SNTP server answered in {tries} waits of {wait:g} s: {'; '.join(problems.values())}")


# --- time_sync.c ---------------------------------------------------------------------


def fetch_and_store_time_in_nvs(
    nvs: NvsStore,
    clock: DeviceClock,
    servers: Sequence[str] = DEFAULT_SERVERS,
    sntp_port: int = 123,
    *,
    tries: int = RETRY_COUNT,
    wait: float = RETRY_WAIT_S,
    dns_servers: tuple[str, ...] = (),
) -> None:
    """Set ``clock`` over SNTP (:func:`sync_clock`), then store it (whole
    seconds) as ``storage``/``timestamp`` and commit; logs ``Updated time in
    NVS``, or ``Error updating time in nvs`` and raises TimeSyncError (SNTP or
    the store failed; the store's error code in ``code``)."""
    from .nvs import NvsError  # sqlite3: imported when the store is used

    try:
        sync_clock(clock, servers, sntp_port, tries=tries, wait=wait, dns_servers=dns_servers)
    except TimeSyncError:
        _log.e("Error updating time in nvs")
        raise
    try:
        handle = nvs.open(STORAGE_NAMESPACE, readwrite=True)
        try:
            handle.set_i64(TIMESTAMP_KEY, int(clock.now()))
            handle.commit()
        finally:
            handle.close()
    except NvsError as exc:  # logged the C way, re-raised below
        _log.e("Error updating time in nvs")
        raise TimeSyncError(f"cannot store the time in NVS: {exc}", _nvs_code(exc)) from exc
    _log.i("Updated time in NVS")


def read_nvs_time(nvs: NvsStore) -> int | None:
    """NVS's ``storage``/``timestamp`` (Unix seconds), None when it is not stored.
    Logs ``Error opening NVS`` when the namespace cannot be opened; raises
    TimeSyncError (with the store's error code) for that and any other store error."""
    from .nvs import NvsError  # sqlite3: imported when the store is used

    try:
        handle = nvs.open(STORAGE_NAMESPACE, readwrite=True)
    except NvsError as exc:
        _log.e("Error opening NVS")
        raise TimeSyncError(f"cannot open NVS namespace {STORAGE_NAMESPACE!r}: {exc}", _nvs_code(exc)) from exc
    try:
        return handle.get_i64(TIMESTAMP_KEY)
    except KeyError:  # NvsNotFound
        return None
    except NvsError as exc:  # another store error: returned without a line, as in C
        raise TimeSyncError(f"cannot read {STORAGE_NAMESPACE}/{TIMESTAMP_KEY} from NVS: {exc}", _nvs_code(exc)) from exc
    finally:
        handle.close()


def update_time_from_nvs(
    nvs: NvsStore,
    clock: DeviceClock,
    servers: Sequence[str] = DEFAULT_SERVERS,
    sntp_port: int = 123,
    *,
    tries: int = RETRY_COUNT,
    wait: float = RETRY_WAIT_S,
    dns_servers: tuple[str, ...] = (),
) -> None:
    """Set ``clock`` from NVS's ``storage``/``timestamp``; when there is none,
    log ``Time not found in NVS. Syncing time from SNTP server.`` and
    :func:`fetch_and_store_time_in_nvs`. Logs ``Error opening NVS`` when the
    namespace cannot be opened. Raises TimeSyncError for every failure."""
    timestamp = read_nvs_time(nvs)
    if timestamp is None:
        _log.i("Time not found in NVS. Syncing time from SNTP server.")
        fetch_and_store_time_in_nvs(nvs, clock, servers, sntp_port, tries=tries, wait=wait, dns_servers=dns_servers)
        return
    clock.set(float(timestamp), source="NVS")


class PeriodicTimeSync:
    """The example's 24-hour esp_timer: :func:`fetch_and_store_time_in_nvs`
    every ``interval`` seconds on a daemon thread, from :meth:`start` until
    :meth:`stop` (a failed fetch is logged by it and the timer goes on; the
    clock runs on from the time it had). With ``nvs`` None the clock is only
    set again over SNTP (:func:`sync_clock`), nothing stored. ``on_done`` is
    called on the timer's thread after each fetch, with None or the
    TimeSyncError it failed with (``serve`` logs it)."""

    def __init__(
        self,
        nvs: NvsStore | None,
        clock: DeviceClock,
        servers: Sequence[str] = DEFAULT_SERVERS,
        sntp_port: int = 123,
        *,
        interval: float = REFRESH_INTERVAL_S,
        tries: int = RETRY_COUNT,
        wait: float = RETRY_WAIT_S,
        dns_servers: tuple[str, ...] = (),
        on_done: Callable[[TimeSyncError | None], None] | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"the refresh interval must be positive, not {interval}")
        self._nvs, self._clock, self._servers, self._port = nvs, clock, tuple(servers), sntp_port
        self._tries, self._wait, self._dns_servers = tries, wait, dns_servers
        self._on_done = on_done
        self.interval = interval
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="time_sync", daemon=True)

    def start(self) -> PeriodicTimeSync:
        self._thread.start()
        return self

    def _fetch(self) -> None:
        tries, wait, dns = self._tries, self._wait, self._dns_servers
        if self._nvs is None:
            sync_clock(self._clock, self._servers, self._port, tries=tries, wait=wait, dns_servers=dns)
        else:
            fetch_and_store_time_in_nvs(
                self._nvs, self._clock, self._servers, self._port, tries=tries, wait=wait, dns_servers=dns
            )

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            failure: TimeSyncError | None = None
            try:
                self._fetch()
            except TimeSyncError as exc:  # logged by fetch_and_store_time_in_nvs; the next period tries again
                failure = exc
            self.runs += 1
            if self._on_done is not None and not self._stop.is_set():
                self._on_done(failure)

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the timer; waits for a fetch in progress up to ``timeout`` seconds.
        True when the timer's thread has ended."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()
