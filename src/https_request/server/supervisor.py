"""Running ``serve``'s workers: one in-process (:func:`run_worker`), or N supervised (:func:`supervise`).

A worker is one asyncio :class:`~.tls_server.Server` on its listening
sockets. Signals: SIGTERM or SIGINT stop it cleanly (:meth:`Server.close`:
connections in flight get ``shutdown_grace`` seconds, then exit 0); SIGHUP
calls ``reload`` (re-read the certificate and ticket keys) and serves the
following connections with the result; a failed reload is logged and the
current configuration stays.

``--workers N``: the parent forks N workers (``multiprocessing``'s fork
context: a worker inherits the loaded configuration and its own listening
sockets) and only supervises them:

* a worker that dies (any exit while not stopping: a crash, SIGKILL, a stray
  SIGTERM) is logged and forked again on the same sockets after a backoff:
  0.1 s, doubled for each death in a row up to 5 s, back to 0.1 s once a
  worker has lived 10 s. The parent keeps every listening socket open, so
  the connections the kernel queued for a dead worker wait for its successor
  instead of being reset, and the other workers keep serving meanwhile;
* SIGTERM/SIGINT: the parent closes its copies of the sockets, stops pending
  restarts and sends SIGTERM to every worker; each finishes its connections in
  flight within the grace period. A worker still running ``grace + 3`` s later
  is killed. Exit 0 when every worker exited 0, else 1;
* SIGHUP: the parent reloads too (so that a restarted worker starts with the
  new certificate) and forwards SIGHUP to every worker; if the parent's
  reload fails it is logged and nothing is forwarded.

The parent logs one line per event (death, restart, reload, stop), never one
per connection.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..structs import replace
from ..tls.config import ServerConfig
from .tls_server import Server, ServerSettings

if TYPE_CHECKING:  # multiprocessing is imported by supervise() only: one worker runs without it (~1.3 MiB)
    from multiprocessing.process import BaseProcess

__all__ = ["BACKOFF_FIRST", "BACKOFF_MAX", "STABLE_AFTER", "Background", "Reload", "run_worker", "supervise"]

Reload = Callable[[ServerConfig], tuple[ServerConfig, str]]
"""Re-read what ``serve`` loaded from files: (the new TLS configuration, what changed, for the log).
Raises ValueError or OSError with a message in the user's terms."""
Background = Callable[[ServerSettings], Callable[[], None]]
"""Work a worker runs beside its server (the clock's SNTP refresh): started in each worker
process with its settings, returns the function that stops it when the worker ends."""

BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
STABLE_AFTER = 10.0
_KILL_AFTER_GRACE = 3.0


def _reload_worker(server: Server, reload: Reload | None) -> None:
    cfg = server.settings
    if reload is None:
        cfg.log(f"worker={cfg.worker} SIGHUP: nothing to reload")
        return
    try:
        tls, what = reload(cfg.tls)
    except (OSError, ValueError) as exc:
        cfg.log(f"worker={cfg.worker} reload failed, keeping the current configuration: {exc}")
        return
    server.reload(tls)
    cfg.log(f"worker={cfg.worker} reloaded: {what}")


def run_worker(
    settings: ServerSettings,
    https: socket.socket,
    http: socket.socket | None,
    reload: Reload | None = None,
    background: Background | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT (then close cleanly and return 0); SIGHUP reloads (a SIGHUP
    blocked by the caller during start-up is unblocked, so delivered, once it can be handled).
    ``background`` runs beside the server while it serves."""
    stop_background = background(settings) if background is not None else None
    try:
        return _serve(settings, https, http, reload)
    finally:
        if stop_background is not None:
            stop_background()


def _serve(settings: ServerSettings, https: socket.socket, http: socket.socket | None, reload: Reload | None) -> int:
    import asyncio

    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if settings.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server = Server(settings)
        loop.add_signal_handler(signal.SIGHUP, _reload_worker, server, reload)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})  # one sent during start-up arrives now
        await server.start(https, http)
        await stop.wait()
        await server.close()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())
    return 0


def _exit_to_exit(signum: int, frame: object) -> None:
    """A worker's SIGTERM/SIGINT before its event loop handles them: a clean exit 0."""
    raise SystemExit(0)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "vanished"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with {code}"


class _Slot:
    """One worker index: its process (None while waiting to restart) and its backoff."""

    __slots__ = ("delay", "index", "process", "restart_at", "started")

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: BaseProcess | None = None
        self.started = 0.0
        self.delay = BACKOFF_FIRST  # the next restart's backoff
        self.restart_at: float | None = None


class _Supervisor:
    def __init__(
        self, settings: ServerSettings, https: list[socket.socket], http: list[socket.socket] | None,
        reload: Reload | None, background: Background | None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.https, self.http = https, http
        self.reload = reload
        self.background = background
        import multiprocessing

        self.ctx = multiprocessing.get_context("fork")
        self.slots = [_Slot(i) for i in range(len(https))]
        self.signals: list[int] = []
        self.stopping = False
        self.kill_at = 0.0
        self.status = 0
        self.wake_r, self.wake_w = socket.socketpair()

    def log(self, line: str) -> None:
        self.settings.log(f"supervisor: {line}")

    # ---------------------------------------------------------------- workers

    def _child(self, index: int) -> None:
        """The worker process's body (in the fork): keep only its own sockets."""
        signal.set_wakeup_fd(-1)
        self.wake_r.close()
        self.wake_w.close()
        signal.signal(signal.SIGTERM, _exit_to_exit)
        signal.signal(signal.SIGINT, _exit_to_exit)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})  # held until the worker's loop handles it
        mine = [self.https[index]] + ([self.http[index]] if self.http else [])
        for sock in self.https + (self.http or []):
            if all(sock is not m for m in mine):
                sock.close()
        code = run_worker(replace(self.settings, worker=index), self.https[index],
                          self.http[index] if self.http else None, self.reload, self.background)  # fmt: skip
        if code:
            raise SystemExit(code)

    def _start(self, slot: _Slot) -> int:
        process = self.ctx.Process(target=self._child, args=(slot.index,), name=f"serve-worker-{slot.index}")
        process.start()
        slot.process, slot.started, slot.restart_at = process, time.monotonic(), None
        assert process.pid is not None
        return process.pid

    def _reap(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            process = slot.process
            if process is None or process.is_alive():
                continue
            process.join(0)
            code, pid = process.exitcode, process.pid
            process.close()
            slot.process = None
            lived = now - slot.started
            if self.stopping:
                if code != 0:
                    self.status = 1
                    self.log(f"worker {slot.index} (pid {pid}) {_describe_exit(code)} while stopping")
                continue
            if lived >= STABLE_AFTER:
                slot.delay = BACKOFF_FIRST
            slot.restart_at = now + slot.delay
            self.log(f"worker {slot.index} (pid {pid}) {_describe_exit(code)} after {lived:.1f} s; "
                     f"restarting in {slot.delay:g} s")  # fmt: skip
            slot.delay = min(slot.delay * 2, BACKOFF_MAX)

    def _restart_due(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.restart_at is not None and slot.restart_at <= now and not self.stopping:
                try:
                    pid = self._start(slot)
                except OSError as exc:  # no fork now (out of pids or memory): try again later
                    slot.restart_at = now + slot.delay
                    self.log(f"worker {slot.index} could not be restarted ({exc.strerror or exc}); "
                             f"trying again in {slot.delay:g} s")  # fmt: skip
                    slot.delay = min(slot.delay * 2, BACKOFF_MAX)
                    continue
                self.log(f"worker {slot.index} restarted as pid {pid}")

    def _live(self) -> list[BaseProcess]:
        return [slot.process for slot in self.slots if slot.process is not None]

    def _signal_workers(self, signum: int) -> None:
        for process in self._live():
            if process.pid is not None:
                try:
                    os.kill(process.pid, signum)
                except ProcessLookupError:
                    pass

    # ---------------------------------------------------------------- signals

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signals.append(signum)  # handled by the loop (the wake-up fd ends its wait)

    def _handle_signals(self) -> None:
        while self.signals:
            signum = self.signals.pop(0)
            if signum == signal.SIGHUP:
                self._reload()
            elif not self.stopping:
                self._stop(signum)

    def _stop(self, signum: int) -> None:
        self.stopping = True
        self.kill_at = time.monotonic() + self.settings.shutdown_grace + _KILL_AFTER_GRACE
        for sock in self.https + (self.http or []):
            sock.close()  # the workers hold their own copies until they stop
        for slot in self.slots:
            slot.restart_at = None
        self.log(f"{signal.Signals(signum).name}: stopping {len(self._live())} workers "
                 f"(grace {self.settings.shutdown_grace:g} s)")  # fmt: skip
        self._signal_workers(signal.SIGTERM)

    def _reload(self) -> None:
        if self.stopping:
            return
        if self.reload is not None:
            try:
                tls, what = self.reload(self.settings.tls)
            except (OSError, ValueError) as exc:
                self.log(f"SIGHUP: reload failed, workers keep the current configuration: {exc}")
                return
            self.settings = replace(self.settings, tls=tls)
            self.log(f"SIGHUP: reloaded ({what}); telling {len(self._live())} workers")
        self._signal_workers(signal.SIGHUP)

    # ---------------------------------------------------------------- loop

    def run(self) -> int:
        from multiprocessing.connection import wait

        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        old_wakeup = signal.set_wakeup_fd(self.wake_w.fileno(), warn_on_full_buffer=False)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, handled)  # a SIGHUP held since start-up arrives now
        try:
            for slot in self.slots:
                self._start(slot)
            while True:
                self._handle_signals()
                self._reap()
                self._restart_due()
                live = self._live()
                if self.stopping and not live:
                    break
                now = time.monotonic()
                if self.stopping and now >= self.kill_at:
                    self.log(f"{len(live)} workers still running after the grace period: killing them")
                    self._signal_workers(signal.SIGKILL)
                    self.status = 1
                    self.kill_at = now + 60.0
                deadlines = [s.restart_at for s in self.slots if s.restart_at is not None]
                if self.stopping:
                    deadlines.append(self.kill_at)
                timeout = max(0.0, min(deadlines) - now) if deadlines else None
                wait([*(p.sentinel for p in live), self.wake_r], timeout)
                try:
                    while self.wake_r.recv(512):
                        pass
                except (BlockingIOError, InterruptedError):
                    pass
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.wake_r.close()
            self.wake_w.close()
            for sock in self.https + (self.http or []):
                sock.close()
            sys.stderr.flush()
        return self.status


def supervise(
    settings: ServerSettings, https: list[socket.socket], http: list[socket.socket] | None,
    reload: Reload | None = None, background: Background | None = None,
) -> int:  # fmt: skip
    """Run ``len(https)`` workers (worker ``i`` on ``https[i]`` and ``http[i]``) until SIGTERM/SIGINT;
    see the module docstring; ``background`` runs in each worker (not in this parent). Returns the exit status."""
    return _Supervisor(settings, https, http, reload, background).run()
