"""A real DNS64 server for the tests: unbound on 127.0.0.1 and ::1 at a free
high port, with the dns64 module (RFC 6147, prefix 64:ff9b::/96 of RFC 6052)
and two local auth-zones: the test zone ``example.test`` and ``ipv4only.arpa``
(RFC 7050's well-known IPv4-only name, RFC 8880; unbound does not serve it by
itself, so the zone gives it its two A records, 192.0.0.170 and .171).

The configuration follows unbound's documentation (unbound.conf(5)):

* ``module-config: "dns64 iterator"`` with ``dns64-prefix``;
* the zones are ``auth-zone``s with ``for-downstream: no`` / ``for-upstream:
  yes``, so answers go through the module stack and dns64 sees them
  (``local-data`` would be answered before the modules run: no synthesis);
* ``local-zone: "test." nodefault``: unbound refuses the special-use ``.test``
  (RFC 6761) by default;
* ``username: ""`` and ``chroot: ""``: no privilege drop, so it runs as any
  user; ``-d`` keeps it in the foreground, logging to stderr.

:func:`unbound` starts it (``procs.needs("unbound")`` in the test), waits
until both addresses answer (bounded), and kills it on exit.

:class:`Responder` is a scripted UDP "server" for what unbound will not do
(never answer, answer SERVFAIL, send garbage first): a thread passes each
datagram to the test's handler and records it with its arrival time.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from types import TracebackType

import dns.exception
import dns.message
import dns.query
import pytest

from https_request.dns.resolver import DnsServer
from netns import NetNs
from procs import Proc, tool

__all__ = ["MANY", "NEGATIVE_TTL", "ZONE", "Responder", "Unbound", "free_port", "unbound"]

#: Records of `many.example.test`: more A records than fit a 512-byte answer without EDNS.
MANY = tuple(IPv4Address(f"198.18.0.{i}") for i in range(1, 61))
#: The test zone's negative TTL (RFC 2308: the smaller of the SOA's TTL and its MINIMUM field).
NEGATIVE_TTL = 60

ZONE = f"""$TTL 300
$ORIGIN example.test.
@        IN SOA ns.example.test. hostmaster.example.test. ( 1 3600 600 86400 {NEGATIVE_TTL} )
@        IN NS  ns.example.test.
ns       IN A   127.0.0.1
www      IN A   34.71.45.200
v4only   IN A   198.51.100.7
dual     IN A   203.0.113.5
dual     IN AAAA 2001:db8::5
v6only   IN AAAA 2001:db8::6
loop     IN A   127.0.0.1
loop     IN AAAA ::1
alias    IN CNAME www.example.test.
shortttl 30 IN A 198.51.100.10
zerottl  0 IN A 198.51.100.11
twoweeks 1209600 IN A 198.51.100.12
""" + "".join(f"many     300 IN A {a}\n" for a in MANY)  # an explicit TTL: unbound's reader carries the last one on

IPV4ONLY_ZONE = """$TTL 300
$ORIGIN ipv4only.arpa.
@ IN SOA localhost. nobody.localhost. ( 1 3600 600 86400 300 )
@ IN NS localhost.
@ IN A 192.0.0.170
@ IN A 192.0.0.171
"""

CONF = """server:
    interface: 127.0.0.1
    interface: ::1
{interfaces}    port: {port}
    access-control: 127.0.0.0/8 allow
    access-control: ::1/128 allow
{access}    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    module-config: "dns64 iterator"
    dns64-prefix: 64:ff9b::/96
    local-zone: "test." nodefault
    cache-max-ttl: 2000000
    cache-min-ttl: 0

auth-zone:
    name: "example.test."
    zonefile: "{dir}/example.test.zone"
    for-downstream: no
    for-upstream: yes
    fallback-enabled: no

auth-zone:
    name: "ipv4only.arpa."
    zonefile: "{dir}/ipv4only.arpa.zone"
    for-downstream: no
    for-upstream: yes

{zones}remote-control:
    control-enable: no
"""

ZONE_CONF = """auth-zone:
    name: "{name}."
    zonefile: "{dir}/{name}.zone"
    for-downstream: no
    for-upstream: yes
    fallback-enabled: no

"""


def free_port() -> int:
    """A port free for UDP and TCP on both 127.0.0.1 and ::1 (at the time of asking)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        try:
            for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    with socket.socket(family, kind) as s:
                        s.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free on both 127.0.0.1 and ::1 after 50 tries")


class Unbound:
    """A running unbound: its port, its two addresses as servers, its log."""

    def __init__(self, proc: Proc, port: int) -> None:
        self.proc = proc
        self.port = port
        self.v4 = DnsServer(IPv4Address("127.0.0.1"), port)
        self.v6 = DnsServer(IPv6Address("::1"), port)

    @property
    def servers(self) -> tuple[DnsServer, DnsServer]:
        return self.v4, self.v6


def _answers(server: DnsServer) -> bool:
    query = dns.message.make_query("ns.example.test", "A")
    try:
        response = dns.query.udp(query, str(server.address), timeout=0.2, port=server.port)
    except (OSError, dns.exception.DNSException):
        return False
    return response.rcode() == 0 and bool(response.answer)


_PROBE = """import sys, dns.message, dns.query
q = dns.message.make_query("ns.example.test", "A")
for where in ("127.0.0.1", "::1"):
    try:
        r = dns.query.udp(q, where, timeout=0.2, port=int(sys.argv[1]))
    except Exception:
        sys.exit(1)
    if r.rcode() != 0 or not r.answer:
        sys.exit(1)
"""


@contextmanager
def unbound(
    directory: Path,
    wait: float = 10.0,
    netns: NetNs | None = None,
    *,
    port: int | None = None,
    listen: Sequence[str] = (),
    zones: Mapping[str, str] | None = None,
) -> Iterator[Unbound]:
    """unbound serving the test zones from ``directory`` (absolute; its files
    are written there), on 127.0.0.1 and ::1 of this namespace or of ``netns``
    (its own loopback), and on the ``listen`` addresses (answering their /24
    or /64), at ``port`` (default: a free one). ``zones`` adds auth-zones
    (name -> zone file text). Fails the test if it does not answer within ``wait`` s."""
    directory = directory.resolve()
    (directory / "example.test.zone").write_text(ZONE)
    (directory / "ipv4only.arpa.zone").write_text(IPV4ONLY_ZONE)
    extra = ""
    for name, text in (zones or {}).items():
        (directory / f"{name}.zone").write_text(text)
        extra += ZONE_CONF.format(name=name, dir=directory)
    interfaces = "".join(f"    interface: {a}\n" for a in listen)
    access = "".join(f"    access-control: {a}/{64 if ':' in a else 24} allow\n" for a in listen)
    for _attempt in range(3):  # another process may take the port between free_port() and unbound's bind
        port = free_port() if port is None else port
        conf = directory / "unbound.conf"
        conf.write_text(CONF.format(port=port, dir=directory, interfaces=interfaces, access=access, zones=extra))
        prefix = [] if netns is None else ["ip", "netns", "exec", netns.name]
        proc = Proc([*prefix, tool("unbound"), "-d", "-c", str(conf)])
        try:
            server = Unbound(proc, port)
            deadline = time.monotonic() + wait
            while proc.p.poll() is None and time.monotonic() < deadline:
                if netns is not None:
                    probe = netns.run([sys.executable, "-c", _PROBE, str(port)], check=False)
                    if probe.returncode == 0:
                        break
                elif _answers(server.v4) and _answers(server.v6):
                    break
                time.sleep(0.05)
            else:
                if proc.p.poll() is None:
                    pytest.fail(f"unbound did not answer within {wait} s:\n{proc.text}")
                if "bind" in proc.text.lower():
                    continue
                pytest.fail(f"unbound exited with {proc.p.returncode}:\n{proc.text}")
            yield server
            return
        finally:
            proc.kill()
    pytest.fail("unbound could not bind a free port in 3 attempts")


Handler = Callable[["Responder", bytes, tuple[str, int]], None]


class Responder:
    """A UDP socket on 127.0.0.1 served by a thread: every datagram is recorded
    in ``received`` (its source in ``clients``, its ``time.monotonic()`` arrival in ``times``) and
    passed to ``handler(responder, data, client)``; ``handler=None`` never answers."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.server = DnsServer(IPv4Address("127.0.0.1"), self.port)
        self.received: list[bytes] = []
        self.clients: list[tuple[str, int]] = []
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        # Until a receive times out after close() asked to stop: a datagram that arrived
        # just before close() is still recorded, however late this thread gets the CPU.
        while True:
            stopping = self._stop.is_set()
            try:
                data, client = self.sock.recvfrom(65535)
            except TimeoutError:
                if stopping:
                    return
                continue
            except OSError:
                return
            self.received.append(data)
            self.clients.append(client)
            self.times.append(time.monotonic())
            if self.handler is not None and len(self.received) <= 100:  # bounded: a test sends a few
                self.handler(self, data, client)

    def queries(self) -> list[dns.message.Message]:
        return [dns.message.from_wire(data) for data in self.received]

    @staticmethod
    def forward(data: bytes, upstream: DnsServer) -> bytes:
        """The upstream server's answer to the query ``data`` (as it sent it)."""
        query = dns.message.from_wire(data)
        response = dns.query.udp(query, str(upstream.address), timeout=2.0, port=upstream.port)
        return response.to_wire()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self.sock.close()

    def __enter__(self) -> Responder:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
