"""HTTP/1.1 over esp-tls connections (h11): :func:`request` and :func:`async_request`.

See :mod:`.client`. Raises :class:`HttpError` / :class:`TruncatedBody` for
HTTP-level failures; transport failures stay esp-tls errors.
"""

from .client import (
    AsyncResponse,
    AsyncTransport,
    HttpError,
    Response,
    SyncTransport,
    TruncatedBody,
    async_request,
    request,
)

__all__ = [
    "AsyncResponse",
    "AsyncTransport",
    "HttpError",
    "Response",
    "SyncTransport",
    "TruncatedBody",
    "async_request",
    "request",
]
