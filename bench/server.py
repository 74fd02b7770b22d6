"""Handshakes per server CPU-second: ``https-request serve`` against a stdlib-ssl asyncio server.

Run as ``.venv/bin/python bench/server.py [--seconds S] [--batches N] [--json FILE]``.
It is a bench, not a timed test: read the numbers as ratios taken in the same run.

Servers (each its own process, all started at the beginning, all idle but one at a time)
-----------------------------------------------------------------------------------------
The certificate is a fresh ECDSA P-256 leaf for ``localhost`` under a fresh P-256
test CA (``tests/certs.py``), PEMs in a temp dir.

* ``ours``: ``python -m https_request serve --host 127.0.0.1 --port 0 --cert
  cert.pem --key key.pem --tls-version 1.3 --ciphers TLS_AES_128_GCM_SHA256
  --groups x25519`` (one worker, in-memory ticket keys, tickets on: the
  server sends two NewSessionTickets per connection, which ``serve`` fixes);
* ``stdlib``: this script re-run with ``--serve-stdlib DIR``: an
  ``asyncio.start_server(..., ssl=ctx)`` server, ``ctx`` an
  ``ssl.SSLContext(PROTOCOL_TLS_SERVER)`` with the same cert/key, TLS 1.3 only,
  ``num_tickets = --stdlib-tickets`` (default 2, the number ``serve`` sends, so both
  do the same work; ``--stdlib-tickets 1`` is OpenSSL's usual single ticket), and
  ``OPENSSL_CONF`` in its environment naming a file whose ``system_default``
  section says ``Ciphersuites = TLS_AES_128_GCM_SHA256`` (Python 3.11 cannot
  choose TLS 1.3 suites). Its group is OpenSSL 3.0's default first choice,
  x25519 (the client only sends an x25519 key share). Each connection reads the
  request head, answers the same bytes as ``serve`` (``HTTP/1.1 200 OK``,
  ``Connection: close``, ``Content-Length: 0``, ``Date``), closes with close_notify
  and logs one line on stderr, like ``serve``. Its listening socket is made with
  ``IPPROTO_TCP`` as the protocol, so asyncio sets TCP_NODELAY on its connections as
  on ``serve``'s (with protocol 0 it does not, and each answer, queued behind the
  unacknowledged tickets, waits ~40 ms for the client's delayed ACK);
* ``ours-w1`` / ``ours-w2``: ``serve`` as ``ours`` plus ``--ticket-keys FILE`` and
  ``--workers 1`` / ``--workers 2`` (the key file shares tickets between workers),
  for the wall-clock throughput rows only.

Load generator
--------------
``--clients`` processes (this script re-run with ``--loadgen CA``), each with
``--threads`` threads, driven over stdin/stdout. Every connection is a fresh
TCP connection through one stdlib client context per process (OpenSSL does the
work in C, without the GIL; the context verifies the chain and ``localhost``,
TLS 1.3 only): handshake, ``GET / HTTP/1.1``, read until close_notify, check
the answer (``200``), ``version()``, ``cipher()`` and ``session_reused``,
``unwrap()`` (our close_notify) and close. *Full* connections offer no
session; *resumed* ones offer the session of the thread's previous connection
(``SSLSocket.session``, read after the response so the TLS 1.3 tickets have
arrived), chained; a resumed run is primed with one full connection per thread
before the clock starts, and a connection that did not resume counts as a
failure, not a handshake.

What is measured
----------------
A batch runs one server and one mode for ``--seconds`` of wall time. The
server's CPU is ``utime + stime`` from ``/proc/PID/stat`` (the worker processes
and their parent for ``--workers 2``), read just before the clients start and
0.3 s after they stop (the server is idle then). Handshakes are the
connections the clients completed and checked. Rows:

* gated, one worker: handshakes per server CPU-second, ours and stdlib, batches
  interleaved (ours then stdlib, full then resumed), medians of ``--batches``;
  ratio ours/stdlib, target >= 0.5x for full and for resumed;
* reported: ours' wall-clock handshakes per second with ``--workers 1`` and
  ``--workers 2`` and their ratio. The machine's cores are shared with the load
  generator, so that ratio says little about scaling and is not gated.

The load generator is the stdlib client, so it costs what OpenSSL 3.0 costs: about
1.5 ms of client CPU per connection here, about as much as a server. On two
cores that, not the server, bounds the wall-clock rows (the JSON records the
client CPU per handshake and the server cores used).

``--profile FILE`` runs ``ours`` under cProfile (``python -m cProfile -o FILE``)
and prints its top functions at the end; its table numbers are then slowed by
the profiler. (py-spy, if at hand, samples without that cost; use ``--gil``,
or a server thread descheduled inside ``send()`` while the client it woke runs
is counted as busy.)

Checks (the run aborts when one fails): a sanity connection per server and
mode reads the ServerHello's key_share (x25519) and counts the
NewSessionTickets through ``SSLContext._msg_callback`` and compares the
answers' bytes (the ``Date`` value aside); every timed connection checks
version, suite and resumption; at the end, every server's log lines must say
TLS 1.3, TLS_AES_128_GCM_SHA256, status 200, no error, group x25519 (ours;
the stdlib server cannot see its group) and as many resumed connections as
the clients saw.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

_ROOT = Path(__file__).resolve().parent.parent
SERVER_NAME = "localhost"
HOST = "127.0.0.1"
SUITE = "TLS_AES_128_GCM_SHA256"
GROUP_X25519 = 0x001D
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench/server.py\r\n\r\n"
TARGET = 0.5
SETTLE = 0.3  # seconds between the clients' last close and the second CPU reading
MODES = ("full", "resumed")

_OPENSSL_CNF = """\
# Written by bench/server.py: the TLS 1.3 suite of the stdlib ssl server.
openssl_conf = openssl_init

[openssl_init]
ssl_conf = ssl_sect

[ssl_sect]
system_default = system_default_sect

[system_default_sect]
Ciphersuites = TLS_AES_128_GCM_SHA256
"""


# ====================================================================== stdlib server (subprocess)


def serve_stdlib(folder: str, tickets: int) -> None:
    """The stdlib-ssl server: prints ``listening: https://HOST:PORT/``, logs a line per connection."""
    import asyncio
    import socket
    import ssl
    from email.utils import formatdate

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.num_tickets = tickets

    def log(line: str) -> None:
        sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
        sys.stderr.flush()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        start = time.monotonic()
        host, port = writer.get_extra_info("peername")[:2]
        sslobj = writer.get_extra_info("ssl_object")
        fields = [f"worker=0 peer={host}:{port}"]
        if sslobj is not None:
            fields.append(
                f"version={sslobj.version()} suite={sslobj.cipher()[0]} group=- "
                f"resumed={'yes' if sslobj.session_reused else 'no'}"
            )
        try:
            async with asyncio.timeout(20):
                head = await reader.readuntil(b"\r\n\r\n")
            method, target = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[:2]
            date = formatdate(usegmt=True).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\nDate: " + date + b"\r\n\r\n")
            await writer.drain()
            fields.append(f'request="{method} {target}" status=200')
        except (OSError, EOFError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            fields.append(f'error="{type(exc).__name__}: {exc}"')
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ssl.SSLError):
                pass
            fields.append(f"ms={(time.monotonic() - start) * 1000:.1f}")
            log(" ".join(fields))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # proto: asyncio sets NODELAY
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        sock.listen(1024)
        server = await asyncio.start_server(handle, sock=sock, ssl=ctx, limit=65536)
        print(f"listening: https://{HOST}:{sock.getsockname()[1]}/", flush=True)
        await stop.wait()
        server.close()

    asyncio.run(main())


# ====================================================================== load generator (subprocess)


def _client_context(ca_file: str) -> Any:
    import ssl

    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def one_connection(ctx: Any, port: int, session: Any = None, keep: bool = True) -> tuple[bytes, Any, bool, str, str]:
    """One connection: handshake, GET, read to close_notify, close. Returns
    (answer, the session to resume next (None unless ``keep``), session_reused, version, suite)."""
    import socket

    raw = socket.create_connection((HOST, port))
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(raw, server_hostname=SERVER_NAME, session=session)
        s.sendall(REQUEST)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
        answer = b"".join(chunks)
        reused, version, suite = s.session_reused, s.version(), s.cipher()[0]
        new_session = s.session if keep else None
        try:
            s.unwrap()
        except OSError:
            pass
        return answer, new_session, reused, version, suite
    finally:
        raw.close()


@dataclass
class _Counts:
    ok: int = 0
    reused: int = 0
    failed: int = 0
    first_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, why: str) -> None:
        with self.lock:
            self.failed += 1
            self.first_error = self.first_error or why


def loadgen(ca_file: str, threads: int) -> None:
    """Commands on stdin (JSON lines), one JSON answer line each on stdout.

    ``{"op": "prime", "port": P}``: one full connection per thread, keep its session.
    ``{"op": "run", "port": P, "mode": "full"|"resumed", "seconds": S}``: connections until S elapse.
    """
    ctx = _client_context(ca_file)
    sessions: dict[int, list[Any]] = {}

    def check(answer: bytes, version: str, suite: str) -> str:
        if not answer.startswith(b"HTTP/1.1 200 OK\r\n"):
            return f"bad answer {answer[:40]!r}"
        if version != "TLSv1.3" or suite != SUITE:
            return f"negotiated {version} {suite}"
        return ""

    def worker(index: int, port: int, mode: str, deadline: float, counts: _Counts) -> None:
        resumed = mode == "resumed"
        while time.monotonic() < deadline:
            offer = sessions[port][index] if resumed else None
            try:
                answer, session, reused, version, suite = one_connection(ctx, port, offer, keep=resumed)
            except OSError as exc:  # ssl.SSLError included
                counts.fail(f"{type(exc).__name__}: {exc}")
                continue
            bad = check(answer, version, suite)
            if not bad and reused != resumed:
                bad = f"session_reused={reused} in a {mode} run"
            if bad:
                counts.fail(bad)
                continue
            if resumed:
                if session is None:
                    counts.fail("no session to resume")
                    continue
                sessions[port][index] = session
            with counts.lock:
                counts.ok += 1
                counts.reused += reused

    def prime(port: int) -> _Counts:
        counts = _Counts()
        sessions[port] = [None] * threads

        def one(index: int) -> None:
            try:
                answer, session, _, version, suite = one_connection(ctx, port)
            except OSError as exc:
                counts.fail(f"{type(exc).__name__}: {exc}")
                return
            bad = check(answer, version, suite)
            if bad or session is None:
                counts.fail(bad or "no session")
                return
            sessions[port][index] = session
            with counts.lock:
                counts.ok += 1

        pool = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return counts

    for line in sys.stdin:
        cmd = json.loads(line)
        start = time.monotonic()
        if cmd["op"] == "quit":
            return
        if cmd["op"] == "prime":
            counts = prime(cmd["port"])
        else:
            counts = _Counts()
            deadline = start + cmd["seconds"]
            pool = [
                threading.Thread(target=worker, args=(i, cmd["port"], cmd["mode"], deadline, counts))
                for i in range(threads)
            ]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
        wall = time.monotonic() - start
        out = {"ok": counts.ok, "reused": counts.reused, "failed": counts.failed,
               "first_error": counts.first_error, "wall": wall}  # fmt: skip
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


# ====================================================================== the bench (main process)


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    rest = stat[stat.rindex(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / _TICK


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                out.append(int(entry))
    return out


@dataclass
class ServerProc:
    """A running server: its process, port, the pids whose CPU counts, its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    pids: list[int]
    log_path: Path
    log_file: IO[bytes]
    clients_ok: int = 0  # every connection the clients completed against it (log check)
    clients_reused: int = 0

    def cpu(self) -> float:
        return sum(_cpu_seconds(pid) for pid in self.pids)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def _start_server(name: str, argv: list[str], folder: Path, env: dict[str, str], workers: int) -> ServerProc:
    log_path = folder / f"{name}.log"
    log_file = open(log_path, "wb")  # closed by ServerProc.stop
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()  # serve prints its listening line once the socket is up
    m = re.match(r"listening: https://[^:]+:(\d+)/", line)
    if not m:
        proc.kill()
        raise SystemExit(f"{name}: no listening line ({line!r}); log: {log_path.read_text()[-2000:]}")
    pids = [proc.pid]
    if workers > 1:
        for _ in range(100):
            kids = _children(proc.pid)
            if len(kids) == workers:
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"{name}: expected {workers} worker processes, found {kids}")
        pids += kids
    return ServerProc(name, proc, int(m.group(1)), pids, log_path, log_file)


class LoadGen:
    """The client processes."""

    def __init__(self, ca_file: Path, clients: int, threads: int) -> None:
        argv = [sys.executable, str(Path(__file__).resolve()), "--loadgen", str(ca_file), "--threads", str(threads)]
        self.procs = [
            subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
            for _ in range(clients)
        ]

    def _all(self, cmd: dict[str, Any]) -> list[dict[str, Any]]:
        for p in self.procs:
            assert p.stdin is not None
            p.stdin.write(json.dumps(cmd) + "\n")
            p.stdin.flush()
        out = []
        for p in self.procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if not line:
                raise SystemExit(f"load generator {p.pid} died (exit {p.wait()})")
            out.append(json.loads(line))
        return out

    def cpu(self) -> float:
        return sum(_cpu_seconds(p.pid) for p in self.procs)

    def prime(self, server: ServerProc) -> None:
        res = self._all({"op": "prime", "port": server.port})
        failed = [r["first_error"] for r in res if r["failed"]]
        if failed:
            raise SystemExit(f"{server.name}: priming failed: {failed[0]}")
        server.clients_ok += sum(r["ok"] for r in res)

    def run(self, server: ServerProc, mode: str, seconds: float) -> dict[str, Any]:
        """One batch: server CPU and client CPU around it, handshakes, wall."""
        if mode == "resumed":
            self.prime(server)
        cpu0, ccpu0 = server.cpu(), self.cpu()
        res = self._all({"op": "run", "port": server.port, "mode": mode, "seconds": seconds})
        time.sleep(SETTLE)
        cpu = server.cpu() - cpu0
        ccpu = self.cpu() - ccpu0
        ok = sum(r["ok"] for r in res)
        reused = sum(r["reused"] for r in res)
        failed = sum(r["failed"] for r in res)
        server.clients_ok += ok
        server.clients_reused += reused
        if failed:
            errors = [r["first_error"] for r in res if r["first_error"]]
            raise SystemExit(f"{server.name} {mode}: {failed} failed connections, e.g. {errors[0]}")
        if ok == 0 or cpu <= 0:
            raise SystemExit(f"{server.name} {mode}: nothing measured (ok={ok}, cpu={cpu})")
        wall = max(r["wall"] for r in res)
        return {"handshakes": ok, "reused": reused, "server_cpu": cpu, "client_cpu": ccpu, "wall": wall,
                "per_cpu_s": ok / cpu, "per_wall_s": ok / wall, "client_cpu_per_hs_ms": ccpu / ok * 1000}  # fmt: skip

    def close(self) -> None:
        for p in self.procs:
            try:
                assert p.stdin is not None
                p.stdin.write('{"op": "quit"}\n')
                p.stdin.close()
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# ---------------------------------------------------------------------- sanity and log checks


def _server_hello_group(msg: bytes) -> int | None:
    """The key_share group of a TLS 1.3 ServerHello or HelloRetryRequest (handshake
    header included), read with the project's own codec."""
    from https_request.tls.enums import ExtensionType
    from https_request.tls.extensions import decode_key_share_hrr, decode_key_share_server
    from https_request.tls.messages import HRR_RANDOM, ServerHello

    if len(msg) < 4 or msg[0] != 2:
        return None
    hello = ServerHello.decode(msg[4:])
    share = hello.ext(ExtensionType.key_share)
    if share is None:
        return None
    return decode_key_share_hrr(share) if hello.random == HRR_RANDOM else decode_key_share_server(share)[0]


def sanity(server: ServerProc, ca_file: Path) -> dict[str, Any]:
    """A full then a resumed connection, watched through the client's message callback."""
    ctx = _client_context(str(ca_file))
    seen: dict[str, Any] = {"groups": [], "tickets": 0}

    def on_msg(conn: Any, direction: str, ver: Any, ctype: Any, mtype: Any, data: bytes) -> None:
        if direction != "read" or int(ctype) != 22 or not data:
            return
        if data[0] == 2:
            seen["groups"].append(_server_hello_group(data))
        elif data[0] == 4:
            seen["tickets"] += 1

    ctx._msg_callback = on_msg  # private, debugging only: the sanity check, never in timed runs
    info: dict[str, Any] = {}
    session = None
    for mode in MODES:
        seen["groups"], seen["tickets"] = [], 0
        answer, session, reused, version, suite = one_connection(ctx, server.port, session)
        server.clients_ok += 1
        server.clients_reused += reused
        info[mode] = {
            "version": version, "suite": suite, "resumed": reused, "groups": [hex(g or 0) for g in seen["groups"]],
            "tickets": seen["tickets"], "answer": re.sub(rb"Date: [^\r]*", b"Date: *", answer).decode("latin-1"),
        }  # fmt: skip
        want = {"version": "TLSv1.3", "suite": SUITE, "resumed": mode == "resumed", "groups": [hex(GROUP_X25519)]}
        bad = {k: (info[mode][k], v) for k, v in want.items() if info[mode][k] != v}
        if bad or session is None:
            raise SystemExit(f"{server.name} sanity ({mode}) failed (got, wanted): {bad or 'no session'}")
    return info


_FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')


def check_log(server: ServerProc, want_version: str, want_group: str | None) -> dict[str, Any]:
    """Count the server's log lines by what they say; compare with what the clients saw."""
    lines = [ln for ln in server.log_path.read_text(errors="replace").splitlines() if " peer=" in ln]
    summary: dict[str, int] = {}
    problems = []
    resumed = 0
    for ln in lines:
        f = {k: v.strip('"') for k, v in _FIELD.findall(ln)}
        key = (f"version={f.get('version')} suite={f.get('suite')} group={f.get('group')} "
               f"status={f.get('status')}" + (f" error={f['error']}" if "error" in f else ""))  # fmt: skip
        summary[key] = summary.get(key, 0) + 1
        resumed += f.get("resumed") == "yes"
        if (
            f.get("version") != want_version or f.get("suite") != SUITE or f.get("status") != "200" or "error" in f
            or (want_group is not None and f.get("group") != want_group)
        ):  # fmt: skip
            problems.append(ln)
    if len(lines) != server.clients_ok:
        problems.append(f"{len(lines)} log lines for {server.clients_ok} client connections")
    if resumed != server.clients_reused:
        problems.append(f"{resumed} resumed in the log, {server.clients_reused} seen by the clients")
    return {"lines": len(lines), "resumed": resumed, "by_kind": summary, "problems": problems[:5]}


# ---------------------------------------------------------------------- main


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def run_bench(args: argparse.Namespace) -> int:
    for p in (_ROOT / "src", _ROOT / "tests"):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))
    from certs import make_ca, make_leaf  # tests/certs.py: the project's certificate factory

    folder = Path(tempfile.mkdtemp(prefix="hrq-bench-server-"))
    if not args.keep:
        atexit.register(shutil.rmtree, folder, True)
    ca = make_ca("p256", name="Bench Server Root CA")
    leaf = make_leaf(ca, [SERVER_NAME], key_type="p256")
    for name, data in (("ca.pem", ca.cert_pem), ("cert.pem", leaf.chain_pem), ("key.pem", leaf.key_pem)):
        (folder / name).write_bytes(data)
    (folder / "openssl.cnf").write_text(_OPENSSL_CNF)

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(_ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("OPENSSL_CONF", None)
    serve = [sys.executable, "-m", "https_request", "serve", "--host", HOST, "--port", "0",
             "--cert", str(folder / "cert.pem"), "--key", str(folder / "key.pem"),
             "--tls-version", "1.3", "--ciphers", SUITE, "--groups", "x25519"]  # fmt: skip
    me = str(Path(__file__).resolve())
    stdlib_env = dict(env, OPENSSL_CONF=str(folder / "openssl.cnf"))
    stdlib_argv = [sys.executable, me, "--serve-stdlib", str(folder), "--stdlib-tickets", str(args.stdlib_tickets)]

    servers: list[ServerProc] = []
    gen: LoadGen | None = None
    try:
        profiled = [sys.executable, "-m", "cProfile", "-o", args.profile, *serve[1:]] if args.profile else serve
        ours = _start_server("ours", [*profiled, "--workers", "1"], folder, env, 1)
        servers.append(ours)
        std = _start_server("stdlib", stdlib_argv, folder, stdlib_env, 1)
        servers.append(std)
        w1 = _start_server("ours-w1", [*serve, "--workers", "1", "--ticket-keys", str(folder / "keys1")],
                           folder, env, 1)  # fmt: skip
        servers.append(w1)
        w2 = _start_server("ours-w2", [*serve, "--workers", "2", "--ticket-keys", str(folder / "keys2")],
                           folder, env, 2)  # fmt: skip
        servers.append(w2)

        checks = {s.name: sanity(s, folder / "ca.pem") for s in servers}
        answers = {s: {m: checks[s][m]["answer"] for m in MODES} for s in checks}
        if answers["stdlib"] != answers["ours"]:
            raise SystemExit(f"the servers' answers differ: {answers}")
        gen = LoadGen(folder / "ca.pem", args.clients, args.threads)

        print(f"warm-up ({args.warmup:g} s per server and mode)...", flush=True)
        for s in servers:
            for mode in MODES:
                gen.run(s, mode, args.warmup)

        raw: dict[str, dict[str, list[dict[str, Any]]]] = {s.name: {m: [] for m in MODES} for s in servers}
        for b in range(args.batches):
            for mode in MODES:
                for s in (ours, std):
                    r = gen.run(s, mode, args.seconds)
                    raw[s.name][mode].append(r)
                    print(f"batch {b + 1}/{args.batches} {mode:7} {s.name:7} {r['handshakes']:6d} hs "
                          f"{r['server_cpu']:6.2f} server CPU-s  {r['per_cpu_s']:7.1f} hs/CPU-s  "
                          f"{r['per_wall_s']:7.1f} hs/s  client {r['client_cpu_per_hs_ms']:.2f} CPU-ms/hs",
                          flush=True)  # fmt: skip
        for b in range(args.batches):
            for mode in MODES:
                for s in (w1, w2):
                    r = gen.run(s, mode, args.seconds)
                    raw[s.name][mode].append(r)
                    print(f"batch {b + 1}/{args.batches} {mode:7} {s.name:7} {r['handshakes']:6d} hs "
                          f"{r['per_wall_s']:7.1f} hs/s  server CPU {r['server_cpu'] / r['wall']:.2f} cores",
                          flush=True)  # fmt: skip
    finally:
        if gen is not None:
            gen.close()
        for s in servers:
            s.stop()

    logs = {
        s.name: check_log(s, "TLSv1.3" if s.name == "stdlib" else "TLS1.3", None if s.name == "stdlib" else "x25519")
        for s in servers
    }

    def med(name: str, mode: str, key: str) -> float:
        return float(statistics.median(r[key] for r in raw[name][mode]))

    gated = []
    for mode in MODES:
        o, st = med("ours", mode, "per_cpu_s"), med("stdlib", mode, "per_cpu_s")
        pair = statistics.median(
            a["per_cpu_s"] / b["per_cpu_s"] for a, b in zip(raw["ours"][mode], raw["stdlib"][mode], strict=True)
        )
        gated.append({"mode": mode, "ours_per_cpu_s": o, "stdlib_per_cpu_s": st, "ratio": _ratio(o, st),
                      "ratio_of_pairs": pair, "target": TARGET, "pass": _ratio(o, st) >= TARGET,
                      "ours_wall_per_s": med("ours", mode, "per_wall_s"),
                      "stdlib_wall_per_s": med("stdlib", mode, "per_wall_s"),
                      "client_cpu_per_hs_ms": {n: med(n, mode, "client_cpu_per_hs_ms")
                                               for n in ("ours", "stdlib")}})  # fmt: skip
    scaling = []
    for mode in MODES:
        one, two = med("ours-w1", mode, "per_wall_s"), med("ours-w2", mode, "per_wall_s")
        cores = {n: med(n, mode, "server_cpu") / med(n, mode, "wall") for n in ("ours-w1", "ours-w2")}
        scaling.append({"mode": mode, "workers1_per_s": one, "workers2_per_s": two, "ratio": _ratio(two, one),
                        "workers1_server_cores": cores["ours-w1"],
                        "workers2_server_cores": cores["ours-w2"]})  # fmt: skip

    import ssl

    print()
    print(f"Python {platform.python_version()}, stdlib {ssl.OPENSSL_VERSION}, {os.cpu_count()} CPUs; "
          f"{args.batches} batches x {args.seconds:g} s, {args.clients} client processes x {args.threads} threads; "
          f"tickets per connection: ours 2, stdlib {args.stdlib_tickets}")  # fmt: skip
    print()
    print("Handshakes per server CPU-second, one worker (TLS 1.3, TLS_AES_128_GCM_SHA256, x25519, P-256 cert)")
    print(f"{'mode':8} {'ours':>9} {'stdlib':>9} {'ours/stdlib':>12} {'target':>7} {'result':>6}"
          f"   {'(wall hs/s ours, stdlib)':>26}")  # fmt: skip
    for g in gated:
        print(f"{g['mode']:8} {g['ours_per_cpu_s']:9.1f} {g['stdlib_per_cpu_s']:9.1f} {g['ratio']:11.2f}x "
              f"{'>=' + format(TARGET, '.1f') + 'x':>7} {'PASS' if g['pass'] else 'MISS':>6}"
              f"   {g['ours_wall_per_s']:12.1f}, {g['stdlib_wall_per_s']:.1f}")  # fmt: skip
    print()
    print("Ours, wall-clock handshakes per second (--ticket-keys FILE; the cores are shared with the load generator:")
    print("reported, not gated)")
    print(f"{'mode':8} {'workers 1':>10} {'workers 2':>10} {'2/1':>6}   server cores used (1 / 2 workers)")
    for sc in scaling:
        print(f"{sc['mode']:8} {sc['workers1_per_s']:10.1f} {sc['workers2_per_s']:10.1f} {sc['ratio']:5.2f}x"
              f"   {sc['workers1_server_cores']:.2f} / {sc['workers2_server_cores']:.2f}")  # fmt: skip
    print()
    print("Server logs (each line: version, suite, group, status; counts checked against the clients):")
    bad = False
    for name, lg in logs.items():
        kinds = "; ".join(f"{n} x {k}" for k, n in sorted(lg["by_kind"].items()))
        print(f"  {name:8} {lg['lines']} lines, {lg['resumed']} resumed: {kinds}")
        for p in lg["problems"]:
            bad = True
            print(f"    PROBLEM: {p}")
    print("  stdlib group (client's view of the ServerHello key_share): "
          + ", ".join(f"{m}={checks['stdlib'][m]['groups']}" for m in MODES)
          + f"; tickets per connection seen: ours {checks['ours']['full']['tickets']}, "
          f"stdlib {checks['stdlib']['full']['tickets']}")  # fmt: skip

    if args.profile:
        import pstats

        print(f"\ncProfile of 'ours' (all its batches, warm-up included), written to {args.profile}:")
        stats = pstats.Stats(args.profile)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
    if args.json:
        out = {
            "python": platform.python_version(), "stdlib_openssl": ssl.OPENSSL_VERSION, "cpus": os.cpu_count(),
            "seconds": args.seconds, "batches": args.batches, "clients": args.clients, "threads": args.threads,
            "stdlib_tickets": args.stdlib_tickets, "gated": gated, "workers": scaling, "sanity": checks,
            "logs": logs, "batches_raw": raw,
        }  # fmt: skip
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="wall seconds per batch (default 3)")
    parser.add_argument("--batches", type=int, default=5, help="batches per row; medians are shown (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds per server and mode first (default 1)")
    parser.add_argument("--clients", type=int, default=2, help="load generator processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per load generator process (default 4)")
    parser.add_argument("--stdlib-tickets", type=int, default=2, help="stdlib num_tickets (default 2, as serve)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--profile", metavar="FILE",
                        help="run 'ours' under cProfile, write its stats to FILE and print the top functions "
                        "(its numbers are then slowed by the profiler)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (certificates, server logs)")
    parser.add_argument("--serve-stdlib", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--loadgen", metavar="CA", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_stdlib:
        serve_stdlib(args.serve_stdlib, args.stdlib_tickets)
        return 0
    if args.loadgen:
        loadgen(args.loadgen, args.threads)
        return 0
    if args.seconds <= 0 or args.batches < 1 or args.clients < 1 or args.threads < 1:
        parser.error("--seconds, --batches, --clients and --threads must be positive")
    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
