"""``https-request example``: ESP-IDF's example app_main, configured by Kconfig/sdkconfig.

Exit status: 0 when every request behaved as the example expects (the
unsupported-suite request must fail), 1 otherwise, 2 for a configuration error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "main"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("example", help="run ESP-IDF's HTTPS Request example (ESP log format)")
    p.add_argument("--sdkconfig", type=Path, default=None, help="sdkconfig file (default: ./sdkconfig when present)")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one option (NAME without CONFIG_); repeatable",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    return main(args.sdkconfig, args.sets)


def main(sdkconfig: Path | None, sets: list[str]) -> int:
    """Load the configuration, run the task, return the exit status."""
    from .. import log
    from .config import ConfigError, load_config

    try:
        cfg = load_config(sdkconfig, sets)
    except ConfigError as exc:
        print(f"https-request example: {exc}", file=sys.stderr)
        return 2
    log.setup(cfg.log_level, stream=sys.stdout)
    from .flow import run

    try:
        outcomes = run(cfg)
    except ValueError as exc:
        print(f"https-request example: {exc}", file=sys.stderr)
        return 2
    return 0 if all(o.connected == o.expected_ok for o in outcomes) else 1
