"""Issue 12's attacks on the engine, against a real ``serve`` process, loopback only.

Each test runs against ``serve`` on both event loops (asyncio and uvloop) and floods
the server from hostile peers built from our own engine or raw
bytes (in threads, for ``ATTACK`` seconds) and asserts that

* every attacking connection is closed with the right alert within ``CLOSE``
  seconds (read by the attacker itself);
* the server's RSS (``/proc/PID/status`` VmRSS) stays under its value before the
  attack plus ``RSS_GROWTH``;
* a normal client (stdlib ssl, i.e. OpenSSL) keeps getting its answer within
  ``LATENCY`` seconds during the attack.

The bounds are generous: this checks correctness under abuse, not speed.
Before the bounds of issue 12 a client sending close_notify for ever held a
connection for the whole handshake timeout (normal requests 5 -> ~370 ms with
one such connection), one byte of data between warnings or KeyUpdates
re-armed their bounds, and a 16,000-extension ClientHello cost ~100 normal ones.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509

from fuzzkit import record
from https_request.io.blocking import TlsSocket, connect
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import ClientConfig
from https_request.tls.enums import AlertDescription as AD
from https_request.tls.enums import AlertLevel, ContentType
from https_request.tls.errors import AlertReceived
from https_request.tls.limits import MAX_KEY_UPDATES, MAX_WARNING_ALERTS
from https_request.tls.messages import Extension
from https_request.tls.protection import Protector
from https_request.tls.suites import SUITES
from https_request.tls.verify import WebPkiVerifier
from serveproc import Serve, running
from tlsenv import KeyLog

pytestmark = pytest.mark.timeout(90)

ATTACK = 3.0  # seconds each attack runs
CLOSE = 5.0  # seconds within which an attacking connection must be closed
LATENCY = 2.0  # seconds a normal request may take during an attack
RSS_GROWTH = 60  # MiB the server may grow by during an attack
ALERT = ContentType.ALERT
APP = ContentType.APPLICATION_DATA


@pytest.fixture(scope="module", params=["asyncio", "uvloop"])
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """``serve`` on each event loop in turn."""
    yield from running(["--key-type", "ecdsa", "--loop", request.param], tmp_path_factory.mktemp("state"))


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _normal_request(srv: Serve) -> float:
    """A stdlib ssl GET; its latency in seconds."""
    ctx = ssl.create_default_context(cafile=srv.ca)
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=LATENCY * 2) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            assert tls.recv(4096).startswith(b"HTTP/1.1 200 ")
    return time.monotonic() - start


def _plaintext_answer(sock: socket.socket) -> bytes:
    """What the server sends before closing (bounded by CLOSE)."""
    sock.settimeout(CLOSE)
    out = b""
    deadline = time.monotonic() + CLOSE
    try:
        while time.monotonic() < deadline and (chunk := sock.recv(4096)):
            out += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    assert time.monotonic() < deadline, "the attacking connection was not closed"
    return out


def _fatal(desc: int) -> bytes:
    return record(ALERT, bytes((AlertLevel.FATAL, desc)))


def _under_attack(srv: Serve, attack: Callable[[], None], threads: int) -> int:
    """Run ``attack`` in a loop on ``threads`` threads for ATTACK seconds while a normal
    client keeps asking; assert the server's memory and the normal latency; return the
    number of attacks run."""
    base = _rss_mib(srv.pid)
    stop = time.monotonic() + ATTACK
    done: list[int] = []
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            while time.monotonic() < stop:
                attack()
                done.append(1)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    latencies, peak = [], base
    while time.monotonic() < stop:
        latencies.append(_normal_request(srv))
        peak = max(peak, _rss_mib(srv.pid))
        time.sleep(0.1)
    for w in workers:
        w.join(CLOSE + ATTACK)
    assert not errors, errors[0]
    assert latencies and max(latencies) < LATENCY, latencies
    assert peak < base + RSS_GROWTH, f"RSS {base:.0f} -> {peak:.0f} MiB"
    return len(done)


def _handshaken(srv: Serve, keylog: KeyLog) -> TlsSocket:
    """Our client, verifying the server against its CA, after the handshake."""
    ca = x509.load_pem_x509_certificate(Path(srv.ca).read_bytes())
    cfg = ClientConfig(verifier=WebPkiVerifier([ca]), keylog=keylog)
    return connect("127.0.0.1", srv.port, cfg, "localhost", timeout=CLOSE)


def _read_alert(tls: TlsSocket) -> int:
    """The fatal alert the server sends (decrypted by our client engine)."""
    with pytest.raises(AlertReceived) as info:
        while tls.recv(timeout=CLOSE):
            pass
    return info.value.description


# ---------------------------------------------------------------- the attacks


def test_warning_alerts_before_the_client_hello(srv: Serve) -> None:
    """user_canceled warnings closed at the fifth; close_notify (not counted as a warning
    before) ends the connection at once with no alert."""
    user_canceled = record(ALERT, bytes((AlertLevel.WARNING, AD.user_canceled)))
    close_notify = record(ALERT, bytes((AlertLevel.WARNING, AD.close_notify)))

    def attack() -> None:
        for flood, answer in ((user_canceled, _fatal(AD.unexpected_message)), (close_notify, b"")):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=CLOSE) as sock:
                try:
                    sock.sendall(flood * 2000)
                except (ConnectionResetError, BrokenPipeError):
                    continue  # closed before it took it all
                assert _plaintext_answer(sock) == answer

    mark = srv.log_mark()
    assert _under_attack(srv, attack, threads=2) > 10
    srv.wait_log(rf"{MAX_WARNING_ALERTS + 1} warning alerts \(limit {MAX_WARNING_ALERTS} per connection\)", mark)
    srv.wait_log(r"close_notify in state CLIENT_HELLO", mark)


def test_encrypted_warning_alerts_after_the_handshake(srv: Serve) -> None:
    """user_canceled under the client's application key, a byte of the request between each."""

    def attack() -> None:
        keylog = KeyLog()
        with _handshaken(srv, keylog) as tls:
            assert tls.conn.cipher_suite is not None
            p = Protector(SUITES[tls.conn.cipher_suite], keylog.secret("CLIENT_TRAFFIC_SECRET_0"))
            warning = bytes((AlertLevel.WARNING, AD.user_canceled))
            flood = b"".join(p.seal(ALERT, warning) + p.seal(APP, b"G") for _ in range(MAX_WARNING_ALERTS + 100))
            try:
                tls.sock.sendall(flood)
            except (ConnectionResetError, BrokenPipeError):
                return
            assert _read_alert(tls) == AD.unexpected_message

    assert _under_attack(srv, attack, threads=2) > 5


def test_key_update_flood(srv: Serve) -> None:
    """KeyUpdates with a byte of the request between each: refused once the budget is spent."""

    def attack() -> None:
        with _handshaken(srv, KeyLog()) as tls:
            conn = tls.conn
            for _ in range(2 * MAX_KEY_UPDATES):
                conn.update_keys()
                conn.send_application_data(b"G")
            try:
                tls.sock.sendall(conn.data_to_send())
            except (ConnectionResetError, BrokenPipeError):
                return
            assert _read_alert(tls) == AD.unexpected_message

    mark = srv.log_mark()
    assert _under_attack(srv, attack, threads=2) > 5
    srv.wait_log(r"KeyUpdate beyond the budget", mark)


def test_client_hellos_with_16k_extensions(srv: Serve) -> None:
    """ClientHellos of 16,000 extensions, 8 at a time: a legal hello (see limits' "CPU per
    hello"), answered with a ServerHello; other clients keep being served within the bound."""
    many = [Extension(0x7000 + n, b"") for n in range(16_000)]
    c = ClientConnection(ClientConfig(extensions_hook=lambda exts: many + exts), "localhost")
    c.start_handshake()
    hello = c.data_to_send()
    assert len(hello) > 64_000

    def attack() -> None:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=CLOSE) as sock:
            try:
                sock.sendall(hello)
                head = sock.recv(1)
            except (ConnectionResetError, BrokenPipeError):
                return
            assert head in (b"\x16", b""), head  # a handshake record (the ServerHello), or closed by the bound

    assert _under_attack(srv, attack, threads=8) > 20
