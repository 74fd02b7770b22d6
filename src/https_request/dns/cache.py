"""The stub resolver's answer cache: answers by name and type, each until its
expiry time, bounded (the least recently used go first). :mod:`.resolver`
decides what is kept and for how long (TTLs capped at one week, TTL 0 not kept,
negative answers for RFC 2308's negative TTL) and holds its lock around it.
"""

from __future__ import annotations

from collections import OrderedDict
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING

from ..structs import Struct

if TYPE_CHECKING:
    from .resolver import DnsServer

__all__ = ["CachedAnswer", "DnsCache"]


class CachedAnswer(Struct):
    """What the cache keeps for one name and type."""

    addresses: tuple[IPv4Address | IPv6Address, ...]
    expires: float  # on the resolver's clock
    nxdomain: bool = False
    server: DnsServer | None = None  # who answered


class DnsCache:
    """Answers by (name, type), each until its expiry time, at most
    ``max_entries`` (the least recently used go first). Not locked itself:
    :class:`StubResolver` holds its lock around it."""

    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError(f"a DNS cache holds at least one answer, not {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], CachedAnswer] = OrderedDict()

    @staticmethod
    def _key(name: str, rdtype: str) -> tuple[str, str]:
        return name.rstrip(".").lower(), rdtype

    def get(self, name: str, rdtype: str, now: float) -> CachedAnswer | None:
        """The live answer for ``name`` (any case) and ``rdtype``, or None."""
        key = self._key(name, rdtype)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, name: str, rdtype: str, entry: CachedAnswer, now: float) -> None:
        """Keep ``entry`` (replacing an older one), evicting to stay within the bound."""
        key = self._key(name, rdtype)
        self._entries.pop(key, None)
        if len(self._entries) >= self.max_entries:
            self.purge(now)
        while len(self._entries) >= self.max_entries:
            self._entries.popitem(last=False)
        self._entries[key] = entry

    def purge(self, now: float) -> None:
        """Drop every expired answer."""
        for key in [k for k, e in self._entries.items() if e.expires <= now]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
