"""The host's interface addresses: what DNS address selection and the
example's network lines need to know about "this device".

:func:`local_addresses` lists every address of every interface of the
network namespace the process runs in, loopback included (lwIP's
``dns_select`` counts the loopback netif's addresses too):

* IPv6 from ``/proc/net/if_inet6``, one line per address: the address, the
  interface index, the prefix length, the kernel's scope and the address
  flags (``IFA_F_TEMPORARY`` 0x01, ``IFA_F_DEPRECATED`` 0x20 -- a preferred
  lifetime of 0 --, ``IFA_F_TENTATIVE`` 0x40: duplicate address detection
  still running), then the interface name. No file (IPv6 disabled): none.
* IPv4 from a netlink ``RTM_GETADDR`` dump (``AF_NETLINK``, no subprocess).
  Netlink rather than the ``SIOCGIFCONF``/``SIOCGIFNETMASK`` ioctls because
  the ioctls look the netmask up by interface label, so a secondary address
  in another subnet would get the primary's prefix length; the dump has
  each address's own prefix length, secondaries included.

:attr:`LocalAddress.esp_type` names an IPv6 address the way ESP-IDF's
``esp_netif_ip6_get_addr_type()`` (components/esp_netif/lwip/esp_netif_lwip.c)
classifies it, in this order: lwIP's ``ip6_addr_isglobal`` (2000::/3 only) ->
``ESP_IP6_ADDR_IS_GLOBAL``; fe80::/10 -> ``_LINK_LOCAL``; fec0::/10 ->
``_SITE_LOCAL``; fc00::/7 -> ``_UNIQUE_LOCAL``; ::ffff:0:0/96 ->
``_IPV4_MAPPED_IPV6``; anything else (::1, 64:ff9b::/96) -> ``_UNKNOWN``.
That is ESP-IDF's naming for log lines, not an RFC 6724 scope (see
:mod:`https_request.dns.select` for those). :func:`esp_ip6_str` writes an
IPv6 address as ESP-IDF's ``IPV6STR`` format does (eight zero-padded
lowercase groups, ``fe80:0000:0000:0000:0a3a:f2ff:fe65:db28``).
"""

from __future__ import annotations

import os
import socket
import struct
from ipaddress import IPv4Address, IPv6Address, IPv6Network

from .structs import Struct

__all__ = [
    "ESP_IP6_ADDR_TYPES",
    "IPAddress",
    "LocalAddress",
    "esp_ip6_addr_type",
    "esp_ip6_str",
    "is_tunnel",
    "known_addresses",
    "local_addresses",
    "parse_if_inet6",
]

IPAddress = IPv4Address | IPv6Address

#: esp_ip6_addr_type_t's names, in the enum's order (the values are their indices).
ESP_IP6_ADDR_TYPES = (
    "ESP_IP6_ADDR_IS_UNKNOWN",
    "ESP_IP6_ADDR_IS_GLOBAL",
    "ESP_IP6_ADDR_IS_LINK_LOCAL",
    "ESP_IP6_ADDR_IS_SITE_LOCAL",
    "ESP_IP6_ADDR_IS_UNIQUE_LOCAL",
    "ESP_IP6_ADDR_IS_IPV4_MAPPED_IPV6",
)

# esp_netif_ip6_get_addr_type()'s tests, in its order.
_ESP_TYPE_TESTS = (
    (IPv6Network("2000::/3"), "ESP_IP6_ADDR_IS_GLOBAL"),
    (IPv6Network("fe80::/10"), "ESP_IP6_ADDR_IS_LINK_LOCAL"),
    (IPv6Network("fec0::/10"), "ESP_IP6_ADDR_IS_SITE_LOCAL"),
    (IPv6Network("fc00::/7"), "ESP_IP6_ADDR_IS_UNIQUE_LOCAL"),
    (IPv6Network("::ffff:0:0/96"), "ESP_IP6_ADDR_IS_IPV4_MAPPED_IPV6"),
)

# /proc/net/if_inet6 flag bits (linux/if_addr.h IFA_F_*).
_IFA_F_TEMPORARY = 0x01
_IFA_F_DEPRECATED = 0x20
_IFA_F_TENTATIVE = 0x40

# Netlink (linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h).
_NLMSG_HDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTATTR = struct.Struct("=HH")  # len, type
_NLMSG_DONE = 3
_NLMSG_ERROR = 2
_RTM_NEWADDR = 20
_RTM_GETADDR = 22
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_IFA_ADDRESS = 1
_IFA_LOCAL = 2

#: Bounds on the netlink dump: the kernel's answer is not a peer's, but a loop
#: over a socket still gets an end (a host with more addresses than this is
#: not one this client runs on).
MAX_NETLINK_BYTES = 4 << 20
_RECV_SIZE = 65536

# Kernel link types (linux/if_arp.h ARPHRD_*) whose packets are encapsulated:
# TUNNEL (ipip) 768, TUNNEL6 769, SIT (6in4, 6to4) 776, IPGRE 778, IP6GRE 823.
_TUNNEL_LINK_TYPES = frozenset({768, 769, 776, 778, 823})


def esp_ip6_addr_type(address: IPv6Address) -> str:
    """ESP-IDF's ``esp_ip6_addr_type_t`` name for ``address`` (see the module docstring)."""
    for network, name in _ESP_TYPE_TESTS:
        if address in network:
            return name
    return "ESP_IP6_ADDR_IS_UNKNOWN"


def esp_ip6_str(address: IPv6Address) -> str:
    """``address`` as ESP-IDF's ``IPV6STR`` prints it: ``"%04x:%04x:...:%04x"``, eight groups."""
    return address.exploded


class LocalAddress(Struct):
    """One address of one interface of this host."""

    interface: str
    address: IPv4Address | IPv6Address
    prefixlen: int
    deprecated: bool = False
    temporary: bool = False
    tentative: bool = False

    @property
    def esp_type(self) -> str:
        """ESP-IDF's IPv6 address type name (:func:`esp_ip6_addr_type`).

        Raises ValueError for an IPv4 address (ESP-IDF types IPv6 addresses only).
        """
        if not isinstance(self.address, IPv6Address):
            raise ValueError(f"{self.address} is an IPv4 address; ESP-IDF's address types are for IPv6")
        return esp_ip6_addr_type(self.address)


def local_addresses() -> tuple[LocalAddress, ...]:
    """Every address of this network namespace's interfaces: IPv4 first (the
    kernel's order), then IPv6 (``/proc/net/if_inet6``'s order).

    Raises OSError when the netlink socket cannot be used or the kernel's
    answer is not a well-formed address dump (``/proc/net/if_inet6`` missing
    only means no IPv6).
    """
    return _ipv4_addresses() + _ipv6_addresses()


def known_addresses() -> tuple[LocalAddress, ...]:
    """:func:`local_addresses`, or none where they cannot be read (no netlink:
    not Linux, or a sandbox): for callers that can do without them."""
    try:
        return local_addresses()
    except OSError:
        return ()


def _ipv6_addresses(path: str = "/proc/net/if_inet6") -> tuple[LocalAddress, ...]:
    try:
        with open(path, "rb") as f:  # bytes.decode("ascii"): no codec module to import (~0.3 ms, once)
            text = f.read().decode("ascii")
    except FileNotFoundError:
        return ()
    return parse_if_inet6(text)


def parse_if_inet6(text: str) -> tuple[LocalAddress, ...]:
    """The addresses of a ``/proc/net/if_inet6`` text (see the module docstring).

    Raises OSError naming the line that is not six fields of that format.
    """
    found = []
    for line in text.splitlines():
        fields = line.split()
        try:
            hex_address, _index, prefixlen, _scope, flags, name = fields
            bits = int(flags, 16)
            entry = LocalAddress(
                interface=name,
                address=IPv6Address(bytes.fromhex(hex_address)),
                prefixlen=int(prefixlen, 16),
                deprecated=bool(bits & _IFA_F_DEPRECATED),
                temporary=bool(bits & _IFA_F_TEMPORARY),
                tentative=bool(bits & _IFA_F_TENTATIVE),
            )
        except ValueError:
            raise OSError(f"/proc/net/if_inet6: unexpected line {line!r}") from None
        found.append(entry)
    return tuple(found)


def _ipv4_addresses() -> tuple[LocalAddress, ...]:
    family = getattr(socket, "AF_NETLINK", None)
    if family is None:  # not Linux
        raise OSError("this platform has no netlink socket to list the interfaces' addresses")
    with socket.socket(family, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.settimeout(5.0)
        sock.bind((0, 0))
        seq = 1
        request = _NLMSG_HDR.pack(
            _NLMSG_HDR.size + _IFADDRMSG.size, _RTM_GETADDR, _NLM_F_REQUEST | _NLM_F_DUMP, seq, 0
        ) + _IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)
        sock.send(request)
        found: list[LocalAddress] = []
        received = 0
        while True:
            data = sock.recv(_RECV_SIZE)
            received += len(data)
            if not data or received > MAX_NETLINK_BYTES:
                raise OSError(f"netlink address dump: no end, or more than {MAX_NETLINK_BYTES} bytes")
            if _parse_dump(data, seq, found):
                return tuple(found)


def _parse_dump(data: bytes, seq: int, found: list[LocalAddress]) -> bool:
    """Append the IPv4 addresses of one netlink datagram; True at NLMSG_DONE."""
    pos = 0
    while pos + _NLMSG_HDR.size <= len(data):
        length, kind, _flags, msg_seq, _pid = _NLMSG_HDR.unpack_from(data, pos)
        if length < _NLMSG_HDR.size or pos + length > len(data):
            raise OSError("netlink address dump: truncated message")
        if msg_seq == seq:
            if kind == _NLMSG_DONE:
                return True
            if kind == _NLMSG_ERROR:
                (errno,) = struct.unpack_from("=i", data, pos + _NLMSG_HDR.size)
                raise OSError(-errno, "netlink address dump: " + os.strerror(-errno))
            if kind == _RTM_NEWADDR:
                address = _parse_address(data[pos + _NLMSG_HDR.size : pos + length])
                if address is not None:
                    found.append(address)
        pos += (length + 3) & ~3
    return False


def _parse_address(body: bytes) -> LocalAddress | None:
    if len(body) < _IFADDRMSG.size:
        raise OSError("netlink address dump: truncated ifaddrmsg")
    family, prefixlen, _flags, _scope, index = _IFADDRMSG.unpack_from(body)
    if family != socket.AF_INET:
        return None
    attrs: dict[int, bytes] = {}
    pos = _IFADDRMSG.size
    while pos + _RTATTR.size <= len(body):
        length, kind = _RTATTR.unpack_from(body, pos)
        if length < _RTATTR.size or pos + length > len(body):
            raise OSError("netlink address dump: truncated attribute")
        attrs[kind] = body[pos + _RTATTR.size : pos + length]
        pos += (length + 3) & ~3
    # IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on a
    # point-to-point link and equals IFA_LOCAL elsewhere (rtnetlink(7)).
    raw = attrs.get(_IFA_LOCAL, attrs.get(_IFA_ADDRESS))
    if raw is None or len(raw) != 4:
        return None
    try:
        name = socket.if_indextoname(index)
    except OSError:  # the interface went away between the dump and now
        return None
    return LocalAddress(interface=name, address=IPv4Address(raw), prefixlen=prefixlen)


def is_tunnel(interface: str) -> bool:
    """Whether ``interface`` encapsulates what it sends (ipip, sit/6to4, GRE,
    ip6tnl: its ``/sys/class/net/IF/type``); False when it cannot be told."""
    try:
        with open(f"/sys/class/net/{interface}/type", "rb") as f:
            return int(f.read().decode("ascii").strip()) in _TUNNEL_LINK_TYPES
    except (OSError, ValueError):
        return False
