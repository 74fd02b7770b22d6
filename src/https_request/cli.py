"""The ``https-request`` command.

Subcommands import their modules lazily, inside the function that runs them,
so ``https-request --version`` stays fast (no ``cryptography`` import).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from ._version import __version__

__all__ = ["build_parser", "main"]


def _run_demo(args: argparse.Namespace) -> int:
    from . import demo

    return demo.main(["-v"] * args.verbose)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="https-request",
        description="ESP-IDF's HTTPS Request example in Python, on its own sans-I/O TLS 1.3/1.2 engine.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run the example offline, printing the ESP-style log")
    demo.add_argument("-v", "--verbose", action="count", default=0, help="engine trace: -v, -vv, -vvv")
    demo.set_defaults(func=_run_demo)
    _add_bundle(sub)
    return parser


def _add_bundle(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .bundle_cli import add_parser  # light: the bundle code is imported when a bundle command runs

    add_parser(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130
