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
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from certs import NOT_AFTER, Issued, at, make_ca, make_leaf
from echoserver import ServerThread
from https_request import log
from https_request.esp_tls import trust
from https_request.esp_tls.config import AddrFamily, EspTlsCfg, TlsVersion
from https_request.esp_tls.conn import AsyncEspTls, ConnState, EspTls, EspTlsTimeout, parse_url
from https_request.esp_tls.errors import EspErr, EspTlsError, LastError
from https_request.http import TruncatedBody, async_request, request
from https_request.tls.config import ServerConfig
from https_request.tls.session import TicketKeys

try:
    from https_request.esp_tls import bundle
except ImportError:  # pragma: no cover - the bundle module lands separately
    bundle = None  # type: ignore[assignment]

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
BODY = b"hello from the stdlib server\n"

POLICIES = ("webpki", "mbedtls")


# --------------------------------------------------------------------------- log capture


@pytest.fixture
def esp_log() -> Iterator[io.StringIO]:
    """ESP log lines at DEBUG (default level, so the DEBUG-only esp-tls lines print too)."""
    stream = io.StringIO()
    log.setup(log.DEBUG, stream=stream, color=False)
    yield stream
    log.setup(log.INFO)


def lines(stream: io.StringIO) -> list[str]:
    """The log lines without the ``(ms)`` timestamp: ``"E esp-tls: Failed ..."``."""
    return [re.sub(r"^([EWIDV]) \(\d+\) ", r"\1 ", line) for line in stream.getvalue().splitlines()]


@pytest.fixture(autouse=True)
def _no_global_store() -> Iterator[None]:
    trust.free_global_ca_store()
    yield
    trust.free_global_ca_store()


# --------------------------------------------------------------------------- stdlib server


class Handler(BaseHTTPRequestHandler):
    """GET/HEAD: 200 with BODY. ``/truncated``: Content-Length 100, 10 bytes, TCP close.
    ``/garbage``, ``/half-record``: a bad or half a TLS record on the raw socket, then TCP close.
    ``/empty``: 200 without a body (the ESP example's pytest server; also for the target ``FROM_STDIN``)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _head(self, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._head(len(BODY))
        self.close_connection = True

    def do_GET(self) -> None:
        self.close_connection = True
        path = urlsplit(self.path).path  # absolute-form targets too
        if path == "/truncated":
            self._head(100)
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.request.shutdown(socket.SHUT_RDWR)  # SSLSocket.shutdown: no close_notify
        elif path in ("/garbage", "/half-record"):  # raw bytes under TLS: a bad record, or half of one
            record = b"\x17\x03\x03\x00\x40" + bytes(64 if path == "/garbage" else 10)
            socket.socket.sendall(self.request, record)
            self.request.shutdown(socket.SHUT_RDWR)
        elif path in ("/empty", "FROM_STDIN"):
            self.send_response(200)
            self.end_headers()
        else:
            self._head(len(BODY))
            self.wfile.write(BODY)


@contextmanager
def stdlib_server(
    tmp_path: Path, leaf: Issued | tuple[Path, Path] = LEAF, *, max_version: ssl.TLSVersion | None = None
) -> Iterator[int]:
    """An HTTPS server (stdlib ssl + http.server) on 127.0.0.1; yields its port."""
    if isinstance(leaf, tuple):
        cert, key = leaf
    else:
        cert, key = tmp_path / f"leaf{id(leaf)}.pem", tmp_path / f"leaf{id(leaf)}.key"
        cert.write_bytes(leaf.chain_pem)
        key.write_bytes(leaf.key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if max_version is not None:
        ctx.maximum_version = max_version
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


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


def test_cacert_pem(tmp_path: Path, esp_log: io.StringIO) -> None:
    with stdlib_server(tmp_path) as port:
        tls, body = get(port, cfg_for(cacert=CA.cert_pem))
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


def test_cacert_der(tmp_path: Path) -> None:
    with stdlib_server(tmp_path) as port:
        _, body = get(port, cfg_for(cacert=CA.der))
    assert body == BODY


def test_cacert_partly_parsed(tmp_path: Path, esp_log: io.StringIO) -> None:
    junk = b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n"
    with stdlib_server(tmp_path) as port:
        _, body = get(port, cfg_for(cacert=junk + OTHER_CA.cert_pem + CA.cert_pem + b"\0"))
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


def test_global_ca_store_appends(tmp_path: Path) -> None:
    assert trust.get_global_ca_store() is None
    assert trust.set_global_ca_store(CA2.cert_pem) == EspErr.ESP_OK
    assert trust.set_global_ca_store(CA.cert_pem) == EspErr.ESP_OK  # appended, not replaced
    assert trust.get_global_ca_store() == (CA2.cert, CA.cert)
    cfg = cfg_for(use_global_ca_store=True)
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


needs_bundle = pytest.mark.skipif(bundle is None, reason="esp_tls.bundle not available")


@needs_bundle
def test_bundle(tmp_path: Path, esp_log: io.StringIO) -> None:
    blob = bundle.build_bundle([OTHER_CA.cert, CA.cert])
    with stdlib_server(tmp_path) as port:
        _, body = get(port, cfg_for(crt_bundle=blob))
    assert body == BODY
    out = lines(esp_log)
    assert "I esp-x509-crt-bundle: Certificate validated" in out
    assert "D esp-tls-mbedtls: Use certificate bundle" in out


@needs_bundle
def test_bundle_untrusted(tmp_path: Path, esp_log: io.StringIO) -> None:
    blob = bundle.build_bundle([OTHER_CA.cert])
    with stdlib_server(tmp_path) as port:
        err = fails(port, cfg_for(crt_bundle=blob))
    assert triple(err) == (EspErr.ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, 0x3000, 0xFFFFFFFF)
    out = lines(esp_log)
    assert "I esp-x509-crt-bundle: No matching trusted root certificate found" in out
    assert "E esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x3000" in out
    assert "I esp-tls-mbedtls: Failed to verify peer certificate!" in out


@needs_bundle
def test_bundle_builtin_and_invalid(tmp_path: Path, esp_log: io.StringIO) -> None:
    verifier = trust.build_verifier(EspTlsCfg(crt_bundle=True), "www.howsmyssl.com")
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


def test_insecure(tmp_path: Path, esp_log: io.StringIO) -> None:
    with stdlib_server(tmp_path, make_leaf(OTHER_CA, ["elsewhere.example"])) as port:
        _, body = get(port, cfg_for(insecure=True))
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


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("case", list(BAD_LEAVES))
def test_verification_failure(tmp_path: Path, esp_log: io.StringIO, case: str, policy: str) -> None:
    leaf, flags, code, text = BAD_LEAVES[case]
    with stdlib_server(tmp_path, leaf) as port:
        err = fails(port, cfg_for(cacert=CA.cert_pem, verify_policy=policy))
    assert triple(err) == (EspErr.ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, code, flags)
    assert text in str(err)
    assert err.last_error.name == "ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED"
    out = lines(esp_log)
    i = out.index(f"E esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x{code:04X}")
    assert out[i + 1] == "I esp-tls-mbedtls: Failed to verify peer certificate!"
    assert out[i + 2].startswith("D esp-tls-mbedtls: verification info:   ! ")
    assert out[-1] == "E esp-tls: Failed to open new connection"


def test_common_name_overrides_host(tmp_path: Path) -> None:
    with stdlib_server(tmp_path, make_leaf(CA, ["device.example"])) as port:
        _, body = get(port, cfg_for(cacert=CA.cert_pem, common_name="device.example"))
        err = fails(port, cfg_for(cacert=CA.cert_pem, common_name="other.example"))
    assert body == BODY
    assert triple(err)[2] == 0x04


@pytest.mark.parametrize("policy", POLICIES)
def test_esp_v1_certificate(tmp_path: Path, esp_log: io.StringIO, policy: str) -> None:
    """The example's self-signed v1 certificate: fine with skip_common_name, a CN mismatch without."""
    cacert = ESP_CERT.read_bytes() + b"\0"  # EMBED_TXTFILES adds the NUL
    with stdlib_server(tmp_path, (ESP_CERT, ESP_KEY)) as port:
        url = f"https://127.0.0.1:{port}/empty"
        with EspTls.conn_http_new_sync(url, cfg_for(cacert=cacert, skip_common_name=True, verify_policy=policy)) as tls:
            resp = request(tls, "GET", "FROM_STDIN", [("Host", "howsmyssl.com")])
            assert resp.status == 200 and resp.read() == b""
        assert tls.info.peer_subject == "CN=ESP32 HTTPS request example"
        err = fails(port, cfg_for(cacert=cacert, verify_policy=policy))
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


def test_handshake_timeout(esp_log: io.StringIO) -> None:
    """A server that accepts TCP and never answers: the overall timeout_ms ends it, with a warning."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        started = time.monotonic()
        with pytest.raises(EspTlsTimeout) as info:
            EspTls.conn_new_sync("127.0.0.1", listener.getsockname()[1], cfg_for(cacert=CA.cert_pem, timeout_ms=300))
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
        EspTls.conn_new_sync("127.0.0.1", 1, cfg_for(cacert=CA.cert_pem, engine="openssl"))
    assert info.value.last_error.last_error == EspErr.ESP_ERR_INVALID_ARG
    assert "engine 'openssl' not available yet" in str(info.value)


# --------------------------------------------------------------------------- sessions


def test_tls13_session_resumes(tmp_path: Path, esp_log: io.StringIO) -> None:
    cfg = cfg_for(cacert=CA.cert_pem, tls_version=TlsVersion.TLS_1_3)
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
        with EspTls.conn_http_new_sync(url, cfg_for(cacert=CA.cert_pem, client_session=session)) as tls2:
            resp = request(tls2, "GET", "/")
            assert resp.read() == BODY
    assert tls.info.version == "TLS 1.3" and not tls.info.resumed
    assert tls2.info.resumed
    out = lines(esp_log)
    assert "D esp-tls-mbedtls: Session ticket saved in the client session context" in out
    assert "D esp-tls-mbedtls: Reusing the already saved client session context" in out


def test_tls12_session_after_handshake(tmp_path: Path) -> None:
    with stdlib_server(tmp_path, max_version=ssl.TLSVersion.TLSv1_2) as port:
        with EspTls.conn_new_sync("127.0.0.1", port, cfg_for(cacert=CA.cert_pem)) as tls:
            session = tls.get_client_session()  # TLS 1.2: available right after the handshake
            assert tls.info.version == "TLS 1.2" and tls.info.cipher_suite_name.startswith("TLS_ECDHE_")
        assert session is not None and session.version == 0x0303
        with EspTls.conn_new_sync("127.0.0.1", port, cfg_for(cacert=CA.cert_pem, client_session=session)) as tls2:
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


# --------------------------------------------------------------------------- reading to the end


def test_bare_tcp_close_and_truncated_body(tmp_path: Path) -> None:
    cfg = cfg_for(cacert=CA.cert_pem)
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


def test_read_error_is_recorded(tmp_path: Path, esp_log: io.StringIO) -> None:
    with stdlib_server(tmp_path) as port, EspTls.conn_new_sync("127.0.0.1", port, cfg_for(cacert=CA.cert_pem)) as tls:
        tls.write(b"GET /garbage HTTP/1.1\r\nHost: localhost\r\n\r\n")
        with pytest.raises(EspTlsError) as info:
            while tls.read(511):
                pass
        assert info.value.last_error == tls.last_error
        assert triple(tls.get_and_clear_last_error()) == (EspErr.ESP_ERR_MBEDTLS_SSL_READ_FAILED, 0x7180, 0)
        assert not tls.last_error and tls.get_and_clear_last_error() == LastError()
    assert "E esp-tls-mbedtls: read error :-0x7180" in lines(esp_log)


def test_eof_inside_a_record_reads_as_closed(tmp_path: Path) -> None:
    """mbedTLS turns MBEDTLS_ERR_SSL_CONN_EOF into 0 even mid-record; so do we."""
    with stdlib_server(tmp_path) as port, EspTls.conn_new_sync("127.0.0.1", port, cfg_for(cacert=CA.cert_pem)) as tls:
        tls.write(b"GET /half-record HTTP/1.1\r\nHost: localhost\r\n\r\n")
        while tls.read(511):
            pass
        assert tls.read(511) == b"" and not tls.last_error


def test_head_and_options(tmp_path: Path, esp_log: io.StringIO) -> None:
    """HEAD has no body; addr_family, connect_address and the example's Host header."""
    cfg = cfg_for(cacert=CA.cert_pem, addr_family=AddrFamily.INET)
    with stdlib_server(tmp_path) as port:
        with EspTls.conn_new_sync("localhost", port, cfg) as tls:
            resp = request(tls, "HEAD", "/")
            assert resp.status == 200 and resp.header("content-length") == str(len(BODY))
            assert resp.read() == b""
        elsewhere = cfg_for(cacert=CA.cert_pem, connect_address=("127.0.0.1", port))
        with EspTls.conn_http_new_sync("https://example.test/a/check", elsewhere) as tls:
            resp = request(tls, "GET", "https://example.test/a/check")
            assert resp.read() == BODY
    out = "\n".join(lines(esp_log))
    assert re.search(r"Resolved IPv4 address: 127\.0\.0\.1", out)


# --------------------------------------------------------------------------- openssl s_server -www

OPENSSL = shutil.which("openssl")
STDBUF = shutil.which("stdbuf")


class Proc:
    """A subprocess whose output a thread collects; killed on exit."""

    def __init__(self, args: list[str]) -> None:
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._out = bytearray()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.p.stdout is not None
        while chunk := os.read(self.p.stdout.fileno(), 65536):
            with self._cond:
                self._out += chunk
                self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = re.search(pattern, self._out.decode(errors="replace"))
                if m:
                    return m
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.p.poll() is not None:
                    pytest.fail(f"{pattern!r} not in the output:\n{self._out.decode(errors='replace')}")
                self._cond.wait(min(remaining, 0.1))

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(WAIT)
        self._thread.join(WAIT)
        for stream in (self.p.stdin, self.p.stdout):
            if stream is not None:
                stream.close()


@contextmanager
def s_server(tmp_path: Path, *extra: str) -> Iterator[int]:
    assert OPENSSL is not None
    cert, key = tmp_path / "s_server.pem", tmp_path / "s_server.key"
    cert.write_bytes(LEAF.chain_pem)
    key.write_bytes(LEAF.key_pem)
    args = [OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-cert", str(cert), "-key", str(key), "-www", *extra]
    proc = Proc([STDBUF, "-o0", *args] if STDBUF else args)
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


@pytest.mark.interop
@pytest.mark.skipif(OPENSSL is None, reason="openssl binary not found")
@pytest.mark.parametrize(
    ("tls_version", "suites", "expect"),
    [
        (TlsVersion.ANY, None, "TLSv1.3, Cipher is TLS_AES_"),
        (TlsVersion.TLS_1_3, (0x1302,), "TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"),
        (TlsVersion.TLS_1_2, (0xC02B,), "TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"),
        (TlsVersion.ANY, (0xCCA9,), "TLSv1.2, Cipher is ECDHE-ECDSA-CHACHA20-POLY1305"),
    ],
    ids=["any", "tls13-suite", "tls12", "tls12-only-suite"],
)
def test_openssl_s_server(tmp_path: Path, tls_version: TlsVersion, suites: tuple[int, ...] | None, expect: str) -> None:
    with s_server(tmp_path) as port:
        tls, page = _page(port, cfg_for(cacert=CA.cert_pem, tls_version=tls_version, ciphersuites=suites))
    assert expect in page
    assert (tls.info.version == "TLS 1.2") == ("TLSv1.2" in expect)
    if suites:
        assert tls.info.cipher_suite == suites[0]


@pytest.mark.interop
@pytest.mark.skipif(OPENSSL is None, reason="openssl binary not found")
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


def test_async_get(tmp_path: Path) -> None:
    async def main(port: int) -> tuple[AsyncEspTls, int, bytes, EspTlsError]:
        url = f"https://localhost:{port}/"
        async with await AsyncEspTls.conn_http_new_sync(url, cfg_for(cacert=CA.cert_pem)) as tls:
            resp = await async_request(tls, "GET", url)
            chunks = [chunk async for chunk in resp.aiter_body()]
        try:
            await AsyncEspTls.conn_new_sync("127.0.0.1", port, cfg_for(cacert=OTHER_CA.cert_pem))
        except EspTlsError as exc:
            return tls, resp.status, b"".join(chunks), exc
        raise AssertionError("an untrusted server was accepted")

    with stdlib_server(tmp_path) as port:
        tls, status, body, err = asyncio.run(asyncio.wait_for(main(port), 30))
    assert (status, body) == (200, BODY)
    assert tls.info.peer_subject == "CN=localhost"
    assert triple(err) == (EspErr.ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, 0x2700, 0x08)


def test_async_errors_and_session(tmp_path: Path) -> None:
    async def main(port: int) -> tuple[EspTlsError, bool]:
        refused = _free_port()
        try:
            await AsyncEspTls.conn_new_sync("127.0.0.1", refused, cfg_for(cacert=CA.cert_pem))
        except EspTlsError as exc:
            err = exc
        cfg = cfg_for(cacert=CA.cert_pem)
        async with await AsyncEspTls.conn_new_sync("127.0.0.1", port, cfg) as tls:
            await tls.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            while await tls.read(511):
                pass
            session = tls.get_client_session()
        resumed_cfg = cfg_for(cacert=CA.cert_pem, client_session=session)
        async with await AsyncEspTls.conn_new_sync("127.0.0.1", port, resumed_cfg) as tls2:
            return err, tls2.info.resumed

    with stdlib_server(tmp_path) as port:
        err, resumed = asyncio.run(asyncio.wait_for(main(port), 30))
    assert triple(err) == (EspErr.ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST, 0, 0)
    assert resumed


def test_closed_connection_refuses_io(tmp_path: Path) -> None:
    with stdlib_server(tmp_path) as port:
        tls = EspTls.conn_new_sync("127.0.0.1", port, cfg_for(cacert=CA.cert_pem))
        tls.close()
        tls.close()  # idempotent
    for call in (lambda: tls.write(b"x"), lambda: tls.read(1)):
        with pytest.raises(EspTlsError) as info:
            call()
        assert info.value.last_error.last_error == EspErr.ESP_ERR_INVALID_STATE
