"""The I/O drivers: the only place where TLS bytes meet sockets.

:mod:`.blocking` drives a connection over a blocking socket
(:class:`TlsSocket`, :func:`connect`), :mod:`.aio` over asyncio streams
(:class:`TlsStream`, :func:`open_connection`, :func:`start_server`). Both are
thin loops around :class:`~.pump.Pump`, which holds the I/O-agnostic logic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aio import TlsStream, open_connection, start_server
    from .blocking import TlsSocket, connect
    from .pump import Pump, TlsConnectionError, TlsTimeout

_HOME = {
    "TlsStream": "aio",
    "open_connection": "aio",
    "start_server": "aio",
    "TlsSocket": "blocking",
    "connect": "blocking",
    "Pump": "pump",
    "TlsConnectionError": "pump",
    "TlsTimeout": "pump",
}


def __getattr__(name: str) -> Any:
    """Import a driver on first use: a blocking client never loads asyncio."""
    if name in _HOME:
        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Pump",
    "TlsConnectionError",
    "TlsSocket",
    "TlsStream",
    "TlsTimeout",
    "connect",
    "open_connection",
    "start_server",
]
