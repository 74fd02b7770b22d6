"""The I/O-agnostic half of both drivers: what to do next, and event bookkeeping.

A :class:`Pump` wraps one sans-I/O :class:`~https_request.tls.connection.Connection`.
Drivers loop on :meth:`Pump.next_action`, which answers with one of three
actions (trio's and httpcore's rules, see the style guide 7.5):

* ``bytes``: send them, then ask again (**send before receive**);
* :data:`RECV`: receive once and hand the bytes (``b""`` at EOF) to :meth:`Pump.feed`;
* :data:`DONE`: the caller's condition holds.

so each loop iteration does exactly one blocking operation. :meth:`Pump.feed`
drains the connection's events at once: application and early data collect in
a read buffer, session tickets in :attr:`Pump.sessions` (the newest
``MAX_TICKETS_KEPT``; :attr:`Pump.tickets` counts them all), KeyUpdates in
:attr:`Pump.key_updates` and warning alerts in :attr:`Pump.warnings` (the
newest ``MAX_EVENTS_KEPT`` of each, see :mod:`https_request.tls.limits`); the
:class:`HandshakeComplete` event is kept in :attr:`Pump.handshake`. The read
buffer only grows while the caller waits for something else: drivers receive
for a read only when it is empty.

The driver-level exceptions live here too, so that both drivers raise the same
ones: :class:`TlsTimeout` and :class:`TlsConnectionError` (engine failures stay
:class:`~https_request.tls.errors.TlsError`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Final, Literal

from ..tls.errors import ConnectionPoisoned
from ..tls.events import (
    NEED_DATA,
    AlertReceivedEvent,
    ApplicationData,
    CloseNotify,
    ConnectionClosed,
    EarlyDataReceived,
    EarlyDataRejected,
    HandshakeComplete,
    KeyUpdated,
    SessionTicketReceived,
)
from ..tls.limits import MAX_EVENTS_KEPT, MAX_TICKETS_KEPT
from ..tls.session import Session
from ..tls.states import HsState

if TYPE_CHECKING:  # the engine is imported by whoever makes the connection (esp-tls: after the SYN left)
    from ..tls.connection import Connection

__all__ = ["DONE", "RECV", "Action", "Pump", "TlsConnectionError", "TlsTimeout"]


class TlsTimeout(TimeoutError):
    """A TLS operation did not finish in time (the peer stalled)."""


class TlsConnectionError(ConnectionError):
    """The transport failed (reset, refused, closed while we still needed bytes)."""


class Action(Enum):
    RECV = "RECV"
    DONE = "DONE"


RECV: Final = Action.RECV
DONE: Final = Action.DONE


class Pump:
    """Bookkeeping around one connection; see the module docstring."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.handshake: HandshakeComplete | None = None
        self.sessions: deque[Session] = deque(maxlen=MAX_TICKETS_KEPT)
        self.tickets = 0  # session tickets received in all
        self.key_updates: deque[KeyUpdated] = deque(maxlen=MAX_EVENTS_KEPT)
        self.warnings: deque[AlertReceivedEvent] = deque(maxlen=MAX_EVENTS_KEPT)
        self.early_data = bytearray()  # server: 0-RTT bytes received (also in the read buffer)
        self.early_data_rejected = 0  # client: bytes the engine re-sends after the handshake
        self.peer_closed = False  # close_notify received
        self.eof = False  # transport EOF fed
        self._incoming = bytearray()

    @property
    def finished(self) -> bool:
        """The peer will send no more application data."""
        return self.peer_closed or self.eof

    @property
    def buffered(self) -> int:
        return len(self._incoming)

    def start(self) -> None:
        """Client: queue the ClientHello unless already done (servers: no-op)."""
        from ..tls.client13 import ClientConnection

        if isinstance(self.conn, ClientConnection) and self.conn.state == HsState.HELLO_REQUEST:
            self.conn.start_handshake()

    def close(self) -> None:
        """Queue close_notify unless the connection failed, is closed or never started."""
        from ..tls.client13 import ClientConnection

        conn = self.conn
        if not conn.closed and not (isinstance(conn, ClientConnection) and conn.state == HsState.HELLO_REQUEST):
            conn.close()

    def next_action(self, done: Callable[[], bool]) -> bytes | Literal[Action.RECV, Action.DONE]:
        """Bytes to send, else DONE when ``done()`` holds, else RECV.

        Raises TlsConnectionError when more bytes are needed after EOF.
        """
        self.collect()
        out = self.conn.data_to_send()
        if out:
            return out
        if done():
            return DONE
        if self.eof:
            raise TlsConnectionError("connection closed by peer")
        return RECV

    def feed(self, data: bytes) -> None:
        """Give received bytes (``b""`` = EOF) to the connection and sort its events.

        A TlsError propagates after its alert was queued: drivers send
        ``conn.data_to_send()`` (best effort) and re-raise.
        """
        if not data:
            self.eof = True
        try:
            self.conn.receive_data(data)
        finally:
            self.collect()

    def read(self, max_bytes: int) -> bytes:
        """Take up to ``max_bytes`` from the read buffer."""
        out = bytes(self._incoming[:max_bytes])
        del self._incoming[:max_bytes]
        return out

    def collect(self) -> None:
        """Sort the connection's queued events (next_action and feed call it)."""
        while True:
            try:
                ev = self.conn.next_event()
            except ConnectionPoisoned:  # receive_data already raised the original error
                return
            if ev is NEED_DATA:
                return
            if isinstance(ev, ApplicationData):
                self._incoming += ev.data
            elif isinstance(ev, EarlyDataReceived):
                self._incoming += ev.data
                self.early_data += ev.data
            elif isinstance(ev, HandshakeComplete):
                self.handshake = ev
            elif isinstance(ev, SessionTicketReceived):
                self.sessions.append(ev.session)
                self.tickets += 1
            elif isinstance(ev, KeyUpdated):
                self.key_updates.append(ev)
            elif isinstance(ev, CloseNotify):
                self.peer_closed = True
            elif isinstance(ev, ConnectionClosed):
                self.eof = True
            elif isinstance(ev, EarlyDataRejected):
                self.early_data_rejected += ev.resent
            elif isinstance(ev, AlertReceivedEvent):
                self.warnings.append(ev)
