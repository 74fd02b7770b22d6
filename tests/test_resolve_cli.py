"""`https-request resolve NAME` against a real DNS64 server (unbound, tests/dnsserver.py), and
inside network namespaces whose addresses decide the RFC 6724 order (tests/netns.py)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

from clirun import env, run
from dnsserver import Unbound, unbound
from https_request.dns.select import sort_destinations
from netns import NetNs
from procs import needs, tool

pytestmark = needs("unbound")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unbound]:
    tool("unbound")
    with unbound(tmp_path_factory.mktemp("unbound")) as running:
        yield running


def resolve(server: Unbound, *args: str) -> tuple[int, str, str]:
    done = run("resolve", *args, "--dns-server", f"[::1]:{server.port}")
    return done.code, done.out.decode(), done.err


def test_dns64_name_both_families_with_the_nat64_prefix(server: Unbound) -> None:
    code, out, err = resolve(server, "www.example.test", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["servers"] == [f"[::1]:{server.port}"]
    assert report["nat64_prefixes"] == ["64:ff9b::/96"]  # learnt from ipv4only.arpa (RFC 7050)
    found = {c["address"]: c for c in report["candidates"]}
    assert set(found) == {"34.71.45.200", "64:ff9b::2247:2dc8"}
    assert found["64:ff9b::2247:2dc8"]["type"] == "AAAA"
    assert found["64:ff9b::2247:2dc8"]["nat64_of"] == "34.71.45.200"
    assert found["34.71.45.200"]["nat64_of"] is None and found["34.71.45.200"]["ttl"] <= 300
    # the order and its reason are this host's RFC 6724 sort of the same two addresses
    expected = sort_destinations([ip_address(a) for a in found])
    assert [c["address"] for c in report["candidates"]] == [str(a) for a in expected.ordered]
    assert [(d["rule"], d["first"], d["second"]) for d in report["decisions"]] == [
        (d.rule, str(d.first), str(d.second)) for d in expected.decisions
    ]


def test_text_output_names_each_candidate_and_the_rule(server: Unbound) -> None:
    code, out, err = resolve(server, "www.example.test")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "www.example.test (NAT64 prefix 64:ff9b::/96)"
    assert re.match(r"^  1  \S+ +(A|AAAA) +ttl \d+  source ", lines[1]), out
    assert re.match(r"^     rule \d+ puts it before 2: ", lines[2]), out
    assert "NAT64 of 34.71.45.200" in out


def test_real_aaaa_is_not_shown_as_synthesised(server: Unbound) -> None:
    code, out, _ = resolve(server, "dual.example.test", "-6", "--json")
    assert code == 0
    report = json.loads(out)
    assert [(c["address"], c["nat64_of"]) for c in report["candidates"]] == [("2001:db8::5", None)]


@pytest.mark.parametrize(("flag", "want"), [("-4", "34.71.45.200"), ("-6", "64:ff9b::2247:2dc8")])
def test_one_family(server: Unbound, flag: str, want: str) -> None:
    code, out, _ = resolve(server, "www.example.test", flag, "--json")
    assert code == 0
    assert [c["address"] for c in json.loads(out)["candidates"]] == [want]


def test_lwip_lines_with_vv(server: Unbound) -> None:
    code, _, err = resolve(server, "v4only.example.test", "-vv")
    assert code == 0
    lines = err.splitlines()
    assert lines[:4] == [
        'dns_enqueue: "v4only.example.test": use DNS entry 0',
        'dns_enqueue: "v4only.example.test": use DNS pcb 0',
        'dns_send: dns_servers[0] "v4only.example.test": request',
        lines[3],
    ]
    assert re.fullmatch(r'sending DNS request ID \d+ for name "v4only.example.test" to server 0', lines[3])
    assert 'dns_recv: "v4only.example.test": response = 64:ff9b:0:0:0:0:c633:6407' in lines  # AAAA first
    assert 'dns_recv: "v4only.example.test": response = 198.51.100.7' in lines


def test_nxdomain_exits_3_in_user_terms(server: Unbound) -> None:
    code, out, err = resolve(server, "nx.example.test")
    assert code == 3 and out == ""
    assert err == f"https-request resolve: nx.example.test: does not exist (NXDOMAIN from [::1]:{server.port})\n"


def test_no_record_of_the_family_exits_3(server: Unbound) -> None:
    code, _, err = resolve(server, "dual.example.test", "-4", "--dns-server", "x")  # usage error first
    assert code == 2 and "DNS server 'x'" in err
    code, _, err = resolve(server, "ns.example.test", "-6")
    assert code == 0  # DNS64 synthesises AAAA for any A-only name
    done = run("resolve", "--dns-server", f"127.0.0.1:{server.port}", "-4", "ipv4only.arpa")
    assert done.code == 0


def test_address_literal_needs_no_dns() -> None:
    done = run("resolve", "::1", "--dns-server", "127.0.0.1:9")  # nothing listens on port 9: never asked
    assert done.code == 0, done.err
    assert done.out.decode().splitlines()[1].split()[1:3] == ["::1", "literal"]
    done = run("resolve", "::1", "-4")
    assert done.code == 3 and "an IPv6 address, and -4 was given" in done.err


def test_dead_server_exits_3_naming_it() -> None:
    """Nothing listens on port 9: lwIP's schedule (4 sends in 7 s) for AAAA, and A is not asked."""
    done = run("resolve", "www.example.test", "--dns-server", "127.0.0.1:9", "-vv", timeout=60)
    assert done.code == 3
    assert done.err.endswith("https-request resolve: www.example.test: no answer from 127.0.0.1:9 (4 tries in 7 s)\n")
    assert done.err.count('dns_send: dns_servers[0] "www.example.test": request') == 4, done.err


def test_in_namespaces_the_host_addresses_decide(tmp_path: Path) -> None:
    """ESP-IDF's README sample: IPv4 first with a link-local IPv6 address only (the DNS64 address
    has no usable source), the DNS64 address first once a global IPv6 address exists (rule 6).
    unbound runs inside the namespace, on its own loopback."""
    with NetNs() as ns:
        ns.add_ns_addr("10.77.0.2/24")
        ns.add_host_addr("10.77.0.1/24")
        ns.ip("route", "add", "default", "via", "10.77.0.1")
        with unbound(tmp_path, netns=ns) as dns64:
            first = _resolve_in(ns, dns64.port)
            ns.add_ns_addr("2001:db8:77::2/64")
            ns.add_host_addr("2001:db8:77::1/64")
            ns.ip("-6", "route", "add", "default", "via", "2001:db8:77::1")
            second = _resolve_in(ns, dns64.port)
    candidates, decisions = first["candidates"], first["decisions"]
    assert [c["address"] for c in candidates] == ["34.71.45.200", "64:ff9b::2247:2dc8"], first
    assert candidates[1]["source"] is None and decisions[0]["rule"] == 1, first
    candidates, decisions = second["candidates"], second["decisions"]
    assert [c["address"] for c in candidates] == ["64:ff9b::2247:2dc8", "34.71.45.200"], second
    assert candidates[0]["source"] == "2001:db8:77::2" and decisions[0]["rule"] == 6, second


def _resolve_in(ns: NetNs, port: int) -> Any:
    argv = [sys.executable, "-m", "https_request", "resolve", "www.example.test", "--json"]
    done = ns.run([*argv, "--dns-server", f"127.0.0.1:{port}"], env=env())
    return json.loads(done.stdout)
