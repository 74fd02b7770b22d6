"""NAT64 prefixes: RFC 6052 §2.4's example table (192.0.2.33 under each prefix
length) for synthesis and extraction, and RFC 7050 discovery from AAAA answers
for ipv4only.arpa (192.0.0.170 and 192.0.0.171 placed as RFC 6052 §2.2 says;
64:ff9b::c000:aa/ab is what unbound and BIND 9.18 answer with dns64 on)."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, IPv6Network

import pytest

from https_request.dns import nat64
from https_request.dns.nat64 import (
    WELL_KNOWN,
    Pref64,
    discover,
    embedded_ipv4,
    extract,
    prefixes_from_answer,
    synthesize,
)
from https_request.netif import IPAddress

V4 = IPv4Address("192.0.2.33")

# RFC 6052 §2.4, Table 1.
RFC6052_TABLE = [
    ("2001:db8::/32", "2001:db8:c000:221::"),
    ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
    ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
    ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
    ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
    ("2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"),
    ("64:ff9b::/96", "64:ff9b::192.0.2.33"),
]

# ipv4only.arpa's 192.0.0.170 (c000:00aa) and .171 under each length, written out by hand.
IPV4ONLY_ANSWERS = [
    ("2001:db8::/32", "2001:db8:c000:aa::", "2001:db8:c000:ab::"),
    ("2001:db8:100::/40", "2001:db8:1c0:0:aa::", "2001:db8:1c0:0:ab::"),
    ("2001:db8:122::/48", "2001:db8:122:c000:0:aa00::", "2001:db8:122:c000:0:ab00::"),
    ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:aa::", "2001:db8:122:3c0:0:ab::"),
    ("2001:db8:122:344::/64", "2001:db8:122:344:c0:0:aa00:0", "2001:db8:122:344:c0:0:ab00:0"),
    ("2001:db8:122:344::/96", "2001:db8:122:344::c000:aa", "2001:db8:122:344::c000:ab"),
    ("64:ff9b::/96", "64:ff9b::c000:aa", "64:ff9b::c000:ab"),
]


@pytest.mark.parametrize("prefix, address", RFC6052_TABLE)
def test_rfc6052_table(prefix: str, address: str) -> None:
    pref = Pref64(IPv6Network(prefix))
    assert synthesize(V4, pref) == IPv6Address(address)
    assert extract(IPv6Address(address), pref) == V4


def test_the_well_known_prefix_and_extraction_rules() -> None:
    assert synthesize(IPv4Address("34.71.45.200"), WELL_KNOWN) == IPv6Address("64:ff9b::2247:2dc8")
    assert embedded_ipv4(IPv6Address("64:ff9b::2247:2dc8")) == IPv4Address("34.71.45.200")
    assert embedded_ipv4(IPv6Address("2001:db8::1")) is None  # not under the prefix
    pref = Pref64(IPv6Network("2001:db8::/32"))
    assert extract(IPv6Address("2001:db8:c000:221:0:1:2:3"), pref) == V4  # the suffix is ignored
    assert extract(IPv6Address("2001:db8:c000:221:ff00::"), pref) is None  # u octet set: no RFC 6052 address
    assert embedded_ipv4(IPv6Address("2001:db8:c000:221::"), [WELL_KNOWN, pref]) == V4


@pytest.mark.parametrize(
    "network, message",
    [
        ("2001:db8::/33", "the length must be one of /32, /40, /48, /56, /64, /96"),
        ("2001:db8::/128", "the length must be one of"),
        ("2001:db8:0:0:ff00::/96", "bits 64-71 must be zero"),
    ],
)
def test_invalid_prefixes(network: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Pref64(IPv6Network(network))


@pytest.mark.parametrize("prefix, first, second", IPV4ONLY_ANSWERS)
def test_rfc7050_discovery_at_every_length(prefix: str, first: str, second: str) -> None:
    answer = [IPv6Address(first), IPv6Address(second)]
    assert prefixes_from_answer(answer) == (Pref64(IPv6Network(prefix)),)
    assert prefixes_from_answer(answer[::-1]) == (Pref64(IPv6Network(prefix)),)


def test_rfc7050_both_well_known_addresses_must_agree() -> None:
    assert prefixes_from_answer([IPv6Address("64:ff9b::c000:aa")]) == ()  # only one
    # .170 under one prefix, .171 under another: neither is confirmed.
    assert prefixes_from_answer([IPv6Address("64:ff9b::c000:aa"), IPv6Address("2001:db8:c000:ab::")]) == ()
    assert prefixes_from_answer([IPv6Address("2001:db8::1"), IPv6Address("64:ff9b::a00:1")]) == ()  # real AAAAs
    assert prefixes_from_answer([]) == ()


def test_rfc7050_two_prefixes_in_answer_order() -> None:
    answer = [IPv6Address(a) for a in ("2001:db8::c000:aa", "64:ff9b::c000:aa", "64:ff9b::c000:ab")]
    answer.append(IPv6Address("2001:db8::c000:ab"))
    # 2001:db8::c000:aa is 2001:db8::/96's .170 (bytes 12-15), not a /32 one.
    assert prefixes_from_answer(answer) == (Pref64(IPv6Network("2001:db8::/96")), WELL_KNOWN)


def test_the_prefixes_an_answer_yields_are_bounded() -> None:
    answer = []
    for n in range(3 * nat64.MAX_PREFIXES):
        pref = Pref64(IPv6Network(f"2001:db8:{n:x}::/48"))
        answer += [synthesize(v4, pref) for v4 in nat64.IPV4ONLY_ADDRESSES]
    found = prefixes_from_answer(answer)
    assert len(found) == nat64.MAX_PREFIXES
    assert found[0] == Pref64(IPv6Network("2001:db8:0::/48"))


def test_discover_asks_for_the_aaaa_of_ipv4only_arpa() -> None:
    asked: list[tuple[str, str]] = []

    def query(name: str, rdtype: str) -> Sequence[IPAddress]:
        asked.append((name, rdtype))
        return [IPv6Address("64:ff9b::c000:ab"), IPv4Address("192.0.0.170"), IPv6Address("64:ff9b::c000:aa")]

    assert discover(query) == (WELL_KNOWN,)
    assert asked == [("ipv4only.arpa", "AAAA")]
    assert discover(lambda name, rdtype: []) == ()  # NODATA: no DNS64
