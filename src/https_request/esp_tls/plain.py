"""esp-tls's plain TCP (``cfg.is_plain_tcp``): the :class:`~.engine.Engine` interface
over a connected socket without TLS, as ``esp_tcp_read`` / ``esp_tcp_write`` do.

There is no handshake, no session and no certificate; ``read`` returns b"" at the
end of the stream. Errors are the engine interface's: ``TlsTimeout`` when the
timeout expires, ``TlsConnectionError`` for a transport failure,
``LocalProtocolError`` for a write after close. Used by
:class:`~.conn.EspTls` for ``http://`` URLs (``get``), and imported only then.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from ..io.pump import TlsConnectionError, TlsTimeout
from ..tls.errors import LocalProtocolError
from .engine import Negotiated

if TYPE_CHECKING:
    from ..tls.session import Session

__all__ = ["PlainEngine"]


class PlainEngine:
    """A connected socket seen as an engine (no TLS)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock: socket.socket | None = sock

    @property
    def peer_certificate_received(self) -> bool:
        return False

    @property
    def session_refused(self) -> str | None:
        return None

    def _live(self) -> socket.socket:
        if self._sock is None:
            raise LocalProtocolError("the connection is closed")
        return self._sock

    def start(self, early_data: bytes, timeout: float | None) -> None:
        """Nothing to start; ``early_data`` is sent as it is."""
        if early_data:
            self.write(early_data, timeout)

    def handshake(self, timeout: float | None) -> None:
        """No handshake."""

    def write(self, data: bytes, timeout: float | None) -> int:
        """Send all of ``data``. Raises TlsTimeout, TlsConnectionError, LocalProtocolError."""
        sock = self._live()
        sock.settimeout(timeout)
        try:
            sock.sendall(data)
        except TimeoutError as exc:
            raise TlsTimeout(f"send timed out after {timeout} s") from exc
        except OSError as exc:
            raise TlsConnectionError(f"send failed: {exc.strerror or exc}") from exc
        return len(data)

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        """Up to ``max_bytes``; b"" at the end of the stream. Raises TlsTimeout, TlsConnectionError."""
        sock = self._live()
        sock.settimeout(timeout)
        try:
            return sock.recv(max_bytes)
        except TimeoutError as exc:
            raise TlsTimeout(f"receive timed out after {timeout} s") from exc
        except OSError as exc:
            raise TlsConnectionError(f"receive failed: {exc.strerror or exc}") from exc

    def close(self) -> None:
        """Close the socket. Idempotent."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def session(self) -> Session | None:
        return None

    def wait_session(self, timeout: float) -> None:
        """No sessions: returns at once."""

    def negotiated(self) -> Negotiated | None:
        """Version 0 (esp-tls's TlsInfo calls it "none"), no suite, nothing else."""
        return Negotiated(
            version=0,
            cipher_suite=0,
            group=None,
            alpn_protocol=None,
            resumed=False,
            early_data="none",
            peer_certificates=(),
        )
