"""The stub resolver against a real DNS64 server (unbound, tests/dnsserver.py)
and scripted UDP responders: DNS64 synthesis (RFC 6147), ipv4only.arpa
(RFC 7050), CNAMEs, the TTL cache and negative caching (RFC 2308), truncation
-> TCP, lwIP's retransmission schedule and server switch, lwIP's debug lines,
and the asyncio twin."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdata
import pytest

from dnsserver import MANY, NEGATIVE_TTL, Responder, Unbound, unbound
from https_request.dns.resolver import (
    DNS_MAX_TTL,
    LWIP_SCHEDULE,
    DnsAnswer,
    DnsCache,
    DnsError,
    DnsServer,
    Schedule,
    StubResolver,
    default_resolver,
    parse_server,
    system_servers,
)
from procs import needs

WWW = "www.example.test"
WWW64 = IPv6Address("64:ff9b::2247:2dc8")  # 34.71.45.200 under the well-known prefix (RFC 6052)
FAST = Schedule(sends=(0, 0.05, 0.1, 0.2), next_server=0.35)

uses_unbound = needs("unbound")


class Clock:
    """An injected clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unbound]:
    from procs import tool

    tool("unbound")  # module-scoped: checked here as well as by the marks
    with unbound(tmp_path_factory.mktemp("unbound")) as running:
        yield running


Ask = Callable[[StubResolver, str, str], DnsAnswer]


@pytest.fixture(params=["query", "aquery"])
def ask(request: pytest.FixtureRequest) -> Ask:
    """One lookup through the blocking driver or the asyncio one (the same rules)."""
    if request.param == "query":
        return lambda resolver, name, rdtype: resolver.query(name, rdtype)
    return lambda resolver, name, rdtype: asyncio.run(resolver.aquery(name, rdtype))


def make(
    servers: tuple[DnsServer, ...] | list[DnsServer],
    schedule: Schedule = LWIP_SCHEDULE,
    clock: Clock | None = None,
    cache: DnsCache | None = None,
) -> tuple[StubResolver, list[str]]:
    """A resolver on ``servers`` and the list its lwIP lines go to."""
    lines: list[str] = []
    resolver = StubResolver(servers, schedule=schedule, cache=cache, clock=clock or time.monotonic, debug=lines.append)
    return resolver, lines


def fresh(ttl: float, zone_ttl: int) -> bool:
    """The zone's TTL, or what is left of it in unbound's cache (shared by this module's tests)."""
    return zone_ttl - 10 < ttl <= zone_ttl


def sent_ids(lines: list[str]) -> list[int]:
    return [int(line.split()[4]) for line in lines if line.startswith("sending DNS request ID")]


def exchange(name: str, server: int, txid: int, sends: int = 1) -> list[str]:
    """lwIP's lines for ``sends`` transmissions of one request to dns_servers[server]."""
    return [f'dns_send: dns_servers[{server}] "{name}": request',
            f'sending DNS request ID {txid} for name "{name}" to server {server}'] * sends  # fmt: skip


# --- answers from a real DNS64 server ----------------------------------------------------------------


@uses_unbound
@pytest.mark.parametrize("transport", ["udp4", "udp6"])
def test_aaaa_synthesised_for_an_a_only_name(server: Unbound, transport: str) -> None:
    upstream = server.v4 if transport == "udp4" else server.v6
    resolver, _ = make([upstream])
    answer = resolver.query(WWW, "AAAA")
    assert answer.addresses == (WWW64,)
    assert (answer.name, answer.rdtype, answer.server, answer.used_tcp) == (WWW, "AAAA", upstream, False)
    assert fresh(answer.ttl, 300)
    assert resolver.query(WWW, "A").addresses == (IPv4Address("34.71.45.200"),)


@uses_unbound
def test_real_aaaa_is_returned_as_is(server: Unbound) -> None:
    resolver, _ = make(server.servers)
    assert resolver.query("dual.example.test", "AAAA").addresses == (IPv6Address("2001:db8::5"),)
    assert resolver.query("dual.example.test", "A").addresses == (IPv4Address("203.0.113.5"),)


@uses_unbound
def test_ipv4only_arpa_gives_the_nat64_prefix(server: Unbound) -> None:
    resolver, _ = make(server.servers)
    answer = resolver.query("ipv4only.arpa", "AAAA")
    assert sorted(answer.addresses) == [IPv6Address("64:ff9b::c000:aa"), IPv6Address("64:ff9b::c000:ab")]
    assert sorted(resolver.query("ipv4only.arpa.", "A").addresses) == [
        IPv4Address("192.0.0.170"),
        IPv4Address("192.0.0.171"),
    ]


@uses_unbound
def test_cname_is_followed_within_the_answer(server: Unbound) -> None:
    resolver, lines = make(server.servers)
    answer = resolver.query("alias.example.test", "AAAA")
    assert answer.addresses == (WWW64,) and answer.name == "alias.example.test"
    assert lines[-1] == 'dns_recv: "alias.example.test": response = 64:ff9b:0:0:0:0:2247:2dc8'
    assert resolver.query("alias.example.test", "A").addresses == (IPv4Address("34.71.45.200"),)


@uses_unbound
def test_nodata_is_an_empty_answer_cached_for_the_negative_ttl(server: Unbound) -> None:
    clock = Clock()
    resolver, lines = make(server.servers, clock=clock)
    answer = resolver.query("v6only.example.test", "A")
    assert answer.addresses == () and fresh(answer.ttl, NEGATIVE_TTL)
    assert lines[-1] == 'dns_recv: "v6only.example.test": error in response'
    del lines[:]
    clock.now += answer.ttl - 1
    again = resolver.query("v6only.example.test", "A")
    assert (again.addresses, again.server, again.ttl, lines) == ((), None, 1, [])
    clock.now += 1
    assert resolver.query("v6only.example.test", "A").server == server.v4
    assert len(sent_ids(lines)) == 1


@uses_unbound
def test_nxdomain_names_the_server_and_is_cached(server: Unbound) -> None:
    clock = Clock()
    resolver, lines = make([server.v6], clock=clock)
    with pytest.raises(DnsError) as e:
        resolver.query("nx.example.test", "AAAA")
    assert str(e.value) == f"nx.example.test: does not exist (NXDOMAIN from [::1]:{server.port})"
    assert (e.value.kind, e.value.name, e.value.rdtype, e.value.server) == (
        "nxdomain",
        "nx.example.test",
        "AAAA",
        server.v6,
    )
    assert lines[-1] == 'dns_recv: "nx.example.test": error in flags'
    del lines[:]
    cached_entry = resolver.cache.get("nx.example.test", "AAAA", clock.now)
    assert cached_entry is not None and fresh(cached_entry.expires - clock.now, NEGATIVE_TTL)
    clock.now = cached_entry.expires - 0.5
    with pytest.raises(DnsError, match=r"NXDOMAIN from \[::1\]:\d+, cached\)$") as cached:
        resolver.query("NX.example.test", "AAAA")  # names are case-insensitive
    assert cached.value.kind == "nxdomain" and lines == []
    clock.now += 1
    with pytest.raises(DnsError):
        resolver.query("nx.example.test", "AAAA")
    assert len(sent_ids(lines)) == 1


# --- the cache ------------------------------------------------------------------------------------------


@uses_unbound
def test_second_query_is_answered_from_the_cache_until_the_ttl_runs_out(server: Unbound) -> None:
    clock = Clock()
    resolver, lines = make(server.servers, clock=clock)
    first = resolver.query(WWW, "AAAA")
    assert fresh(first.ttl, 300)
    del lines[:]
    clock.now += first.ttl - 0.5
    cached = resolver.query(WWW, "AAAA")
    assert (cached.addresses, cached.server, cached.ttl) == (first.addresses, None, 1)
    assert lines == [f'dns_lookup: "{WWW}": found = 64:ff9b:0:0:0:0:2247:2dc8']
    clock.now += 0.5
    assert resolver.query(WWW, "AAAA").server == server.v4
    assert len(sent_ids(lines)) == 1


@uses_unbound
def test_cached_answers_without_a_query(server: Unbound) -> None:
    """``cached`` (Happy Eyeballs' ``known``): the cache's answer and its dns_lookup line, None before
    the first query and after the TTL, a cached NXDOMAIN raised; never a datagram sent."""
    clock = Clock()
    resolver, lines = make(server.servers, clock=clock)
    assert resolver.cached(WWW, "A") is None and lines == []
    first = resolver.query(WWW, "A")
    del lines[:]
    hit = resolver.cached(WWW + ".", "A")
    assert hit is not None and (hit.addresses, hit.server) == (first.addresses, None)
    assert lines == [f'dns_lookup: "{WWW}": found = 34.71.45.200']
    clock.now += first.ttl + 1
    assert resolver.cached(WWW, "A") is None
    with pytest.raises(DnsError):
        resolver.query("nx.example.test", "A")
    del lines[:]
    with pytest.raises(DnsError, match="cached"):
        resolver.cached("nx.example.test", "A")
    assert sent_ids(lines) == []


@uses_unbound
def test_ttl_zero_is_not_cached(server: Unbound) -> None:
    resolver, lines = make(server.servers)
    for _ in range(2):
        answer = resolver.query("zerottl.example.test", "A")
        assert (answer.addresses, answer.ttl, answer.server) == ((IPv4Address("198.51.100.11"),), 0, server.v4)
    assert len(sent_ids(lines)) == 2 and len(resolver.cache) == 0
    # lwIP frees a TTL-0 entry at once: the second lookup takes the same entry again
    assert [line for line in lines if "use DNS entry" in line] == [
        'dns_enqueue: "zerottl.example.test": use DNS entry 0'
    ] * 2


@uses_unbound
def test_ttl_is_capped_at_one_week(server: Unbound) -> None:
    clock = Clock()
    resolver, _ = make(server.servers, clock=clock)
    assert resolver.query("twoweeks.example.test", "A").ttl == DNS_MAX_TTL == 604800
    clock.now += DNS_MAX_TTL - 1
    assert resolver.query("twoweeks.example.test", "A").server is None
    clock.now += 1
    assert resolver.query("twoweeks.example.test", "A").server == server.v4


@uses_unbound
def test_the_cache_is_bounded(server: Unbound) -> None:
    resolver, _ = make(server.servers, cache=DnsCache(max_entries=2))
    for name in (WWW, "dual.example.test", "v4only.example.test"):
        resolver.query(name, "A")
    assert len(resolver.cache) == 2
    assert resolver.query("v4only.example.test", "A").server is None  # the newest stays
    assert resolver.query(WWW, "A").server == server.v4  # the least recently used went
    with pytest.raises(ValueError, match="at least one"):
        DnsCache(max_entries=0)


# --- truncation, dead servers, error codes, hostile datagrams ------------------------------------------


@uses_unbound
@pytest.mark.parametrize("rdtype", ["A", "AAAA"])
def test_truncated_answer_is_asked_again_over_tcp(ask: Ask, server: Unbound, rdtype: str) -> None:
    udp = dns.query.udp(dns.message.make_query("many.example.test", rdtype), "127.0.0.1", 2.0, server.port)
    assert udp.flags & dns.flags.TC  # the case this test is about: no EDNS, more than 512 bytes
    resolver, lines = make(server.servers)
    answer = ask(resolver, "many.example.test", rdtype)
    assert answer.used_tcp and fresh(answer.ttl, 300)
    expected = set(MANY) if rdtype == "A" else {IPv6Address(int(IPv6Address("64:ff9b::")) | int(a)) for a in MANY}
    assert set(answer.addresses) == expected and len(answer.addresses) == len(MANY)
    assert len(sent_ids(lines)) == 1  # one UDP request; the TCP one is not an lwIP line


def test_truncated_answer_and_no_tcp_listener_says_so(ask: Ask) -> None:
    def truncated(r: Responder, data: bytes, client: tuple[str, int]) -> None:
        response = dns.message.make_response(dns.message.from_wire(data))
        response.flags |= dns.flags.TC
        r.sock.sendto(response.to_wire(), client)

    with Responder(truncated) as responder:
        resolver, _ = make([responder.server], schedule=FAST)
        with pytest.raises(DnsError) as e:
            ask(resolver, WWW, "A")
    assert e.value.kind == "tcp" and e.value.server == responder.server
    assert str(e.value) == f"{WWW}: truncated answer from 127.0.0.1:{responder.port}, and over TCP: Connection refused"


@uses_unbound
def test_dead_first_server_then_the_second_answers_on_lwips_schedule(ask: Ask, server: Unbound) -> None:
    with Responder() as dead:
        resolver, lines = make([dead.server, server.v6], schedule=FAST)
        start = time.monotonic()
        answer = ask(resolver, WWW, "AAAA")
        elapsed = time.monotonic() - start
        queries = dead.queries()
        times = [t - dead.times[0] for t in dead.times]
    assert answer.addresses == (WWW64,) and answer.server == server.v6
    assert elapsed >= FAST.next_server
    # four sends of the same query (same ID), at 0, 0.05, 0.1 and 0.2 s
    assert len(queries) == 4 and len({q.id for q in queries}) == 1 and len(set(dead.received)) == 1
    for offset, planned in zip(times, FAST.sends, strict=True):
        assert offset >= planned - 0.005
    assert len(set(dead.clients)) == 1  # one socket (lwIP's pcb) for the lookup's retransmissions
    txid = queries[0].id
    assert lines == [
        f'dns_enqueue: "{WWW}": use DNS entry 0',
        f'dns_enqueue: "{WWW}": use DNS pcb 0',
        *exchange(WWW, 0, txid, sends=4),
        *exchange(WWW, 1, txid),
        f'dns_recv: "{WWW}": response = 64:ff9b:0:0:0:0:2247:2dc8',
    ]


def test_no_answer_from_any_server_names_each(ask: Ask) -> None:
    with Responder() as first, Responder() as second:
        resolver, lines = make([first.server, second.server], schedule=FAST)
        with pytest.raises(DnsError) as e:
            ask(resolver, WWW, "A")
    assert str(e.value) == (
        f"{WWW}: no answer from 127.0.0.1:{first.port} (4 tries in 0.35 s); "
        f"no answer from 127.0.0.1:{second.port} (4 tries in 0.35 s)"
    )
    assert (e.value.kind, e.value.server) == ("timeout", second.server)
    assert lines[-1] == f'dns_check_entry: "{WWW}": timeout'
    assert len(first.received) == len(second.received) == 4
    assert str(LWIP_SCHEDULE.sends) == "(0.0, 1.0, 2.0, 4.0)" and LWIP_SCHEDULE.next_server == 7.0


@uses_unbound
def test_a_server_that_cannot_be_sent_to_is_skipped_at_once(ask: Ask, server: Unbound) -> None:
    broadcast = DnsServer(IPv4Address("255.255.255.255"))  # sendto fails: no SO_BROADCAST
    resolver, lines = make([broadcast, server.v4])
    start = time.monotonic()
    assert ask(resolver, WWW, "AAAA").server == server.v4
    assert time.monotonic() - start < 0.9  # not lwIP's 1 s retransmission
    assert [line for line in lines if line.startswith("dns_send")] == [
        f'dns_send: dns_servers[0] "{WWW}": request',
        f'dns_send: dns_servers[1] "{WWW}": request',
    ]
    alone, _ = make([broadcast])
    with pytest.raises(DnsError) as e:
        ask(alone, WWW, "A")
    assert str(e.value) == f"{WWW}: cannot reach 255.255.255.255 (Permission denied)"
    assert (e.value.kind, e.value.server) == ("unreachable", broadcast)


def test_each_lookup_has_a_random_id_and_source_port(ask: Ask) -> None:
    with Responder() as dead:
        resolver, lines = make([dead.server], schedule=Schedule(sends=(0,), next_server=0.05))
        for name in ("a.example.test", "b.example.test"):
            with pytest.raises(DnsError, match=r"no answer from 127\.0\.0\.1:\d+ \(1 tries in 0\.05 s\)$"):
                ask(resolver, name, "A")
    ports = [port for _, port in dead.clients]
    assert len(ports) == 2 and ports[0] != ports[1] and min(ports) >= 1024  # lwIP: DNS_PORT_ALLOWED
    assert sent_ids(lines) == [q.id for q in dead.queries()]


def _servfail(r: Responder, data: bytes, client: tuple[str, int]) -> None:
    response = dns.message.make_response(dns.message.from_wire(data))
    response.set_rcode(dns.rcode.SERVFAIL)
    r.sock.sendto(response.to_wire(), client)


@uses_unbound
def test_servfail_moves_to_the_next_server_at_once(ask: Ask, server: Unbound) -> None:
    with Responder(_servfail) as failing:
        resolver, lines = make([failing.server, server.v4])  # lwIP's schedule: a wait would take 7 s
        start = time.monotonic()
        answer = ask(resolver, WWW, "AAAA")
        assert time.monotonic() - start < 0.9
    assert answer.server == server.v4 and answer.addresses == (WWW64,)
    txid = sent_ids(lines)[0]
    assert lines[2:] == [*exchange(WWW, 0, txid), *exchange(WWW, 1, txid), lines[-1]]


def test_servfail_from_the_last_server_is_an_error(ask: Ask) -> None:
    with Responder(_servfail) as failing:
        resolver, lines = make([failing.server])
        with pytest.raises(DnsError) as e:
            ask(resolver, WWW, "AAAA")
    assert str(e.value) == f"{WWW}: SERVFAIL from 127.0.0.1:{failing.port}"
    assert (e.value.kind, e.value.server) == ("servfail", failing.server)
    assert lines[-1] == f'dns_recv: "{WWW}": error in flags'


@uses_unbound
def test_garbage_wrong_id_and_foreign_source_are_ignored(ask: Ask, server: Unbound) -> None:
    """lwIP drops a datagram that is not the answer from the server asked, and waits on."""

    def hostile(r: Responder, data: bytes, client: tuple[str, int]) -> None:
        real = Responder.forward(data, server.v4)
        r.sock.sendto(b"\x12\x34garbage", client)
        wrong_id = dns.message.from_wire(real)
        wrong_id.id ^= 0x5A5A
        forged = dns.message.from_wire(real)
        forged.answer[0].clear()
        forged.answer[0].add(dns.rdata.from_text("IN", "AAAA", "2001:db8::bad"))
        r.sock.sendto(wrong_id.to_wire(), client)
        with Responder() as other:  # the right ID and question, from another port
            other.sock.sendto(forged.to_wire(), client)
        time.sleep(0.05)
        r.sock.sendto(real, client)

    with Responder(hostile) as responder:
        resolver, lines = make([responder.server])  # lwIP's schedule: a retransmission would come after 1 s
        start = time.monotonic()
        answer = ask(resolver, WWW, "AAAA")
        assert time.monotonic() - start < 0.9
    assert answer.addresses == (WWW64,) and answer.server == responder.server
    assert sent_ids(lines) == [responder.queries()[0].id]


# --- lwIP's lines ---------------------------------------------------------------------------------------


@uses_unbound
def test_lwip_lines_with_the_ids_sent(server: Unbound) -> None:
    with Responder(lambda r, data, client: r.sock.sendto(Responder.forward(data, server.v4), client)) as relay:
        clock = Clock()
        resolver, lines = make([relay.server], clock=clock)
        resolver.tick()
        assert lines == []  # no entry in use: no timer line
        resolver.query(WWW, "AAAA")
        resolver.query(WWW, "A")
        resolver.query(WWW, "AAAA")
        resolver.tick()
        sent = [q.id for q in relay.queries()]
    assert [q.question[0].to_text() for q in relay.queries()] == [f"{WWW}. IN AAAA", f"{WWW}. IN A"]
    assert all(q.flags == dns.flags.RD and q.edns < 0 for q in relay.queries())  # RD only (no CD), no EDNS
    assert lines == [
        f'dns_enqueue: "{WWW}": use DNS entry 0',
        f'dns_enqueue: "{WWW}": use DNS pcb 0',
        *exchange(WWW, 0, sent[0]),
        f'dns_recv: "{WWW}": response = 64:ff9b:0:0:0:0:2247:2dc8',
        f'dns_enqueue: "{WWW}": use DNS entry 1',
        f'dns_enqueue: "{WWW}": use DNS pcb 0',
        *exchange(WWW, 0, sent[1]),
        f'dns_recv: "{WWW}": response = 34.71.45.200',
        f'dns_lookup: "{WWW}": found = 64:ff9b:0:0:0:0:2247:2dc8',
        "dns_tmr: dns_check_entries",
    ]
    del lines[:]
    clock.now += 300
    resolver.tick()
    assert lines == [
        "dns_tmr: dns_check_entries",
        f'dns_check_entry: "{WWW}": flush',
        f'dns_check_entry: "{WWW}": flush',
    ]
    assert len(resolver.cache) == 0
    del lines[:]
    resolver.tick()
    assert lines == []


@uses_unbound
def test_entries_are_reused_oldest_done_first(server: Unbound) -> None:
    resolver, lines = make(server.servers)
    names = ["www", "dual", "v4only", "alias", "shortttl", "ns"]
    for name in names:
        resolver.query(f"{name}.example.test", "A")
    entries = [int(line.rsplit(" ", 1)[1]) for line in lines if "use DNS entry" in line]
    assert entries == [0, 1, 2, 3, 0, 1]  # DNS_TABLE_SIZE 4: the oldest DONE entry goes first
    assert {line for line in lines if "use DNS pcb" in line} == {
        f'dns_enqueue: "{n}.example.test": use DNS pcb 0' for n in names
    }
    assert len(set(sent_ids(lines))) == len(names)


@uses_unbound
def test_threads_share_a_resolver(server: Unbound) -> None:
    resolver, lines = make(server.servers)
    results: dict[str, tuple[IPv4Address | IPv6Address, ...]] = {}

    def ask(rdtype: str) -> None:
        results[rdtype] = resolver.query(WWW, rdtype).addresses

    threads = [threading.Thread(target=ask, args=(t,)) for t in ("AAAA", "A")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert results == {"AAAA": (WWW64,), "A": (IPv4Address("34.71.45.200"),)}
    assert sorted(line for line in lines if "use DNS entry" in line) == [
        f'dns_enqueue: "{WWW}": use DNS entry 0',
        f'dns_enqueue: "{WWW}": use DNS entry 1',
    ]


# --- the asyncio twin -----------------------------------------------------------------------------------


@uses_unbound
def test_aquery_answers_like_query(server: Unbound) -> None:
    async def main() -> None:
        resolver, lines = make(server.servers)
        answer = await resolver.aquery(WWW, "AAAA")
        assert (answer.addresses, answer.server) == ((WWW64,), server.v4) and fresh(answer.ttl, 300)
        assert (await resolver.aquery("alias.example.test", "A")).addresses == (IPv4Address("34.71.45.200"),)
        many = await resolver.aquery("many.example.test", "A")
        assert many.used_tcp and set(many.addresses) == set(MANY)
        assert (await resolver.aquery(WWW, "AAAA")).server is None
        assert lines[-1] == f'dns_lookup: "{WWW}": found = 64:ff9b:0:0:0:0:2247:2dc8'
        with pytest.raises(DnsError, match="does not exist") as e:
            await resolver.aquery("nx.example.test", "A")
        assert e.value.kind == "nxdomain"

    asyncio.run(main())


class NoReadersLoop(asyncio.SelectorEventLoop):
    """An event loop that cannot watch descriptors, as Windows' proactor."""

    def add_reader(self, fd: object, callback: object, *args: object) -> None:
        raise NotImplementedError


@uses_unbound
def test_aquery_on_a_loop_without_readers_waits_in_a_thread(server: Unbound) -> None:
    """The lookup's waits go to a thread where the loop has no add_reader: the same answers,
    a truncated one's TCP query included, and a timeout that still ends it."""
    resolver, _ = make(server.servers)
    with asyncio.Runner(loop_factory=NoReadersLoop) as runner:
        assert runner.run(resolver.aquery(WWW, "AAAA")).addresses == (WWW64,)
        assert runner.run(resolver.aquery("many.example.test", "A")).used_tcp
        with Responder() as silent:
            quiet, _ = make([silent.server])
            with pytest.raises(DnsError, match=r"no answer within 0\.3 s") as e:
                runner.run(quiet.aquery(WWW, "A", timeout=0.3))
    assert e.value.kind == "timeout"


@uses_unbound
def test_aquery_dead_first_server_and_the_same_lines_as_query(server: Unbound) -> None:
    async def main(dead: Responder) -> tuple[list[str], int]:
        resolver, lines = make([dead.server, server.v6], schedule=FAST)
        answer = await resolver.aquery(WWW, "AAAA")
        assert answer.server == server.v6 and answer.addresses == (WWW64,)
        return lines, dead.queries()[0].id

    with Responder() as dead:
        lines, txid = asyncio.run(main(dead))
        assert len(dead.received) == 4
    with Responder() as dead:
        blocking, blocking_lines = make([dead.server, server.v6], schedule=FAST)
        blocking.query(WWW, "AAAA")
        blocking_lines = [line.replace(f"ID {dead.queries()[0].id} ", f"ID {txid} ") for line in blocking_lines]
    assert lines == blocking_lines


def test_aquery_table_full_and_cancellation() -> None:
    async def main(dead: Responder) -> None:
        resolver, lines = make([dead.server], schedule=Schedule(sends=(0,), next_server=5))
        pending = [asyncio.create_task(resolver.aquery(f"n{i}.example.test", "A")) for i in range(4)]
        await asyncio.sleep(0.1)
        with pytest.raises(DnsError, match=r"too many DNS lookups in progress \(4\)") as e:
            await resolver.aquery("n4.example.test", "A")
        assert e.value.kind == "busy"
        assert lines[-1] == 'dns_enqueue: "n4.example.test": DNS entries table is full'
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        # the cancelled lookups gave their entries and pcbs back
        del lines[:]
        task = asyncio.create_task(resolver.aquery("n5.example.test", "A"))
        await asyncio.sleep(0.05)
        assert lines[:2] == [
            'dns_enqueue: "n5.example.test": use DNS entry 0',
            'dns_enqueue: "n5.example.test": use DNS pcb 0',
        ]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    with Responder() as dead:
        asyncio.run(main(dead))


# --- configuration --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "address", "port", "shown"),
    [
        ("127.0.0.1", "127.0.0.1", 53, "127.0.0.1"),
        ("127.0.0.1:15353", "127.0.0.1", 15353, "127.0.0.1:15353"),
        (" ::1 ", "::1", 53, "::1"),
        ("[::1]:15353", "::1", 15353, "[::1]:15353"),
        ("[2001:db8::1]", "2001:db8::1", 53, "2001:db8::1"),
        ("2001:db8::53", "2001:db8::53", 53, "2001:db8::53"),
    ],
)
def test_parse_server(text: str, address: str, port: int, shown: str) -> None:
    server = parse_server(text)
    assert (server.address, server.port, str(server)) == (ip_address(address), port, shown)
    assert parse_server(str(server)) == server


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no address"),
        ("localhost", "'localhost' is not an IPv4 or IPv6 address"),
        ("dns.example:53", "'dns.example' is not an IPv4 or IPv6 address"),
        ("127.0.0.1:", "empty port"),
        ("127.0.0.1:0", "port '0' is not a number from 1 to 65535"),
        ("127.0.0.1:65536", "port '65536'"),
        ("127.0.0.1:dns", "port 'dns'"),
        ("[::1", "no closing ']'"),
        ("[::1]53", "no closing ']'"),
        ("[::1]:", "empty port"),
        ("[127.0.0.1]:53", "brackets are for IPv6"),
        ("fe80::1%eth0", "link-local DNS servers are not supported"),
        ("0.0.0.0", "cannot be a DNS server"),
        ("ff02::fb", "cannot be a DNS server"),
    ],
)
def test_parse_server_errors(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_server(text)
    message = str(e.value)
    assert message.startswith(f"DNS server {text!r} (expected ADDR, ADDR:PORT, IPV6 or [IPV6]:PORT): ")
    assert reason in message


def test_system_servers(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "# written by a test\n; comment\nsearch example.test\nnameserver 127.0.0.53\n"
        "options edns0 trust-ad\nnameserver ::1\nnameserver   192.0.2.1  # trailing\nnameserver 192.0.2.2\n"
    )
    assert system_servers(str(conf)) == (parse_server("127.0.0.53"), parse_server("::1"), parse_server("192.0.2.1"))
    conf.write_text("nameserver 127.0.0.1\nnameserver dns.example\n")
    with pytest.raises(ValueError, match=rf"^{conf} line 2: nameserver: 'dns.example' is not an IPv4 or IPv6 address$"):
        system_servers(str(conf))
    conf.write_text("search example.test\n")
    with pytest.raises(ValueError, match=rf"^{conf} has no nameserver line"):
        system_servers(str(conf))
    with pytest.raises(OSError, match=rf"cannot read the DNS configuration {tmp_path}/missing: No such file"):
        system_servers(str(tmp_path / "missing"))
    with pytest.raises(OSError, match=rf"cannot read the DNS configuration {tmp_path}: Is a directory"):
        system_servers(str(tmp_path))


def test_default_resolver_is_built_once_from_resolv_conf() -> None:
    try:
        expected = system_servers()
    except (OSError, ValueError) as e:
        with pytest.raises(type(e)):
            default_resolver()
        return
    assert default_resolver() is default_resolver()
    assert default_resolver().servers == expected


def test_bad_names_types_and_schedules() -> None:
    resolver, lines = make([parse_server("127.0.0.1:9")])
    for name in ("", ".", "a..b", "x" * 64 + ".test"):
        with pytest.raises(DnsError, match="not a valid DNS name") as e:
            resolver.query(name, "A")
        assert e.value.kind == "bad-name"
    with pytest.raises(ValueError, match="A or AAAA records, not 'MX'"):
        resolver.query(WWW, "MX")
    with pytest.raises(DnsError, match="no DNS server configured"):
        StubResolver([]).query(WWW, "A")
    assert lines == []
    for bad in ({"sends": (1.0, 2.0)}, {"sends": (0.0, 2.0, 1.0)}, {"sends": ()}, {"sends": (0.0, 7.0)}):
        with pytest.raises(ValueError, match="schedule"):
            Schedule(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port 0"):
        DnsServer(IPv4Address("127.0.0.1"), 0)


def test_invalid_names_never_reach_a_server() -> None:
    """RFC 6761 section 6.4: .invalid gets an immediate negative answer (nothing listens on port 9:
    a query would take lwIP's 7 s)."""
    resolver, lines = make([parse_server("127.0.0.1:9")])
    for name in ("no-such-host.invalid", "INVALID", "a.b.Invalid."):
        with pytest.raises(DnsError, match=r"does not exist \(\.invalid names never do, RFC 6761\)") as e:
            resolver.query(name, "AAAA")
        assert e.value.kind == "nxdomain" and e.value.server is None
    assert lines == []


def test_importing_the_package_does_not_load_dnspython() -> None:
    code = "import sys, https_request.dns, https_request.dns.lwip_log, https_request.cli\nprint('dns' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert (proc.returncode, proc.stdout.strip()) == (0, "False"), proc.stderr


def test_a_caller_timeout_ends_the_lookup_first() -> None:
    """query(timeout=): the caller's deadline ends the lookup before the schedule does."""
    with Responder() as silent:
        resolver, _ = make([silent.server])
        started = time.monotonic()
        with pytest.raises(DnsError, match=r"no answer within 0\.3 s") as e:
            resolver.query(WWW, "A", timeout=0.3)
        took = time.monotonic() - started
    assert e.value.kind == "timeout" and took < 3.0, took
    assert len(silent.received) == 1  # lwIP's second send would be at 1 s
