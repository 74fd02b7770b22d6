"""TLS 1.2 interop: our engine against OpenSSL (in memory and on 127.0.0.1) and curl.

In memory (the stdlib :mod:`ssl`, system OpenSSL 3.0, through the memory-BIO
:class:`~test_interop_memory.Link` pump), both directions:

* every TLS 1.2 suite both implement: ECDHE-ECDSA/RSA with AES-GCM,
  ChaCha20-Poly1305, AES-CCM and AES-CCM_8 (ECDSA only), and the CBC suites
  with encrypt_then_mac (OpenSSL's default) and without it
  (``SSL_OP_NO_ENCRYPT_THEN_MAC``: MAC-then-encrypt);
* static RSA on both sides (our server when configured with a TLS_RSA_* suite);
* resumption with RFC 5077 tickets and with session IDs, client certificates,
  extended master secret (and its absence), ALPN, and NSS key logs: our
  ``CLIENT_RANDOM`` lines equal OpenSSL's, full and resumed handshakes alike.

On sockets (marked ``interop``): our client against ``openssl s_server
-tls1_2`` (``-www`` page: "New/Reused, TLSv1.2, Cipher is ..."), our server
(:mod:`echoserver`) against ``openssl s_client -tls1_2 -sess_out/-sess_in``
("Reused, TLSv1.2", "Extended master secret: yes") and against ``curl
--tls-max 1.2`` fetching from a tiny HTTP responder (exit code, body, ``-v``
lines "SSL connection using TLSv1.2" and "SSL re-using session ID").

GnuTLS TLS 1.2 (including ``gnutls-cli --resume``) lives in test_gnutls.py.

Every assertion about the other side reads what OpenSSL or curl itself
reports, not what our engine believes.
"""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from certs import Issued, KeyType, make_ca, make_leaf
from echoserver import Served, ServerThread, read_head
from https_request.io import TlsStream, connect
from https_request.tls.catalogue import OPENSSL_NAMES
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import DEFAULT_CIPHER_SUITES, ClientConfig, ServerConfig
from https_request.tls.enums import AlertDescription, ExtensionType, ProtocolVersion
from https_request.tls.errors import TlsError
from https_request.tls.events import HandshakeComplete, SessionTicketReceived
from https_request.tls.messages import ServerHello
from https_request.tls.server13 import ServerConnection
from https_request.tls.session import Session, TicketKeys
from https_request.tls.suites import SUITES
from https_request.tls.verify import WebPkiVerifier
from procs import Proc, needs, tool
from test_interop_memory import HOST, Link, StdlibPeer

TLS12 = ProtocolVersion.TLS1_2
TLS13 = ProtocolVersion.TLS1_3
# OpenSSL 3.0's option bits that Python 3.11's ssl module does not name.
OP_NO_ENCRYPT_THEN_MAC = getattr(ssl, "OP_NO_ENCRYPT_THEN_MAC", 0x80000)  # SSL_OP_BIT(19)
OP_NO_EXTENDED_MASTER_SECRET = 0x1  # SSL_OP_BIT(0), OpenSSL 3.0+

ECDHE_AEAD = (0xC02B, 0xC02C, 0xC02F, 0xC030, 0xCCA9, 0xCCA8, 0xC0AC, 0xC0AD, 0xC0AE, 0xC0AF)
ECDHE_CBC = (0xC009, 0xC00A, 0xC013, 0xC014, 0xC023, 0xC024, 0xC027, 0xC028)
STATIC_RSA = (0x009C, 0x009D, 0xC09C, 0xC09D, 0xC0A0, 0xC0A1, 0x002F, 0x0035, 0x003C, 0x003D)


@dataclass(frozen=True)
class Case:
    """One suite, and for CBC whether encrypt_then_mac is on."""

    suite: int
    etm: bool = True

    @property
    def ossl(self) -> str:
        return OPENSSL_NAMES[self.suite]

    @property
    def cbc(self) -> bool:
        return SUITES[self.suite].cbc

    @property
    def key(self) -> KeyType:
        return "rsa2048" if SUITES[self.suite].auth == "RSA" else "p256"

    @property
    def id(self) -> str:
        return self.ossl + ("" if not self.cbc else "-etm" if self.etm else "-mte")


SUITE_CASES = [Case(s) for s in ECDHE_AEAD] + [Case(s, etm) for s in ECDHE_CBC for etm in (True, False)]
STATIC_CASES = [Case(s) for s in STATIC_RSA] + [Case(0x002F, etm=False), Case(0x003D, etm=False)]
# one per family for the slower scenarios
FAMILY_CASES = [Case(0xC02B), Case(0xCCA8), Case(0xC0AE), Case(0xC028), Case(0xC009, etm=False)]


def _case_ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]


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

    def files(self, issued: Issued, name: str) -> tuple[str, str]:
        cert, key = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        if not cert.exists():
            cert.write_bytes(issued.chain_pem)
            key.write_bytes(issued.key_pem)
        return str(cert), str(key)

    def server_files(self, key: KeyType) -> tuple[str, str]:
        return self.files(self.server[key], f"server-{key}")

    def client_files(self, key: KeyType) -> tuple[str, str]:
        return self.files(self.client[key], f"client-{key}")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("interop12-pki")
    ca = make_ca()
    (d / "ca.pem").write_bytes(ca.cert_pem)
    kinds: tuple[KeyType, ...] = ("rsa2048", "p256")
    server = {k: make_leaf(ca, [HOST], key_type=k, common_name=f"{HOST} {k}") for k in kinds}
    client = {k: make_leaf(ca, ["client"], key_type=k, eku="clientAuth", common_name=f"client {k}") for k in kinds}
    return Pki(ca=ca, dir=d, server=server, client=client)


# ------------------------------------------------------------- stdlib contexts


def std_ctx(
    pki: Pki,
    *,
    server: bool,
    ciphers: str | None = None,
    etm: bool = True,
    tickets: bool = True,
    ems: bool = True,
    key: KeyType = "p256",
    client_key: KeyType | None = None,
    verify_client: bool = False,
    keylog: Path | None = None,
) -> ssl.SSLContext:
    """An OpenSSL 3.0 context limited to TLS 1.2."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if ciphers is not None:
        # OpenSSL rates CCM_8's 64-bit tag below security level 1 (its default).
        ctx.set_ciphers(f"{ciphers}:@SECLEVEL=0" if "CCM8" in ciphers else ciphers)
    if not etm:
        ctx.options |= OP_NO_ENCRYPT_THEN_MAC
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    if not ems:
        ctx.options |= OP_NO_EXTENDED_MASTER_SECRET
    if server:
        ctx.load_cert_chain(*pki.server_files(key))
        if verify_client:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=pki.ca_file)
    else:
        ctx.load_verify_locations(cafile=pki.ca_file)
        if client_key is not None:
            ctx.load_cert_chain(*pki.client_files(client_key))
    if keylog is not None:
        ctx.keylog_filename = str(keylog)
    return ctx


# ------------------------------------------------------------------ our configs


def our_client(pki: Pki, suites: tuple[int, ...], session: Session | None = None, **kw: Any) -> ClientConnection:
    kw.setdefault("versions", (TLS12,))
    cfg = ClientConfig(verifier=WebPkiVerifier([pki.ca.cert]), cipher_suites=suites, **kw)
    return ClientConnection(cfg, HOST, session=session)


def our_server_config(pki: Pki, suites: tuple[int, ...], key: KeyType = "p256", **kw: Any) -> ServerConfig:
    kw.setdefault("versions", (TLS12,))
    return ServerConfig(certificates=(pki.server[key].certified_key(),), cipher_suites=suites, **kw)


def ticket_keys() -> TicketKeys:
    return TicketKeys(os.urandom, now=time.time())


def server_hello(link: Link) -> ServerHello:
    """The ServerHello that crossed the link (first record of the server's first flight)."""
    first = link.server_bytes[0]
    assert first[0] == 22 and first[5] == 2, "server flight does not start with ServerHello"
    length = int.from_bytes(first[6:9], "big")
    return ServerHello.decode(first[9 : 9 + length])


def assert_peer_12(link: Link, case: Case, done: HandshakeComplete) -> None:
    """Both ends agree on TLS 1.2, the suite, and (CBC) encrypt_then_mac."""
    assert isinstance(link.peer, StdlibPeer)
    assert done.version == TLS12 and done.cipher_suite == case.suite
    assert link.peer.obj.version() == "TLSv1.2"
    assert link.peer.cipher_name == case.ossl
    sh = server_hello(link)
    assert sh.legacy_version == 0x0303 and sh.cipher_suite == case.suite
    assert (sh.ext(ExtensionType.encrypt_then_mac) is not None) == (case.cbc and case.etm)
    assert sh.ext(ExtensionType.extended_master_secret) is not None


def keylog_lines(lines: list[str]) -> set[str]:
    return {line.strip() for line in lines if line.startswith("CLIENT_RANDOM ")}


# ================================================================ stdlib suites


@pytest.mark.parametrize("case", SUITE_CASES, ids=_case_ids(SUITE_CASES))
def test_stdlib_server_suites(pki: Pki, case: Case) -> None:
    """Our client, the stdlib server restricted to one suite."""
    ctx = std_ctx(pki, server=True, ciphers=case.ossl, etm=case.etm, key=case.key)
    link = Link(our_client(pki, (case.suite,)), StdlibPeer(ctx, server=True))
    assert_peer_12(link, case, link.handshake())
    link.exchange(40000)
    link.close_both()


@pytest.mark.parametrize("case", SUITE_CASES, ids=_case_ids(SUITE_CASES))
def test_stdlib_client_suites(pki: Pki, case: Case) -> None:
    """Our server restricted to one suite, the stdlib client offering it."""
    ctx = std_ctx(pki, server=False, ciphers=case.ossl, etm=case.etm)
    link = Link(ServerConnection(our_server_config(pki, (case.suite,), case.key)), StdlibPeer(ctx, server=False))
    assert_peer_12(link, case, link.handshake())
    link.exchange(40000)
    link.close_both(ours_first=False)


def test_stdlib_default_suites_both_versions(pki: Pki) -> None:
    """Defaults on our side (TLS 1.3 and 1.2 offered), OpenSSL capped at 1.2: an ECDHE AEAD suite."""
    ctx = std_ctx(pki, server=True, key="rsa2048")
    link = Link(our_client(pki, DEFAULT_CIPHER_SUITES, versions=(TLS13, TLS12)), StdlibPeer(ctx, server=True))
    done = link.handshake()
    assert done.version == TLS12 and link.peer.obj.version() == "TLSv1.2"  # type: ignore[attr-defined]
    assert link.peer.cipher_name == OPENSSL_NAMES[done.cipher_suite]
    link.exchange()
    link.close_both()

    cfg = our_server_config(pki, DEFAULT_CIPHER_SUITES, "rsa2048", versions=(TLS13, TLS12))
    link = Link(ServerConnection(cfg), StdlibPeer(std_ctx(pki, server=False), server=False))
    done = link.handshake()
    assert done.version == TLS12 and link.peer.obj.version() == "TLSv1.2"  # type: ignore[attr-defined]
    assert link.peer.cipher_name == OPENSSL_NAMES[done.cipher_suite]
    link.exchange()
    link.close_both()


# ============================================================== static RSA


@pytest.mark.parametrize("case", STATIC_CASES, ids=_case_ids(STATIC_CASES))
def test_stdlib_server_static_rsa(pki: Pki, case: Case) -> None:
    """Our client with a TLS_RSA_* suite: RSA key transport to OpenSSL."""
    ctx = std_ctx(pki, server=True, ciphers=case.ossl, etm=case.etm, key="rsa2048")
    link = Link(our_client(pki, (case.suite,)), StdlibPeer(ctx, server=True))
    done = link.handshake()
    assert_peer_12(link, case, done)
    assert done.group is None  # no ECDHE
    link.exchange(20000)
    link.close_both()


@pytest.mark.parametrize("case", STATIC_CASES, ids=_case_ids(STATIC_CASES))
def test_stdlib_client_static_rsa(pki: Pki, case: Case) -> None:
    """Our server listing one TLS_RSA_* suite: OpenSSL's RSA key transport to us."""
    ctx = std_ctx(pki, server=False, ciphers=case.ossl, etm=case.etm)
    cfg = our_server_config(pki, (0xC02F, case.suite), "rsa2048")
    link = Link(ServerConnection(cfg), StdlibPeer(ctx, server=False))
    done = link.handshake()
    assert_peer_12(link, case, done)
    assert done.group is None  # no ECDHE
    link.exchange(20000)
    link.close_both(ours_first=False)


def test_stdlib_client_static_rsa_only_is_refused(pki: Pki) -> None:
    """A client offering only TLS_RSA_* suites gets handshake_failure from us, and OpenSSL reports it."""
    ctx = std_ctx(pki, server=False, ciphers="AES128-GCM-SHA256:AES256-SHA")
    link = Link(
        ServerConnection(our_server_config(pki, DEFAULT_CIPHER_SUITES, "rsa2048")), StdlibPeer(ctx, server=False)
    )
    with pytest.raises(TlsError) as info:
        link.pump()
    assert info.value.alert == AlertDescription.handshake_failure
    link.peer.feed(link.ours.data_to_send())
    with pytest.raises(ssl.SSLError, match=r"HANDSHAKE_FAILURE|handshake failure"):
        link.peer.step()


# ============================================================== resumption


def _sessions(link: Link) -> list[Session]:
    return [e.session for e in link.events if isinstance(e, SessionTicketReceived)]


@pytest.mark.parametrize("tickets", [True, False], ids=["ticket", "session-id"])
@pytest.mark.parametrize("case", [*FAMILY_CASES, Case(0x009C)], ids=_case_ids([*FAMILY_CASES, Case(0x009C)]))
def test_stdlib_server_resumption(pki: Pki, case: Case, tickets: bool, tmp_path: Path) -> None:
    """Our client resumes with the stdlib server: OpenSSL reports session_reused and a cache hit."""
    keylog = tmp_path / "keylog.txt"
    ctx = std_ctx(pki, server=True, ciphers=case.ossl, etm=case.etm, tickets=tickets, key=case.key, keylog=keylog)
    ours: list[str] = []
    link = Link(our_client(pki, (case.suite,), keylog=ours.append), StdlibPeer(ctx, server=True))
    link.handshake()
    link.exchange()
    link.close_both()  # the stdlib server unwrap()s: a clean close keeps the session in its cache
    (session,) = _sessions(link)
    assert bool(session.ticket) == tickets and bool(session.session_id) != tickets
    assert session.extended_master_secret

    link2 = Link(our_client(pki, (case.suite,), session=session, keylog=ours.append), StdlibPeer(ctx, server=True))
    done = link2.handshake()
    assert done.resumed and done.cipher_suite == case.suite
    assert link2.peer.session_reused
    assert (server_hello(link2).ext(ExtensionType.encrypt_then_mac) is not None) == (case.cbc and case.etm)
    assert ctx.session_stats()["hits"] == 1
    link2.exchange()
    link2.close_both()
    theirs = keylog_lines(keylog.read_text().splitlines())
    assert len(theirs) == 2 and keylog_lines(ours) == theirs


@pytest.mark.parametrize("mode", ["ticket", "session-id", "session-id-no-ticket-keys"])
@pytest.mark.parametrize("case", FAMILY_CASES, ids=_case_ids(FAMILY_CASES))
def test_stdlib_client_resumption(pki: Pki, case: Case, mode: str, tmp_path: Path) -> None:
    """The stdlib client resumes with our server: OpenSSL's session_reused, and its SSLSession."""
    keylog = tmp_path / "keylog.txt"
    ctx = std_ctx(pki, server=False, ciphers=case.ossl, etm=case.etm, tickets=mode == "ticket", keylog=keylog)
    ours: list[str] = []
    keys = None if mode == "session-id-no-ticket-keys" else ticket_keys()
    cfg = our_server_config(pki, (case.suite,), case.key, ticket_keys=keys, keylog=ours.append)
    peer = StdlibPeer(ctx, server=False)
    link = Link(ServerConnection(cfg), peer)
    link.handshake()
    link.exchange()
    session = peer.obj.session
    assert session is not None and session.has_ticket == (mode == "ticket")
    if mode != "ticket":
        assert len(session.id) == 32
    link.close_both(ours_first=False)

    peer2 = StdlibPeer(ctx, server=False, session=session)
    link2 = Link(ServerConnection(cfg), peer2)
    done = link2.handshake()
    assert done.resumed and peer2.session_reused
    assert peer2.cipher_name == case.ossl
    assert (server_hello(link2).ext(ExtensionType.encrypt_then_mac) is not None) == (case.cbc and case.etm)
    link2.exchange()
    link2.close_both()
    theirs = keylog_lines(keylog.read_text().splitlines())
    assert len(theirs) == 2 and keylog_lines(ours) == theirs


def test_stdlib_client_ticket_refused_after_key_change(pki: Pki) -> None:
    """A ticket under keys our server no longer has: full handshake, and OpenSSL sees a new session."""
    ctx = std_ctx(pki, server=False)
    cfg = our_server_config(pki, DEFAULT_CIPHER_SUITES, ticket_keys=ticket_keys())
    peer = StdlibPeer(ctx, server=False)
    link = Link(ServerConnection(cfg), peer)
    link.handshake()
    link.exchange()
    session = peer.obj.session
    link.close_both()
    other = our_server_config(pki, DEFAULT_CIPHER_SUITES, ticket_keys=ticket_keys(), session_cache=None)
    peer2 = StdlibPeer(ctx, server=False, session=session)
    link2 = Link(ServerConnection(other), peer2)
    done = link2.handshake()
    assert not done.resumed and not peer2.session_reused
    link2.exchange()
    link2.close_both()


# ============================================================ client certificates


@pytest.mark.parametrize("client_key", ["p256", "rsa2048"])
@pytest.mark.parametrize("case", [Case(0xC02B), Case(0xC027)], ids=["ECDSA-GCM", "RSA-CBC"])
def test_stdlib_server_client_auth(pki: Pki, case: Case, client_key: KeyType) -> None:
    """Our client presents a certificate to a stdlib server that requires one."""
    ctx = std_ctx(pki, server=True, ciphers=case.ossl, key=case.key, verify_client=True)
    ours = our_client(pki, (case.suite,), certificate=pki.client[client_key].certified_key())
    link = Link(ours, StdlibPeer(ctx, server=True))
    assert_peer_12(link, case, link.handshake())
    assert link.peer.obj.getpeercert(binary_form=True) == pki.client[client_key].der  # type: ignore[attr-defined]
    link.exchange()
    link.close_both(ours_first=False)


def test_stdlib_server_client_auth_missing(pki: Pki) -> None:
    """No certificate on our side: OpenSSL refuses, its alert reaches us."""
    ctx = std_ctx(pki, server=True, verify_client=True)
    link = Link(our_client(pki, (0xC02B,)), StdlibPeer(ctx, server=True))
    link.client.start_handshake()
    with pytest.raises(ssl.SSLError, match=r"PEER_DID_NOT_RETURN_A_CERTIFICATE|peer did not return a certificate"):
        link.pump()
    with pytest.raises(TlsError):
        link.ours.receive_data(link.peer.pull())


@pytest.mark.parametrize("client_key", ["p256", "rsa2048"])
@pytest.mark.parametrize("case", [Case(0xC02B), Case(0xC027)], ids=["ECDSA-GCM", "RSA-CBC"])
def test_stdlib_client_client_auth(pki: Pki, case: Case, client_key: KeyType) -> None:
    """The stdlib client presents a certificate to our server, which requires and verifies it."""
    cfg = our_server_config(
        pki,
        (case.suite,),
        case.key,
        request_client_certificate=True,
        require_client_certificate=True,
        client_verifier=WebPkiVerifier([pki.ca.cert]),
    )
    ctx = std_ctx(pki, server=False, client_key=client_key)
    link = Link(ServerConnection(cfg), StdlibPeer(ctx, server=False))
    assert_peer_12(link, case, link.handshake())
    assert link.ours.peer_certificates[0] == pki.client[client_key].der
    link.exchange()
    link.close_both()


def test_stdlib_client_client_auth_missing(pki: Pki) -> None:
    cfg = our_server_config(
        pki,
        (0xC02B,),
        request_client_certificate=True,
        require_client_certificate=True,
        client_verifier=WebPkiVerifier([pki.ca.cert]),
    )
    link = Link(ServerConnection(cfg), StdlibPeer(std_ctx(pki, server=False), server=False))
    with pytest.raises(TlsError):
        link.pump()
    link.peer.feed(link.ours.data_to_send())
    with pytest.raises(ssl.SSLError):
        link.peer.step()


# ============================================================ key log and EMS


@pytest.mark.parametrize("ems", [True, False], ids=["ems", "no-ems"])
@pytest.mark.parametrize("case", FAMILY_CASES, ids=_case_ids(FAMILY_CASES))
def test_stdlib_server_keylog(pki: Pki, tmp_path: Path, case: Case, ems: bool) -> None:
    """Same master secret as OpenSSL's, with and without RFC 7627 (OpenSSL decides)."""
    keylog = tmp_path / "keylog.txt"
    ctx = std_ctx(pki, server=True, ciphers=case.ossl, etm=case.etm, ems=ems, key=case.key, keylog=keylog)
    ours: list[str] = []
    link = Link(our_client(pki, (case.suite,), keylog=ours.append), StdlibPeer(ctx, server=True))
    link.handshake()
    assert (server_hello(link).ext(ExtensionType.extended_master_secret) is not None) == ems
    link.exchange()
    link.close_both()
    theirs = keylog_lines(keylog.read_text().splitlines())
    assert len(theirs) == 1 and keylog_lines(ours) == theirs
    (session,) = _sessions(link)
    assert session.extended_master_secret == ems


@pytest.mark.parametrize("case", FAMILY_CASES, ids=_case_ids(FAMILY_CASES))
def test_stdlib_client_keylog(pki: Pki, tmp_path: Path, case: Case) -> None:
    keylog = tmp_path / "keylog.txt"
    ctx = std_ctx(pki, server=False, ciphers=case.ossl, etm=case.etm, keylog=keylog)
    ours: list[str] = []
    cfg = our_server_config(pki, (case.suite,), case.key, keylog=ours.append)
    link = Link(ServerConnection(cfg), StdlibPeer(ctx, server=False))
    link.handshake()
    link.exchange()
    link.close_both()
    theirs = keylog_lines(keylog.read_text().splitlines())
    assert len(theirs) == 1 and keylog_lines(ours) == theirs


def test_stdlib_client_without_ems(pki: Pki) -> None:
    """OpenSSL without extended_master_secret: refused by default, served when allowed."""
    ctx = std_ctx(pki, server=False, ems=False)
    link = Link(ServerConnection(our_server_config(pki, DEFAULT_CIPHER_SUITES)), StdlibPeer(ctx, server=False))
    with pytest.raises(TlsError) as info:
        link.pump()
    assert info.value.alert == AlertDescription.handshake_failure
    link.peer.feed(link.ours.data_to_send())
    with pytest.raises(ssl.SSLError, match=r"HANDSHAKE_FAILURE|handshake failure"):
        link.peer.step()

    cfg = our_server_config(pki, DEFAULT_CIPHER_SUITES, require_extended_master_secret=False)
    link = Link(ServerConnection(cfg), StdlibPeer(ctx, server=False))
    link.handshake()
    assert server_hello(link).ext(ExtensionType.extended_master_secret) is None
    link.exchange()
    link.close_both()


# ------------------------------------------------------------------------ ALPN


@pytest.mark.parametrize("our_role", ["client", "server"])
def test_stdlib_alpn(pki: Pki, our_role: str) -> None:
    if our_role == "client":
        sctx = std_ctx(pki, server=True)
        sctx.set_alpn_protocols(["spdy/1", "http/1.1"])
        link = Link(
            our_client(pki, DEFAULT_CIPHER_SUITES, alpn_protocols=("h2", "http/1.1")), StdlibPeer(sctx, server=True)
        )
    else:
        cctx = std_ctx(pki, server=False)
        cctx.set_alpn_protocols(["spdy/1", "http/1.1"])
        cfg = our_server_config(pki, DEFAULT_CIPHER_SUITES, alpn_protocols=("h2", "http/1.1"))
        link = Link(ServerConnection(cfg), StdlibPeer(cctx, server=False))
    done = link.handshake()
    assert isinstance(link.peer, StdlibPeer)
    assert done.version == TLS12
    assert done.alpn_protocol == link.peer.obj.selected_alpn_protocol() == "http/1.1"
    link.exchange()
    link.close_both()


# ============================================================ command-line peers

WAIT = 5.0
# Our server's TLS 1.2 suites for the socket tests: the AEAD defaults plus the ECDHE CBC ones.
SERVER_SUITES = (*DEFAULT_CIPHER_SUITES, *ECDHE_CBC)


@contextmanager
def s_server12(pki: Pki, key: KeyType, *extra: str) -> Iterator[tuple[Proc, int]]:
    cert, keyfile = pki.server_files(key)
    args = [tool("stdbuf"), "-o0", tool("openssl"), "s_server", "-tls1_2", "-accept", "127.0.0.1:0",
            "-cert", cert, "-key", keyfile, *extra]  # fmt: skip
    with Proc(args) as proc:
        port = int(proc.wait_for(r"ACCEPT 127\.0\.0\.1:(\d+)").group(1))
        yield proc, port


def s_client12(pki: Pki, port: int, *extra: str) -> Proc:
    return Proc(
        [tool("openssl"), "s_client", "-tls1_2", "-connect", f"127.0.0.1:{port}", "-servername", HOST,
         "-CAfile", pki.ca_file, "-verify_return_error", *extra]
    )  # fmt: skip


def assert_openssl_session(text: str, new_or_reused: str, suite: int) -> None:
    """OpenSSL's connection summary: "New/Reused, <the cipher's minimum version>, Cipher is X"
    then the session block with the negotiated protocol and EMS."""
    name = re.escape(OPENSSL_NAMES[suite])
    assert re.search(rf"\n{new_or_reused}, (TLSv1(\.[0-2])?|SSLv3), Cipher is {name}\n", text), text
    assert re.search(rf"\n +Protocol +: TLSv1\.2\n +Cipher +: {name}\n", text), text
    assert "Extended master secret: yes" in text


def get_page(
    port: int, config: ClientConfig, session: Session | None = None
) -> tuple[HandshakeComplete, Session | None, str]:
    """GET / from ``s_server -www``: our handshake, our new session (if any) and the status page."""
    with connect("127.0.0.1", port, config, HOST, session, timeout=WAIT) as tls:
        tls.send(b"GET / HTTP/1.0\r\n\r\n")
        page = b""
        while chunk := tls.recv():
            page += chunk
        hs = tls.pump.handshake
        new_session = tls.session
    assert page.startswith(b"HTTP/1.0 200 ok"), page[:200]
    assert hs is not None
    return hs, new_session, page.decode(errors="replace")


# (certificate, tickets?, s_server extras, our client's suites, our versions)
S_SERVER_CASES = [
    pytest.param("p256", True, (), DEFAULT_CIPHER_SUITES, (TLS13, TLS12), id="ecdsa-aead-ticket"),
    pytest.param("p256", False, (), DEFAULT_CIPHER_SUITES, (TLS12,), id="ecdsa-aead-session-id"),
    pytest.param("rsa2048", True, (), DEFAULT_CIPHER_SUITES, (TLS12,), id="rsa-aead-ticket"),
    pytest.param("rsa2048", False, (), DEFAULT_CIPHER_SUITES, (TLS13, TLS12), id="rsa-aead-session-id"),
    pytest.param("p256", True, (), (0xC023,), (TLS12,), id="ecdsa-cbc-etm-ticket"),
    pytest.param("rsa2048", False, ("-no_etm",), (0xC014,), (TLS12,), id="rsa-cbc-mte-session-id"),
    pytest.param("rsa2048", True, (), (0x009D,), (TLS12,), id="static-rsa-ticket"),
    pytest.param("rsa2048", False, (), (0x003C,), (TLS12,), id="static-rsa-session-id"),
]


@pytest.mark.timeout(30)
@needs("openssl", "stdbuf")
@pytest.mark.parametrize(("key", "tickets", "extra", "suites", "versions"), S_SERVER_CASES)
def test_client_resumes_with_s_server(
    pki: Pki, key: KeyType, tickets: bool, extra: tuple[str, ...], suites: tuple[int, ...], versions: tuple[int, ...]
) -> None:
    """Our client, ``openssl s_server -tls1_2 -www``: the second connection is "Reused"."""
    config = ClientConfig(verifier=WebPkiVerifier([pki.ca.cert]), versions=versions, cipher_suites=suites)
    opts = ("-www", *extra) if tickets else ("-www", "-no_ticket", *extra)
    with s_server12(pki, key, *opts) as (_, port):
        hs, session, page = get_page(port, config)
        hs2, _, page2 = get_page(port, config, session)
    assert hs.version == TLS12 and not hs.resumed and hs.cipher_suite in suites and session is not None
    assert bool(session.ticket) == tickets and bool(session.session_id) != tickets
    assert_openssl_session(page, "New", hs.cipher_suite)
    # OpenSSL drops the session ID of a session it issues a ticket for
    assert re.search(r"Session-ID: [0-9A-F]{64}\n" if not tickets else r"Session-ID: \n", page)
    assert hs2.resumed and hs2.cipher_suite == hs.cipher_suite
    assert_openssl_session(page2, "Reused", hs.cipher_suite)
    assert re.search(r"\n +1 session cache hits\n", page2)


def _echo_session(proc: Proc, line: str) -> int:
    """Handshake checked, one line echoed, stdin closed: s_client's exit code."""
    proc.wait_for(r"Verify return code: 0 \(ok\)")
    proc.write(f"{line}\n".encode())
    proc.wait_for(rf"\n{re.escape(line)}\n")
    return proc.finish()


# (certificate, tickets?, s_client extras)
S_CLIENT_CASES = [
    pytest.param("p256", True, (), id="ecdsa-ticket"),
    pytest.param("p256", False, ("-no_ticket",), id="ecdsa-session-id"),
    pytest.param("rsa2048", True, (), id="rsa-ticket"),
    pytest.param("rsa2048", False, ("-no_ticket",), id="rsa-session-id"),
    pytest.param("p256", True, ("-cipher", "ECDHE-ECDSA-AES256-SHA384"), id="ecdsa-cbc-etm-ticket"),
    pytest.param(
        "rsa2048", False, ("-no_ticket", "-cipher", "ECDHE-RSA-AES128-SHA", "-no_etm"), id="rsa-cbc-mte-session-id"
    ),
]


@pytest.mark.timeout(30)
@needs("openssl")
@pytest.mark.parametrize(("key", "tickets", "extra"), S_CLIENT_CASES)
def test_server_resumes_s_client(pki: Pki, tmp_path: Path, key: KeyType, tickets: bool, extra: tuple[str, ...]) -> None:
    """Our server (both versions enabled), ``openssl s_client -tls1_2 -sess_out/-sess_in``: "Reused, TLSv1.2"."""
    sess = str(tmp_path / "sess.pem")
    config = our_server_config(pki, SERVER_SUITES, key, versions=(TLS13, TLS12), ticket_keys=ticket_keys())
    with ServerThread(config) as srv:
        with s_client12(pki, srv.port, "-sess_out", sess, *extra) as cl:
            assert _echo_session(cl, "first") == 0
        first = srv.next()
        with s_client12(pki, srv.port, "-sess_in", sess, *extra) as cl2:
            assert _echo_session(cl2, "second") == 0
        second = srv.next()
    assert first.error is None and first.handshake is not None and second.handshake is not None
    suite = first.handshake.cipher_suite
    assert first.handshake.version == TLS12 and not first.handshake.resumed
    assert_openssl_session(cl.text, "New", suite)
    assert ("TLS session ticket:" in cl.text) == tickets
    assert re.search(r"Session-ID: [0-9A-F]{64}\n", cl.text)
    assert second.error is None and second.handshake.resumed and second.handshake.cipher_suite == suite
    assert_openssl_session(cl2.text, "Reused", suite)
    assert bytes(second.received) == b"second\n"


async def http_hello(stream: TlsStream, rec: Served) -> None:
    """A minimal HTTP/1.1 responder: one request, one answer, close_notify."""
    rec.handshake = await stream.handshake()
    request = await read_head(stream)
    if request is None:
        return
    rec.received += request
    body = b"hello over TLS 1.2\n"
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    await stream.write(head.encode() + body)
    await stream.close()


# (certificate, tickets on our server?, curl extras)
CURL_CASES = [
    pytest.param("p256", True, (), id="ecdsa-ticket"),
    pytest.param("rsa2048", False, (), id="rsa-session-id"),
    pytest.param("rsa2048", True, ("--ciphers", "ECDHE-RSA-AES128-SHA256"), id="rsa-cbc-ticket"),
]


@pytest.mark.timeout(30)
@needs("curl")
@pytest.mark.parametrize(("key", "tickets", "extra"), CURL_CASES)
def test_server_with_curl(pki: Pki, key: KeyType, tickets: bool, extra: tuple[str, ...]) -> None:
    """``curl --tls-max 1.2`` fetches twice (two connections): TLS 1.2, the body, and a resumed second handshake."""
    config = our_server_config(
        pki, SERVER_SUITES, key, versions=(TLS13, TLS12), ticket_keys=ticket_keys() if tickets else None,
        alpn_protocols=("http/1.1",),
    )  # fmt: skip
    with ServerThread(config, http_hello) as srv:
        url = f"https://{HOST}:{srv.port}/"
        args = [tool("curl"), "-sS", "-v", "--tlsv1.2", "--tls-max", "1.2", "--cacert", pki.ca_file,
                "--resolve", f"{HOST}:{srv.port}:127.0.0.1", *extra, url, url]  # fmt: skip
        res = subprocess.run(args, capture_output=True, timeout=20, check=False)
        served = [srv.next(), srv.next()]
    log = res.stderr.decode(errors="replace")
    assert res.returncode == 0, log
    assert res.stdout == b"hello over TLS 1.2\n" * 2
    assert len(re.findall(r"SSL connection using TLSv1\.2 / ([A-Z0-9-]+)", log)) == 2, log
    name = re.search(r"SSL connection using TLSv1\.2 / ([A-Z0-9-]+)", log).group(1)  # type: ignore[union-attr]
    assert "ALPN: server accepted http/1.1" in log
    assert "SSL re-using session ID" in log
    assert [s.handshake.resumed for s in served if s.handshake is not None] == [False, True]
    assert all(OPENSSL_NAMES[s.handshake.cipher_suite] == name for s in served if s.handshake is not None)
    assert all(s.received.startswith(b"GET / HTTP/1.1\r\n") for s in served)
