"""esp-tls loads trust anchors when a certificate must be checked (issue 16), and its work overlaps
the network without changing what is checked.

* ``trust.build_verifier`` knows a trust source's fingerprint (what a saved session records, issue 9)
  without parsing it; CA certificates are parsed at once, as esp-tls does, unless the session to
  offer may resume under them; the built-in bundle is built only when it must verify.
* Against a real server (stdlib ``ssl``, OpenSSL): a resumed connection never parses its CA file
  (the partly-parsed warning, logged when it is parsed, is absent), a full one does.
* ``dns.happy.connect(idle=...)``: the caller's work runs while the connect waits on the network;
  ``EspTls``/``AsyncEspTls``: ``meanwhile=`` runs once before the handshake ends, and ``early_data``
  made by a function rides the first flight (b"": none offered). With a slow connect, the caller's
  ``prepare`` and the early data are made while it is in flight and ``meanwhile`` waits until the
  ClientHello is out.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from certs import make_ca, make_leaf
from clirun import env
from echoserver import ServerThread
from https_request.dns import happy
from https_request.esp_tls import trust
from https_request.esp_tls.bundle import builtin_bundle, builtin_fingerprint, bundle_fingerprint
from https_request.esp_tls.config import EspTlsCfg, TlsVersion
from https_request.esp_tls.conn import AsyncEspTls, EspTls
from https_request.esp_tls.errors import EspErr, EspTlsError
from https_request.http import request
from https_request.structs import replace
from https_request.tls.config import ServerConfig
from https_request.tls.errors import Reason, TlsError
from https_request.tls.session import PeerCheck, Session, TicketKeys
from https_request.tls.verify import WebPkiVerifier
from stdlibhttps import BODY, serve_https

pytestmark = pytest.mark.timeout(60)

CA = make_ca(name="trust-lazy Test Root CA")
OTHER_CA = make_ca(name="trust-lazy Other CA")
LEAF = make_leaf(CA, ["localhost", "127.0.0.1"])
JUNK = b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n"
PARTLY = re.compile(r"^W \(\d+\) esp-tls-mbedtls: mbedtls_x509_crt_parse was partly successful\. No\. of failed", re.M)


def session_checked_by(check: PeerCheck) -> Session:
    return Session(version=0x0304, cipher_suite=0x1301, server_name="localhost", secret=b"k" * 32, peer_check=check)


def test_a_ca_files_fingerprint_is_its_anchors_without_parsing() -> None:
    """The fingerprint sessions record for a CA file is the one a verifier over the parsed anchors
    reports: sessions made either way resume under the other."""
    both = WebPkiVerifier([CA.cert, OTHER_CA.cert]).trust_fingerprint
    assert trust.cacert_fingerprint(CA.cert_pem + OTHER_CA.cert_pem) == both
    assert trust.cacert_fingerprint(OTHER_CA.cert_pem + JUNK + CA.cert_pem) == both  # a block that is not base64
    assert trust.cacert_fingerprint(CA.der) == WebPkiVerifier([CA.cert]).trust_fingerprint
    with pytest.raises(trust.CertParseError, match="no certificate found in it"):
        trust.cacert_fingerprint(b"neither PEM nor DER")


def test_a_ca_file_is_parsed_now_unless_the_session_may_resume_under_it() -> None:
    cfg = EspTlsCfg(cacert=CA.cert_pem)
    same = PeerCheck.of(WebPkiVerifier([CA.cert]), "localhost")
    cases = {
        "no session": (None, True),
        "same CA": (session_checked_by(same), False),
        "other CA": (session_checked_by(PeerCheck.of(WebPkiVerifier([OTHER_CA.cert]), "localhost")), True),
        "other name": (session_checked_by(PeerCheck.of(WebPkiVerifier([CA.cert]), "example.test")), True),
        "not verified (-k)": (session_checked_by(PeerCheck()), True),
    }
    for case, (session, parsed_now) in cases.items():
        verifier = trust.build_verifier(cfg, "localhost", session)
        assert isinstance(verifier, trust.LazyVerifier), case
        assert verifier.loaded is parsed_now, case
        assert PeerCheck.of(verifier, "localhost") == same, case  # the same check, loaded or not
        later = trust.build_verifier(cfg, "localhost", session, parse_later=True)  # the caller parses it when due
        assert isinstance(later, trust.LazyVerifier) and not later.loaded, case
        assert later.due is parsed_now, case
    # A file shaped like certificates that do not parse: esp-tls's error, now, without a session to resume.
    v8 = CA.der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x07")
    with pytest.raises(EspTlsError) as info:
        trust.build_verifier(EspTlsCfg(cacert=v8), "localhost")
    assert info.value.last_error.last_error == EspErr.ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED


@pytest.mark.parametrize("driver", ["blocking", "asyncio"])
def test_a_ca_file_that_does_not_parse_fails_as_esp_tls_says_after_the_first_flight(
    esp_log: io.StringIO, driver: str
) -> None:
    """Shaped like a certificate, but version 8: create_ssl_handle's error, triple and lines either way.
    The blocking connection parses it while its ClientHello travels (the listener reads one); the
    asyncio one still before the handshake (nothing sent)."""
    v8 = CA.der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x07")
    cfg = EspTlsCfg(cacert=v8, timeout_ms=10000)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        url = f"https://localhost:{listener.getsockname()[1]}/"
        with pytest.raises(EspTlsError) as info:
            if driver == "blocking":
                EspTls.conn_http_new_sync(url, cfg)
            else:
                asyncio.run(AsyncEspTls.conn_http_new_sync(url, cfg))
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            received = b""
            while chunk := conn.recv(65536):  # the client has closed: EOF (or a reset) ends this
                received += chunk
    le = info.value.last_error
    assert (le.last_error, le.esp_tls_error_code) == (EspErr.ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED, 0x2180)
    assert le.reason == "CA certificate: -0x2180: not a valid DER certificate (malformed or truncated)"
    assert received[:1] == (b"\x16" if driver == "blocking" else b"")  # a handshake record: the ClientHello
    out = [re.sub(r"^([EWIDV]) \(\d+\) ", r"\1 ", line) for line in esp_log.getvalue().splitlines()]
    assert out[-4:] == [
        "E esp-tls-mbedtls: mbedtls_x509_crt_parse of CA cert returned -0x2180",
        "E esp-tls-mbedtls: Failed to set client configurations, returned [0x8015] "
        "(ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED)",
        "E esp-tls: create_ssl_handle failed",
        "E esp-tls: Failed to open new connection",
    ], out


def test_anchors_that_cannot_be_loaded_trust_nothing() -> None:
    """A verifier loaded only when a resumption is declined, over a CA file that does not parse:
    the server's chain is not trusted (verify flags NOT_TRUSTED), never accepted."""
    v8 = CA.der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x07")
    verifier = trust.LazyVerifier("webpki", True, b"f" * 32, lambda: WebPkiVerifier(trust.parse_cacert(v8)))
    with pytest.raises(TlsError) as info:
        verifier.verify(LEAF.chain_der, "localhost", time.time(), server=True)
    assert info.value.reason is Reason.CERT_UNTRUSTED and info.value.verify_flags == 0x08


def test_the_builtin_bundle_is_not_built_to_resume() -> None:
    """Its fingerprint comes from its sources (certifi's file, the common-CA list), the same in every
    process; building it (and importing the X.509 code) waits for a certificate to check."""
    code = (
        "import json, sys\n"
        "from https_request.esp_tls import trust\n"
        "from https_request.esp_tls.config import EspTlsCfg\n"
        "v = trust.build_verifier(EspTlsCfg(crt_bundle=True), 'www.howsmyssl.com')\n"
        "heavy = sorted(m for m in sys.modules if m in ('cryptography.x509', 'https_request.esp_tls.bundle_verify'))\n"
        "print(json.dumps([v.loaded, v.trust_fingerprint.hex(), heavy]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env(), timeout=30, check=True)
    loaded, fingerprint, heavy = json.loads(proc.stdout)
    assert (loaded, heavy) == (False, [])
    assert fingerprint == builtin_fingerprint("cmn").hex()
    assert builtin_fingerprint("cmn") != builtin_fingerprint("full")
    assert builtin_fingerprint("cmn") != bundle_fingerprint(builtin_bundle("cmn"))  # another source to a session


def test_a_resumed_connection_does_not_parse_its_ca_file(tmp_path: Path, esp_log: io.StringIO) -> None:
    """The CA file has a block that does not parse: parsing it logs esp-tls's partly-successful warning.
    The full handshake parses it; the resumed one, whose session was verified by these anchors, does not."""
    (tmp_path / "leaf.pem").write_bytes(LEAF.chain_pem)
    (tmp_path / "leaf.key").write_bytes(LEAF.key_pem)
    cfg = EspTlsCfg(cacert=JUNK + CA.cert_pem, tls_version=TlsVersion.TLS_1_3, timeout_ms=10000)
    with serve_https(tmp_path / "leaf.pem", tmp_path / "leaf.key") as port:
        url = f"https://localhost:{port}/"
        with EspTls.conn_http_new_sync(url, cfg) as tls:
            assert request(tls, "GET", "/").read() == BODY
            session = tls.get_client_session()
        assert session is not None and not tls.info.resumed
        assert len(PARTLY.findall(esp_log.getvalue())) == 1
        with EspTls.conn_http_new_sync(url, replace(cfg, client_session=session)) as tls2:
            assert request(tls2, "GET", "/").read() == BODY
        assert tls2.info.resumed
    assert len(PARTLY.findall(esp_log.getvalue())) == 1  # not parsed again


def test_happy_connect_does_the_callers_work_while_it_waits() -> None:
    """The A lookup answers after 0.3 s: the caller's three pieces of work run meanwhile, one per
    call, and the connection is made as without them."""
    done: list[float] = []

    def resolve(name: str, family: int) -> list[object]:
        time.sleep(0.3)
        return [ipaddress.ip_address("127.0.0.1")] if family == socket.AF_INET else []

    def idle() -> bool:
        done.append(time.monotonic())
        return len(done) < 3

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        t0 = time.monotonic()
        sock, address = happy.connect("slow.test", port, resolve, family=socket.AF_INET, timeout=10, idle=idle)
        with sock:
            assert sock.getpeername() == ("127.0.0.1", port) and str(address) == "127.0.0.1"
    assert len(done) == 3  # no call after the last piece said it was the last
    assert all(t - t0 < 0.3 for t in done)  # while the lookup was out


def _exchange(driver: str, port: int, cfg: EspTlsCfg, data: bytes, seen: list[tuple[str, bool]]) -> tuple[str, bytes]:
    """Connect with ``early_data`` made by a function (``data``) and a ``meanwhile`` that record
    the connection's state when they run; send b"1rtt"; (early data status, what was echoed)."""
    handle: EspTls | AsyncEspTls = EspTls() if driver == "blocking" else AsyncEspTls()

    def make() -> bytes:
        seen.append(("early", handle.conn_state.name in ("INIT", "CONNECTING")))  # no handshake yet
        return data

    def work() -> None:
        seen.append(("meanwhile", handle.conn_state.name != "DONE"))  # before the handshake ended

    if isinstance(handle, EspTls):
        with EspTls.conn_new_sync("127.0.0.1", port, cfg, early_data=make, tls=handle, meanwhile=work) as tls:
            tls.write(b"1rtt")
            got = b""
            while len(got) < len(data) + 4:
                got += tls.read(64)
            return tls.info.early_data, got

    async def main(handle: AsyncEspTls) -> tuple[str, bytes]:
        async with await AsyncEspTls.conn_new_sync(
            "127.0.0.1", port, cfg, early_data=make, tls=handle, meanwhile=work
        ) as tls:
            await tls.write(b"1rtt")
            got = b""
            while len(got) < len(data) + 4:
                got += await tls.read(64)
            return tls.info.early_data, got

    return asyncio.run(main(handle))


@pytest.mark.parametrize("driver", ["blocking", "asyncio"])
def test_early_data_made_once_connected_and_the_callers_work(driver: str) -> None:
    """Against our server (echo, 0-RTT): the function's bytes are accepted as early data and echoed;
    one that makes none offers none; ``meanwhile`` ran once, before the connection was returned."""
    server_cfg = ServerConfig(
        certificates=(LEAF.certified_key(),), ticket_keys=TicketKeys(os.urandom, now=time.time()), max_early_data=4096
    )
    base = EspTlsCfg(cacert=CA.cert_pem, early_data=True, timeout_ms=10000)
    seen: list[tuple[str, bool]] = []
    results = []
    with ServerThread(server_cfg) as srv:
        for data in (b"early!", b""):
            with EspTls.conn_new_sync("127.0.0.1", srv.port, base) as tls:  # a fresh ticket for each
                tls.write(b"ping")
                assert tls.read(4) == b"ping"
                session = tls.get_client_session()
            assert session is not None
            srv.next()
            results.append(_exchange(driver, srv.port, replace(base, client_session=session), data, seen))
            srv.next()
    assert results == [("accepted", b"early!1rtt"), ("none", b"1rtt")]
    assert seen == [("early", True), ("meanwhile", True)] * 2


def test_the_session_to_offer_made_by_a_function() -> None:
    """``session=`` (blocking): the function runs once, before the handshake, and its session is the
    one offered (resumed, its 0-RTT accepted); one that returns None offers none (a full handshake)."""
    server_cfg = ServerConfig(
        certificates=(LEAF.certified_key(),), ticket_keys=TicketKeys(os.urandom, now=time.time()), max_early_data=4096
    )
    base = EspTlsCfg(cacert=CA.cert_pem, early_data=True, timeout_ms=10000)
    calls: list[str] = []
    with ServerThread(server_cfg) as srv:
        with EspTls.conn_new_sync("127.0.0.1", srv.port, base) as tls:
            tls.write(b"ping")
            assert tls.read(4) == b"ping"
            saved = tls.get_client_session()
        assert saved is not None
        srv.next()
        for offered in (saved, None):
            handle = EspTls()

            def load(offered: Session | None = offered, handle: EspTls = handle) -> Session | None:
                calls.append(handle.conn_state.name)
                return offered

            with EspTls.conn_new_sync(
                "127.0.0.1", srv.port, base, early_data=b"early", tls=handle, session=load
            ) as tls:
                tls.write(b"!")
                got = b""
                while len(got) < 6:
                    got += tls.read(64)
                assert got == b"early!"
                assert (tls.info.resumed, tls.info.early_data) == (
                    (True, "accepted") if offered else (False, "none")
                ), tls.info
                assert tls.cfg.client_session is offered
            srv.next()
    assert all(state in ("INIT", "CONNECTING") for state in calls) and len(calls) == 2, calls


def test_the_first_flights_work_runs_during_a_slow_connect_and_the_rest_after_it() -> None:
    """The server's accept queue is full, so the kernel drops the client's SYN and the client sends it
    again after its 1 s timeout. While that connect is in flight esp-tls makes what its ClientHello
    needs (here: the early data function's bytes); the caller's ``meanwhile``, which nothing in the
    first flight needs, runs only once the ClientHello has reached the server: started during the
    connect, a long piece of work would hold the ClientHello back when the SYN-ACK arrives."""
    seen: dict[str, float] = {}
    hello = threading.Event()

    def make() -> bytes:
        seen["early"] = time.monotonic()
        return b"GET / HTTP/1.1\r\n\r\n"

    def check() -> None:  # the caller's prepare: first, also while the connect is in flight
        seen["prepare"] = time.monotonic()

    def work() -> None:  # the server gets the ClientHello, unless this runs before it was sent
        seen["hello before meanwhile"] = float(hello.wait(5))

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):  # fills the queue: the next SYN is dropped

            def serve() -> None:
                time.sleep(0.3)
                listener.accept()[0].close()  # room again: the retried SYN is answered
                conn, _ = listener.accept()
                with conn:
                    seen["accepted"] = time.monotonic()
                    conn.settimeout(10)
                    if conn.recv(5)[:1] == b"\x16":  # a handshake record: the ClientHello
                        hello.set()
                    time.sleep(0.2)

            server = threading.Thread(target=serve)
            server.start()
            t0 = time.monotonic()
            cfg = EspTlsCfg(insecure=True, early_data=True, timeout_ms=10000)
            try:
                with pytest.raises(EspTlsError):  # the server closes without answering
                    EspTls.conn_new_sync("127.0.0.1", port, cfg, early_data=make, meanwhile=work, prepare=check)
            finally:
                server.join(10)
    assert seen["accepted"] - t0 > 0.5  # the connect took the SYN's retry
    assert seen["prepare"] < seen["early"] < seen["accepted"]  # made while the connect was in flight
    assert seen["hello before meanwhile"] == 1.0


def test_a_ca_buffer_is_parsed_once_for_every_connection(esp_log: io.StringIO) -> None:
    """Connection after connection with the same cacert (certifi's ~140 roots cost ~25 ms to parse
    and index): one verifier per buffer, policy and name rule, shared; esp-tls's partly-successful
    warning is still logged at every connection, as the device logs it."""
    buf = JUNK + CA.cert_pem + f"\nunique to this test: {time.time_ns()}\n".encode()  # text between blocks
    loaded = []
    for _ in range(3):
        verifier = trust.build_verifier(EspTlsCfg(cacert=buf), "localhost")
        assert isinstance(verifier, trust.LazyVerifier) and verifier.loaded  # parsed now, as esp-tls does
        loaded.append(verifier.load())
    assert loaded[0] is loaded[1] is loaded[2]
    assert len(PARTLY.findall(esp_log.getvalue())) == 3
    loaded[2].verify(LEAF.chain_der, "localhost", time.time(), server=True)
    other = trust.build_verifier(EspTlsCfg(cacert=buf, verify_policy="mbedtls"), "localhost")
    assert isinstance(other, trust.LazyVerifier) and other.load() is not loaded[0]
    assert other.trust_fingerprint == loaded[0].trust_fingerprint
    unnamed = trust.build_verifier(EspTlsCfg(cacert=buf, skip_common_name=True), "localhost")
    assert isinstance(unnamed, trust.LazyVerifier) and unnamed.load() is not loaded[0]
