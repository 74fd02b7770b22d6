"""Record framing (RFC 8446 5.1, RFC 5246 6.2): deframing, handshake
reassembly and fragmentation.

:class:`RecordReader` pulls complete TLSPlaintext/TLSCiphertext records out of
a byte buffer, checking the header before waiting for the body, so a record
that announces more than the limit is refused at once (the limits are in
:mod:`.limits`). :class:`HandshakeJoiner`
puts handshake messages back together across records and splits records that
carry several.
"""

from __future__ import annotations

from .enums import ContentType, HandshakeType
from .errors import Reason, TlsError
from .limits import MAX_CIPHERTEXT, MAX_HANDSHAKE_MESSAGE

__all__ = ["HandshakeJoiner", "RecordReader", "fragment", "record_payloads"]

_KNOWN_TYPES = frozenset(int(t) for t in ContentType)
_HANDSHAKE = ContentType.HANDSHAKE  # (compared on every record: see enums.py on an Enum class's attributes)
_HEARTBEAT = ContentType.HEARTBEAT
_SSL2_HELLO = 0x80  # the high bit of an SSLv2 record's 2-byte length: Go's server answers protocol_version


class RecordReader:
    """Buffers inbound bytes and yields ``(content_type, header, payload)``."""

    __slots__ = ("_buf", "max_length")

    def __init__(self) -> None:
        self._buf = bytearray()
        self.max_length = MAX_CIPHERTEXT

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def pending(self) -> int:
        """Bytes buffered but not yet returned as a record."""
        return len(self._buf)

    def next_record(self) -> tuple[int, bytes, bytes] | None:
        """The next complete record, or None when more bytes are needed.

        Raises TlsError on an unknown content type, a bad version or an
        oversized record; protocol_version for an SSLv2-compatible ClientHello.
        """
        buf = self._buf
        if buf and buf[0] == _SSL2_HELLO:  # (no TLS record starts so: an SSLv2-compatible ClientHello)
            raise TlsError(Reason.NO_COMMON_VERSION, "an SSL 2.0 ClientHello (SSL 2.0 and 3.0 are not spoken)")
        if len(buf) < 5:
            if buf and buf[0] not in _KNOWN_TYPES:
                raise TlsError(Reason.UNEXPECTED_MESSAGE, f"record of unknown content type {buf[0]}")
            return None
        ctype = buf[0]
        if ctype not in _KNOWN_TYPES or ctype == _HEARTBEAT:
            raise TlsError(Reason.UNEXPECTED_MESSAGE, f"record of unknown content type {ctype}")
        if buf[1] != 3:
            raise TlsError(Reason.DECODE, f"record version {buf[1]:02x}{buf[2]:02x}")
        length = (buf[3] << 8) | buf[4]
        if length > self.max_length:
            raise TlsError(Reason.RECORD_OVERFLOW, f"record of {length} bytes")
        if len(buf) < 5 + length:
            return None
        header = bytes(buf[:5])
        payload = bytes(buf[5 : 5 + length])
        del buf[: 5 + length]
        return ctype, header, payload


class HandshakeJoiner:
    """Reassembles handshake messages that span or share records."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def empty(self) -> bool:
        return not self._buf

    def partial(self) -> tuple[int, int, int]:
        """``(msg_type, announced body length, bytes held)`` of the incomplete message held
        (-1 for what its header does not show yet); only meaningful when not :attr:`empty`."""
        buf = self._buf
        length = int.from_bytes(buf[1:4], "big") if len(buf) >= 4 else -1
        return (buf[0] if buf else -1), length, len(buf)

    def next_message(self) -> tuple[int, bytes, bytes] | None:
        """``(msg_type, body, whole message)`` or None if incomplete.

        Raises TlsError when a message announces more than the size limit.
        """
        buf = self._buf
        if len(buf) < 4:
            return None
        length = int.from_bytes(buf[1:4], "big")
        if length > MAX_HANDSHAKE_MESSAGE:
            raise TlsError(Reason.DECODE, f"handshake message type {buf[0]} of {length} bytes")
        if len(buf) < 4 + length:
            return None
        whole = bytes(buf[: 4 + length])
        del buf[: 4 + length]
        return whole[0], whole[4:], whole


def record_payloads(content_type: int, data: bytes, limit: int) -> list[bytes]:
    """``data`` cut into record payloads of at most ``limit`` bytes, as few as fit.

    Handshake data (whole messages, as the engine queues them) is cut between
    messages where it can: several messages share a record, but one that fits in
    a record is never split across two (a record is closed early instead), as
    OpenSSL writes; only a message longer than a record is split. Peers that
    cannot reassemble a message across records (Mbed TLS before 3.6.3) then read
    every flight whose messages fit. Other content is cut every ``limit`` bytes;
    empty data is one empty payload.
    """
    if content_type != _HANDSHAKE or len(data) <= limit:  # (a flight that fits: one record)
        return [data[off : off + limit] for off in range(0, max(len(data), 1), limit)]
    out: list[bytes] = []
    cur = bytearray()
    off, end = 0, len(data)
    while off < end:
        size = min(4 + int.from_bytes(data[off + 1 : off + 4], "big"), end - off)
        if len(cur) + size > limit and size <= limit and cur:  # it fits a record of its own: start one
            out.append(bytes(cur))
            cur.clear()
        cur += data[off : off + size]
        while len(cur) > limit:  # a message longer than a record: split
            out.append(bytes(cur[:limit]))
            del cur[:limit]
        off += size
    if cur or not out:
        out.append(bytes(cur))
    return out


def fragment(
    content_type: int,
    data: bytes,
    limit: int,
    *,
    retry: bool = False,
    hello_version: bytes = b"\x03\x01",
    version: bytes = b"\x03\x03",
) -> list[bytes]:
    """Plaintext records (legacy version 0x0303, or ``version``: a TLS 1.0/1.1 server's is
    the chosen version's, RFC 2246 6.2.1) of at most ``limit`` bytes, cut by
    :func:`record_payloads`.

    An initial ClientHello goes out as ``hello_version`` (0x0301 by default, as
    OpenSSL does; mbedTLS uses 0x0303); one sent after a HelloRetryRequest
    (``retry``) as 0x0303 like every other record (RFC 8446 5.1).
    """
    out = []
    first_hello = not retry and content_type == _HANDSHAKE and data[:1] == bytes((HandshakeType.CLIENT_HELLO,))
    if first_hello:
        version = hello_version
    for chunk in record_payloads(content_type, data, limit):
        out.append(bytes((content_type,)) + version + len(chunk).to_bytes(2, "big") + chunk)
    return out
