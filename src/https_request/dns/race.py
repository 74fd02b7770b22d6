"""The decisions of RFC 8305 Happy Eyeballs, without I/O, that both drivers of
:mod:`.happy` share: :class:`Race` (when to start an attempt, which address
next, what failed, the error to raise), the candidates' order (the default
RFC 6724 sort, :func:`interleave`), the bound on candidates, and
:class:`Driven`, the lookups a driver's own loop advances (:class:`Pending`,
begun with ``start``). The drivers, and what the rules are, are in
:mod:`.happy`.
"""

from __future__ import annotations

import errno
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import TYPE_CHECKING, Protocol, cast

from ..structs import Struct, replace

if TYPE_CHECKING:
    from ..netif import LocalAddress

__all__ = [
    "CONNECTION_ATTEMPT_DELAY",
    "FAMILIES",
    "MAX_CANDIDATES",
    "MIN_ATTEMPT_DELAY",
    "PENDING",
    "RECORD_TYPE",
    "RESOLUTION_DELAY",
    "Answer",
    "AsyncResolve",
    "Attempt",
    "ConnectError",
    "Driven",
    "Known",
    "Pending",
    "Race",
    "Resolve",
    "Rfc6724",
    "Sort",
    "Start",
    "interleave",
    "known_answers",
    "new_race",
    "outcome",
    "sockaddr",
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

PENDING = frozenset({errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK, errno.EALREADY})
RECORD_TYPE: dict[int, str] = {socket.AF_INET6: "AAAA", socket.AF_INET: "A"}


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


class Rfc6724:
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


def outcome(err: int) -> str:
    if err == errno.ECONNREFUSED:
        return "refused"
    if err == errno.ETIMEDOUT:
        return "timeout"
    return os.strerror(err)


def sockaddr(address: IPv4Address | IPv6Address, port: int) -> tuple[str, int] | tuple[str, int, int, int]:
    """The socket address for ``connect``; raises OSError for an unknown IPv6 zone."""
    if isinstance(address, IPv4Address):
        return (str(address), port)
    zone = address.scope_id
    index = 0
    if zone:
        index = int(zone) if zone.isdigit() else socket.if_nametoindex(zone)
    return (str(IPv6Address(int(address))), port, 0, index)


class Race:
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
        self._prepare = sort.prepare if isinstance(sort, Rfc6724) else None
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
        """The driver is about to wait: during the Resolution Delay (an A answer in, the
        AAAA lookup out), when both families' addresses are sure to be sorted, the
        default sort reads now (once) what it will need."""
        if self._prepare is not None and self._go_at is not None:
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
        self.ended(index, outcome(err) if err else str(exc), now, err)

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
            lookups = "; ".join(f"{RECORD_TYPE.get(f, f)} lookup failed: {e}" for f, e in self._errors)
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


FAMILIES: dict[int, tuple[int, ...]] = {
    socket.AF_UNSPEC: (socket.AF_INET6, socket.AF_INET),
    socket.AF_INET6: (socket.AF_INET6,),
    socket.AF_INET: (socket.AF_INET,),
}


def new_race(
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
) -> tuple[Race, tuple[int, ...]]:
    """Check the arguments; the race and the lookups to start. Raises ValueError."""
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be 0..65535, not {port}")
    if family not in FAMILIES:
        raise ValueError(f"family must be AF_UNSPEC, AF_INET6 or AF_INET, not {family}")
    if first_family_count < 1:
        raise ValueError(f"first_family_count must be at least 1, not {first_family_count}")
    if resolution_delay < 0:
        raise ValueError(f"resolution_delay must not be negative, not {resolution_delay}")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be positive (or None), not {timeout}")
    if not name:
        raise ValueError("the host name is empty")
    families = FAMILIES[family]
    race = Race(
        name,
        port,
        families,
        sort or Rfc6724(),
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


Answer = Sequence[IPv4Address | IPv6Address] | Exception


class Driven:
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
        self._answers: list[tuple[int, Answer]] = []
        try:
            for family in families:
                begun: Sequence[IPv4Address | IPv6Address] | Pending | Exception
                try:
                    begun = start(name, family)
                except Exception as exc:  # a known failure (a cached NXDOMAIN), reported by the race
                    begun = exc
                if isinstance(begun, Exception):
                    self._answers.append((family, begun))
                elif not hasattr(begun, "advance"):  # the addresses, at once
                    self._answers.append((family, tuple(begun)))
                else:
                    self._pending[family] = cast(Pending, begun)
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

    def take(self, now: float, ready: set[int]) -> list[tuple[int, Answer]]:
        """The answers known now. Those ``start`` gave at once come together; after them,
        one lookup's answer per call, in family order (AAAA first): each lookup whose
        descriptor is in ``ready`` (taken out of it) or whose time has come is advanced
        until one answers, so that the driver acts on that answer (its first attempt may
        start) before it reads the next. A descriptor left in ``ready`` is still readable."""
        if not self._answers:
            for family, lookup in list(self._pending.items()):
                fd, when = self._fds.get(family, -1), lookup.wake_at()
                if fd in ready or (when is not None and now >= when):
                    ready.discard(fd)
                    self._advance(family, now)
                    if self._answers:
                        break
        answers, self._answers = self._answers, []
        return answers

    def wake_at(self) -> float | None:
        return min((t for p in self._pending.values() if (t := p.wake_at()) is not None), default=None)

    def close(self) -> None:
        for fd in self._fds.values():
            self._unwatch(fd)
        self._fds.clear()
        for lookup in self._pending.values():
            lookup.close()
        self._pending.clear()


def known_answers(race: Race, name: str, families: Sequence[int], known: Known | None) -> list[int]:
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
