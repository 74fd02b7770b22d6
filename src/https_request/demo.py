"""``https-request demo``: the main job, offline.

Until the whole example lands, the demo runs our TLS 1.3 client against our
TLS 1.3 server entirely in memory: a full handshake that verifies a freshly
made certificate, an HTTP request and response, then a second connection that
resumes from the saved session (serialised to bytes and loaded back, as a later
process would) with the request sent as 0-RTT early data. Everything is logged
in ESP-IDF's format; ``-v`` adds the mbedTLS-style engine trace.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from . import log

__all__ = ["main"]

TAG = "example"
REQUEST = b"GET /a/check HTTP/1.1\r\nHost: www.howsmyssl.com\r\nUser-Agent: esp-idf/1.0 esp32\r\n\r\n"


@dataclass
class _Row:
    request: str
    expected: str
    outcome: str
    version: str
    suite: str
    group: str
    resumed: str
    early: str


def _make_identity() -> tuple[object, object]:
    """A P-256 CA and a server certificate for www.howsmyssl.com, made now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from .tls.config import CertifiedKey

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "https-request demo CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.howsmyssl.com")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("www.howsmyssl.com")]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return ca, CertifiedKey(chain=(leaf,), key=key)


def _response(body: bytes) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def main(argv: list[str] | None = None) -> int:
    """Run the in-memory demo; returns 0 when every step behaved as expected."""
    import argparse

    p = argparse.ArgumentParser(prog="https-request demo")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v: mbedTLS trace level 2, -vv: 3, -vvv: 4")
    args = p.parse_args(argv or [])
    log.setup(log.INFO, stream=sys.stdout)
    logger = log.get_logger(TAG)
    logger.i("Start https_request example")

    from .tls.client13 import ClientConnection
    from .tls.config import ClientConfig, ServerConfig
    from .tls.enums import CipherSuite, NamedGroup, name_of
    from .tls.events import (
        ApplicationData,
        EarlyDataReceived,
        HandshakeComplete,
        SessionTicketReceived,
    )
    from .tls.server13 import ServerConnection
    from .tls.session import Session, TicketKeys
    from .tls.verify import WebPkiVerifier

    threshold = min(4, args.verbose + 1) if args.verbose else 0
    debug = log.MbedtlsDebug(threshold)
    ca, identity = _make_identity()
    scfg = ServerConfig(
        certificates=(identity,),  # type: ignore[arg-type]
        ticket_keys=TicketKeys(os.urandom, now=time.time()),
        num_tickets=1,
        max_early_data=16384,
    )
    ccfg = ClientConfig(verifier=WebPkiVerifier([ca]), early_data=True, debug=debug)  # type: ignore[list-item]
    rows: list[_Row] = []
    saved = b""

    def run(title: str, session: Session | None) -> bool:
        nonlocal saved
        logger.i("https_request %s", title)
        client = ClientConnection(ccfg, "www.howsmyssl.com", session=session)
        server = ServerConnection(scfg)
        client.start_handshake()
        if session is not None:
            client.send_application_data(REQUEST)  # 0-RTT when the ticket allows it
        established = False
        response = bytearray()
        got_request = bytearray()
        for _ in range(20):
            out = client.data_to_send()
            if out:
                server.receive_data(out)
            for ev in _events(server):
                if isinstance(ev, (ApplicationData, EarlyDataReceived)):
                    got_request += ev.data
                    if got_request.endswith(b"\r\n\r\n"):
                        body = b'{"tls_version":"TLS 1.3","rating":"Probably Okay"}'
                        server.send_application_data(_response(body))
                        server.close()
            back = server.data_to_send()
            if back:
                client.receive_data(back)
            for ev in _events(client):
                if isinstance(ev, HandshakeComplete):
                    established = True
                    logger.i("Connection established...")
                    if session is None:
                        client.send_application_data(REQUEST)
                    logger.i("%d bytes written", len(REQUEST))
                    logger.i("Reading HTTP response...")
                elif isinstance(ev, ApplicationData):
                    response += ev.data
                elif isinstance(ev, SessionTicketReceived):
                    saved = ev.session.to_bytes()
            if not out and not back:
                break
        for i in range(0, len(response), 511):
            print(response[i : i + 511].decode(errors="replace"), flush=True)
        logger.i("connection closed")
        ok = established and response.startswith(b"HTTP/1.1 200 OK")
        rows.append(
            _Row(
                title,
                "resumed + 0-RTT" if session is not None else "full handshake",
                "ok" if ok else "FAILED",
                "TLS 1.3" if client.negotiated_version == 0x0304 else "-",
                name_of(CipherSuite, client.cipher_suite or 0),
                name_of(NamedGroup, client.group) if client.group is not None else "-",
                "yes" if client.resumed else "no",
                "accepted" if client.early_data_accepted else "no",
            )
        )
        return ok and (session is None or (client.resumed and client.early_data_accepted))

    ok = run("to local server (full handshake)", None)
    if saved:
        logger.i("Saved client session: %d bytes", len(saved))
        ok = run("using saved client session", Session.from_bytes(saved)) and ok
    else:
        logger.e("No session ticket received")
        ok = False
    logger.i("Finish https_request example")
    _table(rows)
    return 0 if ok else 1


def _events(conn: object) -> list[object]:
    from .tls.events import NEED_DATA

    out: list[object] = []
    while True:
        ev = conn.next_event()  # type: ignore[attr-defined]
        if ev is NEED_DATA:
            return out
        out.append(ev)


def _table(rows: list[_Row]) -> None:
    headers = ("request", "expected", "outcome", "version", "suite", "group", "resumed", "early data")
    data = [headers] + [
        (r.request, r.expected, r.outcome, r.version, r.suite, r.group, r.resumed, r.early) for r in rows
    ]
    widths = [max(len(row[i]) for row in data) for i in range(len(headers))]
    for n, row in enumerate(data):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
