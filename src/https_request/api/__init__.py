"""The high-level API, in the style of httpx: :func:`get` and friends, :class:`Client`,
:class:`AsyncClient`, on this package's TLS engine through esp-tls.

Re-exported by :mod:`https_request` (``https_request.get(...)``,
``https_request.Client``). See the README's "Python API" section.
"""

from __future__ import annotations

from .aclient import AsyncClient
from .client import USE_CLIENT_DEFAULT, Client, SessionsTypes
from .config import InsecureRequestWarning, SessionStore, VerifyTypes
from .errors import (
    ConnectError,
    ConnectTimeout,
    HTTPError,
    HTTPStatusError,
    NetworkError,
    PoolTimeout,
    ProtocolError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    RequestError,
    TimeoutException,
    TooManyRedirects,
    TransportError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from .functions import delete, get, head, options, patch, post, put, request
from .models import EspBundle, Headers, Limits, Response, ResponseNotRead, Timeout

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
    "SessionsTypes",
    "Timeout",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "VerifyTypes",
    "WriteError",
    "WriteTimeout",
    "delete",
    "get",
    "head",
    "options",
    "patch",
    "post",
    "put",
    "request",
]
