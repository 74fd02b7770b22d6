"""A device profile's limits, enforced by the engine (:mod:`https_request.tls.device`),
against our own server in memory: the failures Mbed TLS 3.6.2 has, with its codes.

- A handshake message that does not end in the record it starts in: Mbed TLS 3.6.2's
  ``mbedtls_ssl_prepare_handshake_record`` ("TLS handshake fragmentation not
  supported", ``MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE`` -0x7080). Our server packs a
  flight into as few records of its ``max_fragment_length`` as fit without splitting a
  message that fits one record, so only a Certificate message over ~16 KiB, or records
  smaller than a message, split one.
- A record longer than ``MBEDTLS_SSL_IN_CONTENT_LEN`` ("bad message length",
  ``MBEDTLS_ERR_SSL_INVALID_RECORD`` -0x7200).
- Records the device writes: at most ``MBEDTLS_SSL_OUT_CONTENT_LEN`` (4096) bytes.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from certs import make_ca, make_leaf
from helpers import drain, shuttle
from https_request.esp_tls.errors import MbedtlsErr, mbedtls_code_for
from https_request.structs import replace
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import ServerConfig
from https_request.tls.device import ESP32_MBEDTLS, Device
from https_request.tls.enums import AlertDescription, ProtocolVersion
from https_request.tls.errors import Reason, TlsError
from https_request.tls.events import ApplicationData, HandshakeComplete
from https_request.tls.profiles import client_config
from https_request.tls.record import record_payloads
from https_request.tls.server13 import ServerConnection
from https_request.tls.verify import WebPkiVerifier
from tlsenv import split_records

CA = make_ca()
SMALL = make_leaf(CA, ["localhost"])
TLS12 = (ProtocolVersion.TLS1_2,)
TLS13 = (ProtocolVersion.TLS1_3,)


def padded_leaf(size: int) -> tuple[object, int]:
    """A leaf whose DER is at least ``size`` bytes (SAN names), and its size."""
    names = ["localhost"]
    leaf = make_leaf(CA, names)
    while len(leaf.der) < size:
        names += [f"n{len(names):05d}.padding.example" for _ in range(max(1, (size - len(leaf.der)) // 28))]
        leaf = make_leaf(CA, names)
    return leaf, len(leaf.der)


BIG, BIG_SIZE = padded_leaf(17 * 1024)


def server(versions: tuple[int, ...], leaf: object = SMALL, **kw: object) -> ServerConnection:
    return ServerConnection(ServerConfig(versions=versions, certificates=(leaf.certified_key(),), **kw))  # type: ignore[attr-defined,arg-type]


def client(profile: str, **kw: object) -> ClientConnection:
    c = ClientConnection(client_config(profile, verifier=WebPkiVerifier([CA.cert]), **kw), "localhost")
    c.start_handshake()
    return c


def fails(c: ClientConnection, s: ServerConnection) -> TlsError:
    with pytest.raises(TlsError) as info:
        shuttle(c, s)
    assert c.data_to_send() == b""  # Mbed TLS sends no alert for these
    return info.value


def completes(c: ClientConnection, s: ServerConnection) -> HandshakeComplete:
    ev, _ = shuttle(c, s)
    done = [e for e in ev if isinstance(e, HandshakeComplete)]
    assert len(done) == 1
    return done[0]


@pytest.mark.parametrize("versions", [TLS12, TLS13], ids=["tls12", "tls13"])
def test_a_certificate_message_over_one_record_fails_the_device(versions: tuple[int, ...]) -> None:
    profile = "esp32-mbedtls" if versions == TLS12 else "esp32-mbedtls-tls13"
    err = fails(client(profile), server(versions, BIG))
    assert err.reason is Reason.DEVICE_HANDSHAKE_FRAGMENTED
    assert "Certificate message of" in err.detail and "does not end in the record it starts in" in err.detail
    assert mbedtls_code_for(err) == MbedtlsErr.SSL_FEATURE_UNAVAILABLE == -0x7080
    # The same server, the default profile (no device): the message is reassembled.
    assert completes(client("default"), server(versions, BIG)).version == versions[0]


def test_records_smaller_than_a_message_fail_the_device_even_with_a_small_chain() -> None:
    assert len(SMALL.der) > 256  # the Certificate message cannot fit a 256-byte record
    err = fails(client("esp32-mbedtls"), server(TLS12, max_fragment_length=256))
    assert err.reason is Reason.DEVICE_HANDSHAKE_FRAGMENTED and "Certificate message of" in err.detail
    assert completes(client("default"), server(TLS12, max_fragment_length=256)).version == TLS12[0]


@pytest.mark.parametrize("versions", [TLS12, TLS13], ids=["tls12", "tls13"])
@pytest.mark.parametrize("limit", [512, 16384])
def test_our_server_never_splits_a_message_that_fits_a_record(versions: tuple[int, ...], limit: int) -> None:
    """Our server closes a record early rather than split a handshake message that fits one (as
    OpenSSL writes): with 512-byte records and a small chain, or a chain of 16250 bytes (a
    Certificate message that fits a 16 KiB record with the ServerHello, a flight that does not), the
    device, which cannot reassemble, completes."""
    leaf = SMALL if limit == 512 else padded_leaf(16250)[0]
    profile = "esp32-mbedtls" if versions == TLS12 else "esp32-mbedtls-tls13"
    assert completes(client(profile), server(versions, leaf, max_fragment_length=limit)).version == versions[0]
    if versions == TLS12:  # the first flight is plaintext: every message inside one record, and few records
        c, s = client(profile), server(versions, leaf, max_fragment_length=limit)
        s.receive_data(c.data_to_send())
        records = [payload for ctype, _, payload in split_records(s.data_to_send())]
        assert all(len(r) <= limit for r in records)
        firsts = []  # the size of each record's first message
        for record in records:
            off = 0
            while off < len(record):
                size = 4 + int.from_bytes(record[off + 1 : off + 4], "big")
                assert off + size <= len(record), "a handshake message straddles records"
                firsts += [size] if off == 0 else []
                off += size
        # as few records as fit: no record's first message would have fitted in the record before
        assert all(len(prev) + first > limit for prev, first in zip(records, firsts[1:], strict=False))
        assert len(records) >= 2, [len(r) for r in records]  # (the flight itself does not fit one record)


def test_a_device_built_with_reassembly_takes_the_big_chain() -> None:
    """Mbed TLS 3.6.3 added reassembly: a device with it completes."""
    device = replace(ESP32_MBEDTLS, reassembles_handshake=True)
    assert completes(client("esp32-mbedtls", device=device), server(TLS12, BIG)).version == TLS12[0]


def test_a_record_over_in_content_len_fails_with_invalid_record() -> None:
    device = replace(ESP32_MBEDTLS, in_content_len=4096)
    c, s = client("esp32-mbedtls", device=device), server(TLS12)
    completes(c, s)
    s.send_application_data(b"x" * 4096)  # one record of exactly the limit: read
    c.receive_data(s.data_to_send())
    assert [e for e in drain(c) if isinstance(e, ApplicationData)] == [ApplicationData(b"x" * 4096)]
    s.send_application_data(b"y" * 4097)
    with pytest.raises(TlsError) as info:
        c.receive_data(s.data_to_send())
    assert info.value.reason is Reason.DEVICE_RECORD_TOO_LARGE
    assert "a record of 4097 bytes; the device's MBEDTLS_SSL_IN_CONTENT_LEN is 4096" in info.value.detail
    assert mbedtls_code_for(info.value) == MbedtlsErr.SSL_INVALID_RECORD == -0x7200
    assert c.data_to_send() == b""


def test_the_default_in_content_len_takes_every_record() -> None:
    c, s = client("esp32-mbedtls-tls13"), server(TLS13)
    completes(c, s)
    s.send_application_data(b"z" * 16384)
    c.receive_data(s.data_to_send())
    assert b"".join(e.data for e in drain(c) if isinstance(e, ApplicationData)) == b"z" * 16384


def test_the_device_writes_records_of_out_content_len() -> None:
    c, s = client("esp32-mbedtls"), server(TLS12)
    completes(c, s)
    c.send_application_data(b"a" * 10000)
    s.receive_data(c.data_to_send())
    sizes = [len(e.data) for e in drain(s) if isinstance(e, ApplicationData)]
    assert sizes == [4096, 4096, 1808] and ESP32_MBEDTLS.out_content_len == 4096


RSA_4608 = make_leaf(CA, ["localhost"], key=rsa.generate_private_key(public_exponent=65537, key_size=4608))


@pytest.mark.parametrize(
    ("versions", "reason", "code"),
    [(TLS12, Reason.DEVICE_RSA_TOO_LARGE, -0x428E), (TLS13, Reason.BAD_SIGNATURE, -0x6E00)],
    ids=["tls12", "tls13"],
)
def test_an_rsa_key_over_the_hardware_limit_fails(versions: tuple[int, ...], reason: Reason, code: int) -> None:
    """ESP32: RSA up to 4096 bits in hardware, no software fallback by default: a 4608-bit server key fails
    at its first use (ServerKeyExchange / CertificateVerify), with a decrypt_error alert as Mbed TLS sends."""
    profile = "esp32-mbedtls" if versions == TLS12 else "esp32-mbedtls-tls13"
    c, s = client(profile), server(versions, RSA_4608)
    with pytest.raises(TlsError) as info:
        shuttle(c, s)
    assert info.value.reason is reason and "4608-bit RSA key" in info.value.detail
    assert "takes at most 4096 bits" in info.value.detail
    assert mbedtls_code_for(info.value) == code
    assert info.value.alert == AlertDescription.decrypt_error
    # A device with the software fallback (or another chip) and the default profile complete.
    device = replace(ESP32_MBEDTLS, rsa_max_bits=8192)
    assert completes(client(profile, device=device), server(versions, RSA_4608)).version == versions[0]
    assert completes(client("default"), server(versions, RSA_4608)).version == versions[0]


def test_device_values_are_checked() -> None:
    with pytest.raises(ValueError, match=r"in_content_len must be 512\.\.16384, not 100"):
        Device(name="x", in_content_len=100)
    with pytest.raises(ValueError, match=r"out_content_len must be 512\.\.16384"):
        Device(name="x", out_content_len=20000)


def test_explain_names_the_codes() -> None:
    from https_request.esp_tls.errors import LastError
    from https_request.get_explain import explain_failure, mbedtls_error_name

    assert mbedtls_error_name(0x7080) == mbedtls_error_name(-0x7080) == "MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE"
    assert mbedtls_error_name(-0x428E) == "MBEDTLS_ERR_RSA_PUBLIC_FAILED + MBEDTLS_ERR_MPI_NOT_ACCEPTABLE"
    assert mbedtls_error_name(-0x1234) == "mbedTLS error -0x1234"
    c, s = client("esp32-mbedtls"), server(TLS12, RSA_4608)
    with pytest.raises(TlsError) as info:
        shuttle(c, s)
    le = LastError(0x801A, -mbedtls_code_for(info.value), 0, str(info.value))
    lines = explain_failure("esp32-mbedtls", le)
    assert lines[1] == "  mbedTLS error: -0x428E MBEDTLS_ERR_RSA_PUBLIC_FAILED + MBEDTLS_ERR_MPI_NOT_ACCEPTABLE"
    assert "serve an ECDSA certificate or an RSA key of at most that size" in lines[2]
    assert lines[-1] == "  outcome: the device fails to connect"


def test_x509_flags_map_to_verify_failed() -> None:
    """mbedtls_ssl_verify_certificate: the X.509 verify's flags give -0x2700 (a key the profile refuses
    among them); key usage alone, checked after it, -0x7A00."""
    from https_request.tls.x509_flags import (
        X509_BADCERT_BAD_KEY,
        X509_BADCERT_BAD_MD,
        X509_BADCERT_EXT_KEY_USAGE,
        reason_for_flags,
    )

    for flags, code in (
        (X509_BADCERT_BAD_KEY, -0x2700),
        (X509_BADCERT_BAD_MD, -0x2700),
        (X509_BADCERT_BAD_KEY | X509_BADCERT_EXT_KEY_USAGE, -0x2700),
        (X509_BADCERT_EXT_KEY_USAGE, -0x7A00),
    ):
        assert mbedtls_code_for(TlsError(reason_for_flags(flags), verify_flags=flags)) == code


def test_record_payloads_cut_between_messages() -> None:
    """Whole messages share records; one that fits a record starts a new one; only one longer than a
    record is split (and what follows it may share its last record)."""

    def msg(size: int) -> bytes:
        return b"\x0b" + (size - 4).to_bytes(3, "big") + bytes(size - 4)

    data = msg(100) + msg(20000) + msg(50) + msg(16384) + msg(10)
    assert [len(p) for p in record_payloads(22, data, 16384)] == [16384, 3766, 16384, 10]
    assert b"".join(record_payloads(22, data, 16384)) == data
    assert [len(p) for p in record_payloads(23, b"x" * 20000, 16384)] == [16384, 3616]  # application data
    assert record_payloads(22, b"", 16384) == [b""]
    assert record_payloads(22, msg(100) + msg(50), 16384) == [msg(100) + msg(50)]  # a flight that fits: one record
    assert [len(p) for p in record_payloads(22, msg(100) + msg(50), 120)] == [100, 50]


def _client_chain(size: int) -> object:
    """A client leaf (clientAuth) whose chain is about ``size`` bytes: SAN names pad it."""
    names = ["device.example"]
    leaf = make_leaf(CA, names, eku="clientAuth")
    while len(leaf.der) < size:
        names += [f"c{len(names):05d}.padding.example" for _ in range(max(1, (size - len(leaf.der)) // 28))]
        leaf = make_leaf(CA, names, eku="clientAuth")
    return leaf


@pytest.mark.parametrize("versions", [TLS12, TLS13], ids=["tls12", "tls13"])
def test_a_client_certificate_message_over_out_content_len_is_not_sent(versions: tuple[int, ...]) -> None:
    """Mbed TLS 3.6.2 writes a handshake message into one record of MBEDTLS_SSL_OUT_CONTENT_LEN (4096)
    and never fragments it: a client Certificate message over that fails -0x6A00, nothing sent."""
    profile = "esp32-mbedtls" if versions == TLS12 else "esp32-mbedtls-tls13"
    auth = {"request_client_certificate": True, "require_client_certificate": True,
            "client_verifier": WebPkiVerifier([CA.cert])}  # fmt: skip
    small, big = _client_chain(3000), _client_chain(4100)
    c = client(profile, certificate=small.certified_key())  # type: ignore[attr-defined]
    assert completes(c, server(versions, **auth)).version == versions[0]
    c, s = client(profile, certificate=big.certified_key()), server(versions, **auth)  # type: ignore[attr-defined]
    with pytest.raises(TlsError) as info:
        shuttle(c, s)
    # no alert; in TLS 1.3 the middlebox-compatibility CCS has gone out first, as Mbed TLS writes it in a
    # handshake step of its own (MBEDTLS_SSL_CLIENT_CCS_AFTER_SERVER_FINISHED) before the Certificate
    assert c.data_to_send() == (b"" if versions == TLS12 else b"\x14\x03\x03\x00\x01\x01")
    err = info.value
    assert err.reason is Reason.DEVICE_MESSAGE_TOO_LARGE
    assert "Certificate message of" in err.detail and "MBEDTLS_SSL_OUT_CONTENT_LEN of 4096" in err.detail
    assert mbedtls_code_for(err) == MbedtlsErr.SSL_BUFFER_TOO_SMALL == -0x6A00
    # without the device (the default profile) the message goes out in two records and is accepted
    c = ClientConnection(
        client_config("default", verifier=WebPkiVerifier([CA.cert]), certificate=big.certified_key()),  # type: ignore[attr-defined]
        "localhost",
    )
    c.start_handshake()
    assert completes(c, server(versions, **auth)).version == versions[0]
