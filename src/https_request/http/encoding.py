"""Response content codings for ``get --compressed`` (RFC 9110 section 8.4.1).

:func:`accept_encoding` is the ``Accept-Encoding`` header's value: ``deflate,
gzip`` (no ``br``: a Brotli decoder would be a new dependency). :class:`Decoder` undoes a response's
``Content-Encoding`` chunk by chunk: ``gzip`` / ``x-gzip``, ``deflate`` (zlib
format, or the raw deflate some servers send), ``identity``, applied in
the reverse order of the list. Each call returns at most :data:`MAX_OUT` bytes
per input chunk's worth of work, so a small compressed body cannot make it hold
gigabytes at once (a "zip bomb" is then just a long output).

Raises
------
ValueError for a coding it cannot undo (named), or data that does not decode.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Protocol

__all__ = ["MAX_OUT", "Decoder", "accept_encoding"]

#: The most a decoder step yields at once.
MAX_OUT = 1 << 20


class _Step(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def end(self) -> Iterator[bytes]: ...


def accept_encoding() -> str:
    """``deflate, gzip`` (curl's order)."""
    return "deflate, gzip"


class _Zlib:
    """gzip (wbits 16+15), or deflate: zlib format, else raw deflate (decided by the first bytes)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._d: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._first = b""

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._d is None:
            self._first += data
            if len(self._first) < 2:
                return
            zlib_header = (self._first[0] & 0x0F) == 8 and int.from_bytes(self._first[:2], "big") % 31 == 0
            self._d = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
            data, self._first = self._first, b""
        yield from self._run(data)

    def _run(self, data: bytes) -> Iterator[bytes]:
        assert self._d is not None
        try:
            out = self._d.decompress(data, MAX_OUT)
            while out:
                yield out
                out = self._d.decompress(self._d.unconsumed_tail, MAX_OUT) if self._d.unconsumed_tail else b""
        except zlib.error as exc:
            raise ValueError(f"{'gzip' if self._gzip else 'deflate'} body does not decode: {exc}") from None

    def end(self) -> Iterator[bytes]:
        if self._d is None:
            if self._first:
                yield from self.feed(b"\0")  # one byte: cannot be a stream; let zlib say so
            return
        try:
            tail = self._d.flush()
        except zlib.error as exc:
            raise ValueError(f"{'gzip' if self._gzip else 'deflate'} body does not decode: {exc}") from None
        if tail:
            yield tail
        if not self._d.eof:
            raise ValueError(f"{'gzip' if self._gzip else 'deflate'} body ends before its stream does")


class Decoder:
    """Undo ``content_encoding`` (a Content-Encoding header value; None: nothing).
    Raises ValueError for a coding it does not know."""

    def __init__(self, content_encoding: str | None) -> None:
        self._steps: list[_Step] = []
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        for coding in reversed(codings):
            if coding in ("gzip", "x-gzip"):
                self._steps.append(_Zlib(gzip=True))
            elif coding == "deflate":
                self._steps.append(_Zlib(gzip=False))
            elif coding != "identity":
                raise ValueError(f"unrecognized content encoding {coding!r}")

    def decode(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The decoded body of ``chunks``. Raises ValueError for data that does not decode."""
        stream: Iterable[bytes] = chunks
        for step in self._steps:
            stream = _through(step, stream)
        return iter(stream)


def _through(step: _Step, chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield from step.feed(chunk)
    yield from step.end()
