"""Key exchange groups: x25519, secp256r1/384r1/521r1, X25519MLKEM768, and in TLS 1.2 the brainpool curves.

Private keys are made from the injected randomness, so a seeded random source
makes a handshake reproducible. X25519MLKEM768 follows
draft-ietf-tls-ecdhe-mlkem: the client share is the ML-KEM-768 encapsulation
key (1184 bytes) then the X25519 public key (32); the server share is the
ML-KEM ciphertext (1088) then its X25519 public key; the shared secret is the
ML-KEM shared secret then the X25519 one (64 bytes).

The brainpool curves (RFC 7027: brainpoolP256r1/384r1/512r1, ids 0x001A-0x001C)
are TLS 1.2 ECDHE and static-ECDH groups only (RFC 8446 4.2.7 lists them as
obsolete for TLS 1.3, where they have ids of their own): they are in
:data:`TLS12_GROUPS`, not in :data:`SUPPORTED_GROUPS`, and offered only by the
device profiles and ``--groups`` (never in the default offer).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x25519

from .enums import NamedGroup
from .errors import Reason, TlsError

__all__ = ["SUPPORTED_GROUPS", "TLS12_GROUPS", "ClientShare", "ec_point", "group_of_curve", "server_exchange"]

_CURVES: dict[int, ec.EllipticCurve] = {
    NamedGroup.secp256r1: ec.SECP256R1(),
    NamedGroup.secp384r1: ec.SECP384R1(),
    NamedGroup.secp521r1: ec.SECP521R1(),
    NamedGroup.brainpoolP256r1: ec.BrainpoolP256R1(),
    NamedGroup.brainpoolP384r1: ec.BrainpoolP384R1(),
    NamedGroup.brainpoolP512r1: ec.BrainpoolP512R1(),
}
# The group orders (SEC 2 for the secp curves, RFC 5639 3.4-3.7 for brainpool)
_ORDERS: dict[int, int] = {
    NamedGroup.secp256r1: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    NamedGroup.secp384r1: int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16
    ),
    NamedGroup.secp521r1: int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
    NamedGroup.brainpoolP256r1: 0xA9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7,
    NamedGroup.brainpoolP384r1: int(
        "8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7CF3AB6AF6B7FC3103B883202E9046565", 16
    ),
    NamedGroup.brainpoolP512r1: int(
        "AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330870"
        "553E5C414CA92619418661197FAC10471DB1D381085DDADDB58796829CA90069",
        16,
    ),
}
_POINT_LEN: dict[int, int] = {g: 1 + 2 * ((c.key_size + 7) // 8) for g, c in _CURVES.items()}
_MLKEM_EK = 1184
_MLKEM_CT = 1088

SUPPORTED_GROUPS = frozenset(
    {NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1, NamedGroup.secp521r1, NamedGroup.X25519MLKEM768}
)
"""The TLS 1.3 key exchange groups implemented here."""

TLS12_GROUPS = frozenset({NamedGroup.x25519, *_CURVES})
"""The TLS 1.2 (and 1.0/1.1) ECDHE curves implemented here: x25519, the secp and the brainpool curves."""

Random = Callable[[int], bytes]

# RFC 8422 5.1.1 / RFC 7027: the named groups of the curves a certificate key can be on
_CURVE_GROUPS: dict[str, int] = {c.name: g for g, c in _CURVES.items()}


def group_of_curve(curve: ec.EllipticCurve) -> int:
    """The named group of an EC key's curve (a static ECDH certificate's), 0 for one without a TLS name."""
    return _CURVE_GROUPS.get(curve.name, 0)


def _ec_private(group: int, random: Random) -> ec.EllipticCurvePrivateKey:
    order = _ORDERS[group]
    nbytes = (order.bit_length() + 7) // 8 + 8
    scalar = int.from_bytes(random(nbytes), "big") % (order - 1) + 1
    return ec.derive_private_key(scalar, _CURVES[group])


def _ec_point(group: int, data: bytes) -> ec.EllipticCurvePublicKey:
    if len(data) != _POINT_LEN[group] or data[0] != 4:
        raise TlsError(Reason.BAD_KEY_SHARE, "EC key share is not an uncompressed point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[group], data)
    except ValueError:
        raise TlsError(Reason.BAD_KEY_SHARE, "EC key share is not on the curve") from None


def _x25519_private(random: Random) -> x25519.X25519PrivateKey:
    """A fresh x25519 key from ``random``; with the default, os.urandom, OpenSSL's own
    generator makes it (~7 us less than loading 32 bytes handed over; as random)."""
    if random is os.urandom:
        return x25519.X25519PrivateKey.generate()
    return x25519.X25519PrivateKey.from_private_bytes(random(32))


def _x25519_public(data: bytes) -> x25519.X25519PublicKey:
    if len(data) != 32:
        raise TlsError(Reason.BAD_KEY_SHARE, f"x25519 key share of {len(data)} bytes")
    return x25519.X25519PublicKey.from_public_bytes(data)


def _x25519_exchange(priv: x25519.X25519PrivateKey, peer: bytes) -> bytes:
    try:
        return priv.exchange(_x25519_public(peer))
    except ValueError:  # all-zero shared secret (small-order point)
        raise TlsError(Reason.BAD_KEY_SHARE, "x25519 shared secret is zero") from None


def ec_point(key: ec.EllipticCurvePublicKey) -> bytes:
    """The X9.62 uncompressed point (RFC 8446 4.2.8.2, RFC 4492 5.4), from the public numbers:
    ``serialization``'s encoders would import its SSH module (~10 ms at start-up)."""
    numbers = key.public_numbers()
    size = (key.curve.key_size + 7) // 8
    return b"\x04" + numbers.x.to_bytes(size, "big") + numbers.y.to_bytes(size, "big")


class ClientShare:
    """A client's ephemeral key for one group: ``key_exchange`` goes in the
    ClientHello, :meth:`finish` takes the server's share."""

    __slots__ = ("group", "key_exchange", "_x", "_ec", "_kem")

    def __init__(self, group: int, random: Random) -> None:
        self.group = group
        self._x: x25519.X25519PrivateKey | None = None
        self._ec: ec.EllipticCurvePrivateKey | None = None
        self._kem: mlkem.MLKEM768PrivateKey | None = None
        if group == NamedGroup.x25519:
            self._x = _x25519_private(random)
            self.key_exchange = self._x.public_key().public_bytes_raw()
        elif group in _CURVES:
            self._ec = _ec_private(group, random)
            self.key_exchange = ec_point(self._ec.public_key())
        elif group == NamedGroup.X25519MLKEM768:
            self._kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(random(64))
            self._x = _x25519_private(random)
            self.key_exchange = self._kem.public_key().public_bytes_raw() + self._x.public_key().public_bytes_raw()
        else:
            raise ValueError(f"unsupported group 0x{group:04x}")

    def finish(self, server_share: bytes) -> bytes:
        """The shared secret. Raises TlsError BAD_KEY_SHARE on a bad share."""
        if self._kem is not None and self._x is not None:
            if len(server_share) != _MLKEM_CT + 32:
                raise TlsError(Reason.BAD_KEY_SHARE, f"X25519MLKEM768 share of {len(server_share)} bytes")
            try:
                kem_ss = self._kem.decapsulate(server_share[:_MLKEM_CT])
            except ValueError:
                raise TlsError(Reason.BAD_KEY_SHARE, "ML-KEM ciphertext rejected") from None
            return kem_ss + _x25519_exchange(self._x, server_share[_MLKEM_CT:])
        if self._x is not None:
            return _x25519_exchange(self._x, server_share)
        assert self._ec is not None
        return self._ec.exchange(ec.ECDH(), _ec_point(self.group, server_share))


def server_exchange(group: int, client_share: bytes, random: Random) -> tuple[bytes, bytes]:
    """Server side of one group: returns (server key_exchange, shared secret).

    Raises TlsError BAD_KEY_SHARE when the client's share is malformed.
    """
    if group == NamedGroup.x25519:
        priv = _x25519_private(random)
        return priv.public_key().public_bytes_raw(), _x25519_exchange(priv, client_share)
    if group in _CURVES:
        peer = _ec_point(group, client_share)
        key = _ec_private(group, random)
        pub = ec_point(key.public_key())
        return pub, key.exchange(ec.ECDH(), peer)
    if group == NamedGroup.X25519MLKEM768:
        if len(client_share) != _MLKEM_EK + 32:
            raise TlsError(Reason.BAD_KEY_SHARE, f"X25519MLKEM768 share of {len(client_share)} bytes")
        try:
            ek = mlkem.MLKEM768PublicKey.from_public_bytes(client_share[:_MLKEM_EK])
        except ValueError:
            raise TlsError(Reason.BAD_KEY_SHARE, "ML-KEM encapsulation key rejected") from None
        kem_ss, ct = ek.encapsulate()
        priv = _x25519_private(random)
        x_ss = _x25519_exchange(priv, client_share[_MLKEM_EK:])
        return ct + priv.public_key().public_bytes_raw(), kem_ss + x_ss
    raise ValueError(f"unsupported group 0x{group:04x}")
