"""A delay link between two network namespaces: the kernel's TCP on both ends,
every IP packet held ``delay`` seconds in each direction by this process.

Why not a TCP proxy (``cold_get.DelayProxy``): a user-space proxy answers the
client's SYN from its own kernel at once, so it cannot delay the TCP handshake
(cold_get adds that round trip to its figures rather than measuring it) and
it cannot carry data in a SYN end to end (TCP Fast Open would stop at the
proxy). This link forwards packets instead, so the SYN, the SYN-ACK and a
SYN's data cross it like any other packet and ``connect()`` really waits one
round trip. netem (``tc qdisc ... netem delay``) would do the same in the
kernel; this machine's kernel has no netem.

How: two TUN devices (``/dev/net/tun``, IFF_TUN | IFF_NO_PI), one moved into
each namespace (``tests/netns.py``'s :class:`NetNs`; root only), addressed
point to point (``CLIENT_ADDR`` peer ``SERVER_ADDR`` and back). A thread of
this process reads each packet from one device and writes it to the other
``delay`` seconds later, in order (one heap of due times, one ``selectors``
loop). MTU 1500, as on a real link: a SYN carries at most one MSS of data.
Forwarding costs some tens of microseconds per packet, so ``delay=0`` is the
same path without the wait (the 0 ms figures are measured on it too).

Every IPv4 TCP packet is logged (:class:`Packet`: forwarder's read time,
direction, SYN/FIN/RST flags, payload length, client port) for
:func:`round_trips`.
"""

from __future__ import annotations

import fcntl
import heapq
import itertools
import os
import selectors
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from netns import NetNs  # tests/netns.py

__all__ = ["CLIENT_ADDR", "SERVER_ADDR", "DelayLink", "Packet", "round_trips"]

CLIENT_ADDR = "10.231.0.1"
SERVER_ADDR = "10.231.0.2"
MTU = 1500
_TUNSETIFF = 0x400454CA
_IFF_TUN, _IFF_NO_PI = 0x0001, 0x1000
_SYN, _FIN, _RST = 0x02, 0x01, 0x04
_MAX_LOG = 1_000_000  # packets kept (a bound on a bench that runs away)


@dataclass(frozen=True)
class Packet:
    """One TCP segment as the forwarder read it (``time.monotonic`` seconds)."""

    t: float
    to_server: bool
    client_port: int
    flags: int
    payload: int

    @property
    def speaks(self) -> bool:
        """A SYN, or data: something the other side may be waiting for."""
        return bool(self.flags & _SYN) or self.payload > 0


def _tcp(packet: bytes, to_server: bool, t: float) -> Packet | None:
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != 6:
        return None
    ihl = (packet[0] & 15) * 4
    total = int.from_bytes(packet[2:4], "big")
    if len(packet) < ihl + 20:
        return None
    sport, dport = struct.unpack_from("!HH", packet, ihl)
    offset = (packet[ihl + 12] >> 4) * 4
    return Packet(t, to_server, sport if to_server else dport, packet[ihl + 13], max(0, total - ihl - offset))


def round_trips(packets: list[Packet]) -> int:
    """The round trips one connection's exchange took: the client's flights the
    server answered. A client flight is a run of client SYN/data packets; a new
    one starts when the client speaks again after the server spoke (SYN-ACK or
    data) since the flight began. A flight counts when the server spoke after
    its first packet (the client waited for an answer), except the flight that
    carries the client's FIN (or RST) and any after it: a client that closes
    is done (what the server says then, its close_notify, answers nobody)."""
    flights: list[float] = []
    server_spoke_since = True
    last_server: float | None = None
    for p in packets:
        if p.to_server and p.flags & (_FIN | _RST):
            if flights and not server_spoke_since:
                flights.pop()  # the closing flight
            break
        if not p.speaks:
            continue
        if p.to_server:
            if server_spoke_since:
                flights.append(p.t)
                server_spoke_since = False
        else:
            server_spoke_since = True
            last_server = p.t
    return 0 if last_server is None else sum(1 for t in flights if t < last_server)


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


class DelayLink:
    """Client and server namespaces joined by the delay link (a context manager).

    ``client`` / ``server``: the :class:`NetNs` to run programs in; the server
    is reached at :data:`SERVER_ADDR`. ``delay`` (seconds, each direction) may
    be changed between exchanges. ``packets`` logs every TCP segment.
    """

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.packets: list[Packet] = []
        self.client = NetNs()
        self.server = NetNs()
        self._fds: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> DelayLink:
        self.client.__enter__()
        try:
            self.server.__enter__()
            names = (f"{self.client.ns_if}t"[:15], f"{self.server.ns_if}t"[:15])
            for (ns, mine, peer), name in zip(
                ((self.client, CLIENT_ADDR, SERVER_ADDR), (self.server, SERVER_ADDR, CLIENT_ADDR)), names, strict=True
            ):
                self._fds.append(_open_tun(name))
                _move(name, ns.name)
                ns.ip("link", "set", name, "mtu", str(MTU), "up")
                ns.ip("addr", "add", mine, "peer", peer, "dev", name)
            self._thread = threading.Thread(target=self._forward, name="delay link", daemon=True)
            self._thread.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        self.server.__exit__(t, e, tb)
        self.client.__exit__(t, e, tb)

    def mark(self) -> int:
        """The log's length now: :meth:`since` gives what came after."""
        return len(self.packets)

    def since(self, mark: int) -> dict[int, list[Packet]]:
        """The packets logged after ``mark``, by connection (client port)."""
        out: dict[int, list[Packet]] = {}
        for p in self.packets[mark:]:
            out.setdefault(p.client_port, []).append(p)
        return out

    def _forward(self) -> None:
        client_fd, server_fd = self._fds
        other = {client_fd: server_fd, server_fd: client_fd}
        due: list[tuple[float, int, int, bytes]] = []
        order = itertools.count()
        with selectors.DefaultSelector() as sel:
            for fd in self._fds:
                sel.register(fd, selectors.EVENT_READ)
            while not self._stop.is_set():
                now = time.monotonic()
                while due and due[0][0] <= now:
                    _, _, fd, packet = heapq.heappop(due)
                    try:
                        os.write(fd, packet)
                    except OSError:
                        pass  # the device went away, or its queue is full: a lost packet, as on a link
                wait = 0.05 if not due else max(0.0, due[0][0] - time.monotonic())
                for key, _ in sel.select(wait):
                    fd = key.fd
                    assert isinstance(fd, int)
                    while True:
                        try:
                            packet = os.read(fd, 65535)
                        except (BlockingIOError, OSError):
                            break
                        t = time.monotonic()
                        logged = _tcp(packet, fd == client_fd, t)
                        if logged is not None and len(self.packets) < _MAX_LOG:
                            self.packets.append(logged)
                        if self.delay <= 0:
                            try:
                                os.write(other[fd], packet)
                            except OSError:
                                pass
                        else:
                            heapq.heappush(due, (t + self.delay, next(order), other[fd], packet))


def _move(device: str, namespace: str) -> None:
    """``ip link set DEVICE netns NAMESPACE`` (a TUN device keeps its file descriptor)."""
    subprocess.run(["ip", "link", "set", device, "netns", namespace], check=True, capture_output=True, timeout=10)
