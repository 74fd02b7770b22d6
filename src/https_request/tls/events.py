"""What a connection hands back from :meth:`Connection.next_event`.

Events are frozen dataclasses; ``NEED_DATA`` is the sentinel for "feed me
more bytes" (h11's vocabulary).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import Session

__all__ = [
    "NEED_DATA",
    "AlertReceivedEvent",
    "ApplicationData",
    "CloseNotify",
    "ConnectionClosed",
    "EarlyDataReceived",
    "EarlyDataRejected",
    "Event",
    "HandshakeComplete",
    "KeyUpdated",
    "NeedData",
    "SessionTicketReceived",
]


class NeedData(Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA = NeedData.NEED_DATA


@dataclass(frozen=True, slots=True)
class HandshakeComplete:
    """The handshake finished; what was negotiated."""

    version: int
    cipher_suite: int
    group: int | None
    alpn_protocol: str | None
    resumed: bool
    early_data_accepted: bool
    server_name: str | None
    peer_certificates: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ApplicationData:
    data: bytes


@dataclass(frozen=True, slots=True)
class EarlyDataReceived:
    """Server side: 0-RTT data accepted from the client."""

    data: bytes


@dataclass(frozen=True, slots=True)
class EarlyDataRejected:
    """Client side: the server refused our 0-RTT data; the engine sends it
    again after the handshake (``resent`` bytes)."""

    resent: int


@dataclass(frozen=True, slots=True)
class SessionTicketReceived:
    """Client side: a resumable session (TLS 1.3 NewSessionTicket or 1.2 ticket)."""

    session: Session


@dataclass(frozen=True, slots=True)
class KeyUpdated:
    """Traffic keys changed; ``sending`` is True for our direction."""

    sending: bool


@dataclass(frozen=True, slots=True)
class AlertReceivedEvent:
    """A warning-level alert (fatal ones raise AlertReceived)."""

    level: int
    description: int


@dataclass(frozen=True, slots=True)
class CloseNotify:
    """The peer closed its side cleanly."""


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The transport reached EOF (``receive_data(b"")``)."""

    clean: bool


Event = (
    HandshakeComplete
    | ApplicationData
    | EarlyDataReceived
    | EarlyDataRejected
    | SessionTicketReceived
    | KeyUpdated
    | AlertReceivedEvent
    | CloseNotify
    | ConnectionClosed
)
