"""The ticket key file (``serve --ticket-keys FILE``): what it may be, and what happens when it breaks.

End to end (``serve`` as a subprocess): a FIFO or a 0644 file is refused at once with a message
(exit 2, bounded wait); a file corrupted while two workers serve is logged once per worker, not per
connection, and the workers keep resuming each other's tickets with the last good keys; a restart
on the corrupt file replaces it. In process: the file replaced by a FIFO while serving, ``reload()``.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from https_request.server.keys import KeyFileError, SharedTicketKeys, reload
from https_request.tls.session import TicketKeys
from serveproc import REPO, WAIT, Serve
from test_serve import TLS12, TLS13, client_config, our_get

pytestmark = pytest.mark.timeout(60)


def _serve_refused(args: list[str], state: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_STATE_HOME=str(state))
    cmd = [sys.executable, "-m", "https_request", "serve", "--port", "0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=WAIT, env=env, cwd=REPO)


def test_fifo_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "keys"
    os.mkfifo(fifo, 0o600)
    done = _serve_refused(["--ticket-keys", str(fifo)], tmp_path)  # the old code waited for a writer forever
    assert done.returncode == 2, done.stderr
    assert f"ticket key file {fifo} is a FIFO, not a regular file" in done.stderr
    assert "listening" not in done.stdout


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o602], ids=["0644", "0640", "0602"])
def test_key_file_open_to_others_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keys"
    path.write_bytes(TicketKeys(os.urandom, 3600, 1.0).to_bytes())
    path.chmod(mode)
    done = _serve_refused(["--ticket-keys", str(path)], tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"has mode {mode:04o}" in done.stderr and f"chmod 600 {path}" in done.stderr
    assert stat.S_IMODE(path.stat().st_mode) == mode  # refused, not changed behind the user's back


def _by_worker(srv: Serve, versions: tuple[int, ...]) -> dict[int, object]:
    config = client_config(srv, versions)
    sessions: dict[int, object] = {}
    for _ in range(60):
        status, _, body, session, _ = our_get(srv, config)
        assert status == 200 and session is not None
        sessions.setdefault(json.loads(body)["worker"], session)
        if len(sessions) == 2:
            return sessions
    pytest.fail("both workers should be reached")


def _resumes_on_other_worker(srv: Serve, versions: tuple[int, ...], session: object, issuer: int) -> None:
    config = client_config(srv, versions)
    for _ in range(60):
        status, _, body, _, _ = our_get(srv, config, session=session)  # type: ignore[arg-type]
        seen = json.loads(body)
        assert status == 200 and seen["resumed"] is True
        if seen["worker"] != issuer:
            return
    pytest.fail(f"no connection reached the worker other than {issuer}")


def test_corrupt_key_file_while_serving(tmp_path: Path) -> None:
    keys = tmp_path / "ticket-keys"
    srv = Serve(["--workers", "2", "--ticket-keys", str(keys)], tmp_path)
    try:
        before = {v: _by_worker(srv, v) for v in ((TLS13,), (TLS12,))}
        mark = srv.log_mark()
        with open(keys, "r+b") as f:  # in place: same inode and mode, new contents
            f.seek(20)
            f.write(b"\xff" * 16)
        for v in ((TLS13,), (TLS12,)):
            for issuer, session in before[v].items():
                _resumes_on_other_worker(srv, v, session, issuer)  # the last good keys
        for v in ((TLS13,), (TLS12,)):  # tickets issued after the corruption resume across workers too
            for issuer, session in _by_worker(srv, v).items():
                _resumes_on_other_worker(srv, v, session, issuer)
        corrupt = rf"warning: ticket key file {keys} is corrupt: .*; keeping the last good ticket keys"
        for _ in range(20):  # (each worker looks at the file at most once a second, when a ticket is used)
            if any(re.search(corrupt, line) for line in srv.err[mark:]):
                break
            time.sleep(0.25)
            our_get(srv, client_config(srv))
        srv.wait_log(corrupt, mark)
        warned = [line for line in srv.err[mark:] if "is corrupt" in line]
        assert 1 <= len(warned) <= 2, warned  # once per worker that noticed, not once per connection
    finally:
        assert srv.stop() == 0
    again = Serve(["--ticket-keys", str(keys)], tmp_path)  # the old code refused to start (exit 2)
    try:
        again.wait_log(rf"warning: ticket key file {keys} is corrupt: .*; replaced with new keys")
        status, _, _, session, _ = our_get(again, client_config(again))
        assert status == 200 and session is not None
    finally:
        assert again.stop() == 0
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    SharedTicketKeys(keys, 3600)  # a sound key file again


def test_key_file_replaced_by_fifo_while_serving(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    lines: list[str] = []
    now = 1_000_000.0
    holder = SharedTicketKeys(path, lifetime=100, clock=lambda: now, log=lines.append, refresh=0)
    ticket = holder.seal(b"state", now + 1)
    path.unlink()
    os.mkfifo(path, 0o600)
    for i in range(50):  # nothing waits on the FIFO, and it is logged once
        assert holder.open(ticket, now + 2 + i) == (b"state", False)
    assert len(lines) == 1 and lines[0].startswith(f"warning: ticket key file {path} is a FIFO, not a regular file")
    assert lines[0].endswith("; keeping the last good ticket keys")
    assert reload(holder) is False and len(lines) == 2  # SIGHUP: tried again, logged again
    assert holder.open(ticket, now + 150) == (b"state", True)  # rotated: the FIFO is replaced by the new ring
    assert stat.S_ISREG(path.stat().st_mode) and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert lines[-1] == f"ticket key file {path}: rewritten with the rotated keys"
    assert reload(holder) is True
    other = SharedTicketKeys(path, lifetime=100, clock=lambda: now + 150)
    assert other.open(ticket, now + 151) == (b"state", True)  # the rewritten file carries the old key along


def test_reload_follows_a_replaced_file(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    lines: list[str] = []
    holder = SharedTicketKeys(path, lifetime=3600, log=lines.append)
    ours = holder.seal(b"ours", 10.0)
    new = TicketKeys(os.urandom, 3600, 5.0)
    theirs = new.seal(b"theirs", 10.0)
    path.write_bytes(b"HRQTKEYS\x01 not a ring")
    assert reload(holder) is False and "is corrupt" in lines[-1]
    assert holder.open(ours, 11.0) == (b"ours", False)  # the last good keys
    path.write_bytes(new.to_bytes())
    assert reload(holder) is True
    assert holder.open(theirs, 11.0) == (b"theirs", False) and holder.open(ours, 11.0) is None
    assert reload(TicketKeys(os.urandom, 3600, 1.0)) is None  # process-local keys: nothing to reload
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        SharedTicketKeys(path, 3600)


def test_key_file_looked_at_once_per_refresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sealing and opening tickets stats the file at most once per ``refresh`` second (it did
    before every seal and open); a ticket that does not open looks again at once, so a key
    another process has just rotated in is followed without waiting."""
    path = tmp_path / "keys"
    tick = [50.0]
    holder = SharedTicketKeys(path, lifetime=3600, clock=lambda: 10.0, monotonic=lambda: tick[0])
    looked: list[object] = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **kw: (looked.append(p), real_stat(p, *a, **kw))[1])
    ours = [holder.seal(b"ours", 10.0 + i / 100) for i in range(100)]
    assert all(holder.open(t, 11.0) == (b"ours", False) for t in ours)
    assert looked.count(path) == 1
    theirs = TicketKeys(os.urandom, 3600, 10.0)  # another process's ring replaces the file
    path.write_bytes(theirs.to_bytes())
    assert holder.open(theirs.seal(b"theirs", 11.0), 11.0) == (b"theirs", False)  # at once
    reloaded = looked.count(path)
    assert reloaded in (2, 3)  # a look, and the read's own check
    assert theirs.open(holder.seal(b"next", 11.0), 11.0) == (b"next", False)  # sealed under the file's key
    assert looked.count(path) == reloaded
    tick[0] += 1.0
    holder.seal(b"later", 12.0)
    assert looked.count(path) == reloaded + 1  # a second later: looked at again
