"""The server's certificate: user-supplied files, or a local CA kept in the state folder.

Without ``--cert/--key`` the server makes (once) a local CA and a server
certificate signed by it, and keeps both in the user's state folder
(``files.state_dir()``: ``$XDG_STATE_HOME/https-request``, else
``~/.local/state/https-request``), so that a device given the CA once keeps
trusting every later run:

* ``ca.pem`` / ``ca-key.pem``: an RSA-2048 CA, valid for 10 years;
* ``server-rsa.pem`` / ``server-rsa-key.pem`` (RSA-2048, the default) or
  ``server-ecdsa.pem`` / ``server-ecdsa-key.pem`` (P-256): the leaf, with
  serverAuth and the names ``localhost``, ``127.0.0.1``, ``::1``,
  ``www.howsmyssl.com`` and every ``--name``.

A leaf is reused while it is signed by the CA, covers every requested name
and has more than 30 days left; otherwise it is reissued (same key) for the
union of its old names and the requested ones. Private keys are written 0600,
every file atomically; a lock file serialises concurrent starts.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes, PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..files import state_dir, write_atomically
from ..structs import Struct
from ..tls.config import CertifiedKey

__all__ = [
    "DEFAULT_NAMES",
    "Identity",
    "IdentityError",
    "KeyType",
    "check_name",
    "load_files",
    "local_identity",
]

KeyType = Literal["rsa", "ecdsa"]

DEFAULT_NAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "::1", "www.howsmyssl.com")
_CA_DAYS = 3650
_LEAF_DAYS = 397
_RENEW_BEFORE = timedelta(days=30)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class IdentityError(Exception):
    """The certificate or key files cannot be used."""


class Identity(Struct, slots=False):
    """The chain and key to serve; ``ca_file`` is our own CA's PEM (None for user files)."""

    certified_key: CertifiedKey
    ca_file: Path | None = None


# ------------------------------------------------------------------ user files


def _read_pem_pair(
    cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str]
) -> tuple[tuple[x509.Certificate, ...], PrivateKeyTypes]:
    """The PEM certificates of ``cert_file`` and the unencrypted PEM key of ``key_file``.
    Raises IdentityError saying which file is unusable and why."""
    contents: list[bytes] = []
    for path in (cert_file, key_file):
        try:
            contents.append(Path(path).read_bytes())
        except OSError as exc:
            raise IdentityError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        chain = tuple(x509.load_pem_x509_certificates(contents[0]))
    except ValueError:
        raise IdentityError(f"{cert_file}: no PEM certificate found in it") from None
    try:
        key = serialization.load_pem_private_key(contents[1], password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise IdentityError(f"{key_file}: not an unencrypted PEM private key") from None
    return chain, key


def load_files(cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str]) -> Identity:
    """A PEM chain (leaf first) and its unencrypted PEM private key. Raises IdentityError."""
    chain, key = _read_pem_pair(cert_file, key_file)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise IdentityError(f"{key_file}: only RSA and ECDSA keys are supported")
    try:
        return Identity(CertifiedKey(chain, key))
    except ValueError:  # CertifiedKey checks that the key is the leaf's
        raise IdentityError(f"{key_file} is not the key of the first certificate in {cert_file}") from None


# ------------------------------------------------------------------ local CA


def _san_entry(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name.lower().rstrip("."))


def check_name(name: str) -> str:
    """A name for the certificate (DNS name, wildcard or IP literal); ValueError if not one."""
    text = name.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    host = text.lower().rstrip(".")
    labels = host.split(".")
    ok = (
        bool(host)
        and len(host) <= 253
        and all(
            0 < len(label) <= 63
            and all(c.isalnum() or c == "-" for c in label)
            and label[0] != "-"
            and label[-1] != "-"
            for label in (labels[1:] if labels[0] == "*" and len(labels) > 2 else labels)
        )
    )
    if not ok or not host.isascii():
        raise ValueError(f"not a DNS name or IP address: {name!r}")
    return host


def _names_of(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
    return names | {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def _key_pem(key: CertificateIssuerPrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    fd = os.open(directory / ".identity.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _serial() -> int:
    return x509.random_serial_number() >> 1  # 159 bits: positive, at most 20 octets


def _key_usage(*, ca: bool, key_encipherment: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _make_ca(now: datetime) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "https-request"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"https-request local CA ({socket.gethostname()[:30]})"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True, key_encipherment=False), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_leaf(
    ca: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    names: Sequence[str],
    now: datetime,
) -> x509.Certificate:
    rsa_leaf = isinstance(key, rsa.RSAPrivateKey)
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(min(now + timedelta(days=_LEAF_DAYS), ca.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False, key_encipherment=rsa_leaf), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_san_entry(n) for n in names]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _load_pair(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes] | None:
    """(cert, key) when both files exist; None when neither does; IdentityError otherwise."""
    if not cert_path.exists() and not key_path.exists():
        return None
    try:
        chain, key = _read_pem_pair(cert_path, key_path)
    except IdentityError as exc:
        raise IdentityError(f"{exc} (delete {cert_path} and {key_path} to start afresh)") from None
    cert = chain[0]
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise IdentityError(f"{key_path}: unexpected key type")
    return cert, key


def _issued_by(leaf: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def local_identity(
    names: Sequence[str] = (),
    key_type: KeyType = "rsa",
    directory: Path | None = None,
    now: datetime | None = None,
) -> Identity:
    """The local CA and a leaf for :data:`DEFAULT_NAMES` plus ``names``, made or reused.

    Raises IdentityError when existing files are unreadable and ValueError
    for a bad name.
    """
    folder = directory if directory is not None else state_dir()
    moment = now if now is not None else datetime.now(UTC)
    wanted = list(dict.fromkeys([*DEFAULT_NAMES, *(check_name(n) for n in names)]))
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise IdentityError(f"cannot create the state folder {folder}: {exc.strerror or exc}") from None
    ca_path, ca_key_path = folder / "ca.pem", folder / "ca-key.pem"
    leaf_path, leaf_key_path = folder / f"server-{key_type}.pem", folder / f"server-{key_type}-key.pem"
    ca_key: CertificateIssuerPrivateKeyTypes
    with _locked(folder):
        pair = _load_pair(ca_path, ca_key_path)
        if pair is None or pair[0].not_valid_after_utc <= moment:
            ca, ca_key = _make_ca(moment)
            write_atomically(ca_key_path, _key_pem(ca_key), 0o600)
            write_atomically(ca_path, _cert_pem(ca), 0o644)
        else:
            ca, ca_key = pair
        leaf_pair = _load_pair(leaf_path, leaf_key_path)
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if leaf_pair is not None and isinstance(leaf_pair[1], rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            leaf, key = leaf_pair[0], leaf_pair[1]
            old = _names_of(leaf) if _issued_by(leaf, ca) else set()
            fresh = leaf.not_valid_after_utc - moment > _RENEW_BEFORE and leaf.not_valid_before_utc <= moment
            if not (fresh and old and set(wanted) <= old):
                names_now = [*wanted, *sorted(old - set(wanted))]
                leaf = _make_leaf(ca, ca_key, key, names_now, moment)
                write_atomically(leaf_path, _cert_pem(leaf), 0o644)
        else:
            key = (
                rsa.generate_private_key(public_exponent=65537, key_size=2048)
                if key_type == "rsa"
                else ec.generate_private_key(ec.SECP256R1())
            )
            leaf = _make_leaf(ca, ca_key, key, wanted, moment)
            write_atomically(leaf_key_path, _key_pem(key), 0o600)
            write_atomically(leaf_path, _cert_pem(leaf), 0o644)
    return Identity(CertifiedKey((leaf,), key), ca_path)
