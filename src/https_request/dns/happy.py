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

``esp_compatible=True`` is esp-tls's behaviour instead: wait for both
answers, sort, and try the first address only (no racing), so a dead path
costs the whole timeout.

The drivers differ only in their I/O; the decisions (when to start, what
next, what failed) are one sans-I/O state machine, :class:`_Race`.

* :func:`connect` runs each lookup in its own daemon thread (two at most per
  call) and the attempts in one ``selectors`` loop. A lookup still running
  when the call returns is abandoned: it finishes in its thread and its
  answer is dropped.
* :func:`aconnect` runs the attempts on ``loop.sock_connect`` (its own
  staggered race). ``resolve`` may be an ``async def`` function (awaited in
  a task) or a blocking one (run in the loop's default executor). Lookups
  still running when it returns are cancelled (a blocking one finishes in
  its thread, its answer dropped).

Failures raise one exception type, :class:`ConnectError` (an ``OSError``):
``kind`` says whether the name did not resolve, the timeout passed or every
attempt failed, and the message names each address tried and how it failed.
``on_attempt`` sees each attempt when it starts (outcome ``"started"``) and
when it ends, with its socket's file descriptor for esp-tls's ``[sock=N]``
lines. IP literals are not looked up. At most :data:`MAX_CANDIDATES`
addresses are kept (a resolver's answer is bounded here).
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..structs import Struct, replace

if TYPE_CHECKING:
    from ..netif import LocalAddress

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
    "aconnect",
    "connect",
    "interleave",
]

Resolve = Callable[[str, int], Sequence[IPv4Address | IPv6Address]]
"""``(name, AF_INET6 | AF_INET) -> addresses``, blocking; may raise (any Exception)."""
AsyncResolve = Callable[[str, int], Awaitable[Sequence[IPv4Address | IPv6Address]]]
"""The ``async def`` twin of :data:`Resolve` (:func:`aconnect` only)."""
Known = Callable[[str, int], Sequence[IPv4Address | IPv6Address] | None]
"""``(name, family) -> addresses`` known at once (a hosts file, a cache), or None
to look the family up; may raise as :data:`Resolve` (a cached NXDOMAIN)."""
Sort = Callable[[Sequence[IPv4Address | IPv6Address]], Sequence[IPv4Address | IPv6Address]]
"""Addresses -> the same addresses, most preferred first."""


class Pending(Protocol):
    """A lookup that :func:`connect`'s own loop drives, without a thread (the stub
    resolver's :class:`~https_request.dns.resolver.PendingLookup` through
    :meth:`~https_request.dns.lookup.NameLookup.start`).

    ``advance(now)`` (time.monotonic()) sends what is due and reads what arrived: the
    addresses when the lookup is over, else None; it may raise (the lookup failed). The
    loop calls it once at once, then whenever ``fileno()`` (-1: none) is readable or
    ``wake_at()`` (None: only on I/O) has come, and ``close()`` at the end (also when the
    call ends before the lookup)."""

    def fileno(self) -> int: ...

    def wake_at(self) -> float | None: ...

    def advance(self, now: float) -> Sequence[IPv4Address | IPv6Address] | None: ...

    def close(self) -> None: ...


Start = Callable[[str, int], "Sequence[IPv4Address | IPv6Address] | Pending"]
"""``(name, family) -> addresses`` known at once (a hosts file, a cache), or the lookup
begun (:class:`Pending`); may raise as :data:`Resolve` (a cached NXDOMAIN, a bad name)."""

RESOLUTION_DELAY = 0.05  # RFC 8305 section 3
CONNECTION_ATTEMPT_DELAY = 0.25  # RFC 8305 section 5
MIN_ATTEMPT_DELAY = 0.01  # RFC 8305 section 5: "MUST NOT be less than 10 milliseconds"
MAX_CANDIDATES = 32  # addresses kept from all answers together

_PENDING = frozenset({errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK, errno.EALREADY})
_RR: dict[int, str] = {socket.AF_INET6: "AAAA", socket.AF_INET: "A"}


class Attempt(Struct):
    """One connection attempt.

    ``started``: seconds after the call began. ``outcome``: ``"started"``
    (reported when it starts), ``"connected"``, ``"refused"``, ``"timeout"``
    (no answer before the overall timeout, or the kernel's ETIMEDOUT),
    ``"cancelled"`` (another attempt won first), or the system's error text
    (``"Network is unreachable"``). ``fd``: its socket's descriptor (-1 when
    no socket could be made); ``errno``: the error number of a failure, else 0.
    ``ended``: seconds after the call began, None while it runs.
    """

    address: IPv4Address | IPv6Address
    started: float
    outcome: str
    fd: int = -1
    errno: int = 0
    ended: float | None = None

    def describe(self) -> str:
        """``"10.0.0.1: refused"``, ``"64:ff9b::1: no answer (timeout)"``."""
        if self.outcome == "timeout":
            return f"{self.address}: no answer (timeout)"
        return f"{self.address}: {self.outcome}"


class ConnectError(OSError):
    """Happy Eyeballs could not connect to ``name`` port ``port``.

    ``kind``: ``"resolve"`` (no address: every lookup failed or was empty;
    ``resolve_errors`` holds what each lookup raised, ``(family, exception)``),
    ``"timeout"`` (the overall timeout passed, while resolving or connecting;
    ``errno`` is ETIMEDOUT) or ``"connect"`` (every attempt failed; ``errno``
    is the last failure's). ``attempts`` lists every attempt made, in start
    order, with how it ended. The message says all of it in the user's terms.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str,
        port: int,
        kind: str,
        attempts: tuple[Attempt, ...] = (),
        resolve_errors: tuple[tuple[int, Exception], ...] = (),
        error_number: int | None = None,
    ) -> None:
        super().__init__(message)
        self.name, self.port, self.kind = name, port, kind
        self.attempts = attempts
        self.resolve_errors = resolve_errors
        self.errno = error_number


def interleave(
    addresses: Sequence[IPv4Address | IPv6Address], first_family_count: int = 1
) -> tuple[IPv4Address | IPv6Address, ...]:
    """RFC 8305 section 4: keep each family's order, take ``first_family_count``
    addresses of the first address's family, then alternate the families.
    Raises ValueError when ``first_family_count`` is below 1."""
    if first_family_count < 1:
        raise ValueError(f"first_family_count must be at least 1, not {first_family_count}")
    if not addresses:
        return ()
    first = addresses[0].version
    mine = [a for a in addresses if a.version == first]
    other = [a for a in addresses if a.version != first]
    out = mine[:first_family_count]
    mine = mine[first_family_count:]
    for i in range(max(len(mine), len(other))):
        out.extend(x[i] for x in (other, mine) if i < len(x))
    return tuple(out)


class _Rfc6724:
    """The default sort: RFC 6724 destination address selection
    (:func:`.select.sort_destinations`, imported when used). :meth:`prepare` reads the
    interfaces' addresses ahead, while the lookups are out, so that the sort after the
    answers only asks the kernel for each destination's source."""

    def __init__(self) -> None:
        self._local: Sequence[LocalAddress] | None = None

    def prepare(self) -> None:
        if self._local is None:
            from ..netif import known_addresses

            self._local = known_addresses()

    def __call__(self, addresses: Sequence[IPv4Address | IPv6Address]) -> Sequence[IPv4Address | IPv6Address]:
        from .select import sort_destinations

        return sort_destinations(addresses, local=self._local).ordered


def _outcome(err: int) -> str:
    if err == errno.ECONNREFUSED:
        return "refused"
    if err == errno.ETIMEDOUT:
        return "timeout"
    return os.strerror(err)


def _sockaddr(address: IPv4Address | IPv6Address, port: int) -> tuple[str, int] | tuple[str, int, int, int]:
    """The socket address for ``connect``; raises OSError for an unknown IPv6 zone."""
    if isinstance(address, IPv4Address):
        return (str(address), port)
    zone = address.scope_id
    index = 0
    if zone:
        index = int(zone) if zone.isdigit() else socket.if_nametoindex(zone)
    return (str(IPv6Address(int(address))), port, 0, index)


class _Race:
    """The decisions of one Happy Eyeballs connection, without I/O: the drivers
    report answers and attempt results with the time, and ask what to start
    and until when they may sleep."""

    def __init__(
        self,
        name: str,
        port: int,
        families: Sequence[int],
        sort: Sort,
        *,
        resolution_delay: float,
        attempt_delay: float,
        first_family_count: int,
        esp_compatible: bool,
        timeout: float | None,
        on_attempt: Callable[[Attempt], None] | None,
        now: float,
    ) -> None:
        self.name, self.port = name, port
        self._sort, self._count, self._esp = sort, first_family_count, esp_compatible
        self._prepare = sort.prepare if isinstance(sort, _Rfc6724) else None
        self._resolution_delay, self._attempt_delay = resolution_delay, attempt_delay
        self._timeout = timeout
        self._on_attempt = on_attempt
        self.t0 = now
        self.deadline = None if timeout is None else now + timeout
        self.waiting = set(families)  # lookups not answered yet
        self._families = tuple(families)
        self._errors: list[tuple[int, Exception]] = []
        self._found: list[IPv4Address | IPv6Address] = []  # every address seen (deduplicated, bounded)
        self._untried: list[IPv4Address | IPv6Address] = []
        self._go = False  # attempts may start
        self._unsorted = False  # _untried holds answers not sorted yet (sorted when an attempt is due)
        self._go_at: float | None = None  # the Resolution Delay's end
        self._next_at = now
        self.attempts: list[Attempt] = []
        self.live = 0

    def answered(self, family: int, result: Sequence[IPv4Address | IPv6Address] | Exception, now: float) -> None:
        """A lookup finished (its addresses, or the exception it raised)."""
        self.waiting.discard(family)
        if isinstance(result, Exception):
            self._errors.append((family, result))
            result = ()
        new = [a for a in dict.fromkeys(result) if a not in self._found][: MAX_CANDIDATES - len(self._found)]
        self._found.extend(new)
        if self._esp:
            if not self.waiting:
                self._untried = list(self._ordered(self._found)[:1])
                self._go = True
            return
        if self._go:
            self._untried.extend(new)
            self._unsorted = self._unsorted or bool(new)
        elif (family == socket.AF_INET6 and new) or not self.waiting:
            self._start(now)
        elif new and self._go_at is None:
            self._go_at = now + self._resolution_delay

    def literal(self, address: IPv4Address | IPv6Address | None) -> None:
        """The name is an IP address: the one candidate (None: not of the family
        asked for), nothing to look up."""
        self.waiting.clear()
        self._found = [] if address is None else [address]
        self._untried = list(self._found)
        self._go = True

    def _ordered(self, addresses: Sequence[IPv4Address | IPv6Address]) -> tuple[IPv4Address | IPv6Address, ...]:
        if len(addresses) < 2:
            return tuple(addresses)  # nothing to order
        ordered = self._sort(list(addresses))
        if sorted(ordered, key=str) != sorted(addresses, key=str):
            raise ValueError(f"sort returned {list(map(str, ordered))} for {list(map(str, addresses))}")
        return interleave(ordered, self._count)

    def _start(self, now: float) -> None:
        self._go, self._go_at = True, None
        self._untried, self._unsorted = list(self._found), True

    def due(self, now: float) -> IPv4Address | IPv6Address | None:
        """The next address to try now, if one is due (taken off the list).

        The candidates are sorted here, once for all the answers that came
        since the last call (answers arriving together cost one sort)."""
        if self._go_at is not None and now >= self._go_at:
            self._start(now)
        if not self._go or not self._untried or (self.live and now < self._next_at):
            return None
        if self._unsorted:
            self._untried, self._unsorted = list(self._ordered(self._untried)), False
        self._next_at = now + self._attempt_delay
        return self._untried.pop(0)

    def idle(self) -> None:
        """The driver is about to wait for the lookups: the default sort reads now (once)
        what it will need when they answer."""
        if self._prepare is not None and self.waiting:
            prepare, self._prepare = self._prepare, None
            prepare()

    def wake_at(self) -> float | None:
        """When the driver must look again even if no I/O happens (None: only on I/O)."""
        times = [t for t in (self.deadline, self._go_at) if t is not None]
        if self._go and self._untried:
            times.append(self._next_at)
        return min(times, default=None)

    def begun(self, address: IPv4Address | IPv6Address, fd: int, now: float) -> int:
        """An attempt was started; returns its index for :meth:`ended`."""
        self.attempts.append(Attempt(address, now - self.t0, "started", fd))
        self.live += 1
        self._report(len(self.attempts) - 1)
        return len(self.attempts) - 1

    def ended(self, index: int, outcome: str, now: float, err: int = 0) -> None:
        """Attempt ``index`` ended; a failure lets the next attempt start at once."""
        self.attempts[index] = replace(self.attempts[index], outcome=outcome, errno=err, ended=now - self.t0)
        self.live -= 1
        if outcome != "connected":
            self._next_at = now
        self._report(index)

    def failed_to_start(self, address: IPv4Address | IPv6Address, exc: OSError, now: float) -> None:
        """No socket, or ``connect`` failed at once: a finished attempt."""
        index = self.begun(address, -1, now)
        err = exc.errno or 0
        self.ended(index, _outcome(err) if err else str(exc), now, err)

    def _report(self, index: int) -> None:
        if self._on_attempt is not None:
            self._on_attempt(self.attempts[index])

    def finished(self) -> bool:
        """Nothing left: no lookup to wait for, no attempt running or to start."""
        return not self.waiting and not self.live and not (self._untried or self._go_at is not None)

    def timed_out(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def error(self, now: float) -> ConnectError:
        """The error for a call that ends now without a connection."""
        tried = tuple(self.attempts)
        number: int | None
        failures = "; ".join(a.describe() for a in tried)
        texts = {str(e) for _, e in self._errors}
        if len(self._errors) > 1 and len(texts) == 1:  # both lookups failed the same way (NXDOMAIN): say it once
            lookups = texts.pop()
        else:
            lookups = "; ".join(f"{_RR.get(f, f)} lookup failed: {e}" for f, e in self._errors)
        if self.timed_out(now):
            kind, number = "timeout", errno.ETIMEDOUT
            if tried:
                text = f"connecting to {self.name} port {self.port} timed out after {self._timeout:g} s: {failures}"
            else:
                text = f"resolving {self.name} timed out after {self._timeout:g} s"
                text += f" ({lookups})" if lookups else ""
        elif not self._found:
            kind = "resolve"
            number = next((e.errno for _, e in self._errors if isinstance(e, OSError) and e.errno), None)
            wanted = " or ".join("IPv6" if f == socket.AF_INET6 else "IPv4" for f in self._families)
            text = f"cannot resolve {self.name}: " + (lookups or f"no {wanted} address")
            if lookups and len(self._errors) < len(self._families):
                text += "; the other lookup found no address"
        else:
            kind, number = "connect", (tried[-1].errno if tried else None)
            text = f"cannot connect to {self.name} port {self.port}: {failures}"
        return ConnectError(
            text,
            name=self.name,
            port=self.port,
            kind=kind,
            attempts=tried,
            resolve_errors=tuple(self._errors),
            error_number=number,
        )

    def timeout_all(self, indexes: Sequence[int], now: float) -> None:
        for i in indexes:
            self.ended(i, "timeout", now, errno.ETIMEDOUT)

    def cancel_all(self, indexes: Sequence[int], now: float) -> None:
        for i in indexes:
            self.ended(i, "cancelled", now)


_FAMILIES: dict[int, tuple[int, ...]] = {
    socket.AF_UNSPEC: (socket.AF_INET6, socket.AF_INET),
    socket.AF_INET6: (socket.AF_INET6,),
    socket.AF_INET: (socket.AF_INET,),
}


def _race(
    name: str,
    port: int,
    *,
    sort: Sort | None,
    resolution_delay: float,
    attempt_delay: float,
    first_family_count: int,
    timeout: float | None,
    esp_compatible: bool,
    on_attempt: Callable[[Attempt], None] | None,
    family: int,
) -> tuple[_Race, tuple[int, ...]]:
    """Check the arguments; the race and the lookups to start. Raises ValueError."""
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be 0..65535, not {port}")
    if family not in _FAMILIES:
        raise ValueError(f"family must be AF_UNSPEC, AF_INET6 or AF_INET, not {family}")
    if first_family_count < 1:
        raise ValueError(f"first_family_count must be at least 1, not {first_family_count}")
    if resolution_delay < 0:
        raise ValueError(f"resolution_delay must not be negative, not {resolution_delay}")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be positive (or None), not {timeout}")
    if not name:
        raise ValueError("the host name is empty")
    families = _FAMILIES[family]
    race = _Race(
        name,
        port,
        families,
        sort or _Rfc6724(),
        resolution_delay=resolution_delay,
        attempt_delay=max(MIN_ATTEMPT_DELAY, attempt_delay),
        first_family_count=first_family_count,
        esp_compatible=esp_compatible,
        timeout=timeout,
        on_attempt=on_attempt,
        now=time.monotonic(),
    )
    try:
        literal = ip_address(name)
    except ValueError:
        return race, families
    usable = {4: socket.AF_INET, 6: socket.AF_INET6}[literal.version] in families
    race.literal(literal if usable else None)  # -4 with an IPv6 literal (or -6 with IPv4): no address
    return race, ()


_Answer = Sequence[IPv4Address | IPv6Address] | Exception
_LOOKUP = "lookup"  # the selector's data for a lookup's descriptor (an attempt's has None)


class _Driven:
    """Lookups begun with ``start``, each a :class:`Pending` that the driver's own loop
    advances when its descriptor is readable or its time has come: no thread, the
    queries go out at once and an answer is read the moment the loop sees it.
    ``watch(fd)`` asks the loop to report ``fd`` readable (a selector's register, the
    asyncio loop's ``add_reader``), ``unwatch(fd)`` stops it; ``watch`` may raise
    NotImplementedError (a loop without readers), every lookup closed first."""

    def __init__(
        self,
        name: str,
        families: Sequence[int],
        start: Start,
        watch: Callable[[int], object],
        unwatch: Callable[[int], object],
    ) -> None:
        self._watch, self._unwatch = watch, unwatch
        self._pending: dict[int, Pending] = {}
        self._fds: dict[int, int] = {}  # family -> the descriptor watched for it
        self._answers: list[tuple[int, _Answer]] = []
        try:
            for family in families:
                begun: Sequence[IPv4Address | IPv6Address] | Pending | Exception
                try:
                    begun = start(name, family)
                except Exception as exc:  # a known failure (a cached NXDOMAIN), reported by the race
                    begun = exc
                if isinstance(begun, Exception | Sequence):
                    self._answers.append((family, begun if isinstance(begun, Exception) else tuple(begun)))
                else:
                    self._pending[family] = begun
                    self._advance(family, time.monotonic())  # its first query goes out now
        except BaseException:
            self.close()
            raise

    def _advance(self, family: int, now: float) -> None:
        lookup = self._pending[family]
        fd = self._fds.pop(family, -1)
        if fd >= 0:  # unwatched first: advancing may close it (and its number be reused)
            self._unwatch(fd)
        result: Sequence[IPv4Address | IPv6Address] | Exception | None
        try:
            result = lookup.advance(now)
        except Exception as exc:  # the lookup's failure is reported by the race
            result = exc
        if result is None:
            fd = lookup.fileno()
            if fd >= 0:
                self._watch(fd)
                self._fds[family] = fd
            return
        del self._pending[family]
        lookup.close()
        self._answers.append((family, result if isinstance(result, Exception) else tuple(result)))

    def take(self, now: float, ready: set[int]) -> list[tuple[int, _Answer]]:
        """The answers known now: advances each lookup whose descriptor is in ``ready``
        or whose time has come. A lookup that only became readable while another was
        read waits for the next call: the first answer reaches the race at once."""
        for family, lookup in list(self._pending.items()):
            when = lookup.wake_at()
            if self._fds.get(family, -1) in ready or (when is not None and now >= when):
                self._advance(family, now)
        answers, self._answers = self._answers, []
        return answers

    def pending(self) -> bool:
        return bool(self._pending)

    def wake_at(self) -> float | None:
        return min((t for p in self._pending.values() if (t := p.wake_at()) is not None), default=None)

    def close(self) -> None:
        for fd in self._fds.values():
            self._unwatch(fd)
        self._fds.clear()
        for lookup in self._pending.values():
            lookup.close()
        self._pending.clear()


# --- blocking ------------------------------------------------------------------


def _known_answers(race: _Race, name: str, families: Sequence[int], known: Known | None) -> list[int]:
    """Feed ``race`` what ``known`` answers at once; returns the families still to look up."""
    if known is None:
        return list(families)
    pending = []
    for fam in families:
        answer: Sequence[IPv4Address | IPv6Address] | Exception | None
        try:
            answer = known(name, fam)
        except Exception as exc:  # a known failure (a cached NXDOMAIN), reported by the race like a lookup's
            answer = exc
        if answer is None:
            pending.append(fam)
        else:
            race.answered(fam, answer if isinstance(answer, Exception) else tuple(answer), time.monotonic())
    return pending


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
                    target=self._run, args=(family,), name=f"happy-eyeballs {_RR[family]} {name}", daemon=True
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


def _open(race: _Race, address: IPv4Address | IPv6Address, now: float) -> tuple[socket.socket, int] | None:
    """A non-blocking socket connecting to ``address``, and its attempt's index;
    None when it failed at once (recorded in the race)."""
    try:
        sock = socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        race.failed_to_start(address, exc, now)
        return None
    try:
        sock.setblocking(False)
        err = sock.connect_ex(_sockaddr(address, race.port))
    except OSError as exc:
        sock.close()
        race.failed_to_start(address, exc, now)
        return None
    try:
        index = race.begun(address, sock.fileno(), now)
    except BaseException:  # on_attempt raised
        sock.close()
        raise
    if err and err not in _PENDING:
        sock.close()
        race.ended(index, _outcome(err), time.monotonic(), err)
        return None
    return sock, index


def _wait(wake: float | None, now: float) -> float | None:
    """How long the selector may wait for ``wake``. A selector's timeout is
    rounded up to whole milliseconds and the kernel adds 0.1% of slack (each
    attempt would start ~1 ms late), so it wakes 2 ms early and sleeps the
    rest: I/O in those 2 ms is seen by the select that follows, before the
    next attempt starts."""
    if wake is None:
        return None
    wait = wake - now
    if wait > 0.003:
        return wait - 0.002
    if wait > 0:
        time.sleep(wait)
    return 0.0


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

    Returns the connected socket (blocking, no timeout, ``TCP_NODELAY`` set)
    and the address it is connected to. Raises :class:`ConnectError` (``kind``
    "resolve", "timeout" or "connect"), ValueError for bad arguments, and what
    ``sort`` or ``on_attempt`` raise (every socket closed first).
    """
    race, families = _race(
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
    if start is None and resolve is None:
        raise ValueError("connect needs resolve or start")
    live: dict[socket.socket, int] = {}
    winner: socket.socket | None = None
    lookups: _Lookups | _Driven | None = None
    ready: set[int] = set()  # the lookups' descriptors the last select saw readable
    with selectors.DefaultSelector() as sel:
        try:
            if start is not None:

                def watch(fd: int) -> None:
                    sel.register(fd, selectors.EVENT_READ, _LOOKUP)

                lookups = _Driven(name, families, start, watch, sel.unregister) if families else None
            elif pending := _known_answers(race, name, families, known):
                assert resolve is not None
                lookups = _Lookups(name, pending, resolve, sel)
            while True:
                now = time.monotonic()
                for fam, answer in lookups.take(now, ready) if lookups is not None else ():
                    race.answered(fam, answer, now)
                while (address := race.due(now)) is not None:
                    opened = _open(race, address, now)
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
                timeout = _wait(wake, now)
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
                        race.ended(index, _outcome(err), now, err)
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

    race, families = _race(
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
    woken = loop.create_future()  # done when one is

    def readable(fd: int) -> None:  # once: the lookup is watched again after it has been advanced
        loop.remove_reader(fd)
        ready.add(fd)
        if not woken.done():
            woken.set_result(None)

    driven: _Driven | None = None
    lookups: dict[asyncio.Future[Any], int] = {}
    if start is not None and families:
        try:
            driven = _Driven(name, families, start, lambda fd: loop.add_reader(fd, readable, fd), loop.remove_reader)
        except NotImplementedError:  # no add_reader: the lookups through resolve, in tasks
            if resolve is None:
                raise ValueError("this event loop cannot watch descriptors (add_reader): give resolve") from None
    if driven is None:
        for fam in _known_answers(race, name, families, known):
            if inspect.iscoroutinefunction(resolve):
                lookups[asyncio.ensure_future(cast(AsyncResolve, resolve)(name, fam))] = fam
            else:
                lookups[loop.run_in_executor(None, cast(Resolve, resolve), name, fam)] = fam
    if lookups or driven is not None:
        loop.call_soon(race.idle)  # after the lookups' first steps (their queries sent), before their answers
    live: dict[asyncio.Future[Any], tuple[socket.socket, int]] = {}
    try:
        while True:
            now = time.monotonic()
            if driven is not None:
                for fam, answer in driven.take(now, ready):
                    race.answered(fam, answer, now)
                ready.clear()
            while (address := race.due(now)) is not None:
                try:
                    sock = socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET)
                    try:
                        sock.setblocking(False)
                        sockaddr = _sockaddr(address, race.port)
                    except OSError:
                        sock.close()
                        raise
                except OSError as exc:
                    race.failed_to_start(address, exc, now)
                    continue
                try:
                    index = race.begun(address, sock.fileno(), now)
                except BaseException:  # on_attempt raised
                    sock.close()
                    raise
                live[asyncio.ensure_future(loop.sock_connect(sock, sockaddr))] = (sock, index)
            if race.finished():
                raise race.error(now)
            if race.timed_out(now):
                race.timeout_all([i for _, i in live.values()], now)
                raise race.error(now)
            wake = race.wake_at()
            if driven is not None and (due := driven.wake_at()) is not None:
                wake = due if wake is None else min(wake, due)
            wait = None if wake is None else max(0.0, wake - now)
            waiting: set[asyncio.Future[Any]] = {*lookups, *live}
            if driven is not None and driven.pending():
                if woken.done():
                    woken = loop.create_future()
                waiting.add(woken)
            done: set[asyncio.Future[Any]] = set()
            if wait is not None and wait <= _EARLY:  # the last of a wait: see _EARLY
                await asyncio.sleep(0)
                done = {f for f in waiting if f.done()}
            elif waiting:
                early = None if wait is None else wait - _EARLY
                done, _ = await asyncio.wait(waiting, timeout=early, return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.sleep((wait or 0.0) - _EARLY)
            now = time.monotonic()
            for fut in done:
                if fut is woken:  # driven lookups: read at the top of the loop
                    continue
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
                race.ended(index, _outcome(err) if err else str(failure), now, err)
    finally:
        if driven is not None:
            driven.close()
        for lookup in lookups:
            lookup.cancel()
        for fut in live:
            fut.cancel()
        if live:
            # A cancelled sock_connect unregisters its socket in a callback: let it run before
            # the socket (and so its descriptor number) is closed.
            await asyncio.gather(*live, return_exceptions=True)
            for sock, _ in live.values():
                sock.close()
