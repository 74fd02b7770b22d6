"""``serve``'s own work for one connection, in memory: what the server does besides the kernel and the loop.

Run as ``.venv/bin/python bench/serve_inproc.py [--version 1.3|1.2] [--resumed] [--count N]
[--page|--path P --host H] [--profile] [--valgrind]``.

The connection is ``serve``'s real one: :class:`~https_request.server.connections.HttpsConnection`
of a :class:`~https_request.server.tls_server.Server` built from ``serve``'s own option
parser (``--cert/--key`` ECDSA P-256, ``--groups x25519``, ``--schema 2026``, the suite
of bench/server.py, in-memory ticket keys; the arguments after ``--`` are added to
``serve``'s), started on a real listening socket that is never used. Each connection is
handed its bytes by calling its protocol callbacks (``connection_made``,
``data_received``, ``eof_received``, ``connection_lost``) with a transport that keeps
what is written, as the event loop would; the client is stdlib ssl (an ``SSLObject``
over ``MemoryBIO``s, verifying the chain and ``localhost``): handshake, the request of
bench/server.py (``GET /`` with ``Host: www.howsmyssl.com``: the HTML report; or
``--path``/``--host``), the answer read to close_notify and checked, the client's
close_notify and EOF, and the log line (stderr goes to /dev/null). A resumed run offers
the previous connection's session (a chain) and fails when it is not resumed.

What it prints (no sockets, no loop iterations: contention moves little but the CPU time):

* CPU microseconds per connection (``time.process_time``) spent in serve's callbacks,
  and for the whole connection, the client's included, beside the same connection
  with a stdlib-ssl server in memory instead (answering the same bytes);
* ``--profile``: cProfile of the server's side only (the client's calls are outside the
  profiled callbacks), Python function calls per connection and the top functions;
* ``--valgrind``: instructions per connection (valgrind's callgrind, total Ir of two
  runs, 20 and 20 + ``--count`` connections, differenced: start-up cancels
  out), client included, and the same with the stdlib-ssl server: the difference is
  what serve executes beyond OpenSSL's server half. The counts are
  what to compare before and after a change: a busy machine does not move them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import pstats
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
for _p in (_ROOT / "src", _ROOT / "tests"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

NAME = "localhost"
IANA = {"1.3": "TLS_AES_128_GCM_SHA256", "1.2": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}
OPENSSL12 = "ECDHE-ECDSA-AES128-GCM-SHA256"


class Transport:
    """What the protocol writes, kept for the client; the calls the event loop's transport answers."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def write(self, data: bytes) -> None:
        self.out += data

    def take(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


def request_bytes(path: str, host: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench/server.py\r\nConnection: close\r\n\r\n"
            .encode())  # fmt: skip


class Bench:
    """One serve Server (never accepting) and a stdlib client context."""

    def __init__(self, folder: Path, version: str, extra: list[str], request: bytes) -> None:
        from https_request.server import serve_cli
        from https_request.server.tls_server import Server

        parser = argparse.ArgumentParser()
        serve_cli.add_parser(parser.add_subparsers())
        argv = ["serve", "--host", "127.0.0.1", "--port", "0", "--cert", str(folder / "cert.pem"),
                "--key", str(folder / "key.pem"), "--tls-version", version, "--ciphers", IANA[version],
                "--groups", "x25519", "--schema", "2026", "--loop", "asyncio", *extra]  # fmt: skip
        settings, _ = serve_cli.worker_settings(parser.parse_args(argv))
        self.server = Server(settings)
        self.request = request
        self.version = version
        ctx = ssl.create_default_context(cafile=str(folder / "ca.pem"))
        self.client = ctx  # OpenSSL's defaults, as bench/server.py's clients: serve picks the version and suite
        self.session: ssl.SSLSession | None = None
        self.profile: cProfile.Profile | None = None
        self.server_cpu = 0.0  # seconds spent in serve's callbacks

    async def start(self) -> None:
        import socket

        self._sock = socket.create_server(("127.0.0.1", 0))
        await self.server.start(self._sock)

    @contextlib.contextmanager
    def _server_side(self) -> Iterator[None]:
        if self.profile is not None:
            self.profile.enable()
        t0 = time.process_time()
        try:
            yield
        finally:
            self.server_cpu += time.process_time() - t0
            if self.profile is not None:
                self.profile.disable()

    def one(self, resumed: bool) -> bytes:
        """One connection; returns the answer (raises AssertionError when it is wrong)."""
        from https_request.server.connections import HttpsConnection

        want_read = ssl.SSLWantReadError
        cin, cout = ssl.MemoryBIO(), ssl.MemoryBIO()
        c = self.client.wrap_bio(cin, cout, server_hostname=NAME, session=self.session if resumed else None)
        transport = Transport()
        with self._server_side():
            conn = HttpsConnection(self.server)
            conn.connection_made(transport)  # type: ignore[arg-type]
        for _ in range(10):
            try:
                c.do_handshake()
                break
            except want_read:
                pass
            with self._server_side():
                conn.data_received(cout.read())
            cin.write(transport.take())
        else:
            raise AssertionError("handshake did not finish")
        c.write(self.request)
        with self._server_side():
            conn.data_received(cout.read())
        cin.write(transport.take())
        chunks = []
        while True:
            try:
                chunk = c.read(65536)
            except ssl.SSLZeroReturnError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        try:
            c.unwrap()
        except (want_read, ssl.SSLError):
            pass
        with self._server_side():
            conn.data_received(cout.read())
            conn.eof_received()
            conn.connection_lost(None)
        answer = b"".join(chunks)
        if not answer.startswith(b"HTTP/1.1 200 OK\r\n"):
            raise AssertionError(f"answer {answer[:60]!r}")
        if c.session_reused != resumed:
            raise AssertionError(f"session_reused={c.session_reused} in a {'resumed' if resumed else 'full'} run")
        if c.version() != f"TLSv{self.version}":
            raise AssertionError(f"negotiated {c.version()}")
        self.session = c.session
        return answer


def stdlib_pair(folder: Path, version: str, request: bytes, answer: bytes, resumed: bool) -> Callable[[], None]:
    """The same client against a stdlib-ssl server in memory that answers ``answer`` (the same version
    and suite, two TLS 1.3 tickets): what the connection costs when OpenSSL is the server."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(str(folder / "cert.pem"), str(folder / "key.pem"))
    cctx = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    tls = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    sctx.minimum_version = sctx.maximum_version = tls
    if version == "1.2":
        sctx.set_ciphers(OPENSSL12)
    sctx.num_tickets = 2
    state: dict[str, Any] = {"session": None}
    want_read = ssl.SSLWantReadError

    def run() -> None:
        cin, cout, sin, sout = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
        c = cctx.wrap_bio(cin, cout, server_hostname=NAME, session=state["session"] if resumed else None)
        s = sctx.wrap_bio(sin, sout, server_side=True)
        c_done = s_done = False
        for _ in range(10):
            if not c_done:
                try:
                    c.do_handshake()
                    c_done = True
                except want_read:
                    pass
            sin.write(cout.read())
            if not s_done:
                try:
                    s.do_handshake()
                    s_done = True
                except want_read:
                    pass
            cin.write(sout.read())
            if c_done and s_done:
                break
        c.write(request)
        sin.write(cout.read())
        s.read(65536)
        s.write(answer)
        try:
            s.unwrap()
        except want_read:
            pass
        cin.write(sout.read())
        while True:
            try:
                if not c.read(65536):
                    break
            except ssl.SSLZeroReturnError:
                break
        try:
            c.unwrap()
        except (want_read, ssl.SSLError):
            pass
        if resumed and state["session"] is not None and not c.session_reused:
            raise AssertionError("stdlib pair: not resumed")
        state["session"] = c.session

    return run


def make_certs(folder: Path) -> None:
    from certs import make_ca, make_leaf

    ca = make_ca("p256", name="Bench Root CA")
    leaf = make_leaf(ca, [NAME], key_type="p256")
    for name, data in (("ca.pem", ca.cert_pem), ("cert.pem", leaf.chain_pem), ("key.pem", leaf.key_pem)):
        (folder / name).write_bytes(data)


def measure(args: argparse.Namespace, folder: Path) -> dict[str, float]:
    """Run the connections; returns CPU us per connection (serve's callbacks, the whole
    connection; --stdlib: the whole connection with OpenSSL as the server)."""
    request = request_bytes(args.path, args.host)
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(2)
    os.dup2(devnull, 2)  # serve's log lines
    try:
        if args.loop == "uvloop":
            import uvloop

            loop = uvloop.new_event_loop()
        else:
            loop = asyncio.new_event_loop()
        bench = Bench(folder, args.version, args.serve_args, request)
        loop.run_until_complete(bench.start())
        out: dict[str, float] = {}

        async def go() -> None:
            answer = bench.one(False)
            if not args.stdlib:
                for _ in range(args.warmup):
                    bench.one(args.resumed)
            else:
                run = stdlib_pair(folder, args.version, request, answer, args.resumed)
                for _ in range(args.warmup):
                    run()
                t0 = time.process_time()
                for _ in range(args.count):
                    run()
                out["stdlib_us"] = (time.process_time() - t0) / max(args.count, 1) * 1e6
                return
            if args.profile:
                bench.profile = cProfile.Profile()
            t0 = time.process_time()
            bench.server_cpu = 0.0
            for i in range(args.count):
                bench.one(args.resumed)
                if i % 100 == 99:
                    await asyncio.sleep(0)  # (the loop drops cancelled timers)
            out["total_us"] = (time.process_time() - t0) / max(args.count, 1) * 1e6
            out["serve_us"] = bench.server_cpu / max(args.count, 1) * 1e6
            out["answer_bytes"] = len(answer)

        loop.run_until_complete(go())
        loop.close()
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)
    if bench.profile is not None:
        st = pstats.Stats(bench.profile)
        table: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
        calls = sum(v[1] for v in table.values())
        out["calls"] = calls / args.count
        print(f"Python and C function calls per connection (server side): {calls / max(args.count, 1):.0f}")
        st.sort_stats(args.sort).print_stats(args.top)
        if args.callees:
            st.print_callees(args.callees)
    return out


def valgrind_ir(argv: list[str]) -> int:
    """Total instructions (callgrind's Ir) of ``python bench/serve_inproc.py ARGV``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
                        *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        m = re.search(r"^(?:summary|totals):\s*(\d+)", out.read_text(), re.M)
        assert m, "no totals in callgrind's output"
        return int(m.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--version", choices=("1.3", "1.2"), default="1.3")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio",
                        help="serve's event loop (default asyncio; bench/server.py runs serve on uvloop)")  # fmt: skip
    parser.add_argument("--resumed", action="store_true", help="offer the previous connection's session")
    parser.add_argument("--count", type=int, default=500, help="timed connections (default 500)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--path", default="/")
    parser.add_argument("--host", default="www.howsmyssl.com", help="the request's Host (default: the HTML report)")
    parser.add_argument("--profile", action="store_true", help="cProfile the server's side")
    parser.add_argument("--sort", default="tottime", help="with --profile: pstats sort key (default tottime)")
    parser.add_argument("--top", type=int, default=30, help="with --profile: functions shown")
    parser.add_argument("--callees", metavar="REGEX", help="with --profile: print what these functions call")
    parser.add_argument("--valgrind", action="store_true", help="instructions per connection (callgrind)")
    parser.add_argument("--no-stdlib", action="store_true", help="with --valgrind: not the stdlib-ssl server's row")
    parser.add_argument("--stdlib", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--certs", help=argparse.SUPPRESS)
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)  # (one run, no report: --valgrind's)
    parser.add_argument("serve_args", nargs="*", help="more serve options (after --)")
    args = parser.parse_args(argv)
    folder = Path(args.certs) if args.certs else Path(tempfile.mkdtemp(prefix="hrq-serve-inproc-"))
    try:
        if not args.certs:
            make_certs(folder)
        row = f"TLS {args.version} {'resumed' if args.resumed else 'full'} {args.host}{args.path}"
        if args.valgrind:
            base = ["--raw", "--version", args.version, "--count", "0", "--certs", str(folder), "--loop", args.loop,
                    "--path", args.path, "--host", args.host] + (["--resumed"] if args.resumed else [])  # fmt: skip
            n = args.count
            res = {}
            for who, extra in (("serve", []), ("stdlib", ["--stdlib"]))[: 1 if args.no_stdlib else 2]:
                low = valgrind_ir([*base, *extra, "--warmup", "20"])
                high = valgrind_ir([*base, *extra, "--warmup", str(20 + n)])
                res[who] = (high - low) / n
            if args.no_stdlib:
                print(f"{row}: {res['serve'] / 1e6:.3f} M instructions per connection (serve and the client)")
                return 0
            more = (res["serve"] - res["stdlib"]) / 1e6
            print(f"{row}: {res['serve'] / 1e6:.3f} M instructions per connection (serve and the client), "
                  f"{res['stdlib'] / 1e6:.3f} M with a stdlib-ssl server instead; "
                  f"serve costs {more:.3f} M more than OpenSSL's server half")  # fmt: skip
            return 0
        out = measure(args, folder)
        if args.raw:
            return 0
        pair = measure(argparse.Namespace(**{**vars(args), "stdlib": True, "profile": False}), folder)
        print(f"{row}: serve's callbacks {out['serve_us']:.0f} us CPU per connection; with the client "
              f"{out['total_us']:.0f} us, {pair['stdlib_us']:.0f} us with a stdlib-ssl server instead"
              f" (answer {out['answer_bytes']:.0f} bytes)")  # fmt: skip
    finally:
        if not args.certs:
            shutil.rmtree(folder, True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
