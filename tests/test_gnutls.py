"""Interop with GnuTLS's command-line tools (``gnutls-serv`` / ``gnutls-cli``), over 127.0.0.1.

A second independent peer next to :mod:`test_openssl_cli`. Our client (blocking
driver) against ``gnutls-serv --http`` / ``--echo``; our server (asyncio driver
in a thread, :mod:`echoserver`) against ``gnutls-cli``. Every scenario asserts
on what GnuTLS printed: the ``- Description: (TLS1.3-X.509)-(ECDHE-X25519)-
(ECDSA-SECP256R1-SHA256)-(AES-128-GCM)`` line (gnutls_session_get_desc) that
both tools print and that ``--http`` puts in its status page, "*** This is a
resumed session", "- Rekey was completed", "- Successfully sent 1
certificate(s) to server.", the echo, and where the tools print nothing
themselves (HelloRetryRequest, KeyUpdate and 0-RTT on the server side) the
library's own debug log (``-d 4``/``-d 5``). Client certificates are covered
both ways, present and missing (the alert each side sends, as the other prints
it). gnutls-serv asks for a client certificate by default, so every other
client case also answers a CertificateRequest with an empty Certificate.

Each case is parametrized by protocol version (TLS 1.3 and TLS 1.2, whose
resumption also runs with session IDs instead of tickets); features that only
exist in TLS 1.3 (0-RTT, KeyUpdate, the X25519MLKEM768 hybrid group) have 1.3
cases only.

GnuTLS 3.7 has no X25519MLKEM768: that case runs only when ``gnutls-cli
--list`` names GROUP-X25519-MLKEM768. Our default client offers an
X25519MLKEM768 and an X25519 share, so X25519 servers take the second share and
P-256/P-384-only servers answer with a HelloRetryRequest.

gnutls-serv cannot report an ephemeral port, so it gets a free one (bound and
released on 127.0.0.1 just before) and we wait for "listening on IPv4 ...
done"; it retries on the rare lost race. Every wait is bounded and every
process is killed on the way out.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from certs import Issued, make_ca, make_leaf
from echoserver import Served, ServerThread
from https_request.io import TlsSocket, connect
from https_request.tls.config import ClientConfig, ServerConfig
from https_request.tls.enums import AlertDescription, CipherSuite, NamedGroup, ProtocolVersion
from https_request.tls.errors import AlertReceived, Reason, TlsError
from https_request.tls.events import HandshakeComplete, KeyUpdated
from https_request.tls.session import MemoryAntiReplay, Session, TicketKeys
from https_request.tls.verify import WebPkiVerifier
from procs import Proc, needs, tool

pytestmark = [needs("gnutls-cli", "gnutls-serv"), pytest.mark.timeout(30)]

WAIT = 5.0
# ------------------------------------------------------------------ cases


@dataclass(frozen=True)
class Version:
    """A protocol version, as we and GnuTLS spell it."""

    name: str  # GnuTLS: "TLS1.3", as in "- Description: (TLS1.3-X.509)-..." and "+VERS-TLS1.3"
    code: ProtocolVersion
    suites: tuple[int, ...]  # what our side offers/accepts at this version
    ecdsa_sig: str  # GnuTLS's name for the signature a P-256 leaf makes

    @property
    def priority(self) -> str:
        return f"NORMAL:-VERS-ALL:+VERS-{self.name}"


TLS13 = Version(
    "TLS1.3",
    ProtocolVersion.TLS1_3,
    (0x1301, 0x1302, 0x1303, 0x1304, 0x1305),
    "ECDSA-SECP256R1-SHA256",
)
TLS12 = Version(
    "TLS1.2",
    ProtocolVersion.TLS1_2,
    # ECDHE_ECDSA / ECDHE_RSA with AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305
    (0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8),
    "ECDSA-SHA256",
)
VERSIONS = [pytest.param(v, id=v.name) for v in (TLS13, TLS12)]


@dataclass(frozen=True)
class Suite:
    version: Version
    code: int  # IANA value (ECDSA flavour for TLS 1.2)
    cipher: str  # GnuTLS cipher name: "-CIPHER-ALL:+<cipher>" and the last "(...)" of a Description


SUITES = [
    pytest.param(s, id=f"{s.version.name}-{s.cipher}")
    for s in (
        Suite(TLS13, CipherSuite.TLS_AES_128_GCM_SHA256, "AES-128-GCM"),
        Suite(TLS13, CipherSuite.TLS_AES_256_GCM_SHA384, "AES-256-GCM"),
        Suite(TLS13, CipherSuite.TLS_CHACHA20_POLY1305_SHA256, "CHACHA20-POLY1305"),
        Suite(TLS13, CipherSuite.TLS_AES_128_CCM_SHA256, "AES-128-CCM"),
        Suite(TLS13, CipherSuite.TLS_AES_128_CCM_8_SHA256, "AES-128-CCM-8"),  # not in NORMAL: "+" adds it
        Suite(TLS12, 0xC02B, "AES-128-GCM"),  # TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        Suite(TLS12, 0xC02C, "AES-256-GCM"),  # TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        Suite(TLS12, 0xCCA9, "CHACHA20-POLY1305"),  # TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    )
]


@dataclass(frozen=True)
class Group:
    version: Version
    code: NamedGroup
    gnutls: str  # GnuTLS's name: "+GROUP-<gnutls>" in a priority string

    @property
    def desc(self) -> str:
        """Its part of a Description: "(ECDHE-X25519)"; hybrids are "(HYBRID-X25519-MLKEM768)" (GnuTLS >= 3.8.9)."""
        kx = "HYBRID" if self.code == NamedGroup.X25519MLKEM768 else "ECDHE"
        return f"({kx}-{self.gnutls})"


GROUPS = [
    pytest.param(g, id=f"{g.version.name}-{g.gnutls}")
    for g in (
        Group(TLS13, NamedGroup.x25519, "X25519"),
        Group(TLS13, NamedGroup.secp256r1, "SECP256R1"),
        Group(TLS13, NamedGroup.secp384r1, "SECP384R1"),
        Group(TLS13, NamedGroup.X25519MLKEM768, "X25519-MLKEM768"),  # skipped unless this GnuTLS has it
        Group(TLS12, NamedGroup.x25519, "X25519"),
        Group(TLS12, NamedGroup.secp256r1, "SECP256R1"),
        Group(TLS12, NamedGroup.secp384r1, "SECP384R1"),
    )
]


@dataclass(frozen=True)
class Cert:
    version: Version
    name: str  # key of LEAVES
    sig: str  # regex: the signature part of GnuTLS's Description


CERTS = [
    pytest.param(c, id=f"{c.version.name}-{c.name}")
    for c in (
        Cert(TLS13, "ecdsa", r"ECDSA-SECP256R1-SHA256"),
        Cert(TLS13, "p384", r"ECDSA-SECP384R1-SHA384"),
        Cert(TLS13, "rsa", r"RSA-PSS-RSAE-SHA256"),
        Cert(TLS12, "ecdsa", r"ECDSA-SHA256"),
        Cert(TLS12, "p384", r"ECDSA-SHA(256|384)"),  # TLS 1.2 does not tie the hash to the curve
        Cert(TLS12, "rsa", r"RSA-(PSS-RSAE-)?SHA256"),  # whichever the peer prefers of our offer
    )
]

CA = make_ca()
LEAVES = {
    "ecdsa": make_leaf(CA, ["localhost"]),
    "p384": make_leaf(CA, ["localhost"], key_type="p384"),
    "rsa": make_leaf(CA, ["localhost"], key_type="rsa"),
}
CLIENT_LEAF = make_leaf(CA, ["client.example"], eku="clientAuth", common_name="gnutls client")
VERIFIER = WebPkiVerifier([CA.cert])


@cache
def _gnutls_groups() -> frozenset[str]:
    """The groups this GnuTLS knows ("Groups: GROUP-SECP256R1, ..." in ``gnutls-cli --list``)."""
    out = subprocess.run([tool("gnutls-cli"), "--list"], capture_output=True, text=True, timeout=WAIT).stdout
    return frozenset(re.findall(r"GROUP-([\w-]+)", out))


@cache
def _gnutls_version() -> str:
    """This GnuTLS's version ("gnutls-cli 3.7.9" on the first line of ``gnutls-cli --version``)."""
    out = subprocess.run([tool("gnutls-cli"), "--version"], capture_output=True, text=True, timeout=WAIT).stdout
    m = re.search(r"\d+\.\d+\.\d+", out)
    return m.group() if m else "of unknown version"


def _require_group(group: Group) -> None:
    if group.gnutls not in _gnutls_groups():
        pytest.skip(
            f"GnuTLS {_gnutls_version()}: gnutls-cli --list names no GROUP-{group.gnutls}"
            " (GnuTLS 3.7 has no ML-KEM groups; 3.8.9+ built with ML-KEM has)"
        )


def _desc(version: Version, group: str, sig: str, cipher: str) -> str:
    """The regex of a full-handshake Description line (certificate, ECDHE, AEAD)."""
    return rf"\({re.escape(version.name)}-X\.509\)-\(ECDHE-{group}\)-\({sig}\)-\({re.escape(cipher)}\)"


def _client_config(version: Version, **kw: object) -> ClientConfig:
    return ClientConfig(verifier=VERIFIER, versions=(version.code,), cipher_suites=version.suites, **kw)  # type: ignore[arg-type]


def _server_config(version: Version, cert: str = "ecdsa", **kw: object) -> ServerConfig:
    return ServerConfig(
        certificates=(LEAVES[cert].certified_key(),),
        versions=(version.code,),
        cipher_suites=version.suites,
        ticket_keys=TicketKeys(os.urandom, now=time.time()),
        **kw,  # type: ignore[arg-type]
    )


# -------------------------------------------------------------- processes


@dataclass(frozen=True)
class Pems:
    dir: Path

    @property
    def ca(self) -> str:
        return str(self.dir / "ca.pem")

    def cert(self, name: str) -> list[str]:
        return ["--x509certfile", str(self.dir / f"{name}.pem"), "--x509keyfile", str(self.dir / f"{name}.key")]


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> Pems:
    d = tmp_path_factory.mktemp("gnutls")
    (d / "ca.pem").write_bytes(CA.cert_pem)
    leaves: dict[str, Issued] = {**LEAVES, "client": CLIENT_LEAF}
    for name, leaf in leaves.items():
        (d / f"{name}.pem").write_bytes(leaf.chain_pem)
        (d / f"{name}.key").write_bytes(leaf.key_pem)
    return Pems(d)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def gnutls_serv(pems: Pems, priority: str, *extra: str, cert: str = "ecdsa") -> Iterator[tuple[Proc, int]]:
    """``gnutls-serv`` on a free port (it binds 0.0.0.0 and ::), up and listening."""
    for _ in range(3):
        port = _free_port()
        args = [tool("gnutls-serv"), "-p", str(port), *pems.cert(cert), "--priority", priority, *extra]
        with Proc(args) as proc:
            m = proc.wait_for(rf"listening on IPv4 0\.0\.0\.0 port {port}\.\.\.(done|.*failed.*)")
            if m.group(1) == "done":
                yield proc, port
                return
    pytest.fail("gnutls-serv: no free port after 3 tries")


def gnutls_cli(pems: Pems, port: int, priority: str, *extra: str) -> Proc:
    """``gnutls-cli`` to 127.0.0.1 (our server listens there only), SNI and name check "localhost"."""
    return Proc(
        [tool("gnutls-cli"), "-p", str(port), "--x509cafile", pems.ca, "--sni-hostname", "localhost",
         "--verify-hostname", "localhost", "--priority", priority, *extra, "127.0.0.1"]
    )  # fmt: skip


# ------------------------------------------------- our client vs gnutls-serv


def _connect(port: int, config: ClientConfig, session: Session | None = None) -> TlsSocket:
    return connect("127.0.0.1", port, config, "localhost", session, timeout=WAIT)


def _handshake(tls: TlsSocket) -> HandshakeComplete:
    assert tls.pump.handshake is not None
    return tls.pump.handshake


def _get_page(port: int, config: ClientConfig, session: Session | None = None) -> tuple[TlsSocket, str]:
    """GET / from ``gnutls-serv --http``: the socket (closed) and the status page."""
    with _connect(port, config, session) as tls:
        tls.send(b"GET / HTTP/1.0\r\n\r\n")
        page = b""
        while chunk := tls.recv():
            page += chunk
    assert page.startswith(b"HTTP/1.0 200 OK"), page[:200]
    return tls, page.decode(errors="replace")


def _page_desc(page: str) -> str:
    m = re.search(r"<TD>Description:</TD><TD>([^<]*)</TD>", page)
    assert m, page
    return m.group(1)


def _recv_until(tls: TlsSocket, marker: bytes) -> bytes:
    buf = b""
    while marker not in buf:
        chunk = tls.recv()
        assert chunk, f"closed before {marker!r}: {buf!r}"
        buf += chunk
    return buf


@pytest.mark.parametrize("suite", SUITES)
def test_client_cipher_suite(pems: Pems, suite: Suite) -> None:
    v = suite.version
    priority = f"{v.priority}:-CIPHER-ALL:+{suite.cipher}:-GROUP-ALL:+GROUP-X25519"
    with gnutls_serv(pems, priority, "--http") as (serv, port):
        tls, page = _get_page(port, _client_config(v))  # we offer every suite of the version
        serv.wait_for(r"- Description: ")
    hs = _handshake(tls)
    assert hs.version == v.code and hs.cipher_suite == suite.code
    expected = _desc(v, "X25519", v.ecdsa_sig, suite.cipher)
    assert re.fullmatch(expected, _page_desc(page))
    assert re.search(rf"- Description: {expected}\n", serv.text)


@pytest.mark.parametrize("group", GROUPS)
def test_client_group(pems: Pems, group: Group) -> None:
    _require_group(group)
    v = group.version
    with gnutls_serv(pems, f"{v.priority}:-GROUP-ALL:+GROUP-{group.gnutls}", "--http") as (serv, port):
        tls, page = _get_page(port, _client_config(v))  # default shares: X25519MLKEM768 + X25519
        serv.wait_for(r"- Description: ")
    assert _handshake(tls).group == group.code
    assert _page_desc(page).startswith(f"({v.name}-X.509)-{group.desc}-")
    assert f"- Description: ({v.name}-X.509)-{group.desc}-" in serv.text


def test_client_hello_retry_request(pems: Pems) -> None:
    priority = f"{TLS13.priority}:-GROUP-ALL:+GROUP-SECP384R1"
    with gnutls_serv(pems, priority, "--echo", "-d", "4") as (serv, port), _connect(port, _client_config(TLS13)) as tls:
        tls.send(b"hello after retry\n")
        assert _recv_until(tls, b"\n") == b"hello after retry\n"
        assert _handshake(tls).group == NamedGroup.secp384r1
        # gnutls-serv prints its summary after the echo: wait for it rather than race it
        serv.wait_for(r"- Description: \(TLS1\.3-X\.509\)-\(ECDHE-SECP384R1\)-")
        assert serv.count(r"HSK\[\w+\]: CLIENT HELLO \(1\) was received") == 2
        assert serv.count(r"HSK\[\w+\]: HELLO RETRY REQUEST was queued") == 1
        assert "Received key share for X25519" in serv.text  # the first ClientHello's share, not usable here


@pytest.mark.parametrize("cert", CERTS)
def test_client_server_certificate_types(pems: Pems, cert: Cert) -> None:
    v = cert.version
    with gnutls_serv(pems, v.priority, "--http", cert=cert.name) as (serv, port):
        tls, page = _get_page(port, _client_config(v))
        serv.wait_for(r"- Description: ")
    assert _handshake(tls).peer_certificates[0] == LEAVES[cert.name].der
    sig_desc = rf"\({v.name}-X\.509\)-\(ECDHE-[A-Z0-9-]+\)-\({cert.sig}\)-\([A-Z0-9-]+\)"
    assert re.fullmatch(sig_desc, _page_desc(page))
    assert re.search(rf"- Description: {sig_desc}\n", serv.text)


# (version, tickets?): TLS 1.2 also resumes by session ID (GnuTLS's --noticket on either side)
RESUMPTIONS = [
    pytest.param(TLS13, True, id="TLS1.3"),
    pytest.param(TLS12, True, id="TLS1.2"),
    pytest.param(TLS12, False, id="TLS1.2-session-id"),
]


@pytest.mark.parametrize(("version", "tickets"), RESUMPTIONS)
def test_client_resumption(pems: Pems, version: Version, tickets: bool) -> None:
    config = _client_config(version)
    with gnutls_serv(pems, version.priority, "--http", *(() if tickets else ("--noticket",))) as (serv, port):
        tls, page = _get_page(port, config)
        assert not _handshake(tls).resumed and tls.session is not None
        assert bool(tls.session.ticket) == tickets and bool(tls.session.session_id) == (not tickets)
        tls2, page2 = _get_page(port, config, session=tls.session)
        serv.wait_for(r"- Description: ", count=2)
    assert _handshake(tls2).resumed
    assert serv.count(r"\*\*\* This is a resumed session") == 1
    # a resumed session keeps the original session ID, and its Description has no server signature
    session_id = re.compile(r"Session ID: <i>([0-9A-F]+)</i>")
    first, second = session_id.search(page), session_id.search(page2)
    assert first and second and first.group(1) == second.group(1)
    assert f"-({version.ecdsa_sig})-" in _page_desc(page) and version.ecdsa_sig not in _page_desc(page2)


def test_client_zero_rtt(pems: Pems) -> None:
    early = b"zero-rtt!\n"
    config = _client_config(TLS13, early_data=True)
    # gnutls-serv 3.7 never echoes 0-RTT data (its early-data read comes up empty): the library's debug log
    # shows it decrypted and accepted them
    with gnutls_serv(pems, TLS13.priority, "--echo", "--earlydata", "-d", "5") as (serv, port):
        with _connect(port, config) as tls:
            tls.send(b"first\n")
            _recv_until(tls, b"first\n")
            session = tls.session
        assert session is not None and session.max_early_data > 0
        tls2 = connect("127.0.0.1", port, config, "localhost", session, timeout=WAIT, handshake=False)
        with tls2:
            tls2.start()
            tls2.send(early)
            hs = tls2.handshake()
            assert hs.resumed and hs.early_data_accepted
            tls2.send(b"one-rtt\n")
            assert _recv_until(tls2, b"one-rtt\n").endswith(b"one-rtt\n")
    assert serv.count(r"\*\*\* This is a resumed session") == 1
    assert "early data accepted" in serv.text
    assert f"decrypted early data with length: {len(early)}" in serv.text
    assert re.search(r"END OF EARLY DATA \(5\) was received", serv.text)


def test_client_key_update(pems: Pems) -> None:
    with (
        gnutls_serv(pems, TLS13.priority, "--echo", "-d", "4") as (serv, port),
        _connect(port, _client_config(TLS13)) as tls,
    ):
        tls.send(b"before\n")
        _recv_until(tls, b"before\n")
        tls.update_keys(request_peer=True)
        tls.send(b"after\n")
        assert _recv_until(tls, b"after\n").endswith(b"after\n")  # echoed under GnuTLS's new key
        serv.wait_for(r"sending key update \(0\)")
        tls.update_keys(request_peer=False)
        tls.send(b"again\n")
        _recv_until(tls, b"again\n")
    assert serv.count(r"received TLS 1\.3 key update \(1\)") == 1  # update_requested
    assert serv.count(r"received TLS 1\.3 key update \(0\)") == 1
    assert serv.count(r"sending key update \(0\)") == 1  # its answer to the request only
    # ours (requesting), GnuTLS's answer, ours again
    assert list(tls.pump.key_updates) == [KeyUpdated(True), KeyUpdated(False), KeyUpdated(True)]


@pytest.mark.parametrize("version", VERSIONS)
def test_client_certificate_to_gnutls_serv(pems: Pems, version: Version) -> None:
    config = _client_config(version, certificate=CLIENT_LEAF.certified_key())
    extra = ("--http", "--require-client-cert", "--verify-client-cert", "--x509cafile", pems.ca)
    with gnutls_serv(pems, version.priority, *extra) as (serv, port):
        _, page = _get_page(port, config)
        serv.wait_for(r"- Client Signature: ")
    assert "Subject: CN=gnutls client" in page
    assert CLIENT_LEAF.cert_pem.decode() in serv.text  # the chain it got
    assert "- Status: The certificate is trusted." in serv.text  # and verified against ca.pem
    assert re.search(r"- Client Signature: ECDSA-", serv.text)


# What gnutls-serv prints and sends when a required client certificate is missing (3.7 maps
# GNUTLS_E_NO_CERTIFICATE_FOUND to decode_error in TLS 1.2).
GNUTLS_NO_CERT = {
    "TLS1.3": ("Certificate is required", AlertDescription.certificate_required),
    "TLS1.2": ("No certificate was found", AlertDescription.decode_error),
}


@pytest.mark.parametrize("version", VERSIONS)
def test_client_certificate_missing(pems: Pems, version: Version) -> None:
    extra = ("--http", "--require-client-cert", "--verify-client-cert", "--x509cafile", pems.ca)
    message, alert = GNUTLS_NO_CERT[version.name]
    with gnutls_serv(pems, version.priority, *extra) as (serv, port):
        with pytest.raises(AlertReceived) as info:
            _get_page(port, _client_config(version))
        serv.wait_for(rf"Error in handshake: {message}\.")
    assert info.value.description == alert


# ------------------------------------------------- gnutls-cli vs our server


def _echo_session(cli: Proc, line: str = "hello") -> int:
    """Handshake seen, one line echoed, stdin closed: gnutls-cli's exit code."""
    cli.wait_for(r"- Handshake was completed|- Resume Handshake was completed")
    cli.wait_for(r"- Simple Client Mode:")
    cli.write(f"{line}\n".encode())
    cli.wait_for(rf"\n{re.escape(line)}\n")
    return cli.finish()


def _served(srv: ServerThread) -> Served:
    rec = srv.next()
    assert rec.error is None, rec.error
    assert rec.handshake is not None
    return rec


@pytest.mark.parametrize("suite", SUITES)
def test_server_cipher_suite(pems: Pems, suite: Suite) -> None:
    v = suite.version
    priority = f"{v.priority}:-CIPHER-ALL:+{suite.cipher}:-GROUP-ALL:+GROUP-X25519"
    with ServerThread(_server_config(v)) as srv, gnutls_cli(pems, srv.port, priority) as cli:
        assert _echo_session(cli) == 0
        rec = _served(srv)
    assert rec.handshake is not None and rec.handshake.cipher_suite == suite.code
    assert re.search(rf"- Description: {_desc(v, 'X25519', v.ecdsa_sig, suite.cipher)}\n", cli.text)
    assert "- Status: The certificate is trusted." in cli.text


@pytest.mark.parametrize("group", GROUPS)
def test_server_group(pems: Pems, group: Group) -> None:
    _require_group(group)
    v = group.version
    priority = f"{v.priority}:-GROUP-ALL:+GROUP-{group.gnutls}"
    with ServerThread(_server_config(v)) as srv, gnutls_cli(pems, srv.port, priority) as cli:
        assert _echo_session(cli) == 0
        rec = _served(srv)
    assert rec.handshake is not None and rec.handshake.group == group.code
    assert f"- Description: ({v.name}-X.509)-{group.desc}-" in cli.text


def test_server_hello_retry_request(pems: Pems) -> None:
    config = _server_config(TLS13, groups=(NamedGroup.secp384r1,))
    priority = f"{TLS13.priority}:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP384R1"
    with ServerThread(config) as srv, gnutls_cli(pems, srv.port, priority, "--single-key-share", "-d", "4") as cli:
        assert _echo_session(cli) == 0
        rec = _served(srv)
    assert rec.handshake is not None and rec.handshake.group == NamedGroup.secp384r1
    assert cli.count(r"HSK\[\w+\]: HELLO RETRY REQUEST \(1025\) was received") == 1
    assert cli.count(r"HSK\[\w+\]: CLIENT HELLO was queued") == 2
    assert re.search(r"- Description: \(TLS1\.3-X\.509\)-\(ECDHE-SECP384R1\)-", cli.text)


@pytest.mark.parametrize("cert", CERTS)
def test_server_certificate_types(pems: Pems, cert: Cert) -> None:
    v = cert.version
    with ServerThread(_server_config(v, cert.name)) as srv, gnutls_cli(pems, srv.port, v.priority) as cli:
        assert _echo_session(cli) == 0
        _served(srv)
    assert re.search(rf"- Description: \({v.name}-X\.509\)-\(ECDHE-[A-Z0-9-]+\)-\({cert.sig}\)-\(", cli.text)
    assert "- Status: The certificate is trusted." in cli.text


@pytest.mark.parametrize(("version", "tickets"), RESUMPTIONS)
def test_server_resumption(pems: Pems, version: Version, tickets: bool) -> None:
    resume = ("--resume", "--waitresumption", *(() if tickets else ("--noticket",)))
    with ServerThread(_server_config(version)) as srv:
        with gnutls_cli(pems, srv.port, version.priority, *resume) as cli:
            assert _echo_session(cli) == 0
        first, second = _served(srv), _served(srv)
    assert cli.count(r"- Resume Handshake was completed") == 1
    assert cli.count(r"\*\*\* This is a resumed session") == 1
    ids = re.findall(r"- Session ID: ([0-9A-F:]+)", cli.text)
    assert len(ids) == 2 and ids[0] == ids[1]
    assert first.handshake is not None and not first.handshake.resumed
    assert second.handshake is not None and second.handshake.resumed
    assert bytes(second.received) == b"hello\n"


def test_server_early_data(pems: Pems, tmp_path: Path) -> None:
    early = tmp_path / "early.txt"
    early.write_bytes(b"early bird\n")
    zero_rtt = ("--resume", "--waitresumption", f"--earlydata={early}")
    with ServerThread(_server_config(TLS13, max_early_data=16384)) as srv:
        with gnutls_cli(pems, srv.port, TLS13.priority, *zero_rtt) as cli:
            assert _echo_session(cli, "late bird") == 0
        _served(srv)
        rec = _served(srv)
    assert cli.count(r"\*\*\* This is a resumed session") == 1
    assert re.search(r"\nearly bird\nlate bird\n", cli.text)  # the 0-RTT bytes, echoed after the handshake
    assert rec.handshake is not None and rec.handshake.resumed and rec.handshake.early_data_accepted
    assert rec.early_data == b"early bird\n" and bytes(rec.received) == b"early bird\nlate bird\n"


def test_server_early_data_rejected(pems: Pems, tmp_path: Path) -> None:
    """Our tickets allow 0-RTT but the anti-replay store refuses it: we skip the early records, GnuTLS goes on."""
    early = tmp_path / "early.txt"
    early.write_bytes(b"too early\n")
    config = _server_config(TLS13, max_early_data=16384, anti_replay=MemoryAntiReplay(max_entries=0))
    zero_rtt = ("--resume", "--waitresumption", f"--earlydata={early}", "-d", "4")
    with ServerThread(config) as srv:
        with gnutls_cli(pems, srv.port, TLS13.priority, *zero_rtt) as cli:
            assert _echo_session(cli, "later") == 0
        _served(srv)
        rec = _served(srv)
    assert cli.count(r"Sending extension Early Data/42") == 1  # offered on the resumption only
    assert cli.count(r"\*\*\* This is a resumed session") == 1
    assert rec.handshake is not None and rec.handshake.resumed and not rec.handshake.early_data_accepted
    assert rec.early_data == b"" and bytes(rec.received) == b"later\n"  # GnuTLS does not send them again


def test_server_key_update_from_gnutls_cli(pems: Pems) -> None:
    with (
        ServerThread(_server_config(TLS13)) as srv,
        gnutls_cli(pems, srv.port, TLS13.priority, "--inline-commands") as cli,
    ):
        cli.wait_for(r"- Simple Client Mode:")
        cli.write(b"^rekey1^\n")  # KeyUpdate, update_not_requested
        cli.wait_for(r"- Rekey was completed")
        cli.write(b"one\n")
        cli.wait_for(r"\none\n")
        cli.write(b"^rekey^\n")  # KeyUpdate, update_requested: we must answer with ours
        cli.wait_for(r"- Rekey was completed", count=2)
        cli.write(b"two\n")
        cli.wait_for(r"\ntwo\n")  # our reply came under our new key
        assert cli.finish() == 0
        rec = _served(srv)
    assert "Rekey has failed" not in cli.text
    assert bytes(rec.received) == b"one\ntwo\n"
    assert rec.key_updates == [KeyUpdated(False), KeyUpdated(False), KeyUpdated(True)]


def test_server_key_update_to_gnutls_cli(pems: Pems) -> None:
    with ServerThread(_server_config(TLS13)) as srv, gnutls_cli(pems, srv.port, TLS13.priority, "-d", "4") as cli:
        cli.wait_for(r"- Simple Client Mode:")
        cli.write(b"KEYUPDATE\n")  # echoserver: sends a KeyUpdate requesting one back, then echoes
        cli.wait_for(r"\nKEYUPDATE\n")
        cli.write(b"after\n")
        cli.wait_for(r"\nafter\n")
        assert cli.finish() == 0
        rec = _served(srv)
    assert re.search(r"received TLS 1\.3 key update \(1\)", cli.text)
    assert re.search(r"sending key update \(0\)", cli.text)
    assert rec.key_updates == [KeyUpdated(True), KeyUpdated(False)]


@pytest.mark.parametrize("version", VERSIONS)
def test_server_client_certificate(pems: Pems, version: Version) -> None:
    config = _server_config(
        version, request_client_certificate=True, require_client_certificate=True, client_verifier=VERIFIER
    )
    with ServerThread(config) as srv, gnutls_cli(pems, srv.port, version.priority, *pems.cert("client")) as cli:
        assert _echo_session(cli) == 0
        rec = _served(srv)
    assert "- Successfully sent 1 certificate(s) to server." in cli.text
    assert rec.handshake is not None and rec.handshake.peer_certificates[0] == CLIENT_LEAF.der


# The alert a server sends when the client sends no certificate: TLS 1.3 has certificate_required
# (RFC 8446 4.4.2.4); TLS 1.2 has no such alert and says handshake_failure (RFC 5246 7.4.6).
NO_CERT_ALERT = {"TLS1.3": (116, "Certificate is required"), "TLS1.2": (40, "Handshake failed")}


@pytest.mark.parametrize("version", VERSIONS)
def test_server_client_certificate_missing(pems: Pems, version: Version) -> None:
    config = _server_config(
        version, request_client_certificate=True, require_client_certificate=True, client_verifier=VERIFIER
    )
    code, name = NO_CERT_ALERT[version.name]
    with ServerThread(config) as srv, gnutls_cli(pems, srv.port, version.priority) as cli:
        cli.wait_for(rf"\*\*\* Received alert \[{code}\]: {name}")
        assert cli.finish() != 0
        rec = srv.next()
    assert "- Successfully sent 0 certificate(s) to server." in cli.text
    assert isinstance(rec.error, TlsError) and rec.error.reason == Reason.CERT_REQUIRED
