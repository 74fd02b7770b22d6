"""A peer program (openssl, gnutls-cli, curl, our own CLI) run as a subprocess
for interop tests: a thread collects stdout+stderr, tests wait for patterns
with bounded timeouts, and the process is always killed at the end.

The external programs the tests drive are found with :func:`tool` and declared
with :func:`needs` (checked by ``conftest.py`` before the test and its fixtures
run). A missing one skips the test with how to install it, except under
``CI=true``, where it fails the run: CI must not pass without its real peers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from types import TracebackType

import pytest

__all__ = ["TOOLS", "WAIT", "Proc", "in_ci", "needs", "tool"]

WAIT = 5.0

#: The external programs the tests drive, and the Debian package that provides each.
TOOLS = {
    "openssl": "openssl",
    "curl": "curl",
    "gnutls-cli": "gnutls-bin",
    "gnutls-serv": "gnutls-bin",
    "stdbuf": "coreutils",  # s_server's printf()s are block-buffered on a pipe without it
    "git": "git",  # the architecture test lists the tracked files
    "ip": "iproute2",  # network namespaces (tests/netns.py)
    "ss": "iproute2",  # a listening socket's backlog (test_admission)
    "unbound": "unbound",  # the DNS64 server of the resolver tests
    "chronyd": "chrony",  # the NTP server of the SNTP tests
    "tmux": "tmux",  # a terminal for menuconfig's UI (send-keys, capture-pane)
    "redis-server": "redis-server",  # the shared ticket-key store (tests/test_ticket_keys_redis.py)
    "tinyproxy": "tinyproxy",  # the HTTP proxy of get -x (tests/test_get_curl.py)
    "nghttp": "nghttp2-client",  # an HTTP/2 client of its own (tests/test_serve_protocols.py)
    "h2load": "nghttp2-client",  # bench/server.py's --scaling-client h2load (tests/test_bench_server.py)
    "chromium": "chromium",  # a real browser for serve's report page (tests/test_report_page.py)
}


def in_ci() -> bool:
    """True when the environment says this is a CI run (``CI=true``, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def tool(name: str) -> str:
    """The path of the external program ``name`` (a key of :data:`TOOLS`).

    When it is not on PATH the test is skipped, with how to install it; under
    ``CI=true`` it fails instead. Raises KeyError for a program not in TOOLS.
    """
    package = TOOLS[name]
    path = shutil.which(name)
    if path is not None:
        return path
    missing = f"{name} not found on PATH (Debian package {package}: `make deps` as root, or apt-get install {package})"
    if in_ci():
        pytest.fail(f"CI=true and {missing}; CI must not pass without the programs its tests drive", pytrace=False)
    pytest.skip(missing)


def needs(*names: str) -> pytest.MarkDecorator:
    """Mark a test (or a module, in ``pytestmark``) as driving these programs.

    ``conftest.py`` checks each with :func:`tool` before the test's fixtures are
    set up, and marks the test ``interop``. Raises ValueError for a program not
    in :data:`TOOLS`.
    """
    unknown = [name for name in names if name not in TOOLS]
    if unknown:
        raise ValueError(f"unknown programs {unknown}: add them to procs.TOOLS with their package")
    return pytest.mark.needs_tools(*names)


class Proc:
    """A subprocess whose combined output a thread collects; killed on exit."""

    def __init__(self, args: Sequence[str], wait: float = WAIT) -> None:
        self.args = list(args)
        self.wait = wait
        self.p = subprocess.Popen(
            self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd="/"
        )
        self._out = bytearray()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.p.stdout is not None
        while chunk := os.read(self.p.stdout.fileno(), 65536):
            with self._cond:
                self._out += chunk
                self._cond.notify_all()

    @property
    def text(self) -> str:
        with self._cond:
            return self._out.decode(errors="replace")

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.text))

    def wait_for(self, pattern: str, count: int = 1, timeout: float | None = None) -> re.Match[str]:
        """The ``count``-th match of ``pattern`` once it occurs (or fail the test)."""
        deadline = time.monotonic() + (self.wait if timeout is None else timeout)
        with self._cond:
            while True:
                text = self._out.decode(errors="replace")
                found = list(re.finditer(pattern, text))
                if len(found) >= count:
                    return found[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.p.poll() is not None and not self._thread.is_alive()):
                    pytest.fail(f"{pattern!r} x{count} not in output of {' '.join(self.args)}:\n{text}")
                self._cond.wait(min(remaining, 0.1))

    def write(self, data: bytes) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def finish(self, timeout: float | None = None) -> int:
        """Close stdin and wait for the process to exit; its return code."""
        assert self.p.stdin is not None
        self.p.stdin.close()
        rc = self.p.wait(self.wait if timeout is None else timeout)
        self._thread.join(self.wait)
        return rc

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(self.wait)
        self._thread.join(self.wait)
        for stream in (self.p.stdin, self.p.stdout):
            if stream is not None and not stream.closed:
                stream.close()

    close = kill

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        self.kill()
