"""The ``https-request`` command's argument parser: the commands, each one's
options from its own module (imported only when that command's parser is
built), and the run of the command the arguments name (:func:`run`, called by
:func:`https_request.cli.main`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from importlib import import_module

from ._version import __version__

__all__ = ["build_parser", "run"]


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


def run(args_list: list[str], command: str | None) -> int:
    """Parse ``args_list`` (``command``: its first word that is not an option)
    and run the command; returns the exit status (usage errors: 2, as argparse's)."""
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
