"""``https-request demo``: the main job, offline.

It starts the two local servers (:mod:`.example.local`: the ticket server and
the check server, ``https-request serve`` processes on 127.0.0.1 with a new
state folder) and runs ``example`` against them with a short countdown. It ends with
a table of every request: expected and actual outcome, version, suite,
resumed, rating. Exit status 0 when every request behaved as expected.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


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

    from .example.config import ConfigError, load_config
    from .example.local import local_servers

    with (
        tempfile.TemporaryDirectory(prefix="https-request-demo-") as tmp,
        local_servers(Path(tmp) / "state") as servers,
    ):
        level = ("INFO", "DEBUG", "VERBOSE")[min(args.verbose, 2)]
        sets = [*servers, f"EXAMPLE_COUNTDOWN_S={max(0, args.countdown)}", f"LOG_DEFAULT_LEVEL={level}"]
        try:
            cfg = load_config(None, sets, default_file=False)
        except ConfigError as exc:
            print(f"https-request demo: {exc}", file=sys.stderr)
            return 2
        from . import log
        from .example.flow import run
        from .example.local import device_nvs

        log.setup(cfg.log_level, stream=sys.stdout, maximum=max(cfg.log_level, cfg.log_maximum_level))
        with device_nvs(Path(tmp) / "state") as nvs:
            outcomes = run(cfg, nvs=nvs)
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
