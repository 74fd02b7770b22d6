"""files: write_atomically (errors name the file asked for, never the temporary one),
create_private (0600 whatever the umask) and state_dir (XDG on Linux)."""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

import pytest

from https_request.files import create_private, state_dir, write_atomically


def test_writes_with_the_mode_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    write_atomically(target, b"one")
    write_atomically(target, b"two", mode=0o644)
    assert target.read_bytes() == b"two" and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]


@pytest.mark.parametrize(
    ("where", "code"),
    [("folder", errno.EISDIR), ("missing/x", errno.ENOENT), ("file/x", errno.ENOTDIR)],
)
def test_errors_are_about_the_target(tmp_path: Path, where: str, code: int) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_bytes(b"")
    target = tmp_path / where
    with pytest.raises(OSError) as info:
        write_atomically(target, b"data")
    assert (info.value.errno, info.value.filename, info.value.filename2) == (code, str(target), None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]
    assert list((tmp_path / "folder").iterdir()) == []


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="XDG applies to Linux and other Unixes")
def test_state_dir_follows_xdg_state_home_when_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_dir() == tmp_path / "https-request"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")  # the spec: relative paths are ignored
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state_dir() == tmp_path / "home" / ".local" / "state" / "https-request"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert state_dir() == tmp_path / "home" / ".local" / "state" / "https-request"
    assert not (tmp_path / "home").exists()  # not created


def test_create_private_is_0600_whatever_the_umask_and_keeps_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "store"
    old = os.umask(0o277)  # would leave the owner read-only
    try:
        assert create_private(target) is True
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_bytes() == b""
    target.write_bytes(b"data")
    assert create_private(target) is False and target.read_bytes() == b"data"
    with pytest.raises(IsADirectoryError):
        create_private(tmp_path)
    with pytest.raises(FileNotFoundError):
        create_private(tmp_path / "missing" / "store")
