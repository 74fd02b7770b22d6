"""ESP-IDF's x509 certificate bundle (``components/mbedtls/esp_crt_bundle``).

Three parts, each faithful to ESP-IDF:

* **Generation** (``gen_crt_bundle.py``): :func:`load_inputs` reads files and
  folders (``*.pem``, ``*.der``) as the generator does, with its CMN filter
  for ``cacrt_all.pem``; :func:`build_bundle` writes the current binary
  format (v5.4+)::

      u32 offset[n]            little-endian; offset[0] == 4 * n
      n x { u16 name_len, u16 key_len, subject Name DER, SubjectPublicKeyInfo DER }

  entries sorted ascending by the raw subject DER, duplicates kept. The output
  is byte-identical to the generator's.
* **Loading** (``esp_crt_check_bundle``): :func:`parse_bundle` applies the
  runtime consistency rules and raises :class:`BundleError` with a one-line
  reason where ESP-IDF returns ``ESP_ERR_INVALID_ARG``.
* **Verification** (``esp_crt_verify_callback``, legacy "dummy CA" path):
  :class:`BundleVerifier` and :class:`CertVerifyError` live in
  :mod:`https_request.esp_tls.bundle_verify`; they (and its ``MBEDTLS_ERR_*``
  / ``X509_VERIFY_ABORTED`` constants) stay importable from here, loaded on
  first access.

:func:`builtin_bundle` is the default bundle: the Mozilla roots as shipped by
``certifi`` (``FULL``), or those named in ESP-IDF's
``cmn_crt_authorities.csv`` (``CMN``), matched against certifi's
``# Label:`` lines. Built at first use, then cached.

``cryptography`` is imported inside the functions that need it, so importing
this module is cheap.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import os
import re
import struct
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

from ..structs import Struct
from ..tls.der import NameAttr, parse_name, quiet_serial_warnings

if TYPE_CHECKING:
    from cryptography import x509

    from .bundle_verify import (
        MBEDTLS_ERR_SSL_BAD_CERTIFICATE,
        MBEDTLS_ERR_X509_CERT_VERIFY_FAILED,
        MBEDTLS_ERR_X509_FATAL_ERROR,
        X509_VERIFY_ABORTED,
        BundleVerifier,
        CertVerifyError,
    )

__all__ = [
    "DEFAULT_MAX_CERTS",
    "MBEDTLS_ERR_SSL_BAD_CERTIFICATE",
    "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED",
    "MBEDTLS_ERR_X509_FATAL_ERROR",
    "TAG",
    "X509_VERIFY_ABORTED",
    "Bundle",
    "BundleEntry",
    "BundleError",
    "BundleVerifier",
    "CertVerifyError",
    "InputError",
    "build_bundle",
    "builtin_bundle",
    "builtin_fingerprint",
    "bundle_fingerprint",
    "certifi_certificates",
    "check_policy",
    "cmn_authorities",
    "load_inputs",
    "parse_bundle",
    "read_filter",
]

TAG = "esp-x509-crt-bundle"
DEFAULT_MAX_CERTS = 200
"""``CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_MAX_CERTS`` default (and the generator's)."""

_HEADER = 4  # u16 name_len + u16 key_len


class BundleError(ValueError):
    """Not a valid bundle (``esp_crt_bundle_set`` would return ``ESP_ERR_INVALID_ARG``).

    ``max_certs_exceeded`` is set when the only problem ESP-IDF would log is
    ``Cert bundle certificates exceed max allowed certificates``.
    """

    def __init__(self, message: str, *, max_certs_exceeded: bool = False) -> None:
        super().__init__(message)
        self.max_certs_exceeded = max_certs_exceeded


class InputError(ValueError):
    """A bad generator input (``gen_crt_bundle.py`` prints it and exits with 2)."""


# --------------------------------------------------------------------------- names as text


def _oid_dotted(content: bytes) -> str:
    if not content:
        raise ValueError("empty OID")
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if content[-1] & 0x80:
        raise ValueError("truncated OID")
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


# cryptography's RFC 4514 short names (x509/name.py _NAMEOID_TO_NAME), so our
# output matches Name.rfc4514_string().
_SHORT_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.6": "C",
    "2.5.4.9": "STREET",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}
_STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x12: "latin-1",  # NumericString
    0x13: "latin-1",  # PrintableString
    0x14: "latin-1",  # TeletexString (T61)
    0x16: "latin-1",  # IA5String
    0x1A: "latin-1",  # VisibleString
    0x1C: "utf-32-be",  # UniversalString
    0x1E: "utf-16-be",  # BMPString
}


def _escape_dn_value(val: str) -> str:
    """RFC 4514 §2.4 escaping, as cryptography does it."""
    if not val:
        return ""
    for ch, esc in (("\\", "\\\\"), ('"', '\\"'), ("+", "\\+"), (",", "\\,"), (";", "\\;"), ("<", "\\<")):
        val = val.replace(ch, esc)
    val = val.replace(">", "\\>").replace("\0", "\\00")
    if val[0] == "#" or (val[0] == " " and len(val) > 1):
        val = "\\" + val
    if val[-1] == " ":
        val = val[:-1] + "\\ "
    return val


def _attr_text(attr: NameAttr) -> str:
    oid = _oid_dotted(attr.oid)
    name = _SHORT_NAMES.get(oid, oid)
    codec = _STRING_CODECS.get(attr.tag)
    if codec is None:
        return f"{name}=#{attr.value.hex()}"
    try:
        text = attr.value.decode(codec)
    except UnicodeDecodeError:
        return f"{name}=#{attr.value.hex()}"
    return f"{name}={_escape_dn_value(text)}"


def name_to_rfc4514(raw: bytes) -> str:
    """A Name DER as an RFC 4514 string (last RDN first), like cryptography's ``rfc4514_string``.

    A Name that does not parse is shown as ``#`` + its hex DER.
    """
    try:
        attrs = parse_name(raw)
        rdns: list[list[str]] = [[]]
        for attr in attrs:
            rdns[-1].append(_attr_text(attr))
            if not attr.merged:
                rdns.append([])
        return ",".join("+".join(rdn) for rdn in reversed(rdns) if rdn)
    except ValueError:
        return "#" + raw.hex()


# --------------------------------------------------------------------------- the binary format


class BundleEntry(NamedTuple):
    """One bundle certificate: what ESP-IDF keeps of it."""

    name: bytes
    """DER of the certificate's subject Name."""
    key: bytes
    """DER SubjectPublicKeyInfo."""


class Bundle(Struct, slots=False):
    """A parsed, consistency-checked bundle; ``entries`` in bundle order."""

    entries: tuple[BundleEntry, ...]
    data: bytes

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[BundleEntry]:
        return iter(self.entries)

    @property
    def is_sorted(self) -> bool:
        """Are entries in ascending subject order? (Lookups assume so; the runtime does not check.)"""
        return all(a.name <= b.name for a, b in itertools.pairwise(self.entries))

    def find_index(self, issuer: bytes) -> int | None:
        """``esp_crt_find_cert``: binary search on ``memcmp(issuer, name, min(len))``.

        A prefix match counts as equal (ESP-IDF's quirk). None when not found.
        """
        if not issuer:
            return None
        start, end = 0, len(self.entries) - 1
        while start <= end:
            middle = (start + end) // 2
            name = self.entries[middle].name
            n = min(len(issuer), len(name))
            a, b = issuer[:n], name[:n]
            if a == b:
                return middle
            if a < b:
                end = middle - 1
            else:
                start = middle + 1
        return None

    def find(self, issuer: bytes) -> BundleEntry | None:
        """The entry :meth:`find_index` finds, if any."""
        index = self.find_index(issuer)
        return None if index is None else self.entries[index]

    def subjects(self) -> list[str]:
        """Each entry's subject as an RFC 4514 string, in bundle order."""
        return [name_to_rfc4514(e.name) for e in self.entries]


def parse_bundle(data: bytes, max_certs: int = DEFAULT_MAX_CERTS) -> Bundle:
    """Check ``data`` like ``esp_crt_check_bundle`` and split it into entries.

    Raises :class:`BundleError` (one-line reason) for anything ESP-IDF would
    refuse. As in ESP-IDF, bytes after the last certificate are tolerated and
    the sort order is not checked (see :attr:`Bundle.is_sorted`).
    """
    data = bytes(data)
    size = len(data)
    if size <= 4 + _HEADER:
        raise BundleError(f"bundle too small: {size} bytes (needs more than {4 + _HEADER})")
    first = struct.unpack_from("<I", data, 0)[0]
    if first == 0 or first % 4:
        raise BundleError(f"first offset {first} is not a non-zero multiple of 4")
    if first >= size:
        raise BundleError(f"first offset {first} is not inside the {size}-byte bundle")
    count = first // 4
    if count > max_certs:
        raise BundleError(
            f"Cert bundle certificates exceed max allowed certificates ({count} > {max_certs})",
            max_certs_exceeded=True,
        )
    offsets = struct.unpack_from(f"<{count}I", data, 0)

    def extent(i: int) -> tuple[int, int, int]:
        off = offsets[i]
        if off + _HEADER > size:
            raise BundleError(f"certificate {i}: header at offset {off} runs past the {size}-byte bundle")
        name_len, key_len = struct.unpack_from("<HH", data, off)
        return off, name_len, key_len

    entries: list[BundleEntry] = []
    for i in range(count):
        off, name_len, key_len = extent(i)
        end = off + _HEADER + name_len + key_len
        if i < count - 1:
            if offsets[i + 1] != end:
                raise BundleError(f"offset[{i + 1}] is {offsets[i + 1]}, but certificate {i} ends at {end}")
            if end >= size:
                raise BundleError(f"certificate {i} ends at {end}, leaving no room in the {size}-byte bundle")
        elif end > size:
            raise BundleError(f"last certificate ({i}) ends at {end}, past the {size}-byte bundle")
        name = data[off + _HEADER : off + _HEADER + name_len]
        entries.append(BundleEntry(name, data[off + _HEADER + name_len : end]))
    return Bundle(entries=tuple(entries), data=data)


def _pack(entries: Sequence[BundleEntry]) -> bytes:
    """Offsets then entries, little-endian (entries in the given order)."""
    offsets: list[int] = []
    body = bytearray()
    table = 4 * len(entries)
    for name, key in entries:
        if len(name) > 0xFFFF or len(key) > 0xFFFF:
            raise InputError("a subject or public key is longer than 65535 bytes")
        offsets.append(table + len(body))
        body += struct.pack("<HH", len(name), len(key)) + name + key
    return struct.pack(f"<{len(offsets)}I", *offsets) + bytes(body)


def _entry(cert: x509.Certificate) -> BundleEntry:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    name = cert.subject.public_bytes()
    key = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return BundleEntry(name, key)


def build_bundle(certs: Iterable[x509.Certificate | bytes], *, max_certs: int | None = DEFAULT_MAX_CERTS) -> bytes:
    """The bundle ``gen_crt_bundle.py`` writes for ``certs`` (objects or DER).

    Sorted by raw subject DER (stable: equal subjects keep their input
    order), duplicates kept. More than ``max_certs`` raises :class:`InputError`
    (the generator's ValueError), and so does an empty list (the generator
    would write an empty file, which no ESP device accepts).
    """
    from cryptography import x509 as _x509

    loaded: list[x509.Certificate] = []
    with quiet_serial_warnings():
        for cert in certs:
            if isinstance(cert, _x509.Certificate):
                loaded.append(cert)
            else:
                try:
                    loaded.append(_x509.load_der_x509_certificate(bytes(cert)))
                except (ValueError, _x509.InvalidVersion) as exc:  # InvalidVersion is no ValueError
                    raise InputError(f"Invalid certificate: {exc}") from exc
        _check_count(len(loaded), max_certs)
        if not loaded:
            raise InputError("no certificates to put in the bundle")
        try:
            entries = sorted((_entry(c) for c in loaded), key=lambda e: e.name)
        except (ValueError, TypeError) as exc:  # unsupported key type, malformed name
            raise InputError(f"Invalid certificate: {exc}") from exc
    return _pack(entries)


def _check_count(count: int, max_certs: int | None) -> None:
    if max_certs is not None and count > max_certs:
        raise InputError(
            f"No. of certs in the certificate bundle = {count} exceeds "
            f"Max allowed certificates in the certificate bundle = {max_certs}"
        )


# --------------------------------------------------------------------------- generator inputs

_BEGIN = "-----BEGIN CERTIFICATE-----\n"
_END = "-----END CERTIFICATE-----\n"
_FILTER_RE = re.compile(r"(^.+?)\n(=+\n[\s\S]+?END CERTIFICATE-----\n)", re.MULTILINE)

Status = Callable[[str], None]


def _pem_blocks(text: str) -> Iterator[tuple[int, str]]:
    """The generator's line-exact PEM splitting: (index of the BEGIN line, block)."""
    block = ""
    begin = -1
    inside = False
    for index, line in enumerate(text.splitlines(True)):
        if line == _BEGIN and not inside:
            block, begin, inside = "", index, True
        elif line == _END and inside:
            inside = False
            yield begin, block + line + "\n"
        if inside:
            block += line


def _load_pem(text: str, where: str) -> list[x509.Certificate]:
    from cryptography import x509 as _x509

    certs: list[x509.Certificate] = []
    with quiet_serial_warnings():
        for _, block in _pem_blocks(text):
            try:
                certs.append(_x509.load_pem_x509_certificate(block.encode()))
            except (ValueError, _x509.InvalidVersion) as exc:
                raise InputError(f"Invalid certificate in {where}") from exc
    return certs


def _load_der(data: bytes, where: str) -> x509.Certificate:
    from cryptography import x509 as _x509

    with quiet_serial_warnings():
        try:
            return _x509.load_der_x509_certificate(data)
        except (ValueError, _x509.InvalidVersion) as exc:
            raise InputError(f"Invalid certificate in {where}") from exc


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:  # universal newlines, like the generator
            return f.read()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read {path}: not UTF-8 text (byte {exc.start})") from exc


def read_filter(path: str) -> set[str]:
    """The names in a filter CSV: column 2 of every row after the header."""
    return _filter_names(_read_text(path), path)


def _filter_names(text: str, where: str) -> set[str]:
    rows = csv.reader(io.StringIO(text), delimiter=",")
    next(rows, None)  # header
    names: set[str] = set()
    for number, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) < 2:
            raise InputError(f"{where}:{number}: no second column")
        names.add(row[1])
    return names


def _pem_labelled(text: str) -> list[tuple[str, str]]:
    """``cacrt_all.pem``'s (name line, PEM) pairs: the generator's filter regex."""
    return [(name, crt) for name, crt in _FILTER_RE.findall(text)]


def load_inputs(
    paths: Iterable[str],
    filter_csv: str | None = None,
    max_certs: int | None = DEFAULT_MAX_CERTS,
    *,
    status: Status | None = None,
) -> list[x509.Certificate]:
    """Read certificates the way ``gen_crt_bundle.py --input ... [--filter CSV]`` does.

    * A file ending ``.pem`` (any number of certificates, split line-exactly on
      the BEGIN/END lines) or ``.der`` (one certificate); other files are
      skipped silently, as by the generator.
    * A folder: its ``*.pem`` / ``*.der`` files (not recursive; sorted by name,
      where the generator takes ``os.listdir`` order). None →
      ``No valid x509 certificates found in <dir>``.
    * With ``filter_csv``, a file whose base name is ``cacrt_all.pem`` keeps
      only the certificates whose name line (the line above the ``====``
      underline) is in column 2 of the CSV.

    ``status`` receives the generator's progress messages. Raises
    :class:`InputError` for an unreadable or invalid input and for more than
    ``max_certs`` certificates in total.
    """
    say: Status = status if status is not None else (lambda _msg: None)
    certs: list[x509.Certificate] = []

    def add_pem(text: str, where: str) -> None:
        found = _load_pem(text, where)
        say(f"Successfully added {len(found)} certificates" if found else "No certificate found")
        certs.extend(found)

    def add_file(path: str) -> bool:
        if path.endswith(".pem"):
            say(f"Parsing certificates from {path}")
            add_pem(_read_text(path), path)
            return True
        if path.endswith(".der"):
            say(f"Parsing certificates from {path}")
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
            certs.append(_load_der(data, path))
            say("Successfully added 1 certificate")
            return True
        return False

    for path in paths:
        if os.path.isfile(path):
            if filter_csv and os.path.basename(path) == "cacrt_all.pem":
                wanted = read_filter(filter_csv)
                say(f"Parsing certificates from {path}")
                text = "".join(crt for name, crt in _pem_labelled(_read_text(path)) if name in wanted)
                add_pem(text, path)
            else:
                add_file(path)
        elif os.path.isdir(path):
            found = False
            for name in sorted(os.listdir(path)):
                found |= add_file(os.path.join(path, name))
            if not found:
                raise InputError(f"No valid x509 certificates found in {path}")
        else:
            raise InputError(f"Invalid --input={path}, is neither file nor folder")
    say(f"Successfully added {len(certs)} certificates in total")
    _check_count(len(certs), max_certs)
    return certs


# --------------------------------------------------------------------------- the built-in bundle

_LABEL_RE = re.compile(r'^# Label: "(.*)"\s*$')


def _unescape_label(label: str) -> str:
    """certifi writes non-ASCII label characters as Python escapes (``\\u0151``)."""
    if "\\" not in label:
        return label
    try:
        return label.encode("ascii", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        return label


def certifi_certificates(names: Collection[str] | None = None) -> list[x509.Certificate]:
    """certifi's Mozilla roots; with ``names``, only those whose ``# Label:`` is listed."""
    import certifi

    text = _read_text(certifi.where())
    if names is None:
        return _load_pem(text, "certifi")
    lines = text.splitlines(True)
    wanted = set(names)
    kept: list[str] = []
    label: str | None = None
    last_end = 0
    for begin, block in _pem_blocks(text):
        for line in lines[last_end:begin]:
            match = _LABEL_RE.match(line)
            if match:
                label = _unescape_label(match.group(1))
        if label is not None and label in wanted:
            kept.append(block)
        label = None
        last_end = begin
    return _load_pem("".join(kept), "certifi")


def _read_package_text(name: str) -> str:
    from importlib import resources

    return resources.files(__package__ or "https_request.esp_tls").joinpath("data", name).read_text(encoding="utf-8")


@functools.cache
def cmn_authorities() -> tuple[str, ...]:
    """Column 2 of ESP-IDF's ``cmn_crt_authorities.csv`` (shipped as package data), in file order."""
    text = _read_package_text("cmn_crt_authorities.csv")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    return tuple(row[1] for row in rows if len(row) >= 2)


@functools.cache
def _builtin(kind: str) -> bytes:
    names = cmn_authorities() if kind == "CMN" else None
    return build_bundle(certifi_certificates(names))


def _builtin_kind(kind: str) -> str:
    key = kind.upper()
    if key not in ("CMN", "FULL"):
        raise ValueError(f"bundle kind must be CMN or FULL, got {kind!r}")
    return key


def builtin_bundle(kind: str = "CMN") -> bytes:
    """The default bundle: certifi's Mozilla roots, all (``FULL``) or ESP's common set (``CMN``).

    ``CMN`` keeps the roots whose certifi label is in column 2 of
    ``cmn_crt_authorities.csv`` (ESP-IDF matches the same names against
    ``cacrt_all.pem``'s name lines). Built at first use, then cached.
    """
    return _builtin(_builtin_kind(kind))


# --------------------------------------------------------------------------- what sessions record


def bundle_fingerprint(data: bytes | None) -> bytes:
    """The :func:`~https_request.tls.session.trust_fingerprint` of a bundle blob (None: detached)."""
    import hashlib

    from ..tls.session import trust_fingerprint

    return trust_fingerprint("esp-bundle", (hashlib.sha256(data).digest(),) if data is not None else ())


@functools.cache
def builtin_fingerprint(kind: str = "CMN") -> bytes:
    """The :func:`~https_request.tls.session.trust_fingerprint` of :func:`builtin_bundle`, without
    building it (~25 ms of certificate parsing a resumed connection does not need).

    The built-in bundle is a function of certifi's file, the common-CA list (``CMN``)
    and this program's generator: the fingerprint is over those (kind, package
    version, and the two files' bytes). A bundle blob with the same certificates
    (``crt_bundle=builtin_bundle()``) is another trust source to a session
    (:func:`bundle_fingerprint`): it is not resumed in place of the built-in one.
    Raises InputError when certifi's file cannot be read.
    """
    import hashlib

    import certifi

    from .._version import __version__
    from ..tls.session import trust_fingerprint

    key = _builtin_kind(kind)
    digest = hashlib.sha256(f"{key}\0{__version__}\0".encode())
    digest.update(_read_text(certifi.where()).encode())
    if key == "CMN":
        digest.update(b"\0" + _read_package_text("cmn_crt_authorities.csv").encode())
    return trust_fingerprint("esp-bundle-builtin", (digest.digest(),))


def check_policy(policy: str) -> None:
    """A bundle verifier's ``policy`` picks its host name rule: ``mbedtls`` or ``webpki``.

    Raises ValueError for any other.
    """
    if policy not in ("mbedtls", "webpki"):
        raise ValueError(f"verify policy must be 'mbedtls' or 'webpki', got {policy!r}")


# --------------------------------------------------------------------------- verification (re-exported)


def __getattr__(name: str) -> object:
    """Lazy re-export of :mod:`.bundle_verify`'s ``__all__`` (it imports this module:
    no cycle at import time)."""
    if not name.startswith("__"):
        from . import bundle_verify

        if name in bundle_verify.__all__:
            value = getattr(bundle_verify, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
