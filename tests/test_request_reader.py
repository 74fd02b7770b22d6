"""``serve``'s request reading: httptools' fast path and h11 give the same answer on the same bytes.

:class:`~https_request.server.app.RequestReader` reads a first chunk that is one whole request head
with httptools (the ``uvloop`` extra) when it can prove h11 would read it the same way, and leaves
everything else to h11. Every input here, well-formed or not, is fed to a reader with the fast path
and to one without it, whole, in two pieces and byte by byte: the outcome (the request and what
followed it, the error status, or "needs more") must be the same; and the well-formed ones must
really take the fast path (else this would compare h11 with itself).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from https_request.server.app import (
    KEPT_HEADS,
    MAX_HEADER_BYTES,
    MAX_KEPT_HEAD_BYTES,
    MAX_KEPT_HEADS,
    HttpError,
    RequestReader,
    fast_request,
)

pytest.importorskip("httptools", reason="the fast path needs httptools (pip install 'https-request[uvloop]')")

H = b"Host: www.howsmyssl.com\r\n"

FAST = [  # one complete head, no body: the fast path reads these
    b"GET / HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /a/check?callback=x HTTP/1.1\r\n" + H + b"User-Agent: curl/8\r\nAccept: */*\r\n\r\n",
    b"HEAD / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",  # HTTP/1.0 needs no Host
    b"GET http://www.howsmyssl.com/a/check HTTP/1.1\r\n" + H + b"\r\n",
    b"GET / HTTP/1.1\r\nhOsT:   www.howsmyssl.com  \r\nX-Empty:\r\nX-Tab:\ta\tb\t\r\n\r\n",  # OWS, empty value
    b"GET / HTTP/1.1\r\n" + H + b"X-Obs: caf\xe9\r\n\r\n",  # obs-text
    b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n",
    b"DELETE /x HTTP/1.1\r\n" + H + b"Accept-Encoding: gzip, br\r\nAccept: application/json;q=0.5\r\n\r\n",
]

H11_ONLY = [  # h11 reads (or refuses) these; the fast path steps aside
    b"get / HTTP/1.1\r\n" + H + b"\r\n",  # a method h11 takes, llhttp does not
    b"BREW /pot HTTP/1.1\r\n" + H + b"\r\n",
    b"GET / HTTP/1.1\n" + H.replace(b"\r\n", b"\n") + b"\n",  # bare LF line ends
    b"\r\nGET / HTTP/1.1\r\n" + H + b"\r\n",  # a blank line first
    b"GET  / HTTP/1.1\r\n" + H + b"\r\n",  # two spaces
    b"GET / HTTP/1.1\r\nHost : www.howsmyssl.com\r\n\r\n",  # space before the colon
    b"GET / HTTP/1.1\r\n" + H + b"X-Fold: a\r\n  b\r\n\r\n",  # obsolete line folding
    b"GET / HTTP/1.1\r\n" + H + b"X-Bad: a\x00b\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + H + b"X-Bad: a\rb\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + H + b"X-Ctl: a\x01b\x7f\r\n\r\n",  # h11 takes controls other than NUL/CR/LF
    b"GET / HTTP/1.1\r\n" + H + b"X-Ff: \x0cb\r\n\r\n",
    b"GET /\xff HTTP/1.1\r\n" + H + b"\r\n",
    b"GET / HTTP/1.1\r\n\r\n",  # no Host
    b"GET / HTTP/1.1\r\n" + H + H + b"\r\n",  # two
    b"GET / HTTP/1.0\r\n" + H + H + b"\r\n",
    b"GET / HTTP/2.0\r\n" + H + b"\r\n",
    b"GET / HTTP/1.2\r\n" + H + b"\r\n",
    b"GET / HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n",
    b"POST /a/check HTTP/1.1\r\n" + H + b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 10\r\n\r\ncallback=x",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n",  # 501
    b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"POST / HTTP/1.1\r\n" + H + b"Content-Length: x\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + H + b"\r\nGET /2 HTTP/1.1\r\n" + H + b"\r\n",  # pipelined: leftover
    b"GET / HTTP/1.1\r\n" + H + b"\r\nextra",
    b"GET / HTTP/1.1\r\n" + H + b"Upgrade: h2c\r\nConnection: upgrade\r\n\r\n",
    b"CONNECT www.howsmyssl.com:443 HTTP/1.1\r\n" + H + b"\r\n",
    b"GET / HTTP/1.1\r\n" + H,  # incomplete
    b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * MAX_HEADER_BYTES + b"\r\n\r\n",  # 431
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",  # TLS on the plain port
    b"GET / HTTP/1.1\r\n" + H + b"X\xffY: z\r\n\r\n",
    b"GET /\x7f HTTP/1.1\r\n" + H + b"\r\n",
    b"GET / HTTP/1.1 \r\n" + H + b"\r\n",
    b" GET / HTTP/1.1\r\n" + H + b"\r\n",
]


def outcome(fast: bool, chunks: list[bytes]) -> tuple[Any, ...]:
    """What a reader makes of ``chunks`` then EOF: ("request", fields, leftover, chunks used),
    ("error", status, chunks used), ("eof",) or ("incomplete",)."""
    reader = RequestReader(fast=fast)
    for i, chunk in enumerate([*chunks, b""]):
        try:
            request = reader.feed(chunk)
        except HttpError as exc:
            return ("error", exc.status, i)
        except EOFError:
            return ("eof",)
        if request is not None:
            fields = (request.method, request.target, request.http_version, request.headers, request.body)
            return ("request", fields, reader.leftover, i)
    return ("incomplete",)


def splits(data: bytes) -> list[list[bytes]]:
    mid = len(data) // 2
    out = [[data], [data[:mid], data[mid:]]]
    if len(data) < 400:
        out.append([data[i : i + 1] for i in range(len(data))])
    return out


def same(data: bytes) -> tuple[Any, ...]:
    results = []
    for chunks in splits(data):
        with_fast, h11_only = outcome(True, chunks), outcome(False, chunks)
        assert with_fast == h11_only, (data, chunks)
        results.append(with_fast)
    return results[0]


@pytest.mark.parametrize("data", FAST, ids=range(len(FAST)))
def test_well_formed_heads_take_the_fast_path_and_read_as_h11_reads_them(data: bytes) -> None:
    assert fast_request(data, MAX_HEADER_BYTES) is not None
    kind, *_ = same(data)
    assert kind == "request"


@pytest.mark.parametrize("data", H11_ONLY, ids=range(len(H11_ONLY)))
def test_anything_else_is_h11s(data: bytes) -> None:
    assert fast_request(data, MAX_HEADER_BYTES) is None
    same(data)


def test_the_errors_are_h11s() -> None:
    """A few of the outcomes, spelled out (the comparison above would also pass if both paths
    accepted everything)."""
    assert same(b"GET / HTTP/1.1\r\n\r\n")[:2] == ("error", 400)
    assert same(b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n")[:2] == ("error", 501)
    assert same(b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * MAX_HEADER_BYTES + b"\r\n\r\n")[:2] == ("error", 431)
    assert same(b"GET / HTTP/1.1\r\n" + H + b"X-Fold: a\r\n  b\r\n\r\n")[0] == "request"  # h11 unfolds
    kind, fields, leftover, _ = same(b"GET / HTTP/1.1\r\n" + H + b"\r\nGET /2 HTTP/1.1\r\n")
    assert kind == "request" and fields[1] == "/" and leftover == b"GET /2 HTTP/1.1\r\n"


def test_the_head_size_limit_is_the_same() -> None:
    """Heads around the limit, whole and in pieces: the same 431s and requests on both paths."""
    base = b"GET / HTTP/1.1\r\n" + H + b"X-Pad: \r\n\r\n"
    for size in (MAX_HEADER_BYTES - 8, MAX_HEADER_BYTES, MAX_HEADER_BYTES + 1, MAX_HEADER_BYTES + 40):
        data = base.replace(b"X-Pad: ", b"X-Pad: " + b"p" * (size - len(base)))
        assert len(data) == size
        for chunks in ([data], [data[:100], data[100:]]):
            assert outcome(True, chunks) == outcome(False, chunks)


_BYTES = st.sampled_from([b" ", b"\t", b"\r", b"\n", b"\r\n", b":", b"\x00", b"\x7f", b"\xff", b"a", b"/", b"1"])


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(FAST + H11_ONLY[:10]),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 2), _BYTES), min_size=1, max_size=4),
)
def test_mutated_requests_read_the_same(base: bytes, edits: list[tuple[int, int, bytes]]) -> None:
    """Near-valid requests (bytes inserted, replaced or removed where parsers disagree most)."""
    data = bytearray(base)
    for pos, kind, byte in edits:
        pos %= len(data) + 1
        if kind == 0:
            data[pos:pos] = byte
        elif kind == 1:
            data[pos : pos + 1] = byte
        else:
            del data[pos : pos + 1]
    for chunks in splits(bytes(data))[:2]:
        assert outcome(True, chunks) == outcome(False, chunks), bytes(data)


def test_heads_read_before_are_kept_bounded() -> None:
    """A head read again is answered from the kept ones (the same Request, equal to a fresh
    read); at most MAX_KEPT_HEADS are kept, none over MAX_KEPT_HEAD_BYTES, the oldest go first."""
    KEPT_HEADS.clear()
    first = b"GET /kept/0 HTTP/1.1\r\n" + H + b"\r\n"
    request = fast_request(first, MAX_HEADER_BYTES)
    assert request is not None and fast_request(first, MAX_HEADER_BYTES) is request
    KEPT_HEADS.clear()
    assert fast_request(first, MAX_HEADER_BYTES) == request  # read afresh: the same fields
    assert fast_request(first, len(first) - 1) is None  # the limit is asked before the kept heads
    for i in range(1, MAX_KEPT_HEADS + 5):
        assert fast_request(b"GET /kept/%d HTTP/1.1\r\n" % i + H + b"\r\n", MAX_HEADER_BYTES) is not None
    assert len(KEPT_HEADS) == MAX_KEPT_HEADS and first not in KEPT_HEADS
    big = b"GET / HTTP/1.1\r\n" + H + b"X-Pad: " + b"p" * MAX_KEPT_HEAD_BYTES + b"\r\n\r\n"
    assert fast_request(big, MAX_HEADER_BYTES) is not None and big not in KEPT_HEADS
    bad = b"GET / HTTP/1.1\r\n\r\n"  # no Host: h11's, never kept
    assert fast_request(bad, MAX_HEADER_BYTES) is None and bad not in KEPT_HEADS
