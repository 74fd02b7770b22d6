"""Fresh-process HTTPS GET: ``https-request get`` against curl, requests, httpx
and urllib.request, and the round trips each needs through a 50 ms RTT link.

Run as ``.venv/bin/python bench/cold_get.py [--runs N] [--rtt-runs N]
[--rtt-ms 50] [--json FILE]``. It is a bench, not a timed test: the numbers
depend on the machine, so read them as ratios taken in the same run.

Server
------
Our own TLS engine, in a subprocess (this script re-run with ``--serve DIR``,
so its CPU never counts against a client): ``https_request.io.aio`` serving
``127.0.0.1`` with ``ServerConfig(certificates=..., ticket_keys=TicketKeys(...),
max_early_data=16384, versions=(TLS 1.3, TLS 1.2))``. The certificate is a fresh
P-256 leaf for ``localhost`` under a fresh test CA (``tests/certs.py``); the CA
goes to ``ca.pem`` in a temp dir for the clients. Each connection reads one
request and answers ``HTTP/1.1 200 OK`` with a 13-byte body, ``Content-Length``
and ``Connection: close``, then close_notify, FIN, and waits for the client
to close (so no RST can race the response).

Two listeners share one config (so tickets work at either):

* ``stock``: :func:`https_request.io.aio.start_server` as it is. Its engine
  holds server application data until the client's Finished, so a response
  to a 0-RTT request waits one extra round trip.
* ``half-rtt``: the same engine with one bench-local override
  (``ServerConfig.send_half_rtt_data``): application data written after the
  server's Finished went out (TLS 1.3, state END_OF_EARLY_DATA ..
  CLIENT_FINISHED) is sealed at once under the server's application keys --
  RFC 8446's "0.5-RTT data" (sections 2.3 and 4.4.4), which is what a server
  must do for 0-RTT to save a round trip on a request/response exchange.

Every connection is reported back (JSON lines on the server's stdout): accept
time, request and response times (``time.monotonic``: CLOCK_MONOTONIC, one
clock for all processes), resumed, early-data bytes, version, suite, group.
Runs check these (a "resumed" run that did not resume, or a 0-RTT run without
early data, aborts the bench).

Cold GET table (no proxy)
-------------------------
Each client is a fresh process per run, started through a launcher (below)
that times and reaps it: wall time is ``time.perf_counter`` from before the
fork to after the reap; CPU is the child's ``ru_utime + ru_stime``; peak RSS
is its ``ru_maxrss`` (KiB on Linux), all from ``os.wait4`` in the launcher.

Why a launcher: Linux carries a process's high-water RSS across ``execve``
(``exec_mmap`` folds the old address space's peak into the process's
``maxrss``), and a child forked (or vforked) from this script starts with this
script's pages, ~36 MiB, so ``ru_maxrss`` of a client spawned from here is at
least that whatever the client does: every client "peaked" at the harness's
size. Exec chains (``env``, ``sh -c 'exec ...'``) do not help: the mark
survives every exec. Only a fork from a small process starts a small mark. So
the harness starts ``python -I -S -c LAUNCHER RESULT ARGV...`` (no site, no
environment; it imports only ``os``, ``sys`` and ``time``), which forks,
``execvp``s ARGV in the child, reaps it with ``os.wait4`` and writes wall,
CPU, peak RSS and the reap time (``time.monotonic``) to RESULT. The child
starts from the launcher's own small mark, so every client's figure has that
floor, ~6.5 MiB (the information-only row ``floor: launcher (true)``,
``/bin/true`` run the same way, shows it); every client peaks well above it.
The launcher's own start-up is outside the timed span. Cross-check: GNU ``/usr/bin/time -f %M`` (a fork from a
~1 MiB C program) reports the same peaks within 0.1 MiB for curl and Python.
Peak RSS counts the file pages a process maps, and those can differ between
two copies of the same files (the same imports peaked ~1.7 MiB apart in two
venvs here), so compare rows of one run on one venv. To measure another
checkout's code with this venv, run the bench with ``PYTHONPATH=OTHER/src``
(the clients import ``https_request`` from there; the server stays this one).

Clients (all Python ones on the venv's
interpreter, body to stdout, stdout to /dev/null):

* ``https-request get --cacert ca.pem --resolve localhost:PORT:127.0.0.1 URL``
  (the venv's console script);
* ``curl -s --cacert ca.pem --resolve localhost:PORT:127.0.0.1 URL``;
* ``python -c`` scripts: ``requests.get(url, verify=ca)``,
  ``httpx.get(url, verify=ssl.create_default_context(cafile=ca))``,
  ``urllib.request.urlopen(url, context=ssl.create_default_context(cafile=ca))``.

URL is ``https://localhost:PORT/``; ``localhost`` is 127.0.0.1 only in
/etc/hosts here, so the Python clients do not try ::1 first.

Byte-code: every Python client runs with ``PYTHONPYCACHEPREFIX`` set to a
temp dir (and without ``PYTHONDONTWRITEBYTECODE``), so the warm-up runs
compile what each one imports and the timed runs load cached byte-code, as
from a normal install (pip byte-compiles what it installs; the editable
install of this project has no ``__pycache__`` of its own when the
environment sets ``PYTHONDONTWRITEBYTECODE=1``). The extra row
``https-request, no .pyc`` (information only) runs with
``PYTHONDONTWRITEBYTECODE=1`` and no prefix: the project's modules compiled
from source on every run, as a developer's checkout here does. The extra row
``floor: imports only`` (information only) is a ``python -c`` that imports
what ``get`` needs by design and does nothing else: cryptography's
primitives, ``cryptography.x509.verification`` (the webpki policy), ``h11``
(HTTP/1.1), ``argparse`` and ``socket``. https-request's row minus this one is
what the project's own code and the request itself cost.

Two warm-up runs
per client (byte-code caches, page cache), then ``--runs`` rounds, the
clients interleaved within a round so that machine noise hits all alike.
Medians; ratios against requests. Targets: https-request wall <= 1.0x
requests, peak RSS <= 1.2x requests.

Round trips (delay proxy)
-------------------------
A TCP proxy (asyncio, in a thread of this process, 127.0.0.1) sits between the
client and the server and holds every chunk ``--rtt-ms / 2`` in each
direction (order kept, FIN forwarded after the same delay). A user-space
proxy cannot delay the kernel's SYN / SYN-ACK, so ``connect()`` through it is
instant: the one round trip TCP's handshake costs on a real link is added to
every figure (``+1``) rather than measured.

Each case alternates a direct run (baseline) and a proxied run, ``--rtt-runs``
of each (after one unrecorded pair), and reports three figures (medians):

* flights: the client flights the response waited for, +1. The proxy logs
  every chunk (read and delivery times); the response is the first server
  chunk read after the server's clock said it was about to write it; a
  client chunk that reached the server before that opens a new flight when
  server data had been delivered to the client since the previous flight
  began (it may depend on it). Independent of CPU speed and machine load;
* to response: ``(ttr_proxied - median(ttr_direct)) / RTT + 1``, ttr being
  the time from the TCP accept to the response's delivery to the client
  (proxied: the proxy's delivery time; direct: the server's write time).
  Client and server CPU appear in both terms and cancel;
* to exit: the same with the process's exit (the reap in this process) in
  place of the response's delivery: more than "to response" when the client
  waits for something after the response (a ticket, the server's close).
  Both times start at the TCP accept, so import time and its noise drop out.

A target holds when the flight count and the rounded "to response" agree on it.

Cases: https-request full handshake; resumed from a session saved by a
previous process (``--session FILE``); resumed with 0-RTT (``--session FILE
--early-data``) against the half-RTT listener (the target) and against the
stock one (for reference); curl, requests, httpx, urllib (full handshakes:
none of them can carry a TLS session from one process to the next, so a full
handshake is their best). Sessions are made fresh before every resumed or
0-RTT run by an unmeasured ``https-request get --session FILE`` (the server
accepts each ticket's early data once). Targets: 0-RTT response after 2 round
trips (TCP connect + one TLS/HTTP flight); every peer needs 3 or more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
VENV_PY = VENV / "bin" / "python"
HTTPS_REQUEST = VENV / "bin" / "https-request"

BODY = b"Hello, world\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (
    len(BODY),
    BODY,
)
CHILD_TIMEOUT = 60.0
WARMUP = 2

TARGET_WALL = 1.0
TARGET_RSS = 1.2
TARGET_0RTT = 2
TARGET_PEER_MIN = 3

# ------------------------------------------------------------------ server


def serve(tmp: str) -> None:
    """The ``--serve DIR`` child: write DIR/ca.pem, serve, report on stdout."""
    for p in (ROOT / "src", ROOT / "tests"):
        sys.path.insert(0, str(p))
    from certs import make_ca, make_leaf  # tests/certs.py
    from https_request.io.aio import TlsStream, start_server
    from https_request.structs import replace
    from https_request.tls.config import ServerConfig
    from https_request.tls.server13 import ServerConnection
    from https_request.tls.session import TicketKeys

    ca = make_ca("p256", name="cold_get bench CA")
    leaf = make_leaf(ca, ["localhost"], key_type="p256")
    with open(os.path.join(tmp, "ca.pem.part"), "wb") as f:
        f.write(ca.cert_pem)
    os.replace(os.path.join(tmp, "ca.pem.part"), os.path.join(tmp, "ca.pem"))
    config = ServerConfig(
        certificates=(leaf.certified_key(),),
        ticket_keys=TicketKeys(os.urandom, now=time.time()),
        max_early_data=16384,
        versions=(0x0304, 0x0303),
    )
    half_config = replace(config, send_half_rtt_data=True)  # the engine's 0.5-RTT option

    def report(rec: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(rec) + "\n")
        sys.stdout.flush()

    def handler(kind: str) -> Callable[[TlsStream], Any]:
        async def handle(stream: TlsStream) -> None:
            conn = stream.conn
            rec: dict[str, Any] = {"server": kind, "t_accept": time.monotonic()}
            try:
                buf = bytearray()
                while b"\r\n\r\n" not in buf:
                    data = await stream.read(timeout=10)
                    if not data:
                        raise ConnectionError(f"EOF before the request's end ({len(buf)} bytes)")
                    buf += data
                rec["t_request"] = time.monotonic()
                rec["early_data"] = len(stream.pump.early_data)
                rec["request_line"] = bytes(buf.split(b"\r\n", 1)[0]).decode("latin-1")
                if kind == "half-rtt":
                    rec["t_response_start"] = time.monotonic()
                    await stream.write(RESPONSE, timeout=10)  # 0.5-RTT data if the handshake is not over
                    rec["t_response"] = time.monotonic()
                    rec["half_rtt"] = stream.pump.handshake is None
                    await stream.handshake(timeout=10)  # the client's Finished; tickets go out
                else:
                    await stream.handshake(timeout=10)  # the stock engine holds data until then
                    rec["t_response_start"] = time.monotonic()
                    await stream.write(RESPONSE, timeout=10)
                    rec["t_response"] = time.monotonic()
                hc = stream.pump.handshake
                assert hc is not None
                rec.update(
                    version=hex(hc.version),
                    cipher_suite=hex(hc.cipher_suite),
                    group=hc.group,
                    resumed=hc.resumed,
                    early_data_accepted=conn.early_data_accepted,
                )
            except Exception as exc:
                rec["error"] = f"{type(exc).__name__}: {exc}"
            try:  # close_notify, then FIN; wait for the client's EOF (no RST race)
                stream.pump.close()
                out = conn.data_to_send()
                if out:
                    stream.writer.write(out)
                if stream.writer.can_write_eof():
                    stream.writer.write_eof()
                async with asyncio.timeout(10):
                    while await stream.reader.read(65536):
                        pass
            except Exception as exc:  # the client may be gone already: not an error
                rec["close"] = f"{type(exc).__name__}: {exc}"
            rec["t_end"] = time.monotonic()
            report(rec)

        return handle

    async def main() -> None:
        stock = await start_server(handler("stock"), "127.0.0.1", 0, config, timeout=10)
        half = handler("half-rtt")

        async def on_half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            stream = TlsStream(reader, writer, ServerConnection(half_config), 10)
            try:
                await half(stream)
            finally:
                writer.close()

        half_srv = await asyncio.start_server(on_half, "127.0.0.1", 0)
        report(
            {
                "ready": True,
                "stock": stock.sockets[0].getsockname()[1],
                "half-rtt": half_srv.sockets[0].getsockname()[1],
            }
        )
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


class Server:
    """The ``--serve`` subprocess and the stream of its connection reports."""

    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", tmp],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.reports: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._reader, daemon=True).start()
        ready = self.reports.get(timeout=60)
        if not ready.get("ready"):
            raise SystemExit(f"server did not start: {ready}")
        self.ports = {"stock": ready["stock"], "half-rtt": ready["half-rtt"]}
        self.ca = os.path.join(tmp, "ca.pem")

    def _reader(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.reports.put(json.loads(line))

    def next_report(self, timeout: float = 15.0) -> dict[str, Any]:
        try:
            return self.reports.get(timeout=timeout)
        except queue.Empty:
            raise SystemExit("no connection report from the server (client did not connect?)") from None

    def drain(self) -> list[dict[str, Any]]:
        out = []
        while True:
            try:
                out.append(self.reports.get_nowait())
            except queue.Empty:
                return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------ delay proxy


@dataclass
class ProxyConn:
    """What the proxy saw on one connection (``time.monotonic`` seconds): each
    chunk as [read time, delivery time] (delivery None until written)."""

    t_accept: float
    c2s: list[list[float | None]] = field(default_factory=list)
    s2c: list[list[float | None]] = field(default_factory=list)

    def response(self, t_start: float) -> tuple[int, float] | None:
        """(client flights the response waited for, its delivery time to the client).

        The response is the first server chunk read at or after ``t_start``
        (the server's clock just before it wrote the response). A client
        chunk counts if it reached the server before that; it opens a new
        flight when the client had received server data since the previous
        flight began (it could depend on it), so a flight is one round trip.
        """
        resp = next((c for c in self.s2c if c[0] is not None and c[0] >= t_start and c[1] is not None), None)
        if resp is None:
            return None
        t_resp_read, t_resp_delivered = resp
        assert t_resp_read is not None and t_resp_delivered is not None
        flights, last = 0, 0.0
        for read, delivered in self.c2s:
            assert read is not None
            if delivered is None or delivered > t_resp_read:
                break
            if flights == 0 or any(d is not None and last < d <= read for _, d in self.s2c):
                flights += 1
                last = read
        return flights, t_resp_delivered


class DelayProxy:
    """127.0.0.1 TCP proxy to ``target_port`` holding each chunk ``delay`` s per direction.

    Runs its own event loop in a daemon thread; ``conns`` records what it saw
    on each connection (:class:`ProxyConn`; asyncio's clock is ``time.monotonic``).
    """

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port = target_port
        self.delay = delay
        self.conns: list[ProxyConn] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        threading.Thread(target=self._main, args=(started,), daemon=True).start()
        if not started.wait(10):
            raise SystemExit("delay proxy did not start")

    def _main(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)

        async def boot() -> None:
            srv = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
            self.port = srv.sockets[0].getsockname()[1]
            started.set()

        self._loop.run_until_complete(boot())
        self._loop.run_forever()

    async def _on_client(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        rec = ProxyConn(time.monotonic())
        self.conns.append(rec)
        try:
            s_reader, s_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            c_writer.close()
            return
        for w in (c_writer, s_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(
            self._pipe(c_reader, s_writer, rec.c2s), self._pipe(s_reader, c_writer, rec.s2c), return_exceptions=True
        )
        for w in (c_writer, s_writer):
            w.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, log: list[list[float | None]]
    ) -> None:
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[tuple[float, bytes, list[float | None]]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data, entry = await q.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof() and not writer.is_closing():
                        writer.write_eof()
                    return
                if writer.is_closing():
                    return
                writer.write(data)
                entry[1] = loop.time()

        task = asyncio.create_task(deliver())
        try:
            while True:
                try:
                    data = await reader.read(65536)
                except OSError:
                    data = b""
                now = loop.time()
                entry: list[float | None] = [now, None]
                if data:
                    log.append(entry)
                q.put_nowait((now + self.delay, data, entry))
                if not data:
                    break
            await task
        except OSError:
            pass


# ------------------------------------------------------------------ clients


REQUESTS_SCRIPT = """\
import sys, requests
r = requests.get(sys.argv[1], verify=sys.argv[2])
sys.stdout.buffer.write(r.content)
sys.exit(r.status_code != 200)
"""
HTTPX_SCRIPT = """\
import ssl, sys, httpx
r = httpx.get(sys.argv[1], verify=ssl.create_default_context(cafile=sys.argv[2]))
sys.stdout.buffer.write(r.content)
sys.exit(r.status_code != 200)
"""
URLLIB_SCRIPT = """\
import ssl, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], context=ssl.create_default_context(cafile=sys.argv[2])) as r:
    sys.stdout.buffer.write(r.read())
"""

# What `get` cannot avoid importing by design (the issue names cryptography.x509.verification for the
# webpki policy and h11 for HTTP/1.1), with nothing done: the floor under https-request's row.
FLOOR_SCRIPT = """\
import argparse, socket
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x25519
from cryptography.hazmat.primitives.ciphers import aead
import cryptography.x509.verification, h11
"""

# `get` with https_request.structs replaced by its stdlib-dataclasses twin (bench/dataclass_structs.py),
# started as the console script starts it: the price of @dataclass for every value class, measured.
DATACLASSES_SCRIPT = f"""\
import sys
sys.path.insert(0, {str(ROOT / "bench")!r})
import dataclass_structs
dataclass_structs.install()
from https_request.cli import console_main
sys.argv[0] = "https-request"
sys.exit(console_main())
"""

CLIENTS = ("https-request", "curl", "requests", "httpx", "urllib")
NOPYC = "https-request, no .pyc"  # cold-table row for information: the editable install without byte-code
FLOOR = "floor: imports only"  # cold-table row for information: FLOOR_SCRIPT, no request
DATACLASSES = "https-request, dataclasses"  # cold-table row for information: get on bench/dataclass_structs.py
LAUNCH_FLOOR = "floor: launcher (true)"  # cold-table row for information: /bin/true, the launcher's RSS floor
PEERS = ("curl", "requests", "httpx", "urllib")


def client_argv(name: str, port: int, ca: str, extra: tuple[str, ...] = ()) -> list[str]:
    url = f"https://localhost:{port}/"
    resolve = f"localhost:{port}:127.0.0.1"
    if name in ("https-request", NOPYC):
        return [str(HTTPS_REQUEST), "get", "--cacert", ca, "--resolve", resolve, *extra, url]
    if name == DATACLASSES:
        return [str(VENV_PY), "-c", DATACLASSES_SCRIPT, "get", "--cacert", ca, "--resolve", resolve, *extra, url]
    if name == "curl":
        return ["curl", "-s", "-S", "--cacert", ca, "--resolve", resolve, *extra, url]
    if name == FLOOR:
        return [str(VENV_PY), "-c", FLOOR_SCRIPT]
    if name == LAUNCH_FLOOR:
        return ["true"]
    script = {"requests": REQUESTS_SCRIPT, "httpx": HTTPX_SCRIPT, "urllib": URLLIB_SCRIPT}[name]
    return [str(VENV_PY), "-c", script, url, ca]


def child_env(pycache: str | None) -> dict[str, str]:
    """The clients' environment: no proxies; byte-code cached under ``pycache``
    (None: no byte-code written at all, as with PYTHONDONTWRITEBYTECODE=1)."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    for k in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"):
        env.pop(k, None)
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


@dataclass
class Sample:
    wall: float  # s
    cpu: float  # s, user + sys
    rss_kib: int
    rc: int
    t_end: float  # time.monotonic() at the reap
    stdout: bytes = b""
    stderr: bytes = b""


# The launcher (see "Why a launcher" in the module docstring): ``python -I -S -c
# LAUNCHER RESULT ARGV...`` forks, execs ARGV in the child, reaps it and writes
# "wall_s cpu_s maxrss_kib exit_status t_end" to RESULT. If the exec fails, the
# child's OSError ends it with a traceback and status 1 (nothing else runs in it).
LAUNCHER = """\
import os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
t_end = time.monotonic()
with open(sys.argv[1], "w") as f:
    f.write(f"{wall!r} {ru.ru_utime + ru.ru_stime!r} {ru.ru_maxrss} {os.waitstatus_to_exitcode(status)} {t_end!r}")
"""


def run_child(
    argv: list[str], env: dict[str, str], capture: bool = False, *, prefix: tuple[str, ...] = (), stdin: bytes = b""
) -> Sample:
    """One fresh process through the launcher: wall (fork to reap) and its own rusage.

    ``prefix`` starts the launcher through another program (``ip netns exec NAME``:
    outside the timed span); ``stdin`` is the client's input."""
    with (
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as given,
        tempfile.TemporaryDirectory() as d,
    ):
        result = os.path.join(d, "result")
        given.write(stdin)
        given.seek(0)
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-I", "-S", "-c", LAUNCHER, result, *argv],
            stdin=given,
            stdout=out if capture else subprocess.DEVNULL,
            stderr=err,
            env=env,
            start_new_session=True,  # a timeout kills the launcher and the client together
        )
        try:
            launcher_rc = proc.wait(CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            raise SystemExit(f"{argv[0]}: no exit within {CHILD_TIMEOUT:.0f} s") from None
        err.seek(0)
        out.seek(0)
        if launcher_rc != 0:
            detail = err.read().decode(errors="replace")
            raise SystemExit(f"launcher for {argv[0]}: exit status {launcher_rc}\n{detail}")
        with open(result) as f:
            wall, cpu, rss, rc, t_end = f.read().split()
        return Sample(float(wall), float(cpu), int(rss), int(rc), float(t_end), out.read(), err.read())


def checked(sample: Sample, what: str) -> Sample:
    if sample.rc != 0:
        raise SystemExit(f"{what}: exit status {sample.rc}\n{sample.stderr.decode(errors='replace')}")
    return sample


# ------------------------------------------------------------------ cold GET


@dataclass
class Cold:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)

    def add(self, s: Sample) -> None:
        self.wall.append(s.wall)
        self.cpu.append(s.cpu)
        self.rss.append(s.rss_kib)

    def medians(self) -> dict[str, float]:
        return {
            "wall_ms": statistics.median(self.wall) * 1e3,
            "cpu_ms": statistics.median(self.cpu) * 1e3,
            "rss_mib": statistics.median(self.rss) / 1024,
        }


def expect_report(server: Server, what: str, *, resumed: bool = False, early: bool = False) -> dict[str, Any]:
    rec = server.next_report()
    if "error" in rec:
        raise SystemExit(f"{what}: server error: {rec['error']}")
    if rec["resumed"] != resumed:
        raise SystemExit(f"{what}: resumed={rec['resumed']}, wanted {resumed}: {rec}")
    if early and not (rec["early_data_accepted"] and rec["early_data"] > 0):
        raise SystemExit(f"{what}: no 0-RTT data accepted: {rec}")
    if not early and rec.get("early_data"):
        raise SystemExit(f"{what}: unexpected early data: {rec}")
    return rec


def sanity(server: Server, env: dict[str, str], clients: tuple[str, ...]) -> dict[str, Any]:
    """Each client once, body checked; https-request's --json shown."""
    port, ca = server.ports["stock"], server.ca
    info: dict[str, Any] = {}
    for name in (*clients, DATACLASSES) if "https-request" in clients else clients:
        extra: tuple[str, ...] = ()
        jpath = os.path.join(server.tmp, "sanity.json")
        if name in ("https-request", DATACLASSES):
            extra = ("--json", jpath)
        s = checked(run_child(client_argv(name, port, ca, extra), env, capture=True), f"sanity {name}")
        if s.stdout != BODY:
            raise SystemExit(f"sanity {name}: body {s.stdout[:200]!r}, wanted {BODY!r}")
        rec = expect_report(server, f"sanity {name}")
        info[name] = {k: rec[k] for k in ("version", "cipher_suite", "group", "request_line")}
        if name in ("https-request", DATACLASSES):
            with open(jpath) as f:
                info[name]["json"] = json.load(f)
    if "https-request" in clients:  # the dataclasses row does run on dataclasses
        probe = DATACLASSES_SCRIPT.split("from https_request.cli")[0] + (
            "import dataclasses\nfrom https_request.tls.config import ClientConfig\n"
            "print(dataclasses.is_dataclass(ClientConfig))\n"
        )
        res = subprocess.run([str(VENV_PY), "-c", probe], capture_output=True, text=True, env=env)
        if res.stdout.strip() != "True":
            raise SystemExit(f"sanity {DATACLASSES}: value classes are not dataclasses\n{res.stderr}")
    return info


def cold_table(
    server: Server, env: dict[str, str], runs: int, clients: tuple[str, ...], nopyc_env: dict[str, str] | None
) -> dict[str, Cold]:
    port, ca = server.ports["stock"], server.ca
    if nopyc_env is not None and "https-request" in clients:
        clients = (*clients, NOPYC)
    if "https-request" in clients:
        clients = (*clients, DATACLASSES, FLOOR)
    clients = (*clients, LAUNCH_FLOOR)
    res = {name: Cold() for name in clients}
    for i in range(WARMUP + runs):
        for name in clients:
            e = nopyc_env if name == NOPYC and nopyc_env is not None else env
            s = checked(run_child(client_argv(name, port, ca), e), f"cold {name}")
            if name not in (FLOOR, LAUNCH_FLOOR):  # the floors make no request
                expect_report(server, f"cold {name}")
            if i >= WARMUP:
                res[name].add(s)
        print(f"\r  cold round {i + 1}/{WARMUP + runs}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return res


# ------------------------------------------------------------------ round trips


@dataclass(frozen=True)
class Case:
    label: str
    client: str
    server: str = "half-rtt"
    session: bool = False
    early: bool = False
    peer: bool = False
    target: str = ""


CASES = (
    Case("https-request full handshake", "https-request"),
    Case("https-request resumed (--session)", "https-request", session=True),
    Case("https-request 0-RTT (--session --early-data)", "https-request", session=True, early=True, target="== 2"),
    Case("https-request 0-RTT, stock server (no 0.5-RTT)", "https-request", server="stock", session=True, early=True),
    Case("curl full handshake", "curl", peer=True, target=">= 3"),
    Case("requests full handshake", "requests", peer=True, target=">= 3"),
    Case("httpx full handshake", "httpx", peer=True, target=">= 3"),
    Case("urllib full handshake", "urllib", peer=True, target=">= 3"),
)


@dataclass
class RttResult:
    case: Case
    base_wall: list[float] = field(default_factory=list)
    base_ttr: list[float] = field(default_factory=list)
    prox_wall: list[float] = field(default_factory=list)
    prox_ttr: list[float] = field(default_factory=list)
    base_exit: list[float] = field(default_factory=list)  # connect to exit
    prox_exit: list[float] = field(default_factory=list)
    early_bytes: list[int] = field(default_factory=list)
    half_rtt: list[bool] = field(default_factory=list)
    flights: list[int] = field(default_factory=list)

    def rtts(self, rtt: float) -> dict[str, Any]:
        bt, be = statistics.median(self.base_ttr), statistics.median(self.base_exit)
        to_resp = statistics.median([(t - bt) / rtt + 1 for t in self.prox_ttr])
        to_exit = statistics.median([(e - be) / rtt + 1 for e in self.prox_exit])
        bw = statistics.median(self.base_wall)
        return {
            "by_flights": round(statistics.median(self.flights)) + 1,
            "flights_seen": sorted(set(self.flights)),
            "to_response": to_resp,
            "to_exit": to_exit,
            "to_response_rounded": round(to_resp),
            "to_exit_rounded": round(to_exit),
            "base_ttr_ms": bt * 1e3,
            "base_wall_ms": bw * 1e3,
            "proxied_ttr_ms": statistics.median(self.prox_ttr) * 1e3,
            "proxied_wall_ms": statistics.median(self.prox_wall) * 1e3,
        }


def rtt_phase(server: Server, env: dict[str, str], runs: int, rtt: float, clients: tuple[str, ...]) -> list[RttResult]:
    ca = server.ca
    proxies = {kind: DelayProxy(port, rtt / 2) for kind, port in server.ports.items()}
    session = os.path.join(server.tmp, "session.bin")
    results = []
    for case in (c for c in CASES if c.client in clients):
        r = RttResult(case)
        for i in range(runs + 1):  # run 0: warm-up, not recorded
            for proxied in (False, True):
                port = proxies[case.server].port if proxied else server.ports[case.server]
                extra: tuple[str, ...] = ()
                if case.session:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(session)
                    checked(
                        run_child(client_argv(case.client, port, ca, ("--session", session)), env),
                        f"{case.label}: priming the session",
                    )
                    expect_report(server, f"{case.label}: priming the session")
                    extra = ("--session", session, "--early-data") if case.early else ("--session", session)
                s = checked(run_child(client_argv(case.client, port, ca, extra), env), case.label)
                rec = expect_report(server, case.label, resumed=case.session, early=case.early)
                if proxied:
                    pconn = proxies[case.server].conns[-1]
                    seen = pconn.response(rec["t_response_start"])
                    if seen is None:
                        raise SystemExit(f"{case.label}: the proxy did not see the response go by")
                    flights, delivered = seen
                    ttr = delivered - pconn.t_accept
                    after_connect = s.t_end - pconn.t_accept
                else:
                    ttr = rec["t_response"] - rec["t_accept"]
                    after_connect = s.t_end - rec["t_accept"]
                if i == 0:
                    continue
                (r.prox_wall if proxied else r.base_wall).append(s.wall)
                (r.prox_ttr if proxied else r.base_ttr).append(ttr)
                (r.prox_exit if proxied else r.base_exit).append(after_connect)
                if proxied:
                    r.flights.append(flights)
                    r.early_bytes.append(rec.get("early_data", 0))
                    r.half_rtt.append(bool(rec.get("half_rtt")))
        results.append(r)
        print(f"  rtt: {case.label} done", file=sys.stderr, flush=True)
    return results


# ------------------------------------------------------------------ report


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform(), "cpus": str(os.cpu_count())}
    try:
        out["curl"] = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    except OSError:
        out["curl"] = "?"
    probe = (
        "import importlib.metadata as m\n"
        "for p in ('https-request', 'cryptography', 'requests', 'urllib3', 'httpx', 'httpcore', 'h11'):\n"
        "    print(p, m.version(p))\n"
    )
    res = subprocess.run([str(VENV_PY), "-c", probe], capture_output=True, text=True)
    for line in res.stdout.splitlines():
        k, v = line.split()
        out[k] = v
    try:
        out["git"] = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        pass
    return out


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report_cold(cold: dict[str, Cold], runs: int) -> tuple[list[str], dict[str, Any]]:
    med = {name: c.medians() for name, c in cold.items()}
    if "requests" not in med:
        raise SystemExit("the cold table needs requests among --clients")
    ref = med["requests"]
    lines = [
        f"Fresh-process GET on loopback, {runs} runs per client (medians; ratios vs python requests)",
        f"{'client':<28}{'wall ms':>9}{'CPU ms':>9}{'RSS MiB':>9}{'wall/req':>10}{'CPU/req':>9}{'RSS/req':>9}",
    ]
    data: dict[str, Any] = {}
    for name in med:
        m = med[name]
        ratio = {k: m[k] / ref[k] for k in m}
        data[name] = {
            "median": m,
            "ratio_vs_requests": ratio,
            "wall_ms": [x * 1e3 for x in cold[name].wall],
            "cpu_ms": [x * 1e3 for x in cold[name].cpu],
            "rss_kib": cold[name].rss,
        }
        lines.append(
            f"{name:<28}{m['wall_ms']:>9.1f}{m['cpu_ms']:>9.1f}{m['rss_mib']:>9.1f}"
            f"{ratio['wall_ms']:>9.2f}x{ratio['cpu_ms']:>8.2f}x{ratio['rss_mib']:>8.2f}x"
        )
    if "https-request" not in data:
        return lines, {"clients": data}
    ours = data["https-request"]["ratio_vs_requests"]
    targets = {
        "wall": {"target": TARGET_WALL, "ratio": ours["wall_ms"], "pass": ours["wall_ms"] <= TARGET_WALL},
        "rss": {"target": TARGET_RSS, "ratio": ours["rss_mib"], "pass": ours["rss_mib"] <= TARGET_RSS},
    }
    lines.append(
        f"target: https-request wall <= {TARGET_WALL:.2f}x requests: "
        f"{verdict(targets['wall']['pass'])} ({ours['wall_ms']:.2f}x)"
    )
    lines.append(
        f"target: https-request peak RSS <= {TARGET_RSS:.2f}x requests: "
        f"{verdict(targets['rss']['pass'])} ({ours['rss_mib']:.2f}x)"
    )
    return lines, {"clients": data, "targets": targets}


def report_rtt(results: list[RttResult], rtt: float, runs: int) -> tuple[list[str], dict[str, Any]]:
    lines = [
        f"Round trips through a {rtt * 1e3:.0f} ms RTT delay proxy, {runs} runs per case "
        "(medians; the +1 RTT of TCP connect included)",
        f"{'case':<47}{'server':>9}{'flights':>9}{'to resp':>9}{'(raw)':>7}{'to exit':>9}{'(raw)':>7}"
        f"{'base ttr':>10}{'0-RTT B':>9}{'0.5-RTT':>9}  target",
    ]
    data: dict[str, Any] = {}
    peers_ok = True
    zero_ok = None
    for r in results:
        m = r.rtts(rtt)
        c = r.case
        ok = None
        both = (m["by_flights"], m["to_response_rounded"])
        if c.peer:
            ok = min(both) >= TARGET_PEER_MIN
            peers_ok = peers_ok and ok
        elif c.target:
            ok = both == (TARGET_0RTT, TARGET_0RTT)
            zero_ok = ok
        early = statistics.median(r.early_bytes) if r.early_bytes else 0
        half = f"{sum(r.half_rtt)}/{len(r.half_rtt)}"
        lines.append(
            f"{c.label:<47}{c.server:>9}{m['by_flights']:>9d}{m['to_response_rounded']:>9d}{m['to_response']:>7.2f}"
            f"{m['to_exit_rounded']:>9d}{m['to_exit']:>7.2f}{m['base_ttr_ms']:>8.1f}ms{early:>9.0f}{half:>9}"
            f"  {c.target + ' ' + verdict(ok) if ok is not None else ''}"
        )
        data[c.label] = {
            **m,
            "client": c.client,
            "server": c.server,
            "session": c.session,
            "early_data": c.early,
            "early_bytes": r.early_bytes,
            "response_as_half_rtt_data": r.half_rtt,
            "target": c.target or None,
            "pass": ok,
            "samples_ms": {
                "base_wall": [x * 1e3 for x in r.base_wall],
                "base_ttr": [x * 1e3 for x in r.base_ttr],
                "proxied_wall": [x * 1e3 for x in r.prox_wall],
                "proxied_ttr": [x * 1e3 for x in r.prox_ttr],
                "base_connect_to_exit": [x * 1e3 for x in r.base_exit],
                "proxied_connect_to_exit": [x * 1e3 for x in r.prox_exit],
            },
        }
    lines += [
        "flights: client flights the response waited for, counted by the proxy, +1; to resp / to exit: "
        "(proxied - median direct) / RTT + 1, TCP accept to the response's delivery / to the process exit; "
        "0.5-RTT: proxied runs whose response left before the client's Finished",
        f"target: 0-RTT from a saved session, response after {TARGET_0RTT} round trips (both measures): "
        + ("not run" if zero_ok is None else verdict(zero_ok)),
        f"target: every peer needs >= {TARGET_PEER_MIN} round trips (both measures): {verdict(peers_ok)}",
    ]
    return lines, {"cases": data, "targets": {"zero_rtt": zero_ok, "peers": peers_ok}}


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=15, help="fresh-process runs per client (default 15)")
    ap.add_argument("--rtt-runs", type=int, default=7, help="runs per round-trip case, each way (default 7)")
    ap.add_argument("--rtt-ms", type=float, default=50.0, help="round-trip time of the delay proxy (default 50)")
    ap.add_argument("--json", metavar="FILE", help="write all samples and results as JSON")
    ap.add_argument(
        "--clients", default=",".join(CLIENTS), help=f"comma-separated subset of {','.join(CLIENTS)} (default: all)"
    )
    ap.add_argument(
        "--no-nopyc-row", action="store_true", help="leave out the 'https-request, no .pyc' row of the cold table"
    )
    ap.add_argument("--skip-cold", action="store_true", help="only the round-trip table")
    ap.add_argument("--skip-rtt", action="store_true", help="only the fresh-process table")
    ap.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    clients = tuple(c for c in CLIENTS if c in args.clients.split(","))
    if set(args.clients.split(",")) - set(CLIENTS):
        ap.error(f"--clients: choose from {','.join(CLIENTS)}")
    for tool in (HTTPS_REQUEST, VENV_PY) if "https-request" in clients else (VENV_PY,):
        if not tool.exists():
            raise SystemExit(f"missing {tool}: make the venv first")
    if "curl" in clients and shutil.which("curl") is None:
        raise SystemExit("curl not found")
    tmp = tempfile.mkdtemp(prefix="hrq-cold-get-")
    env = child_env(os.path.join(tmp, "pycache"))
    nopyc_env = None if args.no_nopyc_row else child_env(None)
    server = Server(tmp)
    out: dict[str, Any] = {"env": versions(), "rtt_ms": args.rtt_ms, "runs": args.runs, "rtt_runs": args.rtt_runs}
    text: list[str] = []
    out["loadavg_start"] = os.getloadavg()
    try:
        out["sanity"] = sanity(server, env, clients)
        if not args.skip_cold:
            cold = cold_table(server, env, args.runs, clients, nopyc_env)
            lines, out["cold"] = report_cold(cold, args.runs)
            text += [*lines, ""]
            print("\n".join(lines) + "\n", flush=True)
        if not args.skip_rtt:
            results = rtt_phase(server, env, args.rtt_runs, args.rtt_ms / 1e3, clients)
            lines, out["rtt"] = report_rtt(results, args.rtt_ms / 1e3, args.rtt_runs)
            text += lines
            print("\n".join(lines), flush=True)
        out["loadavg_end"] = os.getloadavg()
        load = (
            f"load average (1 min) at start {out['loadavg_start'][0]:.2f}, at end {out['loadavg_end'][0]:.2f} "
            f"on {os.cpu_count()} CPUs"
        )
        text.append(load)
        print(load, flush=True)
        leftover = server.drain()
        if leftover:
            out["server_leftover_reports"] = leftover
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        out["table"] = text
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
