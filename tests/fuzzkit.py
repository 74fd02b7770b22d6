"""The fuzzing invariant shared by the hypothesis tests (h11's AFL rule, for TLS):
whatever bytes a peer sends, a connection either accepts them or fails with the
engine's own TlsError (never internal_error, never a hang), sends at most one
alert, and then refuses every further call with ConnectionPoisoned."""

from __future__ import annotations

import time
from collections.abc import Callable

from hypothesis import strategies as st

from https_request.tls.connection import Connection
from https_request.tls.errors import AlertReceived, ConnectionPoisoned, Reason, TlsError
from https_request.tls.events import NEED_DATA

__all__ = ["SLOW", "check_poisoned", "chunked", "drain_events", "feed", "record"]

SLOW = 5.0  # seconds: one receive_data taking longer than this counts as a hang


def feed(conn: Connection, chunks: list[bytes], eof: bool = False) -> TlsError | None:
    """Feed ``chunks`` (then EOF); return the TlsError it failed with, if any.

    Any other exception propagates and fails the test.
    """
    try:
        for chunk in chunks:
            if chunk:
                start = time.monotonic()
                conn.receive_data(chunk)
                assert time.monotonic() - start < SLOW, "receive_data took too long"
            drain_events(conn)
            conn.data_to_send()
        if eof:
            conn.receive_data(b"")
            drain_events(conn)
    except ConnectionPoisoned as exc:  # the first failure must be the real one
        raise AssertionError(f"ConnectionPoisoned on the first failure: {exc}") from exc
    except TlsError as exc:
        # internal_error means an exception the handlers did not expect, converted by the catch-all
        assert exc.reason is not Reason.INTERNAL, f"peer bytes caused an internal error: {exc}"
        check_poisoned(conn, exc)
        return exc
    assert conn.error is None
    return None


def drain_events(conn: Connection) -> None:
    for _ in range(10_000):
        if conn.next_event() is NEED_DATA:
            return
    raise AssertionError("endless events")


def check_poisoned(conn: Connection, exc: TlsError) -> None:
    """After ``exc``: one alert was queued (unless the peer's alert caused it) and
    every call raises ConnectionPoisoned carrying ``exc``."""
    assert conn.error is exc
    out = conn.data_to_send()
    if exc.alert is not None and not isinstance(exc, AlertReceived):
        assert out, "a fatal alert should have been queued"
    for _ in range(10_000):  # events queued before the failure may still be read
        try:
            conn.next_event()
        except ConnectionPoisoned as p:
            assert p.original is exc
            break
    else:
        raise AssertionError("next_event never raised ConnectionPoisoned")
    calls: list[Callable[[], object]] = [
        lambda: conn.receive_data(b"\x16\x03\x03\x00\x00"),
        lambda: conn.receive_data(b""),
        lambda: conn.send_application_data(b"x"),
        conn.update_keys,
        conn.next_event,
    ]
    for call in calls:
        try:
            call()
        except ConnectionPoisoned as p:
            assert p.original is exc
        else:
            raise AssertionError("a call on a failed connection did not raise ConnectionPoisoned")
    assert conn.data_to_send() == b""


def record(ctype: int, payload: bytes, version: bytes = b"\x03\x03") -> bytes:
    """A plaintext record."""
    return bytes((ctype,)) + version + len(payload).to_bytes(2, "big") + payload


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` split at random points."""
    if not data:
        return []
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=6)))
    pieces, last = [], 0
    for cut in [*cuts, len(data)]:
        pieces.append(data[last:cut])
        last = cut
    return pieces
