"""The one rule for following an HTTP redirect, for the high-level API
(:func:`https_request.api.urls.redirect`) and ``get -L`` (:mod:`.get_cli`).

RFC 9110 15.4, as browsers, curl and httpx apply it: a 303 turns any method but
HEAD into a GET without a body, and so does a 301 or 302 a POST (with the body's
headers); 307 and 308 keep method and body. A redirect that leaves the origin
(scheme, host, port) drops the credentials (Authorization, Cookie,
Proxy-Authorization) and the Host header. What the callers add: the schemes they
follow, the redirect count, and what to do with a body that cannot be sent again.

Light (``urllib.parse`` and esp-tls's URL parser), imported when a redirect is followed.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from .structs import Struct

__all__ = ["REDIRECTS", "Redirect", "origin", "redirect"]

#: Redirect statuses that are followed (with a Location header).
REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Headers dropped when a redirect leaves the origin (RFC 9110 15.4: credentials stay with their origin).
_CREDENTIALS = frozenset({"authorization", "cookie", "proxy-authorization", "host"})
#: Headers of the body a 303 (or a POST's 301/302) drops with it.
_BODY_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding"})


class Redirect(Struct):
    """The request after a redirect: ``method``, ``url`` (absolute), ``headers``, and
    whether it goes without the body (``drops_body``; else the body is sent again)."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    drops_body: bool


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of ``url``, host and port as esp-tls reads them (the scheme's
    port when none is given); None for a URL esp-tls cannot parse."""
    from .esp_tls.errors import EspTlsError
    from .esp_tls.url import parse_url

    try:
        where = parse_url(url)
    except EspTlsError:
        return None
    return urlsplit(url).scheme.lower(), where.host.lower(), where.port


def redirect(method: str, url: str, headers: list[tuple[str, str]], status: int, location: str) -> Redirect:
    """The request that follows the ``status`` redirect of ``method`` ``url`` to ``location``
    (see the module docstring). A URL that cannot be parsed counts as another origin."""
    next_url = urljoin(url, location)
    drops_body = (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST")
    if drops_body:
        method = "GET"
        headers = [(n, v) for n, v in headers if n.lower() not in _BODY_HEADERS]
    here = origin(url)
    if here is None or origin(next_url) != here:
        headers = [(n, v) for n, v in headers if n.lower() not in _CREDENTIALS]
    return Redirect(method, next_url, headers, drops_body)
