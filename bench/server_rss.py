"""One worker's peak RSS, ``serve`` beside uvicorn + uvloop + httptools, without the whole bench.

Run (~1 minute, one CPU's worth of load at a time)::

    make bench-venv bytecode
    .venv/bin/python bench/server_rss.py [--servers serve,uvicorn-fast] [--seconds 2] [--smaps]

The servers are started exactly as ``bench/server.py`` starts them (its ``start_server``,
the same certificate, arguments, environment and answers; one process per TLS version),
each gets the sanity connections and then the bench's own load generator for
``--seconds`` per mode (full, then resumed), and the peak RSS is read as the bench reads
it: ``VmHWM`` from ``/proc/PID/status``, the larger of a server's two processes.
``--smaps`` splits each process's resident memory by mapping (``/proc/PID/smaps``):
each shared object's text (``r-x``), read-only data and RELRO (``r--``) and writable
data (``rw-``), the heap, the anonymous mappings and the stack, so that two servers can
be compared line by line (:func:`smaps_breakdown`). ``--folios`` (root: ``/proc/kpageflags``)
says in which page-cache folios the largest file mappings' resident pages sit
(:func:`folios`): a fault in a file maps the whole folio around it, so a shared object
the page cache holds in 1 MiB folios (as it does on ext4 for a file pip has just
written) is resident almost whole once any of its code runs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from server import (
    LoadGen,
    client_context,
    one_connection,
    peer_argv,
    serve_argv,
    start_server,
    vm_hwm_mib,
    write_pki,
)
from server_peers import MODES, VERSIONS, load_answer

__all__ = ["folios", "main", "smaps_breakdown"]

_ROOT = Path(__file__).resolve().parent.parent
KINDS = ("serve", "uvicorn-fast", "uvicorn", "stdlib")
_HEADER = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")


def _group(path: str, perms: str) -> str:
    """The line a mapping is counted on: a library's segment by its permissions, else its kind."""
    if not path:
        return "anonymous"
    if path.startswith("["):
        return path
    name = os.path.basename(path)
    seg = {"r-x": "text", "r--": "ro", "rw-": "data"}.get(perms[:3], perms[:3])
    return f"{name} {seg}"


def smaps_breakdown(pid: int) -> dict[str, dict[str, float]]:
    """``{line: {"rss": MiB, "private": MiB}}`` from ``/proc/PID/smaps`` (see :func:`_group`)."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: {"rss": 0.0, "private": 0.0})
    group = ""
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if _HEADER.match(line):
                parts = line.split(None, 5)
                group = _group(parts[5].strip() if len(parts) > 5 else "", parts[1])
            elif line.startswith("Rss:"):
                out[group]["rss"] += int(line.split()[1]) / 1024
            elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                out[group]["private"] += int(line.split()[1]) / 1024
    return dict(out)


def folios(pid: int, name: str) -> dict[str, dict[int, int]]:
    """``{segment: {folio pages: count}}`` for the resident pages of the mappings of the file
    called ``name`` in ``pid`` (``/proc/PID/pagemap`` and ``/proc/kpageflags``; root only)."""
    out: dict[str, dict[int, int]] = {}
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pm, \
            open("/proc/kpageflags", "rb") as kf:  # fmt: skip

        def flags(pfn: int) -> int:
            kf.seek(pfn * 8)
            return int.from_bytes(kf.read(8), "little")

        for line in maps:
            parts = line.split()
            if len(parts) < 6 or os.path.basename(parts[5]) != name:
                continue
            start, end = (int(x, 16) // 4096 for x in parts[0].split("-"))
            pm.seek(start * 8)
            entries = pm.read((end - start) * 8)
            sizes: dict[int, int] = defaultdict(int)
            heads = set()
            for i in range(end - start):
                entry = int.from_bytes(entries[i * 8 : i * 8 + 8], "little")
                if not entry >> 63:  # not present
                    continue
                head = entry & ((1 << 55) - 1)
                while flags(head) >> 16 & 1:  # KPF_COMPOUND_TAIL: walk back to the head
                    head -= 1
                if head not in heads:
                    heads.add(head)
                    n = 1
                    if flags(head) >> 15 & 1:  # KPF_COMPOUND_HEAD: count its tail pages
                        while flags(head + n) >> 16 & 1:
                            n += 1
                    sizes[n * 4] += 1
            seg = _group(parts[5], parts[1]).rsplit(" ", 1)[1]
            out[f"{seg} {parts[0]}"] = dict(sorted(sizes.items()))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--servers", default="serve,uvicorn-fast", help="comma-separated (default serve,uvicorn-fast)")
    parser.add_argument("--seconds", type=float, default=2.0, help="load per server and mode (default 2)")
    parser.add_argument("--smaps", action="store_true", help="print each process's resident memory by mapping")
    parser.add_argument("--folios", action="store_true",
                        help="the page-cache folio sizes behind the mappings of over 1 MiB (root)")  # fmt: skip
    parser.add_argument("--min-mib", type=float, default=0.1, help="--smaps: lines under this are summed (0.1)")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    if "serve" not in kinds or set(kinds) - set(KINDS):
        parser.error(f"--servers: serve and any of {', '.join(KINDS[1:])}")
    folder = Path(tempfile.mkdtemp(prefix="hrq-bench-rss-"))
    servers = []
    gen = None
    try:
        env, _ = write_pki(folder)
        std_ctx = client_context(str(folder / "ca.pem"))
        for v in VERSIONS:
            s = start_server("serve", v, serve_argv(folder, v, "--workers", "1"), folder, env)
            servers.append(s)
            (folder / f"answer-{v}.http").write_bytes(one_connection(std_ctx, s.port)[0])
        for kind in kinds[1:]:
            for v in VERSIONS:
                servers.append(start_server(kind, v, peer_argv(kind, folder, v), folder,
                                            dict(env, OPENSSL_CONF=str(folder / "openssl.cnf"))))  # fmt: skip
        for s in servers:
            body = load_answer(folder, s.version)[1]
            answer = one_connection(std_ctx, s.port)[0]
            if not answer.endswith(body):
                raise SystemExit(f"{s.name}: another answer")
        gen = LoadGen(folder, 2, 4)
        for s in servers:
            for mode in MODES:
                if mode.startswith(s.version):
                    r = gen.run(s, mode, args.seconds)
                    print(f"{s.name:18} {mode:11} {r['connections']:6d} connections", flush=True)
        peaks: dict[str, float] = {}
        worst: dict[str, int] = {}
        for s in servers:
            hwm = vm_hwm_mib(s.worker)
            if hwm > peaks.get(s.kind, 0.0):
                peaks[s.kind], worst[s.kind] = hwm, s.worker
            print(f"{s.name:18} peak RSS (VmHWM) {hwm:6.2f} MiB", flush=True)
        if args.smaps:
            tables = {k: smaps_breakdown(pid) for k, pid in worst.items()}
            lines = sorted({g for t in tables.values() for g in t},
                           key=lambda g: -max(t.get(g, {"rss": 0.0})["rss"] for t in tables.values()))  # fmt: skip
            print("\nresident MiB by mapping (the process with the larger peak of each kind)")
            print(f"{'mapping':44}" + "".join(f"{k:>14}" for k in tables))
            small = dict.fromkeys(tables, 0.0)
            for g in lines:
                vals = [t.get(g, {"rss": 0.0})["rss"] for t in tables.values()]
                if max(vals) < args.min_mib:
                    for k, val in zip(tables, vals, strict=True):
                        small[k] += val
                    continue
                print(f"{g[:44]:44}" + "".join(f"{val:14.2f}" for val in vals))
            print(f"{'(lines under --min-mib)':44}" + "".join(f"{small[k]:14.2f}" for k in tables))
            print(f"{'total':44}" + "".join(f"{sum(x['rss'] for x in t.values()):14.2f}" for t in tables.values()))
        if args.folios:
            print("\nfolios behind the resident pages (KiB per folio: how many)")
            for kind, pid in worst.items():
                big = {g.rsplit(" ", 1)[0] for g, v in smaps_breakdown(pid).items() if v["rss"] >= 1 and " " in g}
                for name in sorted(big):
                    for seg, sizes in folios(pid, name).items():
                        print(f"{kind:14} {name:44} {seg:40} {sizes}")
    finally:
        if gen is not None:
            gen.close()
        for s in servers:
            s.stop()
        shutil.rmtree(folder, True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
