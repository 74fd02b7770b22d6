"""``get``'s TCP connect, started before the command line is parsed.

At a 50 ms round trip the SYN is what ``get`` waits on longest, and nothing
but the URL's address decides it; the parser (argparse, gettext, locale,
shutil), the TLS stack and the request's set-up are ~55 M instructions that
can run while the SYN travels instead of before it leaves (``bench/rtt.py``).
So :func:`start`, called by the CLI before anything else, scans the
arguments with a conservative rule and, when it is sure where the connection
will go, starts a non-blocking connect there; the command then runs as
usual, and its first connection attempt :func:`claim`\\ s that socket when it
is to the same address and port (``dns.happy``'s ``started``).

The rule, all of which must hold, else nothing is started:

* the command is ``get`` and the URL is its only positional argument, an
  ``https://`` or ``http://`` URL whose host is an IPv4 or IPv6 literal (no
  name lookup, no zone id);
* every option is one of :data:`FLAGS` or :data:`VALUED` below: options that
  change nothing about where or how the TCP connection is made. Anything
  else (a proxy, ``--resolve``, ``--connect-to``, ``-4``/``-6``,
  ``--tcp-fastopen``, ``--profile``, an abbreviation, ``--help``) and the
  command connects as before, after parsing;
* no ``*_proxy`` variable is set in the environment (the connection may then
  go to a proxy).

What this cannot get wrong: the socket is used only if the parsed command's
first attempt is to the very address and port it connects to, so a
misreading costs at most one SYN to the URL's own host, which is closed
unused. Arguments that the parser then rejects (a usage error) close it too
(:func:`drop`). Light on purpose: ``errno``, ``os`` and ``socket`` only, so
the URL is split here with string operations rather than by
:func:`~https_request.esp_tls.url.parse_url` (its ``re`` and error enums would
cost the SYN ~6 M instructions); the command still parses the URL with it,
and only a connect to the address that parse yields is adopted.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Sequence

__all__ = ["FLAGS", "VALUED", "claim", "drop", "start", "target"]

#: ``get``'s options without a value that :func:`start` may pass over.
FLAGS = frozenset(
    {
        "-k", "--insecure", "--skip-common-name", "--tlsv1.2", "--tlsv1.3", "--early-data", "--compressed",
        "-f", "--fail", "-i", "--include", "-I", "--head", "-L", "--location", "-v", "--verbose",
        "-s", "--silent", "-S", "--show-error", "--explain",
    }
)  # fmt: skip

#: ``get``'s options with a value (the next argument, ``--opt=value`` or ``-oVALUE``) that
#: :func:`start` may pass over: trust, TLS, HTTP, output and timing, none of them about the TCP connect.
VALUED = frozenset(
    {
        "--cacert", "--bundle", "--common-name", "--verify-policy", "--tls-version", "--tls-max", "--ciphers",
        "--groups", "--alpn", "--engine", "--session", "--cert", "--key", "--keylog", "--timeout", "-m",
        "--max-time", "--retry", "--retry-delay", "--retry-max-time", "-H", "--header", "-X", "--request",
        "-A", "--user-agent", "-d", "--data", "-o", "--output", "-w", "--write-out", "--json",
    }
)  # fmt: skip

_pending: tuple[socket.socket, int, bytes, int] | None = None  # socket, family, packed address, port


def _url(argv: Sequence[str]) -> str | None:
    """The URL when ``argv`` (after ``get``) holds only options :func:`start` knows
    and exactly one positional argument; else None."""
    url: str | None = None
    args = iter(argv)
    for arg in args:
        if arg.startswith("--"):
            name, eq, _ = arg.partition("=")
            if name in VALUED:
                if not eq and next(args, None) is None:
                    return None
            elif name not in FLAGS or eq:
                return None
        elif arg.startswith("-") and len(arg) > 1:
            for i, letter in enumerate(arg[1:], 1):
                option = "-" + letter
                if option in VALUED:
                    if i == len(arg) - 1 and next(args, None) is None:
                        return None
                    break  # the rest of the argument is the value
                if option not in FLAGS:
                    return None
        elif url is None:
            url = arg
        else:
            return None
    return url


def target(argv: Sequence[str]) -> tuple[int, str, int] | None:
    """Where ``https-request ARGV`` (the arguments after the program's name) will
    connect by :func:`start`'s rule: (address family, address, port); None when
    the rule does not say."""
    if len(argv) < 2 or argv[0] != "get":
        return None
    url = _url(argv[1:])
    if url is None:
        return None
    scheme, sep, rest = url.partition("://")
    default_port = {"https": 443, "http": 80}.get(scheme.lower())
    if not sep or default_port is None:
        return None
    authority = rest
    for end in "/?#":
        authority = authority.partition(end)[0]
    if "@" in authority:
        return None
    if authority.startswith("["):
        host, bracket, port_text = authority[1:].partition("]")
        if not bracket or (port_text and not port_text.startswith(":")):
            return None
        port_text, family = port_text[1:], socket.AF_INET6
    else:
        host, _, port_text = authority.partition(":")
        family = socket.AF_INET
    if not port_text:
        port = default_port
    elif port_text.isdigit() and port_text.isascii() and 0 < int(port_text) <= 0xFFFF:
        port = int(port_text)
    else:
        return None
    try:
        socket.inet_pton(family, host)
    except (OSError, ValueError):  # a name, a zone id, or not an address
        return None
    return family, host, port


def start(argv: Sequence[str]) -> None:
    """Start the TCP connect of ``https-request ARGV`` now, if :func:`target` says
    where and no proxy is configured; nothing otherwise. Never raises: a socket
    that cannot be made is left to the command's own connect."""
    global _pending
    where = target(argv)
    if where is None or _pending is not None or any(k.lower().endswith("_proxy") and v for k, v in os.environ.items()):
        return
    family, host, port = where
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError:
        return
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = sock.connect_ex((host, port))
    except OSError:
        sock.close()
        return
    if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
        sock.close()  # refused at once, say: the command's own connect reports it
        return
    _pending = (sock, family, socket.inet_pton(family, host), port)


def claim(family: int, packed: bytes, port: int) -> socket.socket | None:
    """The connect :func:`start` began, when it is to this address (``family``,
    its ``packed`` bytes) and ``port``: the non-blocking socket, in flight or
    connected. Once only: a connect to anywhere else closes it and returns None."""
    global _pending
    if _pending is None:
        return None
    sock, *where = _pending
    _pending = None
    if where == [family, packed, port]:
        return sock
    sock.close()
    return None


def drop() -> None:
    """Close the connect :func:`start` began if nothing claimed it."""
    global _pending
    if _pending is not None:
        _pending[0].close()
        _pending = None
