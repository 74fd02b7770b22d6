"""The host's interface addresses: netif.local_addresses() against iproute2's
``ip -j addr`` in a network namespace made by the test (secondary IPv4
addresses in other subnets, deprecated and tentative IPv6 addresses), ESP-IDF's
address types and IPV6STR form (the README's sample output lines)."""

from __future__ import annotations

import json
import time
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import pytest

import netns
from https_request import netif
from https_request.netif import LocalAddress, esp_ip6_addr_type, esp_ip6_str, parse_if_inet6

PROBE = """
import json
from https_request.netif import local_addresses
print(json.dumps([
    [a.interface, str(a.address), a.prefixlen, a.deprecated, a.temporary, a.tentative] for a in local_addresses()
]))
"""


def _iproute2(ns: netns.NetNs) -> list[list[Any]]:
    out = []
    for link in json.loads(ns.ip("-j", "addr")):
        for info in link.get("addr_info", []):
            out.append(
                [
                    link["ifname"],
                    str(ip_address(info["local"])),
                    info["prefixlen"],
                    bool(info.get("deprecated")),
                    bool(info.get("temporary")),
                    bool(info.get("tentative")),
                ]
            )
    return sorted(out)


def _wait_link_local_settled(ns: netns.NetNs) -> None:
    """Until the kernel's own fe80:: address has finished duplicate address detection (bounded)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = _iproute2(ns)
        if any(r[1].startswith("fe80:") for r in rows) and not any(r[5] for r in rows):
            return
        time.sleep(0.1)
    pytest.fail(f"the link-local address is still tentative after 10 s: {rows}")


def test_local_addresses_equal_iproute2_in_a_namespace() -> None:
    with netns.NetNs() as ns:
        _wait_link_local_settled(ns)
        ns.add_ns_addr("10.77.0.2/24")
        ns.add_ns_addr("10.77.0.3/24")  # a secondary in the same subnet
        ns.add_ns_addr("10.88.0.2/16")  # and one in another: its own prefix length
        ns.add_ns_addr("fd77::2/64")
        ns.add_ns_addr("2001:db8:77::2/64", "preferred_lft", "0")  # deprecated
        # A tentative address that stays tentative: 50 DAD probes, 1 s apart.
        ns.run(["sh", "-c", f"echo 50 > /proc/sys/net/ipv6/conf/{ns.ns_if}/dad_transmits"])
        ns.ip("addr", "add", "2001:db8:66::2/64", "dev", ns.ns_if)
        ours = sorted(ns.python(PROBE))
        theirs = _iproute2(ns)
        assert ours == theirs
        by_address = {row[1]: row for row in ours}
        assert by_address["10.88.0.2"][2] == 16 and by_address["10.77.0.3"][2] == 24
        assert by_address["2001:db8:77::2"][3] is True  # deprecated
        assert by_address["2001:db8:66::2"][5] is True  # tentative
        assert by_address["127.0.0.1"][0] == "lo" and by_address["::1"][0] == "lo"


def test_local_addresses_here_include_loopback() -> None:
    found = netif.local_addresses()
    assert LocalAddress("lo", IPv4Address("127.0.0.1"), 8) in found


def test_parse_if_inet6_flags_and_errors() -> None:
    text = (
        "fe80000000000000083af2fffe65db28 03 40 20 80  st1\n"
        "2407880000000000083af2fffe65db28 03 40 00 21  st1\n"  # temporary + deprecated
        "fd7ce25e67e80040083af2fffe65db28 03 40 00 40  st1\n"  # tentative
        "00000000000000000000000000000001 01 80 10 80       lo\n"
    )
    got = parse_if_inet6(text)
    assert got[0] == LocalAddress("st1", IPv6Address("fe80::83a:f2ff:fe65:db28"), 64)
    assert (got[1].deprecated, got[1].temporary, got[1].tentative) == (True, True, False)
    assert (got[2].deprecated, got[2].temporary, got[2].tentative) == (False, False, True)
    assert got[3] == LocalAddress("lo", IPv6Address("::1"), 128)
    with pytest.raises(OSError, match=r"unexpected line 'fe80 03 40'"):
        parse_if_inet6("fe80 03 40\n")


# From the ESP-IDF example README's sample output:
#   Got IPv6 event: ... address: fe80:0000:0000:0000:0a3a:f2ff:fe65:db28, type: ESP_IP6_ADDR_IS_LINK_LOCAL
#   Got IPv6 event: ... address: 2407:8800:bc61:1340:0a3a:f2ff:fe65:db28, type: ESP_IP6_ADDR_IS_GLOBAL
#   Got IPv6 event: ... address: fd7c:e25e:67e8:0040:0a3a:f2ff:fe65:db28, type: ESP_IP6_ADDR_IS_UNIQUE_LOCAL
@pytest.mark.parametrize(
    "address, shown, esp_type",
    [
        ("fe80::a3a:f2ff:fe65:db28", "fe80:0000:0000:0000:0a3a:f2ff:fe65:db28", "ESP_IP6_ADDR_IS_LINK_LOCAL"),
        ("2407:8800:bc61:1340:a3a:f2ff:fe65:db28", "2407:8800:bc61:1340:0a3a:f2ff:fe65:db28", "ESP_IP6_ADDR_IS_GLOBAL"),
        (
            "fd7c:e25e:67e8:40:a3a:f2ff:fe65:db28",
            "fd7c:e25e:67e8:0040:0a3a:f2ff:fe65:db28",
            "ESP_IP6_ADDR_IS_UNIQUE_LOCAL",
        ),
    ],
)
def test_esp_idf_form_and_type_of_the_readme_addresses(address: str, shown: str, esp_type: str) -> None:
    a = IPv6Address(address)
    assert esp_ip6_str(a) == shown
    assert LocalAddress("st1", a, 64).esp_type == esp_type


@pytest.mark.parametrize(
    "address, esp_type",
    [
        ("fec0::1", "ESP_IP6_ADDR_IS_SITE_LOCAL"),
        ("::ffff:10.0.0.1", "ESP_IP6_ADDR_IS_IPV4_MAPPED_IPV6"),
        ("3fff::1", "ESP_IP6_ADDR_IS_GLOBAL"),  # lwIP's ip6_addr_isglobal: 2000::/3
        ("::1", "ESP_IP6_ADDR_IS_UNKNOWN"),
        ("64:ff9b::2247:2dc8", "ESP_IP6_ADDR_IS_UNKNOWN"),  # outside 2000::/3, unlike RFC 6724's global scope
    ],
)
def test_esp_types_follow_esp_netif(address: str, esp_type: str) -> None:
    assert esp_ip6_addr_type(IPv6Address(address)) == esp_type
    assert esp_type in netif.ESP_IP6_ADDR_TYPES


def test_esp_type_of_an_ipv4_address_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"10\.0\.0\.1 is an IPv4 address"):
        _ = LocalAddress("st1", IPv4Address("10.0.0.1"), 24).esp_type


def test_is_tunnel_reads_the_kernel_link_type() -> None:
    assert netif.is_tunnel("lo") is False  # ARPHRD_LOOPBACK
    assert netif.is_tunnel("no-such-interface") is False
