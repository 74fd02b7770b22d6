"""Writing a file atomically with a chosen mode (secrets: 0600 from the start).

Used for saved sessions, ticket-key files and the local CA's keys: a reader
sees the old file or the new one, never a half-written one, and the data is
never readable by others, not even for a moment.
"""

from __future__ import annotations

import os
import tempfile

__all__ = ["write_atomically"]


def write_atomically(path: str | os.PathLike[str], data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder,
    fsync it, then rename it over ``path``. Raises OSError (the temporary file
    is removed)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}-", dir=directory)  # created 0600
    try:
        with os.fdopen(fd, "wb") as f:
            if mode != 0o600:
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
