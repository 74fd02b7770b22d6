"""The engine reproduces RFC 8448 (Example Handshake Traces for TLS 1.3) byte for byte.

The trace's randoms and ephemeral keys are injected through ``config.random``
(a :class:`Feed` that also checks the order and sizes the engine asks for),
its ClientHello / ServerHello / EncryptedExtensions extension lists through
``extensions_hook`` (each hook first checks that every extension the engine
built itself is in the RFC's list with identical bytes, so the hook only adds
and reorders, never overrides), and its randomised RSA-PSS CertificateVerify
signatures through ``signer``. Everything else -- key exchange, key schedule,
Finished MACs, binders, record protection, sequence numbers, coalescing of a
flight into records -- is the engine's own and is compared with the RFC:
secrets through the key log, everything on the wire as exact record bytes.

Vectors: ``tests/vectors/rfc8448.json`` (see ``tests/vectors/README.md``).
"""

from __future__ import annotations

import json
import os
import random
from collections import deque
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from helpers import drain, shuttle
from https_request.structs import replace
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import CertifiedKey, ClientConfig, ServerConfig
from https_request.tls.enums import CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme
from https_request.tls.enums import ExtensionType as ET
from https_request.tls.enums import HandshakeType as HT
from https_request.tls.events import (
    ApplicationData,
    CloseNotify,
    EarlyDataReceived,
    HandshakeComplete,
    SessionTicketReceived,
)
from https_request.tls.keyschedule import hkdf_expand_label
from https_request.tls.messages import ClientHello, EncryptedExtensions, Extension, NewSessionTicket, ServerHello
from https_request.tls.server13 import ServerConnection
from https_request.tls.session import PeerCheck, Session, TicketKeys, TicketState
from https_request.tls.verify import WebPkiVerifier

VEC = json.loads((Path(__file__).parent / "vectors" / "rfc8448.json").read_text())
S3 = VEC["traces"]["simple_1rtt"]
S4 = VEC["traces"]["resumed_0rtt"]
S5 = VEC["traces"]["hrr"]

# 2019-01-01T00:00:00Z (the RFC's publication month): inside the RFC server
# certificate's validity, 2016-07-30 01:23:59Z .. 2026-07-30 01:23:59Z.
NOW = 1546300800.0
SERVER_NAME = "server"  # the RFC ClientHellos' server_name

# The RFC clients' offers, in the RFC's order (checked against the ClientHellos
# by the extension hooks, which require our own extensions to be identical).
RFC_SUITES = (
    CipherSuite.TLS_AES_128_GCM_SHA256,
    CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    CipherSuite.TLS_AES_256_GCM_SHA384,
)
RFC_GROUPS_S3 = (
    NamedGroup.x25519,
    NamedGroup.secp256r1,
    NamedGroup.secp384r1,
    NamedGroup.secp521r1,
    NamedGroup.ffdhe2048,
    NamedGroup.ffdhe3072,
    0x0102,  # ffdhe4096
    0x0103,  # ffdhe6144
    0x0104,  # ffdhe8192
)
RFC_GROUPS_S5 = (NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1)
RFC_SCHEMES = (
    SignatureScheme.ecdsa_secp256r1_sha256,
    SignatureScheme.ecdsa_secp384r1_sha384,
    SignatureScheme.ecdsa_secp521r1_sha512,
    SignatureScheme.ecdsa_sha1,
    SignatureScheme.rsa_pss_rsae_sha256,
    SignatureScheme.rsa_pss_rsae_sha384,
    SignatureScheme.rsa_pss_rsae_sha512,
    SignatureScheme.rsa_pkcs1_sha256,
    SignatureScheme.rsa_pkcs1_sha384,
    SignatureScheme.rsa_pkcs1_sha512,
    SignatureScheme.rsa_pkcs1_sha1,
    0x0402,  # dsa_sha256 (legacy code points the RFC's client still offers)
    0x0502,  # dsa_sha384
    0x0602,  # dsa_sha512
    0x0202,  # dsa_sha1
)
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def val(trace: dict[str, object], name: str) -> bytes:
    return bytes.fromhex(trace["values"][name])  # type: ignore[index]


def extracted(trace: dict[str, object], name: str) -> bytes:
    return bytes.fromhex(trace["extracted"][name]["hex"])  # type: ignore[index]


def p256_random(private_key: bytes) -> bytes:
    """What ``random`` must return for kx._ec_private to make ``private_key``.

    kx._ec_private draws (order.bit_length()+7)//8 + 8 = 40 bytes and uses
    int(bytes) % (order - 1) + 1; the RFC scalar d satisfies 1 <= d < order,
    so the 40 bytes encoding d - 1 (< order - 1, unchanged by the reduction)
    come out as d exactly.
    """
    d = int.from_bytes(private_key, "big")
    assert 1 <= d < P256_ORDER
    return (d - 1).to_bytes((P256_ORDER.bit_length() + 7) // 8 + 8, "big")


class Feed:
    """An injected ``random``: hands out the given chunks in order and checks
    that the engine asks for exactly their sizes (so the consumption order of
    client random, key shares, server random, ... is itself under test)."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = deque(chunks)

    def __call__(self, n: int) -> bytes:
        assert self.chunks, f"unexpected random({n})"
        chunk = self.chunks.popleft()
        assert len(chunk) == n, f"random({n}) where the trace has {len(chunk)} bytes next"
        return chunk


def _rfc_list(ours: list[Extension], rfc: tuple[Extension, ...], what: str) -> list[Extension]:
    """The RFC's extension list, after checking ours is a byte-identical subset."""
    rfc_by_type = {e.type: e.data for e in rfc}
    for e in ours:
        assert e.type in rfc_by_type, f"{what}: we send extension 0x{e.type:04x}, the RFC does not"
        assert e.data == rfc_by_type[e.type], f"{what}: extension 0x{e.type:04x} differs from the RFC's"
    return list(rfc)


class ClientHook:
    """ClientConfig.extensions_hook for the ClientHellos ``hellos`` (handshake messages), in order.

    pre_shared_key is left out: the engine appends it itself (with the
    obfuscated ticket age and the binder it computes).
    """

    def __init__(self, *hellos: bytes) -> None:
        self.queue = deque(ClientHello.decode(h[4:]).extensions for h in hellos)

    def __call__(self, ours: list[Extension]) -> list[Extension]:
        assert self.queue, "more ClientHellos than the trace has"
        rfc = tuple(e for e in self.queue.popleft() if e.type != ET.pre_shared_key)
        return _rfc_list(ours, rfc, "ClientHello")


class ServerHook:
    """ServerConfig.extensions_hook giving the RFC's ServerHello (HelloRetryRequest
    first when there is one) and EncryptedExtensions extension lists."""

    def __init__(self, server_hellos: list[bytes], encrypted_extensions: bytes) -> None:
        self.queue = deque(ServerHello.decode(h[4:]).extensions for h in server_hellos)
        self.ee: tuple[Extension, ...] | None = EncryptedExtensions.decode(encrypted_extensions[4:]).extensions

    def __call__(self, msg_type: int, ours: list[Extension]) -> list[Extension]:
        if msg_type == HT.SERVER_HELLO:
            assert self.queue, "more ServerHellos than the trace has"
            return _rfc_list(ours, self.queue.popleft(), "ServerHello")
        assert msg_type == HT.ENCRYPTED_EXTENSIONS and self.ee is not None
        ee, self.ee = self.ee, None
        return _rfc_list(ours, ee, "EncryptedExtensions")


def assert_all_injected(cfg: ClientConfig | ServerConfig) -> None:
    """Every random chunk and every extension list of the trace was used."""
    assert isinstance(cfg.random, Feed) and not cfg.random.chunks, "random chunks left over"
    hook = cfg.extensions_hook
    assert isinstance(hook, ClientHook | ServerHook) and not hook.queue, "hello extension lists left over"
    if isinstance(hook, ServerHook):
        assert hook.ee is None, "EncryptedExtensions were never built"


class KeyLog:
    """Collects NSS key log lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def secrets(self, client_random: bytes) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for line in self.lines:
            label, crandom, secret = line.split()
            assert bytes.fromhex(crandom) == client_random, line
            assert label not in out, f"{label} logged twice"
            out[label] = bytes.fromhex(secret)
        return out


def expected_secrets(trace: dict[str, object], early: bool = False) -> dict[str, bytes]:
    out = {
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET": val(trace, "client_handshake_traffic_secret"),
        "SERVER_HANDSHAKE_TRAFFIC_SECRET": val(trace, "server_handshake_traffic_secret"),
        "CLIENT_TRAFFIC_SECRET_0": val(trace, "client_application_traffic_secret"),
        "SERVER_TRAFFIC_SECRET_0": val(trace, "server_application_traffic_secret"),
        "EXPORTER_SECRET": val(trace, "exporter_master_secret"),
    }
    if early:
        out["CLIENT_EARLY_TRAFFIC_SECRET"] = val(trace, "client_early_traffic_secret")
    return out


def rfc_server_key() -> rsa.RSAPrivateKey:
    k = VEC["server_rsa_key"]
    n = {name: int(k[field], 16) for name, field in k["cryptography_names"].items()}
    public = rsa.RSAPublicNumbers(n["e"], n["n"])
    return rsa.RSAPrivateNumbers(n["p"], n["q"], n["d"], n["dmp1"], n["dmq1"], n["iqmp"], public).private_key()


RFC_CERT = x509.load_der_x509_certificate(extracted(S3, "server_certificate_der"))


def rfc_verifier() -> WebPkiVerifier:
    # The RFC's server certificate is a self-signed "CN=rsa" with no
    # subjectAltName, so it is its own trust anchor and the name ("server",
    # from the ClientHello's SNI) cannot match: the chain, validity dates and
    # key usage are still verified, only the host name check is off.
    return WebPkiVerifier([RFC_CERT], check_name=False)


def rfc_signer(trace: dict[str, object]) -> Callable[[int, bytes], bytes]:
    """Return the trace's CertificateVerify signature (RSA-PSS is randomised,
    so our own would differ), after checking it signs exactly the content our
    server built (which covers the transcript hash through Certificate)."""
    public_key = rfc_server_key().public_key()
    signature = extracted(trace, "server_certificate_verify_signature")
    algorithm = int.from_bytes(extracted(trace, "server_certificate_verify_algorithm"), "big")

    def signer(scheme: int, data: bytes) -> bytes:
        assert scheme == algorithm == SignatureScheme.rsa_pss_rsae_sha256
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size)
        public_key.verify(signature, data, pss, hashes.SHA256())  # raises if data differs from the RFC's
        return signature

    return signer


def rfc_client_config(trace: dict[str, object], *hellos: bytes, **kw: object) -> ClientConfig:
    fields: dict[str, object] = {
        "verifier": rfc_verifier(),
        "cipher_suites": RFC_SUITES,
        "groups": RFC_GROUPS_S3,
        "key_share_groups": (NamedGroup.x25519,),
        "signature_schemes": RFC_SCHEMES,
        "middlebox_compat": False,  # the RFC's legacy_session_id is empty and no CCS is sent
        "extensions_hook": ClientHook(*hellos),
        "now": lambda: NOW,
        # the engine draws the client random, then (middlebox_compat off: no
        # session id) one private key per key_share group
        "random": Feed(extracted(trace, "client_random"), val(trace, "client_x25519_private_key")),
    }
    fields.update(kw)
    return ClientConfig(**fields)  # type: ignore[arg-type]


def events_of(conn: ClientConnection | ServerConnection) -> list[object]:
    return list(drain(conn))


def run_s3_client(keylog: KeyLog | None = None) -> ClientConnection:
    """The §3 client driven through the RFC's server flight (asserting on the way)."""
    cfg = rfc_client_config(S3, val(S3, "client_hello"), keylog=keylog)
    client = ClientConnection(cfg, server_name=SERVER_NAME)
    client.start_handshake()
    assert client.data_to_send() == val(S3, "client_hello_record")
    client.receive_data(val(S3, "server_hello_record"))
    assert client.data_to_send() == b""
    client.receive_data(val(S3, "server_handshake_flight_record"))
    assert client.data_to_send() == val(S3, "client_finished_record")
    assert_all_injected(cfg)
    return client


# ---------------------------------------------------------------- section 3


def test_s3_client_simple_1rtt() -> None:
    keylog = KeyLog()
    client = run_s3_client(keylog)
    assert not client.is_handshaking
    assert keylog.secrets(extracted(S3, "client_random")) == expected_secrets(S3)
    (done,) = events_of(client)
    assert isinstance(done, HandshakeComplete)
    assert done.version == ProtocolVersion.TLS1_3 and done.cipher_suite == CipherSuite.TLS_AES_128_GCM_SHA256
    assert done.group == NamedGroup.x25519 and not done.resumed
    assert done.peer_certificates == (extracted(S3, "server_certificate_der"),)

    # NewSessionTicket (server application key #0)
    client.receive_data(val(S3, "new_session_ticket_record"))
    assert client.data_to_send() == b""
    (ticket_event,) = events_of(client)
    assert isinstance(ticket_event, SessionTicketReceived)
    session = ticket_event.session
    assert session is client.session
    # PSK = HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce 0000)
    assert session.secret == val(S3, "resumption_psk")
    assert session.ticket == extracted(S3, "ticket")
    assert session.ticket_age_add == int.from_bytes(extracted(S3, "ticket_age_add"), "big")
    assert session.lifetime == int.from_bytes(extracted(S3, "ticket_lifetime"), "big") == 30
    nst = NewSessionTicket.decode(val(S3, "new_session_ticket")[4:])
    assert nst.ticket_nonce == extracted(S3, "ticket_nonce")
    assert session.max_early_data == 1024  # early_data extension 002a 0004 00000400
    assert session.cipher_suite == CipherSuite.TLS_AES_128_GCM_SHA256
    assert session.server_name == SERVER_NAME and session.received_at == NOW and session.alpn_protocol == ""

    # application data (client application key #0, server application key #1)
    payload = val(S3, "client_application_data_record_payload")
    client.send_application_data(payload)
    assert client.data_to_send() == val(S3, "client_application_data_record")
    client.receive_data(val(S3, "server_application_data_record"))
    assert events_of(client) == [ApplicationData(val(S3, "server_application_data_record_payload"))]

    # close_notify both ways (client key #1, server key #2)
    client.close()
    assert client.data_to_send() == val(S3, "client_alert_record")
    client.receive_data(val(S3, "server_alert_record"))
    assert events_of(client) == [CloseNotify()]


def rfc_server_config(**kw: object) -> ServerConfig:
    fields: dict[str, object] = {
        "certificates": (CertifiedKey((RFC_CERT,), rfc_server_key()),),
        "now": lambda: NOW,
    }
    fields.update(kw)
    return ServerConfig(**fields)  # type: ignore[arg-type]


def test_s3_server_simple_1rtt() -> None:
    keylog = KeyLog()
    ticket_keys = TicketKeys(random.Random(8448).randbytes, lifetime=3600, now=NOW)
    age_add = extracted(S3, "ticket_age_add")
    cfg = rfc_server_config(
        # the RFC's server prefers x25519 (its EncryptedExtensions list it first), so
        # ours adds no supported_groups of its own to EncryptedExtensions
        groups=(0x001D, 0x0017, 0x0018, 0x0019),
        # server13 draws its x25519 private key (in server_exchange), then the
        # ServerHello random; per NewSessionTicket: ticket_age_add, then a
        # 16-byte ticket id (the RFC's age_add goes in, the id is ours).
        random=Feed(val(S3, "server_x25519_private_key"), extracted(S3, "server_random"), age_add, bytes(16)),
        signer=rfc_signer(S3),
        extensions_hook=ServerHook([val(S3, "server_hello")], val(S3, "encrypted_extensions")),
        ticket_keys=ticket_keys,
        num_tickets=1,
        ticket_lifetime=30,  # as the RFC's ticket
        max_early_data=1024,  # as the RFC's ticket's early_data extension
        keylog=keylog,
    )
    server = ServerConnection(cfg)
    server.receive_data(val(S3, "client_hello_record"))
    assert server.data_to_send() == val(S3, "server_hello_record") + val(S3, "server_handshake_flight_record")
    assert keylog.secrets(extracted(S3, "client_random")) == expected_secrets(S3)
    assert events_of(server) == []

    server.receive_data(val(S3, "client_finished_record"))
    (done,) = events_of(server)
    assert isinstance(done, HandshakeComplete) and not done.resumed and done.server_name == SERVER_NAME
    assert_all_injected(cfg)

    # Our NewSessionTicket cannot be the RFC's: its ticket is an AEAD blob
    # under our ticket key (the RFC's is opaque state of the RFC's server) and
    # our server numbers tickets with 8-byte nonces (0, 1, ...) where the RFC
    # uses the 2-byte 0000. What is derivable must match: give the record to
    # the RFC client of section 3, whose PSK for our nonce must be
    # HKDF-Expand-Label(RFC resumption_master_secret, "resumption", nonce),
    # i.e. our server's resumption master secret is the RFC's.
    nst_record = server.data_to_send()
    client = run_s3_client()
    drain(client)
    client.receive_data(nst_record)
    (ticket_event,) = events_of(client)
    assert isinstance(ticket_event, SessionTicketReceived)
    session = ticket_event.session
    our_nonce = bytes(8)
    res_master = val(S3, "resumption_master_secret")
    assert session.secret == hkdf_expand_label("sha256", res_master, b"resumption", our_nonce, 32)
    # with the RFC's own nonce the same secret gives the RFC's PSK
    assert hkdf_expand_label("sha256", res_master, b"resumption", extracted(S3, "ticket_nonce"), 32) == val(
        S3, "resumption_psk"
    )
    assert session.ticket_age_add == int.from_bytes(age_add, "big")
    assert session.lifetime == 30 and session.max_early_data == 1024
    opened = ticket_keys.open(session.ticket, NOW)
    assert opened is not None
    state = TicketState.decode(opened[0])
    assert state is not None and state.secret == session.secret and state.server_name == SERVER_NAME

    # application data and close_notify: the ticket took server application
    # record #0, as in the RFC, so these records are the RFC's exactly
    server.send_application_data(val(S3, "server_application_data_record_payload"))
    assert server.data_to_send() == val(S3, "server_application_data_record")
    server.receive_data(val(S3, "client_application_data_record"))
    assert events_of(server) == [ApplicationData(val(S3, "client_application_data_record_payload"))]
    server.close()
    assert server.data_to_send() == val(S3, "server_alert_record")
    server.receive_data(val(S3, "client_alert_record"))
    assert events_of(server) == [CloseNotify()]

    # the ticket resumes (with 0-RTT) against a server holding the same ticket keys
    client2 = ClientConnection(
        rfc_client_config(S3, random=os.urandom, extensions_hook=None, early_data=True),
        server_name=SERVER_NAME,
        session=session,
    )
    server2 = ServerConnection(replace(cfg, random=os.urandom, signer=None, extensions_hook=None, keylog=None))
    client2.start_handshake()
    client2.send_application_data(b"early")
    ev_c, ev_s = shuttle(client2, server2)
    done_c = next(e for e in ev_c if isinstance(e, HandshakeComplete))
    done_s = next(e for e in ev_s if isinstance(e, HandshakeComplete))
    assert done_c.resumed and done_s.resumed
    assert done_c.early_data_accepted and done_s.early_data_accepted
    assert EarlyDataReceived(b"early") in ev_s


# ---------------------------------------------------------------- section 4


def test_s4_client_resumed_0rtt() -> None:
    # The session section 3's client stored, as the RFC states it: the
    # ticket, PSK, age_add, lifetime and max_early_data of §3's ticket.
    s3_client = run_s3_client()
    s3_client.receive_data(val(S3, "new_session_ticket_record"))
    assert s3_client.session is not None
    session = Session(
        version=ProtocolVersion.TLS1_3,
        cipher_suite=CipherSuite.TLS_AES_128_GCM_SHA256,
        server_name=SERVER_NAME,
        secret=val(S4, "psk"),
        ticket=extracted(S4, "psk_identity"),
        ticket_age_add=int.from_bytes(extracted(S3, "ticket_age_add"), "big"),
        lifetime=int.from_bytes(extracted(S3, "ticket_lifetime"), "big"),
        received_at=NOW,
        max_early_data=1024,
        peer_check=PeerCheck.of(rfc_verifier(), SERVER_NAME),  # how §3's client verified the server
    )
    assert s3_client.session == session
    # obfuscated_ticket_age = age in ms + age_add (mod 2^32): the RFC's
    # fad6aacb is fad6aac5 + 6, a 6 ms old ticket. 6.5 ms keeps int(ms)
    # at 6 whatever the float rounding.
    age_ms = (int.from_bytes(extracted(S4, "obfuscated_ticket_age"), "big") - session.ticket_age_add) & 0xFFFFFFFF
    assert age_ms == 6
    later = NOW + (age_ms + 0.5) / 1000

    keylog = KeyLog()
    cfg = rfc_client_config(
        S4, val(S4, "client_hello_record_payload"), early_data=True, now=lambda: later, keylog=keylog
    )
    client = ClientConnection(cfg, server_name=SERVER_NAME, session=session)
    client.start_handshake()
    # the whole ClientHello, pre_shared_key with obfuscated age and binder included
    assert client.data_to_send() == val(S4, "client_hello_record")
    assert keylog.secrets(extracted(S4, "client_random")) == {
        "CLIENT_EARLY_TRAFFIC_SECRET": val(S4, "client_early_traffic_secret")
    }
    client.send_application_data(val(S4, "client_early_application_data_record_payload"))
    assert client.data_to_send() == val(S4, "client_early_application_data_record")  # early key #0

    client.receive_data(val(S4, "server_hello_record"))
    assert client.data_to_send() == b""
    client.receive_data(val(S4, "server_handshake_flight_record"))
    # EndOfEarlyData (early key #1), then Finished (client handshake key #0)
    assert client.data_to_send() == val(S4, "end_of_early_data_record") + val(S4, "client_finished_record")
    assert keylog.secrets(extracted(S4, "client_random")) == expected_secrets(S4, early=True)
    assert_all_injected(cfg)
    # The trace has no NewSessionTicket, so the resumption master secret is
    # only observable inside the client.
    assert client._res_master == val(S4, "resumption_master_secret")
    (done,) = events_of(client)
    assert isinstance(done, HandshakeComplete)
    assert done.resumed and done.early_data_accepted and done.peer_certificates == ()

    client.send_application_data(val(S4, "client_application_data_record_payload"))
    assert client.data_to_send() == val(S4, "client_application_data_record")
    client.receive_data(val(S4, "server_application_data_record"))
    assert events_of(client) == [ApplicationData(val(S4, "server_application_data_record_payload"))]
    client.close()
    assert client.data_to_send() == val(S4, "client_alert_record")
    client.receive_data(val(S4, "server_alert_record"))
    assert events_of(client) == [CloseNotify()]


# ---------------------------------------------------------------- section 5


def test_s5_client_hello_retry_request() -> None:
    keylog = KeyLog()
    cfg = rfc_client_config(
        S5,
        val(S5, "client_hello_1"),
        val(S5, "client_hello_2"),
        groups=RFC_GROUPS_S5,
        keylog=keylog,
        random=Feed(
            extracted(S5, "client_random"),
            val(S5, "client_x25519_private_key"),
            p256_random(val(S5, "client_p256_private_key")),  # drawn after the HelloRetryRequest
        ),
    )
    client = ClientConnection(cfg, server_name=SERVER_NAME)
    client.start_handshake()
    assert client.data_to_send() == val(S5, "client_hello_1_record")
    client.receive_data(val(S5, "hello_retry_request_record"))
    # the second ClientHello: P-256 share, the server's cookie echoed (the
    # hook checked both are ours and identical to the RFC's); record version 0303
    assert client.data_to_send() == val(S5, "client_hello_2_record")
    client.receive_data(val(S5, "server_hello_record"))
    assert client.data_to_send() == b""
    client.receive_data(val(S5, "server_handshake_flight_record"))
    assert client.data_to_send() == val(S5, "client_finished_record")
    assert keylog.secrets(extracted(S5, "client_random")) == expected_secrets(S5)
    assert_all_injected(cfg)
    assert client._res_master == val(S5, "resumption_master_secret")  # no NewSessionTicket in the trace
    (done,) = events_of(client)
    assert isinstance(done, HandshakeComplete) and done.group == NamedGroup.secp256r1

    client.close()
    assert client.data_to_send() == val(S5, "client_alert_record")
    client.receive_data(val(S5, "server_alert_record"))
    assert events_of(client) == [CloseNotify()]


def test_s5_server_hello_retry_request() -> None:
    keylog = KeyLog()
    cfg = rfc_server_config(
        groups=(NamedGroup.secp256r1,),  # the client's x25519 share is not acceptable: retry with P-256
        # The RFC's cookie is its server's own opaque state; ours (hrr_cookie)
        # would be 32 random bytes. So cookies are off and the hook adds the
        # RFC's cookie to the HelloRetryRequest; the second ClientHello echoes it.
        hrr_cookie=False,
        random=Feed(p256_random(val(S5, "server_p256_private_key")), extracted(S5, "server_random")),
        signer=rfc_signer(S5),
        extensions_hook=ServerHook(
            [val(S5, "hello_retry_request"), val(S5, "server_hello")], val(S5, "encrypted_extensions")
        ),
        keylog=keylog,
    )
    server = ServerConnection(cfg)
    server.receive_data(val(S5, "client_hello_1_record"))
    assert server.data_to_send() == val(S5, "hello_retry_request_record")
    server.receive_data(val(S5, "client_hello_2_record"))
    assert server.data_to_send() == val(S5, "server_hello_record") + val(S5, "server_handshake_flight_record")
    assert keylog.secrets(extracted(S5, "client_random")) == expected_secrets(S5)
    server.receive_data(val(S5, "client_finished_record"))
    (done,) = events_of(server)
    assert isinstance(done, HandshakeComplete) and done.group == NamedGroup.secp256r1
    assert_all_injected(cfg)
    assert server.data_to_send() == b""  # no ticket keys: no NewSessionTicket, as in the trace

    server.close()
    assert server.data_to_send() == val(S5, "server_alert_record")
    server.receive_data(val(S5, "client_alert_record"))
    assert events_of(server) == [CloseNotify()]
