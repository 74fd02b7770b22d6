"""Network namespaces made by the tests: a host with the addresses a scenario
needs, linked to the test's own namespace by a veth pair.

:class:`NetNs` creates ``ip netns add NAME``, a veth pair (one end moved into
the namespace), ``lo`` up, and optionally an ``/etc/netns/NAME/hosts`` (and
``resolv.conf``) that ``ip netns exec`` bind-mounts over the real ones, so
glibc's ``getaddrinfo`` inside the namespace sees only the test's names. It
undoes everything on exit: the namespace (which takes the veth pair with it),
the ``/etc/netns/NAME`` folder (and ``/etc/netns`` itself when it made it).

Needs root and iproute2 (``ip``); :func:`require` skips without them, and
fails under ``CI=true`` (CI runs as root with iproute2). Names are unique per
process (``hrq-<pid>-<n>``), so parallel runs do not collide; nothing leaves
the machine (the host side gets addresses only on its own veth end, and
forwarding is not turned on).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from procs import in_ci, tool

__all__ = ["NetNs", "require"]

_counter = itertools.count()
_ETC_NETNS = Path("/etc/netns")


def require() -> None:
    """Skip (fail under CI=true) unless this process can make namespaces."""
    tool("ip")
    if os.geteuid() != 0:
        if in_ci():
            pytest.fail("CI=true and not root: the network-namespace tests need root", pytrace=False)
        pytest.skip("network namespaces need root")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


class NetNs:
    """One namespace, linked to the current one by a veth pair.

    ``host_if`` is the veth end in the test's namespace, ``ns_if`` the end
    inside. ``add_host_addr``/``add_ns_addr`` add addresses (IPv6 with
    ``nodad``, so they are usable at once); ``run`` runs a command inside.
    """

    def __init__(self, hosts: str | None = None, resolv_conf: str | None = None) -> None:
        n = next(_counter)
        self.name = f"hrq-{os.getpid()}-{n}"
        self.host_if = f"hrqh{os.getpid() % 100000}x{n}"[:15]
        self.ns_if = f"hrqc{os.getpid() % 100000}x{n}"[:15]
        self._hosts = hosts
        self._resolv_conf = resolv_conf
        self._made_etc_netns = False

    def __enter__(self) -> NetNs:
        require()
        _ip("netns", "add", self.name)
        try:
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _ip("link", "set", self.ns_if, "netns", self.name)
            _ip("link", "set", self.host_if, "up")
            _ip("-n", self.name, "link", "set", "lo", "up")
            _ip("-n", self.name, "link", "set", self.ns_if, "up")
            if self._hosts is not None or self._resolv_conf is not None:
                self._made_etc_netns = not _ETC_NETNS.exists()
                folder = _ETC_NETNS / self.name
                folder.mkdir(parents=True, exist_ok=True)
                if self._hosts is not None:
                    (folder / "hosts").write_text(self._hosts)
                if self._resolv_conf is not None:
                    (folder / "resolv.conf").write_text(self._resolv_conf)
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        _ip("netns", "del", self.name, check=False)
        _ip("link", "del", self.host_if, check=False)  # gone with the namespace, unless it never moved
        shutil.rmtree(_ETC_NETNS / self.name, ignore_errors=True)
        if self._made_etc_netns:
            try:
                _ETC_NETNS.rmdir()
            except OSError:
                pass

    def add_host_addr(self, cidr: str) -> None:
        """An address on the host-side veth end (``10.77.0.1/24``, ``2001:db8::1/64``)."""
        _ip("addr", "add", cidr, "dev", self.host_if, *(("nodad",) if ":" in cidr else ()))

    def add_ns_addr(self, cidr: str, *flags: str) -> None:
        """An address inside the namespace; ``flags`` are ip-address flags (e.g. ``deprecated`` is
        ``preferred_lft 0``: pass ``"preferred_lft", "0"``)."""
        _ip("-n", self.name, "addr", "add", cidr, "dev", self.ns_if, *(("nodad",) if ":" in cidr else ()), *flags)

    def black_hole_ipv6(self, gateway: str) -> None:
        """An IPv6 default route inside the namespace through ``gateway``, a neighbour
        entry with a MAC no one has: the host's veth drops those frames (not for its
        address), so IPv6 packets to non-local destinations vanish without an error
        (no ICMP, no refusal), whatever the host's forwarding settings. ``ip route
        add blackhole`` would not do: connect fails at once with EINVAL."""
        self.ip("neigh", "add", gateway, "lladdr", "02:00:00:00:77:99", "dev", self.ns_if, "nud", "permanent")
        self.ip("-6", "route", "add", "default", "via", gateway, "dev", self.ns_if)

    @property
    def run_prefix(self) -> list[str]:
        """The argv prefix that runs a program inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def wait_dad(self, interface: str, timeout: float = 10.0) -> None:
        """Wait (bounded) until no IPv6 address of ``interface`` is tentative (DAD done)."""
        deadline = time.monotonic() + timeout
        while self.ip("-6", "addr", "show", "dev", interface, "tentative").strip():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{interface}: IPv6 addresses still tentative after {timeout} s")
            time.sleep(0.05)

    def link(self, other: NetNs, mine: str, theirs: str) -> tuple[str, str]:
        """A veth pair straight between this namespace and ``other`` (nothing in
        the test's own namespace), both ends up, with the addresses ``mine`` and
        ``theirs`` (CIDR). Returns the two interface names (this side, other side);
        the pair goes with the namespaces."""
        here, there = f"{self.ns_if}l"[:15], f"{other.ns_if}l"[:15]
        _ip("link", "add", here, "netns", self.name, "type", "veth", "peer", "name", there, "netns", other.name)
        self.ip("link", "set", here, "up")
        other.ip("link", "set", there, "up")
        self.ip("addr", "add", mine, "dev", here, *(("nodad",) if ":" in mine else ()))
        other.ip("addr", "add", theirs, "dev", there, *(("nodad",) if ":" in theirs else ()))
        return here, there

    def sysctl(self, name: str, value: int | str) -> None:
        """Set ``name`` (``net.ipv4.tcp_fastopen``) inside the namespace: the
        namespace's own copy of a per-namespace setting, the host's untouched."""
        path = Path("/proc/sys", *name.split("."))
        self.run([sys.executable, "-c", f"open({str(path)!r}, 'w').write({str(value)!r})"])

    def tcp_ext(self) -> dict[str, int]:
        """The namespace's ``TcpExt`` counters from ``/proc/net/netstat`` (``TCPFastOpenActive``...)."""
        lines = self.run(["cat", "/proc/net/netstat"]).stdout.splitlines()
        rows = [line.split() for line in lines if line.startswith("TcpExt:")]
        assert len(rows) == 2, lines
        return dict(zip(rows[0][1:], map(int, rows[1][1:]), strict=True))

    def ip(self, *args: str) -> str:
        """``ip -n NAME ARGS``; returns its stdout. Raises CalledProcessError."""
        return _ip("-n", self.name, *args).stdout

    def run(
        self, args: Sequence[str], timeout: float = 30, check: bool = True, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run ``args`` inside the namespace (``ip netns exec``); text output captured."""
        command = ["ip", "netns", "exec", self.name, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=check, **kw)

    def python(self, code: str, *argv: str, timeout: float = 30) -> Any:
        """Run ``code`` with this interpreter inside the namespace; returns the JSON it prints last."""
        done = self.run([sys.executable, "-c", code, *argv], timeout=timeout)
        return json.loads(done.stdout.strip().splitlines()[-1])

    def popen(self, args: Sequence[str], **kw: Any) -> subprocess.Popen[str]:
        """Start ``args`` inside the namespace (the caller kills it)."""
        return subprocess.Popen(["ip", "netns", "exec", self.name, *args], text=True, **kw)
