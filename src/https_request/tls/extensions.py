"""Typed bodies of the extensions the engine understands (RFC 8446 4.2, RFC 6066, RFC 7301).

Each ``decode_*`` takes the raw extension body, consumes all of it and raises
:class:`~https_request.wire.DecodeError` when malformed; each ``encode_*``
returns the raw body. Peer-supplied code points stay ``int``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..structs import Struct
from ..wire import DecodeError, Reader, Writer
from .errors import Reason, TlsError
from .limits import MAX_KEY_SHARES

__all__ = [
    "OfferedPsks",
    "PskIdentity",
    "binders_length",
    "decode_alpn",
    "decode_client_server_name",
    "decode_cookie",
    "decode_key_share_client",
    "decode_key_share_hrr",
    "decode_key_share_server",
    "decode_max_early_data",
    "decode_offered_psks",
    "decode_psk_modes",
    "decode_selected_identity",
    "decode_selected_version",
    "decode_server_name",
    "decode_supported_versions",
    "decode_u16_list",
    "encode_alpn",
    "encode_cookie",
    "encode_key_share_client",
    "encode_key_share_entry",
    "encode_max_early_data",
    "encode_offered_psks",
    "encode_psk_modes",
    "encode_server_name",
    "encode_supported_versions",
    "encode_u16_list",
]


# struct { NameType name_type; select (name_type) { case host_name: HostName; } name; } ServerName;
# struct { ServerName server_name_list<1..2^16-1> } ServerNameList;   (RFC 6066 3)
def encode_server_name(host: str) -> bytes:
    w = Writer()
    with w.prefixed(2):
        w.u8(0)
        w.opaque(2, host.encode("ascii"))
    return w.getvalue()


def decode_server_name(data: bytes) -> str | None:
    """The host_name entry (None for an empty body, as in a server's echo)."""
    if not data:
        return None
    r = Reader(data)
    v = r.vec(2, "server_name_list", 1)
    host: str | None = None
    while v.remaining:
        name_type = v.u8("name_type")
        name = v.opaque(2, "host_name", 1)
        if name_type == 0:
            if host is not None:
                raise DecodeError("server_name", "two host_name entries")
            try:
                host = name.decode("ascii")
            except UnicodeDecodeError:
                raise DecodeError("server_name", "host_name is not ASCII") from None
    r.expect_end("server_name")
    return host


_PRINTABLE = bytes(range(0x21, 0x7F))  # printable ASCII without the space


def decode_client_server_name(data: bytes) -> str | None:
    """A ClientHello's server_name, as a server checks it (tlsfuzzer, as OpenSSL): an empty
    body is a decode_error; two host_names (RFC 6066 3) or one with bytes outside printable
    ASCII (NUL, controls, UTF-8, spaces) an illegal_parameter. None: no host_name entry."""
    if not data:
        raise DecodeError("server_name", "empty extension in a ClientHello")
    r = Reader(data)
    v = r.vec(2, "server_name_list", 1)
    names = []
    while v.remaining:
        name_type = v.u8("name_type")
        name = v.opaque(2, "host_name", 1)
        if name_type == 0:
            names.append(name)
    r.expect_end("server_name")
    if len(names) > 1:
        raise TlsError(Reason.ILLEGAL_PARAMETER, "two host_name entries in server_name")
    if names and names[0].translate(None, _PRINTABLE):  # (a byte left once the printable ones are deleted)
        raise TlsError(Reason.ILLEGAL_PARAMETER, f"host_name {names[0]!r} is not a printable ASCII name")
    return names[0].decode("ascii") if names else None


def encode_u16_list(values: Sequence[int]) -> bytes:
    """supported_groups / signature_algorithms body."""
    w = Writer()
    w.u16_list(2, values)
    return w.getvalue()


def decode_u16_list(data: bytes, what: str) -> list[int]:
    r = Reader(data)
    out = r.u16_list(2, what, 2)
    r.expect_end(what)
    return out


# struct { select (Handshake.msg_type) { case client_hello: ProtocolVersion versions<2..254>;
#          case server_hello: ProtocolVersion selected_version; }; } SupportedVersions;
def encode_supported_versions(versions: Sequence[int]) -> bytes:
    w = Writer()
    w.u16_list(1, versions)
    return w.getvalue()


def decode_supported_versions(data: bytes) -> list[int]:
    r = Reader(data)
    out = r.u16_list(1, "supported_versions", 2)
    r.expect_end("supported_versions")
    return out


def decode_selected_version(data: bytes) -> int:
    r = Reader(data)
    v = r.u16("selected_version")
    r.expect_end("supported_versions")
    return v


# struct { NamedGroup group; opaque key_exchange<1..2^16-1>; } KeyShareEntry;
def encode_key_share_entry(group: int, key_exchange: bytes) -> bytes:
    w = Writer()
    w.u16(group)
    w.opaque(2, key_exchange)
    return w.getvalue()


def encode_key_share_client(shares: list[tuple[int, bytes]]) -> bytes:
    w = Writer()
    with w.prefixed(2):
        for group, kx in shares:
            w.u16(group)
            w.opaque(2, kx)
    return w.getvalue()


def decode_key_share_client(data: bytes) -> list[tuple[int, bytes]]:
    """client_shares; a group appearing twice is illegal (RFC 8446 4.2.8)."""
    r = Reader(data)
    v = r.vec(2, "client_shares")
    out: list[tuple[int, bytes]] = []
    while v.remaining:
        group = v.u16("group")
        kx = v.opaque(2, "key_exchange", 0)
        if not kx:  # a well-formed entry with an unusable key: illegal_parameter, as for other bad shares
            raise TlsError(Reason.BAD_KEY_SHARE, f"empty key_exchange for group 0x{group:04x}")
        out.append((group, kx))
        if len(out) > MAX_KEY_SHARES:
            raise DecodeError("client_shares", f"more than {MAX_KEY_SHARES} entries")
    r.expect_end("key_share")
    return out


def decode_key_share_server(data: bytes) -> tuple[int, bytes]:
    r = Reader(data)
    group = r.u16("group")
    kx = r.opaque(2, "key_exchange", 1)
    r.expect_end("key_share")
    return group, kx


def decode_key_share_hrr(data: bytes) -> int:
    r = Reader(data)
    group = r.u16("selected_group")
    r.expect_end("key_share")
    return group


# enum { psk_ke(0), psk_dhe_ke(1), (255) } PskKeyExchangeMode;
def encode_psk_modes(modes: Sequence[int]) -> bytes:
    return bytes((len(modes),)) + bytes(modes)


def decode_psk_modes(data: bytes) -> list[int]:
    r = Reader(data)
    out = r.u8_list(1, "ke_modes")
    r.expect_end("psk_key_exchange_modes")
    if not out:
        raise DecodeError("psk_key_exchange_modes", "empty")
    return out


class PskIdentity(Struct):
    identity: bytes
    obfuscated_ticket_age: int


class OfferedPsks(Struct):
    """struct { PskIdentity identities<7..2^16-1>; PskBinderEntry binders<33..2^16-1>; }"""

    identities: tuple[PskIdentity, ...]
    binders: tuple[bytes, ...]


def encode_offered_psks(psks: OfferedPsks) -> bytes:
    w = Writer()
    with w.prefixed(2):
        for ident in psks.identities:
            w.opaque(2, ident.identity)
            w.u32(ident.obfuscated_ticket_age)
    with w.prefixed(2):
        for b in psks.binders:
            w.opaque(1, b)
    return w.getvalue()


def binders_length(binders: tuple[bytes, ...] | list[bytes]) -> int:
    """Bytes the binders list takes at the end of a ClientHello."""
    return 2 + sum(1 + len(b) for b in binders)


def decode_offered_psks(data: bytes) -> OfferedPsks:
    r = Reader(data)
    v = r.vec(2, "identities", 7)
    idents = []
    while v.remaining:
        ident = v.opaque(2, "identity", 1)
        idents.append(PskIdentity(ident, v.u32("obfuscated_ticket_age")))
    b = r.vec(2, "binders", 33)
    binders = []
    while b.remaining:
        binders.append(b.opaque(1, "binder", 32))
    r.expect_end("pre_shared_key")
    if len(binders) != len(idents):
        raise DecodeError("pre_shared_key", f"{len(idents)} identities but {len(binders)} binders")
    return OfferedPsks(tuple(idents), tuple(binders))


def decode_selected_identity(data: bytes) -> int:
    r = Reader(data)
    v = r.u16("selected_identity")
    r.expect_end("pre_shared_key")
    return v


def encode_max_early_data(size: int) -> bytes:
    return size.to_bytes(4, "big")


def decode_max_early_data(data: bytes) -> int:
    r = Reader(data)
    v = r.u32("max_early_data_size")
    r.expect_end("early_data")
    return v


# struct { opaque cookie<1..2^16-1>; } Cookie;
def encode_cookie(cookie: bytes) -> bytes:
    w = Writer()
    w.opaque(2, cookie)
    return w.getvalue()


def decode_cookie(data: bytes) -> bytes:
    r = Reader(data)
    c = r.opaque(2, "cookie", 1)
    r.expect_end("cookie")
    return c


# opaque ProtocolName<1..2^8-1>; struct { ProtocolName protocol_name_list<2..2^16-1> }
def encode_alpn(protocols: Sequence[str]) -> bytes:
    w = Writer()
    with w.prefixed(2):
        for p in protocols:
            w.opaque(1, p.encode())
    return w.getvalue()


def decode_alpn(data: bytes) -> list[str]:
    r = Reader(data)
    v = r.vec(2, "protocol_name_list", 2)
    out = []
    while v.remaining:
        out.append(v.opaque(1, "protocol_name", 1).decode("latin-1"))
    r.expect_end("application_layer_protocol_negotiation")
    return out
