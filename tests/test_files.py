"""files.write_atomically: errors name the file asked for, never the temporary one."""

from __future__ import annotations

import errno
import stat
from pathlib import Path

import pytest

from https_request.files import write_atomically


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
