"""``https-request get``'s ``--json`` report and its one-line error descriptions.

:class:`Report` is the JSON object ``--json FILE`` writes (also when the
request failed); :func:`describe` renders an esp-tls ``LastError`` as
``NAME (0x..., mbedTLS -0x..., flags 0x... <flag meanings>)``.

Imported by :mod:`.get_cli` when the command runs, not when the parser is built.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .esp_tls.conn import TlsInfo
    from .esp_tls.errors import LastError

__all__ = ["Report", "describe", "one_line", "time_failure", "write_json"]


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


class Report:
    """What ``--json`` prints, and what ``-w`` reads. Timings in ms: ``connect``
    (DNS + TCP) and ``tls`` (handshake) of the last connection, ``first_byte``
    from its start to the response head, ``total`` the whole try (redirects
    included; with --retry, the last try). For ``-w``: ``conn_start_ms`` (when
    the last connection started) and ``pretransfer_ms`` (when its request
    left), from the try's start; the response's ``headers`` as received; sizes
    in bytes (``size_download``: the body as received, before --compressed
    decodes it); ``retry``: the last answer is one --retry tries again after."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.status: int | None = None
        self.reason: str | None = None
        self.http_version: str | None = None
        self.info: TlsInfo | None = None
        self.nat64: tuple[str, str] | None = None  # (IPv4 address, prefix) when the server was reached through NAT64
        self.wanted = False  # --json asked: worth a DNS query to recognise a NAT64 address
        self.redirects = 0
        self.connect_ms: float | None = None
        self.tls_ms: float | None = None
        self.first_byte_ms: float | None = None
        self.total_ms: float | None = None
        self.error: str | None = None
        self.exit_code = 0
        self.conn_start_ms = 0.0
        self.pretransfer_ms: float | None = None
        self.headers: list[tuple[str, str]] = []
        self.scheme = "HTTPS" if not url.lower().startswith("http:") else "HTTP"
        self.size_request = 0
        self.size_header = 0
        self.size_download = 0
        self.num_connects = 0
        self.retry = False
        self.redirect_url: str | None = None  # the Location of the last answer, absolute
        self.retry_after: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        info = self.info
        early = info.early_data if info is not None else "none"
        tls = info if info is not None and info.version != "none" else None  # http://: no TLS fields

        def ms(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "url": self.url,
            "status": self.status,
            "reason": self.reason,
            "http_version": self.http_version,
            "version": tls.version if tls else None,
            "cipher_suite": tls.cipher_suite_name if tls else None,
            "cipher_suite_id": f"0x{tls.cipher_suite:04X}" if tls else None,
            "group": tls.group if tls else None,
            "alpn": tls.alpn if tls else None,
            "resumed": tls.resumed if tls else None,
            "early_data": {"offered": early != "none", "accepted": early == "accepted"},
            "peer_subject": tls.peer_subject if tls else None,
            "address": info.address if info else None,
            "nat64": {"ipv4": self.nat64[0], "prefix": self.nat64[1]} if self.nat64 else None,
            "tcp_fastopen": info.tcp_fastopen if info else None,
            "timings": {
                "connect": ms(self.connect_ms),
                "tls": ms(self.tls_ms),
                "first_byte": ms(self.first_byte_ms),
                "total": ms(self.total_ms),
            },
            "redirects": self.redirects,
            "exit_code": self.exit_code,
            "error": self.error,
        }


def time_failure(le: LastError) -> bool:
    """Whether ``le`` is a certificate expired or not yet valid (on the clock checked)."""
    from .tls.x509_flags import X509_BADCERT_EXPIRED, X509_BADCERT_FUTURE

    flags = le.esp_tls_flags
    return flags != 0xFFFFFFFF and bool(flags & (X509_BADCERT_EXPIRED | X509_BADCERT_FUTURE))


def describe(le: LastError, clock_note: str | None = None) -> str:
    """``NAME (0x801A, mbedTLS -0x2700, flags 0x8 <meanings>)``, then the reason when the flags do not say it all.

    NOT_TRUSTED is named as mbedTLS names it (``MBEDTLS_X509_BADCERT_NOT_TRUSTED``)
    rather than by its verify_info sentence ("not correctly signed by the trusted
    CA"), which misleads when the issuer is simply not trusted; the verifier's
    note follows (which issuer is missing, or which signature does not verify).
    A certificate expired or not yet valid (:func:`time_failure`) gets the
    verifier's note (which certificate, which date) and ``clock_note``
    (:func:`.tls_clock.time_note`: the clock checked and its skew).
    """
    import re

    from .tls.x509_flags import X509_BADCERT_NOT_TRUSTED, describe_flags

    flags = le.esp_tls_flags
    reason = re.sub(r"\s*\[flags [^\]]*\]$", "", one_line(le.reason))
    detail = ""
    timed = time_failure(le)
    if flags == 0xFFFFFFFF:  # the bundle's verify callback aborted (mbedTLS -0x3000)
        meanings = "verification aborted by the certificate bundle"
    else:
        texts = describe_flags(flags) if flags else []
        marker = f"{'; '.join(texts)} ("  # verifiers write "<meanings> (<note>) [flags ...]"
        if (flags & X509_BADCERT_NOT_TRUSTED or timed) and marker in reason and reason.endswith(")"):
            detail = reason[reason.index(marker) + len(marker) : -1]
        untrusted = describe_flags(X509_BADCERT_NOT_TRUSTED)[0]
        meanings = "; ".join("MBEDTLS_X509_BADCERT_NOT_TRUSTED" if t == untrusted else t for t in texts)
    text = (
        f"{le.name} (0x{le.last_error & 0xFFFFFFFF:X}, mbedTLS -0x{le.esp_tls_error_code & 0xFFFFFFFF:04X}, "
        f"flags 0x{flags:X}{' ' + meanings if meanings else ''})"
    )
    if reason and (not flags or flags == 0xFFFFFFFF):
        text += f": {reason}"
    elif detail:
        text += f": {detail}"
    if timed and clock_note:
        text += f"{';' if detail else ':'} {clock_note}"
    return text


def write_json(path: str, report: Report, prog: str) -> None:
    """Write ``report`` as one JSON line to ``path`` (``-`` = stderr); a failure costs ``prog``'s warning."""
    import json

    text = json.dumps(report.to_json()) + "\n"
    if path == "-":
        sys.stderr.write(text)
        sys.stderr.flush()
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        sys.stderr.write(f"{prog}: warning: --json {path}: cannot write: {exc.strerror or exc}\n")
