"""Failures: each bad input gives one TlsError, one fatal alert, and a poisoned connection.

Nothing is mocked. Handshake messages are changed by decrypting the real
records with the secrets from the key log, editing the plaintext and
re-encrypting at the same sequence numbers (tlsenv.open_records/seal_records).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from certs import NOW, make_ca, make_leaf, shifted
from helpers import drain
from https_request.structs import replace
from https_request.tls.client13 import ClientConnection
from https_request.tls.enums import AlertDescription as AD
from https_request.tls.enums import ContentType, HandshakeType
from https_request.tls.errors import AlertReceived, ConnectionPoisoned, LocalProtocolError, Reason, TlsError
from https_request.tls.events import ApplicationData
from https_request.tls.messages import Certificate, CertificateEntry, CertificateVerify, ServerHello
from https_request.tls.server13 import ServerConnection
from https_request.tls.states import HsState as S
from https_request.tls.verify import WebPkiVerifier
from tlsenv import (
    KeyLog,
    client_config,
    client_hello_rejected,
    open_records,
    pair,
    plaintext_alert,
    seal_records,
    server_config,
    split_records,
)

H = ContentType.HANDSHAKE
APP = ContentType.APPLICATION_DATA


def messages(stream: bytes) -> list[bytes]:
    """Split a handshake byte stream into whole messages (header included)."""
    out = []
    pos = 0
    while pos < len(stream):
        n = int.from_bytes(stream[pos + 1 : pos + 4], "big")
        out.append(stream[pos : pos + 4 + n])
        pos += 4 + n
    return out


@dataclass
class ServerFlight:
    """A client that sent its hello, and the server's answer taken apart."""

    c: ClientConnection
    s: ServerConnection
    ckl: KeyLog
    skl: KeyLog
    server_hello: bytes  # the plaintext ServerHello record
    ccs: bytes  # the plaintext CCS record
    msgs: list[bytes]  # EE, (CR), Certificate, CertificateVerify, Finished

    @property
    def suite(self) -> int:
        assert self.s.cipher_suite is not None
        return self.s.cipher_suite

    def protected(self, msgs: list[bytes]) -> bytes:
        return seal_records(self.suite, self.skl.secret("SERVER_HANDSHAKE_TRAFFIC_SECRET"), [(H, b"".join(msgs))])

    def deliver(self, msgs: list[bytes] | None = None) -> None:
        """Feed the client ServerHello, CCS and ``msgs`` (default: the real ones)."""
        self.c.receive_data(self.server_hello + self.ccs + self.protected(self.msgs if msgs is None else msgs))


def server_flight(
    client: dict[str, Any] | None = None, server: dict[str, Any] | None = None, server_name: str = "localhost"
) -> ServerFlight:
    """Configs are built from the keyword dicts (with key logs added)."""
    ckl, skl = KeyLog(), KeyLog()
    c, s = pair(client_config(keylog=ckl, **(client or {})), server_config(keylog=skl, **(server or {})), server_name)
    c.start_handshake()
    s.receive_data(c.data_to_send())
    recs = split_records(s.data_to_send())
    assert [r[0] for r in recs[:2]] == [H, ContentType.CHANGE_CIPHER_SPEC]
    opened = open_records(s.cipher_suite or 0, skl.secret("SERVER_HANDSHAKE_TRAFFIC_SECRET"), recs[2:])
    assert all(ctype == H for ctype, _ in opened)
    return ServerFlight(
        c, s, ckl, skl, recs[0][1] + recs[0][2], recs[1][1] + recs[1][2], messages(b"".join(d for _, d in opened))
    )


def assert_poisoned(conn: ClientConnection | ServerConnection, original: TlsError) -> None:
    """Every later call raises ConnectionPoisoned carrying the first error."""
    assert conn.error is original and conn.closed
    for call in (
        lambda: conn.receive_data(b"\x17\x03\x03\x00\x01\x00"),
        lambda: conn.receive_data(b""),
        conn.next_event,
        lambda: conn.send_application_data(b"x"),
        conn.update_keys,
    ):
        with pytest.raises(ConnectionPoisoned) as ei:
            call()
        assert ei.value.original is original and ei.value.reason is original.reason
    conn.close()  # a no-op after a failure
    assert conn.data_to_send() == b""


def expect_client_failure(flight: ServerFlight, msgs: list[bytes], reason: Reason, alert: AD) -> None:
    with pytest.raises(TlsError) as ei:
        flight.deliver(msgs)
    assert ei.value.reason is reason, ei.value
    assert ei.value.alert == alert
    assert plaintext_alert(flight.c.data_to_send()) == (2, alert)  # the client has no write key yet
    assert_poisoned(flight.c, ei.value)


def test_baseline_surgery_is_transparent() -> None:
    """Decrypting and re-encrypting unchanged messages still completes the handshake."""
    f = server_flight()
    assert [m[0] for m in f.msgs] == [
        HandshakeType.ENCRYPTED_EXTENSIONS,
        HandshakeType.CERTIFICATE,
        HandshakeType.CERTIFICATE_VERIFY,
        HandshakeType.FINISHED,
    ]
    f.deliver()
    assert f.c.state == S.HANDSHAKE_OVER
    f.s.receive_data(f.c.data_to_send())
    assert f.s.state == S.HANDSHAKE_OVER


# ------------------------------------------------------------ record integrity


def test_tampered_handshake_record() -> None:
    f = server_flight()
    rec = bytearray(f.protected(f.msgs))
    rec[40] ^= 0x01
    with pytest.raises(TlsError) as ei:
        f.c.receive_data(f.server_hello + f.ccs + bytes(rec))
    assert ei.value.reason is Reason.BAD_RECORD_MAC
    assert plaintext_alert(f.c.data_to_send()) == (2, AD.bad_record_mac)
    assert_poisoned(f.c, ei.value)


@pytest.mark.parametrize("where", ["header", "body", "tag"])
def test_tampered_application_record(where: str) -> None:
    skl = KeyLog()
    c, s = pair(client_config(), server_config(keylog=skl))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    s.receive_data(c.data_to_send())
    c.send_application_data(b"attack at dawn")
    rec = bytearray(c.data_to_send())
    rec[{"header": 2, "body": 7, "tag": len(rec) - 1}[where]] ^= 0x80
    with pytest.raises(TlsError) as ei:
        s.receive_data(bytes(rec))
    if where == "header":  # the version byte is checked before decryption
        assert ei.value.reason is Reason.BAD_RECORD_MAC or ei.value.reason is Reason.DECODE
    else:
        assert ei.value.reason is Reason.BAD_RECORD_MAC
    assert s.error is ei.value
    # the alert is protected under the server's application key: open it
    alert = s.data_to_send()
    [(ctype, body)] = open_records(s.cipher_suite or 0, skl.secret("SERVER_TRAFFIC_SECRET_0"), split_records(alert))
    assert (ctype, body) == (ContentType.ALERT, bytes((2, ei.value.alert or 0)))
    with pytest.raises(AlertReceived) as ei2:
        c.receive_data(alert)
    assert ei2.value.description == ei.value.alert


def test_bad_record_mac_alert_is_20() -> None:
    c, s = pair()
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    s.receive_data(c.data_to_send())
    s.send_application_data(b"x" * 100)
    rec = bytearray(s.data_to_send())
    rec[-5] ^= 0xFF
    with pytest.raises(TlsError):
        c.receive_data(bytes(rec))
    assert c.error is not None and c.error.alert == AD.bad_record_mac == 20


# ---------------------------------------------------------------- Finished


def test_wrong_client_finished() -> None:
    ckl, skl = KeyLog(), KeyLog()
    c, s = pair(client_config(keylog=ckl), server_config(keylog=skl))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    recs = split_records(c.data_to_send())
    assert recs[0][0] == ContentType.CHANGE_CIPHER_SPEC
    c_hs = ckl.secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET")
    [(ctype, fin)] = open_records(c.cipher_suite or 0, c_hs, recs[1:])
    assert ctype == H and fin[0] == HandshakeType.FINISHED
    bad = bytearray(fin)
    bad[-1] ^= 0x01
    forged = recs[0][1] + recs[0][2] + seal_records(c.cipher_suite or 0, c_hs, [(H, bytes(bad))])
    with pytest.raises(TlsError) as ei:
        s.receive_data(forged)
    assert ei.value.reason is Reason.BAD_FINISHED
    assert ei.value.alert == AD.decrypt_error == 51
    # the server had switched to its application key: its alert is protected under it
    alert = s.data_to_send()
    opened = open_records(s.cipher_suite or 0, skl.secret("SERVER_TRAFFIC_SECRET_0"), split_records(alert))
    assert opened == [(ContentType.ALERT, bytes((2, 51)))]
    assert_poisoned(s, ei.value)
    with pytest.raises(AlertReceived) as ei2:
        c.receive_data(alert)
    assert ei2.value.description == AD.decrypt_error


@pytest.mark.parametrize("length", [0, 31, 33])
def test_client_finished_of_wrong_length_is_a_decode_error(length: int) -> None:
    """The TLS 1.3 server reads the client's Finished as its body: an empty one or one of
    another length than the hash's is malformed (decode_error), not a wrong MAC."""
    ckl = KeyLog()
    c, s = pair(client_config(keylog=ckl), server_config())
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    recs = split_records(c.data_to_send())
    c_hs = ckl.secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET")
    [(_, fin)] = open_records(c.cipher_suite or 0, c_hs, recs[1:])
    assert len(fin) == 4 + 32  # TLS_AES_128_GCM_SHA256: 32 bytes of verify_data
    body = (fin[4:] + b"\x00")[:length]
    odd = bytes((HandshakeType.FINISHED,)) + length.to_bytes(3, "big") + body
    forged = recs[0][1] + recs[0][2] + seal_records(c.cipher_suite or 0, c_hs, [(H, odd)])
    with pytest.raises(TlsError) as ei:
        s.receive_data(forged)
    assert ei.value.reason is Reason.DECODE
    assert ei.value.alert == AD.decode_error == 50
    assert s.data_to_send()  # the alert
    assert_poisoned(s, ei.value)


def test_wrong_server_finished() -> None:
    f = server_flight()
    fin = bytearray(f.msgs[-1])
    fin[10] ^= 0x01
    expect_client_failure(f, [*f.msgs[:-1], bytes(fin)], Reason.BAD_FINISHED, AD.decrypt_error)


def test_finished_of_wrong_length() -> None:
    f = server_flight()
    fin = f.msgs[-1]
    short = bytes((HandshakeType.FINISHED,)) + (len(fin) - 5).to_bytes(3, "big") + fin[4:-1]
    expect_client_failure(f, [*f.msgs[:-1], short], Reason.BAD_FINISHED, AD.decrypt_error)


def test_bad_certificate_verify_signature() -> None:
    f = server_flight()
    cv = CertificateVerify.decode(f.msgs[2][4:])
    sig = bytearray(cv.signature)
    sig[-3] ^= 0x01
    body = CertificateVerify(cv.algorithm, bytes(sig)).encode()
    bad_cv = bytes((HandshakeType.CERTIFICATE_VERIFY,)) + len(body).to_bytes(3, "big") + body
    expect_client_failure(f, [f.msgs[0], f.msgs[1], bad_cv, f.msgs[3]], Reason.BAD_SIGNATURE, AD.decrypt_error)


# ---------------------------------------------------------- message order


def test_finished_before_certificate() -> None:
    f = server_flight()
    ee, cert, cv, fin = f.msgs
    expect_client_failure(f, [ee, fin, cert, cv], Reason.UNEXPECTED_MESSAGE, AD.unexpected_message)


def test_certificate_verify_before_certificate() -> None:
    f = server_flight()
    ee, cert, cv, fin = f.msgs
    expect_client_failure(f, [ee, cv, cert, fin], Reason.UNEXPECTED_MESSAGE, AD.unexpected_message)


def test_second_server_hello_protected() -> None:
    f = server_flight()
    sh_msg = split_records(f.server_hello)[0][2]
    expect_client_failure(f, [sh_msg, *f.msgs], Reason.UNEXPECTED_MESSAGE, AD.unexpected_message)


def test_second_server_hello_plaintext() -> None:
    f = server_flight()
    with pytest.raises(TlsError) as ei:
        f.c.receive_data(f.server_hello + f.server_hello)
    assert ei.value.reason is Reason.UNEXPECTED_MESSAGE
    assert plaintext_alert(f.c.data_to_send()) == (2, AD.unexpected_message)


def test_missing_encrypted_extensions() -> None:
    f = server_flight()
    expect_client_failure(f, f.msgs[1:], Reason.UNEXPECTED_MESSAGE, AD.unexpected_message)


def test_new_session_ticket_during_handshake() -> None:
    f = server_flight()
    nst = bytes((HandshakeType.NEW_SESSION_TICKET,)) + b"\x00\x00\x0f" + bytes(8) + b"\x00\x00\x01t\x00\x00"
    expect_client_failure(f, [f.msgs[0], nst, *f.msgs[1:]], Reason.UNEXPECTED_MESSAGE, AD.unexpected_message)


def test_server_gets_server_hello() -> None:
    f = server_flight()
    _, s = pair()
    with pytest.raises(TlsError) as ei:
        s.receive_data(f.server_hello)
    assert ei.value.reason is Reason.UNEXPECTED_MESSAGE
    assert plaintext_alert(s.data_to_send()) == (2, AD.unexpected_message)


def test_application_data_before_handshake() -> None:
    _, s = pair()
    with pytest.raises(TlsError) as ei:
        s.receive_data(b"\x17\x03\x03\x00\x05hello")
    assert ei.value.reason is Reason.UNEXPECTED_MESSAGE
    assert plaintext_alert(s.data_to_send()) == (2, AD.unexpected_message)


def test_handshake_message_split_across_key_change() -> None:
    """The ServerHello's last byte in one record with the next message: refused."""
    f = server_flight()
    sh = split_records(f.server_hello)[0][2]
    ee_first_bytes = f.msgs[0][:2]
    rec = bytes((H,)) + b"\x03\x03" + (len(sh) + 2).to_bytes(2, "big") + sh + ee_first_bytes
    with pytest.raises(TlsError) as ei:
        f.c.receive_data(rec)
    assert ei.value.reason is Reason.UNEXPECTED_MESSAGE


# ------------------------------------------------------------ certificates


def test_untrusted_certificate() -> None:
    other = WebPkiVerifier([make_ca(name="Somebody Else").cert])
    f = server_flight({"verifier": other})
    expect_client_failure(f, f.msgs, Reason.CERT_UNTRUSTED, AD.unknown_ca)
    assert f.c.error is not None and f.c.error.verify_flags != 0


def test_expired_certificate() -> None:
    ca = make_ca(name="Expiry CA")
    old = make_leaf(ca, ["localhost"], not_before=shifted(-400), not_after=shifted(-1))
    f = server_flight({"verifier": WebPkiVerifier([ca.cert])}, {"certificates": (old.certified_key(),)})
    expect_client_failure(f, f.msgs, Reason.CERT_EXPIRED, AD.certificate_expired)


def test_wrong_name() -> None:
    f = server_flight(server_name="www.example.com")
    expect_client_failure(f, f.msgs, Reason.CERT_NAME_MISMATCH, AD.bad_certificate)


def test_garbage_certificate() -> None:
    f = server_flight()
    body = Certificate(b"", (CertificateEntry(b"not DER"),)).encode()
    cert = bytes((HandshakeType.CERTIFICATE,)) + len(body).to_bytes(3, "big") + body
    expect_client_failure(f, [f.msgs[0], cert, *f.msgs[2:]], Reason.CERT_BAD, AD.bad_certificate)


def test_clock_is_injected() -> None:
    """The same certificate is fine at NOW and expired a day after its end."""
    ca = make_ca(name="Clock CA")
    leaf = make_leaf(ca, ["localhost"], not_before=shifted(-10), not_after=shifted(10))
    from tlsenv import Clock

    for offset, ok in ((0, True), (11 * 86400, False)):
        f = server_flight(
            {"verifier": WebPkiVerifier([ca.cert]), "clock": Clock(NOW + offset)},
            {"certificates": (leaf.certified_key(),)},
        )
        if ok:
            f.deliver()
            assert f.c.state == S.HANDSHAKE_OVER
        else:
            expect_client_failure(f, f.msgs, Reason.CERT_EXPIRED, AD.certificate_expired)


# ------------------------------------------------------------- ServerHello


def _rewrite_server_hello(f: ServerFlight, **changes: object) -> bytes:
    msg = split_records(f.server_hello)[0][2]
    sh = replace(ServerHello.decode(msg[4:]), **changes)  # type: ignore[arg-type]
    body = sh.encode()
    new = bytes((HandshakeType.SERVER_HELLO,)) + len(body).to_bytes(3, "big") + body
    return bytes((H,)) + b"\x03\x03" + len(new).to_bytes(2, "big") + new


def test_server_picks_suite_not_offered() -> None:
    f = server_flight({"cipher_suites": (0x1301,)})
    with pytest.raises(TlsError) as ei:
        f.c.receive_data(_rewrite_server_hello(f, cipher_suite=0x1302))
    assert ei.value.reason is Reason.ILLEGAL_PARAMETER
    assert plaintext_alert(f.c.data_to_send()) == (2, AD.illegal_parameter)
    assert_poisoned(f.c, ei.value)


@pytest.mark.parametrize(
    ("changes", "reason", "alert"),
    [
        ({"cipher_suite": 0xC02F}, Reason.ILLEGAL_PARAMETER, AD.illegal_parameter),
        ({"legacy_session_id_echo": b"\x00" * 32}, Reason.ILLEGAL_PARAMETER, AD.illegal_parameter),
        ({"legacy_compression_method": 1}, Reason.ILLEGAL_PARAMETER, AD.illegal_parameter),
        ({"legacy_version": 0x0304}, Reason.ILLEGAL_PARAMETER, AD.illegal_parameter),
        ({"extensions": ()}, Reason.NO_COMMON_VERSION, AD.protocol_version),
        ({"random": bytes(24) + b"DOWNGRD\x01", "extensions": ()}, Reason.DOWNGRADE, AD.illegal_parameter),
    ],
    ids=["tls12-suite", "session-id", "compression", "legacy-version", "no-versions", "downgrade"],
)
def test_bad_server_hello_fields(changes: dict[str, object], reason: Reason, alert: AD) -> None:
    f = server_flight()
    with pytest.raises(TlsError) as ei:
        f.c.receive_data(_rewrite_server_hello(f, **changes))
    assert ei.value.reason is reason
    assert plaintext_alert(f.c.data_to_send()) == (2, alert)


def test_server_hello_unsolicited_extension() -> None:
    f = server_flight()
    sh = ServerHello.decode(split_records(f.server_hello)[0][2][4:])
    from https_request.tls.messages import Extension

    with pytest.raises(TlsError) as ei:
        f.c.receive_data(_rewrite_server_hello(f, extensions=(*sh.extensions, Extension(0xFFCE, b""))))
    assert ei.value.reason is Reason.UNSOLICITED_EXTENSION
    assert plaintext_alert(f.c.data_to_send()) == (2, AD.unsupported_extension)


# -------------------------------------------------------------- the wire


def test_poisoned_connection() -> None:
    c, _ = pair()
    c.start_handshake()
    c.data_to_send()
    with pytest.raises(TlsError) as ei:
        c.receive_data(b"\x15\x03\x03\x00\x02\x02\x28")  # handshake_failure from the "server"
    assert isinstance(ei.value, AlertReceived) and ei.value.description == AD.handshake_failure
    assert c.data_to_send() == b""  # no alert answers an alert
    assert_poisoned(c, ei.value)
    with pytest.raises(LocalProtocolError):
        c.start_handshake()


def test_only_one_alert_is_sent() -> None:
    _, s = pair()
    with pytest.raises(TlsError):
        s.receive_data(b"\x16\x03\x01\x00\x04\x01\x00\x00\x00" + b"\x16\x03\x01\x00\x04\x01\x00\x00\x00")
    assert plaintext_alert(s.data_to_send()) == (2, AD.decode_error)
    with pytest.raises(ConnectionPoisoned):
        s.receive_data(b"\x16")
    assert s.data_to_send() == b""


def test_eof_mid_handshake() -> None:
    c, s = pair()
    c.start_handshake()
    s.receive_data(c.data_to_send())
    with pytest.raises(TlsError) as ei:
        c.receive_data(b"")
    assert ei.value.reason is Reason.TRUNCATED and ei.value.alert is None
    assert c.data_to_send() == b""
    assert_poisoned(c, ei.value)


def test_eof_inside_a_record() -> None:
    c, s = pair()
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send()[:50])
    assert c.state == S.SERVER_HELLO
    with pytest.raises(TlsError) as ei:
        c.receive_data(b"")
    assert ei.value.reason is Reason.TRUNCATED and "inside a record" in str(ei.value)


def test_eof_inside_a_record_after_handshake() -> None:
    c, s = pair()
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    s.receive_data(c.data_to_send())
    s.send_application_data(b"hello")
    c.receive_data(s.data_to_send()[:-1])
    with pytest.raises(TlsError) as ei:
        c.receive_data(b"")
    assert ei.value.reason is Reason.TRUNCATED


@pytest.mark.parametrize("length", [2**14 + 257, 0xFFFF])
def test_record_overflow_header(length: int) -> None:
    _, s = pair()
    with pytest.raises(TlsError) as ei:
        s.receive_data(b"\x16\x03\x01" + length.to_bytes(2, "big"))  # refused before the body arrives
    assert ei.value.reason is Reason.RECORD_OVERFLOW
    assert plaintext_alert(s.data_to_send()) == (2, AD.record_overflow)


def test_plaintext_record_overflow() -> None:
    _, s = pair()
    with pytest.raises(TlsError) as ei:
        s.receive_data(b"\x16\x03\x01" + (2**14 + 1).to_bytes(2, "big") + bytes(2**14 + 1))
    assert ei.value.reason is Reason.RECORD_OVERFLOW
    assert plaintext_alert(s.data_to_send()) == (2, AD.record_overflow)


def test_protected_record_overflow() -> None:
    """A record within the ciphertext limit whose plaintext is over 2^14."""
    ckl = KeyLog()
    c, s = pair(client_config(keylog=ckl))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    s.receive_data(c.data_to_send())
    big = seal_records(c.cipher_suite or 0, ckl.secret("CLIENT_TRAFFIC_SECRET_0"), [(APP, bytes(2**14 + 1))])
    with pytest.raises(TlsError) as ei:
        s.receive_data(big)
    assert ei.value.reason is Reason.RECORD_OVERFLOW
    assert s.error is not None and s.error.alert == AD.record_overflow


def test_max_size_records_accepted() -> None:
    ckl = KeyLog()
    c, s = pair(client_config(keylog=ckl))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    s.receive_data(c.data_to_send())
    rec = seal_records(c.cipher_suite or 0, ckl.secret("CLIENT_TRAFFIC_SECRET_0"), [(APP, bytes(2**14))])
    s.receive_data(rec)
    assert drain(s)[-1] == ApplicationData(bytes(2**14))


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"\x00\x00\x00\x00\x00",
        b"\x16\x02\x00\x00\x05hello",
        b"\x16\x03\x01\x00\x05hello",
        b"\x16\x03\x01\x00\x04\x01\x00\x00\x00",
        b"\x80\x2e\x01\x03\x01",  # SSLv2-style hello
        b"\x18\x03\x03\x00\x01\x01",  # heartbeat
        b"\x14\x03\x03\x00\x01\x01",  # CCS before any ClientHello
        b"\x15\x03\x03\x00\x03abc",  # malformed alert
        b"\x16\x03\x03\x00\x00",  # empty handshake record
    ],
)
def test_garbage_to_server(garbage: bytes) -> None:
    _, s = pair()
    with pytest.raises(TlsError) as ei:
        s.receive_data(garbage)
    assert not isinstance(ei.value, ConnectionPoisoned)
    assert ei.value.alert is not None
    assert plaintext_alert(s.data_to_send()) == (2, ei.value.alert)
    assert_poisoned(s, ei.value)


def test_handshake_message_too_large() -> None:
    _, s = pair()
    with pytest.raises(TlsError) as ei:
        s.receive_data(b"\x16\x03\x01\x00\x04\x01\x04\x00\x01")  # a 2^18+1 byte ClientHello announced
    assert ei.value.reason is Reason.DECODE


def test_client_hello_without_tls13() -> None:
    from https_request.tls.messages import ClientHello, Extension

    ch = ClientHello(0x0303, bytes(32), b"", (0x1301,), b"\x00", (Extension(43, b"\x02\x03\x03"),)).encode()
    msg = b"\x01" + len(ch).to_bytes(3, "big") + ch
    _, s = pair()
    with pytest.raises(TlsError) as ei:
        s.receive_data(b"\x16\x03\x01" + len(msg).to_bytes(2, "big") + msg)
    assert ei.value.reason is Reason.NO_COMMON_VERSION
    assert plaintext_alert(s.data_to_send()) == (2, AD.protocol_version)


def test_no_common_suite_or_group() -> None:
    c, s = pair(client_config(cipher_suites=(0x1304,)), server_config(cipher_suites=(0x1301,)))
    client_hello_rejected(c, s, Reason.NO_COMMON_SUITE, AD.handshake_failure)

    c, s = pair(client_config(groups=(0x001D,), key_share_groups=(0x001D,)), server_config(groups=(0x0017,)))
    client_hello_rejected(c, s, Reason.NO_COMMON_GROUP, AD.handshake_failure)


def _with_client_extension(record: bytes, etype: int, data: bytes) -> bytes:
    """The ClientHello record with extension ``etype``'s body replaced."""
    from https_request.tls.messages import ClientHello, Extension

    ch = ClientHello.decode(record[9:])
    exts = tuple(Extension(e.type, data) if e.type == etype else e for e in ch.extensions)
    body = replace(ch, extensions=exts).encode()
    msg = b"\x01" + len(body).to_bytes(3, "big") + body
    return record[:3] + len(msg).to_bytes(2, "big") + msg


@pytest.mark.parametrize(
    "share",
    [bytes(31), bytes(32)],  # wrong length; the all-zero (small order) point
    ids=["short", "zero"],
)
def test_bad_key_share_from_client(share: bytes) -> None:
    from https_request.tls.extensions import encode_key_share_client

    c, s = pair(client_config(groups=(0x001D,), key_share_groups=(0x001D,)))
    c.start_handshake()
    hello = _with_client_extension(c.data_to_send(), 51, encode_key_share_client([(0x001D, share)]))
    with pytest.raises(TlsError) as ei:
        s.receive_data(hello)
    assert ei.value.reason is Reason.BAD_KEY_SHARE
    assert plaintext_alert(s.data_to_send()) == (2, AD.illegal_parameter)


def test_bad_key_share_from_server() -> None:
    from https_request.tls.extensions import encode_key_share_entry
    from https_request.tls.messages import Extension

    f = server_flight({"groups": (0x0017,), "key_share_groups": (0x0017,)})
    not_on_curve = encode_key_share_entry(0x0017, b"\x04" + bytes(64))
    with pytest.raises(TlsError) as ei:
        f.c.receive_data(_rewrite_server_hello(f, extensions=(Extension(43, b"\x03\x04"), Extension(51, not_on_curve))))
    assert ei.value.reason is Reason.BAD_KEY_SHARE
    assert plaintext_alert(f.c.data_to_send()) == (2, AD.illegal_parameter)


# ------------------------------------------- certificates cryptography refuses


def _v4_certificate(der: bytes) -> bytes:
    """``der`` claiming X.509 version 4 (cryptography raises InvalidVersion, no ValueError)."""
    i = der.index(b"\xa0\x03\x02\x01\x02")
    return der[:i] + b"\xa0\x03\x02\x01\x03" + der[i + 5 :]


def _unknown_key_certificate() -> bytes:
    """An Ed25519 certificate whose key OID is unknown (public_key() raises UnsupportedAlgorithm)."""
    der = make_leaf(make_ca(name="OID CA"), ["localhost"], key_type="ed25519").der
    return der.replace(b"\x06\x03\x2b\x65\x70", b"\x06\x03\x2b\x65\x72", 1)


def _certificate_msg(der: bytes) -> bytes:
    body = Certificate(b"", (CertificateEntry(der),)).encode()
    return bytes((HandshakeType.CERTIFICATE,)) + len(body).to_bytes(3, "big") + body


@pytest.mark.parametrize("verified", [True, False], ids=["verifier", "no-verifier"])
@pytest.mark.parametrize("kind", ["v4", "unknown-key"])
def test_server_certificate_cryptography_refuses(kind: str, verified: bool) -> None:
    from https_request.log import certificate_summary

    der = _v4_certificate(f_leaf_der()) if kind == "v4" else _unknown_key_certificate()
    f = server_flight({} if verified else {"verifier": None})
    msgs = [f.msgs[0], _certificate_msg(der), *f.msgs[2:]]
    with pytest.raises(TlsError) as ei:
        f.deliver(msgs)
    # with a verifier: refused while verifying; without: when its key is needed
    assert ei.value.reason in (Reason.CERT_BAD, Reason.CERT_UNTRUSTED)
    assert plaintext_alert(f.c.data_to_send())[0] == 2
    assert certificate_summary(der)  # the debug printer copes too


def f_leaf_der() -> bytes:
    from tlsenv import LEAF

    return LEAF.der


def test_client_certificate_unknown_key_type_unverified() -> None:
    """A server that requests but does not verify client certificates."""
    from cryptography import x509

    from https_request.tls.config import CertifiedKey
    from tlsenv import CLIENT_LEAF

    odd = x509.load_der_x509_certificate(_unknown_key_certificate())
    c, s = pair(
        client_config(certificate=CertifiedKey(chain=(odd,), key=CLIENT_LEAF.key)),
        server_config(request_client_certificate=True),
    )
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    with pytest.raises(TlsError) as ei:
        s.receive_data(c.data_to_send())
    assert ei.value.reason is Reason.CERT_BAD and ei.value.alert == AD.bad_certificate


def _malformed_name_certificate(field: str) -> bytes:
    """LEAF with its issuer or subject name string re-tagged: it loads, but
    cryptography raises ValueError when the name is first read."""
    from tlsenv import LEAF

    target = b"\x0c\x0cTest Root CA" if field == "issuer" else b"\x0c\tlocalhost"
    i = LEAF.der.index(target)
    return LEAF.der[:i] + b"\x0d" + LEAF.der[i + 1 :]


@pytest.mark.parametrize("debug", [False, True], ids=["quiet", "debug"])
@pytest.mark.parametrize("field", ["issuer", "subject"])
def test_certificate_with_malformed_name(field: str, debug: bool) -> None:
    """A corrupt name is bad_certificate or unknown_ca, never internal_error, debug or not."""
    from tlsenv import FormattingDebug

    f = server_flight({"debug": FormattingDebug()} if debug else {})
    with pytest.raises(TlsError) as ei:
        f.deliver([f.msgs[0], _certificate_msg(_malformed_name_certificate(field)), *f.msgs[2:]])
    assert ei.value.reason in (Reason.CERT_BAD, Reason.CERT_UNTRUSTED), ei.value
    assert plaintext_alert(f.c.data_to_send()) == (2, ei.value.alert)


def _duplicate_extension_certificate() -> bytes:
    """LEAF with its keyUsage OID changed to subjectKeyIdentifier: two SKIs
    (cryptography raises DuplicateExtension, no ValueError, on .extensions)."""
    from tlsenv import LEAF

    return LEAF.der.replace(b"\x06\x03\x55\x1d\x0f", b"\x06\x03\x55\x1d\x0e", 1)


@pytest.mark.parametrize("verifier", ["webpki", "mbedtls", "none"])
def test_certificate_with_duplicate_extension(verifier: str) -> None:
    from https_request.tls.verify import MbedtlsVerifier, WebPkiVerifier
    from tlsenv import CA, FormattingDebug

    chosen = {"webpki": WebPkiVerifier([CA.cert]), "none": None}.get(verifier) or MbedtlsVerifier([CA.cert])
    f = server_flight({"verifier": chosen, "debug": FormattingDebug()})
    with pytest.raises(TlsError) as ei:
        f.deliver([f.msgs[0], _certificate_msg(_duplicate_extension_certificate()), *f.msgs[2:]])
    assert ei.value.reason is not Reason.INTERNAL, ei.value
    assert plaintext_alert(f.c.data_to_send()) == (2, ei.value.alert)


def test_hrr_for_group_we_cannot_do() -> None:
    """A HelloRetryRequest naming a group the client lists but does not implement."""
    f = server_flight({"groups": (0x001D, 0x0100), "key_share_groups": (0x001D,)})
    from https_request.tls.messages import HRR_RANDOM, Extension

    exts = (Extension(43, b"\x03\x04"), Extension(51, b"\x01\x00"))  # key_share: ffdhe2048
    hrr = _rewrite_server_hello(f, random=HRR_RANDOM, extensions=exts)
    with pytest.raises(TlsError) as ei:
        f.c.receive_data(hrr)
    assert ei.value.reason is Reason.ILLEGAL_PARAMETER
    assert plaintext_alert(f.c.data_to_send()) == (2, AD.illegal_parameter)
