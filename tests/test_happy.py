"""RFC 8305 Happy Eyeballs (:mod:`https_request.dns.happy`), both drivers.

Loopback tests: real sockets on 127.0.0.x / ::1 (listening, or bound and not
listening: refused), and real resolve functions answering from a table, some
after a delay or only once the test lets them. Timing is never asserted: a
behaviour that depends on a delay is shown with delays far apart (a lookup
held back 0.2 s against a 5 s resolution delay; an attempt delay of 30 s
against a 10 s overall timeout, which fails the test if the delay is waited).

Namespace tests (scenario B2 of issue 10): inside a network namespace with
10.77.0.2/24, 2001:db8:77::2/64 and an IPv6 default route whose gateway is a
neighbour nobody answers for (a permanent neighbour entry with an unused MAC:
the host's veth drops those frames, so IPv6 SYNs vanish without an error,
whatever the host's forwarding), a name in the namespace's /etc/hosts has
AAAA 64:ff9b::a4d:1 and A 10.77.0.1, where the test listens. glibc's
getaddrinfo is the resolve function, and its AF_UNSPEC order (RFC 6724 with
the namespace's source addresses) is the sort.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import pytest

import netns
from https_request.dns import happy
from https_request.dns.happy import Attempt, ConnectError, interleave

Address = IPv4Address | IPv6Address

V4, V6 = IPv4Address("127.0.0.1"), IPv6Address("::1")


def _a(*texts: str) -> list[Address]:
    return [ip_address(t) for t in texts]


def v6_first(addresses: Sequence[Address]) -> list[Address]:
    """A sort: IPv6 before IPv4, each family in the resolver's order."""
    return sorted(addresses, key=lambda a: -a.version)


def v4_first(addresses: Sequence[Address]) -> list[Address]:
    return sorted(addresses, key=lambda a: a.version)


# --- interleave -------------------------------------------------------------------


def test_interleave_alternates_after_the_first_family_count() -> None:
    six = _a("2001:db8::1", "2001:db8::2", "2001:db8::3")
    four = _a("192.0.2.1", "192.0.2.2")
    assert interleave([*six, *four]) == (six[0], four[0], six[1], four[1], six[2])
    assert interleave([*six, *four], 2) == (six[0], six[1], four[0], six[2], four[1])
    assert interleave([four[0], *six, four[1]]) == (four[0], six[0], four[1], six[1], six[2])
    assert interleave(six) == tuple(six)
    assert interleave([]) == ()


def test_interleave_needs_a_positive_count() -> None:
    with pytest.raises(ValueError, match="first_family_count must be at least 1, not 0"):
        interleave(_a("192.0.2.1"), 0)


# --- loopback fixtures -------------------------------------------------------------


class Ports:
    """One port number bound on 127.0.0.1, ::1 and any extra 127.0.0.x: each
    either listening (connects) or bound without listening (refused)."""

    def __init__(self, listening: Sequence[str], refused: Sequence[str]) -> None:
        self.socks: list[socket.socket] = []
        for _ in range(50):
            try:
                self.port = self._bind(listening, refused)
                return
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                self.close()
        raise AssertionError("no port free on every address")

    def _bind(self, listening: Sequence[str], refused: Sequence[str]) -> int:
        port = 0
        for host in [*listening, *refused]:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            self.socks.append(sock)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            if host in listening:
                sock.listen(8)
        return port

    def close(self) -> None:
        for sock in self.socks:
            sock.close()
        self.socks = []


@pytest.fixture
def ports() -> Iterator[Callable[..., Ports]]:
    made: list[Ports] = []

    def make(listening: Sequence[str] = (), refused: Sequence[str] = ()) -> Ports:
        made.append(Ports(listening, refused))
        return made[-1]

    yield make
    for p in made:
        p.close()


class Table:
    """A resolve function answering from a table: per family, the addresses (or
    an exception), given after ``delay`` seconds or once ``gate`` is set (at
    most 10 s). Records the lookups asked for. Sync and async forms."""

    def __init__(
        self,
        v6: Sequence[str] | Exception = (),
        v4: Sequence[str] | Exception = (),
        *,
        delay: dict[int, float] | None = None,
        gated: Sequence[int] = (),
        sending: bool = False,
    ) -> None:
        self.answers: dict[int, list[Address] | Exception] = {
            socket.AF_INET6: v6 if isinstance(v6, Exception) else _a(*v6),
            socket.AF_INET: v4 if isinstance(v4, Exception) else _a(*v4),
        }
        self.delay = delay or {}
        self.gate = threading.Event()
        self.gated = set(gated)
        self.sending = sending  # TableLookup: the first advance only "sends"
        self.asked: list[int] = []

    def __call__(self, name: str, family: int) -> Sequence[Address]:
        assert name == "he.test"
        self.asked.append(family)
        time.sleep(self.delay.get(family, 0))
        if family in self.gated:
            self.gate.wait(10)
        answer = self.answers[family]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def start(self, name: str, family: int) -> TableLookup:
        """The lookup as one that connect's own loop drives (happy's ``start``)."""
        assert name == "he.test"
        self.asked.append(family)
        return TableLookup(self, family)

    async def aresolve(self, name: str, family: int) -> Sequence[Address]:
        self.asked.append(family)
        await asyncio.sleep(self.delay.get(family, 0))
        if family in self.gated:
            await asyncio.to_thread(self.gate.wait, 10)
        answer = self.answers[family]
        if isinstance(answer, Exception):
            raise answer
        return answer


class TableLookup:
    """A :class:`happy.Pending` answering from a :class:`Table`: due ``delay`` after it
    began (its ``wake_at``: no descriptor), or, for a gated family, once the gate is
    set (a socket pair made readable by a thread waiting for the gate). With the
    table's ``sending``, its first advance answers nothing (a real lookup sends its
    query then)."""

    def __init__(self, table: Table, family: int) -> None:
        self.sent = not table.sending
        self.answer = table.answers[family]
        self.due = time.monotonic() + table.delay.get(family, 0)
        self.gate = table.gate if family in table.gated else None
        self._read, self._write = socket.socketpair()
        if self.gate is not None:
            threading.Thread(target=self._signal, args=(self.gate,), daemon=True).start()

    def _signal(self, gate: threading.Event) -> None:
        gate.wait(10)
        with contextlib.suppress(OSError):  # closed already (EBADF: the number is never reused)
            self._write.send(b"!")

    def fileno(self) -> int:
        return -1 if self.gate is None else self._read.fileno()

    def wake_at(self) -> float | None:
        return self.due if self.gate is None else None

    def advance(self, now: float) -> Sequence[Address] | None:
        if not self.sent:
            self.sent = True
            return None
        if (self.gate is not None and not self.gate.is_set()) or now < self.due:
            return None
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def close(self) -> None:
        self._read.close()
        self._write.close()


DRIVERS = ["blocking", "asyncio", "asyncio+async-resolve", "blocking+start", "asyncio+start"]


def _call(driver: str, table: Table, kw: dict[str, Any]) -> happy.Resolve | happy.AsyncResolve | None:
    """What ``driver`` passes as resolve (None with ``start``, which it adds to ``kw``)."""
    if driver.endswith("+start"):
        kw["start"] = table.start
        return None
    return table.aresolve if driver.endswith("async-resolve") else table


def run(driver: str, table: Table, port: int, **kw: Any) -> tuple[Address, list[Attempt], socket.socket]:
    """connect / aconnect ``he.test`` through ``table``; the peer address, every
    on_attempt report, and the socket (closed by the caller)."""
    seen: list[Attempt] = []
    kw.setdefault("sort", v6_first)
    kw.setdefault("timeout", 10)
    resolve = _call(driver, table, kw)
    try:
        if driver.startswith("blocking"):
            sock, address = happy.connect("he.test", port, resolve, on_attempt=seen.append, **kw)  # type: ignore[arg-type]
        else:

            async def main() -> tuple[socket.socket, Address]:
                try:
                    return await happy.aconnect("he.test", port, resolve, on_attempt=seen.append, **kw)
                finally:
                    table.gate.set()  # before asyncio.run waits for its executor's threads

            sock, address = asyncio.run(main())
    finally:
        table.gate.set()
    assert ip_address(sock.getpeername()[0]) == address
    return address, seen, sock


def fail(driver: str, table: Table, port: int, **kw: Any) -> tuple[ConnectError, list[Attempt]]:
    seen: list[Attempt] = []
    with pytest.raises(ConnectError) as info:
        _run_failing(driver, table, port, seen, kw)
    return info.value, seen


def _run_failing(driver: str, table: Table, port: int, seen: list[Attempt], kw: dict[str, Any]) -> None:
    kw.setdefault("sort", v6_first)
    kw.setdefault("timeout", 10)
    resolve = _call(driver, table, kw)
    try:
        if driver.startswith("blocking"):
            happy.connect("he.test", port, resolve, on_attempt=seen.append, **kw)  # type: ignore[arg-type]
        else:

            async def main() -> None:
                try:
                    await happy.aconnect("he.test", port, resolve, on_attempt=seen.append, **kw)
                finally:
                    table.gate.set()

            asyncio.run(main())
    finally:
        table.gate.set()


def ended(seen: Sequence[Attempt]) -> list[tuple[str, str]]:
    """(address, outcome) of the attempts that ended, in the order they ended."""
    return [(str(a.address), a.outcome) for a in seen if a.outcome != "started"]


def started(seen: Sequence[Attempt]) -> list[str]:
    return [str(a.address) for a in seen if a.outcome == "started"]


# --- loopback: resolution ------------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_first_waits_the_resolution_delay_for_aaaa(driver: str, ports: Callable[..., Ports]) -> None:
    p = ports(listening=["127.0.0.1", "::1"])
    table = Table(["::1"], ["127.0.0.1"], delay={socket.AF_INET6: 0.2})
    address, seen, sock = run(driver, table, p.port, resolution_delay=5)
    with sock:
        assert address == V6
        assert started(seen) == ["::1"]
        assert sorted(table.asked) == sorted([socket.AF_INET6, socket.AF_INET])


@pytest.mark.parametrize("driver", DRIVERS)
def test_after_the_resolution_delay_ipv4_goes_without_aaaa(driver: str, ports: Callable[..., Ports]) -> None:
    p = ports(listening=["127.0.0.1", "::1"])
    table = Table(["::1"], ["127.0.0.1"], gated=[socket.AF_INET6])  # AAAA answers only after the call
    address, seen, sock = run(driver, table, p.port, resolution_delay=0.05)
    with sock:
        assert address == V4
        assert ended(seen) == [("127.0.0.1", "connected")]


@pytest.mark.parametrize("driver", DRIVERS)
def test_aaaa_first_connects_without_waiting_for_a(driver: str, ports: Callable[..., Ports]) -> None:
    p = ports(listening=["127.0.0.1", "::1"])
    table = Table(["::1"], ["127.0.0.1"], gated=[socket.AF_INET])
    address, seen, sock = run(driver, table, p.port, sort=v4_first, resolution_delay=5)
    with sock:
        assert address == V6
        assert ended(seen) == [("::1", "connected")]


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_late_aaaa_answer_joins_the_candidates(driver: str, ports: Callable[..., Ports]) -> None:
    p = ports(listening=["::1"], refused=["127.0.0.1"])
    table = Table(["::1"], ["127.0.0.1"], delay={socket.AF_INET6: 0.3})
    address, seen, sock = run(driver, table, p.port, resolution_delay=0.01)
    with sock:
        assert address == V6
        assert ended(seen) == [("127.0.0.1", "refused"), ("::1", "connected")]


@pytest.mark.parametrize("driver", DRIVERS)
def test_one_lookup_failing_is_not_fatal(driver: str, ports: Callable[..., Ports]) -> None:
    p = ports(listening=["127.0.0.1"])
    table = Table(socket.gaierror(socket.EAI_NONAME, "Name or service not known"), ["127.0.0.1"])
    address, _, sock = run(driver, table, p.port)
    with sock:
        assert address == V4


@pytest.mark.parametrize("driver", DRIVERS)
def test_no_address_is_a_resolve_error_naming_both_lookups(driver: str) -> None:
    table = Table(socket.gaierror(socket.EAI_NONAME, "Name or service not known"), [])
    error, seen = fail(driver, table, 443)
    assert error.kind == "resolve"
    assert str(error) == (
        "cannot resolve he.test: AAAA lookup failed: [Errno -2] Name or service not known;"
        " the other lookup found no address"
    )
    assert error.errno == socket.EAI_NONAME
    assert [f for f, _ in error.resolve_errors] == [socket.AF_INET6]
    assert error.attempts == () and seen == []
    error, _ = fail(driver, Table([], []), 443)
    assert str(error) == "cannot resolve he.test: no IPv6 or IPv4 address"


@pytest.mark.parametrize("driver", DRIVERS)
def test_family_limits_the_lookups(driver: str, ports: Callable[..., Ports]) -> None:
    p = ports(listening=["127.0.0.1", "::1"])
    table = Table(["::1"], ["127.0.0.1"])
    address, _, sock = run(driver, table, p.port, family=socket.AF_INET)
    with sock:
        assert address == V4
        assert table.asked == [socket.AF_INET]
    error, _ = fail(driver, Table(["::1"], []), p.port, family=socket.AF_INET)
    assert str(error) == "cannot resolve he.test: no IPv4 address"


@pytest.mark.parametrize("driver", DRIVERS)
def test_timeout_while_resolving(driver: str) -> None:
    table = Table(["::1"], ["127.0.0.1"], gated=[socket.AF_INET6, socket.AF_INET])
    error, _ = fail(driver, table, 443, timeout=0.2)
    assert error.kind == "timeout" and error.errno == errno.ETIMEDOUT
    assert str(error) == "resolving he.test timed out after 0.2 s"


# --- loopback: attempts --------------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
def test_candidates_are_sorted_interleaved_and_a_refusal_starts_the_next_at_once(
    driver: str, ports: Callable[..., Ports]
) -> None:
    p = ports(listening=["127.0.0.4"], refused=["::1", "127.0.0.2", "127.0.0.3"])
    table = Table(["::1"], ["127.0.0.2", "127.0.0.3", "127.0.0.4"])
    # An attempt delay above the overall timeout: waiting it out would fail the test.
    address, seen, sock = run(driver, table, p.port, attempt_delay=30, timeout=10)
    with sock:
        assert address == IPv4Address("127.0.0.4")
        assert ended(seen) == [
            ("::1", "refused"),
            ("127.0.0.2", "refused"),
            ("127.0.0.3", "refused"),
            ("127.0.0.4", "connected"),
        ]
        assert [a.fd >= 0 and a.errno for a in seen if a.outcome == "refused"] == [errno.ECONNREFUSED] * 3
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert sock.getblocking() is driver.startswith("blocking")


@pytest.mark.parametrize("driver", DRIVERS)
def test_every_attempt_refused_names_each_address(driver: str, ports: Callable[..., Ports]) -> None:
    p = ports(refused=["::1", "127.0.0.1"])
    error, seen = fail(driver, Table(["::1"], ["127.0.0.1"]), p.port)
    assert error.kind == "connect" and error.errno == errno.ECONNREFUSED
    assert str(error) == f"cannot connect to he.test port {p.port}: ::1: refused; 127.0.0.1: refused"
    assert [(str(a.address), a.outcome) for a in error.attempts] == [("::1", "refused"), ("127.0.0.1", "refused")]
    assert started(seen) == ["::1", "127.0.0.1"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_esp_compatible_tries_the_first_address_only(driver: str, ports: Callable[..., Ports]) -> None:
    p = ports(listening=["127.0.0.1"], refused=["::1"])
    error, seen = fail(driver, Table(["::1"], ["127.0.0.1"]), p.port, esp_compatible=True)
    assert str(error) == f"cannot connect to he.test port {p.port}: ::1: refused"
    assert ended(seen) == [("::1", "refused")]
    address, _, sock = run(driver, Table(["::1"], ["127.0.0.1"]), p.port, esp_compatible=True, sort=v4_first)
    sock.close()
    assert address == V4


def connect_to(
    driver: str, name: str, port: int, resolve: happy.Resolve | None, **kw: Any
) -> tuple[socket.socket, Address]:
    if driver.endswith("+start"):
        assert isinstance(resolve, Table)
        return connect_to(driver.removesuffix("+start"), name, port, None, start=resolve.start, **kw)
    if driver.startswith("blocking"):
        return happy.connect(name, port, resolve, **kw)
    return asyncio.run(happy.aconnect(name, port, resolve, **kw))


@pytest.mark.parametrize("driver", DRIVERS)
def test_ip_literals_are_not_looked_up(driver: str, ports: Callable[..., Ports]) -> None:
    p = ports(listening=["::1"], refused=["127.0.0.1"])
    table = Table(ValueError("looked up"), ValueError("looked up"))
    sock, address = connect_to(driver, "::1", p.port, table, timeout=5)
    sock.close()
    assert address == V6
    with pytest.raises(ConnectError, match=rf"^cannot connect to 127\.0\.0\.1 port {p.port}: 127\.0\.0\.1: refused$"):
        connect_to(driver, "127.0.0.1", p.port, table, timeout=5)
    with pytest.raises(ConnectError, match=r"^cannot resolve 127\.0\.0\.1: no IPv6 address$"):
        connect_to(driver, "127.0.0.1", p.port, table, timeout=5, family=socket.AF_INET6)
    assert table.asked == []


@pytest.mark.parametrize("driver", DRIVERS)
def test_an_unknown_ipv6_zone_is_a_failed_attempt(driver: str) -> None:
    """An address whose zone names no interface cannot be connected to: a ConnectError naming it,
    as any attempt that fails as it starts, not the OSError of the zone's lookup."""
    table = Table(ValueError("looked up"), ValueError("looked up"))
    with pytest.raises(ConnectError, match=r"^cannot connect to fe80::1%nosuchif0 port 9: fe80::1%nosuchif0: "):
        connect_to(driver, "fe80::1%nosuchif0", 9, table, timeout=5)


def test_a_sort_that_loses_addresses_is_refused(ports: Callable[..., Ports]) -> None:
    """(A single candidate is not sorted: there is nothing to order.)"""
    p = ports(listening=["127.0.0.1"])
    both = Table(["::1"], ["127.0.0.1"])
    with pytest.raises(ValueError, match=r"^sort returned \['[^']+'\] for \['[^']+', '[^']+'\]$"):
        happy.connect("he.test", p.port, both, sort=lambda a: list(a)[1:], timeout=5, known=both)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"port": 70000}, "port must be 0..65535, not 70000"),
        ({"timeout": 0}, "timeout must be positive"),
        ({"first_family_count": 0}, "first_family_count must be at least 1"),
        ({"family": socket.AF_UNIX}, "family must be AF_UNSPEC, AF_INET6 or AF_INET"),
    ],
)
def test_bad_arguments(kw: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"port": 443, **kw}
    port = args.pop("port")
    with pytest.raises(ValueError, match=message):
        happy.connect("he.test", port, Table(), **args)


# --- network namespace: scenario B2 ----------------------------------------------------

NS_CODE = r"""
import asyncio, json, socket, sys
from ipaddress import ip_address
from https_request.dns import happy

name, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def resolve(n, family):
    return [ip_address(i[4][0]) for i in socket.getaddrinfo(n, None, family, socket.SOCK_STREAM)]

glibc = [ip_address(i[4][0]) for i in socket.getaddrinfo(name, None, 0, socket.SOCK_STREAM)]
def sort(addresses):
    return sorted(addresses, key=glibc.index)

timeout, attempt_delay = float(sys.argv[4]), float(sys.argv[5])
kw = dict(sort=sort, timeout=timeout, attempt_delay=attempt_delay, esp_compatible=mode.startswith("esp"))
seen = []
try:
    if mode.endswith("async"):
        sock, address = asyncio.run(happy.aconnect(name, port, resolve, on_attempt=seen.append, **kw))
    else:
        sock, address = happy.connect(name, port, resolve, on_attempt=seen.append, **kw)
    result = {"peer": sock.getpeername()[0], "address": str(address)}
    sock.close()
except happy.ConnectError as exc:
    result = {"error": str(exc), "kind": exc.kind}
result["glibc"] = [str(a) for a in glibc]
result["attempts"] = [[str(a.address), a.outcome] for a in seen]
result["started"] = [a.started for a in seen if a.outcome == "started"]
print(json.dumps(result))
"""

B2_HOSTS = """\
10.77.0.1 he.test
64:ff9b::a4d:1 he.test
10.77.0.3 he3.test
10.77.0.1 he3.test
64:ff9b::a4d:1 he3.test
"""


@contextlib.contextmanager
def scenario_b2() -> Iterator[tuple[netns.NetNs, int]]:
    """The namespace, and the port the test listens on at 10.77.0.1 (refused at 10.77.0.3)."""
    with netns.NetNs(hosts=B2_HOSTS) as ns:
        ns.add_host_addr("10.77.0.1/24")
        ns.add_ns_addr("10.77.0.2/24")
        ns.add_ns_addr("2001:db8:77::2/64")
        ns.black_hole_ipv6("2001:db8:77::99")
        ns.add_host_addr("10.77.0.3/24")
        with socket.socket() as listener, socket.socket() as refuser:
            listener.bind(("10.77.0.1", 0))
            listener.listen(8)
            refuser.bind(("10.77.0.3", listener.getsockname()[1]))  # bound, not listening: refused
            yield ns, listener.getsockname()[1]


@pytest.fixture(scope="module")
def b2() -> Iterator[tuple[netns.NetNs, int]]:
    netns.require()
    with scenario_b2() as setup:
        yield setup


@pytest.mark.needs_tools("ip")
@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_b2_black_holed_ipv6_falls_back_to_ipv4(b2: tuple[netns.NetNs, int], mode: str) -> None:
    ns, port = b2
    out = ns.python(NS_CODE, "he.test", str(port), mode, "10", "0.25")
    assert out["glibc"] == ["64:ff9b::a4d:1", "10.77.0.1"], "RFC 6724 (glibc) puts the DNS64 address first in B2"
    assert out.get("error") is None, out
    assert out["peer"] == out["address"] == "10.77.0.1"
    assert out["attempts"] == [
        ["64:ff9b::a4d:1", "started"],
        ["10.77.0.1", "started"],
        ["10.77.0.1", "connected"],
        ["64:ff9b::a4d:1", "cancelled"],
    ]
    first, second = out["started"]
    assert second - first >= 0.25, "the next attempt never starts before the Connection Attempt Delay"


@pytest.mark.needs_tools("ip")
@pytest.mark.parametrize("mode", ["esp-blocking", "esp-async"])
def test_b2_esp_compatible_times_out_on_the_black_hole(b2: tuple[netns.NetNs, int], mode: str) -> None:
    ns, port = b2
    out = ns.python(NS_CODE, "he.test", str(port), mode, "0.5", "0.25")
    assert out["kind"] == "timeout"
    assert out["error"] == (
        f"connecting to he.test port {port} timed out after 0.5 s: 64:ff9b::a4d:1: no answer (timeout)"
    )
    assert out["attempts"] == [["64:ff9b::a4d:1", "started"], ["64:ff9b::a4d:1", "timeout"]]


@pytest.mark.needs_tools("ip")
@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_b2_a_refusal_starts_the_next_attempt_at_once(b2: tuple[netns.NetNs, int], mode: str) -> None:
    """IPv6 black-holed at 0 s, 10.77.0.3 refused at 1 s, 10.77.0.1 started at once and connected.
    Waiting for the next 1 s attempt delay would start it at 2 s, after the 1.9 s timeout."""
    ns, port = b2
    out = ns.python(NS_CODE, "he3.test", str(port), mode, "1.9", "1")
    assert out["glibc"] == ["64:ff9b::a4d:1", "10.77.0.3", "10.77.0.1"], "RFC 6724 rules 6 and 9 (glibc)"
    assert out.get("error") is None, out
    assert out["peer"] == "10.77.0.1"
    assert out["attempts"] == [
        ["64:ff9b::a4d:1", "started"],
        ["10.77.0.3", "started"],
        ["10.77.0.3", "refused"],
        ["10.77.0.1", "started"],
        ["10.77.0.1", "connected"],
        ["64:ff9b::a4d:1", "cancelled"],
    ]


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("when", ["started", "connected", "refused"])
def test_a_failing_on_attempt_leaves_no_socket_open(driver: str, when: str, ports: Callable[..., Ports]) -> None:
    p = ports(listening=["127.0.0.1"], refused=["::1"])
    table = Table(["::1"], ["127.0.0.1"])

    def on_attempt(attempt: Attempt) -> None:
        if attempt.outcome == when:
            raise RuntimeError(f"on_attempt: {attempt.describe()}")

    connect_to(driver, "he.test", p.port, table, sort=v6_first, timeout=5)[0].close()  # warm up (threads, loop)
    before = sorted(os.listdir("/proc/self/fd"))
    with pytest.raises(RuntimeError, match=r"^on_attempt: "):
        connect_to(driver, "he.test", p.port, table, sort=v6_first, timeout=5, on_attempt=on_attempt)
    assert sorted(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize("driver", DRIVERS)
def test_both_lookups_failing_alike_are_said_once(driver: str) -> None:
    nx = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    error, _ = fail(driver, Table(nx, nx), 443)
    assert error.kind == "resolve"
    assert str(error) == "cannot resolve he.test: [Errno -2] Name or service not known"
    assert len(error.resolve_errors) == 2


@pytest.mark.parametrize("driver", [d for d in DRIVERS if not d.endswith("+start")])
def test_known_answers_are_not_looked_up(driver: str, ports: Callable[..., Ports]) -> None:
    """``known`` (a hosts file, a cache) answers a family at once: no lookup for it, and its
    failure (a cached NXDOMAIN) counts as that family's answer."""
    p = ports(listening=["127.0.0.1"])
    table = Table(["::1"], ["127.0.0.1"])
    known_v4 = {socket.AF_INET: [V4]}
    address, _, sock = run(driver, table, p.port, known=lambda name, fam: known_v4.get(fam))
    with sock:
        assert address == V4
    assert table.asked == [socket.AF_INET6]  # A came from `known`
    table = Table(["::1"], ["127.0.0.1"])

    def nx(name: str, family: int) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    error, _ = fail(driver, table, p.port, known=nx)
    assert error.kind == "resolve" and table.asked == []


def test_default_sort_without_the_interfaces_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the interfaces' addresses cannot be read (no netlink: not Linux), the default sort still
    orders by the rules that need none, and the connection is made (it used to escape as OSError)."""
    from https_request import netif

    def unreadable() -> tuple[netif.LocalAddress, ...]:
        raise OSError("this platform has no netlink socket to list the interfaces' addresses")

    monkeypatch.setattr(netif, "local_addresses", unreadable)
    with socket.socket(socket.AF_INET) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        sock, address = happy.connect("he.test", port, Table(["::1"], ["127.0.0.1"]), timeout=10)
        sock.close()
    assert address == V4


@pytest.mark.parametrize("driver", ["blocking+start", "asyncio+start"])
def test_start_answers_known_at_once_need_no_lookup(driver: str, ports: Callable[..., Ports]) -> None:
    """``start`` may answer a family at once (a hosts file, a cache: addresses, or a failure
    such as a cached NXDOMAIN): that family has no lookup to drive."""
    p = ports(listening=["127.0.0.1"])
    table = Table(["::1"], ["127.0.0.1"], gated=[socket.AF_INET6])  # AAAA never answers unless let

    def start(name: str, family: int) -> Sequence[Address] | TableLookup:
        return [V4] if family == socket.AF_INET else table.start(name, family)

    kw: dict[str, Any] = {"sort": v4_first, "timeout": 10, "resolution_delay": 0.01}
    if driver.startswith("blocking"):
        sock, address = happy.connect("he.test", p.port, None, start=start, **kw)
    else:
        sock, address = asyncio.run(happy.aconnect("he.test", p.port, None, start=start, **kw))
    table.gate.set()
    with sock:
        assert address == V4
    assert table.asked == [socket.AF_INET6]

    def nx(name: str, family: int) -> Sequence[Address]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    error, _ = fail(driver.removesuffix("+start"), Table(), p.port, start=nx)
    assert (error.kind, str(error)) == ("resolve", "cannot resolve he.test: [Errno -2] Name or service not known")


@pytest.mark.parametrize("driver", ["blocking", "asyncio"])
def test_start_lookups_need_no_thread(driver: str, ports: Callable[..., Ports]) -> None:
    """Lookups begun with ``start`` are driven by the call's own loop: no thread is started
    for them (the ``resolve`` path has one per lookup, or the executor's), whether the
    answers come by the lookups' time (wake_at) or on their descriptors."""
    p = ports(listening=["127.0.0.1"], refused=["::1"])
    for table in (Table(["::1"], ["127.0.0.1"], delay={socket.AF_INET: 0.05}), Table(["::1"], ["127.0.0.1"])):
        before = set(threading.enumerate())  # (other tests' threads may end meanwhile: only new ones count)
        during: list[tuple[str, str, int]] = []

        def note(a: Attempt, during: list[tuple[str, str, int]] = during, before: set[Any] = before) -> None:
            during.append((str(a.address), a.outcome, len(set(threading.enumerate()) - before)))

        kw: dict[str, Any] = {"sort": v6_first, "timeout": 10, "start": table.start, "on_attempt": note}
        if driver == "blocking":
            sock, address = happy.connect("he.test", p.port, None, **kw)
        else:
            sock, address = asyncio.run(happy.aconnect("he.test", p.port, None, **kw))
        sock.close()
        assert address == V4
        assert during == [
            ("::1", "started", 0),
            ("::1", "refused", 0),
            ("127.0.0.1", "started", 0),
            ("127.0.0.1", "connected", 0),
        ]
    with pytest.raises(ValueError, match="needs resolve or start"):
        connect_to(driver, "he.test", p.port, None)


class NoReadersLoop(asyncio.SelectorEventLoop):
    """An event loop that cannot watch descriptors, as Windows' proactor (its sock_connect
    still works)."""

    def add_reader(self, fd: Any, callback: Any, *args: Any) -> None:
        raise NotImplementedError

    def add_writer(self, fd: Any, callback: Any, *args: Any) -> None:
        raise NotImplementedError


def test_aconnect_on_a_loop_without_readers_uses_resolve(ports: Callable[..., Ports]) -> None:
    """No add_reader: the lookups through resolve; no add_writer: the attempts through
    loop.sock_connect (a refusal first, then the connection)."""
    p = ports(listening=["127.0.0.1"], refused=["::1"])
    table = Table(["::1"], ["127.0.0.1"], gated=[socket.AF_INET6])  # the started lookup: closed, never let

    seen: list[Attempt] = []

    async def main(resolve: happy.Resolve | None) -> tuple[socket.socket, Address]:
        return await happy.aconnect(
            "he.test", p.port, resolve, start=table.start, sort=v6_first, timeout=10, on_attempt=seen.append
        )

    with asyncio.Runner(loop_factory=NoReadersLoop) as runner:
        sock, address = runner.run(main(Table(["::1"], ["127.0.0.1"])))
        with sock:
            assert address == V4
        assert ended(seen) == [("::1", "refused"), ("127.0.0.1", "connected")]
        with pytest.raises(ValueError, match=r"cannot watch descriptors \(add_reader\): give resolve"):
            runner.run(main(None))
    table.gate.set()


@pytest.mark.parametrize("driver", ["blocking+start", "asyncio+start"])
def test_an_aaaa_answer_starts_the_attempts_before_an_a_answer_beside_it_is_read(
    driver: str, ports: Callable[..., Ports]
) -> None:
    """RFC 8305 section 3: a positive AAAA answer starts the first attempt at once. Lookups
    begun with ``start`` are read one answer at a time, AAAA first: when both answers are
    in at the same look, the IPv6 attempt starts before the A answer is read (and sorted),
    even where the sort would put IPv4 first; the A address joins the candidates after."""
    p = ports(listening=["127.0.0.1"], refused=["::1"])
    table = Table(["::1"], ["127.0.0.1"], sending=True)  # both answers due at the loop's first look
    address, seen, sock = run(driver, table, p.port, sort=v4_first)
    sock.close()
    assert address == V4
    assert started(seen) == ["::1", "127.0.0.1"]
    assert ended(seen) == [("::1", "refused"), ("127.0.0.1", "connected")]
    table = Table(["::1"], ["127.0.0.1"])  # answered at once (a hosts file, a cache): sorted together
    address, seen, sock = run(driver, table, p.port, sort=v4_first)
    sock.close()
    assert started(seen) == ["127.0.0.1"] and address == V4
