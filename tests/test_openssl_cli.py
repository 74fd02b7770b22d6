"""Interop with the ``openssl`` command line (3.0 and later), over 127.0.0.1.

Our client (blocking driver) against ``openssl s_server``; our server
(asyncio driver in a thread, :mod:`echoserver`) against ``openssl s_client``.
Every scenario asserts on what the OpenSSL side printed: the ``-www`` status
page ("New/Reused, TLSv1.3, Cipher is ...", "Shared groups"), s_server's
``-trace`` and stdin-command output, s_client's summary ("Verify return code",
"Server Temp Key", "Early data was accepted", "KEYUPDATE") and the echo.

OpenSSL 3.0 has no X25519MLKEM768: our default client sends that share and an
X25519 one, so X25519 servers take the second share and P-256/P-384 servers
answer with a HelloRetryRequest.

Subprocesses listen on port 0 (the actual port is read from "ACCEPT"), every
wait is bounded, and every process is killed on the way out.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from certs import make_ca, make_leaf
from echoserver import ServerThread
from https_request.io import TlsSocket, connect
from https_request.tls.config import ClientConfig, ServerConfig
from https_request.tls.enums import CipherSuite, NamedGroup, ProtocolVersion
from https_request.tls.events import HandshakeComplete, KeyUpdated
from https_request.tls.session import Session, TicketKeys
from https_request.tls.verify import WebPkiVerifier
from procs import Proc, needs, tool

# stdbuf: s_server's printf()s are block-buffered on a pipe without it.
pytestmark = [needs("openssl", "stdbuf"), pytest.mark.timeout(30)]

WAIT = 5.0
SUITES = [
    CipherSuite.TLS_AES_128_GCM_SHA256,
    CipherSuite.TLS_AES_256_GCM_SHA384,
    CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    CipherSuite.TLS_AES_128_CCM_SHA256,
    CipherSuite.TLS_AES_128_CCM_8_SHA256,
]
# (openssl -groups name, our group, s_server "Shared groups" name, s_client "Server Temp Key")
GROUPS = [
    ("X25519", NamedGroup.x25519, "x25519", "X25519, 253 bits"),
    ("P-256", NamedGroup.secp256r1, "secp256r1", "ECDH, prime256v1, 256 bits"),
    ("P-384", NamedGroup.secp384r1, "secp384r1", "ECDH, secp384r1, 384 bits"),
]

CA = make_ca()
LEAVES = {
    "ecdsa": make_leaf(CA, ["localhost"]),
    "p384": make_leaf(CA, ["localhost"], key_type="p384"),
    "rsa": make_leaf(CA, ["localhost"], key_type="rsa"),
}
VERIFIER = WebPkiVerifier([CA.cert])
CLIENT = ClientConfig(verifier=VERIFIER)


@dataclass(frozen=True)
class Pems:
    dir: Path

    @property
    def ca(self) -> str:
        return str(self.dir / "ca.pem")

    def cert(self, name: str) -> list[str]:
        return ["-cert", str(self.dir / f"{name}.pem"), "-key", str(self.dir / f"{name}.key")]


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> Pems:
    d = tmp_path_factory.mktemp("openssl")
    (d / "ca.pem").write_bytes(CA.cert_pem)
    for name, leaf in LEAVES.items():
        (d / f"{name}.pem").write_bytes(leaf.chain_pem)
        (d / f"{name}.key").write_bytes(leaf.key_pem)
    return Pems(d)


@contextmanager
def s_server(pems: Pems, *extra: str, cert: str = "ecdsa") -> Iterator[tuple[Proc, int]]:
    args = [tool("stdbuf"), "-o0", tool("openssl"), "s_server", "-tls1_3", "-accept", "127.0.0.1:0",
            *pems.cert(cert), *extra]  # fmt: skip
    with Proc(args) as proc:
        port = int(proc.wait_for(r"ACCEPT 127\.0\.0\.1:(\d+)").group(1))
        yield proc, port


def s_client(pems: Pems, port: int, *extra: str) -> Proc:
    return Proc(
        [tool("openssl"), "s_client", "-tls1_3", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
         "-CAfile", pems.ca, "-verify_return_error", *extra]
    )  # fmt: skip


def _connect(port: int, config: ClientConfig = CLIENT, session: Session | None = None) -> TlsSocket:
    return connect("127.0.0.1", port, config, "localhost", session, timeout=WAIT)


def _get_page(port: int, config: ClientConfig = CLIENT, session: Session | None = None) -> tuple[TlsSocket, str]:
    """GET / from ``s_server -www``: the socket (closed) and the status page."""
    with _connect(port, config, session) as tls:
        tls.send(b"GET / HTTP/1.0\r\n\r\n")
        page = b""
        while chunk := tls.recv():
            page += chunk
    assert page.startswith(b"HTTP/1.0 200 ok"), page[:200]
    return tls, page.decode(errors="replace")


def _recv_until(tls: TlsSocket, marker: bytes) -> bytes:
    buf = b""
    while marker not in buf:
        chunk = tls.recv()
        assert chunk, f"closed before {marker!r}: {buf!r}"
        buf += chunk
    return buf


def _handshake(tls: TlsSocket) -> HandshakeComplete:
    assert tls.pump.handshake is not None
    return tls.pump.handshake


# ------------------------------------------------- our client vs s_server


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: CipherSuite(s).name)
def test_client_cipher_suite(pems: Pems, suite: CipherSuite) -> None:
    config = ClientConfig(verifier=VERIFIER, cipher_suites=(suite,))
    with s_server(pems, "-www", "-ciphersuites", suite.name) as (_, port):
        tls, page = _get_page(port, config)
    hs = _handshake(tls)
    assert hs.version == ProtocolVersion.TLS1_3 and hs.cipher_suite == suite
    assert f"New, TLSv1.3, Cipher is {suite.name}" in page


@pytest.mark.parametrize(("option", "group", "shared", "_temp"), GROUPS, ids=[g[0] for g in GROUPS])
def test_client_group(pems: Pems, option: str, group: NamedGroup, shared: str, _temp: str) -> None:
    with s_server(pems, "-www", "-groups", option) as (_, port):
        tls, page = _get_page(port)  # default shares: X25519MLKEM768 + X25519
    assert _handshake(tls).group == group
    assert f"Shared groups: {shared}\n" in page
    assert "New, TLSv1.3" in page


def test_client_hrr_when_only_mlkem_share(pems: Pems) -> None:
    config = ClientConfig(verifier=VERIFIER, key_share_groups=(NamedGroup.X25519MLKEM768,))
    with s_server(pems, "-groups", "X25519", "-trace") as (proc, port), _connect(port, config) as tls:
        tls.send(b"hello after retry\n")
        proc.wait_for(r"hello after retry")
        assert _handshake(tls).group == NamedGroup.x25519
        assert proc.count(r"ClientHello, Length=") == 2  # the second one answers the HelloRetryRequest
        assert re.search(r"NamedGroup: .*\(4588\)", proc.text)  # first share: X25519MLKEM768


@pytest.mark.parametrize("cert", ["rsa", "p384"])
def test_client_server_certificate_types(pems: Pems, cert: str) -> None:
    with s_server(pems, "-www", cert=cert) as (_, port):
        tls, page = _get_page(port)
    assert _handshake(tls).peer_certificates[0] == LEAVES[cert].der
    assert "New, TLSv1.3" in page


def test_client_resumption(pems: Pems) -> None:
    with s_server(pems, "-www") as (_, port):
        tls, page = _get_page(port)
        assert "New, TLSv1.3" in page and tls.session is not None
        tls2, page2 = _get_page(port, session=tls.session)
    assert _handshake(tls2).resumed
    assert "Reused, TLSv1.3" in page2


def test_client_zero_rtt(pems: Pems) -> None:
    config = ClientConfig(verifier=VERIFIER, early_data=True)
    with s_server(pems, "-early_data") as (proc, port):
        with _connect(port, config) as tls:
            tls.send(b"first\n")
            proc.wait_for(r"first")
            proc.write(b"bye\n")
            _recv_until(tls, b"bye\n")
            session = tls.session
        assert session is not None and session.max_early_data > 0
        proc.wait_for(r"\nDONE\n")  # s_server read our close_notify (SSL_ERROR_ZERO_RETURN)
        tls2 = connect("127.0.0.1", port, config, "localhost", session, timeout=WAIT, handshake=False)
        with tls2:
            tls2.start()
            tls2.send(b"zero-rtt!\n")
            hs = tls2.handshake()
            assert hs.resumed and hs.early_data_accepted
            tls2.send(b"one-rtt\n")
            proc.wait_for(r"one-rtt")
        assert re.search(r"Early data received:\s*zero-rtt!\s*End of early data", proc.text), proc.text
        assert "Reused session-id" in proc.text


def test_client_key_update_from_s_server(pems: Pems) -> None:
    with s_server(pems) as (proc, port), _connect(port) as tls:
        tls.send(b"hello\n")
        proc.wait_for(r"hello")
        proc.write(b"k\n")  # KeyUpdate, no update requested
        proc.wait_for(r"SSL_do_handshake -> 1")
        proc.write(b"ping1\n")
        _recv_until(tls, b"ping1\n")
        assert list(tls.pump.key_updates) == [KeyUpdated(sending=False)]
        proc.write(b"K\n")  # KeyUpdate, update_requested: we must answer with ours
        proc.wait_for(r"SSL_do_handshake -> 1", count=2)
        proc.write(b"ping2\n")
        _recv_until(tls, b"ping2\n")
        assert list(tls.pump.key_updates) == [KeyUpdated(False), KeyUpdated(False), KeyUpdated(True)]
        tls.send(b"after both updates\n")
        proc.wait_for(r"after both updates")  # s_server reads with our updated key


# ------------------------------------------------- s_client vs our server


def _server_config(cert: str = "ecdsa", **kw: object) -> ServerConfig:
    return ServerConfig(
        certificates=(LEAVES[cert].certified_key(),),
        cipher_suites=tuple(SUITES),
        ticket_keys=TicketKeys(os.urandom, now=time.time()),
        **kw,  # type: ignore[arg-type]
    )


def _echo_session(proc: Proc, line: str = "hello") -> int:
    """Handshake checked, one line echoed, stdin closed: s_client's exit code."""
    proc.wait_for(r"Verify return code: 0 \(ok\)")
    proc.write(f"{line}\n".encode())
    proc.wait_for(rf"\n{re.escape(line)}\n")
    return proc.finish()


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: CipherSuite(s).name)
def test_server_cipher_suite(pems: Pems, suite: CipherSuite) -> None:
    with ServerThread(_server_config()) as srv, s_client(pems, srv.port, "-ciphersuites", suite.name) as cl:
        assert _echo_session(cl) == 0
        rec = srv.next()
    assert rec.error is None and rec.handshake is not None and rec.handshake.cipher_suite == suite
    assert f"New, TLSv1.3, Cipher is {suite.name}" in cl.text


@pytest.mark.parametrize(("option", "group", "_shared", "temp"), GROUPS, ids=[g[0] for g in GROUPS])
def test_server_group(pems: Pems, option: str, group: NamedGroup, _shared: str, temp: str) -> None:
    with ServerThread(_server_config()) as srv, s_client(pems, srv.port, "-groups", option) as cl:
        assert _echo_session(cl) == 0
        rec = srv.next()
    assert rec.handshake is not None and rec.handshake.group == group
    assert f"Server Temp Key: {temp}" in cl.text


def test_server_hello_retry_request(pems: Pems) -> None:
    config = _server_config(groups=(NamedGroup.secp256r1,))
    with ServerThread(config) as srv, s_client(pems, srv.port, "-groups", "X25519:P-256", "-msg") as cl:
        assert _echo_session(cl) == 0
        rec = srv.next()
    assert rec.handshake is not None and rec.handshake.group == NamedGroup.secp256r1
    assert cl.count(r">>> TLS 1.3, Handshake \[length [0-9a-f]+\], ClientHello") == 2
    assert "Server Temp Key: ECDH, prime256v1, 256 bits" in cl.text


def test_server_rsa_certificate(pems: Pems) -> None:
    with ServerThread(_server_config("rsa")) as srv, s_client(pems, srv.port) as cl:
        assert _echo_session(cl) == 0
        assert srv.next().error is None
    assert "Peer signature type: RSA-PSS" in cl.text


def test_server_resumption(pems: Pems, tmp_path: Path) -> None:
    sess = str(tmp_path / "sess.pem")
    with ServerThread(_server_config()) as srv:
        with s_client(pems, srv.port, "-sess_out", sess) as cl:
            assert _echo_session(cl, "first") == 0
        assert "New, TLSv1.3" in cl.text
        with s_client(pems, srv.port, "-sess_in", sess) as cl2:
            assert _echo_session(cl2, "second") == 0
        assert "Reused, TLSv1.3" in cl2.text
        first, second = srv.next(), srv.next()
    assert first.handshake is not None and not first.handshake.resumed
    assert second.handshake is not None and second.handshake.resumed


def test_server_early_data(pems: Pems, tmp_path: Path) -> None:
    sess, early = tmp_path / "sess.pem", tmp_path / "early.txt"
    early.write_bytes(b"early bird\n")
    with ServerThread(_server_config(max_early_data=16384)) as srv:
        with s_client(pems, srv.port, "-sess_out", str(sess)) as cl:
            assert _echo_session(cl) == 0
        assert "Max Early Data: 16384" in cl.text
        srv.next()
        zero_rtt = ("-sess_in", str(sess), "-early_data", str(early))
        with s_client(pems, srv.port, *zero_rtt) as cl2:
            assert _echo_session(cl2, "late bird") == 0
        assert "Early data was accepted" in cl2.text
        assert re.search(r"\nearly bird\n", cl2.text)  # echoed after the handshake
        rec = srv.next()
        assert rec.early_data == b"early bird\n" and rec.handshake is not None and rec.handshake.early_data_accepted
        with s_client(pems, srv.port, *zero_rtt) as cl3:  # same ticket again: anti-replay refuses 0-RTT
            assert _echo_session(cl3, "replayed") == 0
        assert "Early data was rejected" in cl3.text
        replay = srv.next()
    assert replay.early_data == b"" and replay.handshake is not None and replay.handshake.resumed


def test_server_key_update_from_s_client(pems: Pems) -> None:
    with ServerThread(_server_config()) as srv, s_client(pems, srv.port) as cl:
        cl.wait_for(r"Verify return code: 0 \(ok\)")
        cl.write(b"k\n")
        cl.wait_for(r"KEYUPDATE")
        cl.write(b"one\n")
        cl.wait_for(r"\none\n")
        cl.write(b"K\n")
        cl.wait_for(r"KEYUPDATE", count=2)
        cl.write(b"two\n")
        cl.wait_for(r"\ntwo\n")  # our reply came under our new key
        assert cl.finish() == 0
        rec = srv.next()
    assert rec.error is None and bytes(rec.received) == b"one\ntwo\n"
    assert rec.key_updates == [KeyUpdated(False), KeyUpdated(False), KeyUpdated(True)]
