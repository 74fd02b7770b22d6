"""RFC 6724 destination address selection and esp-lwip's dns_select.

* RFC 6724 §10.2's nine examples as tests of the sort (each in the given and
  the reversed order), with the rule that decided.
* lwip_select against the two runs of the ESP-IDF example README's sample
  output (sgryphon/esp-idf, examples/protocols/https_request/README.md), whose
  dns_select lines come from esp-lwip PR #66 (commit fd387d8f).
* Network namespaces: the same order as glibc's getaddrinfo for the same two
  addresses (a differential test) with IPv4 + link-local IPv6 only, with a
  ULA, with a global IPv6 address, and with a deprecated source address.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

import netns
from https_request.dns import select
from https_request.dns.select import Selection, lwip_select, sort_destinations
from https_request.netif import IPAddress, LocalAddress


def _sort(dests: list[str], sources: dict[str, str | None], local: list[LocalAddress], **kw: object) -> Selection:
    table = {ip_address(d): (ip_address(s) if s else None) for d, s in sources.items()}
    return sort_destinations([ip_address(d) for d in dests], source_for=table.__getitem__, local=local, **kw)  # type: ignore[arg-type]


def _local(*specs: str, deprecated: tuple[str, ...] = ()) -> list[LocalAddress]:
    out = []
    for spec in specs:
        address, _, length = spec.partition("/")
        out.append(LocalAddress("rfc0", ip_address(address), int(length), deprecated=address in deprecated))
    return out


# RFC 6724 §10.2: (candidate sources, destinations, Source(D) per destination, RFC's result, deciding rule).
RFC6724_EXAMPLES = [
    pytest.param(
        _local("2001:db8:1::2/64", "fe80::1/64", "169.254.13.78/16"),
        {"2001:db8:1::1": "2001:db8:1::2", "198.51.100.121": "169.254.13.78"},
        ["2001:db8:1::1", "198.51.100.121"],
        2,
        id="1-prefer-matching-scope",
    ),
    pytest.param(
        _local("fe80::1/64", "198.51.100.117/24"),
        {"2001:db8:1::1": "fe80::1", "198.51.100.121": "198.51.100.117"},
        ["198.51.100.121", "2001:db8:1::1"],
        2,
        id="2-prefer-matching-scope",
    ),
    pytest.param(
        _local("2001:db8:1::2/64", "fe80::1/64", "10.1.2.4/8"),
        {"2001:db8:1::1": "2001:db8:1::2", "10.1.2.3": "10.1.2.4"},
        ["2001:db8:1::1", "10.1.2.3"],
        6,
        id="3-prefer-higher-precedence",
    ),
    pytest.param(
        _local("2001:db8:1::2/64", "fe80::2/64"),
        {"2001:db8:1::1": "2001:db8:1::2", "fe80::1": "fe80::2"},
        ["fe80::1", "2001:db8:1::1"],
        8,
        id="4-prefer-smaller-scope",
    ),
    pytest.param(
        _local("2001:db8:1::2/64", "fe80::2/64", deprecated=("fe80::2",)),
        {"2001:db8:1::1": "2001:db8:1::2", "fe80::1": "fe80::2"},
        ["2001:db8:1::1", "fe80::1"],
        3,
        id="6-avoid-deprecated-addresses",
    ),
    pytest.param(
        _local("2001:db8:1::2/64", "2001:db8:3f44::2/64", "fe80::2/64"),
        {"2001:db8:1::1": "2001:db8:1::2", "2001:db8:3ffe::1": "2001:db8:3f44::2"},
        ["2001:db8:1::1", "2001:db8:3ffe::1"],
        9,
        id="7-longest-matching-prefix",
    ),
    pytest.param(
        _local("2002:c633:6401::2/64", "fe80::2/64"),
        {"2002:c633:6401::1": "2002:c633:6401::2", "2001:db8:1::1": "2002:c633:6401::2"},
        ["2002:c633:6401::1", "2001:db8:1::1"],
        5,
        id="8-prefer-matching-label",
    ),
    pytest.param(
        _local("2002:c633:6401::2/64", "2001:db8:1::2/64", "fe80::2/64"),
        {"2002:c633:6401::1": "2002:c633:6401::2", "2001:db8:1::1": "2001:db8:1::2"},
        ["2001:db8:1::1", "2002:c633:6401::1"],
        6,
        id="9-prefer-higher-precedence",
    ),
]


@pytest.mark.parametrize("local, sources, expected, rule", RFC6724_EXAMPLES)
@pytest.mark.parametrize("reverse", [False, True], ids=["given", "reversed"])
def test_rfc6724_section_10_2_examples(
    local: list[LocalAddress], sources: dict[str, str], expected: list[str], rule: int, reverse: bool
) -> None:
    dests = list(sources)[::-1] if reverse else list(sources)
    sel = _sort(dests, sources, local)
    assert [str(a) for a in sel.ordered] == expected
    assert [d.rule for d in sel.decisions] == [rule]
    assert sel.source(ip_address(expected[0])) == ip_address(sources[expected[0]])


def test_rfc6724_example_5_needs_rule_4_which_does_not_apply_here() -> None:
    # §10.2's fifth example (2001:db8:1::1 first, reached from the home address 2001:db8:3::1) is
    # decided by rule 4, prefer home addresses (Mobile IPv6). No address here is a home address,
    # so rule 4 never decides and rule 8 (smaller scope) orders the pair as in example 4.
    local = _local("2001:db8:1::2/64", "2001:db8:3::1/64", "fe80::2/64")
    sel = _sort(["2001:db8:1::1", "fe80::1"], {"2001:db8:1::1": "2001:db8:3::1", "fe80::1": "fe80::2"}, local)
    assert [str(a) for a in sel.ordered] == ["fe80::1", "2001:db8:1::1"]
    assert [d.rule for d in sel.decisions] == [8]


def test_rule_1_an_unreachable_destination_goes_last() -> None:
    local = _local("10.0.0.2/24")
    sel = _sort(["64:ff9b::2247:2dc8", "34.71.45.200"], {"64:ff9b::2247:2dc8": None, "34.71.45.200": "10.0.0.2"}, local)
    assert [str(a) for a in sel.ordered] == ["34.71.45.200", "64:ff9b::2247:2dc8"]
    (decision,) = sel.decisions
    assert decision.rule == 1 and "Source(64:ff9b::2247:2dc8) is undefined" in decision.detail
    assert sel.sources == ((IPv4Address("34.71.45.200"), IPv4Address("10.0.0.2")), (decision.second, None))


def test_rule_7_prefers_native_transport_over_a_tunnel_interface() -> None:
    # Rules 1-6 tie (same scope, label and precedence); the source of the first is on a tunnel.
    local = [
        LocalAddress("sit1", IPv6Address("2001:db8:99::2"), 64),
        LocalAddress("eth0", IPv6Address("2001:db8:77::2"), 64),
    ]
    sources = {"2001:db8:99::1": "2001:db8:99::2", "2001:db8:77::1": "2001:db8:77::2"}
    sel = _sort(list(sources), sources, local, tunnel=lambda name: name == "sit1")
    assert [str(a) for a in sel.ordered] == ["2001:db8:77::1", "2001:db8:99::1"]
    assert [d.rule for d in sel.decisions] == [7]
    # With no tunnel, nothing orders them before rule 10: the given order stays.
    plain = _sort(list(sources), sources, local, tunnel=lambda name: False)
    assert [str(a) for a in plain.ordered] == list(sources)
    assert [d.rule for d in plain.decisions] == [10]


def test_rule_9_is_not_applied_to_ipv4() -> None:
    # 10.0.0.1 shares 24 bits with its source, 10.55.0.1 only 8 with its own: IPv6 would be
    # reordered by rule 9, IPv4 keeps the given order (rule 10), as in Go.
    local = _local("10.0.0.2/8", "10.99.0.2/8")
    sources = {"10.55.0.1": "10.99.0.2", "10.0.0.1": "10.0.0.2"}
    sel = _sort(list(sources), sources, local)
    assert [str(a) for a in sel.ordered] == list(sources)
    assert [d.rule for d in sel.decisions] == [10]


def test_rule_9_counts_only_up_to_the_source_prefix_length() -> None:
    # CommonPrefixLen(2001:db8:1::2, 2001:db8:1::1) is 126 bits, but only 48 under a /48 source:
    # less than the other pair's 64 (a /64 source).
    local = [
        LocalAddress("rfc0", IPv6Address("2001:db8:1::2"), 48),
        LocalAddress("rfc0", IPv6Address("2001:db8:2:0:1::2"), 64),
    ]
    sources = {"2001:db8:1::1": "2001:db8:1::2", "2001:db8:2::1": "2001:db8:2:0:1::2"}
    sel = _sort(list(sources), sources, local)
    assert [str(a) for a in sel.ordered] == ["2001:db8:2::1", "2001:db8:1::1"]
    assert sel.decisions[0].rule == 9 and "=64" in sel.decisions[0].detail


def test_three_destinations_and_duplicates() -> None:
    local = _local("10.0.0.2/24", "2001:db8:1::2/64", "fe80::2/64")
    sources = {"198.51.100.1": "10.0.0.2", "2001:db8:1::1": "2001:db8:1::2", "2001:db8:5::1": None}
    dests = ["2001:db8:5::1", "198.51.100.1", "2001:db8:1::1", "198.51.100.1"]
    sel = _sort(dests, sources, local)
    assert [str(a) for a in sel.ordered] == ["2001:db8:1::1", "198.51.100.1", "2001:db8:5::1"]
    assert [d.rule for d in sel.decisions] == [6, 1]


def test_the_candidate_list_is_bounded() -> None:
    dests: list[IPAddress] = [IPv4Address(0x0A000001 + i) for i in range(3 * select.MAX_DESTINATIONS)]
    sel = sort_destinations(dests, source_for=lambda d: None, local=[])
    assert sel.ordered == tuple(dests[: select.MAX_DESTINATIONS])


@pytest.mark.parametrize(
    "address, scope, label, precedence",
    [
        ("::1", 2, 0, 50),
        ("fe80::1", 2, 1, 40),
        ("fec0::1", 5, 11, 1),
        ("fd7c:e25e:67e8:40::1", 14, 13, 3),  # ULA: global scope (Python calls it private)
        ("2001:db8::1", 14, 1, 40),  # documentation prefix: not Teredo's 2001::/32
        ("2001::1", 14, 5, 5),
        ("2002:c633:6401::1", 14, 2, 30),
        ("64:ff9b::2247:2dc8", 14, 1, 40),
        ("::10.0.0.1", 14, 3, 1),
        ("3ffe::1", 14, 12, 1),
        ("ff02::1", 2, 1, 40),
        ("ff05::2", 5, 1, 40),
        ("ff0e::1", 14, 1, 40),
        ("127.0.0.1", 2, 4, 35),
        ("169.254.13.78", 2, 4, 35),
        ("192.168.1.146", 14, 4, 35),  # RFC 1918: global scope (RFC 6724 §3.2)
        ("10.1.2.3", 14, 4, 35),
        ("34.71.45.200", 14, 4, 35),
    ],
)
def test_scope_label_precedence(address: str, scope: int, label: int, precedence: int) -> None:
    a = ip_address(address)
    assert (select.scope(a), select.label(a), select.precedence(a)) == (scope, label, precedence)


def test_source_for_loopback_and_unreachable() -> None:
    assert select.source_for(IPv4Address("127.0.0.1")) == IPv4Address("127.0.0.1")
    # A link-local destination without an interface has no source (connect refuses it).
    assert select.source_for(IPv6Address("fe80::1")) is None


# --- esp-lwip PR #66 against the ESP-IDF example README's two runs -------------------------------

# The device in the README's sample output: the loopback netif plus the station interface.
ESP_RUN1 = [
    LocalAddress("lo", IPv4Address("127.0.0.1"), 8),
    LocalAddress("lo", IPv6Address("::1"), 128),
    LocalAddress("st1", IPv4Address("192.168.1.146"), 24),
    LocalAddress("st1", IPv6Address("fe80::a3a:f2ff:fe65:db28"), 64),
]
ESP_RUN2 = [
    *ESP_RUN1,
    LocalAddress("st1", IPv6Address("2407:8800:bc61:1340:a3a:f2ff:fe65:db28"), 64),
    LocalAddress("st1", IPv6Address("fd7c:e25e:67e8:40:a3a:f2ff:fe65:db28"), 64),
]
DNS64 = IPv6Address("64:ff9b::2247:2dc8")
V4 = IPv4Address("34.71.45.200")


def test_lwip_select_run_1_picks_ipv4_by_rule_2() -> None:
    lines: list[str] = []
    assert lwip_select(DNS64, V4, ESP_RUN1, lines.append) == V4
    assert lines == [
        "dns_select: selecting from 2 candidates",
        "dns_select: precedence labels flags 0x0013, ipv6 scopes flags 0x0004, ipv4 scopes flags 0x4004",
        "dns_select: rule 2, cand_0 scope (14) match 0, cand_1 scope (14) match 1",
    ]


def test_lwip_select_run_2_picks_the_dns64_address_by_rule_6() -> None:
    lines: list[str] = []
    assert lwip_select(DNS64, V4, ESP_RUN2, lines.append) == DNS64
    assert lines == [
        "dns_select: selecting from 2 candidates",
        "dns_select: precedence labels flags 0x2013, ipv6 scopes flags 0x4004, ipv4 scopes flags 0x4004",
        "dns_select: rule 2, cand_0 scope (14) match 1, cand_1 scope (14) match 1",
        "dns_select: rule 5, cand_0 label (1) match 1, cand_1 label (4) match 1",
        "dns_select: rule 6, cand_0 precedence 40, cand_1 precedence 35",
    ]


def test_lwip_select_prints_the_ipv6_scope_as_cand_1_scope() -> None:
    # The patch computes cand_1's scope from cand_list[0]: with a link-local IPv4 destination
    # (169.254/16, scope 2) it still prints and tests 14, the IPv6 candidate's.
    lines: list[str] = []
    local = [LocalAddress("st1", IPv4Address("169.254.7.7"), 16), LocalAddress("st1", IPv6Address("fe80::1"), 64)]
    assert lwip_select(DNS64, IPv4Address("169.254.1.1"), local, lines.append) == DNS64
    assert lines[2] == "dns_select: rule 2, cand_0 scope (14) match 0, cand_1 scope (14) match 0"
    assert lines[4] == "dns_select: rule 6, cand_0 precedence 40, cand_1 precedence 35"


def test_lwip_select_with_one_or_no_candidate() -> None:
    lines: list[str] = []
    assert lwip_select(None, V4, ESP_RUN1, lines.append) == V4
    assert lwip_select(DNS64, None, ESP_RUN1, lines.append) == DNS64
    assert lwip_select(None, None, ESP_RUN1, lines.append) is None
    assert lines == ["dns_select: selecting from 1 candidates"] * 2 + ["dns_select: selecting from 0 candidates"]


# --- network namespaces: ours against glibc's getaddrinfo ----------------------------------------

NAME = "www.example.test"
HOSTS = f"127.0.0.1 localhost\n::1 localhost\n{DNS64} {NAME}\n{V4} {NAME}\n"

PROBE = """
import json, socket, sys
from ipaddress import ip_address
from https_request.dns.select import lwip_select, sort_destinations
from https_request.netif import local_addresses
name, *candidates = sys.argv[1:]
sel = sort_destinations([ip_address(c) for c in candidates])
glibc = [info[4][0] for info in socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)]
lines = []
v6 = [ip_address(c) for c in candidates if ":" in c]
v4 = [ip_address(c) for c in candidates if ":" not in c]
lwip = lwip_select(v6[0] if v6 else None, v4[0] if v4 else None, local_addresses(), lines.append)
print(json.dumps({
    "ours": [str(a) for a in sel.ordered],
    "rules": [d.rule for d in sel.decisions],
    "sources": {str(d): (str(s) if s else None) for d, s in sel.sources},
    "glibc": glibc,
    "lwip": str(lwip),
    "lwip_lines": lines,
}))
"""


def _ipv4_network(ns: netns.NetNs) -> None:
    ns.add_host_addr("10.77.0.1/24")
    ns.add_ns_addr("10.77.0.2/24")
    ns.ip("route", "add", "default", "via", "10.77.0.1")


def _probe(ns: netns.NetNs, *candidates: str, name: str = NAME) -> dict[str, object]:
    result = ns.python(PROBE, name, *candidates)
    assert isinstance(result, dict)
    return result


def test_netns_scenarios_match_glibc() -> None:
    with netns.NetNs(hosts=HOSTS) as ns:
        _ipv4_network(ns)
        # A: IPv4 and link-local IPv6 only: no IPv6 route, so Source(64:ff9b::...) is undefined.
        a = _probe(ns, str(DNS64), str(V4))
        assert a["ours"] == [str(V4), str(DNS64)] == a["glibc"], json.dumps(a)
        assert a["rules"] == [1] and a["sources"] == {str(V4): "10.77.0.2", str(DNS64): None}
        assert a["lwip"] == str(V4) and "rule 2, cand_0 scope (14) match 0" in a["lwip_lines"][2]  # ESP run 1

        # B1: + a ULA and an IPv6 default route: Source(64:ff9b::...) is the ULA, label 13 != 1.
        ns.add_host_addr("fd77::1/64")
        ns.add_ns_addr("fd77::2/64")
        ns.ip("-6", "route", "add", "default", "via", "fd77::1")
        b1 = _probe(ns, str(DNS64), str(V4))
        assert b1["ours"] == [str(V4), str(DNS64)] == b1["glibc"], json.dumps(b1)
        assert b1["rules"] == [5] and b1["sources"] == {str(V4): "10.77.0.2", str(DNS64): "fd77::2"}
        # lwIP's bitmasks see label 1 (the link-local address) and pick the DNS64 address.
        assert b1["lwip"] == str(DNS64) and b1["lwip_lines"][-1].startswith("dns_select: rule 6")

        # B2: + a global address (documentation prefix, label 1): the DNS64 address first.
        ns.add_host_addr("2001:db8:77::1/64")
        ns.add_ns_addr("2001:db8:77::2/64")
        ns.ip("-6", "route", "replace", "default", "via", "2001:db8:77::1")
        b2 = _probe(ns, str(V4), str(DNS64))
        assert b2["ours"] == [str(DNS64), str(V4)] == b2["glibc"], json.dumps(b2)
        assert b2["rules"] == [6] and b2["sources"][str(DNS64)] == "2001:db8:77::2"
        assert b2["lwip"] == str(DNS64)


def test_netns_deprecated_source_rule_3_matches_glibc() -> None:
    # Two interfaces, each the only way to its /64, and each destination's source taken from its
    # own outgoing interface (use_oif_addrs_only), so Source(first) is the deprecated address.
    old, fresh = "2001:db8:77::99", "2001:db8:88::99"
    hosts = f"127.0.0.1 localhost\n{old} {NAME}\n{fresh} {NAME}\n"
    with netns.NetNs(hosts=hosts) as ns:
        ns.ip("link", "add", "hrqd0", "type", "veth", "peer", "name", "hrqd1")
        for interface in ("hrqd0", "hrqd1"):
            ns.ip("link", "set", interface, "up")
        for interface in (ns.ns_if, "hrqd0"):
            ns.run(["sh", "-c", f"echo 1 > /proc/sys/net/ipv6/conf/{interface}/use_oif_addrs_only"])
        ns.add_ns_addr("2001:db8:77::2/64", "preferred_lft", "0")
        ns.ip("addr", "add", "2001:db8:88::2/64", "dev", "hrqd0", "nodad")
        result = _probe(ns, old, fresh)
        assert result["sources"] == {old: "2001:db8:77::2", fresh: "2001:db8:88::2"}, json.dumps(result)
        assert result["ours"] == [fresh, old] == result["glibc"], json.dumps(result)
        assert result["rules"] == [3]
