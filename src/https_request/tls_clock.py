"""The clock TLS checks certificates on, as the user picks it, and what a
certificate-time error says about it.

``get`` (and the example, through the same functions) offers::

    --clock system|nvs|sntp   system (default): the host's clock;
                              nvs: a device clock set from NVS storage/timestamp
                              (what the device restores at power-on);
                              sntp: a device clock set from the first SNTP server
                              that answers (--sntp-server)
    --now ISO8601             a fixed instant (as `serve --now`)
    --sntp-server HOST[:PORT] the SNTP servers (repeatable; default ESP-IDF's
                              time.windows.com and pool.ntp.org; "none": none)
    --nvs-file FILE           the NVS file (default: the package's state folder)

:func:`clock_from_options` builds the :class:`~.esp_tls.config.TlsClock` for
``EspTlsCfg.clock`` (None for the system clock). When a certificate is
expired or not yet valid on it, :func:`time_note` says which clock and what
time it read, and how far it is from the SNTP servers when one answers within
:data:`SKEW_BUDGET_S` (:func:`measure_skew`), for
:func:`.get_report.describe`::

    on the NVS clock, 2019-01-01T00:00:00Z; this clock is 7 years behind pool.ntp.org

:func:`parse_instant` is the one ISO 8601 reader of ``--now`` (``serve``'s too).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from .esp_tls.config import TlsClock
    from .sntp import SntpResult

__all__ = [
    "CLOCKS",
    "SKEW_BUDGET_S",
    "ClockError",
    "add_options",
    "clock_from_args",
    "clock_from_options",
    "describe_skew",
    "duration",
    "measure_skew",
    "parse_instant",
    "sntp_servers",
    "time_note",
]

CLOCKS = ("system", "nvs", "sntp")
SKEW_BUDGET_S = 1.5
"""How long a failed connection waits for an SNTP server to measure the skew."""
_AGREE_S = 1.0
_MAX_SKEW_SERVERS = 4


class ClockError(Exception):
    """The clock asked for cannot be had; ``usage`` is True for a bad option
    or store (exit 2), False when no SNTP server answered (a network failure)."""

    def __init__(self, message: str, *, usage: bool = True) -> None:
        super().__init__(message)
        self.usage = usage


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant (``Z`` allowed; naive means UTC). Raises ValueError naming the text."""
    from datetime import UTC, datetime  # only when a time is given: not on get's start-up path

    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 date/time: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _sntp_server_arg(text: str) -> str:
    if text.strip().lower() == "none":
        return "none"
    from .sntp import format_server, parse_server  # light: wire and structs

    try:
        return format_server(*parse_server(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_HELP = {  # (what the clock is for, --now, what else --sntp-server is for), for get and for serve
    False: (
        "certificates are checked on",
        "check certificates at this fixed time (2019-06-01T00:00Z)",
        "the clock's skew when a certificate is out of its dates",
    ),
    True: (
        "the server's TLS (tickets, client certificates) and rating use",
        "a fixed clock at this time (2026-07-01T00:00:00Z)",
        "--clock nvs's refresh (--clock-refresh)",
    ),
}


def add_options(group: argparse._ActionsContainer, *, server: bool = False) -> None:
    """``--clock``, ``--now``, ``--sntp-server`` and ``--nvs-file`` on ``group``
    (``server``: their help as ``serve`` uses the clock)."""
    uses, fixed, asked = _HELP[server]
    group.add_argument(
        "--clock",
        choices=CLOCKS,
        help=f"the clock {uses}: system (default), nvs (the time stored in NVS, "
        "as the device restores it), sntp (asked from --sntp-server)",
    )
    group.add_argument("--now", metavar="ISO8601", help=fixed)
    group.add_argument(
        "--sntp-server",
        action="append",
        default=[],
        type=_sntp_server_arg,
        metavar="HOST[:PORT]",
        help=f"SNTP server for --clock sntp and for {asked} "
        "(repeatable; default time.windows.com and pool.ntp.org; 'none': ask none)",
    )
    group.add_argument("--nvs-file", metavar="FILE", help="the NVS file for --clock nvs (default: the state folder's)")


def sntp_servers(args: argparse.Namespace) -> tuple[str, ...]:
    """The servers ``--sntp-server`` names (ESP-IDF's defaults when none; empty for ``none``)."""
    from .time_sync import DEFAULT_SERVERS

    given: list[str] = args.sntp_server
    if "none" in given:
        return ()
    return tuple(given) or DEFAULT_SERVERS


def clock_from_args(args: argparse.Namespace, dns_servers: tuple[str, ...] = ()) -> TlsClock | None:
    """:func:`clock_from_options` for the options :func:`add_options` added."""
    if args.now is None and args.clock in (None, "system"):
        return None  # the system clock (time_sync is not imported)
    given: list[str] = args.sntp_server
    if "none" in given and args.clock == "sntp":
        raise ClockError("--clock sntp needs an SNTP server (--sntp-server none given)")
    return clock_from_options(args.clock, args.now, sntp_servers(args), args.nvs_file, dns_servers)


def clock_from_options(
    clock: str | None,
    now: str | None,
    sntp_servers: Sequence[str],
    nvs_file: str | None = None,
    dns_servers: tuple[str, ...] = (),
) -> TlsClock | None:
    """The clock ``--clock``/``--now`` ask for; None for the system clock.

    ``sntp_servers`` are ``HOST[:PORT]`` texts (empty: ESP-IDF's defaults).
    Raises ClockError: --now with another --clock, a bad --now, no time in
    NVS or an unreadable NVS file (usage), no SNTP server answering (not usage).
    """
    if now is None and clock in (None, "system"):
        return None  # the system clock: nothing to build (time_sync is not imported)
    from . import time_sync

    if now is not None:
        if clock not in (None, "system"):
            raise ClockError(f"--now and --clock {clock} do not go together (--now is a fixed clock)")
        try:
            return time_sync.FixedClock(parse_instant(now).timestamp())
        except ValueError as exc:
            raise ClockError(f"--now: {exc}") from None
    if clock in (None, "system"):
        return None
    if clock == "nvs":
        return _nvs_clock(nvs_file)
    if clock == "sntp":
        device = time_sync.DeviceClock(time.time())
        servers = tuple(sntp_servers) or time_sync.DEFAULT_SERVERS
        try:
            time_sync.sync_clock(device, servers, tries=1, wait=3.0, dns_servers=dns_servers)
        except ValueError as exc:
            raise ClockError(f"--sntp-server: {exc}") from None
        except time_sync.TimeSyncError as exc:
            raise ClockError(f"--clock sntp: {exc}", usage=False) from None
        return device
    raise ClockError(f"--clock: unknown clock {clock!r}; known: {', '.join(CLOCKS)}")


def _nvs_clock(path: str | None) -> TlsClock:
    """A device clock set from NVS storage/timestamp, as the device restores it at power-on."""
    from pathlib import Path

    from . import time_sync
    from .nvs import Nvs, NvsError

    where = path or "the default NVS file"
    try:
        store = Nvs(Path(path) if path else None)
    except NvsError as exc:  # a corrupt file is moved aside by Nvs itself: this is what remains
        raise ClockError(f"--clock nvs: cannot open {where}: {exc}") from None
    try:
        timestamp = time_sync.read_nvs_time(store)
    except time_sync.TimeSyncError as exc:
        raise ClockError(f"--clock nvs: {exc}") from None
    finally:
        store.close()
    if timestamp is None:
        raise ClockError(
            f"--clock nvs: no time in NVS ({time_sync.STORAGE_NAMESPACE}/{time_sync.TIMESTAMP_KEY} in {where}); "
            "store one with `https-request nvs set-time`, or use --clock sntp"
        )
    device = time_sync.DeviceClock()
    device.set(float(timestamp), source="NVS")
    return device


def duration(seconds: float) -> str:
    """A human length of time: ``0.4 s``, ``12 s``, ``5 min``, ``3 h``, ``4 days``, ``7 years``."""
    s = abs(seconds)
    for unit, size, singular in (("years", 365.25 * 86400, "year"), ("days", 86400, "day"), ("h", 3600, None)):
        if s >= size:
            n = s / size
            shown = f"{n:.0f}" if n >= 10 or n == int(n) else f"{n:.1f}"
            return f"{shown} {singular if singular and shown == '1' else unit}"
    if s >= 60:
        return f"{s / 60:.0f} min"
    return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"


def describe_skew(result: SntpResult) -> str:
    """``this clock is 7 years behind pool.ntp.org`` (``result.offset``: server minus clock)."""
    if abs(result.offset) < _AGREE_S:
        return f"this clock agrees with {result.server} to within {_AGREE_S:g} s"
    side = "behind" if result.offset > 0 else "ahead of"
    return f"this clock is {duration(result.offset)} {side} {result.server}"


def measure_skew(
    clock: TlsClock, servers: Sequence[str], budget: float = SKEW_BUDGET_S, dns_servers: tuple[str, ...] = ()
) -> SntpResult | None:
    """The first answer of ``servers`` (``HOST[:PORT]``, asked at once, at most four)
    measuring ``clock``, or None when none answered within ``budget`` seconds
    (name lookups included: each server is asked on a daemon thread)."""
    from . import sntp

    answers: list[SntpResult] = []
    import threading

    done = threading.Condition()
    pending = 0

    def ask(host: str, port: int) -> None:
        nonlocal pending
        try:
            result: SntpResult | None = sntp.query(host, port, timeout=budget, clock=clock.now, dns_servers=dns_servers)
        except sntp.SntpError:
            result = None
        with done:
            pending -= 1
            if result is not None:
                answers.append(result)
            done.notify_all()

    for entry in list(servers)[:_MAX_SKEW_SERVERS]:
        try:
            host, port = sntp.parse_server(entry)
        except ValueError:
            continue
        with done:
            pending += 1
        threading.Thread(target=ask, args=(host, port), name="sntp-skew", daemon=True).start()
    deadline = time.monotonic() + budget
    with done:
        while not answers and pending > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            done.wait(left)
        return answers[0] if answers else None


def time_note(
    clock: TlsClock | None,
    servers: Sequence[str],
    budget: float = SKEW_BUDGET_S,
    dns_servers: tuple[str, ...] = (),
) -> str:
    """``on the NVS clock, 2019-01-01T00:00:00Z; this clock is 7 years behind pool.ntp.org``
    (the skew only when a server of ``servers`` answered; none asked when empty
    or when the clock was just set over SNTP)."""
    from .time_sync import SystemClock, iso

    used = clock if clock is not None else SystemClock()
    note = f"on the {used.name} clock, {iso(used.now())}"
    if servers and used.name != "SNTP":
        result = measure_skew(used, servers, budget, dns_servers)
        if result is not None:
            note += f"; {describe_skew(result)}"
    return note
