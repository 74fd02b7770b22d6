"""The ``https-request`` command.

Subcommands import their modules lazily, inside the function that runs them,
so ``https-request --version`` stays fast (no ``cryptography`` import). This
module imports no more than the interpreter has loaded at start-up (the
parser is :mod:`.cli_parser`): ``get`` may start its TCP connect before
anything else is imported (:mod:`.get_early`).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence

__all__ = ["console_main", "discard_stdout", "main"]


def console_main() -> None:
    """The ``https-request`` console script: :func:`main`, then exit with its status
    (it does not return: SystemExit).

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
            return _parse_and_run(args_list, command)
        finally:
            get_early.drop()
    return _parse_and_run(args_list, command)


def _parse_and_run(args_list: list[str], command: str | None) -> int:
    from .cli_parser import run

    return run(args_list, command)
