"""``https-request bundle``: build and inspect ESP-IDF certificate bundles.

* ``bundle build [-i PATH ...] [--filter CSV] [--max-certs N] [-q] -o FILE`` works like
  ESP-IDF's ``gen_crt_bundle.py`` (same inputs, byte-identical output). With no
  ``-i``, the Mozilla roots shipped by certifi are used, filtered by the CSV's
  column 2 against certifi's labels when ``--filter`` is given.
* ``bundle inspect [--max-certs N] FILE`` checks a bundle as ESP-IDF does at
  attach time, then prints the number of certificates and one subject per line.

Usage, configuration and input errors exit with 2. This module stays light:
the bundle code (and ``cryptography``) is imported when a command runs.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser"]

_PROG = "https-request bundle"


def _error(message: str) -> int:
    sys.stderr.write(f"{_PROG}: error: {message}\n")
    return 2


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


def _run_build(args: argparse.Namespace) -> int:
    from .esp_tls import bundle

    def status(message: str) -> None:
        if not args.quiet:
            sys.stderr.write(f"{_PROG}: {message}\n")

    try:
        if args.inputs:
            certs = bundle.load_inputs(args.inputs, args.filter, args.max_certs, status=status)
        else:
            names = bundle.read_filter(args.filter) if args.filter else None
            certs = bundle.certifi_certificates(names)
            status(f"Successfully added {len(certs)} certificates from certifi's Mozilla roots")
        data = bundle.build_bundle(certs, max_certs=args.max_certs)
    except bundle.InputError as exc:
        return _error(str(exc))
    try:
        from .files import write_atomically

        write_atomically(args.output, data, mode=0o644)  # a bundle is public data
    except OSError as exc:
        return _error(f"cannot write {args.output}: {exc.strerror or exc}")
    status(f"Wrote {len(certs)} certificates ({len(data)} bytes) to {args.output}")
    return 0


def _run_inspect(args: argparse.Namespace) -> int:
    from .esp_tls import bundle

    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as exc:
        return _error(f"cannot read {args.file}: {exc.strerror or exc}")
    try:
        parsed = bundle.parse_bundle(data, args.max_certs)
    except bundle.BundleError as exc:
        return _error(f"{args.file}: invalid bundle: {exc}")
    lines = [f"{len(parsed)} certificates", *parsed.subjects()]
    sys.stdout.write("\n".join(lines) + "\n")
    if not parsed.is_sorted:
        sys.stderr.write(f"{_PROG}: warning: {args.file}: entries are not sorted by subject; lookups will miss\n")
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``bundle build`` and ``bundle inspect`` on the CLI's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bundle", help="build or inspect an ESP-IDF x509 certificate bundle", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)

    build = sub.add_parser(
        "build",
        help="build a bundle like ESP-IDF's gen_crt_bundle.py",
        description="Build a certificate bundle, byte-identical to ESP-IDF's gen_crt_bundle.py.",
    )
    build.add_argument(
        "-i",
        "--input",
        dest="inputs",
        nargs="+",
        action="extend",
        metavar="PATH",
        help="certificate files (.pem, .der) or folders; repeatable (default: certifi's Mozilla roots)",
    )
    build.add_argument(
        "-f",
        "--filter",
        metavar="CSV",
        help="keep only the certificates named in column 2 (applied to cacrt_all.pem, or to certifi's labels)",
    )
    build.add_argument(
        "-m", "--max-certs", type=_positive, default=200, metavar="N", help="maximum number of certificates (200)"
    )
    build.add_argument("-q", "--quiet", action="store_true", help="no status messages on stderr")
    build.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the bundle")
    build.set_defaults(func=_run_build)

    inspect = sub.add_parser(
        "inspect",
        help="validate a bundle and list its subjects",
        description="Validate a bundle and list its subjects.",
    )
    inspect.add_argument("file", metavar="FILE", help="the bundle (binary)")
    inspect.add_argument(
        "-m", "--max-certs", type=_positive, default=200, metavar="N", help="maximum number of certificates (200)"
    )
    inspect.set_defaults(func=_run_inspect)
    return parser
