"""Chains of 0-RTT runs: every ``get --session F --early-data`` offers an unused ticket (issue 9, defect 3).

A ticket is good for one 0-RTT attempt (the server's anti-replay refuses a
second), so each run must save the ticket its own connection received. Before
the fix, with ``serve --early-data`` every other run had its early data
rejected: the answer came as 0.5-RTT data, ``get`` stopped reading and closed
before the server's NewSessionTicket (sent after our Finished) arrived, and the
next run offered the spent ticket again.

Two fixes, each tested against a real server:

* our server sends its tickets with its Finished when it accepted 0-RTT
  (``ServerConfig.early_tickets``, RFC 8446 4.6.1): ``serve`` subprocesses,
  one process and two workers sharing ticket keys;
* the client waits, briefly, for the ticket that follows a resumed handshake
  (``EspTls.wait_client_session``): our server engine in a thread configured
  as OpenSSL orders it (tickets after the client's Finished) while answering the
  early request at once as 0.5-RTT data, through ``get`` and the esp-tls API.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from echoserver import Served, ServerThread, read_head
from https_request.esp_tls.config import EspTlsCfg
from https_request.esp_tls.conn import AsyncEspTls, EspTls
from https_request.io.aio import TlsStream
from https_request.tls.config import ServerConfig
from https_request.tls.session import TicketKeys
from serveproc import Serve, running
from tlsenv import CA, LEAF

pytestmark = pytest.mark.timeout(120)

RUNS = 20
WAIT = 10.0


def _get(ca: str | Path, url: str, session: Path, *extra: str) -> dict[str, Any]:
    """One ``get --session --early-data --json -`` run; its JSON report."""
    args = [sys.executable, "-m", "https_request", "get", "--cacert", str(ca), "--session", str(session)]
    proc = subprocess.run(
        [*args, "--early-data", "--json", "-", *extra, url], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stderr.splitlines()[-1])
    report["stderr"] = proc.stderr
    return report


def _chain(ca: str | Path, url: str, session: Path, runs: int = RUNS) -> list[str]:
    """A first run that saves a session, then ``runs`` more: how each one's early data fared."""
    first = _get(ca, url, session)
    assert first["resumed"] is False and first["early_data"]["offered"] is False
    outcomes = []
    for _ in range(runs):
        report = _get(ca, url, session)
        assert report["resumed"] is True, report
        outcomes.append("accepted" if report["early_data"]["accepted"] else "rejected")
    return outcomes


# ---------------------------------------------------------------- serve: tickets with the server's Finished


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def single(state: Path) -> Iterator[Serve]:
    yield from running(["--early-data"], state)


@pytest.fixture(scope="module")
def workers(state: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    keys = tmp_path_factory.mktemp("keys") / "ticket-keys"
    yield from running(["--early-data", "--workers", "2", "--ticket-keys", str(keys)], state)


@pytest.mark.parametrize("server", ["single", "workers"])
def test_every_run_against_serve_has_its_early_data_accepted(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    srv: Serve = request.getfixturevalue(server)
    outcomes = _chain(srv.ca, f"https://localhost:{srv.port}/", tmp_path / "session")
    assert outcomes == ["accepted"] * RUNS


# ---------------------------------------------------------------- a server whose tickets follow the client's Finished


async def answer_early(stream: TlsStream, rec: Served) -> None:
    """Answer the request as soon as it is readable (0.5-RTT when it came as 0-RTT
    data), then finish the handshake: the tickets go out only then."""
    await stream.handshake_or_early_data()
    request = await read_head(stream)
    if request is None:
        return
    rec.received += request
    body = b"late tickets\n"
    await stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    rec.handshake = await stream.handshake()
    while await stream.read():  # until the client closes
        pass


@pytest.fixture(scope="module")
def late_tickets() -> Iterator[ServerThread]:
    config = ServerConfig(
        certificates=(LEAF.certified_key(),),
        ticket_keys=TicketKeys(os.urandom, now=time.time()),
        max_early_data=16384,
        send_half_rtt_data=True,
        early_tickets=False,
    )
    with ServerThread(config, answer_early, timeout=WAIT) as srv:
        yield srv


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(CA.cert_pem)
    return path


def test_get_waits_for_the_ticket_after_a_half_rtt_answer(
    late_tickets: ServerThread, ca_file: Path, tmp_path: Path
) -> None:
    url = f"https://localhost:{late_tickets.port}/"
    outcomes = _chain(ca_file, url, tmp_path / "session", runs=8)
    assert outcomes == ["accepted"] * 8
    report = _get(ca_file, url, tmp_path / "session", "-vv")
    assert report["early_data"]["accepted"] is True
    # received with the answer or, usually, while waiting for it ("Waiting up to N ms for a session ticket")
    assert "Session ticket received" in report["stderr"]


def test_esp_tls_wait_client_session(late_tickets: ServerThread) -> None:
    """The esp-tls API: after the 0.5-RTT answer, wait_client_session() has the ticket that follows it
    (get_client_session() has it only if the ticket happened to arrive with the answer)."""
    url = f"https://localhost:{late_tickets.port}/"
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
    cfg = EspTlsCfg(cacert=CA.cert_pem, early_data=True, timeout_ms=int(WAIT * 1000))
    with EspTls.conn_http_new_sync(url, cfg, early_data=request) as tls:
        assert tls.read().endswith(b"late tickets\n")
        session = tls.wait_client_session()  # not resumed: returns at once
    assert session is not None
    for _ in range(3):
        resumed = EspTlsCfg(cacert=CA.cert_pem, early_data=True, client_session=session, timeout_ms=int(WAIT * 1000))
        with EspTls.conn_http_new_sync(url, resumed, early_data=request) as tls:
            assert tls.read().endswith(b"late tickets\n")
            assert tls.info.early_data == "accepted"
            fresh = tls.wait_client_session()
            assert fresh is not None and fresh.ticket != session.ticket
        assert tls.get_client_session() is fresh  # kept after close
        session = fresh


def test_async_esp_tls_wait_client_session(late_tickets: ServerThread) -> None:
    url = f"https://localhost:{late_tickets.port}/"
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"

    async def one(session: object) -> tuple[str, object]:
        cfg = EspTlsCfg(cacert=CA.cert_pem, early_data=True, client_session=session, timeout_ms=int(WAIT * 1000))  # type: ignore[arg-type]
        tls = await AsyncEspTls.conn_http_new_sync(url, cfg, early_data=request)
        try:
            assert (await tls.read()).endswith(b"late tickets\n")
            return tls.info.early_data, await tls.wait_client_session()
        finally:
            await tls.close()

    async def main() -> None:
        _, session = await one(None)
        assert session is not None
        early, fresh = await one(session)
        assert early == "accepted" and fresh is not None and fresh is not session

    asyncio.run(main())
