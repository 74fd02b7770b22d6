"""A ``serve`` connection's deadlines, on both event loops, in process: a real
:class:`~https_request.server.tls_server.Server` on a loopback socket, stdlib ssl (asyncio's
streams) as the client.

A connection has one timer, moved only when a new deadline comes sooner than the one it is
due for; a later deadline keeps it, and it waits on for the rest when it fires
(``connections.Connection._arm``). So:

* a client that finishes its handshake and sends no request is dropped at the request's
  deadline, counted from the handshake, not at the handshake's, for which the timer was set;
* a client that takes its answer but never closes is let go after the linger
  (``connections.LINGER``), well before the handshake's deadline that was armed first;
* the deadline's callback (a bound method) makes no reference cycle that outlives the connection:
  a closed connection is freed when its last reference goes, not by the cycle collector.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import ssl
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from certs import make_ca, make_leaf
from https_request.server.connections import LINGER, Connection
from https_request.server.tls_server import Server, ServerSettings
from https_request.tls.config import ServerConfig

pytestmark = pytest.mark.timeout(60)

LOOPS = ("asyncio", "uvloop")
NAME = "localhost"


def _run(loop_name: str, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    if loop_name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 30))
    finally:
        loop.close()


async def _start(handshake_timeout: float, read_timeout: float, lines: list[str]) -> tuple[Server, int, ssl.SSLContext]:
    ca = make_ca("p256")
    leaf = make_leaf(ca, [NAME], key_type="p256")
    settings = ServerSettings(
        tls=ServerConfig(certificates=(leaf.certified_key(),)),
        handshake_timeout=handshake_timeout,
        read_timeout=read_timeout,
        log=lines.append,
    )
    server = Server(settings)
    sock = socket.create_server(("127.0.0.1", 0))
    await server.start(sock)
    ctx = ssl.create_default_context(cadata=ca.cert_pem.decode())
    return server, sock.getsockname()[1], ctx


async def _read_to_end(reader: asyncio.StreamReader) -> bytes:
    """What the server sends until it closes (a reset counts as the end)."""
    out = b""
    try:
        while chunk := await reader.read(65536):
            out += chunk
    except (ConnectionError, ssl.SSLError):
        pass
    return out


@pytest.mark.parametrize("loop_name", LOOPS)
def test_silent_client_after_the_handshake_dropped_at_the_request_deadline(loop_name: str) -> None:
    lines: list[str] = []
    elapsed: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server, port, ctx = await _start(0.4, 1.5, lines)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=NAME)
            handshaken = loop.time()
            assert await _read_to_end(reader) == b""  # nothing but the drop
            elapsed.append(loop.time() - handshaken)
            writer.close()
        finally:
            await server.close(grace=1.0)

    _run(loop_name, main)
    # the request's 1.5 s from the handshake: not the handshake's 0.4 s from the connect
    assert 1.4 <= elapsed[0] < 4.0, elapsed
    assert len(lines) == 1 and 'error="timeout waiting for the request"' in lines[0], lines


@pytest.mark.parametrize("loop_name", LOOPS)
def test_client_that_never_closes_let_go_after_the_linger(loop_name: str) -> None:
    lines: list[str] = []
    elapsed: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server, port, ctx = await _start(20.0, 20.0, lines)

        def take_answer() -> tuple[bytes, ssl.SSLSocket]:  # (blocking ssl: no close_notify sent back)
            tls = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname=NAME)
            tls.sendall(b"GET /tls HTTP/1.1\r\nHost: localhost\r\n\r\n")
            answer = b""
            while chunk := tls.recv(65536):  # to the server's close_notify
                answer += chunk
            return answer, tls

        try:
            answer, tls = await loop.run_in_executor(None, take_answer)
            answered = loop.time()
            try:
                assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:80]
                while not lines and loop.time() - answered < 10:  # the client keeps its side open, silent
                    await asyncio.sleep(0.02)
                elapsed.append(loop.time() - answered)
            finally:
                tls.close()
        finally:
            await server.close(grace=1.0)

    _run(loop_name, main)
    # let go after the linger, not at the 20 s handshake deadline the connection's timer was first set for
    assert LINGER - 0.2 <= elapsed[0] < LINGER + 2.0, elapsed
    assert len(lines) == 1 and 'request="GET /tls" status=200' in lines[0] and "error=" not in lines[0], lines


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_closed_connection_is_freed_without_the_cycle_collector(loop_name: str) -> None:
    lines: list[str] = []
    alive: list[int] = []

    async def main() -> None:
        server, port, ctx = await _start(20.0, 20.0, lines)
        try:
            for i in range(3):
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=NAME)
                writer.write(b"GET /tls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                assert (await _read_to_end(reader)).startswith(b"HTTP/1.1 200 OK\r\n")
                writer.close()
                for _ in range(500):  # logged when the server lets it go
                    if len(lines) > i:
                        break
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            alive.append(sum(isinstance(o, Connection) for o in gc.get_objects()))
        finally:
            await server.close(grace=1.0)

    gc.collect()
    gc.disable()  # what is freed now is freed by reference counting
    try:
        _run(loop_name, main)
    finally:
        gc.enable()
    assert len(lines) == 3 and all("status=200" in line for line in lines), lines
    assert alive == [0], alive
