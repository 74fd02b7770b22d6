"""bench/server.py's results: medians, the targets of issue 12 and the printed tables."""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Any

from server_peers import MODES, VERSIONS

__all__ = ["SERVERS", "WORKERS_TARGET", "report", "summarize", "workers_bound"]

SERVERS = {  # kind: the row's label, in the table's order
    "serve": "`serve`",
    "uvicorn": "uvicorn (asyncio, h11)",
    "uvicorn-fast": "uvicorn + uvloop + httptools",
    "stdlib": "stdlib ssl, blocking, one thread",
    "nginx": "nginx",
}
WORKERS_TARGET = 1.7  # serve --workers 2 over --workers 1, wall-clock


def workers_bound(server_ms: float, client_ms: float, cpus: int) -> float:
    """``--workers 2``'s ceiling over ``--workers 1``'s (wall-clock connections per second) when the load
    generator shares the ``cpus`` cores: one worker runs at most one core's worth (1000 / ``server_ms``
    per second), and every connection takes ``server_ms + client_ms`` of the cores in all (``cpus *
    1000 / (server_ms + client_ms)`` per second), so two workers reach at most ``min(2000 / server_ms,
    that)``. CPU-milliseconds per connection, measured. A measured ratio can pass it only when one
    worker stays below its own ceiling (the clients' latency, not the cores, holding it back)."""
    machine = cpus * 1000 / (server_ms + client_ms)
    return min(2000 / server_ms, machine) / min(1000 / server_ms, machine)


def summarize(kinds: list[str], raw: dict[str, dict[str, list[dict[str, Any]]]], rss: dict[str, float],
              args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    """Medians per server and mode, peak RSS per server, and the targets."""

    def med(kind: str, mode: str, key: str) -> float:
        return float(statistics.median(r[key] for r in raw[kind][mode]))

    table = {k: {m: med(k, m, "per_cpu_s") for m in MODES} for k in kinds}
    peak = {k: max(rss[f"{k} {v}"] for v in VERSIONS) for k in kinds}
    targets: list[dict[str, Any]] = []

    def target(what: str, mode: str, ours: float, theirs: float | None, goal: float, lower: bool = False) -> None:
        ratio = None if theirs is None else ours / theirs
        ok = None if ratio is None else (ratio <= goal if lower else ratio >= goal)
        targets.append({"what": what, "mode": mode, "ours": ours, "theirs": theirs, "ratio": ratio,
                        "goal": goal, "lower_is_better": lower, "pass": ok})  # fmt: skip

    for peer, what in (("uvicorn-fast", "serve >= uvicorn + uvloop + httptools"),
                       ("stdlib", "stretch: serve >= stdlib")):  # fmt: skip
        for m in MODES:
            target(what, m, table["serve"][m], table[peer][m] if peer in table else None, 1.0)
    uvicorns = [peak[k] for k in ("uvicorn", "uvicorn-fast") if k in peak]
    target("peak RSS of one worker <= uvicorn's", "", peak["serve"], min(uvicorns) if uvicorns else None, 1.0, True)
    workers = []
    if args.workers:
        for m in MODES:
            one, two = med("serve-w1", m, "per_wall_s"), med("serve-w2", m, "per_wall_s")
            target("serve --workers 2 >= 1.7x --workers 1 (wall-clock)", m, two, one, WORKERS_TARGET)
            pair = ("serve-w1", "serve-w2")
            s_ms, c_ms = 1000 / med("serve-w1", m, "per_cpu_s"), med("serve-w2", m, "client_cpu_ms")
            workers.append({"mode": m, "workers1_per_s": one, "workers2_per_s": two,
                            "cores": [med(n, m, "server_cpu") / med(n, m, "wall") for n in pair],
                            "per_cpu_s": [med(n, m, "per_cpu_s") for n in pair],
                            "server_cpu_ms": s_ms, "client_cpu_ms": c_ms,
                            "bound": workers_bound(s_ms, c_ms, os.cpu_count() or 1)})  # fmt: skip
    client_ms = {k: {m: med(k, m, "client_cpu_ms") for m in MODES} for k in kinds}
    return {"per_cpu_s": table, "peak_rss_mib": peak, "targets": targets, "workers": workers,
            "client_cpu_ms": client_ms, "seconds": args.seconds, "batches": args.batches, "clients": args.clients,
            "threads": args.threads, "cpus": os.cpu_count()}  # fmt: skip


def report(result: dict[str, Any], args: argparse.Namespace) -> bool:
    """Print the tables; True when a check failed (the log lines disagree with the clients)."""
    v = result["versions"]
    (l1, *_), (l2, *_) = result["load"][0], result["load"][-1]
    print()
    peers = [f"uvicorn/uvloop/httptools {v['uvicorn']}"] if v["uvicorn"] else []
    peers += [v["nginx"]] if v["nginx"] else []
    print(f"Python {v['python']}, {v['openssl']}, {result['cpus']} CPUs" + "".join(f"; {p}" for p in peers))
    print(f"{args.batches} batches x {args.seconds:g} s, {args.clients} client processes x {args.threads} threads; "
          f"load average {l1:.2f} before, {l2:.2f} after (a busy machine moves the wall-clock rows most)")  # fmt: skip
    sizes = ", ".join(f"TLS {k}: {n} bytes" for k, n in result["body_bytes"].items())
    fresh = f", {result['page_fresh_us']:.0f} us rated and rendered afresh" if "page_fresh_us" in result else ""
    print(f"Body: serve's howsmyssl page for the load generator's ClientHello, {sizes}, the same for every "
          f"server; serve's request parsing and answer per connection, in-process: {result['page_cost_us']:.0f} us"
          f" with the page kept{fresh}")  # fmt: skip
    print()
    print("Connections per server CPU-second (medians), one worker; peak RSS (VmHWM) of one worker")
    print()
    head = ["server", *(f"TLS {m}" for m in MODES), "peak RSS MiB"]
    print("| " + " | ".join(head) + " |")
    print("|---" * len(head) + "|")
    for kind, row in result["per_cpu_s"].items():
        cells = [SERVERS[kind], *(f"{row[m]:.0f}" for m in MODES), f"{result['peak_rss_mib'][kind]:.1f}"]
        print("| " + " | ".join(cells) + " |")
    if result.get("forked_worker_rss_mib"):
        peaks = ", ".join(f"{n}: {v:.1f}" for n, v in result["forked_worker_rss_mib"].items())
        print(f"\nserve --workers 2, the larger worker's peak RSS MiB ({peaks}): a worker forked from the supervisor "
              "maps the shared libraries' pages only as it touches them; its other pages are the supervisor's, "
              "shared until written")  # fmt: skip
    print()
    print("Targets (issue 12):")
    for t in result["targets"]:
        verdict = "n/a (peer not run)" if t["pass"] is None else ("PASS" if t["pass"] else "FAIL")
        ratio = "" if t["ratio"] is None else f"{t['ratio']:.2f}x (goal {'<=' if t['lower_is_better'] else '>='} " \
            f"{t['goal']:.2f}x)"  # fmt: skip
        print(f"  {t['what']:52} {('TLS ' + t['mode']) if t['mode'] else '':16} {ratio:26} {verdict}")
    if result["workers"]:
        print()
        client = {"python": "the Python clients",
                  "h2load": "h2load, TLS 1.3 full against --no-tickets servers; TLS 1.2 full: the Python clients"}[
            args.scaling_client]  # fmt: skip
        print(f"serve, wall-clock connections per second (--ticket-keys FILE; {client}; the load generator shares "
              f"the {result['cpus']} cores)")  # fmt: skip
        print(f"{'mode':15} {'workers 1':>9} {'workers 2':>9} {'2/1':>6}   {'server cores used':>17}   "
              f"{'conn per server CPU-s':>21}   CPU-ms/conn server, client   ceilings 2/1")  # fmt: skip
        for w in result["workers"]:
            cores = f"{w['cores'][0]:.2f} / {w['cores'][1]:.2f}"
            per_cpu = f"{w['per_cpu_s'][0]:.0f} / {w['per_cpu_s'][1]:.0f}"
            print(f"{'TLS ' + w['mode']:15} {w['workers1_per_s']:9.1f} {w['workers2_per_s']:9.1f} "
                  f"{w['workers2_per_s'] / w['workers1_per_s']:5.2f}x   {cores:>17}   {per_cpu:>21}   "
                  f"{w['server_cpu_ms']:.2f}, {w['client_cpu_ms']:.2f}{'':17}{w['bound']:5.2f}x")  # fmt: skip
        print("(ceilings 2/1: min(2000/s, C*1000/(s+c)) / min(1000/s, C*1000/(s+c)) for s and c the server's and "
              "the client's CPU-ms per connection and C cores: one worker uses one core at most, and every "
              "connection costs s + c of the C cores in all; 1.7x needs c <= 0.18 s on 2 cores)")  # fmt: skip
    print()
    print("TLS 1.3 tickets / TLS 1.2 tickets per connection (full, resumed), counted by the project's client:")
    for name, info in result["sanity"].items():
        if f"{name.split()[-1]} resumed" not in info:  # a --no-tickets server (--scaling-client h2load)
            continue
        tickets = [str(info[f"{name.split()[-1]} {k}"]["our_client"]["tickets"]) for k in ("full", "resumed")]
        print(f"  {name:16} " + ", ".join(tickets))
    print()
    print("Server logs (each line's version, suite, group, status; counts checked against the clients):")
    bad = False
    for name, lg in result["logs"].items():
        kinds = "; ".join(f"{n} x {k}" for k, n in sorted(lg["by_kind"].items()))
        print(f"  {name:16} {lg['lines']} lines, {lg['resumed']} resumed: {kinds}")
        for p in lg["problems"]:
            bad = True
            print(f"    PROBLEM: {p}")
    return bad
