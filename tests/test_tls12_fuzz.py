"""Property tests for TLS 1.2: whatever bytes arrive, the engine fails only
with a TlsError, and stays failed.

Complete TLS 1.2 runs are recorded once per scenario. Seeded randomness, a
fixed clock, x25519 and Ed25519 certificates (deterministic signatures) make
every run byte-for-byte reproducible, so the recorded flights are valid input
for *fresh* endpoints (checked), and truncated, bit-flipped, re-split or
re-ordered copies of them reach deep into the TLS 1.2 state machines: the
plaintext Certificate / ServerKeyExchange / CertificateRequest /
ServerHelloDone / NewSessionTicket flights, the client's ClientKeyExchange
and CertificateVerify, the CCS key switch, the protected Finished messages
(also mutated *inside* the encryption, re-sealed with keys from the key
log), and post-handshake HelloRequest / ClientHello.

Invariants checked for every example:

* ``receive_data`` returns or raises a TlsError, never anything else and
  never ``internal_error`` (which would mean a handler met an exception it
  did not expect); each call returns promptly (no hang);
* after a failure the connection is poisoned: every later call raises
  ConnectionPoisoned carrying the first error, and a fatal alert was queued
  when the error has one.

Examples are derandomized; ``FUZZ_RANDOM=1`` explores afresh,
``FUZZ12_EXAMPLES=n`` changes the number of examples per test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs import make_leaf
from fuzzkit import chunked, feed, record
from https_request.log import certificate_summary
from https_request.tls.client13 import ClientConnection
from https_request.tls.debug import hexdump_lines
from https_request.tls.enums import ContentType, NamedGroup, ProtocolVersion
from https_request.tls.enums import ExtensionType as ET
from https_request.tls.errors import Reason
from https_request.tls.keyschedule12 import key_block
from https_request.tls.messages import Extension
from https_request.tls.protection12 import Protector12
from https_request.tls.server13 import ServerConnection
from https_request.tls.session import Session, SessionCache
from https_request.tls.states import HsState
from https_request.tls.suites import SUITES
from tlsenv import CA, VERIFIER, Clock, KeyLog, client_config, server_config, split_records, ticket_keys

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ12_EXAMPLES", "150")),
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
V12 = (ProtocolVersion.TLS1_2,)
H = ContentType.HANDSHAKE
CCS = ContentType.CHANGE_CIPHER_SPEC
ED_LEAF = make_leaf(CA, ["localhost"], key_type="ed25519")
ED_CLIENT = make_leaf(CA, ["client.test"], key_type="ed25519", eku="clientAuth")


class FormattingDebug:
    """A level-4 debug sink that formats everything and prints nothing, so
    the TLS 1.2 debug paths are fuzzed too."""

    threshold = 4

    def msg(self, level: int, text: str) -> None:
        str(text)

    def ret(self, level: int, fn: str, err: int) -> None:
        pass

    def buf(self, level: int, text: str, data: bytes) -> None:
        hexdump_lines(bytes(data))

    def crt(self, level: int, text: str, der: bytes) -> None:
        certificate_summary(der)


# ---------------------------------------------------------------- scenarios


def _no_etm(exts: list[Extension]) -> list[Extension]:
    return [e for e in exts if e.type != ET.encrypt_then_mac]


@dataclass(frozen=True)
class Setup:
    """How the two ends of one scenario are configured."""

    client: dict[str, Any]
    server: dict[str, Any]
    tickets: bool = True  # the server has ticket keys
    resume: str = ""  # "" | "ticket" | "id": the client offers the session recorded by the base scenario
    early_app: bool = False  # the client queues data before its hello (False Start sends it with Finished)


SETUPS: dict[str, Setup] = {
    "full": Setup(
        {"false_start": True, "alpn_protocols": ("h2", "http/1.1")}, {"alpn_protocols": ("h2",)}, early_app=True
    ),
    "client-auth": Setup(
        {"certificate": ED_CLIENT.certified_key()}, {"request_client_certificate": True, "client_verifier": VERIFIER}
    ),
    "cbc-etm": Setup({"cipher_suites": (0xC009,)}, {"cipher_suites": (0xC009, 0xC02B)}),
    "cbc-mte": Setup({"cipher_suites": (0xC00A,), "extensions_hook": _no_etm}, {"cipher_suites": (0xC00A,)}),
    "chacha": Setup(
        {"cipher_suites": (0xCCA9,), "groups": (NamedGroup.secp256r1,), "key_share_groups": ()},
        {"cipher_suites": (0xCCA9,)},
    ),
    "resume-ticket": Setup({}, {}, resume="ticket"),
    "resume-id": Setup({}, {}, tickets=False, resume="id"),
}
SCENARIOS = list(SETUPS)


@cache
def base_session(kind: str) -> tuple[Session, bytes]:
    """A session to resume (``kind`` "ticket" or "id") and, for "id", the
    server's cache entry for it."""
    cache_ = SessionCache()
    c = _client(Setup({}, {}), None)
    s = _server(Setup({}, {}, tickets=kind == "ticket"), cache_)
    _run(c, s)
    assert c.session is not None
    blob = cache_.get(c.session.session_id) if kind == "id" else None
    return c.session, blob or b""


def _client(setup: Setup, session: Session | None, keylog: KeyLog | None = None) -> ClientConnection:
    kw: dict[str, Any] = {"versions": V12, "groups": (NamedGroup.x25519,), "key_share_groups": ()}
    kw.update(setup.client)
    c = ClientConnection(client_config(keylog=keylog, debug=FormattingDebug(), **kw), "localhost", session=session)
    if setup.early_app:
        c.send_application_data(b"GET / HTTP/1.1\r\n\r\n")
    c.start_handshake()
    return c


def _server(setup: Setup, cache_: SessionCache | None = None, keylog: KeyLog | None = None) -> ServerConnection:
    clock = Clock()
    kw: dict[str, Any] = {
        "versions": (ProtocolVersion.TLS1_3, ProtocolVersion.TLS1_2),
        "certificates": (ED_LEAF.certified_key(),),
        "groups": (NamedGroup.x25519, NamedGroup.secp256r1),
    }
    kw.update(setup.server)
    if setup.tickets:
        kw["ticket_keys"] = ticket_keys(clock)
    return ServerConnection(
        server_config(
            clock=clock,
            session_cache=cache_ if cache_ is not None else SessionCache(),
            keylog=keylog,
            debug=FormattingDebug(),
            **kw,
        )
    )


def new_client(name: str, keylog: KeyLog | None = None) -> ClientConnection:
    setup = SETUPS[name]
    session = base_session(setup.resume)[0] if setup.resume else None
    return _client(setup, session, keylog)


def new_server(name: str, keylog: KeyLog | None = None) -> ServerConnection:
    setup = SETUPS[name]
    cache_ = SessionCache()
    if setup.resume == "id":
        session, blob = base_session("id")
        cache_.put(session.session_id, blob)
    return _server(setup, cache_, keylog)


@dataclass(frozen=True)
class Recording:
    to_server: bytes  # everything the client sent
    to_client: bytes  # everything the server sent
    flights_to_server: tuple[bytes, ...]
    flights_to_client: tuple[bytes, ...]
    client_random: bytes
    server_random: bytes
    master: bytes
    suite: int
    etm: bool


def _pump(c: ClientConnection, s: ServerConnection, to_s: list[bytes], to_c: list[bytes]) -> None:
    for _ in range(10):
        out = c.data_to_send()
        if out:
            to_s.append(out)
            s.receive_data(out)
        back = s.data_to_send()
        if back:
            to_c.append(back)
            c.receive_data(back)
        if not out and not back:
            return
    raise AssertionError("the connections did not settle")


def _run(c: ClientConnection, s: ServerConnection) -> tuple[list[bytes], list[bytes]]:
    """The handshake, then application data both ways; the flights each side sent."""
    to_s: list[bytes] = []
    to_c: list[bytes] = []
    _pump(c, s, to_s, to_c)
    assert c.state == s.state == HsState.HANDSHAKE_OVER
    assert c.negotiated_version == ProtocolVersion.TLS1_2
    c.send_application_data(b"after the handshake")
    s.send_application_data(b"HTTP/1.1 200 OK\r\n\r\n")
    _pump(c, s, to_s, to_c)
    return to_s, to_c


@cache
def recording(name: str) -> Recording:
    ckl = KeyLog()
    c, s = new_client(name, ckl), new_server(name)
    to_s, to_c = _run(c, s)
    assert c.resumed == bool(SETUPS[name].resume)
    # reproducible: fresh endpoints accept the recorded bytes
    s2, c2 = new_server(name), new_client(name)
    assert feed(s2, [b"".join(to_s)]) is None and s2.state == HsState.HANDSHAKE_OVER
    assert feed(c2, [b"".join(to_c)]) is None and c2.state == HsState.HANDSHAKE_OVER
    line = next(ln.split() for ln in ckl.lines if ln.startswith("CLIENT_RANDOM "))
    server_random = split_records(to_c[0])[0][2][4 + 2 : 4 + 2 + 32]
    suite = c.cipher_suite or 0
    etm = SUITES[suite].cbc and "extensions_hook" not in SETUPS[name].client
    return Recording(
        b"".join(to_s),
        b"".join(to_c),
        tuple(to_s),
        tuple(to_c),
        c.client_random,
        server_random,
        bytes.fromhex(line[2]),
        suite,
        etm,
    )


def protectors(rec: Recording) -> tuple[Protector12, Protector12]:
    """(client write, server write) for the recorded connection."""
    suite = SUITES[rec.suite]
    cmac, smac, ckey, skey, civ, siv = key_block(
        suite.hash_name, rec.master, rec.client_random, rec.server_random, suite.mac_len, suite.key_len, suite.iv_len
    )
    return (
        Protector12(suite, ckey, civ, cmac, etm=rec.etm, random=bytes),
        Protector12(suite, skey, siv, smac, etm=rec.etm, random=bytes),
    )


# ---------------------------------------------------------------- invariants


# ------------------------------------------------------------------ mutations


records_strategy = st.lists(
    st.builds(
        record,
        st.sampled_from([20, 21, 22, 23, 24, 0, 255]),
        st.binary(max_size=120) | st.sampled_from([b"\x01", b"\x02\x28", b"\x01\x64", b"\x00\x00\x00\x00"]),
        st.sampled_from([b"\x03\x03", b"\x03\x01", b"\x03\x04", b"\x02\x00"]),
    ),
    max_size=4,
).map(b"".join)


def _records(buf: bytes) -> list[bytes] | None:
    out, pos = [], 0
    while pos + 5 <= len(buf):
        n = int.from_bytes(buf[pos + 3 : pos + 5], "big")
        if pos + 5 + n > len(buf):
            return None
        out.append(buf[pos : pos + 5 + n])
        pos += 5 + n
    return out if pos == len(buf) else None


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with one to three edits: truncation, bit flips, byte values,
    inserted or deleted bytes, inserted/dropped/duplicated/swapped records,
    a record split in two."""
    buf = bytearray(data)
    for op in draw(
        st.lists(
            st.sampled_from(["truncate", "flip", "flip", "set", "insert", "delete", "record", "record", "split"]),
            min_size=1,
            max_size=3,
        )
    ):
        if op == "truncate":
            buf = buf[: draw(st.integers(0, len(buf)))]
        elif op in ("flip", "set") and buf:
            i = draw(st.integers(0, len(buf) - 1))
            if op == "flip":
                buf[i] ^= 1 << draw(st.integers(0, 7))
            else:
                buf[i] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]))
        elif op == "insert":
            i = draw(st.integers(0, len(buf)))
            buf = buf[:i] + draw(st.binary(min_size=1, max_size=16)) + buf[i:]
        elif op == "delete":
            i = draw(st.integers(0, len(buf)))
            buf = buf[:i] + buf[i + draw(st.integers(1, 16)) :]
        elif op in ("record", "split"):
            recs = _records(bytes(buf))
            if not recs:
                continue
            i = draw(st.integers(0, len(recs) - 1))
            if op == "split":  # one record's payload over two records of the same type
                r = recs[i]
                payload = r[5:]
                cut = draw(st.integers(0, len(payload)))
                recs[i : i + 1] = [record(r[0], payload[:cut], r[1:3]), record(r[0], payload[cut:], r[1:3])]
            else:
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
            buf = bytearray(b"".join(recs))
    return bytes(buf)


# ---------------------------------------------------------------- the tests


def test_recordings_replay() -> None:
    for name in SCENARIOS:
        rec = recording(name)
        s, c = new_server(name), new_client(name)
        assert feed(s, list(rec.flights_to_server), eof=True) is None and s.state == HsState.HANDSHAKE_OVER
        assert feed(c, list(rec.flights_to_client), eof=True) is None and c.state == HsState.HANDSHAKE_OVER


@FUZZ
@given(st.data(), st.sampled_from(SCENARIOS))
def test_split_anywhere_still_works(data: st.DataObject, name: str) -> None:
    """Unchanged flights cut at arbitrary points: the handshake completes."""
    rec = recording(name)
    s, c = new_server(name), new_client(name)
    assert feed(s, data.draw(chunked(rec.to_server))) is None and s.state == HsState.HANDSHAKE_OVER
    assert feed(c, data.draw(chunked(rec.to_client))) is None and c.state == HsState.HANDSHAKE_OVER


@FUZZ
@given(st.data(), st.sampled_from(SCENARIOS), st.one_of(st.binary(max_size=300), records_strategy), st.booleans())
def test_arbitrary_bytes(data: st.DataObject, name: str, stream: bytes, eof: bool) -> None:
    """Garbage to a fresh server, and to a client waiting for its ServerHello."""
    feed(new_server(name), data.draw(chunked(stream)), eof)
    feed(new_client(name), data.draw(chunked(stream)), eof)


@FUZZ
@given(st.data(), st.sampled_from(SCENARIOS), st.booleans())
def test_server_mutated_client_flights(data: st.DataObject, name: str, eof: bool) -> None:
    rec = recording(name)
    stream = data.draw(mutated(rec.to_server))
    feed(new_server(name), data.draw(chunked(stream)), eof)


@FUZZ
@given(st.data(), st.sampled_from(SCENARIOS), st.booleans())
def test_client_mutated_server_flights(data: st.DataObject, name: str, eof: bool) -> None:
    rec = recording(name)
    stream = data.draw(mutated(rec.to_client))
    feed(new_client(name), data.draw(chunked(stream)), eof)


@FUZZ
@given(st.data(), st.sampled_from(SCENARIOS))
def test_truncated_flights_then_eof(data: st.DataObject, name: str) -> None:
    """A flight cut short and the transport closing: TRUNCATED (or a clean
    close after the handshake), never anything else."""
    rec = recording(name)
    for conn, stream in ((new_server(name), rec.to_server), (new_client(name), rec.to_client)):
        cut = data.draw(st.integers(0, len(stream)))
        err = feed(conn, [stream[:cut]], eof=True)
        if err is not None:
            assert err.reason is Reason.TRUNCATED, err


# ------------------------------------------------ inside the protected records


@st.composite
def resealed(draw: st.DrawFn, p: Protector12, plaintext: bytes) -> bytes:
    """``plaintext`` handshake bytes sealed in records of random sizes, now
    and then with a record of another content type in between."""
    out = b""
    pos = 0
    while pos < len(plaintext) or not out:
        n = draw(st.integers(1, 64))
        out += p.seal(H, plaintext[pos : pos + n])
        pos += n
        if draw(st.integers(0, 9)) == 0:
            out += p.seal(draw(st.sampled_from([21, 23, 22, 99])), draw(st.binary(max_size=8)))
    return out


def _last_ccs(stream: bytes) -> int:
    """Index (in records) of the last ChangeCipherSpec."""
    recs = split_records(stream)
    return max(i for i, r in enumerate(recs) if r[0] == CCS)


@FUZZ
@given(st.data(), st.sampled_from(SCENARIOS), st.booleans())
def test_server_mutated_protected_finished(data: st.DataObject, name: str, eof: bool) -> None:
    """The client's Finished mutated inside the encryption (and re-framed)."""
    rec = recording(name)
    cw, _ = protectors(rec)
    recs = split_records(rec.to_server)
    ccs = _last_ccs(rec.to_server)
    fin_header, fin_payload = recs[ccs + 1][1], recs[ccs + 1][2]
    ctype, fin = cw.open(fin_header, fin_payload)
    assert ctype == H and fin[0] == 20
    cw.seq = 0
    head = b"".join(h + p for _, h, p in recs[: ccs + 1])
    body = data.draw(resealed(cw, data.draw(mutated(fin))))
    feed(new_server(name), data.draw(chunked(head + body)), eof)


@FUZZ
@given(st.data(), st.sampled_from(SCENARIOS), st.booleans())
def test_client_mutated_protected_finished(data: st.DataObject, name: str, eof: bool) -> None:
    """The server's Finished mutated inside the encryption (and re-framed)."""
    rec = recording(name)
    _, sw = protectors(rec)
    recs = split_records(rec.to_client)
    ccs = _last_ccs(rec.to_client)
    ctype, fin = sw.open(recs[ccs + 1][1], recs[ccs + 1][2])
    assert ctype == H and fin[0] == 20
    sw.seq = 0
    head = b"".join(h + p for _, h, p in recs[: ccs + 1])
    body = data.draw(resealed(sw, data.draw(mutated(fin))))
    feed(new_client(name), data.draw(chunked(head + body)), eof)


POST_HANDSHAKE = [
    b"\x00\x00\x00\x00",  # HelloRequest
    b"\x01\x00\x00\x04\x03\x03\x00\x00",  # a (broken) ClientHello: renegotiation
    b"\x04\x00\x00\x06\x00\x00\x00\x01\x00\x00",  # NewSessionTicket out of place
    b"\x14\x00\x00\x0c" + bytes(12),  # Finished again
    b"\x18\x00\x00\x01\x01",  # KeyUpdate (TLS 1.3 only)
]


@FUZZ
@given(
    st.data(),
    st.sampled_from(["full", "cbc-mte", "resume-ticket"]),
    st.lists(st.sampled_from(POST_HANDSHAKE), min_size=1, max_size=3),
    st.booleans(),
)
def test_post_handshake_messages(data: st.DataObject, name: str, msgs: list[bytes], mutate: bool) -> None:
    """Post-handshake handshake messages both ways, inside the encryption:
    renegotiation is refused with a warning, everything else fails cleanly."""
    rec = recording(name)
    plain = b"".join(msgs)
    if mutate:
        plain = data.draw(mutated(plain))
    cw, sw = protectors(rec)
    # the recorded streams end with the application data; continue their sequence numbers
    c_sent = len(split_records(rec.to_server)) - _last_ccs(rec.to_server) - 1
    s_sent = len(split_records(rec.to_client)) - _last_ccs(rec.to_client) - 1
    cw.seq, sw.seq = c_sent, s_sent
    s = new_server(name)
    assert feed(s, [rec.to_server]) is None
    feed(s, data.draw(chunked(data.draw(resealed(cw, plain)))))
    c = new_client(name)
    assert feed(c, [rec.to_client]) is None
    feed(c, data.draw(chunked(data.draw(resealed(sw, plain)))))
