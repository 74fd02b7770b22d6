"""``serve``'s HTTP as each howsmyssl.com server spoke it (issue 13).

HTTP/2: ALPN h2 then http/1.1 with ``--schema 2026``, as howsmyssl.com negotiates it today;
HTTP/1.x only with the classic schema, as the classic server. The bodies are the HTTP/1.1 ones byte for
byte, for curl ``--http2``, nghttp and a client on the ``h2`` library; the server's bounds hold
against floods of frames, streams and headers; the HTTP/1.1 path never imports h2.

HTTP/2 below TLS 1.2 or on a suite RFC 9113 Appendix A prohibits: h2 is negotiated (howsmyssl's
TLS fork chooses ALPN from the lists alone, tls1266/handshake_server.go ``negotiateALPN``) and the
connection then gets nothing but GOAWAY INADEQUATE_SECURITY from Go's HTTP/2 server, which sees the
real version and suite through howhttp.Conn's ``ConnectionState`` (vendored x/net/http2 server.go
``ServeConn``: "TLS version too low", "Prohibited TLS 1.2 Cipher Suite: %x"; no
``PermitProhibitedCipherSuites`` in howhttp/server.go).

HTTP/1.x headers per schema (facts from jmhodges/howsmyssl's howsmyssl.go, 2026-08 and 2026-04):
the plain-HTTP redirect, Connection on HTTP/1.0 answers, JSONP, gzip with a Content-Length.

Servers (module fixtures, stopped with SIGTERM, which must exit 0): ``modern``: ``--schema 2026
--now 2026-07-01T00:00:00Z --http-port 0``; ``classic``: ``--http-port 0``.
"""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest

from https_request.server.h2conn import inadequate_security
from procs import needs, tool
from serveproc import REPO, WAIT, Serve, running
from test_serve import HOST, _parse_response, curl, python_get, read_to_close

pytestmark = pytest.mark.timeout(60)
CALM = 11  # ENHANCE_YOUR_CALM
NOW = "2026-07-01T00:00:00Z"


@pytest.fixture(scope="module")
def modern(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    yield from running(["--schema", "2026", "--now", NOW, "--http-port", "0"], tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def classic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    yield from running(["--http-port", "0"], tmp_path_factory.mktemp("state"))


# ------------------------------------------------------------------ an h2 client


class H2Client:
    """One TLS connection with ALPN h2 from stdlib ssl, spoken through the h2 library."""

    def __init__(self, srv: Serve, settings: dict[int, int] | None = None) -> None:
        ctx = ssl.create_default_context(cafile=srv.ca)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT)
        self.sock = ctx.wrap_socket(raw, server_hostname=HOST)
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self.events: list[h2.events.Event] = []

    def flush(self) -> None:
        self.sock.sendall(self.conn.data_to_send())

    def request(self, sid: int, path: str, *extra: tuple[str, str], end: bool = True) -> None:
        headers = [(":method", "GET"), (":path", path), (":scheme", "https"), (":authority", HOST), *extra]
        self.conn.send_headers(sid, headers, end_stream=end)

    def read_all(self, acknowledge: bool = True) -> list[h2.events.Event]:
        """Events until the server closes (bounded by WAIT); DATA acknowledged as it comes."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except (ssl.SSLEOFError, ConnectionResetError):
                data = b""
            if not data:
                return self.events
            for event in self.conn.receive_data(data):
                self.events.append(event)
                if acknowledge and isinstance(event, h2.events.DataReceived) and event.flow_controlled_length:
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            out = self.conn.data_to_send()
            if out:
                try:
                    self.sock.sendall(out)
                except OSError:
                    pass
        raise AssertionError("the server did not close the connection")

    def response(self, sid: int) -> tuple[int, dict[str, str], bytes]:
        headers: dict[str, str] = {}
        body = b""
        for event in self.events:
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == sid:
                headers = {str(k): str(v) for k, v in event.headers}
            elif isinstance(event, h2.events.DataReceived) and event.stream_id == sid:
                body += event.data
        return int(headers.pop(":status", "0")), headers, body

    def goaway(self) -> h2.events.ConnectionTerminated:
        ended = [e for e in self.events if isinstance(e, h2.events.ConnectionTerminated)]
        assert len(ended) == 1, self.events
        return ended[0]

    def close(self) -> None:
        self.sock.close()


def h2_get(srv: Serve, path: str, *extra: tuple[str, str]) -> tuple[int, dict[str, str], bytes]:
    client = H2Client(srv)
    try:
        client.request(1, path, *extra)
        client.flush()
        client.read_all()
        goaway = client.goaway()
        assert (goaway.error_code, goaway.last_stream_id) == (0, 1)  # Go's graceful end after Connection: close
        return client.response(1)
    finally:
        client.close()


def h1_get(srv: Serve, path: str) -> tuple[int, dict[str, str], bytes]:
    """The same stdlib client, over HTTP/1.1."""
    return _parse_response(python_get(srv, f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()))


# ------------------------------------------------------------------ the same answers


@pytest.mark.parametrize("path", ["/a/check", "/a/check?callback=cb", "/", "/healthcheck", "/nope"])
def test_h2_client_gets_the_http11_body(modern: Serve, path: str) -> None:
    status1, headers1, body1 = h1_get(modern, path)
    status2, headers2, body2 = h2_get(modern, path)
    assert (status2, body2) == (status1, body1) and body1
    assert "connection" not in headers2 and headers1["connection"] == "close"  # h2: GOAWAY instead
    if path.startswith("/a/check"):
        assert headers2["content-length"] == headers1["content-length"] == str(len(body1))
        assert headers2["strict-transport-security"] == headers1["strict-transport-security"]


def test_h2_gzip_has_a_content_length(modern: Serve) -> None:
    _, _, plain = h2_get(modern, "/a/check")
    status, headers, body = h2_get(modern, "/a/check", ("accept-encoding", "gzip"))
    assert status == 200 and headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding"
    assert int(headers["content-length"]) == len(body) and gzip.decompress(body) == plain


def test_h2_flow_control_small_window(modern: Serve) -> None:
    """A client window of 100 bytes: the page comes in DATA frames of at most 100 bytes, whole."""
    _, _, page = h1_get(modern, "/")
    client = H2Client(modern, {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 100})
    try:
        client.request(1, "/")
        client.flush()
        client.read_all()
        frames = [e.flow_controlled_length for e in client.events if isinstance(e, h2.events.DataReceived)]
        assert client.response(1)[2] == page and len(frames) >= len(page) // 100 and max(frames) <= 100
    finally:
        client.close()


@needs("curl")
def test_curl_http2_gets_the_http11_body(modern: Serve) -> None:
    for path in ("/a/check", "/"):
        status2, headers2, body2 = curl(modern, path, "--http2")
        status1, headers1, body1 = curl(modern, path, "--http1.1")
        assert (status2, body2) == (status1, body1) == (200, body1) and body1
        assert "connection" not in headers2 and headers1["connection"] == "close"
    raw = subprocess.run(
        [tool("curl"), "-sS", "--http2", "-w", "%{http_version}", "-o", "/dev/null", "--cacert", modern.ca,
         "--resolve", f"{HOST}:{modern.port}:127.0.0.1", f"https://{HOST}:{modern.port}/a/check"],
        capture_output=True, timeout=WAIT, check=True,
    ).stdout  # fmt: skip
    assert raw == b"2"
    mark = modern.log_mark()
    curl(modern, "/a/check", "--http2")
    assert 'proto=h2 request="GET /a/check" status=200' in modern.wait_log(r"proto=h2 .*", mark).group(0)


@needs("nghttp")
def test_nghttp(modern: Serve) -> None:
    """nghttp (nghttp2's client, its own TLS set-up): the rating of its hello, the page with the same
    rating, our SETTINGS and the graceful GOAWAY."""
    base = f"https://localhost:{modern.port}"
    body = subprocess.run([tool("nghttp"), f"{base}/a/check"], capture_output=True, timeout=WAIT, check=True).stdout
    result = json.loads(body)
    assert result["tls_version"] == "TLS 1.3" and result["given_cipher_suites"]
    page = subprocess.run([tool("nghttp"), f"{base}/"], capture_output=True, timeout=WAIT, check=True).stdout
    assert b'id="rating" class="' in page and f">{result['rating']}</span>".encode() in page
    verbose = subprocess.run([tool("nghttp"), "-nv", f"{base}/a/check"], capture_output=True, timeout=WAIT,
                             check=True).stdout  # fmt: skip
    assert b"SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100" in verbose and b"error_code=NO_ERROR" in verbose


@needs("curl")
def test_classic_offers_no_h2(classic: Serve) -> None:
    """The classic server spoke HTTP/1.1 only: curl --http2 gets it (ALPN http/1.1)."""
    status, headers, body = curl(classic, "/a/check", "--http2")
    assert status == 200 and headers["connection"] == "close" and json.loads(body)["rating"]
    status, headers, body = curl(classic, "/tls", "--http2")
    assert json.loads(body)["alpn"] == "http/1.1"


# ------------------------------------------------------------------ h2 on TLS that HTTP/2 prohibits


def _goaway(frame: bytes) -> tuple[int, int, bytes]:
    """(last stream id, error code, debug data) of ``frame``, which must be one GOAWAY frame and nothing else."""
    assert len(frame) >= 17 and frame[3] == 7 and frame[5:9] == bytes(4), frame[:32]  # GOAWAY on stream 0
    assert int.from_bytes(frame[:3], "big") == len(frame) - 9, frame  # ... and nothing after it
    return int.from_bytes(frame[9:13], "big"), int.from_bytes(frame[13:17], "big"), frame[17:]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    ("version", "cipher", "refusal"),
    [
        (ssl.TLSVersion.TLSv1, "AES128-SHA", b"TLS version too low"),
        (ssl.TLSVersion.TLSv1_1, "ECDHE-RSA-AES128-SHA", b"TLS version too low"),
        (ssl.TLSVersion.TLSv1_2, "AES128-SHA", b"Prohibited TLS 1.2 Cipher Suite: 2f"),
        (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES256-SHA", b"Prohibited TLS 1.2 Cipher Suite: c014"),
        (ssl.TLSVersion.TLSv1_2, "AES256-GCM-SHA384", b"Prohibited TLS 1.2 Cipher Suite: 9d"),
        (ssl.TLSVersion.TLSv1_2, "AES128-SHA256", b"Prohibited TLS 1.2 Cipher Suite: 3c"),
        (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-GCM-SHA256", b""),
    ],
    ids=["tls1.0", "tls1.1", "rsa-cbc", "ecdhe-cbc", "rsa-gcm", "rsa-cbc-sha256", "ecdhe-gcm-allowed"],
)
def test_h2_on_prohibited_tls_gets_inadequate_security(modern: Serve, version: ssl.TLSVersion, cipher: str,
                                                       refusal: bytes) -> None:  # fmt: skip
    """RFC 9113 9.2 as Go's HTTP/2 server applies it: h2 is selected, then the server's only
    frame is GOAWAY(0, INADEQUATE_SECURITY, Go's text), no SETTINGS; an allowed suite gets SETTINGS."""
    ctx = ssl.create_default_context(cafile=modern.ca)
    ctx.minimum_version = ctx.maximum_version = version
    ctx.set_ciphers(f"{cipher}:@SECLEVEL=0")
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    mark = modern.log_mark()
    with socket.create_connection(("127.0.0.1", modern.port), timeout=WAIT) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOST) as tls:
            assert tls.selected_alpn_protocol() == "h2" and tls.cipher()[0] == cipher
            if not refusal:
                first = tls.recv(9)
                assert first[3] == 4 and first[4] == 0, first  # the server preface: SETTINGS
                return
            tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")  # (the client's preface changes nothing)
            assert _goaway(read_to_close(tls)) == (0, 12, refusal)  # 12: INADEQUATE_SECURITY
    assert f'error="h2: INADEQUATE_SECURITY ({refusal.decode()})"' in modern.wait_log(r"proto=h2 .*", mark).group(0)


@needs("openssl", "curl")
def test_legacy_clients_offering_h2(modern: Serve) -> None:
    """``openssl s_client -tls1 -alpn h2`` and on a CBC suite at TLS 1.2: h2, then the GOAWAY alone.
    curl at TLS 1.0 offers h2 by default: no answer, as from howsmyssl.com; ``--http1.1`` gets the rating."""
    for args, refusal in ((["-tls1"], b"TLS version too low"),
                          (["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"],
                           b"Prohibited TLS 1.2 Cipher Suite: c013")):  # fmt: skip
        done = subprocess.run(
            [tool("openssl"), "s_client", "-connect", f"127.0.0.1:{modern.port}", "-servername", HOST, "-CAfile",
             modern.ca, "-alpn", "h2", "-quiet", "-cipher", "DEFAULT:@SECLEVEL=0", *args],
            capture_output=True, timeout=WAIT, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert _goaway(done.stdout) == (0, 12, refusal), done.stderr[-600:]
    base = [tool("curl"), "-sS", "-v", "--max-time", "15", "--tlsv1.0", "--tls-max", "1.0", "--ciphers",
            "DEFAULT@SECLEVEL=0", "--cacert", modern.ca, "--resolve", f"{HOST}:{modern.port}:127.0.0.1",
            f"https://{HOST}:{modern.port}/a/check"]  # fmt: skip
    done = subprocess.run(base, capture_output=True, timeout=WAIT, check=False)
    assert b"ALPN: server accepted h2" in done.stderr and done.returncode != 0 and not done.stdout, done.stderr
    done = subprocess.run([*base, "--http1.1"], capture_output=True, timeout=WAIT, check=True)
    result = json.loads(done.stdout)
    assert result["tls_version"] == "TLS 1.0" and result["rating"] == "Bad"


def test_inadequate_security_follows_rfc9113_appendix_a() -> None:
    """Appendix A lists every TLS 1.2 suite but (EC)DHE with an AEAD; TLS 1.3 suites are fine."""
    for suite in (0x1301, 0x1303, 0xC02F, 0xC02C, 0xCCA8, 0xCCA9, 0xC0AC):  # TLS 1.3, ECDHE GCM/ChaCha/CCM
        assert inadequate_security(0x0303, suite) == "", hex(suite)
    for suite in (0x002F, 0x0035, 0x009C, 0x000A, 0x0005, 0xC013, 0xC027, 0xC011, 0xC009):
        assert inadequate_security(0x0303, suite) == f"Prohibited TLS 1.2 Cipher Suite: {suite:x}"
    assert inadequate_security(0x0302, 0xC02F) == inadequate_security(0x0301, 0x1301) == "TLS version too low"


# ------------------------------------------------------------------ HTTP/1.x headers per schema


def plain_http(srv: Serve, request: bytes) -> bytes:
    """One request to the plain-HTTP listener, read to the server's close."""
    assert srv.http_port is not None
    with socket.create_connection(("127.0.0.1", srv.http_port), timeout=WAIT) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def test_plain_http_redirect_per_schema(classic: Serve, modern: Serve) -> None:
    """2026 (commonRedirect since 2026-05): Vary: Accept, and {} for a client that accepts JSON. Classic:
    Go's http.Redirect alone: no Vary, the HTML link whatever the Accept header."""
    request = b"GET /a/check?x=1 HTTP/1.1\r\nHost: h\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    link = b'<a href="https://www.howsmyssl.com/a/check?x=1">Moved Permanently</a>.\n\n'
    status, headers, body = _parse_response(plain_http(classic, request))
    assert (status, body, headers["content-type"]) == (301, link, "text/html; charset=utf-8")
    assert "vary" not in headers and headers["content-length"] == str(len(link))
    status, headers, body = _parse_response(plain_http(modern, request))
    assert (status, body, headers["content-type"], headers["vary"]) == (301, b"{}", "application/json", "Accept")
    # HEAD: the Content-Type of GET, no body and (nothing written) no Content-Length
    raw = plain_http(classic, b"HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    status, headers, body = _parse_response(raw)
    assert (status, body, headers["content-type"]) == (301, b"", "text/html; charset=utf-8")
    assert "content-length" not in headers


def test_http10_connection_header_per_schema(classic: Serve, modern: Serve) -> None:
    """The classic server set Connection: close for HTTP/1.1 requests only, and Go sends none on an
    HTTP/1.0 answer; the 2026 one sets it on every answer, and Go keeps it."""
    request = f"GET /a/check HTTP/1.0\r\nHost: {HOST}\r\n\r\n".encode()
    raw = python_get(classic, request)
    status, headers, body = _parse_response(raw)
    assert raw.startswith(b"HTTP/1.0 200 OK\r\n") and "connection" not in headers and json.loads(body)["rating"]
    assert headers["content-length"] == str(len(body))
    status, headers, _ = _parse_response(python_get(modern, request))
    assert status == 200 and headers["connection"] == "close"
    status, headers, _ = h1_get(classic, "/a/check")  # HTTP/1.1: both
    assert headers["connection"] == "close"


@pytest.mark.parametrize("schema", ["classic", "2026"])
def test_jsonp_and_gzip_per_schema(classic: Serve, modern: Serve, schema: str) -> None:
    """?callback= (sanitised to letters and digits) wraps the JSON, 200 even for a refused origin; a
    gzipped answer that fits Go's buffer has a Content-Length, not chunks."""
    srv = classic if schema == "classic" else modern
    _, _, plain = h1_get(srv, "/a/check")
    status, headers, body = h1_get(srv, "/a/check?callback=my_cb-1")
    assert (status, headers["content-type"]) == (200, "application/javascript")
    assert body == b"mycb1(" + plain + b");" and headers["content-length"] == str(len(body))
    request = f"GET /a/check?callback=x HTTP/1.1\r\nHost: {HOST}\r\nOrigin: null\r\n\r\n".encode()
    status, _, body = _parse_response(python_get(srv, request))
    assert status == 200 and body.startswith(b'x({"error": "See tls_version') and body.endswith(b"});")
    request = f"GET /a/check HTTP/1.1\r\nHost: {HOST}\r\nAccept-Encoding: gzip\r\n\r\n".encode()
    status, headers, body = _parse_response(python_get(srv, request))
    assert headers["content-encoding"] == "gzip" and "transfer-encoding" not in headers
    assert int(headers["content-length"]) == len(body) and gzip.decompress(body) == plain


def test_strict_classic_refuses_tls13(tmp_path_factory: pytest.TempPathFactory) -> None:
    """--strict-howsmyssl with the classic schema is the classic server, a Go 1.10 fork without TLS 1.3:
    a TLS 1.3-only client gets protocol_version, the others TLS 1.2. The default (any host) keeps 1.3."""
    for srv in running(["--strict-howsmyssl"], tmp_path_factory.mktemp("state")):
        ctx = ssl.create_default_context(cafile=srv.ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as raw:
            with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"):
                ctx.wrap_socket(raw, server_hostname=HOST)
        status, _, body = h1_get(srv, "/tls")
        assert status == 200 and json.loads(body)["protocol"] == "TLS 1.2"
    for srv in running(["--strict-howsmyssl", "--tls-version", "1.3"], tmp_path_factory.mktemp("state")):
        assert json.loads(h1_get(srv, "/tls")[2])["protocol"] == "TLS 1.3"  # (asked for by name)


# ------------------------------------------------------------------ bounds


def test_client_leaving_mid_request(modern: Serve) -> None:
    """A client that closes with a request half sent: the connection ends, logged, the server serves on."""
    mark = modern.log_mark()
    client = H2Client(modern)
    client.request(1, "/a/check", end=False)
    client.flush()
    client.sock.shutdown(socket.SHUT_WR)  # a TCP FIN (a close with unread bytes would be a reset)
    deadline = time.monotonic() + WAIT
    while client.sock.recv(65536) and time.monotonic() < deadline:  # (raw bytes now) until the server closes
        pass
    client.close()
    line = modern.wait_log(r"proto=h2 .*ms=", mark).group(0)
    assert 'error="closed before a request"' in line and "status=" not in line
    assert h2_get(modern, "/healthcheck")[0] == 200


def test_ping_flood_ends_with_enhance_your_calm(modern: Serve) -> None:
    client = H2Client(modern)
    try:
        for n in range(5000):
            client.conn.ping(n.to_bytes(8, "big"))
        client.flush()
        client.read_all()
        assert client.goaway().error_code == CALM
    finally:
        client.close()
    h2_get(modern, "/healthcheck")  # still serving


def test_rapid_reset_ends_with_enhance_your_calm(modern: Serve) -> None:
    """Streams opened and reset at once, never answered: the connection ends after 1000."""
    client = H2Client(modern)
    try:
        for n in range(1100):
            sid = 2 * n + 1
            client.request(sid, "/", end=False)
            client.conn.reset_stream(sid)
        client.flush()
        client.read_all()
        assert client.goaway().error_code == CALM
        assert client.response(1)[0] == 0  # nothing was answered
    finally:
        client.close()


def test_oversized_header_list_and_too_many_streams(modern: Serve) -> None:
    client = H2Client(modern)
    try:
        client.request(1, "/a/check", ("x-big", "a" * 70000))
        client.flush()
        client.read_all()
        assert client.goaway().error_code == CALM and client.response(1)[0] == 0
    finally:
        client.close()
    client = H2Client(modern)
    try:
        for n in range(101):  # one over our SETTINGS_MAX_CONCURRENT_STREAMS, sent before the client read it
            client.request(2 * n + 1, "/", end=False)
        client.flush()
        client.read_all()
        assert client.goaway().error_code != 0 and client.response(1)[0] == 0
    finally:
        client.close()


def test_request_body_over_the_limit_is_413(modern: Serve) -> None:
    """A POST body over 64 KiB (the window given back as it arrives): 413, as HTTP/1.1 answers it."""
    client = H2Client(modern)
    try:
        client.conn.send_headers(1, [(":method", "POST"), (":path", "/a/check"), (":scheme", "https"),
                                     (":authority", HOST)])  # fmt: skip
        sent = 0
        deadline = time.monotonic() + WAIT
        while sent <= 70000 and time.monotonic() < deadline:
            room = min(client.conn.local_flow_control_window(1), 16000)
            if room:
                client.conn.send_data(1, b"x" * room)
                sent += room
                client.flush()
            else:  # wait for the server's WINDOW_UPDATE
                client.events += client.conn.receive_data(client.sock.recv(65536))
        client.read_all()
        assert client.response(1)[0] == 413
    finally:
        client.close()


def test_http11_never_imports_h2() -> None:
    """The HTTP/1.1 path stays as it was: the connection module loads no h2 (it is imported when a client picks it)."""
    code = "import sys, https_request.server.connections, https_request.server.serve_cli; print('h2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT, cwd=REPO)
    assert out.stdout.strip() == "False", out.stderr
