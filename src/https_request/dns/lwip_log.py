"""lwIP's DNS client table, kept only for its numbering and its debug lines.

lwIP (``src/core/dns.c``) holds its pending and answered lookups in a table of
``DNS_TABLE_SIZE`` entries and opens one UDP pcb (a random source port) per
lookup from a pool of the same size. Its ``LWIP_DNS_DEBUG`` lines name the
entry and pcb numbers, so printing the lines lwIP would print for the same
sequence of lookups means following the same rules:

* a lookup takes the first UNUSED entry, else the DONE entry with the oldest
  sequence number (an 8-bit counter, as in lwIP); when every entry is ASKING
  the table is full (lwIP fails the lookup with ERR_MEM);
* it takes the first free pcb, and gives it back when it finishes;
* an answered entry stays DONE for its TTL (TTL 0: freed at once), and the
  timer line ``dns_tmr: dns_check_entries`` prints while any entry is in use
  (ESP-IDF runs the DNS timer on demand).

The table does not hold the answers the resolver returns (that is
:class:`~https_request.dns.resolver.DnsCache`, which may be larger): only the
first address, for the lines. Entries age by the injected clock rather than
by a count of timer ticks, so the numbering does not depend on how often the
caller runs :meth:`LwipTable.tick`. Not thread-safe: the resolver holds its
lock around every call. Imports nothing outside the standard library.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address

from ..structs import Struct

__all__ = ["DNS_TABLE_SIZE", "LwipTable", "TableFull", "lwip_addr"]

#: lwIP's default ``DNS_TABLE_SIZE`` (also ``DNS_MAX_SOURCE_PORTS``).
DNS_TABLE_SIZE = 4

_UNUSED, _ASKING, _DONE = 0, 2, 3


def lwip_addr(address: IPv4Address | IPv6Address) -> str:
    """An address as lwIP's ``ip_addr_debug_print_val`` prints it: dotted IPv4,
    or IPv6 as eight uncompressed lowercase hex groups (``64:ff9b:0:0:0:0:2247:2dc8``)."""
    if isinstance(address, IPv4Address):
        return str(address)
    words = address.packed
    return ":".join(f"{int.from_bytes(words[i : i + 2], 'big'):x}" for i in range(0, 16, 2))


class TableFull(Exception):
    """Every entry of the table is waiting for an answer (lwIP's ERR_MEM)."""


class _Entry(Struct, frozen=False):
    state: int = _UNUSED
    name: str = ""
    seqno: int = 0
    pcb: int = -1
    txid: int = -1
    expires: float = 0.0


class LwipTable:
    """The entries and pcbs of lwIP's DNS client; every method takes ``now``
    (the resolver's clock) and prints through ``debug`` (lines without a prefix)."""

    def __init__(self, size: int = DNS_TABLE_SIZE, debug: Callable[[str], None] | None = None) -> None:
        if size < 1:
            raise ValueError(f"the DNS table needs at least one entry, not {size}")
        self._entries = [_Entry() for _ in range(size)]
        self._pcbs = [False] * size
        self._seqno = 0
        self.debug = debug

    def _say(self, line: str) -> None:
        if self.debug is not None:
            self.debug(line)

    def _expire(self, now: float, say: bool) -> None:
        for entry in self._entries:
            if entry.state == _DONE and entry.expires <= now:
                if say:
                    self._say(f'dns_check_entry: "{entry.name}": flush')
                entry.state = _UNUSED

    def enqueue(self, name: str, now: float) -> int:
        """Take an entry and a pcb for a new lookup of ``name`` (the
        ``dns_enqueue`` lines); the entry's index. Raises :class:`TableFull`."""
        self._expire(now, say=False)
        chosen = -1
        oldest_age = 0
        for index, entry in enumerate(self._entries):
            if entry.state == _UNUSED:
                chosen = index
                break
            if entry.state == _DONE:
                age = (self._seqno - entry.seqno) & 0xFF
                if age > oldest_age:
                    oldest_age, chosen = age, index
        if chosen < 0:
            self._say(f'dns_enqueue: "{name}": DNS entries table is full')
            raise TableFull(name)
        self._say(f'dns_enqueue: "{name}": use DNS entry {chosen}')
        pcb = self._pcbs.index(False)  # one pcb per entry at most: a free one exists
        self._pcbs[pcb] = True
        self._say(f'dns_enqueue: "{name}": use DNS pcb {pcb}')
        self._entries[chosen] = _Entry(_ASKING, name, self._seqno, pcb)
        self._seqno = (self._seqno + 1) & 0xFF
        return chosen

    def __len__(self) -> int:
        return len(self._entries)

    def claim_txid(self, index: int, txid: int) -> None:
        """Entry ``index`` asks with this ID (drawn when it goes NEW -> ASKING)."""
        self._entries[index].txid = txid

    def txid_in_use(self, txid: int) -> bool:
        """Whether another lookup waiting for an answer uses this ID (lwIP draws again)."""
        return any(e.state == _ASKING and e.txid == txid for e in self._entries)

    def sending(self, index: int, txid: int, server_index: int) -> None:
        """A (re)transmission of entry ``index`` to ``dns_servers[server_index]``."""
        entry = self._entries[index]
        entry.txid = txid
        self._say(f'dns_send: dns_servers[{server_index}] "{entry.name}": request')
        self._say(f'sending DNS request ID {txid} for name "{entry.name}" to server {server_index}')

    def answered(self, index: int, first: IPv4Address | IPv6Address, ttl: int, now: float) -> None:
        """An answer was accepted: the ``dns_recv`` line; the entry stays DONE for ``ttl`` s."""
        entry = self._entries[index]
        self._say(f'dns_recv: "{entry.name}": response = {lwip_addr(first)}')
        self._release(entry)
        entry.state = _DONE if ttl > 0 else _UNUSED
        entry.expires = now + ttl

    def failed(self, index: int, function: str = "", reason: str = "") -> None:
        """The lookup ended without an address; ``function`` and ``reason``, when
        given, make lwIP's line (``dns_recv: "NAME": error in flags``)."""
        entry = self._entries[index]
        if function:
            self._say(f'{function}: "{entry.name}": {reason}')
        self._release(entry)
        entry.state = _UNUSED

    def _release(self, entry: _Entry) -> None:
        if entry.pcb >= 0:
            self._pcbs[entry.pcb] = False
            entry.pcb = -1

    def found(self, name: str, address: IPv4Address | IPv6Address) -> None:
        """A lookup answered from the cache (``dns_lookup``)."""
        self._say(f'dns_lookup: "{name}": found = {lwip_addr(address)}')

    def tick(self, now: float) -> None:
        """``dns_tmr``: its line while any entry is in use, then flush the expired ones."""
        if any(e.state != _UNUSED for e in self._entries):
            self._say("dns_tmr: dns_check_entries")
            self._expire(now, say=True)
