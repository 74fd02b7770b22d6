"""The esp-tls layer end to end on 127.0.0.1: trust sources, failures, sessions, HTTP.

Peers:

* a stdlib-``ssl`` HTTPS server in a thread (``http.server`` on a wrapped
  socket), as ESP-IDF's own test of the example uses;
* ``openssl s_server -www`` (subprocess on port 0, bounded waits, killed on
  the way out);
* our own asyncio TLS server (:mod:`echoserver`) where 0-RTT is needed.

Every check is on what esp-tls exposes: the connection or the
:class:`EspTlsError` with its last-error triple, the log lines (captured at
DEBUG with :func:`https_request.log.setup`), and the HTTP layer's results.

Scenarios the ``openssl`` engine (stdlib ``ssl``) can do are parametrized over
``engine`` (:data:`ENGINES`); what it cannot do is checked to fail plainly
(ESP_ERR_NOT_SUPPORTED naming the option, ``test_openssl_refuses``).
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certs import NOT_AFTER, Issued, at, make_ca, make_leaf
from echoserver import ServerThread
from https_request.esp_tls import bundle, trust
from https_request.esp_tls.config import AddrFamily, EspTlsCfg, TlsVersion
from https_request.esp_tls.conn import AsyncEspTls, ConnState, EspTls, EspTlsTimeout, parse_url
from https_request.esp_tls.errors import EspErr, EspTlsError, LastError
from https_request.http import TruncatedBody, async_request, request
from https_request.structs import replace
from https_request.tls.config import ServerConfig
from https_request.tls.session import Session, TicketKeys
from procs import Proc, needs, tool
from stdlibhttps import BODY, serve_https

pytestmark = pytest.mark.timeout(60)

DATA = Path(__file__).parent / "data"
ESP_CERT = DATA / "esp_local_server_cert.pem"
ESP_KEY = DATA / "esp_local_server_key.pem"
WAIT = 5.0
NAMES = ("localhost", "127.0.0.1", "example.test")

CA = make_ca(name="esp-tls Test Root CA")
CA2 = make_ca(name="esp-tls Second Root CA")
OTHER_CA = make_ca(name="Somebody Else's CA")
LEAF = make_leaf(CA, NAMES)
LEAF2 = make_leaf(CA2, NAMES)

POLICIES = ("webpki", "mbedtls")
ENGINES = ("python", "openssl")
# the openssl engine verifies with OpenSSL's own policy only (verify_policy "mbedtls" is refused)
ENGINE_POLICIES = [("python", "webpki"), ("python", "mbedtls"), ("openssl", "webpki")]
each_engine = pytest.mark.parametrize("engine", ENGINES)


# --------------------------------------------------------------------------- log capture


def lines(stream: io.StringIO) -> list[str]:
    """The log lines without the ``(ms)`` timestamp: ``"E esp-tls: Failed ..."``."""
    return [re.sub(r"^([EWIDV]) \(\d+\) ", r"\1 ", line) for line in stream.getvalue().splitlines()]


@pytest.fixture(autouse=True)
def _no_global_store() -> Iterator[None]:
    trust.free_global_ca_store()
    yield
    trust.free_global_ca_store()


# --------------------------------------------------------------------------- stdlib server


@contextmanager
def stdlib_server(
    tmp_path: Path,
    leaf: Issued | tuple[Path, Path] = LEAF,
    *,
    max_version: ssl.TLSVersion | None = None,
    client_ca: Issued | None = None,
    alpn: list[str] | None = None,
) -> Iterator[int]:
    """:func:`stdlibhttps.serve_https` with ``leaf`` (written to ``tmp_path``, or PEM paths); yields its port.

    ``client_ca``: client certificates are required, issued by it; ``alpn``: the protocols it accepts."""
    if isinstance(leaf, tuple):
        cert, key = leaf
    else:
        cert, key = tmp_path / f"leaf{id(leaf)}.pem", tmp_path / f"leaf{id(leaf)}.key"
        cert.write_bytes(leaf.chain_pem)
        key.write_bytes(leaf.key_pem)
    client_ca_der = None if client_ca is None else client_ca.der
    with serve_https(cert, key, max_version=max_version, client_ca_der=client_ca_der, alpn=alpn) as port:
        yield port


def cfg_for(**kw: object) -> EspTlsCfg:
    kw.setdefault("timeout_ms", int(WAIT * 1000))
    return EspTlsCfg(**kw)  # type: ignore[arg-type]


def get(port: int, cfg: EspTlsCfg, path: str = "/", host: str = "127.0.0.1") -> tuple[EspTls, bytes]:
    """GET ``path`` through the HTTP layer (absolute-form target, as the example)."""
    url = f"https://{host}:{port}{path}"
    with EspTls.conn_http_new_sync(url, cfg) as tls:
        resp = request(tls, "GET", url, [("User-Agent", "esp-idf/1.0 esp32")])
        assert (resp.status, resp.reason, resp.http_version) == (200, "OK", "1.1")
        body = resp.read()
    return tls, body


def fails(port: int, cfg: EspTlsCfg, host: str = "127.0.0.1") -> EspTlsError:
    with pytest.raises(EspTlsError) as info:
        EspTls.conn_http_new_sync(f"https://{host}:{port}/", cfg)
    return info.value


def triple(err: EspTlsError | LastError) -> tuple[int, int, int]:
    le = err.last_error if isinstance(err, EspTlsError) else err
    return le.last_error, le.esp_tls_error_code, le.esp_tls_flags


# --------------------------------------------------------------------------- trust sources


@each_engine
def test_cacert_pem(tmp_path: Path, esp_log: io.StringIO, engine: str) -> None:
    with stdlib_server(tmp_path) as port:
        tls, body = get(port, cfg_for(cacert=CA.cert_pem, engine=engine))
    assert body == BODY
    info = tls.info
    assert info.version in ("TLS 1.3", "TLS 1.2") and info.cipher_suite_name.startswith("TLS_")
    assert info.peer_subject == "CN=localhost" and not info.resumed and info.early_data == "none"
    assert info.connect_ms >= 0 and info.tls_ms > 0 and info.handshake_end_ms >= 0
    assert tls.conn_state == ConnState.DONE
    out = lines(esp_log)
    assert "D esp-tls: host:127.0.0.1: strlen 9" in out
    assert re.search(r"^D esp-tls: \[sock=\d+\] Resolved IPv4 address: 127\.0\.0\.1$", "\n".join(out), re.M)
    connecting = f"Connecting to server. HOST: 127.0.0.1:{port}/, Port: {port}"  # the URL from the host on
    assert any(line.endswith(connecting) for line in out)
    assert "D esp-tls: handshake in progress..." in out
    assert not [line for line in out if line.startswith(("E ", "W "))]


@each_engine
def test_cacert_der(tmp_path: Path, engine: str) -> None:
    with stdlib_server(tmp_path) as port:
        _, body = get(port, cfg_for(cacert=CA.der, engine=engine))
    assert body == BODY


@each_engine
def test_cacert_partly_parsed(tmp_path: Path, esp_log: io.StringIO, engine: str) -> None:
    junk = b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n"
    with stdlib_server(tmp_path) as port:
        _, body = get(port, cfg_for(cacert=junk + OTHER_CA.cert_pem + CA.cert_pem + b"\0", engine=engine))
    assert body == BODY
    assert "W esp-tls-mbedtls: mbedtls_x509_crt_parse was partly successful. No. of failed certificates: 1" in lines(
        esp_log
    )


@pytest.mark.parametrize(
    ("cacert", "code"),
    [
        (b"garbage, neither PEM nor DER", 0x2180),
        (b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----", 0x112C),
    ],
    ids=["der", "pem"],
)
def test_cacert_unparsable(tmp_path: Path, esp_log: io.StringIO, cacert: bytes, code: int) -> None:
    with stdlib_server(tmp_path) as port:
        err = fails(port, cfg_for(cacert=cacert))
    assert triple(err) == (EspErr.ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED, code, 0)
    out = lines(esp_log)
    assert f"E esp-tls-mbedtls: mbedtls_x509_crt_parse of CA cert returned -0x{code:04X}" in out
    assert (
        "E esp-tls-mbedtls: Failed to set client configurations, returned [0x8015] "
        "(ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED)" in out
    )
    assert out[-2:] == ["E esp-tls: create_ssl_handle failed", "E esp-tls: Failed to open new connection"]


@each_engine
def test_global_ca_store_appends(tmp_path: Path, engine: str) -> None:
    assert trust.get_global_ca_store() is None
    assert trust.set_global_ca_store(CA2.cert_pem) == EspErr.ESP_OK
    assert trust.set_global_ca_store(CA.cert_pem) == EspErr.ESP_OK  # appended, not replaced
    assert trust.get_global_ca_store() == (CA2.cert, CA.cert)
    cfg = cfg_for(use_global_ca_store=True, engine=engine)
    with stdlib_server(tmp_path, LEAF) as port1, stdlib_server(tmp_path, LEAF2) as port2:
        assert get(port1, cfg)[1] == BODY
        assert get(port2, cfg)[1] == BODY


def test_global_ca_store_results(esp_log: io.StringIO) -> None:
    assert trust.set_global_ca_store(None) == EspErr.ESP_ERR_INVALID_ARG
    assert trust.set_global_ca_store(b"") == EspErr.ESP_ERR_INVALID_ARG
    assert trust.init_global_ca_store() == EspErr.ESP_OK and trust.get_global_ca_store() == ()
    junk = b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"
    assert trust.set_global_ca_store(junk + CA.cert_pem) == EspErr.ESP_ERR_MBEDTLS_CERT_PARTLY_OK
    assert trust.get_global_ca_store() == (CA.cert,)
    assert trust.set_global_ca_store(b"rubbish") == EspErr.ESP_FAIL
    assert trust.get_global_ca_store() is None  # a parse error frees the whole store
    out = lines(esp_log)
    assert out.count("E esp-tls-mbedtls: cacert_pem_buf is null") == 2
    assert "E esp-tls-mbedtls: mbedtls_x509_crt_parse was partly successful. No. of failed certificates: 1" in out
    assert "E esp-tls-mbedtls: mbedtls_x509_crt_parse of global CA cert returned -0x2180" in out


def test_global_ca_store_missing(tmp_path: Path, esp_log: io.StringIO) -> None:
    with stdlib_server(tmp_path) as port:
        err = fails(port, cfg_for(use_global_ca_store=True))
    assert triple(err) == (EspErr.ESP_ERR_INVALID_STATE, 0, 0)
    assert "E esp-tls-mbedtls: global_cacert is NULL" in lines(esp_log)


def test_bundle(tmp_path: Path, esp_log: io.StringIO) -> None:
    blob = bundle.build_bundle([OTHER_CA.cert, CA.cert])
    with stdlib_server(tmp_path) as port:
        _, body = get(port, cfg_for(crt_bundle=blob))
    assert body == BODY
    out = lines(esp_log)
    assert "I esp-x509-crt-bundle: Certificate validated" in out
    assert "D esp-tls-mbedtls: Use certificate bundle" in out


def test_bundle_untrusted(tmp_path: Path, esp_log: io.StringIO) -> None:
    blob = bundle.build_bundle([OTHER_CA.cert])
    with stdlib_server(tmp_path) as port:
        err = fails(port, cfg_for(crt_bundle=blob))
    assert triple(err) == (EspErr.ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, 0x3000, 0xFFFFFFFF)
    out = lines(esp_log)
    assert "I esp-x509-crt-bundle: No matching trusted root certificate found" in out
    assert "E esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x3000" in out
    assert "I esp-tls-mbedtls: Failed to verify peer certificate!" in out


def test_bundle_builtin_and_invalid(tmp_path: Path, esp_log: io.StringIO) -> None:
    lazy = trust.build_verifier(EspTlsCfg(crt_bundle=True), "www.howsmyssl.com")
    assert isinstance(lazy, trust.LazyVerifier) and not lazy.loaded  # built when a certificate must be checked
    verifier = lazy.load()
    assert isinstance(verifier, bundle.BundleVerifier) and verifier.bundle is not None and len(verifier.bundle) > 10
    with stdlib_server(tmp_path) as port:
        err = fails(port, cfg_for(crt_bundle=b"\x01\x02"))
    assert triple(err) == (EspErr.ESP_ERR_INVALID_ARG, 0, 0)
    assert "E esp-x509-crt-bundle: Failed to attach bundle" in lines(esp_log)


def test_no_verification_option(tmp_path: Path, esp_log: io.StringIO) -> None:
    with stdlib_server(tmp_path) as port:
        err = fails(port, cfg_for())
    assert triple(err) == (EspErr.ESP_ERR_MBEDTLS_SSL_SETUP_FAILED, 0, 0)
    message = "No server verification option set in esp_tls_cfg_t structure. Check esp_tls API reference"
    assert str(err) == message
    out = lines(esp_log)
    assert f"E esp-tls-mbedtls: {message}" in out
    assert out[-1] == "E esp-tls: Failed to open new connection"


@each_engine
def test_insecure(tmp_path: Path, esp_log: io.StringIO, engine: str) -> None:
    with stdlib_server(tmp_path, make_leaf(OTHER_CA, ["elsewhere.example"])) as port:
        _, body = get(port, cfg_for(insecure=True, engine=engine))
    assert body == BODY
    assert any(
        line.startswith("W esp-tls-mbedtls: insecure=true: server certificate verification DISABLED")
        for line in lines(esp_log)
    )


# --------------------------------------------------------------------------- verification failures

BAD_LEAVES = {
    "expired": (make_leaf(CA, NAMES, not_before=at(2020), not_after=at(2021)), 0x01, 0x2700, "validity has expired"),
    "not-yet-valid": (
        make_leaf(CA, NAMES, not_before=at(2045), not_after=NOT_AFTER),
        0x200,
        0x2700,
        "validity starts in the future",
    ),
    "wrong-name": (make_leaf(CA, ["elsewhere.example"]), 0x04, 0x2700, "Common Name (CN) does not match"),
    "untrusted": (make_leaf(OTHER_CA, NAMES), 0x08, 0x2700, "not correctly signed by the trusted CA"),
    "wrong-eku": (make_leaf(CA, NAMES, eku="clientAuth"), 0x1000, 0x7A00, "extendedKeyUsage"),
}


@pytest.mark.parametrize(("engine", "policy"), ENGINE_POLICIES)
@pytest.mark.parametrize("case", list(BAD_LEAVES))
def test_verification_failure(tmp_path: Path, esp_log: io.StringIO, case: str, engine: str, policy: str) -> None:
    """openssl: each of these certificates has one problem, so its best-effort flag is exact."""
    leaf, flags, code, text = BAD_LEAVES[case]
    with stdlib_server(tmp_path, leaf) as port:
        err = fails(port, cfg_for(cacert=CA.cert_pem, verify_policy=policy, engine=engine))
    assert triple(err) == (EspErr.ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, code, flags)
    assert text in str(err)
    assert err.last_error.name == "ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED"
    out = lines(esp_log)
    i = out.index(f"E esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x{code:04X}")
    assert out[i + 1] == "I esp-tls-mbedtls: Failed to verify peer certificate!"
    assert out[i + 2].startswith("D esp-tls-mbedtls: verification info:   ! ")
    assert out[-1] == "E esp-tls: Failed to open new connection"


@each_engine
def test_common_name_overrides_host(tmp_path: Path, engine: str) -> None:
    with stdlib_server(tmp_path, make_leaf(CA, ["device.example"])) as port:
        _, body = get(port, cfg_for(cacert=CA.cert_pem, common_name="device.example", engine=engine))
        err = fails(port, cfg_for(cacert=CA.cert_pem, common_name="other.example", engine=engine))
    assert body == BODY
    assert triple(err)[2] == 0x04


@pytest.mark.parametrize(("engine", "policy"), ENGINE_POLICIES)
def test_esp_v1_certificate(tmp_path: Path, esp_log: io.StringIO, engine: str, policy: str) -> None:
    """The example's self-signed v1 certificate: fine with skip_common_name, a CN mismatch without."""
    cacert = ESP_CERT.read_bytes() + b"\0"  # EMBED_TXTFILES adds the NUL
    with stdlib_server(tmp_path, (ESP_CERT, ESP_KEY)) as port:
        url = f"https://127.0.0.1:{port}/empty"
        cfg = cfg_for(cacert=cacert, skip_common_name=True, verify_policy=policy, engine=engine)
        with EspTls.conn_http_new_sync(url, cfg) as tls:
            resp = request(tls, "GET", "FROM_STDIN", [("Host", "howsmyssl.com")])
            assert resp.status == 200 and resp.read() == b""
        assert tls.info.peer_subject == "CN=ESP32 HTTPS request example"
        err = fails(port, cfg_for(cacert=cacert, verify_policy=policy, engine=engine))
    assert triple(err) == (EspErr.ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, 0x2700, 0x04)
    assert any(
        line.startswith("W esp-tls-mbedtls: skip_common_name=true: hostname matching and SNI disabled.")
        for line in lines(esp_log)
    )


# --------------------------------------------------------------------------- TCP-level failures


def test_dns_failure(esp_log: io.StringIO) -> None:
    with pytest.raises(EspTlsError) as info:
        EspTls.conn_http_new_sync("https://no-such-host.invalid/", cfg_for(cacert=CA.cert_pem))
    assert triple(info.value) == (EspErr.ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME, 0, 0)
    out = lines(esp_log)
    assert any(
        line.startswith("E esp-tls: couldn't get hostname for :no-such-host.invalid: getaddrinfo() returns")
        for line in out
    )
    assert out[-1] == "E esp-tls: Failed to open new connection"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_connection_refused(esp_log: io.StringIO) -> None:
    port = _free_port()
    with pytest.raises(EspTlsError) as info:
        EspTls.conn_new_sync("127.0.0.1", port, cfg_for(cacert=CA.cert_pem))
    assert triple(info.value) == (EspErr.ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST, 0, 0)
    assert "Connection refused" in info.value.last_error.reason
    assert re.search(
        r"^E esp-tls: \[sock=\d+\] (delayed )?connect(\(\))? error: Connection refused$",
        "\n".join(lines(esp_log)),
        re.M,
    )


@each_engine
def test_handshake_timeout(esp_log: io.StringIO, engine: str) -> None:
    """A server that accepts TCP and never answers: the overall timeout_ms ends it, with a warning."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        started = time.monotonic()
        with pytest.raises(EspTlsTimeout) as info:
            cfg = cfg_for(cacert=CA.cert_pem, timeout_ms=300, engine=engine)
            EspTls.conn_new_sync("127.0.0.1", listener.getsockname()[1], cfg)
    assert time.monotonic() - started < 3
    assert isinstance(info.value, TimeoutError)
    assert triple(info.value) == (EspErr.ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT, 0, 0)
    out = lines(esp_log)
    assert out[-1] == "W esp-tls: Failed to open new connection in specified timeout"


def test_parse_url() -> None:
    t = parse_url("https://www.howsmyssl.com/a/check")
    assert (t.host, t.port, t.host_text) == ("www.howsmyssl.com", 443, "www.howsmyssl.com/a/check")
    assert parse_url("http://example.com").port == 80
    assert parse_url("HTTPS://[::1]:8070/x").host == "::1"
    assert parse_url("https://[fe80::1%25lo]:8070/").host == "fe80::1%lo"  # RFC 6874's %25 for the zone's %
    assert parse_url("https://192.168.0.106:8070").port == 8070
    with pytest.raises(EspTlsError):
        parse_url("FROM_STDIN")


def test_configuration_errors(tmp_path: Path, esp_log: io.StringIO) -> None:
    with stdlib_server(tmp_path) as port:
        err = fails(port, cfg_for(cacert=CA.cert_pem, clientcert=LEAF.cert_pem))
        assert triple(err) == (EspErr.ESP_ERR_INVALID_STATE, 0, 0)
        assert (
            "E esp-tls-mbedtls: You have to provide both clientcert_buf and clientkey_buf for mutual "
            "authentication" in lines(esp_log)
        )
        err = fails(port, cfg_for(cacert=CA.cert_pem, clientcert=LEAF.cert_pem, clientkey=b"not a key"))
        assert triple(err) == (EspErr.ESP_ERR_MBEDTLS_PK_PARSE_KEY_FAILED, 0x3D00, 0)
    with pytest.raises(EspTlsError) as info:
        EspTls.conn_new_sync("127.0.0.1", 1, cfg_for(cacert=CA.cert_pem, engine="nope"))
    assert info.value.last_error.last_error == EspErr.ESP_ERR_INVALID_ARG
    assert "unknown engine 'nope'" in str(info.value)


# --------------------------------------------------------------------------- sessions


@each_engine
def test_tls13_session_resumes(tmp_path: Path, esp_log: io.StringIO, engine: str) -> None:
    cfg = cfg_for(cacert=CA.cert_pem, tls_version=TlsVersion.TLS_1_3, engine=engine)
    # python: the session resumes under another configuration too; openssl binds it to its SSLContext
    resume_cfg = replace(cfg, tls_version=TlsVersion.ANY) if engine == "python" else cfg
    with stdlib_server(tmp_path) as port:
        url = f"https://127.0.0.1:{port}/"
        with EspTls.conn_http_new_sync(url, cfg) as tls:
            assert tls.get_client_session() is None  # TLS 1.3: tickets come later, while reading
            tls.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            raw = b""
            while chunk := tls.read(511):
                raw += chunk
            session = tls.get_client_session()
        assert raw.endswith(BODY) and session is not None and session.version == 0x0304
        with EspTls.conn_http_new_sync(url, replace(resume_cfg, client_session=session)) as tls2:
            resp = request(tls2, "GET", "/")
            assert resp.read() == BODY
    assert tls.info.version == "TLS 1.3" and not tls.info.resumed
    assert tls2.info.resumed
    out = lines(esp_log)
    assert "D esp-tls-mbedtls: Session ticket saved in the client session context" in out
    assert "D esp-tls-mbedtls: Reusing the already saved client session context" in out


@each_engine
def test_tls12_session_after_handshake(tmp_path: Path, engine: str) -> None:
    cfg = cfg_for(cacert=CA.cert_pem, engine=engine)
    with stdlib_server(tmp_path, max_version=ssl.TLSVersion.TLSv1_2) as port:
        with EspTls.conn_new_sync("127.0.0.1", port, cfg) as tls:
            session = tls.get_client_session()  # TLS 1.2: available right after the handshake
            assert tls.info.version == "TLS 1.2" and tls.info.cipher_suite_name.startswith("TLS_ECDHE_")
        assert session is not None and session.version == 0x0303
        with EspTls.conn_new_sync("127.0.0.1", port, replace(cfg, client_session=session)) as tls2:
            assert tls2.info.resumed


def test_zero_rtt_with_our_server() -> None:
    server_cfg = ServerConfig(
        certificates=(LEAF.certified_key(),), ticket_keys=TicketKeys(os.urandom, now=time.time()), max_early_data=4096
    )
    cfg = cfg_for(cacert=CA.cert_pem, early_data=True)
    with ServerThread(server_cfg) as srv:
        with EspTls.conn_new_sync("127.0.0.1", srv.port, cfg) as tls:
            tls.write(b"ping")
            assert tls.read(4) == b"ping"
            session = tls.get_client_session()
        assert session is not None and session.max_early_data == 4096
        srv.next()
        statuses = []
        for _ in range(2):  # the second use of the ticket is a replay: rejected, data re-sent
            with EspTls.conn_new_sync(
                "127.0.0.1",
                srv.port,
                cfg_for(cacert=CA.cert_pem, early_data=True, client_session=session),
                early_data=b"early!",
            ) as tls:
                got = b""
                while len(got) < 6:
                    got += tls.read(6 - len(got))
                assert got == b"early!"
                statuses.append(tls.info.early_data)
            srv.next()
    assert statuses == ["accepted", "rejected"]


# --------------------------------------------------------------------------- versions, suites, client auth, keylog


@each_engine
def test_tls_version_and_tls12_suite(tmp_path: Path, esp_log: io.StringIO, engine: str) -> None:
    with stdlib_server(tmp_path) as port:
        for version, name in ((TlsVersion.TLS_1_2, "TLS 1.2"), (TlsVersion.TLS_1_3, "TLS 1.3")):
            tls, _ = get(port, cfg_for(cacert=CA.cert_pem, tls_version=version, engine=engine))
            assert tls.info.version == name
        for version in (TlsVersion.TLS_1_2, TlsVersion.ANY):  # ANY with only TLS 1.2 suites: TLS 1.2
            cfg = cfg_for(cacert=CA.cert_pem, tls_version=version, ciphersuites=(0xC02C, 0xC02B), engine=engine)
            tls, body = get(port, cfg)
            assert body == BODY and tls.info.version == "TLS 1.2"
            assert tls.info.cipher_suite == 0xC02C
            assert tls.info.cipher_suite_name == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
    with stdlib_server(tmp_path, max_version=ssl.TLSVersion.TLSv1_2) as port:
        err = fails(port, cfg_for(cacert=CA.cert_pem, tls_version=TlsVersion.TLS_1_3, engine=engine))
    last_error, code, flags = triple(err)
    assert last_error == EspErr.ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED and code != 0 and flags == 0
    assert "E esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x" in "\n".join(lines(esp_log))


@each_engine
def test_client_key_that_is_not_the_certificates(tmp_path: Path, engine: str) -> None:
    """Checked when the pair is loaded, whether or not the server asks for a certificate."""
    client = make_leaf(CA, ["client.example"], eku="clientAuth")
    with stdlib_server(tmp_path) as port:
        cfg = cfg_for(cacert=CA.cert_pem, clientcert=client.cert_pem, clientkey=LEAF.key_pem, engine=engine)
        err = fails(port, cfg)
    assert triple(err) == (EspErr.ESP_ERR_MBEDTLS_SSL_CONF_OWN_CERT_FAILED, 0, 0)
    assert err.last_error.reason == (
        "client certificate: the private key does not match the certificate CN=client.example (another public key)"
    )


def test_ciphersuites_that_fit_no_version(tmp_path: Path, esp_log: io.StringIO) -> None:
    """A suite list the configured versions cannot use fails at set-up with a clear reason
    (not a handshake_failure from the server)."""
    with stdlib_server(tmp_path) as port:
        for version, suites, text in (
            (TlsVersion.TLS_1_2, (0x1301,), "none of TLS_AES_128_GCM_SHA256 can be used with TLS 1.2"),
            (TlsVersion.TLS_1_3, (0xC02B,), "none of TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 can be used with TLS 1.3"),
        ):
            err = fails(port, cfg_for(cacert=CA.cert_pem, tls_version=version, ciphersuites=suites))
            assert triple(err)[0] == EspErr.ESP_ERR_MBEDTLS_SSL_SETUP_FAILED, err
            assert text in err.last_error.reason
    assert "E esp-tls-mbedtls: mbedtls_ssl_handshake returned" not in "\n".join(lines(esp_log))


@each_engine
def test_client_certificate_and_alpn(tmp_path: Path, engine: str) -> None:
    client = make_leaf(CA, ["client.example"], eku="clientAuth")
    password = b"secret"
    encrypted = client.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    with stdlib_server(tmp_path, client_ca=CA, alpn=["h2", "http/1.1"]) as port:
        for key, key_password in ((client.key_pem, None), (encrypted, password)):
            cfg = cfg_for(
                cacert=CA.cert_pem,
                clientcert=client.cert_pem,
                clientkey=key,
                clientkey_password=key_password,
                alpn_protos=("http/1.1",),
                engine=engine,
            )
            tls, body = get(port, cfg)
            assert body == BODY and tls.info.alpn == "http/1.1"


@each_engine
@pytest.mark.parametrize("max_version", [None, ssl.TLSVersion.TLSv1_2], ids=["tls13", "tls12"])
def test_keylog(tmp_path: Path, engine: str, max_version: ssl.TLSVersion | None) -> None:
    logged: list[str] = []
    with stdlib_server(tmp_path, max_version=max_version) as port:
        get(port, cfg_for(cacert=CA.cert_pem, keylog=logged.append, engine=engine))
    labels = {line.split()[0] for line in logged}
    if max_version is None:
        assert {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0", "CLIENT_TRAFFIC_SECRET_0"} <= labels
    else:
        assert labels == {"CLIENT_RANDOM"}
    assert all(re.fullmatch(r"[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]+", line) for line in logged)


# --------------------------------------------------------------------------- what the openssl engine refuses

PYTHON_SESSION = Session(version=0x0304, cipher_suite=0x1301, server_name="127.0.0.1", secret=bytes(32), ticket=b"t")

REFUSED: dict[str, tuple[dict[str, object], str]] = {
    "crt_bundle": ({"crt_bundle": True}, "crt_bundle: certificate bundle verification"),
    "verify_policy": ({"verify_policy": "mbedtls"}, "verify_policy: 'mbedtls'"),
    "saved-session": ({"client_session": PYTHON_SESSION}, "client_session: stdlib ssl cannot load a saved session"),
    "early_data": ({"early_data": True}, "early_data: stdlib ssl has no 0-RTT"),
    "tls13-suites": ({"ciphersuites": (0xC02B, 0x1301)}, "ciphersuites: cannot choose TLS 1.3 suites with stdlib ssl"),
    "groups": ({"groups": (0x001D,)}, "groups: "),
    "profile": ({"profile": "esp32-mbedtls"}, "profile: only the 'default' profile"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_openssl_refuses(esp_log: io.StringIO, case: str) -> None:
    """Options stdlib ssl cannot honour fail before the handshake, naming the option."""
    extra, text = REFUSED[case]
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        err = fails(listener.getsockname()[1], cfg_for(cacert=CA.cert_pem, engine="openssl", **extra))
    assert triple(err) == (EspErr.ESP_ERR_NOT_SUPPORTED, 0, 0)
    assert f"engine 'openssl' cannot honour {text}" in str(err)
    assert err.last_error.reason == str(err)
    out = lines(esp_log)
    assert f"E esp-tls-mbedtls: {err}" in out
    assert out[-2:] == ["E esp-tls: create_ssl_handle failed", "E esp-tls: Failed to open new connection"]


def test_openssl_refusal_quotes_openssl_without_its_source_line() -> None:
    """What OpenSSL says is quoted, without the ``(_ssl.c:NNNN)`` that points into CPython."""
    small = make_leaf(CA, ["client.example"], key=rsa.generate_private_key(65537, 1024), eku="clientAuth")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        cfg = cfg_for(cacert=CA.cert_pem, clientcert=small.cert_pem, clientkey=small.key_pem, engine="openssl")
        err = fails(listener.getsockname()[1], cfg)
    assert triple(err) == (EspErr.ESP_ERR_MBEDTLS_SSL_CONF_OWN_CERT_FAILED, 0, 0)
    assert err.last_error.reason == (
        "engine 'openssl' cannot honour clientcert: OpenSSL rejects the client certificate "
        "([SSL: EE_KEY_TOO_SMALL] ee key too small)"
    )


def test_openssl_session_is_bound_to_its_configuration(tmp_path: Path) -> None:
    cfg = cfg_for(cacert=CA.cert_pem, engine="openssl")
    with stdlib_server(tmp_path, max_version=ssl.TLSVersion.TLSv1_2) as port:
        with EspTls.conn_new_sync("127.0.0.1", port, cfg) as tls:
            session = tls.get_client_session()
        assert session is not None and session.version == 0x0303 and session.session_id
        assert session.secret == b"" and session.ticket == b""  # stdlib ssl does not expose them
        other = replace(cfg, tls_version=TlsVersion.TLS_1_2, client_session=session)
        err = fails(port, other)
        assert triple(err) == (EspErr.ESP_ERR_NOT_SUPPORTED, 0, 0)
        assert "client_session: the session was made with a different TLS configuration" in str(err)
        with EspTls.conn_new_sync("127.0.0.1", port, replace(cfg, client_session=session)) as tls2:
            assert tls2.info.resumed and tls2.info.group is None  # Python 3.11 cannot tell the group


# --------------------------------------------------------------------------- reading to the end


@each_engine
def test_bare_tcp_close_and_truncated_body(tmp_path: Path, engine: str) -> None:
    cfg = cfg_for(cacert=CA.cert_pem, engine=engine)
    with stdlib_server(tmp_path) as port:
        url = f"https://127.0.0.1:{port}/truncated"
        with EspTls.conn_http_new_sync(url, cfg) as tls:  # the raw path, as the example reads
            tls.write(b"GET /truncated HTTP/1.1\r\nHost: localhost\r\n\r\n")
            raw = b""
            while chunk := tls.read(511):
                raw += chunk
            assert raw.endswith(b"\r\n\r\n0123456789")
            assert tls.read(511) == b""  # still b"", no error recorded
            assert not tls.last_error
        with EspTls.conn_http_new_sync(url, cfg) as tls:
            resp = request(tls, "GET", url)
            assert resp.status == 200 and resp.header("Content-Length") == "100"
            with pytest.raises(TruncatedBody, match="after 10 of 100 bytes") as info:
                resp.read()
            assert (info.value.received, info.value.expected) == (10, 100)


@each_engine
def test_read_error_is_recorded(tmp_path: Path, esp_log: io.StringIO, engine: str) -> None:
    cfg = cfg_for(cacert=CA.cert_pem, engine=engine)
    with stdlib_server(tmp_path) as port, EspTls.conn_new_sync("127.0.0.1", port, cfg) as tls:
        tls.write(b"GET /garbage HTTP/1.1\r\nHost: localhost\r\n\r\n")
        with pytest.raises(EspTlsError) as info:
            while tls.read(511):
                pass
        assert info.value.last_error == tls.last_error
        assert triple(tls.get_and_clear_last_error()) == (EspErr.ESP_ERR_MBEDTLS_SSL_READ_FAILED, 0x7180, 0)
        assert not tls.last_error and tls.get_and_clear_last_error() == LastError()
    assert "E esp-tls-mbedtls: read error :-0x7180" in lines(esp_log)


@each_engine
def test_eof_inside_a_record_reads_as_closed(tmp_path: Path, engine: str) -> None:
    """mbedTLS turns MBEDTLS_ERR_SSL_CONN_EOF into 0 even mid-record; so do we."""
    cfg = cfg_for(cacert=CA.cert_pem, engine=engine)
    with stdlib_server(tmp_path) as port, EspTls.conn_new_sync("127.0.0.1", port, cfg) as tls:
        tls.write(b"GET /half-record HTTP/1.1\r\nHost: localhost\r\n\r\n")
        while tls.read(511):
            pass
        assert tls.read(511) == b"" and not tls.last_error


@each_engine
def test_head_and_options(tmp_path: Path, esp_log: io.StringIO, engine: str) -> None:
    """HEAD has no body; addr_family, connect_address and the example's Host header."""
    cfg = cfg_for(cacert=CA.cert_pem, addr_family=AddrFamily.INET, engine=engine)
    with stdlib_server(tmp_path) as port:
        with EspTls.conn_new_sync("localhost", port, cfg) as tls:
            resp = request(tls, "HEAD", "/")
            assert resp.status == 200 and resp.header("content-length") == str(len(BODY))
            assert resp.read() == b""
        elsewhere = cfg_for(cacert=CA.cert_pem, connect_address=("127.0.0.1", port), engine=engine)
        with EspTls.conn_http_new_sync("https://example.test/a/check", elsewhere) as tls:
            resp = request(tls, "GET", "https://example.test/a/check")
            assert resp.read() == BODY
    out = "\n".join(lines(esp_log))
    assert re.search(r"Resolved IPv4 address: 127\.0\.0\.1", out)


# --------------------------------------------------------------------------- openssl s_server -www


@contextmanager
def s_server(tmp_path: Path, *extra: str) -> Iterator[int]:
    cert, key = tmp_path / "s_server.pem", tmp_path / "s_server.key"
    cert.write_bytes(LEAF.chain_pem)
    key.write_bytes(LEAF.key_pem)
    args = ["s_server", "-accept", "127.0.0.1:0", "-cert", str(cert), "-key", str(key), "-www", *extra]
    proc = Proc([tool("stdbuf"), "-o0", tool("openssl"), *args])
    try:
        yield int(proc.wait_for(r"ACCEPT 127\.0\.0\.1:(\d+)").group(1))
    finally:
        proc.close()


def _page(port: int, cfg: EspTlsCfg) -> tuple[EspTls, str]:
    with EspTls.conn_new_sync("127.0.0.1", port, cfg) as tls:
        tls.write(b"GET / HTTP/1.0\r\n\r\n")
        page = b""
        while chunk := tls.read(511):
            page += chunk
    assert page.startswith(b"HTTP/1.0 200 ok"), page[:100]
    return tls, page.decode(errors="replace")


S_SERVER_CASES: dict[str, tuple[TlsVersion, tuple[int, ...] | None, str]] = {
    "any": (TlsVersion.ANY, None, "TLSv1.3, Cipher is TLS_AES_"),
    "tls13-suite": (TlsVersion.TLS_1_3, (0x1302,), "TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"),
    "tls12": (TlsVersion.TLS_1_2, (0xC02B,), "TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"),
    "tls12-only-suite": (TlsVersion.ANY, (0xCCA9,), "TLSv1.2, Cipher is ECDHE-ECDSA-CHACHA20-POLY1305"),
}


@needs("openssl", "stdbuf")
@pytest.mark.parametrize(
    ("engine", "tls_version", "suites", "expect"),
    [
        pytest.param(engine, *case, id=f"{engine}-{name}")
        for engine in ENGINES
        for name, case in S_SERVER_CASES.items()
        if not (engine == "openssl" and name == "tls13-suite")  # no TLS 1.3 suite choice in stdlib ssl
    ],
)
def test_openssl_s_server(
    tmp_path: Path, engine: str, tls_version: TlsVersion, suites: tuple[int, ...] | None, expect: str
) -> None:
    with s_server(tmp_path) as port:
        cfg = cfg_for(cacert=CA.cert_pem, tls_version=tls_version, ciphersuites=suites, engine=engine)
        tls, page = _page(port, cfg)
    assert expect in page
    assert (tls.info.version == "TLS 1.2") == ("TLSv1.2" in expect)
    if suites:
        assert tls.info.cipher_suite == suites[0]


@needs("openssl", "stdbuf")
def test_openssl_s_server_failures(tmp_path: Path) -> None:
    with s_server(tmp_path) as port:
        err = fails(port, cfg_for(cacert=OTHER_CA.cert_pem))
        assert triple(err) == (EspErr.ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, 0x2700, 0x08)
        err = fails(port, cfg_for(cacert=CA.cert_pem, tls_version=TlsVersion.TLS_1_2, ciphersuites=(0xC04C,)))
        assert triple(err)[0] == EspErr.ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED and triple(err)[1] in (0x7780, 0x6E00)
        assert triple(err)[2] == 0  # no certificate was sent: no flags
        tls, _ = _page(port, cfg_for(cacert=CA.cert_pem, tls_version=TlsVersion.TLS_1_3))
        session = tls.get_client_session()
        assert session is not None
        _, page = _page(port, cfg_for(cacert=CA.cert_pem, client_session=session))
    assert "Reused, TLSv1.3" in page


# --------------------------------------------------------------------------- asyncio twin


@each_engine
def test_async_get(tmp_path: Path, engine: str) -> None:
    async def main(port: int) -> tuple[AsyncEspTls, int, bytes, EspTlsError]:
        url = f"https://localhost:{port}/"
        async with await AsyncEspTls.conn_http_new_sync(url, cfg_for(cacert=CA.cert_pem, engine=engine)) as tls:
            resp = await async_request(tls, "GET", url)
            chunks = [chunk async for chunk in resp.aiter_body()]
        try:
            await AsyncEspTls.conn_new_sync("127.0.0.1", port, cfg_for(cacert=OTHER_CA.cert_pem, engine=engine))
        except EspTlsError as exc:
            return tls, resp.status, b"".join(chunks), exc
        raise AssertionError("an untrusted server was accepted")

    with stdlib_server(tmp_path) as port:
        tls, status, body, err = asyncio.run(asyncio.wait_for(main(port), 30))
    assert (status, body) == (200, BODY)
    assert tls.info.peer_subject == "CN=localhost"
    assert triple(err) == (EspErr.ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, 0x2700, 0x08)


@each_engine
def test_async_errors_and_session(tmp_path: Path, engine: str) -> None:
    async def main(port: int) -> tuple[EspTlsError, bool]:
        refused = _free_port()
        try:
            await AsyncEspTls.conn_new_sync("127.0.0.1", refused, cfg_for(cacert=CA.cert_pem, engine=engine))
        except EspTlsError as exc:
            err = exc
        cfg = cfg_for(cacert=CA.cert_pem, engine=engine)
        async with await AsyncEspTls.conn_new_sync("127.0.0.1", port, cfg) as tls:
            await tls.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            while await tls.read(511):
                pass
            session = tls.get_client_session()
        resumed_cfg = replace(cfg, client_session=session)
        async with await AsyncEspTls.conn_new_sync("127.0.0.1", port, resumed_cfg) as tls2:
            return err, tls2.info.resumed

    with stdlib_server(tmp_path) as port:
        err, resumed = asyncio.run(asyncio.wait_for(main(port), 30))
    assert triple(err) == (EspErr.ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST, 0, 0)
    assert resumed


@each_engine
def test_closed_connection_refuses_io(tmp_path: Path, engine: str) -> None:
    with stdlib_server(tmp_path) as port:
        tls = EspTls.conn_new_sync("127.0.0.1", port, cfg_for(cacert=CA.cert_pem, engine=engine))
        tls.close()
        tls.close()  # idempotent
    for call in (lambda: tls.write(b"x"), lambda: tls.read(1)):
        with pytest.raises(EspTlsError) as info:
            call()
        assert info.value.last_error.last_error == EspErr.ESP_ERR_INVALID_STATE
