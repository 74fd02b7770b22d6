"""Our TLS 1.2 client against our TLS 1.2 server, in memory, flight by flight,
and the evidence that the TLS 1.2 defences work.

Every flight is moved by hand and checked. Records are changed in transit
the way a man in the middle would: plaintext hello records are decoded,
edited and re-encoded; protected records are opened and sealed again with
keys derived from the NSS key log (``CLIENT_RANDOM`` gives the master
secret), so neither side is mocked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from certs import make_leaf
from helpers import drain
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import ClientConfig, ServerConfig
from https_request.tls.enums import AlertDescription as AD
from https_request.tls.enums import ContentType, NamedGroup, ProtocolVersion
from https_request.tls.enums import ExtensionType as ET
from https_request.tls.enums import HandshakeType as HT
from https_request.tls.errors import AlertReceived, Reason, TlsError
from https_request.tls.events import (
    AlertReceivedEvent,
    ApplicationData,
    Event,
    HandshakeComplete,
    SessionTicketReceived,
)
from https_request.tls.messages import ClientHello, Extension, ServerHello, handshake_message
from https_request.tls.server12 import DOWNGRADE_TLS12
from https_request.tls.server13 import ServerConnection
from https_request.tls.session import Session, SessionCache
from https_request.tls.states import HsState as S
from https_request.tls.suites import SUITES, SuiteParams
from tlsenv import (
    CA,
    CLIENT_LEAF,
    LEAF,
    VERIFIER,
    Clock,
    KeyLog,
    client_config,
    client_hello_rejected,
    pair,
    plaintext_alert,
    server_config,
    split_records,
    ticket_keys,
    tls12_protectors,
)

V12 = (ProtocolVersion.TLS1_2,)
V13_12 = (ProtocolVersion.TLS1_3, ProtocolVersion.TLS1_2)
H = ContentType.HANDSHAKE
CCS = ContentType.CHANGE_CIPHER_SPEC
APP = ContentType.APPLICATION_DATA
ALERT = ContentType.ALERT
CCS_RECORD = b"\x14\x03\x03\x00\x01\x01"

RSA_LEAF = make_leaf(CA, ["localhost"], key_type="rsa")
ED_LEAF = make_leaf(CA, ["localhost"], key_type="ed25519")
# (RC4 and 3DES, server_only: test_legacy_engine with OpenSSL clients)
ECDHE_SUITES = [s for s in SUITES.values() if not s.tls13 and s.kx == "ECDHE" and not s.server_only]
AEAD_ECDHE = [s for s in ECDHE_SUITES if not s.cbc]
CBC_ECDHE = [s for s in ECDHE_SUITES if s.cbc]


def c12(**kw: Any) -> ClientConfig:
    """A TLS 1.2-only client (unless ``versions`` says otherwise)."""
    kw.setdefault("versions", V12)
    return client_config(**kw)


def s12(**kw: Any) -> ServerConfig:
    """A TLS 1.3 + 1.2 server with an ECDSA and an RSA certificate."""
    kw.setdefault("versions", V13_12)
    kw.setdefault("certificates", (LEAF.certified_key(), RSA_LEAF.certified_key()))
    return server_config(**kw)


def kinds(data: bytes) -> list[int]:
    return [ctype for ctype, _, _ in split_records(data)]


def only(events: list[Event], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def messages(stream: bytes) -> list[bytes]:
    """A handshake byte stream as whole messages (headers included)."""
    out, pos = [], 0
    while pos < len(stream):
        n = int.from_bytes(stream[pos + 1 : pos + 4], "big")
        out.append(stream[pos : pos + 4 + n])
        pos += 4 + n
    return out


def plain_handshake(flight: bytes) -> list[bytes]:
    """The handshake messages of the plaintext records before any CCS."""
    stream = b""
    for ctype, _, payload in split_records(flight):
        if ctype != H:
            break
        stream += payload
    return messages(stream)


def rebuild(msgs: list[bytes], version: bytes = b"\x03\x03") -> bytes:
    """Handshake messages as one plaintext record."""
    body = b"".join(msgs)
    return bytes((H,)) + version + len(body).to_bytes(2, "big") + body


def server_hello_of(flight: bytes) -> ServerHello:
    first = plain_handshake(flight)[0]
    assert first[0] == HT.SERVER_HELLO
    return ServerHello.decode(first[4:])


def edit_client_hello(flight: bytes, edit: Callable[[ClientHello], ClientHello]) -> bytes:
    """The ClientHello record re-encoded after ``edit`` (record version kept)."""
    [(ctype, header, payload)] = split_records(flight)
    assert ctype == H and payload[0] == HT.CLIENT_HELLO
    ch = edit(ClientHello.decode(payload[4:]))
    return rebuild([handshake_message(HT.CLIENT_HELLO, ch.encode())], header[1:3])


def edit_server_hello(flight: bytes, edit: Callable[[ServerHello], ServerHello]) -> bytes:
    """The server's flight with its ServerHello re-encoded after ``edit``."""
    recs = split_records(flight)
    n_plain = next((i for i, (ctype, _, _) in enumerate(recs) if ctype != H), len(recs))
    msgs = plain_handshake(flight)
    sh = edit(ServerHello.decode(msgs[0][4:]))
    msgs[0] = handshake_message(HT.SERVER_HELLO, sh.encode())
    return rebuild(msgs) + b"".join(h + p for _, h, p in recs[n_plain:])


def without(*types: int) -> Callable[[Any], Any]:
    """An edit dropping extensions (for ClientHello and ServerHello alike)."""

    def edit(msg: Any) -> Any:
        from https_request.structs import replace

        return replace(msg, extensions=tuple(e for e in msg.extensions if e.type not in types))

    return edit


def hook_without(*types: int) -> Callable[[list[Extension]], list[Extension]]:
    return lambda exts: [e for e in exts if e.type not in types]


# ---------------------------------------------------------------- handshakes


def full_handshake(
    c: ClientConnection, s: ServerConnection, *, cert_request: bool = False
) -> tuple[list[Event], list[Event]]:
    """A full TLS 1.2 handshake, checking the records and states of every flight."""
    c.start_handshake()
    flight1 = c.data_to_send()
    assert kinds(flight1) == [H]
    s.receive_data(flight1)
    assert s.negotiated_version == ProtocolVersion.TLS1_2
    assert s.state == (S.CLIENT_CERTIFICATE if cert_request else S.CLIENT_KEY_EXCHANGE)
    flight2 = s.data_to_send()
    assert set(kinds(flight2)) == {H}
    want = [HT.SERVER_HELLO, HT.CERTIFICATE, HT.SERVER_KEY_EXCHANGE]
    want += [HT.CERTIFICATE_REQUEST] if cert_request else []
    assert [m[0] for m in plain_handshake(flight2)] == [*want, HT.SERVER_HELLO_DONE]

    c.receive_data(flight2)
    assert c.negotiated_version == ProtocolVersion.TLS1_2
    assert c.state in (S.NEW_SESSION_TICKET, S.SERVER_CHANGE_CIPHER_SPEC)
    flight3 = c.data_to_send()
    assert kinds(flight3)[-3:] == [H, CCS, H]  # (Certificate) ClientKeyExchange (CertificateVerify), CCS, Finished

    s.receive_data(flight3)
    assert s.state == S.HANDSHAKE_OVER and not s.is_handshaking
    sev = drain(s)
    assert [type(e) for e in sev] == [HandshakeComplete]
    flight4 = s.data_to_send()
    assert kinds(flight4) in ([H, CCS, H], [CCS, H])  # (NewSessionTicket) CCS Finished

    c.receive_data(flight4)
    assert c.state == S.HANDSHAKE_OVER and not c.is_handshaking
    cev = drain(c)
    assert type(cev[0]) is HandshakeComplete
    assert c.data_to_send() == b"" and s.data_to_send() == b""
    return cev, sev


def abbreviated_handshake(
    c: ClientConnection, s: ServerConnection, *, new_ticket: bool = False
) -> tuple[list[Event], list[Event]]:
    """A resumed handshake: the server's Finished comes first."""
    c.start_handshake()
    s.receive_data(c.data_to_send())
    assert s.resumed and s.state == S.CLIENT_CHANGE_CIPHER_SPEC
    flight2 = s.data_to_send()
    assert kinds(flight2) == [H, CCS, H]
    msgs = [m[0] for m in plain_handshake(flight2)]
    assert msgs == ([HT.SERVER_HELLO, HT.NEW_SESSION_TICKET] if new_ticket else [HT.SERVER_HELLO])
    c.receive_data(flight2)
    assert c.resumed and c.state == S.HANDSHAKE_OVER
    cev = drain(c)
    assert type(cev[0]) is HandshakeComplete
    flight3 = c.data_to_send()
    assert kinds(flight3) == [CCS, H]
    s.receive_data(flight3)
    assert s.state == S.HANDSHAKE_OVER
    sev = drain(s)
    assert [type(e) for e in sev] == [HandshakeComplete]
    assert c.data_to_send() == b"" and s.data_to_send() == b""
    return cev, sev


def exchange(c: ClientConnection, s: ServerConnection, to_server: bytes = b"ping", to_client: bytes = b"pong") -> None:
    c.send_application_data(to_server)
    s.send_application_data(to_client)
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    assert b"".join(e.data for e in only(drain(s), ApplicationData)) == to_server
    assert b"".join(e.data for e in only(drain(c), ApplicationData)) == to_client


def _suite_id(s: SuiteParams) -> str:
    return s.name.removeprefix("TLS_ECDHE_")


# ------------------------------------------------------------ every suite


@pytest.mark.parametrize("suite", AEAD_ECDHE, ids=_suite_id)
def test_every_aead_suite(suite: SuiteParams) -> None:
    ckl, skl = KeyLog(), KeyLog()
    c, s = pair(c12(cipher_suites=(suite.id,), keylog=ckl), s12(cipher_suites=(suite.id,), keylog=skl))
    cev, sev = full_handshake(c, s)
    for done in (cev[0], sev[0]):
        assert isinstance(done, HandshakeComplete)
        assert done.version == ProtocolVersion.TLS1_2 and done.cipher_suite == suite.id
        assert not done.resumed and done.group == NamedGroup.x25519 and done.server_name == "localhost"
    want_leaf = RSA_LEAF if suite.auth == "RSA" else LEAF
    assert cev[0].peer_certificates == want_leaf.chain_der  # type: ignore[union-attr]
    assert ckl.lines == skl.lines and ckl.lines[0].startswith("CLIENT_RANDOM " + c.client_random.hex())
    exchange(c, s, b"x" * 20000, b"y" * 17000)  # several records each way


@pytest.mark.parametrize("etm", [True, False], ids=["etm", "mac-then-encrypt"])
@pytest.mark.parametrize("suite", CBC_ECDHE, ids=_suite_id)
def test_every_cbc_suite(suite: SuiteParams, etm: bool) -> None:
    hook = None if etm else hook_without(ET.encrypt_then_mac)
    c, s = pair(c12(cipher_suites=(suite.id,), extensions_hook=hook), s12(cipher_suites=(suite.id, 0xC02F)))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    flight2 = s.data_to_send()
    sh = server_hello_of(flight2)
    assert sh.cipher_suite == suite.id
    assert (sh.ext(ET.encrypt_then_mac) is not None) == etm
    c.receive_data(flight2)
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    assert c.state == s.state == S.HANDSHAKE_OVER and c.cipher_suite == suite.id
    exchange(c, s, b"a" * 5000, b"b" * 33)


def test_cbc_only_when_the_server_enables_it() -> None:
    c, s = pair(c12(cipher_suites=(0xC02F, 0xC013)), s12())  # default server suites: AEAD only
    cev, _ = full_handshake(c, s)
    assert cev[0].cipher_suite == 0xC02F  # type: ignore[union-attr]
    c, s = pair(c12(cipher_suites=(0xC013, 0xC027)), s12())
    client_hello_rejected(c, s, Reason.NO_COMMON_SUITE, AD.handshake_failure)


def test_etm_not_sent_for_aead_suites() -> None:
    """RFC 7366 3: a server that picks an AEAD suite does not answer encrypt_then_mac."""
    c, s = pair(c12(cipher_suites=(0xC02B, 0xC009)), s12(cipher_suites=(0xC02B, 0xC009)))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    sh = server_hello_of(s.data_to_send())
    assert sh.cipher_suite == 0xC02B and sh.ext(ET.encrypt_then_mac) is None


@pytest.mark.parametrize(
    "group", [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1], ids=lambda g: NamedGroup(g).name
)
def test_groups(group: int) -> None:
    c, s = pair(c12(groups=(group,), key_share_groups=()), s12())
    cev, sev = full_handshake(c, s)
    assert cev[0].group == sev[0].group == group  # type: ignore[union-attr]


def test_no_common_curve() -> None:
    c, s = pair(c12(groups=(NamedGroup.X25519MLKEM768,), key_share_groups=()), s12())
    client_hello_rejected(c, s, Reason.NO_COMMON_GROUP, AD.handshake_failure)


def test_server_prefers_its_own_suite_order() -> None:
    c, s = pair(c12(cipher_suites=(0xC02B, 0xCCA9, 0xC02C)), s12(cipher_suites=(0xC02C, 0xCCA9, 0xC02B)))
    cev, _ = full_handshake(c, s)
    assert cev[0].cipher_suite == 0xC02C  # type: ignore[union-attr]


def test_certificate_by_suite() -> None:
    """The server takes the certificate the chosen suite needs."""
    c, s = pair(c12(cipher_suites=(0xC02F,)), s12())
    cev, _ = full_handshake(c, s)
    assert cev[0].peer_certificates == RSA_LEAF.chain_der  # type: ignore[union-attr]
    c, s = pair(c12(cipher_suites=(0xCCA9,)), s12(certificates=(ED_LEAF.certified_key(),)))
    cev, _ = full_handshake(c, s)
    assert cev[0].peer_certificates == ED_LEAF.chain_der  # type: ignore[union-attr]
    c, s = pair(c12(cipher_suites=(0xC02F,)), s12(certificates=(LEAF.certified_key(),)))  # RSA suite, EC key
    c.start_handshake()
    with pytest.raises(TlsError) as ei:
        s.receive_data(c.data_to_send())
    assert ei.value.reason is Reason.NO_COMMON_SUITE


def test_version_negotiation() -> None:
    # a TLS 1.3 + 1.2 client and a TLS 1.2-only server: TLS 1.2, no sentinel
    c, s = pair(client_config(versions=V13_12), s12(versions=V12))
    cev, _ = full_handshake(c, s)
    assert cev[0].version == ProtocolVersion.TLS1_2  # type: ignore[union-attr]
    # a TLS 1.2-only client and a TLS 1.3 + 1.2 server: TLS 1.2, sentinel set (and fine for this client)
    c, s = pair(c12(), s12())
    c.start_handshake()
    s.receive_data(c.data_to_send())
    flight2 = s.data_to_send()
    assert server_hello_of(flight2).random[-8:] == DOWNGRADE_TLS12
    c.receive_data(flight2)
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    assert c.state == S.HANDSHAKE_OVER
    # both sides TLS 1.3 + 1.2: TLS 1.3
    c, s = pair(client_config(versions=V13_12), s12())
    c.start_handshake()
    s.receive_data(c.data_to_send())
    assert s.negotiated_version == ProtocolVersion.TLS1_3


def test_server_without_tls12() -> None:
    c, s = pair(c12(), s12(versions=(ProtocolVersion.TLS1_3,)))
    client_hello_rejected(c, s, Reason.NO_COMMON_VERSION, AD.protocol_version)


# ------------------------------------------------------- tickets, session IDs


def test_ticket_issued_and_resumed() -> None:
    clock = Clock()
    scfg = s12(clock=clock, ticket_keys=ticket_keys(clock))
    c, s = pair(c12(clock=clock), scfg)
    cev, _ = full_handshake(c, s)
    [ticket] = only(cev, SessionTicketReceived)
    session = ticket.session
    assert c.session is session and s.tickets_sent == 1
    assert session.version == ProtocolVersion.TLS1_2 and session.ticket and not session.session_id
    assert session.extended_master_secret and session.lifetime == 86400 and session.cipher_suite == c.cipher_suite

    clock.t += 60
    c, s = pair(c12(clock=clock), scfg, session=session)
    cev, sev = abbreviated_handshake(c, s)
    assert [type(e) for e in cev] == [HandshakeComplete]  # a ticket under the current key is not renewed
    assert cev[0].resumed and sev[0].resumed  # type: ignore[union-attr]
    assert cev[0].peer_certificates == ()  # type: ignore[union-attr]
    assert c.session is None and s.tickets_sent == 0
    exchange(c, s, b"resumed", b"yes")


def test_ticket_resumption_keeps_suite_and_alpn() -> None:
    clock = Clock()
    scfg = s12(clock=clock, ticket_keys=ticket_keys(clock), alpn_protocols=("h2",))
    ccfg = c12(clock=clock, cipher_suites=(0xCCA9, 0xC02B), alpn_protocols=("h2",))
    c, s = pair(ccfg, scfg)
    cev, _ = full_handshake(c, s)
    session = only(cev, SessionTicketReceived)[0].session
    assert session.cipher_suite == 0xC02B and session.alpn_protocol == "h2"  # server order
    c, s = pair(ccfg, scfg, session=session)
    cev, _ = abbreviated_handshake(c, s)
    assert cev[0].cipher_suite == 0xC02B and cev[0].alpn_protocol == "h2"  # type: ignore[union-attr]


def test_session_id_issued_and_resumed() -> None:
    cache = SessionCache()
    scfg = s12(session_cache=cache)  # no ticket keys
    c, s = pair(c12(), scfg)
    c.start_handshake()
    s.receive_data(c.data_to_send())
    flight2 = s.data_to_send()
    sh = server_hello_of(flight2)
    assert len(sh.legacy_session_id_echo) == 32 and sh.ext(ET.session_ticket) is None
    c.receive_data(flight2)
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    [ticket] = only(drain(c), SessionTicketReceived)
    session = ticket.session
    assert session.session_id == sh.legacy_session_id_echo and not session.ticket and len(cache) == 1

    c, s = pair(c12(), scfg, session=session)
    cev, _ = abbreviated_handshake(c, s)
    assert c.session is not None and c.session.session_id == session.session_id  # still the same session
    assert c.session.secret == session.secret and len(cache) == 1
    exchange(c, s)
    # an unknown session ID: full handshake, a new ID
    unknown = Session(0x0303, c.cipher_suite or 0, "localhost", bytes(48), session_id=b"\x01" * 32)
    c, s = pair(c12(), scfg, session=unknown)
    cev, _ = full_handshake(c, s)
    assert not c.resumed and only(cev, SessionTicketReceived)[0].session.session_id not in (b"", b"\x01" * 32)


def test_no_session_cache_no_ticket_keys() -> None:
    c, s = pair(c12(), s12(session_cache=None))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    flight2 = s.data_to_send()
    assert server_hello_of(flight2).legacy_session_id_echo == b""
    c.receive_data(flight2)
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    assert only(drain(c), SessionTicketReceived) == [] and c.session is None


def test_session_cache_bound_in_the_server() -> None:
    cache = SessionCache(max_entries=2)
    scfg = s12(session_cache=cache)
    sessions = []
    for seed in (11, 12, 13):
        c, s = pair(c12(seed=seed), scfg)
        cev, _ = full_handshake(c, s)
        sessions.append(only(cev, SessionTicketReceived)[0].session)
    assert len(cache) == 2
    c, s = pair(c12(seed=21), scfg, session=sessions[2])
    abbreviated_handshake(c, s)
    c, s = pair(c12(seed=22), scfg, session=sessions[1])
    abbreviated_handshake(c, s)
    c, s = pair(c12(seed=23), scfg, session=sessions[0])  # evicted: a full handshake
    full_handshake(c, s)
    assert not c.resumed and not s.resumed and len(cache) == 2


def test_ticket_key_rotation() -> None:
    """A ticket under the previous key resumes and is replaced; two rotations later it is useless."""
    clock = Clock()
    keys = ticket_keys(clock, lifetime=1000)
    scfg = s12(clock=clock, ticket_keys=keys)
    ccfg = c12(clock=clock)
    c, s = pair(ccfg, scfg)
    cev, _ = full_handshake(c, s)
    first = only(cev, SessionTicketReceived)[0].session

    clock.t += 1001
    assert keys.rotate(clock())  # once: the ticket's key is now the previous one
    c, s = pair(ccfg, scfg, session=first)
    cev, _ = abbreviated_handshake(c, s, new_ticket=True)
    [renewed] = only(cev, SessionTicketReceived)
    assert renewed.session.ticket != first.ticket and renewed.session.secret == first.secret
    assert c.session is renewed.session and s.tickets_sent == 1
    exchange(c, s)
    c, s = pair(ccfg, scfg, session=renewed.session)  # the new ticket is under the current key
    cev, _ = abbreviated_handshake(c, s)
    assert only(cev, SessionTicketReceived) == []

    clock.t += 1001
    assert keys.rotate(clock())  # twice: the first ticket's key is gone
    c, s = pair(ccfg, scfg, session=first)
    cev, _ = full_handshake(c, s)
    assert not c.resumed and not s.resumed
    assert cev[0].peer_certificates == LEAF.chain_der  # type: ignore[union-attr]
    assert only(cev, SessionTicketReceived)[0].session.ticket not in (first.ticket, renewed.session.ticket)


def test_ticket_expired_on_the_server() -> None:
    cclock, sclock = Clock(), Clock()
    scfg = s12(clock=sclock, ticket_keys=ticket_keys(sclock), ticket_lifetime=3600)
    c, s = pair(c12(clock=cclock), scfg)
    cev, _ = full_handshake(c, s)
    session = only(cev, SessionTicketReceived)[0].session
    sclock.t += 3601
    c, s = pair(c12(clock=cclock), scfg, session=session)
    full_handshake(c, s)
    assert not c.resumed and not s.resumed


def test_tls12_session_not_offered_to_tls13_only() -> None:
    clock = Clock()
    scfg = s12(clock=clock, ticket_keys=ticket_keys(clock))
    c, s = pair(c12(clock=clock), scfg)
    cev, _ = full_handshake(c, s)
    session = only(cev, SessionTicketReceived)[0].session
    c = ClientConnection(client_config(clock=clock), "localhost", session=session)  # TLS 1.3 only
    c.start_handshake()
    ch = ClientHello.decode(split_records(c.data_to_send())[0][2][4:])
    assert ch.ext(ET.session_ticket) is None and ch.ext(ET.pre_shared_key) is None


# --------------------------------------------------------- client certificates


def test_client_certificate_requested_and_sent() -> None:
    c, s = pair(
        c12(certificate=CLIENT_LEAF.certified_key()),
        s12(request_client_certificate=True, client_verifier=VERIFIER),
    )
    _, sev = full_handshake(c, s, cert_request=True)
    assert sev[0].peer_certificates == CLIENT_LEAF.chain_der  # type: ignore[union-attr]
    exchange(c, s)


def test_client_certificate_requested_not_sent() -> None:
    c, s = pair(c12(), s12(request_client_certificate=True, client_verifier=VERIFIER))
    _, sev = full_handshake(c, s, cert_request=True)
    assert sev[0].peer_certificates == ()  # type: ignore[union-attr]


def test_client_certificate_required_and_sent() -> None:
    c, s = pair(
        c12(certificate=CLIENT_LEAF.certified_key(), cipher_suites=(0xC030,)),
        s12(request_client_certificate=True, require_client_certificate=True, client_verifier=VERIFIER),
    )
    _, sev = full_handshake(c, s, cert_request=True)
    assert sev[0].peer_certificates == CLIENT_LEAF.chain_der  # type: ignore[union-attr]


def test_client_certificate_required_missing() -> None:
    """TLS 1.2 has no certificate_required alert: handshake_failure goes on the wire (RFC 5246 7.4.6)."""
    c, s = pair(c12(), s12(request_client_certificate=True, require_client_certificate=True, client_verifier=VERIFIER))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    with pytest.raises(TlsError) as ei:
        s.receive_data(c.data_to_send())
    assert ei.value.reason is Reason.CERT_REQUIRED
    assert plaintext_alert(s.data_to_send()) == (2, AD.handshake_failure)


def test_client_certificate_untrusted() -> None:
    from certs import make_ca

    other = make_leaf(make_ca(name="Other CA"), ["client.test"], eku="clientAuth")
    c, s = pair(c12(certificate=other.certified_key()), s12(request_client_certificate=True, client_verifier=VERIFIER))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    with pytest.raises(TlsError) as ei:
        s.receive_data(c.data_to_send())
    assert ei.value.reason is Reason.CERT_UNTRUSTED
    assert plaintext_alert(s.data_to_send()) == (2, AD.unknown_ca)


def _client_auth_flight(edit: Callable[[bytes], bytes]) -> tuple[ServerConnection, bytes]:
    """A server that asked for a client certificate, and the client's second flight
    for it with its CertificateVerify (the third message) passed through ``edit``."""
    c, s = pair(
        c12(certificate=CLIENT_LEAF.certified_key()),
        s12(request_client_certificate=True, client_verifier=VERIFIER),
    )
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    recs = split_records(c.data_to_send())
    msgs = messages(recs[0][2])
    assert [m[0] for m in msgs] == [HT.CERTIFICATE, HT.CLIENT_KEY_EXCHANGE, HT.CERTIFICATE_VERIFY]
    msgs[2] = edit(msgs[2])
    return s, rebuild(msgs) + b"".join(h + p for _, h, p in recs[1:])


def test_client_certificate_verify_tampered() -> None:
    def tamper(cv: bytes) -> bytes:
        return cv[:-3] + bytes([cv[-3] ^ 1]) + cv[-2:]  # inside the signature

    s, flight = _client_auth_flight(tamper)
    with pytest.raises(TlsError) as ei:
        s.receive_data(flight)
    assert ei.value.reason is Reason.BAD_SIGNATURE
    assert plaintext_alert(s.data_to_send()) == (2, AD.decrypt_error)


# ------------------------------------------------------------------- ALPN


def test_alpn() -> None:
    c, s = pair(c12(alpn_protocols=("h2", "http/1.1")), s12(alpn_protocols=("http/1.1", "h2")))
    cev, sev = full_handshake(c, s)
    assert cev[0].alpn_protocol == sev[0].alpn_protocol == "http/1.1"  # type: ignore[union-attr]
    c, s = pair(c12(alpn_protocols=("h2",)), s12())
    cev, _ = full_handshake(c, s)
    assert cev[0].alpn_protocol is None  # type: ignore[union-attr]


def test_alpn_no_overlap() -> None:
    c, s = pair(c12(alpn_protocols=("h2",)), s12(alpn_protocols=("http/1.1",)))
    alert = client_hello_rejected(c, s, Reason.NO_COMMON_ALPN, AD.no_application_protocol)
    with pytest.raises(AlertReceived) as ei2:
        c.receive_data(alert)
    assert ei2.value.description == AD.no_application_protocol


def test_alpn_server_picks_unoffered() -> None:
    c, s = pair(c12(alpn_protocols=("h2",)), s12(alpn_protocols=("h2",)))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    from https_request.tls.extensions import encode_alpn

    def edit(sh: ServerHello) -> ServerHello:
        exts = tuple(
            Extension(e.type, encode_alpn(["spdy/3"])) if e.type == ET.application_layer_protocol_negotiation else e
            for e in sh.extensions
        )
        from https_request.structs import replace

        return replace(sh, extensions=exts)

    with pytest.raises(TlsError) as ei:
        c.receive_data(edit_server_hello(s.data_to_send(), edit))
    assert ei.value.reason is Reason.ILLEGAL_PARAMETER
    assert plaintext_alert(c.data_to_send()) == (2, AD.illegal_parameter)


# ---------------------------------------------------------------- False Start


def _to_client_finished(ccfg: ClientConfig, scfg: ServerConfig) -> tuple[ClientConnection, ServerConnection]:
    c, s = pair(ccfg, scfg)
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    return c, s


def test_false_start_sends_data_with_the_finished() -> None:
    c, s = _to_client_finished(c12(false_start=True), s12())
    assert c.state == S.SERVER_CHANGE_CIPHER_SPEC and c.is_handshaking
    c.send_application_data(b"GET / HTTP/1.1\r\n\r\n")
    flight = c.data_to_send()
    assert kinds(flight) == [H, CCS, H, APP]  # ClientKeyExchange, CCS, Finished, application data
    s.receive_data(flight)  # one flight: the server completes and reads the data
    sev = drain(s)
    assert [type(e) for e in sev] == [HandshakeComplete, ApplicationData]
    assert sev[1] == ApplicationData(b"GET / HTTP/1.1\r\n\r\n")
    s.send_application_data(b"HTTP/1.1 200 OK\r\n\r\n")
    c.receive_data(s.data_to_send())  # CCS, Finished, response
    cev = drain(c)
    assert [type(e) for e in cev] == [HandshakeComplete, SessionTicketReceived, ApplicationData]  # (session ID)
    assert c.state == S.HANDSHAKE_OVER
    exchange(c, s)


def test_false_start_with_data_queued_before_the_handshake() -> None:
    c, s = pair(c12(false_start=True), s12(ticket_keys=ticket_keys()))
    c.send_application_data(b"early bird")
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    assert c.state == S.NEW_SESSION_TICKET
    flight = c.data_to_send()
    assert kinds(flight) == [H, CCS, H, APP]
    s.receive_data(flight)
    assert only(drain(s), ApplicationData) == [ApplicationData(b"early bird")]
    c.receive_data(s.data_to_send())
    assert [type(e) for e in drain(c)] == [HandshakeComplete, SessionTicketReceived]


@pytest.mark.parametrize(("false_start", "suite"), [(False, 0xC02F), (True, 0xC013)], ids=["not-enabled", "cbc-suite"])
def test_no_false_start(false_start: bool, suite: int) -> None:
    """Without False Start (or with a CBC suite) data waits for the server's Finished."""
    scfg = s12(cipher_suites=(suite,))
    c, s = _to_client_finished(c12(false_start=false_start, cipher_suites=(suite,)), scfg)
    c.send_application_data(b"wait for it")
    flight = c.data_to_send()
    assert kinds(flight) == [H, CCS, H]
    s.receive_data(flight)
    assert [type(e) for e in drain(s)] == [HandshakeComplete]
    c.receive_data(s.data_to_send())
    assert c.state == S.HANDSHAKE_OVER
    out = c.data_to_send()
    assert kinds(out) == [APP]
    s.receive_data(out)
    assert only(drain(s), ApplicationData) == [ApplicationData(b"wait for it")]


# ------------------------------------------------------------ renegotiation


def test_client_hello_after_handshake_refused_with_warning() -> None:
    """RFC 5746 / 5246 7.4.1.2: the server answers a renegotiation attempt
    with a warning no_renegotiation and the connection goes on."""
    c, s = pair(c12(), s12())
    full_handshake(c, s)
    other = ClientConnection(c12(seed=99), "localhost")
    other.start_handshake()
    hello = split_records(other.data_to_send())[0][2]
    assert hello[0] == HT.CLIENT_HELLO
    c._queue_handshake(HT.CLIENT_HELLO, hello[4:])
    c._flush_handshake()
    renegotiation = c.data_to_send()
    assert kinds(renegotiation) == [H]
    s.receive_data(renegotiation)
    assert drain(s) == [] and s.state == S.HANDSHAKE_OVER
    answer = s.data_to_send()
    assert kinds(answer) == [ALERT]
    c.receive_data(answer)
    assert drain(c) == [AlertReceivedEvent(1, AD.no_renegotiation)]
    exchange(c, s, b"still", b"here")


def test_hello_request_refused_with_warning() -> None:
    c, s = pair(c12(), s12())
    full_handshake(c, s)
    s._queue_handshake(HT.HELLO_REQUEST, b"")
    s._flush_handshake()
    c.receive_data(s.data_to_send())
    assert drain(c) == [] and c.state == S.HANDSHAKE_OVER
    answer = c.data_to_send()
    assert kinds(answer) == [ALERT]
    s.receive_data(answer)
    assert drain(s) == [AlertReceivedEvent(1, AD.no_renegotiation)]
    exchange(c, s, b"still", b"here")


def test_renegotiation_info_in_initial_handshake() -> None:
    """RFC 5746 3.4 / 3.6: both sides signal secure renegotiation; a
    non-empty renegotiated_connection in an initial hello is refused."""
    c, s = pair(c12(), s12())
    c.start_handshake()
    flight1 = c.data_to_send()
    ch = ClientHello.decode(split_records(flight1)[0][2][4:])
    assert 0x00FF in ch.cipher_suites
    s.receive_data(flight1)
    assert server_hello_of(s.data_to_send()).ext(ET.renegotiation_info) == b"\x00"

    def bad_reneg(ch: ClientHello) -> ClientHello:
        from https_request.structs import replace

        return replace(ch, extensions=(*ch.extensions, Extension(ET.renegotiation_info, b"\x0c" + bytes(12))))

    c, s = pair(c12(), s12())
    c.start_handshake()
    with pytest.raises(TlsError) as ei:
        s.receive_data(edit_client_hello(c.data_to_send(), bad_reneg))
    assert ei.value.reason is Reason.HANDSHAKE_FAILURE
    assert plaintext_alert(s.data_to_send()) == (2, AD.handshake_failure)


# ------------------------------------------------------------ downgrade


def test_downgrade_sentinel_detected() -> None:
    """A man in the middle removes supported_versions from a TLS 1.3 + 1.2
    ClientHello; the server (which supports TLS 1.3) answers TLS 1.2 with
    DOWNGRD\\x01 at the end of its random, and the client refuses."""
    c, s = pair(client_config(versions=V13_12), s12())
    c.start_handshake()
    flight1 = c.data_to_send()
    assert ClientHello.decode(split_records(flight1)[0][2][4:]).ext(ET.supported_versions) is not None
    s.receive_data(edit_client_hello(flight1, without(ET.supported_versions)))
    assert s.negotiated_version == ProtocolVersion.TLS1_2
    flight2 = s.data_to_send()
    assert server_hello_of(flight2).random[-8:] == b"DOWNGRD\x01"
    with pytest.raises(TlsError) as ei:
        c.receive_data(flight2)
    assert ei.value.reason is Reason.DOWNGRADE
    assert plaintext_alert(c.data_to_send()) == (2, AD.illegal_parameter)


def test_downgrade_sentinel_tls11_also_detected() -> None:
    c, s = pair(client_config(versions=V13_12), s12(versions=V12))
    c.start_handshake()
    s.receive_data(edit_client_hello(c.data_to_send(), without(ET.supported_versions)))

    def sentinel11(sh: ServerHello) -> ServerHello:
        from https_request.structs import replace

        return replace(sh, random=sh.random[:24] + b"DOWNGRD\x00")

    with pytest.raises(TlsError) as ei:
        c.receive_data(edit_server_hello(s.data_to_send(), sentinel11))
    assert ei.value.reason is Reason.DOWNGRADE


def test_fallback_scsv() -> None:
    """RFC 7507: TLS_FALLBACK_SCSV from a TLS 1.2 client to a server that has TLS 1.3."""
    ccfg = c12(cipher_suites=(0xC02B, 0x5600))
    c, s = pair(ccfg, s12())
    alert = client_hello_rejected(c, s, Reason.INAPPROPRIATE_FALLBACK, AD.inappropriate_fallback)
    with pytest.raises(AlertReceived) as ei2:
        c.receive_data(alert)
    assert ei2.value.description == 86
    # a TLS 1.2-only server: nothing to fall back from
    c, s = pair(ccfg, s12(versions=V12))
    full_handshake(c, s)


# ------------------------------------------------------ extended master secret


def test_client_without_ems_refused_by_default() -> None:
    c, s = pair(c12(extensions_hook=hook_without(ET.extended_master_secret)), s12())
    client_hello_rejected(c, s, Reason.HANDSHAKE_FAILURE, AD.handshake_failure)


def test_client_without_ems_when_allowed() -> None:
    clock = Clock()
    keys = ticket_keys(clock)
    scfg = s12(clock=clock, ticket_keys=keys, require_extended_master_secret=False)
    no_ems = c12(clock=clock, extensions_hook=hook_without(ET.extended_master_secret))
    c, s = pair(no_ems, scfg)
    c.start_handshake()
    s.receive_data(c.data_to_send())
    flight2 = s.data_to_send()
    assert server_hello_of(flight2).ext(ET.extended_master_secret) is None
    c.receive_data(flight2)
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    session = only(drain(c), SessionTicketReceived)[0].session
    assert not session.extended_master_secret
    c, s = pair(no_ems, scfg, session=session)
    abbreviated_handshake(c, s)
    # RFC 7627 5.3: offering EMS with a session that had none gives a full handshake
    c, s = pair(c12(clock=clock), scfg, session=session)
    full_handshake(c, s)
    assert not c.resumed and not s.resumed


def _ems_session(clock: Clock, scfg: ServerConfig) -> Session:
    c, s = pair(c12(clock=clock), scfg)
    cev, _ = full_handshake(c, s)
    session = only(cev, SessionTicketReceived)[0].session
    assert session.extended_master_secret
    return session


@pytest.mark.parametrize("require", [True, False], ids=["ems-required", "ems-optional"])
def test_resumption_without_ems_refused_by_server(require: bool) -> None:
    """RFC 7627 5.3: a resuming ClientHello that lost the EMS extension of an EMS session."""
    clock = Clock()
    scfg = s12(clock=clock, ticket_keys=ticket_keys(clock), require_extended_master_secret=require)
    session = _ems_session(clock, scfg)
    c, s = pair(c12(clock=clock), scfg, session=session)
    c.start_handshake()
    with pytest.raises(TlsError) as ei:
        s.receive_data(edit_client_hello(c.data_to_send(), without(ET.extended_master_secret)))
    assert ei.value.reason is Reason.HANDSHAKE_FAILURE
    assert ("resumption" in ei.value.detail) == (not require)
    assert plaintext_alert(s.data_to_send()) == (2, AD.handshake_failure)


def test_session_id_resumption_without_ems_refused_by_server() -> None:
    scfg = s12(require_extended_master_secret=False)
    c, s = pair(c12(), scfg)
    cev, _ = full_handshake(c, s)
    session = only(cev, SessionTicketReceived)[0].session
    assert session.session_id and session.extended_master_secret
    c, s = pair(c12(), scfg, session=session)
    c.start_handshake()
    with pytest.raises(TlsError) as ei:
        s.receive_data(edit_client_hello(c.data_to_send(), without(ET.extended_master_secret)))
    assert ei.value.reason is Reason.HANDSHAKE_FAILURE and "resumption" in ei.value.detail


def test_resumption_without_ems_refused_by_client() -> None:
    """The server resumes an EMS session but its ServerHello lacks EMS."""
    clock = Clock()
    keys = ticket_keys(clock)
    session = _ems_session(clock, s12(clock=clock, ticket_keys=keys))

    def drop_ems(htype: int, exts: list[Extension]) -> list[Extension]:
        return [e for e in exts if e.type != ET.extended_master_secret]

    c, s = pair(c12(clock=clock), s12(clock=clock, ticket_keys=keys, extensions_hook=drop_ems), session=session)
    c.start_handshake()
    s.receive_data(c.data_to_send())
    assert s.resumed
    flight2 = s.data_to_send()
    assert server_hello_of(flight2).ext(ET.extended_master_secret) is None
    with pytest.raises(TlsError) as ei:
        c.receive_data(flight2)
    assert ei.value.reason is Reason.HANDSHAKE_FAILURE
    assert plaintext_alert(c.data_to_send()) == (2, AD.handshake_failure)


def test_ems_changes_the_master_secret() -> None:
    """Both sides derive the same (extended) master secret, and it is not the RFC 5246 one."""
    from https_request.tls.keyschedule12 import master_secret

    ckl, skl = KeyLog(), KeyLog()
    c, s = pair(c12(keylog=ckl), s12(keylog=skl))
    full_handshake(c, s)
    assert ckl.lines == skl.lines
    assert ckl.secret("CLIENT_RANDOM") != master_secret("sha256", bytes(32), c.client_random, bytes(32), None)


# -------------------------------------------------------- the server's choice


@pytest.mark.parametrize(
    "picked",
    [0xC02C, 0xC02F, 0x1301, 0x00FF, 0x5600],
    ids=["C02C", "C02F", "TLS1.3-suite", "reneg-SCSV", "fallback-SCSV"],
)
def test_server_picks_suite_not_offered(picked: int) -> None:
    """A suite (or signalling value) the client did not offer for TLS 1.2, even one in its config."""
    ccfg = c12(cipher_suites=(0xC02B, 0x5600))
    c, s = pair(ccfg, s12(versions=V12))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    from https_request.structs import replace

    with pytest.raises(TlsError) as ei:
        c.receive_data(edit_server_hello(s.data_to_send(), lambda sh: replace(sh, cipher_suite=picked)))
    assert ei.value.reason is Reason.ILLEGAL_PARAMETER
    assert plaintext_alert(c.data_to_send()) == (2, AD.illegal_parameter)


def test_server_picks_tls13_suite_configured_but_not_offered_for_tls12() -> None:
    """A TLS 1.3 suite in the client's config is not offered by a TLS 1.2-only ClientHello."""
    c, s = pair(c12(cipher_suites=(0x1301, 0xC02B)), s12())
    c.start_handshake()
    flight1 = c.data_to_send()
    assert 0x1301 not in ClientHello.decode(split_records(flight1)[0][2][4:]).cipher_suites
    s.receive_data(flight1)
    from https_request.structs import replace

    with pytest.raises(TlsError) as ei:
        c.receive_data(edit_server_hello(s.data_to_send(), lambda sh: replace(sh, cipher_suite=0x1301)))
    assert ei.value.reason is Reason.ILLEGAL_PARAMETER
    assert plaintext_alert(c.data_to_send()) == (2, AD.illegal_parameter)


@pytest.mark.parametrize("picked", [0xC053, 0x009E], ids=["DHE-ARIA", "DHE"])
def test_server_picks_unimplemented_suite(picked: int) -> None:
    """A suite offered but not implemented (only a hand-made config offers one: --ciphers refuses them)."""
    c, s = pair(c12(cipher_suites=(0xC02B, picked)), s12())
    c.start_handshake()
    flight1 = c.data_to_send()
    assert picked in ClientHello.decode(split_records(flight1)[0][2][4:]).cipher_suites
    s.receive_data(flight1)
    from https_request.structs import replace

    with pytest.raises(TlsError) as ei:
        c.receive_data(edit_server_hello(s.data_to_send(), lambda sh: replace(sh, cipher_suite=picked)))
    assert ei.value.reason is Reason.HANDSHAKE_FAILURE
    assert plaintext_alert(c.data_to_send()) == (2, AD.handshake_failure)


def test_server_hello_extension_not_offered() -> None:
    c, s = pair(c12(), s12())
    c.start_handshake()
    s.receive_data(c.data_to_send())
    from https_request.structs import replace

    def add_sct(sh: ServerHello) -> ServerHello:
        return replace(sh, extensions=(*sh.extensions, Extension(ET.signed_certificate_timestamp, b"")))

    with pytest.raises(TlsError) as ei:
        c.receive_data(edit_server_hello(s.data_to_send(), add_sct))
    assert ei.value.reason is Reason.UNSOLICITED_EXTENSION
    assert plaintext_alert(c.data_to_send()) == (2, AD.unsupported_extension)


def _set_ext(etype: int, data: bytes) -> Callable[[ServerHello], ServerHello]:
    def edit(sh: ServerHello) -> ServerHello:
        from https_request.structs import replace

        return replace(sh, extensions=(*(e for e in sh.extensions if e.type != etype), Extension(etype, data)))

    return edit


def _sh_field(**changes: Any) -> Callable[[ServerHello], ServerHello]:
    def edit(sh: ServerHello) -> ServerHello:
        from https_request.structs import replace

        return replace(sh, **changes)

    return edit


SERVER_HELLO_EDITS: dict[str, tuple[Callable[[ServerHello], ServerHello], Reason, int]] = {
    "version-0302": (_sh_field(legacy_version=0x0302), Reason.NO_COMMON_VERSION, AD.protocol_version),
    "compression": (_sh_field(legacy_compression_method=1), Reason.ILLEGAL_PARAMETER, AD.illegal_parameter),
    "key_share-in-1.2": (_set_ext(ET.key_share, b"\x00\x1d\x00\x00"), Reason.ILLEGAL_PARAMETER, AD.illegal_parameter),
    "renegotiation-info": (
        _set_ext(ET.renegotiation_info, b"\x01\x00"),
        Reason.HANDSHAKE_FAILURE,
        AD.handshake_failure,
    ),
    "alpn-garbage": (
        _set_ext(ET.application_layer_protocol_negotiation, b"\x00\x05\x02h2"),
        Reason.DECODE,
        AD.decode_error,
    ),
}


@pytest.mark.parametrize("name", list(SERVER_HELLO_EDITS))
def test_server_hello_edits(name: str) -> None:
    """A TLS 1.3 + 1.2 client (so key_share was offered) meets a bad TLS 1.2 ServerHello."""
    edit, reason, alert = SERVER_HELLO_EDITS[name]
    c, s = pair(client_config(versions=V13_12, alpn_protocols=("h2",)), s12(versions=V12, alpn_protocols=("h2",)))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    with pytest.raises(TlsError) as ei:
        c.receive_data(edit_server_hello(s.data_to_send(), edit))
    assert ei.value.reason is reason
    assert plaintext_alert(c.data_to_send()) == (2, alert)


def test_resumption_with_another_suite() -> None:
    """The server echoes the session but names another (offered) suite."""
    clock = Clock()
    keys = ticket_keys(clock)
    ccfg = c12(clock=clock, cipher_suites=(0xC02B, 0xC02C))
    c, s = pair(ccfg, s12(clock=clock, ticket_keys=keys))
    cev, _ = full_handshake(c, s)
    session = only(cev, SessionTicketReceived)[0].session
    assert session.cipher_suite == 0xC02B
    c, s = pair(ccfg, s12(clock=clock, ticket_keys=keys), session=session)
    c.start_handshake()
    s.receive_data(c.data_to_send())
    with pytest.raises(TlsError) as ei:
        c.receive_data(edit_server_hello(s.data_to_send(), _sh_field(cipher_suite=0xC02C)))
    assert ei.value.reason is Reason.ILLEGAL_PARAMETER
    assert plaintext_alert(c.data_to_send()) == (2, AD.illegal_parameter)


def _edit_server_message(flight: bytes, index: int, edit: Callable[[bytes], bytes]) -> bytes:
    msgs = plain_handshake(flight)
    msgs[index] = edit(msgs[index])
    return rebuild(msgs)


def _body(new: bytes, msg_type: int) -> Callable[[bytes], bytes]:
    return lambda _: handshake_message(msg_type, new)


def _patch(offset: int, data: bytes) -> Callable[[bytes], bytes]:
    """Overwrite bytes of a handshake body at ``offset`` (after the 4-byte header)."""
    return lambda m: m[: 4 + offset] + data + m[4 + offset + len(data) :]


SERVER_FLIGHT_EDITS: dict[str, tuple[int, Callable[[bytes], bytes], Reason, int]] = {
    "empty-certificate-list": (1, _body(b"\x00\x00\x00", HT.CERTIFICATE), Reason.DECODE, AD.decode_error),
    "certificate-not-der": (
        1,
        _body(b"\x00\x00\x05\x00\x00\x02\x30\x00", HT.CERTIFICATE),
        Reason.CERT_BAD,
        AD.bad_certificate,
    ),
    "ske-curve-not-offered": (2, _patch(1, b"\x00\x18"), Reason.ILLEGAL_PARAMETER, AD.illegal_parameter),
    "ske-explicit-curve": (2, _patch(0, b"\x01"), Reason.DECODE, AD.decode_error),
    "ske-scheme-not-offered": (2, _patch(1 + 2 + 1 + 32, b"\x02\x01"), Reason.ILLEGAL_PARAMETER, AD.illegal_parameter),
    "ske-bad-point": (2, _patch(4, bytes(32)), Reason.BAD_SIGNATURE, AD.decrypt_error),
    "server-hello-done-with-body": (3, _body(b"\x00", HT.SERVER_HELLO_DONE), Reason.DECODE, AD.decode_error),
    "certificate-request-garbage": (3, _body(b"\x00", HT.CERTIFICATE_REQUEST), Reason.DECODE, AD.decode_error),
}


@pytest.mark.parametrize("name", list(SERVER_FLIGHT_EDITS))
def test_server_flight_edits(name: str) -> None:
    index, edit, reason, alert = SERVER_FLIGHT_EDITS[name]
    c, s = pair(c12(verifier=None, groups=(NamedGroup.x25519,), key_share_groups=()), s12())
    c.start_handshake()
    s.receive_data(c.data_to_send())
    with pytest.raises(TlsError) as ei:
        c.receive_data(_edit_server_message(s.data_to_send(), index, edit))
    assert ei.value.reason is reason
    assert plaintext_alert(c.data_to_send()) == (2, alert)


def test_certificate_key_does_not_fit_suite() -> None:
    """An ECDSA certificate for an ECDHE_RSA suite (the client offered both)."""
    c, s = pair(c12(cipher_suites=(0xC02B, 0xC02F)), s12())
    c.start_handshake()
    s.receive_data(c.data_to_send())
    with pytest.raises(TlsError) as ei:
        c.receive_data(edit_server_hello(s.data_to_send(), _sh_field(cipher_suite=0xC02F)))
    assert ei.value.reason is Reason.CERT_UNSUPPORTED
    assert plaintext_alert(c.data_to_send()) == (2, AD.unsupported_certificate)


def _unknown_key_algorithm(der: bytes) -> bytes:
    oid = bytes.fromhex("06072a8648ce3d0201")  # id-ecPublicKey -> 1.2.840.10045.2.9
    i = der.index(oid)
    return der[: i + 8] + b"\x09" + der[i + 9 :]


def _bad_version(der: bytes) -> bytes:
    i = der.index(b"\xa0\x03\x02\x01\x02")  # [0] version v3 -> 5
    return der[: i + 4] + b"\x05" + der[i + 5 :]


CERT_DAMAGE = {"unknown-key-algorithm": _unknown_key_algorithm, "bad-version": _bad_version}


@pytest.mark.parametrize("damage", list(CERT_DAMAGE))
def test_unparseable_server_certificate_without_verifier(damage: str) -> None:
    """With no verifier, the client still has to parse the leaf: cryptography
    raises exceptions that are no ValueError here; they become CERT_BAD."""
    c, s = pair(c12(verifier=None), s12())
    c.start_handshake()
    s.receive_data(c.data_to_send())
    der = LEAF.chain_der[0]
    flight = s.data_to_send()
    assert flight.count(der) == 1
    with pytest.raises(TlsError) as ei:
        c.receive_data(flight.replace(der, CERT_DAMAGE[damage](der)))
    assert ei.value.reason is Reason.CERT_BAD
    assert plaintext_alert(c.data_to_send()) == (2, AD.bad_certificate)


@pytest.mark.parametrize("damage", list(CERT_DAMAGE))
def test_unparseable_client_certificate_without_verifier(damage: str) -> None:
    c, s = pair(c12(certificate=CLIENT_LEAF.certified_key()), s12(request_client_certificate=True))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    der = CLIENT_LEAF.chain_der[0]
    flight = c.data_to_send()
    with pytest.raises(TlsError) as ei:
        s.receive_data(flight.replace(der, CERT_DAMAGE[damage](der)))
    assert ei.value.reason is Reason.CERT_BAD
    assert plaintext_alert(s.data_to_send()) == (2, AD.bad_certificate)


def test_client_hello_without_null_compression() -> None:
    from https_request.structs import replace

    c, s = pair(c12(), s12())
    c.start_handshake()
    with pytest.raises(TlsError) as ei:
        s.receive_data(edit_client_hello(c.data_to_send(), lambda ch: replace(ch, legacy_compression_methods=b"\x01")))
    assert ei.value.reason is Reason.ILLEGAL_PARAMETER
    assert plaintext_alert(s.data_to_send()) == (2, AD.illegal_parameter)


def test_client_certificate_verify_scheme_not_accepted() -> None:
    s, flight = _client_auth_flight(lambda cv: cv[:4] + b"\x02\x03" + cv[6:])  # ecdsa_sha1: never in our list
    with pytest.raises(TlsError) as ei:
        s.receive_data(flight)
    assert ei.value.reason is Reason.ILLEGAL_PARAMETER


def test_tls13_ticket_not_resumed_as_tls12() -> None:
    """A TLS 1.3 ticket sent in a TLS 1.2 session_ticket extension: a full handshake."""
    clock = Clock()
    keys = ticket_keys(clock)
    scfg = s12(clock=clock, ticket_keys=keys)
    c13, s13 = pair(client_config(clock=clock), scfg)
    c13.start_handshake()
    s13.receive_data(c13.data_to_send())
    c13.receive_data(s13.data_to_send())
    s13.receive_data(c13.data_to_send())
    c13.receive_data(s13.data_to_send())
    assert c13.session is not None and c13.session.version == ProtocolVersion.TLS1_3
    forged = Session(
        0x0303, 0x1301, "localhost", bytes(48), ticket=c13.session.ticket, lifetime=3600, received_at=clock()
    )
    c, s = pair(c12(clock=clock, cipher_suites=(0x1301, 0xC02B)), scfg, session=forged)
    full_handshake(c, s)
    assert not s.resumed and not c.resumed


STATIC_RSA = [s for s in SUITES.values() if not s.tls13 and s.kx == "RSA" and not s.server_only]


@pytest.mark.parametrize("suite", STATIC_RSA, ids=_suite_id)
def test_static_rsa_when_the_server_lists_it(suite: SuiteParams) -> None:
    """RFC 5246 7.4.7.1: static RSA both ways, only with a suite the server lists (no ServerKeyExchange)."""
    c, s = pair(c12(cipher_suites=(suite.id,)), s12(cipher_suites=(0xC02F, suite.id)))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    flight2 = s.data_to_send()
    assert [m[0] for m in plain_handshake(flight2)] == [HT.SERVER_HELLO, HT.CERTIFICATE, HT.SERVER_HELLO_DONE]
    c.receive_data(flight2)
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    assert c.state == s.state == S.HANDSHAKE_OVER and s.cipher_suite == suite.id and s.group is None
    exchange(c, s, b"a" * 5000, b"b" * 33)


def test_client_offering_only_static_rsa_is_refused() -> None:
    c, s = pair(c12(cipher_suites=(0x009C, 0x002F)), s12())
    client_hello_rejected(c, s, Reason.NO_COMMON_SUITE, AD.handshake_failure)


# ------------------------------------------------------------------- Finished


def _through_client_finished(keys: bool = False) -> tuple[ClientConnection, ServerConnection, KeyLog, bytes, bytes]:
    kl = KeyLog()
    c, s = pair(c12(keylog=kl), s12(ticket_keys=ticket_keys() if keys else None))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    flight2 = s.data_to_send()
    c.receive_data(flight2)
    return c, s, kl, server_hello_of(flight2).random, c.data_to_send()


def test_tampered_client_finished() -> None:
    c, s, kl, server_random, flight3 = _through_client_finished()
    cw, _ = tls12_protectors(kl, c.client_random, server_random, c.cipher_suite or 0, etm=False)
    recs = split_records(flight3)
    assert [r[0] for r in recs] == [H, CCS, H]
    ctype, fin = cw.open(recs[2][1], recs[2][2])
    assert (ctype, fin[:4]) == (H, b"\x14\x00\x00\x0c")
    cw.seq = 0
    bad = cw.seal(H, fin[:-1] + bytes((fin[-1] ^ 1,)))
    with pytest.raises(TlsError) as ei:
        s.receive_data(recs[0][1] + recs[0][2] + CCS_RECORD + bad)
    assert ei.value.reason is Reason.BAD_FINISHED
    assert plaintext_alert(s.data_to_send()) == (2, AD.decrypt_error)


@pytest.mark.parametrize("length", [0, 11, 13])
def test_client_finished_of_the_wrong_length_is_a_decode_error(length: int) -> None:
    c, s, kl, server_random, flight3 = _through_client_finished()
    cw, _ = tls12_protectors(kl, c.client_random, server_random, c.cipher_suite or 0, etm=False)
    recs = split_records(flight3)
    _, fin = cw.open(recs[2][1], recs[2][2])
    cw.seq = 0
    bad = cw.seal(H, b"\x14" + length.to_bytes(3, "big") + (fin[4:] + b"\x00")[:length])
    with pytest.raises(TlsError) as ei:
        s.receive_data(recs[0][1] + recs[0][2] + CCS_RECORD + bad)
    assert ei.value.reason is Reason.DECODE
    assert plaintext_alert(s.data_to_send()) == (2, AD.decode_error)


def test_tampered_server_finished() -> None:
    c, s, kl, server_random, flight3 = _through_client_finished()
    s.receive_data(flight3)
    flight4 = s.data_to_send()
    cw, sw = tls12_protectors(kl, c.client_random, server_random, c.cipher_suite or 0, etm=False)
    recs = split_records(flight4)
    assert [r[0] for r in recs] == [CCS, H]
    _, fin = sw.open(recs[1][1], recs[1][2])
    sw.seq = 0
    bad = sw.seal(H, fin[:4] + bytes(12))
    with pytest.raises(TlsError) as ei:
        c.receive_data(CCS_RECORD + bad)
    assert ei.value.reason is Reason.BAD_FINISHED
    alert = c.data_to_send()  # protected: the client already switched its write keys
    [(_, aheader, apayload)] = split_records(alert)
    cw.seq = 1  # after the client's Finished
    assert cw.open(aheader, apayload) == (ALERT, bytes((2, AD.decrypt_error)))


def test_finished_record_tampered_in_transit() -> None:
    _, s, _, _, flight3 = _through_client_finished()
    bad = bytearray(flight3)
    bad[-1] ^= 0x80
    with pytest.raises(TlsError) as ei:
        s.receive_data(bytes(bad))
    assert ei.value.reason is Reason.BAD_RECORD_MAC
    assert plaintext_alert(s.data_to_send()) == (2, AD.bad_record_mac)


# ----------------------------------------------------------- ChangeCipherSpec


def test_ccs_before_client_key_exchange() -> None:
    c, s = pair(c12(), s12())
    c.start_handshake()
    s.receive_data(c.data_to_send())
    assert s.state == S.CLIENT_KEY_EXCHANGE
    s.data_to_send()
    with pytest.raises(TlsError) as ei:
        s.receive_data(CCS_RECORD)
    assert ei.value.reason is Reason.UNEXPECTED_MESSAGE
    assert plaintext_alert(s.data_to_send()) == (2, AD.unexpected_message)


def test_ccs_reordered_before_client_key_exchange() -> None:
    _, s, _, _, flight3 = _through_client_finished()
    recs = split_records(flight3)
    with pytest.raises(TlsError) as ei:
        s.receive_data(CCS_RECORD + recs[0][1] + recs[0][2] + recs[2][1] + recs[2][2])
    assert ei.value.reason is Reason.UNEXPECTED_MESSAGE
    assert plaintext_alert(s.data_to_send()) == (2, AD.unexpected_message)


def test_ccs_twice() -> None:
    _, s, _, _, flight3 = _through_client_finished()
    recs = split_records(flight3)
    with pytest.raises(TlsError) as ei:
        s.receive_data(recs[0][1] + recs[0][2] + CCS_RECORD + CCS_RECORD + recs[2][1] + recs[2][2])
    assert ei.value.reason is Reason.UNEXPECTED_MESSAGE


def test_ccs_between_server_hello_and_certificate() -> None:
    c, s = pair(c12(), s12())
    c.start_handshake()
    s.receive_data(c.data_to_send())
    msgs = plain_handshake(s.data_to_send())
    with pytest.raises(TlsError) as ei:
        c.receive_data(rebuild(msgs[:1]) + CCS_RECORD + rebuild(msgs[1:]))
    assert ei.value.reason is Reason.UNEXPECTED_MESSAGE
    assert plaintext_alert(c.data_to_send()) == (2, AD.unexpected_message)


def test_ccs_inside_a_handshake_message() -> None:
    """A key change may not split a handshake message (the joiner is not empty)."""
    c, s = pair(c12(), s12())
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    s.receive_data(c.data_to_send())
    recs = split_records(s.data_to_send())
    assert [r[0] for r in recs] == [CCS, H]
    partial = rebuild([b"\x04\x00\x00\x10" + bytes(4)])  # half a NewSessionTicket
    with pytest.raises(TlsError) as ei:
        c.receive_data(partial + CCS_RECORD)
    assert ei.value.reason is Reason.UNEXPECTED_MESSAGE


@pytest.mark.parametrize("side", ["client", "server"])
def test_ccs_after_handshake(side: str) -> None:
    c, s = pair(c12(), s12())
    full_handshake(c, s)
    conn = c if side == "client" else s
    with pytest.raises(TlsError) as ei:
        conn.receive_data(CCS_RECORD)
    assert ei.value.reason is Reason.UNEXPECTED_MESSAGE
    assert kinds(conn.data_to_send()) == [ALERT]  # protected by now


def test_unexpected_handshake_message_order() -> None:
    """ServerHelloDone straight after ServerHello (no Certificate)."""
    c, s = pair(c12(), s12())
    c.start_handshake()
    s.receive_data(c.data_to_send())
    msgs = plain_handshake(s.data_to_send())
    with pytest.raises(TlsError) as ei:
        c.receive_data(rebuild([msgs[0], msgs[-1]]))
    assert ei.value.reason is Reason.UNEXPECTED_MESSAGE
    assert plaintext_alert(c.data_to_send()) == (2, AD.unexpected_message)


def test_server_key_exchange_signature_tampered() -> None:
    c, s = pair(c12(), s12())
    c.start_handshake()
    s.receive_data(c.data_to_send())
    msgs = plain_handshake(s.data_to_send())
    assert msgs[2][0] == HT.SERVER_KEY_EXCHANGE
    ske = bytearray(msgs[2])
    ske[10] ^= 1  # inside the ECDH public value: the signature no longer fits
    msgs[2] = bytes(ske)
    with pytest.raises(TlsError) as ei:
        c.receive_data(rebuild(msgs))
    assert ei.value.reason is Reason.BAD_SIGNATURE
    assert plaintext_alert(c.data_to_send()) == (2, AD.decrypt_error)


def test_application_data_before_finished() -> None:
    c, s, kl, server_random, flight3 = _through_client_finished()
    cw, _ = tls12_protectors(kl, c.client_random, server_random, c.cipher_suite or 0, etm=False)
    recs = split_records(flight3)
    cw.seq = 0
    early = cw.seal(APP, b"too soon")
    with pytest.raises(TlsError) as ei:
        s.receive_data(recs[0][1] + recs[0][2] + CCS_RECORD + early)
    assert ei.value.reason is Reason.UNEXPECTED_MESSAGE


def test_close_and_eof() -> None:
    c, s = pair(c12(), s12())
    full_handshake(c, s)
    c.close()
    s.receive_data(c.data_to_send())
    s.receive_data(b"")
    names = [type(e).__name__ for e in drain(s)]
    assert names == ["CloseNotify", "ConnectionClosed"]


def test_eof_mid_handshake() -> None:
    c, s = pair(c12(), s12())
    c.start_handshake()
    s.receive_data(c.data_to_send())
    with pytest.raises(TlsError) as ei:
        c.receive_data(b"")
    assert ei.value.reason is Reason.TRUNCATED
