"""howsmyssl.com's ``/a/check`` answer, computed from a raw ClientHello.

Sans-I/O: no sockets, no clock. The server hands over what it knows after the
handshake and gets back the JSON object howsmyssl.com would print:

* ``client_hello``: the **first** ClientHello handshake message as received
  (type, uint24 length, body), i.e. ``ServerConnection.client_hello_raw``;
  after a HelloRetryRequest it is still the first one;
* ``negotiated_version``: the version the connection ended up with;
* ``now``: the server's wall clock (timezone-aware), used by the 2026 rating
  cutovers only (:class:`Inputs` keeps only whether each has passed);
* for BEAST, whether the server could watch the client's record splitting and
  the plaintext length of the client's first application-data record
  (:func:`beast_probe_suite` says how a server gets there, as howsmyssl's
  fork of Go's crypto/tls does; the defaults describe a server that cannot, which is every
  server that does not speak TLS 1.0).

Two schemas:

``"classic"`` (default)
    The 10 fields of howsmyssl.com from 2018-03 to 2026-04 (Go 1.10 fork,
    at most TLS 1.2), as in the ESP-IDF example output, with the classic
    (2019) known-suites table: ids IANA assigned later are "unknown" (Bad).
``"2026"``
    The 13 fields since 2026-04-23 (``given_named_groups``,
    ``given_signature_algorithms`` and ``post_quantum_key_agreement`` after
    ``given_cipher_suites``), the 2026 known-suites table and the dated
    downgrades: TLS <= 1.2 or no post-quantum group is Improvable from
    2026-06-14T17:00Z and Bad from 2026-12-14T18:00Z.

:func:`check` is :func:`parse_client_hello`, then :func:`inputs` (what the rating
reads, hashable: a server caches what it renders under them), then :func:`rate`.
:func:`to_json` prints the result the way Go's ``encoding/json.Marshal``
does: fields in struct order, map keys sorted, no spaces, no trailing
newline, ``<`` ``>`` ``&`` U+2028 U+2029 escaped.

Source: GitHub ``jmhodges/howsmyssl`` at commit b073d57b (2026-08-19):
``client_info.go`` (the fields, the per-suite loop, the rating and its
cutovers) and the tables in :mod:`.tables`; the classic era as of commit
ac0fbf20 (2019-09-27). Only the facts were taken, no code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple

from ..tls.catalogue import CLASSIC_SUITE_NAMES, NSS_FIPS_NAMES, SUITE_NAMES
from ..tls.enums import ExtensionType, HandshakeType
from ..tls.extensions import decode_supported_versions, decode_u16_list
from ..tls.messages import ClientHello
from . import tables as T

__all__ = [
    "BAD",
    "IMPROVABLE",
    "PROBABLY_OKAY",
    "Inputs",
    "Schema",
    "beast_probe_suite",
    "check",
    "inputs",
    "n_minus_one_split",
    "parse_client_hello",
    "rate",
    "to_json",
]

# the extensions :func:`inputs` reads on every rated connection (see tls/enums.py on an Enum class's attributes)
_SESSION_TICKET = ExtensionType.session_ticket
_SUPPORTED_VERSIONS = ExtensionType.supported_versions
_SUPPORTED_GROUPS = ExtensionType.supported_groups
_SIGNATURE_ALGORITHMS = ExtensionType.signature_algorithms

Schema = Literal["classic", "2026"]

PROBABLY_OKAY: Final = "Probably Okay"
IMPROVABLE: Final = "Improvable"
BAD: Final = "Bad"

_TLS1_0: Final = 0x0301
_TLS1_1: Final = 0x0302
_TLS1_2: Final = 0x0303


def parse_client_hello(client_hello: bytes) -> ClientHello:
    """Decode a whole ClientHello handshake message (4-byte header + body).

    Raises ValueError (:class:`~https_request.wire.DecodeError` is one) when it
    is not exactly one well-formed ClientHello.
    """
    data = bytes(client_hello)
    if len(data) < 4 or data[0] != HandshakeType.CLIENT_HELLO:
        raise ValueError("not a ClientHello handshake message (type 1 + uint24 length + body)")
    length = int.from_bytes(data[1:4], "big")
    if length != len(data) - 4:
        raise ValueError(f"ClientHello length field says {length} bytes, {len(data) - 4} follow")
    return ClientHello.decode(data[4:])


def beast_probe_suite(offered: Iterable[int], version: int) -> int | None:
    """The cipher suite a howsmyssl server forces so that it can detect 1/n-1 record splitting.

    For a connection at TLS 1.0 or below: the first offered suite among
    TLS_RSA_WITH_AES_128_CBC_SHA (0x002F) and TLS_RSA_WITH_AES_256_CBC_SHA
    (0x0035); TLS_RSA_WITH_AES_128_CBC_SHA256 (0x003C), the third probe suite,
    needs TLS 1.2. None when there is none or the version is higher; the
    server then picks as usual and cannot detect splitting.
    """
    if version > _TLS1_0:
        return None
    usable = [s for s in T.BEAST_PROBE_SUITES if s != 0x003C or version >= _TLS1_2]
    return next((s for s in offered if s in usable), None)


def n_minus_one_split(first_record_plaintext_length: int) -> bool:
    """True if the client's first application-data record shows 1/n-1 splitting.

    A 1-byte record (browsers, Go) or an empty one (OpenSSL) counts; a later
    1-byte record (Java) does not, so only the first record is looked at.
    """
    if first_record_plaintext_length < 0:
        raise ValueError("record length must be >= 0")
    return first_record_plaintext_length <= 1


def _hex4(value: int) -> str:
    """Go's ``%#04x``: ``0x`` plus at least 4 lower-case hex digits."""
    return f"0x{value:04x}"


def _u16_list(raw: bytes | None, what: str) -> list[int]:
    return decode_u16_list(raw, what) if raw is not None else []


class Inputs(NamedTuple):
    """Everything :func:`rate` reads: the ClientHello's fields the rating looks at, the
    connection's version and the options, with the clock reduced to the two 2026
    cutovers. Two connections with equal inputs get the same rating (the random, the
    session id, the key shares, the server name, the address and the time of day are
    not among them), so a server may cache what it renders from a rating under them
    (:func:`inputs` makes them; they are hashable).

    The extension bodies are kept raw (None when absent); :func:`rate` decodes them.

    A NamedTuple, not a Struct: made on every rated connection and looked up as a cache's
    key, it is made, hashed and compared in C (~3k instructions to make against a
    Struct's ~12k for twelve fields, and no Python ``__hash__``/``__eq__`` per lookup).
    """

    schema: Schema
    negotiated_version: int
    improvable_due: bool  # the 2026 cutovers passed (always False for "classic")
    bad_due: bool
    cipher_suites: tuple[int, ...]
    compression_methods: bytes
    session_ticket: bool
    supported_versions: bytes | None
    supported_groups: bytes | None
    signature_algorithms: bytes | None
    able_to_detect_n_minus_one_splitting: bool
    first_app_data_length: int | None


def inputs(
    hello: ClientHello,
    *,
    negotiated_version: int,
    schema: Schema = "classic",
    now: datetime,
    able_to_detect_n_minus_one_splitting: bool = False,
    first_app_data_length: int | None = None,
) -> Inputs:
    """The rating's inputs from a decoded first ClientHello (see :func:`check` for the
    arguments). Raises ValueError for a naive ``now``, an unknown schema or a version
    out of range."""
    if schema not in ("classic", "2026"):
        raise ValueError(f"unknown schema {schema!r}: expected 'classic' or '2026'")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if not 0 <= negotiated_version <= 0xFFFF:
        raise ValueError(f"negotiated_version out of range: {negotiated_version!r}")
    dated = schema == "2026"
    return Inputs(
        schema, negotiated_version, dated and now >= T.IMPROVABLE_AT, dated and now >= T.BAD_AT,
        tuple(hello.cipher_suites), hello.legacy_compression_methods,
        hello.ext(_SESSION_TICKET) is not None, hello.ext(_SUPPORTED_VERSIONS),
        hello.ext(_SUPPORTED_GROUPS), hello.ext(_SIGNATURE_ALGORITHMS),
        able_to_detect_n_minus_one_splitting, first_app_data_length,
    )  # fmt: skip


def check(
    client_hello: bytes,
    *,
    negotiated_version: int,
    schema: Schema = "classic",
    now: datetime,
    able_to_detect_n_minus_one_splitting: bool = False,
    first_app_data_length: int | None = None,
) -> dict[str, Any]:
    """The ``/a/check`` JSON object for one connection, keys in howsmyssl's order.

    ``client_hello`` is the first ClientHello handshake message (header
    included). ``negotiated_version`` is the connection's version (0x0303 for
    TLS 1.2). ``now`` must be timezone-aware; only the 2026 schema reads it.

    BEAST (only looked at when ``negotiated_version`` <= TLS 1.0 and a CBC
    suite was offered): ``able_to_detect_n_minus_one_splitting`` says whether
    the server forced one of the probe suites (:func:`beast_probe_suite`);
    ``first_app_data_length`` is the plaintext length of the client's first
    application-data record, None if unknown. Splitting counts as detected
    only when both are given and the length is 0 or 1; otherwise a TLS 1.0
    client offering CBC suites is ``beast_vuln`` (it could not be checked).

    Returns a new dict (see :func:`rate`). Raises ValueError for a malformed
    ClientHello, a naive ``now`` or an unknown schema.
    """
    hello = parse_client_hello(client_hello)
    return rate(
        inputs(hello, negotiated_version=negotiated_version, schema=schema, now=now,
               able_to_detect_n_minus_one_splitting=able_to_detect_n_minus_one_splitting,
               first_app_data_length=first_app_data_length)
    )  # fmt: skip


def rate(given_inputs: Inputs) -> dict[str, Any]:
    """The ``/a/check`` JSON object from the rating's inputs (:func:`check` from the raw hello).

    Returns a new dict: ``insecure_cipher_suites`` maps suite names to lists
    of reasons (in the order found); every other value is a list of str, a
    bool or a str. Raises ValueError for a malformed extension body.
    """
    i = given_inputs
    negotiated_version = i.negotiated_version
    known = SUITE_NAMES if i.schema == "2026" else CLASSIC_SUITE_NAMES
    splitting_detected = (
        i.able_to_detect_n_minus_one_splitting
        and i.first_app_data_length is not None
        and n_minus_one_split(i.first_app_data_length)
    )

    # --- cipher suites, in the client's order, duplicates kept
    given: list[str] = []
    insecure: dict[str, list[str]] = {}
    ephemeral = unknown = beast_vuln = able_to_detect = False
    sweet32_seen: list[str] = []
    for suite in i.cipher_suites:
        name = known.get(suite)
        if name is not None:
            if "DHE_" in name:
                ephemeral = True
            if suite in T.CBC_SUITES and negotiated_version <= _TLS1_0:
                beast_vuln = not splitting_detected
                able_to_detect = i.able_to_detect_n_minus_one_splitting
            for names, reason in (
                (T.FEW_BIT_SUITES, T.FEW_BIT_REASON),
                (T.NULL_SUITES, T.NULL_REASON),
                (T.NULL_AUTH_SUITES, T.NULL_AUTH_REASON),
                (T.RC4_SUITES, T.RC4_REASON),
            ):
                if name in names:
                    insecure.setdefault(name, []).append(reason)
            if name in T.SWEET32_SUITES:
                sweet32_seen.append(name)
            elif sweet32_seen and suite not in T.META_SUITES and suite not in T.TLS13_SUITES:
                # A real suite after 3DES: the 3DES ones were not a fallback.
                for seen in sweet32_seen:
                    insecure.setdefault(seen, []).append(T.SWEET32_REASON)
                sweet32_seen = []
        elif suite in NSS_FIPS_NAMES:
            name = NSS_FIPS_NAMES[suite]
            insecure.setdefault(name, []).append(T.WEIRD_NSS_REASON)
        else:
            unknown = True
            name = f"Some unknown cipher suite: {_hex4(suite)}"
        given.append(name)

    # --- the other ClientHello fields
    compression = any(method != 0 for method in i.compression_methods)
    vers = negotiated_version
    tls_version = T.VERSION_NAMES.get(vers, "")
    raw_versions = i.supported_versions
    offered_versions = decode_supported_versions(raw_versions) if raw_versions is not None else []
    for v in offered_versions:
        if v in T.VERSION_NAMES and v > vers:
            vers, tls_version = v, T.VERSION_NAMES[v]
    tls_version = tls_version or T.UNKNOWN_VERSION

    groups = _u16_list(i.supported_groups, "supported_groups")
    named_groups = [T.NAMED_GROUPS.get(g) or f"Unknown named group: {_hex4(g)}" for g in groups]
    post_quantum = any(g in T.POST_QUANTUM_GROUPS for g in groups)
    schemes = _u16_list(i.signature_algorithms, "signature_algorithms")
    signature_algorithms = [T.SIGNATURE_SCHEMES.get(s) or f"Unknown signature scheme: {_hex4(s)}" for s in schemes]

    # --- rating
    improvable = not ephemeral or vers == _TLS1_1
    bad = compression or unknown or beast_vuln or bool(insecure) or vers <= _TLS1_0
    if i.schema == "2026":
        improvable = improvable or ((vers <= _TLS1_2 or not post_quantum) and i.improvable_due)
        bad = bad or ((vers <= _TLS1_2 or not post_quantum) and i.bad_due)
    rating = BAD if bad else IMPROVABLE if improvable else PROBABLY_OKAY

    result: dict[str, Any] = {"given_cipher_suites": given}
    if i.schema == "2026":
        result["given_named_groups"] = named_groups
        result["given_signature_algorithms"] = signature_algorithms
        result["post_quantum_key_agreement"] = post_quantum
    result.update(
        ephemeral_keys_supported=ephemeral,
        session_ticket_supported=i.session_ticket,
        tls_compression_supported=compression,
        unknown_cipher_suite_supported=unknown,
        beast_vuln=beast_vuln,
        able_to_detect_n_minus_one_splitting=able_to_detect,
        insecure_cipher_suites=insecure,
        tls_version=tls_version,
        rating=rating,
    )
    return result


# --- JSON, byte for byte as Go's encoding/json prints it -------------------------------------------

# Go escapes <, >, & (HTML safety) and U+2028/U+2029 (JavaScript safety); since Go 1.22 it also uses
# the short forms \b and \f. Other control characters become \u00XX (lower-case hex); everything else,
# non-ASCII included, is written as UTF-8.
_ESCAPES: Final[dict[str, str]] = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _string(text: str) -> str:
    out = ['"']
    for ch in text:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        elif "\ud800" <= ch <= "\udfff":
            out.append("\ufffd")  # Go replaces invalid UTF-8 (here: a lone surrogate) with U+FFFD
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value(value: object) -> str:
    if value is None:
        return "null"  # a nil slice or map
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        # A Go map: keys sorted by their UTF-8 bytes (code-point order is the same order).
        items = sorted(value.items())
        return "{" + ",".join(f"{_string(k)}:{_value(v)}" for k, v in items) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as howsmyssl JSON")


def to_json(result: Mapping[str, Any]) -> bytes:
    """The response body for ``result`` (from :func:`check`): compact, no trailing newline.

    The top-level object is a Go struct, so its keys keep ``result``'s order;
    nested objects are Go maps, so their keys are sorted.
    """
    body = "{" + ",".join(f"{_string(k)}:{_value(v)}" for k, v in result.items()) + "}"
    return body.encode("utf-8")
