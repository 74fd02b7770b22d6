"""Handshake messages as frozen value classes (Struct) named as in RFC 8446 / RFC 5246.

Each message has ``decode(body)`` (the handshake body, without the 4-byte
header; the whole body must be consumed) and ``encode() -> body``. Extensions
stay raw :class:`Extension` values in wire order, so unknown and GREASE code
points survive; :mod:`.extensions` decodes the bodies we understand.
Malformed input raises :class:`~https_request.wire.DecodeError`; duplicate
extensions and a misplaced pre_shared_key raise :class:`TlsError`.

The messages a server only sends (ServerHello, EncryptedExtensions,
CertificateVerify, NewSessionTicket) are also encoded straight from their
fields by one function each (``encode_server_hello``, ...), which the class's
``encode`` calls too: a server makes them on every connection and drops them
once encoded, and a Struct made for that alone costs more than the encoding.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cached_property

from ..structs import Struct
from ..wire import DecodeError, Reader, Writer, tagged_block
from .enums import ExtensionType, HandshakeType
from .errors import Reason, TlsError

__all__ = [
    "HRR_RANDOM",
    "Certificate",
    "CertificateEntry",
    "CertificateRequest",
    "CertificateVerify",
    "ClientHello",
    "EncryptedExtensions",
    "EndOfEarlyData",
    "Extension",
    "Finished",
    "KeyUpdate",
    "NewSessionTicket",
    "ServerHello",
    "decode_extensions",
    "encode_certificate_verify",
    "encode_encrypted_extensions",
    "encode_extensions",
    "encode_new_session_ticket",
    "encode_server_hello",
    "find_extension",
    "handshake_message",
]

# RFC 8446 4.1.3: ServerHello.random of a HelloRetryRequest, SHA-256("HelloRetryRequest").
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

# the fixed-size parts of the messages a server sends, packed in one call each (the encoders below)
_U16 = struct.Struct(">H").pack
_SUITE_COMPRESSION = struct.Struct(">HB").pack  # ServerHello's cipher_suite, legacy_compression_method
_NST_HEAD = struct.Struct(">IIB").pack  # ticket_lifetime, ticket_age_add, the nonce's length


def handshake_message(msg_type: int, body: bytes) -> bytes:
    """Handshake header (type, uint24 length) + body."""
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


class Extension(tuple[int, bytes]):
    """One extension: its code point and raw body, a ``(type, data)`` pair.

    A tuple rather than a :class:`Struct`: a server decodes a dozen per ClientHello,
    and a tuple subclass is made for less than half a Struct's instructions (~3.6k
    against ~8.6k, valgrind). ``==`` and ``hash`` are the pair's.
    """

    __slots__ = ()

    def __new__(cls, type: int, data: bytes) -> Extension:
        return tuple.__new__(cls, (type, data))

    def __getnewargs__(self) -> tuple[int, bytes]:  # (copy and pickle: __new__ takes the two fields)
        return self[0], self[1]

    @property
    def type(self) -> int:
        return self[0]

    @property
    def data(self) -> bytes:
        return self[1]

    def __repr__(self) -> str:
        return f"Extension(type={self[0]!r}, data={self[1]!r})"


def decode_extensions(r: Reader, what: str, *, psk_last: bool = False) -> tuple[Extension, ...]:
    """``Extension extensions<0..2^16-1>``; rejects duplicates.

    With ``psk_last`` (ClientHello) pre_shared_key must be the last one.
    """
    if not r.remaining:  # the extensions block is optional in a hello
        return ()
    out = _exts_from_block(r.vec(2, f"{what} extensions"), what)
    if psk_last:
        psk = ExtensionType.pre_shared_key  # (read once: see enums.py on an Enum class's attributes)
        for etype, _ in out[:-1]:
            if etype == psk:
                raise TlsError(Reason.PSK_NOT_LAST, what)
    return out


def encode_extensions(w: Writer, extensions: tuple[Extension, ...] | list[Extension]) -> None:
    w.tagged(2, extensions)


def find_extension(extensions: tuple[Extension, ...], etype: int) -> bytes | None:
    """The body of extension ``etype``, or None."""
    for t, data in extensions:
        if t == etype:
            return data
    return None


# struct { ProtocolVersion legacy_version; Random random; opaque legacy_session_id<0..32>;
#          CipherSuite cipher_suites<2..2^16-2>; opaque legacy_compression_methods<1..2^8-1>;
#          Extension extensions<8..2^16-1>; } ClientHello;   (RFC 8446 4.1.2)
class ClientHello(Struct, slots=False):
    legacy_version: int
    random: bytes
    legacy_session_id: bytes
    cipher_suites: tuple[int, ...]
    legacy_compression_methods: bytes
    extensions: tuple[Extension, ...]

    msg_type = HandshakeType.CLIENT_HELLO

    @classmethod
    def decode(cls, body: bytes) -> ClientHello:
        r = Reader(body)
        legacy_version = r.u16("client_version")
        random = r.take(32, "random")
        session_id = r.opaque(1, "legacy_session_id", 0, 32)
        suites = r.u16_list(2, "cipher_suites", 2)
        compression = r.opaque(1, "legacy_compression_methods", 1)
        exts = decode_extensions(r, "ClientHello", psk_last=True)
        r.expect_end("ClientHello")
        ch = cls(legacy_version, random, session_id, tuple(suites), compression, exts)
        ch.__dict__["ext"] = dict(reversed(exts)).get  # (ext's value, as cached_property keeps it: no lock taken)
        return ch

    def encode(self) -> bytes:
        w = Writer()
        w.u16(self.legacy_version)
        w.raw(self.random)
        w.opaque(1, self.legacy_session_id)
        w.u16_list(2, self.cipher_suites)
        w.opaque(1, self.legacy_compression_methods)
        if self.extensions:
            encode_extensions(w, self.extensions)
        return w.getvalue()

    @cached_property
    def ext(self) -> Callable[[int], bytes | None]:
        """``ext(etype)``: the body of extension ``etype``, or None. (A server looks up a dozen:
        by a table, the first of a duplicate as find_extension; the table's own ``get``, no
        Python call per lookup.)"""
        return dict(reversed(self.extensions)).get


# struct { ProtocolVersion legacy_version; Random random; opaque legacy_session_id_echo<0..32>;
#          CipherSuite cipher_suite; uint8 legacy_compression_method;
#          Extension extensions<6..2^16-1>; } ServerHello;   (RFC 8446 4.1.3)
class ServerHello(Struct):
    legacy_version: int
    random: bytes
    legacy_session_id_echo: bytes
    cipher_suite: int
    legacy_compression_method: int
    extensions: tuple[Extension, ...]

    msg_type = HandshakeType.SERVER_HELLO

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HRR_RANDOM

    @classmethod
    def decode(cls, body: bytes) -> ServerHello:
        r = Reader(body)
        legacy_version = r.u16("server_version")
        random = r.take(32, "random")
        session_id = r.opaque(1, "legacy_session_id_echo", 0, 32)
        suite = r.u16("cipher_suite")
        compression = r.u8("legacy_compression_method")
        exts = decode_extensions(r, "ServerHello")
        r.expect_end("ServerHello")
        return cls(legacy_version, random, session_id, suite, compression, exts)

    def encode(self) -> bytes:
        return encode_server_hello(
            self.legacy_version,
            self.random,
            self.legacy_session_id_echo,
            self.cipher_suite,
            self.legacy_compression_method,
            self.extensions,
        )

    def ext(self, etype: int) -> bytes | None:
        return find_extension(self.extensions, etype)


def encode_server_hello(
    legacy_version: int,
    random: bytes,
    legacy_session_id_echo: bytes,
    cipher_suite: int,
    legacy_compression_method: int,
    extensions: tuple[Extension, ...] | list[Extension],
) -> bytes:
    """A ServerHello's body from its fields. Raises OverflowError when a vector does not fit."""
    session_id = legacy_session_id_echo
    if len(session_id) > 0xFF:
        raise OverflowError(f"vector of {len(session_id)} bytes does not fit a 1-byte length")
    return b"".join((
        _U16(legacy_version),
        random,
        bytes((len(session_id),)),
        session_id,
        _SUITE_COMPRESSION(cipher_suite, legacy_compression_method),
        tagged_block(2, extensions) if extensions else b"",
    ))  # fmt: skip


# struct { Extension extensions<0..2^16-1>; } EncryptedExtensions;   (RFC 8446 4.3.1)
class EncryptedExtensions(Struct):
    extensions: tuple[Extension, ...]

    msg_type = HandshakeType.ENCRYPTED_EXTENSIONS

    @classmethod
    def decode(cls, body: bytes) -> EncryptedExtensions:
        r = Reader(body)
        if not r.remaining:
            raise DecodeError("EncryptedExtensions", "empty body")
        exts = decode_extensions(r, "EncryptedExtensions")
        r.expect_end("EncryptedExtensions")
        return cls(exts)

    def encode(self) -> bytes:
        return encode_encrypted_extensions(self.extensions)

    def ext(self, etype: int) -> bytes | None:
        return find_extension(self.extensions, etype)


def encode_encrypted_extensions(extensions: tuple[Extension, ...] | list[Extension]) -> bytes:
    """An EncryptedExtensions body. Raises OverflowError when the block does not fit."""
    return tagged_block(2, extensions)


# struct { opaque certificate_request_context<0..2^8-1>;
#          Extension extensions<2..2^16-1>; } CertificateRequest;   (RFC 8446 4.3.2)
class CertificateRequest(Struct):
    certificate_request_context: bytes
    extensions: tuple[Extension, ...]

    msg_type = HandshakeType.CERTIFICATE_REQUEST

    @classmethod
    def decode(cls, body: bytes) -> CertificateRequest:
        r = Reader(body)
        ctx = r.opaque(1, "certificate_request_context")
        if not r.remaining:
            raise DecodeError("CertificateRequest", "missing extensions")
        exts = decode_extensions(r, "CertificateRequest")
        r.expect_end("CertificateRequest")
        return cls(ctx, exts)

    def encode(self) -> bytes:
        w = Writer()
        w.opaque(1, self.certificate_request_context)
        encode_extensions(w, self.extensions)
        return w.getvalue()

    def ext(self, etype: int) -> bytes | None:
        return find_extension(self.extensions, etype)


class CertificateEntry(Struct):
    cert_data: bytes
    extensions: tuple[Extension, ...] = ()


# struct { opaque certificate_request_context<0..2^8-1>;
#          CertificateEntry certificate_list<0..2^24-1>; } Certificate;   (RFC 8446 4.4.2)
class Certificate(Struct):
    certificate_request_context: bytes
    certificate_list: tuple[CertificateEntry, ...]

    msg_type = HandshakeType.CERTIFICATE

    @classmethod
    def decode(cls, body: bytes) -> Certificate:
        r = Reader(body)
        ctx = r.opaque(1, "certificate_request_context")
        v = r.vec(3, "certificate_list")
        entries = []
        while v.remaining:
            data = v.opaque(3, "cert_data", 1)
            exts = _exts_from_block(v.vec(2, "CertificateEntry extensions"), "CertificateEntry")
            entries.append(CertificateEntry(data, exts))
        r.expect_end("Certificate")
        return cls(ctx, tuple(entries))

    def encode(self) -> bytes:
        w = Writer()
        w.opaque(1, self.certificate_request_context)
        with w.prefixed(3):
            for e in self.certificate_list:
                w.opaque(3, e.cert_data)
                encode_extensions(w, e.extensions)
        return w.getvalue()


# struct { SignatureScheme algorithm; opaque signature<0..2^16-1>; } CertificateVerify;
class CertificateVerify(Struct):
    algorithm: int
    signature: bytes

    msg_type = HandshakeType.CERTIFICATE_VERIFY

    @classmethod
    def decode(cls, body: bytes) -> CertificateVerify:
        r = Reader(body)
        alg = r.u16("algorithm")
        sig = r.opaque(2, "signature")
        r.expect_end("CertificateVerify")
        return cls(alg, sig)

    def encode(self) -> bytes:
        return encode_certificate_verify(self.algorithm, self.signature)


def encode_certificate_verify(algorithm: int, signature: bytes) -> bytes:
    """A CertificateVerify body. Raises OverflowError for a signature over 64 KiB."""
    if len(signature) > 0xFFFF:
        raise OverflowError(f"vector of {len(signature)} bytes does not fit a 2-byte length")
    return _U16(algorithm) + _U16(len(signature)) + signature


# struct { opaque verify_data[Hash.length]; } Finished;
class Finished(Struct):
    verify_data: bytes

    msg_type = HandshakeType.FINISHED

    @classmethod
    def decode(cls, body: bytes) -> Finished:
        if not body:
            raise DecodeError("Finished", "empty verify_data")
        return cls(body)

    def encode(self) -> bytes:
        return self.verify_data


# struct { uint32 ticket_lifetime; uint32 ticket_age_add; opaque ticket_nonce<0..255>;
#          opaque ticket<1..2^16-1>; Extension extensions<0..2^16-2>; } NewSessionTicket;
class NewSessionTicket(Struct):
    ticket_lifetime: int
    ticket_age_add: int
    ticket_nonce: bytes
    ticket: bytes
    extensions: tuple[Extension, ...]

    msg_type = HandshakeType.NEW_SESSION_TICKET

    @classmethod
    def decode(cls, body: bytes) -> NewSessionTicket:
        r = Reader(body)
        lifetime = r.u32("ticket_lifetime")
        age_add = r.u32("ticket_age_add")
        nonce = r.opaque(1, "ticket_nonce")
        ticket = r.opaque(2, "ticket", 1)
        exts = _exts_from_block(r.vec(2, "NewSessionTicket extensions"), "NewSessionTicket")
        r.expect_end("NewSessionTicket")
        return cls(lifetime, age_add, nonce, ticket, exts)

    def encode(self) -> bytes:
        return encode_new_session_ticket(
            self.ticket_lifetime, self.ticket_age_add, self.ticket_nonce, self.ticket, self.extensions
        )

    def ext(self, etype: int) -> bytes | None:
        return find_extension(self.extensions, etype)


def encode_new_session_ticket(
    ticket_lifetime: int,
    ticket_age_add: int,
    ticket_nonce: bytes,
    ticket: bytes,
    extensions: tuple[Extension, ...] | list[Extension],
) -> bytes:
    """A NewSessionTicket body. Raises OverflowError when a vector does not fit."""
    if len(ticket_nonce) > 0xFF or len(ticket) > 0xFFFF:
        raise OverflowError(f"a ticket_nonce of {len(ticket_nonce)} or ticket of {len(ticket)} bytes does not fit")
    return b"".join((
        _NST_HEAD(ticket_lifetime, ticket_age_add, len(ticket_nonce)),
        ticket_nonce,
        _U16(len(ticket)),
        ticket,
        tagged_block(2, extensions),
    ))  # fmt: skip


def _exts_from_block(v: Reader, what: str) -> tuple[Extension, ...]:
    """Extensions from an already length-delimited block (as many as it holds: see
    limits' "CPU per hello" for why they are not counted)."""
    out: list[Extension] = []
    seen: set[int] = set()
    make = tuple.__new__  # (the pair tagged yields, as an Extension: no Python frame per extension)
    for pair in v.tagged("extension"):
        etype = pair[0]
        if etype in seen:
            raise TlsError(Reason.DUPLICATE_EXTENSION, f"{what}: extension 0x{etype:04x} twice")
        seen.add(etype)
        out.append(make(Extension, pair))
    return tuple(out)


class EndOfEarlyData(Struct):
    msg_type = HandshakeType.END_OF_EARLY_DATA

    @classmethod
    def decode(cls, body: bytes) -> EndOfEarlyData:
        if body:
            raise DecodeError("EndOfEarlyData", "non-empty body")
        return cls()

    def encode(self) -> bytes:
        return b""


# enum { update_not_requested(0), update_requested(1) } KeyUpdateRequest;
class KeyUpdate(Struct):
    request_update: int

    msg_type = HandshakeType.KEY_UPDATE

    @classmethod
    def decode(cls, body: bytes) -> KeyUpdate:
        r = Reader(body)
        v = r.u8("request_update")
        r.expect_end("KeyUpdate")
        if v not in (0, 1):
            raise TlsError(Reason.ILLEGAL_PARAMETER, f"KeyUpdate request_update={v}")
        return cls(v)

    def encode(self) -> bytes:
        return bytes((self.request_update,))
