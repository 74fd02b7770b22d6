"""A saved session remembers how its server was verified, and is resumed only where
that check would have held (issue 9, defect 1).

A resumed handshake does not verify the server again. So a session made without
verification (``-k``, ``insecure``), against other trusted CAs, under another
verify policy or without checking the server name must not be resumed by a
configuration that checks more: it gets a full handshake, which verifies.

Three levels, each against real peers: the engine in memory (our client and
server, both versions), the esp-tls API's ``client_session`` against a
stdlib-``ssl`` (OpenSSL) server on loopback with both engines, and the
``https-request get --session FILE`` command against ``https-request serve``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

import clirun
from certs import Issued, make_ca, make_leaf
from clirun import Run
from helpers import shuttle
from https_request.esp_tls.config import EspTlsCfg
from https_request.esp_tls.conn import EspTls
from https_request.esp_tls.errors import EspErr, EspTlsError
from https_request.http.client import request
from https_request.session_file import encode_session_file
from https_request.structs import replace
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import CertificateVerifier, ClientConfig
from https_request.tls.session import PeerCheck, Session, SessionFormatError, trust_fingerprint
from https_request.tls.states import HsState
from https_request.tls.verify import WebPkiVerifier, make_verifier
from serveproc import Serve
from stdlibhttps import BODY, serve_https
from tlsenv import CA, VERIFIER, Clock, client_config, pair, server_config, ticket_keys

pytestmark = pytest.mark.timeout(60)

OTHER_CA = make_ca(name="session-trust Other CA")
WAIT = 10.0

# The same anchors as VERIFIER plus one: a different CA file that still trusts the server.
WIDER = WebPkiVerifier([CA.cert, OTHER_CA.cert])
MBEDTLS = make_verifier([CA.cert], "mbedtls")
NO_NAME = WebPkiVerifier([CA.cert], check_name=False)
Engine = Literal["python", "openssl"]
VERSIONS = pytest.mark.parametrize("version", [0x0304, 0x0303], ids=["tls13", "tls12"])


# --------------------------------------------------------------------------- the engine, in memory


def _connect(
    verifier: CertificateVerifier | None, version: int, clock: Clock, session: Session | None = None
) -> ClientConnection:
    """One handshake of our client (with ``verifier``) against our server (tickets on); the client."""
    ccfg: ClientConfig = client_config(clock=clock, verifier=verifier, versions=(version,))
    c, s = pair(ccfg, server_config(clock=clock, ticket_keys=KEYS, versions=(version,)), session=session)
    c.start_handshake()
    shuttle(c, s)
    assert c.state == s.state == HsState.HANDSHAKE_OVER
    return c


KEYS = ticket_keys(Clock())


@VERSIONS
@pytest.mark.parametrize(
    ("made_with", "resumed_with", "refusal"),
    [
        (None, VERIFIER, "it was made without verifying the server"),
        (VERIFIER, WIDER, "its server was verified against other trusted CA certificates"),
        (VERIFIER, MBEDTLS, "its server was verified under the webpki policy, not mbedtls"),
        (MBEDTLS, VERIFIER, "its server was verified under the mbedtls policy, not webpki"),
        (NO_NAME, VERIFIER, "it was made without checking the server name"),
        (VERIFIER, VERIFIER, None),
        (VERIFIER, None, None),  # no verification now (-k): anything resumes
        (None, None, None),
        (VERIFIER, NO_NAME, None),  # no name checked now: a session whose name was checked will do
    ],
    ids=["unverified", "other-cas", "webpki-to-mbedtls", "mbedtls-to-webpki", "no-name", "same", "insecure-now",
         "insecure-both", "no-name-now"],
)  # fmt: skip
def test_resumed_only_where_the_check_would_have_held(
    version: int, made_with: CertificateVerifier | None, resumed_with: CertificateVerifier | None, refusal: str | None
) -> None:
    clock = Clock()
    first = _connect(made_with, version, clock)
    assert first.session is not None and not first.resumed
    saved = Session.from_bytes(first.session.to_bytes())  # what another process loads
    clock.t += 1
    second = _connect(resumed_with, version, clock, session=saved)
    assert second.resumed is (refusal is None)
    assert second.session_refused == refusal
    assert first.session.peer_check == saved.peer_check == PeerCheck.of(made_with, "localhost")
    if refusal is not None:  # the full handshake verified the server: its session says so
        assert second.session is not None and second.session.peer_check == PeerCheck.of(resumed_with, "localhost")


@VERSIONS
def test_a_resumed_connection_passes_the_original_check_on(version: int) -> None:
    """``-k`` may resume a verified session; the tickets it gets then still say "verified"
    (the server proved it holds the verified session's secret), so a verifying run resumes them."""
    clock = Clock()
    verified = _connect(VERIFIER, version, clock).session
    assert verified is not None
    insecure = _connect(None, version, clock, session=verified)
    assert insecure.resumed
    # TLS 1.3 sends new tickets; our TLS 1.2 server does not renew one on resumption (the old one is kept)
    kept = insecure.session if version == 0x0304 else verified
    assert kept is not None and kept.peer_check == verified.peer_check and kept.peer_check.verified
    again = _connect(VERIFIER, version, clock, session=kept)
    assert again.resumed and again.session_refused is None


def test_the_rule() -> None:
    """:meth:`PeerCheck.refusal` on the fields themselves (names the handshakes above cannot reach)."""
    trust = trust_fingerprint("anchors", [hashlib.sha256(CA.der).digest()])
    now = PeerCheck("webpki", trust, "a.example")
    assert now.refusal(PeerCheck("webpki", trust, "a.example")) is None
    assert now.refusal(PeerCheck("webpki", trust, "b.example")) == (
        "its server was verified for the name 'b.example', not 'a.example'"
    )
    assert PeerCheck().refusal(PeerCheck()) is None and not PeerCheck().verified
    # the fingerprint is of the set of anchors: order and repeats do not count, the kind does
    ca, other = hashlib.sha256(CA.der).digest(), hashlib.sha256(OTHER_CA.der).digest()
    assert trust_fingerprint("anchors", [ca, other]) == trust_fingerprint("anchors", [other, ca, ca])
    assert trust_fingerprint("anchors", [ca]) != trust_fingerprint("esp-bundle", [ca])


def test_sessions_of_the_old_format_are_refused() -> None:
    """Format 1 did not record the check: such a blob is refused as another format."""
    blob = bytearray(Session(0x0304, 0x1301, "localhost", b"s" * 32, b"t" * 40, lifetime=60).to_bytes())
    assert blob[7] == 2
    with pytest.raises(SessionFormatError, match="format 1 is not supported"):
        Session.from_bytes(_as_format_1(bytes(blob)))


def _as_format_1(blob: bytes) -> bytes:
    """A format-2 session blob relabelled format 1 with a correct checksum (what an old version wrote
    looks the same up to the format byte: magic, format, body, SHA-256[:8])."""
    head_body = blob[:7] + b"\x01" + blob[8:-8]
    return head_body + hashlib.sha256(head_body).digest()[:8]


# --------------------------------------------------------------------------- the esp-tls API


def _serve(tmp_path: Path, leaf: Issued) -> Any:
    cert, key = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    cert.write_bytes(leaf.chain_pem)
    key.write_bytes(leaf.key_pem)
    return serve_https(cert, key)


def _session_from(url: str, cfg: EspTlsCfg) -> Session:
    """GET / with ``cfg``, read to the end (TLS 1.3 tickets come while reading); the session."""
    with EspTls.conn_http_new_sync(url, cfg) as tls:
        assert request(tls, "GET", "/", []).read() == BODY
        session = tls.get_client_session()
    assert session is not None
    return session


@pytest.mark.parametrize("engine", ["python", "openssl"])
def test_esp_tls_client_session_made_insecure_is_not_resumed(
    tmp_path: Path, esp_log: io.StringIO, engine: Engine
) -> None:
    """A server our CA does not trust: reached with ``insecure``, its session must not let a
    verifying configuration skip the check."""
    untrusted = make_leaf(OTHER_CA, ["localhost"])
    with _serve(tmp_path, untrusted) as port:
        url = f"https://localhost:{port}/"
        session = _session_from(url, EspTlsCfg(insecure=True, engine=engine, timeout_ms=int(WAIT * 1000)))
        cfg = EspTlsCfg(cacert=CA.cert_pem, client_session=session, engine=engine, timeout_ms=int(WAIT * 1000))
        with pytest.raises(EspTlsError) as info:
            EspTls.conn_http_new_sync(url, cfg)
        assert not session.peer_check.verified
        handle = EspTls()  # the caller's handle says why the session was not used
        with pytest.raises(EspTlsError):
            EspTls.conn_http_new_sync(url, cfg, tls=handle)
    le = info.value.last_error
    assert (le.last_error, le.esp_tls_flags & 0x8) == (EspErr.ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, 0x8), le
    assert handle.session_refused == "it was made without verifying the server"
    assert "I esp-tls-mbedtls: Not reusing the saved client session context: it was made without verifying the " \
        "server" in re.sub(r"\(\d+\) ", "", esp_log.getvalue())  # fmt: skip


@pytest.mark.parametrize("engine", ["python", "openssl"])
def test_esp_tls_client_session_for_another_name_is_not_resumed(tmp_path: Path, engine: Engine) -> None:
    """The name checked when the session was made is part of the record: a session verified for
    ``localhost`` does not vouch for ``elsewhere.example`` (``common_name``)."""
    with _serve(tmp_path, make_leaf(CA, ["localhost"])) as port:
        url = f"https://localhost:{port}/"
        cfg = EspTlsCfg(cacert=CA.cert_pem, engine=engine, timeout_ms=int(WAIT * 1000))
        session = _session_from(url, cfg)
        with EspTls.conn_http_new_sync(url, replace(cfg, client_session=session)) as tls:
            assert tls.info.resumed  # the same check: resumed
        other = replace(cfg, client_session=session, common_name="elsewhere.example")
        with pytest.raises(EspTlsError) as info:
            EspTls.conn_http_new_sync(url, other)
        assert session.peer_check.name == "localhost" and tls.session_refused is None
        handle = EspTls()
        with pytest.raises(EspTlsError):
            EspTls.conn_http_new_sync(url, other, tls=handle)
    assert info.value.last_error.esp_tls_flags & 0x4, info.value  # CN_MISMATCH: the full handshake checked
    assert handle.session_refused == "its server was verified for the name 'localhost', not 'elsewhere.example'"


def test_esp_tls_handle_is_single_use(tmp_path: Path) -> None:
    with _serve(tmp_path, make_leaf(CA, ["localhost"])) as port:
        handle = EspTls()
        cfg = EspTlsCfg(cacert=CA.cert_pem, timeout_ms=int(WAIT * 1000))
        with EspTls.conn_new_sync("localhost", port, cfg, tls=handle) as tls:
            assert tls is handle
        with pytest.raises(EspTlsError, match="used before"):
            EspTls.conn_new_sync("localhost", port, cfg, tls=handle)


# --------------------------------------------------------------------------- https-request get --session


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """``https-request serve`` with its own local CA (which no built-in bundle trusts)."""
    srv = Serve([], tmp_path_factory.mktemp("state"))
    try:
        yield srv
    finally:
        rc = srv.stop()
    assert rc == 0, "\n".join(srv.err[-20:])


def get(url: str, session: Path, *args: str) -> Run:
    """``get URL --session FILE --json - -o /dev/null ARGS``."""
    return clirun.get(url, "--session", str(session), "--json", "-", "-o", os.devnull, *args)


def test_get_k_session_is_not_resumed_with_verification(serve: Serve, tmp_path: Path) -> None:
    """The issue's scenario: ``get -k --session F`` then ``get --session F`` must fail (exit 6) as
    the same URL does without the session, with one warning in the user's terms."""
    url, sess = f"https://localhost:{serve.port}/", tmp_path / "F"
    first = get(url, sess, "-k")
    assert first.code == 0 and first.json["resumed"] is False, first.err
    without = get(url, tmp_path / "none")
    assert without.code == 6, without.err
    second = get(url, sess)
    assert second.code == 6, second.err  # as without the session
    assert second.warnings() == [
        f"https-request: warning: session file {sess}: the saved session is not used: it was made without "
        "verifying the server (-k); doing a full handshake"
    ]
    assert "certificate verification failed for localhost" in second.err
    trusted = get(url, sess, "--cacert", serve.ca)  # the CA that does trust it: full handshake, verified
    assert trusted.code == 0 and trusted.json["resumed"] is False and len(trusted.warnings()) == 1, trusted.err
    assert get(url, sess, "--cacert", serve.ca).json["resumed"] is True  # its own session resumes


def test_get_verified_session_resumes_with_k_and_not_under_other_checks(serve: Serve, tmp_path: Path) -> None:
    """The other order: a verified session resumes under ``-k`` (which accepts anything) and keeps its
    record; other CA files, another policy or no name check do not resume it."""
    url, sess = f"https://localhost:{serve.port}/", tmp_path / "F"
    wider = tmp_path / "wider.pem"
    wider.write_bytes(Path(serve.ca).read_bytes() + OTHER_CA.cert_pem)
    assert get(url, sess, "--cacert", serve.ca).code == 0
    insecure = get(url, sess, "-k")
    assert insecure.code == 0 and insecure.json["resumed"] is True, insecure.err
    again = get(url, sess, "--cacert", serve.ca)  # the ticket the -k run saved still says "verified"
    assert again.code == 0 and again.json["resumed"] is True and again.warnings() == [], again.err
    for extra, why in (
        (["--cacert", str(wider)], "its server was verified against other trusted CA certificates"),
        (["--cacert", serve.ca, "--verify-policy", "mbedtls"], "verified under the webpki policy, not mbedtls"),
    ):
        r = get(url, sess, *extra)
        assert r.code == 0 and r.json["resumed"] is False, r.err
        assert len(r.warnings()) == 1 and why in r.warnings()[0], r.err
        get(url, sess, "--cacert", serve.ca)  # back to a webpki session over the CA file
    assert get(url, sess, "--cacert", serve.ca).json["resumed"] is True
    assert get(url, sess, "--cacert", serve.ca, "--skip-common-name").json["resumed"] is False
    r = get(url, sess, "--cacert", serve.ca)  # the name was not checked: not resumed when it is
    assert r.code == 0 and r.json["resumed"] is False and len(r.warnings()) == 1, r.err


def test_get_old_session_file_format(serve: Serve, tmp_path: Path) -> None:
    """A session file written before sessions recorded their check: one warning, a full handshake."""
    url, sess = f"https://localhost:{serve.port}/", tmp_path / "F"
    old = Session(0x0304, 0x1301, "localhost", b"s" * 32, b"t" * 40, lifetime=3600, received_at=time.time())
    sess.write_bytes(encode_session_file("localhost", serve.port, _as_format_1(old.to_bytes())))
    r = get(url, sess, "--cacert", serve.ca)
    assert r.code == 0 and r.json["resumed"] is False, r.err
    assert r.warnings() == [
        f"https-request: warning: session file {sess}: saved session format 1 is not supported (expected 2) "
        "(saved by another version of https-request); doing a full handshake"
    ]


def test_async_esp_tls_refuses_it_too(tmp_path: Path) -> None:
    """AsyncEspTls shares the rule and the caller's handle."""
    import asyncio

    from https_request.esp_tls.conn import AsyncEspTls

    async def main(port: int, session: Session) -> tuple[AsyncEspTls, EspTlsError | None]:
        handle = AsyncEspTls()
        cfg = EspTlsCfg(cacert=CA.cert_pem, client_session=session, timeout_ms=int(WAIT * 1000))
        try:
            await AsyncEspTls.conn_http_new_sync(f"https://localhost:{port}/", cfg, tls=handle)
        except EspTlsError as exc:
            return handle, exc
        return handle, None

    with _serve(tmp_path, make_leaf(OTHER_CA, ["localhost"])) as port:
        session = _session_from(f"https://localhost:{port}/", EspTlsCfg(insecure=True, timeout_ms=int(WAIT * 1000)))
        handle, err = asyncio.run(main(port, session))
    assert err is not None and err.last_error.esp_tls_flags & 0x8, err
    assert handle.session_refused == "it was made without verifying the server"
