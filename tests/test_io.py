"""The I/O drivers over real sockets on 127.0.0.1.

Our blocking client (and asyncio client) against our asyncio server running
in a thread (:mod:`echoserver`): full handshake, resumption, 0-RTT (accepted
and replay-rejected), KeyUpdate both ways, close_notify and bare EOF; a
stalled peer gives TlsTimeout, garbage from either peer a TlsError, a closed
port TlsConnectionError.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from certs import make_ca, make_leaf
from echoserver import Served, ServerThread
from https_request.io import TlsConnectionError, TlsSocket, TlsTimeout, connect, open_connection
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import ClientConfig, ServerConfig
from https_request.tls.enums import ContentType, ProtocolVersion
from https_request.tls.errors import AlertReceived, Reason, TlsError
from https_request.tls.events import KeyUpdated
from https_request.tls.session import TicketKeys
from https_request.tls.verify import WebPkiVerifier

CA = make_ca()
LEAF = make_leaf(CA, ["localhost", "127.0.0.1"])
CLIENT = ClientConfig(verifier=WebPkiVerifier([CA.cert]), early_data=True)
SERVER = ServerConfig(
    certificates=(LEAF.certified_key(),),
    ticket_keys=TicketKeys(os.urandom, now=time.time()),
    max_early_data=4096,
)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(SERVER) as srv:
        yield srv


def _connect(srv: ServerThread, **kw: object) -> TlsSocket:
    return connect("127.0.0.1", srv.port, CLIENT, "localhost", timeout=5, **kw)  # type: ignore[arg-type]


def _recv_exactly(tls: TlsSocket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = tls.recv()
        assert chunk, f"closed after {out!r}"
        out += chunk
    return out


def _ok(rec: Served) -> Served:
    assert rec.error is None, repr(rec.error)
    return rec


def test_full_handshake_echo_and_close(server: ServerThread) -> None:
    with _connect(server) as tls:
        hs = tls.pump.handshake
        assert hs is not None and hs.version == ProtocolVersion.TLS1_3 and not hs.resumed
        assert tls.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        tls.send(b"ping")
        assert _recv_exactly(tls, 4) == b"ping"
        assert len(tls.sessions) == SERVER.num_tickets  # tickets came before the echo
        assert tls.session is tls.sessions[-1]
    rec = _ok(server.next())
    assert rec.handshake is not None and not rec.handshake.resumed
    assert bytes(rec.received) == b"ping"
    assert rec.peer_closed  # our close() sent close_notify


def test_resumption(server: ServerThread) -> None:
    with _connect(server) as tls:
        tls.send(b"one")
        _recv_exactly(tls, 3)
        session = tls.session
    _ok(server.next())
    assert session is not None
    with _connect(server, session=session) as tls2:
        assert tls2.pump.handshake is not None and tls2.pump.handshake.resumed
        tls2.send(b"two")
        assert _recv_exactly(tls2, 3) == b"two"
    rec = _ok(server.next())
    assert rec.handshake is not None and rec.handshake.resumed


def _fresh_session(srv: ServerThread) -> object:
    with _connect(srv) as tls:
        tls.send(b"x")
        _recv_exactly(tls, 1)
        session = tls.session
    _ok(srv.next())
    assert session is not None and session.max_early_data == SERVER.max_early_data
    return session


def test_zero_rtt_accepted_then_replay_rejected(server: ServerThread) -> None:
    session = _fresh_session(server)
    for attempt in ("first", "replay"):
        tls = _connect(server, session=session, handshake=False)
        with tls:
            tls.start()
            tls.send(b"early!")
            hs = tls.handshake()
            assert hs.resumed
            assert hs.early_data_accepted == (attempt == "first")
            assert tls.pump.early_data_rejected == (0 if attempt == "first" else 6)
            assert _recv_exactly(tls, 6) == b"early!"  # echoed either way
        rec = _ok(server.next())
        assert rec.early_data == (b"early!" if attempt == "first" else b"")
        assert bytes(rec.received) == b"early!"


def test_key_update_client_initiated(server: ServerThread) -> None:
    with _connect(server) as tls:
        tls.update_keys(request_peer=True)
        tls.send(b"after")
        assert _recv_exactly(tls, 5) == b"after"
        assert list(tls.pump.key_updates) == [KeyUpdated(sending=True), KeyUpdated(sending=False)]
    rec = _ok(server.next())
    assert rec.key_updates == [KeyUpdated(sending=False), KeyUpdated(sending=True)]


def test_key_update_server_initiated(server: ServerThread) -> None:
    with _connect(server) as tls:
        tls.send(b"KEYUPDATE")
        assert _recv_exactly(tls, 9) == b"KEYUPDATE"
        tls.send(b"more")
        assert _recv_exactly(tls, 4) == b"more"
        assert list(tls.pump.key_updates) == [KeyUpdated(sending=False), KeyUpdated(sending=True)]
    rec = _ok(server.next())
    assert rec.key_updates == [KeyUpdated(sending=True), KeyUpdated(sending=False)]


def test_bulk_echo_many_records(server: ServerThread) -> None:
    blob = os.urandom(40000)  # three records per chunk each way
    with _connect(server) as tls:
        for _ in range(8):
            tls.send(blob)
            assert _recv_exactly(tls, len(blob)) == blob
    assert len(_ok(server.next()).received) == 8 * len(blob)


def test_server_close_notify_then_recv_empty(server: ServerThread) -> None:
    with _connect(server) as tls:
        tls.send(b"BYE")
        assert _recv_exactly(tls, 3) == b"BYE"
        assert tls.recv() == b""
        assert tls.pump.peer_closed
        assert tls.recv() == b""  # stays closed
    _ok(server.next())


def test_bare_tcp_eof_after_handshake(server: ServerThread) -> None:
    with _connect(server) as tls:
        tls.send(b"DROP")
        assert tls.recv() == b""
        assert tls.pump.eof and not tls.pump.peer_closed
    _ok(server.next())


def test_asyncio_client(server: ServerThread) -> None:
    async def main() -> tuple[bool, bool]:
        stream = await open_connection("127.0.0.1", server.port, CLIENT, "localhost", timeout=5)
        await stream.write(b"async")
        assert await stream.read() == b"async"
        await stream.update_keys()
        await stream.write(b"again")
        assert await stream.read() == b"again"
        session = stream.session
        await stream.close()
        stream2 = await open_connection("127.0.0.1", server.port, CLIENT, "localhost", session, timeout=5)
        resumed = stream2.pump.handshake is not None and stream2.pump.handshake.resumed
        await stream2.close()
        return session is not None, resumed

    assert asyncio.run(main()) == (True, True)
    assert bytes(_ok(server.next()).received) == b"asyncagain"
    _ok(server.next())


# ------------------------------------------------------------ failures


class RawServer:
    """A plain TCP listener: its one connection gets ``reply`` after the first
    bytes arrive, then stays open (or is closed at once if ``hang_up``)."""

    def __init__(self, reply: bytes = b"", hang_up: bool = False) -> None:
        self.reply = reply
        self.hang_up = hang_up
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(3)
            try:
                if self.reply:
                    conn.recv(65536)
                    conn.sendall(self.reply)
                while not self.hang_up and conn.recv(65536):
                    pass
            except OSError:
                pass

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
        self._thread.join(5)


def test_stalled_peer_times_out_blocking() -> None:
    with RawServer() as raw:
        t0 = time.monotonic()
        with pytest.raises(TlsTimeout) as info:
            connect("127.0.0.1", raw.port, CLIENT, "localhost", timeout=0.3)
        assert time.monotonic() - t0 < 2
        assert isinstance(info.value, TimeoutError)


def test_stalled_peer_times_out_asyncio() -> None:
    async def main(port: int) -> None:
        await open_connection("127.0.0.1", port, CLIENT, "localhost", timeout=0.3)

    with RawServer() as raw, pytest.raises(TlsTimeout):
        asyncio.run(main(raw.port))


def test_recv_timeout_after_handshake(server: ServerThread) -> None:
    with _connect(server) as tls:
        with pytest.raises(TlsTimeout) as info:
            tls.recv(timeout=0.2)
        assert isinstance(info.value, TimeoutError)
    _ok(server.next())


def test_garbage_from_server_raises_tls_error() -> None:
    with RawServer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n") as raw:
        with pytest.raises(TlsError) as info:
            connect("127.0.0.1", raw.port, CLIENT, "localhost", timeout=3)
        assert not isinstance(info.value, AlertReceived)


def test_garbage_from_client_gets_an_alert(server: ServerThread) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\xff")  # ClientHello with a bad body
        reply = sock.recv(100)
    assert reply[:1] == bytes([ContentType.ALERT]) and len(reply) == 7, reply
    rec = server.next()
    assert isinstance(rec.error, TlsError) and rec.error.reason is Reason.DECODE


def test_eof_during_handshake_is_truncation() -> None:
    with RawServer(b"\x16\x03\x03\x00\x10\x02", hang_up=True) as raw:  # half a record, then EOF
        with pytest.raises(TlsError) as info:
            connect("127.0.0.1", raw.port, CLIENT, "localhost", timeout=3)
        assert info.value.reason is Reason.TRUNCATED


def test_connection_refused() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(TlsConnectionError) as info:
        connect("127.0.0.1", port, CLIENT, "localhost", timeout=3)
    assert isinstance(info.value, ConnectionError)


def test_early_send_without_session_waits_for_handshake(server: ServerThread) -> None:
    tls = TlsSocket(
        socket.create_connection(("127.0.0.1", server.port), timeout=5), ClientConnection(CLIENT, "localhost")
    )
    with tls:
        tls.start()
        tls.send(b"queued")  # no ticket: the engine keeps it until the handshake is over
        assert not tls.handshake().early_data_accepted
        assert _recv_exactly(tls, 6) == b"queued"
    assert _ok(server.next()).early_data == b""
