"""``mbedtls_pk_parse_key``: a client key (PEM or DER, clear or encrypted) as mbedTLS's
pk module takes it, or its negative error code. Imported only when a client key is used
(``cryptography``'s serialization takes ~10 ms to import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    PkKey = (
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey
        | dsa.DSAPrivateKey
    )

__all__ = [
    "PK_KEY_INVALID_FORMAT",
    "PK_PASSWORD_MISMATCH",
    "PK_PASSWORD_REQUIRED",
    "PK_UNKNOWN_PK_ALG",
    "parse_key",
]

#: mbedTLS's pk error codes (include/mbedtls/pk.h).
PK_KEY_INVALID_FORMAT = -0x3D00
PK_PASSWORD_REQUIRED = -0x3C00
PK_PASSWORD_MISMATCH = -0x3B80
PK_UNKNOWN_PK_ALG = -0x3C80


def parse_key(data: bytes, password: bytes | None) -> tuple[PkKey | None, int]:
    """(key, 0) or (None, negative mbedTLS PK code): ``mbedtls_pk_parse_key``, PEM or DER,
    of the key types mbedTLS's pk module holds."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization  # ~10 ms to import: only with a client key
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    try:
        if b"-----BEGIN" in data:
            key: object = serialization.load_pem_private_key(data, password)
        else:
            key = serialization.load_der_private_key(data, password)
    except TypeError:  # encrypted without a password, or a password for a clear key
        return None, PK_PASSWORD_REQUIRED if password is None else PK_PASSWORD_MISMATCH
    except UnsupportedAlgorithm:
        return None, PK_UNKNOWN_PK_ALG
    except ValueError:
        return None, PK_PASSWORD_MISMATCH if password is not None else PK_KEY_INVALID_FORMAT
    pk_types = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)
    if not isinstance(key, (*pk_types, dsa.DSAPrivateKey)):
        return None, PK_UNKNOWN_PK_ALG
    return key, 0
