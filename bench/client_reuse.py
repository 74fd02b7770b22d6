"""``Client`` reusing one connection: 100 sequential GETs, against httpx and requests.

Run as ``.venv/bin/python bench/client_reuse.py [--requests 100] [--rounds 9]
[--json FILE]``. A bench, not a timed test: read the figures as ratios taken
side by side in one run.

Server: ``tests/apiserver.py`` (stdlib ``http.server`` over stdlib ``ssl``,
keep-alive, TCP_NODELAY) in a subprocess (this script re-run with ``--serve
DIR``), so its CPU never counts against a client. Certificate: a P-256 leaf
for ``127.0.0.1`` under a fresh test CA (``tests/certs.py``). Each request is
``GET /status/200`` (a 11-byte body with Content-Length).

Clients, each in this process, one after the other in each round (the order
rotates every round): ``https_request.Client`` (TLS 1.3 on our engine, X25519MLKEM768
offered: the server's OpenSSL picks its group), ``httpx.Client`` (httpcore on
stdlib ``ssl``) and ``requests.Session`` (urllib3 on stdlib ``ssl``), all
verifying the server against the test CA. Each makes one request first (the
connect and handshake, not timed), then N timed ones; the server's handshake
count (``/stats``) must grow by exactly one per client per round, so every
timed request reused the connection. Per round and client: wall time
(``time.perf_counter``) and this process's CPU time (``time.process_time``)
per request; the table shows the medians over the rounds and the ratio to
httpx. On a loaded machine prefer the CPU column: the server's process and
other load move wall time, not this process's CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT / "src", ROOT / "tests"):
    sys.path.insert(0, str(p))


def serve(directory: str) -> None:
    """The server process: certificates into ``directory``, the port on stdout, until stdin closes."""
    from apiserver import serve_api
    from certs import make_ca, make_leaf

    d = Path(directory)
    ca = make_ca(name="client_reuse bench CA")
    leaf = make_leaf(ca, ("127.0.0.1",))
    (d / "ca.pem").write_bytes(ca.cert_pem)
    (d / "leaf.pem").write_bytes(leaf.chain_pem)
    (d / "leaf.key").write_bytes(leaf.key_pem)
    with serve_api(d / "leaf.pem", d / "leaf.key") as srv:
        print(srv.port, flush=True)
        sys.stdin.read()


def clients(ca: str) -> dict[str, Callable[[], Any]]:
    import httpx
    import requests

    import https_request

    return {
        "https_request.Client": lambda: https_request.Client(verify=ca),
        "httpx.Client": lambda: httpx.Client(verify=__import__("ssl").create_default_context(cafile=ca)),
        "requests.Session": lambda: _session(requests.Session(), ca),
    }


def _session(session: Any, ca: str) -> Any:
    """A requests Session verifying with the same stdlib context httpx gets (urllib3's own
    context would add VERIFY_X509_STRICT, which the test CA's leaf does not meet)."""
    import ssl

    from requests.adapters import HTTPAdapter

    ctx = ssl.create_default_context(cafile=ca)

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = ctx
            super().init_poolmanager(*args, **kwargs)

    session.mount("https://", Adapter())
    session.verify = ca
    return session


def handshakes(stats_url: str, ca: str) -> int:
    import ssl
    import urllib.request

    ctx = ssl.create_default_context(cafile=ca)
    with urllib.request.urlopen(stats_url, context=ctx, timeout=10) as r:
        return int(json.loads(r.read())["handshakes"])


def one_round(name: str, make: Callable[[], Any], url: str, stats: str, ca: str, n: int) -> tuple[float, float]:
    """(wall, CPU) seconds per request for ``n`` requests over one connection."""
    before = handshakes(stats, ca)
    client = make()
    try:
        assert client.get(url).status_code == 200
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            r = client.get(url)
            if r.status_code != 200 or r.content != b"status 200\n":
                raise SystemExit(f"{name}: unexpected response {r.status_code} {r.content!r}")
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    finally:
        client.close()
    made = handshakes(stats, ca) - before - 1  # the stats request's own connection
    if made != 1:
        raise SystemExit(f"{name}: {made} handshakes for {n + 1} requests: the connection was not reused")
    return wall / n, cpu / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    with tempfile.TemporaryDirectory() as d:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", d], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            ca = os.path.join(d, "ca.pem")
            url = f"https://127.0.0.1:{port}/status/200"
            stats = f"https://127.0.0.1:{port}/stats"
            makers = clients(ca)
            names = list(makers)
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
            for r in range(args.rounds):
                order = names[r % len(names) :] + names[: r % len(names)]
                for name in order:
                    results[name].append(one_round(name, makers[name], url, stats, ca, args.requests))
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(10)
    report: dict[str, dict[str, float]] = {}
    for name, rows in results.items():
        report[name] = {
            "wall_us": statistics.median(w for w, _ in rows) * 1e6,
            "cpu_us": statistics.median(c for _, c in rows) * 1e6,
        }
    ref = report["httpx.Client"]
    print(f"{args.requests} sequential GETs over one connection, medians of {args.rounds} rounds (per request)")
    print(f"{'client':24} {'wall us':>9} {'CPU us':>9} {'wall/httpx':>11} {'CPU/httpx':>10}")
    for name, row in report.items():
        print(
            f"{name:24} {row['wall_us']:9.0f} {row['cpu_us']:9.0f} "
            f"{row['wall_us'] / ref['wall_us']:10.2f}x {row['cpu_us'] / ref['cpu_us']:9.2f}x"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
