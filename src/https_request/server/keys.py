"""Session-ticket keys in a file shared by several server processes.

:class:`SharedTicketKeys` is a :class:`~https_request.tls.session.TicketKeys`
(current + previous key, rotated every ``lifetime`` seconds) whose state lives
in a file, so that every process using the file seals tickets under the same
key and opens the others' tickets:

* the file is created 0600 when missing (under the lock);
* before each seal/open the holder stats the file and reloads it when
  its inode, size or mtime changed (another process rotated or replaced it);
* rotation happens under an exclusive ``flock`` on ``FILE.lock``: the holder
  re-reads the file, rotates only if the key there is still due, and writes
  the result back atomically (temporary file, fsync, rename), so two workers
  never roll to two different keys.

Writes are atomic renames, so readers need no lock. The file format is
:meth:`TicketKeys.to_bytes` (checksummed); a corrupt file raises
:class:`KeyFileError` when loaded.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..files import write_atomically
from ..tls.session import SessionError, TicketKeys

__all__ = ["KeyFileError", "SharedTicketKeys"]


class KeyFileError(Exception):
    """The ticket key file cannot be read, parsed or written."""


def _zeros(n: int) -> bytes:
    return bytes(n)


class SharedTicketKeys(TicketKeys):
    """Ticket keys kept in ``path`` and shared with every process that uses it.

    ``lifetime`` (seconds) is written into the file when it differs from the
    file's own: the last process to start decides the rotation period.
    """

    _inner: TicketKeys

    def __init__(
        self,
        path: str | os.PathLike[str],
        lifetime: int = 86400,
        random: Callable[[int], bytes] = os.urandom,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # The key material lives in ``self._inner``; the base class's own state is never used.
        if lifetime <= 0:
            raise ValueError("ticket lifetime must be positive")
        self.path = Path(path)
        self.lifetime = lifetime
        self._random = random
        self._signature: tuple[int, int, int] | None = None
        self._blob = b""
        try:
            with self._locked():
                try:
                    self._load()
                except FileNotFoundError:
                    self._inner = TicketKeys(random, lifetime, clock())
                    self._store()
                else:
                    if self._inner.lifetime != lifetime:
                        self._inner.lifetime = lifetime
                        self._store()
        except OSError as exc:
            raise KeyFileError(f"ticket key file {self.path}: {exc.strerror or exc}") from None

    # ---------------------------------------------------------------- file

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _stat(self) -> tuple[int, int, int]:
        st = os.stat(self.path)
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _load(self) -> None:
        """Read the file (FileNotFoundError propagates)."""
        signature = self._stat()
        blob = self.path.read_bytes()
        try:
            inner = TicketKeys.from_bytes(blob, self._random)
        except SessionError as exc:
            raise KeyFileError(f"{self.path}: {exc}") from None
        self._inner, self._blob, self._signature = inner, blob, signature

    def _store(self) -> None:
        blob = self._inner.to_bytes()
        write_atomically(self.path, blob)
        self._blob, self._signature = blob, self._stat()

    def _refresh(self) -> None:
        """Reload when another process changed the file (or rewrite it if it vanished)."""
        try:
            if self._stat() == self._signature:
                return
            self._load()
        except FileNotFoundError:
            with self._locked():
                if not self.path.exists():
                    self._store()
                else:
                    self._load()
        except (OSError, KeyFileError):
            pass  # keep serving with the keys we have

    def _due(self, now: float) -> bool:
        # a throw-away copy answers "would the current key roll now?" without touching ours
        return TicketKeys.from_bytes(self._blob, _zeros).rotate(now)

    # ------------------------------------------------------- TicketKeys API

    def rotate(self, now: float) -> bool:
        """Roll to a new key, shared through the file, if the current one is due."""
        self._refresh()
        if not self._due(now):
            return False
        try:
            with self._locked():
                try:
                    self._load()  # another process may have rotated meanwhile
                except FileNotFoundError:
                    pass
                if not self._due(now):
                    return False
                self._inner.rotate(now)
                self._store()
        except (OSError, KeyFileError):
            self._inner.rotate(now)  # the file is unusable: at least keep this process going
            self._blob = self._inner.to_bytes()
        return True

    def seal(self, plaintext: bytes, now: float) -> bytes:
        self.rotate(now)
        return self._inner.seal(plaintext, now)

    def open(self, ticket: bytes, now: float) -> tuple[bytes, bool] | None:
        self.rotate(now)
        return self._inner.open(ticket, now)

    def to_bytes(self) -> bytes:
        return self._inner.to_bytes()
