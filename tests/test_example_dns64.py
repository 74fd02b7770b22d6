"""The example on a DNS64 network, as in the sample output of ESP-IDF's example README
(its "Example Output", run on a dual-stack network with DNS64/NAT64 and LWIP_DNS_DEBUG).

Two namespaces made by the test, linked by a veth pair (nothing in the test's own namespace):

* ``net``: the network: gateway 10.77.0.1/24 and 2001:db8:77::1/64 on the link; unbound with
  DNS64 (64:ff9b::/96) at 10.77.0.1:53 serving ``www.howsmyssl.com`` A 34.71.45.200 (the README's
  address); and, NAT64-like, both 34.71.45.200 and its synthesised 64:ff9b::2247:2dc8 on its
  loopback, where ``serve`` (our howsmyssl-compatible server) listens on port 443.
* ``dev``: the device: 10.77.0.2/24 with a default route, an IPv6 link-local address only, and
  resolv.conf pointing at 10.77.0.1.

The example runs in ``dev`` (no EXAMPLE_CONNECT_TO: the names go through DNS). Its first web check
(crt bundle) goes over IPv4: rule 2 of esp-lwip's dns_select decides, as in the README's first run.
During its countdown the test adds a global IPv6 address (2001:db8:77::2/64) and an IPv6 default
route: the example logs ``Got IPv6 event`` for it, and the second check (cacert_buf) answers from
lwIP's cache (``dns_lookup ... found``) and goes over the synthesised IPv6 address, rule 6 deciding.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from dnsserver import unbound
from esplines import is_subsequence, shapes
from netns import NetNs
from procs import Proc, needs
from serveproc import Serve

pytestmark = needs("unbound", "ip")

ZONE = """$TTL 300
$ORIGIN howsmyssl.com.
@    IN SOA ns.howsmyssl.com. hostmaster.howsmyssl.com. ( 1 3600 600 86400 60 )
@    IN NS  ns.howsmyssl.com.
ns   IN A   10.77.0.1
www  IN A   34.71.45.200
"""

_LINE = re.compile(r"^[IWEDV] \(\d+\) ")


def _wait(proc: Proc, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in proc.text:
        assert proc.p.poll() is None or text in proc.text, proc.text
        assert time.monotonic() < deadline, f"{text!r} not seen:\n{proc.text}"
        time.sleep(0.05)


def _section(out: str, start: str, end: str) -> list[str]:
    """The whole lines from the one holding ``start`` to the one before the line holding ``end``."""
    begin = out.rindex("\n", 0, out.index(start)) + 1
    return out[begin : out.rindex("\n", 0, out.index(end))].splitlines()


def test_first_check_over_ipv4_second_over_the_dns64_address(tmp_path: Path) -> None:
    with NetNs() as net, NetNs(resolv_conf="nameserver 10.77.0.1\n") as dev:
        dev_if, _ = dev.link(net, "10.77.0.2/24", "10.77.0.1/24")
        net.ip("addr", "add", "2001:db8:77::1/64", "dev", f"{net.ns_if}l", "nodad")
        net.ip("addr", "add", "34.71.45.200/32", "dev", "lo")
        net.ip("addr", "add", "64:ff9b::2247:2dc8/128", "dev", "lo")
        dev.ip("route", "add", "default", "via", "10.77.0.1", "dev", dev_if)
        dev.wait_dad(dev_if)  # the link-local address is there when the device starts, as in the README
        state, zones, device = tmp_path / "state", tmp_path / "dns", tmp_path / "device"
        state.mkdir()
        zones.mkdir()
        # the device's NVS holds the host's time, written as ESP-IDF's CI writes it (no SNTP needed)
        set_time = [sys.executable, "-m", "https_request", "nvs", "set-time"]
        subprocess.run(set_time, env=dict(os.environ, XDG_STATE_HOME=str(device)), check=True, timeout=30)
        with unbound(zones, netns=net, port=53, listen=("10.77.0.1",), zones={"howsmyssl.com": ZONE}):
            srv = Serve(["--host", "::", "--port", "443", "--name", "www.howsmyssl.com"], state, net.run_prefix)
            try:
                sets = [
                    "EXAMPLE_CLIENT_SESSION_TICKETS=n",
                    "EXAMPLE_COUNTDOWN_S=2",
                    "LWIP_DEBUG=y",
                    "LWIP_DNS_DEBUG=y",
                    f"EXAMPLE_SERVER_ROOT_CERT={srv.ca}",
                    f"MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH={srv.ca}",
                    "LOG_MAXIMUM_LEVEL_DEBUG=y",  # the README's Debug settings, with the two LWIP ones
                ]
                argv = ["env", f"XDG_STATE_HOME={device}", sys.executable, "-u", "-m", "https_request", "example"]
                argv += [arg for item in sets for arg in ("--set", item)]
                example = Proc([*dev.run_prefix, *argv], wait=60)
                try:
                    _wait(example, "example: https_request using crt bundle")
                    _wait(example, "example: connection closed")
                    dev.ip("addr", "add", "2001:db8:77::2/64", "dev", dev_if, "nodad")
                    dev.ip("-6", "route", "add", "default", "via", "2001:db8:77::1", "dev", dev_if)
                    _wait(example, "example: Finish https_request example", timeout=60)
                    assert example.p.wait(30) == 0, example.text
                    out = example.text
                finally:
                    example.kill()
                url = "https://www.howsmyssl.com/a/check"
                argv = [sys.executable, "-m", "https_request", "get", "-vv", "--no-happy-eyeballs", "--cacert", srv.ca]
                fetched = dev.run([*argv, url], check=False, timeout=60)
                assert fetched.returncode == 0, fetched.stderr
            finally:
                srv.stop()
    first = _section(out, "example: https_request using crt bundle", "example: https_request using cacert_buf")
    second = _section(out, "example: https_request using cacert_buf", "example: https_request using global ca_store")
    start = out[: out.index("example: Start https_request example")]
    assert f"example_connect: Connecting to {dev_if}..." in start
    assert re.search(r"Got IPv6 event: Interface \"\S+\" address: fe80:.*, type: ESP_IP6_ADDR_IS_LINK_LOCAL", start)
    assert f'Got IPv4 event: Interface "{dev_if}" address: 10.77.0.2' in start

    # the README's first run: AAAA (synthesised) then A, rule 2 picks IPv4
    raw = [line for line in first if not _LINE.match(line)]
    assert raw[:4] == [
        'dns_enqueue: "www.howsmyssl.com": use DNS entry 0',
        'dns_enqueue: "www.howsmyssl.com": use DNS pcb 0',
        'dns_send: dns_servers[0] "www.howsmyssl.com": request',
        raw[3],
    ]
    assert re.fullmatch(r'sending DNS request ID \d+ for name "www.howsmyssl.com" to server 0', raw[3])
    assert 'dns_recv: "www.howsmyssl.com": response = 64:ff9b:0:0:0:0:2247:2dc8' in raw
    assert 'dns_recv: "www.howsmyssl.com": response = 34.71.45.200' in raw
    assert "dns_select: selecting from 2 candidates" in raw
    flags = next(line for line in raw if line.startswith("dns_select: precedence labels flags"))
    assert flags.endswith("ipv6 scopes flags 0x0004, ipv4 scopes flags 0x4004"), flags
    assert "dns_select: rule 2, cand_0 scope (14) match 0, cand_1 scope (14) match 1" in raw
    assert any(re.search(r"esp-tls: \[sock=\d+\] Resolved IPv4 address: 34\.71\.45\.200$", x) for x in first)
    assert any("esp-tls: host:www.howsmyssl.com: strlen 17" in x for x in first)
    assert any(x.endswith("Connecting to server. HOST: www.howsmyssl.com/a/check, Port: 443") for x in first)

    # the address added during the countdown is logged as the device logs it
    got = [x for x in out.splitlines() if "address: 2001:0db8:0077:0000:0000:0000:0000:0002" in x]
    assert got and got[0].endswith("type: ESP_IP6_ADDR_IS_GLOBAL"), out
    assert out.index(got[0]) < out.index("example: https_request using cacert_buf")

    # the README's second run: both answers from lwIP's cache, rules 2 and 5 tie, rule 6 picks IPv6
    raw = [line for line in second if not _LINE.match(line)]
    assert raw[:2] == [
        'dns_lookup: "www.howsmyssl.com": found = 64:ff9b:0:0:0:0:2247:2dc8',
        'dns_lookup: "www.howsmyssl.com": found = 34.71.45.200',
    ], raw
    assert "dns_select: rule 2, cand_0 scope (14) match 1, cand_1 scope (14) match 1" in raw
    assert "dns_select: rule 5, cand_0 label (1) match 1, cand_1 label (4) match 1" in raw
    assert "dns_select: rule 6, cand_0 precedence 40, cand_1 precedence 35" in raw
    assert any(re.search(r"esp-tls: \[sock=\d+\] Resolved IPv6 address: 64:FF9B::2247:2DC8$", x) for x in second)
    assert "example: Connection established..." in "\n".join(second)
    assert "dns_tmr: dns_check_entries" in out

    # get -vv --no-happy-eyeballs, run after the example in the same network, prints the same lines
    # for its connection: the lookups of the example's first check (a fresh process: nothing cached,
    # IDs differ), the selection and esp-tls lines of its second check (the same addresses now)
    ids = re.compile(r"request ID \d+ ")
    first_raw = [ids.sub("request ID N ", x) for x in first if x.startswith(("dns_", "sending DNS"))]
    got_all = [ids.sub("request ID N ", x) for x in fetched.stderr.splitlines() if x.startswith(("dns_", "sending"))]
    lookups = [x for x in first_raw if not x.startswith(("dns_select", "dns_tmr"))]
    selection = [x for x in second if x.startswith("dns_select")]
    assert lookups and selection and got_all == lookups + selection, fetched.stderr

    def esp_tls(lines: list[str]) -> list[str]:
        keep = ("esp-tls: host:", "] Resolved IPv", "] Connecting to server.")
        return [re.sub(r"^D \(\d+\) |\[sock=\d+\] ", "", x) for x in lines if any(k in x for k in keep)]

    assert esp_tls(fetched.stderr.splitlines()) == esp_tls(second), fetched.stderr
    # and says the address is a NAT64 one (RFC 6052's well-known prefix)
    nat64 = "* Connected to 64:ff9b::2247:2dc8: 34.71.45.200 through NAT64 (prefix 64:ff9b::/96)"
    assert nat64 in fetched.stderr, fetched.stderr

    # line for line: every line shape of the README's published output that a host can produce
    # (not the Wi-Fi driver's), in the same order; lines whose place depends on timing (timer
    # ticks, later address events, the main task's line) are checked for presence above
    floating = re.compile(r"dns_tmr: |main_task: Returned|Got IPv6 event: .*_(GLOBAL|UNIQUE_LOCAL)")
    sample = (Path(__file__).parent / "data" / "esp_readme_example_output.txt").read_text().splitlines()
    ours = shapes(out.splitlines(), floating)
    ok, missing = is_subsequence(shapes(sample, floating), ours)
    assert ok, f"{missing!r} not found in order in:\n" + "\n".join(ours)
    assert "main_task: Returned from app_main()" in out and "Updating time from NVS" in out
