"""The example's network start on a host: ESP-IDF's ``example_connect()``.

On the device, ``example_connect()`` brings the station interface up, waits
for an IPv4 address and an IPv6 link-local address, and logs each address
event as it arrives (``Got IPv6 event``, ``esp_netif_handlers: ... ip: ...``,
``Got IPv4 event``), then ``example_common``'s summary of the interface's
addresses. Its event handlers stay registered, so addresses that arrive later
(a global IPv6 address from a router advertisement) are logged while the
example runs.

On a host the network is already up: :class:`Network` picks the interface of
the default route (IPv4 first, as ``example_connect`` waits for IPv4; else
IPv6; else the first interface with an address that is not loopback; else
``lo``), logs its addresses as the device logs their events (link-local IPv6
first, then IPv4, then the other IPv6 addresses: the order they arrive in on
a device), then the summary. :meth:`Network.poll`, called by the example once
a second, logs addresses that appeared since (tentative addresses wait until
duplicate address detection is done, when the device would get the event).

The interface is named as the host names it (``eth0``), where the device
shows its netif description (``example_netif_sta``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address

from .. import log
from ..netif import LocalAddress, esp_ip6_str, known_addresses

__all__ = ["Network", "default_interface", "default_routes"]

_ROUTE = "/proc/net/route"
_ROUTE6 = "/proc/net/ipv6_route"


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().splitlines()
    except OSError:  # no /proc (not Linux) or no IPv6: no default route known
        return []


def default_routes() -> tuple[dict[str, IPv4Address], set[str]]:
    """The interfaces with an IPv4 default route (and its gateway), and those with an IPv6 one."""
    v4: dict[str, IPv4Address] = {}
    for line in _read_lines(_ROUTE)[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[1] == "00000000" and fields[7] == "00000000":
            try:  # the kernel prints the gateway in host byte order (little-endian here)
                v4.setdefault(fields[0], IPv4Address(bytes.fromhex(fields[2])[::-1]))
            except ValueError:
                continue
    v6 = set()
    for line in _read_lines(_ROUTE6):
        fields = line.split()
        if len(fields) >= 10 and fields[0] == "0" * 32 and fields[1] == "00":
            v6.add(fields[9])
    v6.discard("lo")
    return v4, v6


def default_interface(addresses: Sequence[LocalAddress]) -> str:
    """The interface ``example_connect`` would bring up on this host (see the module docstring)."""
    v4, v6 = default_routes()
    routed = [*v4, *sorted(v6)]
    if routed:
        return routed[0]
    for a in addresses:
        if not a.address.is_loopback:
            return a.interface
    return "lo"


def _order(addresses: Sequence[LocalAddress]) -> list[LocalAddress]:
    """The order the device's events would come in: link-local IPv6, IPv4, other IPv6."""

    def rank(a: LocalAddress) -> int:
        if isinstance(a.address, IPv6Address):
            return 0 if a.address.is_link_local else 2
        return 1

    return sorted(addresses, key=rank)


class Network:
    """The interface the example uses and the addresses already logged for it."""

    def __init__(self, list_addresses: Callable[[], Sequence[LocalAddress]] = known_addresses) -> None:
        self._list = list_addresses
        self._log = log.get_logger("example_connect")
        self._common = log.get_logger("example_common")
        self._handlers = log.get_logger("esp_netif_handlers")
        everything = list(self._list())
        self.interface = default_interface(everything)
        self._gateway = default_routes()[0].get(self.interface)
        self._seen: set[tuple[str, int]] = set()

    def _current(self) -> list[LocalAddress]:
        return [a for a in self._list() if a.interface == self.interface and not a.tentative]

    def _event(self, a: LocalAddress) -> None:
        self._seen.add((str(a.address), a.prefixlen))
        if isinstance(a.address, IPv6Address):
            shown = esp_ip6_str(a.address)
            self._log.i('Got IPv6 event: Interface "%s" address: %s, type: %s', self.interface, shown, a.esp_type)
            return
        mask = ipaddress.IPv4Network(f"0.0.0.0/{a.prefixlen}").netmask
        gw = self._gateway or IPv4Address(0)
        self._handlers.i("%s ip: %s, mask: %s, gw: %s", self.interface, a.address, mask, gw)
        self._log.i('Got IPv4 event: Interface "%s" address: %s', self.interface, a.address)

    def connect(self) -> None:
        """``example_connect()``: the interface's address events, then ``example_common``'s summary."""
        self._log.i("Connecting to %s...", self.interface)
        self._log.i("Waiting for IP(s)")
        current = _order(self._current())
        for a in current:
            self._event(a)
        self._common.i("Connected to %s", self.interface)
        for a in current:
            if isinstance(a.address, IPv4Address):
                self._common.i("- IPv4 address: %s,", a.address)
        for a in current:
            if isinstance(a.address, IPv6Address):
                self._common.i("- IPv6 address: %s, type: %s", esp_ip6_str(a.address), a.esp_type)

    def poll(self) -> None:
        """Log the addresses that appeared on the interface since the last call."""
        for a in _order(self._current()):
            if (str(a.address), a.prefixlen) not in self._seen:
                self._event(a)
