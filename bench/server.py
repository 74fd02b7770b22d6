"""Connections per server CPU-second: ``https-request serve`` side by side with uvicorn, stdlib ssl and nginx.

Run (issue 12's table, ~10 minutes)::

    make bench-venv bench-deps      # .bench-venv with uvicorn, uvloop, httptools; Debian's nginx
    .venv/bin/python bench/server.py [--seconds S] [--batches N] [--json FILE]
    .venv/bin/python bench/server.py --quick --servers serve,stdlib --no-workers   # smoke run, ~15 s

``make bench-server`` does all three steps. It is a bench, not a timed test: read the
numbers as ratios taken in the same run, and mind the machine's load (the load
average is printed before and after).

Servers (each its own process, one TLS version each, all started at the beginning, one busy at a time)
-----------------------------------------------------------------------------------------------------
The certificate is a fresh ECDSA P-256 leaf for ``localhost`` under a fresh P-256 test
CA (``tests/certs.py``), PEMs in a temp dir. TLS 1.3 uses TLS_AES_128_GCM_SHA256,
TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256, both x25519 (ECDHE; none on a TLS 1.2
resumption). Tickets, counted by the sanity check and printed: every server sends 2
TLS 1.3 tickets after a full handshake (the number ``serve`` sends; the others are
set to it) and 1 after a resumption (OpenSSL never sends more after a resumption,
``SSL_CTX_set_num_tickets(3)``; ``serve`` sends as many). TLS 1.2 resumes
through session tickets everywhere (one ticket with a full handshake, none with a
resumption).

* ``serve``: ``python -m https_request serve --host 127.0.0.1 --port 0 --cert cert.pem
  --key key.pem --tls-version V --ciphers SUITE --groups x25519 --schema 2026
  --workers 1`` (in-memory ticket keys, its log line per connection on stderr);
* ``uvicorn``, ``uvicorn-fast`` (uvloop + httptools), ``stdlib`` (blocking, one thread)
  and ``nginx``: see ``bench/server_peers.py``, which says exactly what each does and
  runs the Python ones (``python bench/server_peers.py KIND DIR VERSION TICKETS``; the
  uvicorn ones with ``.bench-venv/bin/python``);
* ``serve-w1`` / ``serve-w2``: ``serve`` plus ``--ticket-keys FILE`` and ``--workers 1``
  / ``--workers 2`` (the key file shares tickets between the workers), for the
  wall-clock rows only.

The body: every connection sends ``GET / HTTP/1.1`` with ``Host: www.howsmyssl.com``
and ``Connection: close``; ``serve`` answers with howsmyssl's HTML report of the
client's ClientHello (2026 schema; ~2.7 KB for the stdlib client of OpenSSL 3.0, the
length is printed). ``serve`` rates the hello and renders the page once per distinct
rating input (``server.app.RatingCache``: the load generator's hellos differ only in
what the rating does not read, so later connections get the page kept), and parses
every request. Before the peers start, the bench takes ``serve``'s answer for each
version (``answer-<V>.http``) and every peer answers exactly that body with serve's
header lines (nginx and uvicorn add their own ``Date`` and ``Server``); ``serve``'s
per-request cost of the request and the page is measured in-process and printed, with
the page kept and rendered afresh.

Load generator
--------------
``--clients`` processes (this script re-run with ``--loadgen DIR``), each with
``--threads`` threads, driven over stdin/stdout. Every connection is a fresh TCP
connection through one stdlib client context per process (OpenSSL's defaults, TLS
1.2 and 1.3 offered, verifying the chain and ``localhost``; OpenSSL does the work in
C, without the GIL): handshake, the request, read until close_notify, check the
answer (status, the exact body), ``version()``, ``cipher()`` and ``session_reused``,
``unwrap()`` and close. *Full* connections offer no session; *resumed* ones offer the
session of the thread's previous connection (read after the response, so the TLS 1.3
tickets have arrived), chained; a resumed run is primed with one full connection per
thread before the clock starts, and a connection that did not resume is a failure.

What is measured
----------------
A batch runs one server and one mode (TLS 1.3 or 1.2, full or resumed) for
``--seconds`` of wall time. The server's CPU is ``utime + stime`` from
``/proc/PID/stat`` of its process tree (nginx's master and worker; serve-w2's parent
and workers), read just before the clients start and 0.3 s after they stop.
Connections are those the clients completed and checked.

* connections per server CPU-second, one worker, batches interleaved (every server
  for a mode, every mode, then the next batch), medians of ``--batches``;
* peak RSS of one worker: ``VmHWM`` from ``/proc/PID/status`` at the end (the worker
  of nginx; the larger of a server's two processes, one per version);
* ``serve`` wall-clock connections per second with ``--workers 2`` over ``--workers 1``.
  The load generator runs on the same cores and spends about as much CPU per
  connection as ``serve`` (printed): on two cores one worker and the clients already
  fill the machine, so 1.7x can only show with the clients elsewhere (more cores).
  The server cores used and each one's connections per server CPU-second are printed
  too (the second says what the second worker costs, whatever the load), and the most
  the ratio can be given the CPU-ms per connection measured on each side
  (``server_report.workers_bound``). ``--scaling-client h2load`` drives these rows with
  h2load (Debian's nghttp2-client, ``bench/server_h2load.py``), a C client that costs
  about half the Python clients' CPU per connection (TLS 1.3 full against ``--no-tickets``
  servers, TLS 1.2 full still with the Python clients: see that module).

Targets (PASS/FAIL, issue 12): ``serve`` >= uvicorn + uvloop + httptools in every mode;
stretch: >= the stdlib blocking server; peak RSS <= uvicorn's (the smaller of the two
uvicorn rows); ``--workers 2`` >= 1.7x ``--workers 1``. The exit status is 1 only when
a check fails (a server answering wrongly, log lines that disagree with the clients),
not for a missed target.

``--profile FILE`` runs the ``serve`` processes under cProfile (``FILE.1.3``,
``FILE.1.2``) and prints their top functions; their numbers are then slowed by the
profiler.

Checks (the run aborts when one fails): before timing, a full and a resumed connection
per server with the stdlib client (the answer's bytes) and with the project's own
client (``io.blocking``: the version, suite, group and resumption negotiated and the
tickets received, counted by the engine); every timed connection checks version,
suite, resumption and the body; at the end each server's log lines must agree with
the clients: as many lines as connections, status 200, and where the server logs
them (serve, stdlib, nginx; uvicorn's access log has no TLS fields) version, suite,
group and as many resumed connections as the clients saw.
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
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from server_h2load import H2Load, find_h2load
from server_peers import HOST, MODES, OPENSSL_CNF, SUITE12, SUITE12_IANA, SUITE13, VERSIONS, load_answer, nginx_conf
from server_report import SERVERS, report, summarize

_ROOT = Path(__file__).resolve().parent.parent
_ME = str(Path(__file__).resolve())
BENCH_VENV = _ROOT / ".bench-venv"
SERVER_NAME = "localhost"
REQUEST = (b"GET / HTTP/1.1\r\nHost: www.howsmyssl.com\r\nUser-Agent: bench/server.py\r\n"
           b"Connection: close\r\n\r\n")  # fmt: skip
SUITES = {"1.3": SUITE13, "1.2": SUITE12}
TICKETS13 = 2  # TLS 1.3 tickets per connection: what serve sends
SETTLE = 0.3  # seconds between the clients' last close and the second CPU reading


def _mode(mode: str) -> tuple[str, bool]:
    version, kind = mode.split()
    return version, kind == "resumed"


# ====================================================================== load generator (subprocess)


def client_context(ca_file: str) -> Any:
    import ssl

    return ssl.create_default_context(cafile=ca_file)


def one_connection(ctx: Any, port: int, session: Any = None, keep: bool = True) -> tuple[bytes, Any, bool, str, str]:
    """One connection: handshake, the request, read to close_notify, close. Returns
    (answer, the session to resume next (None unless ``keep``), session_reused, version, suite)."""
    raw = socket.create_connection((HOST, port), timeout=30)
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


def check_answer(answer: bytes, version: str, suite: str, reused: bool, mode: str, body: bytes) -> str:
    """What is wrong with one connection of ``mode`` ("" when nothing)."""
    want_version, resumed = _mode(mode)
    if not answer.startswith(b"HTTP/1.1 200 OK\r\n"):
        return f"bad answer {answer[:40]!r}"
    if not answer.endswith(b"\r\n\r\n" + body):
        got = len(answer.partition(b"\r\n\r\n")[2])
        return f"another body ({got} bytes, {len(body)} expected)"
    if version != f"TLSv{want_version}" or suite != SUITES[want_version]:
        return f"negotiated {version} {suite}"
    if reused != resumed:
        return f"session_reused={reused} in a {mode} run"
    return ""


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


def loadgen(folder: str, threads: int) -> None:
    """Commands on stdin (JSON lines), one JSON answer line each on stdout.

    ``{"op": "prime", "port": P, "mode": M}``: one full connection per thread, keep its session.
    ``{"op": "run", "port": P, "mode": M, "seconds": S}``: connections until S elapse.
    M is one of :data:`MODES`.
    """
    ctx = client_context(os.path.join(folder, "ca.pem"))
    bodies = {v: load_answer(folder, v)[1] for v in VERSIONS}
    sessions: dict[int, list[Any]] = {}

    def worker(index: int, port: int, mode: str, deadline: float, counts: _Counts) -> None:
        version, resumed = _mode(mode)
        while time.monotonic() < deadline:
            offer = sessions[port][index] if resumed else None
            try:
                answer, session, reused, got, suite = one_connection(ctx, port, offer, keep=resumed)
            except OSError as exc:  # ssl.SSLError included
                counts.fail(f"{type(exc).__name__}: {exc}")
                continue
            bad = check_answer(answer, got, suite, reused, mode, bodies[version])
            if not bad and resumed and session is None:
                bad = "no session to resume"
            if bad:
                counts.fail(bad)
                continue
            if resumed:
                sessions[port][index] = session
            with counts.lock:
                counts.ok += 1
                counts.reused += reused

    def prime(port: int, mode: str) -> _Counts:
        counts = _Counts()
        sessions[port] = [None] * threads
        version = _mode(mode)[0]

        def one(index: int) -> None:
            try:
                answer, session, reused, got, suite = one_connection(ctx, port)
            except OSError as exc:
                counts.fail(f"{type(exc).__name__}: {exc}")
                return
            bad = check_answer(answer, got, suite, reused, f"{version} full", bodies[version])
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
            counts = prime(cmd["port"], cmd["mode"])
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


# ====================================================================== server processes


_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (field 3 on)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    return stat[stat.rindex(")") + 2 :].split()


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), from /proc/PID/stat."""
    rest = _stat(pid)
    return (int(rest[11]) + int(rest[12])) / _TICK


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat(int(entry))[1]) == pid:
                    out.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return out


def vm_hwm_mib(pid: int) -> float:
    """Peak resident set size (VmHWM) of one process, MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def _listening(port: int) -> bool:
    """A socket in LISTEN state on 127.0.0.1:port (read from /proc/net/tcp, no connection made)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        return any(p[1] == want and p[3] == "0A" for p in (ln.split() for ln in f) if len(p) > 3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProc:
    """A running server: its process, port, the pids whose CPU counts, its log file."""

    kind: str
    version: str
    proc: subprocess.Popen[bytes]
    port: int
    pids: list[int]  # the process tree: CPU
    worker: int  # the process whose peak RSS is "one worker's"
    log_path: Path  # the per-connection lines
    stderr: IO[bytes]
    clients_ok: int = 0  # every connection the clients completed against it (log check)
    clients_reused: int = 0

    @property
    def name(self) -> str:
        return f"{self.kind} {self.version}"

    def cpu(self) -> float:
        return sum(_cpu_seconds(pid) for pid in self.pids)

    def stop(self) -> None:
        _terminate(self.proc)
        self.stderr.close()


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (nginx's master then stops its worker), SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve_argv(folder: Path, version: str, *extra: str, profile: str | None = None) -> list[str]:
    """``serve``'s command line in the bench: the certificate in ``folder``, one version and suite."""
    head = [sys.executable, "-m", "cProfile", "-o", profile] if profile else [sys.executable]
    return [*head, "-m", "https_request", "serve", "--host", HOST, "--port", "0",
            "--cert", str(folder / "cert.pem"), "--key", str(folder / "key.pem"), "--tls-version", version,
            "--ciphers", SUITES[version], "--groups", "x25519", "--schema", "2026", *extra]  # fmt: skip


def peer_argv(kind: str, folder: Path, version: str) -> list[str]:
    """A Python peer's command line (``bench/server_peers.py``; the uvicorn ones in the bench venv)."""
    py = BENCH_VENV / "bin" / "python" if kind.startswith("uvicorn") else sys.executable
    return [str(py), str(Path(_ME).with_name("server_peers.py")), kind, str(folder), version, str(TICKETS13)]


def start_server(
    kind: str, version: str, argv: list[str], folder: Path, env: dict[str, str], children: int = 0,
    port: int | None = None, log_path: Path | None = None,
) -> ServerProc:  # fmt: skip
    """Start a server; wait for its ``listening:`` line (or, given ``port``, for the port to
    listen) and for its ``children`` worker processes."""
    err_path = folder / f"{kind}-{version}.err"
    err = open(err_path, "wb")  # closed by ServerProc.stop
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env)
    assert proc.stdout is not None
    try:
        if port is None:
            line = proc.stdout.readline().decode()  # printed once the socket is up
            m = re.match(r"listening: https://[^:]+:(\d+)/", line)
            if not m:
                raise SystemExit(f"{kind} {version}: no listening line ({line!r}); "
                                 f"stderr: {err_path.read_text()[-2000:]}")  # fmt: skip
            port = int(m.group(1))
        else:
            deadline = time.monotonic() + 10
            while not _listening(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{kind} {version}: not listening on {port}; "
                                     f"stderr: {err_path.read_text()[-2000:]}")  # fmt: skip
                time.sleep(0.05)
        kids: list[int] = []
        for _ in range(100):
            kids = _children(proc.pid)
            if len(kids) == children:
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"{kind} {version}: expected {children} worker processes, found {kids}")
    except BaseException:
        _terminate(proc)
        err.close()
        raise
    worker = kids[0] if kind == "nginx" else proc.pid
    return ServerProc(kind, version, proc, port, [proc.pid, *kids], worker, log_path or err_path, err)


class LoadGen:
    """The client processes."""

    def __init__(self, folder: Path, clients: int, threads: int) -> None:
        argv = [sys.executable, _ME, "--loadgen", str(folder), "--threads", str(threads)]
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

    def run(self, server: ServerProc, mode: str, seconds: float) -> dict[str, Any]:
        """One batch: server CPU and client CPU around it, connections, wall."""
        if _mode(mode)[1]:
            res = self._all({"op": "prime", "port": server.port, "mode": mode})
            failed = [r["first_error"] for r in res if r["failed"]]
            if failed:
                raise SystemExit(f"{server.name}: priming failed: {failed[0]}")
            server.clients_ok += sum(r["ok"] for r in res)
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
        return {"connections": ok, "reused": reused, "server_cpu": cpu, "client_cpu": ccpu, "wall": wall,
                "per_cpu_s": ok / cpu, "per_wall_s": ok / wall, "client_cpu_ms": ccpu / ok * 1000}  # fmt: skip

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


# ====================================================================== checks


def our_client_config(ca_cert: Any) -> Any:
    """The project's client: TLS 1.3 and 1.2, the two suites, verifying ``ca_cert``; x25519 its
    key share, secp256r1 offered too (OpenSSL's TLS 1.2 servers use a P-256 ECDSA certificate only
    for clients that list the curve among their groups)."""
    from https_request.tls.catalogue import suite_id
    from https_request.tls.config import ClientConfig
    from https_request.tls.enums import NamedGroup, ProtocolVersion
    from https_request.tls.verify import WebPkiVerifier

    return ClientConfig(
        verifier=WebPkiVerifier([ca_cert]), versions=(ProtocolVersion.TLS1_3, ProtocolVersion.TLS1_2),
        cipher_suites=(suite_id(SUITE13), suite_id(SUITE12)), groups=(NamedGroup.x25519, NamedGroup.secp256r1),
        key_share_groups=(NamedGroup.x25519,),
    )  # fmt: skip


def our_connection(cfg: Any, port: int, session: Any) -> tuple[dict[str, Any], Any, bytes]:
    """One connection with the project's client: (what was negotiated and the tickets
    received, the newest session, the answer)."""
    from https_request.io.blocking import connect
    from https_request.tls.catalogue import suite_name
    from https_request.tls.enums import NamedGroup, ProtocolVersion, name_of

    tls = connect(HOST, port, cfg, server_name=SERVER_NAME, session=session, timeout=10)
    try:
        tls.send(REQUEST)
        answer = b""
        while chunk := tls.recv():
            answer += chunk
        hs = tls.pump.handshake
        assert hs is not None
        seen = {
            "version": name_of(ProtocolVersion, hs.version), "suite": suite_name(hs.cipher_suite),
            "group": None if hs.group is None else name_of(NamedGroup, hs.group), "resumed": hs.resumed,
            "tickets": tls.pump.tickets,
        }  # fmt: skip
        return seen, tls.session, answer
    finally:
        tls.close()


def sanity_full(server: ServerProc, std_ctx: Any, body: bytes) -> dict[str, Any]:
    """A ``--no-tickets`` server: one full connection with the stdlib client, and no session offered."""
    mode = f"{server.version} full"
    answer, session, reused, version, suite = one_connection(std_ctx, server.port)
    server.clients_ok += 1
    bad = check_answer(answer, version, suite, reused, mode, body)
    if bad:
        raise SystemExit(f"{server.name} sanity ({mode}, stdlib client): {bad}")
    if session is not None and session.has_ticket:
        raise SystemExit(f"{server.name} sanity: a ticket from a --no-tickets server")
    return {mode: {"stdlib_client": {"version": version, "suite": suite, "resumed": reused}}}


def sanity(server: ServerProc, std_ctx: Any, our_cfg: Any, body: bytes) -> dict[str, Any]:
    """A full then a resumed connection with each client; raise SystemExit when one is wrong."""
    info: dict[str, Any] = {}
    std_session = our_session = None
    for kind in ("full", "resumed"):
        mode = f"{server.version} {kind}"
        answer, std_session, reused, version, suite = one_connection(std_ctx, server.port, std_session)
        server.clients_ok += 1
        server.clients_reused += reused
        bad = check_answer(answer, version, suite, reused, mode, body)
        if bad:
            raise SystemExit(f"{server.name} sanity ({mode}, stdlib client): {bad}")
        seen, new_session, ours = our_connection(our_cfg, server.port, our_session)
        our_session = new_session or our_session  # a TLS 1.2 resumption may bring no new ticket
        server.clients_ok += 1
        server.clients_reused += seen["resumed"]
        want = {"version": f"TLS1_{server.version[-1]}", "suite": SUITE13 if server.version == "1.3" else SUITE12_IANA,
                "group": None if mode == "1.2 resumed" else "x25519", "resumed": kind == "resumed"}  # fmt: skip
        bad_fields = {k: (seen[k], v) for k, v in want.items() if seen[k] != v}
        if bad_fields or not ours.startswith(b"HTTP/1.1 200 OK\r\n") or our_session is None:
            raise SystemExit(f"{server.name} sanity ({mode}, our client): (got, wanted) {bad_fields}, "
                             f"answer {ours[:20]!r}, session {our_session}")  # fmt: skip
        if kind == "full" and seen["tickets"] != (TICKETS13 if server.version == "1.3" else 1):
            raise SystemExit(f"{server.name} sanity ({mode}): {seen['tickets']} tickets")
        head = answer.partition(b"\r\n\r\n")[0].decode("latin-1")
        info[mode] = {"stdlib_client": {"version": version, "suite": suite, "resumed": reused, "head": head},
                      "our_client": seen}  # fmt: skip
    return info


_FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')
_UVICORN_LINE = re.compile(r'"(\w+) (\S+) HTTP/1\.1" (\d{3})')


def check_log(server: ServerProc) -> dict[str, Any]:
    """Count the server's log lines by what they say; compare with what the clients saw.

    uvicorn's access log says only the request and status; the others say version,
    suite, group (not the stdlib server: ``-``) and resumption too."""
    text = server.log_path.read_text(errors="replace")
    if server.kind.startswith("uvicorn"):
        lines = [{"status": m.group(3)} for m in map(_UVICORN_LINE.search, text.splitlines()) if m]
    else:
        lines = [{k: v.strip('"') for k, v in _FIELD.findall(ln)} for ln in text.splitlines() if " peer=" in ln]
    suites = {SUITE13} if server.version == "1.3" else {SUITE12, SUITE12_IANA}
    summary: dict[str, int] = {}
    problems = []
    resumed = 0
    for f in lines:
        key = " ".join(f"{k}={f[k]}" for k in ("version", "suite", "group", "status", "error") if k in f)
        summary[key] = summary.get(key, 0) + 1
        was_resumed = f.get("resumed") in ("yes", "r")
        resumed += was_resumed
        # a resumed TLS 1.2 connection runs no key exchange: serve logs "-", nginx the session's group
        if server.kind == "stdlib":
            groups = {"-"}
        else:
            groups = {"x25519", "-"} if was_resumed and server.version == "1.2" else {"x25519"}
        wrong = [
            f.get("status") != "200", "error" in f,
            "version" in f and f["version"].replace("v", "") != f"TLS{server.version}",
            "suite" in f and f["suite"] not in suites,
            "group" in f and f["group"].lower() not in groups,
        ]  # fmt: skip
        if any(wrong):
            problems.append(key)
    if len(lines) != server.clients_ok:
        problems.append(f"{len(lines)} log lines for {server.clients_ok} client connections")
    if not server.kind.startswith("uvicorn") and resumed != server.clients_reused:
        problems.append(f"{resumed} resumed in the log, {server.clients_reused} seen by the clients")
    return {"lines": len(lines), "resumed": resumed, "by_kind": summary, "problems": problems[:5]}


def serve_page_cost(folder: Path, iterations: int = 200) -> dict[str, Any]:
    """serve's HTTP work per connection, in-process: parse the request, route it, encode the
    answer (``server.app``, as serve calls it), with the page kept (``us``: what serve does
    for every connection but the first of a client) and rendered afresh (``fresh_us``: the
    rating and the page each time). Checks that the body is the one serve answered."""
    import ssl

    from https_request.server.app import AppConfig, RequestReader, TlsInfo, route
    from https_request.tls.messages import ClientHello

    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context(str(folder / "ca.pem")).wrap_bio(incoming, outgoing, server_hostname=SERVER_NAME)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    record = outgoing.read()
    hello = record[5 : 5 + int.from_bytes(record[3:5], "big")]  # one record: OpenSSL's hello fits
    decoded = ClientHello.decode(hello[4:])  # (serve hands over the engine's)
    tls = TlsInfo(hello, 0x0304, 0x1301, 0x001D, SERVER_NAME, None, False, 0, f"{HOST}:1", 0, decoded)
    kept = AppConfig(schema="2026")

    def once(config: AppConfig) -> bytes:
        request = RequestReader().feed(REQUEST)
        assert request is not None
        return route(request, tls, config).encode(request)

    if not once(kept).endswith(b"\r\n\r\n" + load_answer(folder, "1.3")[1]):
        raise SystemExit("serve_page_cost: the in-process page differs from serve's answer")
    out = {}
    for key, make in (("us", lambda: kept), ("fresh_us", lambda: AppConfig(schema="2026"))):
        configs = [make() for _ in range(iterations)]
        start = time.process_time()
        for config in configs:
            once(config)
        out[key] = (time.process_time() - start) / iterations * 1e6
    return out


# ====================================================================== the bench (main process)


def _prerequisites(kinds: list[str]) -> tuple[str | None, str | None]:
    """The bench venv's python (uvicorn rows) and nginx, or SystemExit saying how to get them."""
    venv_python = nginx = None
    if any(k.startswith("uvicorn") for k in kinds):
        venv_python = str(BENCH_VENV / "bin" / "python")
        probe = [venv_python, "-c", "import uvicorn, uvloop, httptools"]
        if not os.access(venv_python, os.X_OK) or subprocess.run(probe, capture_output=True).returncode:
            raise SystemExit(f"the uvicorn rows need {BENCH_VENV} with uvicorn, uvloop and httptools: "
                             f"run `make bench-venv` in {_ROOT}, or leave them out: "
                             "--servers serve,stdlib,nginx")  # fmt: skip
    if "nginx" in kinds:
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
        if nginx is None:
            raise SystemExit("the nginx row needs Debian's nginx: run `make bench-deps` (apt-get install nginx), "
                             "or leave it out: --servers serve,uvicorn,uvicorn-fast,stdlib")  # fmt: skip
    return venv_python, nginx


def _versions(argv: list[str]) -> str:
    """What a command prints about its version (nginx -v writes to stderr)."""
    out = subprocess.run(argv, capture_output=True, text=True)
    return (out.stdout or out.stderr).strip()


def write_pki(folder: Path) -> tuple[dict[str, str], Any]:
    """The bench's files in ``folder``: a P-256 CA (ca.pem), its leaf for SERVER_NAME
    (cert.pem, key.pem) and the peers' openssl.cnf; returns the servers' environment
    (this checkout's src first, no OPENSSL_CONF) and the CA's certificate."""
    for p in (_ROOT / "src", _ROOT / "tests"):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))
    from certs import make_ca, make_leaf  # tests/certs.py: the project's certificate factory

    ca = make_ca("p256", name="Bench Server Root CA")
    leaf = make_leaf(ca, [SERVER_NAME], key_type="p256")
    for name, data in (("ca.pem", ca.cert_pem), ("cert.pem", leaf.chain_pem), ("key.pem", leaf.key_pem)):
        (folder / name).write_bytes(data)
    (folder / "openssl.cnf").write_text(OPENSSL_CNF)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(_ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("OPENSSL_CONF", None)
    return env, ca.cert


def run_bench(args: argparse.Namespace) -> int:
    kinds = [k for k in SERVERS if k in args.servers]
    venv_python, nginx = _prerequisites(kinds)
    h2load = find_h2load() if args.workers and args.scaling_client == "h2load" else None
    folder = Path(tempfile.mkdtemp(prefix="hrq-bench-server-"))
    www = Path(tempfile.mkdtemp(prefix="hrq-bench-www-"))  # nginx's root: readable by its worker user
    www.chmod(0o755)
    if not args.keep:
        atexit.register(shutil.rmtree, folder, True)
    atexit.register(shutil.rmtree, www, True)
    env, ca_cert = write_pki(folder)
    peer_env = dict(env, OPENSSL_CONF=str(folder / "openssl.cnf"))

    def peer(kind: str, version: str) -> ServerProc:
        if kind == "nginx":
            assert nginx is not None
            port = _free_port()
            conf = nginx_conf(folder, www, version, port, TICKETS13)
            argv = [nginx, "-p", str(conf.parent), "-c", str(conf), "-e", str(conf.parent / "error.log")]
            return start_server(kind, version, argv, folder, env, 1, port, folder / f"nginx-{version}.log")
        return start_server(kind, version, peer_argv(kind, folder, version), folder, peer_env)

    std_ctx = client_context(str(folder / "ca.pem"))
    servers: list[ServerProc] = []
    scaling: list[ServerProc] = []
    gen: LoadGen | None = None
    load = [os.getloadavg()]
    rss: dict[str, float] = {}
    forked: dict[str, float] = {}  # serve-w2's workers, forked from its supervisor
    try:
        for v in VERSIONS:  # serve first: its answers are the peers' bodies
            profile = f"{args.profile}.{v}" if args.profile else None
            s = start_server("serve", v, serve_argv(folder, v, "--workers", "1", profile=profile), folder, env)
            servers.append(s)
            answer = one_connection(std_ctx, s.port)[0]
            s.clients_ok += 1
            (folder / f"answer-{v}.http").write_bytes(answer)
        bodies = {v: load_answer(folder, v)[1] for v in VERSIONS}
        page = serve_page_cost(folder)
        servers += [peer(k, v) for k in kinds if k != "serve" for v in VERSIONS]
        for w, v in [(w, v) for w in (1, 2) for v in VERSIONS] if args.workers else []:
            argv = serve_argv(folder, v, "--workers", str(w), "--ticket-keys", str(folder / f"keys-{w}-{v}"))
            scaling.append(start_server(f"serve-w{w}", v, argv, folder, env, children=w if w > 1 else 0))
            if h2load is not None and v == "1.3":  # its full row: h2load resumes whenever the server issues tickets
                argv = serve_argv(folder, v, "--workers", str(w), "--no-tickets")
                scaling.append(start_server(f"serve-w{w}-nt", v, argv, folder, env, children=w if w > 1 else 0))
        our_cfg = our_client_config(ca_cert)
        checks = {s.name: sanity(s, std_ctx, our_cfg, bodies[s.version]) for s in servers + scaling
                  if not s.kind.endswith("-nt")}  # fmt: skip
        checks.update({s.name: sanity_full(s, std_ctx, bodies[s.version]) for s in scaling if s.kind.endswith("-nt")})
        gen = LoadGen(folder, args.clients, args.threads)
        fast = H2Load(h2load, args.clients * args.threads, SETTLE, SUITES) if h2load is not None else None

        def scaling_gen(mode: str) -> LoadGen | H2Load:
            """The --workers rows' load generator: h2load when asked, but for TLS 1.2 full (serve resumes
            TLS 1.2 by session id even with --no-tickets, and h2load always offers its session again)."""
            return fast if fast is not None and mode != "1.2 full" else gen

        print(f"warm-up ({args.warmup:g} s per server and mode)...", flush=True)
        for s in servers + scaling:
            for mode in MODES:
                if s in servers:
                    if mode.startswith(s.version):
                        gen.run(s, mode, args.warmup)
                elif mode.startswith(s.version) and _scaling_server(s.kind.removesuffix("-nt"), mode, h2load) == s.kind:
                    scaling_gen(mode).run(s, mode, args.warmup)

        by_kind = {(s.kind, s.version): s for s in servers + scaling}
        raw: dict[str, dict[str, list[dict[str, Any]]]] = {k: {m: [] for m in MODES} for k, _ in by_kind}

        def batch(b: int, group: list[str], wall: bool) -> None:
            for mode in MODES:
                for kind in group:
                    s = by_kind[_scaling_server(kind, mode, h2load) if wall else kind, _mode(mode)[0]]
                    r = (scaling_gen(mode) if wall else gen).run(s, mode, args.seconds)
                    raw[kind][mode].append(r)
                    what = (f"{r['per_wall_s']:7.1f} conn/s, server {r['server_cpu'] / r['wall']:.2f} cores" if wall
                            else f"{r['per_cpu_s']:7.1f} conn/CPU-s  {r['per_wall_s']:7.1f} conn/s")  # fmt: skip
                    print(f"batch {b + 1}/{args.batches} {mode:11} {kind:12} {r['connections']:6d} conn "
                          f"{r['server_cpu']:6.2f} server CPU-s  {what}  client {r['client_cpu_ms']:.2f} CPU-ms/conn",
                          flush=True)  # fmt: skip

        assert gen is not None
        for b in range(args.batches):
            batch(b, kinds, wall=False)
        if args.workers:
            for b in range(args.batches):
                batch(b, ["serve-w1", "serve-w2"], wall=True)
        rss = {s.name: vm_hwm_mib(s.worker) for s in servers}
        forked = {s.name: max(vm_hwm_mib(p) for p in s.pids[1:]) for s in scaling if s.kind == "serve-w2"}
        load.append(os.getloadavg())
    finally:
        if gen is not None:
            gen.close()
        for s in servers + scaling:
            s.stop()

    logs = {s.name: check_log(s) for s in servers + scaling}
    result = summarize(kinds, {k: v for k, v in raw.items() if not k.endswith("-nt")}, rss, args)
    result.update(forked_worker_rss_mib=forked, page_cost_us=page["us"], page_fresh_us=page["fresh_us"],
                  body_bytes={v: len(bodies[v]) for v in VERSIONS}, sanity=checks,
                  logs=logs, load=load, batches_raw=raw)  # fmt: skip
    peers = "import uvicorn, uvloop, httptools as h; print(uvicorn.__version__, uvloop.__version__, h.__version__)"
    result["versions"] = {
        "python": platform.python_version(), "openssl": _ssl_version(),
        "uvicorn": _versions([venv_python, "-c", peers]) if venv_python else None,
        "nginx": _versions([nginx, "-v"]) if nginx else None,
    }  # fmt: skip
    bad = report(result, args)
    if args.profile:
        import pstats

        for v in VERSIONS:
            print(f"\ncProfile of serve {v} (all its batches, warm-up included), written to {args.profile}.{v}:")
            pstats.Stats(f"{args.profile}.{v}").sort_stats("tottime").print_stats(25)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 1 if bad else 0


def _scaling_server(kind: str, mode: str, h2load: str | None) -> str:
    """The server a ``--workers`` row runs against: with h2load, TLS 1.3 full's ``--no-tickets`` twin."""
    return f"{kind}-nt" if h2load is not None and mode == "1.3 full" else kind


def _ssl_version() -> str:
    import ssl

    return ssl.OPENSSL_VERSION


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, help="wall seconds per batch (default 3; --quick 0.5)")
    parser.add_argument("--batches", type=int, help="batches per row; medians are shown (default 5; --quick 1)")
    parser.add_argument("--warmup", type=float, help="seconds per server and mode first (default 1; --quick 0.2)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: short batches, one of each")
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help=f"comma-separated, serve among them (default {','.join(SERVERS)})")  # fmt: skip
    parser.add_argument("--no-workers", dest="workers", action="store_false",
                        help="leave out the --workers 1 / --workers 2 rows")  # fmt: skip
    parser.add_argument("--clients", type=int, default=2, help="load generator processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per load generator process (default 4)")
    parser.add_argument("--scaling-client", choices=("python", "h2load"), default="python",
                        help="the load generator of the --workers rows: this script's Python clients (default) or "
                        "h2load (nghttp2-client, about half their CPU per connection; bench/server_h2load.py)",
                        )  # fmt: skip
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--profile", metavar="FILE",
                        help="run the serve processes under cProfile, write FILE.1.3 and FILE.1.2 and print their "
                        "top functions (their numbers are then slowed by the profiler)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (certificates, answers, server logs)")
    parser.add_argument("--loadgen", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loadgen:
        loadgen(args.loadgen, args.threads)
        return 0
    defaults = {"seconds": 3.0, "batches": 5, "warmup": 1.0}
    if args.quick:
        defaults = {"seconds": 0.5, "batches": 1, "warmup": 0.2}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = sorted(set(args.servers) - set(SERVERS))
    if unknown or "serve" not in args.servers:
        parser.error(f"--servers: {', '.join(unknown) or 'serve missing'} (choose among {', '.join(SERVERS)})")
    if args.seconds <= 0 or args.batches < 1 or args.warmup < 0 or args.clients < 1 or args.threads < 1:
        parser.error("--seconds, --batches, --clients and --threads must be positive")
    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
