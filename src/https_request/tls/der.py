"""The raw DER pieces of a certificate that mbedTLS works on, without ``cryptography``.

mbedTLS compares names byte by byte (``x509_name_cmp``) and hashes the
TBSCertificate exactly as received, so the path rules in
:mod:`.mbedtls_path` and the ESP bundle (:mod:`https_request.esp_tls.bundle`,
whose lookups ``memcmp`` raw subject DER) read them here rather than from
``cryptography``'s re-encoded objects:

* :func:`cert_parts`: the TBSCertificate, issuer and subject DER of a certificate;
* :func:`parse_name`: a Name as mbedTLS's flat attribute list
  (``mbedtls_x509_name``: OID, value tag, value bytes, "next is in the same RDN");
* :func:`quiet_serial_warnings`: parse certificates with ``cryptography``
  without its warning about a serial number that is not positive (a DER
  field mbedTLS loads as it is), for the CA files and bundles esp-tls loads.

Importing this module is cheap (no ``cryptography``). Everything raises
``ValueError`` on DER it cannot read.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

from ..structs import Struct

__all__ = ["CertParts", "NameAttr", "cert_parts", "parse_name", "quiet_serial_warnings", "tlv"]

_SERIAL_WARNING = r"Parsed a serial number which wasn't positive"


def tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """The TLV at ``pos``: (tag, value start, value end). Single-byte tags, definite lengths."""
    if pos + 2 > end:
        raise ValueError("truncated DER")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte DER tag")
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise ValueError("DER value runs past its container")
    return tag, pos, pos + length


class NameAttr(Struct):
    """One AttributeTypeAndValue as mbedTLS keeps it (``mbedtls_x509_name``).

    A Struct, not a ``typing.NamedTuple``: with postponed annotations a NamedTuple
    compiles each field's annotation, and the process's first ``compile()`` builds
    every AST type (~9 M instructions), before ``get``'s SYN when ``--cacert`` is
    checked (this module's :func:`cert_parts`)."""

    oid: bytes  # OID content octets
    tag: int  # value's ASN.1 tag
    value: bytes  # value content octets
    merged: bool  # another attribute of the same RDN (SET) follows


def parse_name(raw: bytes) -> list[NameAttr]:
    """A Name DER (SEQUENCE OF SET OF AttributeTypeAndValue) as a flat attribute list."""
    tag, start, end = tlv(raw, 0, len(raw))
    if tag != 0x30 or end != len(raw):
        raise ValueError("a Name is one SEQUENCE")
    attrs: list[NameAttr] = []
    pos = start
    while pos < end:
        tag, set_start, set_end = tlv(raw, pos, end)
        if tag != 0x31 or set_start == set_end:
            raise ValueError("an RDN is a non-empty SET")
        inner = set_start
        while inner < set_end:
            tag, atv_start, atv_end = tlv(raw, inner, set_end)
            if tag != 0x30:
                raise ValueError("an attribute is a SEQUENCE")
            tag, oid_start, oid_end = tlv(raw, atv_start, atv_end)
            if tag != 0x06:
                raise ValueError("an attribute type is an OID")
            vtag, v_start, v_end = tlv(raw, oid_end, atv_end)
            if v_end != atv_end:
                raise ValueError("trailing data in an attribute")
            inner = atv_end
            attrs.append(NameAttr(raw[oid_start:oid_end], vtag, raw[v_start:v_end], inner < set_end))
        pos = set_end
    return attrs


class CertParts(Struct):
    """The raw pieces mbedTLS works on: ``tbs``, ``issuer_raw``, ``subject_raw`` (all whole TLVs)."""

    tbs: bytes
    issuer_raw: bytes
    subject_raw: bytes


def cert_parts(der: bytes) -> CertParts:
    """Split a certificate's DER into the TBSCertificate and its issuer and subject Names."""
    tag, start, end = tlv(der, 0, len(der))
    if tag != 0x30:
        raise ValueError("a certificate is a SEQUENCE")
    tag, tbs_start, tbs_end = tlv(der, start, end)
    if tag != 0x30:
        raise ValueError("a TBSCertificate is a SEQUENCE")
    tbs = der[start:tbs_end]
    pos = tbs_start
    tag, _, v_end = tlv(der, pos, tbs_end)
    if tag == 0xA0:  # [0] EXPLICIT version
        pos = v_end
    raws: list[bytes] = []
    for expected in (0x02, 0x30, 0x30, 0x30, 0x30):  # serial, signature, issuer, validity, subject
        tag, _, v_end = tlv(der, pos, tbs_end)
        if tag != expected:
            raise ValueError("unexpected field in TBSCertificate")
        raws.append(der[pos:v_end])
        pos = v_end
    return CertParts(tbs=tbs, issuer_raw=raws[2], subject_raw=raws[4])


@contextlib.contextmanager
def quiet_serial_warnings() -> Iterator[None]:
    """Ignore cryptography's warning about non-positive serial numbers while parsing
    third-party certificates (as ESP-IDF's generator does; mbedTLS loads them)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_SERIAL_WARNING)
        yield
