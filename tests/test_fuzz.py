"""Property tests: whatever bytes arrive, the engine fails only with TlsError.

A complete handshake is recorded once. With seeded randomness, a fixed clock,
x25519 and an Ed25519 server certificate (deterministic signatures) it is
byte-for-byte reproducible, so the recorded flights are valid input for
*fresh* endpoints, and mutations of them reach deep into the state machines.

Invariants checked for every example:

* ``receive_data`` returns or raises a TlsError (never anything else, never
  ConnectionPoisoned on the first failure), so it also never hangs;
* the error is never ``internal_error`` (an unexpected exception in a
  handler, converted by the catch-all in ``receive_data``);
* after the failure the connection is poisoned: every later call raises
  ConnectionPoisoned carrying the first error, and an alert was queued when
  the error has one.

Examples are derandomized (the same on every run); set ``FUZZ_RANDOM=1`` for
a fresh random exploration and ``FUZZ_EXAMPLES=n`` for more (or fewer) of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs import make_leaf
from fuzzkit import chunked, feed, record
from https_request.structs import replace
from https_request.tls.client13 import ClientConnection
from https_request.tls.enums import ContentType, ExtensionType, NamedGroup
from https_request.tls.messages import ClientHello, Extension
from https_request.tls.server13 import ServerConnection
from https_request.tls.session import Session
from https_request.tls.states import HsState
from tlsenv import (
    CA,
    Clock,
    FormattingDebug,
    KeyLog,
    client_config,
    open_records,
    seal_records,
    server_config,
    split_records,
    ticket_keys,
)

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
ED_LEAF = make_leaf(CA, ["localhost"], key_type="ed25519")
H = ContentType.HANDSHAKE


def new_client(keylog: KeyLog | None = None, session: Session | None = None, hrr: bool = False) -> ClientConnection:
    """A client that has sent its hello (and, resuming, 0-RTT data)."""
    c = ClientConnection(
        client_config(
            groups=(NamedGroup.x25519, NamedGroup.secp256r1),
            key_share_groups=(NamedGroup.x25519,),
            alpn_protocols=("h2", "http/1.1"),
            early_data=True,
            keylog=keylog,
            debug=FormattingDebug(),
        ),
        "localhost",
        session=session,
    )
    c.start_handshake()
    if session is not None:
        c.send_application_data(b"GET / 0-RTT")
    return c


def new_server(keylog: KeyLog | None = None, session: Session | None = None, hrr: bool = False) -> ServerConnection:
    """``hrr``: the server wants secp256r1 (the client shares only x25519) and sends a cookie."""
    clock = Clock()
    return ServerConnection(
        server_config(
            certificates=(ED_LEAF.certified_key(),),
            ticket_keys=ticket_keys(clock),
            alpn_protocols=("h2",),
            max_early_data=1024,
            groups=(NamedGroup.secp256r1,) if hrr else (NamedGroup.x25519,),
            hrr_cookie=hrr,
            clock=clock,
            keylog=keylog,
            debug=FormattingDebug(),
        )
    )


@dataclass(frozen=True)
class Transcript:
    hello: bytes  # client -> server: ClientHello record
    server_flight: bytes  # ServerHello, CCS, protected EE..Finished
    client_flight: bytes  # CCS, protected Finished
    tickets: bytes  # protected NewSessionTickets + application data
    suite: int
    s_hs: bytes  # SERVER_HANDSHAKE_TRAFFIC_SECRET
    c_hs: bytes  # CLIENT_HANDSHAKE_TRAFFIC_SECRET
    s_ap: bytes  # SERVER_TRAFFIC_SECRET_0
    session: Session


@cache
def transcript() -> Transcript:
    ckl, skl = KeyLog(), KeyLog()
    c, s = new_client(ckl), new_server(skl)
    hello = c.data_to_send()
    s.receive_data(hello)
    server_flight = s.data_to_send()
    c.receive_data(server_flight)
    client_flight = c.data_to_send()
    s.receive_data(client_flight)
    s.send_application_data(b"response body")
    tickets = s.data_to_send()
    c.receive_data(tickets)
    assert c.state == s.state == HsState.HANDSHAKE_OVER
    # reproducible: a fresh pair sends the very same bytes
    c2, s2 = new_client(), new_server()
    assert c2.data_to_send() == hello
    s2.receive_data(hello)
    assert s2.data_to_send() == server_flight
    return Transcript(
        hello,
        server_flight,
        client_flight,
        tickets,
        s.cipher_suite or 0,
        skl.secret("SERVER_HANDSHAKE_TRAFFIC_SECRET"),
        ckl.secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
        skl.secret("SERVER_TRAFFIC_SECRET_0"),
        c.session,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Recording:
    """Everything each side received in a complete run of one scenario."""

    to_server: bytes
    to_client: bytes


def _run(c: ClientConnection, s: ServerConnection) -> Recording:
    to_s, to_c = bytearray(), bytearray()
    for _ in range(10):
        out = c.data_to_send()
        if out:
            to_s += out
            s.receive_data(out)
        back = s.data_to_send()
        if back:
            to_c += back
            c.receive_data(back)
        if not out and not back:
            break
    assert c.state == s.state == HsState.HANDSHAKE_OVER
    return Recording(bytes(to_s), bytes(to_c))


SCENARIOS = ["full", "resume-0rtt", "hrr-cookie"]


@cache
def scenario(name: str) -> tuple[Recording, Session | None, bool]:
    """A recorded run, reproducible byte for byte by fresh endpoints (checked)."""
    session = transcript().session if name == "resume-0rtt" else None
    hrr = name == "hrr-cookie"
    c, s = new_client(session=session, hrr=hrr), new_server(session=session, hrr=hrr)
    rec = _run(c, s)
    assert c.resumed == (session is not None) and c.early_data_accepted == (session is not None)
    s2 = new_server(session=session, hrr=hrr)
    c2 = new_client(session=session, hrr=hrr)
    assert feed(s2, [rec.to_server]) is None and feed(c2, [rec.to_client]) is None
    assert s2.state == c2.state == HsState.HANDSHAKE_OVER
    return rec, session, hrr


# ---------------------------------------------------------------- invariants


# ------------------------------------------------------------------ mutations


records_strategy = st.lists(
    st.builds(
        record,
        st.sampled_from([20, 21, 22, 23, 24, 0, 255]),
        st.binary(max_size=120),
        st.sampled_from([b"\x03\x03", b"\x03\x01", b"\x03\x04", b"\x02\x00"]),
    ),
    max_size=4,
).map(b"".join)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few random edits: truncation, bit flips, inserted or
    removed bytes, inserted, dropped, duplicated or swapped records."""
    buf = bytearray(data)
    for op in draw(st.lists(st.sampled_from(OPS), min_size=1, max_size=3)):
        buf = op(draw, buf)
    return bytes(buf)


def _truncate(draw: st.DrawFn, buf: bytearray) -> bytearray:
    return buf[: draw(st.integers(0, len(buf)))]


def _flip(draw: st.DrawFn, buf: bytearray) -> bytearray:
    if buf:
        i = draw(st.integers(0, len(buf) - 1))
        buf[i] ^= 1 << draw(st.integers(0, 7))
    return buf


def _set_byte(draw: st.DrawFn, buf: bytearray) -> bytearray:
    if buf:
        buf[draw(st.integers(0, len(buf) - 1))] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]))
    return buf


def _insert_bytes(draw: st.DrawFn, buf: bytearray) -> bytearray:
    i = draw(st.integers(0, len(buf)))
    return buf[:i] + draw(st.binary(min_size=1, max_size=16)) + buf[i:]


def _delete_bytes(draw: st.DrawFn, buf: bytearray) -> bytearray:
    i = draw(st.integers(0, len(buf)))
    return buf[:i] + buf[i + draw(st.integers(1, 16)) :]


def _records(buf: bytearray) -> list[bytes] | None:
    try:
        return [h + p for _, h, p in split_records(bytes(buf))]
    except AssertionError:
        return None


def _record_op(draw: st.DrawFn, buf: bytearray) -> bytearray:
    recs = _records(buf)
    if not recs:
        return buf
    i = draw(st.integers(0, len(recs) - 1))
    kind = draw(st.sampled_from(["insert", "drop", "dup", "swap"]))
    if kind == "insert":
        recs.insert(i, draw(records_strategy))
    elif kind == "drop":
        del recs[i]
    elif kind == "dup":
        recs.insert(i, recs[i])
    else:
        j = draw(st.integers(0, len(recs) - 1))
        recs[i], recs[j] = recs[j], recs[i]
    return bytearray(b"".join(recs))


OPS = [_truncate, _flip, _flip, _set_byte, _insert_bytes, _delete_bytes, _record_op, _record_op]


# ---------------------------------------------------------------- arbitrary


@FUZZ
@given(st.data(), st.one_of(st.binary(max_size=400), records_strategy), st.booleans())
def test_server_arbitrary_bytes(data: st.DataObject, stream: bytes, eof: bool) -> None:
    feed(new_server(), data.draw(chunked(stream)), eof)


@FUZZ
@given(st.data(), st.one_of(st.binary(max_size=400), records_strategy), st.booleans())
def test_client_arbitrary_bytes(data: st.DataObject, stream: bytes, eof: bool) -> None:
    feed(new_client(), data.draw(chunked(stream)), eof)


# ------------------------------------------------------- mutated transcripts


def test_recorded_transcript_replays() -> None:
    t = transcript()
    c, s = new_client(), new_server()
    assert feed(s, [t.hello, t.client_flight]) is None and s.state == HsState.HANDSHAKE_OVER
    assert feed(c, [t.server_flight, t.tickets], eof=True) is None and c.state == HsState.HANDSHAKE_OVER


@pytest.mark.parametrize("name", SCENARIOS)
@FUZZ
@given(data=st.data(), eof=st.booleans())
def test_server_mutated_client_flights(name: str, data: st.DataObject, eof: bool) -> None:
    rec, session, hrr = scenario(name)
    stream = data.draw(mutated(rec.to_server))
    feed(new_server(session=session, hrr=hrr), data.draw(chunked(stream)), eof)


@pytest.mark.parametrize("name", SCENARIOS)
@FUZZ
@given(data=st.data(), eof=st.booleans())
def test_client_mutated_server_flights(name: str, data: st.DataObject, eof: bool) -> None:
    rec, session, hrr = scenario(name)
    stream = data.draw(mutated(rec.to_client))
    feed(new_client(session=session, hrr=hrr), data.draw(chunked(stream)), eof)


def _protected_handshake(t: Transcript, recs: list[tuple[int, bytes, bytes]], secret: bytes) -> bytes:
    return b"".join(d for _, d in open_records(t.suite, secret, recs))


@st.composite
def reframed(draw: st.DrawFn, t: Transcript, secret: bytes, plaintext: bytes) -> bytes:
    """``plaintext`` handshake bytes re-encrypted in records of random sizes,
    sometimes with a stray record of another content type in between."""
    items: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(plaintext) or not items:
        n = draw(st.integers(1, 600))
        items.append((H, plaintext[pos : pos + n]))
        pos += n
        if draw(st.integers(0, 9)) == 0:
            items.append((draw(st.sampled_from([21, 22, 23, 20, 99])), draw(st.binary(max_size=8))))
    return seal_records(t.suite, secret, items)


@FUZZ
@given(st.data(), st.booleans())
def test_client_mutated_protected_server_messages(data: st.DataObject, eof: bool) -> None:
    """EncryptedExtensions..Finished mutated *inside* the encryption."""
    t = transcript()
    recs = split_records(t.server_flight)
    plain = _protected_handshake(t, recs[2:], t.s_hs)
    head = b"".join(h + p for _, h, p in recs[:2])
    body = data.draw(reframed(t, t.s_hs, data.draw(mutated(plain))))
    feed(new_client(), data.draw(chunked(head + body)), eof)


@FUZZ
@given(st.data(), st.booleans())
def test_server_mutated_protected_client_finished(data: st.DataObject, eof: bool) -> None:
    t = transcript()
    recs = split_records(t.client_flight)
    assert recs[0][0] == ContentType.CHANGE_CIPHER_SPEC
    plain = _protected_handshake(t, recs[1:], t.c_hs)
    body = data.draw(reframed(t, t.c_hs, data.draw(mutated(plain))))
    feed(new_server(), [t.hello, *data.draw(chunked(recs[0][1] + recs[0][2] + body))], eof)


@FUZZ
@given(st.data(), st.booleans())
def test_client_mutated_post_handshake_messages(data: st.DataObject, eof: bool) -> None:
    """NewSessionTickets (and a KeyUpdate) mutated inside the application-key encryption."""
    t = transcript()
    recs = split_records(t.tickets)
    opened = open_records(t.suite, t.s_ap, recs)
    plain = b"".join(d for ctype, d in opened if ctype == H) + b"\x18\x00\x00\x01\x01"
    c = new_client()
    assert feed(c, [t.server_flight]) is None and c.state == HsState.HANDSHAKE_OVER
    body = data.draw(reframed(t, t.s_ap, data.draw(mutated(plain))))
    feed(c, data.draw(chunked(body)), eof)


# ------------------------------------------------- structured ClientHello edits


def _hello_from(ch: ClientHello, split: int) -> bytes:
    body = ch.encode()
    msg = b"\x01" + len(body).to_bytes(3, "big") + body
    if 0 < split < len(msg):  # the hello spread over two records
        return record(H, msg[:split], b"\x03\x01") + record(H, msg[split:])
    return record(H, msg, b"\x03\x01")


KNOWN_EXTS = [int(e) for e in ExtensionType] + [0x0A0A, 0xFFCE]


@st.composite
def edited_hello(draw: st.DrawFn, base: bytes) -> ClientHello:
    ch = ClientHello.decode(base)
    exts = list(ch.extensions)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                ["drop", "body", "flip", "truncate", "add", "dup", "move", "suites", "version", "compression", "sid"]
            )
        )
        i = draw(st.integers(0, max(len(exts) - 1, 0)))
        if kind == "drop" and exts:
            del exts[i]
        elif kind == "body" and exts:
            exts[i] = Extension(exts[i].type, draw(st.binary(max_size=40)))
        elif kind == "flip" and exts and exts[i].data:
            d = bytearray(exts[i].data)
            d[draw(st.integers(0, len(d) - 1))] ^= 1 << draw(st.integers(0, 7))
            exts[i] = Extension(exts[i].type, bytes(d))
        elif kind == "truncate" and exts:
            exts[i] = Extension(exts[i].type, exts[i].data[: draw(st.integers(0, len(exts[i].data)))])
        elif kind == "add":
            exts.insert(i, Extension(draw(st.sampled_from(KNOWN_EXTS)), draw(st.binary(max_size=40))))
        elif kind == "dup" and exts:
            exts.insert(i, exts[i])
        elif kind == "move" and exts:
            exts.insert(draw(st.integers(0, len(exts))), exts.pop(i))
        elif kind == "suites":
            ch = replace(
                ch,
                cipher_suites=tuple(
                    draw(
                        st.lists(
                            st.integers(0, 0xFFFF) | st.sampled_from([0x1301, 0x1302, 0x1303, 0x1304, 0x1305, 0x00FF]),
                            min_size=1,
                            max_size=6,
                        )
                    )
                ),
            )
        elif kind == "version":
            ch = replace(ch, legacy_version=draw(st.sampled_from([0x0300, 0x0301, 0x0304, 0x7F1C, 0xFFFF])))
        elif kind == "compression":
            ch = replace(ch, legacy_compression_methods=draw(st.binary(min_size=1, max_size=3)))
        elif kind == "sid":
            ch = replace(ch, legacy_session_id=draw(st.binary(max_size=32)))
    return replace(ch, extensions=tuple(exts))


def _first_record(data: bytes) -> bytes:
    n = int.from_bytes(data[3:5], "big")
    return data[5 : 5 + n]


@pytest.mark.parametrize("name", ["full", "resume-0rtt"])
@FUZZ
@given(data=st.data(), split=st.integers(0, 300), with_rest=st.booleans())
def test_server_client_hello_mutations(name: str, data: st.DataObject, split: int, with_rest: bool) -> None:
    """Any edit of a real ClientHello (with a PSK, too): the server fails only with TlsError."""
    rec, session, _ = scenario(name)
    first = _first_record(rec.to_server)
    ch = data.draw(edited_hello(first[4:]))
    try:
        hello = _hello_from(ch, split)
    except OverflowError:
        return
    rest = rec.to_server[5 + len(first) :]
    feed(new_server(session=session), [hello, rest] if with_rest else [hello])


@FUZZ
@given(st.data())
def test_server_client_hello_extension_bodies(data: st.DataObject) -> None:
    """Each extension we parse, with an arbitrary body."""
    t = transcript()
    ch = ClientHello.decode(t.hello[9:])
    etype = data.draw(st.sampled_from([e.type for e in ch.extensions]))
    prefixed = st.builds(lambda b: len(b).to_bytes(2, "big") + b, st.binary(max_size=62))
    body = data.draw(st.binary(max_size=64) | prefixed)
    exts = tuple(Extension(e.type, body) if e.type == etype else e for e in ch.extensions)
    feed(new_server(), [_hello_from(replace(ch, extensions=exts), 0)])
