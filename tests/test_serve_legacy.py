"""Legacy clients on the check server (``serve`` with its local certificate, which names
www.howsmyssl.com): TLS 1.0 and 1.1, CBC and static RSA suites, 3DES, and howsmyssl's BEAST check,
driven by real peers started here: ``openssl s_client``, curl, ``gnutls-cli``, Python's ssl
module and Mbed TLS's client (python-mbedtls, as ``ssl_client2 force_ciphersuite=...``). Each
gets the /a/check JSON; its rating fields are held to howsmyssl's rules (GitHub
jmhodges/howsmyssl at b073d57b, only the facts):

* howsmyssl.go ``makeTLSConfig``: ``MinVersion: tls.VersionTLS10`` and the suite list (ECDHE
  AEAD and CBC, static RSA AES-GCM/AES-CBC, 3DES, RC4); Go's crypto/tls has no SSL 3.0 (its
  ClientHello gets ``protocol_version``) and takes SHA-256 and GCM suites only at TLS 1.2
  (``suiteTLS12``). A suite outside that list gets ``handshake_failure``.
* client_info.go: ``tls_version`` is the connection's; ``beast_vuln`` is set when the client
  offered a CBC suite on a TLS 1.0 connection and no 1/n-1 split was seen (``BEASTVuln =
  !NMinusOneRecordSplittingDetected``); Bad when ``vers <= TLS 1.0`` or ``beast_vuln``,
  Improvable when ``vers == TLS 1.1`` or no ephemeral key exchange was offered.
* the fork's handshake_server.go ``pickCipherSuite``: at TLS 1.0 it takes the client's first
  offered TLS_RSA_WITH_AES_128_CBC_SHA / _256_CBC_SHA, and only then can it see the split
  (``able_to_detect_n_minus_one_splitting``); conn.go: a split is a first application data
  record of 0 bytes (OpenSSL's empty fragment) or 1 byte (browsers' 1/n-1).

What OpenSSL's and curl's TLS 1.0 records look like is their own documented behaviour: OpenSSL
sends an empty fragment before the first CBC record unless SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS
is set (Python's ``ssl.OP_ALL`` sets it), curl clears that option unless ``--ssl-allow-beast``.
Debian's OpenSSL needs ``@SECLEVEL=0`` for TLS 1.0/1.1: set here, in the test clients only.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mbedtls import tls as mbed_tls
from mbedtls import version as mbed_version
from mbedtls import x509 as mbed_x509
from mbedtls.exceptions import TLSError

from https_request.server.serve_cli import CHECK_SUITES
from https_request.tls.catalogue import SUITE_NAMES, suite_id
from https_request.tls.config import ClientConfig
from https_request.tls.suites import suite_fits_version
from procs import needs, tool
from serveproc import Serve
from test_serve import read_to_close

HOST = "www.howsmyssl.com"
WAIT = 20.0
REQUEST = f"GET /a/check HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
NAMES = {0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2"}
S_CLIENT_FLAG = {0x0301: "-tls1", 0x0302: "-tls1_1", 0x0303: "-tls1_2"}
PROBES = (0x002F, 0x0035)  # TLS_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_AES_256_CBC_SHA

pytestmark = [pytest.mark.timeout(180), pytest.mark.interop]


def _serve(tmp_path_factory: pytest.TempPathFactory, *args: str) -> Iterator[Serve]:
    server = Serve(list(args), tmp_path_factory.mktemp("state"))
    try:
        yield server
    finally:
        rc = server.stop()
    assert rc == 0, "\n".join(server.err[-20:])


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """The check server with its local RSA certificate (the default)."""
    yield from _serve(tmp_path_factory)


@pytest.fixture(scope="module")
def ecdsa_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    yield from _serve(tmp_path_factory, "--key-type", "ecdsa")


def _json(output: bytes) -> dict[str, Any]:
    head, sep, body = output.partition(b"\r\n\r\n")
    assert sep and head.startswith(b"HTTP/1.1 200 OK"), output[-600:]
    result: dict[str, Any] = json.loads(body)
    return result


def _expect_verdict(result: dict[str, Any], version: int, suite: int, split_seen: bool) -> None:
    """The rating fields howsmyssl gives a client at ``version`` that got ``suite``, whose
    first record was split (or not), per client_info.go and the fork's pickCipherSuite."""
    cbc_offered = any("_CBC_" in name for name in result["given_cipher_suites"])
    ephemeral = any("DHE_" in name for name in result["given_cipher_suites"])
    assert result["tls_version"] == NAMES[version]
    able = version == 0x0301 and suite in PROBES
    assert result["able_to_detect_n_minus_one_splitting"] is able
    beast = version == 0x0301 and cbc_offered and not (able and split_seen)
    assert result["beast_vuln"] is beast
    if version <= 0x0301 or beast or result["insecure_cipher_suites"]:
        assert result["rating"] == "Bad"
    elif version == 0x0302 or not ephemeral or not result["session_ticket_supported"]:
        assert result["rating"] == "Improvable"
    else:
        assert result["rating"] == "Probably Okay"


# ------------------------------------------------------------------ openssl s_client


def _s_client(srv: Serve, *args: str) -> tuple[int, bytes, str]:
    """``openssl s_client ARGS`` sending the request: (exit status, stdout, stderr)."""
    trust = ["-CAfile", srv.ca] if srv.ca else []
    cmd = [tool("openssl"), "s_client", "-connect", f"127.0.0.1:{srv.port}", "-servername", HOST, *trust,
           "-brief", "-ign_eof", *args]  # fmt: skip
    done = subprocess.run(cmd, input=REQUEST, capture_output=True, timeout=WAIT, check=False)
    return done.returncode, done.stdout, done.stderr.decode(errors="replace")


def _openssl_suites(version: int, auth: str) -> dict[int, str]:
    """The local OpenSSL's RSA-key-exchange and CBC suites for ``version`` with ``auth``
    certificates (``openssl ciphers -V -s``), by id: what the test offers one at a time."""
    flag = S_CLIENT_FLAG[version]
    out = subprocess.run(
        [tool("openssl"), "ciphers", "-V", "-s", flag, "ALL:@SECLEVEL=0"], capture_output=True, text=True,
        timeout=WAIT, check=True,
    ).stdout  # fmt: skip
    found: dict[int, str] = {}
    for line in out.splitlines():
        m = re.match(r"\s*0x([0-9A-F]{2}),0x([0-9A-F]{2}) - (\S+)\s+\S+\s+Kx=(\S+)\s+Au=(\S+)\s+Enc=(\S+)", line)
        if m is None:
            continue
        suite, name, kx, au, enc = int(m[1] + m[2], 16), m[3], m[4], m[5], m[6]
        if au == auth and (kx == "RSA" or "CBC" in name or ("(" in enc and "GCM" not in enc and "CCM" not in enc)):
            if kx in ("RSA", "ECDH", "DH") and "CHACHA" not in enc:
                found[suite] = name
    return found


@needs("openssl")
@pytest.mark.parametrize("version", [0x0301, 0x0302, 0x0303], ids=["tls1", "tls1_1", "tls1_2"])
def test_openssl_every_rsa_kx_and_cbc_suite(srv: Serve, version: int) -> None:
    """Each RSA-key-exchange or CBC suite OpenSSL enables at ``version``, offered alone: the
    suites of howsmyssl's list that fit the version get the JSON with howsmyssl's verdict
    (OpenSSL's empty fragment counts as a split); the others (DHE, Camellia, ARIA, SHA-384 CBC,
    AES256-SHA256) get handshake_failure, as from the real server."""
    suites = _openssl_suites(version, "RSA")
    assert 0x002F in suites and 0x0035 in suites, suites  # the two BEAST probe suites are among them
    accepted = 0
    for suite, name in suites.items():
        code, out, err = _s_client(srv, S_CLIENT_FLAG[version], "-cipher", f"{name}:@SECLEVEL=0")
        if suite in CHECK_SUITES and suite_fits_version(suite, version):
            assert code == 0, (name, err)
            result = _json(out)
            assert result["given_cipher_suites"] == [SUITE_NAMES[suite], "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"]
            assert re.search(rf"Ciphersuite: {re.escape(name)}\b", err), err
            _expect_verdict(result, version, suite, split_seen=True)
            accepted += 1
        else:
            assert code != 0 and b"HTTP/1.1" not in out, name
            assert "handshake failure" in err, (name, err)
    assert accepted >= (6 if version == 0x0303 else 3)


@needs("openssl")
@pytest.mark.parametrize("version", [0x0301, 0x0302], ids=["tls1", "tls1_1"])
def test_openssl_ecdsa_certificate(ecdsa_srv: Serve, version: int) -> None:
    """ECDHE-ECDSA CBC suites at TLS 1.0 and 1.1: the ServerKeyExchange signed ECDSA over SHA-1
    (RFC 4492 5.4), which OpenSSL checks."""
    for name in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA"):
        code, out, err = _s_client(ecdsa_srv, S_CLIENT_FLAG[version], "-cipher", f"{name}:@SECLEVEL=0")
        assert code == 0, err
        suite = next(s for s, n in SUITE_NAMES.items() if n == _json(out)["given_cipher_suites"][0])
        _expect_verdict(_json(out), version, suite, split_seen=True)


@needs("openssl")
def test_openssl_default_tls1_picks_the_probe_suite(srv: Serve) -> None:
    """OpenSSL's whole TLS 1.0 list (ECDHE first): the server still takes its first probe suite
    (AES256-SHA comes before AES128-SHA in OpenSSL's order), so it sees the empty fragment."""
    code, out, err = _s_client(srv, "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert code == 0, err
    assert "Ciphersuite: AES256-SHA" in err
    result = _json(out)
    _expect_verdict(result, 0x0301, 0x0035, split_seen=True)
    assert result["beast_vuln"] is False and result["rating"] == "Bad"


@needs("openssl")
def test_ssl3_and_tls13_only_clients(srv: Serve) -> None:
    """An SSL 3.0 ClientHello gets protocol_version, as from Go's server (no SSL 3.0)."""
    hello_body = b"\x03\x00" + bytes(32) + b"\x00" + b"\x00\x02\x00\x2f" + b"\x01\x00"
    hello = b"\x01" + len(hello_body).to_bytes(3, "big") + hello_body
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as raw:
        raw.sendall(b"\x16\x03\x00" + len(hello).to_bytes(2, "big") + hello)
        answer = raw.recv(64)
    assert answer[:1] == b"\x15" and answer[-2:] == b"\x02\x46", answer  # fatal protocol_version


# ------------------------------------------------------------------ curl


@needs("curl")
@pytest.mark.parametrize(
    ("args", "version", "split"),
    [
        (["--tlsv1.0", "--tls-max", "1.0"], 0x0301, True),
        (["--tlsv1.0", "--tls-max", "1.0", "--ssl-allow-beast"], 0x0301, False),
        (["--tlsv1.1", "--tls-max", "1.1"], 0x0302, True),
    ],
    ids=["tls1.0", "tls1.0-allow-beast", "tls1.1"],
)
def test_curl_legacy(srv: Serve, args: list[str], version: int, split: bool) -> None:
    """curl --tlsv1.0/--tlsv1.1 (OpenSSL's default list at SECLEVEL=0): TLS 1.0 with its empty
    fragment is not BEAST-vulnerable; with --ssl-allow-beast curl sends none and is."""
    done = subprocess.run(
        [tool("curl"), "-sS", "-i", "-w", "\n%{http_version}", *args, "--ciphers", "DEFAULT@SECLEVEL=0",
         "--cacert", srv.ca, "--resolve", f"{HOST}:{srv.port}:127.0.0.1", f"https://{HOST}:{srv.port}/a/check",
         "-v"],
        capture_output=True, timeout=WAIT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-800:]
    m = re.search(rb"SSL connection using TLSv1\.?([01]?) / (\S+)", done.stderr)
    assert m is not None, done.stderr[-800:]
    suite = suite_id(m[2].decode())
    result = _json(done.stdout.rsplit(b"\n", 1)[0])
    _expect_verdict(result, version, suite, split_seen=split)
    if version == 0x0301:
        assert suite in PROBES  # curl offers AES-CBC with RSA key exchange: the probe was taken
        assert result["beast_vuln"] is not split


# ------------------------------------------------------------------ GnuTLS


@needs("gnutls-cli")
@pytest.mark.parametrize(
    ("priority", "version"),
    [
        ("NORMAL:-VERS-ALL:+VERS-TLS1.0", 0x0301),
        ("NORMAL:-VERS-ALL:+VERS-TLS1.1", 0x0302),
        ("NORMAL:-VERS-ALL:+VERS-TLS1.0:-CIPHER-ALL:+3DES-CBC", 0x0301),
        ("NORMAL:-VERS-ALL:+VERS-TLS1.1:-CIPHER-ALL:+3DES-CBC:-KX-ALL:+RSA", 0x0302),
        ("NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:-KX-ALL:+RSA", 0x0303),
        ("NORMAL:-VERS-ALL:+VERS-TLS1.0:%NO_ETM", 0x0301),
        ("NORMAL:-VERS-ALL:+VERS-TLS1.0:-CIPHER-ALL:+ARCFOUR-128", 0x0301),
        ("NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+ARCFOUR-128:-KX-ALL:+RSA", 0x0303),
    ],
    ids=[
        "tls1.0",
        "tls1.1",
        "tls1.0-3des",
        "tls1.1-rsa-3des",
        "tls1.2-rsa-gcm",
        "tls1.0-no-etm",
        "tls1.0-rc4",
        "tls1.2-rsa-rc4",
    ],
)
def test_gnutls_legacy(srv: Serve, priority: str, version: int) -> None:
    """gnutls-cli with legacy priorities: GnuTLS does not split records, so at TLS 1.0 it is
    BEAST-vulnerable in howsmyssl's eyes (even with encrypt-then-MAC)."""
    done = subprocess.run(
        [tool("gnutls-cli"), "--priority", priority, "--x509cafile", srv.ca, "-p", str(srv.port),
         "--sni-hostname", HOST, "--verify-hostname", HOST, "127.0.0.1"],
        input=REQUEST, capture_output=True, timeout=WAIT, check=False,
    )  # fmt: skip
    text = done.stdout.decode(errors="replace")
    m = re.search(r"- Description: \((TLS1\.[0-2])-X\.509\)-\(([\w-]+)\)-\(([\w-]+)\)", text)
    assert m is not None, text[-1500:] + done.stderr.decode(errors="replace")[-800:]
    assert m[1] == NAMES[version].replace(" ", "")
    body = done.stdout[done.stdout.index(b"HTTP/1.1 200") :]
    body = body[: body.rindex(b"}") + 1]
    result = _json(body)
    cipher = {"AES-128-CBC": "AES_128_CBC", "AES-256-CBC": "AES_256_CBC", "3DES-CBC": "3DES_EDE_CBC",
              "AES-128-GCM": "AES_128_GCM", "AES-256-GCM": "AES_256_GCM", "ARCFOUR-128": "RC4_128"}[m[3]]  # fmt: skip
    kx = "RSA" if m[2] == "RSA" else "ECDHE_RSA"  # (GnuTLS names the curve: ECDHE-X25519; the certificate is RSA)
    suite = next(s for s, n in SUITE_NAMES.items() if n.startswith(f"TLS_{kx}_WITH_{cipher}_"))
    _expect_verdict(result, version, suite, split_seen=False)
    if "3DES" in priority:
        # client_info.go: 3DES is insecure (Sweet32) only when a real suite follows it; offered
        # alone it is the client's only choice, not a needless fallback
        assert m[3] == "3DES-CBC" and result["insecure_cipher_suites"] == {}
    if "ARCFOUR" in priority:  # client_info.go: RC4 suites are insecure ("uses RC4 which has insecure biases")
        assert m[3] == "ARCFOUR-128" and result["insecure_cipher_suites"] and result["rating"] == "Bad"


# ------------------------------------------------------------------ Mbed TLS


def _mbedtls_get(srv: Serve, name: str) -> bytes:
    """Mbed TLS's TLS 1.2 client offering the one suite ``name`` (as ``ssl_client2
    force_ciphersuite=NAME``), verifying the server: what it reads until close_notify."""
    trust = mbed_tls.TrustStore()
    trust.add(mbed_x509.CRT.from_PEM(Path(srv.ca).read_text()))
    conf = mbed_tls.TLSConfiguration(
        trust_store=trust, validate_certificates=True, ciphers=[name],
        lowest_supported_version=mbed_tls.TLSVersion.TLSv1_2, highest_supported_version=mbed_tls.TLSVersion.TLSv1_2,
    )  # fmt: skip
    tls = mbed_tls.ClientContext(conf).wrap_buffers(HOST)
    out = b""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as sock:

        def exchange() -> bool:
            """Send what Mbed TLS wrote; give it what arrives (False at the server's EOF)."""
            if data := tls.peek_outgoing(1 << 20):
                tls.consume_outgoing(len(data))
                sock.sendall(data)
            data = sock.recv(65536)
            tls.receive_from_network(data)
            return bool(data)

        for _ in range(20):  # the handshake runs inside the first write
            try:
                tls.write(REQUEST)
                break
            except mbed_tls.WantReadError:
                if not exchange():
                    raise AssertionError(f"{name}: EOF in the handshake") from None
        for _ in range(1 << 17):  # (one byte a read: python-mbedtls drops a partial read that meets close_notify)
            try:
                byte = tls.read(1)
            except TLSError as exc:
                assert exc.err == 0x7880, exc  # MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY: the answer is whole
                return out
            out += byte
            if not byte and not exchange():
                return out
    raise AssertionError(f"{name}: no end")


def test_mbedtls_client_forced_to_each_suite(srv: Serve) -> None:
    """Each suite Mbed TLS's client has for an RSA certificate, offered alone at TLS 1.2: the suites
    of howsmyssl's list get the JSON with howsmyssl's verdict, the others a handshake failure."""
    accepted = []
    for name in mbed_tls.ciphers_available():
        if "RSA" not in name or "PSK" in name:
            continue
        suite = suite_id(name.replace("-", "_"))
        if suite in CHECK_SUITES and suite_fits_version(suite, 0x0303):
            result = _json(_mbedtls_get(srv, name))
            assert result["given_cipher_suites"] == [SUITE_NAMES[suite], "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"]
            _expect_verdict(result, 0x0303, suite, split_seen=False)
            accepted.append(name)
        else:
            with pytest.raises(TLSError):
                _mbedtls_get(srv, name)
    assert len(accepted) >= 10, (mbed_version.version, accepted)  # static RSA and ECDHE, AES-GCM/CBC, ChaCha20


# ------------------------------------------------------------------ 1/n-1 splitting, by hand


OP_DONT_INSERT_EMPTY_FRAGMENTS = 0x800  # SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS (part of ssl.OP_ALL)


def _python_tls10(srv: Serve, *, empty_fragment: bool, one_byte_first: bool, cipher: str) -> dict[str, Any]:
    ctx = ssl.create_default_context(cafile=srv.ca)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1  # (deprecated: what is tested)
    ctx.set_ciphers(f"{cipher}:@SECLEVEL=0")
    if empty_fragment:
        ctx.options &= ~OP_DONT_INSERT_EMPTY_FRAGMENTS
    else:
        ctx.options |= OP_DONT_INSERT_EMPTY_FRAGMENTS
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOST) as tls:
            assert tls.version() == "TLSv1"
            if one_byte_first:  # 1/n-1: the first record carries one byte, the rest follows
                tls.sendall(REQUEST[:1])
            tls.sendall(REQUEST[1:] if one_byte_first else REQUEST)
            return _json(read_to_close(tls))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    ("empty_fragment", "one_byte_first", "cipher", "detected", "able"),
    [
        (True, False, "AES128-SHA", True, True),  # OpenSSL's empty fragment (0 bytes)
        (False, True, "AES128-SHA", True, True),  # 1/n-1: a 1-byte first record
        (False, False, "AES256-SHA", False, True),  # the whole request in the first record
        (False, True, "ECDHE-RSA-AES128-SHA", False, False),  # split, but no probe suite: cannot tell
    ],
    ids=["empty-fragment", "one-byte-first", "no-split", "no-probe-suite"],
)
def test_beast_detection(srv: Serve, empty_fragment: bool, one_byte_first: bool, cipher: str, detected: bool,
                         able: bool) -> None:  # fmt: skip
    result = _python_tls10(srv, empty_fragment=empty_fragment, one_byte_first=one_byte_first, cipher=cipher)
    assert result["able_to_detect_n_minus_one_splitting"] is able
    assert result["beast_vuln"] is not detected
    assert result["tls_version"] == "TLS 1.0" and result["rating"] == "Bad"


# ------------------------------------------------------------------ the other role, and ours


@needs("openssl")
def test_ticket_server_and_narrowed_check_server_stay_modern(tmp_path: Path) -> None:
    """A certificate without www.howsmyssl.com (the ticket server), ``--esp-local-server`` with the
    local certificate (which names www.howsmyssl.com: the example's ticket server) and
    ``--tls-version 1.2`` on the check server: TLS 1.0 and 1.1 get protocol_version; TLS 1.2 still works."""
    from https_request.example.config import LOCAL_SERVER_CERT, LOCAL_SERVER_KEY

    for args in (
        ["--cert", str(LOCAL_SERVER_CERT), "--key", str(LOCAL_SERVER_KEY)],
        ["--esp-local-server"],
        ["--tls-version", "1.2"],
    ):
        server = Serve(args, tmp_path / args[0].strip("-"))
        try:
            for flag in ("-tls1", "-tls1_1"):
                code, out, err = _s_client(server, flag, "-cipher", "DEFAULT:@SECLEVEL=0", "-verify_quiet")
                assert code != 0 and b"HTTP/1.1" not in out
                assert "protocol version" in err, err
            code, out, err = _s_client(server, "-tls1_2", "-verify_quiet")
            assert code == 0 and b"HTTP/1.1 200" in out, err
        finally:
            assert server.stop() == 0


def test_our_client_never_offers_legacy_versions() -> None:
    for version in (0x0301, 0x0302):
        with pytest.raises(ValueError, match=r"TLS 1\.2 and TLS 1\.3"):
            ClientConfig(versions=(version, 0x0303))
