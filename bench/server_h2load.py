"""h2load (Debian's nghttp2-client) as bench/server.py's load generator for the ``--workers`` rows.

``bench/server.py --scaling-client h2load``. Why: ``--workers 2`` over ``--workers 1`` in
wall-clock time can only show what the server's cores allow when the load generator leaves
them free, and the bench's Python client spends about as much CPU per connection as
``serve`` (both on the same two cores). h2load is one C process (one thread, libev and
OpenSSL, no certificate verification) that spends about half of it.

Each run is ``h2load --h1 -c CLIENTS -n N -H "Connection: close" https://127.0.0.1:PORT/``:
every request its own TCP and TLS connection (the server closes after its answer, h2load
connects again), ``CLIENTS`` of them at a time. h2load keeps each client's TLS session and
offers it on that client's next connection, so against a server that issues tickets every
connection but each client's first is resumed; TLS 1.3 full therefore runs against servers
started with ``--no-tickets`` (without its two tickets per connection: slightly less server
work than the Python client's full row). TLS 1.2 full stays with the Python clients: ``serve``
resumes TLS 1.2 by session id when it issues no tickets, and h2load offers the session again
(bench/server.py's log check saw it). h2load cannot run for a time, so N is the
batch's seconds times the rate of the server's previous run (the warm-up's first).

Checked per run: every request answered 2xx, none failed, the version and suite h2load
reports, and the resumed connections the server must log (N - CLIENTS, or none);
bench/server.py's log check compares them with the server's lines. The body is the page
of h2load's own ClientHello (not the Python client's), so its bytes are not compared.
The client's CPU is h2load's ``ru_utime + ru_stime`` (``RUSAGE_CHILDREN`` around the run).
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import time
from typing import Any, Protocol

__all__ = ["H2Load", "find_h2load"]

_FINISHED = re.compile(r"finished in ([0-9.]+)(ms|s),")
_REQUESTS = re.compile(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed")
_STATUS = re.compile(r"status codes: (\d+) 2xx")


class _Server(Protocol):
    name: str
    port: int
    clients_ok: int
    clients_reused: int

    def cpu(self) -> float: ...


def find_h2load() -> str:
    """h2load's path, or SystemExit saying how to get it."""
    found = shutil.which("h2load") or shutil.which("/usr/bin/h2load")
    if found is None:
        raise SystemExit("--scaling-client h2load needs Debian's nghttp2-client: run `make bench-deps` "
                         "(apt-get install nghttp2-client), or use the Python client (the default)")  # fmt: skip
    return found


class H2Load:
    """Runs h2load against one server and mode at a time; :meth:`run` answers as ``LoadGen.run``."""

    def __init__(self, path: str, clients: int, settle: float, suites: dict[str, str]) -> None:
        """``suites``: the suite each TLS version must negotiate, by version (OpenSSL's names)."""
        self.path, self.clients, self.settle, self.suites = path, clients, settle, suites
        self.rate: dict[tuple[str, str], float] = {}  # connections per wall second, by (server, mode)

    def run(self, server: _Server, mode: str, seconds: float) -> dict[str, Any]:
        """One batch of about ``seconds`` (SystemExit when a check fails)."""
        version, kind = mode.split()
        count = max(self.clients * 10, round(self.rate.get((server.name, mode), 200.0) * seconds))
        argv = [self.path, "--h1", "-c", str(self.clients), "-n", str(count), "-H", "Connection: close",
                f"https://127.0.0.1:{server.port}/"]  # fmt: skip
        cpu0, before = server.cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(argv, capture_output=True, text=True, timeout=max(60.0, 20 * seconds))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        time.sleep(self.settle)
        cpu = server.cpu() - cpu0
        client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        text = out.stdout
        finished, requests, status = _FINISHED.search(text), _REQUESTS.search(text), _STATUS.search(text)
        if out.returncode or finished is None or requests is None or status is None:
            tail = (text + out.stderr)[-800:]
            raise SystemExit(f"{server.name} {mode}: h2load failed (exit {out.returncode}): {tail}")
        ok, failed = int(requests.group(4)), int(requests.group(5))
        if ok != count or failed or int(status.group(1)) != count:
            raise SystemExit(f"{server.name} {mode}: h2load: {requests.group(0)}, {status.group(0)}")
        protocol = re.search(r"TLS Protocol: (\S+)", text)
        cipher = re.search(r"Cipher: (\S+)", text)
        got = (protocol and protocol.group(1), cipher and cipher.group(1))
        if got != (f"TLSv{version}", self.suites[version]):
            raise SystemExit(f"{server.name} {mode}: h2load negotiated {got}")
        wall = float(finished.group(1)) / (1000 if finished.group(2) == "ms" else 1)
        reused = ok - self.clients if kind == "resumed" else 0
        server.clients_ok += ok
        server.clients_reused += reused
        self.rate[server.name, mode] = ok / wall
        if ok == 0 or cpu <= 0:
            raise SystemExit(f"{server.name} {mode}: nothing measured (ok={ok}, cpu={cpu})")
        return {"connections": ok, "reused": reused, "server_cpu": cpu, "client_cpu": client, "wall": wall,
                "per_cpu_s": ok / cpu, "per_wall_s": ok / wall, "client_cpu_ms": client / ok * 1000}  # fmt: skip
