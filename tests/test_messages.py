"""Handshake message and extension codecs (tls/messages.py, tls/extensions.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from https_request.tls import extensions as X
from https_request.tls.enums import AlertDescription, CipherSuite, ExtensionType, HandshakeType, NamedGroup
from https_request.tls.errors import Reason, TlsError
from https_request.tls.messages import (
    HRR_RANDOM,
    Certificate,
    CertificateEntry,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    EncryptedExtensions,
    EndOfEarlyData,
    Extension,
    Finished,
    KeyUpdate,
    NewSessionTicket,
    ServerHello,
    find_extension,
    handshake_message,
)
from https_request.wire import DecodeError
from tlsenv import pair, split_records

ET = ExtensionType
GREASE = [0x0A0A, 0x1A1A, 0x2A2A, 0xFAFA]

# ------------------------------------------------------------- fixtures


def real_client_hello() -> bytes:
    """The ClientHello (handshake message, header included) our client sends."""
    c, _ = pair()
    c.start_handshake()
    recs = split_records(c.data_to_send())
    assert recs[0][0] == 22 and recs[0][1][1:3] == b"\x03\x01"
    return recs[0][2]


def sample_client_hello() -> ClientHello:
    return ClientHello(
        0x0303,
        bytes(range(32)),
        b"\x01" * 32,
        (0x0A0A, CipherSuite.TLS_AES_128_GCM_SHA256, 0xC02F, 0xFAFA),
        b"\x00",
        (
            Extension(0x1A1A, b""),
            Extension(ET.server_name, X.encode_server_name("example.com")),
            Extension(0xFFCE, b"unknown body"),
            Extension(ET.supported_versions, X.encode_supported_versions([0x2A2A, 0x0304])),
            Extension(ET.key_share, X.encode_key_share_client([(0x2A2A, b"\x00"), (NamedGroup.x25519, bytes(32))])),
            Extension(0xFAFA, b"\x00"),
        ),
    )


# ----------------------------------------------------- ClientHello golden


def test_real_client_hello_bytes_round_trip() -> None:
    msg = real_client_hello()
    assert msg[0] == HandshakeType.CLIENT_HELLO
    assert int.from_bytes(msg[1:4], "big") == len(msg) - 4
    ch = ClientHello.decode(msg[4:])
    assert ch.encode() == msg[4:]
    assert ClientHello.decode(ch.encode()) == ch
    assert handshake_message(HandshakeType.CLIENT_HELLO, ch.encode()) == msg
    # what our client offers
    assert ch.legacy_version == 0x0303
    assert ch.legacy_compression_methods == b"\x00"
    assert len(ch.legacy_session_id) == 32  # middlebox compatibility mode
    assert X.decode_server_name(ch.ext(ET.server_name) or b"") == "localhost"
    assert X.decode_supported_versions(ch.ext(ET.supported_versions) or b"") == [0x0304]
    groups = [g for g, _ in X.decode_key_share_client(ch.ext(ET.key_share) or b"")]
    assert groups == [NamedGroup.X25519MLKEM768, NamedGroup.x25519]


def test_client_hello_is_deterministic_with_seeded_random() -> None:
    assert real_client_hello() == real_client_hello()


def test_unknown_and_grease_preserved_in_order() -> None:
    ch = sample_client_hello()
    back = ClientHello.decode(ch.encode())
    assert back == ch
    assert back.cipher_suites == (0x0A0A, 0x1301, 0xC02F, 0xFAFA)
    assert [e.type for e in back.extensions] == [0x1A1A, 0, 0xFFCE, 43, 51, 0xFAFA]
    assert back.ext(0xFFCE) == b"unknown body"
    assert back.ext(0x1234) is None


def test_server_sees_grease_from_client_hook() -> None:
    """The client's extensions hook output reaches the server untouched."""
    from tlsenv import client_config

    def hook(exts: list[Extension]) -> list[Extension]:
        return [Extension(14906, b""), *exts, Extension(65486, b"x")]

    c, s = pair(client_config(extensions_hook=hook))
    c.start_handshake()
    s.receive_data(c.data_to_send())
    assert s.client_hello is not None
    types = [e.type for e in s.client_hello.extensions]
    assert types[0] == 0x3A3A and types[-1] == 0xFFCE
    assert s.client_hello_raw[4:] == s.client_hello.encode()


def test_client_hello_without_extensions() -> None:
    ch = ClientHello(0x0303, bytes(32), b"", (0x1301,), b"\x00", ())
    body = ch.encode()
    assert body.endswith(b"\x01\x00")  # compression methods, no extensions block
    assert ClientHello.decode(body) == ch
    # an empty extensions block decodes to no extensions too
    assert ClientHello.decode(body + b"\x00\x00").extensions == ()


def test_duplicate_extension() -> None:
    ch = ClientHello(
        0x0303, bytes(32), b"", (0x1301,), b"\x00", (Extension(ET.server_name, b""), Extension(ET.server_name, b""))
    )
    with pytest.raises(TlsError) as ei:
        ClientHello.decode(ch.encode())
    assert ei.value.reason is Reason.DUPLICATE_EXTENSION
    assert ei.value.alert == AlertDescription.illegal_parameter


_DUP = (Extension(0xFFCE, b"a"), Extension(1, b""), Extension(0xFFCE, b"b"))


@pytest.mark.parametrize(
    ("cls", "body"),
    [
        (ServerHello, ServerHello(0x0303, bytes(32), b"", 0x1301, 0, _DUP).encode()),
        (EncryptedExtensions, EncryptedExtensions(_DUP).encode()),
        (CertificateRequest, CertificateRequest(b"", _DUP).encode()),
        (NewSessionTicket, NewSessionTicket(1, 2, b"", b"t", _DUP).encode()),
        (Certificate, Certificate(b"", (CertificateEntry(b"c", _DUP),)).encode()),
    ],
)
def test_duplicate_extension_in_other_messages(cls: type, body: bytes) -> None:
    with pytest.raises(TlsError) as ei:
        cls.decode(body)  # type: ignore[attr-defined]
    assert ei.value.reason is Reason.DUPLICATE_EXTENSION


def test_psk_not_last() -> None:
    psk = X.encode_offered_psks(X.OfferedPsks((X.PskIdentity(b"ticket", 0),), (bytes(32),)))
    exts = (Extension(ET.pre_shared_key, psk), Extension(ET.server_name, b""))
    ch = ClientHello(0x0303, bytes(32), b"", (0x1301,), b"\x00", exts)
    with pytest.raises(TlsError) as ei:
        ClientHello.decode(ch.encode())
    assert ei.value.reason is Reason.PSK_NOT_LAST
    assert ei.value.alert == AlertDescription.illegal_parameter
    ok = ClientHello(0x0303, bytes(32), b"", (0x1301,), b"\x00", tuple(reversed(exts)))
    assert ClientHello.decode(ok.encode()) == ok


def test_psk_position_only_checked_in_client_hello() -> None:
    exts = (Extension(ET.pre_shared_key, b"\x00\x00"), Extension(ET.key_share, b""))
    sh = ServerHello(0x0303, bytes(32), b"", 0x1301, 0, exts)
    assert ServerHello.decode(sh.encode()) == sh


ALL_SAMPLES = [
    (ClientHello, sample_client_hello()),
    (ServerHello, ServerHello(0x0303, HRR_RANDOM, b"\x05" * 32, 0x1302, 0, (Extension(43, b"\x03\x04"),))),
    (EncryptedExtensions, EncryptedExtensions((Extension(16, X.encode_alpn(["h2"])), Extension(0, b"")))),
    (EncryptedExtensions, EncryptedExtensions(())),
    (CertificateRequest, CertificateRequest(b"ctx", (Extension(13, X.encode_u16_list([0x0403])),))),
    (Certificate, Certificate(b"", (CertificateEntry(b"\x30\x00", (Extension(5, b"ocsp"),)), CertificateEntry(b"x")))),
    (Certificate, Certificate(b"\x01", ())),
    (CertificateVerify, CertificateVerify(0x0804, b"sig" * 30)),
    (Finished, Finished(bytes(range(48)))),
    (NewSessionTicket, NewSessionTicket(86400, 0xDEADBEEF, b"\x00" * 8, b"ticket", (Extension(42, b"\x00\x00@\x00"),))),
    (NewSessionTicket, NewSessionTicket(0, 0, b"", b"t", ())),
    (EndOfEarlyData, EndOfEarlyData()),
    (KeyUpdate, KeyUpdate(0)),
    (KeyUpdate, KeyUpdate(1)),
]


@pytest.mark.parametrize(("cls", "msg"), ALL_SAMPLES)
def test_every_message_round_trips(cls: type, msg: object) -> None:
    body = msg.encode()  # type: ignore[attr-defined]
    assert cls.decode(body) == msg  # type: ignore[attr-defined]
    assert cls.decode(body).encode() == body  # type: ignore[attr-defined]


@pytest.mark.parametrize(("cls", "msg"), [s for s in ALL_SAMPLES if s[0] is not Finished])
def test_trailing_bytes_rejected(cls: type, msg: object) -> None:
    body = msg.encode()  # type: ignore[attr-defined]
    with pytest.raises(DecodeError):
        cls.decode(body + b"\x00")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("cls", "msg"), [s for s in ALL_SAMPLES if s[0] not in (Finished, EndOfEarlyData)])
def test_every_truncation_rejected(cls: type, msg: object) -> None:
    body = msg.encode()  # type: ignore[attr-defined]
    for n in range(len(body)):
        try:
            cls.decode(body[:n])  # type: ignore[attr-defined]
        except DecodeError:
            continue
        # a shorter prefix may still be well formed only where the format makes a part optional
        assert cls in (ClientHello, ServerHello) and n == len(body) - len(_ext_block(msg)), (cls, n)


def _ext_block(msg: object) -> bytes:
    block = b"".join(_ext(e) for e in msg.extensions)  # type: ignore[attr-defined]
    return len(block).to_bytes(2, "big") + block if block else b""


def _ext(e: Extension) -> bytes:
    return e.type.to_bytes(2, "big") + len(e.data).to_bytes(2, "big") + e.data


def test_specific_message_rules() -> None:
    with pytest.raises(DecodeError):
        Finished.decode(b"")
    with pytest.raises(DecodeError):
        EndOfEarlyData.decode(b"\x00")
    with pytest.raises(DecodeError):
        EncryptedExtensions.decode(b"")
    with pytest.raises(DecodeError):
        CertificateRequest.decode(b"\x00")
    with pytest.raises(TlsError) as ei:
        KeyUpdate.decode(b"\x02")
    assert ei.value.reason is Reason.ILLEGAL_PARAMETER
    with pytest.raises(DecodeError):  # ticket<1..2^16-1>
        NewSessionTicket.decode(NewSessionTicket(1, 1, b"", b"t", ()).encode().replace(b"\x00\x01t", b"\x00\x00"))
    with pytest.raises(DecodeError):  # cert_data<1..2^24-1>
        Certificate.decode(b"\x00\x00\x00\x05\x00\x00\x00\x00\x00")
    with pytest.raises(DecodeError):  # legacy_session_id<0..32>
        ClientHello.decode(b"\x03\x03" + bytes(32) + b"\x21" + bytes(33) + b"\x00\x02\x13\x01\x01\x00")
    with pytest.raises(DecodeError):  # cipher_suites<2..2^16-2>
        ClientHello.decode(b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x00\x01\x00")
    with pytest.raises(DecodeError):  # legacy_compression_methods<1..2^8-1>
        ClientHello.decode(b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01\x00")


def test_hello_retry_request_flag() -> None:
    assert ServerHello(0x0303, HRR_RANDOM, b"", 0x1301, 0, ()).is_hello_retry_request
    assert not ServerHello(0x0303, bytes(32), b"", 0x1301, 0, ()).is_hello_retry_request


def test_handshake_message_header() -> None:
    assert handshake_message(20, b"abc") == b"\x14\x00\x00\x03abc"
    assert find_extension((Extension(1, b"a"), Extension(2, b"b")), 2) == b"b"


# ------------------------------------------------------- extension codecs


def test_server_name() -> None:
    body = X.encode_server_name("example.com")
    assert body == b"\x00\x0e\x00\x00\x0bexample.com"
    assert X.decode_server_name(body) == "example.com"
    assert X.decode_server_name(b"") is None  # the server's empty echo
    # an unknown name type is skipped
    other = b"\x00\x06\x01\x00\x03abc"
    assert X.decode_server_name(other) is None
    with pytest.raises(DecodeError, match="two host_name"):
        X.decode_server_name(b"\x00\x0c\x00\x00\x03abc\x00\x00\x03def")
    with pytest.raises(DecodeError, match="ASCII"):
        X.decode_server_name(b"\x00\x06\x00\x00\x03\xc3\xa9x")
    with pytest.raises(DecodeError):
        X.decode_server_name(b"\x00\x00")  # server_name_list<1..>
    with pytest.raises(DecodeError):
        X.decode_server_name(body + b"\x00")


def test_u16_lists_and_versions() -> None:
    assert X.decode_u16_list(X.encode_u16_list([0x1D, 0x17]), "groups") == [0x1D, 0x17]
    with pytest.raises(DecodeError):
        X.decode_u16_list(b"\x00\x00", "groups")
    assert X.encode_supported_versions([0x0304, 0x0303]) == b"\x04\x03\x04\x03\x03"
    assert X.decode_supported_versions(b"\x04\x03\x04\x03\x03") == [0x0304, 0x0303]
    with pytest.raises(DecodeError):
        X.decode_supported_versions(b"\x00")
    assert X.decode_selected_version(b"\x03\x04") == 0x0304
    with pytest.raises(DecodeError):
        X.decode_selected_version(b"\x03\x04\x00")


def test_key_shares() -> None:
    shares = [(NamedGroup.x25519, b"\x01" * 32), (NamedGroup.secp256r1, b"\x04" + bytes(64))]
    body = X.encode_key_share_client(shares)
    assert X.decode_key_share_client(body) == shares
    assert X.decode_key_share_client(b"\x00\x00") == []
    with pytest.raises(TlsError) as empty:  # key_exchange<1..>: illegal_parameter, as tlsfuzzer expects
        X.decode_key_share_client(b"\x00\x04\x00\x1d\x00\x00")
    assert empty.value.alert == AlertDescription.illegal_parameter
    entry = X.encode_key_share_entry(NamedGroup.x25519, b"k" * 32)
    assert X.decode_key_share_server(entry) == (NamedGroup.x25519, b"k" * 32)
    assert X.decode_key_share_hrr(b"\x00\x17") == NamedGroup.secp256r1
    with pytest.raises(DecodeError):
        X.decode_key_share_hrr(b"\x00\x17\x00")


def test_psk_modes_and_psks() -> None:
    assert X.encode_psk_modes([1, 0]) == b"\x02\x01\x00"
    assert X.decode_psk_modes(b"\x02\x01\x00") == [1, 0]
    with pytest.raises(DecodeError):
        X.decode_psk_modes(b"\x00")
    offered = X.OfferedPsks(
        (X.PskIdentity(b"ticket-1", 123), X.PskIdentity(b"t2", 0xFFFFFFFF)), (bytes(32), b"\x07" * 48)
    )
    body = X.encode_offered_psks(offered)
    assert X.decode_offered_psks(body) == offered
    assert X.binders_length(offered.binders) == 2 + 33 + 49
    assert body.endswith(b"\x00" + bytes((33 + 49,)) + b"\x20" + bytes(32) + b"\x30" + b"\x07" * 48)
    mismatched = X.encode_offered_psks(X.OfferedPsks(offered.identities, offered.binders[:1]))
    with pytest.raises(DecodeError, match="binders"):
        X.decode_offered_psks(mismatched)
    short_binder = X.encode_offered_psks(X.OfferedPsks(offered.identities[:1], (bytes(31),)))
    with pytest.raises(DecodeError):
        X.decode_offered_psks(short_binder)
    assert X.decode_selected_identity(b"\x00\x01") == 1


def test_early_data_cookie_alpn() -> None:
    assert X.decode_max_early_data(X.encode_max_early_data(16384)) == 16384
    with pytest.raises(DecodeError):
        X.decode_max_early_data(b"")
    assert X.decode_cookie(X.encode_cookie(b"c" * 100)) == b"c" * 100
    with pytest.raises(DecodeError):
        X.decode_cookie(b"\x00\x00")
    body = X.encode_alpn(["h2", "http/1.1"])
    assert body == b"\x00\x0c\x02h2\x08http/1.1"
    assert X.decode_alpn(body) == ["h2", "http/1.1"]
    with pytest.raises(DecodeError):
        X.decode_alpn(b"\x00\x02\x00\x00")  # empty protocol name
    with pytest.raises(DecodeError):
        X.decode_alpn(b"\x00\x00")


# ------------------------------------------------------- hypothesis round trips

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def extension_lists(draw: st.DrawFn, allow_psk_last: bool = False, max_size: int = 8) -> tuple[Extension, ...]:
    types = draw(st.lists(u16.filter(lambda t: t != ET.pre_shared_key), unique=True, max_size=max_size))
    exts = [Extension(t, draw(st.binary(max_size=40))) for t in types]
    if allow_psk_last and draw(st.booleans()):
        exts.append(Extension(ET.pre_shared_key, draw(st.binary(max_size=40))))
    return tuple(exts)


client_hellos = st.builds(
    ClientHello,
    u16,
    st.binary(min_size=32, max_size=32),
    st.binary(max_size=32),
    st.lists(u16, min_size=1, max_size=40).map(tuple),
    st.binary(min_size=1, max_size=10),
    extension_lists(allow_psk_last=True),
)
server_hellos = st.builds(
    ServerHello,
    u16,
    st.one_of(st.just(HRR_RANDOM), st.binary(min_size=32, max_size=32)),
    st.binary(max_size=32),
    u16,
    st.integers(0, 255),
    extension_lists(allow_psk_last=True),
)
certificates = st.builds(
    Certificate,
    st.binary(max_size=255),
    st.lists(
        st.builds(CertificateEntry, st.binary(min_size=1, max_size=200), extension_lists(max_size=3)), max_size=4
    ).map(tuple),
)
tickets = st.builds(
    NewSessionTicket, u32, u32, st.binary(max_size=255), st.binary(min_size=1, max_size=300), extension_lists()
)


@settings(max_examples=150)
@given(client_hellos)
def test_client_hello_round_trip(ch: ClientHello) -> None:
    assert ClientHello.decode(ch.encode()) == ch


@settings(max_examples=150)
@given(server_hellos)
def test_server_hello_round_trip(sh: ServerHello) -> None:
    assert ServerHello.decode(sh.encode()) == sh


@settings(max_examples=150)
@given(certificates)
def test_certificate_round_trip(cert: Certificate) -> None:
    assert Certificate.decode(cert.encode()) == cert


@settings(max_examples=150)
@given(tickets)
def test_new_session_ticket_round_trip(nst: NewSessionTicket) -> None:
    assert NewSessionTicket.decode(nst.encode()) == nst


@settings(max_examples=100)
@given(st.binary(max_size=200))
def test_decoders_only_raise_decode_or_tls_errors(data: bytes) -> None:
    for cls in (
        ClientHello,
        ServerHello,
        EncryptedExtensions,
        CertificateRequest,
        Certificate,
        CertificateVerify,
        Finished,
        NewSessionTicket,
        EndOfEarlyData,
        KeyUpdate,
    ):
        try:
            cls.decode(data)  # type: ignore[attr-defined]
        except (DecodeError, TlsError):
            pass
    for fn in (
        X.decode_server_name,
        X.decode_supported_versions,
        X.decode_selected_version,
        X.decode_key_share_client,
        X.decode_key_share_server,
        X.decode_key_share_hrr,
        X.decode_psk_modes,
        X.decode_offered_psks,
        X.decode_selected_identity,
        X.decode_max_early_data,
        X.decode_cookie,
        X.decode_alpn,
    ):
        try:
            fn(data)  # type: ignore[operator]
        except DecodeError:
            pass
