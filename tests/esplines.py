"""Line shapes of ESP-IDF serial output, to compare our example's output with a published one.

A line's *shape* is the line with what varies between runs and machines replaced by
placeholders: the log timestamp, numbers, IPv4 and IPv6 addresses, interface names, DNS request
IDs. Response bodies (the raw bytes the example prints between ``Reading HTTP response...`` and
``connection closed``) and lines only a device prints (the Wi-Fi driver's ``wifi:`` lines, blank
lines) are left out. Runs of one shape (the countdown, dns_tmr ticks) count once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["DEVICE_ONLY", "is_subsequence", "shape", "shapes"]

#: Lines a host cannot produce: the Wi-Fi driver's.
DEVICE_ONLY = re.compile(r"^[IWEDV] \(\d+\) wifi:")

_LOG = re.compile(r"^([IWEDV]) \(\d+\) ")
_IPV6_ESP = re.compile(r"\b[0-9a-f]{4}(?::[0-9a-f]{4}){7}\b")  # IPV6STR: eight zero-padded groups
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_IFACE = (
    re.compile(r'(Interface )"[^"]+"'),
    re.compile(r"(Connecting to )\S+?(\.\.\.)$"),
    re.compile(r"(Connected to )\S+$"),
    re.compile(r"(esp_netif_handlers: )\S+( ip:)"),
)
_HEX = re.compile(r"\b0x[0-9A-Fa-f]+\b")
_NUMBER = re.compile(r"\b\d+\b")


def shape(line: str) -> str:
    """``line`` with its run- and machine-specific parts replaced by placeholders."""
    out = _LOG.sub(r"\1 (T) ", line)
    for pattern in _IFACE:
        out = pattern.sub(lambda m: m.group(1) + "IF" + (m.group(2) if m.lastindex and m.lastindex > 1 else ""), out)
    out = _IPV6_ESP.sub("IP6", out)
    out = _IPV6.sub("IP6", out)
    out = _IPV4.sub("IP4", out)
    out = _HEX.sub("HEX", out)
    return _NUMBER.sub("N", out)


def shapes(lines: Iterable[str], floating: re.Pattern[str] | None = None) -> list[str]:
    """The shapes of ESP log lines and printf lines (``dns_*``), bodies and device-only lines left
    out, and the lines ``floating`` matches (those whose place depends on timing: timer ticks,
    events, another task's line), a run of one shape counted once."""
    out: list[str] = []
    in_body = False
    for line in lines:
        if in_body:
            if re.search(r" example: connection closed$", line):
                in_body = False
            elif not (_LOG.match(line) or line.startswith(("dns_", "sending DNS"))):
                continue  # the response, printed raw
        if not line.strip() or DEVICE_ONLY.match(line) or (floating is not None and floating.search(line)):
            continue
        if re.search(r" example: Reading HTTP response\.\.\.$", line):
            in_body = True
        s = shape(line)
        if not out or out[-1] != s:
            out.append(s)
    return out


def is_subsequence(wanted: list[str], found: list[str]) -> tuple[bool, str]:
    """Whether ``wanted`` appears in ``found`` in order (other lines between allowed); when not,
    the first shape that could not be found after the previous one."""
    it = iter(found)
    for w in wanted:
        if not any(w == f for f in it):
            return False, w
    return True, ""
