"""The checked binary reader and writer (https_request/wire.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from https_request.wire import DecodeError, Reader, Writer

# ------------------------------------------------------------------ Reader


def test_integers_big_endian() -> None:
    r = Reader(bytes(range(1, 19)))
    assert r.u8() == 0x01
    assert r.u16() == 0x0203
    assert r.u24() == 0x040506
    assert r.u32() == 0x0708090A
    assert r.u64() == 0x0B0C0D0E0F101112
    assert r.remaining == 0
    r.expect_end()


@pytest.mark.parametrize(("method", "size"), [("u8", 1), ("u16", 2), ("u24", 3), ("u32", 4), ("u64", 8)])
def test_integer_short_input(method: str, size: int) -> None:
    r = Reader(bytes(size - 1))
    with pytest.raises(DecodeError) as ei:
        getattr(r, method)("the_field")
    assert ei.value.what == "the_field"
    assert "the_field" in str(ei.value)
    assert r.position == 0  # a failed read does not move the cursor


def test_take_and_rest() -> None:
    r = Reader(b"abcdef")
    assert r.take(2) == b"ab"
    assert r.position == 2
    assert r.rest() == b"cdef"
    assert r.remaining == 0
    assert r.rest() == b""
    with pytest.raises(DecodeError):
        r.take(1)


def test_take_negative_refused() -> None:
    with pytest.raises(DecodeError):
        Reader(b"abc").take(-1)


def test_reader_accepts_bytearray_and_memoryview() -> None:
    assert Reader(bytearray(b"\x01\x02")).u16() == 0x0102
    assert Reader(memoryview(b"\x01\x02")).u16() == 0x0102


def test_window_bounds() -> None:
    """A reader over [start, end) never reads outside it."""
    r = Reader(b"XXabcYY", 2, 5)
    assert r.remaining == 3
    assert r.take(3) == b"abc"
    with pytest.raises(DecodeError):
        r.u8()


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_vec_each_width(width: int) -> None:
    body = b"hello"
    data = len(body).to_bytes(width, "big") + body + b"!"
    r = Reader(data)
    v = r.vec(width, "greeting")
    assert v.rest() == body
    assert r.u8() == ord("!")
    r.expect_end()


def test_vec_is_a_bounded_sub_reader() -> None:
    r = Reader(b"\x02ab\x01c")
    v = r.vec(1)
    assert v.take(2) == b"ab"
    with pytest.raises(DecodeError):
        v.u8()  # the byte after the vector belongs to the parent
    assert r.opaque(1) == b"c"


def test_vec_length_beyond_input() -> None:
    with pytest.raises(DecodeError) as ei:
        Reader(b"\x05abc").vec(1, "short_vec")
    assert ei.value.what == "short_vec"


def test_vec_minimum_and_maximum() -> None:
    with pytest.raises(DecodeError, match=r"outside 2\.\.None"):
        Reader(b"\x01a").vec(1, "v", minimum=2)
    with pytest.raises(DecodeError, match=r"outside 0\.\.2"):
        Reader(b"\x03abc").vec(1, "v", maximum=2)
    assert Reader(b"\x02ab").opaque(1, "v", 2, 2) == b"ab"


def test_vec_bad_width_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="bad length width"):
        Reader(b"\x00" * 8).vec(5)


def test_u8_and_u16_lists() -> None:
    assert Reader(b"\x03\x01\x02\x03").u8_list(1, "l") == [1, 2, 3]
    assert Reader(b"\x00\x04\x13\x01\x13\x02").u16_list(2, "suites") == [0x1301, 0x1302]
    with pytest.raises(DecodeError, match="odd length"):
        Reader(b"\x00\x03\x13\x01\x13").u16_list(2, "suites")
    with pytest.raises(DecodeError):
        Reader(b"\x00\x00").u16_list(2, "suites", minimum=2)


def test_tagged_items() -> None:
    r = Reader(b"\x00\x0a\x00\x02\x00\x1d\xff\x01\x00\x00", 0)
    assert list(r.tagged("extension")) == [(0x000A, b"\x00\x1d"), (0xFF01, b"")]
    r.expect_end()
    for data, what, detail in (
        (b"\x00", "extension type", "needs 2 bytes, 1 left"),
        (b"\x00\x0a\x00", "extension 0x000a", "needs 2 bytes, 1 left"),
        (b"\x00\x0a\x00\x03\x00\x1d", "extension 0x000a", "needs 3 bytes, 2 left"),
    ):
        with pytest.raises(DecodeError) as info:
            list(Reader(b"\x00\x2b\x00\x00" + data).tagged("extension"))
        assert (info.value.what, info.value.detail) == (what, detail)
    items = Reader(b"\x00\x01\x00\x00\x00").tagged("extension")
    assert next(items) == (1, b"")  # one item at a time: the caller may refuse it before the next is read


@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40)), max_size=10), st.binary(max_size=6))
def test_tagged_reads_as_type_then_opaque(items: list[tuple[int, bytes]], tail: bytes) -> None:
    """The same items and the same errors as reading each item's u16 type, then its opaque body."""
    w = Writer()
    for tag, body in items:
        w.u16(tag)
        w.opaque(2, body)
    data = w.getvalue() + tail
    slow, slow_error = [], None
    r = Reader(data)
    try:
        while r.remaining:
            tag = r.u16("extension type")
            try:
                slow.append((tag, r.opaque(2, "extension")))
            except DecodeError as exc:
                raise DecodeError(f"extension 0x{tag:04x}", exc.detail) from None
    except DecodeError as exc:
        slow_error = (exc.what, exc.detail)
    fast, fast_error = [], None
    try:
        for item in Reader(data).tagged("extension"):
            fast.append(item)
    except DecodeError as exc:
        fast_error = (exc.what, exc.detail)
    assert (fast, fast_error) == (slow, slow_error)


@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40)), max_size=10))
def test_tagged_round_trip(items: list[tuple[int, bytes]]) -> None:
    w = Writer()
    w.tagged(2, items)
    r = Reader(w.getvalue())
    assert list(r.vec(2).tagged("item")) == items
    r.expect_end()


def test_writer_tagged_overflow() -> None:
    with pytest.raises(OverflowError, match="vector of 65536 bytes does not fit a 2-byte length"):
        Writer().tagged(2, [(1, bytes(65536))])
    with pytest.raises(OverflowError, match="does not fit a 1-byte length"):
        Writer().tagged(1, [(1, bytes(300))])


def test_expect_end() -> None:
    r = Reader(b"\x01\x02")
    r.u8()
    with pytest.raises(DecodeError, match="1 trailing bytes") as ei:
        r.expect_end("Thing")
    assert ei.value.what == "Thing"


def test_decode_error_is_value_error() -> None:
    assert issubclass(DecodeError, ValueError)
    e = DecodeError("field")
    assert str(e) == "cannot decode field"


# ------------------------------------------------------------------ Writer


def test_writer_integers() -> None:
    w = Writer()
    w.u8(1)
    w.u16(0x0203)
    w.u24(0x040506)
    w.u32(0x0708090A)
    w.u64(0x0B0C0D0E0F101112)
    w.raw(b"\x13")
    assert w.getvalue() == bytes(range(1, 20))


@pytest.mark.parametrize("width", [1, 2, 3])
def test_writer_prefixed_backpatches(width: int) -> None:
    w = Writer()
    with w.prefixed(width) as inner:
        inner.raw(b"abc")
        with inner.prefixed(1):
            inner.raw(b"de")
    assert w.getvalue() == (6).to_bytes(width, "big") + b"abc\x02de"


def test_writer_prefixed_overflow() -> None:
    w = Writer()
    with pytest.raises(OverflowError):
        with w.prefixed(1):
            w.raw(bytes(256))
    w2 = Writer()
    with w2.prefixed(1):
        w2.raw(bytes(255))  # the largest that fits
    assert w2.getvalue()[0] == 255


def test_writer_opaque_overflow() -> None:
    with pytest.raises(OverflowError):
        Writer().opaque(1, bytes(256))
    with pytest.raises(OverflowError):
        Writer().opaque(2, bytes(65536))
    w = Writer()
    w.opaque(2, bytes(65535))
    assert len(w.getvalue()) == 65537


def test_writer_integer_out_of_range() -> None:
    with pytest.raises(OverflowError):
        Writer().u16(65536)
    with pytest.raises(ValueError):
        Writer().u8(256)


def test_writer_u16_list() -> None:
    w = Writer()
    w.u16_list(1, [0x0304, 0x0303])
    assert w.getvalue() == b"\x04\x03\x04\x03\x03"


# ------------------------------------------------------- property round trips


@given(st.lists(st.binary(max_size=300), max_size=8), st.sampled_from([1, 2, 3]))
def test_opaque_round_trip(items: list[bytes], width: int) -> None:
    items = [b[: (1 << (8 * width)) - 1] for b in items]
    w = Writer()
    for b in items:
        w.opaque(width, b)
    r = Reader(w.getvalue())
    assert [r.opaque(width) for _ in items] == items
    r.expect_end()


@given(st.lists(st.integers(0, 0xFFFF), max_size=50))
def test_u16_list_round_trip(values: list[int]) -> None:
    w = Writer()
    w.u16_list(2, values)
    r = Reader(w.getvalue())
    assert r.u16_list(2, "v") == values
    r.expect_end()


@given(st.binary(max_size=64))
def test_reader_never_raises_anything_but_decode_error(data: bytes) -> None:
    r = Reader(data)
    try:
        while True:
            v = r.vec(1)
            v.u16_list(1, "x")
            v.expect_end()
    except DecodeError:
        pass
