"""Server behaviours that tlsfuzzer probes found wrong (see docs/TLSFUZZER.md).

Each test drives our own server with our own client (ClientHello extensions
rewritten through ``extensions_hook``) or with raw records, and checks the
alert or message that RFC 8446 / 5246 / 6066 / 7627 and the tlsfuzzer script
expect.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from https_request.server import serve_cli
from https_request.tls.config import ServerConfig
from https_request.tls.enums import (
    AlertDescription,
    CipherSuite,
    ContentType,
    ExtensionType,
    HandshakeType,
    NamedGroup,
    ProtocolVersion,
    PskKeyExchangeMode,
)
from https_request.tls.errors import AlertReceived, Reason, TlsError
from https_request.tls.messages import Extension, handshake_message
from https_request.tls.protection import Protector
from https_request.tls.server13 import ServerConnection
from https_request.tls.suites import SUITES
from tlsenv import (
    LEAF,
    KeyLog,
    client_config,
    open_records,
    pair,
    plaintext_alert,
    seal_records,
    server_config,
    split_records,
    ticket_keys,
    tls12_protectors,
)

AD = AlertDescription
ET = ExtensionType
H = ContentType.HANDSHAKE
APP = ContentType.APPLICATION_DATA
ALERT = ContentType.ALERT
CCS_RECORD = b"\x14\x03\x03\x00\x01\x01"
Hook = Callable[[list[Extension]], list[Extension]]


def _replace(ext_type: int, body: bytes) -> Hook:
    def hook(exts: list[Extension]) -> list[Extension]:
        return [Extension(e.type, body) if e.type == ext_type else e for e in exts]

    return hook


def _drop(ext_type: int) -> Hook:
    def hook(exts: list[Extension]) -> list[Extension]:
        return [e for e in exts if e.type != ext_type]

    return hook


def _client_hello(hook: Hook | None = None, **kw: object) -> bytes:
    """The first flight (one plaintext ClientHello record) of our client."""
    c, _ = pair(client_config(extensions_hook=hook, **kw))
    c.start_handshake()
    return c.data_to_send()


def _refused(data: bytes, scfg: ServerConfig | None = None) -> tuple[TlsError, ServerConnection]:
    s = ServerConnection(scfg or server_config())
    with pytest.raises(TlsError) as info:
        s.receive_data(data)
    return info.value, s


def _record(ctype: int, payload: bytes) -> bytes:
    return bytes((ctype, 3, 3)) + len(payload).to_bytes(2, "big") + payload


# ---------------------------------------------------------------- ClientHello


@pytest.mark.parametrize("version", [0x0300, 0x0200, 0x0000, 0x0103])
def test_legacy_version_ssl3_or_older_is_protocol_version(version: int) -> None:
    """test-tls13-legacy-version: RFC 8446 D.5, even when supported_versions offers TLS 1.3."""
    ch = bytearray(_client_hello())
    ch[9:11] = version.to_bytes(2, "big")  # record header (5) + handshake header (4)
    exc, _ = _refused(bytes(ch))
    assert exc.alert == AD.protocol_version


def test_empty_key_exchange_is_illegal_parameter() -> None:
    """test-tls13-crfg-curves 'empty x25519 key share'."""
    share = NamedGroup.x25519.to_bytes(2, "big") + b"\x00\x00"
    ch = _client_hello(
        _replace(ET.key_share, len(share).to_bytes(2, "big") + share),
        groups=(NamedGroup.x25519,),
        key_share_groups=(NamedGroup.x25519,),
    )
    exc, _ = _refused(ch)
    assert exc.alert == AD.illegal_parameter


def _sni(*names: bytes) -> bytes:
    entries = b"".join(b"\x00" + len(n).to_bytes(2, "big") + n for n in names)
    return len(entries).to_bytes(2, "big") + entries


@pytest.mark.parametrize(
    ("body", "alert"),
    [
        (b"", AD.decode_error),
        (_sni(b"example\x00.com"), AD.illegal_parameter),
        (_sni(b"bell\x07.example"), AD.illegal_parameter),
        (_sni(b"\x1b[31mred.example"), AD.illegal_parameter),
        (_sni("bücher.example".encode()), AD.illegal_parameter),
        (_sni(b"a.example", b"b.example"), AD.illegal_parameter),
    ],
    ids=["empty", "nul", "bel", "ansi-escape", "utf-8", "two-host-names"],
)
def test_malformed_server_name(body: bytes, alert: int) -> None:
    """test-invalid-server-name-extension (RFC 6066 3)."""
    exc, _ = _refused(_client_hello(_replace(ET.server_name, body)))
    assert exc.alert == alert


def test_extended_master_secret_with_a_body_is_decode_error() -> None:
    """test-extended-master-secret-extension 'malformed extended master secret ext' (RFC 7627 5.1)."""
    hook = _replace(ET.extended_master_secret, b"\x00")
    ch = _client_hello(hook, versions=(ProtocolVersion.TLS1_2,))
    exc, s = _refused(ch, server_config(versions=(ProtocolVersion.TLS1_2,)))
    assert exc.reason is Reason.DECODE and exc.alert == AD.decode_error
    assert split_records(s.data_to_send())[-1][2] == bytes((2, AD.decode_error))


# ---------------------------------------------------------------- record layer


def test_zero_length_application_data_inside_client_hello_is_unexpected() -> None:
    """test-tls13-zero-length-data 'zero-length app data interleaved in handshake'."""
    ch = _client_hello()
    body = ch[5:]
    data = _record(H, body[:2]) + _record(APP, b"") + _record(H, body[2:])
    exc, _ = _refused(data)
    assert exc.alert == AD.unexpected_message


def test_zero_length_application_data_before_client_hello_is_unexpected() -> None:
    exc, _ = _refused(_record(APP, b"") + _client_hello())
    assert exc.alert == AD.unexpected_message


def test_second_change_cipher_spec_is_unexpected_message() -> None:
    """test-tls13-multiple-ccs-messages (CVE-2020-25648): one compatibility CCS only."""
    exc, _ = _refused(_client_hello() + CCS_RECORD + CCS_RECORD)
    assert exc.alert == AD.unexpected_message


def test_flight_for_a_valid_client_hello_precedes_the_alert() -> None:
    """test-tls13-0rtt-garbage 'downgrade to TLS 1.2': ClientHello and garbage arrive together;
    the ServerHello flight answering the ClientHello still goes out before the alert."""
    cfg = server_config(versions=(ProtocolVersion.TLS1_2,))
    ch = _client_hello(versions=(ProtocolVersion.TLS1_2,))
    exc, s = _refused(ch + _record(APP, b"\x17" * 64), cfg)
    assert exc.alert == AD.unexpected_message
    records = split_records(s.data_to_send())
    assert records[0][0] == H and records[0][2][0] == HandshakeType.SERVER_HELLO
    assert records[-1][0] == ContentType.ALERT and records[-1][2] == bytes((2, AD.unexpected_message))


# ---------------------------------------------------------------- empty alerts


def _server_keys_installed(keys: str) -> tuple[ServerConnection, Protector, KeyLog]:
    """A server waiting for the client's Finished (``handshake``) or past it
    (``application``), and a sealer for the client's records under those keys."""
    ckl, skl = KeyLog(), KeyLog()
    ccfg = client_config(keylog=ckl, cipher_suites=(CipherSuite.TLS_AES_128_GCM_SHA256,))
    c, s = pair(ccfg, server_config(keylog=skl))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    if keys == "application":
        s.receive_data(c.data_to_send())
        assert not s.is_handshaking
    label = "CLIENT_HANDSHAKE_TRAFFIC_SECRET" if keys == "handshake" else "CLIENT_TRAFFIC_SECRET_0"
    return s, Protector(SUITES[CipherSuite.TLS_AES_128_GCM_SHA256], ckl.secret(label)), skl


@pytest.mark.parametrize("padding", [0, 2, 5, 30])
@pytest.mark.parametrize("keys", ["handshake", "application"])
def test_empty_protected_alert_is_unexpected_message(keys: str, padding: int) -> None:
    """test-tls13-empty-alert: RFC 8446 5.4, an alert record with no content (padded or not)."""
    s, client_write, skl = _server_keys_installed(keys)
    with pytest.raises(TlsError) as info:
        s.receive_data(client_write.seal(ALERT, b"", padding))
    assert info.value.reason is Reason.UNEXPECTED_MESSAGE
    # the server's first record under its application key (no tickets, no data before it)
    sent = open_records(CipherSuite.TLS_AES_128_GCM_SHA256, skl.secret("SERVER_TRAFFIC_SECRET_0"),
                        split_records(s.data_to_send()))  # fmt: skip
    assert sent == [(ALERT, bytes((2, AD.unexpected_message)))]


def test_empty_plaintext_alert_is_unexpected_message() -> None:
    """RFC 8446 5.1 / RFC 5246 6.2.1: no zero-length alert fragments, before any key either."""
    exc, s = _refused(_record(ALERT, b""))
    assert exc.reason is Reason.UNEXPECTED_MESSAGE
    assert plaintext_alert(s.data_to_send()) == (2, AD.unexpected_message)
    exc, _ = _refused(_record(ALERT, b"\x01"))  # one byte is a malformed alert, not an empty one
    assert exc.alert == AD.decode_error


def test_empty_tls12_alerts_are_unexpected_message() -> None:
    """RFC 5246 6.2.1, in the TLS 1.2 handshake (plaintext) and after it (protected)."""
    tls12 = (ProtocolVersion.TLS1_2,)
    exc, s = _refused(_client_hello(versions=tls12) + _record(ALERT, b""), server_config(versions=tls12))
    assert exc.reason is Reason.UNEXPECTED_MESSAGE
    assert split_records(s.data_to_send())[-1][2] == bytes((2, AD.unexpected_message))
    ckl = KeyLog()
    c, s = pair(client_config(versions=tls12, keylog=ckl), server_config(versions=tls12))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    flight = s.data_to_send()
    c.receive_data(flight)
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    assert not c.is_handshaking and not s.is_handshaking and c.cipher_suite is not None
    server_random = flight[5 + 4 + 2 : 5 + 4 + 34]  # record header, handshake header, legacy_version
    client_write, _ = tls12_protectors(ckl, c.client_random, server_random, c.cipher_suite, etm=False)
    client_write.seq = 1  # after the client's Finished
    with pytest.raises(TlsError) as info:
        s.receive_data(client_write.seal(ALERT, b""))
    assert info.value.reason is Reason.UNEXPECTED_MESSAGE
    with pytest.raises(AlertReceived) as alert:
        c.receive_data(s.data_to_send())  # our client reads the server's protected alert
    assert alert.value.description == AD.unexpected_message


# ---------------------------------------------------------------- Finished and rejected early data


def _server_after_flight(hook: Hook | None = None) -> tuple[ServerConnection, bytes, bytes]:
    """A server that sent its flight: (server, client handshake secret, client Finished record)."""
    log = KeyLog()
    c, s = pair(client_config(extensions_hook=hook, cipher_suites=(CipherSuite.TLS_AES_128_GCM_SHA256,)),
                server_config(keylog=log))  # fmt: skip
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    return s, log.secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET"), c.data_to_send()


@pytest.mark.parametrize("extra", [-1, 1, 16, 100])
def test_finished_of_wrong_length_is_decode_error(extra: int) -> None:
    """test-tls13-finished padding/truncation probes: a malformed message, not a bad MAC."""
    s, c_hs, _ = _server_after_flight()
    body = b"\x00" * (32 + extra)
    fin = handshake_message(HandshakeType.FINISHED, body)
    data = seal_records(CipherSuite.TLS_AES_128_GCM_SHA256, c_hs, [(H, fin)])
    with pytest.raises(TlsError) as info:
        s.receive_data(data)
    assert info.value.alert == AD.decode_error


def test_rejected_early_data_skipping_ends_at_the_first_good_record() -> None:
    """test-tls13-0rtt-garbage 'undecryptable record later in handshake' (RFC 8446 4.2.10)."""

    def add_early_data(exts: list[Extension]) -> list[Extension]:
        return [*exts, Extension(ET.early_data, b"")]

    s, c_hs, _ = _server_after_flight(add_early_data)
    fin = handshake_message(HandshakeType.FINISHED, b"\x00" * 32)
    first = seal_records(CipherSuite.TLS_AES_128_GCM_SHA256, c_hs, [(H, fin[:16])])
    s.receive_data(first)  # opens: the client's second flight has begun
    with pytest.raises(TlsError) as info:
        s.receive_data(_record(APP, b"\x42" * 64))
    assert info.value.alert == AD.bad_record_mac


# ---------------------------------------------------------------- what the server sends


def test_tickets_for_a_client_without_psk_key_exchange_modes() -> None:
    """test-tls13-count-tickets -t 2 / test-tls13-connection-abort: no modes advertised, no restriction."""
    c, s = pair(client_config(extensions_hook=_drop(ET.psk_key_exchange_modes)),
                server_config(ticket_keys=ticket_keys()))  # fmt: skip
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    s.receive_data(c.data_to_send())
    assert s.tickets_sent == 2


@pytest.mark.parametrize(
    ("client_groups", "sent"),
    [((NamedGroup.secp256r1,), True), ((NamedGroup.x25519,), False)],
    ids=["other-group", "our-first-group"],
)
def test_supported_groups_in_encrypted_extensions(client_groups: tuple[int, ...], sent: bool) -> None:
    """test-tls13-large-number-of-extensions --supgroup (RFC 8446 4.2.7, as OpenSSL)."""
    ours = (NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1)
    seen: list[list[Extension]] = []

    def record(msg_type: int, exts: list[Extension]) -> list[Extension]:
        if msg_type == HandshakeType.ENCRYPTED_EXTENSIONS:
            seen.append(exts)
        return exts

    ccfg = client_config(groups=client_groups, key_share_groups=client_groups)
    c, s = pair(ccfg, server_config(groups=ours, extensions_hook=record))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    s.receive_data(c.data_to_send())
    assert not s.is_handshaking and not c.is_handshaking
    groups = [e for e in seen[0] if e.type == ET.supported_groups]
    assert bool(groups) is sent


def test_serve_negotiates_http1_and_resumes_only_with_dhe(tmp_path: object) -> None:
    """test-alpn-negotiation and test-tls13-session-resumption against `serve`."""
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "cert.pem").write_bytes(LEAF.chain_pem)
    (folder / "key.pem").write_bytes(LEAF.key_pem)
    parser = argparse.ArgumentParser()
    serve_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["serve", "--cert", str(folder / "cert.pem"), "--key", str(folder / "key.pem")])
    settings, _ = serve_cli.worker_settings(args)
    assert settings.tls.alpn_protocols == ("http/1.1", "http/1.0")  # curl -0 offers http/1.0
    assert settings.tls.psk_modes == (PskKeyExchangeMode.psk_dhe_ke,)
