"""TLS 1.2 handshake messages that differ from TLS 1.3's (RFC 5246 7.4,
RFC 8422 5.4, RFC 5077 3.3). Same conventions as :mod:`.messages`: frozen
value classes, ``decode(body)`` consumes everything, ``encode() -> body``.
"""

from __future__ import annotations

import struct

from ..structs import Struct
from ..wire import DecodeError, Reader, Writer
from .enums import HandshakeType

__all__ = [
    "Certificate12",
    "CertificateRequest12",
    "DigitallySigned",
    "LegacySignature",
    "NewSessionTicket12",
    "ServerEcdhParams",
    "ServerKeyExchange12",
    "encode_digitally_signed",
    "encode_legacy_signature",
    "encode_new_session_ticket12",
    "encode_server_ecdh_params",
]

_NAMED_CURVE = 3
# The server's messages on every TLS 1.2 connection are packed with ``struct`` (a Writer's calls cost
# more than these short bodies): a fixed head, then the one variable field.
_ECDH_HEAD = struct.Struct(">BHB")  # curve_type, namedcurve, the point's length
_SIGNED_HEAD = struct.Struct(">HH")  # SignatureAndHashAlgorithm, the signature's length
_TICKET_HEAD = struct.Struct(">IH")  # ticket_lifetime_hint, the ticket's length


def _fits(body: bytes, width: int) -> bytes:
    """``body``, checked to fit a ``width``-byte length prefix. Raises OverflowError."""
    if len(body) >= 1 << (8 * width):
        raise OverflowError(f"vector of {len(body)} bytes does not fit a {width}-byte length")
    return body


# The encoders from fields: the classes' ``encode`` use them, and the server calls them
# directly (no object made for a message it only sends).
def encode_digitally_signed(algorithm: int, signature: bytes) -> bytes:
    """A TLS 1.2 digitally-signed. Raises OverflowError for a signature over 65535 bytes."""
    signature = _fits(signature, 2)
    return _SIGNED_HEAD.pack(algorithm, len(signature)) + signature


def encode_legacy_signature(signature: bytes) -> bytes:
    """A TLS 1.0/1.1 signature. Raises OverflowError for a signature over 65535 bytes."""
    signature = _fits(signature, 2)
    return len(signature).to_bytes(2, "big") + signature


def encode_server_ecdh_params(named_curve: int, public: bytes) -> bytes:
    """ServerECDHParams with a named curve. Raises OverflowError for a point over 255 bytes."""
    public = _fits(public, 1)
    return _ECDH_HEAD.pack(_NAMED_CURVE, named_curve, len(public)) + public


def encode_new_session_ticket12(ticket_lifetime_hint: int, ticket: bytes) -> bytes:
    """RFC 5077's NewSessionTicket. Raises OverflowError for a ticket over 65535 bytes."""
    ticket = _fits(ticket, 2)
    return _TICKET_HEAD.pack(ticket_lifetime_hint, len(ticket)) + ticket


# struct { ASN.1Cert certificate_list<0..2^24-1>; } Certificate;   (RFC 5246 7.4.2)
class Certificate12(Struct):
    certificate_list: tuple[bytes, ...]

    msg_type = HandshakeType.CERTIFICATE

    @classmethod
    def decode(cls, body: bytes) -> Certificate12:
        r = Reader(body)
        v = r.vec(3, "certificate_list")
        certs = []
        while v.remaining:
            certs.append(v.opaque(3, "ASN.1Cert", 1))
        r.expect_end("Certificate")
        return cls(tuple(certs))

    def encode(self) -> bytes:
        w = Writer()
        with w.prefixed(3):
            for c in self.certificate_list:
                w.opaque(3, c)
        return w.getvalue()


# struct { SignatureAndHashAlgorithm algorithm; opaque signature<0..2^16-1>; } digitally-signed
class DigitallySigned(Struct):
    algorithm: int
    signature: bytes

    @classmethod
    def read(cls, r: Reader) -> DigitallySigned:
        alg = r.u16("signature algorithm")
        return cls(alg, r.opaque(2, "signature"))

    def encode(self) -> bytes:
        """Raises OverflowError for a signature over 65535 bytes."""
        return encode_digitally_signed(self.algorithm, self.signature)

    def write(self, w: Writer) -> None:
        w.raw(self.encode())


# TLS 1.0/1.1 (RFC 2246 7.4.3, RFC 4492 5.4): the signature alone, opaque<0..2^16-1>
class LegacySignature(Struct):
    signature: bytes

    def encode(self) -> bytes:
        """Raises OverflowError for a signature over 65535 bytes."""
        return encode_legacy_signature(self.signature)

    def write(self, w: Writer) -> None:
        w.raw(self.encode())


# struct { ECCurveType curve_type (named_curve=3); NamedCurve namedcurve; opaque point<1..2^8-1>; }
class ServerEcdhParams(Struct):
    named_curve: int
    public: bytes

    def encode(self) -> bytes:
        """Raises OverflowError for a point over 255 bytes."""
        return encode_server_ecdh_params(self.named_curve, self.public)


# struct { ServerECDHParams params; digitally-signed struct {...} signed_params; } ServerKeyExchange;
class ServerKeyExchange12(Struct):
    params: ServerEcdhParams
    signed: DigitallySigned | LegacySignature  # decode reads TLS 1.2's

    msg_type = HandshakeType.SERVER_KEY_EXCHANGE

    @classmethod
    def decode(cls, body: bytes) -> ServerKeyExchange12:
        r = Reader(body)
        curve_type = r.u8("curve_type")
        if curve_type != _NAMED_CURVE:
            raise DecodeError("ServerKeyExchange", f"curve_type {curve_type} is not named_curve")
        curve = r.u16("namedcurve")
        public = r.opaque(1, "public", 1)
        signed = DigitallySigned.read(r)
        r.expect_end("ServerKeyExchange")
        return cls(ServerEcdhParams(curve, public), signed)

    def encode(self) -> bytes:
        return self.params.encode() + self.signed.encode()


# struct { ClientCertificateType certificate_types<1..2^8-1>;
#          SignatureAndHashAlgorithm supported_signature_algorithms<2..2^16-2>;
#          DistinguishedName certificate_authorities<0..2^16-1>; } CertificateRequest;
class CertificateRequest12(Struct):
    certificate_types: bytes
    supported_signature_algorithms: tuple[int, ...]
    certificate_authorities: tuple[bytes, ...] = ()

    msg_type = HandshakeType.CERTIFICATE_REQUEST

    @classmethod
    def decode(cls, body: bytes) -> CertificateRequest12:
        r = Reader(body)
        types = r.opaque(1, "certificate_types", 1)
        algs = r.u16_list(2, "supported_signature_algorithms", 2)
        v = r.vec(2, "certificate_authorities")
        cas = []
        while v.remaining:
            cas.append(v.opaque(2, "DistinguishedName", 1))
        r.expect_end("CertificateRequest")
        return cls(types, tuple(algs), tuple(cas))

    def encode(self) -> bytes:
        w = Writer()
        w.opaque(1, self.certificate_types)
        w.u16_list(2, self.supported_signature_algorithms)
        with w.prefixed(2):
            for ca in self.certificate_authorities:
                w.opaque(2, ca)
        return w.getvalue()


# struct { uint32 ticket_lifetime_hint; opaque ticket<0..2^16-1>; } NewSessionTicket;   (RFC 5077 3.3)
class NewSessionTicket12(Struct):
    ticket_lifetime_hint: int
    ticket: bytes

    msg_type = HandshakeType.NEW_SESSION_TICKET

    @classmethod
    def decode(cls, body: bytes) -> NewSessionTicket12:
        r = Reader(body)
        hint = r.u32("ticket_lifetime_hint")
        ticket = r.opaque(2, "ticket")
        r.expect_end("NewSessionTicket")
        return cls(hint, ticket)

    def encode(self) -> bytes:
        """Raises OverflowError for a ticket over 65535 bytes."""
        return encode_new_session_ticket12(self.ticket_lifetime_hint, self.ticket)
