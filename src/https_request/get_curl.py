"""``get``'s curl-shaped outputs that only some runs need: ``-w/--write-out`` and the
progress meter of ``-o`` on a terminal. Imported only when one of them is used.

``-w FORMAT`` (``@FILE`` reads it from FILE, ``@-`` from stdin) is written after
the transfer, to stdout, also when it failed. Its variables are curl's
(``%{name}``); ``%header{NAME}`` is a response header's value (curl 7.84);
``%{stdout}`` / ``%{stderr}`` switch the stream; ``%%`` is a percent sign; ``\\n``,
``\\r``, ``\\t`` and ``\\\\`` are escapes. Values follow curl's formats: times in
seconds with six decimals, from the start of the (last) try; ``http_code`` three
digits (``000`` without a response); ``http_version`` ``1.1`` or ``1``. Where
ours differ: ``exitcode`` and ``errormsg`` are this command's (``--help`` maps
its exit codes to curl's); ``ssl_verify_result`` is 0 (the certificate was
verified, or not checked: ``-k`` or http://); ``time_namelookup`` ends when the
first connection attempt starts. An unknown variable costs a warning and is
left out, as in curl.

:class:`Meter` draws curl's progress meter (its two header lines, then one line
redrawn in place at most twice a second and once at the end).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .get_report import Report

__all__ = ["Meter", "format_write_out", "write_out"]

_TOKEN = re.compile(r"%\{([a-z_]+)\}|%header\{([^}]*)\}|%%|\\([nrt\\])|%|\\|[^%\\]+")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}


def _seconds(ms: float | None) -> str:
    return f"{(ms or 0.0) / 1000:.6f}"


def _variables(report: Report, code: int) -> dict[str, str]:
    """Every ``%{name}`` value for ``report`` and the exit status ``code``."""
    info = report.info
    start = report.conn_start_ms
    connected = info is not None
    connect = start + info.connect_ms if info is not None else None
    lookup = start + (info.lookup_ms if info.lookup_ms is not None else info.connect_ms) if info is not None else None
    appconnect = connect + info.tls_ms if info is not None and connect is not None and info.version != "none" else None
    first = start + report.first_byte_ms if report.first_byte_ms is not None else None
    total = report.total_ms or 0.0
    version = report.http_version or "0"
    headers = {name.lower(): value for name, value in report.headers}
    speed = report.size_download / (total / 1000) if total > 0 else 0.0
    return {
        "http_code": f"{report.status or 0:03d}",
        "response_code": f"{report.status or 0:03d}",
        "http_version": "1" if version == "1.0" else version,
        "time_namelookup": _seconds(lookup),
        "time_connect": _seconds(connect),
        "time_appconnect": _seconds(appconnect),
        "time_pretransfer": _seconds(report.pretransfer_ms),
        "time_starttransfer": _seconds(first),
        "time_redirect": _seconds(start if report.redirects else 0.0),
        "time_total": _seconds(total),
        "size_download": str(report.size_download),
        "size_header": str(report.size_header),
        "size_request": str(report.size_request),
        "size_upload": "0",
        "speed_download": f"{speed:.0f}",
        "speed_upload": "0",
        "remote_ip": (info.address or "") if info is not None else "",
        "remote_port": str(info.port) if connected and info is not None else "0",
        "local_ip": (info.local_address or "") if info is not None else "",
        "local_port": str(info.local_port) if info is not None else "0",
        "num_connects": str(report.num_connects),
        "num_redirects": str(report.redirects),
        "ssl_verify_result": "0",
        "scheme": report.scheme,
        "url_effective": report.url,
        "content_type": headers.get("content-type", ""),
        "redirect_url": report.redirect_url or "",
        "exitcode": str(code),
        "errormsg": report.error or "",
    }


def format_write_out(fmt: str, report: Report, code: int, warn: Callable[[str], None]) -> list[tuple[str, str]]:
    """``fmt`` rendered: (stream, text) pieces, stream "stdout" or "stderr"; ``warn`` hears of unknown variables."""
    values = _variables(report, code)
    headers: dict[str, str] = {}
    for name, value in report.headers:
        headers.setdefault(name.lower(), value)
    stream = "stdout"
    out: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(fmt):
        name, header, escape = m[1], m[2], m[3]
        text = m[0]
        if name is not None:
            if name in ("stdout", "stderr"):
                stream = name
                continue
            if name not in values:
                warn(f"unknown --write-out variable: {name!r}")
                continue
            text = values[name]
        elif header is not None:
            text = headers.get(header.strip().lower(), "")
        elif escape is not None:
            text = _ESCAPES[escape]
        elif text == "%%":
            text = "%"
        out.append((stream, text))
    return out


def write_out(spec: str, report: Report, code: int) -> int:
    """``-w spec`` after the transfer: the rendered text to stdout / stderr. Returns the exit
    status: ``code``, or 2 when ``@FILE`` cannot be read or stdout cannot be written (and
    ``code`` was 0)."""
    from .get_plan import EXIT_USAGE, PROG

    def warn(message: str) -> None:
        sys.stderr.write(f"{PROG}: warning: {message}\n")

    fmt = spec
    if spec.startswith("@"):
        path = spec[1:]
        try:
            if path == "-":
                fmt = sys.stdin.read()
            else:
                with open(path, encoding="utf-8", errors="replace") as f:
                    fmt = f.read()
        except OSError as exc:
            sys.stderr.write(f"{PROG}: -w {spec}: cannot read: {exc.strerror or exc}\n")
            return code or EXIT_USAGE
    try:
        for stream, text in format_write_out(fmt, report, code, warn):
            target = sys.stdout if stream == "stdout" else sys.stderr
            target.write(text)
        sys.stdout.flush()
    except OSError as exc:
        sys.stderr.write(f"{PROG}: cannot write the output: {exc.strerror or exc}\n")
        return code or EXIT_USAGE
    return code


# --- the progress meter --------------------------------------------------------

_HEADER = (
    "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
    "                                 Dload  Upload   Total   Spent    Left  Speed\n"
)
_K, _M, _G = 1024, 1024 * 1024, 1024 * 1024 * 1024


def _size5(n: float) -> str:
    """A size in five characters, as curl's meter writes it (12345, 1234k, 12.3M, 1234M, 12.3G)."""
    n = int(n)
    if n < 100000:
        return f"{n:5d}"
    if n < 10000 * _K:
        return f"{n // _K:4d}k"
    if n < 100 * _M:
        return f"{n // _M:2d}.{(n % _M) // (_M // 10)}M"
    if n < 10000 * _M:
        return f"{n // _M:4d}M"
    if n < 100 * _G:
        return f"{n // _G:2d}.{(n % _G) // (_G // 10)}G"
    return f"{n // _G:4d}G"


def _clock(seconds: float | None) -> str:
    """``H:MM:SS`` in eight characters; ``--:--:--`` when unknown or under a second, as curl."""
    if seconds is None or int(seconds) <= 0:
        return "--:--:--"
    s = int(seconds)
    if s >= 100 * 3600:
        return f"{s // 86400:3d}d {(s % 86400) // 3600:02d}h"
    return f"{s // 3600:2d}:{(s % 3600) // 60:02d}:{s % 60:02d}"


class Meter:
    """curl's progress meter on ``stream`` for a download of ``total`` bytes (None: unknown)."""

    def __init__(self, total: int | None, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._total = total
        self._stream = stream
        self._clock = clock
        self._start = clock()
        self._shown = self._start - 1.0
        self._received = 0
        self._last = (self._start, 0)  # for the current speed
        self._current = 0.0
        stream.write(_HEADER)
        self._draw(self._start)

    def count(self, chunks: Iterator[bytes], received: Callable[[], int]) -> Iterator[bytes]:
        """``chunks`` passed through, the meter updated with ``received()`` bytes after each."""
        for chunk in chunks:
            self._received = received()
            now = self._clock()
            if now - self._shown >= 0.5:
                self._draw(now)
            yield chunk
        self._received = received()

    def done(self) -> None:
        """The final line, and the newline after it."""
        self._draw(self._clock())
        self._stream.write("\n")
        self._stream.flush()

    def _draw(self, now: float) -> None:
        spent = now - self._start
        got, total = self._received, self._total
        average = got / spent if spent > 0 else 0.0
        then, before = self._last
        if now - then >= 0.5 or self._current == 0:
            self._current = (got - before) / (now - then) if now > then else average
            self._last = (now, got)
        percent = min(100, got * 100 // total) if total else 0
        left = (total - got) / average if total and average > 0 else None
        line = (
            f"\r{percent:3d} {_size5(total or 0)}  {percent:3d} {_size5(got)}    0     0  "
            f"{_size5(average)}      0 {_clock(total / average if total and average > 0 else None)} "
            f"{_clock(spent)} {_clock(left)} {_size5(self._current)}"
        )
        self._stream.write(line)
        self._stream.flush()
        self._shown = now
