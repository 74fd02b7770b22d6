"""Server configurations against the esp32 profiles: the outcome an ESP32 with ESP-IDF
v5's defaults (Mbed TLS 3.6.2) has with each, pinned against ``openssl s_server``
started here (suite lists, groups, RSA 2048/4096/1024, ECDSA P-256/P-384/P-521,
chain depth 1-5, chain size up to 20 KiB, TLS 1.2-only, TLS 1.3-only). The table in
docs/DEVICE_PROFILES.md is this one; a row that changes here changes there.

Each row connects through esp-tls (``EspTls.conn_http_new_sync``, the python engine,
the profile, the mbedtls verify policy with the test CA), then checks the negotiated
version, suite and group, or the mbedTLS code and the reason. The CLI rows run
``https-request get --profile ... --explain`` and check what it says.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import clirun
from certs import Issued, make_ca, make_leaf
from https_request.esp_tls.config import EspTlsCfg
from https_request.esp_tls.conn import EspTls
from https_request.esp_tls.errors import EspTlsError
from https_request.structs import replace
from https_request.tls.catalogue import suite_name
from procs import Proc, needs, tool

pytestmark = [needs("openssl", "stdbuf"), pytest.mark.timeout(120)]

WAIT = 5.0
NAMES = ("localhost", "127.0.0.1")
ROOT = make_ca(name="Device Matrix Root")


def _chain(depth: int, key_type: str = "ec", **kw: object) -> Issued:
    """A leaf ``depth`` certificates deep as sent: the leaf and ``depth - 1`` intermediates."""
    issuer = ROOT
    for n in range(depth - 1):
        issuer = make_ca(name=f"Device Matrix Intermediate {n + 1}", parent=issuer)
    return make_leaf(issuer, NAMES, key_type, **kw)  # type: ignore[arg-type]


def _padded(size: int) -> Issued:
    """A depth-2 chain whose leaf pads its SAN with names until the chain is ``size`` bytes."""
    inter = make_ca(name="Device Matrix Padding Intermediate", parent=ROOT)
    names = list(NAMES)
    leaf = make_leaf(inter, names)
    while len(leaf.der) + len(inter.der) < size:
        missing = size - len(leaf.der) - len(inter.der)
        names += [f"p{len(names):05d}.padding.example" for _ in range(max(1, missing // 28))]
        leaf = make_leaf(inter, names)
    return leaf


def _rsa1024() -> Issued:
    return make_leaf(ROOT, NAMES, key=rsa.generate_private_key(public_exponent=65537, key_size=1024))


def _under_rsa_ca(bits: int) -> Issued:
    """An ECDSA leaf signed by an RSA intermediate of ``bits`` (under the EC root)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return make_leaf(make_ca(name=f"Device Matrix RSA {bits} Intermediate", parent=ROOT, key=key), NAMES)


CERTS = {
    "p256": lambda: _chain(2),
    "p384": lambda: _chain(2, "p384"),
    "p521": lambda: _chain(2, "p521"),
    **{f"bp{n}": (lambda n=n: _chain(2, f"bp{n}")) for n in (256, 384, 512)},  # type: ignore[misc]
    "rsa2048": lambda: _chain(2, "rsa2048"),
    "rsa4096": lambda: _chain(2, "rsa4096"),
    "rsa1024": _rsa1024,
    "rsa4096ca": lambda: _under_rsa_ca(4096),
    "rsa4608ca": lambda: _under_rsa_ca(4608),
    **{f"depth{d}": (lambda d=d: _chain(d)) for d in range(1, 6)},  # type: ignore[misc]
    **{f"size{k}k": (lambda k=k: _padded(k * 1024)) for k in (8, 15, 17, 20)},  # type: ignore[misc]
    # 16250 bytes: one Certificate message still fits a record, the whole flight does not
    "size16k": lambda: _padded(16250),
}


@dataclass(frozen=True)
class Row:
    """One server configuration and the device's outcome: ``ok`` = (version, suite, group),
    or the mbedTLS code it fails with and a piece of the reason."""

    id: str
    cert: str
    server: tuple[str, ...]
    profile: str
    ok: tuple[str, str, str | None] | None = None
    code: int = 0
    reason: str = ""


T12, T13 = "TLS 1.2", "TLS 1.3"
ESP, ESP13 = "esp32-mbedtls", "esp32-mbedtls-tls13"
SECLEVEL0 = ("-cipher", "DEFAULT:@SECLEVEL=0")
# fmt: off
ROWS = [
    # the key and certificate
    Row("p256", "p256", (), ESP, (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "x25519")),
    Row("p384", "p384", (), ESP, (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "x25519")),
    Row("p521", "p521", (), ESP, (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "x25519")),
    Row("rsa2048", "rsa2048", (), ESP, (T12, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "x25519")),
    Row("rsa4096", "rsa4096", (), ESP, (T12, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "x25519")),
    Row("rsa1024", "rsa1024", SECLEVEL0, ESP, code=-0x2700, reason="1024-bit RSA key"),
    # a CA's RSA key: the ESP32's RSA hardware checks the signatures it made, up to 4096 bits
    Row("rsa4096-ca", "rsa4096ca", (), ESP, (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "x25519")),
    Row("rsa4608-ca", "rsa4608ca", (), ESP, code=-0x2700, reason="4608-bit RSA key of"),
    Row("rsa4608-ca-tls13", "rsa4608ca", (), ESP13, code=-0x2700, reason="4608-bit RSA key of"),
    # chain depth (certificates sent) and size
    *[Row(f"depth{d}", f"depth{d}", (), ESP, (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "x25519"))
      for d in range(1, 6)],
    Row("size8k", "size8k", (), ESP, (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "x25519")),
    Row("size15k", "size15k", (), ESP, (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "x25519")),
    Row("size16k", "size16k", (), ESP, (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "x25519")),
    Row("size17k", "size17k", (), ESP, code=-0x7080, reason="Certificate message of"),
    Row("size20k", "size20k", (), ESP, code=-0x7080, reason="Certificate message of"),
    Row("size20k-tls13", "size20k", ("-tls1_3",), ESP13, code=-0x7080, reason="Certificate message of"),
    # versions
    Row("tls12-only", "p256", ("-tls1_2",), ESP13, (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "x25519")),
    Row("tls13-only", "p256", ("-tls1_3",), ESP, code=-0x7780, reason="protocol_version"),
    Row("tls13-only-tls13", "p256", ("-tls1_3",), ESP13, (T13, "TLS_AES_256_GCM_SHA384", "x25519")),
    # suite lists
    Row("chacha-only", "rsa2048", ("-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"), ESP,
        code=-0x7780, reason="handshake_failure"),
    Row("static-rsa", "rsa2048", ("-tls1_2", "-cipher", "AES256-GCM-SHA384"), ESP,
        (T12, "TLS_RSA_WITH_AES_256_GCM_SHA384", None)),
    Row("cbc-sha", "rsa2048", ("-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"), ESP,
        (T12, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "x25519")),
    Row("ccm8", "p256", ("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-CCM8"), ESP,
        (T12, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", "x25519")),
    Row("tls13-aes128", "p256", ("-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"), ESP13,
        (T13, "TLS_AES_128_GCM_SHA256", "x25519")),
    Row("tls13-chacha-only", "p256", ("-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"), ESP13,
        code=-0x7780, reason="handshake_failure"),
    # groups
    Row("p521-group", "p256", ("-tls1_2", "-groups", "P-521"), ESP,
        (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "secp521r1")),
    Row("x448-only", "p256", ("-tls1_2", "-groups", "X448"), ESP, code=-0x7780, reason="handshake_failure"),
    # brainpool (RFC 7027): TLS 1.2 curves in the device's offer; OpenSSL 3.0 has no TLS 1.3 brainpool
    Row("bp256-group", "p256", ("-tls1_2", "-groups", "brainpoolP256r1"), ESP,
        (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "brainpoolP256r1")),
    Row("bp384-group", "rsa2048", ("-tls1_2", "-groups", "brainpoolP384r1"), ESP,
        (T12, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "brainpoolP384r1")),
    Row("bp512-group", "bp512", ("-groups", "brainpoolP512r1"), ESP,
        (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "brainpoolP512r1")),
    Row("bp256-group-tls13", "p256", ("-groups", "brainpoolP256r1"), ESP13, code=-0x7780, reason="handshake_failure"),
    *[Row(f"bp{n}-leaf", f"bp{n}", (), ESP, (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "x25519"))
      for n in (256, 384, 512)],
    # the device's TLS 1.3 hello lists no ecdsa_brainpool*tls13 scheme: OpenSSL answers with TLS 1.2
    Row("bp256-leaf-tls13", "bp256", (), ESP13, (T12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "x25519")),
    Row("bp256-leaf-tls13-only", "bp256", ("-tls1_3",), ESP13, code=-0x7780, reason="protocol_version"),
    Row("p384-hrr", "p256", ("-tls1_3", "-groups", "P-384"), ESP13, (T13, "TLS_AES_256_GCM_SHA384", "secp384r1")),
    # signature algorithms: a TLS 1.2-only device lists no RSA-PSS
    Row("pss-only-tls12", "rsa2048", ("-tls1_2", "-sigalgs", "rsa_pss_rsae_sha256"), ESP,
        code=-0x7780, reason="handshake_failure"),
    Row("pss-only-tls13", "rsa2048", ("-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"), ESP13,
        (T13, "TLS_AES_256_GCM_SHA384", "x25519")),
]
# fmt: on


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("device-matrix")
    (d / "ca.pem").write_bytes(ROOT.cert_pem)
    for name, make in CERTS.items():
        leaf = make()
        (d / f"{name}.pem").write_bytes(leaf.cert_pem)
        (d / f"{name}.key").write_bytes(leaf.key_pem)
        (d / f"{name}.chain.pem").write_bytes(leaf.chain_pem[len(leaf.cert_pem) :])  # empty for depth 1
        (d / f"{name}.full.pem").write_bytes(leaf.chain_pem)  # leaf first: serve's --cert
    return d


@contextmanager
def s_server(pki: Path, cert: str, *extra: str) -> Iterator[int]:
    chain = pki / f"{cert}.chain.pem"
    intermediates = ["-cert_chain", str(chain)] if chain.stat().st_size else []
    args = [tool("stdbuf"), "-o0", tool("openssl"), "s_server", "-accept", "127.0.0.1:0", "-www",
            "-cert", str(pki / f"{cert}.pem"), "-key", str(pki / f"{cert}.key"), *intermediates, *extra]  # fmt: skip
    with Proc(args, wait=WAIT) as proc:
        yield int(proc.wait_for(r"ACCEPT 127\.0\.0\.1:(\d+)").group(1))


def _cfg(pki: Path, profile: str) -> EspTlsCfg:
    return EspTlsCfg(
        cacert=(pki / "ca.pem").read_bytes(), profile=profile, verify_policy="mbedtls", timeout_ms=int(WAIT * 1000)
    )


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_outcome(pki: Path, row: Row) -> None:
    with s_server(pki, row.cert, *row.server) as port:
        url = f"https://127.0.0.1:{port}/"
        if row.ok is None:
            with pytest.raises(EspTlsError) as info:
                EspTls.conn_http_new_sync(url, _cfg(pki, row.profile))
            le = info.value.last_error
            assert -le.esp_tls_error_code == row.code, le
            assert row.reason in le.reason
            return
        with EspTls.conn_http_new_sync(url, _cfg(pki, row.profile)) as tls:
            info = tls.info
        assert (info.version, suite_name(info.cipher_suite), info.group) == row.ok
        if row.cert.startswith("depth"):
            assert len(info.peer_certificates) == int(row.cert.removeprefix("depth"))


@pytest.mark.parametrize("profile", [ESP, ESP13])
def test_resumption(pki: Path, profile: str) -> None:
    """The device resumes with a ticket; its TLS 1.3 resumption hello offers TLS 1.3 alone (test_device_hello)."""
    with s_server(pki, "p256") as port:
        url = f"https://127.0.0.1:{port}/"
        cfg = _cfg(pki, profile)
        with EspTls.conn_http_new_sync(url, cfg) as tls:
            tls.write(b"GET / HTTP/1.0\r\n\r\n")
            while tls.read(4096):
                pass
            session = tls.get_client_session()
        assert session is not None
        with EspTls.conn_http_new_sync(url, replace(cfg, client_session=session)) as tls2:
            assert tls2.info.resumed and tls2.info.version == tls.info.version


# --- our own serve -------------------------------------------------------------------------------

# fmt: off
SERVE_ROWS = [
    # serve picks by its own preference (AES-128 first), not the device's
    Row("serve", "p256", (), ESP, (T12, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "x25519")),
    Row("serve-tls13", "p256", (), ESP13, (T13, "TLS_AES_128_GCM_SHA256", "x25519")),
    Row("serve-tls13-only", "p256", ("--tls-version", "1.3"), ESP, code=-0x7780, reason="protocol_version"),
    Row("serve-bp384-group", "p256", ("--groups", "brainpoolP384r1"), ESP,
        (T12, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "brainpoolP384r1")),
    Row("serve-bp256-leaf", "bp256", ("--tls-version", "1.2"), ESP,
        (T12, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "x25519")),
    Row("serve-bp256-leaf-tls13", "bp256", (), ESP13, (T12, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "x25519")),
    # serve splits no message that fits a record (OpenSSL neither): a 16 KiB Certificate message passes,
    # one over a record does not
    Row("serve-size16k", "size16k", ("--tls-version", "1.2"), ESP,
        (T12, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "x25519")),
    Row("serve-size16k-tls13", "size16k", ("--tls-version", "1.3"), ESP13, (T13, "TLS_AES_128_GCM_SHA256", "x25519")),
    Row("serve-size17k", "size17k", ("--tls-version", "1.2"), ESP, code=-0x7080, reason="Certificate message of"),
]
# fmt: on


@pytest.mark.parametrize("row", SERVE_ROWS, ids=[r.id for r in SERVE_ROWS])
def test_outcome_with_serve(pki: Path, tmp_path: Path, row: Row) -> None:
    from serveproc import Serve

    cert = pki / f"{row.cert}.full.pem"
    srv = Serve(["--cert", str(cert), "--key", str(pki / f"{row.cert}.key"), *row.server], tmp_path)
    try:
        url = f"https://127.0.0.1:{srv.port}/"
        if row.ok is None:
            with pytest.raises(EspTlsError) as info:
                EspTls.conn_http_new_sync(url, _cfg(pki, row.profile))
            le = info.value.last_error
            assert -le.esp_tls_error_code == row.code, le
            assert row.reason in le.reason
            return
        with EspTls.conn_http_new_sync(url, _cfg(pki, row.profile)) as tls:
            info = tls.info
        assert (info.version, suite_name(info.cipher_suite), info.group) == row.ok
    finally:
        assert srv.stop() == 0


# --- the device's client certificate ---------------------------------------------------------------


def _client_leaf(size: int) -> Issued:
    """A clientAuth leaf under the root, its SAN padded until its DER is ``size`` bytes."""
    names = ["device.example"]
    leaf = make_leaf(ROOT, names, eku="clientAuth")
    while len(leaf.der) < size:
        names += [f"c{len(names):05d}.padding.example" for _ in range(max(1, (size - len(leaf.der)) // 28))]
        leaf = make_leaf(ROOT, names, eku="clientAuth")
    return leaf


@pytest.mark.parametrize("profile", [ESP, ESP13])
@pytest.mark.parametrize("size", [3000, 4100])
def test_client_certificate_over_out_content_len(pki: Path, profile: str, size: int) -> None:
    """``s_server -Verify 1``: a client certificate whose Certificate message fits
    MBEDTLS_SSL_OUT_CONTENT_LEN (4096) is sent and accepted; a larger one is never sent (-0x6A00)."""
    leaf = _client_leaf(size)
    cfg = replace(_cfg(pki, profile), clientcert=leaf.cert_pem, clientkey=leaf.key_pem)
    with s_server(pki, "p256", "-Verify", "1", "-CAfile", str(pki / "ca.pem")) as port:
        url = f"https://127.0.0.1:{port}/"
        if size < 4096:
            with EspTls.conn_http_new_sync(url, cfg) as tls:
                tls.write(b"GET / HTTP/1.0\r\n\r\n")
                page = b""
                while chunk := tls.read(4096):
                    page += chunk
            assert b"Client certificate" in page and b"device.example" in page
            return
        with pytest.raises(EspTlsError) as info:
            EspTls.conn_http_new_sync(url, cfg)
    le = info.value.last_error
    assert -le.esp_tls_error_code == -0x6A00, le
    assert "MBEDTLS_SSL_OUT_CONTENT_LEN of 4096" in le.reason


# --- get --explain ---------------------------------------------------------------------------------


def test_explain_success(pki: Path) -> None:
    with s_server(pki, "size15k") as port:
        run = clirun.get(f"https://127.0.0.1:{port}/", "--profile", ESP, "--cacert", str(pki / "ca.pem"), "--explain")
    assert run.code == 0, run.err
    assert "explain: profile esp32-mbedtls (ESP32, ESP-IDF v5 defaults (Mbed TLS 3.6.2))" in run.err
    assert "negotiated: TLS 1.2, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (0xC02C), group x25519" in run.err
    assert f"verification: passed, the mbedtls policy against --cacert {pki / 'ca.pem'}" in run.err
    assert "server chain: 2 certificate(s) as sent" in run.err and "leaf key EC secp256r1" in run.err
    assert "largest handshake message: Certificate" in run.err
    # a 15 KiB chain is near the one-record limit of Mbed TLS 3.6.2: said so
    assert "limits close: the server's Certificate message is" in run.err and "-0x7080" in run.err
    assert "outcome: the device connects" in run.err


def test_explain_chain_too_large(pki: Path) -> None:
    with s_server(pki, "size20k") as port:
        run = clirun.get(f"https://127.0.0.1:{port}/", "--profile", ESP, "--cacert", str(pki / "ca.pem"), "--explain")
    assert run.code == 5, run.err
    assert "mbedTLS error: -0x7080 MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE" in run.err
    assert "cause: the Certificate message of" in run.err and "keep the certificate chain well under 16 KiB" in run.err
    assert "outcome: the device fails to connect" in run.err


def test_explain_tls13_only_server(pki: Path) -> None:
    with s_server(pki, "p256", "-tls1_3") as port:
        run = clirun.get(f"https://127.0.0.1:{port}/", "--profile", ESP, "--cacert", str(pki / "ca.pem"), "--explain")
    assert run.code == 5, run.err
    assert "mbedTLS error: -0x7780 MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE" in run.err
    assert "the server sent the fatal alert protocol_version" in run.err
    assert "CONFIG_MBEDTLS_SSL_PROTO_TLS1_3=y (profile esp32-mbedtls-tls13)" in run.err


def test_explain_small_rsa_key(pki: Path) -> None:
    with s_server(pki, "rsa1024", *SECLEVEL0) as port:
        run = clirun.get(f"https://127.0.0.1:{port}/", "--profile", ESP, "--cacert", str(pki / "ca.pem"), "--explain")
    assert run.code == 6, run.err
    assert "mbedTLS error: -0x2700 MBEDTLS_ERR_X509_CERT_VERIFY_FAILED" in run.err
    assert "RSA below 2048 bits" in run.err


def test_explain_rsa_ca_over_the_hardware(pki: Path) -> None:
    with s_server(pki, "rsa4608ca") as port:
        run = clirun.get(f"https://127.0.0.1:{port}/", "--profile", ESP, "--cacert", str(pki / "ca.pem"), "--explain")
    assert run.code == 6, run.err
    assert "mbedTLS error: -0x2700 MBEDTLS_ERR_X509_CERT_VERIFY_FAILED" in run.err
    assert "4608-bit RSA key of 'CN=Device Matrix RSA 4608 Intermediate'" in run.err
    assert "CONFIG_MBEDTLS_LARGE_KEY_SOFTWARE_MPI=y" in run.err


def test_explain_default_profile(pki: Path) -> None:
    """No device: what was negotiated, the webpki policy (the default without a device profile), no limits."""
    with s_server(pki, "p256") as port:
        run = clirun.get(f"https://127.0.0.1:{port}/", "--cacert", str(pki / "ca.pem"), "--explain")
    assert run.code == 0, run.err
    assert "explain: profile default\n" in run.err and "negotiated: TLS 1.3, TLS_AES_128_GCM_SHA256" in run.err
    assert "verification: passed, the webpki policy against --cacert" in run.err
    assert "MBEDTLS_SSL_IN_CONTENT_LEN" not in run.err and "outcome:" not in run.err


# --- renegotiation -------------------------------------------------------------------------------


@contextmanager
def s_server_stdin(pki: Path, *extra: str) -> Iterator[tuple[Proc, int]]:
    """s_server without -www: its stdin commands ("r": renegotiate) and lines go to the client."""
    args = [tool("stdbuf"), "-o0", tool("openssl"), "s_server", "-accept", "127.0.0.1:0", "-tls1_2",
            "-cert", str(pki / "p256.pem"), "-key", str(pki / "p256.key"),
            "-cert_chain", str(pki / "p256.chain.pem"), "-msg", *extra]  # fmt: skip
    with Proc(args, wait=WAIT) as proc:
        yield proc, int(proc.wait_for(r"ACCEPT 127\.0\.0\.1:(\d+)").group(1))


def _read_until(tls: EspTls, marker: bytes) -> bytes:
    buf = b""
    while marker not in buf:
        chunk = tls.read(4096)
        assert chunk, f"closed before {marker!r}: {buf!r}"
        buf += chunk
    return buf


@pytest.mark.parametrize("profile", [ESP, ESP13])
def test_the_device_renegotiates_when_the_server_asks(pki: Path, profile: str) -> None:
    """esp-tls enables Mbed TLS's renegotiation (CONFIG_MBEDTLS_SSL_RENEGOTIATION=y): a TLS 1.2 server's
    HelloRequest gets a new handshake (RFC 5746), and the connection carries on under the new keys."""
    with s_server_stdin(pki) as (proc, port):
        with EspTls.conn_http_new_sync(f"https://127.0.0.1:{port}/", _cfg(pki, profile)) as tls:
            tls.write(b"before\n")
            proc.wait_for(r"before")
            proc.write(b"r\n")  # SSL_renegotiate, then SSL_do_handshake: the HelloRequest goes out
            proc.wait_for(r"SSL_do_handshake -> 1")
            proc.write(b"after\n")
            assert _read_until(tls, b"after\n").endswith(b"after\n")  # the HelloRequest read: our hello sent
            tls.write(b"renegotiated\n")  # as mbedtls_ssl_write: the new handshake first, then the data
            proc.wait_for(r"renegotiated")  # s_server reads it under the new keys
    assert "Secure Renegotiation IS supported" in proc.text
    assert proc.count(r"<<< TLS 1\.[23], Handshake \[length [0-9a-f]+\], ClientHello") == 2  # the first and the new
    assert proc.count(r"<<< TLS 1\.2, Handshake \[length [0-9a-f]+\], Finished") == 2
    assert "no_renegotiation" not in proc.text


def test_the_default_profile_refuses_renegotiation(pki: Path) -> None:
    """Without a device the engine answers the HelloRequest with a no_renegotiation warning, which
    OpenSSL's server makes fatal (handshake_failure): where the device carries on, this connection ends."""
    with s_server_stdin(pki) as (proc, port):
        cfg = replace(_cfg(pki, ESP), profile="default")
        with EspTls.conn_http_new_sync(f"https://127.0.0.1:{port}/", cfg) as tls:
            tls.write(b"before\n")
            proc.wait_for(r"before")
            proc.write(b"r\n")
            proc.wait_for(r"SSL_do_handshake -> 1")
            with pytest.raises(EspTlsError, match="handshake_failure"):  # reading the HelloRequest
                while tls.read(4096):
                    pass
            proc.wait_for(r"<<< TLS 1\.2, Alert \[length 0002\], warning no_renegotiation")
            proc.wait_for(r"no renegotiation")
        assert proc.count(r"<<< TLS 1\.[23], Handshake \[length [0-9a-f]+\], ClientHello") == 1


def test_renegotiations_without_data_are_bounded(pki: Path) -> None:
    """limits.MAX_RENEGOTIATIONS: a server that renegotiates again and again without application data
    gets an unexpected_message alert at the fifth (each costs a full handshake)."""
    from https_request.esp_tls.conn import EspTlsTimeout
    from https_request.tls.limits import MAX_RENEGOTIATIONS

    with s_server_stdin(pki) as (proc, port):
        with EspTls.conn_http_new_sync(f"https://127.0.0.1:{port}/", _cfg(pki, ESP)) as tls:
            tls.write(b"before\n")
            proc.wait_for(r"before")
            for n in range(1, MAX_RENEGOTIATIONS + 1):
                proc.write(b"r\n")
                proc.wait_for(r"SSL_do_handshake -> 1", count=n)
                with pytest.raises(EspTlsTimeout):
                    tls.read(4096, timeout=0.5)  # reads the HelloRequest and the new handshake
                proc.wait_for(r"<<< TLS 1\.2, Handshake \[length [0-9a-f]+\], Finished", count=n + 1)
            proc.write(b"r\n")
            with pytest.raises(EspTlsError, match="renegotiations without application data"):
                tls.read(4096, timeout=WAIT)
            proc.wait_for(r"<<< TLS 1\.2, Alert \[length 0002\], fatal unexpected_message")
