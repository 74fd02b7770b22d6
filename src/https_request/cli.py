"""The ``https-request`` command.

Subcommands import their modules lazily, inside the function that runs them,
so ``https-request --version`` stays fast (no ``cryptography`` import).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from ._version import __version__

if TYPE_CHECKING:
    import argparse

__all__ = ["build_parser", "console_main", "discard_stdout", "main"]


def _run_demo(args: argparse.Namespace) -> int:
    from . import demo

    return demo.main(["-v"] * args.verbose + ["--countdown", str(args.countdown)])


_COMMANDS = ("demo", "bundle", "get", "resolve", "serve", "example", "nvs", "menuconfig")

#: The module that defines each command's ``add_parser``, imported only when that
#: command's parser is built: a command imports what it uses and nothing else.
_PARSER_MODULES = {
    "bundle": ".bundle_cli",
    "get": ".get_args",
    "resolve": ".resolve_cli",
    "serve": ".server.serve_cli",
    "example": ".example.cli",
    "nvs": ".nvs_cli",
    "menuconfig": ".menuconfig_cli",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command`` only that subcommand is built, which keeps
    start-up cheap (the others could not be reached by these arguments, and the
    help lists only commands whose parser is built)."""
    import argparse
    from importlib import import_module

    parser = argparse.ArgumentParser(
        prog="https-request",
        description="ESP-IDF's HTTPS Request example in Python, on its own sans-I/O TLS 1.3/1.2 engine.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        if command is not None and command != name:
            continue
        if name == "demo":
            _add_demo(sub)
        else:
            import_module(_PARSER_MODULES[name], __package__).add_parser(sub)
    return parser


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo",
        help="run the example offline against the embedded servers (ESP-style log)",
        description="The main job, offline: two local `serve` processes (the ticket server and the "
        "howsmyssl-compatible check server) and ESP-IDF's example against them, then a table of every "
        "request. Exit status: 0 every request behaved as expected, 1 one did not, 2 a configuration error.",
    )
    demo.add_argument("-v", "--verbose", action="count", default=0, help="-v: DEBUG (esp-tls lines), -vv: VERBOSE")
    demo.add_argument("--countdown", type=int, default=1, help="countdown after each request, seconds (default 1)")
    demo.set_defaults(func=_run_demo)


def console_main() -> NoReturn:
    """The ``https-request`` console script: :func:`main`, then exit with its status.

    stdout is flushed here, before the interpreter's own flush at exit, so
    that output that cannot be written (a full disk, a reader that went away)
    is an error in the user's terms: a message on stderr and exit status 2
    (when the command had succeeded) instead of Python's "Exception ignored"
    and status 120.

    Then the objects still alive are frozen (:func:`gc.freeze`): the process
    is about to end, and the interpreter's shutdown would otherwise walk every
    one of them in its final collections (~13 ms of ``get``'s ~115 ms,
    bench/cold_get.py). Nothing is skipped: atexit handlers, the flush of
    stderr and the exit status are as before; objects in reference cycles are
    then reclaimed by the process's exit rather than by the collector, and
    Python does not promise to finalize objects alive at exit either way.
    """
    code = main()
    try:
        sys.stdout.flush()
    except OSError as exc:
        discard_stdout()
        sys.stderr.write(f"https-request: cannot write the output: {exc.strerror or exc}\n")
        code = code or 2
    gc.freeze()
    sys.exit(code)


def discard_stdout() -> None:
    """Point stdout's file descriptor at the null device, after a write to it
    failed: what is still buffered is dropped at exit instead of failing again
    (the recipe of Python's ``signal`` documentation for a broken pipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no stdout, or already closed: nothing left to fail
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status.

    ``get``'s TCP connect may start first, before the arguments are parsed
    (:mod:`.get_early`: only when they say for sure where it goes); what the
    command does not use of it is closed before this returns."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    if command == "get":
        from . import get_early

        get_early.start(args_list)
        try:
            return _run(args_list, command)
        finally:
            get_early.drop()
    return _run(args_list, command)


def _run(args_list: list[str], command: str | None) -> int:
    parser = build_parser(command if command in _COMMANDS else None)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    from . import log

    log.use_esp_handler()  # the command prints ESP lines; the library's default is logging
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130
