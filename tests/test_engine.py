"""Our TLS 1.3 client against our TLS 1.3 server, in memory, flight by flight.

In the style of aioquic's ``_handshake`` tests: every flight is moved by
hand and the state of both sides is asserted after each one.
"""

from __future__ import annotations

import pytest

from helpers import drain
from https_request.tls.client13 import ClientConnection
from https_request.tls.enums import (
    AlertDescription,
    CipherSuite,
    ContentType,
    ExtensionType,
    HandshakeType,
    NamedGroup,
    PskKeyExchangeMode,
)
from https_request.tls.errors import AlertReceived, LocalProtocolError, Reason, TlsError
from https_request.tls.events import (
    ApplicationData,
    CloseNotify,
    ConnectionClosed,
    EarlyDataReceived,
    EarlyDataRejected,
    Event,
    HandshakeComplete,
    KeyUpdated,
    SessionTicketReceived,
)
from https_request.tls.messages import HRR_RANDOM, ClientHello, ServerHello
from https_request.tls.server13 import ServerConnection
from https_request.tls.session import Session, SessionError
from https_request.tls.states import HsState as S
from tlsenv import (
    CLIENT_LEAF,
    LEAF,
    VERIFIER,
    Clock,
    KeyLog,
    client_config,
    client_hello_rejected,
    open_records,
    pair,
    seal_records,
    server_config,
    split_records,
    ticket_keys,
)

ALL_SUITES = tuple(int(s) for s in CipherSuite if s != CipherSuite.TLS_EMPTY_RENEGOTIATION_INFO_SCSV)
ALL_GROUPS = (NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1, NamedGroup.X25519MLKEM768)
H = ContentType.HANDSHAKE
CCS = ContentType.CHANGE_CIPHER_SPEC
APP = ContentType.APPLICATION_DATA


def kinds(data: bytes) -> list[int]:
    return [ctype for ctype, _, _ in split_records(data)]


def only(events: list[Event], kind: type) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def full_handshake(
    c: ClientConnection, s: ServerConnection, *, server_waits_for: S = S.CLIENT_FINISHED
) -> tuple[list[Event], list[Event]]:
    """Client hello .. tickets, checking the state after every flight."""
    c.start_handshake()
    assert c.state == S.SERVER_HELLO and c.is_handshaking
    assert drain(c) == []
    flight1 = c.data_to_send()
    assert set(kinds(flight1)) == {H}

    s.receive_data(flight1)
    assert s.state == server_waits_for
    assert drain(s) == []
    flight2 = s.data_to_send()
    k = kinds(flight2)
    assert k[:2] == [H, CCS] and set(k[2:]) == {APP}  # ServerHello, CCS, then all protected

    c.receive_data(flight2)
    assert c.state == S.HANDSHAKE_OVER and not c.is_handshaking
    cev = drain(c)
    assert [type(e) for e in cev] == [HandshakeComplete]
    flight3 = c.data_to_send()
    assert kinds(flight3)[0] == CCS and set(kinds(flight3)[1:]) == {APP}

    s.receive_data(flight3)
    assert s.state == S.HANDSHAKE_OVER
    sev = drain(s)
    assert [type(e) for e in sev] == [HandshakeComplete]
    flight4 = s.data_to_send()  # NewSessionTickets (if any)
    if flight4:  # (b"" would mean EOF)
        c.receive_data(flight4)
    cev += drain(c)
    assert c.data_to_send() == b"" and s.data_to_send() == b""
    return cev, sev


def exchange(c: ClientConnection, s: ServerConnection, to_server: bytes, to_client: bytes) -> None:
    c.send_application_data(to_server)
    s.send_application_data(to_client)
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())  # both sides sent something: never b""
    assert b"".join(e.data for e in drain(s) if isinstance(e, ApplicationData)) == to_server
    assert b"".join(e.data for e in drain(c) if isinstance(e, ApplicationData)) == to_client


# ------------------------------------------------------------ full handshakes


@pytest.mark.parametrize("group", ALL_GROUPS, ids=lambda g: NamedGroup(g).name)
@pytest.mark.parametrize("suite", ALL_SUITES, ids=lambda s: CipherSuite(s).name)
def test_every_suite_and_group(suite: int, group: int) -> None:
    ckl, skl = KeyLog(), KeyLog()
    ccfg = client_config(cipher_suites=(suite,), groups=(group,), key_share_groups=(group,), keylog=ckl)
    scfg = server_config(cipher_suites=ALL_SUITES, keylog=skl)
    c, s = pair(ccfg, scfg)
    cev, sev = full_handshake(c, s)
    done_c, done_s = cev[0], sev[0]
    assert isinstance(done_c, HandshakeComplete) and isinstance(done_s, HandshakeComplete)
    for done in (done_c, done_s):
        assert done.version == 0x0304
        assert done.cipher_suite == suite
        assert done.group == group
        assert not done.resumed and not done.early_data_accepted
        assert done.server_name == "localhost"
    assert done_c.peer_certificates == LEAF.chain_der
    assert done_s.peer_certificates == ()
    assert c.cipher_suite == s.cipher_suite == suite
    assert sorted(ckl.lines) == sorted(skl.lines)  # both sides derived the same secrets
    assert {ln.split()[0] for ln in ckl.lines} == {
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
    }
    assert len(only(cev, SessionTicketReceived)) == 0  # no ticket keys configured
    exchange(c, s, b"ping" * 10, b"pong" * 10)


def test_default_configs_negotiate_hybrid_group() -> None:
    c, s = pair()
    cev, _ = full_handshake(c, s)
    assert cev[0] == HandshakeComplete(
        version=0x0304,
        cipher_suite=CipherSuite.TLS_AES_128_GCM_SHA256,
        group=NamedGroup.X25519MLKEM768,
        alpn_protocol=None,
        resumed=False,
        early_data_accepted=False,
        server_name="localhost",
        peer_certificates=LEAF.chain_der,
    )


def test_no_middlebox_compat_no_ccs() -> None:
    c, s = pair(client_config(middlebox_compat=False))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    flight2 = s.data_to_send()
    assert kinds(flight2)[:2] == [H, APP]  # empty session id: the server sends no CCS either
    c.receive_data(flight2)
    assert kinds(c.data_to_send()) == [APP]
    assert c.state == S.HANDSHAKE_OVER


def test_no_server_name() -> None:
    c, s = pair(client_config(verifier=None), server_name=None)
    _cev, _sev = full_handshake(c, s)
    assert s.server_name is None
    assert s.client_hello is not None and s.client_hello.ext(ExtensionType.server_name) is None


# ---------------------------------------------------------------- ALPN


def test_alpn_server_preference() -> None:
    c, s = pair(client_config(alpn_protocols=("h2", "http/1.1")), server_config(alpn_protocols=("http/1.1", "h2")))
    cev, sev = full_handshake(c, s)
    assert cev[0].alpn_protocol == "http/1.1"  # type: ignore[union-attr]
    assert sev[0].alpn_protocol == "http/1.1"  # type: ignore[union-attr]
    assert c.alpn_protocol == s.alpn_protocol == "http/1.1"


def test_alpn_only_one_side() -> None:
    c, s = pair(client_config(), server_config(alpn_protocols=("h2",)))
    cev, _ = full_handshake(c, s)
    assert cev[0].alpn_protocol is None  # type: ignore[union-attr]
    c, s = pair(client_config(alpn_protocols=("h2",)), server_config())
    cev, _ = full_handshake(c, s)
    assert cev[0].alpn_protocol is None  # type: ignore[union-attr]


def test_alpn_no_overlap() -> None:
    c, s = pair(client_config(alpn_protocols=("h2",)), server_config(alpn_protocols=("http/1.1",)))
    alert = client_hello_rejected(c, s, Reason.NO_COMMON_ALPN, AlertDescription.no_application_protocol)
    with pytest.raises(AlertReceived) as ei2:
        c.receive_data(alert)
    assert ei2.value.description == AlertDescription.no_application_protocol
    assert c.data_to_send() == b""  # nothing is sent back for a received alert


# ------------------------------------------------------- client certificates


def test_client_certificate_requested_and_sent() -> None:
    c, s = pair(
        client_config(certificate=CLIENT_LEAF.certified_key()),
        server_config(request_client_certificate=True, client_verifier=VERIFIER),
    )
    _cev, sev = full_handshake(c, s, server_waits_for=S.CLIENT_CERTIFICATE)
    assert sev[0].peer_certificates == CLIENT_LEAF.chain_der  # type: ignore[union-attr]
    assert s.peer_certificates == CLIENT_LEAF.chain_der
    exchange(c, s, b"a", b"b")


def test_client_certificate_requested_not_sent() -> None:
    c, s = pair(client_config(), server_config(request_client_certificate=True, client_verifier=VERIFIER))
    _, sev = full_handshake(c, s, server_waits_for=S.CLIENT_CERTIFICATE)
    assert sev[0].peer_certificates == ()  # type: ignore[union-attr]


def test_client_certificate_required_and_sent() -> None:
    c, s = pair(
        client_config(certificate=CLIENT_LEAF.certified_key()),
        server_config(request_client_certificate=True, require_client_certificate=True, client_verifier=VERIFIER),
    )
    _, sev = full_handshake(c, s, server_waits_for=S.CLIENT_CERTIFICATE)
    assert sev[0].peer_certificates == CLIENT_LEAF.chain_der  # type: ignore[union-attr]


def test_client_certificate_required_missing() -> None:
    skl = KeyLog()
    c, s = pair(
        client_config(),
        server_config(
            request_client_certificate=True, require_client_certificate=True, client_verifier=VERIFIER, keylog=skl
        ),
    )
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    assert c.state == S.HANDSHAKE_OVER  # the client cannot know yet
    with pytest.raises(TlsError) as ei:
        s.receive_data(c.data_to_send())
    assert ei.value.reason is Reason.CERT_REQUIRED
    assert s.error is ei.value and s.error.alert == AlertDescription.certificate_required
    alert = s.data_to_send()
    [(ctype, data)] = open_records(s.cipher_suite or 0, skl.secret("SERVER_TRAFFIC_SECRET_0"), split_records(alert))
    assert (ctype, data) == (ContentType.ALERT, bytes((2, AlertDescription.certificate_required)))
    with pytest.raises(AlertReceived) as ei2:
        c.receive_data(alert)
    assert ei2.value.description == AlertDescription.certificate_required


def test_client_certificate_untrusted_by_server() -> None:
    from certs import make_ca, make_leaf

    other = make_leaf(make_ca(name="Other CA"), ["client.test"], eku="clientAuth")
    c, s = pair(
        client_config(certificate=other.certified_key()),
        server_config(request_client_certificate=True, client_verifier=VERIFIER),
    )
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    with pytest.raises(TlsError) as ei:
        s.receive_data(c.data_to_send())
    assert ei.value.reason is Reason.CERT_UNTRUSTED
    assert ei.value.alert == AlertDescription.unknown_ca


# ------------------------------------------------------------------ HRR


def _hrr_configs(cookie: bool) -> tuple[object, object]:
    ccfg = client_config(groups=(NamedGroup.x25519, NamedGroup.secp256r1), key_share_groups=(NamedGroup.x25519,))
    scfg = server_config(groups=(NamedGroup.secp256r1, NamedGroup.secp384r1), hrr_cookie=cookie)
    return ccfg, scfg


@pytest.mark.parametrize("cookie", [False, True], ids=["plain", "cookie"])
def test_hello_retry_request(cookie: bool) -> None:
    ccfg, scfg = _hrr_configs(cookie)
    c, s = pair(ccfg, scfg)  # type: ignore[arg-type]
    c.start_handshake()
    ch1_rec = c.data_to_send()
    ch1 = ClientHello.decode(split_records(ch1_rec)[0][2][4:])

    s.receive_data(ch1_rec)
    assert s.state == S.CLIENT_HELLO  # waiting for the second ClientHello
    hrr_flight = s.data_to_send()
    assert kinds(hrr_flight) == [H, CCS]
    hrr_msg = split_records(hrr_flight)[0][2]
    assert hrr_msg[0] == HandshakeType.SERVER_HELLO
    hrr = ServerHello.decode(hrr_msg[4:])
    assert hrr.random == HRR_RANDOM and hrr.is_hello_retry_request
    assert hrr.ext(ExtensionType.key_share) == NamedGroup.secp256r1.to_bytes(2, "big")
    assert (hrr.ext(ExtensionType.cookie) is not None) == cookie

    c.receive_data(hrr_flight)
    assert c.state == S.SERVER_HELLO
    ch2_flight = c.data_to_send()
    assert kinds(ch2_flight) == [CCS, H]
    ch2 = ClientHello.decode(split_records(ch2_flight)[1][2][4:])
    assert ch2.random == ch1.random and ch2.legacy_session_id == ch1.legacy_session_id
    from https_request.tls.extensions import decode_key_share_client

    assert [g for g, _ in decode_key_share_client(ch2.ext(ExtensionType.key_share) or b"")] == [NamedGroup.secp256r1]
    assert ch2.ext(ExtensionType.cookie) == (hrr.ext(ExtensionType.cookie) if cookie else None)

    s.receive_data(ch2_flight)
    assert s.state == S.CLIENT_FINISHED
    flight = s.data_to_send()
    assert kinds(flight)[0] == H and set(kinds(flight)[1:]) == {APP}  # no second CCS
    c.receive_data(flight)
    assert c.state == S.HANDSHAKE_OVER
    [done] = drain(c)
    assert isinstance(done, HandshakeComplete) and done.group == NamedGroup.secp256r1
    fin = c.data_to_send()
    assert set(kinds(fin)) == {APP}  # CCS went before the second ClientHello
    s.receive_data(fin)
    assert s.state == S.HANDSHAKE_OVER
    exchange(c, s, b"after hrr", b"ok")


def test_hrr_cookie_tampered() -> None:
    ccfg, scfg = _hrr_configs(True)
    c, s = pair(ccfg, scfg)  # type: ignore[arg-type]
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    flight = bytearray(c.data_to_send())
    pos = flight.index(ExtensionType.cookie.to_bytes(2, "big") + b"\x00\x22\x00\x20")
    flight[pos + 8] ^= 1
    with pytest.raises(TlsError) as ei:
        s.receive_data(bytes(flight))
    assert ei.value.reason is Reason.ILLEGAL_PARAMETER


# ------------------------------------------------------------- resumption


def first_session(ccfg: object, scfg: object) -> Session:
    c, s = pair(ccfg, scfg)  # type: ignore[arg-type]
    cev, _ = full_handshake(c, s)
    tickets = only(cev, SessionTicketReceived)
    assert len(tickets) == 2 == s.tickets_sent
    assert c.session is tickets[-1].session  # type: ignore[union-attr]
    assert c.session is not None
    return c.session


def resume(ccfg: object, scfg: object, session: Session) -> tuple[ClientConnection, ServerConnection, list[Event]]:
    c, s = pair(ccfg, scfg, session=session)  # type: ignore[arg-type]
    c.start_handshake()
    flight1 = c.data_to_send()
    s.receive_data(flight1)
    flight2 = s.data_to_send()
    c.receive_data(flight2)
    s.receive_data(c.data_to_send())
    tickets = s.data_to_send()
    if tickets:
        c.receive_data(tickets)
    events = drain(c)
    drain(s)
    assert c.state == s.state == S.HANDSHAKE_OVER
    return c, s, events


def test_resumption_psk_dhe_ke() -> None:
    clock = Clock()
    ccfg = client_config(clock=clock)
    scfg = server_config(clock=clock, ticket_keys=ticket_keys(clock))
    session = first_session(ccfg, scfg)
    assert session.server_name == "localhost" and session.lifetime == 86400 and session.max_early_data == 0
    clock.t += 5
    c, s = pair(ccfg, scfg, session=session)
    c.start_handshake()
    flight1 = c.data_to_send()
    ch = ClientHello.decode(split_records(flight1)[0][2][4:])
    assert ch.extensions[-1].type == ExtensionType.pre_shared_key
    s.receive_data(flight1)
    assert s.state == S.CLIENT_FINISHED and s.resumed
    flight2 = s.data_to_send()
    sh = ServerHello.decode(split_records(flight2)[0][2][4:])
    assert sh.ext(ExtensionType.pre_shared_key) == b"\x00\x00"
    assert sh.ext(ExtensionType.key_share) is not None
    c.receive_data(flight2)
    [done] = drain(c)
    assert isinstance(done, HandshakeComplete)
    assert done.resumed and done.group is not None and done.peer_certificates == ()
    s.receive_data(c.data_to_send())
    assert [type(e) for e in drain(s)] == [HandshakeComplete]
    c.receive_data(s.data_to_send())
    # one fresh ticket on a resumed connection (it replaces the one used), as OpenSSL sends
    assert len(only(drain(c), SessionTicketReceived)) == 1 == s.tickets_sent
    exchange(c, s, b"resumed", b"yes")


def test_resumption_psk_ke() -> None:
    clock = Clock()
    ccfg = client_config(clock=clock, psk_modes=(PskKeyExchangeMode.psk_ke,))
    scfg = server_config(clock=clock, ticket_keys=ticket_keys(clock))
    session = first_session(ccfg, scfg)
    c, s = pair(ccfg, scfg, session=session)
    c.start_handshake()
    s.receive_data(c.data_to_send())
    flight2 = s.data_to_send()
    sh = ServerHello.decode(split_records(flight2)[0][2][4:])
    assert sh.ext(ExtensionType.key_share) is None  # no (EC)DHE at all
    c.receive_data(flight2)
    [done] = drain(c)
    assert isinstance(done, HandshakeComplete) and done.resumed and done.group is None
    s.receive_data(c.data_to_send())
    assert s.resumed and s.group is None
    exchange(c, s, b"psk only", b"ok")


def test_psk_ke_refused_by_server_gives_no_tickets() -> None:
    clock = Clock()
    ccfg = client_config(clock=clock, psk_modes=(PskKeyExchangeMode.psk_ke,))
    scfg = server_config(clock=clock, ticket_keys=ticket_keys(clock), psk_modes=(PskKeyExchangeMode.psk_dhe_ke,))
    c, s = pair(ccfg, scfg)
    cev, _ = full_handshake(c, s)
    assert only(cev, SessionTicketReceived) == [] and c.session is None and s.tickets_sent == 0


def test_resumption_with_other_suite_preference() -> None:
    """The server resumes with the ticket's suite when the client still offers it."""
    clock = Clock()
    ccfg1 = client_config(clock=clock, cipher_suites=(CipherSuite.TLS_CHACHA20_POLY1305_SHA256,))
    scfg = server_config(clock=clock, ticket_keys=ticket_keys(clock))
    session = first_session(ccfg1, scfg)
    ccfg2 = client_config(clock=clock, cipher_suites=(0x1301, 0x1303))
    c, _s, _ = resume(ccfg2, scfg, session)
    assert c.resumed and c.cipher_suite == 0x1303


def test_ticket_expired_client_side() -> None:
    clock = Clock()
    ccfg = client_config(clock=clock)
    scfg = server_config(clock=clock, ticket_keys=ticket_keys(clock), ticket_lifetime=3600)
    session = first_session(ccfg, scfg)
    clock.t += 3601
    c, s, _ = resume(ccfg, scfg, session)
    assert not c.resumed and not s.resumed
    assert s.client_hello is not None and s.client_hello.ext(ExtensionType.pre_shared_key) is None


def test_ticket_expired_server_side() -> None:
    """The client's clock says the ticket is fine; the server's says expired: full handshake."""
    cclock, sclock = Clock(), Clock()
    ccfg = client_config(clock=cclock)
    scfg = server_config(clock=sclock, ticket_keys=ticket_keys(sclock), ticket_lifetime=3600)
    session = first_session(ccfg, scfg)
    sclock.t += 3601
    c, s, _ = resume(ccfg, scfg, session)
    assert s.client_hello is not None and s.client_hello.ext(ExtensionType.pre_shared_key) is not None
    assert not c.resumed and not s.resumed
    assert c.peer_certificates == LEAF.chain_der


def test_ticket_key_rotation() -> None:
    clock = Clock()
    keys = ticket_keys(clock, lifetime=1000)
    ccfg = client_config(clock=clock)
    scfg = server_config(clock=clock, ticket_keys=keys)
    session = first_session(ccfg, scfg)

    clock.t += 1001
    assert keys.rotate(clock())  # once: the ticket's key is now the previous one
    c, s, _ = resume(ccfg, scfg, session)
    assert c.resumed and s.resumed

    clock.t += 1001
    assert keys.rotate(clock())  # twice: the ticket's key is gone
    c, s, _ = resume(ccfg, scfg, session)
    assert not c.resumed and not s.resumed


def test_ticket_keys_stale_after_two_lifetimes() -> None:
    clock = Clock()
    keys = ticket_keys(clock, lifetime=1000)
    ccfg = client_config(clock=clock)
    scfg = server_config(clock=clock, ticket_keys=keys)
    session = first_session(ccfg, scfg)
    clock.t += 2000  # one jump over both lifetimes drops both keys
    _c, s, _ = resume(ccfg, scfg, session)
    assert not s.resumed


def test_ticket_from_other_server_keys() -> None:
    clock = Clock()
    ccfg = client_config(clock=clock)
    session = first_session(ccfg, server_config(clock=clock, ticket_keys=ticket_keys(clock, seed=10)))
    _c, s, _ = resume(ccfg, server_config(clock=clock, ticket_keys=ticket_keys(clock, seed=11)), session)
    assert not s.resumed


def test_ticket_for_other_server_name_not_offered() -> None:
    clock = Clock()
    ccfg = client_config(clock=clock, verifier=None)
    scfg = server_config(clock=clock, ticket_keys=ticket_keys(clock))
    session = first_session(ccfg, scfg)
    c = ClientConnection(ccfg, "other.test", session=session)
    c.start_handshake()
    ch = ClientHello.decode(split_records(c.data_to_send())[0][2][4:])
    assert ch.ext(ExtensionType.pre_shared_key) is None


def test_session_serialisation() -> None:
    clock = Clock()
    ccfg = client_config(clock=clock, alpn_protocols=("h2",))
    scfg = server_config(clock=clock, ticket_keys=ticket_keys(clock), alpn_protocols=("h2",), max_early_data=1000)
    session = first_session(ccfg, scfg)
    blob = session.to_bytes()
    loaded = Session.from_bytes(blob)
    assert loaded == session
    assert loaded.alpn_protocol == "h2" and loaded.max_early_data == 1000
    c, s, _ = resume(ccfg, scfg, loaded)
    assert c.resumed and s.resumed and c.alpn_protocol == "h2"

    for i in (0, 8, len(blob) // 2, len(blob) - 1):
        bad = bytearray(blob)
        bad[i] ^= 0x40
        with pytest.raises(SessionError):
            Session.from_bytes(bytes(bad))
    with pytest.raises(SessionError):
        Session.from_bytes(blob[:10])
    with pytest.raises(SessionError):
        Session.from_bytes(b"")
    wrong_format = bytearray(blob)
    wrong_format[7] = 99
    with pytest.raises(SessionError, match="format"):
        Session.from_bytes(bytes(wrong_format))


@pytest.mark.parametrize(
    "name",
    ["xn--bcher-kva.example", "a..b", "x" * 64 + ".test", "Mixed.Case.Test"],
    ids=["idn", "empty-label", "long-label", "case"],
)
def test_resumption_with_unusual_server_names(name: str) -> None:
    """Names the idna codec would refuse or rewrite: tickets, session files and resumption still work."""
    clock = Clock()
    ccfg = client_config(clock=clock, verifier=None)
    scfg = server_config(clock=clock, ticket_keys=ticket_keys(clock))
    c, s = pair(ccfg, scfg, server_name=name)
    cev, _sev = full_handshake(c, s)
    assert s.server_name == name and len(only(cev, SessionTicketReceived)) == 2
    assert c.session is not None
    loaded = Session.from_bytes(c.session.to_bytes())
    assert loaded == c.session and loaded.server_name == name
    c2, s2 = pair(ccfg, scfg, server_name=name, session=loaded)
    c2.start_handshake()
    s2.receive_data(c2.data_to_send())
    c2.receive_data(s2.data_to_send())
    s2.receive_data(c2.data_to_send())
    assert c2.resumed and s2.resumed


# ------------------------------------------------------------------ 0-RTT


def _early_configs(clock: Clock, **server_kw: object) -> tuple[object, object]:
    ccfg = client_config(clock=clock, early_data=True)
    scfg = server_config(
        clock=clock, ticket_keys=server_kw.pop("keys", None) or ticket_keys(clock), max_early_data=16384, **server_kw
    )
    return ccfg, scfg


def test_early_data_accepted() -> None:
    clock = Clock()
    ccfg, scfg = _early_configs(clock)
    session = first_session(ccfg, scfg)
    assert session.max_early_data == 16384

    c, s = pair(ccfg, scfg, session=session)  # type: ignore[arg-type]
    c.start_handshake()
    c.send_application_data(b"early data!")
    flight1 = c.data_to_send()
    assert kinds(flight1) == [H, CCS, APP]
    s.receive_data(flight1)
    assert s.state == S.END_OF_EARLY_DATA
    assert drain(s) == [EarlyDataReceived(b"early data!")]
    c.send_application_data(b" more")  # still 0-RTT: the server's flight has not arrived
    s.receive_data(c.data_to_send())
    assert drain(s) == [EarlyDataReceived(b" more")]

    c.receive_data(s.data_to_send())
    assert c.state == S.HANDSHAKE_OVER
    done, *tickets = drain(c)
    assert isinstance(done, HandshakeComplete) and done.resumed and done.early_data_accepted
    assert len(only(tickets, SessionTicketReceived)) == 1  # with the server's Finished (RFC 8446 4.6.1)
    s.receive_data(c.data_to_send())  # EndOfEarlyData, Finished
    assert s.state == S.HANDSHAKE_OVER
    [sdone] = drain(s)
    assert isinstance(sdone, HandshakeComplete) and sdone.early_data_accepted
    assert s.data_to_send() == b""  # the tickets went out already
    exchange(c, s, b"1-rtt", b"reply")
    assert c.session is not None and c.session is not session
    c2, s2, _ = resume(ccfg, scfg, c.session)  # the early ticket holds the secret the server sealed
    assert c2.resumed and s2.resumed


@pytest.mark.parametrize("early_tickets", [True, False])
def test_tickets_after_accepted_early_data(early_tickets: bool) -> None:
    """RFC 8446 4.6.1: with 0-RTT accepted the tickets follow the server's Finished
    (ahead of a 0.5-RTT answer), unless configured to wait for the client's Finished."""
    clock = Clock()
    ccfg, scfg = _early_configs(clock, early_tickets=early_tickets, send_half_rtt_data=True)
    session = first_session(ccfg, scfg)
    c, s = pair(ccfg, scfg, session=session)  # type: ignore[arg-type]
    c.start_handshake()
    c.send_application_data(b"GET /")
    s.receive_data(c.data_to_send())
    s.send_application_data(b"0.5-RTT answer")
    c.receive_data(s.data_to_send())
    events = drain(c)
    kinds_seen = [type(e) for e in events if not isinstance(e, HandshakeComplete)]
    first_tickets = [SessionTicketReceived] if early_tickets else []  # one: the handshake resumed
    assert kinds_seen == [*first_tickets, ApplicationData]
    s.receive_data(c.data_to_send())
    late = s.data_to_send()
    if not early_tickets:
        c.receive_data(late)
        assert [type(e) for e in drain(c)] == [SessionTicketReceived]
    else:
        assert late == b""
    c2, s2, _ = resume(ccfg, scfg, c.session)  # type: ignore[arg-type]
    assert c2.resumed and s2.resumed


def test_early_data_rejected_is_resent() -> None:
    clock = Clock()
    keys = ticket_keys(clock)
    ccfg, scfg = _early_configs(clock, keys=keys)
    session = first_session(ccfg, scfg)
    no_early = server_config(clock=clock, ticket_keys=keys, max_early_data=0)

    c, s = pair(ccfg, no_early, session=session)  # type: ignore[arg-type]
    c.start_handshake()
    c.send_application_data(b"0-rtt payload")
    s.receive_data(c.data_to_send())
    assert s.state == S.CLIENT_FINISHED and s.resumed
    assert drain(s) == []  # skipped, not delivered
    c.receive_data(s.data_to_send())
    events = drain(c)
    assert events[0] == EarlyDataRejected(resent=len(b"0-rtt payload"))
    assert isinstance(events[1], HandshakeComplete) and events[1].resumed and not events[1].early_data_accepted
    s.receive_data(c.data_to_send())
    assert [type(e) for e in drain(s)] == [HandshakeComplete, ApplicationData]
    s.receive_data(b"")  # (EOF) just to be sure nothing else was buffered
    assert drain(s) == [ConnectionClosed(clean=False)]


def test_early_data_rejected_after_hrr() -> None:
    clock = Clock()
    keys = ticket_keys(clock)
    ccfg = client_config(
        clock=clock,
        early_data=True,
        groups=(NamedGroup.x25519, NamedGroup.secp256r1),
        key_share_groups=(NamedGroup.x25519,),
    )
    scfg = server_config(clock=clock, ticket_keys=keys, max_early_data=16384)
    session = first_session(ccfg, scfg)
    hrr_server = server_config(clock=clock, ticket_keys=keys, max_early_data=16384, groups=(NamedGroup.secp256r1,))
    c, s = pair(ccfg, hrr_server, session=session)
    c.start_handshake()
    c.send_application_data(b"too early")
    s.receive_data(c.data_to_send())
    assert s.state == S.CLIENT_HELLO
    c.receive_data(s.data_to_send())  # HRR: 0-RTT abandoned
    s.receive_data(c.data_to_send())
    tickets = s.data_to_send()
    if tickets:
        c.receive_data(tickets)
    events = drain(c)
    assert events[0] == EarlyDataRejected(resent=9)
    assert isinstance(events[1], HandshakeComplete) and events[1].resumed
    s.receive_data(c.data_to_send())
    assert [e for e in drain(s) if isinstance(e, ApplicationData)] == [ApplicationData(b"too early")]


def test_early_data_replay_rejected() -> None:
    clock = Clock()
    ccfg, scfg = _early_configs(clock)
    session = first_session(ccfg, scfg)
    outcomes = []
    for _ in range(2):
        c, s = pair(ccfg, scfg, session=session)  # type: ignore[arg-type]
        c.start_handshake()
        c.send_application_data(b"replayable")
        s.receive_data(c.data_to_send())
        c.receive_data(s.data_to_send())
        cev = drain(c)
        s.receive_data(c.data_to_send())
        sev = drain(s)
        assert c.resumed and s.resumed
        outcomes.append((c.early_data_accepted, only(cev, EarlyDataRejected), sev))
    assert outcomes[0][0] is True and outcomes[0][1] == []
    assert outcomes[1][0] is False and outcomes[1][1] == [EarlyDataRejected(resent=10)]
    assert ApplicationData(b"replayable") in outcomes[1][2]


def test_early_data_too_large_for_ticket_waits() -> None:
    """More than the ticket allows is not sent as 0-RTT but after the handshake."""
    clock = Clock()
    keys = ticket_keys(clock)
    ccfg = client_config(clock=clock, early_data=True)
    scfg = server_config(clock=clock, ticket_keys=keys, max_early_data=10)
    session = first_session(ccfg, scfg)
    c, _s = pair(ccfg, scfg, session=session)  # type: ignore[arg-type]
    c.start_handshake()
    c.send_application_data(b"x" * 11)
    assert kinds(c.data_to_send()) == [H, CCS]  # hello only; the 11 bytes wait


# ------------------------------------------------------ post-handshake traffic


def established(**ckw: object) -> tuple[ClientConnection, ServerConnection]:
    c, s = pair(client_config(**ckw))
    full_handshake(c, s)
    return c, s


def test_key_update_both_directions() -> None:
    c, s = established()
    c.update_keys(request_peer=False)
    assert drain(c) == [KeyUpdated(sending=True)]
    s.receive_data(c.data_to_send())
    assert drain(s) == [KeyUpdated(sending=False)]
    assert s.data_to_send() == b""  # not requested: no answer
    exchange(c, s, b"after client update", b"still fine")

    s.update_keys(request_peer=True)
    assert drain(s) == [KeyUpdated(sending=True)]
    c.receive_data(s.data_to_send())
    assert drain(c) == [KeyUpdated(sending=False), KeyUpdated(sending=True)]  # answered
    s.receive_data(c.data_to_send())
    assert drain(s) == [KeyUpdated(sending=False)]
    exchange(c, s, b"x" * 100, b"y" * 100)

    for _ in range(3):
        c.update_keys(request_peer=True)
        s.receive_data(c.data_to_send())
        c.receive_data(s.data_to_send())
    drain(c)
    drain(s)
    exchange(c, s, b"many updates", b"later")


def test_key_update_needs_established_connection() -> None:
    c, _ = pair()
    c.start_handshake()
    with pytest.raises(LocalProtocolError):
        c.update_keys()


def test_close_notify() -> None:
    c, s = established()
    c.close()
    alert = c.data_to_send()
    assert kinds(alert) == [APP]  # protected
    assert c.closed
    with pytest.raises(LocalProtocolError):
        c.send_application_data(b"late")
    c.close()  # idempotent
    assert c.data_to_send() == b""
    s.receive_data(alert)
    assert drain(s) == [CloseNotify()]
    s.send_application_data(b"half-closed reply")  # the other direction stays open
    s.close()
    c.receive_data(s.data_to_send())
    assert drain(c) == [ApplicationData(b"half-closed reply"), CloseNotify()]
    c.receive_data(b"")
    assert drain(c) == [ConnectionClosed(clean=True)]
    s.receive_data(b"")
    assert drain(s) == [ConnectionClosed(clean=True)]


def test_no_key_update_after_close() -> None:
    c, _ = established()
    c.close()
    c.data_to_send()
    with pytest.raises(LocalProtocolError):
        c.update_keys()
    assert c.data_to_send() == b""


def test_eof_without_close_notify() -> None:
    c, _s = established()
    c.receive_data(b"")
    assert drain(c) == [ConnectionClosed(clean=False)]
    c.receive_data(b"")  # repeated EOF is harmless
    with pytest.raises(LocalProtocolError):
        c.receive_data(b"data after EOF")


def test_data_after_close_notify_refused() -> None:
    ckl = KeyLog()
    c, s = pair(client_config(keylog=ckl))
    full_handshake(c, s)
    c.close()
    s.receive_data(c.data_to_send())
    assert drain(s) == [CloseNotify()]
    # a misbehaving client keeps writing: record 1 under its application key
    late = seal_records(c.cipher_suite or 0, ckl.secret("CLIENT_TRAFFIC_SECRET_0"), [(APP, b"late")], seq=1)
    with pytest.raises(TlsError) as ei:
        s.receive_data(late)
    assert ei.value.reason is Reason.UNEXPECTED_MESSAGE


def test_large_application_data() -> None:
    import random

    c, s = established()
    up = random.Random(5).randbytes(200_000)
    down = random.Random(6).randbytes(200_000)
    c.send_application_data(up)
    s.send_application_data(down)
    for sender, receiver, blob in ((c, s, up), (s, c, down)):
        wire = sender.data_to_send()
        recs = split_records(wire)
        assert len(recs) == 13  # ceil(200000 / 16384)
        assert all(ctype == APP and len(p) <= 16384 + 1 + 16 for ctype, _, p in recs)
        receiver.receive_data(wire)
        events = drain(receiver)
        assert all(isinstance(e, ApplicationData) for e in events)
        assert b"".join(e.data for e in events) == blob  # type: ignore[union-attr]


def test_max_fragment_length_config() -> None:
    c, s = pair(client_config(max_fragment_length=1024))
    full_handshake(c, s)
    c.send_application_data(bytes(5000))
    recs = split_records(c.data_to_send())
    assert len(recs) == 5 and all(len(p) <= 1024 + 17 for _, _, p in recs)


def test_application_data_buffered_until_handshake_completes() -> None:
    c, _s = pair()
    c.start_handshake()
    assert kinds(c.data_to_send()) == [H]
    c.send_application_data(b"queued")
    assert c.data_to_send() == b""  # no keys yet, no 0-RTT: it waits
    c2, s2 = pair()
    c2.send_application_data(b"queued before hello")
    c2.start_handshake()
    s2.receive_data(c2.data_to_send())
    c2.receive_data(s2.data_to_send())
    s2.receive_data(c2.data_to_send())
    assert ApplicationData(b"queued before hello") in drain(s2)


# ------------------------------------------------------- split-input invariant


def _feed(conn: ClientConnection | ServerConnection, data: bytes, bytewise: bool) -> tuple[list[Event], bytes]:
    if bytewise:
        for i in range(len(data)):
            conn.receive_data(data[i : i + 1])
    else:
        conn.receive_data(data)
    return drain(conn), conn.data_to_send()


@pytest.mark.parametrize("group", [NamedGroup.x25519, NamedGroup.X25519MLKEM768], ids=lambda g: NamedGroup(g).name)
def test_split_input_invariant(group: int) -> None:
    clock = Clock()
    ccfg = client_config(clock=clock, groups=(group,), key_share_groups=(group,), alpn_protocols=("h2",))
    scfg = server_config(clock=clock, ticket_keys=ticket_keys(clock), alpn_protocols=("h2",))
    whole, bytewise = (
        ClientConnection(ccfg, "localhost"),
        ClientConnection(
            client_config(clock=clock, groups=(group,), key_share_groups=(group,), alpn_protocols=("h2",)), "localhost"
        ),
    )
    s = ServerConnection(scfg)
    whole.start_handshake()
    bytewise.start_handshake()
    hello = whole.data_to_send()
    assert bytewise.data_to_send() == hello  # same seed, same ClientHello
    s.receive_data(hello)
    server_flight = s.data_to_send()
    a = _feed(whole, server_flight, bytewise=False)
    b = _feed(bytewise, server_flight, bytewise=True)
    assert a == b  # same events and the same Finished bytes
    assert bytewise.state == whole.state == S.HANDSHAKE_OVER
    s.receive_data(a[1])
    s.send_application_data(b"z" * 40_000)
    tickets_and_data = s.data_to_send()
    a = _feed(whole, tickets_and_data, bytewise=False)
    b = _feed(bytewise, tickets_and_data, bytewise=True)
    assert a == b
    assert len(only(a[0], SessionTicketReceived)) == 2
    assert b"".join(e.data for e in a[0] if isinstance(e, ApplicationData)) == b"z" * 40_000


def test_split_input_server_side() -> None:
    c1, s1 = pair(client_config(seed=7), server_config(seed=8))
    c2, s2 = pair(client_config(seed=7), server_config(seed=8))
    c1.start_handshake()
    c2.start_handshake()
    hello = c1.data_to_send()
    assert c2.data_to_send() == hello
    ev1, out1 = _feed(s1, hello, bytewise=False)
    ev2, out2 = _feed(s2, hello, bytewise=True)
    assert ev1 == ev2 == [] and s1.state == s2.state == S.CLIENT_FINISHED
    assert kinds(out1) == kinds(out2)
    c1.receive_data(out1)
    c2.receive_data(out2)
    ev1, _ = _feed(s1, c1.data_to_send(), bytewise=False)
    ev2, _ = _feed(s2, c2.data_to_send(), bytewise=True)
    assert [type(e) for e in ev1] == [type(e) for e in ev2] == [HandshakeComplete]


def test_half_rtt_data_answers_a_0rtt_request_before_the_client_finished() -> None:
    """With send_half_rtt_data the server's answer to 0-RTT data leaves with its
    first flight (RFC 8446 0.5-RTT data); without it, after the client's Finished."""
    from helpers import drain
    from https_request.tls.client13 import ClientConnection
    from https_request.tls.events import ApplicationData, EarlyDataReceived
    from https_request.tls.server13 import ServerConnection
    from tlsenv import Clock, ticket_keys

    for half_rtt in (True, False):
        clock = Clock()
        keys = ticket_keys(clock)
        scfg = server_config(clock=clock, ticket_keys=keys, max_early_data=1024, send_half_rtt_data=half_rtt)
        ccfg = client_config(clock=clock, early_data=True)
        c, s = ClientConnection(ccfg, "localhost"), ServerConnection(scfg)
        c.start_handshake()
        s.receive_data(c.data_to_send())
        c.receive_data(s.data_to_send())
        s.receive_data(c.data_to_send())
        c.receive_data(s.data_to_send())
        ticket = c.session
        assert ticket is not None
        c2, s2 = ClientConnection(ccfg, "localhost", session=ticket), ServerConnection(scfg)
        c2.start_handshake()
        c2.send_application_data(b"GET / HTTP/1.1\r\n\r\n")
        s2.receive_data(c2.data_to_send())
        assert [type(e) for e in drain(s2)] == [EarlyDataReceived]
        s2.send_application_data(b"HTTP/1.1 200 OK\r\n\r\n")
        s2.close()
        c2.receive_data(s2.data_to_send())  # the server's first flight, before the client's Finished
        got = [e for e in drain(c2) if isinstance(e, ApplicationData)]
        assert (got == [ApplicationData(b"HTTP/1.1 200 OK\r\n\r\n")]) is half_rtt
        s2.receive_data(c2.data_to_send())  # EndOfEarlyData + Finished: tickets, then data, then close_notify
        c2.receive_data(s2.data_to_send())
        rest = drain(c2)
        assert any(type(e).__name__ == "CloseNotify" for e in rest)
        assert bool([e for e in rest if isinstance(e, ApplicationData)]) is not half_rtt
