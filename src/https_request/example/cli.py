"""``https-request example``: ESP-IDF's example app_main, configured by Kconfig/sdkconfig.

Exit status: 0 when every request behaved as the example expects (the
unsupported-suite request must fail), 1 otherwise, 2 for a configuration error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..nvs import Nvs

__all__ = ["add_parser", "main"]

_DESCRIPTION = """\
ESP-IDF's HTTPS Request example, line for line in ESP-IDF's log format: the host's
network (example_connect), then the requests of https_request_task with their
countdowns. Configured like the device: Kconfig defaults, then ./sdkconfig (or
--sdkconfig FILE), then --set NAME=VALUE. The web requests go to the real
www.howsmyssl.com unless EXAMPLE_CONNECT_TO (or --local) sends them elsewhere.

The device's clock comes from NVS (https-request nvs set-time stores the host's,
as ESP-IDF's CI does before its test), else from SNTP; --local uses a fresh store
holding the host's time.

exit status: 0 every request behaved as the example expects (the unsupported
cipher suite must fail), 1 one did not (or app_main aborted: no time from NVS or
SNTP), 2 configuration error."""


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

    from .local import device_nvs, local_servers

    with tempfile.TemporaryDirectory(prefix="https-request-example-") as tmp:
        state = Path(tmp) / "state"
        try:
            with local_servers(state) as servers, device_nvs(state) as nvs:
                return _configured(sdkconfig, [*servers, *sets], verbose, nvs)
        except RuntimeError as exc:
            print(f"https-request example: --local: {exc}", file=sys.stderr)
            return 2


def _configured(sdkconfig: Path | None, sets: list[str], verbose: int, nvs: Nvs | None = None) -> int:
    from .. import log
    from .config import ConfigError, load_config

    try:
        cfg = load_config(sdkconfig, sets)
    except ConfigError as exc:
        print(f"https-request example: {exc}", file=sys.stderr)
        return 2
    level = max(cfg.log_level, (cfg.log_level, log.DEBUG, log.VERBOSE)[min(verbose, 2)])
    log.setup(level, stream=sys.stdout, maximum=max(level, cfg.log_maximum_level))
    from .flow import AppAbort, run

    try:
        outcomes = run(cfg, nvs=nvs)
    except ValueError as exc:
        print(f"https-request example: {exc}", file=sys.stderr)
        return 2
    except AppAbort as exc:
        print(f"https-request example: {exc} (store a time first: https-request nvs set-time)", file=sys.stderr)
        return 1
    return 0 if all(o.connected == o.expected_ok for o in outcomes) else 1
