"""Where a URL points, as esp-tls sees it: :func:`parse_url` (``http_parser_parse_url``
and ``get_port``), for the connections (:mod:`.conn`), ``get`` and the high-level API.

Light on purpose (``re`` and the error types): ``get`` parses its URL before anything
of the TLS stack is imported.
"""

from __future__ import annotations

import re

from ..structs import Struct
from .errors import EspErr, EspTlsError, LastError

__all__ = ["UrlTarget", "parse_url"]


class UrlTarget(Struct, slots=False):
    """Where a URL points, as ``http_parser_parse_url`` + ``get_port`` see it.

    ``host_text`` is the URL from the host onwards (what esp-tls prints as
    HOST in its debug line, the C string not being cut after the host).
    """

    host: str
    port: int
    host_text: str


_URL = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?:[^@/?#]*@)?"
    r"(?:\[(?P<ip6>[^\]/?#]*)\]|(?P<host>[^:/?#\[\]@]+))(?::(?P<port>[0-9]*))?(?:[/?#].*)?$",
    re.DOTALL,
)


def parse_url(url: str) -> UrlTarget:
    """Host and port of ``url``: the explicit port, else 443 for https, 80 for http, else 0.

    Raises EspTlsError (ESP_ERR_INVALID_ARG) when the URL has no scheme or host.
    """
    m = _URL.match(url)
    if m is None:
        raise EspTlsError(LastError(EspErr.ESP_ERR_INVALID_ARG, 0, 0, f"cannot parse URL {url!r}"))
    # RFC 6874: a zone id in a URL is written %25zone ("[fe80::1%25eth0]")
    host = m["ip6"].replace("%25", "%", 1) if m["ip6"] is not None else m["host"]
    start = m.start("ip6") if m["ip6"] is not None else m.start("host")
    if m["port"]:
        port = int(m["port"])
        if port > 0xFFFF:
            raise EspTlsError(LastError(EspErr.ESP_ERR_INVALID_ARG, 0, 0, f"port {port} out of range in {url!r}"))
    else:
        port = {"http": 80, "https": 443}.get(m["scheme"].lower(), 0)
    return UrlTarget(host=host, port=port, host_text=url[start:])
