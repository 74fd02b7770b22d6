"""A stub resolver on dnspython's message and query functions, with lwIP's
retransmission schedule and debug lines.

What it does, per lookup of one name and one type (A or AAAA):

* **Cache first** (:class:`DnsCache`, bounded): positive answers for their
  TTL (capped at one week, lwIP's ``DNS_MAX_TTL``; TTL 0 is used once and not
  kept), NXDOMAIN and NODATA for the negative TTL of the SOA in the answer
  (RFC 2308 section 5: the smaller of the SOA's TTL and its MINIMUM; no SOA,
  not cached). A hit prints lwIP's ``dns_lookup: "NAME": found = ADDR``.
* **Query** (``dns.message.make_query``: a random ID, RD set, no EDNS, CD
  never set, so a DNS64 server synthesises AAAA records, RFC 6147 section
  5.5) over UDP from an OS-chosen random source port, to each server in turn.
  Each server is sent the same query at ``Schedule.sends`` seconds after its
  first send (lwIP: 0, 1, 2, 4) and given up at ``Schedule.next_server`` (7).
* **Answers**: only a datagram from the server asked, with the query's ID and
  question, counts; anything else (garbage, another ID, another source) is
  ignored and the wait goes on, as lwIP does (dnspython's ``receive_udp``
  with ``ignore_unexpected`` and ``ignore_errors`` does the checking). A
  truncated answer (TC) is asked again over TCP (lwIP has no TCP). CNAME
  chains are followed within the answer (``resolve_chaining``). SERVFAIL,
  REFUSED and other error codes move on to the next server at once (as lwIP
  does); NXDOMAIN is final (lwIP asks the next server for it too; an
  NXDOMAIN is the zone's answer, RFC 2308, so this resolver does not).
* **Errors** (:class:`DnsError`) name the name, each server tried and what it
  did: ``www.example.test: no answer from 127.0.0.1:15353 (4 tries in 7 s)``,
  ``nx.example.test: does not exist (NXDOMAIN from [::1]:15353)``.

lwIP's debug lines (``LWIP_DNS_DEBUG``) go to the ``debug`` callable, without
any prefix, with the entry and pcb numbers lwIP's table would give the same
sequence of lookups (:mod:`.lwip_log`).

One state machine (:class:`_Lookup`: schedule, retries, answers, cache and
lines) and one driver of its I/O that never waits, :class:`PendingLookup`
(its caller's loop waits for its socket or its time): :meth:`StubResolver.query`
waits on a selector, :meth:`StubResolver.aquery` in the asyncio loop
(``add_reader``), and Happy Eyeballs drives lookups begun with
:meth:`StubResolver.start` in its own loop. A resolver may be shared by threads
and tasks: its table and cache are behind a lock.

This is the only module that imports dnspython (``get`` imports it only when
it resolves a name).
"""

from __future__ import annotations

import itertools
import math
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

# The classes every answer is parsed into. dnspython imports them on first use, which put
# those imports (~0.5 ms each) inside a process's first A and AAAA lookups: in Happy
# Eyeballs' two lookup threads at once, serialised on the import lock (the first connection
# reached its first attempt ~1.5 ms later). Imported with this module instead.
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA

from ..structs import Struct
from .cache import CachedAnswer, DnsCache
from .lwip_log import DNS_TABLE_SIZE, LwipTable, TableFull

__all__ = [
    "DNS_MAX_TTL",
    "LWIP_SCHEDULE",
    "MAX_SYSTEM_SERVERS",
    "CachedAnswer",
    "DnsAnswer",
    "DnsCache",
    "DnsError",
    "DnsServer",
    "PendingLookup",
    "Schedule",
    "StubResolver",
    "default_resolver",
    "parse_server",
    "system_servers",
]

#: lwIP's ``DNS_MAX_TTL``: one week.
DNS_MAX_TTL = 604800
#: How many ``nameserver`` lines of resolv.conf are used (glibc's MAXNS).
MAX_SYSTEM_SERVERS = 3
_ADDRESS_FORMS = "ADDR, ADDR:PORT, IPV6 or [IPV6]:PORT"


class DnsServer(Struct):
    """One upstream server: an address and a port."""

    address: IPv4Address | IPv6Address
    port: int = 53

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"DNS server port {self.port} is not between 1 and 65535")

    def __str__(self) -> str:
        if isinstance(self.address, IPv4Address):
            return str(self.address) if self.port == 53 else f"{self.address}:{self.port}"
        return str(self.address) if self.port == 53 else f"[{self.address}]:{self.port}"

    @property
    def _family(self) -> int:
        return socket.AF_INET if isinstance(self.address, IPv4Address) else socket.AF_INET6

    @property
    def _destination(self) -> tuple[object, ...]:
        return tuple(dns.inet.low_level_address_tuple((str(self.address), self.port), self._family))


def _server_address(text: str, what: str) -> IPv4Address | IPv6Address:
    if "%" in text:
        raise ValueError(f"{what}: {text!r} has a zone (%...); link-local DNS servers are not supported")
    try:
        address = ip_address(text)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not an IPv4 or IPv6 address") from None
    if address.is_unspecified or address.is_multicast:
        raise ValueError(f"{what}: {text!r} cannot be a DNS server (unspecified or multicast address)")
    return address


def parse_server(text: str) -> DnsServer:
    """A server from ``ADDR``, ``ADDR:PORT``, ``IPV6`` or ``[IPV6]:PORT``
    (``--dns-server``). Raises ValueError saying what is wrong and the forms."""
    spec = text.strip()
    what = f"DNS server {text!r} (expected {_ADDRESS_FORMS})"
    port_text = ""
    if spec.startswith("["):
        host, bracket, rest = spec[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{what}: no closing ']' before the port")
        port_text = rest[1:] if rest else ""
        if rest and not port_text:
            raise ValueError(f"{what}: empty port")
        if ":" not in host:
            raise ValueError(f"{what}: brackets are for IPv6 addresses")
    elif spec.count(":") == 1:
        host, _, port_text = spec.partition(":")
        if not port_text:
            raise ValueError(f"{what}: empty port")
    else:
        host = spec
    if not host:
        raise ValueError(f"{what}: no address")
    port = 53
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{what}: port {port_text!r} is not a number from 1 to 65535")
        port = int(port_text)
    return DnsServer(_server_address(host, what), port)


def system_servers(path: str = "/etc/resolv.conf") -> tuple[DnsServer, ...]:
    """The ``nameserver`` lines of resolv.conf (the first three, as glibc; port 53).

    Raises OSError when the file cannot be read and ValueError when a
    nameserver line is not an address or there is none, naming the file (and line).
    """
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        raise OSError(e.errno, f"cannot read the DNS configuration {path}: {e.strerror}") from e
    servers: list[DnsServer] = []
    for number, line in enumerate(lines, 1):
        words = line.split()
        if len(words) < 2 or words[0] != "nameserver":
            continue
        servers.append(DnsServer(_server_address(words[1], f"{path} line {number}: nameserver")))
    if not servers:
        raise ValueError(f"{path} has no nameserver line: no DNS server to ask")
    return tuple(servers[:MAX_SYSTEM_SERVERS])


class Schedule(Struct):
    """When to send a query to one server: at each of ``sends`` seconds after
    the first send (the first is 0), giving up at ``next_server`` seconds
    (lwIP: 0, 1, 2 and 4, then 7). Raises ValueError for a schedule that is not that shape."""

    sends: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)
    next_server: float = 7.0

    def __post_init__(self) -> None:
        times = self.sends
        if not times or times[0] != 0 or any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError(f"a DNS schedule's sends start at 0 and increase, not {times}")
        if self.next_server <= times[-1]:
            raise ValueError(f"a DNS schedule gives up ({self.next_server} s) after its last send ({times[-1]} s)")


LWIP_SCHEDULE = Schedule()


class DnsAnswer(Struct):
    """The addresses of one type for a name; no addresses is NODATA."""

    name: str  # as asked, without a trailing dot
    rdtype: str  # "A" | "AAAA"
    addresses: tuple[IPv4Address | IPv6Address, ...]
    ttl: int  # seconds, capped at DNS_MAX_TTL (what is left of it for a cached answer)
    server: DnsServer | None  # None when answered from the cache
    used_tcp: bool = False


class DnsError(Exception):
    """A lookup that gave no answer; the message says, in the user's terms,
    which server did what. ``kind``: "nxdomain", "timeout", "servfail",
    "refused", another rcode in lower case, "tcp", "unreachable",
    "bad-name", "busy" or "no-servers"; ``server``: the last one tried."""

    def __init__(self, message: str, *, name: str, rdtype: str, kind: str, server: DnsServer | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.rdtype = rdtype
        self.kind = kind
        self.server = server


# What the state machine asks its driver to do next.
class _Send(Struct):
    server: DnsServer
    wire: bytes


class _Wait(Struct):
    server: DnsServer
    until: float  # time.monotonic()


class _Tcp(Struct):
    server: DnsServer
    timeout: float


class _Done(Struct):
    answer: DnsAnswer | None
    error: DnsError | None

    def result(self) -> DnsAnswer:
        if self.error is not None:
            raise self.error
        assert self.answer is not None
        return self.answer


_Action = _Send | _Wait | _Tcp | _Done


def _reason(error: Exception) -> str:
    """An I/O failure in a few words: "Connection refused", "timed out"."""
    if isinstance(error, dns.exception.Timeout):
        return "timed out"
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)
    return str(error) or type(error).__name__


def _ttl(seconds: float) -> int:
    return max(0, min(DNS_MAX_TTL, math.ceil(seconds)))


class _Lookup:
    """One lookup's progress through its servers (sans-I/O: the drivers pass
    in the time and what arrived, and do what :meth:`step` returns)."""

    def __init__(self, resolver: StubResolver, name: str, rdtype: str, query: dns.message.QueryMessage, entry: int):
        self.r = resolver
        self.name = name
        self.rdtype = rdtype
        self.query = query
        self.wire = query.to_wire()
        self.entry = entry
        self.index = 0  # the server being asked
        self.started: float | None = None  # its first send, time.monotonic()
        self.sent = 0  # sends to it so far
        self.tcp_pending = False
        self.failures: list[str] = []
        self.done: _Done | None = None

    @property
    def server(self) -> DnsServer:
        return self.r.servers[self.index]

    def step(self, now: float) -> _Action:
        """The next thing to do at ``now`` (time.monotonic())."""
        with self.r._lock:
            schedule = self.r.schedule
            while self.done is None:
                server = self.server
                if self.started is None:
                    self.started = now
                if self.tcp_pending:
                    self.tcp_pending = False
                    return _Tcp(server, max(self.started + schedule.next_server - now, schedule.sends[-1], 1.0))
                if self.sent < len(schedule.sends) and now >= self.started + schedule.sends[self.sent]:
                    self.sent += 1
                    self.r._table.sending(self.entry, self.query.id, self.index)
                    return _Send(server, self.wire)
                end = self.started + schedule.next_server
                if now >= end:
                    self._server_failed(
                        "timeout",
                        f"no answer from {server} ({self.sent} tries in {schedule.next_server:g} s)",
                        ("dns_check_entry", "timeout"),
                    )
                    continue
                if self.sent < len(schedule.sends):
                    end = min(end, self.started + schedule.sends[self.sent])
                return _Wait(server, end)
            return self.done

    def _server_failed(self, kind: str, what: str, lwip: tuple[str, str] | None = None) -> None:
        self.failures.append(what)
        if self.index + 1 < len(self.r.servers):
            self.index += 1
            self.started = None
            self.sent = 0
            return
        function, reason = lwip if lwip is not None else ("", "")
        self.r._table.failed(self.entry, function, reason)
        message = f"{self.name}: {'; '.join(self.failures)}"
        self.done = _Done(None, DnsError(message, name=self.name, rdtype=self.rdtype, kind=kind, server=self.server))

    def send_failed(self, error: OSError) -> None:
        """The datagram could not be sent, or the socket reported an error."""
        with self.r._lock:
            self._server_failed("unreachable", f"cannot reach {self.server} ({_reason(error)})")

    def tcp_failed(self, error: Exception) -> None:
        """The TCP query after a truncated answer failed."""
        with self.r._lock:
            self._server_failed("tcp", f"truncated answer from {self.server}, and over TCP: {_reason(error)}")

    def received(self, response: dns.message.Message, via_tcp: bool = False) -> None:
        """A response to the query from the server asked (the driver checked
        the source, ID and question)."""
        with self.r._lock:
            self._received(response, via_tcp)

    def _received(self, response: dns.message.Message, via_tcp: bool) -> None:
        server = self.server
        if response.flags & dns.flags.TC and not via_tcp:
            self.tcp_pending = True
            return
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            text = dns.rcode.to_text(rcode)
            self._server_failed(text.lower(), f"{text} from {server}", ("dns_recv", "error in flags"))
            return
        chain: dns.message.ChainingResult | None = None
        problem = "not an answer to a query"
        if isinstance(response, dns.message.QueryMessage):
            try:
                chain = response.resolve_chaining()
            except dns.exception.DNSException as e:
                problem = str(e) or type(e).__name__
        if chain is None:
            if via_tcp:
                self._server_failed("malformed", f"unusable answer from {server} ({problem})")
            return  # over UDP: ignored like any packet lwIP cannot use; the wait goes on
        has_soa = any(rrset.rdtype == dns.rdatatype.SOA for rrset in response.authority)
        now = self.r.clock()
        cache = self.r.cache
        addresses: tuple[IPv4Address | IPv6Address, ...] = ()
        if chain.answer is not None:
            addresses = tuple(ip_address(rd.address) for rd in chain.answer)
        ttl = _ttl(chain.minimum_ttl) if addresses or has_soa else 0
        if rcode == dns.rcode.NXDOMAIN:
            self.r._table.failed(self.entry, "dns_recv", "error in flags")
            if ttl:
                cache.put(self.name, self.rdtype, CachedAnswer((), now + ttl, True, server), now)
            message = f"{self.name}: does not exist (NXDOMAIN from {server})"
            error = DnsError(message, name=self.name, rdtype=self.rdtype, kind="nxdomain", server=server)
            self.done = _Done(None, error)
            return
        if addresses:
            self.r._table.answered(self.entry, addresses[0], ttl, now)
        else:
            self.r._table.failed(self.entry, "dns_recv", "error in response")
        if ttl:
            cache.put(self.name, self.rdtype, CachedAnswer(addresses, now + ttl, False, server), now)
        self.done = _Done(DnsAnswer(self.name, self.rdtype, addresses, ttl, server, via_tcp), None)

    def close(self) -> None:
        """Give the table entry back if the lookup did not finish (an exception, a cancelled task)."""
        with self.r._lock:
            if self.done is None:
                self.r._table.failed(self.entry)
                self.done = _Done(
                    None,
                    DnsError(f"{self.name}: lookup abandoned", name=self.name, rdtype=self.rdtype, kind="abandoned"),
                )


class _TcpQuery:
    """The TCP query after a truncated answer (dnspython's blocking ``dns.query.tcp``) in a
    thread of its own, so that the lookup's caller keeps waiting on one descriptor: the
    thread's end is signalled on a socket pair (:meth:`fileno`). After :meth:`close` the
    thread's result is dropped (it ends within its timeout)."""

    def __init__(self, query: dns.message.QueryMessage, server: DnsServer, timeout: float) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self.result: dns.message.Message | Exception | None = None
        self._wake, self._signal = socket.socketpair()
        try:
            threading.Thread(
                target=self._run, args=(query, server, timeout), name=f"dns tcp {server}", daemon=True
            ).start()
        except BaseException:
            self.close()
            raise

    def _run(self, query: dns.message.QueryMessage, server: DnsServer, timeout: float) -> None:
        result: dns.message.Message | Exception
        try:
            result = dns.query.tcp(query, str(server.address), timeout, server.port)
        except Exception as e:  # reported by the lookup (tcp_failed), in its caller's thread
            result = e
        with self._lock:
            if self._closed:
                return
            self.result = result
            self._signal.send(b"\0")

    def fileno(self) -> int:
        return self._wake.fileno()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.close()
            self._signal.close()


class PendingLookup:
    """One lookup that its caller's own loop drives (a selector, asyncio's ``add_reader``,
    Happy Eyeballs' race): the queries go out on a non-blocking UDP socket (one per
    address family, lwIP's pcb: one source port for the lookup), nothing waits.
    :meth:`StubResolver.query` and :meth:`StubResolver.aquery` are its two loops.

    The caller calls :meth:`advance` (which sends what is due and reads what arrived), then
    waits until :meth:`fileno` is readable or :meth:`wake_at` comes, and again, until
    :meth:`advance` returns the answer or raises; :meth:`close` (or ``with``) at the end,
    also when it gives up early. A truncated answer's TCP query runs in a thread of its
    own (:class:`_TcpQuery`), signalled on :meth:`fileno`. One caller drives a lookup.
    """

    def __init__(self, lookup: _Lookup, timeout: float | None = None) -> None:
        self._lookup = lookup
        self._timeout = timeout
        self._give_up = None if timeout is None else time.monotonic() + max(0.0, timeout)
        self._sockets: dict[int, socket.socket] = {}
        self._tcp: _TcpQuery | None = None
        self._wake: float | None = None

    def fileno(self) -> int:
        """The descriptor to watch for reading (-1: none; wait for :meth:`wake_at`)."""
        if self._tcp is not None:
            return self._tcp.fileno()
        sock = self._sockets.get(self._lookup.server._family)
        return -1 if sock is None else sock.fileno()

    def wake_at(self) -> float | None:
        """When :meth:`advance` must run even if nothing arrives (time.monotonic())."""
        return self._wake

    def advance(self, now: float) -> DnsAnswer | None:
        """Read what arrived, send what is due at ``now`` (time.monotonic()): the answer when
        the lookup is over, else None. Raises DnsError (kind "timeout" when the caller's
        ``timeout`` passed)."""
        lookup = self._lookup
        if lookup.done is None:
            if self._tcp is not None:
                self._tcp_ended()
            else:
                self._read()
        while True:
            if lookup.done is None and self._give_up is not None and now >= self._give_up:
                what = f"no answer within {self._timeout:g} s"
                raise lookup.r._error(lookup.name, lookup.rdtype, "timeout", what, lookup.server)
            if self._tcp is not None:
                return None
            action = lookup.step(now)
            if isinstance(action, _Done):
                return action.result()
            if isinstance(action, _Tcp):
                wait = action.timeout if self._give_up is None else min(action.timeout, self._give_up - now)
                self._tcp = _TcpQuery(lookup.query, action.server, max(wait, 0.0))
                self._wake = self._give_up
                return None
            if isinstance(action, _Send):
                self._send(action)
                continue
            self._wake = action.until if self._give_up is None else min(action.until, self._give_up)
            return None

    def _send(self, action: _Send) -> None:
        family = action.server._family
        try:
            sock = self._sockets.get(family)
            if sock is None:
                sock = self._sockets[family] = dns.query.make_socket(family, socket.SOCK_DGRAM)  # non-blocking
            dns.query.send_udp(sock, action.wire, action.server._destination)
        except OSError as e:
            self._lookup.send_failed(e)

    def _read(self) -> None:
        """The first usable answer waiting on the socket, if any (others are dropped, as lwIP drops them)."""
        lookup = self._lookup
        sock = self._sockets.get(lookup.server._family)
        if sock is None:
            return
        try:
            response, _ = dns.query.receive_udp(
                sock,
                lookup.server._destination,
                0.0,  # an expiration long past: read what is there, never wait
                ignore_unexpected=True,
                ignore_errors=True,
                query=lookup.query,
            )
        except dns.exception.Timeout:
            return
        except OSError as e:
            lookup.send_failed(e)
            return
        lookup.received(response)

    def _tcp_ended(self) -> None:
        assert self._tcp is not None
        result = self._tcp.result
        if result is None:
            return
        self._tcp.close()
        self._tcp = None
        if isinstance(result, dns.message.Message):
            self._lookup.received(result, via_tcp=True)
        else:
            self._lookup.tcp_failed(result)

    def close(self) -> None:
        """Close its sockets and give its table entry back (a lookup given up)."""
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()
        self._lookup.close()

    def __enter__(self) -> PendingLookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _wait_readable(fd: int, until: float | None) -> None:
    """Block until ``fd`` is readable (-1: none) or ``until`` (time.monotonic(); None: no bound)."""
    timeout = None if until is None else max(0.0, until - time.monotonic())
    if fd < 0:
        if timeout is not None:
            time.sleep(timeout)
        return
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        sel.select(timeout)


async def _areadable(fd: int, until: float | None) -> None:
    """:func:`_wait_readable` in the running asyncio loop (its ``add_reader``; a loop
    without readers, Windows' proactor, waits in a thread)."""
    import asyncio

    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    timer = None if until is None else loop.call_at(loop.time() + max(0.0, until - time.monotonic()), wake)
    watching = False
    try:
        if fd >= 0:
            try:
                loop.add_reader(fd, wake)
                watching = True
            except NotImplementedError:
                await asyncio.to_thread(_wait_readable, fd, until)
                return
        await ready
    finally:
        if watching:
            loop.remove_reader(fd)
        if timer is not None:
            timer.cancel()


class StubResolver:
    """A/AAAA lookups against ``servers`` (resolv.conf's when None).

    ``schedule`` is the retransmission schedule per server; ``cache`` may be
    shared between resolvers; ``clock`` (seconds, monotonic) ages the cache and
    lwIP's table; ``debug`` receives lwIP's debug lines (no prefix); ``table_size``
    is lwIP's ``DNS_TABLE_SIZE`` (lookups in progress at once).
    Raises OSError/ValueError as :func:`system_servers` when ``servers`` is None.
    """

    def __init__(
        self,
        servers: Sequence[DnsServer] | None = None,
        *,
        schedule: Schedule = LWIP_SCHEDULE,
        cache: DnsCache | None = None,
        clock: Callable[[], float] = time.monotonic,
        debug: Callable[[str], None] | None = None,
        table_size: int = DNS_TABLE_SIZE,
    ) -> None:
        self.servers = tuple(system_servers() if servers is None else servers)
        self.schedule = schedule
        self.cache = DnsCache() if cache is None else cache
        self.clock = clock
        self._lock = threading.Lock()
        self._table = LwipTable(table_size, debug)

    @property
    def debug(self) -> Callable[[str], None] | None:
        """Where lwIP's debug lines go (None: nowhere); may be changed between lookups."""
        return self._table.debug

    @debug.setter
    def debug(self, sink: Callable[[str], None] | None) -> None:
        with self._lock:
            self._table.debug = sink

    def _error(self, name: str, rdtype: str, kind: str, what: str, server: DnsServer | None = None) -> DnsError:
        return DnsError(f"{name}: {what}", name=name, rdtype=rdtype, kind=kind, server=server)

    def _begin(self, name: str, rdtype: str) -> DnsAnswer | _Lookup:
        """The cached answer, or a lookup holding a table entry.

        Raises DnsError, or ValueError for a type other than A or AAAA."""
        if rdtype not in ("A", "AAAA"):
            raise ValueError(f"the stub resolver asks for A or AAAA records, not {rdtype!r}")
        shown = name[:-1] if name.endswith(".") else name
        try:
            if not shown:
                raise dns.name.EmptyLabel
            qname = dns.name.from_text(shown)
        except (dns.exception.DNSException, UnicodeError) as e:
            raise self._error(shown, rdtype, "bad-name", f"not a valid DNS name ({e})") from None
        if shown.lower() == "invalid" or shown.lower().endswith(".invalid"):  # RFC 6761 section 6.4
            raise self._error(shown, rdtype, "nxdomain", "does not exist (.invalid names never do, RFC 6761)")
        if not self.servers:
            raise self._error(shown, rdtype, "no-servers", "no DNS server configured")
        with self._lock:
            now = self.clock()
            cached = self._cached(shown, rdtype, now)
            if cached is not None:
                return cached
            query = dns.message.make_query(qname, rdtype)
            for _ in range(16):  # lwIP draws again while another pending lookup has the ID
                if not self._table.txid_in_use(query.id):
                    break
                query.id = dns.message.make_query(qname, rdtype).id
            try:
                entry = self._table.enqueue(shown, now)
            except TableFull:
                busy = f"too many DNS lookups in progress ({len(self._table)})"
                raise self._error(shown, rdtype, "busy", busy) from None
            self._table.claim_txid(entry, query.id)
        return _Lookup(self, shown, rdtype, query, entry)

    def _cached(self, shown: str, rdtype: str, now: float) -> DnsAnswer | None:
        """The cache's answer (lwIP's ``dns_lookup`` line), None when it has none.
        Raises DnsError for a cached NXDOMAIN. The caller holds the lock."""
        hit = self.cache.get(shown, rdtype, now)
        if hit is None:
            return None
        if hit.nxdomain:
            what = f"does not exist (NXDOMAIN from {hit.server}, cached)"
            raise self._error(shown, rdtype, "nxdomain", what, hit.server)
        if hit.addresses:
            self._table.found(shown, hit.addresses[0])
        return DnsAnswer(shown, rdtype, hit.addresses, _ttl(hit.expires - now), None)

    def cached(self, name: str, rdtype: str) -> DnsAnswer | None:
        """``name``'s answer from the cache, without a query: None when there is
        none. Raises DnsError for a cached NXDOMAIN (and as :meth:`query` for a bad
        name or type)."""
        if rdtype not in ("A", "AAAA"):
            raise ValueError(f"the stub resolver asks for A or AAAA records, not {rdtype!r}")
        shown = name[:-1] if name.endswith(".") else name
        with self._lock:
            return self._cached(shown, rdtype, self.clock())

    def start(self, name: str, rdtype: str, *, timeout: float | None = None) -> DnsAnswer | PendingLookup:
        """``name``'s cached answer, or its lookup begun, for the caller's own loop to drive
        (:class:`PendingLookup`; ``timeout`` as in :meth:`query`). Raises DnsError
        (bad name, cached NXDOMAIN, table full, no server), ValueError for another type."""
        begun = self._begin(name, rdtype)
        return begun if isinstance(begun, DnsAnswer) else PendingLookup(begun, timeout)

    def query(self, name: str, rdtype: str, *, timeout: float | None = None) -> DnsAnswer:
        """``name``'s A or AAAA records (blocking). NODATA is an answer with no
        addresses. ``timeout`` bounds the whole lookup (the caller's deadline;
        None: the schedule's own end). Raises DnsError (see the class; kind
        "timeout" when ``timeout`` passed first), ValueError for another type."""
        begun = self.start(name, rdtype, timeout=timeout)
        if isinstance(begun, DnsAnswer):
            return begun
        with begun:
            while (answer := begun.advance(time.monotonic())) is None:
                _wait_readable(begun.fileno(), begun.wake_at())
            return answer

    async def aquery(self, name: str, rdtype: str, *, timeout: float | None = None) -> DnsAnswer:
        """The asyncio twin of :meth:`query`: the same lookup, waited for in the running loop."""
        begun = self.start(name, rdtype, timeout=timeout)
        if isinstance(begun, DnsAnswer):
            return begun
        with begun:
            while (answer := begun.advance(time.monotonic())) is None:
                await _areadable(begun.fileno(), begun.wake_at())
            return answer

    def tick(self) -> None:
        """lwIP's ``dns_tmr`` (call it every second, as lwIP's timer does, to
        see its lines): ``dns_tmr: dns_check_entries`` while any table entry is in
        use, then the expired entries flushed; expired answers leave the cache."""
        with self._lock:
            now = self.clock()
            self._table.tick(now)
            self.cache.purge(now)


_default: StubResolver | None = None
_default_lock = threading.Lock()


def default_resolver() -> StubResolver:
    """The process's resolver on /etc/resolv.conf's servers, built on first use.
    Raises OSError/ValueError as :func:`system_servers` (and tries again next time)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = StubResolver(system_servers())
        return _default
