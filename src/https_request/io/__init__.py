"""The I/O drivers: the only place where TLS bytes meet sockets.

:mod:`.blocking` drives a connection over a blocking socket
(:class:`TlsSocket`, :func:`connect`), :mod:`.aio` over asyncio streams
(:class:`TlsStream`, :func:`open_connection`, :func:`start_server`). Both are
thin loops around :class:`~.pump.Pump`, which holds the I/O-agnostic logic.
"""

from .aio import TlsStream, open_connection, start_server
from .blocking import TlsSocket, connect
from .pump import Pump, TlsConnectionError, TlsTimeout

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
