"""TCP Fast Open (RFC 7413) on Linux: the one place its socket options are set and read.

A client's first flight rides in the SYN when the kernel holds a TFO cookie
for the server's address (the cookie came with the SYN-ACK of an earlier
connection). :func:`enable_connect` sets ``TCP_FASTOPEN_CONNECT`` on a
socket before ``connect()``: with a cookie, ``connect()`` returns at once
without sending anything and the SYN leaves with the first write, carrying
it; without one, the connect is an ordinary one whose SYN asks for a cookie.
The kernel falls back by itself: a server that does not take the data
acknowledges only the SYN and the data is sent again at once; a SYN lost is
sent again without data (and repeated losses turn TFO off for a while:
``net.ipv4.tcp_fastopen_blackhole_timeout_sec``). The client bit of
``net.ipv4.tcp_fastopen`` (1, the default) must be set: without it the
option is refused and the connection goes on without TFO.

A server takes data in SYNs on a listening socket with ``TCP_FASTOPEN`` set
to the length of its queue of such connections not yet accepted
(:func:`enable_listen`), and only when the server bit (2) of
``net.ipv4.tcp_fastopen`` is set.

:func:`client_status` reads what happened from ``TCP_INFO`` once the server
has answered. Elsewhere than Linux nothing is set and the status is
``"unavailable"``.
"""

from __future__ import annotations

import socket
import sys
from typing import Literal

__all__ = [
    "TCP_FASTOPEN_CONNECT",
    "FastOpenStatus",
    "client_status",
    "enable_connect",
    "enable_listen",
    "requested",
]

TCP_FASTOPEN_CONNECT = 30  # linux/tcp.h (since Linux 4.11); the socket module has no name for it
_TCPI_OPT_SYN_DATA = 32  # tcpi_options: the data in our SYN was acknowledged (or, on a server, received)

FastOpenStatus = Literal["data in SYN", "no cookie", "data not taken", "SYN retransmitted", "not used", "unavailable"]
"""What TCP Fast Open did on a client connection: the first flight went with
the SYN and the server took it (``data in SYN``); the kernel had no cookie
for the address, and asked for one (``no cookie``); the server acknowledged
only the SYN and the data was sent again (``data not taken``); the SYN was
lost and sent again without data (``SYN retransmitted``); the kernel did not
try (``not used``: TFO paused after losses, or nothing was written yet); the
option was refused (``unavailable``: not Linux, or the client bit of
``net.ipv4.tcp_fastopen`` is off)."""

# tcpi_fastopen_client_fail (Linux 5.5): linux/tcp.h's enum tcp_fastopen_client_fail
_CLIENT_FAIL: dict[int, FastOpenStatus] = {1: "no cookie", 2: "data not taken", 3: "SYN retransmitted"}


def _linux() -> bool:
    return sys.platform.startswith("linux")


def enable_connect(sock: socket.socket) -> bool:
    """Set ``TCP_FASTOPEN_CONNECT`` on ``sock`` (a TCP socket not connected yet).

    Returns False, leaving the socket as it was, when the kernel refuses
    (EOPNOTSUPP with the client bit of ``net.ipv4.tcp_fastopen`` off,
    ENOPROTOOPT before Linux 4.11) or elsewhere than Linux. Never raises.
    """
    if not _linux():
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1)
    except OSError:
        return False
    return True


def requested(sock: socket.socket) -> bool:
    """Whether ``TCP_FASTOPEN_CONNECT`` is set on ``sock``. Never raises."""
    if not _linux():
        return False
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN_CONNECT) != 0
    except OSError:
        return False


def enable_listen(sock: socket.socket, queue: int) -> bool:
    """``TCP_FASTOPEN`` with a queue of ``queue`` on a TCP socket that is or will
    be listening (0 leaves TFO off). Returns whether it is set; False
    elsewhere than Linux. The kernel takes data in SYNs only when the server
    bit of ``net.ipv4.tcp_fastopen`` is set. Raises ValueError for a negative
    queue, OSError when the kernel refuses the option."""
    if queue < 0:
        raise ValueError(f"the TCP Fast Open queue must not be negative, not {queue}")
    if queue == 0 or not _linux() or not hasattr(socket, "TCP_FASTOPEN"):
        return False
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, queue)
    return True


def client_status(sock: socket.socket) -> FastOpenStatus:
    """What TCP Fast Open did on ``sock``, a client socket the server answered on
    (see :data:`FastOpenStatus`). Never raises."""
    if not requested(sock):
        return "unavailable"
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    except OSError:
        return "not used"
    if len(info) < 8:
        return "not used"
    if info[5] & _TCPI_OPT_SYN_DATA:
        return "data in SYN"
    # byte 7: tcpi_delivery_rate_app_limited:1, tcpi_fastopen_client_fail:2 (little-endian bit order)
    return _CLIENT_FAIL.get((info[7] >> 1) & 3, "not used")
