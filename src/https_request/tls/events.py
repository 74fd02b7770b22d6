"""What a connection hands back from :meth:`Connection.next_event`.

Events are frozen value classes (:class:`~https_request.structs.Struct`); ``NEED_DATA`` is the sentinel for "feed me
more bytes" (h11's vocabulary).
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from ..structs import Struct

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


class HandshakeComplete(Struct, slots=False):  # (eight fields, made on every connection: one dict update)
    """The handshake finished; what was negotiated."""

    version: int
    cipher_suite: int
    group: int | None
    alpn_protocol: str | None
    resumed: bool
    early_data_accepted: bool
    server_name: str | None
    peer_certificates: tuple[bytes, ...]


class ApplicationData(Struct):
    data: bytes


class EarlyDataReceived(Struct):
    """Server side: 0-RTT data accepted from the client."""

    data: bytes


class EarlyDataRejected(Struct):
    """Client side: the server refused our 0-RTT data; the engine sends it
    again after the handshake (``resent`` bytes)."""

    resent: int


class SessionTicketReceived(Struct):
    """Client side: a resumable session (TLS 1.3 NewSessionTicket or 1.2 ticket)."""

    session: Session


class KeyUpdated(Struct):
    """Traffic keys changed; ``sending`` is True for our direction."""

    sending: bool


class AlertReceivedEvent(Struct):
    """A warning-level alert (fatal ones raise AlertReceived)."""

    level: int
    description: int


class CloseNotify(Struct):
    """The peer closed its side cleanly."""


class ConnectionClosed(Struct):
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
