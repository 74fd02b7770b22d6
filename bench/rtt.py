"""Issue 16's table: fresh-process HTTPS GETs through a 0 ms and a 50 ms RTT link,
with the round trips each client needs.

Run as root: ``.venv/bin/python bench/rtt.py [--runs N] [--rtt-ms 50] [--json FILE]``.
It is a bench, not a timed test: read the figures as ratios taken in one run.

The link (``bench/delay_link.py``): two network namespaces joined by TUN
devices, this process forwarding every IP packet after ``RTT / 2`` in each
direction, MTU 1500. Unlike a TCP proxy it delays the SYN and the SYN-ACK, so
``connect()`` waits a real round trip and start-up work done while it waits
is hidden as it would be on a real link; and a SYN's data (TCP Fast Open)
crosses it end to end. The 0 ms figures use the same link without the wait.

Server: ``https-request serve --early-data`` (its defaults: TLS 1.3 and 1.2,
tickets, 0.5-RTT data, TCP Fast Open queue 256) in the server namespace,
``net.ipv4.tcp_fastopen=3`` there; clients run in the client namespace
(``net.ipv4.tcp_fastopen=1``, the kernel's default: client side only).
URL ``https://SERVER_ADDR:PORT/``; the server's certificate names that
address, its CA is given to each client.

Rows (the issue's four, then three for information):

* ``curl, full TLS 1.3``: ``curl -sS -o /dev/null --cacert CA URL``;
* ``openssl s_client -sess_in, resumed``: ``openssl s_client -connect ...
  -CAfile CA -sess_in F -ign_eof`` with the request on stdin (it exits when
  the server closes; F made once by ``-sess_out``; "Reused" checked);
* ``https-request get, full``: ``get --cacert CA URL``;
* ``get --session F --early-data``: the request as 0-RTT data on a ticket
  saved by the previous run (each run saves the next one);
* ``... --tcp-fastopen``: the same with TCP Fast Open (the kernel's cookie for
  the address comes with the first such run, a warm-up run). The default
  ClientHello (an X25519MLKEM768 and an x25519 key share, ~1.8 KB with the
  ticket) does not fit in a SYN on a 1500-byte link: the SYN carries its
  first ~1.4 KB, the rest goes once the SYN-ACK is back, so TFO saves no
  round trip here;
* ``... --tcp-fastopen --groups x25519``: one key share, the whole first
  flight (ClientHello and 0-RTT request) in the SYN: the 1 RTT exchange;
* ``curl --tcp-fastopen, full``: curl's ClientHello in its SYN.

Each run is one fresh process started through ``cold_get``'s launcher (wall:
fork to reap, the launcher itself started with ``ip netns exec``, outside the
timed span). Two warm-up rounds, then ``--runs`` rounds; a round runs every
row at both RTTs, interleaved (the RTT order alternates between rounds), so
machine noise hits all alike. Medians. Each run is checked against the
server's log line (one connection, resumed and 0-RTT accepted where
expected; a run that is not aborts the bench).

Round trips: from the link's packet log, per connection: the client's flights
the server answered (:func:`delay_link.round_trips`: a flight is a run of
client SYN/data packets after the server spoke; the client's last words
that nothing answers are not counted). The median over the runs is shown.

Targets (PASS/FAIL), at the 50 ms RTT: ``get --session F --early-data`` wall
< curl's; ``get`` full <= 1.2x curl's; both <= their 0 ms wall + their round
trips x RTT (start-up hidden behind the network where it can be).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cold_get
from delay_link import SERVER_ADDR, DelayLink, round_trips

WARMUP = 2
TARGET_FULL_VS_CURL = 1.2
REQUEST = b"GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: openssl\r\nConnection: close\r\n\r\n" % SERVER_ADDR.encode()
_LINE = re.compile(r"peer=[^ ]*:(\d+) .*resumed=(yes|no) early_data=(\S+)")


@dataclass(frozen=True)
class Ctx:
    """What the rows' command lines need."""

    ca: str
    url: str
    port: int
    tmp: Path


@dataclass(frozen=True)
class Row:
    label: str
    argv: Callable[[Ctx], list[str]]
    resumed: bool = False
    early: bool = False
    info: bool = False  # for information: no target
    syn_data: bool = False  # TCP Fast Open: the SYN must carry data (from the warm-up on: the cookie)
    stdin: bytes = b""
    check_stdout: str = ""  # a run's stdout must contain this


def _get(*extra: str, session: str = "") -> Callable[[Ctx], list[str]]:
    """``get`` with ``extra`` options; ``session``: a session file of its own, with --early-data."""

    def argv(c: Ctx) -> list[str]:
        resume = ("--session", str(c.tmp / session), "--early-data") if session else ()
        return [str(cold_get.HTTPS_REQUEST), "get", "--cacert", c.ca, *resume, *extra, c.url]

    return argv


def _curl(*extra: str) -> Callable[[Ctx], list[str]]:
    return lambda c: ["curl", "-sS", "-o", "/dev/null", "--cacert", c.ca, *extra, c.url]


def _s_client(c: Ctx) -> list[str]:
    where, session = f"{SERVER_ADDR}:{c.port}", str(c.tmp / "ossl.sess")
    return ["openssl", "s_client", "-connect", where, "-CAfile", c.ca, "-sess_in", session, "-ign_eof"]


CURL = "curl, full TLS 1.3"
S_CLIENT = "openssl s_client -sess_in, resumed"
GET_FULL = "https-request get, full"
GET_0RTT = "get --session F --early-data"
ROWS = (
    Row(CURL, _curl()),
    Row(S_CLIENT, _s_client, resumed=True, stdin=REQUEST, check_stdout="Reused, TLSv1.3"),
    Row(GET_FULL, _get()),
    Row(GET_0RTT, _get(session="0rtt.sess"), resumed=True, early=True),
    Row(
        f"{GET_0RTT} --tcp-fastopen",
        _get("--tcp-fastopen", session="tfo.sess"),
        resumed=True,
        early=True,
        info=True,
        syn_data=True,
    ),
    Row(
        f"{GET_0RTT} --tcp-fastopen --groups x25519",
        _get("--tcp-fastopen", "--groups", "x25519", session="tfo-x25519.sess"),
        resumed=True,
        early=True,
        info=True,
        syn_data=True,
    ),
    Row("curl --tcp-fastopen, full", _curl("--tcp-fastopen"), info=True, syn_data=True),
)


@dataclass
class Result:
    """One row's samples, by RTT in ms."""

    wall: dict[int, list[float]] = field(default_factory=dict)
    trips: dict[int, list[int]] = field(default_factory=dict)

    def add(self, rtt: int, wall: float, trips: int) -> None:
        self.wall.setdefault(rtt, []).append(wall)
        self.trips.setdefault(rtt, []).append(trips)

    def median_ms(self, rtt: int) -> float:
        return statistics.median(self.wall[rtt]) * 1e3

    def round_trips(self, rtt: int) -> int:
        return round(statistics.median(self.trips[rtt]))


class Server:
    """``https-request serve`` in the link's server namespace; its log lines read as they come."""

    def __init__(self, link: DelayLink, tmp: Path, env: dict[str, str]) -> None:
        self._log = open(tmp / "serve.log", "w+")  # read while the server runs
        argv = [str(cold_get.HTTPS_REQUEST), "serve", "--host", SERVER_ADDR, "--port", "0"]
        argv += ["--key-type", "ecdsa", "--early-data", "--name", SERVER_ADDR]
        env = dict(env, XDG_STATE_HOME=str(tmp / "state"), PYTHONUNBUFFERED="1")
        self.proc = link.server.popen(argv, stdout=subprocess.PIPE, stderr=self._log, env=env)
        assert self.proc.stdout is not None
        ca = self.proc.stdout.readline().strip()
        listening = self.proc.stdout.readline().strip()
        if not ca.startswith("ca-file: ") or not listening.startswith("listening: "):
            raise SystemExit(f"serve did not start: {ca!r} {listening!r}")
        self.ca = ca.removeprefix("ca-file: ")
        self.url = listening.removeprefix("listening: ")
        self.port = int(self.url.rstrip("/").rsplit(":", 1)[1])
        self._read = 0

    def lines(self, count: int, timeout: float = 5.0) -> list[re.Match[str]]:
        """The next ``count`` connection lines (serve logs one when a connection ends)."""
        deadline = time.monotonic() + timeout
        while True:
            self._log.seek(0)
            found = [m for line in self._log.read().splitlines() if (m := _LINE.search(line))]
            if len(found) >= self._read + count or time.monotonic() > deadline:
                new, self._read = found[self._read :], len(found)
                return new
            time.sleep(0.005)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def run_one(
    link: DelayLink, server: Server, row: Row, ctx: Ctx, env: dict[str, str], rtt: int, warm: bool = True
) -> tuple[float, int]:
    """One fresh process of ``row`` at ``rtt`` ms: (wall seconds, round trips), checked
    (``warm``: the TFO cookie is held, so a TFO row's SYN must carry data)."""
    link.delay = rtt / 2000
    mark = link.mark()
    sample = cold_get.run_child(
        row.argv(ctx), env, capture=bool(row.check_stdout), prefix=tuple(link.client.run_prefix), stdin=row.stdin
    )
    cold_get.checked(sample, row.label)
    if row.check_stdout and row.check_stdout not in sample.stdout.decode(errors="replace"):
        raise SystemExit(f"{row.label}: no {row.check_stdout!r} in its output:\n{sample.stdout.decode()[:2000]}")
    lines = server.lines(1)
    if len(lines) != 1:
        raise SystemExit(f"{row.label}: {len(lines)} connections logged by serve, wanted 1")
    port, resumed, early = int(lines[0][1]), lines[0][2] == "yes", lines[0][3]
    if resumed != row.resumed or row.early != early.startswith("accepted:"):
        raise SystemExit(f"{row.label}: serve logged resumed={resumed} early_data={early}")
    conns = link.since(mark)
    if port not in conns:
        raise SystemExit(f"{row.label}: no packets of the connection from port {port} on the link")
    syn = conns[port][0]
    if row.syn_data and warm and not (syn.to_server and syn.flags & 0x02 and syn.payload > 0):
        raise SystemExit(f"{row.label}: its SYN carried no data: {syn}")
    return sample.wall, round_trips(conns[port])


def seed(link: DelayLink, ctx: Ctx, env: dict[str, str], server: Server) -> None:
    """Sessions for the resumed rows (unmeasured, 0 ms): s_client's file, and one full
    handshake for each 0-RTT row's session file."""
    link.delay = 0.0
    argv = ["openssl", "s_client", "-connect", f"{SERVER_ADDR}:{ctx.port}", "-CAfile", ctx.ca]
    argv += ["-sess_out", str(ctx.tmp / "ossl.sess"), "-ign_eof"]
    done = link.client.run(argv, input=REQUEST.decode(), env=env, check=False, timeout=30)
    if done.returncode != 0 or not (ctx.tmp / "ossl.sess").exists():
        raise SystemExit(f"openssl s_client -sess_out failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    server.lines(1)
    for row in ROWS:
        if row.early:
            cold_get.checked(cold_get.run_child(row.argv(ctx), env, prefix=tuple(link.client.run_prefix)), row.label)
            server.lines(1)


def bench(runs: int, rtt_ms: int) -> dict[str, Any]:
    rtts = (0, rtt_ms)
    env = cold_get.child_env(tempfile.mkdtemp(prefix="rtt-pycache-"))
    results = {row.label: Result() for row in ROWS}
    with tempfile.TemporaryDirectory(prefix="rtt-") as d, DelayLink() as link:
        tmp = Path(d)
        link.server.sysctl("net.ipv4.tcp_fastopen", 3)
        server = Server(link, tmp, env)
        try:
            ctx = Ctx(server.ca, server.url, server.port, tmp)
            seed(link, ctx, env, server)
            for i in range(WARMUP + runs):
                for rtt in rtts if i % 2 == 0 else rtts[::-1]:
                    for row in ROWS:
                        wall, trips = run_one(link, server, row, ctx, env, rtt, warm=i > 0)
                        if i >= WARMUP:
                            results[row.label].add(rtt, wall, trips)
                print(f"\r  round {i + 1}/{WARMUP + runs}", end="", file=sys.stderr, flush=True)
            print(file=sys.stderr)
            tfo = link.client.tcp_ext()
        finally:
            server.stop()
    return {"results": results, "tfo_counters_client": {k: v for k, v in tfo.items() if "FastOpen" in k}}


def report(out: dict[str, Any], runs: int, rtt_ms: int) -> dict[str, Any]:
    results: dict[str, Result] = out["results"]
    load = os.getloadavg()
    print(f"\nissue 16 table: {runs} runs per cell, medians; {platform.platform()}, {os.cpu_count()} CPUs,")
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (busy machine: other jobs share the CPUs)\n")
    print(f"| client | round trips | wall at 0 ms RTT | wall at {rtt_ms} ms RTT | {rtt_ms} ms - (0 ms + trips x RTT) |")
    print("|---|---|---|---|---|")
    table: dict[str, Any] = {}
    for row in ROWS:
        r = results[row.label]
        trips, zero, slow = r.round_trips(rtt_ms), r.median_ms(0), r.median_ms(rtt_ms)
        unhidden = slow - (zero + trips * rtt_ms)
        label = f"{row.label} (info)" if row.info else row.label
        print(f"| {label} | {trips} | {zero:.0f} ms | {slow:.0f} ms | {unhidden:+.0f} ms |")
        table[row.label] = {
            "round_trips": trips,
            "round_trips_seen": sorted(set(r.trips[rtt_ms])),
            "wall_0_ms": zero,
            f"wall_{rtt_ms}_ms": slow,
            "walls_ms": {str(k): [round(w * 1e3, 1) for w in v] for k, v in r.wall.items()},
        }
    curl, full, early = results[CURL], results[GET_FULL], results[GET_0RTT]
    targets = [
        (f"get --session F --early-data < curl at {rtt_ms} ms", early.median_ms(rtt_ms) < curl.median_ms(rtt_ms)),
        (
            f"get full <= {TARGET_FULL_VS_CURL}x curl at {rtt_ms} ms",
            full.median_ms(rtt_ms) <= TARGET_FULL_VS_CURL * curl.median_ms(rtt_ms),
        ),
    ]
    for name, r in (("get --session F --early-data", early), ("get full", full)):
        bound = r.median_ms(0) + r.round_trips(rtt_ms) * rtt_ms
        targets.append((f"{name} <= 0 ms wall + round trips x RTT ({bound:.0f} ms)", r.median_ms(rtt_ms) <= bound))
    print()
    for name, ok in targets:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(f"\nclient TcpExt after the run: {out['tfo_counters_client']}")
    return {"table": table, "targets": dict(targets), "tfo_counters_client": out["tfo_counters_client"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=11, help="measured rounds (default 11)")
    ap.add_argument("--rtt-ms", type=int, default=50, help="the slow link's round-trip time (default 50)")
    ap.add_argument("--json", metavar="FILE", help="write the table as JSON")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/rtt.py needs root (network namespaces, TUN devices)")
    for tool in ("curl", "openssl", "ip"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode != 0:
            raise SystemExit(f"bench/rtt.py needs {tool}")
    out = report(bench(args.runs, args.rtt_ms), args.runs, args.rtt_ms)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
