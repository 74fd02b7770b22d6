"""``https-request example``: ESP-IDF's example app_main, configured by Kconfig/sdkconfig.

Exit status: 0 when every request behaved as the example expects (the
unsupported-suite request must fail), 1 otherwise, 2 for a configuration error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "main"]

_DESCRIPTION = """\
ESP-IDF's HTTPS Request example, line for line in ESP-IDF's log format: the host's
network (example_connect), then the requests of https_request_task with their
countdowns. Configured like the device: Kconfig defaults, then ./sdkconfig (or
--sdkconfig FILE), then --set NAME=VALUE. The web requests go to the real
www.howsmyssl.com unless EXAMPLE_CONNECT_TO (or --local) sends them elsewhere.

exit status: 0 every request behaved as the example expects (the unsupported
cipher suite must fail), 1 one did not, 2 configuration error."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "example",
        help="run ESP-IDF's HTTPS Request example (ESP log format)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sdkconfig", type=Path, default=None, help="sdkconfig file (default: ./sdkconfig when present)")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one option (NAME without CONFIG_); repeatable",
    )
    p.add_argument(
        "--local",
        action="store_true",
        help="start the two local servers (as demo does) and point the example at them; offline",
    )
    p.add_argument(
        "-v", "--verbose", action="count", default=0, help="-v: DEBUG (esp-tls lines), -vv: VERBOSE (all lines)"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    return main(args.sdkconfig, args.sets, local=args.local, verbose=args.verbose)


def main(sdkconfig: Path | None, sets: list[str], *, local: bool = False, verbose: int = 0) -> int:
    """Load the configuration, run the example, return the exit status.

    ``local`` starts the local servers first (their settings come before
    ``sets``, which may override them); ``verbose`` raises the log level to
    DEBUG (1) or VERBOSE (2) above the configured one.
    """
    if not local:
        return _configured(sdkconfig, sets, verbose)
    import tempfile

    from .local import local_servers

    with tempfile.TemporaryDirectory(prefix="https-request-example-") as tmp:
        try:
            with local_servers(Path(tmp) / "state") as servers:
                return _configured(sdkconfig, [*servers, *sets], verbose)
        except RuntimeError as exc:
            print(f"https-request example: --local: {exc}", file=sys.stderr)
            return 2


def _configured(sdkconfig: Path | None, sets: list[str], verbose: int) -> int:
    from .. import log
    from .config import ConfigError, load_config

    try:
        cfg = load_config(sdkconfig, sets)
    except ConfigError as exc:
        print(f"https-request example: {exc}", file=sys.stderr)
        return 2
    level = max(cfg.log_level, (cfg.log_level, log.DEBUG, log.VERBOSE)[min(verbose, 2)])
    log.setup(level, stream=sys.stdout)
    from .flow import run

    try:
        outcomes = run(cfg)
    except ValueError as exc:
        print(f"https-request example: {exc}", file=sys.stderr)
        return 2
    return 0 if all(o.connected == o.expected_ok for o in outcomes) else 1
