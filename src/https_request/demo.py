"""``https-request demo``: the main job, offline.

It starts two servers on 127.0.0.1 at free ports, each an ``https-request
serve`` process: the ticket server with the packaged local certificate and key
(the role of the Python server in ESP-IDF's own test of the example) and the
check server with a fresh CA (a new state folder). Then it runs ``example``
against them: www.howsmyssl.com:443 is connected to the check server,
EXAMPLE_SERVER_ROOT_CERT and the bundle's extra certificates are the fresh CA,
the local URL is the ticket server's, and the countdown is short. It ends with
a table of every request: expected and actual outcome, version, suite,
resumed, rating. Exit status 0 when every request behaved as expected.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

__all__ = ["main"]

_START_TIMEOUT_S = 30.0


@contextmanager
def _server(args: list[str], env: dict[str, str]) -> Iterator[tuple[int, str | None]]:
    """Run ``https-request serve``; yields (port, ca-file) once it listens."""
    cmd = [sys.executable, "-m", "https_request", "serve", "--host", "127.0.0.1", "--port", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        ca: str | None = None
        deadline = time.monotonic() + _START_TIMEOUT_S
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"serve exited early ({proc.wait()})")
            if line.startswith("ca-file: "):
                ca = line[len("ca-file: ") :].strip()
            elif line.startswith("listening: "):
                port = int(line.strip().rstrip("/").rsplit(":", 1)[1])
                yield port, ca
                return
        raise RuntimeError("serve did not start in time")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    headers = ("request", "expected", "outcome", "version", "suite", "resumed", "rating")
    data: list[tuple[str, ...]] = [headers, *rows]
    widths = [max(len(r[i]) for r in data) for i in range(len(headers))]
    for n, row in enumerate(data):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    """Run the offline demo; returns 0 when every request behaved as expected."""
    p = argparse.ArgumentParser(prog="https-request demo")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v: DEBUG (esp-tls lines), -vv: VERBOSE")
    p.add_argument("--countdown", type=int, default=1, help="seconds of countdown after each request (default 1)")
    args = p.parse_args(argv or [])

    from .example.config import LOCAL_SERVER_CERT, LOCAL_SERVER_KEY, ConfigError, load_config

    with tempfile.TemporaryDirectory(prefix="https-request-demo-") as tmp, ExitStack() as stack:
        env = dict(os.environ, XDG_STATE_HOME=str(Path(tmp) / "state"))
        local_port, _ = stack.enter_context(
            _server(["--cert", str(LOCAL_SERVER_CERT), "--key", str(LOCAL_SERVER_KEY), "--key-type", "rsa"], env)
        )
        check_port, ca_file = stack.enter_context(_server([], env))
        if ca_file is None:
            print("https-request demo: the check server did not report its CA file", file=sys.stderr)
            return 1
        level = ("INFO", "DEBUG", "VERBOSE")[min(args.verbose, 2)]
        sets = [
            f"EXAMPLE_LOCAL_SERVER_URL=https://127.0.0.1:{local_port}",
            f"EXAMPLE_CONNECT_TO=www.howsmyssl.com:443:127.0.0.1:{check_port}",
            f"EXAMPLE_SERVER_ROOT_CERT={ca_file}",
            f"MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH={ca_file}",
            f"EXAMPLE_COUNTDOWN_S={max(0, args.countdown)}",
            f"LOG_DEFAULT_LEVEL={level}",
        ]
        try:
            cfg = load_config(None, sets, default_file=False)
        except ConfigError as exc:
            print(f"https-request demo: {exc}", file=sys.stderr)
            return 2
        from . import log
        from .example.flow import run

        log.setup(cfg.log_level, stream=sys.stdout)
        outcomes = run(cfg)
    rows = [
        (
            o.method,
            "connects" if o.expected_ok else "fails",
            ("connected" if o.connected else "failed") + ("" if o.connected == o.expected_ok else " (UNEXPECTED)"),
            o.version,
            o.cipher_suite,
            "yes" if o.resumed else "no",
            o.rating or "-",
        )
        for o in outcomes
    ]
    print()
    _table(rows)
    return 0 if all(o.connected == o.expected_ok for o in outcomes) else 1
