"""URLs for the high-level API: where a request goes (:func:`split`), ``params=``
(:func:`with_params`), and the next request after a redirect (:func:`redirect`, by
:mod:`https_request.redirect`'s rule).

Host and port come from esp-tls's own URL parser
(:func:`~https_request.esp_tls.url.parse_url`), so a URL means here what it
means to a connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..structs import Struct
from .errors import RequestError, UnsupportedProtocol
from .models import RequestBody

__all__ = ["QueryParams", "Target", "redirect", "split", "with_params"]

QueryParams = Mapping[str, str | int | float] | Sequence[tuple[str, str | int | float]]
"""``params=``: query parameters added to the URL's own."""


class Target(Struct):
    """Where a request goes: ``host``, ``port``, the request ``target`` (path and query)
    and the ``origin`` (``https://host:port``) the connection pool keys on."""

    url: str
    host: str
    port: int
    target: str
    origin: str


def split(url: str) -> Target:
    """The :class:`Target` of ``url``. Raises UnsupportedProtocol for a scheme other than
    https or a URL without a host."""
    from ..esp_tls.errors import EspTlsError
    from ..esp_tls.url import parse_url

    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise UnsupportedProtocol(f"{url!r}: only https:// URLs are supported ({shown})", url=url)
    try:
        where = parse_url(url)
    except EspTlsError as exc:
        raise UnsupportedProtocol(exc.last_error.reason or f"cannot parse URL {url!r}", url=url) from None
    if not where.host:
        raise UnsupportedProtocol(f"{url!r}: no host", url=url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    shown = f"[{where.host}]" if ":" in where.host else where.host
    return Target(url, where.host, where.port, target, f"https://{shown.lower()}:{where.port}")


def with_params(url: str, params: QueryParams | None) -> str:
    """``url`` with ``params`` appended to its query."""
    if not params:
        return url
    parts = urlsplit(url)
    pairs = params.items() if isinstance(params, Mapping) else params
    extra = urlencode([(k, str(v)) for k, v in pairs])
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def redirect(
    method: str, url: str, headers: list[tuple[str, str]], body: RequestBody, status: int, location: str
) -> tuple[str, str, list[tuple[str, str]], RequestBody]:
    """The request that follows a ``status`` redirect to ``location``: (method, url, headers, body),
    by the rule of :mod:`https_request.redirect` (303 -> GET, a POST's 301/302 -> GET,
    credentials and Host dropped across origins; 307/308 keep method and body).

    Raises UnsupportedProtocol for a Location that is not https, and RequestError when
    the body to send again was streamed (it was sent once).
    """
    from ..redirect import redirect as follow

    after = follow(method, url, headers, status, location)
    split(after.url)  # https only
    if after.drops_body:
        body = b""
    elif not isinstance(body, bytes):
        raise RequestError(
            f"cannot follow the {status} redirect to {after.url}: the request body was streamed "
            "(an iterable) and cannot be sent again; give it as bytes",
            url=url,
        )
    return after.method, after.url, after.headers, body
