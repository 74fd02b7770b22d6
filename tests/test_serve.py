"""``https-request serve`` end to end: the server runs as a subprocess (``--port 0``) and is
driven by curl, ``openssl s_client``, ``gnutls-cli``, Python's ssl module and our own client.

Three servers are shared by the module (each started once, stopped with SIGTERM at the end,
which must exit 0):

* ``plain``: the defaults plus ``--http-port 0`` (classic schema);
* ``strict``: ``--strict-howsmyssl --handshake-timeout 1 --schema 2026 --now ...``;
* ``pool``: ``--workers 2 --early-data --ticket-keys FILE``.

The state folder (local CA and certificate) is a temporary ``XDG_STATE_HOME``. Every wait is
bounded. The idle-connections test prints the server's memory per connection (run with ``-s``).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import socket
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from https_request.howsmyssl import rating
from https_request.io.blocking import connect
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import ClientConfig
from https_request.tls.enums import ProtocolVersion
from https_request.tls.events import NEED_DATA, ApplicationData, HandshakeComplete, SessionTicketReceived
from https_request.tls.session import Session
from https_request.tls.verify import make_verifier
from procs import needs, tool
from serveproc import REPO, WAIT, Serve, running

HOST = "www.howsmyssl.com"
NOW_2026 = "2026-07-01T00:00:00Z"
TLS12, TLS13 = ProtocolVersion.TLS1_2, ProtocolVersion.TLS1_3

needs_curl = needs("curl")
needs_openssl = needs("openssl")
needs_gnutls = needs("gnutls-cli")

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def plain(state: Path) -> Iterator[Serve]:
    yield from running(["--http-port", "0"], state)


@pytest.fixture(scope="module")
def keylog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keylog") / "keys.log"


@pytest.fixture(scope="module")
def strict(state: Path, keylog: Path) -> Iterator[Serve]:
    args = ["--strict-howsmyssl", "--handshake-timeout", "1", "--schema", "2026", "--now", NOW_2026]
    yield from running([*args, "--keylog", str(keylog)], state)


@pytest.fixture(scope="module")
def pool(state: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    keys = tmp_path_factory.mktemp("keys") / "ticket-keys"
    yield from running(["--workers", "2", "--early-data", "--ticket-keys", str(keys)], state)


# ------------------------------------------------------------------ clients


def curl(srv: Serve, url_path: str, *extra: str, host: str = HOST) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of one curl request."""
    url = f"https://{host}:{srv.port}{url_path}"
    args = [tool("curl"), "-sS", "-i", "--max-time", "15", "--cacert", srv.ca,
            "--resolve", f"{host}:{srv.port}:127.0.0.1"]  # fmt: skip
    out = subprocess.run([*args, *extra, url], capture_output=True, timeout=WAIT, check=True).stdout
    return _parse_response(out)


def _parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def _ca(srv: Serve) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(srv.ca).read_bytes())


def client_config(srv: Serve, versions: tuple[int, ...] = (TLS13,), **kw: object) -> ClientConfig:
    return ClientConfig(verifier=make_verifier([_ca(srv)]), versions=versions, **kw)  # type: ignore[arg-type]


def our_get(
    srv: Serve, config: ClientConfig, path: str = "/tls", session: Session | None = None, early: bool = False
) -> tuple[int, dict[str, str], bytes, Session | None, bool]:
    """One request with our client: (status, headers, body, newest session, early data accepted)."""
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    with connect("127.0.0.1", srv.port, config, HOST, session, timeout=WAIT, handshake=not early) as tls:
        if early:
            tls.start()
            tls.send(request)
            tls.handshake()
        else:
            tls.send(request)
        raw = b""
        while chunk := tls.recv():
            raw += chunk
        accepted = tls.conn.early_data_accepted
        newest = tls.session
    status, headers, body = _parse_response(raw)
    return status, headers, body, newest, accepted


def read_to_close(tls: ssl.SSLSocket) -> bytes:
    """What the server sends on ``tls`` until it closes (close_notify, a bare EOF or a reset)."""
    out = b""
    while True:
        try:
            chunk = tls.recv(65536)
        except (ssl.SSLEOFError, ConnectionResetError):
            return out
        if not chunk:
            return out
        out += chunk


def python_get(srv: Serve, request: bytes, maximum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3) -> bytes:
    ctx = ssl.create_default_context(cafile=srv.ca)
    ctx.maximum_version = maximum
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOST) as tls:
            tls.sendall(request)
            out = read_to_close(tls)
    return out


def still_serving(srv: Serve) -> None:
    req = f"GET /tls HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    status, _, body = _parse_response(python_get(srv, req))
    assert status == 200 and json.loads(body)["protocol"] == "TLS 1.3"


def client_hello_of(config: ClientConfig) -> bytes:
    """The ClientHello message our client sends with ``config`` (random and key shares differ per
    connection, nothing the rating reads does)."""
    conn = ClientConnection(config, HOST)
    conn.start_handshake()
    flight = conn.data_to_send()
    assert flight[0] == 0x16 and int.from_bytes(flight[3:5], "big") == len(flight) - 5
    return flight[5:]


# ------------------------------------------------------------------ howsmyssl and routing


@needs_curl
def test_curl_a_check(plain: Serve) -> None:
    status, headers, body = curl(plain, "/a/check")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert headers["access-control-allow-origin"] == "*"
    assert headers["strict-transport-security"] == rating_hsts()
    assert headers["vary"] == "Accept-Encoding"
    assert int(headers["content-length"]) == len(body)
    result = json.loads(body)
    assert list(result)[:2] == ["given_cipher_suites", "ephemeral_keys_supported"]  # classic schema order
    assert "TLS_AES_128_GCM_SHA256" in result["given_cipher_suites"]
    assert result["tls_version"] == "TLS 1.3"
    assert body == json.dumps(result, separators=(",", ":")).encode() and not body.endswith(b"\n")


def rating_hsts() -> str:
    return "max-age=631138519; includeSubdomains; preload"


def test_a_check_byte_exact_classic(plain: Serve) -> None:
    """Our client: the body is rating.to_json of the ClientHello it sends, byte for byte."""
    for versions, negotiated in (((TLS13, TLS12), TLS13), ((TLS12,), TLS12)):
        config = client_config(plain, versions)
        status, _, body, _, _ = our_get(plain, config, "/a/check")
        expected = rating.check(
            client_hello_of(config), negotiated_version=negotiated, schema="classic", now=datetime.now(UTC)
        )
        assert status == 200 and body == rating.to_json(expected), body


def test_a_check_byte_exact_2026_with_fixed_clock(strict: Serve) -> None:
    config = client_config(strict, (TLS12,))
    status, _, body, _, _ = our_get(strict, config, "/a/check")
    now = datetime.fromisoformat(NOW_2026.replace("Z", "+00:00"))
    expected = rating.check(client_hello_of(config), negotiated_version=TLS12, schema="2026", now=now)
    assert status == 200 and body == rating.to_json(expected)
    result = json.loads(body)
    assert "given_named_groups" in result and result["rating"] == "Improvable"  # TLS 1.2 after 2026-06-14


def test_clients_get_their_own_ratings(strict: Serve) -> None:
    """serve keeps rendered ratings by what the rating reads: three clients that differ only in
    their groups or versions, interleaved twice, each get the rating of their own hello."""
    from https_request.tls.enums import NamedGroup

    now = datetime.fromisoformat(NOW_2026.replace("Z", "+00:00"))
    x25519 = (NamedGroup.x25519,)
    clients = [
        (client_config(strict), TLS13),
        (client_config(strict, groups=x25519, key_share_groups=x25519), TLS13),
        (client_config(strict, (TLS12,)), TLS12),
    ]
    bodies = []
    for _ in range(2):
        for config, version in clients:
            status, _, body, _, _ = our_get(strict, config, "/a/check")
            expected = rating.check(client_hello_of(config), negotiated_version=version, schema="2026", now=now)
            assert status == 200 and body == rating.to_json(expected)
            bodies.append(body)
    assert len(set(bodies)) == 3


def test_esp32_example_gets_the_published_answer(plain: Serve) -> None:
    """The ESP32's own ClientHello (esp32-mbedtls profile) and request line: the body is, byte for byte,
    what howsmyssl.com sent that device in 2024 (ESP-IDF's README), with the same Content-Length."""
    from https_request.tls.profiles import client_config as profile_config

    published = (REPO / "tests" / "data" / "howsmyssl" / "esp-idf-2024-02-check.json").read_bytes()
    config = profile_config("esp32-mbedtls", verifier=make_verifier([_ca(plain)]))
    request = f"GET https://{HOST}/a/check HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: esp-idf/1.0 esp32\r\n\r\n"
    with connect("127.0.0.1", plain.port, config, HOST, timeout=WAIT) as tls:
        tls.send(request.encode())
        raw = b""
        while chunk := tls.recv():
            raw += chunk
    _, headers, body = _parse_response(raw)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and headers["connection"] == "close"
    assert headers["content-length"] == "2545" and body == published


@needs_curl
def test_jsonp_gzip_head_http10_and_html(plain: Serve) -> None:
    status, headers, body = curl(plain, "/a/check?callback=my_cb.x1", "--compressed", "--http1.1")
    assert status == 200 and headers["content-type"] == "application/javascript"
    # Go's framing: a body that fits its 2 KiB buffer gets a Content-Length, gzipped or not
    assert headers["content-encoding"] == "gzip" and "transfer-encoding" not in headers
    assert body.startswith(b"mycbx1({") and body.endswith(b"});")
    status, headers, raw = curl(plain, "/a/check?callback=my_cb.x1", "-H", "Accept-Encoding: gzip", "--http1.1")
    assert int(headers["content-length"]) == len(raw) <= 2048 and gzip.decompress(raw) == body
    status, headers, body = curl(plain, "/a/check", "-H", "Accept-Encoding: gzip", "-0")
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["rating"]
    status, headers, body = curl(plain, "/", "-I")
    assert status == 200 and headers["content-type"] == "text/html;charset=utf-8" and body == b""
    status, headers, body = curl(plain, "/")
    assert status == 200 and b"TLS client check" in body and int(headers["content-length"]) == len(body)
    status, headers, body = curl(plain, "/nope", "-0")
    assert status == 404 and body == b"404 Not Found\n" and headers["x-content-type-options"] == "nosniff"
    status, _, body = curl(plain, "/a/check", "-H", "Origin: null")
    assert status == 400 and json.loads(body)["tls_version"].startswith("Err 0")


def test_http10_status_line(plain: Serve) -> None:
    raw = python_get(plain, f"GET /a/check HTTP/1.0\r\nHost: {HOST}\r\n\r\n".encode())
    assert raw.startswith(b"HTTP/1.0 200 OK\r\n")


@needs_curl
def test_every_host_gets_the_howsmyssl_answers(plain: Serve) -> None:
    """Issue 13: a person who opens https://127.0.0.1:PORT/a/check gets the rating, not an empty 200;
    the answer does not depend on the host (the same client gets the same bytes on each)."""
    answers = {}
    for host in (HOST, "localhost", "127.0.0.1"):
        status, headers, body = curl(plain, "/a/check", host=host)
        assert status == 200 and headers["strict-transport-security"] == rating_hsts(), host
        answers[host] = body
        status, headers, page = curl(plain, "/", host=host)
        assert status == 200 and headers["content-type"] == "text/html;charset=utf-8" and b"<html" in page, host
    assert len(set(answers.values())) == 1 and json.loads(answers[HOST])["rating"]
    # the ESP-IDF example's absolute-form request line: its host does not matter either
    raw = python_get(plain, f"GET https://example.org/a/check HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and b'"given_cipher_suites"' in raw


@needs_curl
def test_target_from_stdin_gets_esp_local_answer(plain: Serve) -> None:
    """ESP-IDF's CI sends the literal request target FROM_STDIN: the local server's 200 with no body."""
    status, headers, body = curl(plain, "/a/check", "--request-target", "FROM_STDIN")
    assert (status, body) == (200, b"") and headers["connection"] == "close"
    assert "strict-transport-security" not in headers


def test_esp_local_server_answers_200_without_body(tmp_path: Path) -> None:
    """--esp-local-server: the role of ESP-IDF's pytest local server, whatever the path or host
    (the example asks for its URL's "/"); /tls still says what the server saw."""
    for srv in running(["--esp-local-server"], tmp_path):
        for target, host in (("/", "127.0.0.1"), ("/a/check", HOST), ("https://127.0.0.1/", HOST)):
            raw = python_get(srv, f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status, headers, body = _parse_response(raw)
            assert (status, body, headers["connection"], headers["content-length"]) == (200, b"", "close", "0")
            assert "strict-transport-security" not in headers and raw.startswith(b"HTTP/1.1 200 OK\r\n")
        status, _, body = _parse_response(python_get(srv, f"GET /tls HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()))
        assert status == 200 and json.loads(body)["alpn"] is None


@needs_curl
def test_strict_howsmyssl_redirects_other_hosts(strict: Serve) -> None:
    status, headers, body = curl(strict, "/a/check?x=1", host="localhost")
    assert status == 301 and headers["location"] == "https://www.howsmyssl.com/a/check?x=1"
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert body == b'<a href="https://www.howsmyssl.com/a/check?x=1">Moved Permanently</a>.\n\n'
    assert headers["vary"] == "Accept"  # the 2026 server's (curl took HTTP/2: no Connection header)
    status, headers, body = curl(strict, "/", "-H", "Accept: text/plain, application/json", host="localhost")
    assert (status, headers["content-type"], body) == (301, "application/json", b"{}")
    status, headers, _ = curl(strict, "/", host="127.0.0.1")
    assert status == 301 and headers["location"] == "https://www.howsmyssl.com/"
    status, _, _ = curl(strict, "/a/check")
    assert status == 200


def test_keylog(strict: Serve, keylog: Path) -> None:
    still_serving(strict)
    assert stat.S_IMODE(keylog.stat().st_mode) == 0o600
    _wait_until(lambda: "CLIENT_TRAFFIC_SECRET_0 " in keylog.read_text())
    assert re.search(r"^SERVER_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]{64} [0-9a-f]{64}$", keylog.read_text(), re.M)


def test_tls_options_own_certificate_and_connection_limit(tmp_path: Path) -> None:
    """--cert/--key (no ca-file line), --tls-version, --ciphers, --groups, --no-tickets, --max-connections."""
    from https_request.server.identity import local_identity

    ident = local_identity(key_type="ecdsa", directory=tmp_path)
    cert, key = tmp_path / "server-ecdsa.pem", tmp_path / "server-ecdsa-key.pem"
    args = ["--cert", str(cert), "--key", str(key), "--tls-version", "1.2", "--no-tickets", "--max-connections", "3",
            "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384", "--groups", "P-256"]  # fmt: skip
    srv = Serve(args, tmp_path / "unused-state")
    try:
        assert srv.ca == "" and not any(line.startswith("ca-file:") for line in srv.out)
        srv.ca = str(ident.ca_file)
        config = client_config(srv, (TLS13, TLS12))
        status, _, body, session, _ = our_get(srv, config)
        seen = json.loads(body)
        assert status == 200 and session is not None and session.ticket == b""  # a session ID, no ticket
        assert (seen["protocol"], seen["cipher_suite"], seen["group"]) == (
            "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "secp256r1",
        )  # fmt: skip
        mark = srv.log_mark()
        idle = [socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) for _ in range(3)]
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as extra:
                assert _drain(extra) == b""  # the fourth is closed at once
            srv.wait_log(r"worker=0 refused=1 max_connections=1 addresses=1 top=127\.0\.0\.1\(1\)", mark)
        finally:
            for c in idle:
                c.close()
        _wait_until(lambda: our_get(srv, config)[0] == 200)
    finally:
        assert srv.stop() == 0
    assert not (tmp_path / "unused-state").exists()  # nothing written without the local CA


def test_tls_route_python_ssl(plain: Serve) -> None:
    for maximum, name in ((ssl.TLSVersion.TLSv1_3, "TLS 1.3"), (ssl.TLSVersion.TLSv1_2, "TLS 1.2")):
        raw = python_get(plain, b"GET /tls HTTP/1.1\r\nHost: anything.example\r\n\r\n", maximum)
        status, headers, body = _parse_response(raw)
        seen = json.loads(body)
        assert status == 200 and headers["content-type"] == "application/json"
        assert seen["protocol"] == name and seen["sni"] == HOST and seen["worker"] == 0
        assert seen["cipher_suite"].startswith("TLS_") and seen["resumed"] is False


def test_plain_http_listener(plain: Serve) -> None:
    assert plain.http_port is not None
    with socket.create_connection(("127.0.0.1", plain.http_port), timeout=WAIT) as s:
        s.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\nGET /a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    first, _, second = raw.partition(b"\r\n\r\nok")
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")  # keep-alive: both answered on one connection
    assert second.startswith(b"HTTP/1.1 301 Moved Permanently\r\n")
    assert b"\r\nLocation: https://www.howsmyssl.com/a/b?c=d\r\n" in second


def test_local_identity_files(plain: Serve, state: Path) -> None:
    folder = state / "https-request"
    assert Path(plain.ca) == folder / "ca.pem"
    for key in ("ca-key.pem", "server-rsa-key.pem"):
        assert stat.S_IMODE((folder / key).stat().st_mode) == 0o600
    leaf = x509.load_pem_x509_certificate((folder / "server-rsa.pem").read_bytes())
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", HOST} <= set(san.get_values_for_type(x509.DNSName))
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1"}
    assert leaf.public_key().key_size == 2048  # type: ignore[union-attr]
    # mbedTLS's rules (what a device checks) accept the chain too
    config = ClientConfig(verifier=make_verifier([_ca(plain)], "mbedtls"), versions=(TLS12,))
    assert our_get(plain, config)[0] == 200


# ------------------------------------------------------------------ other clients, resumption


@needs_openssl
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_openssl_s_client_resumes(plain: Serve, tmp_path: Path, version: str) -> None:
    sess = str(tmp_path / "sess.pem")
    base = [tool("openssl"), "s_client", "-connect", f"127.0.0.1:{plain.port}", "-servername", HOST,
            "-CAfile", plain.ca, "-verify_return_error", f"-tls{version.replace('.', '_')}", "-ign_eof"]  # fmt: skip
    request = f"GET /tls HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    texts = []
    for extra in (["-sess_out", sess], ["-sess_in", sess]):
        run = subprocess.run([*base, *extra], input=request, capture_output=True, timeout=WAIT)
        texts.append(run.stdout.decode(errors="replace"))
        assert run.returncode == 0, texts[-1] + run.stderr.decode(errors="replace")
    assert re.search(rf"\nNew, TLSv{version}, Cipher is ", texts[0]), texts[0]
    assert re.search(rf"\nReused, TLSv{version}, Cipher is ", texts[1]), texts[1]
    assert '"resumed":true' in texts[1] and "HTTP/1.1 200 OK" in texts[1]


@needs_gnutls
def test_gnutls_cli(plain: Serve) -> None:
    run = subprocess.run(
        [tool("gnutls-cli"), "--x509cafile", plain.ca, "-p", str(plain.port), "--sni-hostname", HOST,
         "--verify-hostname", HOST, "127.0.0.1"],
        input=f"GET /a/check HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode(), capture_output=True, timeout=WAIT,
    )  # fmt: skip
    text = run.stdout.decode(errors="replace")
    assert run.returncode == 0 and "HTTP/1.1 200 OK" in text and '"given_cipher_suites"' in text, text


# ------------------------------------------------------------------ workers


def _worker_of(body: bytes) -> int:
    return int(json.loads(body)["worker"])


@pytest.mark.parametrize("versions", [(TLS13,), (TLS12,)], ids=["tls13", "tls12"])
def test_workers_resume_each_others_tickets(pool: Serve, versions: tuple[int, ...]) -> None:
    resume_across_workers(pool, versions)


def resume_across_workers(pool: Serve, versions: tuple[int, ...]) -> None:
    """Tickets (TLS 1.3) or sessions (TLS 1.2) from each of two workers resume on the other
    (test_serve_supervision runs it again after a worker was killed and restarted)."""
    config = client_config(pool, versions)
    sessions: dict[int, Session] = {}
    for _ in range(60):
        status, _, body, session, _ = our_get(pool, config)
        assert status == 200 and session is not None
        sessions.setdefault(_worker_of(body), session)
        if len(sessions) == 2:
            break
    assert set(sessions) == {0, 1}, "both workers should be reached"
    mark = pool.log_mark()
    for issuer, other in ((0, 1), (1, 0)):
        for _ in range(60):
            status, _, body, _, _ = our_get(pool, config, session=sessions[issuer])
            seen = json.loads(body)
            assert status == 200 and seen["resumed"] is True  # any worker resumes any ticket
            if seen["worker"] == other:
                break
        else:
            pytest.fail(f"no connection reached worker {other}")
        pool.wait_log(rf"worker={other} .* resumed=yes early_data=no request=\"GET /tls\" status=200", mark)


def test_early_data_accepted_once_across_workers(pool: Serve) -> None:
    config = client_config(pool, early_data=True)
    _, _, _, session, _ = our_get(pool, config)
    assert session is not None and session.max_early_data == 16384
    status, _, body, _, accepted = our_get(pool, config, session=session, early=True)
    first = json.loads(body)
    assert status == 200 and accepted and first["early_data"] is True and first["resumed"] is True
    seen_workers = {first["worker"]}
    for _ in range(60):  # replays of the same ticket: refused by every worker, the first one included
        status, _, body, _, accepted = our_get(pool, config, session=session, early=True)
        again = json.loads(body)
        assert status == 200 and not accepted and again["early_data"] is False and again["resumed"] is True
        seen_workers.add(again["worker"])
        if seen_workers == {0, 1}:
            break
    assert seen_workers == {0, 1}
    pool.wait_log(r"resumed=yes early_data=rejected request=\"GET /tls\"")
    pool.wait_log(r"resumed=yes early_data=accepted:\d+ request=\"GET /tls\"")


def test_early_request_answered_before_client_finished(pool: Serve) -> None:
    """A complete 0-RTT request is answered as 0.5-RTT data: the server's first
    flight carries the response, before the client sends its Finished, and the
    fresh ticket comes ahead of it (RFC 8446 4.6.1)."""
    config = client_config(pool, early_data=True)
    _, _, _, session, _ = our_get(pool, config)
    assert session is not None
    mark = pool.log_mark()
    request = f"GET /tls HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    with connect("127.0.0.1", pool.port, config, HOST, session, timeout=WAIT, handshake=False) as tls:
        tls.start()
        tls.send(request)  # ClientHello + 0-RTT request; nothing else is sent below until asserted
        conn = tls.conn
        assert not conn.data_to_send()
        complete, raw, tickets = False, b"", 0
        while True:  # feed the engine the server's bytes only: our Finished stays queued
            data = tls.sock.recv(65536)
            assert data, "server closed before answering the 0-RTT request"
            conn.receive_data(data)
            while (ev := conn.next_event()) is not NEED_DATA:
                if isinstance(ev, HandshakeComplete):
                    complete = True
                    assert ev.early_data_accepted and ev.resumed
                elif isinstance(ev, SessionTicketReceived):
                    assert not raw  # ahead of the response
                    tickets += 1
                elif isinstance(ev, ApplicationData):
                    raw += ev.data
            head, sep, body = raw.partition(b"\r\n\r\n")
            if sep and len(body) >= int(re.search(rb"(?i)content-length: *(\d+)", head)[1]):  # type: ignore[index]
                break
        assert complete
        status, _, body = _parse_response(raw)
        assert status == 200 and json.loads(body)["early_data"] is True
        assert tickets == 1  # (a resumed handshake gets one, as from OpenSSL)
        # now finish: our Finished goes out, close_notify follows
        tls.sock.sendall(conn.data_to_send())
        while data := tls.sock.recv(65536):
            conn.receive_data(data)
            while (ev := conn.next_event()) is not NEED_DATA:
                assert not isinstance(ev, ApplicationData | SessionTicketReceived)
    pool.wait_log(r"resumed=yes early_data=accepted:\d+ request=\"GET /tls\" status=200 ms=", mark)


def test_sigterm_stops_workers_cleanly(state: Path, tmp_path: Path) -> None:
    srv = Serve(["--workers", "2", "--ticket-keys", str(tmp_path / "k")], state)
    try:
        still_serving(srv)
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(srv.pid)], capture_output=True, text=True)
        pids = [int(p) for p in children.stdout.split()]
        assert len(pids) == 2
        assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    finally:
        rc = srv.stop()
    assert rc == 0
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


# ------------------------------------------------------------------ bad input


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    m = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    assert m is not None
    return int(m.group(1)) * 1024


def _wait_until(predicate: object, timeout: float = WAIT) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _drain(s: socket.socket, timeout: float = 5.0) -> bytes:
    s.settimeout(timeout)
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return out


def test_garbage_and_truncated_records(plain: Serve) -> None:
    mark = plain.log_mark()
    with socket.create_connection(("127.0.0.1", plain.port), timeout=WAIT) as s:
        s.sendall(os.urandom(3000))
        answer = _drain(s)
    assert answer == b"" or answer[0] == 0x15  # nothing, or an alert record
    with socket.create_connection(("127.0.0.1", plain.port), timeout=WAIT) as s:
        s.sendall(b"\x16\x03\x01\x02\x00" + b"\x01\x00\x01\xfc\x03\x03" + bytes(40))  # a record cut short
        s.shutdown(socket.SHUT_WR)
        _drain(s)
    with socket.create_connection(("127.0.0.1", plain.port), timeout=WAIT) as s:
        s.sendall(b"\x16\x03\x01\x00\x05garbage, not a handshake message")
        assert _drain(s)[:1] == b"\x15"
    plain.wait_log(r"error=\"tls: .*EOF inside a record", mark)
    still_serving(plain)


def test_plain_http_on_the_tls_port(plain: Serve) -> None:
    with socket.create_connection(("127.0.0.1", plain.port), timeout=WAIT) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _drain(s).startswith(b"HTTP/1.0 400 Bad Request\r\n")
    still_serving(plain)


def test_stalled_clients_freed_by_handshake_timeout(strict: Serve) -> None:
    mark = strict.log_mark()
    hello = client_hello_of(client_config(strict))
    record = b"\x16\x03\x01" + len(hello).to_bytes(2, "big") + hello
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", strict.port), timeout=WAIT) as silent:
        with socket.create_connection(("127.0.0.1", strict.port), timeout=WAIT) as stalled:
            stalled.sendall(record[: len(record) // 2])  # half a ClientHello, then nothing
            assert _drain(stalled, 8.0) == b""
            assert _drain(silent, 8.0) == b""
    elapsed = time.monotonic() - t0
    assert 0.8 < elapsed < 6.0, elapsed
    strict.wait_log(r"error=\"handshake timeout\"", mark)
    still_serving(strict)


def test_huge_request_headers_get_431(plain: Serve) -> None:
    request = f"GET /a/check HTTP/1.1\r\nHost: {HOST}\r\nX-Big: {'a' * 100_000}\r\n\r\n".encode()
    raw = python_get(plain, request)
    assert raw.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), raw[:100]
    still_serving(plain)


def test_500_idle_connections_memory_and_no_leak(plain: Serve) -> None:
    pid = plain.pid
    mark = plain.log_mark()
    for _ in range(3):
        still_serving(plain)  # warm up
    _wait_until(lambda: sum('request="GET /tls" status=200' in line for line in plain.err[mark:]) >= 3)
    time.sleep(0.2)  # the warm-up connections are logged as they close
    base_fds, base_rss = _fds(pid), _rss(pid)
    # from 10 loopback addresses: 50 each stays under the per-client limit (64)
    sources = [(f"127.0.1.{i % 10 + 1}", 0) for i in range(500)]
    conns = [socket.create_connection(("127.0.0.1", plain.port), timeout=WAIT, source_address=a) for a in sources]
    try:
        _wait_until(lambda: _fds(pid) >= base_fds + 500)
        time.sleep(0.2)
        rss = _rss(pid)
        still_serving(plain)  # the server serves others while holding them
    finally:
        for c in conns:
            c.close()
    per_conn = (rss - base_rss) / 500
    print(f"\nidle connections: VmRSS {base_rss} -> {rss} bytes, {per_conn:.0f} bytes/connection")
    assert per_conn < 64 * 1024
    _wait_until(lambda: _fds(pid) <= base_fds)  # every socket released
    still_serving(plain)
    _wait_until(lambda: _fds(pid) <= base_fds)


# ------------------------------------------------------------------ shared state, in process


def test_shared_ticket_keys_rotate_once_for_all_holders(tmp_path: Path) -> None:
    from https_request.server.keys import KeyFileError, SharedTicketKeys

    path = tmp_path / "keys"
    now = 1_000_000.0
    a = SharedTicketKeys(path, lifetime=100, clock=lambda: now)
    b = SharedTicketKeys(path, lifetime=100, clock=lambda: now)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    t1 = a.seal(b"one", now + 1)
    assert b.open(t1, now + 2) == (b"one", False)
    t2 = b.seal(b"two", now + 150)  # b rotates and writes the file back
    assert a.open(t2, now + 151) == (b"two", False)  # a reloads: same new key
    assert a.open(t1, now + 151) == (b"one", True)  # the previous key still opens old tickets
    assert a.to_bytes() == b.to_bytes()
    assert b.open(t1, now + 260) is None  # two lifetimes later: gone
    path.write_bytes(b"garbage")  # at start, a corrupt file is replaced (there are no good keys to keep)
    lines: list[str] = []
    SharedTicketKeys(path, lifetime=100, log=lines.append)
    assert len(lines) == 1 and "is corrupt" in lines[0] and "replaced with new keys" in lines[0]
    path.write_bytes(b"HRQTKEYS\x02" + bytes(60))  # another version's format: refused, not overwritten
    with pytest.raises(KeyFileError, match="another version"):
        SharedTicketKeys(path, lifetime=100)


def test_shared_anti_replay_single_use_across_processes(tmp_path: Path) -> None:
    from https_request.server.replay import SharedAntiReplay

    db = tmp_path / "replay"
    ours = SharedAntiReplay(db)
    assert ours.claim(b"t1", 200.0, 100.0)
    pid = os.fork()
    if pid == 0:  # another process: t1 is taken, t2 is new
        theirs = SharedAntiReplay(db)
        os._exit(0 if not theirs.claim(b"t1", 200.0, 101.0) and theirs.claim(b"t2", 200.0, 101.0) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not ours.claim(b"t2", 200.0, 102.0)
    assert ours.claim(b"t1", 400.0, 250.0)  # expired claims can be made again
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_local_identity_is_reused_and_extended(tmp_path: Path) -> None:
    from https_request.server.identity import local_identity

    first = local_identity(["device.lan"], directory=tmp_path)
    again = local_identity(["device.lan"], directory=tmp_path)
    assert again.certified_key.chain == first.certified_key.chain  # nothing reissued
    more = local_identity(["10.0.0.7"], directory=tmp_path)
    assert (
        more.ca_file == first.ca_file
        and Path(more.ca_file or "").read_bytes() == Path(first.ca_file or "").read_bytes()
    )
    leaf = more.certified_key.chain[0]
    assert leaf != first.certified_key.chain[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "device.lan" in san.get_values_for_type(x509.DNSName)  # old names kept
    assert "10.0.0.7" in {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    assert more.certified_key.key.public_key() == first.certified_key.key.public_key()  # same leaf key
    ec_leaf = local_identity(key_type="ecdsa", directory=tmp_path).certified_key.chain[0]
    assert ec_leaf.issuer == leaf.issuer and ec_leaf.signature_hash_algorithm is not None


def test_cli_usage_errors(state: Path) -> None:
    env = dict(os.environ, XDG_STATE_HOME=str(state))
    bad = [
        ["--cert", "x.pem"],
        ["--groups", "x9"],
        ["--ciphers", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"],  # (no finite-field DHE)
        ["--now", "yesterday"],
        ["--tls-version", "1.3", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"],
        ["--tls-version", "1.0", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"],  # (GCM needs TLS 1.2)
        ["--host", "\u00e4..b"],  # a name IDNA cannot encode (an empty label): no traceback
    ]
    for args in bad:
        command = [sys.executable, "-m", "https_request", "serve", "--port", "0", *args]
        run = subprocess.run(command, capture_output=True, text=True, timeout=WAIT, cwd=REPO, env=env)
        assert run.returncode == 2 and "https-request serve: error:" in run.stderr, (args, run.stderr)
        assert "listening:" not in run.stdout


def test_cli_certificate_file_errors(state: Path, tmp_path: Path) -> None:
    """--cert / --key problems name the file and say what is wrong, in one line."""
    from certs import make_ca, make_leaf

    ca = make_ca(name="serve files CA")
    leaf, other = make_leaf(ca, ["localhost"]), make_leaf(ca, ["other.example"])
    files = {"cert.pem": leaf.cert_pem, "key.pem": leaf.key_pem, "other.key": other.key_pem}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    cert, key, other_key, missing = (str(tmp_path / n) for n in ("cert.pem", "key.pem", "other.key", "missing.pem"))
    env = dict(os.environ, XDG_STATE_HOME=str(state))
    for args, message in (
        ([missing, key], f"cannot read {missing}: No such file or directory"),
        ([key, key], f"{key}: no PEM certificate found in it"),
        ([cert, cert], f"{cert}: not an unencrypted PEM private key"),
        ([cert, other_key], f"{other_key} is not the key of the first certificate in {cert}"),
    ):
        command = [sys.executable, "-m", "https_request", "serve", "--port", "0", "--cert", args[0], "--key", args[1]]
        run = subprocess.run(command, capture_output=True, text=True, timeout=WAIT, cwd=REPO, env=env)
        assert (run.returncode, run.stderr) == (2, f"https-request serve: error: {message}\n"), args
