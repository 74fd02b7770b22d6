"""Checked readers and writers for binary wire formats (TLS, and later DNS).

Theory of operation
-------------------
Every length-prefixed structure on the wire is read through :meth:`Reader.vec`,
which returns a sub-reader over exactly that many bytes, and every structure is
finished with :meth:`Reader.expect_end`, so short input and trailing garbage are
rejected the same way: a :class:`DecodeError` naming the field being read.
Handlers never slice bytes by hand.

:class:`Writer` mirrors it: :meth:`Writer.prefixed` reserves a length field,
lets the caller write the body, then back-patches the length, refusing a body
that does not fit the field's width.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

__all__ = ["DecodeError", "Reader", "Writer", "tagged_block"]

_LITTLE_ENDIAN = sys.byteorder == "little"
# Big-endian integers at an offset, read in one C call (``int.from_bytes`` of a slice costs
# about twice as much: the slice, then the byte order's name): a ClientHello reads dozens.
_U16 = struct.Struct(">H").unpack_from
_TAG_LENGTH = struct.Struct(">HH").unpack_from  # (a 16-bit tag, its body's 16-bit length)
_PACK_TAG_LENGTH = struct.Struct(">HH").pack


class DecodeError(ValueError):
    """Malformed input: too short, trailing bytes, or a value out of range.

    ``what`` names the field being read when the error was found.
    """

    def __init__(self, what: str, detail: str = "") -> None:
        self.what = what
        self.detail = detail
        msg = f"cannot decode {what}" + (f": {detail}" if detail else "")
        super().__init__(msg)


class Reader:
    """A cursor over immutable bytes; every read is bounds-checked."""

    __slots__ = ("_data", "_pos", "_end")

    def __init__(self, data: bytes | bytearray | memoryview, start: int = 0, end: int | None = None) -> None:
        self._data = bytes(data) if not isinstance(data, bytes) else data
        self._pos = start
        self._end = len(self._data) if end is None else end

    @property
    def remaining(self) -> int:
        """Bytes not read yet."""
        return self._end - self._pos

    @property
    def position(self) -> int:
        """Offset of the cursor in the underlying buffer."""
        return self._pos

    def _take(self, n: int, what: str) -> int:
        pos = self._pos
        if n < 0 or pos + n > self._end:
            raise DecodeError(what, f"needs {n} bytes, {self._end - pos} left")
        self._pos = pos + n
        return pos

    def u8(self, what: str = "u8") -> int:
        """Read one byte. Raises DecodeError at the end of input."""
        pos = self._take(1, what)
        return self._data[pos]

    def u16(self, what: str = "u16") -> int:
        """Read a big-endian 16-bit integer. Raises DecodeError."""
        pos = self._take(2, what)
        value: int = _U16(self._data, pos)[0]
        return value

    def u24(self, what: str = "u24") -> int:
        """Read a big-endian 24-bit integer. Raises DecodeError."""
        pos = self._take(3, what)
        return int.from_bytes(self._data[pos : pos + 3], "big")

    def u32(self, what: str = "u32") -> int:
        """Read a big-endian 32-bit integer. Raises DecodeError."""
        pos = self._take(4, what)
        return int.from_bytes(self._data[pos : pos + 4], "big")

    def u64(self, what: str = "u64") -> int:
        """Read a big-endian 64-bit integer. Raises DecodeError."""
        pos = self._take(8, what)
        return int.from_bytes(self._data[pos : pos + 8], "big")

    def take(self, n: int, what: str = "bytes") -> bytes:
        """Read exactly ``n`` bytes. Raises DecodeError."""
        pos = self._take(n, what)
        return self._data[pos : pos + n]

    def rest(self) -> bytes:
        """Read everything that is left."""
        pos = self._pos
        self._pos = self._end
        return self._data[pos : self._end]

    def vec(self, width: int, what: str = "vector", minimum: int = 0, maximum: int | None = None) -> Reader:
        """A sub-reader over a vector with a ``width``-byte length prefix.

        Raises DecodeError if the length exceeds the input or lies outside
        ``minimum``..``maximum``.
        """
        pos = self._claim_vec(width, what, minimum, maximum)
        return Reader(self._data, pos, self._pos)

    def opaque(self, width: int, what: str = "opaque", minimum: int = 0, maximum: int | None = None) -> bytes:
        """The body of a length-prefixed byte vector. Raises DecodeError."""
        pos = self._claim_vec(width, what, minimum, maximum)  # as vec().rest(), without the sub-reader
        return self._data[pos : self._pos]

    def _claim_vec(self, width: int, what: str, minimum: int, maximum: int | None) -> int:
        """Read a vector's length prefix, check it, move past the body; returns the body's offset.
        (Prefix and body in one step, with :meth:`_take`'s checks and errors: a hello reads a
        few dozen vectors, and four calls each were a tenth of decoding one.)"""
        if not 1 <= width <= 4:
            raise ValueError(f"bad length width {width}")
        pos, end = self._pos, self._end
        start = pos + width
        if start > end:
            raise DecodeError(what, f"needs {width} bytes, {end - pos} left")
        data = self._data
        if width == 1:
            n = data[pos]
        elif width == 2:
            n = _U16(data, pos)[0]
        else:
            n = int.from_bytes(data[pos:start], "big")
        if n < minimum or (maximum is not None and n > maximum):
            raise DecodeError(what, f"length {n} outside {minimum}..{maximum}")
        if start + n > end:
            raise DecodeError(what, f"needs {n} bytes, {end - start} left")
        self._pos = start + n
        return start

    def u8_list(self, width: int, what: str) -> list[int]:
        """A length-prefixed vector of 8-bit values. Raises DecodeError."""
        return list(self.opaque(width, what))

    def u16_list(self, width: int, what: str, minimum: int = 0, max_entries: int | None = None) -> list[int]:
        """A length-prefixed vector of 16-bit values; odd lengths are malformed, and
        so is a list of more than ``max_entries`` (checked before converting any)."""
        body = self.opaque(width, what, minimum)
        if len(body) % 2:
            raise DecodeError(what, "odd length for a list of 16-bit values")
        if max_entries is not None and len(body) // 2 > max_entries:
            raise DecodeError(what, f"{len(body) // 2} entries (limit {max_entries})")
        values = array("H", body)  # (in C: a hello's lists have dozens of entries)
        if _LITTLE_ENDIAN:
            values.byteswap()
        return values.tolist()

    def tagged(self, what: str) -> Iterator[tuple[int, bytes]]:
        """Everything left, as items of a 16-bit tag and a body with a 16-bit length
        prefix (TLS extensions), in order, one at a time (the caller may refuse an
        item before the next is read). Raises DecodeError naming "``what`` type" or
        "``what`` 0x<tag>" when an item is cut short."""
        data, pos, end = self._data, self._pos, self._end
        while pos < end:
            if end - pos < 4:
                if end - pos < 2:
                    raise DecodeError(f"{what} type", f"needs 2 bytes, {end - pos} left")
                raise DecodeError(f"{what} 0x{_U16(data, pos)[0]:04x}", f"needs 2 bytes, {end - pos - 2} left")
            tag, length = _TAG_LENGTH(data, pos)
            start = pos + 4
            pos = start + length
            if pos > end:
                raise DecodeError(f"{what} 0x{tag:04x}", f"needs {pos - start} bytes, {end - start} left")
            self._pos = pos
            yield tag, data[start:pos]

    def expect_end(self, what: str = "message") -> None:
        """Raise DecodeError if bytes are left over."""
        if self._pos != self._end:
            raise DecodeError(what, f"{self._end - self._pos} trailing bytes")


class Writer:
    """An append-only byte buffer with back-patched length prefixes."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def u8(self, v: int) -> None:
        self.buf.append(v)

    def u16(self, v: int) -> None:
        self.buf += v.to_bytes(2, "big")

    def u24(self, v: int) -> None:
        self.buf += v.to_bytes(3, "big")

    def u32(self, v: int) -> None:
        self.buf += v.to_bytes(4, "big")

    def u64(self, v: int) -> None:
        self.buf += v.to_bytes(8, "big")

    def raw(self, b: bytes | bytearray | memoryview) -> None:
        self.buf += b

    @contextmanager
    def prefixed(self, width: int) -> Iterator[Writer]:
        """Reserve a ``width``-byte length, yield, then fill it in.

        Raises OverflowError if the body does not fit the width.
        """
        start = len(self.buf)
        self.buf += bytes(width)
        yield self
        n = len(self.buf) - start - width
        if n >= 1 << (8 * width):
            raise OverflowError(f"vector of {n} bytes does not fit a {width}-byte length")
        self.buf[start : start + width] = n.to_bytes(width, "big")

    def tagged(self, width: int, items: Iterable[tuple[int, bytes]]) -> None:
        """Write items of a 16-bit tag and a body with a 16-bit length prefix (TLS
        extensions: :meth:`Reader.tagged`), the whole behind a ``width``-byte length
        (:func:`tagged_block`). Raises OverflowError when a body or the whole does not fit its length."""
        self.buf += tagged_block(width, items)

    def opaque(self, width: int, b: bytes | bytearray) -> None:
        """Write a length-prefixed byte vector. Raises OverflowError."""
        n = len(b)
        if n >= 1 << (8 * width):
            raise OverflowError(f"vector of {n} bytes does not fit a {width}-byte length")
        self.buf += n.to_bytes(width, "big")
        self.buf += b

    def u16_list(self, width: int, values: Sequence[int]) -> None:
        """Write a length-prefixed vector of 16-bit values."""
        self.opaque(width, b"".join(v.to_bytes(2, "big") for v in values))

    def getvalue(self) -> bytes:
        return bytes(self.buf)


def tagged_block(width: int, items: Iterable[tuple[int, bytes]]) -> bytes:
    """Items of a 16-bit tag and a body with a 16-bit length prefix (TLS extensions:
    :meth:`Reader.tagged`), the whole behind a ``width``-byte length, as bytes (what
    :meth:`Writer.tagged` writes; encoders that pack the rest with ``struct`` take it as is).
    Raises OverflowError when a body or the whole does not fit its length."""
    parts = []
    for tag, body in items:
        n = len(body)
        if n > 0xFFFF:
            raise OverflowError(f"vector of {n} bytes does not fit a 2-byte length")
        parts.append(_PACK_TAG_LENGTH(tag, n))
        parts.append(body)
    block = b"".join(parts)
    n = len(block)
    if n >= 1 << (8 * width):
        raise OverflowError(f"vector of {n} bytes does not fit a {width}-byte length")
    return n.to_bytes(width, "big") + block
