"""Session-ticket keys shared by several server processes: the file store.

:class:`SharedKeys` is what every shared store is: a
:class:`~https_request.tls.session.TicketKeys` (current + previous key,
rotated every ``lifetime`` seconds) whose state lives outside the process,
with :meth:`SharedKeys.reload` for the supervisor's SIGHUP (:func:`reload`
calls it on whatever ``ServerConfig.ticket_keys`` holds). The Redis store is
``redis_store.RedisTicketKeys``; this module has the file store,
:class:`SharedTicketKeys`, whose state is a file every process using it reads,
so that they all seal tickets under the same key and open the others' tickets:

* the file is created 0600 when missing (under the lock);
* before a seal/open the holder stats the file, at most every ``refresh``
  seconds (1 s; every time when a ticket does not open: it may be sealed under
  a key another process has just rotated in), and reloads it when its inode,
  size, mtime or mode changed (another process rotated or replaced it);
* rotation happens under an exclusive ``flock`` on ``FILE.lock``: the holder
  re-reads the file, rotates only if the key there is still due, and writes
  the result back atomically (temporary file, fsync, rename), so two workers
  never roll to two different keys.

What the file may be: a regular file (a FIFO, a folder or a device is refused
at once: it is checked with ``os.stat`` before it is opened, and opened with
``O_NONBLOCK``, so nothing waits on a FIFO's writer) of at most
:data:`MAX_KEY_FILE` bytes, with no permission for group or others (the keys
decrypt every ticket: a 0644 file is refused, not fixed, since its keys may
already have been read; the message says ``chmod 600 FILE``).

At start (the constructor) a file that breaks those rules raises
:class:`KeyFileError`; so does one in another version's format. A file whose
contents are corrupt (bad magic or checksum, truncated) is replaced by new
keys, with a warning: there are no good keys to keep, and tickets are only a
shortcut. While serving, a file that cannot be read, breaks the rules or is
corrupt is logged once per change of the file (not per connection) and the
last good keys stay in use; the next rotation writes the rotated keys back
over it (the holder that rotates repairs the file for all). Writes are atomic
renames, so readers need no lock. The file format is
:meth:`TicketKeys.to_bytes` (checksummed).
"""

from __future__ import annotations

import fcntl
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..files import write_atomically
from ..tls.session import AntiReplay, SessionError, SessionFormatError, TicketKeys

__all__ = ["MAX_KEY_FILE", "KeyFileError", "SharedKeys", "SharedTicketKeys", "default_log", "open_shared", "reload"]

#: A key file is ~100 bytes; anything larger is not one (and is not read whole).
MAX_KEY_FILE = 4096

_Signature = tuple[int, int, int, int]  # inode, size, mtime_ns, mode

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class KeyFileError(Exception):
    """The ticket key store cannot be used: a file that is not a private regular file,
    unreadable or not ours; a bad Redis URL, or no redis-py."""


class _CorruptKeyFile(KeyFileError):
    """The key file is a private regular file whose contents are not a key ring (corrupt)."""


def default_log(line: str) -> None:
    """The server's log sink (``tls_server.stderr_log``, imported when first used)."""
    from .tls_server import stderr_log

    stderr_log(line)


class SharedKeys(TicketKeys):
    """Ticket keys held in a store shared by several processes or machines."""

    def reload(self) -> bool:
        """Read the shared store again now (SIGHUP). True when its keys are in use;
        False when it could not be read (logged): the last good keys stay. Never raises."""
        raise NotImplementedError


def reload(ticket_keys: TicketKeys | None) -> bool | None:
    """SIGHUP's entry point: reload ``ticket_keys`` (a ``ServerConfig.ticket_keys``)
    from its shared store. None when the keys are the process's own (nothing to
    reload), else :meth:`SharedKeys.reload`'s answer. Never raises."""
    if isinstance(ticket_keys, SharedKeys):
        return ticket_keys.reload()
    return None


def open_shared(spec: str, lifetime: int, clock: Callable[[], float] = time.time) -> tuple[SharedKeys, AntiReplay]:
    """The shared ticket keys and 0-RTT anti-replay store that ``--ticket-keys SPEC`` names:
    a ``redis://`` or ``rediss://`` URL (``redis_store``: redis-py is imported only
    then), else a key file (:class:`SharedTicketKeys`, keys first made at ``clock``'s
    time) with ``SPEC.replay`` (``replay.SharedAntiReplay``). Raises KeyFileError."""
    if spec.startswith(("redis://", "rediss://")):
        try:
            from .redis_store import open_redis
        except ModuleNotFoundError as exc:
            if exc.name != "redis":
                raise
            raise KeyFileError(
                f"--ticket-keys {spec}: the Redis store needs redis-py (pip install 'https-request[redis]')"
            ) from None
        return open_redis(spec, lifetime)
    from .replay import SharedAntiReplay

    return SharedTicketKeys(spec, lifetime, clock=clock), SharedAntiReplay(f"{spec}.replay")


def _check(path: Path, st: os.stat_result) -> None:
    """Raise KeyFileError unless ``st`` is a private regular file of a sane size."""
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "of another kind")
        raise KeyFileError(
            f"ticket key file {path} is {kind}, not a regular file "
            "(give the path of a file; it is created when missing)"
        )
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"ticket key file {path} has mode {stat.S_IMODE(st.st_mode):04o}: group or others may read or change "
            f"the keys that decrypt every session ticket; make it private with `chmod 600 {path}`"
        )
    if st.st_size > MAX_KEY_FILE:
        raise KeyFileError(f"ticket key file {path} is {st.st_size} bytes: not a ticket key file")


def _signature(st: os.stat_result) -> _Signature:
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode


def _read(path: Path) -> tuple[bytes, _Signature]:
    """The key file's bytes and signature. FileNotFoundError when it is missing;
    KeyFileError when it is not a private regular file or cannot be read."""
    try:
        _check(path, os.stat(path))  # before opening: a FIFO's open would wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KeyFileError(f"ticket key file {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        _check(path, st)  # swapped for something else between the stat and the open
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_KEY_FILE and (chunk := os.read(fd, MAX_KEY_FILE + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise KeyFileError(f"ticket key file {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return b"".join(chunks), _signature(st)


def _parse(path: Path, blob: bytes, random: Callable[[int], bytes]) -> TicketKeys:
    try:
        return TicketKeys.from_bytes(blob, random)
    except SessionFormatError as exc:
        raise KeyFileError(f"ticket key file {path}: {exc} (written by another version of https-request?)") from None
    except SessionError as exc:
        raise _CorruptKeyFile(f"ticket key file {path} is corrupt: {exc}") from None


class SharedTicketKeys(SharedKeys):
    """Ticket keys kept in ``path`` and shared with every process that uses it.

    ``lifetime`` (seconds) is written into the file when it differs from the
    file's own: the last process to start decides the rotation period.
    ``refresh``: seconds between two looks at the file (on ``monotonic``'s
    clock; 0: before every seal and open). ``log`` takes the warnings (one
    line each). Raises KeyFileError when the file cannot be used (see the
    module's docstring).
    """

    _inner: TicketKeys

    def __init__(
        self,
        path: str | os.PathLike[str],
        lifetime: int = 86400,
        random: Callable[[int], bytes] = os.urandom,
        clock: Callable[[], float] = time.time,
        log: Callable[[str], None] = default_log,
        refresh: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # The key material lives in ``self._inner``; the base class's own state is never used.
        if lifetime <= 0:
            raise ValueError("ticket lifetime must be positive")
        self.path = Path(path)
        self.lifetime = lifetime
        self.refresh = refresh
        self._monotonic = monotonic
        self._checked_at = -1e18  # (monotonic) when the file was last looked at
        self._random = random
        self._log = log
        self._signature: _Signature | None = None
        self._bad: _Signature | None = None  # the unusable file last logged (not read again until it changes)
        self._blob = b""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise KeyFileError(f"ticket key file {self.path}: {exc.strerror or exc}") from None
        else:
            _check(self.path, st)  # refused at once, before the lock or an open could wait
        try:
            with self._locked():
                try:
                    self._load()
                except FileNotFoundError:
                    self._inner = TicketKeys(random, lifetime, clock())
                    self._store()
                except _CorruptKeyFile as exc:
                    log(f"warning: {exc}; replaced with new keys (tickets sealed under the old ones will not resume)")
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
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _load(self) -> None:
        """Read and adopt the file (FileNotFoundError and KeyFileError propagate)."""
        blob, signature = _read(self.path)
        self._inner = _parse(self.path, blob, self._random)
        self._blob, self._signature = blob, signature
        if self._bad is not None:
            self._bad = None
            self._log(f"ticket key file {self.path}: readable again, its keys are in use")

    def _store(self) -> None:
        blob = self._inner.to_bytes()
        write_atomically(self.path, blob)
        self._blob, self._signature, self._bad = blob, _signature(os.stat(self.path)), None

    def _trouble(self, error: Exception, signature: _Signature | None) -> None:
        """Log that the file is unusable, once per state of the file; the keys stay."""
        if signature is not None and signature == self._bad:
            return
        self._bad = signature
        self._log(f"warning: {error}; keeping the last good ticket keys")

    def _refresh(self) -> None:
        """Reload when another process changed the file (or rewrite it if it vanished)."""
        self._checked_at = self._monotonic()
        try:
            signature = _signature(os.stat(self.path))
            if signature in (self._signature, self._bad):
                return
            self._load()
        except FileNotFoundError:
            try:
                with self._locked():
                    if not self.path.exists():
                        self._store()
                    else:
                        self._load()
            except (OSError, KeyFileError) as exc:
                self._trouble(exc, None)
        except KeyFileError as exc:
            self._trouble(exc, signature)
        except OSError as exc:
            self._trouble(KeyFileError(f"ticket key file {self.path}: {exc.strerror or exc}"), None)

    # ------------------------------------------------------- TicketKeys API

    def reload(self) -> bool:
        self._signature = self._bad = None
        self._refresh()
        return self._bad is None and self._signature is not None

    def due(self, now: float) -> bool:
        return self._inner.due(now)

    def rotate(self, now: float) -> bool:
        """Roll to a new key, shared through the file, if the current one is due."""
        if self._monotonic() >= self._checked_at + self.refresh:
            self._refresh()
        if not self._inner.due(now):
            return False
        try:
            with self._locked():
                unusable = False
                try:
                    self._load()  # another process may have rotated meanwhile
                except FileNotFoundError:
                    pass
                except KeyFileError as exc:  # corrupt or refused: our rotated keys replace it below
                    unusable = True
                    if self._bad is None:  # else _refresh logged this state of the file already
                        self._trouble(exc, None)
                if not self._inner.due(now):
                    return False
                self._inner.rotate(now)
                self._store()
                if unusable:
                    self._log(f"ticket key file {self.path}: rewritten with the rotated keys")
        except OSError as exc:
            # the file cannot be written: at least keep this process going
            self._trouble(KeyFileError(f"ticket key file {self.path}: {exc.strerror or exc}"), None)
            self._inner.rotate(now)
            self._blob = self._inner.to_bytes()
        return True

    def seal(self, plaintext: bytes, now: float) -> bytes:
        self.rotate(now)
        return self._inner.seal(plaintext, now)

    def open(self, ticket: bytes, now: float) -> tuple[bytes, bool] | None:
        checked = self._checked_at
        self.rotate(now)
        found = self._inner.open(ticket, now)
        if found is None and self._checked_at == checked:  # sealed under a key another process just rotated in?
            self._refresh()
            found = self._inner.open(ticket, now)
        return found

    def to_bytes(self) -> bytes:
        return self._inner.to_bytes()
