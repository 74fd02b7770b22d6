"""Every bound of :mod:`https_request.tls.limits`, each against a peer that passes it (issue 9).

In memory, our own client and server engines flood each other through their
public API (``update_keys``, ``send_application_data``, a configured
certificate chain) or with raw records sealed under the keys their key log
gave (empty records, warning alerts, change_cipher_spec), on both sides and
both versions; one record under the bound passes, the next fails with
``Reason.FLOOD`` (or ``CERT_BAD``) and the peer reads the alert.

Over sockets, a hostile server built from our server engine: after a real
handshake it keeps sending NewSessionTicket records sealed under its
application key until the client hangs up. Before these bounds such a server
took ``get`` to hundreds of megabytes within its timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from echoserver import Served, ServerThread
from fuzzkit import record
from helpers import drain, shuttle
from https_request.io.aio import TlsStream
from https_request.io.blocking import connect
from https_request.structs import replace
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import CertifiedKey
from https_request.tls.enums import AlertDescription as AD
from https_request.tls.enums import AlertLevel, ContentType
from https_request.tls.enums import HandshakeType as HT
from https_request.tls.errors import AlertReceived, LocalProtocolError, Reason, TlsError
from https_request.tls.events import AlertReceivedEvent, ApplicationData, CloseNotify
from https_request.tls.limits import (
    MAX_CERTIFICATE_CHAIN,
    MAX_EMPTY_RECORDS,
    MAX_KEY_UPDATES,
    MAX_POST_HANDSHAKE_MESSAGES,
    MAX_TICKETS_KEPT,
    MAX_UNREAD_BYTES,
    MAX_WARNING_ALERTS,
    RECORDS_PER_KEY_UPDATE,
)
from https_request.tls.messages import ClientHello, Extension, NewSessionTicket, handshake_message
from https_request.tls.protection import Protector
from https_request.tls.server13 import ServerConnection
from https_request.tls.suites import SUITES
from tlsenv import (
    CA,
    LEAF,
    KeyLog,
    client_config,
    pair,
    plaintext_alert,
    server_config,
    split_records,
    tls12_protectors,
)

pytestmark = pytest.mark.timeout(60)

H = ContentType.HANDSHAKE
APP = ContentType.APPLICATION_DATA
ALERT = ContentType.ALERT
CCS_RECORD = b"\x14\x03\x03\x00\x01\x01"
TLS12 = (0x0303,)


def _established(
    versions: tuple[int, ...] = (0x0304,),
) -> tuple[ClientConnection, ServerConnection, KeyLog, KeyLog, bytes]:
    """A completed handshake (no tickets): client, server, their key logs, the server random."""
    ckl, skl = KeyLog(), KeyLog()
    c, s = pair(client_config(versions=versions, keylog=ckl), server_config(versions=(0x0304, 0x0303), keylog=skl))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    flight = s.data_to_send()
    server_random = flight[5 + 4 + 2 : 5 + 4 + 34]  # record header, handshake header, legacy_version
    c.receive_data(flight)
    shuttle(c, s)
    assert not c.is_handshaking and not s.is_handshaking
    return c, s, ckl, skl, server_random


def _sealer(
    versions: tuple[int, ...], c: ClientConnection, keylog: KeyLog, server_random: bytes, *, client: bool
) -> Callable[[list[tuple[int, bytes]]], bytes]:
    """Seals records as the client (or the server) would after its Finished, from its key log;
    the record sequence carries over from one call to the next."""
    assert c.cipher_suite is not None
    if versions == TLS12:
        cw, sw = tls12_protectors(keylog, c.client_random, server_random, c.cipher_suite, etm=False)
        writer = cw if client else sw
        writer.seq = 1  # after the Finished
        return lambda items: b"".join(writer.seal(t, d) for t, d in items)
    secret = keylog.secret("CLIENT_TRAFFIC_SECRET_0" if client else "SERVER_TRAFFIC_SECRET_0")
    protector = Protector(SUITES[c.cipher_suite], secret)
    return lambda items: b"".join(protector.seal(t, d) for t, d in items)


def _refused_with_flood(receiver: ClientConnection | ServerConnection, data: bytes) -> TlsError:
    with pytest.raises(TlsError) as info:
        receiver.receive_data(data)
    assert info.value.reason is Reason.FLOOD
    return info.value


def _alert_read_by(peer: ClientConnection | ServerConnection, data: bytes) -> int:
    """The fatal alert ``peer`` reads in ``data`` (decrypted by the peer itself)."""
    with pytest.raises(AlertReceived) as info:
        peer.receive_data(data)
    return info.value.description


# ---------------------------------------------------------------- post-handshake messages


@pytest.mark.parametrize("flooder", ["client", "server"])
def test_key_updates_without_application_data(flooder: str) -> None:
    """MAX_POST_HANDSHAKE_MESSAGES: KeyUpdates (each one a key derivation) sent back to back."""
    c, s, *_ = _established()
    sender, receiver = (c, s) if flooder == "client" else (s, c)
    for _ in range(MAX_POST_HANDSHAKE_MESSAGES):
        sender.update_keys()
    receiver.receive_data(sender.data_to_send())  # up to the bound: fine
    sender.update_keys()
    err = _refused_with_flood(receiver, sender.data_to_send())
    assert f"{MAX_POST_HANDSHAKE_MESSAGES + 1} handshake messages after the handshake" in str(err)
    assert _alert_read_by(sender, receiver.data_to_send()) == AD.unexpected_message


@pytest.mark.parametrize("flooder", ["client", "server"])
def test_key_updates_between_application_data(flooder: str) -> None:
    """MAX_KEY_UPDATES / RECORDS_PER_KEY_UPDATE: one byte of data between KeyUpdates no longer
    re-arms the bound (issue 12: 741,000 KeyUpdates on one connection); records refill the budget."""
    c, s, *_ = _established()
    sender, receiver = (c, s) if flooder == "client" else (s, c)
    for _ in range(MAX_KEY_UPDATES):
        sender.update_keys()
        sender.send_application_data(b"x")  # one record each
    refill = MAX_KEY_UPDATES // RECORDS_PER_KEY_UPDATE
    for _ in range(refill):
        sender.update_keys()
    receiver.receive_data(sender.data_to_send())  # the burst and what the records paid for
    assert b"".join(e.data for e in drain(receiver) if isinstance(e, ApplicationData)) == b"x" * MAX_KEY_UPDATES
    sender.update_keys()
    err = _refused_with_flood(receiver, sender.data_to_send())
    assert "KeyUpdate beyond the budget" in str(err)
    assert _alert_read_by(sender, receiver.data_to_send()) == AD.unexpected_message


def test_key_update_budget_refills_with_data() -> None:
    """A long-lived connection may update its keys for ever, once per RECORDS_PER_KEY_UPDATE records."""
    c, s, *_ = _established()
    for _ in range(3 * MAX_KEY_UPDATES):
        for _ in range(RECORDS_PER_KEY_UPDATE):
            c.send_application_data(b"y")
            s.send_application_data(b"z")
        c.update_keys(request_peer=True)  # s answers with its own KeyUpdate
        s.receive_data(c.data_to_send())
        c.receive_data(s.data_to_send())
    assert len([e for e in drain(s) if isinstance(e, ApplicationData)]) == 3 * MAX_KEY_UPDATES * RECORDS_PER_KEY_UPDATE
    assert s.error is None and c.error is None


# ---------------------------------------------------------------- empty records


@pytest.mark.parametrize("versions", [(0x0304,), TLS12], ids=["tls13", "tls12"])
def test_empty_application_data_records(versions: tuple[int, ...]) -> None:
    """MAX_EMPTY_RECORDS: zero-length application data records in a row (allowed one by one)."""
    c, s, ckl, _, server_random = _established(versions)
    seal = _sealer(versions, c, ckl, server_random, client=True)
    s.receive_data(seal([(APP, b"")] * MAX_EMPTY_RECORDS + [(APP, b"data")] + [(APP, b"")] * MAX_EMPTY_RECORDS))
    assert [e.data for e in drain(s) if isinstance(e, ApplicationData)] == [b"data"]
    err = _refused_with_flood(s, seal([(APP, b"")]))
    assert f"{MAX_EMPTY_RECORDS + 1} empty application data records" in str(err)
    assert _alert_read_by(c, s.data_to_send()) == AD.unexpected_message


def test_change_cipher_spec_records_during_the_handshake() -> None:
    """MAX_EMPTY_RECORDS: a TLS 1.3 client ignores compatibility CCS records, but not without end."""
    c = ClientConnection(client_config(), "localhost")
    c.start_handshake()
    c.data_to_send()
    c.receive_data(CCS_RECORD * MAX_EMPTY_RECORDS)
    err = _refused_with_flood(c, CCS_RECORD)
    assert "ignored change_cipher_spec" in str(err)
    assert plaintext_alert(c.data_to_send()) == (AlertLevel.FATAL, AD.unexpected_message)


# ---------------------------------------------------------------- warning alerts


@pytest.mark.parametrize("versions", [(0x0304,), TLS12], ids=["tls13-user-canceled", "tls12-warnings"])
def test_warning_alerts(versions: tuple[int, ...]) -> None:
    """MAX_WARNING_ALERTS: warnings over the whole connection, whatever is interleaved
    (issue 12: a byte of data between warnings re-armed a bound on warnings in a row)."""
    c, s, _, skl, server_random = _established(versions)
    seal = _sealer(versions, c, skl, server_random, client=False)
    warning = bytes((AlertLevel.WARNING, AD.no_renegotiation if versions == TLS12 else AD.user_canceled))
    for _ in range(MAX_WARNING_ALERTS):
        c.receive_data(seal([(ALERT, warning), (APP, b"data")]))
    events = drain(c)
    assert len([e for e in events if isinstance(e, AlertReceivedEvent)]) == MAX_WARNING_ALERTS  # each one reported
    err = _refused_with_flood(c, seal([(ALERT, warning)]))
    assert f"{MAX_WARNING_ALERTS + 1} warning alerts (limit {MAX_WARNING_ALERTS} per connection)" in str(err)
    assert _alert_read_by(s, c.data_to_send()) == AD.unexpected_message


def test_warning_alerts_before_the_client_hello() -> None:
    """MAX_WARNING_ALERTS before anything else (the server, in plaintext)."""
    s = ServerConnection(server_config())
    user_canceled = record(ALERT, bytes((AlertLevel.WARNING, AD.user_canceled)))
    s.receive_data(user_canceled * MAX_WARNING_ALERTS)
    err = _refused_with_flood(s, user_canceled)
    assert f"{MAX_WARNING_ALERTS + 1} warning alerts" in str(err)
    assert plaintext_alert(s.data_to_send()) == (AlertLevel.FATAL, AD.unexpected_message)


# ---------------------------------------------------------------- close_notify


def test_close_notify_ends_the_handshake() -> None:
    """close_notify before or during the handshake: the handshake cannot finish (Go: EOF);
    nothing is sent back, and the peer cannot make us process one close_notify after another."""
    s = ServerConnection(server_config())
    with pytest.raises(TlsError) as info:
        s.receive_data(record(ALERT, bytes((AlertLevel.WARNING, AD.close_notify))) * 10_000)
    assert info.value.reason is Reason.TRUNCATED and "close_notify in state CLIENT_HELLO" in str(info.value)
    assert s.data_to_send() == b""
    c = ClientConnection(client_config(), "localhost")
    c.start_handshake()
    s = ServerConnection(server_config())
    s.receive_data(c.data_to_send())
    server_hello = split_records(s.data_to_send())[0]
    assert server_hello[0] == H
    with pytest.raises(TlsError) as info:
        c.receive_data(record(H, server_hello[2]) + record(ALERT, bytes((AlertLevel.WARNING, AD.close_notify))))
    assert info.value.reason is Reason.TRUNCATED and "close_notify in state" in str(info.value)


@pytest.mark.parametrize("versions", [(0x0304,), TLS12], ids=["tls13", "tls12"])
def test_nothing_after_close_notify(versions: tuple[int, ...]) -> None:
    """RFC 8446 6.1: after close_notify the peer may send nothing; a second alert is refused."""
    c, _, _, skl, server_random = _established(versions)
    seal = _sealer(versions, c, skl, server_random, client=False)
    close_notify = bytes((AlertLevel.WARNING, AD.close_notify))
    c.receive_data(seal([(ALERT, close_notify)]))
    assert drain(c) == [CloseNotify()]
    with pytest.raises(TlsError) as info:
        c.receive_data(seal([(ALERT, close_notify)]))
    assert info.value.reason is Reason.UNEXPECTED_MESSAGE and "after close_notify" in str(info.value)


# ---------------------------------------------------------------- CPU per hello


def _hello_with(extra: int = 0, suites: int = 0) -> bytes:
    """Our ClientHello with ``extra`` empty extensions of unassigned types and ``suites``
    unassigned cipher suites in front of ours, as plaintext records."""

    def hook(exts: list[Extension]) -> list[Extension]:
        return [Extension(0x7000 + n, b"") for n in range(extra)] + exts  # pre_shared_key stays last

    c = ClientConnection(client_config(extensions_hook=hook), "localhost")
    c.start_handshake()
    if not suites:
        return c.data_to_send()
    ch = ClientHello.decode(b"".join(payload for _, _, payload in split_records(c.data_to_send()))[4:])
    ch = replace(ch, cipher_suites=(*range(0x5000, 0x5000 + suites), *ch.cipher_suites))
    msg = handshake_message(HT.CLIENT_HELLO, ch.encode())
    return b"".join(record(H, msg[off : off + 16384]) for off in range(0, len(msg), 16384))


def test_client_hello_with_16k_extensions_and_30k_suites_is_answered() -> None:
    """Not bounded by count (limits' "CPU per hello"): a conforming server answers a hello of
    16,000 unknown extensions or 30,000 cipher suites, as tlsfuzzer's large-hello tests require."""
    for hello in (_hello_with(16_000), _hello_with(suites=30_000)):
        s = ServerConnection(server_config())
        s.receive_data(hello)
        assert split_records(s.data_to_send())[0][0] == 22  # a handshake record: the ServerHello


def test_server_hello_with_many_extensions_is_read() -> None:
    """The client's side: unknown extensions in a ServerHello are refused as unsolicited, however
    many, with the alert RFC 8446 names (unsupported_extension), not a count."""
    many = [Extension(0x7000 + n, b"") for n in range(200)]
    c, s = pair(
        client_config(), server_config(extensions_hook=lambda t, exts: exts + many if t == HT.SERVER_HELLO else exts)
    )
    c.start_handshake()
    s.receive_data(c.data_to_send())
    with pytest.raises(TlsError):
        c.receive_data(s.data_to_send())
    assert plaintext_alert(c.data_to_send()) == (AlertLevel.FATAL, AD.unsupported_extension)


# ---------------------------------------------------------------- certificate chains


def _long_chain(n: int) -> CertifiedKey:
    """LEAF followed by ``n - 1`` copies of the CA (length is all that is checked first)."""
    return CertifiedKey(chain=(LEAF.cert, *([CA.cert] * (n - 1))), key=LEAF.key)


@pytest.mark.parametrize("versions", [(0x0304,), TLS12], ids=["tls13", "tls12"])
def test_server_certificate_chain_length(versions: tuple[int, ...]) -> None:
    """MAX_CERTIFICATE_CHAIN, client side: checked before any verification."""
    longest = (_long_chain(MAX_CERTIFICATE_CHAIN),)
    ok_c, ok_s = pair(client_config(versions=versions, verifier=None),
                      server_config(versions=(0x0304, 0x0303), certificates=longest))  # fmt: skip
    ok_c.start_handshake()
    shuttle(ok_c, ok_s)
    assert not ok_c.is_handshaking and len(ok_c.peer_certificates) == MAX_CERTIFICATE_CHAIN
    too_long = (_long_chain(MAX_CERTIFICATE_CHAIN + 1),)
    c, s = pair(client_config(versions=versions), server_config(versions=(0x0304, 0x0303), certificates=too_long))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    with pytest.raises(TlsError) as info:
        c.receive_data(s.data_to_send())
    assert info.value.reason is Reason.CERT_BAD and info.value.verify_flags == 0
    assert f"certificate chain of {MAX_CERTIFICATE_CHAIN + 1} certificates" in str(info.value)
    assert plaintext_alert(c.data_to_send()) == (AlertLevel.FATAL, AD.bad_certificate)


def test_client_certificate_chain_length() -> None:
    """MAX_CERTIFICATE_CHAIN, server side."""
    c, s = pair(client_config(certificate=_long_chain(MAX_CERTIFICATE_CHAIN + 1)),
                server_config(request_client_certificate=True))  # fmt: skip
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    with pytest.raises(TlsError) as info:
        s.receive_data(c.data_to_send())
    assert info.value.reason is Reason.CERT_BAD
    assert _alert_read_by(c, s.data_to_send()) == AD.bad_certificate


# ---------------------------------------------------------------- the event queue


def test_events_the_caller_leaves_unread() -> None:
    """MAX_UNREAD_BYTES: no more input while that much application data waits in the queue."""
    c, s, *_ = _established()
    blob = os.urandom(MAX_UNREAD_BYTES + 200_000)
    s.send_application_data(blob)
    wire = s.data_to_send()
    chunk, fed = 65536, 0
    with pytest.raises(LocalProtocolError) as info:
        while fed < len(wire):
            c.receive_data(wire[fed : fed + chunk])  # never drained
            fed += chunk
    assert "not taken with next_event()" in str(info.value)
    assert MAX_UNREAD_BYTES < fed < MAX_UNREAD_BYTES + 2 * chunk
    got = b"".join(e.data for e in drain(c) if isinstance(e, ApplicationData))
    c.receive_data(wire[fed:])  # nothing was lost: the refused bytes are fed again
    got += b"".join(e.data for e in drain(c) if isinstance(e, ApplicationData))
    assert got == blob


# ---------------------------------------------------------------- a hostile server over sockets


Handler = Callable[[TlsStream, Served], Awaitable[None]]


def _ticket_flood(keylog: KeyLog, tickets: int, data_between: bool) -> Handler:
    """After a real handshake, ``tickets`` NewSessionTickets (each followed by one
    byte of application data when ``data_between``), then close_notify, unless
    the client hangs up first."""

    async def handler(stream: TlsStream, rec: Served) -> None:
        rec.handshake = hs = await stream.handshake()
        # the engine sent nothing under its application key yet (no ticket keys): records from sequence 0
        p = Protector(SUITES[hs.cipher_suite], keylog.secret("SERVER_TRAFFIC_SECRET_0"))
        for n in range(tickets):
            nst = NewSessionTicket(7200, n, n.to_bytes(8, "big"), n.to_bytes(4, "big") * 50, ())
            out = p.seal(H, handshake_message(HT.NEW_SESSION_TICKET, nst.encode()))
            stream.writer.write(out + p.seal(APP, b"x") if data_between else out)
            await stream.writer.drain()  # raises once the client has hung up
        stream.writer.write(p.seal(ALERT, bytes((AlertLevel.WARNING, AD.close_notify))))
        stream.writer.close()  # our records, not the engine's, end the stream

    return handler


@pytest.fixture
def flood_keylog() -> KeyLog:
    return KeyLog()


def _flooding_server(keylog: KeyLog, tickets: int, data_between: bool) -> ServerThread:
    return ServerThread(server_config(keylog=keylog), _ticket_flood(keylog, tickets, data_between))


def test_ticket_flood_fails_the_client(flood_keylog: KeyLog) -> None:
    """MAX_POST_HANDSHAKE_MESSAGES against a server that sends tickets and nothing else."""
    with _flooding_server(flood_keylog, 20_000, data_between=False) as srv:
        with connect("127.0.0.1", srv.port, client_config(), "localhost", timeout=10) as tls:
            with pytest.raises(TlsError) as info:
                tls.recv()
            assert info.value.reason is Reason.FLOOD
            assert tls.pump.tickets == MAX_POST_HANDSHAKE_MESSAGES
            assert len(tls.sessions) == MAX_TICKETS_KEPT


def test_tickets_between_data_keep_only_the_newest(flood_keylog: KeyLog) -> None:
    """MAX_TICKETS_KEPT: a server may send tickets for ever if it sends data too; the driver keeps the newest."""
    total = 4 * MAX_POST_HANDSHAKE_MESSAGES
    with _flooding_server(flood_keylog, total, data_between=True) as srv:
        with connect("127.0.0.1", srv.port, client_config(), "localhost", timeout=10) as tls:
            data = b""
            while chunk := tls.recv():
                data += chunk
            assert data == b"x" * total
            assert tls.pump.tickets == total
            newest = range(total - MAX_TICKETS_KEPT, total)
            assert [s.ticket for s in tls.sessions] == [n.to_bytes(4, "big") * 50 for n in newest]
            assert tls.session is not None and tls.session.ticket == (total - 1).to_bytes(4, "big") * 50


@pytest.fixture
def ca_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "ca.pem"
    path.write_bytes(CA.cert_pem)
    yield path


def test_get_against_a_ticket_flood(flood_keylog: KeyLog, ca_file: Path) -> None:
    """``get`` fails at once, with the reason, instead of growing until its timeout."""
    with _flooding_server(flood_keylog, 200_000, data_between=False) as srv:
        run = subprocess.run(
            [sys.executable, "-m", "https_request", "get", "--cacert", str(ca_file), "--timeout", "20",
             f"https://localhost:{srv.port}/"],
            capture_output=True, text=True, timeout=40, check=False,
        )  # fmt: skip
    assert run.returncode not in (0, 8), run.stderr  # an error, not EXIT_TIMEOUT
    assert "too many records without application data" in run.stderr, run.stderr
    assert f"(limit {MAX_POST_HANDSHAKE_MESSAGES})" in run.stderr
