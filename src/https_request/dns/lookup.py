"""Where the client's names come from, and the two ways it picks an address.

* :class:`NameLookup` answers ``(name, family)`` for :mod:`.happy`: the hosts
  file first (as glibc's ``files`` before ``dns`` in nsswitch.conf: curl and
  every host program see ``localhost`` and the names an administrator pinned
  there), then the stub resolver (:mod:`.resolver`; the servers given, or
  /etc/resolv.conf's). ``localhost`` and names under it are the loopback
  addresses even when the hosts file does not say so (RFC 6761 section 6.3).
* :func:`lwip_getaddrinfo` is the device's ``getaddrinfo`` with esp-lwip's
  dynamic sort: AAAA, then A (one after the other, as lwIP asks), then
  ``dns_select`` (:func:`.select.lwip_select`, its lines included) picks the
  one address esp-tls connects to.

Resolvers are shared per list of servers (:func:`resolver_for`), so the
cache and lwIP's table live as long as the process, as on the device.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..netif import IPAddress, LocalAddress
    from .resolver import PendingLookup, StubResolver

__all__ = [
    "HOSTS",
    "MAX_HOSTS_BYTES",
    "NameLookup",
    "debug",
    "hosts_addresses",
    "lwip_getaddrinfo",
    "resolver_for",
    "set_debug",
    "tick",
]

HOSTS = "/etc/hosts"
#: What of the hosts file is read (a hosts file is a few KiB; a bound against a runaway one).
MAX_HOSTS_BYTES = 1 << 20
_LOOPBACK: dict[int, tuple[IPAddress, ...]] = {
    socket.AF_INET: (IPv4Address("127.0.0.1"),),
    socket.AF_INET6: (IPv6Address("::1"),),
}
_MAX_RESOLVERS = 8


def hosts_addresses(name: str, family: int, path: str = HOSTS) -> tuple[IPAddress, ...]:
    """The addresses of ``family`` (AF_INET or AF_INET6) the hosts file gives
    ``name`` (case-insensitive, a trailing dot ignored), in file order; for
    ``localhost`` and ``*.localhost`` the loopback address when the file has
    none. Empty when the file says nothing (or cannot be read)."""
    wanted = name.rstrip(".").lower()
    found: list[IPAddress] = []
    try:
        with open(path, "rb") as f:  # no text layer: a connection's first look-up reads it
            text = f.read(MAX_HOSTS_BYTES).decode("utf-8", "replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2 or wanted not in (n.rstrip(".").lower() for n in fields[1:]):
            continue
        try:
            address = ip_address(fields[0])  # a zone (fe80::1%eth0) is kept, as glibc keeps it
        except ValueError:
            continue
        if (address.version == 4) == (family == socket.AF_INET) and address not in found:
            found.append(address)
    if not found and (wanted == "localhost" or wanted.endswith(".localhost")):
        return _LOOPBACK.get(family, ())
    return tuple(found)


_resolvers: dict[tuple[str, ...], StubResolver] = {}
_resolvers_lock = threading.Lock()
_debug: Callable[[str], None] | None = None


def resolver_for(servers: Sequence[str] = ()) -> StubResolver:
    """The process's resolver for these servers (``ADDR[:PORT]`` texts; none:
    /etc/resolv.conf's, :func:`.resolver.default_resolver`), printing lwIP's
    lines where :func:`set_debug` said. Raises ValueError for a malformed
    server, OSError/ValueError for an unusable resolv.conf."""
    from .resolver import StubResolver, default_resolver, parse_server

    key = tuple(servers)
    with _resolvers_lock:
        found = _resolvers.get(key)
        if found is None:
            if len(_resolvers) >= _MAX_RESOLVERS:
                _resolvers.pop(next(iter(_resolvers)))
            found = default_resolver() if not key else StubResolver([parse_server(s) for s in key])
            _resolvers[key] = found
        found.debug = _debug
        return found


def set_debug(sink: Callable[[str], None] | None) -> None:
    """Where lwIP's DNS lines (``LWIP_DNS_DEBUG``) and esp-lwip's ``dns_select``
    lines go, for every resolver of the process (None: nowhere)."""
    global _debug
    with _resolvers_lock:
        _debug = sink
        for resolver in _resolvers.values():
            resolver.debug = sink


def debug() -> Callable[[str], None] | None:
    """The sink :func:`set_debug` set."""
    return _debug


def tick() -> None:
    """lwIP's ``dns_tmr`` for every resolver the process has used (the example calls it once a second)."""
    with _resolvers_lock:
        resolvers = list(_resolvers.values())
    for resolver in resolvers:
        resolver.tick()


class _PendingAddresses:
    """A :class:`.resolver.PendingLookup` as :class:`.happy.Pending`: its answer's addresses."""

    def __init__(self, lookup: PendingLookup) -> None:
        self._lookup = lookup

    def fileno(self) -> int:
        return self._lookup.fileno()

    def wake_at(self) -> float | None:
        return self._lookup.wake_at()

    def advance(self, now: float) -> tuple[IPAddress, ...] | None:
        answer = self._lookup.advance(now)
        return None if answer is None else answer.addresses

    def close(self) -> None:
        self._lookup.close()


class NameLookup:
    """``resolve(name, family)`` for :func:`.happy.connect`: the hosts file,
    then ``resolver``'s A or AAAA answer. Raises what the resolver raises
    (:class:`.resolver.DnsError`)."""

    def __init__(self, resolver: Callable[[], StubResolver], hosts: str = HOSTS) -> None:
        self._resolver = resolver
        self._hosts = hosts

    def known(self, name: str, family: int) -> tuple[IPAddress, ...] | None:
        """What needs no query (the hosts file, the resolver's cache); None when a
        query is needed (for :func:`.happy.connect`'s ``known``). Raises a cached NXDOMAIN."""
        pinned = hosts_addresses(name, family, self._hosts)
        if pinned:
            return pinned
        answer = self._resolver().cached(name, "AAAA" if family == socket.AF_INET6 else "A")
        return None if answer is None else answer.addresses

    def start(self, name: str, family: int) -> tuple[IPAddress, ...] | _PendingAddresses:
        """For :func:`.happy.connect`'s ``start``: the hosts file's or the cache's
        addresses at once, else the resolver's lookup begun (driven by the caller's loop,
        no thread). Raises DnsError (a cached NXDOMAIN, a bad name) as :meth:`resolve`."""
        pinned = hosts_addresses(name, family, self._hosts)
        if pinned:
            return pinned
        from .resolver import DnsAnswer

        begun = self._resolver().start(name, "AAAA" if family == socket.AF_INET6 else "A")
        return begun.addresses if isinstance(begun, DnsAnswer) else _PendingAddresses(begun)

    def resolve(self, name: str, family: int, timeout: float | None = None) -> tuple[IPAddress, ...]:
        """The hosts file's addresses, else the resolver's answer within ``timeout`` s (None: its schedule)."""
        pinned = hosts_addresses(name, family, self._hosts)
        if pinned:
            return pinned
        rdtype = "AAAA" if family == socket.AF_INET6 else "A"
        return self._resolver().query(name, rdtype, timeout=timeout).addresses

    async def aresolve(self, name: str, family: int) -> tuple[IPAddress, ...]:
        pinned = hosts_addresses(name, family, self._hosts)
        if pinned:
            return pinned
        answer = await self._resolver().aquery(name, "AAAA" if family == socket.AF_INET6 else "A")
        return answer.addresses


def lwip_getaddrinfo(
    resolve: Callable[[str, int, float | None], Sequence[IPAddress]],
    name: str,
    family: int,
    local: Callable[[], Sequence[LocalAddress]],
    timeout: float | None = None,
) -> IPAddress:
    """The one address the device would connect to: AAAA then A (``family``
    AF_UNSPEC; only the one asked otherwise), the first address of each
    answer, then esp-lwip's ``dns_select`` over this host's addresses
    (``local``), its lines where :func:`set_debug` said; ``resolve(name,
    family, timeout)`` gets what is left of ``timeout`` (None: no bound).
    Raises LookupError (from what ``resolve`` raised) when no lookup gave an
    address, or when ``timeout`` passed."""
    try:  # a literal needs no DNS (lwIP's ipaddr_aton comes first)
        literal = ip_address(name)
    except ValueError:
        pass
    else:
        if family not in (socket.AF_UNSPEC, socket.AF_INET6 if literal.version == 6 else socket.AF_INET):
            raise LookupError(f"{name}: an IPv{literal.version} address, not of the family asked")
        return literal
    v6: IPv6Address | None = None
    v4: IPv4Address | None = None
    failures: list[str] = []
    give_up = None if timeout is None else time.monotonic() + timeout
    for fam in (socket.AF_INET6, socket.AF_INET):
        if family not in (socket.AF_UNSPEC, fam):
            continue
        left = None if give_up is None else give_up - time.monotonic()
        if left is not None and left <= 0:
            failures.append(f"{name}: no answer within {timeout:g} s")
            break
        try:
            addresses = resolve(name, fam, left)
        except Exception as exc:  # lwIP goes on with the other family; both failing is reported below
            failures.append(str(exc))
            continue
        for a in addresses:
            if isinstance(a, IPv6Address) and v6 is None:
                v6 = a
            elif isinstance(a, IPv4Address) and v4 is None:
                v4 = a
    if v6 is None and v4 is None:
        raise LookupError("; ".join(failures) or f"{name}: no address")
    from .select import lwip_select

    chosen = lwip_select(v6, v4, local(), _debug)
    assert chosen is not None  # one candidate at least
    return chosen
