"""ESP-IDF's time_sync on a host (:mod:`https_request.time_sync`): its lines, the
device clock, SNTP from chrony and from scripted servers.

The store is the real one (:class:`https_request.nvs.Nvs`, a file in the test's
folder); its failures are real too (no room for another namespace, a full store).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from https_request import log
from https_request.nvs import BLOB_MAX_BYTES, MAX_NAMESPACES, Nvs, NvsError, NvsNotFound
from https_request.time_sync import (
    DeviceClock,
    PeriodicTimeSync,
    TimeSyncError,
    fetch_and_store_time_in_nvs,
    update_time_from_nvs,
)
from ntpserver import Responder, chrony
from procs import needs

pytestmark = pytest.mark.timeout(60)

LIE = 1_546_300_800.0  # 2019-01-01T00:00:00Z


@pytest.fixture
def nvs(tmp_path: Path) -> Iterator[Nvs]:
    with Nvs(tmp_path / "nvs.sqlite3") as store:
        yield store


def stored(store: Nvs) -> int | None:
    """storage/timestamp as committed (another handle's view), None when absent."""
    try:
        with store.open("storage", readwrite=False) as handle:
            return handle.get_i64("timestamp")
    except NvsNotFound:
        return None


def put(store: Nvs, value: int) -> None:
    with store.open("storage") as handle:
        handle.set_i64("timestamp", value)
        handle.commit()


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    log.setup(log.DEBUG, stream=out, color=False)
    yield out
    log.setup()


def shown(out: io.StringIO, *tags: str) -> list[str]:
    """The lines as ``L tag: message`` (no timestamps), of ``tags`` only."""
    found = []
    for line in out.getvalue().splitlines():
        level, _, rest = line.partition(" (")
        tag_msg = rest.partition(") ")[2]
        if tag_msg.partition(":")[0] in tags:
            found.append(f"{level} {tag_msg}")
    return found


def test_device_clock_is_an_offset_from_the_monotonic_clock() -> None:
    ticks = [100.0]
    clock = DeviceClock(monotonic=lambda: ticks[0])
    assert clock.now() == 0.0 and clock.name == "device" and not clock.is_set  # a device boots at the epoch
    ticks[0] += 5
    assert clock.now() == 5.0
    clock.set(LIE, source="NVS")
    assert clock.now() == LIE and clock.name == "NVS" and clock.is_set
    ticks[0] += 2.5
    assert clock.now() == LIE + 2.5


def test_time_found_in_nvs_sets_the_clock_quietly(nvs: Nvs, lines: io.StringIO) -> None:
    put(nvs, int(LIE))
    clock = DeviceClock()
    update_time_from_nvs(nvs, clock, servers=())
    assert abs(clock.now() - LIE) < 1 and clock.name == "NVS"
    assert shown(lines, "time_sync") == []


@needs("chronyd")
def test_time_not_in_nvs_comes_from_sntp_and_is_stored(nvs: Nvs, tmp_path: Path, lines: io.StringIO) -> None:
    clock = DeviceClock()
    with chrony(tmp_path) as port:
        # the first server never answers: the wait goes on to the second, as ESP-IDF's list does
        with Responder("silent") as silent:
            update_time_from_nvs(nvs, clock, servers=(silent.server, f"127.0.0.1:{port}"), wait=1.0)
    assert abs(clock.now() - time.time()) < 0.5 and clock.name == "SNTP"
    assert abs((stored(nvs) or 0) - time.time()) < 2
    assert shown(lines, "time_sync") == [
        "I time_sync: Time not found in NVS. Syncing time from SNTP server.",
        "I time_sync: Initializing SNTP",
        "I time_sync: Updated time in NVS",
    ]


def test_a_lying_server_sets_the_device_clock_to_its_lie(nvs: Nvs, lines: io.StringIO) -> None:
    clock = DeviceClock(time.time())
    with Responder("lie", time=LIE) as srv:
        fetch_and_store_time_in_nvs(nvs, clock, servers=(srv.server,))
    assert abs(clock.now() - LIE) < 1 and stored(nvs) in (int(LIE), int(LIE) + 1)


def test_no_server_answers_ten_waits_then_error(nvs: Nvs, lines: io.StringIO) -> None:
    clock = DeviceClock()
    with Responder("silent") as srv:
        t0 = time.monotonic()
        with pytest.raises(TimeSyncError, match=rf"no SNTP server answered in 10 waits of 0.1 s: .*{srv.server}"):
            update_time_from_nvs(nvs, clock, servers=(srv.server,), wait=0.1)
        took = time.monotonic() - t0
    assert 1.0 <= took < 3.0 and srv.requests == 10  # one request per wait, the waits 0.1 s apart
    assert shown(lines, "time_sync") == [
        "I time_sync: Time not found in NVS. Syncing time from SNTP server.",
        "I time_sync: Initializing SNTP",
        *[f"I time_sync: Waiting for system time to be set... ({n}/10)" for n in range(1, 10)],
        "E time_sync: Error updating time in nvs",
    ]
    assert stored(nvs) is None and not clock.is_set and clock.now() < 10


def test_kiss_of_death_server_is_not_asked_again(nvs: Nvs, lines: io.StringIO) -> None:
    clock = DeviceClock()
    with Responder("kod", code="DENY") as kod, Responder("silent") as silent:
        with pytest.raises(TimeSyncError, match="kiss-o'-death 'DENY'"):
            fetch_and_store_time_in_nvs(nvs, clock, servers=(kod.server, silent.server), tries=4, wait=0.2)
    assert kod.requests == 1 and silent.requests == 4
    warnings = shown(lines, "sntp")
    assert [w for w in warnings if w.startswith("W ")] == [
        f"W sntp: {kod.server} sent a kiss-o'-death 'DENY' (access denied by the server); not asking it again"
    ]


def test_nvs_errors_are_logged_the_c_way(tmp_path: Path, lines: io.StringIO) -> None:
    """Real store failures: no room for the "storage" namespace (every namespace taken), then a
    store too full to commit the timestamp."""
    with Nvs(tmp_path / "namespaces.sqlite3") as full:
        for n in range(MAX_NAMESPACES):
            full.open(f"ns{n}").close()
        with pytest.raises(TimeSyncError, match="cannot open NVS namespace 'storage': ") as opened:
            update_time_from_nvs(full, DeviceClock(), servers=())
        assert opened.value.code == "ESP_ERR_NVS_NOT_ENOUGH_SPACE", opened.value
    assert shown(lines, "time_sync") == ["E time_sync: Error opening NVS"]
    with Nvs(tmp_path / "full.sqlite3") as store:
        store.open("storage").close()  # the namespace exists; then the store is filled to its last entry
        n, size = 0, BLOB_MAX_BYTES
        while size >= 1:
            try:
                with store.open("filler") as handle:  # closing drops what did not commit
                    handle.set_blob(f"b{n}", bytes(size))
                    handle.commit()
                n += 1
            except NvsError:
                size //= 2
        while store.stats().free_entries:  # the last entries: one i64 each
            with store.open("filler") as handle:
                handle.set_i64(f"i{n}", n)
                handle.commit()
            n += 1
        clock = DeviceClock()
        with Responder("lie", time=LIE) as srv, pytest.raises(TimeSyncError, match="cannot store the time in NVS"):
            fetch_and_store_time_in_nvs(store, clock, servers=(srv.server,), wait=0.2)
        assert shown(lines, "time_sync")[-1] == "E time_sync: Error updating time in nvs"
        assert abs(clock.now() - LIE) < 1 and stored(store) is None


def test_periodic_refresh_stores_each_period(nvs: Nvs, lines: io.StringIO) -> None:
    clock = DeviceClock()
    with Responder("lie", time=LIE) as srv:
        timer = PeriodicTimeSync(nvs, clock, servers=(srv.server,), interval=0.2).start()
        deadline = time.monotonic() + 10
        while timer.runs < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        timer.stop(5)
        runs = timer.runs
    assert runs >= 2 and srv.requests == runs and stored(nvs) in (int(LIE), int(LIE) + 1)
    assert shown(lines, "time_sync").count("I time_sync: Updated time in NVS") == runs
    time.sleep(0.3)
    assert timer.runs == runs  # stopped
    with pytest.raises(ValueError, match="positive"):
        PeriodicTimeSync(nvs, clock, interval=0)


def test_periodic_refresh_over_sntp_only_reports_each_outcome(nvs: Nvs, lines: io.StringIO) -> None:
    """No store: the clock is only set again over SNTP (nothing in NVS); ``on_done`` hears of each
    fetch, a failure too, and the clock runs on from the time it had."""
    clock = DeviceClock()
    outcomes: list[TimeSyncError | None] = []
    with Responder("lie", time=LIE) as srv:
        timer = PeriodicTimeSync(None, clock, servers=(srv.server,), interval=0.2, wait=0.05, on_done=outcomes.append)
        timer.start()
        deadline = time.monotonic() + 10
        while not outcomes and time.monotonic() < deadline:
            time.sleep(0.02)
        assert outcomes[:1] == [None] and abs(clock.now() - LIE) < 1
        srv.mode = "silent"
        while len([o for o in outcomes if o is not None]) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert timer.stop(5)
    failure = next(o for o in outcomes if o is not None)
    assert f"no answer from the SNTP server {srv.server}" in str(failure)
    assert abs(clock.now() - LIE) < 5  # ran on from the last time set
    assert stored(nvs) is None and "I time_sync: Updated time in NVS" not in shown(lines, "time_sync")
