"""Interop in memory: our engine against OpenSSL, both directions, no sockets.

Two OpenSSL builds are exercised:

* the stdlib :mod:`ssl` (system OpenSSL 3.0) through
  ``SSLContext.wrap_bio(MemoryBIO(), MemoryBIO())``;
* pyOpenSSL (cryptography's bundled OpenSSL, 3.5 or newer: CCM suites,
  X25519MLKEM768) through memory-BIO ``Connection(ctx, None)``.

A :class:`Link` joins one of our connections to one OpenSSL peer and pumps
bytes between them until neither side has anything left to say (bounded), so
every test reads as a short script: handshake, exchange, close.

The stdlib cannot choose TLS 1.3 suites (Python 3.11), so suites and groups
are chosen on *our* side by restricting our configuration; the peer's
defaults always include them. pyOpenSSL tests restrict the peer instead.

Not reachable here: a KeyUpdate *initiated* by OpenSSL (neither ``ssl`` nor
pyOpenSSL nor cryptography's bindings expose ``SSL_key_update``). Our side
sends KeyUpdate with update_requested instead, so OpenSSL answers with its
own and both directions' key changes are still exercised.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from cryptography.hazmat.bindings.openssl.binding import Binding
from OpenSSL import SSL

from certs import Issued, KeyType, make_ca, make_leaf
from helpers import drain
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import ClientConfig, ServerConfig
from https_request.tls.connection import Connection
from https_request.tls.enums import AlertDescription, CipherSuite, NamedGroup, PskKeyExchangeMode, SignatureScheme
from https_request.tls.errors import AlertReceived, TlsError
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
from https_request.tls.server13 import ServerConnection
from https_request.tls.session import Session, TicketKeys
from https_request.tls.verify import WebPkiVerifier

HOST = "localhost"
# The OpenSSL that pyOpenSSL drives (cryptography's), for calls pyOpenSSL does not wrap.
_binding = Binding()
LIB, FFI = _binding.lib, _binding.ffi
HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()
KEYLOG_LABELS = frozenset(
    {
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
    }
)

STDLIB_SUITES = (
    CipherSuite.TLS_AES_128_GCM_SHA256,
    CipherSuite.TLS_AES_256_GCM_SHA384,
    CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
)
ALL_SUITES = (*STDLIB_SUITES, CipherSuite.TLS_AES_128_CCM_SHA256, CipherSuite.TLS_AES_128_CCM_8_SHA256)
CLASSIC_GROUPS = (NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1)
# OpenSSL's names for our groups (SSL_CTX_set1_groups_list syntax).
OSSL_GROUP = {
    NamedGroup.x25519: "X25519",
    NamedGroup.secp256r1: "P-256",
    NamedGroup.secp384r1: "P-384",
    NamedGroup.X25519MLKEM768: "X25519MLKEM768",
}
# What SSL_get0_group_name reports for them.
OSSL_GROUP_REPORTED = {
    NamedGroup.x25519: "x25519",
    NamedGroup.secp256r1: "secp256r1",
    NamedGroup.secp384r1: "secp384r1",
    NamedGroup.X25519MLKEM768: "X25519MLKEM768",
}
# (certificate key type, the one scheme we allow) for the server certificate.
SIG_CASES: tuple[tuple[KeyType, SignatureScheme], ...] = (
    ("rsa2048", SignatureScheme.rsa_pss_rsae_sha256),
    ("rsa2048", SignatureScheme.rsa_pss_rsae_sha384),
    ("rsa2048", SignatureScheme.rsa_pss_rsae_sha512),
    ("p256", SignatureScheme.ecdsa_secp256r1_sha256),
    ("p384", SignatureScheme.ecdsa_secp384r1_sha384),
    ("ed25519", SignatureScheme.ed25519),
)


def _ids(values: tuple[Any, ...]) -> list[str]:
    return [getattr(v, "name", str(v)) for v in values]


# ---------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Pki:
    ca: Issued
    dir: Path
    server: dict[KeyType, Issued]
    client: dict[KeyType, Issued]

    @property
    def ca_file(self) -> str:
        return str(self.dir / "ca.pem")

    def files(self, issued: Issued) -> tuple[str, str]:
        """(certificate chain file, key file) for ``issued``, written once."""
        name = hashlib.sha256(issued.der).hexdigest()[:16]
        cert, key = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        if not cert.exists():
            cert.write_bytes(issued.chain_pem)
            key.write_bytes(issued.key_pem)
        return str(cert), str(key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("interop-pki")
    ca = make_ca()
    (d / "ca.pem").write_bytes(ca.cert_pem)
    kinds: tuple[KeyType, ...] = ("rsa2048", "p256", "p384", "ed25519")
    server = {k: make_leaf(ca, [HOST], key_type=k, common_name=f"{HOST} {k}") for k in kinds}
    client = {k: make_leaf(ca, ["client"], key_type=k, eku="clientAuth", common_name=f"client {k}") for k in kinds}
    return Pki(ca=ca, dir=d, server=server, client=client)


# ----------------------------------------------------------------- OpenSSL peers


class Peer(Protocol):
    handshake_done: bool
    received: bytearray
    got_close_notify: bool

    def feed(self, data: bytes) -> None: ...
    def pull(self) -> bytes: ...
    def step(self) -> None: ...
    def send(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    @property
    def session_reused(self) -> bool: ...
    @property
    def cipher_name(self) -> str: ...


class StdlibPeer:
    """An ``ssl.SSLObject`` on memory BIOs."""

    def __init__(self, ctx: ssl.SSLContext, *, server: bool, session: ssl.SSLSession | None = None) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(
            self.incoming, self.outgoing, server_side=server, server_hostname=None if server else HOST, session=session
        )
        self.handshake_done = False
        self.received = bytearray()
        self.got_close_notify = False

    def feed(self, data: bytes) -> None:
        self.incoming.write(data)

    def pull(self) -> bytes:
        return self.outgoing.read()

    def step(self) -> None:
        if not self.handshake_done:
            try:
                self.obj.do_handshake()
            except ssl.SSLWantReadError:
                return
            self.handshake_done = True
        while not self.got_close_notify:
            try:
                data = self.obj.read(65536)
            except ssl.SSLWantReadError:
                return
            except ssl.SSLZeroReturnError:
                data = b""
            if not data:
                self.got_close_notify = True
                return
            self.received += data

    def send(self, data: bytes) -> None:
        self.obj.write(data)

    def close(self) -> None:
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass  # close_notify sent; the peer's has not arrived yet

    @property
    def session_reused(self) -> bool:
        return self.obj.session_reused

    @property
    def cipher_name(self) -> str:
        c = self.obj.cipher()
        assert c is not None
        return c[0]


class PyOpenSSLPeer:
    """A pyOpenSSL ``Connection`` on memory BIOs."""

    def __init__(self, ctx: SSL.Context, *, server: bool, session: SSL.Session | None = None) -> None:
        self.conn = SSL.Connection(ctx, None)
        if server:
            self.conn.set_accept_state()
        else:
            self.conn.set_connect_state()
            self.conn.set_tlsext_host_name(HOST.encode())
            if session is not None:
                self.conn.set_session(session)
        self.handshake_done = False
        self.received = bytearray()
        self.got_close_notify = False

    def feed(self, data: bytes) -> None:
        self.conn.bio_write(data)

    def pull(self) -> bytes:
        out = bytearray()
        while True:
            try:
                out += self.conn.bio_read(65536)
            except SSL.WantReadError:
                return bytes(out)

    def step(self) -> None:
        if not self.handshake_done:
            try:
                self.conn.do_handshake()
            except SSL.WantReadError:
                return
            self.handshake_done = True
        while not self.got_close_notify:
            try:
                self.received += self.conn.recv(65536)
            except SSL.WantReadError:
                return
            except SSL.ZeroReturnError:
                self.got_close_notify = True

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)

    def close(self) -> None:
        self.conn.shutdown()

    @property
    def session_reused(self) -> bool:
        return bool(LIB.SSL_session_reused(self.conn._ssl))

    @property
    def cipher_name(self) -> str:
        name = self.conn.get_cipher_name()
        assert name is not None
        return name

    @property
    def group_name(self) -> str | None:
        return self.conn.get_group_name()


class Link:
    """One of our connections joined to one OpenSSL peer."""

    def __init__(self, ours: Connection, peer: Peer) -> None:
        self.ours = ours
        self.peer = peer
        self.events: list[Event] = []
        self.from_ours: list[bytes] = []
        self.from_peer: list[bytes] = []

    def pump(self, max_rounds: int = 40) -> list[Event]:
        """Move bytes both ways until a round moves nothing; our new events."""
        new: list[Event] = []
        for _ in range(max_rounds):
            self.peer.step()
            from_peer = self.peer.pull()
            if from_peer:
                self.from_peer.append(from_peer)
                self.ours.receive_data(from_peer)
            new += drain(self.ours)
            from_ours = self.ours.data_to_send()
            if from_ours:
                self.from_ours.append(from_ours)
                self.peer.feed(from_ours)
            if not from_ours and not from_peer:
                self.events += new
                return new
        raise AssertionError("link did not settle")

    def handshake(self) -> HandshakeComplete:
        if isinstance(self.ours, ClientConnection):
            self.ours.start_handshake()
        return self.handshake_pumped()

    def handshake_pumped(self) -> HandshakeComplete:
        """Finish a handshake already started (a client that queued early data)."""
        self.pump()
        done = [e for e in self.events if isinstance(e, HandshakeComplete)]
        assert len(done) == 1, self.events
        assert self.peer.handshake_done
        assert not self.ours.is_handshaking
        return done[0]

    @property
    def client(self) -> ClientConnection:
        assert isinstance(self.ours, ClientConnection)
        return self.ours

    @property
    def server_bytes(self) -> list[bytes]:
        return self.from_peer if isinstance(self.ours, ClientConnection) else self.from_ours

    def saw_hrr(self) -> bool:
        """Whether the server's first flight opened with a HelloRetryRequest."""
        first = self.server_bytes[0]
        assert first[0] == 22 and first[5] == 2, "server flight does not start with ServerHello"
        return first[11:43] == HRR_RANDOM

    def exchange(self, size: int = 3000) -> None:
        """Application data both ways (``size`` bytes each), checked at both ends."""
        mine = os.urandom(size)
        theirs = os.urandom(size)
        self.peer.received.clear()
        self.ours.send_application_data(mine)
        self.peer.send(theirs)
        new = self.pump()
        got = b"".join(e.data for e in new if isinstance(e, ApplicationData))
        assert got == theirs
        assert bytes(self.peer.received) == mine

    def close_both(self, ours_first: bool = True) -> None:
        """close_notify both ways; our side then sees a clean EOF."""
        if ours_first:
            self.ours.close()
            self.pump()
            assert self.peer.got_close_notify
            self.peer.close()
            assert any(isinstance(e, CloseNotify) for e in self.pump())
        else:
            self.peer.close()
            assert any(isinstance(e, CloseNotify) for e in self.pump())
            # half-close: we may still talk after the peer's close_notify
            self.peer.received.clear()
            self.ours.send_application_data(b"last words")
            self.ours.close()
            self.pump()
            assert bytes(self.peer.received) == b"last words"
            assert self.peer.got_close_notify
        self.ours.receive_data(b"")
        assert drain(self.ours) == [ConnectionClosed(clean=True)]


# ------------------------------------------------------------------ our configs


def our_client(pki: Pki, session: Session | None = None, **kw: Any) -> ClientConnection:
    return ClientConnection(ClientConfig(verifier=WebPkiVerifier([pki.ca.cert]), **kw), HOST, session=session)


def our_server_config(pki: Pki, key_type: KeyType = "p256", **kw: Any) -> ServerConfig:
    return ServerConfig(certificates=(pki.server[key_type].certified_key(),), **kw)


def ticket_keys() -> TicketKeys:
    return TicketKeys(os.urandom, now=time.time())


# ------------------------------------------------------------- stdlib contexts


def std_server_ctx(
    pki: Pki, key_type: KeyType = "p256", *, verify_client: ssl.VerifyMode | None = None
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(*pki.files(pki.server[key_type]))
    if verify_client is not None:
        ctx.verify_mode = verify_client
        ctx.load_verify_locations(cafile=pki.ca_file)
    return ctx


def std_client_ctx(pki: Pki, client_key: KeyType | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(cafile=pki.ca_file)
    if client_key is not None:
        ctx.load_cert_chain(*pki.files(pki.client[client_key]))
    return ctx


# ---------------------------------------------------------- pyOpenSSL contexts


def _set_groups(ctx: SSL.Context, groups: tuple[int, ...]) -> None:
    # pyOpenSSL 26 has no groups setter; SSL_CTX_set1_curves_list is
    # SSL_CTX_set1_groups_list under its old name (both are SSL_CTX_ctrl macros).
    names = ":".join(OSSL_GROUP[NamedGroup(g)] for g in groups).encode()
    assert LIB.SSL_CTX_set1_curves_list(ctx._context, names) == 1


def ossl_ctx(
    pki: Pki,
    *,
    server: bool,
    key_type: KeyType = "p256",
    suites: tuple[int, ...] | None = None,
    groups: tuple[int, ...] | None = None,
    client_key: KeyType | None = None,
    verify_client: bool = False,
    keylog: Callable[[SSL.Connection, bytes], None] | None = None,
) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
    ctx.load_verify_locations(pki.ca_file)
    if server:
        cert, key = pki.files(pki.server[key_type])
        ctx.use_certificate_chain_file(cert)
        ctx.use_privatekey_file(key)
        ctx.set_session_id(b"interop")
        if verify_client:
            ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
    else:
        ctx.set_verify(SSL.VERIFY_PEER)
        if client_key is not None:
            cert, key = pki.files(pki.client[client_key])
            ctx.use_certificate_chain_file(cert)
            ctx.use_privatekey_file(key)
    if suites is not None:
        ctx.set_tls13_ciphersuites(":".join(CipherSuite(s).name for s in suites).encode())
        if CipherSuite.TLS_AES_128_CCM_8_SHA256 in suites:
            # OpenSSL rates CCM_8's 64-bit tag below security level 1 (its default):
            # without level 0 it never negotiates the suite.
            ctx.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
    if groups is not None:
        _set_groups(ctx, groups)
    if keylog is not None:
        ctx.set_keylog_callback(keylog)
    return ctx


# ============================================================== stdlib ssl tests


@pytest.mark.parametrize("suite", STDLIB_SUITES, ids=_ids(STDLIB_SUITES))
def test_stdlib_server_suites(pki: Pki, suite: int) -> None:
    link = Link(our_client(pki, cipher_suites=(suite,)), StdlibPeer(std_server_ctx(pki), server=True))
    done = link.handshake()
    assert done.cipher_suite == suite
    assert link.peer.cipher_name == CipherSuite(suite).name
    link.exchange(40000)
    link.close_both()


@pytest.mark.parametrize("suite", STDLIB_SUITES, ids=_ids(STDLIB_SUITES))
def test_stdlib_client_suites(pki: Pki, suite: int) -> None:
    link = Link(
        ServerConnection(our_server_config(pki, cipher_suites=(suite,))), StdlibPeer(std_client_ctx(pki), server=False)
    )
    done = link.handshake()
    assert done.cipher_suite == suite
    assert link.peer.cipher_name == CipherSuite(suite).name
    link.exchange(40000)
    link.close_both()


@pytest.mark.parametrize("group", CLASSIC_GROUPS, ids=_ids(CLASSIC_GROUPS))
def test_stdlib_server_groups(pki: Pki, group: int) -> None:
    ours = our_client(pki, groups=(group,), key_share_groups=(group,))
    link = Link(ours, StdlibPeer(std_server_ctx(pki), server=True))
    done = link.handshake()
    assert done.group == group
    assert not link.saw_hrr()
    link.exchange()
    link.close_both()


@pytest.mark.parametrize("group", CLASSIC_GROUPS, ids=_ids(CLASSIC_GROUPS))
def test_stdlib_client_groups(pki: Pki, group: int) -> None:
    # OpenSSL 3.0 sends a key share for x25519 only: the others need a HelloRetryRequest.
    link = Link(
        ServerConnection(our_server_config(pki, groups=(group,))), StdlibPeer(std_client_ctx(pki), server=False)
    )
    done = link.handshake()
    assert done.group == group
    assert link.saw_hrr() == (group != NamedGroup.x25519)
    link.exchange()
    link.close_both()


@pytest.mark.parametrize(("key_type", "scheme"), SIG_CASES, ids=[s.name for _, s in SIG_CASES])
def test_stdlib_server_signatures(pki: Pki, key_type: KeyType, scheme: int) -> None:
    ours = our_client(pki, signature_schemes=(scheme,))
    link = Link(ours, StdlibPeer(std_server_ctx(pki, key_type), server=True))
    done = link.handshake()
    assert done.peer_certificates[0] == pki.server[key_type].der
    link.exchange()
    link.close_both()


@pytest.mark.parametrize(("key_type", "scheme"), SIG_CASES, ids=[s.name for _, s in SIG_CASES])
def test_stdlib_client_signatures(pki: Pki, key_type: KeyType, scheme: int) -> None:
    ours = ServerConnection(our_server_config(pki, key_type, signature_schemes=(scheme,)))
    peer = StdlibPeer(std_client_ctx(pki), server=False)
    link = Link(ours, peer)
    link.handshake()
    assert peer.obj.getpeercert(binary_form=True) == pki.server[key_type].der
    link.exchange()
    link.close_both()


def test_stdlib_server_hrr(pki: Pki) -> None:
    # OpenSSL 3.0 does not know X25519MLKEM768: our only key share is useless to it.
    ours = our_client(
        pki,
        groups=(NamedGroup.X25519MLKEM768, NamedGroup.x25519, NamedGroup.secp256r1),
        key_share_groups=(NamedGroup.X25519MLKEM768,),
    )
    link = Link(ours, StdlibPeer(std_server_ctx(pki), server=True))
    done = link.handshake()
    assert link.saw_hrr()
    assert done.group == NamedGroup.x25519
    link.exchange()
    link.close_both()


@pytest.mark.parametrize("hrr_cookie", [False, True], ids=["plain", "cookie"])
def test_stdlib_client_hrr(pki: Pki, hrr_cookie: bool) -> None:
    cfg = our_server_config(pki, groups=(NamedGroup.secp384r1, NamedGroup.secp256r1), hrr_cookie=hrr_cookie)
    link = Link(ServerConnection(cfg), StdlibPeer(std_client_ctx(pki), server=False))
    done = link.handshake()
    assert link.saw_hrr()
    assert done.group == NamedGroup.secp384r1
    link.exchange()
    link.close_both()


def test_stdlib_server_resumption(pki: Pki) -> None:
    ctx = std_server_ctx(pki)
    link = Link(our_client(pki), StdlibPeer(ctx, server=True))
    link.handshake()
    link.exchange()
    tickets = [e.session for e in link.events if isinstance(e, SessionTicketReceived)]
    assert tickets, "OpenSSL sends two tickets by default"
    link.close_both()

    link2 = Link(our_client(pki, session=tickets[-1]), StdlibPeer(ctx, server=True))
    done = link2.handshake()
    assert done.resumed and link2.ours.resumed
    assert link2.peer.session_reused
    assert done.peer_certificates == ()
    link2.exchange()
    link2.close_both()


def test_stdlib_client_resumption(pki: Pki) -> None:
    cfg = our_server_config(pki, ticket_keys=ticket_keys())
    ctx = std_client_ctx(pki)
    peer = StdlibPeer(ctx, server=False)
    link = Link(ServerConnection(cfg), peer)
    link.handshake()
    link.exchange()  # the client reads our NewSessionTickets on the way
    session = peer.obj.session
    assert session is not None and session.has_ticket
    link.close_both()

    peer2 = StdlibPeer(ctx, server=False, session=session)
    link2 = Link(ServerConnection(cfg), peer2)
    done = link2.handshake()
    assert peer2.session_reused
    assert done.resumed and link2.ours.resumed
    link2.exchange()
    link2.close_both()


@pytest.mark.parametrize("client_key", ["p256", "rsa2048", "ed25519"])
def test_stdlib_server_client_auth(pki: Pki, client_key: KeyType) -> None:
    ours = our_client(pki, certificate=pki.client[client_key].certified_key())
    peer = StdlibPeer(std_server_ctx(pki, verify_client=ssl.CERT_REQUIRED), server=True)
    link = Link(ours, peer)
    link.handshake()
    assert peer.obj.getpeercert(binary_form=True) == pki.client[client_key].der
    link.exchange()
    link.close_both(ours_first=False)


def test_stdlib_server_client_auth_missing(pki: Pki) -> None:
    # TLS 1.3: our handshake is over before the server reads our empty
    # Certificate; its certificate_required alert arrives afterwards.
    link = Link(our_client(pki), StdlibPeer(std_server_ctx(pki, verify_client=ssl.CERT_REQUIRED), server=True))
    link.client.start_handshake()
    with pytest.raises(ssl.SSLError, match="PEER_DID_NOT_RETURN_A_CERTIFICATE"):
        link.pump()
    assert not link.ours.is_handshaking
    with pytest.raises(AlertReceived) as info:
        link.ours.receive_data(link.peer.pull())
    assert info.value.description == AlertDescription.certificate_required


def test_stdlib_server_client_auth_optional(pki: Pki) -> None:
    peer = StdlibPeer(std_server_ctx(pki, verify_client=ssl.CERT_OPTIONAL), server=True)
    link = Link(our_client(pki), peer)
    link.handshake()
    assert peer.obj.getpeercert(binary_form=True) is None
    link.exchange()
    link.close_both()


@pytest.mark.parametrize("client_key", ["p256", "rsa2048", "ed25519"])
def test_stdlib_client_client_auth(pki: Pki, client_key: KeyType) -> None:
    cfg = our_server_config(
        pki,
        request_client_certificate=True,
        require_client_certificate=True,
        client_verifier=WebPkiVerifier([pki.ca.cert]),
    )
    link = Link(ServerConnection(cfg), StdlibPeer(std_client_ctx(pki, client_key), server=False))
    link.handshake()
    assert link.ours.peer_certificates[0] == pki.client[client_key].der
    link.exchange()
    link.close_both(ours_first=False)


def test_stdlib_client_client_auth_missing(pki: Pki) -> None:
    cfg = our_server_config(
        pki,
        request_client_certificate=True,
        require_client_certificate=True,
        client_verifier=WebPkiVerifier([pki.ca.cert]),
    )
    link = Link(ServerConnection(cfg), StdlibPeer(std_client_ctx(pki), server=False))
    with pytest.raises(TlsError):
        link.pump()
    alert = link.ours.data_to_send()
    peer = link.peer
    peer.feed(alert)
    with pytest.raises(ssl.SSLError, match=r"CERTIFICATE_REQUIRED|certificate required"):
        peer.step()


@pytest.mark.parametrize("our_role", ["client", "server"])
@pytest.mark.parametrize("ours_first", [True, False], ids=["ours-closes-first", "peer-closes-first"])
def test_stdlib_close_notify(pki: Pki, our_role: str, ours_first: bool) -> None:
    link = _stdlib_link(pki, our_role)
    link.handshake()
    link.exchange()
    link.close_both(ours_first=ours_first)


@pytest.mark.parametrize("our_role", ["client", "server"])
def test_stdlib_key_update(pki: Pki, our_role: str) -> None:
    link = _stdlib_link(pki, our_role)
    link.handshake()
    link.exchange()
    link.ours.update_keys(request_peer=True)
    link.pump()
    link.exchange()  # OpenSSL answers our request with its own KeyUpdate (at the latest with its next write)
    updates = [e for e in link.events if isinstance(e, KeyUpdated)]
    assert updates == [KeyUpdated(sending=True), KeyUpdated(sending=False)]
    link.ours.update_keys()
    link.exchange()
    link.close_both()


@pytest.mark.parametrize("hrr", [False, True], ids=["1-rtt", "hrr"])
@pytest.mark.parametrize("our_role", ["client", "server"])
def test_stdlib_keylog(pki: Pki, tmp_path: Path, our_role: str, hrr: bool) -> None:
    lines: list[str] = []
    path = tmp_path / "keylog.txt"
    if our_role == "client":
        ctx = std_server_ctx(pki)
        ctx.keylog_filename = str(path)
        shares = (NamedGroup.X25519MLKEM768,) if hrr else (NamedGroup.x25519,)
        link = Link(our_client(pki, keylog=lines.append, key_share_groups=shares), StdlibPeer(ctx, server=True))
    else:
        ctx = std_client_ctx(pki)
        ctx.keylog_filename = str(path)
        groups = (NamedGroup.secp256r1,) if hrr else (NamedGroup.x25519,)
        cfg = our_server_config(pki, keylog=lines.append, groups=groups)
        link = Link(ServerConnection(cfg), StdlibPeer(ctx, server=False))
    link.handshake()
    assert link.saw_hrr() == hrr
    link.exchange()
    link.close_both()
    theirs = _keylog_set(path.read_text().splitlines())
    ours = _keylog_set(lines)
    assert {line.split()[0] for line in ours} == KEYLOG_LABELS
    assert ours == theirs


MISMATCHES: dict[str, tuple[dict[str, Any], int]] = {
    # our restriction, alert the refusing side sends
    "suite": ({"cipher_suites": (CipherSuite.TLS_AES_128_CCM_8_SHA256,)}, AlertDescription.handshake_failure),
    "group": (
        {"groups": (NamedGroup.X25519MLKEM768,), "key_share_groups": (NamedGroup.X25519MLKEM768,)},
        AlertDescription.handshake_failure,
    ),
    "signature": ({"signature_schemes": (SignatureScheme.ecdsa_secp384r1_sha384,)}, AlertDescription.handshake_failure),
}


@pytest.mark.parametrize("what", list(MISMATCHES))
def test_stdlib_server_refuses(pki: Pki, what: str) -> None:
    """OpenSSL 3.0 has no CCM_8 by default, no X25519MLKEM768 and a P-256 key here:
    it refuses, and its alert reaches our client intact."""
    kw, alert = MISMATCHES[what]
    link = Link(our_client(pki, **kw), StdlibPeer(std_server_ctx(pki), server=True))
    link.client.start_handshake()
    with pytest.raises(ssl.SSLError):
        link.pump()
    with pytest.raises(AlertReceived) as info:
        link.ours.receive_data(link.peer.pull())
    assert info.value.description == alert


@pytest.mark.parametrize("what", list(MISMATCHES))
def test_stdlib_client_refused(pki: Pki, what: str) -> None:
    """Our server refuses the stdlib client; OpenSSL reads our alert."""
    kw, alert = MISMATCHES[what]
    kw = {k: v for k, v in kw.items() if k != "key_share_groups"}
    link = Link(ServerConnection(our_server_config(pki, **kw)), StdlibPeer(std_client_ctx(pki), server=False))
    with pytest.raises(TlsError) as info:
        link.pump()
    assert info.value.alert == alert
    link.peer.feed(link.ours.data_to_send())
    with pytest.raises(ssl.SSLError, match=r"HANDSHAKE_FAILURE|handshake failure"):
        link.peer.step()


def _stdlib_link(pki: Pki, our_role: str) -> Link:
    if our_role == "client":
        return Link(our_client(pki), StdlibPeer(std_server_ctx(pki), server=True))
    return Link(
        ServerConnection(our_server_config(pki, ticket_keys=ticket_keys())),
        StdlibPeer(std_client_ctx(pki), server=False),
    )


def _keylog_set(lines: list[str]) -> set[str]:
    return {line.strip() for line in lines if line.split(" ", 1)[0] in KEYLOG_LABELS}


# ============================================================== pyOpenSSL tests


@pytest.mark.parametrize("suite", ALL_SUITES, ids=_ids(ALL_SUITES))
def test_pyopenssl_server_suites(pki: Pki, suite: int) -> None:
    peer = PyOpenSSLPeer(ossl_ctx(pki, server=True, suites=(suite,)), server=True)
    link = Link(our_client(pki, cipher_suites=ALL_SUITES), peer)
    done = link.handshake()
    assert done.cipher_suite == suite
    assert peer.cipher_name == CipherSuite(suite).name
    link.exchange(40000)
    link.close_both()


@pytest.mark.parametrize("suite", ALL_SUITES, ids=_ids(ALL_SUITES))
def test_pyopenssl_client_suites(pki: Pki, suite: int) -> None:
    peer = PyOpenSSLPeer(ossl_ctx(pki, server=False, suites=(suite,)), server=False)
    link = Link(ServerConnection(our_server_config(pki, cipher_suites=ALL_SUITES)), peer)
    done = link.handshake()
    assert done.cipher_suite == suite
    assert peer.cipher_name == CipherSuite(suite).name
    link.exchange(40000)
    link.close_both()


PY_GROUPS = (NamedGroup.X25519MLKEM768, *CLASSIC_GROUPS)


@pytest.mark.parametrize("group", PY_GROUPS, ids=_ids(PY_GROUPS))
def test_pyopenssl_server_groups(pki: Pki, group: int) -> None:
    # We offer (and send key shares for) everything; the peer accepts one group.
    ours = our_client(pki, groups=PY_GROUPS, key_share_groups=(group,))
    peer = PyOpenSSLPeer(ossl_ctx(pki, server=True, groups=(group,)), server=True)
    link = Link(ours, peer)
    done = link.handshake()
    assert done.group == group
    assert peer.group_name == OSSL_GROUP_REPORTED[NamedGroup(group)]
    assert not link.saw_hrr()
    link.exchange()
    link.close_both()


@pytest.mark.parametrize("group", PY_GROUPS, ids=_ids(PY_GROUPS))
def test_pyopenssl_client_groups(pki: Pki, group: int) -> None:
    peer = PyOpenSSLPeer(ossl_ctx(pki, server=False, groups=(group,)), server=False)
    link = Link(ServerConnection(our_server_config(pki)), peer)
    done = link.handshake()
    assert done.group == group
    assert peer.group_name == OSSL_GROUP_REPORTED[NamedGroup(group)]
    assert not link.saw_hrr()
    link.exchange()
    link.close_both()


def test_pyopenssl_default_is_hybrid(pki: Pki) -> None:
    """Both sides' defaults meet on X25519MLKEM768 at once."""
    peer = PyOpenSSLPeer(ossl_ctx(pki, server=False), server=False)
    link = Link(ServerConnection(our_server_config(pki)), peer)
    done = link.handshake()
    assert done.group == NamedGroup.X25519MLKEM768
    assert not link.saw_hrr()
    peer2 = PyOpenSSLPeer(ossl_ctx(pki, server=True), server=True)
    link2 = Link(our_client(pki), peer2)
    done2 = link2.handshake()
    assert done2.group == NamedGroup.X25519MLKEM768
    assert not link2.saw_hrr()


HRR_CASES = (
    # (our key shares, the only group the peer takes)
    ((NamedGroup.x25519,), NamedGroup.secp384r1),
    ((NamedGroup.x25519,), NamedGroup.X25519MLKEM768),
    ((NamedGroup.X25519MLKEM768,), NamedGroup.secp256r1),
)


@pytest.mark.parametrize(("shares", "group"), HRR_CASES, ids=[f"{s[0].name}-to-{g.name}" for s, g in HRR_CASES])
def test_pyopenssl_server_hrr(pki: Pki, shares: tuple[int, ...], group: int) -> None:
    ours = our_client(pki, groups=PY_GROUPS, key_share_groups=shares)
    peer = PyOpenSSLPeer(ossl_ctx(pki, server=True, groups=(group,)), server=True)
    link = Link(ours, peer)
    done = link.handshake()
    assert link.saw_hrr()
    assert done.group == group
    link.exchange()
    link.close_both()


@pytest.mark.parametrize(("shares", "group"), HRR_CASES, ids=[f"{s[0].name}-to-{g.name}" for s, g in HRR_CASES])
@pytest.mark.parametrize("hrr_cookie", [False, True], ids=["plain", "cookie"])
def test_pyopenssl_client_hrr(pki: Pki, shares: tuple[int, ...], group: int, hrr_cookie: bool) -> None:
    # The peer lists its key-share group first (OpenSSL shares only for the first).
    peer_groups = (*shares, group)
    peer = PyOpenSSLPeer(ossl_ctx(pki, server=False, groups=peer_groups), server=False)
    link = Link(ServerConnection(our_server_config(pki, groups=(group,), hrr_cookie=hrr_cookie)), peer)
    done = link.handshake()
    assert link.saw_hrr()
    assert done.group == group
    assert peer.group_name == OSSL_GROUP_REPORTED[NamedGroup(group)]
    link.exchange()
    link.close_both()


@pytest.mark.parametrize("suite", ALL_SUITES, ids=_ids(ALL_SUITES))
def test_pyopenssl_server_resumption(pki: Pki, suite: int) -> None:
    ctx = ossl_ctx(pki, server=True, suites=(suite,))
    link = Link(our_client(pki, cipher_suites=ALL_SUITES), PyOpenSSLPeer(ctx, server=True))
    link.handshake()
    link.exchange()
    tickets = [e.session for e in link.events if isinstance(e, SessionTicketReceived)]
    assert len(tickets) == 2
    link.close_both()

    link2 = Link(our_client(pki, session=tickets[0], cipher_suites=ALL_SUITES), PyOpenSSLPeer(ctx, server=True))
    done = link2.handshake()
    assert done.resumed and done.cipher_suite == suite
    assert link2.peer.session_reused
    link2.exchange()
    link2.close_both()


@pytest.mark.parametrize("suite", ALL_SUITES, ids=_ids(ALL_SUITES))
def test_pyopenssl_client_resumption(pki: Pki, suite: int) -> None:
    cfg = our_server_config(pki, ticket_keys=ticket_keys(), cipher_suites=ALL_SUITES)
    ctx = ossl_ctx(pki, server=False, suites=(suite,))
    peer = PyOpenSSLPeer(ctx, server=False)
    link = Link(ServerConnection(cfg), peer)
    link.handshake()
    link.exchange()
    session = peer.conn.get_session()
    assert session is not None
    link.close_both()

    peer2 = PyOpenSSLPeer(ctx, server=False, session=session)
    link2 = Link(ServerConnection(cfg), peer2)
    done = link2.handshake()
    assert peer2.session_reused
    assert done.resumed and done.cipher_suite == suite
    link2.exchange()
    link2.close_both()


@pytest.mark.parametrize("client_key", ["p256", "p384", "rsa2048", "ed25519"])
def test_pyopenssl_server_client_auth(pki: Pki, client_key: KeyType) -> None:
    ours = our_client(pki, certificate=pki.client[client_key].certified_key())
    peer = PyOpenSSLPeer(ossl_ctx(pki, server=True, verify_client=True), server=True)
    link = Link(ours, peer)
    link.handshake()
    cert = peer.conn.get_peer_certificate(as_cryptography=True)
    assert cert == pki.client[client_key].cert
    link.exchange()
    link.close_both(ours_first=False)


@pytest.mark.parametrize("client_key", ["p256", "p384", "rsa2048", "ed25519"])
def test_pyopenssl_client_client_auth(pki: Pki, client_key: KeyType) -> None:
    cfg = our_server_config(
        pki,
        request_client_certificate=True,
        require_client_certificate=True,
        client_verifier=WebPkiVerifier([pki.ca.cert]),
    )
    peer = PyOpenSSLPeer(ossl_ctx(pki, server=False, client_key=client_key), server=False)
    link = Link(ServerConnection(cfg), peer)
    link.handshake()
    assert link.ours.peer_certificates[0] == pki.client[client_key].der
    link.exchange()
    link.close_both(ours_first=False)


@pytest.mark.parametrize(("key_type", "scheme"), SIG_CASES, ids=[s.name for _, s in SIG_CASES])
@pytest.mark.parametrize("our_role", ["client", "server"])
def test_pyopenssl_signatures(pki: Pki, key_type: KeyType, scheme: int, our_role: str) -> None:
    if our_role == "client":
        link = Link(
            our_client(pki, signature_schemes=(scheme,)),
            PyOpenSSLPeer(ossl_ctx(pki, server=True, key_type=key_type), server=True),
        )
    else:
        link = Link(
            ServerConnection(our_server_config(pki, key_type, signature_schemes=(scheme,))),
            PyOpenSSLPeer(ossl_ctx(pki, server=False), server=False),
        )
    link.handshake()
    link.exchange()
    link.close_both()


@pytest.mark.parametrize("our_role", ["client", "server"])
def test_pyopenssl_key_update(pki: Pki, our_role: str) -> None:
    link = _pyopenssl_link(pki, our_role)
    link.handshake()
    link.exchange()
    for _ in range(3):
        link.ours.update_keys(request_peer=True)
        link.pump()
        link.exchange()
    updates = [e for e in link.events if isinstance(e, KeyUpdated)]
    assert updates == [KeyUpdated(sending=True), KeyUpdated(sending=False)] * 3
    link.close_both()


@pytest.mark.parametrize("our_role", ["client", "server"])
@pytest.mark.parametrize("suite", ALL_SUITES, ids=_ids(ALL_SUITES))
def test_pyopenssl_keylog(pki: Pki, our_role: str, suite: int) -> None:
    lines: list[str] = []
    theirs: list[str] = []

    def cb(_conn: SSL.Connection, line: bytes) -> None:
        theirs.append(line.decode())

    if our_role == "client":
        peer = PyOpenSSLPeer(ossl_ctx(pki, server=True, suites=(suite,), keylog=cb), server=True)
        link = Link(our_client(pki, keylog=lines.append, cipher_suites=ALL_SUITES), peer)
    else:
        peer = PyOpenSSLPeer(ossl_ctx(pki, server=False, suites=(suite,), keylog=cb), server=False)
        cfg = our_server_config(pki, keylog=lines.append, cipher_suites=ALL_SUITES)
        link = Link(ServerConnection(cfg), peer)
    link.handshake()
    link.exchange()
    link.close_both()
    assert {line.split()[0] for line in lines} >= KEYLOG_LABELS
    assert _keylog_set(lines) == _keylog_set(theirs)


def _pyopenssl_link(pki: Pki, our_role: str) -> Link:
    if our_role == "client":
        return Link(our_client(pki), PyOpenSSLPeer(ossl_ctx(pki, server=True), server=True))
    cfg = our_server_config(pki, ticket_keys=ticket_keys())
    return Link(ServerConnection(cfg), PyOpenSSLPeer(ossl_ctx(pki, server=False), server=False))


# ------------------------------------------------------- resumption after HRR


def test_stdlib_client_resumption_with_hrr(pki: Pki) -> None:
    """The stdlib client resumes, but its x25519 share is refused: HRR, then PSK + secp256r1."""
    cfg = our_server_config(pki, ticket_keys=ticket_keys(), groups=(NamedGroup.secp256r1,))
    ctx = std_client_ctx(pki)
    peer = StdlibPeer(ctx, server=False)
    link = Link(ServerConnection(cfg), peer)
    link.handshake()
    link.exchange()
    session = peer.obj.session
    assert session is not None
    peer2 = StdlibPeer(ctx, server=False, session=session)
    link2 = Link(ServerConnection(cfg), peer2)
    done = link2.handshake()
    assert link2.saw_hrr()
    assert done.resumed and peer2.session_reused
    assert done.group == NamedGroup.secp256r1
    link2.exchange()
    link2.close_both()


def test_pyopenssl_server_resumption_with_hrr(pki: Pki) -> None:
    """Our client offers a ticket with a key share the server refuses: the binder is redone after HRR."""
    ctx = ossl_ctx(pki, server=True, groups=(NamedGroup.secp384r1,))
    link = Link(
        our_client(pki, groups=PY_GROUPS, key_share_groups=(NamedGroup.x25519,)), PyOpenSSLPeer(ctx, server=True)
    )
    link.handshake()
    link.exchange()
    session = next(e.session for e in link.events if isinstance(e, SessionTicketReceived))
    ours = our_client(pki, session=session, groups=PY_GROUPS, key_share_groups=(NamedGroup.x25519,))
    link2 = Link(ours, PyOpenSSLPeer(ctx, server=True))
    done = link2.handshake()
    assert link2.saw_hrr()
    assert done.resumed and link2.peer.session_reused
    assert done.group == NamedGroup.secp384r1
    link2.exchange()
    link2.close_both()


# ------------------------------------------------------------------------ ALPN


@pytest.mark.parametrize("our_role", ["client", "server"])
def test_stdlib_alpn(pki: Pki, our_role: str) -> None:
    if our_role == "client":
        sctx = std_server_ctx(pki)
        sctx.set_alpn_protocols(["spdy/1", "http/1.1"])
        link = Link(our_client(pki, alpn_protocols=("h2", "http/1.1")), StdlibPeer(sctx, server=True))
    else:
        cctx = std_client_ctx(pki)
        cctx.set_alpn_protocols(["spdy/1", "http/1.1"])
        cfg = our_server_config(pki, alpn_protocols=("h2", "http/1.1"))
        link = Link(ServerConnection(cfg), StdlibPeer(cctx, server=False))
    done = link.handshake()
    assert isinstance(link.peer, StdlibPeer)
    assert done.alpn_protocol == link.peer.obj.selected_alpn_protocol() == "http/1.1"
    link.exchange()
    link.close_both()


# -------------------------------------------------------------- 0-RTT (pyOpenSSL)

_MAX_EARLY = 16384


class EarlyServerPeer(PyOpenSSLPeer):
    """A pyOpenSSL server that reads early data (SSL_read_early_data) before its handshake."""

    def __init__(self, ctx: SSL.Context) -> None:
        super().__init__(ctx, server=True)
        self.early_received = bytearray()
        self._early_phase = True

    def step(self) -> None:
        lib, ffi = LIB, FFI
        buf = ffi.new("char[]", 65536)
        n = ffi.new("size_t *")
        while self._early_phase:
            r = lib.SSL_read_early_data(self.conn._ssl, buf, 65536, n)
            if r == 1:  # SSL_READ_EARLY_DATA_SUCCESS
                self.early_received += ffi.buffer(buf, n[0])[:]
            elif r == 2:  # SSL_READ_EARLY_DATA_FINISH
                self._early_phase = False
            elif lib.SSL_get_error(self.conn._ssl, r) == lib.SSL_ERROR_WANT_READ:
                return
            else:
                raise AssertionError("SSL_read_early_data failed")
        super().step()


def _early_server_ctx(pki: Pki) -> SSL.Context:
    ctx = ossl_ctx(pki, server=True)
    assert LIB.SSL_CTX_set_max_early_data(ctx._context, _MAX_EARLY) == 1
    return ctx


def test_pyopenssl_server_early_data(pki: Pki) -> None:
    ctx = _early_server_ctx(pki)
    link = Link(our_client(pki, early_data=True), EarlyServerPeer(ctx))
    link.handshake()
    link.exchange()
    session = next(e.session for e in link.events if isinstance(e, SessionTicketReceived))
    assert session.max_early_data == _MAX_EARLY
    link.close_both()

    ours = our_client(pki, session=session, early_data=True)
    peer = EarlyServerPeer(ctx)
    link2 = Link(ours, peer)
    ours.start_handshake()
    ours.send_application_data(b"early bird")
    done = link2.handshake_pumped()
    assert done.resumed and done.early_data_accepted
    assert bytes(peer.early_received) == b"early bird"
    assert peer.received == bytearray()
    link2.exchange()
    link2.close_both()


def test_pyopenssl_server_early_data_ticket_reused(pki: Pki) -> None:
    """With 0-RTT on, OpenSSL's anti-replay makes tickets single-use: the second
    try falls back to a full handshake, the early data is rejected and our
    client sends it again once the handshake is over."""
    ctx = _early_server_ctx(pki)
    link = Link(our_client(pki, early_data=True), EarlyServerPeer(ctx))
    link.handshake()
    link.exchange()
    session = next(e.session for e in link.events if isinstance(e, SessionTicketReceived))
    for attempt in range(2):
        ours = our_client(pki, session=session, early_data=True)
        peer = EarlyServerPeer(ctx)
        link2 = Link(ours, peer)
        ours.start_handshake()
        ours.send_application_data(b"early bird")
        done = link2.handshake_pumped()
        assert done.resumed == done.early_data_accepted == (attempt == 0)
        if attempt == 0:
            assert bytes(peer.early_received) == b"early bird"
        else:
            assert [e for e in link2.events if isinstance(e, EarlyDataRejected)] == [EarlyDataRejected(resent=10)]
            assert bytes(peer.early_received) == b""
            assert bytes(peer.received) == b"early bird"
        link2.exchange()
        link2.close_both()


def test_pyopenssl_client_early_data(pki: Pki) -> None:
    cfg = our_server_config(pki, ticket_keys=ticket_keys(), max_early_data=_MAX_EARLY)
    ctx = ossl_ctx(pki, server=False)
    peer = PyOpenSSLPeer(ctx, server=False)
    link = Link(ServerConnection(cfg), peer)
    link.handshake()
    link.exchange()
    session = peer.conn.get_session()
    assert session is not None
    assert LIB.SSL_SESSION_get_max_early_data(session._session) == _MAX_EARLY
    link.close_both()

    peer2 = PyOpenSSLPeer(ctx, server=False, session=session)
    written = FFI.new("size_t *")
    assert LIB.SSL_write_early_data(peer2.conn._ssl, b"early bird", 10, written) == 1
    assert written[0] == 10
    link2 = Link(ServerConnection(cfg), peer2)
    done = link2.handshake()
    assert done.resumed and done.early_data_accepted
    assert [e.data for e in link2.events if isinstance(e, EarlyDataReceived)] == [b"early bird"]
    link2.exchange()
    link2.close_both()


# ------------------------------------------------------- compatibility corners

# OpenSSL's SSL_OP_ALLOW_NO_DHE_KEX (bit 10, not exported by ssl or pyOpenSSL):
# without it an OpenSSL server never resumes in psk_ke mode.
_OP_ALLOW_NO_DHE_KEX = 1 << 10


@pytest.mark.parametrize("our_role", ["client", "server"])
def test_stdlib_without_middlebox_compat(pki: Pki, our_role: str) -> None:
    """No legacy session ID and no CCS on either side (and HRR too, for the server)."""
    if our_role == "client":
        ctx = std_server_ctx(pki)
        ctx.options &= ~ssl.OP_ENABLE_MIDDLEBOX_COMPAT
        link = Link(our_client(pki, middlebox_compat=False), StdlibPeer(ctx, server=True))
    else:
        ctx = std_client_ctx(pki)
        ctx.options &= ~ssl.OP_ENABLE_MIDDLEBOX_COMPAT
        cfg = our_server_config(pki, groups=(NamedGroup.secp256r1,))
        link = Link(ServerConnection(cfg), StdlibPeer(ctx, server=False))
    link.handshake()
    assert b"\x14\x03\x03\x00\x01\x01" not in b"".join(link.from_ours + link.from_peer)
    link.exchange()
    link.close_both()


@pytest.mark.parametrize("peer_kind", ["stdlib", "pyopenssl"])
def test_resumption_psk_ke_only(pki: Pki, peer_kind: str) -> None:
    """Our client resumes in psk_ke mode: no key exchange at all on the second handshake."""
    if peer_kind == "stdlib":
        sctx = std_server_ctx(pki)
        sctx.options |= _OP_ALLOW_NO_DHE_KEX

        def peer() -> Peer:
            return StdlibPeer(sctx, server=True)
    else:
        pctx = ossl_ctx(pki, server=True)
        pctx.set_options(_OP_ALLOW_NO_DHE_KEX)

        def peer() -> Peer:
            return PyOpenSSLPeer(pctx, server=True)

    link = Link(our_client(pki, psk_modes=(PskKeyExchangeMode.psk_ke,)), peer())
    link.handshake()
    link.exchange()
    session = next(e.session for e in link.events if isinstance(e, SessionTicketReceived))
    link2 = Link(our_client(pki, session=session, psk_modes=(PskKeyExchangeMode.psk_ke,)), peer())
    done = link2.handshake()
    assert done.resumed and link2.peer.session_reused
    assert done.group is None
    link2.exchange()
    link2.close_both()


def test_stdlib_server_many_tickets(pki: Pki) -> None:
    ctx = std_server_ctx(pki)
    ctx.num_tickets = 6
    link = Link(our_client(pki), StdlibPeer(ctx, server=True))
    link.handshake()
    link.exchange()
    tickets = [e.session for e in link.events if isinstance(e, SessionTicketReceived)]
    assert len(tickets) == 6 and len({t.ticket for t in tickets}) == 6
    link2 = Link(our_client(pki, session=tickets[3]), StdlibPeer(ctx, server=True))
    assert link2.handshake().resumed and link2.peer.session_reused


@pytest.fixture(scope="module")
def deep_pki(pki: Pki) -> Pki:
    """Leaves under an intermediate CA (the chains carry it; only the root is trusted)."""
    inter = make_ca(name="Interop Intermediate", parent=pki.ca)
    server: dict[KeyType, Issued] = {"p256": make_leaf(inter, [HOST], key_type="p256", common_name="deep server")}
    client: dict[KeyType, Issued] = {
        "p256": make_leaf(inter, ["client"], key_type="p256", eku="clientAuth", common_name="deep client")
    }
    d = pki.dir / "deep"
    d.mkdir(exist_ok=True)
    (d / "ca.pem").write_bytes(pki.ca.cert_pem)
    return Pki(ca=pki.ca, dir=d, server=server, client=client)


@pytest.mark.parametrize("our_role", ["client", "server"])
def test_stdlib_intermediate_chains(deep_pki: Pki, our_role: str) -> None:
    """Mutual authentication with two-certificate chains both ways."""
    pki = deep_pki
    if our_role == "client":
        peer: StdlibPeer = StdlibPeer(std_server_ctx(pki, verify_client=ssl.CERT_REQUIRED), server=True)
        link = Link(our_client(pki, certificate=pki.client["p256"].certified_key()), peer)
    else:
        cfg = our_server_config(
            pki,
            request_client_certificate=True,
            require_client_certificate=True,
            client_verifier=WebPkiVerifier([pki.ca.cert]),
        )
        peer = StdlibPeer(std_client_ctx(pki, "p256"), server=False)
        link = Link(ServerConnection(cfg), peer)
    done = link.handshake()
    if our_role == "client":
        assert done.peer_certificates == pki.server["p256"].chain_der
        assert peer.obj.getpeercert(binary_form=True) == pki.client["p256"].der
    else:
        assert link.ours.peer_certificates == pki.client["p256"].chain_der
        assert peer.obj.getpeercert(binary_form=True) == pki.server["p256"].der
    link.exchange()
    link.close_both()


@pytest.mark.parametrize("peer_kind", ["stdlib", "pyopenssl"])
def test_small_records_from_us(pki: Pki, peer_kind: str) -> None:
    """Our max_fragment_length=512 splits handshake and data into many records; OpenSSL reassembles."""
    ck = pki.server["rsa2048"]
    cfg = our_server_config(pki, "rsa2048", max_fragment_length=512)
    peer: Peer = (
        StdlibPeer(std_client_ctx(pki), server=False)
        if peer_kind == "stdlib"
        else PyOpenSSLPeer(ossl_ctx(pki, server=False), server=False)
    )
    link = Link(ServerConnection(cfg), peer)
    link.handshake()
    assert len(ck.der) > 512
    link.exchange(5000)
    link.close_both()


def test_pyopenssl_server_skips_our_early_data(pki: Pki) -> None:
    """A server that never calls SSL_read_early_data resumes but rejects 0-RTT:
    our client replays the data after the handshake."""
    ctx = _early_server_ctx(pki)
    link = Link(our_client(pki, early_data=True), PyOpenSSLPeer(ctx, server=True))
    link.handshake()
    link.exchange()
    session = next(e.session for e in link.events if isinstance(e, SessionTicketReceived))
    ours = our_client(pki, session=session, early_data=True)
    peer = PyOpenSSLPeer(ctx, server=True)
    link2 = Link(ours, peer)
    ours.start_handshake()
    ours.send_application_data(b"early bird" * 100)
    done = link2.handshake_pumped()
    assert done.resumed and not done.early_data_accepted
    assert [e for e in link2.events if isinstance(e, EarlyDataRejected)] == [EarlyDataRejected(resent=1000)]
    assert bytes(peer.received) == b"early bird" * 100
    link2.exchange()
    link2.close_both()


def test_pyopenssl_client_early_data_rejected(pki: Pki) -> None:
    """Our server resumes but refuses 0-RTT: it skips the client's early records."""
    keys = ticket_keys()
    issuing = our_server_config(pki, ticket_keys=keys, max_early_data=_MAX_EARLY)
    refusing = our_server_config(pki, ticket_keys=keys, max_early_data=0)
    ctx = ossl_ctx(pki, server=False)
    peer = PyOpenSSLPeer(ctx, server=False)
    link = Link(ServerConnection(issuing), peer)
    link.handshake()
    link.exchange()
    session = peer.conn.get_session()
    assert session is not None

    peer2 = PyOpenSSLPeer(ctx, server=False, session=session)
    written = FFI.new("size_t *")
    data = b"e" * 5000
    assert LIB.SSL_write_early_data(peer2.conn._ssl, data, len(data), written) == 1
    link2 = Link(ServerConnection(refusing), peer2)
    done = link2.handshake()
    assert done.resumed and not done.early_data_accepted
    assert not [e for e in link2.events if isinstance(e, EarlyDataReceived | ApplicationData)]
    link2.exchange()
    link2.close_both()
