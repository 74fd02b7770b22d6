"""Names resolved by the stub resolver (a real unbound, tests/dnsserver.py) and connected with Happy
Eyeballs, or the device's way, to a real `serve` (tests/serveproc.py): through the esp-tls API
(both drivers) and `https-request get`."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from clirun import get
from dnsserver import Unbound, unbound
from https_request.dns.select import lwip_select
from https_request.esp_tls.config import AddrFamily, EspTlsCfg
from https_request.esp_tls.conn import AsyncEspTls, EspTls
from https_request.esp_tls.errors import EspErr, EspTlsError
from https_request.netif import local_addresses
from procs import needs, tool
from serveproc import Serve, running

pytestmark = needs("unbound")


@pytest.fixture(scope="module")
def dns64(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unbound]:
    tool("unbound")
    with unbound(tmp_path_factory.mktemp("unbound")) as running_unbound:
        yield running_unbound


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """serve on 127.0.0.1 only, its certificate naming the test zone's names."""
    names = ("loop.example.test", "www.example.test", "nx.example.test")
    yield from running([arg for n in names for arg in ("--name", n)], tmp_path_factory.mktemp("state"))


def test_name_from_the_dns_server_happy_eyeballs_falls_back_to_ipv4(dns64: Unbound, srv: Serve) -> None:
    """loop.example.test has AAAA ::1 and A 127.0.0.1; RFC 6724 puts ::1 first (precedence 50),
    nothing listens there, so the refusal starts the IPv4 attempt at once."""
    url = f"https://loop.example.test:{srv.port}/"
    done = get("-vv", "--cacert", srv.ca, "--dns-server", f"127.0.0.1:{dns64.port}", url)
    assert done.code == 0, done.err
    lines = done.err.splitlines()
    assert 'dns_recv: "loop.example.test": response = 0:0:0:0:0:0:0:1' in lines
    assert 'dns_recv: "loop.example.test": response = 127.0.0.1' in lines
    v6 = next(i for i, x in enumerate(lines) if re.search(r"\[sock=\d+\] Resolved IPv6 address: ::1$", x))
    v4 = next(i for i, x in enumerate(lines) if re.search(r"\[sock=\d+\] Resolved IPv4 address: 127\.0\.0\.1$", x))
    assert v6 < v4, done.err
    assert any(re.search(r"\[sock=\d+\] connect to ::1: refused$", line) for line in lines[v6:v4]), done.err
    assert f"HOST: loop.example.test:{srv.port}/, Port: {srv.port}" in done.err


def test_ipv6_only_fails_with_connect_error(dns64: Unbound, srv: Serve) -> None:
    done = get(
        "-6", "--cacert", srv.ca, "--dns-server", f"127.0.0.1:{dns64.port}", f"https://loop.example.test:{srv.port}/"
    )
    assert done.code == 4, done.err
    assert "Connection refused" in done.err


def test_nxdomain_exits_3_naming_the_server(dns64: Unbound, srv: Serve) -> None:
    done = get("--cacert", srv.ca, "--dns-server", f"[::1]:{dns64.port}", f"https://nx.example.test:{srv.port}/")
    assert done.code == 3, done.err
    assert f"NXDOMAIN from [::1]:{dns64.port}" in done.err, done.err


def test_dns_servers_list_as_curl_and_bad_entry(dns64: Unbound, srv: Serve) -> None:
    dead = "127.0.0.1:9"  # listed second: the first server answers, so it is never asked
    done = get(
        "--cacert", srv.ca, "--dns-servers", f"127.0.0.1:{dns64.port},{dead}", f"https://loop.example.test:{srv.port}/"
    )
    assert done.code == 0, done.err
    done = get("--dns-server", "127.0.0.1:99999", "https://loop.example.test/")
    assert done.code == 2 and "port '99999' is not a number from 1 to 65535" in done.err


def test_connect_to_keeps_the_url_host_in_the_esp_tls_lines(srv: Serve, tmp_path: Path) -> None:
    """ESP-IDF's lines name the URL's host even when --connect-to sends the connection elsewhere."""
    url = "https://www.example.test/a/check"
    done = get("-vv", "--cacert", srv.ca, "--connect-to", f"www.example.test:443:127.0.0.1:{srv.port}", url)
    assert done.code == 0, done.err
    assert re.search(r"esp-tls: host:www\.example\.test: strlen 16$", done.err, re.M), done.err
    assert re.search(r"\] Resolved IPv4 address: 127\.0\.0\.1$", done.err, re.M), done.err
    assert re.search(r"Connecting to server\. HOST: www\.example\.test/a/check, Port: 443$", done.err, re.M), done.err


def test_json_reports_the_address_connected_to(dns64: Unbound, srv: Serve) -> None:
    url = f"https://loop.example.test:{srv.port}/"
    done = get("--json", "-", "--cacert", srv.ca, "--dns-server", f"127.0.0.1:{dns64.port}", url)
    assert done.code == 0, done.err
    assert done.json["address"] == "127.0.0.1" and done.json["nat64"] is None


def _cfg(srv: Serve, dns64: Unbound, **kw: object) -> EspTlsCfg:
    servers = (f"127.0.0.1:{dns64.port}",)
    return EspTlsCfg(cacert=Path(srv.ca).read_bytes(), dns_servers=servers, timeout_ms=10_000, **kw)  # type: ignore[arg-type]


def test_esp_tls_api_both_drivers_resolve_with_the_stub_resolver(dns64: Unbound, srv: Serve) -> None:
    url = f"https://loop.example.test:{srv.port}/"
    with EspTls.conn_http_new_sync(url, _cfg(srv, dns64)) as tls:
        assert tls.info.address == "127.0.0.1"  # ::1 first (RFC 6724), refused, then IPv4

    async def main() -> str | None:
        async with await AsyncEspTls.conn_http_new_sync(url, _cfg(srv, dns64)) as atls:
            return atls.info.address

    assert asyncio.run(asyncio.wait_for(main(), 30)) == "127.0.0.1"


def test_esp_tls_device_mode_connects_to_the_one_address_dns_select_picks(
    dns64: Unbound, srv: Serve, esp_log: io.StringIO
) -> None:
    """happy_eyeballs=False: AAAA then A, esp-lwip's dns_select picks one of ::1 and 127.0.0.1 by
    this host's addresses, and esp-tls tries that address only (serve listens on 127.0.0.1: ::1 is
    refused, with no fallback)."""
    picked = lwip_select(IPv6Address("::1"), IPv4Address("127.0.0.1"), local_addresses())
    url = f"https://loop.example.test:{srv.port}/"
    if picked == IPv6Address("::1"):
        with pytest.raises(EspTlsError) as info:
            EspTls.conn_http_new_sync(url, _cfg(srv, dns64, happy_eyeballs=False))
        assert info.value.last_error.last_error == EspErr.ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST
    else:
        with EspTls.conn_http_new_sync(url, _cfg(srv, dns64, happy_eyeballs=False)) as tls:
            assert tls.info.address == "127.0.0.1"
    tried = re.findall(r"\] Resolved IPv\d address: (\S+)$", esp_log.getvalue(), re.M)
    assert tried == [str(picked).upper()], esp_log.getvalue()
    # -4: the device asks for A only, and the one address works
    with EspTls.conn_http_new_sync(url, _cfg(srv, dns64, happy_eyeballs=False, addr_family=AddrFamily.INET)) as tls:
        assert tls.info.address == "127.0.0.1"


def test_device_mode_time_spent_resolving_is_a_timeout_not_a_crash(dns64: Unbound) -> None:
    """timeout_ms spent by a slow DNS answer before the connect starts: esp-tls reports a timeout
    (an EspTlsError), not the ValueError Happy Eyeballs raises for a timeout of zero."""
    from dnsserver import Responder

    def slow(responder: Responder, data: bytes, client: tuple[str, int]) -> None:
        time.sleep(0.4)  # past the whole connection's 300 ms
        responder.sock.sendto(Responder.forward(data, dns64.v4), client)

    with Responder(slow) as responder:
        cfg = EspTlsCfg(dns_servers=(str(responder.server),), timeout_ms=300, happy_eyeballs=False)
        with pytest.raises(EspTlsError):
            EspTls.conn_http_new_sync("https://v4only.example.test:9/", cfg)


def test_device_mode_lookups_keep_to_the_connection_timeout() -> None:
    """The device's AAAA-then-A lookups share the connection's timeout_ms: a DNS server that never
    answers costs about that, not lwIP's 7 s per lookup (14 s for both)."""
    from dnsserver import Responder

    with Responder() as silent:  # never answers
        cfg = EspTlsCfg(dns_servers=(str(silent.server),), timeout_ms=500, happy_eyeballs=False)
        started = time.monotonic()
        with pytest.raises(EspTlsError) as info:
            EspTls.conn_http_new_sync("https://www.example.test/", cfg)
        took = time.monotonic() - started
    assert info.value.last_error.last_error == EspErr.ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME
    assert "no answer within" in info.value.last_error.reason, info.value.last_error.reason
    assert took < 5.0, took  # the whole schedule would be 14 s


def test_hosts_file_names_and_zones(tmp_path: Path) -> None:
    """The hosts file first (as glibc's "files" source): names case-insensitive, comments dropped,
    a zone id kept; localhost is the loopback even when the file does not say so (RFC 6761)."""
    import socket

    from https_request.dns.lookup import hosts_addresses

    hosts = tmp_path / "hosts"
    hosts.write_text("# comment\n10.0.0.7 Pinned.Example  alias # x\nfe80::7%lo pinned.example\nbad pinned.example\n")
    assert [str(a) for a in hosts_addresses("pinned.example.", socket.AF_INET, str(hosts))] == ["10.0.0.7"]
    assert [str(a) for a in hosts_addresses("PINNED.example", socket.AF_INET6, str(hosts))] == ["fe80::7%lo"]
    assert hosts_addresses("alias", socket.AF_INET6, str(hosts)) == ()
    assert [str(a) for a in hosts_addresses("localhost", socket.AF_INET6, str(tmp_path / "none"))] == ["::1"]


@pytest.mark.parametrize("driver", ["blocking", "asyncio"])
def test_happy_eyeballs_drives_the_stub_resolvers_lookups_in_its_own_loop(
    dns64: Unbound, driver: str, tmp_path: Path
) -> None:
    """NameLookup.start, as esp-tls connects: the stub resolver's AAAA and A queries to unbound
    go out and are read by the connection's own loop (no thread, no task per lookup).
    loop.example.test: AAAA ::1 first (RFC 6724), refused (nothing listens there on this
    port), then A 127.0.0.1 connects; both answers are cached afterwards."""
    import socket
    import threading

    from https_request.dns import happy
    from https_request.dns.lookup import NameLookup
    from https_request.dns.resolver import StubResolver

    resolver = StubResolver([dns64.servers[0]])
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    names = NameLookup(lambda: resolver, hosts=str(hosts))
    seen: list[tuple[str, str, int]] = []
    before = set(threading.enumerate())  # only threads started meanwhile count (others may end)

    def note(attempt: happy.Attempt) -> None:
        seen.append((str(attempt.address), attempt.outcome, len(set(threading.enumerate()) - before)))

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        kw: dict[str, object] = {"timeout": 10, "on_attempt": note, "start": names.start}
        if driver == "blocking":
            sock, address = happy.connect("loop.example.test", port, None, **kw)  # type: ignore[arg-type]
        else:
            sock, address = asyncio.run(happy.aconnect("loop.example.test", port, None, **kw))  # type: ignore[arg-type]
        sock.close()
    assert address == IPv4Address("127.0.0.1")
    assert seen == [
        ("::1", "started", 0),
        ("::1", "refused", 0),
        ("127.0.0.1", "started", 0),
        ("127.0.0.1", "connected", 0),
    ]
    assert resolver.cached("loop.example.test", "AAAA") is not None
    assert resolver.cached("loop.example.test", "A") is not None
