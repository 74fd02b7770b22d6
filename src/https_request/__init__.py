"""ESP-IDF's HTTPS Request example in Python.

An esp-tls-style HTTPS client over a sans-I/O TLS 1.3/1.2 engine built on
``cryptography``, and beside it a high-level API in the style of httpx
(:mod:`https_request.api`, re-exported here)::

    import https_request

    r = https_request.get("https://www.howsmyssl.com/a/check")
    with https_request.Client(sessions=True) as client:  # keep-alive, saved sessions, 0-RTT
        r = client.get("https://www.howsmyssl.com/a/check")

Importing the package is cheap on purpose: nothing heavy (``cryptography``
included) is imported here, so ``https-request --version`` starts fast; the
API's names are imported when first used. ``https_request.httpx`` holds the
httpx transports (httpx is an optional dependency: ``https-request[httpx]``).
The library logs through :mod:`logging` under the ``https_request`` logger,
silent unless the application configures logging.
"""

from __future__ import annotations

from ._version import __version__

# The API's names as https_request.api exports them (test_api checks that the two agree), and
# __version__. Type checkers read them from __init__.pyi; at run time __getattr__ imports them. No
# `typing` here: the package is imported before `get` starts its TCP connect (get_early).
__all__ = [
    "USE_CLIENT_DEFAULT",
    "AsyncClient",
    "Client",
    "ConnectError",
    "ConnectTimeout",
    "EspBundle",
    "HTTPError",
    "HTTPStatusError",
    "Headers",
    "InsecureRequestWarning",
    "Limits",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "RequestError",
    "Response",
    "ResponseNotRead",
    "SessionStore",
    "Timeout",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
    "__version__",
    "delete",
    "get",
    "head",
    "options",
    "patch",
    "post",
    "put",
    "request",
]


_API = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> object:
    """The API's names, imported at first use (PEP 562)."""
    if name in _API:
        from . import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'https_request' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API)
