"""Certificate chain verification behind the :class:`CertificateVerifier` protocol.

Two policies, picked with :func:`make_verifier` (``policy="webpki"`` or
``"mbedtls"``):

``webpki`` -- :class:`WebPkiVerifier`
    Builds and checks the path with ``cryptography.x509.verification`` (a
    CA/B-Forum "webpki" profile: v3 only, SAN only, no CN fallback, AKI
    required, RSA >= 2048, no SHA-1), plus the TLS layer's keyUsage check
    (digitalSignature; webpki itself does not check keyUsage). The default
    for ``get``.

``mbedtls`` -- :class:`MbedtlsVerifier`
    What an ESP32 accepts: Mbed TLS 3.6 with the default profile, as esp-tls
    configures it, through :mod:`.mbedtls_path` (the one copy of its path
    rules: v1 CA certificates as anchors, the subject CN when there is no
    SAN, the flags). The default for the example.

Common to both:

* **Locally trusted leaf.** A presented leaf whose DER is byte-equal to a
  trust anchor is accepted without a path (mbedTLS: when it is also
  self-issued). Its validity period, and with ``check_name`` its name, EKU
  and keyUsage, are still checked. This is what makes the ESP-IDF example's
  self-signed X.509 v1 server certificate usable as its own CA. Under
  ``webpki`` the name check stays strict: a certificate without a SAN
  (every v1 certificate) never matches a name, whatever its CN says.
* **Failures** raise :class:`TlsError` with mbedTLS X.509 verify flags
  (``MBEDTLS_X509_BADCERT_*``) and a message made of mbedTLS's text for each
  flag followed by what exactly is wrong.

For ``webpki`` the flags are the mbedTLS walk's (:func:`.mbedtls_path.verify`
over the same anchors) with webpki's end-entity rules (:data:`WEBPKI_RULES`:
its name matching, no anyExtendedKeyUsage, digitalSignature only). When the
walk finds nothing wrong (webpki refused something mbedTLS does not check,
such as a missing AKI or a v1 certificate) the flag is ``BADCERT_OTHER``.

Time is an argument (Unix seconds); nothing here reads a clock.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.x509.oid import ExtendedKeyUsageOID

from . import mbedtls_path as mp
from . import x509_flags as xf
from .config import VerifiedChain
from .errors import Reason, TlsError
from .x509_flags import (
    X509_BADCERT_CN_MISMATCH,
    X509_BADCERT_EXPIRED,
    X509_BADCERT_FUTURE,
    X509_BADCERT_MISSING,
    X509_BADCERT_NOT_TRUSTED,
    X509_BADCERT_OTHER,
    X509_VERIFY_ABORTED,
)

if TYPE_CHECKING:  # cryptography.x509.verification costs ~30 ms to import: only when a chain is built
    from cryptography.x509 import verification as xv

__all__ = [
    "POLICIES",
    "WEBPKI_RULES",
    "MbedtlsVerifier",
    "VerifyPolicy",
    "WebPkiVerifier",
    "make_verifier",
    "match_name",
    "webpki_name_problem",
]


# --- names -----------------------------------------------------------------


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host[1:-1] if host.startswith("[") and host.endswith("]") else host)
    except ValueError:
        return None


def _dns_match(pattern: str, host: str) -> bool:
    """RFC 6125 matching: case-insensitive; ``*`` only as a whole leftmost label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if not pattern or not host:
        return False
    if "*" not in pattern:
        return pattern == host
    if not pattern.startswith("*.") or "*" in pattern[2:]:
        return False
    label, dot, rest = host.partition(".")
    return bool(label) and bool(dot) and rest == pattern[2:]


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def match_name(cert: x509.Certificate, host: str) -> bool:
    """Does ``cert`` name ``host`` (a DNS name or an IP literal), as webpki matches?

    SAN dNSName (with wildcards) for names, SAN iPAddress for IP literals;
    never the subject CN (mbedTLS's rule, which reads it when there is no SAN,
    is :func:`.mbedtls_path.mbedtls_name_problem`).
    """
    ip = _ip(host)
    san = _san(cert)
    if san is None:
        return False
    if ip is not None:
        return ip in san.get_values_for_type(x509.IPAddress)
    return any(_dns_match(p, host) for p in san.get_values_for_type(x509.DNSName))


def webpki_name_problem(cert: x509.Certificate, host: str) -> str | None:
    """:func:`match_name` as an end-entity name rule: why ``cert`` does not name ``host`` (webpki), or None."""
    if match_name(cert, host):
        return None
    return f"server name {host!r} is not in the subjectAltName of {mp.label(cert)} (webpki reads no CN)"


WEBPKI_RULES = mp.EeRules(names=webpki_name_problem, any_eku=False, static_kx=False)
"""webpki's end-entity rules in the mbedTLS walk: its name matching, no
anyExtendedKeyUsage for the leaf, keyUsage digitalSignature only."""


# --- the webpki policy ------------------------------------------------------------------


class _PathError(Exception):
    """webpki found no acceptable path (message for diagnostics)."""


_ANY_EKU = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE
_EkuCallback = Callable[["xv.Policy", x509.Certificate, "x509.ExtendedKeyUsage | None"], None]


def _eku_validator(required: x509.ObjectIdentifier, *, allow_any: bool) -> _EkuCallback:
    def check(_policy: xv.Policy, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
        if eku is not None and required not in eku and not (allow_any and _ANY_EKU in eku):
            raise ValueError(f"EKU without {required.dotted_string}")

    return check


def _webpki_path(
    store: xv.Store,
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    subject: str | None,
    when: datetime,
    server: bool,
) -> list[x509.Certificate]:
    """``cryptography.x509.verification``'s webpki path; raises :class:`_PathError`."""
    from cryptography.x509 import verification as xv

    builder = xv.PolicyBuilder().store(store).time(when)
    try:
        if not server:
            return builder.build_client_verifier().verify(leaf, intermediates).chain
        if subject is not None:
            ip = _ip(subject)
            name: xv.Subject = x509.IPAddress(ip) if ip is not None else x509.DNSName(subject.rstrip("."))
            return builder.build_server_verifier(name).verify(leaf, intermediates)
        # No name to check: there is no such server verifier (cryptography#10276), so use the
        # client verifier with the EKU rule swapped for serverAuth (same criticality as webpki).
        server_auth = ExtendedKeyUsageOID.SERVER_AUTH
        ee = xv.ExtensionPolicy.webpki_defaults_ee().may_be_present(
            x509.ExtendedKeyUsage, xv.Criticality.NON_CRITICAL, _eku_validator(server_auth, allow_any=False)
        )
        ca = xv.ExtensionPolicy.webpki_defaults_ca().may_be_present(
            x509.ExtendedKeyUsage, xv.Criticality.NON_CRITICAL, _eku_validator(server_auth, allow_any=True)
        )
        verifier = builder.extension_policies(ca_policy=ca, ee_policy=ee).build_client_verifier()
        return verifier.verify(leaf, intermediates).chain
    except (xv.VerificationError, ValueError) as exc:
        raise _PathError(str(exc)) from exc


# --- the verifiers ---------------------------------------------------------------------------


def _loadable(anchors: Sequence[x509.Certificate]) -> list[mp.Cert]:
    """The anchors mbedTLS could load (esp-tls warns and goes on when part of a CA file fails).

    The mbedTLS walk reads their DER, re-encoded here: ``serialization`` (which
    loads cryptography's SSH key code, ~2 ms) is imported only for this walk,
    not on the webpki policy's usual path.
    """
    from cryptography.hazmat.primitives.serialization import Encoding

    return [mp.load_cert(c.public_bytes(Encoding.DER), c) for c in anchors if mp.load_problem(c) is None]


class _Anchored:
    """What both verifiers say of their trust anchors."""

    _anchors: tuple[x509.Certificate, ...]

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        """The trust anchors in use."""
        return self._anchors

    @property
    def trust_fingerprint(self) -> bytes:
        """The anchors' :func:`~.session.trust_fingerprint` (what a session records)."""
        from .session import trust_fingerprint

        return trust_fingerprint("anchors", (cert.fingerprint(SHA256()) for cert in self._anchors))

    def prepare_signature_checks(self, limit: int = 8) -> None:
        """Make ready, before the server's certificate comes, the signature checks its
        chain will need: a process's first ECDSA or RSA signature check costs ~5 ms of
        OpenSSL set-up (~0.1-0.3 ms once done), which would otherwise fall between the
        server's flight and the client's answer. The first self-signed anchor of each
        public-key type, among the first ``limit`` (not a bundle's hundreds), has its own
        signature checked; what that finds is not used. Raises nothing."""
        seen: set[type] = set()
        for cert in self._anchors[:limit]:
            kind = type(cert.public_key())
            if kind in seen or cert.issuer != cert.subject:
                continue
            seen.add(kind)
            try:
                cert.verify_directly_issued_by(cert)
            except (ValueError, TypeError, InvalidSignature):
                pass


def _usage_failure(leaf: x509.Certificate, server: bool, rules: mp.EeRules) -> int:
    """The usage flags of ``leaf`` (``OTHER`` when its extensions do not parse)."""
    try:
        return mp.usage_flags(leaf, server, rules)[0]
    except (ValueError, x509.DuplicateExtension):  # DuplicateExtension is no ValueError
        return X509_BADCERT_OTHER


class WebPkiVerifier(_Anchored):
    """Verifies a peer chain (DER, leaf first) against fixed trust anchors.

    ``check_name=False`` is esp-tls's ``skip_common_name``: the chain is
    still verified (including serverAuth EKU when an EKU is present) but the
    server name is not compared. The name is also not compared when
    ``server_name`` is None, nor for client certificates (``server=False``,
    which require clientAuth instead of serverAuth when an EKU is present).
    """

    policy: ClassVar[str] = "webpki"

    def __init__(self, anchors: Sequence[x509.Certificate], *, check_name: bool = True) -> None:
        if not anchors:
            raise ValueError("a verifier needs at least one trust anchor")
        self._anchors: tuple[x509.Certificate, ...] = tuple(anchors)
        self._anchor_digests = frozenset(c.fingerprint(SHA256()) for c in self._anchors)
        from cryptography.x509 import verification as xv

        self._store = xv.Store(list(self._anchors))
        self.check_name = check_name

    def verify(self, chain: Sequence[bytes], server_name: str | None, now: float, *, server: bool) -> VerifiedChain:
        """Verify ``chain`` at ``now`` (Unix seconds); raise ``TlsError`` with verify flags."""
        if not chain:
            raise xf.failure(X509_BADCERT_MISSING, "the peer sent no certificate")
        try:
            certs = [x509.load_der_x509_certificate(bytes(der)) for der in chain]
        except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is no ValueError
            raise TlsError(Reason.CERT_BAD, f"cannot parse the peer certificate: {exc}") from exc
        when = datetime.fromtimestamp(now, tz=UTC)
        host = server_name if (server and self.check_name and server_name) else None
        leaf = certs[0]
        try:
            path = _webpki_path(self._store, leaf, certs[1:], host, when, server)
        except _PathError as exc:
            if leaf.fingerprint(SHA256()) in self._anchor_digests:  # its DER is an anchor's
                return self._trusted_leaf(leaf, host, when, server)
            flags, notes = self._diagnose(chain, host, when, server)
            # a missing or wrong issuer, or a date, is said the walk's way ("no trusted issuer for ...",
            # "'CN=x' expired on ..."), anything else webpki's
            said = X509_BADCERT_NOT_TRUSTED | X509_BADCERT_EXPIRED | X509_BADCERT_FUTURE
            detail = "; ".join(notes) if flags & said and notes else str(exc)
            raise xf.failure(flags or X509_BADCERT_OTHER, f"webpki: {detail}") from exc
        flags = _usage_failure(leaf, server, WEBPKI_RULES)
        if flags:
            raise xf.failure(flags)
        return VerifiedChain(path=tuple(path))

    def _diagnose(
        self, chain: Sequence[bytes], host: str | None, when: datetime, server: bool
    ) -> tuple[int, tuple[str, ...]]:
        """The mbedTLS walk's flags for a chain webpki refused (0 when it finds nothing), and its notes."""
        try:
            certs = mp.load_chain(chain, "webpki")
            outcome = mp.verify(certs, _loadable(self._anchors), host, when, server=server, rules=WEBPKI_RULES)
        except TlsError as exc:
            return exc.verify_flags or X509_BADCERT_OTHER, ()
        except xf.VerifyAborted:
            return X509_VERIFY_ABORTED, ()
        return outcome.flags | outcome.usage, outcome.notes

    def _trusted_leaf(self, leaf: x509.Certificate, host: str | None, when: datetime, server: bool) -> VerifiedChain:
        """The leaf is itself a trust anchor: check its own validity, name and usage only."""
        flags = mp.time_flags(leaf, when) | _usage_failure(leaf, server, WEBPKI_RULES)
        if host is not None and not match_name(leaf, host):
            flags |= X509_BADCERT_CN_MISMATCH
        if flags:
            raise xf.failure(flags, "locally trusted certificate")
        return VerifiedChain(path=(leaf,))


class MbedtlsVerifier(_Anchored):
    """Verifies a peer chain (DER, leaf first) the way an ESP32's Mbed TLS 3.6 does.

    ``mbedtls_x509_crt_verify_with_profile`` with the default profile and the
    trust anchors as the CA chain, then the TLS layer's keyUsage /
    extendedKeyUsage check: :func:`.mbedtls_path.verify`, whose docstring
    states the rules. ``check_name=False`` is esp-tls's ``skip_common_name``.
    Trust anchors mbedTLS could not load are left out (esp-tls warns and goes
    on when part of a CA file fails to parse; ``anchors`` are those it could);
    ValueError when none is left.
    """

    policy: ClassVar[str] = "mbedtls"

    def __init__(self, anchors: Sequence[x509.Certificate], *, check_name: bool = True) -> None:
        if not anchors:
            raise ValueError("a verifier needs at least one trust anchor")
        usable = _loadable(anchors)
        if not usable:
            reasons = "; ".join(f"{mp.label(c)} {(mp.load_problem(c) or (0, ''))[1]}" for c in anchors)
            raise ValueError(f"no trust anchor mbedTLS could load: {reasons}")
        self._usable = tuple(usable)
        self._anchors = tuple(anchor.cert for anchor in usable)
        self.check_name = check_name

    def verify(self, chain: Sequence[bytes], server_name: str | None, now: float, *, server: bool) -> VerifiedChain:
        """Verify ``chain`` at ``now`` (Unix seconds); raise ``TlsError`` with verify flags."""
        certs = mp.load_chain(chain)
        when = datetime.fromtimestamp(now, tz=UTC)
        host = server_name if (server and self.check_name and server_name) else None
        try:
            outcome = mp.verify(certs, self._usable, host, when, server=server)
        except xf.VerifyAborted as exc:
            raise xf.failure(X509_VERIFY_ABORTED, f"mbedtls: {exc}; mbedTLS stops (X509_FATAL_ERROR)") from exc
        flags = outcome.flags | outcome.usage
        if flags:
            raise xf.failure(flags, outcome.text())
        return VerifiedChain(path=tuple(link.cert.cert for link in outcome.path))


VerifyPolicy = Literal["webpki", "mbedtls"]
POLICIES: tuple[VerifyPolicy, ...] = ("webpki", "mbedtls")


def make_verifier(
    anchors: Sequence[x509.Certificate], policy: str = "webpki", check_name: bool = True
) -> WebPkiVerifier | MbedtlsVerifier:
    """A :class:`CertificateVerifier` for ``policy`` (one of :data:`POLICIES`).

    ``check_name=False`` is esp-tls's ``skip_common_name``: everything but
    the server name is still checked.
    """
    if policy == "webpki":
        return WebPkiVerifier(anchors, check_name=check_name)
    if policy == "mbedtls":
        return MbedtlsVerifier(anchors, check_name=check_name)
    raise ValueError(f"unknown verification policy {policy!r} (expected one of {', '.join(POLICIES)})")
