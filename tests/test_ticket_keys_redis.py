"""``serve --ticket-keys redis://HOST:PORT/N``: tickets and 0-RTT shared by servers on several machines.

A real ``redis-server`` (Debian) runs on 127.0.0.1 at a free port with no persistence; three
``serve`` processes stand for three machines behind a load balancer (one state folder: the same
certificate). Checked: a ticket from A resumes on B and C (TLS 1.3 and 1.2); the same 0-RTT early
data is accepted once in all; with a 2-second rotation period the ring rotates with exactly one
rotator each time (the rotators' log lines against the rings seen in Redis); Redis stopped while
serving (requests go on with full handshakes across servers, a server's own tickets still resume,
one log line per outage) and restarted (resumption across servers again, the ring re-seeded).
In process: two holders of one ring, ``reload()``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from https_request.tls.session import Session
from procs import Proc, needs, tool
from serveproc import Serve
from test_serve import TLS12, TLS13, client_config, our_get

redis = pytest.importorskip("redis")

pytestmark = [pytest.mark.timeout(90), needs("redis-server")]

RING = "https-request:ticket-keys"


class RedisServer:
    """``redis-server`` on 127.0.0.1:``port``, no persistence, in ``folder``; restartable on the same port."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/3"
        self.proc: Proc | None = None
        self.start()

    def start(self) -> None:
        args = [tool("redis-server"), "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "yes"]  # fmt: skip
        self.proc = Proc(args)
        self.proc.wait_for(r"Ready to accept connections", timeout=10)
        self.client = redis.Redis(host="127.0.0.1", port=self.port, db=3, socket_timeout=2)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc = None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


def _servers(store: RedisServer, state: Path, *extra: str, count: int = 3) -> list[Serve]:
    started: list[Serve] = []
    try:
        for _ in range(count):  # one after the other: the first creates the certificate the others reuse
            started.append(Serve(["--ticket-keys", store.url, "--early-data", *extra], state))
    except BaseException:
        for srv in started:
            srv.kill()
        raise
    return started


def _stop(servers: list[Serve]) -> None:
    codes = [srv.stop() for srv in servers]
    assert codes == [0] * len(servers), "\n".join(line for srv in servers for line in srv.err[-10:])


def _get(
    srv: Serve, versions: tuple[int, ...] = (TLS13,), session: Session | None = None, early: bool = False
) -> dict[str, object]:
    config = client_config(srv, versions, early_data=early)
    status, _, body, newest, accepted = our_get(srv, config, session=session, early=early)
    assert status == 200
    seen: dict[str, object] = json.loads(body)
    seen["session"], seen["accepted"] = newest, accepted
    return seen


@pytest.mark.parametrize("versions", [(TLS13,), (TLS12,)], ids=["tls13", "tls12"])
def test_ticket_from_a_resumes_on_b_and_c(store: RedisServer, state: Path, versions: tuple[int, ...]) -> None:
    a, b, c = servers = _servers(store, state)
    try:
        session = _get(a, versions)["session"]
        assert isinstance(session, Session)
        for other in (b, c, a):
            assert _get(other, versions, session)["resumed"] is True
        assert store.client.get(RING) is not None
    finally:
        _stop(servers)


def test_early_data_accepted_once_across_servers(store: RedisServer, state: Path) -> None:
    a, b, c = servers = _servers(store, state)
    try:
        session = _get(a)["session"]
        assert isinstance(session, Session) and session.max_early_data > 0
        first = _get(b, session=session, early=True)
        assert first["accepted"] is True and first["early_data"] is True
        for other in (c, a, b):  # the same ticket's early data again: refused everywhere, resumption goes on
            again = _get(other, session=session, early=True)
            assert again["accepted"] is False and again["early_data"] is False and again["resumed"] is True
        c.wait_log(r"resumed=yes early_data=rejected")
        fresh = _get(c)["session"]  # another ticket: its early data is accepted once, on A
        assert _get(a, session=fresh, early=True)["accepted"] is True  # type: ignore[arg-type]
        assert _get(b, session=fresh, early=True)["accepted"] is False  # type: ignore[arg-type]
    finally:
        _stop(servers)


def test_rotation_has_one_rotator(store: RedisServer, state: Path) -> None:
    rings: list[bytes] = []
    stop = threading.Event()

    def watch() -> None:  # every ring that Redis holds, in order
        while not stop.is_set():
            blob = store.client.get(RING)
            if blob is not None and (not rings or rings[-1] != blob):
                rings.append(blob)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()  # before the servers: it sees the first ring, and every rotation after it
    servers: list[Serve] = []
    try:
        servers = _servers(store, state, "--ticket-lifetime", "2")
        deadline = time.monotonic() + 7.5
        i = 0
        while time.monotonic() < deadline:  # traffic on every server: each finds the ring due in turn
            issuer, other = servers[i % 3], servers[(i + 1) % 3]
            session = _get(issuer)["session"]
            assert _get(other, session=session)["resumed"] is True  # type: ignore[arg-type]
            i += 1
    finally:
        stop.set()
        watcher.join(5)
        _stop(servers)
    rotated = [line for srv in servers for line in srv.err if "ticket keys: rotated the shared ring" in line]
    assert len(rings) >= 3, "the ring should have rotated at least twice in 7.5 s of a 2 s period"
    # one rotator per rotation: every rotation is a new ring in Redis (the watcher samples every
    # 20 ms, so under load it may miss one), and no two servers rotate the same due ring (they
    # would log it within the same second; rotations are 2 s apart)
    assert len(rings) - 1 <= len(rotated) <= len(rings), (rotated, len(rings))
    seconds = [line[:19] for line in rotated]
    assert len(set(seconds)) == len(seconds), rotated
    assert sum(1 for srv in servers if any("rotated the shared ring" in line for line in srv.err)) >= 1


def test_redis_outage_and_return(store: RedisServer, state: Path) -> None:
    a, b = servers = _servers(store, state, count=2)
    try:
        before = _get(a)["session"]
        assert _get(b, session=before)["resumed"] is True  # type: ignore[arg-type]
        marks = [srv.log_mark() for srv in servers]
        store.stop()
        deadline = time.monotonic() + 10

        def noticed() -> bool:
            pairs = zip(servers, marks, strict=True)
            return all(any("unreachable" in line for line in srv.err[mark:]) for srv, mark in pairs)

        while not noticed():
            assert time.monotonic() < deadline, "the outage was not noticed"
            for srv in servers:  # each follows its copy of the ring for up to a second, then notices
                _get(srv, session=before)  # type: ignore[arg-type]
            time.sleep(0.1)
        for _ in range(10):  # serving goes on: full handshakes across servers, a server's own tickets resume
            assert _get(b, session=before)["resumed"] is False  # type: ignore[arg-type]
            own = _get(a)["session"]
            assert _get(a, session=own)["resumed"] is True  # type: ignore[arg-type]
            assert _get(b, session=own)["resumed"] is False  # type: ignore[arg-type]
            late = _get(a, session=own, early=True)  # type: ignore[arg-type]
            assert late["resumed"] is True and late["accepted"] is True  # local anti-replay: once
            assert _get(a, session=own, early=True)["accepted"] is False  # type: ignore[arg-type]
        for srv, mark in zip(servers, marks, strict=True):
            srv.wait_log(r"warning: ticket key store redis://127\.0\.0\.1:\d+/3 unreachable", mark)
            assert sum("unreachable" in line for line in srv.err[mark:]) == 1  # once per outage
        store.start()  # empty: the first server back re-seeds the ring it had
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            session = _get(a)["session"]
            if _get(b, session=session)["resumed"] is True:  # type: ignore[arg-type]
                break
            time.sleep(0.2)
        else:
            pytest.fail("no resumption across servers after Redis came back")
        for srv, mark in zip(servers, marks, strict=True):
            srv.wait_log(r"ticket key store redis://127\.0\.0\.1:\d+/3 is back", mark)
        assert _get(b, session=before)["resumed"] is True  # type: ignore[arg-type]  # the old ring, re-seeded
    finally:
        _stop(servers)


def test_two_holders_in_process(store: RedisServer) -> None:
    from https_request.server.keys import reload
    from https_request.server.redis_store import RedisLink, RedisTicketKeys

    lines: list[str] = []
    now = 1_000_000.0
    a = RedisTicketKeys(RedisLink(store.url, log=lines.append), 100, clock=lambda: now, log=lines.append)
    b = RedisTicketKeys(RedisLink(store.url, log=lines.append), 100, clock=lambda: now, log=lines.append)
    t1 = a.seal(b"one", now + 1)
    assert b.open(t1, now + 2) == (b"one", False)
    t2 = b.seal(b"two", now + 150)  # due: b takes the lock and rotates the ring in Redis
    assert lines == [f"ticket keys: rotated the shared ring in redis://127.0.0.1:{store.port}/3"]
    assert a.open(t2, now + 151) == (b"two", False)  # a follows (a miss fetches the ring again)
    assert a.open(t1, now + 151) == (b"one", True)
    assert a.seal(b"three", now + 152) and len(lines) == 1  # a does not rotate again
    assert a.to_bytes() == b.to_bytes() == store.client.get(RING)
    store.client.set(RING, b"garbage")
    assert reload(a) is False and a.open(t2, now + 153) == (b"two", False)  # the corrupt ring is not used
    assert "corrupt" in lines[-1]
