"""RFC 8305 Happy Eyeballs v2: connect to a name over whichever of IPv6 and
IPv4 answers first, for the blocking driver (:func:`connect`) and asyncio
(:func:`aconnect`).

What both do, in RFC 8305's order:

* **Resolution (section 3).** The AAAA and the A lookups start together
  (``resolve(name, AF_INET6)`` and ``resolve(name, AF_INET)``). A positive
  AAAA answer starts the connection attempts at once; a positive A answer
  that comes first waits the Resolution Delay (50 ms) for the AAAA answer.
  Answers that arrive after the attempts began join the addresses not yet
  tried (sorted and interleaved again).
* **Sorting (section 4).** ``sort`` orders the candidates (RFC 6724 by
  default: :func:`https_request.dns.select.sort_destinations`), then
  :func:`interleave` alternates the families, ``first_family_count``
  addresses of the first family first.
* **Attempts (section 5).** Non-blocking connects, one started every
  Connection Attempt Delay (250 ms; never less than RFC 8305's minimum of
  10 ms), earlier ones kept running; one that fails (refused, unreachable)
  starts the next at once. The first to connect wins and gets
  ``TCP_NODELAY``; every other socket is closed.

``fastopen=True`` sets ``TCP_FASTOPEN_CONNECT`` on every attempt's socket
(:func:`https_request.fastopen.enable_connect`; refused silently). When the
kernel holds a TCP Fast Open cookie for an address, ``connect()`` to it
returns at once and sends nothing: that attempt wins as it starts, and its
SYN leaves with the caller's first write, carrying it. So with a cookie the
race ends at the first address that has one, before any packet: a path that
died since the cookie was cached fails in the caller's first exchange (a
refusal, or the caller's timeout) instead of falling back to the next
address. Addresses without a cookie race as usual (their SYNs ask for one).

``esp_compatible=True`` is esp-tls's behaviour instead: wait for both
answers, sort, and try the first address only (no racing), so a dead path
costs the whole timeout.

The drivers differ only in their I/O; the decisions (when to start, what
next, what failed) are one sans-I/O state machine, :class:`.race.Race`.

* Lookups begun with ``start`` (the stub resolver's, through
  :meth:`.lookup.NameLookup.start`, as esp-tls connects) are driven by the
  driver's own loop: each query goes out at once and each answer is read the
  moment its socket is readable (a selector's, or asyncio's ``add_reader``),
  no thread and no task; one answer at a time, AAAA first, so that a positive
  AAAA answer starts the first attempt before an A answer that came with it is
  read (it joins the candidates next). During the Resolution Delay the
  default sort reads the interfaces' addresses it will need
  (:meth:`.race.Race.idle`).
* A ``resolve`` function is called per lookup: :func:`connect` runs each in
  its own daemon thread (two at most per call), :func:`aconnect` awaits an
  ``async def`` one in a task or runs a blocking one in the loop's default
  executor. A lookup still running when the call returns is abandoned (its
  answer dropped) or cancelled.
* Both start each attempt with a non-blocking ``connect`` (the SYN leaves at
  once) and learn its end when its socket turns writable: :func:`connect` in
  one ``selectors`` loop, waking 2 ms early and sleeping the rest but the last
  0.2 ms, spent looking at the clock (a selector's timeout is rounded up to
  whole milliseconds, a sleep ends late by the kernel's slack);
  :func:`aconnect` through the loop's ``add_writer`` (``loop.sock_connect``
  where the loop has none, as Windows' proactor), waiting on the loop's
  timers until 1.5 ms before an attempt is due and yielding to the loop from
  there (the loop's timers wake up to ~1 ms late).

Failures raise one exception type, :class:`ConnectError` (an ``OSError``):
``kind`` says whether the name did not resolve, the timeout passed or every
attempt failed, and the message names each address tried and how it failed.
``on_attempt`` sees each attempt when it starts (outcome ``"started"``) and
when it ends, with its socket's file descriptor for esp-tls's ``[sock=N]``
lines. IP literals are not looked up. At most :data:`MAX_CANDIDATES`
addresses are kept (a resolver's answer is bounded here).
"""

from __future__ import annotations

import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import Any, cast

from .race import (
    CONNECTION_ATTEMPT_DELAY,
    MAX_CANDIDATES,
    MIN_ATTEMPT_DELAY,
    PENDING,
    RECORD_TYPE,
    RESOLUTION_DELAY,
    AsyncResolve,
    Attempt,
    ConnectError,
    Driven,
    Known,
    Pending,
    Race,
    Resolve,
    Sort,
    Start,
    interleave,
    known_answers,
    new_race,
    outcome,
    sockaddr,
)

__all__ = [
    "CONNECTION_ATTEMPT_DELAY",
    "MAX_CANDIDATES",
    "MIN_ATTEMPT_DELAY",
    "RESOLUTION_DELAY",
    "AsyncResolve",
    "Attempt",
    "ConnectError",
    "Known",
    "Pending",
    "Resolve",
    "Sort",
    "Start",
    "Started",
    "aconnect",
    "connect",
    "interleave",
]

_LOOKUP = "lookup"  # the selector's data for a lookup's descriptor (an attempt's has None)


# --- blocking ------------------------------------------------------------------


class _Lookups:
    """The blocking driver's lookups through ``resolve``: one daemon thread each;
    answers are queued and signalled on a socket pair the selector watches (``data``
    this object). After :meth:`close`, late answers are dropped."""

    def __init__(self, name: str, families: Sequence[int], resolve: Resolve, sel: selectors.BaseSelector) -> None:
        self._lock = threading.Lock()
        self._answers: list[tuple[int, Sequence[IPv4Address | IPv6Address] | Exception]] = []
        self._closed = False
        self.wake, self._signal = socket.socketpair()
        self.wake.setblocking(False)
        self._signal.setblocking(False)
        self._resolve, self._name = resolve, name
        try:
            sel.register(self.wake, selectors.EVENT_READ, _LOOKUP)
            for family in families:
                threading.Thread(
                    target=self._run, args=(family,), name=f"happy-eyeballs {RECORD_TYPE[family]} {name}", daemon=True
                ).start()
        except BaseException:  # no thread: nothing left running
            self.close()
            raise

    def _run(self, family: int) -> None:
        answer: Sequence[IPv4Address | IPv6Address] | Exception
        try:
            answer = tuple(self._resolve(self._name, family))
        except Exception as exc:  # the lookup's failure is reported by the race, in the caller's thread
            answer = exc
        with self._lock:
            if self._closed:
                return
            self._answers.append((family, answer))
            try:
                self._signal.send(b"\0")
            except BlockingIOError:  # already signalled
                pass

    def take(self, now: float, ready: set[int]) -> list[tuple[int, Sequence[IPv4Address | IPv6Address] | Exception]]:
        """The answers the threads gave so far."""
        with self._lock:
            answers, self._answers = self._answers, []
            try:
                while self.wake.recv(64):
                    pass
            except BlockingIOError:
                pass
        return answers

    def wake_at(self) -> float | None:
        return None  # the threads signal

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self.wake.close()
            self._signal.close()


_Target = tuple[str, int] | tuple[str, int, int, int]

#: ``connect``'s ``started``: (family, packed address, port) -> a non-blocking socket whose connect there
#: is in flight already, or None.
Started = Callable[[int, bytes, int], "socket.socket | None"]


def _socket(address: IPv4Address | IPv6Address, fastopen: bool) -> socket.socket:
    """A non-blocking TCP socket for ``address`` (``TCP_FASTOPEN_CONNECT`` set when
    ``fastopen`` and the kernel allows it). Raises OSError."""
    sock = socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    if fastopen:
        from ..fastopen import enable_connect

        enable_connect(sock)
    return sock


def _open(
    race: Race,
    address: IPv4Address | IPv6Address,
    now: float,
    *,
    connect: bool = True,
    fastopen: bool = False,
    started: Started | None = None,
) -> tuple[socket.socket, int, _Target] | None:
    """A non-blocking socket connecting to ``address`` (``connect`` False: not yet;
    ``fastopen``: see :func:`_socket`; ``started``: see :func:`connect`), its
    attempt's index and its socket address; None when it failed at once
    (recorded in the race)."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = started(family, address.packed, race.port) if started is not None else None
    try:
        target = sockaddr(address, race.port)  # OSError: an unknown IPv6 zone
        if sock is not None:  # its connect is in flight already (or done)
            err = 0
        else:
            sock = _socket(address, fastopen)
            err = sock.connect_ex(target) if connect else 0
    except OSError as exc:
        if sock is not None:
            sock.close()
        race.failed_to_start(address, exc, now)
        return None
    try:
        index = race.begun(address, sock.fileno(), now)
    except BaseException:  # on_attempt raised
        sock.close()
        raise
    if err and err not in PENDING:
        sock.close()
        race.ended(index, outcome(err), time.monotonic(), err)
        return None
    return sock, index, target


_LOOK = 0.0002  # the end of a wait spent looking at the clock (see _wait)


def _wait(wake: float | None, now: float) -> float | None:
    """How long the selector may wait for ``wake``. A selector's timeout is
    rounded up to whole milliseconds and the kernel adds 0.1% of slack (each
    attempt would start ~1 ms late), so it wakes 2 ms early and sleeps the
    rest, the last 0.2 ms looking at the clock (a sleep ends ~0.1-0.2 ms late:
    the kernel's timer slack and wake-up): I/O in those 2 ms is seen by the
    select that follows, before the next attempt starts."""
    if wake is None:
        return None
    wait = wake - now
    if wait > 0.003:
        return wait - 0.002
    if wait > _LOOK:
        time.sleep(wait - _LOOK)
    while time.monotonic() < wake:
        pass
    return 0.0


_WRITERS: dict[type, bool] = {}


def _has_writers(loop: Any) -> bool:
    """Whether the asyncio ``loop`` (its class) watches descriptors for writing
    (``add_writer``: selector loops, uvloop; not Windows' proactor, where attempts
    go through ``loop.sock_connect``)."""
    kind = type(loop)
    if kind not in _WRITERS:
        with socket.socket() as probe:
            try:
                loop.add_writer(probe, int)  # taken back before the loop could call it
            except NotImplementedError:
                _WRITERS[kind] = False
            else:
                loop.remove_writer(probe)
                _WRITERS[kind] = True
    return _WRITERS[kind]


# asyncio's timers wake on whole milliseconds: the selector's timeout is rounded up to
# one (epoll), so a timer fires up to ~1 ms late, and an attempt due at 250 ms would
# start at ~251 ms. aconnect waits on the loop's timers until _EARLY before the time,
# then yields to the loop (other tasks run) until it has come.
_EARLY = 0.0015


def _won(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def connect(
    name: str,
    port: int,
    resolve: Resolve | None,
    *,
    sort: Sort | None = None,
    resolution_delay: float = RESOLUTION_DELAY,
    attempt_delay: float = CONNECTION_ATTEMPT_DELAY,
    first_family_count: int = 1,
    timeout: float | None = None,
    esp_compatible: bool = False,
    on_attempt: Callable[[Attempt], None] | None = None,
    family: int = socket.AF_UNSPEC,
    known: Known | None = None,
    start: Start | None = None,
    fastopen: bool = False,
    idle: Callable[[], bool] | None = None,
    started: Started | None = None,
) -> tuple[socket.socket, IPv4Address | IPv6Address]:
    """Connect over TCP to ``name`` port ``port`` (RFC 8305; see the module).

    ``resolve(name, family)`` looks up one family (``AF_INET6``: AAAA,
    ``AF_INET``: A); ``family`` limits the lookups to one (curl's ``-6``/``-4``).
    ``sort`` orders the candidates (default: RFC 6724). ``timeout`` bounds the
    whole call (lookups and attempts; None: no bound but the kernel's).
    ``on_attempt`` is called in this thread as each attempt starts and ends.
    ``known`` answers what needs no lookup (a hosts file, a cache) before any
    lookup thread starts: a family it answers is not looked up. ``start``, when
    given, replaces both: each lookup is begun with it and driven by this call's
    own loop (:class:`Pending`: no thread; the first query goes out at once and an
    answer is read the moment it arrives); ``resolve`` may then be None.
    ``fastopen``: TCP Fast Open (see the module): the socket returned may then be
    connecting still, its SYN waiting for the first write (``getpeername`` fails
    until the server answers; the address returned is the one to report).
    ``idle`` is the caller's own work, done while the call waits on the
    network (the connect in flight, a lookup): called in this thread, one piece
    per call, it returns whether more is left. Until it says no, the call polls
    (no waiting), so it takes as long as the work or the network, whichever is
    longer; a timer (the next attempt, the Resolution Delay, the timeout) is
    late by at most one piece of work. ``started`` hands over a connect begun
    before this call (``get``'s, :mod:`https_request.get_early`): it is called
    once, for the first attempt, with its family, packed address and port, and
    a socket it returns (non-blocking, its connect there in flight) is that
    attempt's instead of a new one.

    Returns the connected socket (blocking, no timeout, ``TCP_NODELAY`` set)
    and the address it is connected to. Raises :class:`ConnectError` (``kind``
    "resolve", "timeout" or "connect"), ValueError for bad arguments, and what
    ``sort`` or ``on_attempt`` raise (every socket closed first).
    """
    if start is None and resolve is None:
        raise ValueError("connect needs resolve or start")
    race, families = new_race(
        name,
        port,
        sort=sort,
        resolution_delay=resolution_delay,
        attempt_delay=attempt_delay,
        first_family_count=first_family_count,
        timeout=timeout,
        esp_compatible=esp_compatible,
        on_attempt=on_attempt,
        family=family,
    )
    live: dict[socket.socket, int] = {}
    winner: socket.socket | None = None
    lookups: _Lookups | Driven | None = None
    ready: set[int] = set()  # the lookups' descriptors the last select saw readable
    busy = idle is not None  # the caller has work for the waits
    with selectors.DefaultSelector() as sel:
        try:
            if start is not None:

                def watch(fd: int) -> None:
                    sel.register(fd, selectors.EVENT_READ, _LOOKUP)

                lookups = Driven(name, families, start, watch, sel.unregister) if families else None
            elif pending := known_answers(race, name, families, known):
                assert resolve is not None
                lookups = _Lookups(name, pending, resolve, sel)
            while True:
                now = time.monotonic()
                for fam, answer in lookups.take(now, ready) if lookups is not None else ():
                    race.answered(fam, answer, now)
                while (address := race.due(now)) is not None:
                    opened = _open(race, address, now, fastopen=fastopen, started=started)
                    started = None  # the first attempt only
                    if opened is not None:
                        live[opened[0]] = opened[1]
                        sel.register(opened[0], selectors.EVENT_WRITE)
                if race.finished():
                    raise race.error(now)
                if race.timed_out(now):
                    race.timeout_all(list(live.values()), now)
                    raise race.error(now)
                wake = race.wake_at()
                if lookups is not None and (due := lookups.wake_at()) is not None:
                    wake = due if wake is None else min(wake, due)
                if busy:  # the caller's work instead of waiting
                    events = sel.select(0)
                    if not events:
                        assert idle is not None
                        ready = set()
                        busy = idle()
                        continue
                else:
                    timeout = 0.0 if ready else _wait(wake, now)  # a lookup not read yet (Driven.take): at once
                    if timeout != 0:
                        race.idle()
                    events = sel.select(timeout)
                now = time.monotonic()
                ready = set()
                for key, _ in events:
                    sock = key.fileobj
                    if key.data is _LOOKUP:  # read at the top of the loop
                        ready.add(key.fd)
                        continue
                    if not isinstance(sock, socket.socket) or sock not in live:
                        continue
                    sel.unregister(sock)
                    index = live.pop(sock)
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        sock.close()
                        race.ended(index, outcome(err), now, err)
                        continue
                    winner = sock
                    _won(sock)
                    race.ended(index, "connected", now)
                    break
                if winner is not None:
                    race.cancel_all(list(live.values()), time.monotonic())
                    winner.setblocking(True)
                    return winner, race.attempts[index].address
        except BaseException:
            if winner is not None:
                winner.close()
            raise
        finally:
            for sock in live:
                sock.close()
            if lookups is not None:
                lookups.close()


# --- asyncio -------------------------------------------------------------------


async def aconnect(
    name: str,
    port: int,
    resolve: Resolve | AsyncResolve | None,
    *,
    sort: Sort | None = None,
    resolution_delay: float = RESOLUTION_DELAY,
    attempt_delay: float = CONNECTION_ATTEMPT_DELAY,
    first_family_count: int = 1,
    timeout: float | None = None,
    esp_compatible: bool = False,
    on_attempt: Callable[[Attempt], None] | None = None,
    family: int = socket.AF_UNSPEC,
    known: Known | None = None,
    start: Start | None = None,
    fastopen: bool = False,
) -> tuple[socket.socket, IPv4Address | IPv6Address]:
    """The asyncio twin of :func:`connect`, same arguments and rules.

    ``resolve`` may be an ``async def`` function (awaited, each lookup in its
    own task) or a blocking one (run in the loop's default executor).
    ``start`` drives the lookups in this coroutine, their descriptors watched
    with the loop's ``add_reader``; on a loop without readers (Windows'
    proactor) ``resolve`` and ``known`` are used instead (ValueError when
    ``resolve`` is None there).
    Returns the connected socket in non-blocking mode (for
    ``asyncio.open_connection(sock=...)``), ``TCP_NODELAY`` set, and its
    address. Raises as :func:`connect`; cancelling the call closes every socket.
    """
    import asyncio
    import inspect

    if start is None and resolve is None:
        raise ValueError("aconnect needs resolve or start")

    race, families = new_race(
        name,
        port,
        sort=sort,
        resolution_delay=resolution_delay,
        attempt_delay=attempt_delay,
        first_family_count=first_family_count,
        timeout=timeout,
        esp_compatible=esp_compatible,
        on_attempt=on_attempt,
        family=family,
    )
    loop = asyncio.get_running_loop()
    ready: set[int] = set()  # the driven lookups' descriptors seen readable
    woken = loop.create_future()  # done when there is something to look at (a descriptor, a future, the time)

    def rouse(*_: object) -> None:
        if not woken.done():
            woken.set_result(None)

    def connected(sock: socket.socket, attempt: asyncio.Future[None]) -> None:  # once: the connect ended
        loop.remove_writer(sock)
        if not attempt.done():
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                attempt.set_exception(OSError(err, os.strerror(err)))
            else:
                attempt.set_result(None)
        rouse()

    def readable(fd: int) -> None:  # once: the lookup is watched again after it has been advanced
        loop.remove_reader(fd)
        ready.add(fd)
        rouse()

    driven: Driven | None = None
    lookups: dict[asyncio.Future[Any], int] = {}
    if start is not None and families:
        try:
            driven = Driven(name, families, start, lambda fd: loop.add_reader(fd, readable, fd), loop.remove_reader)
        except NotImplementedError:  # no add_reader: the lookups through resolve, in tasks
            if resolve is None:
                raise ValueError("this event loop cannot watch descriptors (add_reader): give resolve") from None
    if driven is None:
        for fam in known_answers(race, name, families, known):
            lookup: asyncio.Future[Sequence[IPv4Address | IPv6Address]]
            if inspect.iscoroutinefunction(resolve):
                lookup = asyncio.ensure_future(cast(AsyncResolve, resolve)(name, fam))
            else:
                lookup = loop.run_in_executor(None, cast(Resolve, resolve), name, fam)
            lookup.add_done_callback(rouse)
            lookups[lookup] = fam
    live: dict[asyncio.Future[Any], tuple[socket.socket, int]] = {}
    try:
        while True:
            now = time.monotonic()
            if driven is not None:
                for fam, answer in driven.take(now, ready):
                    race.answered(fam, answer, now)
            while (address := race.due(now)) is not None:
                writers = _has_writers(loop)
                if (opened := _open(race, address, now, connect=writers, fastopen=fastopen)) is None:
                    continue
                sock, index, target = opened
                if writers:  # connecting already: the loop says when the socket is writable
                    attempt: asyncio.Future[None] = loop.create_future()
                    loop.add_writer(sock, connected, sock, attempt)
                else:
                    attempt = asyncio.ensure_future(loop.sock_connect(sock, target))
                    attempt.add_done_callback(rouse)
                live[attempt] = (sock, index)
            if race.finished():
                raise race.error(now)
            if race.timed_out(now):
                race.timeout_all([i for _, i in live.values()], now)
                raise race.error(now)
            wake = race.wake_at()
            if driven is not None and (due := driven.wake_at()) is not None:
                wake = due if wake is None else min(wake, due)
            wait = None if wake is None else max(0.0, wake - now)
            if ready:  # a lookup read later than another (Driven.take): at once
                wait = 0.0
            elif wait != 0:
                race.idle()
            if wait is not None and wait <= _EARLY:  # the last of a wait: see _EARLY
                await asyncio.sleep(0)
            else:  # until a descriptor or a future rouses it, or the time (early) does
                woken = loop.create_future() if woken.done() else woken
                timer = None if wait is None else loop.call_later(wait - _EARLY, rouse)
                try:
                    await woken
                finally:
                    if timer is not None:
                        timer.cancel()
            now = time.monotonic()
            for fut in [f for f in (*lookups, *live) if f.done()]:
                failure = fut.exception()
                if failure is not None and not isinstance(failure, Exception):
                    raise failure
                if fut in lookups:
                    race.answered(lookups.pop(fut), failure if failure is not None else tuple(fut.result()), now)
                    continue
                sock, index = live[fut]
                if failure is None:
                    del live[fut]
                    try:
                        _won(sock)
                        race.ended(index, "connected", now)
                        race.cancel_all([i for _, i in live.values()], time.monotonic())
                    except BaseException:
                        sock.close()
                        raise
                    return sock, race.attempts[index].address
                del live[fut]
                sock.close()
                err = failure.errno if isinstance(failure, OSError) and failure.errno else 0
                race.ended(index, outcome(err) if err else str(failure), now, err)
    finally:
        if driven is not None:
            driven.close()
        for lookup in lookups:
            lookup.cancel()
        for fut, (sock, _) in live.items():
            fut.cancel()
            if _has_writers(loop):
                loop.remove_writer(sock)  # before the descriptor is closed (and its number reused)
        if live and not _has_writers(loop):
            # A cancelled sock_connect unregisters its socket in a callback: let it run before
            # the socket (and so its descriptor number) is closed.
            await asyncio.gather(*live, return_exceptions=True)
        for sock, _ in live.values():
            sock.close()
