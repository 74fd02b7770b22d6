"""Ticket keys and 0-RTT anti-replay shared by several servers through Redis.

``serve --ticket-keys redis://HOST:PORT/N`` (or ``rediss://`` for TLS, with
``user:password@`` when the server wants it): N servers on N machines behind a
TCP load balancer seal tickets under one key ring and open each other's, and
a ticket carries early data once in all. redis-py is imported only here, and
this module only when such a URL is given (``keys.open_shared``).

Redis holds, in database N:

* :data:`RING`: the key ring, :meth:`TicketKeys.to_bytes` (current and
  previous key, checksummed). It is created with ``SET NX`` by the first
  server. Every server keeps a copy, fetched again every ``refresh`` seconds
  and at once (at most every :data:`MISS_REFETCH` s) when a ticket does not
  open, so a ticket sealed under a newer key is followed within a round trip.
  The copy never rotates by itself.
* :data:`LOCK`: the rotation lock. The server that finds the ring due takes
  it (redis-py's ``Lock``: ``SET NX PX`` with a token, released by a
  compare-and-delete script) with a TTL of ``lock_ttl`` seconds, reads the
  ring again, rotates it if it is still due and writes it back: one rotator at
  a time, the others follow the ring (a server that finds the lock taken
  keeps its copy; the previous key keeps opening older tickets). It logs
  ``ticket keys: rotated the shared ring in redis://...``.
* :data:`REPLAY_PREFIX` + the ticket's id (hex): one 0-RTT claim, ``SET NX``
  with an expiry at the ticket's end, so only the first server to see a
  ticket's early data accepts it.
* :data:`EPOCH`: when the claims started (``SET NX``, wall clock). A Redis
  that restarted empty has lost its claims: early data is refused for tickets
  issued before the epoch (issue time = the claim's expiry minus the ticket
  lifetime), so nothing claimed before the restart is accepted again.

*Outages.* A Redis error or timeout (``timeout`` seconds, no retries: the
calls are synchronous, on the event loop) marks the link down, logged once per
outage. While it is down no call waits on Redis: the server seals and opens
tickets under keys of its own (:class:`TicketKeys`, never shared) and claims
0-RTT in its own memory (those tickets open nowhere else), so resumption
works only with the server that issued the ticket; a claim that fails while
the link was up refuses early data. Every ``retry_after`` seconds a seal or
open tries Redis again; when it answers the link is up (logged), the ring is
fetched again (re-seeded with the last ring this server had if Redis lost it)
and the servers share their keys again. Nothing here raises into the
handshake. The keys in Redis are secrets: keep Redis on a private network
with a password (or ``rediss://``), and give ``serve`` a database of its own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import LockError, RedisError
from redis.retry import Retry

from ..tls.session import MemoryAntiReplay, SessionError, TicketKeys
from .keys import KeyFileError, SharedKeys, default_log

__all__ = [
    "EPOCH",
    "LOCK",
    "MISS_REFETCH",
    "REPLAY_PREFIX",
    "RING",
    "RedisAntiReplay",
    "RedisLink",
    "RedisTicketKeys",
    "open_redis",
]

RING = "https-request:ticket-keys"
LOCK = "https-request:ticket-keys:rotate"
REPLAY_PREFIX = "https-request:0rtt:"
EPOCH = "https-request:0rtt-epoch"
MISS_REFETCH = 0.2  # seconds between two fetches of the ring caused by tickets that did not open

_T = TypeVar("_T")


class _Down(Exception):
    """Redis is unreachable (or was, less than ``retry_after`` seconds ago)."""


class RedisLink:
    """One process's connection to Redis and whether it works.

    :meth:`call` runs a command and raises :class:`_Down` on any Redis error;
    while the link is down it raises at once, without I/O, until
    ``retry_after`` seconds have passed. Transitions are logged, once each.
    redis-py's pool opens new connections in a forked child by itself.
    """

    def __init__(
        self,
        url: str,
        timeout: float = 0.5,
        retry_after: float = 2.0,
        log: Callable[[str], None] = default_log,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise KeyFileError(f"ticket key store {url!r}: give redis://HOST:PORT/N (or rediss://)")
        try:
            port = parts.port
        except ValueError:
            raise KeyFileError(f"ticket key store {url!r}: bad port") from None
        db = parts.path.strip("/") or "0"
        if not db.isdigit():
            raise KeyFileError(f"ticket key store {url!r}: the database after the port must be a number")
        #: the URL without its password, for log lines
        self.name = f"{parts.scheme}://{parts.hostname}:{port or 6379}/{int(db)}"
        try:
            self.client: redis.Redis = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as exc:
            raise KeyFileError(f"ticket key store {url!r}: {exc}") from None
        self.retry_after = retry_after
        self._log = log
        self._clock = clock
        self.up = True
        self._retry_at = 0.0

    def retry_now(self) -> None:
        """Let the next call try Redis even if the link went down less than ``retry_after`` s ago."""
        self._retry_at = 0.0

    def can_try(self) -> bool:
        """True when a call may reach Redis now (the link is up, or a retry is due)."""
        return self.up or self._clock() >= self._retry_at

    def call(self, command: Callable[[redis.Redis], _T]) -> _T:
        if not self.can_try():
            raise _Down
        try:
            result = command(self.client)
        except (RedisError, OSError) as exc:
            self._retry_at = self._clock() + self.retry_after
            if self.up:
                self.up = False
                self._log(
                    f"warning: ticket key store {self.name} unreachable ({exc}): this server uses keys and 0-RTT "
                    "anti-replay of its own until it is back (tickets resume only where they were issued)"
                )
            raise _Down from None
        if not self.up:
            self.up = True
            self._log(f"ticket key store {self.name} is back: ticket keys and 0-RTT anti-replay shared again")
        return result


def _bytes(value: object) -> bytes | None:
    """A GET's answer (bytes, or None for no key; the client never decodes)."""
    return value if isinstance(value, bytes) else None


class _Ring(TicketKeys):
    """This server's copy of the shared ring: it never rotates by itself (only the rotator does, in Redis)."""

    def rotate(self, now: float) -> bool:
        return False


def _ring_of(blob: bytes | None, random: Callable[[int], bytes]) -> _Ring | None:
    if not blob:
        return None
    try:
        ring = _Ring.from_bytes(blob, random)
    except SessionError:
        return None
    assert isinstance(ring, _Ring)
    return ring


class RedisTicketKeys(SharedKeys):
    """Ticket keys in a ring shared through Redis (see the module's docstring).

    ``lifetime`` is written into the ring when it differs from the ring's own:
    the last server to start decides the rotation period. Never raises once
    constructed; construction raises only for a bad URL (KeyFileError, from
    :class:`RedisLink`): an unreachable Redis starts the server degraded.
    """

    def __init__(
        self,
        link: RedisLink,
        lifetime: int = 86400,
        random: Callable[[int], bytes] = os.urandom,
        clock: Callable[[], float] = time.time,
        refresh: float = 1.0,
        lock_ttl: float = 10.0,
        log: Callable[[str], None] = default_log,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if lifetime <= 0:
            raise ValueError("ticket lifetime must be positive")
        self.lifetime = lifetime
        self.refresh = refresh
        self.lock_ttl = lock_ttl
        self._link = link
        self._random = random
        self._log = log
        self._monotonic = monotonic
        self._local = TicketKeys(random, lifetime, clock())  # while Redis is down: never shared
        self._ring: _Ring | None = None
        self._blob = b""
        self._fetched_at = -1e18
        self._corrupt_logged = b""
        try:
            self._fetch(clock())
            self._claim_lifetime(clock())
        except _Down:
            pass

    # ----------------------------------------------------------------- Redis

    def _claim_lifetime(self, now: float) -> None:
        """Write our lifetime into the ring when it differs (the last server to start decides)."""
        if self._ring is not None and self._ring.lifetime != self.lifetime:
            self._update(now, lambda ring: ring.lifetime != self.lifetime, self._set_lifetime)

    def _fetch(self, now: float) -> bool:
        """Fetch the ring; create it (or re-seed it with ours) when Redis has none. False when
        Redis's ring is corrupt (ours stays). Raises _Down."""
        seed = self._blob or TicketKeys(self._random, self.lifetime, now).to_bytes()

        def get(client: redis.Redis) -> bytes | None:
            blob = _bytes(client.get(RING))
            if blob is None:  # a new Redis, or one that lost its data: claims made before are gone too
                client.set(EPOCH, repr(now), nx=True)
                client.set(RING, seed, nx=True)
                blob = _bytes(client.get(RING))
            return blob

        blob = self._link.call(get)
        self._fetched_at = self._monotonic()
        if blob == self._blob:
            return True
        ring = _ring_of(blob, self._random)
        if ring is None:
            if blob != self._corrupt_logged:  # the next rotator replaces it; we keep our copy meanwhile
                self._corrupt_logged = blob or b""
                self._log(f"warning: the ticket key ring in {self._link.name} is corrupt; keeping the last good one")
            return False
        self._ring, self._blob = ring, blob or b""
        return True

    def _set_lifetime(self, ring: TicketKeys | None, now: float) -> TicketKeys:
        if ring is None:
            return TicketKeys(self._random, self.lifetime, now)
        ring.lifetime = self.lifetime
        return ring

    def _roll(self, ring: TicketKeys | None, now: float) -> TicketKeys:
        if ring is None:  # missing or corrupt: start anew
            return TicketKeys(self._random, self.lifetime, now)
        ring.rotate(now)
        return ring

    def _update(
        self,
        now: float,
        needed: Callable[[TicketKeys], bool],
        change: Callable[[TicketKeys | None, float], TicketKeys],
    ) -> bool:
        """Change the ring in Redis under the lock, if it still needs it; False when
        another server holds the lock or had done it. Raises _Down."""

        def attempt(client: redis.Redis) -> bytes | None:
            lock = client.lock(LOCK, timeout=self.lock_ttl, blocking=False)
            if not lock.acquire():
                return None
            try:
                current = _bytes(client.get(RING))
                try:
                    ring: TicketKeys | None = TicketKeys.from_bytes(current, self._random) if current else None
                except SessionError:
                    ring = None
                if ring is not None and not needed(ring):
                    return None
                blob = change(ring, now).to_bytes()
                client.set(RING, blob)
                return blob
            finally:
                try:
                    lock.release()
                except LockError:
                    pass  # it expired (we took longer than lock_ttl): nothing of ours to release

        written = self._link.call(attempt)
        if written is None:
            return False
        ring = _ring_of(written, self._random)
        assert ring is not None
        self._ring, self._blob, self._fetched_at = ring, written, self._monotonic()
        return True

    def _sync(self, now: float) -> None:
        """Follow the ring (every ``refresh`` s) and rotate it when due; no I/O otherwise."""
        ring = self._ring
        if self._link.up and ring is not None:
            if self._monotonic() < self._fetched_at + self.refresh and not ring.due(now):
                return
        elif not self._link.can_try():
            return
        try:
            self._fetch(now)
            ring = self._ring
            if ring is not None and ring.due(now):
                if self._update(now, lambda r: r.due(now), self._roll):
                    self._log(f"ticket keys: rotated the shared ring in {self._link.name}")
        except _Down:
            pass

    def _shared(self) -> _Ring | None:
        return self._ring if self._link.up else None

    # ------------------------------------------------------- TicketKeys API

    def reload(self) -> bool:
        self._fetched_at = -1e18
        self._link.retry_now()
        try:
            return self._fetch(time.time())
        except _Down:
            return False

    def due(self, now: float) -> bool:
        ring = self._shared()
        return (ring if ring is not None else self._local).due(now)

    def rotate(self, now: float) -> bool:
        self._sync(now)
        return False if self._shared() is not None else self._local.rotate(now)

    def seal(self, plaintext: bytes, now: float) -> bytes:
        self._sync(now)
        ring = self._shared()
        return (ring if ring is not None else self._local).seal(plaintext, now)

    def open(self, ticket: bytes, now: float) -> tuple[bytes, bool] | None:
        self._sync(now)
        ring = self._shared()
        if ring is None:
            return self._local.open(ticket, now)
        found = ring.open(ticket, now)
        if found is None and self._monotonic() >= self._fetched_at + MISS_REFETCH:
            try:  # sealed under a key another server has just rotated in?
                self._fetch(now)
            except _Down:
                return None
            ring = self._shared()
            found = ring.open(ticket, now) if ring is not None else None
        return found

    def to_bytes(self) -> bytes:
        ring = self._shared()
        return (ring if ring is not None else self._local).to_bytes()


class RedisAntiReplay:
    """0-RTT single use across every server using ``link``'s Redis (see the module's docstring).

    While the link is down, claims are this process's own (bounded,
    :class:`MemoryAntiReplay`): the keys store then opens only this server's
    own tickets. A claim that fails in Redis refuses early data.
    """

    def __init__(self, link: RedisLink, lifetime: int, local_entries: int = 100_000) -> None:
        self._link = link
        self.lifetime = lifetime
        self._local = MemoryAntiReplay(max_entries=local_entries)
        try:  # early data of tickets issued from now on can be claimed (RedisTicketKeys sets it too)
            link.call(lambda client: client.set(EPOCH, repr(time.time()), nx=True))
        except _Down:
            pass

    def claim(self, ticket_id: bytes, expires_at: float, now: float) -> bool:
        if not self._link.up:
            return self._local.claim(ticket_id, expires_at, now)
        ttl_ms = max(1000, int((expires_at - now) * 1000))

        def claim(client: redis.Redis) -> tuple[bool, float]:
            pipe = client.pipeline(transaction=False)
            pipe.set(EPOCH, repr(now), nx=True)
            pipe.get(EPOCH)
            pipe.set(REPLAY_PREFIX + ticket_id.hex(), b"1", nx=True, px=ttl_ms)
            _, epoch, claimed = pipe.execute()
            return bool(claimed), float(epoch)

        try:
            claimed, epoch = self._link.call(claim)
        except (_Down, ValueError, TypeError):
            return False
        return claimed and expires_at - self.lifetime >= epoch


def open_redis(
    url: str, lifetime: int, log: Callable[[str], None] = default_log
) -> tuple[RedisTicketKeys, RedisAntiReplay]:
    """The ticket keys and the anti-replay store of ``url``. Raises KeyFileError for a bad URL."""
    link = RedisLink(url, log=log)
    keys = RedisTicketKeys(link, lifetime, log=log)
    return keys, RedisAntiReplay(link, lifetime)
