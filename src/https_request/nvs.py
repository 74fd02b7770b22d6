"""An NVS-like store: ESP-IDF's non-volatile storage (``nvs_flash``) on one sqlite3 file.

The ESP README's device keeps its clock in NVS (namespace ``storage``, key
``timestamp``, an i64 of Unix seconds) and restores it at power-on; this module
is that storage on a host. Its API follows ESP-IDF's ``nvs.h``:

==================================  =====================================
ESP-IDF                             here
==================================  =====================================
``nvs_flash_init``                  ``Nvs(path)`` (default :func:`default_path`)
``nvs_open(name, mode, &h)``        ``Nvs.open(name, readwrite=...)``
``nvs_set_i64/str/blob``            ``NvsHandle.set_i64/set_str/set_blob``
``nvs_get_i64/str/blob``            ``NvsHandle.get_i64/get_str/get_blob``
``nvs_find_key``                    ``NvsHandle.find_key`` (the type's name)
``nvs_erase_key/erase_all``         ``NvsHandle.erase_key/erase_all``
``nvs_commit`` / ``nvs_close``      ``NvsHandle.commit`` / ``close``
``nvs_entry_find`` ...              ``Nvs.entries``
``nvs_get_stats``                   ``Nvs.stats``
``nvs_flash_erase``                 ``Nvs.erase``
``nvs_flash_deinit``                ``Nvs.close``
==================================  =====================================

ESP-IDF's rules (``components/nvs_flash``: the "Non-Volatile Storage Library"
page of the ESP-IDF Programming Guide and ``nvs.h``):

* Keys and namespace names are ASCII, 1 to 15 characters
  (``NVS_KEY_NAME_MAX_SIZE`` = ``NVS_NS_NAME_MAX_SIZE`` = 16 with the NUL).
  A key that is too long is ``ESP_ERR_NVS_KEY_TOO_LONG``; an empty or
  non-ASCII name ``ESP_ERR_NVS_INVALID_NAME``, as is a bad namespace name.
  Here the characters are printable ASCII (space to ``~``).
* At most 254 namespaces in a partition (``ESP_ERR_NVS_NOT_ENOUGH_SPACE``
  for the 255th). ``nvs_open`` read-write creates the namespace at once;
  read-only on a namespace that does not exist is ``ESP_ERR_NVS_NOT_FOUND``.
* Strings are limited to 4000 bytes including the terminating NUL (so 3999
  bytes of UTF-8 here, and no NUL inside: the device's string would end
  there); blobs to 508000 bytes or (97.6 % of the partition size - 4000)
  bytes, whichever is lower. Longer: ``ESP_ERR_NVS_VALUE_TOO_LONG``.
* Writing a key that exists replaces its value and its type; reading a key
  as another type than it has is ``ESP_ERR_NVS_TYPE_MISMATCH``; a missing
  key ``ESP_ERR_NVS_NOT_FOUND`` (:class:`NvsNotFound`); a write on a
  read-only handle ``ESP_ERR_NVS_READ_ONLY``; a closed handle
  ``ESP_ERR_NVS_INVALID_HANDLE``.
* Space is counted in NVS entries of 32 bytes, as ``nvs_get_stats`` does: a
  namespace or an integer takes 1, a string 1 + one per 32 bytes of it (NUL
  included), a blob 2 + one per 32 bytes (its index entry and its chunk
  header). The store is as big as a 1 MiB NVS partition: 256 pages of 126
  entries, one page kept free as the device keeps one for garbage
  collection, so :data:`TOTAL_ENTRIES` = 32130. A write that does not fit is
  ``ESP_ERR_NVS_NOT_ENOUGH_SPACE``. This bounds the file and what a handle
  holds.

Commit: ``nvs.h`` says the storage "will not be updated until nvs_commit"
is called (ESP-IDF's own implementation happens to write at once and its
``commit`` does nothing). This store keeps the documented contract strictly:
a handle's sets and erases are visible to that handle at once and to other
handles and processes only after its :meth:`NvsHandle.commit`, which writes
them in one sqlite transaction; closing a handle drops what it did not
commit. A program that is right here is right on the device.

The file is created 0600 (secrets may be kept there) in a folder created
0700; an existing file's mode is left alone. A file that is not this store (not
an SQLite database, a damaged one, another program's database) is moved
aside to ``<name>.corrupt-<UTC time>``, with one warning, and an empty store
is started: as the device, whose example erases an NVS partition it cannot
use and starts again. A store written by a newer version of this program is
``ESP_ERR_NVS_NEW_VERSION_FOUND`` and left untouched. One :class:`Nvs` is
safe to share between the threads of a process (one lock); processes share
the file through sqlite's locking.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Literal

from .files import create_private, state_dir
from .structs import Struct

__all__ = [
    "BLOB_MAX_BYTES",
    "KEY_MAX_CHARS",
    "MAX_NAMESPACES",
    "STR_MAX_BYTES",
    "TOTAL_ENTRIES",
    "Nvs",
    "NvsEntry",
    "NvsError",
    "NvsHandle",
    "NvsNotFound",
    "NvsStats",
    "NvsType",
    "default_path",
]

NvsType = Literal["i64", "str", "blob"]
Value = int | str | bytes

KEY_MAX_CHARS: Final = 15  # NVS_KEY_NAME_MAX_SIZE - 1 (the NUL); namespaces alike (NVS_NS_NAME_MAX_SIZE)
STR_MAX_BYTES: Final = 4000  # with the terminating NUL
MAX_NAMESPACES: Final = 254
_ENTRY_BYTES: Final = 32
_ENTRIES_PER_PAGE: Final = 126
_PARTITION_BYTES: Final = 1 << 20
TOTAL_ENTRIES: Final = (_PARTITION_BYTES // 4096 - 1) * _ENTRIES_PER_PAGE  # 32130
BLOB_MAX_BYTES: Final = min(508000, int(_PARTITION_BYTES * 0.976) - 4000)  # 508000
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1

_APPLICATION_ID: Final = 0x4E565331  # "NVS1" in the SQLite header: this program's store
_SCHEMA_VERSION: Final = 1
_BUSY_TIMEOUT_S: Final = 10.0
_SCHEMA: Final = (
    "CREATE TABLE namespaces (name TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID",
    "CREATE TABLE entries ("
    " namespace TEXT NOT NULL REFERENCES namespaces (name) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " value NOT NULL,"
    " span INTEGER NOT NULL,"
    " PRIMARY KEY (namespace, key),"
    f" CHECK ((type = 'i64' AND typeof(value) = 'integer')"
    f" OR (type = 'str' AND typeof(value) = 'blob' AND length(value) < {STR_MAX_BYTES})"
    f" OR (type = 'blob' AND typeof(value) = 'blob' AND length(value) <= {BLOB_MAX_BYTES}))"
    ") WITHOUT ROWID",
)


def default_path() -> Path:
    """The store's default file: ``nvs.sqlite3`` in :func:`files.state_dir` (computed
    when called; also ``nvs.DEFAULT_PATH``)."""
    return state_dir() / "nvs.sqlite3"


def __getattr__(name: str) -> Path:  # DEFAULT_PATH, computed when used: the environment may change
    if name == "DEFAULT_PATH":
        return default_path()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class NvsError(Exception):
    """An NVS operation failed. ``code`` is ESP-IDF's name for the failure
    (``"ESP_ERR_NVS_TYPE_MISMATCH"``...), ``message`` says it in the user's terms;
    ``str()`` is both."""

    def __init__(self, message: str, code: str = "ESP_FAIL") -> None:
        super().__init__(message, code)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return f"{self.message} ({self.code})"


class NvsNotFound(NvsError, KeyError):
    """``ESP_ERR_NVS_NOT_FOUND``: no such key, or (read-only) no such namespace."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "ESP_ERR_NVS_NOT_FOUND")

    def __str__(self) -> str:  # KeyError's own would quote the message
        return NvsError.__str__(self)


class NvsEntry(Struct):
    """One committed key (``nvs_entry_info_t``): its namespace, name and type."""

    namespace: str
    key: str
    type: NvsType


class NvsStats(Struct):
    """``nvs_stats_t``: entries of 32 bytes used, free and in all; namespaces."""

    used_entries: int
    free_entries: int
    total_entries: int
    namespace_count: int


# ------------------------------------------------------------------ rules


def _check_name(name: object, what: str) -> str:
    """A key or namespace name; raises NvsError (INVALID_NAME, KEY_TOO_LONG for a key)."""
    if not isinstance(name, str) or not name:
        raise NvsError(f"the {what} name must not be empty", "ESP_ERR_NVS_INVALID_NAME")
    if not all(" " <= c <= "~" for c in name):
        raise NvsError(f"the {what} name {name!r} is not printable ASCII", "ESP_ERR_NVS_INVALID_NAME")
    if len(name) > KEY_MAX_CHARS:
        code = "ESP_ERR_NVS_KEY_TOO_LONG" if what == "key" else "ESP_ERR_NVS_INVALID_NAME"
        raise NvsError(f"the {what} name {name!r} is longer than {KEY_MAX_CHARS} characters", code)
    return name


def _span(kind: NvsType, payload: int | bytes) -> int:
    """The NVS entries a value takes (nvs_get_stats' count)."""
    if isinstance(payload, int):
        return 1
    if kind == "str":
        return 1 + -(-(len(payload) + 1) // _ENTRY_BYTES)  # the NUL is stored
    return 2 + -(-len(payload) // _ENTRY_BYTES)


class _Item(Struct):
    """A value as stored: its type, its payload (an int, or bytes: UTF-8 for a str), its span."""

    type: NvsType
    payload: int | bytes
    span: int


def _item(kind: NvsType, value: object, key: str) -> _Item:
    """``value`` checked against ``kind``'s rules; raises NvsError."""
    payload: int | bytes
    if kind == "i64":
        if not isinstance(value, int) or isinstance(value, bool):
            raise NvsError(f"{key}: an i64 value must be an integer, not {type(value).__name__}", "ESP_ERR_INVALID_ARG")
        if not _I64_MIN <= value <= _I64_MAX:
            raise NvsError(f"{key}: {value} does not fit in a signed 64-bit integer", "ESP_ERR_INVALID_ARG")
        payload = value
    elif kind == "str":
        if not isinstance(value, str):
            raise NvsError(f"{key}: a str value must be text, not {type(value).__name__}", "ESP_ERR_INVALID_ARG")
        if "\0" in value:
            raise NvsError(f"{key}: an NVS string cannot contain a NUL character", "ESP_ERR_INVALID_ARG")
        try:
            payload = value.encode()
        except UnicodeEncodeError:
            raise NvsError(f"{key}: the string is not valid Unicode text", "ESP_ERR_INVALID_ARG") from None
        if len(payload) + 1 > STR_MAX_BYTES:
            raise NvsError(
                f"{key}: a string of {len(payload)} bytes is longer than NVS allows "
                f"({STR_MAX_BYTES - 1} bytes and the NUL)",
                "ESP_ERR_NVS_VALUE_TOO_LONG",
            )
    else:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise NvsError(f"{key}: a blob value must be bytes, not {type(value).__name__}", "ESP_ERR_INVALID_ARG")
        payload = bytes(value)
        if len(payload) > BLOB_MAX_BYTES:
            raise NvsError(
                f"{key}: a blob of {len(payload)} bytes is longer than NVS allows ({BLOB_MAX_BYTES})",
                "ESP_ERR_NVS_VALUE_TOO_LONG",
            )
    return _Item(kind, payload, _span(kind, payload))


def _no_space(need: int, used: int) -> NvsError:
    return NvsError(
        f"not enough space in the NVS store: {need} more entries of {_ENTRY_BYTES} bytes needed, "
        f"{max(TOTAL_ENTRIES - used, 0)} free of {TOTAL_ENTRIES}",
        "ESP_ERR_NVS_NOT_ENOUGH_SPACE",
    )


# ------------------------------------------------------------------ the file


class _Unusable(Exception):
    """The file is not a usable store (why, in the user's terms)."""


def _default_warn(message: str) -> None:
    sys.stderr.write(f"https-request: warning: {message}\n")


def _expected_schema() -> set[tuple[str, str | None]]:
    """sqlite_schema's rows for a fresh store, as sqlite itself writes them."""
    conn = sqlite3.connect(":memory:")
    try:
        for statement in _SCHEMA:
            conn.execute(statement)
        return set(conn.execute("SELECT name, sql FROM sqlite_schema"))
    finally:
        conn.close()


_SIDE_FILES: Final = ("-journal", "-wal", "-shm")


class Nvs:
    """The store in one sqlite3 file (``nvs_flash_init``); see the module's docstring.

    ``path`` defaults to :func:`default_path` (its folder is created 0700);
    another file's folder must exist. ``warn`` gets the one warning about a
    file moved aside (default: stderr). Raises NvsError when the file cannot
    be opened or created (``ESP_FAIL``) or was written by a newer version
    (``ESP_ERR_NVS_NEW_VERSION_FOUND``).
    """

    def __init__(self, path: Path | None = None, *, warn: Callable[[str], None] | None = None) -> None:
        if path is None:
            path = default_path()
            try:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise NvsError(f"cannot create the folder {path.parent}: {exc.strerror or exc}") from None
        self.path = Path(path)
        self._warn = warn or _default_warn
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = self._open_file()

    # ---------------------------------------------------------------- opening

    def _connect(self) -> sqlite3.Connection:
        try:
            create_private(self.path)
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            why = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
            raise NvsError(f"cannot open the NVS file {self.path}: {why}") from None
        return conn

    def _open_file(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            self._check(conn)
            return conn
        except _Unusable as exc:
            conn.close()
            aside = self._move_aside()
            self._warn(
                f"{self.path} is not a usable NVS store ({exc}); moved it to {aside.name} and started an empty one"
            )
        except BaseException:
            conn.close()
            raise
        conn = self._connect()
        try:
            self._check(conn)
        except _Unusable as exc:  # a fresh file that is unusable: nothing more to try
            conn.close()
            raise NvsError(f"cannot start an NVS store in {self.path}: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _check(self, conn: sqlite3.Connection) -> None:
        """Make an empty file a store; accept ours. Raises _Unusable or NvsError."""
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            schema = set(conn.execute("SELECT name, sql FROM sqlite_schema"))
            if app_id == 0 and not schema:
                with self._transaction(conn):
                    if conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] == 0:  # nobody was faster
                        for statement in _SCHEMA:
                            conn.execute(statement)
                        conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
                        conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
                return self._check(conn)
            if app_id != _APPLICATION_ID:
                tables = sorted(name for name, _ in schema)
                raise _Unusable(f"an SQLite database of another program, tables: {', '.join(tables) or 'none'}")
            if version > _SCHEMA_VERSION:
                raise NvsError(
                    f"{self.path} was written by a newer version of https-request (store version {version}); "
                    "use that version, or another file",
                    "ESP_ERR_NVS_NEW_VERSION_FOUND",
                )
            if schema != _expected_schema() or version != _SCHEMA_VERSION:
                raise _Unusable("its tables are not the store's")
            problems = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
            if problems != "ok":
                raise _Unusable(f"damaged: {problems}")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            name = exc.sqlite_errorname
            if name.startswith("SQLITE_NOTADB"):
                raise _Unusable("not an SQLite database") from None
            if name.startswith("SQLITE_CORRUPT"):
                raise _Unusable(f"damaged: {exc}") from None
            raise NvsError(f"cannot read the NVS file {self.path}: {exc}") from None

    def _move_aside(self) -> Path:
        """Rename the file (and sqlite's journal files) to ``<name>.corrupt-<UTC time>``."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        for n in range(100):
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}" + (f"-{n}" if n else ""))
            if not any(os.path.lexists(f"{aside}{side}") for side in ("", *_SIDE_FILES)):
                break
        else:
            raise NvsError(f"{self.path} is not a usable NVS store, and too many copies were already moved aside")
        try:
            os.rename(self.path, aside)
            for side in _SIDE_FILES:
                if os.path.lexists(f"{self.path}{side}"):
                    os.rename(f"{self.path}{side}", f"{aside}{side}")
        except OSError as exc:
            raise NvsError(
                f"{self.path} is not a usable NVS store and cannot be moved aside: {exc.strerror or exc}"
            ) from None
        return aside

    # ---------------------------------------------------------------- plumbing

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT (SQLITE_BUSY) leaves it open: never keep it
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _db(self, code: str = "ESP_ERR_NVS_INVALID_HANDLE") -> Iterator[sqlite3.Connection]:
        """The connection under the lock; sqlite's errors as NvsError."""
        with self._lock:
            if self._conn is None:
                raise NvsError(f"the NVS store {self.path} is closed", code)
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise NvsError(f"NVS file {self.path}: {exc}") from None

    @staticmethod
    def _used(conn: sqlite3.Connection) -> int:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM namespaces) + (SELECT coalesce(sum(span), 0) FROM entries)"
        ).fetchone()
        return int(row[0])

    @staticmethod
    def _read(conn: sqlite3.Connection, namespace: str, key: str) -> _Item | None:
        row = conn.execute(
            "SELECT type, value, span FROM entries WHERE namespace = ? AND key = ?", (namespace, key)
        ).fetchone()
        return None if row is None else _Item(row[0], row[1], row[2])

    # ---------------------------------------------------------------- API

    def open(self, namespace: str, *, readwrite: bool = True) -> NvsHandle:
        """``nvs_open``: a handle on ``namespace``, created (durably, at once) when
        ``readwrite``. Raises NvsError: INVALID_NAME, NOT_ENOUGH_SPACE (the 255th
        namespace, or no free entry), NvsNotFound (read-only, no such namespace),
        NOT_INITIALIZED (the store is closed)."""
        _check_name(namespace, "namespace")
        with self._db("ESP_ERR_NVS_NOT_INITIALIZED") as conn:
            exists = conn.execute("SELECT 1 FROM namespaces WHERE name = ?", (namespace,)).fetchone()
            if exists is None:
                if not readwrite:
                    raise NvsNotFound(f"there is no namespace {namespace!r} in {self.path}")
                with self._transaction(conn):
                    self._create_namespace(conn, namespace)
            return NvsHandle(self, namespace, readwrite)

    def _create_namespace(self, conn: sqlite3.Connection, namespace: str) -> None:
        """Inside a transaction: the namespace, if it is missing and fits."""
        if conn.execute("SELECT 1 FROM namespaces WHERE name = ?", (namespace,)).fetchone() is not None:
            return
        count = conn.execute("SELECT count(*) FROM namespaces").fetchone()[0]
        if count >= MAX_NAMESPACES:
            raise NvsError(
                f"cannot create namespace {namespace!r}: NVS holds at most {MAX_NAMESPACES} namespaces",
                "ESP_ERR_NVS_NOT_ENOUGH_SPACE",
            )
        used = self._used(conn)
        if used + 1 > TOTAL_ENTRIES:
            raise _no_space(1, used)
        conn.execute("INSERT INTO namespaces (name) VALUES (?)", (namespace,))

    def entries(self, namespace: str | None = None) -> list[NvsEntry]:
        """``nvs_entry_find``/``nvs_entry_next``: the committed keys (of ``namespace``, or
        all), sorted by namespace and key. Raises NvsError (INVALID_NAME, a closed store)."""
        if namespace is not None:
            _check_name(namespace, "namespace")
        with self._db("ESP_ERR_NVS_NOT_INITIALIZED") as conn:
            where, args = ("WHERE namespace = ?", (namespace,)) if namespace is not None else ("", ())
            rows = conn.execute(
                f"SELECT namespace, key, type FROM entries {where} ORDER BY namespace, key LIMIT {TOTAL_ENTRIES}", args
            ).fetchall()
        return [NvsEntry(ns, key, kind) for ns, key, kind in rows]

    def namespaces(self) -> list[str]:
        """The namespaces, sorted (empty ones too: ``nvs_open`` read-write made them)."""
        with self._db("ESP_ERR_NVS_NOT_INITIALIZED") as conn:
            rows = conn.execute(f"SELECT name FROM namespaces ORDER BY name LIMIT {MAX_NAMESPACES}").fetchall()
        return [name for (name,) in rows]

    def stats(self) -> NvsStats:
        """``nvs_get_stats``. Raises NvsError for a closed store."""
        with self._db("ESP_ERR_NVS_NOT_INITIALIZED") as conn:
            used = self._used(conn)
            count = conn.execute("SELECT count(*) FROM namespaces").fetchone()[0]
        return NvsStats(used, max(TOTAL_ENTRIES - used, 0), TOTAL_ENTRIES, count)

    def erase(self) -> None:
        """``nvs_flash_erase``: every namespace and key, committed at once. Open handles
        stay usable; their namespace comes back at their next commit."""
        with self._db("ESP_ERR_NVS_NOT_INITIALIZED") as conn, self._transaction(conn):
            conn.execute("DELETE FROM entries")
            conn.execute("DELETE FROM namespaces")

    def close(self) -> None:
        """``nvs_flash_deinit``: handles become invalid; what they did not commit is lost."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Nvs:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Nvs({str(self.path)!r})"


class NvsHandle:
    """``nvs_handle_t``: one namespace, read-only or read-write; made by :meth:`Nvs.open`.

    Sets and erases are pending until :meth:`commit` (see the module's
    docstring); ``get_*`` sees them. Every method raises NvsError with
    ESP-IDF's code (a missing key: :class:`NvsNotFound`).
    """

    def __init__(self, nvs: Nvs, namespace: str, readwrite: bool) -> None:
        self.nvs = nvs
        self.namespace = namespace
        self.readwrite = readwrite
        self._open = True
        self._pending: dict[str, _Item | None] = {}  # None: erased
        self._cleared = False  # erase_all pending
        self._pending_span = 0  # entries the pending values take
        self._hidden_span = 0  # committed entries they replace

    # ---------------------------------------------------------------- plumbing

    @contextmanager
    def _db(self, writing: bool = False) -> Iterator[sqlite3.Connection]:
        with self.nvs._db() as conn:
            if not self._open:
                raise NvsError(
                    f"the NVS handle on namespace {self.namespace!r} is closed", "ESP_ERR_NVS_INVALID_HANDLE"
                )
            if writing and not self.readwrite:
                raise NvsError(f"namespace {self.namespace!r} was opened read-only", "ESP_ERR_NVS_READ_ONLY")
            yield conn

    def _current(self, conn: sqlite3.Connection, key: str) -> _Item | None:
        """What this handle sees for ``key``: its pending change, else the committed value."""
        if key in self._pending:
            return self._pending[key]
        if self._cleared:
            return None
        return self.nvs._read(conn, self.namespace, key)

    def _not_found(self, key: str) -> NvsNotFound:
        return NvsNotFound(f"no key {key!r} in namespace {self.namespace!r}")

    def _get(self, kind: NvsType, key: str) -> int | bytes:
        _check_name(key, "key")
        with self._db() as conn:
            item = self._current(conn, key)
        if item is None:
            raise self._not_found(key)
        if item.type != kind:
            raise NvsError(
                f"key {key!r} in namespace {self.namespace!r} is of type {item.type}, not {kind}",
                "ESP_ERR_NVS_TYPE_MISMATCH",
            )
        return item.payload

    def _stage(self, conn: sqlite3.Connection, key: str, item: _Item | None) -> None:
        """Record a pending change, keeping the span counts."""
        if key in self._pending:
            old = self._pending[key]
            self._pending_span -= old.span if old is not None else 0
        elif not self._cleared:
            committed = self.nvs._read(conn, self.namespace, key)
            self._hidden_span += committed.span if committed is not None else 0
        self._pending[key] = item
        self._pending_span += item.span if item is not None else 0

    def _set(self, kind: NvsType, key: str, value: object) -> None:
        _check_name(key, "key")
        item = _item(kind, value, key)
        with self._db(writing=True) as conn:
            current = self._current(conn, key)
            used = self.nvs._used(conn) - self._hidden_span + self._pending_span  # as committing would leave it
            if used - (current.span if current is not None else 0) + item.span > TOTAL_ENTRIES:
                raise _no_space(item.span, used)
            self._stage(conn, key, item)

    # ---------------------------------------------------------------- API

    def get_i64(self, key: str) -> int:
        """``nvs_get_i64``."""
        payload = self._get("i64", key)
        assert isinstance(payload, int)
        return payload

    def set_i64(self, key: str, value: int) -> None:
        """``nvs_set_i64`` (pending until :meth:`commit`)."""
        self._set("i64", key, value)

    def get_str(self, key: str) -> str:
        """``nvs_get_str``. Raises NvsError (ESP_FAIL) for a stored value that is not UTF-8."""
        payload = self._get("str", key)
        assert isinstance(payload, bytes)
        try:
            return payload.decode()
        except UnicodeDecodeError:
            raise NvsError(f"key {key!r} in namespace {self.namespace!r} is not UTF-8 text") from None

    def set_str(self, key: str, value: str) -> None:
        """``nvs_set_str`` (pending until :meth:`commit`)."""
        self._set("str", key, value)

    def get_blob(self, key: str) -> bytes:
        """``nvs_get_blob``."""
        payload = self._get("blob", key)
        assert isinstance(payload, bytes)
        return payload

    def set_blob(self, key: str, value: bytes | bytearray | memoryview) -> None:
        """``nvs_set_blob`` (pending until :meth:`commit`)."""
        self._set("blob", key, value)

    def find_key(self, key: str) -> NvsType:
        """``nvs_find_key``: the type of ``key`` as this handle sees it. Raises NvsNotFound."""
        _check_name(key, "key")
        with self._db() as conn:
            item = self._current(conn, key)
        if item is None:
            raise self._not_found(key)
        return item.type

    def erase_key(self, key: str) -> None:
        """``nvs_erase_key`` (pending until :meth:`commit`). Raises NvsNotFound, READ_ONLY."""
        _check_name(key, "key")
        with self._db(writing=True) as conn:
            if self._current(conn, key) is None:
                raise self._not_found(key)
            self._stage(conn, key, None)

    def erase_all(self) -> None:
        """``nvs_erase_all``: every key of the namespace (pending until :meth:`commit`);
        the namespace itself stays. Raises READ_ONLY."""
        with self._db(writing=True) as conn:
            self._pending.clear()
            self._pending_span = 0
            row = conn.execute(
                "SELECT coalesce(sum(span), 0) FROM entries WHERE namespace = ?", (self.namespace,)
            ).fetchone()
            self._hidden_span = int(row[0])
            self._cleared = True

    def commit(self) -> None:
        """``nvs_commit``: write the pending changes in one transaction (nothing to do
        on a read-only handle). Raises NOT_ENOUGH_SPACE when they no longer fit (other
        handles committed meanwhile): nothing is written and they stay pending."""
        with self._db() as conn:
            if not self._pending and not self._cleared:
                return
            with self.nvs._transaction(conn):
                self.nvs._create_namespace(conn, self.namespace)  # erased meanwhile (Nvs.erase)
                if self._cleared:
                    conn.execute("DELETE FROM entries WHERE namespace = ?", (self.namespace,))
                for key, item in self._pending.items():
                    if item is None:
                        conn.execute("DELETE FROM entries WHERE namespace = ? AND key = ?", (self.namespace, key))
                    else:
                        conn.execute(
                            "INSERT OR REPLACE INTO entries (namespace, key, type, value, span) VALUES (?, ?, ?, ?, ?)",
                            (self.namespace, key, item.type, item.payload, item.span),
                        )
                used = self.nvs._used(conn)
                if used > TOTAL_ENTRIES:
                    raise _no_space(used - TOTAL_ENTRIES, TOTAL_ENTRIES)
            self._pending.clear()
            self._cleared = False
            self._pending_span = self._hidden_span = 0

    def close(self) -> None:
        """``nvs_close``: what was not committed is dropped; later calls raise INVALID_HANDLE."""
        with self.nvs._lock:
            self._open = False
            self._pending.clear()
            self._cleared = False
            self._pending_span = self._hidden_span = 0

    def __enter__(self) -> NvsHandle:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "readwrite" if self.readwrite else "readonly"
        return f"NvsHandle({self.nvs.path.name!r}, {self.namespace!r}, {mode})"
