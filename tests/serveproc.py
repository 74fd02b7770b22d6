"""``python -m https_request serve --port 0 ARGS`` as a subprocess for the end-to-end tests
(test_serve, test_serve_clients, test_example): threads collect its stdout and stderr line by line,
tests wait for patterns with bounded timeouts, and :meth:`Serve.stop` sends SIGTERM and returns
the exit status (the process is killed if it does not exit)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["REPO", "WAIT", "Serve", "running"]

WAIT = 20.0
REPO = Path(__file__).resolve().parent.parent


class Serve:
    """``python -m https_request serve --port 0 ARGS`` with its stdout/stderr collected by threads."""

    def __init__(self, args: Sequence[str], state: Path, prefix: Sequence[str] = ()) -> None:
        """``prefix`` runs it through another program (``ip netns exec NAME``)."""
        env = dict(os.environ, XDG_STATE_HOME=str(state), PYTHONUNBUFFERED="1")
        self.args = [*prefix, sys.executable, "-m", "https_request", "serve", "--port", "0", *args]
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._cond = threading.Condition()
        self._threads = [
            threading.Thread(target=self._collect, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._collect, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self._threads:
            t.start()
        try:
            url = self.wait_line(self.out, r"^listening: https://(?:127\.0\.0\.1|\[[0-9a-f:]+\]):(\d+)/$")
        except BaseException:
            self.kill()
            raise
        self.port = int(url.group(1))
        ca = next((line for line in self.out if line.startswith("ca-file: ")), None)
        assert ca is None or self.out[0] == ca, self.out  # the CA line comes first
        self.ca = ca.removeprefix("ca-file: ") if ca is not None else ""
        self.http_port: int | None = None
        if "--http-port" in args:
            self.http_port = int(self.wait_line(self.out, r"^listening: http://127\.0\.0\.1:(\d+)/$").group(1))

    def _collect(self, stream: object, sink: list[str]) -> None:
        assert hasattr(stream, "readline")
        for line in iter(stream.readline, ""):
            with self._cond:
                sink.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_line(self, sink: list[str], pattern: str, start: int = 0, timeout: float = WAIT) -> re.Match[str]:
        """The first line of ``sink`` (from index ``start``) matching ``pattern``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in sink[start:]:
                    if m := re.search(pattern, line):
                        return m
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no {pattern!r} from {self.args}:\n" + "\n".join(self.out + self.err))
                self._cond.wait(min(remaining, 0.1))

    def log_mark(self) -> int:
        with self._cond:
            return len(self.err)

    def wait_log(self, pattern: str, start: int = 0, timeout: float = WAIT) -> re.Match[str]:
        return self.wait_line(self.err, pattern, start, timeout)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> int:
        """SIGTERM, then the exit status (bounded wait)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for t in self._threads:
            t.join(5)


def running(args: Sequence[str], state: Path) -> Iterator[Serve]:
    """A module fixture's body: ``yield from running(args, state)`` gives a started
    server, stopped at teardown, which then asserts it exited with status 0."""
    srv = Serve(args, state)
    try:
        yield srv
    finally:
        rc = srv.stop()
    assert rc == 0, "\n".join(srv.err[-20:])
