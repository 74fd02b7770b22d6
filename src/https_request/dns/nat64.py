"""NAT64 prefixes: RFC 6052 address synthesis and extraction, RFC 7050
prefix discovery.

RFC 6052 §2.2 places the 32 bits of an IPv4 address right after a prefix of
32, 40, 48, 56, 64 or 96 bits, skipping bits 64-71 (the "u" octet, always
zero); the bits after the IPv4 address (the suffix) are zero when
synthesising and ignored when extracting. The Well-Known Prefix is
64:ff9b::/96 (RFC 6052 §2.1).

RFC 7050 §3: a host asks for the AAAA records of ``ipv4only.arpa``, a name
with only the A records 192.0.0.170 and 192.0.0.171. A DNS64 server answers
with addresses synthesised from them; the bits in front of a well-known
address, found at one of RFC 6052's positions, are the Pref64::/n. Here a
prefix counts only when both well-known addresses are found under it (one
alone can be a coincidence); no such prefix (or an empty answer) means no
DNS64. Repeating the discovery before the answer's TTL runs out is the
caller's business.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address

from ..netif import IPAddress
from ..structs import Struct

__all__ = [
    "IPV4ONLY_ADDRESSES",
    "IPV4ONLY_NAME",
    "MAX_PREFIXES",
    "PREFIX_LENGTHS",
    "WELL_KNOWN",
    "Pref64",
    "discover",
    "embedded_ipv4",
    "extract",
    "prefixes_from_answer",
    "synthesize",
    "translated_peer",
]

#: RFC 6052 §2.2's prefix lengths, in the order discovery tries them.
PREFIX_LENGTHS = (96, 64, 56, 48, 40, 32)
#: RFC 7050 §2.2 (and RFC 8880): the Well-Known IPv4-only Name and its addresses.
IPV4ONLY_NAME = "ipv4only.arpa"
IPV4ONLY_ADDRESSES = (IPv4Address("192.0.0.170"), IPv4Address("192.0.0.171"))
#: At most this many prefixes are taken from one answer (networks have one or two).
MAX_PREFIXES = 8

_U_OCTET = 8


def _positions(prefixlen: int) -> list[int]:
    """The byte offsets that hold the IPv4 address after a /prefixlen (RFC 6052 §2.2)."""
    return [i for i in range(prefixlen // 8, 16) if i != _U_OCTET][:4]


class Pref64(Struct):
    """A NAT64 prefix (RFC 6052: /32, /40, /48, /56, /64 or /96).

    Raises ValueError for another length, or a /96 whose bits 64-71 (the u
    octet) are not zero.
    """

    network: IPv6Network

    def __post_init__(self) -> None:
        if self.network.prefixlen not in PREFIX_LENGTHS:
            raise ValueError(
                f"NAT64 prefix {self.network}: the length must be one of /32, /40, /48, /56, /64, /96 (RFC 6052)"
            )
        if self.network.network_address.packed[_U_OCTET] != 0:
            raise ValueError(f"NAT64 prefix {self.network}: bits 64-71 must be zero (RFC 6052 §2.2)")

    def __str__(self) -> str:
        return str(self.network)


WELL_KNOWN = Pref64(IPv6Network("64:ff9b::/96"))


def synthesize(v4: IPv4Address, prefix: Pref64) -> IPv6Address:
    """The IPv4-embedded IPv6 address of ``v4`` under ``prefix`` (u octet and suffix zero)."""
    out = bytearray(prefix.network.network_address.packed)
    for offset, byte in zip(_positions(prefix.network.prefixlen), v4.packed, strict=True):
        out[offset] = byte
    return IPv6Address(bytes(out))


def extract(v6: IPv6Address, prefix: Pref64) -> IPv4Address | None:
    """The IPv4 address embedded in ``v6`` under ``prefix``; None when ``v6`` is
    not in the prefix or its u octet is not zero (then it is no RFC 6052 address)."""
    if v6 not in prefix.network:
        return None
    raw = v6.packed
    if raw[_U_OCTET] != 0:
        return None
    return IPv4Address(bytes(raw[i] for i in _positions(prefix.network.prefixlen)))


def embedded_ipv4(v6: IPv6Address, prefixes: Sequence[Pref64] = (WELL_KNOWN,)) -> IPv4Address | None:
    """The IPv4 address ``v6`` was synthesised from under the first of ``prefixes``
    that holds it; None when it is not a synthesised address."""
    for prefix in prefixes:
        found = extract(v6, prefix)
        if found is not None:
            return found
    return None


def prefixes_from_answer(addresses: Sequence[IPv6Address]) -> tuple[Pref64, ...]:
    """The NAT64 prefixes an AAAA answer for ``ipv4only.arpa`` reveals (RFC 7050 §3):
    each prefix under which both 192.0.0.170 and 192.0.0.171 appear, in the
    order the answer first shows them (at most :data:`MAX_PREFIXES`). Empty
    when there is none: no DNS64."""
    seen: dict[Pref64, set[IPv4Address]] = {}
    for address in addresses:
        if address.packed[_U_OCTET] != 0:
            continue  # no RFC 6052 address at any length
        for length in PREFIX_LENGTHS:
            prefix = Pref64(IPv6Network((address, length), strict=False))
            v4 = extract(address, prefix)
            if v4 in IPV4ONLY_ADDRESSES:
                if prefix not in seen and len(seen) >= 4 * MAX_PREFIXES:
                    continue  # bound what an answer can make us hold
                seen.setdefault(prefix, set()).add(v4)
                break
    agreed = [prefix for prefix, found in seen.items() if len(found) == len(IPV4ONLY_ADDRESSES)]
    return tuple(agreed[:MAX_PREFIXES])


def discover(query: Callable[[str, str], Sequence[IPAddress]]) -> tuple[Pref64, ...]:
    """RFC 7050 discovery: ``query("ipv4only.arpa", "AAAA")`` (a resolver's
    lookup, returning the answer's addresses), then :func:`prefixes_from_answer`.

    An empty tuple means no DNS64. What ``query`` raises (a timeout, NXDOMAIN
    as the resolver reports it) is not caught: the caller knows its resolver.
    """
    answer = query(IPV4ONLY_NAME, "AAAA")
    return prefixes_from_answer([a for a in answer if isinstance(a, IPv6Address)])


def translated_peer(address: str | None, servers: tuple[str, ...]) -> tuple[str, str] | None:
    """``(IPv4 address, prefix)`` when the peer ``address`` is a NAT64 address
    (RFC 6052): under the well-known prefix, or under a prefix that the DNS
    servers' DNS64 reveals for ipv4only.arpa (:func:`discover`, asked through
    ``servers``, else resolv.conf's, only for an IPv6 address outside the
    well-known prefix). None otherwise, or when the DNS cannot say (no error
    is raised: this is a note for the user, as ``get`` prints it)."""
    peer = ip_address(address) if address else None
    if not isinstance(peer, IPv6Address):
        return None
    prefixes: tuple[Pref64, ...] = (WELL_KNOWN,)
    if extract(peer, WELL_KNOWN) is None:
        from .lookup import resolver_for
        from .resolver import DnsError

        try:
            resolver = resolver_for(servers)
            prefixes = discover(lambda name, rdtype: resolver.query(name, rdtype).addresses)
        except (DnsError, OSError, ValueError):  # no DNS64 to learn from, or no DNS: nothing to say
            return None
    for prefix in prefixes:
        v4 = extract(peer, prefix)
        if v4 is not None:
            return str(v4), str(prefix.network)
    return None
