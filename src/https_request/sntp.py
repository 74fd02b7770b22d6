"""An SNTP client (RFC 4330; the client mode of RFC 5905) over UDP.

:func:`query` sends one client-mode packet to one server and returns what its
answer says: the offset of the caller's clock from the server's, the round-trip
delay, the server's time, stratum, leap indicator and reference id
(:class:`SntpResult`). The 48-byte packet (RFC 5905 figure 8) is read and
written through :mod:`.wire` (:func:`encode` / :func:`decode`), no dependency.

What the client checks (RFC 4330 section 5, with RFC 5905's origin check)
--------------------------------------------------------------------------
* The answer comes from the address and port asked (a connected UDP socket)
  and is at least 48 bytes (extension fields or a MAC after them are ignored).
* Its mode is 4 (server) and its version 3 or 4.
* Its Origin Timestamp is the Transmit Timestamp of the request. The request
  carries a random 64-bit value there, not the client's time (RFC 9109's data
  minimisation, as chrony's client does): an answer that does not echo it is
  bogus or a late duplicate. The offset is computed from the caller's clock
  readings at send and receive, never from that field.

  Datagrams failing the checks above are dropped and the client goes on
  waiting until ``timeout`` (the timeout message says what was dropped).
* Stratum 0 is a kiss-o'-death: :class:`KissOfDeath`, with its ASCII code
  (RATE, DENY, RSTR...). RFC 4330: on DENY or RSTR the client must stop asking
  that server; on RATE it must slow down (:mod:`.time_sync` drops the server
  for the rest of the synchronisation in every case).
* Leap indicator 3 (the server's clock is not synchronised), a stratum above
  15, or a zero Transmit Timestamp: :class:`SntpError`, the server's answer
  is not used.

Timestamps are 64-bit NTP values, seconds since 1900 with a 32-bit fraction;
RFC 4330 section 3's era rule maps them to Unix time (a seconds field with its
top bit clear is 2036-2104). Offset and delay are RFC 4330's::

    offset = ((T2 - T1) + (T3 - T4)) / 2        delay = (T4 - T1) - (T3 - T2)

with T1/T4 the caller's clock at send/receive and T2/T3 the server's receive
and transmit timestamps; the delay is never reported below zero.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from ipaddress import ip_address

from .structs import Struct
from .wire import DecodeError, Reader, Writer

__all__ = [
    "MODE_CLIENT",
    "MODE_SERVER",
    "NTP_EPOCH_OFFSET",
    "PACKET_SIZE",
    "KissOfDeath",
    "NtpPacket",
    "SntpError",
    "SntpResult",
    "decode",
    "encode",
    "format_server",
    "from_unix",
    "parse_server",
    "query",
    "to_unix",
]

NTP_EPOCH_OFFSET = 2_208_988_800
"""Seconds from 1900-01-01 (NTP's era 0) to 1970-01-01 (Unix)."""
PACKET_SIZE = 48
MODE_CLIENT = 3
MODE_SERVER = 4
_VERSION = 4
_MAX_DATAGRAM = 1024  # a packet with extension fields or a MAC; anything longer is cut by recv


class SntpError(Exception):
    """No usable answer from ``server`` (``HOST:PORT`` as asked); the message says why."""

    def __init__(self, server: str, message: str) -> None:
        super().__init__(message)
        self.server = server


class KissOfDeath(SntpError):
    """The server answered with stratum 0: ``code`` is its kiss code (``RATE``,
    ``DENY``, ``RSTR``...; RFC 5905 section 7.4)."""

    def __init__(self, server: str, code: str) -> None:
        meaning = _KISS_MEANINGS.get(code, "the server refuses to serve this client")
        super().__init__(server, f"{server} sent a kiss-o'-death {code!r} ({meaning}); not asking it again")
        self.code = code


_KISS_MEANINGS = {
    "RATE": "the client asks too often",
    "DENY": "access denied by the server",
    "RSTR": "access denied by the server's restrictions",
    "RMOT": "access denied by a remote server",
    "INIT": "the server's association is not yet synchronised",
    "STEP": "the server's clock was just stepped",
}


class NtpPacket(Struct):
    """One NTP packet's 48-byte header (RFC 5905 figure 8); timestamps as raw 64-bit NTP values."""

    leap: int = 0
    version: int = _VERSION
    mode: int = MODE_CLIENT
    stratum: int = 0
    poll: int = 0
    precision: int = 0
    root_delay: int = 0  # NTP short format: 16.16 seconds
    root_dispersion: int = 0
    reference_id: bytes = b"\0\0\0\0"
    reference_time: int = 0
    origin_time: int = 0
    receive_time: int = 0
    transmit_time: int = 0


def encode(packet: NtpPacket) -> bytes:
    """The packet's 48 bytes. Raises ValueError for a field out of its range."""
    if not (0 <= packet.leap <= 3 and 0 <= packet.version <= 7 and 0 <= packet.mode <= 7):
        raise ValueError("leap, version or mode out of range")
    if len(packet.reference_id) != 4:
        raise ValueError("the reference id is 4 bytes")
    w = Writer()
    w.u8(packet.leap << 6 | packet.version << 3 | packet.mode)
    w.u8(packet.stratum)
    w.u8(packet.poll & 0xFF)
    w.u8(packet.precision & 0xFF)
    w.u32(packet.root_delay)
    w.u32(packet.root_dispersion)
    w.raw(packet.reference_id)
    for stamp in (packet.reference_time, packet.origin_time, packet.receive_time, packet.transmit_time):
        w.u64(stamp)
    return w.getvalue()


def _signed8(value: int) -> int:
    return value - 256 if value > 127 else value


def decode(data: bytes) -> NtpPacket:
    """The header of an NTP packet (what follows the first 48 bytes is ignored).

    Raises :class:`~.wire.DecodeError` for fewer than 48 bytes.
    """
    r = Reader(data, 0, min(len(data), PACKET_SIZE))
    if r.remaining < PACKET_SIZE:
        raise DecodeError("NTP packet", f"{len(data)} bytes, a packet has {PACKET_SIZE}")
    first = r.u8("LI/VN/mode")
    return NtpPacket(
        leap=first >> 6,
        version=first >> 3 & 7,
        mode=first & 7,
        stratum=r.u8("stratum"),
        poll=_signed8(r.u8("poll")),
        precision=_signed8(r.u8("precision")),
        root_delay=r.u32("root delay"),
        root_dispersion=r.u32("root dispersion"),
        reference_id=r.take(4, "reference id"),
        reference_time=r.u64("reference timestamp"),
        origin_time=r.u64("origin timestamp"),
        receive_time=r.u64("receive timestamp"),
        transmit_time=r.u64("transmit timestamp"),
    )


def to_unix(stamp: int) -> float:
    """A 64-bit NTP timestamp as Unix seconds (RFC 4330 section 3: top bit clear is era 1, 2036-2104)."""
    seconds, fraction = stamp >> 32, stamp & 0xFFFFFFFF
    if not seconds & 0x80000000:
        seconds += 1 << 32
    return seconds - NTP_EPOCH_OFFSET + fraction / (1 << 32)


def from_unix(unix: float) -> int:
    """Unix seconds (1968-2104) as a 64-bit NTP timestamp. Raises ValueError outside that range."""
    ntp = unix + NTP_EPOCH_OFFSET
    if not (1 << 31) <= ntp < (1 << 32) + (1 << 31):
        raise ValueError(f"{unix} is outside the NTP timestamps' range (1968-2104)")
    seconds = int(ntp)
    fraction = min(int((ntp - seconds) * (1 << 32)), 0xFFFFFFFF)
    return (seconds & 0xFFFFFFFF) << 32 | fraction


def _short(value: int) -> float:
    """NTP short format (16.16) as seconds."""
    return value / 65536


class SntpResult(Struct):
    """One server's answer. ``offset``: what to add to the caller's clock to get
    the server's time (seconds); ``delay``: the round trip minus the server's
    processing; ``server_time``: the server's Transmit Timestamp (Unix
    seconds); ``reference_id``: the kiss code or reference clock of a stratum
    0/1 server, else the IPv4 address (or hash) of its own source, as text."""

    server: str
    address: str
    offset: float
    delay: float
    server_time: float
    stratum: int
    leap: int
    reference_id: str
    root_delay: float
    root_dispersion: float


def _reference_text(stratum: int, ref: bytes) -> str:
    if stratum <= 1:
        return ref.rstrip(b"\0").decode("ascii", "replace")
    return ".".join(str(b) for b in ref)


def parse_server(text: str, default_port: int = 123) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``[IPV6]:PORT`` or a bare IPv6 address -> (host, port).

    Raises ValueError with the entry in the message.
    """
    entry = text.strip()
    host, port = entry, default_port
    if entry.startswith("["):
        close = entry.find("]")
        if close < 0 or (entry[close + 1 :] and not entry[close + 1 :].startswith(":")):
            raise ValueError(f"bad SNTP server {text!r}: expected [IPV6]:PORT")
        host, rest = entry[1:close], entry[close + 2 :]
        if rest:
            port = _port(text, rest)
    elif entry.count(":") == 1:
        host, _, rest = entry.partition(":")
        port = _port(text, rest)
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"bad SNTP server {text!r}: no host")
    return host, port


def _port(text: str, value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"bad SNTP server {text!r}: port {value!r} is not 1-65535")
    return int(value)


def format_server(host: str, port: int) -> str:
    """``host`` with its port when it is not 123 (``[v6]:port`` for IPv6 addresses)."""
    if port == 123:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _address(host: str, shown: str, dns_servers: tuple[str, ...]) -> str:
    """The address to ask: a literal as is, a name through the package's resolver (hosts file, A then AAAA)."""
    try:
        return str(ip_address(host))
    except ValueError:
        pass
    from .dns.lookup import NameLookup, resolver_for
    from .dns.resolver import DnsError

    lookup = NameLookup(lambda: resolver_for(dns_servers))
    problems: list[str] = []
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            found = lookup.resolve(host, family)
        except (DnsError, OSError, ValueError) as exc:
            problems.append(str(exc))
            continue
        if found:
            return str(found[0])
    raise SntpError(shown, f"cannot resolve the SNTP server {shown}: {'; '.join(problems) or 'no address'}")


def query(
    server: str,
    port: int = 123,
    timeout: float = 2.0,
    clock: Callable[[], float] = time.time,
    *,
    dns_servers: tuple[str, ...] = (),
) -> SntpResult:
    """Ask ``server`` (a name or an address) for the time once; see the module docstring.

    ``clock`` is the clock whose offset is measured (Unix seconds).
    ``timeout`` bounds the wait for a valid answer (the name lookup, when
    ``server`` is a name, has the resolver's own bounds). Raises
    :class:`KissOfDeath`, and :class:`SntpError` for no answer in time, a
    name that does not resolve, a network error or an unusable answer; each
    message names the server.
    """
    shown = format_server(server, port)
    address = _address(server, shown, dns_servers)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    nonce = int.from_bytes(os.urandom(8), "big")
    request = encode(NtpPacket(transmit_time=nonce))
    dropped: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((address, port))
            t1 = clock()
            sock.send(request)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                try:
                    data = sock.recv(_MAX_DATAGRAM)
                except TimeoutError:
                    break
                t4 = clock()
                problem = _discard_reason(data, nonce)
                if problem is None:
                    return _result(shown, address, decode(data), t1, t4)
                if len(dropped) < 3:
                    dropped.append(problem)
    except OSError as exc:
        raise SntpError(shown, f"SNTP server {shown}: {exc.strerror or exc}") from None
    note = f" (dropped: {'; '.join(dropped)})" if dropped else ""
    raise SntpError(shown, f"no answer from the SNTP server {shown} within {timeout:.2g} s{note}")


def _discard_reason(data: bytes, nonce: int) -> str | None:
    """Why a datagram is not the answer to our request (None: it is)."""
    try:
        packet = decode(data)
    except DecodeError:
        return f"a {len(data)}-byte datagram, not an NTP packet"
    if packet.mode != MODE_SERVER:
        return f"a packet in mode {packet.mode}, not 4 (server)"
    if packet.version not in (3, 4):
        return f"an NTP version {packet.version} packet"
    if packet.origin_time != nonce:
        return "an answer to another request (its origin timestamp is not ours)"
    return None


def _result(shown: str, address: str, p: NtpPacket, t1: float, t4: float) -> SntpResult:
    """The answer's meaning, or the error the answer is (RFC 4330 section 5)."""
    if p.stratum == 0:
        raise KissOfDeath(shown, p.reference_id.decode("ascii", "replace").rstrip("\0") or "????")
    if p.leap == 3:
        raise SntpError(shown, f"the SNTP server {shown} is not synchronised (leap indicator 3)")
    if p.stratum > 15:
        raise SntpError(shown, f"the SNTP server {shown} is not synchronised (stratum {p.stratum})")
    if p.transmit_time == 0:
        raise SntpError(shown, f"the SNTP server {shown} sent no transmit timestamp")
    t2, t3 = to_unix(p.receive_time), to_unix(p.transmit_time)
    return SntpResult(
        server=shown,
        address=address,
        offset=((t2 - t1) + (t3 - t4)) / 2,
        delay=max(0.0, (t4 - t1) - (t3 - t2)),
        server_time=t3,
        stratum=p.stratum,
        leap=p.leap,
        reference_id=_reference_text(p.stratum, p.reference_id),
        root_delay=_short(p.root_delay),
        root_dispersion=_short(p.root_dispersion),
    )
