"""0-RTT anti-replay shared between processes: a small SQLite database.

RFC 8446 8.1: a ticket may carry early data at most once. With several
worker processes (or several servers sharing a ticket key file) the record of
used tickets must be shared too. :class:`SharedAntiReplay` implements the
engine's :class:`~https_request.tls.session.AntiReplay` protocol on one
table ``claims(id PRIMARY KEY, expires)``:

* a claim is one atomic UPSERT: it inserts the ticket id, or takes over a row
  whose ``expires`` has passed, and succeeds only when a row was written, so
  two processes racing for one ticket cannot both win (SQLite's own file
  locking serialises the writers);
* expired rows are pruned every :attr:`prune_every` claims; if the table is
  still over :attr:`max_entries` afterwards, early data is refused (as
  :class:`~https_request.tls.session.MemoryAntiReplay` does when full);
* any database error refuses early data (the handshake goes on without it),
  logged once until a claim works again;
* a database path that is not a regular file (a FIFO, a folder) is refused
  before anything opens it, as the ticket key file is.

The connection is opened lazily and again after a fork, never shared between
processes. The database file is created 0600 (its -wal/-shm files inherit it).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

from .keys import default_log

__all__ = ["SharedAntiReplay"]

_SCHEMA = "CREATE TABLE IF NOT EXISTS claims (id BLOB PRIMARY KEY, expires REAL NOT NULL) WITHOUT ROWID"
_CLAIM = (
    "INSERT INTO claims (id, expires) VALUES (?, ?) "
    "ON CONFLICT (id) DO UPDATE SET expires = excluded.expires WHERE claims.expires <= ?"
)


class SharedAntiReplay:
    """Single use of a ticket for early data, across every process using ``path``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_entries: int = 1_000_000,
        prune_every: int = 256,
        timeout: float = 2.0,
        log: Callable[[str], None] = default_log,
    ) -> None:
        self.path = Path(path)
        self._log = log
        self._failing = False
        self.max_entries = max_entries
        self.prune_every = prune_every
        self.timeout = timeout
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self._claims = 0
        self._full = False

    def _connect(self) -> sqlite3.Connection:
        if self._db is not None and self._pid == os.getpid():
            return self._db
        self._db = None  # inherited through fork: never use the parent's handle
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            raise sqlite3.OperationalError(f"{self.path} is not a regular file")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
        os.close(fd)
        db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(_SCHEMA)
        self._db, self._pid = db, os.getpid()
        return db

    def claim(self, ticket_id: bytes, expires_at: float, now: float) -> bool:
        """True the first time ``ticket_id`` is claimed (by any process) before ``expires_at``."""
        try:
            db = self._connect()
            self._claims += 1
            if self._full or self._claims % self.prune_every == 0:
                db.execute("DELETE FROM claims WHERE expires <= ?", (now,))
                (count,) = db.execute("SELECT count(*) FROM claims").fetchone()
                self._full = count >= self.max_entries
                if self._full:
                    return False
            claimed: bool = db.execute(_CLAIM, (ticket_id, expires_at, now)).rowcount == 1
        except (sqlite3.Error, OSError) as exc:
            if not self._failing:
                self._failing = True
                self._log(f"warning: 0-RTT anti-replay database {self.path}: {exc}; early data refused until it works")
            return False
        if self._failing:
            self._failing = False
            self._log(f"0-RTT anti-replay database {self.path}: working again")
        return claimed

    def close(self) -> None:
        if self._db is not None and self._pid == os.getpid():
            self._db.close()
        self._db = None
