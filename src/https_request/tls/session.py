"""Sessions and tickets: the client's resumable session, the server's ticket
keys and ticket contents, and 0-RTT anti-replay.

Theory of operation
-------------------
*Client.* A :class:`Session` is everything needed to resume: the ticket, the
PSK (TLS 1.3) or master secret (TLS 1.2), the suite, the server name, the
ticket's timing and how the server was verified (:class:`PeerCheck`).
:meth:`Session.to_bytes` gives a versioned, checksummed encoding that another
process can load with :meth:`Session.from_bytes`; anything corrupt or foreign
raises :class:`SessionError` (:class:`SessionFormatError` for another format).

*Verification carries over only where it would have held.* A resumed
handshake does not verify the server again: it trusts whoever verified the
server when the session was made. So every session records that check
(:attr:`Session.peer_check`: verified or not, the verify policy, a fingerprint
of the trust source, the name checked), and :meth:`PeerCheck.refusal` is the
one rule for resuming it: only under a configuration that would have accepted
that server (no verification now accepts anything; otherwise the same
policy, the same trust source and, when a name is checked now, the same name
checked then). The client applies it before it offers a session.

*Server.* Tickets are stateless: :class:`TicketState` (the server's view of a
session) is sealed with AES-256-GCM under a named key from :class:`TicketKeys`,
which holds a current and a previous key and rolls to a new one every
``lifetime`` seconds of the injected clock, so a ticket lives at most two
lifetimes. A ticket that fails to open is simply not accepted (never an
error). :class:`MemoryAntiReplay` makes each ticket usable for early data at
most once within its lifetime.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from ..structs import Struct, field
from ..wire import DecodeError, Reader, Writer

if TYPE_CHECKING:
    from collections.abc import Iterable

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from .config import CertificateVerifier

__all__ = [
    "AntiReplay",
    "MemoryAntiReplay",
    "PeerCheck",
    "Session",
    "SessionCache",
    "SessionError",
    "SessionFormatError",
    "TicketKeys",
    "TicketState",
    "encode_ticket_state",
    "trust_fingerprint",
]

_SESSION_MAGIC = b"HRQSESS"
_SESSION_FORMAT = 2  # 2: the PeerCheck (format 1 sessions do not say how the server was verified)
_KEYS_MAGIC = b"HRQTKEYS"
_KEYS_FORMAT = 1
_TICKET_FORMAT = 1
_TICKET_HEAD = struct.Struct(">BHHB")  # format, version, cipher_suite, the secret's length
_TICKET_NUMBERS = struct.Struct(">QIII")  # issued_at (ms), ticket_age_add, lifetime, max_early_data
_NAME_LEN = 16
_NONCE_LEN = 12


class SessionError(ValueError):
    """A saved session or ticket-key blob is corrupt, foreign or unsupported."""


class SessionFormatError(SessionError):
    """A saved session or ticket-key blob in a format this version does not read
    (written by another version of the program)."""


def _checksummed(magic: bytes, fmt: int, body: bytes) -> bytes:
    head = magic + bytes((fmt,))
    return head + body + hashlib.sha256(head + body).digest()[:8]


def _unwrap(blob: bytes, magic: bytes, fmt: int, what: str) -> bytes:
    if not blob.startswith(magic):
        raise SessionError(f"not a {what} (bad magic)")
    if len(blob) < len(magic) + 1 + 8:
        raise SessionError(f"{what} truncated")
    if blob[len(magic)] != fmt:
        raise SessionFormatError(f"{what} format {blob[len(magic)]} is not supported (expected {fmt})")
    body, check = blob[len(magic) + 1 : -8], blob[-8:]
    if not hmac.compare_digest(hashlib.sha256(blob[:-8]).digest()[:8], check):
        raise SessionError(f"{what} checksum mismatch (corrupt file?)")
    return body


def trust_fingerprint(kind: str, digests: Iterable[bytes]) -> bytes:
    """SHA-256 over ``kind`` and the set of ``digests`` (order and duplicates do not count).

    Verifiers name their trust source with it: ``("anchors", the SHA-256 of
    each trust anchor's DER)`` (``cert.fingerprint(SHA256())``),
    ``("esp-bundle", (the SHA-256 of the bundle's bytes,))``.
    """
    return hashlib.sha256(kind.encode() + b"\0" + b"".join(sorted(set(digests)))).digest()


class PeerCheck(Struct, slots=False):
    """How the server of a session was verified when the session was made.

    ``policy`` is the verifier's policy (``webpki``, ``mbedtls``, or
    ``openssl`` for stdlib ssl's own check), "" when the server was not
    verified at all (no verifier: ``insecure`` / ``-k``). ``trust`` is the
    verifier's :func:`trust_fingerprint`. ``name`` is the server name the
    certificate was checked against, "" when no name was checked
    (``skip_common_name``, or no server name). The default is "not verified".
    """

    policy: str = ""
    trust: bytes = b""
    name: str = ""

    @property
    def verified(self) -> bool:
        return bool(self.policy)

    @classmethod
    def of(cls, verifier: CertificateVerifier | None, server_name: str | None) -> PeerCheck:
        """The check ``verifier`` makes of a server called ``server_name`` (None: no verifier)."""
        if verifier is None:
            return cls()
        name = server_name if (verifier.check_name and server_name) else ""
        return cls(verifier.policy, verifier.trust_fingerprint, name)

    def refusal(self, saved: PeerCheck) -> str | None:
        """Why a session whose server was checked as ``saved`` may not be resumed
        under this check (a clause: "it was made without verifying the
        server"); None when it may.

        The rule: no verification now accepts any session; otherwise the
        session's server must have been verified, under the same policy and
        trust source, and against the same name when a name is checked now.
        """
        if not self.verified:
            return None
        if not saved.verified:
            return "it was made without verifying the server"
        if saved.policy != self.policy:
            return f"its server was verified under the {saved.policy} policy, not {self.policy}"
        if saved.trust != self.trust:
            return "its server was verified against other trusted CA certificates"
        if self.name and saved.name != self.name:
            if not saved.name:
                return "it was made without checking the server name"
            return f"its server was verified for the name {saved.name!r}, not {self.name!r}"
        return None


class Session(Struct, slots=False):
    """A resumable client session (TLS 1.3 ticket, or TLS 1.2 ticket / session ID).

    ``secret`` is the resumption PSK (TLS 1.3) or the master secret (TLS 1.2).
    ``received_at`` is the client clock (Unix seconds) when the ticket arrived.
    ``peer_check`` is how the server was verified (:meth:`PeerCheck.refusal`
    decides where the session may be resumed); the default is "not verified".
    """

    version: int
    cipher_suite: int
    server_name: str
    secret: bytes
    ticket: bytes = b""
    ticket_age_add: int = 0
    lifetime: int = 0
    received_at: float = 0.0
    max_early_data: int = 0
    alpn_protocol: str = ""
    session_id: bytes = b""
    extended_master_secret: bool = False
    peer_check: PeerCheck = field(default_factory=PeerCheck)

    def expired(self, now: float) -> bool:
        """True when the ticket's lifetime is over (or it has none and no session ID)."""
        if self.lifetime:
            return now >= self.received_at + self.lifetime
        return not self.session_id

    def obfuscated_age(self, now: float) -> int:
        """obfuscated_ticket_age for the pre_shared_key extension (RFC 8446 4.2.11.1)."""
        age_ms = max(0, int((now - self.received_at) * 1000))
        return (age_ms + self.ticket_age_add) & 0xFFFFFFFF

    def to_bytes(self) -> bytes:
        """Versioned, checksummed encoding (contains secrets: store it 0600)."""
        w = Writer()
        w.u16(self.version)
        w.u16(self.cipher_suite)
        # names verbatim (idna would refuse "a..b" and turn "xn--" names into Unicode on the way back)
        w.opaque(1, self.server_name.encode())
        w.opaque(1, self.secret)
        w.opaque(2, self.ticket)
        w.u32(self.ticket_age_add)
        w.u32(self.lifetime)
        w.u64(int(self.received_at * 1000))
        w.u32(self.max_early_data)
        w.opaque(1, self.alpn_protocol.encode())
        w.opaque(1, self.session_id)
        w.u8(1 if self.extended_master_secret else 0)
        check = self.peer_check
        w.opaque(1, check.policy.encode())
        w.opaque(1, check.trust)
        w.opaque(1, check.name.encode())
        return _checksummed(_SESSION_MAGIC, _SESSION_FORMAT, w.getvalue())

    @classmethod
    def from_bytes(cls, blob: bytes) -> Session:
        """Load :meth:`to_bytes` output. Raises SessionError when corrupt or foreign."""
        body = _unwrap(blob, _SESSION_MAGIC, _SESSION_FORMAT, "saved session")
        try:
            r = Reader(body)
            version = r.u16("version")
            suite = r.u16("cipher_suite")
            name = r.opaque(1, "server_name").decode()
            secret = r.opaque(1, "secret", 1)
            ticket = r.opaque(2, "ticket")
            age_add = r.u32("ticket_age_add")
            lifetime = r.u32("lifetime")
            received_ms = r.u64("received_at")
            max_early = r.u32("max_early_data")
            alpn = r.opaque(1, "alpn").decode()
            session_id = r.opaque(1, "session_id", 0, 32)
            flags = r.u8("flags")
            check = PeerCheck(
                r.opaque(1, "verify policy").decode(), r.opaque(1, "trust fingerprint"), r.opaque(1, "name").decode()
            )
            r.expect_end("saved session")
        except (DecodeError, UnicodeError) as exc:
            raise SessionError(f"saved session is malformed: {exc}") from None
        if version not in (0x0303, 0x0304):
            raise SessionError(f"saved session has unknown version 0x{version:04x}")
        return cls(
            version,
            suite,
            name,
            secret,
            ticket,
            age_add,
            lifetime,
            received_ms / 1000,
            max_early,
            alpn,
            session_id,
            bool(flags & 1),
            check,
        )


class TicketState(Struct, slots=False):
    """What the server seals into a ticket (its view of a resumable session)."""

    version: int
    cipher_suite: int
    secret: bytes
    issued_at: float
    ticket_age_add: int
    lifetime: int
    max_early_data: int
    alpn_protocol: str
    server_name: str
    ticket_id: bytes
    extended_master_secret: bool = False

    # The plaintext a ticket seals, packed and unpacked with two ``struct`` formats instead of a
    # Writer and Reader (a dozen calls each; one of the two on every resumption or ticket): format
    # (1 byte), version, cipher_suite (2 each), secret<1..255>, issued_at in ms (8), ticket_age_add,
    # lifetime, max_early_data (4 each), alpn_protocol<0..255>, server_name<0..255> (verbatim, as in
    # Session.to_bytes), ticket_id<0..255>, extended_master_secret (1).

    def encode(self) -> bytes:
        """Raises OverflowError for a field over 255 bytes (:func:`encode_ticket_state`)."""
        return encode_ticket_state(
            self.version, self.cipher_suite, self.secret, self.issued_at, self.ticket_age_add, self.lifetime,
            self.max_early_data, self.alpn_protocol, self.server_name, self.ticket_id, self.extended_master_secret,
        )  # fmt: skip

    @classmethod
    def decode(cls, data: bytes) -> TicketState | None:
        """None when the plaintext is not a ticket state we understand."""
        try:
            fmt, version, suite, n = _TICKET_HEAD.unpack_from(data)
            if fmt != _TICKET_FORMAT or not n:
                return None
            pos = _TICKET_HEAD.size + n
            secret = data[_TICKET_HEAD.size : pos]
            issued_ms, age_add, lifetime, max_early = _TICKET_NUMBERS.unpack_from(data, pos)
            pos += _TICKET_NUMBERS.size
            strings = []
            for _ in range(3):  # alpn_protocol, server_name, ticket_id
                n = data[pos]
                strings.append(data[pos + 1 : pos + 1 + n])
                pos += 1 + n
            if pos != len(data) - 1:  # (a vector cut short leaves pos past the end, too)
                return None
            return cls(  # every field, in order (a Struct is made fastest so)
                version,
                suite,
                secret,
                issued_ms / 1000,
                age_add,
                lifetime,
                max_early,
                strings[0].decode(),
                strings[1].decode(),
                strings[2],
                bool(data[pos] & 1),
            )
        except (struct.error, IndexError, UnicodeError):
            return None


def encode_ticket_state(
    version: int, cipher_suite: int, secret: bytes, issued_at: float, ticket_age_add: int, lifetime: int,
    max_early_data: int, alpn_protocol: str, server_name: str, ticket_id: bytes, extended_master_secret: bool = False,
) -> bytes:  # fmt: skip
    """:class:`TicketState`'s plaintext from its fields (the format above it), its one encoder:
    a server that seals a ticket makes no TicketState only to encode it. Raises OverflowError
    for a field over 255 bytes."""
    alpn, name = alpn_protocol.encode(), server_name.encode()
    if max(len(secret), len(alpn), len(name), len(ticket_id)) > 255:
        raise OverflowError("a ticket field over 255 bytes")
    return b"".join((
        _TICKET_HEAD.pack(_TICKET_FORMAT, version, cipher_suite, len(secret)),
        secret,
        _TICKET_NUMBERS.pack(int(issued_at * 1000), ticket_age_add, lifetime, max_early_data),
        bytes((len(alpn),)),
        alpn,
        bytes((len(name),)),
        name,
        bytes((len(ticket_id),)),
        ticket_id,
        b"\x01" if extended_master_secret else b"\x00",
    ))  # fmt: skip


class _Key(Struct, frozen=False, slots=False):
    name: bytes
    key: bytes
    created: float

    @cached_property
    def aead(self) -> AESGCM:
        """The key's AES-256-GCM, made once (every ticket sealed or opened uses it)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # servers only: not on a client's start-up

        return AESGCM(self.key)


class TicketKeys:
    """A current and a previous ticket key, rotated every ``lifetime`` seconds.

    ``random`` supplies key material (inject a seeded one in tests). The
    holder is not thread-safe; one per event loop or process.
    """

    def __init__(self, random: Callable[[int], bytes], lifetime: int = 86400, now: float = 0.0) -> None:
        if lifetime <= 0:
            raise ValueError("ticket lifetime must be positive")
        self._random = random
        self.lifetime = lifetime
        self._current = self._new(now)
        self._previous: _Key | None = None

    def _new(self, now: float) -> _Key:
        return _Key(self._random(_NAME_LEN), self._random(32), now)

    def due(self, now: float) -> bool:
        """True when the current key is a lifetime old: :meth:`rotate` would roll now."""
        return now >= self._current.created + self.lifetime

    def rotate(self, now: float) -> bool:
        """Roll to a new key if the current one is a lifetime old; True if it did."""
        if not self.due(now):
            return False
        if now >= self._current.created + 2 * self.lifetime:
            self._previous = None  # both keys are stale
        else:
            self._previous = self._current
        self._current = self._new(now)
        return True

    def seal(self, plaintext: bytes, now: float) -> bytes:
        """Encrypt a ticket under the current key: name | nonce | AEAD(plaintext)."""
        self.rotate(now)
        k = self._current
        nonce = self._random(_NONCE_LEN)
        return k.name + nonce + k.aead.encrypt(nonce, plaintext, k.name)

    def open(self, ticket: bytes, now: float) -> tuple[bytes, bool] | None:
        """(plaintext, sealed_with_previous_key) or None; never raises on garbage."""
        from cryptography.exceptions import InvalidTag

        self.rotate(now)
        if len(ticket) < _NAME_LEN + _NONCE_LEN + 16:
            return None
        name = ticket[:_NAME_LEN]
        for k, old in ((self._current, False), (self._previous, True)):
            if k is not None and hmac.compare_digest(k.name, name):
                nonce = ticket[_NAME_LEN : _NAME_LEN + _NONCE_LEN]
                try:
                    return k.aead.decrypt(nonce, ticket[_NAME_LEN + _NONCE_LEN :], name), old
                except InvalidTag:
                    return None
        return None

    def to_bytes(self) -> bytes:
        """Serialise both keys (secret: store 0600)."""
        w = Writer()
        w.u32(self.lifetime)
        for k in (self._current, self._previous):
            if k is None:
                w.u8(0)
                continue
            w.u8(1)
            w.raw(k.name)
            w.raw(k.key)
            w.u64(int(k.created * 1000))
        return _checksummed(_KEYS_MAGIC, _KEYS_FORMAT, w.getvalue())

    @classmethod
    def from_bytes(cls, blob: bytes, random: Callable[[int], bytes]) -> TicketKeys:
        """Load :meth:`to_bytes` output. Raises SessionError when corrupt."""
        body = _unwrap(blob, _KEYS_MAGIC, _KEYS_FORMAT, "ticket key file")
        try:
            r = Reader(body)
            lifetime = r.u32("lifetime")
            keys: list[_Key | None] = []
            for _ in range(2):
                if r.u8("present"):
                    keys.append(_Key(r.take(_NAME_LEN), r.take(32), r.u64() / 1000))
                else:
                    keys.append(None)
            r.expect_end("ticket key file")
        except DecodeError as exc:
            raise SessionError(f"ticket key file is malformed: {exc}") from None
        if keys[0] is None or lifetime == 0:
            raise SessionError("ticket key file has no current key")
        obj = cls.__new__(cls)
        obj._random = random
        obj.lifetime = lifetime
        obj._current = keys[0]
        obj._previous = keys[1]
        return obj


class SessionCache:
    """The server's session-ID cache for TLS 1.2 resumption: bounded, oldest
    entries evicted first. Values are encoded :class:`TicketState` bytes."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, session_id: bytes, state: bytes) -> None:
        self._entries[session_id] = state
        self._entries.move_to_end(session_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def get(self, session_id: bytes) -> bytes | None:
        return self._entries.get(session_id)


class AntiReplay(Protocol):
    """Single use of a ticket for 0-RTT (RFC 8446 8.1)."""

    def claim(self, ticket_id: bytes, expires_at: float, now: float) -> bool:
        """True the first time ``ticket_id`` is claimed before ``expires_at``."""
        ...


class MemoryAntiReplay(Struct, frozen=False, slots=False):
    """In-process single-use record, bounded: when full, early data is refused."""

    max_entries: int = 100_000
    _seen: dict[bytes, float] = field(default_factory=dict)

    def claim(self, ticket_id: bytes, expires_at: float, now: float) -> bool:
        if len(self._seen) >= self.max_entries:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
            if len(self._seen) >= self.max_entries:
                return False
        if ticket_id in self._seen and self._seen[ticket_id] > now:
            return False
        self._seen[ticket_id] = expires_at
        return True
