"""Writing a file atomically with a chosen mode (secrets: 0600 from the start).

Used for saved sessions, ticket-key files and the local CA's keys: a reader
sees the old file or the new one, never a half-written one, and the data is
never readable by others, not even for a moment.
"""

from __future__ import annotations

import errno
import os
import tempfile

__all__ = ["write_atomically"]


def write_atomically(path: str | os.PathLike[str], data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder,
    fsync it, then rename it over ``path``.

    Raises OSError about ``path`` (its ``filename``; the temporary file is an
    implementation detail: never named, always removed), as opening ``path``
    would: IsADirectoryError for a folder, FileNotFoundError when the folder
    does not exist.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}-", dir=directory)  # created 0600
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            if mode != 0o600:
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OSError(exc.errno, exc.strerror, path) from None
        raise
