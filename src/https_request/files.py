"""Where the package keeps its state, and writing files with a chosen mode (secrets: 0600
from the start).

* :func:`state_dir`: the one place that says where the package keeps state (the local CA,
  the NVS store).
* :func:`write_atomically`: saved sessions, ticket-key files and the local CA's keys: a
  reader sees the old file or the new one, never a half-written one, and the data is never
  readable by others, not even for a moment.
* :func:`create_private`: a new empty file, 0600 from the start, for stores that other code
  writes in place (sqlite's NVS file).
"""

from __future__ import annotations

import errno
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pathlib is imported by state_dir only: saving a session (get --session) needs none of it
    from pathlib import Path

__all__ = ["create_private", "state_dir", "write_atomically"]

_APP = "https-request"


def state_dir() -> Path:
    """The user's state folder for this program (not created).

    Linux and other Unixes: ``$XDG_STATE_HOME/https-request`` (an absolute
    ``XDG_STATE_HOME`` only, as the XDG Base Directory specification says),
    else ``~/.local/state/https-request``; macOS:
    ``~/Library/Application Support/https-request``; Windows:
    ``%LOCALAPPDATA%\\https-request``. Raises RuntimeError when no home folder
    can be determined (``Path.home``).
    """
    from pathlib import Path

    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        root = Path(local) if local else Path.home() / "AppData" / "Local"
        return root / _APP
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / _APP
    base = os.environ.get("XDG_STATE_HOME")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / _APP


def create_private(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` as an empty file readable by its owner only (0600 from the start,
    whatever the umask), unless it exists. Returns True when it was created.

    Raises OSError about ``path``: FileNotFoundError when its folder does not
    exist, IsADirectoryError for a folder, PermissionError...
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path)) from None
        return False
    try:
        os.fchmod(fd, 0o600)  # os.open's mode went through the umask, which may have taken the owner's bits
    finally:
        os.close(fd)
    return True


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
    import tempfile  # (here: it imports shutil and its compression modules, which most runs never need)

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
