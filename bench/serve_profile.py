"""Where ``https-request serve`` spends its CPU per connection, and its memory.

Run as ``.venv/bin/python bench/serve_profile.py [--connections N] [--loop auto|asyncio|uvloop]
[--profile] [--path /|/a/check] [--host NAME]``. A bench, not a timed test: read its numbers as ratios
taken in the same run (other processes on the machine move wall times, hardly CPU-seconds).

For each row (TLS 1.3 and TLS 1.2, full and resumed; ECDSA P-256, x25519, AES-128-GCM)
it starts a fresh ``serve`` (one worker, tickets on) and, as the reference, a blocking
stdlib-ssl server in one thread (``--serve-blocking``: accept, handshake, read the
request head, answer the same bytes, close_notify, one log line), then runs
``--connections`` connections from ``--threads`` client threads (stdlib ssl: full ones
offer no session, resumed ones the thread's previous session) and reports:

* connections per server CPU-second (``utime + stime`` of the server process from
  ``/proc/PID/stat``, read before the clients start and after they stop);
* the ratio ours / blocking stdlib in the same run;
* ours' peak RSS (``VmHWM``) after the row, and the RSS of the idle server at start.

``--idle N`` first measures the RSS a fresh ``serve`` grows by while it holds N idle
handshaken TLS 1.3 connections (waiting for their request).

``--profile`` runs ``serve`` under cProfile, switched on after the warm-up, with the
process's CPU time as its clock (a loop waiting for events costs nothing; the
profiler's own clock reads make its CPU figures several times slower, so read only
the shares, which favour functions called often) and splits its time between:

* ``engine``: ``https_request.tls`` and ``wire`` (ClientHello decode, key exchange,
  signing, key schedule, record protection; the C calls they make are theirs);
* ``http/app``: ``server.app``, h11, ``howsmyssl`` (request parsing, routing, rating,
  the response);
* ``server``: ``server.tls_server`` and ``io`` (the connection's driver);
* ``asyncio``: the event loop, transports, streams, tasks, timeouts, selectors, sockets
  (uvloop's C code: its ``run_forever``);
* ``log``: the connection's log line (its formatting and the write);
* ``other``: anything else.

A C function's time goes to the category of the Python function that called it
(split by callers when it has several).
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
NAME = "localhost"
_TICK = os.sysconf("SC_CLK_TCK")
ROWS = (("1.3", "full"), ("1.3", "resumed"), ("1.2", "full"), ("1.2", "resumed"))
SUITES = {"1.3": "TLS_AES_128_GCM_SHA256", "1.2": "ECDHE-ECDSA-AES128-GCM-SHA256"}
IANA = {"1.3": "TLS_AES_128_GCM_SHA256", "1.2": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}


def _cpu(pid: int, kernel: bool = False) -> float:
    """utime + stime of ``pid`` in seconds (``kernel``: stime only)."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[12]) + (0 if kernel else int(rest[11]))) / _TICK


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# ====================================================================== the blocking reference server


def profiled_serve(out: str, argv: list[str]) -> int:
    """``https-request ARGV`` with cProfile switched on by SIGUSR1 (after the warm-up), saved to ``out`` at exit."""
    import cProfile

    from https_request.cli import main as cli_main

    prof = cProfile.Profile(time.process_time)  # CPU time: a send() that wakes a client is not charged its run
    signal.signal(signal.SIGUSR1, lambda *_: prof.enable())
    try:
        return cli_main(argv)
    finally:
        prof.disable()
        prof.dump_stats(out)


def serve_blocking(folder: str, version: str) -> None:
    """One thread: accept, handshake, read the head, answer, close_notify; one log line each."""
    from email.utils import formatdate

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem"))
    tls = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = tls
    if version == "1.2":
        ctx.set_ciphers(SUITES["1.2"])
    ctx.num_tickets = 2
    ctx.set_ecdh_curve("X25519")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(1024)
    print(f"listening: https://{HOST}:{sock.getsockname()[1]}/", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        raw, addr = sock.accept()
        start = time.monotonic()
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(10)
        try:
            s = ctx.wrap_socket(raw, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(65536)
                if not chunk:
                    break
                head += chunk
            s.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\nDate: "
                      + formatdate(usegmt=True).encode() + b"\r\n\r\n")  # fmt: skip
            s.unwrap()
            line = f"peer={addr[0]}:{addr[1]} version={s.version()} resumed={s.session_reused}"
        except OSError as exc:
            line = f"peer={addr[0]}:{addr[1]} error={exc}"
        finally:
            raw.close()
        sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line} ms={(time.monotonic() - start) * 1000:.1f}\n")
        sys.stderr.flush()


# ====================================================================== clients


def _client(ca: str, version: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    tls = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = tls
    if version == "1.2":
        ctx.set_ciphers(SUITES["1.2"])
    return ctx


def _one(ctx: ssl.SSLContext, port: int, request: bytes, session: Any) -> tuple[bytes, Any, bool]:
    raw = socket.create_connection((HOST, port))
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(raw, server_hostname=NAME, session=session)
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
        reused, new = s.session_reused, s.session
        try:
            s.unwrap()
        except OSError:
            pass
        return b"".join(chunks), new, reused
    finally:
        raw.close()


def drive(ctx: ssl.SSLContext, port: int, request: bytes, mode: str, count: int, threads: int) -> int:
    """``count`` connections from ``threads`` threads; returns the failures (raises if all fail)."""
    left = [count]
    failures: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        session = None
        if mode == "resumed":
            _, session, _ = _one(ctx, port, request, None)
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            try:
                answer, new, reused = _one(ctx, port, request, session)
            except OSError as exc:
                with lock:
                    failures.append(str(exc))
                continue
            if not answer.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")) or reused != (mode == "resumed"):
                with lock:
                    failures.append(f"answer {answer[:30]!r} reused={reused}")
            if mode == "resumed":
                session = new

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failures:
        raise SystemExit(f"{len(failures)} failed connections, e.g. {failures[0]}")
    return 0


# ====================================================================== servers


class Proc:
    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, env=env, stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        while line.startswith("ca-file"):
            line = self.proc.stdout.readline().decode()
        m = re.match(r"listening: https://[^:]+:(\d+)/", line)
        if not m:
            raise SystemExit(f"no listening line from {argv}: {line!r}")
        self.port = int(m.group(1))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _serve_argv(folder: Path, version: str, args: argparse.Namespace, profile: Path | None) -> list[str]:
    head = (
        [sys.executable, __file__, "--profiled", str(profile)] if profile else [sys.executable, "-m", "https_request"]
    )
    argv = [*head, "serve", "--host", HOST, "--port", "0", "--cert", str(folder / "cert.pem"),
            "--key", str(folder / "key.pem"), "--tls-version", version, "--ciphers", IANA[version],
            "--groups", "x25519", "--schema", "2026"]  # fmt: skip
    if args.loop:
        argv += ["--loop", args.loop]
    return argv


def idle_memory(folder: Path, env: dict[str, str], args: argparse.Namespace, count: int) -> dict[str, float]:
    """RSS of a fresh serve before and while it holds ``count`` handshaken TLS 1.3 connections
    waiting for their request (from 10 loopback addresses, under the per-client limit)."""
    ctx = _client(str(folder / "ca.pem"), "1.3")
    server = Proc(_serve_argv(folder, "1.3", args, None), env, folder / "idle.log")
    held: list[ssl.SSLSocket] = []
    try:
        request = f"GET / HTTP/1.1\r\nHost: {NAME}\r\n\r\n".encode()
        drive(ctx, server.port, request, "full", 50, 2)  # warm up
        time.sleep(0.3)
        before = _status_kib(server.proc.pid, "VmRSS")
        for i in range(count):
            raw = socket.create_connection((HOST, server.port), source_address=(f"127.0.1.{i % 10 + 1}", 0))
            held.append(ctx.wrap_socket(raw, server_hostname=NAME))
        time.sleep(0.5)
        during = _status_kib(server.proc.pid, "VmRSS")
    finally:
        for s in held:
            s.close()
        server.stop()
    return {"before_mib": before / 1024, "holding_mib": during / 1024, "per_connection_kib": (during - before) / count}


# ====================================================================== the profile's categories

_CATEGORIES = (
    (
        "log",
        re.compile(r"server/(tls_server\.py:\d+\(stderr_log|connections\.py:\d+\((log_line|log_fields|_printable))\)"),
    ),
    ("engine", re.compile(r"https_request/(tls/|wire\.py)")),
    ("http/app", re.compile(r"https_request/(server/app\.py|howsmyssl/)|/h11/")),
    ("server", re.compile(r"https_request/(server/|io/)")),
    ("asyncio", re.compile(r"/asyncio/|/selectors\.py|/socket\.py|uvloop")),
)
_IDLE: tuple[str, ...] = ()  # (the profile's clock is CPU time: a loop waiting for events costs nothing)


def _category(func: tuple[str, int, str]) -> str | None:
    """The layer a function belongs to; None for the standard library's and other packages'
    functions and for C functions (their time goes to their callers' layers)."""
    filename, line, name = func
    text = name if filename == "~" else f"{filename}:{line}({name})"
    for cat, pattern in _CATEGORIES:
        if pattern.search(text):
            return cat
    return None


def categorise(path: Path) -> tuple[dict[str, float], list[tuple[float, str]]]:
    """Seconds by category (C and shared functions charged to their callers), and the top functions."""
    st = pstats.Stats(str(path))
    table: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
    cache: dict[Any, dict[str, float]] = {}

    def share(func: Any, depth: int = 0) -> dict[str, float]:
        """How func's own time splits over categories (1.0 in all)."""
        cat = _category(func)
        if cat is not None:
            return {cat: 1.0}
        if func in cache:
            return cache[func]
        callers = table[func][4]
        total = sum(v[3] for v in callers.values()) or sum(v[2] for v in callers.values())
        out: dict[str, float] = {}
        if not callers or total <= 0 or depth > 40:
            out = {"other": 1.0}
        else:
            for caller, v in callers.items():
                weight = (v[3] or v[2]) / total
                for c, s in (share(caller, depth + 1) if caller in table else {"other": 1.0}).items():
                    out[c] = out.get(c, 0.0) + weight * s
        cache[func] = out
        return out

    seconds: dict[str, float] = {}
    for func, (_cc, _nc, tt, _ct, _callers) in table.items():
        if func[2] in _IDLE:
            continue
        for c, s in share(func).items():
            seconds[c] = seconds.get(c, 0.0) + tt * s
    top = sorted(((v[2], f"{f[0].split('site-packages/')[-1].split('src/')[-1]}:{f[1]}({f[2]})")
                  for f, v in table.items()), reverse=True)[:25]  # fmt: skip
    return seconds, top


# ====================================================================== main


def run(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(_ROOT / "tests"))
    from certs import make_ca, make_leaf

    folder = Path(tempfile.mkdtemp(prefix="hrq-serve-profile-"))
    try:
        ca = make_ca("p256", name="Bench Root CA")
        leaf = make_leaf(ca, [NAME], key_type="p256")
        for name, data in (("ca.pem", ca.cert_pem), ("cert.pem", leaf.chain_pem), ("key.pem", leaf.key_pem)):
            (folder / name).write_bytes(data)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(_ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
        host = args.host or ("www.howsmyssl.com" if args.path != "/" else NAME)
        request = f"GET {args.path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench\r\n\r\n".encode()
        results: list[dict[str, Any]] = []
        if args.idle:
            mem = idle_memory(folder, env, args, args.idle)
            print(f"{args.idle} idle handshaken connections: RSS {mem['before_mib']:.1f} -> {mem['holding_mib']:.1f}"
                  f" MiB, {mem['per_connection_kib']:.1f} KiB per connection", flush=True)  # fmt: skip
            results.append({"row": "idle", **mem})
        rows = [r for r in ROWS if not args.rows or f"{r[0]}-{r[1]}" in args.rows]
        for version, mode in rows:
            ctx = _client(str(folder / "ca.pem"), version)
            prof = folder / f"serve-{version}-{mode}.prof" if args.profile else None
            ours = Proc(_serve_argv(folder, version, args, prof), env, folder / "ours.log")
            ref = Proc([sys.executable, __file__, "--serve-blocking", str(folder), "--version", version], env,
                       folder / "ref.log")  # fmt: skip
            try:
                idle_rss = _status_kib(ours.proc.pid, "VmRSS")
                row: dict[str, Any] = {"row": f"TLS {version} {mode}"}
                for name, server in (("ours", ours), ("blocking", ref)):
                    drive(ctx, server.port, request, mode, args.warmup, args.threads)
                    if name == "ours" and prof is not None:
                        server.proc.send_signal(signal.SIGUSR1)
                        time.sleep(0.1)
                    cpu0, sys0 = _cpu(server.proc.pid), _cpu(server.proc.pid, kernel=True)
                    drive(ctx, server.port, request, mode, args.connections, args.threads)
                    time.sleep(0.2)
                    cpu = max(_cpu(server.proc.pid) - cpu0, 1e-9)
                    row[name] = args.connections / cpu
                    row[f"{name}_kernel_share"] = (_cpu(server.proc.pid, kernel=True) - sys0) / cpu
                row["ratio"] = row["ours"] / row["blocking"]
                row["idle_rss_mib"] = idle_rss / 1024
                row["peak_rss_mib"] = _status_kib(ours.proc.pid, "VmHWM") / 1024
            finally:
                ours.stop()
                ref.stop()
            if prof is not None:
                seconds, top = categorise(prof)
                total = sum(seconds.values())
                row["profile"] = {k: v / total for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])}
                row["top"] = top
            results.append(row)
            print(f"{row['row']:16} ours {row['ours']:7.0f}/CPU-s  blocking stdlib {row['blocking']:7.0f}/CPU-s  "
                  f"ratio {row['ratio']:.2f}  RSS idle {row['idle_rss_mib']:.1f} MiB peak {row['peak_rss_mib']:.1f}"
                  f" MiB; kernel share of CPU: ours {row['ours_kernel_share']:.0%}, blocking"
                  f" {row['blocking_kernel_share']:.0%}", flush=True)  # fmt: skip
            if "profile" in row:
                print("   profile shares: " + ", ".join(f"{k} {v:.0%}" for k, v in row["profile"].items()))
                if args.top:
                    for tt, name in row["top"][: args.top]:
                        print(f"     {tt:7.3f}s  {name}")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, True)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--profiled"]:  # (internal) serve under the profiler: --profiled FILE serve ARGS...
        return profiled_serve(argv[1], argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=1500, help="timed connections per server and row")
    parser.add_argument("--warmup", type=int, default=100, help="untimed connections first")
    parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), help="serve --loop (default: serve's)")
    parser.add_argument("--path", default="/", help="request path: / (empty answer) or /a/check (howsmyssl)")
    parser.add_argument(
        "--host",
        help="the request's Host (default: www.howsmyssl.com, localhost for /); "
        "--host www.howsmyssl.com --path / asks for the HTML report, as bench/server.py does",
    )
    parser.add_argument("--rows", nargs="*", help="only these rows (1.3-full 1.3-resumed 1.2-full 1.2-resumed)")
    parser.add_argument("--idle", type=int, default=0, metavar="N",
                        help="first measure serve's RSS holding N idle handshaken connections")  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="run serve under cProfile; print the shares")
    parser.add_argument("--top", type=int, default=0, help="with --profile: print the N costliest functions")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, profiles)")
    parser.add_argument("--serve-blocking", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--version", default="1.3", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_blocking:
        serve_blocking(args.serve_blocking, args.version)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
