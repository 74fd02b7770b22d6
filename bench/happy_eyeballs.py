"""Happy Eyeballs and name resolution on the real stack, side by side with
curl and glibc: connect time over a black-holed IPv6 path, resolution time
with a warm cache and a cold one, and a check that ``get --resolve`` does not
import dnspython.

Run as root (network namespaces): ``.venv/bin/python bench/happy_eyeballs.py
[--runs N] [--plain-runs N] [--cap S] [--resolve-runs N] [--json FILE]``. It
is a bench, not a timed test: read the figures as medians and ratios taken in
the same run.

Network (issue 10's scenario B2, names through a DNS64 server)
--------------------------------------------------------------
A namespace made with ``tests/netns.py``'s ``NetNs``: 10.77.0.2/24 and
2001:db8:77::2/64 on its veth end, 10.77.0.1/24 on the host's end, and an
IPv6 default route through a neighbour no one answers for
(``NetNs.black_hole_ipv6``: IPv6 packets vanish, no error comes back). Its
``/etc/resolv.conf`` is ``nameserver 127.0.0.1`` and its ``/etc/hosts`` has
only localhost, so every program in it (ours, curl, glibc) asks the same
server: unbound (``tests/dnsserver.py``) on the namespace's own 127.0.0.1:53
and ::1:53 with the dns64 module (prefix 64:ff9b::/96) and an auth-zone
``he.test`` holding one record, ``he.test A 10.77.0.1`` (TTL 300). The AAAA
answer is synthesised by DNS64: 64:ff9b::a4d:1, black-holed. This script
serves HTTP on 10.77.0.1 (a threaded ``http.server`` answering 200). RFC 6724
puts the IPv6 address first (a global IPv6 source gives it precedence 40
against IPv4's 35), so every Happy Eyeballs client tries the black hole
first and reaches IPv4 one Connection Attempt Delay later.

Connect time (all inside the namespace; each time runs from the call to the
connected socket, both lookups included)
-----------------------------------------------------------------------------
* ``https-request blocking`` / ``asyncio``: ``happy.connect`` /
  ``happy.aconnect`` (timed inside ``asyncio.run``) exactly as esp-tls calls
  them: ``NameLookup(lambda: resolver_for(()))``'s ``.start`` (the hosts
  file, the TTL cache, else our StubResolver's lookup on resolv.conf's server,
  its queries sent and its answers read by the connect's own loop: no thread,
  no task), the default sort (RFC 6724, ``select.sort_destinations``: a UDP
  connect per candidate for its source, the interface list), 250 ms
  Connection Attempt Delay, 50 ms Resolution Delay. A fresh process per driver and round, its modules imported before
  timing (curl's ``time_connect`` does not count its start-up either),
  connects three times: ``first`` is the process's first connect (cold:
  resolv.conf read, the resolver built, both queries sent to unbound, the
  interface list read), ``warm`` the two after it (A and AAAA from our TTL
  cache, through ``known``). Each run checks that it connected to 10.77.0.1 after an attempt to
  64:ff9b::a4d:1 was started first (else the bench aborts).
* ``https-request blocking 200 ms``: the same with ``attempt_delay=0.2``,
  curl's default, for the information row beside curl's default.
* ``curl --happy-eyeballs-timeout-ms 250``: curl's Happy Eyeballs with the
  RFC's delay, ``curl -s -o /dev/null --connect-timeout 10 -w
  '%{time_connect} %{remote_ip}' http://he.test:PORT/``, a fresh process
  per run; ``time_connect`` is from the transfer's start to the TCP
  connect, name lookup (glibc's ``getaddrinfo`` to the same unbound, no
  cache) included. Each run checks remote_ip is 10.77.0.1.
* ``curl (default 200 ms)``: the same without the option.
* ``getaddrinfo + sequential connect``: ``getaddrinfo(AF_UNSPEC)`` (glibc,
  the same unbound), then each address in turn with a per-address timeout
  of ``--cap`` seconds (3): the IPv6 attempt waits for the whole cap, so the
  time is shown as ">= cap" (the kernel alone would wait over two minutes).
  ``--plain-runs`` of them.

Runs are interleaved round by round (every method once per round). The table
gives each row's median, min and max, its ratio to curl's median at 250 ms
and the difference in ms.

Resolution time (one process inside the namespace, ``--resolve-runs``
rounds, each method once per round, for A and for AAAA)
-----------------------------------------------------------------------
* ``StubResolver cold``: a new ``StubResolver(system_servers())`` (built
  before timing: an empty cache), ``query("he.test", TYPE)``: one UDP query
  to unbound and its answer.
* ``StubResolver warm``: the same resolver asked again: the TTL cache.
* ``glibc getaddrinfo``: ``socket.getaddrinfo("he.test", None, AF_INET or
  AF_INET6, SOCK_STREAM)``: glibc's files-then-dns (no cache), one query.
A query before the rounds warms unbound's cache (the synthesised AAAA) and
the process's first-use costs, for all methods alike.

Import check
------------
``python -X importtime -m https_request get --cacert CA --resolve
localhost:PORT:127.0.0.1 https://localhost:PORT/`` (bench/cold_get.py's
invocation) against our ``serve`` on 127.0.0.1 (tests/serveproc.py): the
modules it imported must include no ``dns`` (dnspython) module. The control,
``python -X importtime -m https_request resolve he.test`` in the namespace,
must show dnspython imported (so the check can fail).

Targets: each https-request connect row at the RFC delay (first and warm)
connects in at most curl's time at the same delay (medians) and within
300 ms; ``get --resolve`` imports no dnspython module.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAME = "he.test"
V4, V6 = "10.77.0.1", "64:ff9b::a4d:1"
ZONE = f"""$TTL 300
$ORIGIN {NAME}.
@  IN SOA ns.{NAME}. hostmaster.{NAME}. ( 1 3600 600 86400 60 )
@  IN NS  ns.{NAME}.
ns IN A   127.0.0.1
@  IN A   {V4}
"""
HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"
TARGET_MS = 300.0

WORKER = r"""
import asyncio, json, socket, sys, time
from https_request.dns import happy, resolver, select  # imported before timing, as curl's start-up is not timed
from https_request.dns.lookup import NameLookup, resolver_for
from https_request import netif

port, method, cap = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
NAME = "he.test"

def lookup():
    return NameLookup(lambda: resolver_for(()))  # esp-tls's: hosts file, then resolv.conf's servers

def sample(t, sock, address, seen):
    elapsed = time.perf_counter() - t
    sock.close()
    return {"s": elapsed, "address": str(address), "first": str(seen[0].address)}

def blocking(names, delay):
    seen = []
    t = time.perf_counter()
    sock, address = happy.connect(
        NAME, port, None, timeout=10, attempt_delay=delay, on_attempt=seen.append, start=names.start
    )
    return sample(t, sock, address, seen)

async def in_loop():  # timed inside the running loop: the loop's creation is not the connect's
    names, out = lookup(), []
    for _ in range(3):
        seen = []
        t = time.perf_counter()
        sock, address = await happy.aconnect(
            NAME, port, names.aresolve, timeout=10, on_attempt=seen.append, known=names.known, start=names.start
        )
        out.append(sample(t, sock, address, seen))
    return out

def plain():
    t = time.perf_counter()
    path = []
    for family, kind, proto, _, addr in socket.getaddrinfo(NAME, port, 0, socket.SOCK_STREAM):
        s = socket.socket(family, kind, proto)
        s.settimeout(cap)
        try:
            s.connect(addr)
            path.append([addr[0], "connected"])
            break
        except OSError as exc:
            path.append([addr[0], type(exc).__name__])
        finally:
            s.close()
    return [{"s": time.perf_counter() - t, "path": path}]

def resolution(rounds):
    servers = resolver.system_servers()
    out = {}
    def timed(f):
        t = time.perf_counter()
        got = f()
        return time.perf_counter() - t, sorted(map(str, got))
    for rdtype, family in (("A", socket.AF_INET), ("AAAA", socket.AF_INET6)):
        resolver.StubResolver(servers).query(NAME, rdtype)  # warm-up: unbound's cache, first-use costs
        socket.getaddrinfo(NAME, None, family, socket.SOCK_STREAM)
        rows = {"cold": [], "warm": [], "glibc": []}
        seen = set()
        for _ in range(rounds):
            r = resolver.StubResolver(servers)
            for key, f in (
                ("cold", lambda: r.query(NAME, rdtype).addresses),
                ("warm", lambda: r.query(NAME, rdtype).addresses),
                ("glibc", lambda: {i[4][0] for i in socket.getaddrinfo(NAME, None, family, socket.SOCK_STREAM)}),
            ):
                s, got = timed(f)
                rows[key].append(s)
                seen.add((key, tuple(got)))
        out[rdtype] = {"samples": rows, "answers": sorted(map(list, seen))}
    return out

if method == "blocking":
    names = lookup()
    out = [blocking(names, 0.25) for _ in range(3)]
elif method == "blocking-200":
    out = [blocking(lookup(), 0.2)]
elif method == "asyncio":
    out = asyncio.run(in_loop())
elif method == "resolution":
    out = resolution(int(sys.argv[4]))
else:
    out = plain()
print(json.dumps(out))
"""


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _tests() -> None:
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))


@contextlib.contextmanager
def network(tmp: Path) -> Iterator[tuple[Any, int]]:
    """The namespace (a tests/netns.NetNs) with unbound on its 127.0.0.1:53, and the HTTP port on 10.77.0.1."""
    _tests()
    import dnsserver  # tests/dnsserver.py
    import netns  # tests/netns.py

    with netns.NetNs(hosts=HOSTS, resolv_conf="nameserver 127.0.0.1\n") as ns:
        ns.add_host_addr("10.77.0.1/24")
        ns.add_ns_addr("10.77.0.2/24")
        ns.add_ns_addr("2001:db8:77::2/64")
        ns.black_hole_ipv6("2001:db8:77::99")
        with dnsserver.unbound(tmp, netns=ns, port=53, zones={NAME: ZONE}):
            server = http.server.ThreadingHTTPServer((V4, 0), _Quiet)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                yield ns, server.server_address[1]
            finally:
                server.shutdown()
                server.server_close()


def curl(ns: Any, port: int, delay_ms: int | None) -> float:
    args = ["curl", "-s", "-o", "/dev/null", "--connect-timeout", "10", "-w", "%{time_connect} %{remote_ip}"]
    if delay_ms is not None:
        args += ["--happy-eyeballs-timeout-ms", str(delay_ms)]
    done = ns.run([*args, f"http://{NAME}:{port}/"], check=False)
    t, _, ip = done.stdout.partition(" ")
    if done.returncode != 0 or ip != V4:
        raise SystemExit(f"curl failed or did not connect to {V4}: exit {done.returncode}, {done.stdout!r}")
    return float(t)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def worker(ns: Any, port: int, method: str, cap: float, *extra: str) -> Any:
    """One fresh process running ``method`` in the namespace: what it printed (JSON)."""
    done = ns.run([sys.executable, "-c", WORKER, str(port), method, str(cap), *extra], timeout=300, env=_env())
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if method in ("blocking", "blocking-200", "asyncio"):
        for sample in out:
            if sample["address"] != V4 or sample["first"] != V6:
                raise SystemExit(f"{method}: expected an attempt to {V6} first and {V4} connected, got {sample}")
    return out


_IMPORT = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S.*)$")


def imported(stderr: str) -> set[str]:
    """The modules ``python -X importtime`` reported."""
    return {m.group(1).strip() for line in stderr.splitlines() if (m := _IMPORT.match(line))}


def _dnspython(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m == "dns" or m.startswith("dns."))


def import_check(ns: Any, tmp: Path) -> dict[str, Any]:
    """``get --resolve`` (cold_get's invocation) against our serve: the dnspython modules it imported;
    the control (``resolve`` in the namespace) must import some."""
    _tests()
    import serveproc  # tests/serveproc.py

    state = tmp / "state"
    state.mkdir()
    srv = serveproc.Serve([], state)
    try:
        url = f"https://localhost:{srv.port}/"
        argv = [sys.executable, "-X", "importtime", "-m", "https_request", "get", "--cacert", srv.ca]
        argv += ["--resolve", f"localhost:{srv.port}:127.0.0.1", url]
        get = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=_env(), check=False)
    finally:
        srv.stop()
    if get.returncode != 0:
        raise SystemExit(f"get --resolve failed (exit {get.returncode}):\n{get.stderr[-2000:]}")
    control = ns.run(
        [sys.executable, "-X", "importtime", "-m", "https_request", "resolve", NAME], env=_env(), check=False
    )
    if control.returncode != 0 or V6 not in control.stdout:
        raise SystemExit(f"the control (resolve {NAME}) failed (exit {control.returncode}):\n{control.stderr[-2000:]}")
    get_mods, control_mods = imported(get.stderr), imported(control.stderr)
    return {
        "get_modules": len(get_mods),
        "get_dnspython": _dnspython(get_mods),
        "control_dnspython": len(_dnspython(control_mods)),
    }


def _ms(v: list[float]) -> tuple[float, float, float]:
    return statistics.median(v) * 1e3, min(v) * 1e3, max(v) * 1e3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=9, help="connect rounds (default 9)")
    ap.add_argument("--plain-runs", type=int, default=3, help="rounds with the plain sequential connect (default 3)")
    ap.add_argument("--cap", type=float, default=3.0, help="the plain connect's per-address timeout, s (default 3)")
    ap.add_argument("--resolve-runs", type=int, default=200, help="resolution rounds (default 200)")
    ap.add_argument("--json", metavar="FILE", help="write all samples and results as JSON")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("the bench makes a network namespace: run it as root")
    plain = f"getaddrinfo + sequential connect (cap {args.cap:g} s)"
    rows: dict[str, list[float]] = {
        "https-request blocking, first": [],
        "https-request blocking, warm": [],
        "https-request asyncio, first": [],
        "https-request asyncio, warm": [],
        "curl --happy-eyeballs-timeout-ms 250": [],
        "https-request blocking 200 ms, first": [],
        "curl (default 200 ms)": [],
        plain: [],
    }
    with tempfile.TemporaryDirectory(prefix="he-bench-") as tmp_name, network(Path(tmp_name)) as (ns, port):
        tmp = Path(tmp_name)
        for i in range(args.runs):
            for driver in ("blocking", "asyncio"):
                first, *warm = worker(ns, port, driver, args.cap)
                rows[f"https-request {driver}, first"].append(first["s"])
                rows[f"https-request {driver}, warm"].extend(w["s"] for w in warm)
            rows["https-request blocking 200 ms, first"].append(worker(ns, port, "blocking-200", args.cap)[0]["s"])
            if i < args.plain_runs:
                rows[plain].append(worker(ns, port, "plain", args.cap)[0]["s"])
            rows["curl --happy-eyeballs-timeout-ms 250"].append(curl(ns, port, 250))
            rows["curl (default 200 ms)"].append(curl(ns, port, None))
            print(f"\r  round {i + 1}/{args.runs}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        resolution = worker(ns, port, "resolution", args.cap, str(args.resolve_runs))
        imports = import_check(ns, tmp)
    med = {name: statistics.median(v) * 1e3 for name, v in rows.items() if v}
    curl250 = med["curl --happy-eyeballs-timeout-ms 250"]
    lines = [
        f"Connect time with a black-holed IPv6 path ({NAME}: AAAA {V6} synthesised by DNS64, dropped; "
        f"A {V4} listening), {args.runs} rounds ({args.plain_runs} for the sequential connect); ms",
        f"{'method':<46}{'median':>9}{'min':>9}{'max':>9}{'vs curl 250':>13}{'diff':>9}",
    ]
    for name, v in rows.items():
        if not v:
            continue
        m, lo, hi = _ms(v)
        shown = f">={args.cap * 1e3:.0f}" if name == plain and lo >= args.cap * 1e3 else f"{m:.1f}"
        lines.append(f"{name:<46}{shown:>9}{lo:>9.1f}{hi:>9.1f}{m / curl250:>12.2f}x{m - curl250:>+9.1f}")
    targets: dict[str, Any] = {}
    for name in [n for n in rows if n.startswith("https-request") and "200 ms" not in n]:
        ok_curl, ok_abs = med[name] <= curl250, med[name] <= TARGET_MS
        targets[name] = {"median_ms": med[name], "curl_250_ms": curl250, "pass_curl": ok_curl, "pass_300": ok_abs}
        lines.append(
            f"target: {name} <= curl at 250 ms ({med[name]:.1f} vs {curl250:.1f} ms): {'PASS' if ok_curl else 'FAIL'}; "
            f"<= {TARGET_MS:.0f} ms: {'PASS' if ok_abs else 'FAIL'}"
        )
    lines.append(
        "info: https-request blocking at 200 ms (first) vs curl's default: "
        f"{med['https-request blocking 200 ms, first']:.1f} vs {med['curl (default 200 ms)']:.1f} ms"
    )
    lines += [
        "",
        f"Resolution time of {NAME} against the same unbound, {args.resolve_runs} rounds; ms",
        f"{'method':<46}{'median':>9}{'min':>9}{'max':>9}{'vs glibc':>13}",
    ]
    resolution_ms: dict[str, dict[str, list[float]]] = {}
    labels = {"cold": "StubResolver cold (fresh resolver)", "warm": "StubResolver warm (TTL cache)"}
    labels["glibc"] = "glibc getaddrinfo (no cache)"
    for rdtype, found in resolution.items():
        samples = found["samples"]
        resolution_ms[rdtype] = {k: [x * 1e3 for x in v] for k, v in samples.items()}
        glibc = statistics.median(samples["glibc"]) * 1e3
        for key, label in labels.items():
            m, lo, hi = _ms(samples[key])
            lines.append(f"{f'{rdtype}: {label}':<46}{m:>9.3f}{lo:>9.3f}{hi:>9.3f}{m / glibc:>12.2f}x")
        answers = {tuple(a[1]) for a in found["answers"]}
        if len(answers) != 1:
            raise SystemExit(f"{rdtype}: the methods disagree: {found['answers']}")
    ok_imports = not imports["get_dnspython"] and imports["control_dnspython"] > 0
    lines += [
        "",
        f"target: get --resolve imports no dnspython module ({imports['get_modules']} modules imported, "
        f"dnspython among them: {imports['get_dnspython'] or 'none'}; the control, resolve {NAME}, "
        f"imported {imports['control_dnspython']}): {'PASS' if ok_imports else 'FAIL'}",
    ]
    print("\n".join(lines), flush=True)
    if args.json:
        samples_ms = {name: [x * 1e3 for x in v] for name, v in rows.items()}
        Path(args.json).write_text(
            json.dumps(
                {
                    "samples_ms": samples_ms,
                    "median_ms": med,
                    "targets": targets,
                    "resolution_samples_ms": resolution_ms,
                    "imports": imports,
                },
                indent=1,
            )
        )
    ok = all(t["pass_curl"] and t["pass_300"] for t in targets.values()) and ok_imports
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
