"""The high-level API's exceptions, named and nested as httpx names them.

Every failure of :class:`~https_request.api.Client` and
:class:`~https_request.api.AsyncClient` is an :class:`HTTPError`. Transport
failures (:class:`TransportError`) carry the esp-tls error they come from as
``__cause__`` and its triple as ``last_error``, so a caller that knows
esp-tls's codes can still read them.

:func:`from_esp` is the one place an :class:`~https_request.esp_tls.errors.EspTlsError`
becomes one of these (the rule: a timeout in the connect or handshake is a
:class:`ConnectTimeout`, in a read a :class:`ReadTimeout`; DNS, TCP and TLS
handshake failures, certificate verification included, are :class:`ConnectError`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ..esp_tls.errors import EspTlsError, LastError
    from .models import Response

__all__ = [
    "ConnectError",
    "ConnectTimeout",
    "HTTPError",
    "HTTPStatusError",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "RequestError",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
    "from_esp",
]


class HTTPError(Exception):
    """Base of every exception the high-level API raises."""


class RequestError(HTTPError):
    """A request could not be completed. ``url`` is the URL it was for;
    ``last_error`` the esp-tls error triple when esp-tls reported one."""

    def __init__(self, message: str, *, url: str = "", last_error: LastError | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.last_error = last_error


class TransportError(RequestError):
    """The connection failed (network, TLS, timeouts, HTTP framing)."""


class TimeoutException(TransportError):
    """A timeout of :class:`~https_request.api.Timeout` expired."""


class ConnectTimeout(TimeoutException):
    """The connect (DNS, TCP and the TLS handshake) took longer than ``Timeout.connect``."""


class ReadTimeout(TimeoutException):
    """The server sent nothing for ``Timeout.read`` seconds."""


class WriteTimeout(TimeoutException):
    """The request could not be sent within ``Timeout.write`` seconds."""


class PoolTimeout(TimeoutException):
    """No connection to the origin became free within ``Timeout.pool`` seconds."""


class NetworkError(TransportError):
    """The network or the TLS layer failed."""


class ConnectError(NetworkError):
    """The connection could not be made: DNS, TCP, or the TLS handshake (certificate verification included)."""


class ReadError(NetworkError):
    """Reading the response failed."""


class WriteError(NetworkError):
    """Sending the request failed."""


class ProtocolError(TransportError):
    """The HTTP exchange broke its rules."""


class RemoteProtocolError(ProtocolError):
    """The server's HTTP was malformed, cut short, or missing."""


class UnsupportedProtocol(TransportError):
    """The URL's scheme is not ``https`` (or the URL has no host)."""


class TooManyRedirects(RequestError):
    """More redirects than ``max_redirects``."""


class HTTPStatusError(HTTPError):
    """:meth:`Response.raise_for_status` on a 4xx or 5xx response."""

    def __init__(self, message: str, *, response: Response) -> None:
        super().__init__(message)
        self.response = response


_TIMEOUTS: dict[str, type[TimeoutException]] = {
    "connect": ConnectTimeout,
    "read": ReadTimeout,
    "write": WriteTimeout,
}
_FAILURES: dict[str, type[NetworkError]] = {"connect": ConnectError, "read": ReadError, "write": WriteError}


def from_esp(exc: EspTlsError, phase: Literal["connect", "read", "write"], url: str) -> TransportError:
    """The exception for esp-tls's ``exc`` in ``phase`` of a request to ``url``:
    its message is esp-tls's reason (or the exception's text) and the URL."""
    from ..esp_tls.conn_core import EspTlsTimeout
    from ..esp_tls.errors import EspErr

    le = exc.last_error
    reason = le.reason or str(exc) or type(exc).__name__
    timed_out = isinstance(exc, EspTlsTimeout) or le.last_error in (
        EspErr.ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT,
        EspErr.ESP_ERR_ESP_TLS_SERVER_HANDSHAKE_TIMEOUT,
    )
    cls: type[TransportError] = _TIMEOUTS[phase] if timed_out else _FAILURES[phase]
    return cls(f"{reason} ({url})", url=url, last_error=le)
