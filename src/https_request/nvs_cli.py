"""``https-request nvs``: read and write the NVS store (:mod:`.nvs`) from the shell.

* ``nvs get NAMESPACE KEY``: the value on stdout (an i64 in decimal, a str as
  it is, a blob in hex).
* ``nvs set NAMESPACE KEY VALUE [--type i64|str|blob]``: str by default; an
  i64 in decimal (or ``0x`` hex), a blob in hex. Committed at once.
* ``nvs set-time [--time ISO8601|now]``: the time into namespace ``storage``,
  key ``timestamp`` (i64, Unix seconds), what ESP-IDF's example restores at
  start (``Updating time from NVS``): ESP-IDF's own test writes the host's
  time there before it runs the example. Naive times are UTC. Prints the
  value written.
* ``nvs erase [NAMESPACE [KEY]]``: one key, every key of a namespace, or with
  no argument the whole store (``nvs_flash_erase``).
* ``nvs list [NAMESPACE]``: one line per key: namespace, key, type, value
  (a str quoted as JSON, a blob's first 32 bytes in hex and its size).

``--file PATH`` uses another store than the default
(:func:`.nvs.default_path`). Exit status: 0 done, 1 no such key or namespace,
2 a usage error, a bad value or an unusable store. Light at import: the store
is imported when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from .time_sync import STORAGE_NAMESPACE as TIME_NAMESPACE  # the example's clock in NVS
from .time_sync import TIMESTAMP_KEY as TIME_KEY

if TYPE_CHECKING:
    from .nvs import Nvs, NvsHandle

__all__ = ["EXIT_NOT_FOUND", "EXIT_OK", "EXIT_USAGE", "add_parser", "main"]

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2

_PROG = "https-request nvs"
_TYPES = ("i64", "str", "blob")
_LIST_BLOB_BYTES = 32


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "nvs",
        help="read and write the NVS store (the example's stored time)",
        description="Read and write the NVS store: ESP-IDF's non-volatile storage on one sqlite3 file.",
        epilog="exit status: 0 done, 1 no such key or namespace, 2 usage error, bad value or unusable store",
    )
    file_help = "the store's file (default: nvs.sqlite3 in the user's state folder)"
    p.add_argument("--file", metavar="PATH", default=None, help=file_help)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--file", metavar="PATH", default=argparse.SUPPRESS, help=file_help)
    cmds = p.add_subparsers(dest="nvs_command", metavar="ACTION", required=True)

    get = cmds.add_parser("get", parents=[common], help="print a key's value (a blob in hex)")
    get.add_argument("namespace")
    get.add_argument("key")
    get.set_defaults(func=_main(_get))

    put = cmds.add_parser("set", parents=[common], help="set a key (committed at once)")
    put.add_argument("namespace")
    put.add_argument("key")
    put.add_argument("value", help="str: the text; i64: decimal or 0x hex; blob: hex")
    put.add_argument("--type", choices=_TYPES, default="str", help="the value's type (default str)")
    put.set_defaults(func=_main(_set))

    clock = cmds.add_parser(
        "set-time",
        parents=[common],
        help=f"store a time as the example's clock ({TIME_NAMESPACE}/{TIME_KEY}, i64 Unix seconds)",
    )
    clock.add_argument("--time", metavar="ISO8601|now", default="now", help="the time (default now; naive is UTC)")
    clock.set_defaults(func=_main(_set_time))

    erase = cmds.add_parser("erase", parents=[common], help="erase a key, a namespace's keys, or everything")
    erase.add_argument("namespace", nargs="?")
    erase.add_argument("key", nargs="?")
    erase.set_defaults(func=_main(_erase))

    listing = cmds.add_parser("list", parents=[common], help="every key: namespace, key, type, value")
    listing.add_argument("namespace", nargs="?")
    listing.set_defaults(func=_main(_list))


class _Usage(Exception):
    """A bad argument value (exit 2)."""


def _main(action: Callable[[Nvs, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return main(args, action)

    return run


def main(args: argparse.Namespace, action: Callable[[Nvs, argparse.Namespace], int]) -> int:
    """Open the store, run ``action``, turn its errors into the exit status."""
    from pathlib import Path

    from .nvs import Nvs, NvsError, NvsNotFound

    try:
        with Nvs(Path(args.file) if args.file is not None else None) as store:
            return action(store, args)
    except _Usage as exc:
        return _fail(EXIT_USAGE, str(exc))
    except NvsNotFound as exc:
        return _fail(EXIT_NOT_FOUND, str(exc))
    except NvsError as exc:
        return _fail(EXIT_USAGE, str(exc))


def _fail(code: int, message: str) -> int:
    sys.stderr.write(f"{_PROG}: error: {message}\n")
    return code


def _get(store: Nvs, args: argparse.Namespace) -> int:
    with store.open(args.namespace, readwrite=False) as handle:
        kind = handle.find_key(args.key)
        if kind == "i64":
            text = str(handle.get_i64(args.key))
        elif kind == "str":
            text = handle.get_str(args.key)
        else:
            text = handle.get_blob(args.key).hex()
    sys.stdout.write(text + "\n")
    return EXIT_OK


def _parse(kind: str, text: str) -> int | str | bytes:
    """VALUE for ``--type kind``; raises _Usage."""
    if kind == "str":
        return text
    if kind == "i64":
        try:
            return int(text, 16) if text.lower().startswith(("0x", "-0x")) and len(text) > 2 else int(text)
        except ValueError:
            raise _Usage(f"not an integer (decimal or 0x hex): {text!r}") from None
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise _Usage(f"not hex bytes: {text!r}") from None


def _set(store: Nvs, args: argparse.Namespace) -> int:
    value = _parse(args.type, args.value)
    with store.open(args.namespace) as handle:
        if isinstance(value, int):
            handle.set_i64(args.key, value)
        elif isinstance(value, str):
            handle.set_str(args.key, value)
        else:
            handle.set_blob(args.key, value)
        handle.commit()
    return EXIT_OK


def _set_time(store: Nvs, args: argparse.Namespace) -> int:
    import math
    import time
    from datetime import UTC, datetime

    from .tls_clock import parse_instant

    if args.time.strip().lower() == "now":
        seconds = math.floor(time.time())
    else:
        try:
            seconds = math.floor(parse_instant(args.time).timestamp())
        except ValueError as exc:
            raise _Usage(f"--time: {exc}") from None
    with store.open(TIME_NAMESPACE) as handle:
        handle.set_i64(TIME_KEY, seconds)
        handle.commit()
    moment = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sys.stdout.write(f"{TIME_NAMESPACE} {TIME_KEY} i64 {seconds} ({moment})\n")
    return EXIT_OK


def _erase(store: Nvs, args: argparse.Namespace) -> int:
    if args.namespace is None:
        store.erase()
        return EXIT_OK
    with store.open(args.namespace, readwrite=False):  # NvsNotFound for a namespace that does not exist
        pass
    with store.open(args.namespace) as handle:
        if args.key is None:
            handle.erase_all()
        else:
            handle.erase_key(args.key)
        handle.commit()
    return EXIT_OK


def _list(store: Nvs, args: argparse.Namespace) -> int:
    import json

    if args.namespace is not None:
        store.open(args.namespace, readwrite=False).close()  # NvsNotFound for a namespace that does not exist
    lines: list[str] = []
    handles: dict[str, NvsHandle] = {}
    try:
        for entry in store.entries(args.namespace):
            handle = handles.get(entry.namespace)
            if handle is None:
                handle = handles[entry.namespace] = store.open(entry.namespace, readwrite=False)
            if entry.type == "i64":
                value = str(handle.get_i64(entry.key))
            elif entry.type == "str":
                value = json.dumps(handle.get_str(entry.key), ensure_ascii=False)
            else:
                blob = handle.get_blob(entry.key)
                more = "..." if len(blob) > _LIST_BLOB_BYTES else ""
                value = f"{blob[:_LIST_BLOB_BYTES].hex()}{more} ({len(blob)} bytes)"
            lines.append(f"{entry.namespace}\t{entry.key}\t{entry.type}\t{value}\n")
    finally:
        for handle in handles.values():
            handle.close()
    sys.stdout.write("".join(lines))
    return EXIT_OK
