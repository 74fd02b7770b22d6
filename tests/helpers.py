"""Shared test helpers: an in-memory client/server pair and event draining."""

from __future__ import annotations

from https_request.tls.connection import Connection
from https_request.tls.events import NEED_DATA, Event


def drain(conn: Connection) -> list[Event]:
    """Every event queued on ``conn``."""
    out: list[Event] = []
    while True:
        ev = conn.next_event()
        if ev is NEED_DATA:
            return out
        out.append(ev)  # type: ignore[arg-type]


def shuttle(a: Connection, b: Connection, max_rounds: int = 20) -> tuple[list[Event], list[Event]]:
    """Move bytes both ways until neither side has anything to send."""
    ev_a: list[Event] = []
    ev_b: list[Event] = []
    for _ in range(max_rounds):
        out_a = a.data_to_send()
        if out_a:
            b.receive_data(out_a)
        out_b = b.data_to_send()
        if out_b:
            a.receive_data(out_b)
        ev_a += drain(a)
        ev_b += drain(b)
        if not out_a and not out_b:
            return ev_a, ev_b
    raise AssertionError("connections did not settle")
