"""The engine's debug channel, in mbedTLS's shape.

The engine never formats a debug line unless the level is enabled: callers
test ``debug.threshold >= level`` first (or use the helpers here, which do).
Levels follow mbedTLS: 1 error, 2 state change, 3 informational, 4 verbose.
Key material is only ever passed at level 4. The ESP-IDF bridge that prints
these lines lives in :mod:`https_request.log`; here is only the interface and
a no-op default, so the sans-I/O core depends on nothing but itself.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["NULL_DEBUG", "NullDebug", "TlsDebug", "hexdump_lines"]


class TlsDebug(Protocol):
    """Where the engine's trace goes. ``threshold`` 0 disables everything."""

    threshold: int

    def msg(self, level: int, text: str) -> None:
        """A free-text line (``=> parse server hello``)."""

    def ret(self, level: int, fn: str, err: int) -> None:
        """``<fn>() returned <err> (-0x<hex>)``."""

    def buf(self, level: int, text: str, data: bytes) -> None:
        """``dumping '<text>' (<n> bytes)`` followed by a hex dump."""

    def crt(self, level: int, text: str, der: bytes) -> None:
        """A certificate summary."""


class NullDebug:
    """The default sink: threshold 0, every call a no-op."""

    threshold = 0

    def msg(self, level: int, text: str) -> None:
        pass

    def ret(self, level: int, fn: str, err: int) -> None:
        pass

    def buf(self, level: int, text: str, data: bytes) -> None:
        pass

    def crt(self, level: int, text: str, der: bytes) -> None:
        pass


NULL_DEBUG = NullDebug()


def hexdump_lines(data: bytes) -> list[str]:
    """mbedTLS-style dump: ``0000:  16 03 01 ...  ..ascii..``, 16 bytes a line."""
    out = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        hexpart = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.append(f"{off:04x}:  {hexpart:<47}  {text}")
    return out
