"""Every suite the ``esp32-mbedtls`` profile offers completes: the whole profile's ClientHello against a
server forced to one suite at a time, with the certificate that suite needs.

Peers:

* Mbed TLS: a real Mbed TLS TLS 1.2 server, the library python-mbedtls bundles (its version is in the
  pytest header and in each assertion), in memory (``TLSWrappedBuffer``), ``ciphers=[that suite]``.
* OpenSSL: ``openssl s_server -tls1_2 -cipher NAME -www``; what Debian's OpenSSL has is detected from
  ``openssl ciphers -V`` and pinned (:data:`OPENSSL_LACKS`: no static ECDH since 1.1.0, no ARIA-CBC suites).
* serve: our own server engine (``ServerConnection``, what ``serve`` runs), which negotiates the ECDHE
  and static-RSA suites, never static ECDH (:attr:`SuiteParams.client_only`).

Certificates: ECDHE_ECDSA and ECDH_ECDSA an EC (P-256) leaf under an EC root; ECDHE_RSA and RSA an RSA
leaf under an RSA root; ECDH_RSA an EC leaf signed by the RSA root (RFC 4492 2.3). The EC leaves allow
digitalSignature and keyAgreement. The outcomes are pinned by :data:`EXPECTED`, which is the table in
docs/DEVICE_SUITES.md (checked below).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from mbedtls import pk as mbed_pk
from mbedtls import tls as mbed_tls
from mbedtls import version as mbed_version
from mbedtls import x509 as mbed_x509
from mbedtls.exceptions import TLSError

import clirun
from certs import NOW, Issued, key_usage, make_ca, make_leaf
from helpers import drain, shuttle
from https_request.io import connect
from https_request.tls import x509_flags as xf
from https_request.tls.catalogue import OPENSSL_NAMES, suite_name
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import ServerConfig
from https_request.tls.enums import HandshakeType as HT
from https_request.tls.enums import ProtocolVersion
from https_request.tls.errors import Reason, TlsError
from https_request.tls.events import ApplicationData, HandshakeComplete
from https_request.tls.messages import handshake_message
from https_request.tls.messages12 import Certificate12
from https_request.tls.profiles import PROFILES, client_config
from https_request.tls.server13 import ServerConnection
from https_request.tls.suites import SIGNALLING, SUITES
from https_request.tls.verify import make_verifier
from procs import Proc, needs, tool
from test_tls12_engine import plain_handshake, rebuild

REPO = Path(__file__).resolve().parent.parent
TLS12 = ProtocolVersion.TLS1_2
DEVICE_SUITES = [s for s in PROFILES["esp32-mbedtls"].cipher_suites if s not in SIGNALLING]
MBEDTLS_VERSION = mbed_version.version  # "Mbed TLS 2.28.8"

#: Suites of the profile that Debian's OpenSSL 3.0 does not have: static ECDH (removed in 1.1.0) and the
#: ARIA-CBC suites (OpenSSL has ARIA-GCM only for TLS).
OPENSSL_LACKS = frozenset(
    s for s in DEVICE_SUITES if SUITES[s].kx == "ECDH" or (SUITES[s].cipher == "ARIA" and SUITES[s].cbc)
)


def _expected(suite: int) -> tuple[str, str, str]:
    """(Mbed TLS, OpenSSL, serve) outcome of ``suite``: "ok", or why there is no run."""
    p = SUITES[suite]
    return (
        "ok",
        "not in OpenSSL" if suite in OPENSSL_LACKS else "ok",
        "client only" if p.client_only else "ok",
    )


EXPECTED = {s: _expected(s) for s in DEVICE_SUITES}


def cert_kind(suite: int) -> str:
    p = SUITES[suite]
    return "ECDH_RSA" if p.kx == "ECDH" and p.auth == "RSA" else p.auth


@dataclass
class Pki:
    roots: dict[str, Issued]
    leaves: dict[str, Issued]
    dir: Path

    def leaf(self, suite: int) -> Issued:
        return self.leaves[cert_kind(suite)]

    def root(self, suite: int) -> Issued:
        return self.roots["RSA" if cert_kind(suite) in ("RSA", "ECDH_RSA") else "ECDSA"]

    def files(self, suite: int) -> tuple[str, str]:
        kind = cert_kind(suite)
        return str(self.dir / f"{kind}.pem"), str(self.dir / f"{kind}.key")


EC_KU = key_usage(digital_signature=True, key_agreement=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    roots = {"ECDSA": make_ca("p256", "Device EC Root"), "RSA": make_ca("rsa2048", "Device RSA Root")}
    leaves = {
        "ECDSA": make_leaf(roots["ECDSA"], key_type="p256", key_usage_ext=EC_KU),
        "RSA": make_leaf(roots["RSA"], key_type="rsa2048"),
        "ECDH_RSA": make_leaf(roots["RSA"], key_type="p256", key_usage_ext=EC_KU, common_name="ecdh-rsa"),
    }
    d = tmp_path_factory.mktemp("device-pki")
    for kind, leaf in leaves.items():
        (d / f"{kind}.pem").write_bytes(leaf.cert.public_bytes(serialization.Encoding.PEM))
        (d / f"{kind}.key").write_bytes(
            leaf.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return Pki(roots, leaves, d)


def device_client(pki: Pki, suite: int, **kw: object) -> ClientConnection:
    """The whole esp32-mbedtls hello, verifying the mbedTLS way against the suite's root."""
    verifier = make_verifier([pki.root(suite).cert], "mbedtls")
    return ClientConnection(client_config("esp32-mbedtls", verifier=verifier, now=lambda: NOW, **kw), "localhost")


def test_expected_table_covers_the_profile() -> None:
    assert len(DEVICE_SUITES) == 58
    assert sum(e[0] == "ok" for e in EXPECTED.values()) == 58
    assert sum(e[1] == "ok" for e in EXPECTED.values()) == 32
    assert sum(e[2] == "ok" for e in EXPECTED.values()) == 38  # ECDHE 24 + static RSA 14 (static ECDH: client only)


# --- Mbed TLS (python-mbedtls) ---------------------------------------------------------------------------


def _der_key(issued: Issued) -> mbed_pk.ECC | mbed_pk.RSA:
    der = issued.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return (
        mbed_pk.ECC.from_DER(der) if isinstance(issued.key, ec.EllipticCurvePrivateKey) else mbed_pk.RSA.from_DER(der)
    )


def mbedtls_server(leaf: Issued, suite: int) -> mbed_tls.TLSWrappedBuffer:
    """A Mbed TLS TLS 1.2 server in memory, forced to ``suite``."""
    crt = mbed_x509.CRT.from_DER(leaf.cert.public_bytes(serialization.Encoding.DER))
    conf = mbed_tls.TLSConfiguration(
        certificate_chain=([crt], _der_key(leaf)),
        ciphers=[suite_name(suite).replace("_", "-")],  # Mbed TLS's names: the IANA name with dashes
        validate_certificates=False,
        lowest_supported_version=mbed_tls.TLSVersion.TLSv1_2,
        highest_supported_version=mbed_tls.TLSVersion.TLSv1_2,
    )
    return mbed_tls.ServerContext(conf).wrap_buffers()


def run_with_mbedtls(client: ClientConnection, server: mbed_tls.TLSWrappedBuffer) -> HandshakeComplete:
    """Shuttle records until our handshake completes and the server has read our first bytes;
    then the server answers. Raises our TlsError or Mbed TLS's TLSError."""
    client.start_handshake()
    done: HandshakeComplete | None = None
    for _ in range(20):
        out = client.data_to_send()
        if out:
            server.receive_from_network(out)
        try:
            server.do_handshake()
        except (mbed_tls.WantReadError, mbed_tls.WantWriteError):
            pass
        flight = server.peek_outgoing(1 << 20)
        if flight:
            server.consume_outgoing(len(flight))
            client.receive_data(flight)
        done = next((e for e in drain(client) if isinstance(e, HandshakeComplete)), done)
        if done is not None:
            break
    assert done is not None, "no handshake"
    client.send_application_data(b"ping from the device")
    server.receive_from_network(client.data_to_send())
    assert server.read(100) == b"ping from the device"
    server.write(b"pong from Mbed TLS")
    client.receive_data(server.peek_outgoing(1 << 20))
    assert [e.data for e in drain(client) if isinstance(e, ApplicationData)] == [b"pong from Mbed TLS"]
    return done


@pytest.mark.parametrize("suite", DEVICE_SUITES, ids=suite_name)
def test_mbedtls_server_forced_to_each_suite(pki: Pki, suite: int) -> None:
    server = mbedtls_server(pki.leaf(suite), suite)
    done = run_with_mbedtls(device_client(pki, suite), server)
    assert (done.version, done.cipher_suite) == (TLS12, suite), MBEDTLS_VERSION
    assert server.cipher() == suite_name(suite).replace("_", "-"), MBEDTLS_VERSION
    assert EXPECTED[suite][0] == "ok"


# --- the key usage static ECDH needs, as Mbed TLS checks it -----------------------------------------------


def _mbedtls_client_fails(root: Issued, server: mbed_tls.TLSWrappedBuffer) -> str:
    """Mbed TLS's own client (verification required) against ``server``: its error text, "" on success."""
    trust = mbed_tls.TrustStore()
    trust.add(mbed_x509.CRT.from_DER(root.cert.public_bytes(serialization.Encoding.DER)))
    conf = mbed_tls.TLSConfiguration(
        trust_store=trust,
        validate_certificates=True,
        lowest_supported_version=mbed_tls.TLSVersion.TLSv1_2,
        highest_supported_version=mbed_tls.TLSVersion.TLSv1_2,
    )
    client = mbed_tls.ClientContext(conf).wrap_buffers("localhost")
    over = mbed_tls.HandshakeStep.HANDSHAKE_OVER
    for _ in range(20):
        for a, b in ((client, server), (server, client)):
            try:
                if a._handshake_state is not over:
                    a.do_handshake()
            except (mbed_tls.WantReadError, mbed_tls.WantWriteError):
                pass
            except TLSError as exc:
                if a is server:
                    raise
                return str(exc)
            data = a.peek_outgoing(1 << 20)
            if data:
                a.consume_outgoing(len(data))
                b.receive_from_network(data)
        if client._handshake_state is over and server._handshake_state is over:
            return ""
    raise AssertionError("no outcome")


def _swap_leaf(flight: bytes, leaf_der: bytes) -> bytes:
    """The server's first flight (plaintext handshake records) with another certificate in its Certificate."""
    msgs = [
        handshake_message(HT.CERTIFICATE, Certificate12((leaf_der,)).encode()) if m[0] == HT.CERTIFICATE else m
        for m in plain_handshake(flight)
    ]
    return rebuild(msgs)


@pytest.mark.parametrize(
    ("suite", "usage", "completes"),
    [
        (0xC02D, key_usage(digital_signature=True), False),  # ECDH_ECDSA: keyAgreement needed
        (0xC031, key_usage(digital_signature=True), False),  # ECDH_RSA
        (0xC02D, key_usage(key_agreement=True), True),
        (0xC02B, key_usage(key_agreement=True), False),  # ECDHE_ECDSA signs: digitalSignature needed
        (0xC02D, None, True),  # no keyUsage: anything goes
    ],
    ids=["ecdh-ecdsa-ds-only", "ecdh-rsa-ds-only", "ecdh-ka-only", "ecdhe-ka-only", "ecdh-no-ku"],
)
def test_key_usage_by_key_exchange_as_mbedtls(pki: Pki, suite: int, usage: object, completes: bool) -> None:
    """mbedtls_ssl_check_cert_usage: keyAgreement for ECDH, digitalSignature for ECDHE. Mbed TLS's own
    client and ours complete with the same certificates; the ones they refuse, Mbed TLS's server will not
    even use (no usable suite), so our client sees them in a flight whose Certificate was swapped (the
    same key, so nothing else changes before the client's check)."""
    root = pki.root(suite)
    leaf = make_leaf(root, key_type="p256", key_usage_ext=usage, common_name="localhost")  # type: ignore[arg-type]
    if completes:
        assert _mbedtls_client_fails(root, mbedtls_server(leaf, suite)) == ""
        run_with_mbedtls(device_client(pki, suite), mbedtls_server(leaf, suite))
        return
    with pytest.raises(TLSError, match="0x6980"):  # MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE
        _mbedtls_client_fails(root, mbedtls_server(leaf, suite))
    good = make_leaf(root, key_type="p256", key=leaf.key, key_usage_ext=None, common_name="localhost")
    server = mbedtls_server(good, suite)
    client = device_client(pki, suite)
    client.start_handshake()
    server.receive_from_network(client.data_to_send())
    for _ in range(10):  # until it waits for the client's second flight
        try:
            server.do_handshake()
        except (mbed_tls.WantReadError, mbed_tls.WantWriteError):
            if server._handshake_state is mbed_tls.HandshakeStep.CLIENT_CERTIFICATE:
                break
    with pytest.raises(TlsError) as info:
        client.receive_data(_swap_leaf(server.peek_outgoing(1 << 20), leaf.der))
    assert info.value.verify_flags == xf.X509_BADCERT_KEY_USAGE
    assert "keyUsage of" in str(info.value)


def test_static_ecdh_certificate_on_a_curve_not_offered(pki: Pki) -> None:
    """mbedtls_ssl_check_curve: the certificate's curve must be one the client offered."""
    root = pki.roots["ECDSA"]
    leaf = make_leaf(root, key_type="p384", key_usage_ext=EC_KU)
    client = device_client(pki, 0xC02D, groups=(0x001D, 0x0017))
    with pytest.raises(TlsError) as info:
        run_with_mbedtls(client, mbedtls_server(leaf, 0xC02D))
    assert info.value.reason is Reason.CERT_BAD and "secp384r1" in str(info.value)


# --- openssl s_server -------------------------------------------------------------------------------------


@cache
def openssl_suites() -> dict[int, str]:
    """Every suite this OpenSSL lists (``openssl ciphers -V``, all security levels): id -> its name."""
    out = subprocess.run(
        [tool("openssl"), "ciphers", "-V", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {int(a + b, 16): name for a, b, name in re.findall(r"0x([0-9A-F]{2}),0x([0-9A-F]{2}) - (\S+)", out)}


@contextmanager
def s_server(pki: Pki, suite: int, name: str) -> Iterator[int]:
    cert, key = pki.files(suite)
    args = [tool("stdbuf"), "-o0", tool("openssl"), "s_server", "-tls1_2", "-accept", "127.0.0.1:0", "-www",
            "-cert", cert, "-key", key, "-cipher", f"{name}:@SECLEVEL=0"]  # fmt: skip
    with Proc(args) as proc:
        yield int(proc.wait_for(r"ACCEPT 127\.0\.0\.1:(\d+)").group(1))


@pytest.mark.timeout(60)
@needs("openssl", "stdbuf")
@pytest.mark.parametrize("suite", DEVICE_SUITES, ids=suite_name)
def test_openssl_s_server_forced_to_each_suite(pki: Pki, suite: int) -> None:
    have = openssl_suites()
    assert (suite in have) == (EXPECTED[suite][1] == "ok"), "Debian's OpenSSL changed: update docs/DEVICE_SUITES.md"
    if suite not in have:
        return
    assert OPENSSL_NAMES[suite] == have[suite]
    verifier = make_verifier([pki.root(suite).cert], "mbedtls")
    config = client_config("esp32-mbedtls", verifier=verifier)
    with s_server(pki, suite, have[suite]) as port, connect("127.0.0.1", port, config, "localhost", timeout=10) as tls:
        tls.send(b"GET / HTTP/1.0\r\n\r\n")
        page = b""
        while chunk := tls.recv():
            page += chunk
        hs = tls.pump.handshake
    assert hs is not None and (hs.version, hs.cipher_suite) == (TLS12, suite)
    assert f"Cipher is {have[suite]}" in page.decode(errors="replace")


@pytest.mark.timeout(60)
@needs("openssl", "stdbuf")
@pytest.mark.parametrize("suite", [0xC061, 0xC05C, 0xC050], ids=suite_name)
def test_get_cli_with_the_profile_against_s_server_aria(pki: Pki, suite: int) -> None:
    """``https-request get --profile esp32-mbedtls`` (the CLI, its default verify policy) to a server that
    speaks only an ARIA suite: before ARIA it failed with "server chose 0xc05d, which we do not implement"."""
    root = pki.dir / "root.pem"
    root.write_bytes(pki.root(suite).cert.public_bytes(serialization.Encoding.PEM))
    with s_server(pki, suite, OPENSSL_NAMES[suite]) as port:
        r = clirun.get(f"https://localhost:{port}/", "--profile", "esp32-mbedtls", "--cacert", str(root),
                       "--connect-to", f"localhost:{port}:127.0.0.1:{port}", "--json", "-")  # fmt: skip
    assert r.code == 0, r.err
    assert (r.json["version"], r.json["cipher_suite"]) == ("TLS 1.2", suite_name(suite)), r.json


# --- serve (our server engine) ----------------------------------------------------------------------------


@pytest.mark.parametrize("suite", DEVICE_SUITES, ids=suite_name)
def test_serve_engine_forced_to_each_suite(pki: Pki, suite: int) -> None:
    leaf = pki.leaf(suite)
    if SUITES[suite].client_only:
        assert EXPECTED[suite][2] == "client only"
        with pytest.raises(ValueError, match="never does static ECDH"):
            ServerConfig(certificates=(leaf.certified_key(),), cipher_suites=(suite,), versions=(TLS12,))
        return
    server = ServerConnection(
        ServerConfig(certificates=(leaf.certified_key(),), cipher_suites=(suite,), versions=(TLS12,), now=lambda: NOW)
    )
    client = device_client(pki, suite)
    client.start_handshake()
    client_events, _ = shuttle(client, server)
    done = next(e for e in client_events if isinstance(e, HandshakeComplete))
    assert (done.version, done.cipher_suite) == (TLS12, suite)
    client.send_application_data(b"ping")
    server.receive_data(client.data_to_send())
    assert [e.data for e in drain(server) if isinstance(e, ApplicationData)] == [b"ping"]
    assert EXPECTED[suite][2] == "ok"


# --- the table in docs/ -----------------------------------------------------------------------------------


def test_docs_table_is_the_pinned_matrix() -> None:
    """docs/DEVICE_SUITES.md's rows are :data:`EXPECTED`, in the profile's order."""
    text = (REPO / "docs" / "DEVICE_SUITES.md").read_text()
    rows = re.findall(r"^\| `(0x[0-9a-f]{4})` \| (TLS_\w+) \| ([^|]+?) \| ([^|]+?) \| ([^|]+?) \|$", text, re.M)
    assert [int(r[0], 16) for r in rows] == DEVICE_SUITES
    for sid, name, *outcomes in rows:
        assert name == suite_name(int(sid, 16))
        assert tuple(o.strip() for o in outcomes) == EXPECTED[int(sid, 16)], name
    assert MBEDTLS_VERSION.split()[-1] in text
