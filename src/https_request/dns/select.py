"""Destination address selection: RFC 6724 §6 as a stable sort, and the
esp-lwip heuristic that the ESP-IDF example's log lines come from.

:func:`sort_destinations` orders candidate addresses by RFC 6724's ten rules
with the §2.1 default policy table, IPv4 addresses looked up as IPv4-mapped
(::ffff:a.b.c.d). Source(D) is what the kernel would use: :func:`source_for`
connects a UDP socket to D (nothing is sent) and reads its local address;
an OSError (no route, no address of that family) makes Source(D) undefined.
The local interface list (:func:`https_request.netif.local_addresses`) tells
whether Source(D) is deprecated, its interface and its prefix length.

What each rule can know here:

1. Avoid unusable destinations: Source(D) undefined (the kernel has no route).
2. Prefer matching scope: Scope(D) = Scope(Source(D)) (§3.1 scopes below).
3. Avoid deprecated addresses: Source(D) is deprecated (preferred lifetime 0).
4. Prefer home addresses: not applicable. It is about Mobile IPv6 home and
   care-of addresses; nothing here is a mobile node, so the rule never decides.
5. Prefer matching label: Label(Source(D)) = Label(D).
6. Prefer higher precedence: Precedence(D).
7. Prefer native transport: D is reached through encapsulation when Source(D)
   is a 6to4 (2002::/16) or Teredo (2001::/32) address, which only exist over
   IPv4, or lives on a tunnel interface (ipip, sit, GRE; its kernel link type).
   A tunnel further along the path (a NAT64, a provider's 6rd) cannot be seen.
8. Prefer smaller scope: Scope(D).
9. Longest matching prefix: CommonPrefixLen(Source(D), D), counted up to the
   source's prefix length (64 when the source is not a local address we
   listed), for IPv6 pairs only. RFC 6724 §6 lets an implementation skip it
   for IPv4, and we do (as Go does; glibc applies it to IPv4 only inside the
   source's own subnet): on IPv4 it mostly defeats DNS round robin.
10. Otherwise keep the given order (the sort is stable).

Scopes are RFC 6724 §3.1's values (the multicast scope field): link-local
(2) for fe80::/10, ::1 and IPv4 127/8 and 169.254/16; site-local (5) for
fec0::/10; a multicast address's own scope; global (14) for everything else,
unique local fc00::/7, 64:ff9b::/96 and RFC 1918 IPv4 included. Python's
``is_private``/``is_global`` are a different classification and not used.

:func:`lwip_select` is esp-lwip PR #66's ``dns_select_destination_address``
(src/api/netdb.c, commit fd387d8f), which the ESP-IDF example's README log
shows: one IPv6 and one IPv4 candidate; no source addresses, only bitmasks of
which scopes and labels any local address has (loopback included; tentative
and deprecated addresses too); rules 2, 5, 6 and 10; and its debug lines,
including the patch's slip that prints and tests the IPv6 candidate's scope
as ``cand_1 scope`` (against the IPv4 bitmask).
"""

from __future__ import annotations

import functools
import itertools
import socket
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address

from ..netif import IPAddress, LocalAddress, is_tunnel, known_addresses
from ..structs import Struct

__all__ = [
    "MAX_DESTINATIONS",
    "POLICY_TABLE",
    "Decision",
    "IPAddress",
    "Policy",
    "Selection",
    "label",
    "lwip_select",
    "precedence",
    "scope",
    "sort_destinations",
    "source_for",
]

#: At most this many (distinct) candidates are sorted; the rest of a longer
#: list (a DNS answer can carry hundreds) is dropped. No connection tries more.
MAX_DESTINATIONS = 64

SCOPE_LINK_LOCAL = 0x2
SCOPE_SITE_LOCAL = 0x5
SCOPE_GLOBAL = 0xE


class Policy(Struct):
    """One row of the policy table (RFC 6724 §2.1)."""

    prefix: IPv6Network
    precedence: int
    label: int


#: RFC 6724 §2.1's default policy table, longest prefix first (the lookup order).
POLICY_TABLE = tuple(
    sorted(
        (
            Policy(IPv6Network("::1/128"), 50, 0),
            Policy(IPv6Network("::/0"), 40, 1),
            Policy(IPv6Network("::ffff:0:0/96"), 35, 4),
            Policy(IPv6Network("2002::/16"), 30, 2),
            Policy(IPv6Network("2001::/32"), 5, 5),
            Policy(IPv6Network("fc00::/7"), 3, 13),
            Policy(IPv6Network("::/96"), 1, 3),
            Policy(IPv6Network("fec0::/10"), 1, 11),
            Policy(IPv6Network("3ffe::/16"), 1, 12),
        ),
        key=lambda p: -p.prefix.prefixlen,
    )
)

_LINK_LOCAL = IPv6Network("fe80::/10")
_SITE_LOCAL = IPv6Network("fec0::/10")
_MULTICAST = IPv6Network("ff00::/8")
_V4_LINK_LOCAL = (IPv6Network("::ffff:127.0.0.0/104"), IPv6Network("::ffff:169.254.0.0/112"))
_ENCAPSULATED = (IPv6Network("2002::/16"), IPv6Network("2001::/32"))
_UNKNOWN_PREFIXLEN = 64


def _bits(network: IPv6Network) -> tuple[int, int]:
    """``network`` as (address, mask) integers: ``n & mask == address`` is ``n in network``
    without ipaddress's per-test objects (the sort tests each pair's addresses a few
    dozen times: ~2 us each through ``in``, a tenth of that on integers)."""
    return int(network.network_address), int(network.netmask)


_POLICY_BITS = tuple((*_bits(row.prefix), row) for row in POLICY_TABLE)
_LINK_LOCAL_BITS = tuple(_bits(n) for n in (_LINK_LOCAL, IPv6Network("::1/128"), *_V4_LINK_LOCAL))
_SITE_LOCAL_BITS = _bits(_SITE_LOCAL)
_MULTICAST_BITS = _bits(_MULTICAST)


def _int6(a: IPAddress) -> int:
    """``a`` as RFC 6724 sees it, as an integer: IPv4 as IPv4-mapped (::ffff:a.b.c.d)."""
    return 0xFFFF_0000_0000 | int(a) if isinstance(a, IPv4Address) else int(a)


def _policy(a: IPAddress) -> Policy:
    n = _int6(a)
    for network, mask, row in _POLICY_BITS:
        if n & mask == network:
            return row
    raise AssertionError("::/0 matches every address")  # pragma: no cover


def scope(a: IPAddress) -> int:
    """RFC 6724 §3.1 scope of ``a`` (2 link-local, 5 site-local, 14 global, or a multicast's own)."""
    n = _int6(a)
    if n & _MULTICAST_BITS[1] == _MULTICAST_BITS[0]:
        return (n >> 112) & 0xF
    if any(n & mask == network for network, mask in _LINK_LOCAL_BITS):
        return SCOPE_LINK_LOCAL
    if n & _SITE_LOCAL_BITS[1] == _SITE_LOCAL_BITS[0]:
        return SCOPE_SITE_LOCAL
    return SCOPE_GLOBAL


def label(a: IPAddress) -> int:
    """Label(a) from the default policy table."""
    return _policy(a).label


def precedence(a: IPAddress) -> int:
    """Precedence(a) from the default policy table."""
    return _policy(a).precedence


def source_for(dest: IPAddress) -> IPAddress | None:
    """The source address the kernel would use to reach ``dest``, or None
    when it has none (no route, no address of that family; also a link-local
    IPv6 destination, which needs an interface this address does not name).

    A connected UDP socket: ``connect`` only picks the route and the source,
    nothing is sent. Never raises.
    """
    family = socket.AF_INET6 if isinstance(dest, IPv6Address) else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((str(dest), 9))
            host = sock.getsockname()[0]
    except OSError:
        return None
    return ip_address(host.partition("%")[0])


class Decision(Struct):
    """Why ``first`` precedes ``second`` in a :class:`Selection`: the RFC 6724
    rule (1-10) that decided, and the facts it compared."""

    rule: int
    first: IPAddress
    second: IPAddress
    detail: str


class Selection(Struct):
    """The result of :func:`sort_destinations`.

    ``sources`` pairs each destination of ``ordered`` (same order) with its
    Source(D), None when undefined; ``decisions`` has one entry per adjacent
    pair of ``ordered``.
    """

    ordered: tuple[IPAddress, ...]
    sources: tuple[tuple[IPAddress, IPAddress | None], ...]
    decisions: tuple[Decision, ...]

    def source(self, dest: IPAddress) -> IPAddress | None:
        """Source(dest). Raises KeyError when ``dest`` was not a candidate."""
        for d, s in self.sources:
            if d == dest:
                return s
        raise KeyError(dest)


class _Candidate(Struct):
    address: IPAddress
    index: int
    source: IPAddress | None
    local: LocalAddress | None  # the source's interface entry, when listed
    encapsulated: bool


def _common_prefix_len(c: _Candidate) -> int:
    assert c.source is not None
    limit = c.local.prefixlen if c.local is not None else _UNKNOWN_PREFIXLEN
    differ = (int(c.source) ^ int(c.address)).bit_length()
    return min(128 - differ, limit)


def _compare(a: _Candidate, b: _Candidate) -> tuple[int, int, str]:
    """(-1 when ``a`` goes first, 1 when ``b`` does, 0 for a tie at rule 10), the rule, why."""
    da, db = a.address, b.address
    # Rule 1: avoid unusable destinations.
    if (a.source is None) != (b.source is None):
        dead = db if b.source is None else da
        return (-1 if b.source is None else 1), 1, f"Source({dead}) is undefined (no route from this host)"
    # Rule 2: prefer matching scope.
    ma = a.source is not None and scope(da) == scope(a.source)
    mb = b.source is not None and scope(db) == scope(b.source)
    if ma != mb:
        good, bad = (a, b) if ma else (b, a)
        assert good.source is not None
        bad_src = f"its source's {scope(bad.source)}" if bad.source is not None else "no source"
        return (
            (-1 if ma else 1),
            2,
            f"Scope({good.address})={scope(good.address)} matches its source's; "
            f"Scope({bad.address})={scope(bad.address)} does not match {bad_src}",
        )
    # Rule 3: avoid deprecated addresses.
    dep_a = a.local is not None and a.local.deprecated
    dep_b = b.local is not None and b.local.deprecated
    if dep_a != dep_b:
        old = a if dep_a else b
        return (1 if dep_a else -1), 3, f"Source({old.address})={old.source} is deprecated"
    # Rule 4: prefer home addresses -- not applicable (no Mobile IPv6 here).
    # Rule 5: prefer matching label.
    ma = a.source is not None and label(da) == label(a.source)
    mb = b.source is not None and label(db) == label(b.source)
    if ma != mb:
        good, bad = (a, b) if ma else (b, a)
        bad_label = f"Label({bad.source})={label(bad.source)}" if bad.source is not None else "no source"
        return (
            (-1 if ma else 1),
            5,
            f"Label({good.address})={label(good.address)} matches its source's; "
            f"Label({bad.address})={label(bad.address)} does not match {bad_label}",
        )
    # Rule 6: prefer higher precedence.
    pa, pb = precedence(da), precedence(db)
    if pa != pb:
        return (-1 if pa > pb else 1), 6, f"Precedence({da})={pa}, Precedence({db})={pb}"
    # Rule 7: prefer native transport.
    if a.encapsulated != b.encapsulated:
        tunnelled = a if a.encapsulated else b
        return (
            (1 if a.encapsulated else -1),
            7,
            f"{tunnelled.address} is reached through a tunnel (from {tunnelled.source})",
        )
    # Rule 8: prefer smaller scope.
    sa, sb = scope(da), scope(db)
    if sa != sb:
        return (-1 if sa < sb else 1), 8, f"Scope({da})={sa}, Scope({db})={sb}"
    # Rule 9: longest matching prefix (IPv6 only, see the module docstring).
    if isinstance(da, IPv6Address) and isinstance(db, IPv6Address) and a.source and b.source:
        ca, cb = _common_prefix_len(a), _common_prefix_len(b)
        if ca != cb:
            return (
                (-1 if ca > cb else 1),
                9,
                f"CommonPrefixLen({a.source}, {da})={ca}, CommonPrefixLen({b.source}, {db})={cb}",
            )
    # Rule 10: leave the order unchanged.
    return (-1 if a.index < b.index else 1 if a.index > b.index else 0), 10, "no rule prefers either: given order"


def sort_destinations(
    dests: Sequence[IPAddress],
    *,
    source_for: Callable[[IPAddress], IPAddress | None] = source_for,
    local: Sequence[LocalAddress] | None = None,
    tunnel: Callable[[str], bool] = is_tunnel,
) -> Selection:
    """``dests`` in RFC 6724 preference order (duplicates dropped, at most
    :data:`MAX_DESTINATIONS`), with each one's source and the rule that
    ordered each adjacent pair.

    ``source_for`` gives Source(D) (default: the kernel's choice); ``local``
    the interface addresses (default: :func:`~https_request.netif.known_addresses`,
    read only when some source is defined); ``tunnel`` whether an interface
    encapsulates (rule 7; default: its kernel link type).
    """
    unique = list(dict.fromkeys(dests))[:MAX_DESTINATIONS]
    sources = [source_for(d) for d in unique]
    if local is None and any(s is not None for s in sources):
        local = known_addresses()  # none readable (not Linux): the rules that need none still order
    by_address = {entry.address: entry for entry in reversed(local or ())}
    tunnels: dict[str, bool] = {}  # asked once per interface
    candidates = []
    for index, (dest, src) in enumerate(zip(unique, sources, strict=True)):
        entry = by_address.get(src) if src is not None else None
        if entry is not None and entry.interface not in tunnels:
            tunnels[entry.interface] = tunnel(entry.interface)
        encapsulated = src is not None and (
            any(src in n for n in _ENCAPSULATED) or (entry is not None and tunnels[entry.interface])
        )
        candidates.append(_Candidate(dest, index, src, entry, encapsulated))
    candidates.sort(key=functools.cmp_to_key(lambda a, b: _compare(a, b)[0]))
    decisions = []
    for a, b in itertools.pairwise(candidates):
        _, rule, detail = _compare(a, b)
        decisions.append(Decision(rule, a.address, b.address, detail))
    return Selection(
        ordered=tuple(c.address for c in candidates),
        sources=tuple((c.address, c.source) for c in candidates),
        decisions=tuple(decisions),
    )


def lwip_select(
    v6: IPv6Address | None,
    v4: IPv4Address | None,
    local: Sequence[LocalAddress],
    debug: Callable[[str], None] | None = None,
) -> IPAddress | None:
    """esp-lwip's ``dns_select_destination_address`` for an AAAA answer ``v6``
    and an A answer ``v4`` (either may be None), given the device's addresses
    ``local`` (every interface, loopback included). Returns the winner, None
    without candidates. ``debug`` receives lwIP's DNS_DEBUG lines, exactly as
    the C code formats them (no prefix, no newline). Never raises.
    """
    say = debug if debug is not None else (lambda line: None)
    candidates: list[IPAddress] = [c for c in (v6, v4) if c is not None]
    say(f"dns_select: selecting from {len(candidates)} candidates")
    if len(candidates) < 2:
        return candidates[0] if candidates else None
    assert v6 is not None and v4 is not None
    labels = v6_scopes = v4_scopes = 0
    for entry in local:
        if entry.address == IPv4Address(0) or entry.address == IPv6Address(0):
            continue
        labels |= 1 << label(entry.address)
        if isinstance(entry.address, IPv4Address):
            v4_scopes |= 1 << scope(entry.address)
        else:
            v6_scopes |= 1 << scope(entry.address)
    say(
        f"dns_select: precedence labels flags 0x{labels:04x}, ipv6 scopes flags 0x{v6_scopes:04x}, "
        f"ipv4 scopes flags 0x{v4_scopes:04x}"
    )
    # Rule 2. The patch computes cand_1's scope from cand_list[0] (the IPv6 candidate).
    scope0 = scope(v6)
    scope1 = scope(v6)
    match0 = int(bool(1 << scope0 & v6_scopes))
    match1 = int(bool(1 << scope1 & v4_scopes))
    say(f"dns_select: rule 2, cand_0 scope ({scope0}) match {match0}, cand_1 scope ({scope1}) match {match1}")
    if match0 != match1:
        return v6 if match0 else v4
    # Rule 5.
    label0, label1 = label(v6), label(v4)
    match0 = int(bool(1 << label0 & labels))
    match1 = int(bool(1 << label1 & labels))
    say(f"dns_select: rule 5, cand_0 label ({label0}) match {match0}, cand_1 label ({label1}) match {match1}")
    if match0 != match1:
        return v6 if match0 else v4
    # Rule 6.
    prec0, prec1 = precedence(v6), precedence(v4)
    say(f"dns_select: rule 6, cand_0 precedence {prec0}, cand_1 precedence {prec1}")
    if prec0 != prec1:
        return v6 if prec0 > prec1 else v4
    # Rule 10.
    return v6
