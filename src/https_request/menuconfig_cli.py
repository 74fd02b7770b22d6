"""``https-request menuconfig``: ESP-IDF's menuconfig on the example's Kconfig.

esp-idf-kconfig installs a ``menuconfig`` module: ``python -m menuconfig KCONFIG``
opens its terminal UI on the Kconfig file KCONFIG, loads the sdkconfig named by
the environment variable ``KCONFIG_CONFIG`` (``.config`` without it) and saves
it there. This command runs it in a child process on the package's Kconfig
(:data:`~https_request.example.config.KCONFIG_PATH`), for the sdkconfig that
``https-request example`` reads (``./sdkconfig`` unless ``--sdkconfig FILE``).

menuconfig writes only the options its Kconfig defines, and an sdkconfig from
a real ESP-IDF project holds well over a thousand others. So menuconfig works on
a copy, ``.<name>.menuconfig-*`` in the file's folder (the name its messages
show; "Save min" writes ``sdkconfig.defaults`` next to it, i.e. next to the
file), and when it saved, the file is replaced (atomically) by what it wrote
followed by the other components' option lines, unchanged, with their
``# default:`` marks; the "Deprecated options" block, which ESP-IDF's build
rewrites, is dropped. The file it replaced is kept as ``<file>.old``, as
menuconfig keeps it. The file is checked first as ``example`` checks it: a
bad value of one of the example's options, which menuconfig would drop
silently, is an error naming the line, to fix in an editor.

Exit status: 0, or menuconfig's own when it fails; 2 for a file that cannot
be used (missing folder, malformed line, bad value; also a saved value
``example`` refuses, such as an unknown client profile: the file is saved and
the error names the line), or when there is no terminal.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["FOREIGN_HEADER", "add_parser", "main"]

#: The comment block above the other components' options in a saved file.
FOREIGN_HEADER = (
    "#\n"
    "# Options of other ESP-IDF components (not in this example's Kconfig),\n"
    "# kept as they were by https-request menuconfig\n"
    "#\n"
)
_FOREIGN_FOOTER = "# end of options of other ESP-IDF components\n"
_PROG = "https-request menuconfig"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "menuconfig",
        help="edit the example's sdkconfig in ESP-IDF's menuconfig",
        description=(
            "ESP-IDF's menuconfig (esp-idf-kconfig) on the example's Kconfig: the Example Configuration "
            "menu and the ESP-IDF options it uses (Component config -> Log, ESP-TLS, LWIP, mbedTLS). "
            "Options of other ESP-IDF components in the file are kept as they are."
        ),
        epilog="Exit status: 0; 2 for an sdkconfig that cannot be used (the message names the line), "
        "or without a terminal.",
    )
    p.add_argument(
        "--sdkconfig",
        type=Path,
        default=None,
        metavar="FILE",
        help="the sdkconfig to edit, created if missing (default: ./sdkconfig, which example reads)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    return main(args.sdkconfig)


def _fail(message: str) -> int:
    print(f"{_PROG}: {message}", file=sys.stderr)
    return 2


def main(sdkconfig: Path | None = None) -> int:
    """Run menuconfig on ``sdkconfig`` (default ``./sdkconfig``); returns the exit status."""
    from . import files
    from .example.config import DEFAULT_SDKCONFIG, KCONFIG_PATH, ConfigError, check_sdkconfig

    target = Path(sdkconfig) if sdkconfig is not None else DEFAULT_SDKCONFIG
    if target.is_dir():
        return _fail(f"{str(target)!r} is a directory")
    folder = target.absolute().parent
    if not folder.is_dir():
        return _fail(f"{str(target)!r}: no such directory {str(folder)!r}")
    try:
        original = target.read_bytes() if target.exists() else None
        foreign = check_sdkconfig(target) if original is not None else []
    except ConfigError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{str(target)!r}: {exc.strerror or exc}")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return _fail("menuconfig needs a terminal (stdin and stdout)")

    try:
        fd, work_name = tempfile.mkstemp(prefix=f".{target.name}.menuconfig-", dir=folder)
    except OSError as exc:
        return _fail(f"cannot write in {str(folder)!r}: {exc.strerror or exc}")
    work = Path(work_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(original or b"")
        env = dict(os.environ, KCONFIG_CONFIG=str(work))
        code = subprocess.call([sys.executable, "-m", "menuconfig", str(KCONFIG_PATH)], env=env)
        if code != 0:
            return code
        written = work.read_bytes()
        if written == (original or b""):
            return 0  # not saved (or saved unchanged)
        text = written.decode("utf-8")
        if foreign:
            text = text.rstrip("\n") + "\n\n" + FOREIGN_HEADER + "\n".join(foreign) + "\n" + _FOREIGN_FOOTER
        mode = 0o644
        if original is not None:  # kept as <file>.old, as menuconfig keeps the file it replaces
            mode = target.stat().st_mode & 0o777
            files.write_atomically(f"{target}.old", original, mode=mode)
        files.write_atomically(target, text.encode("utf-8"), mode=mode)
    except OSError as exc:
        return _fail(f"{str(exc.filename or target)!r}: {exc.strerror or exc}")
    finally:
        work.unlink(missing_ok=True)
        Path(f"{work}.old").unlink(missing_ok=True)  # menuconfig's backup of the working copy
    kept = f" (and the {sum('CONFIG_' in line for line in foreign)} options of other components)"
    print(f"{_PROG}: saved {target}{kept if foreign else ''}", file=sys.stderr)
    try:
        check_sdkconfig(target)
    except ConfigError as exc:
        return _fail(f"saved, but example will refuse it: {exc}")
    return 0
