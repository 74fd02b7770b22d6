"""The ``https-request get --session FILE`` file: one saved TLS session per origin.

The file wraps :meth:`Session.to_bytes` with its own magic, format number,
host, port and a truncated SHA-256 checksum; it belongs to the URL's host and
port (not a ``--connect-to`` target). :class:`SessionFile` loads it (a
corrupt, expired or foreign file costs one warning and a full handshake, as
does a session the connection refused because its server was not verified the
way this run verifies it) and saves the newest session back atomically.

Imported by :mod:`.get_cli` when the command runs; the TLS stack is imported
only inside :meth:`SessionFile.load`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .esp_tls.conn import EspTls
    from .tls.session import Session

__all__ = ["SessionFile", "decode_session_file", "encode_session_file", "origin_key"]

_FILE_MAGIC = b"HRQGETSF"
_FILE_FORMAT = 1
_CHECK_LEN = 8


def origin_key(host: str, port: int) -> str:
    """``host:port`` (IPv6 in brackets), lower-cased: which origin a saved session belongs to."""
    shown = f"[{host}]" if ":" in host else host
    return f"{shown.lower()}:{port}"


def encode_session_file(host: str, port: int, session_blob: bytes) -> bytes:
    """The session file: magic, format, host, port, :meth:`Session.to_bytes` blob, SHA-256 checksum."""
    import hashlib
    import struct

    name = host.lower().encode()
    if len(name) > 255:
        raise ValueError("host name too long")
    body = (
        _FILE_MAGIC
        + bytes((_FILE_FORMAT, len(name)))
        + name
        + struct.pack("!HI", port, len(session_blob))
        + session_blob
    )
    return body + hashlib.sha256(body).digest()[:_CHECK_LEN]


def decode_session_file(data: bytes) -> tuple[str, int, bytes]:
    """(host, port, session blob) from :func:`encode_session_file` output. Raises ValueError."""
    import hashlib
    import hmac
    import struct

    if not data.startswith(_FILE_MAGIC):
        raise ValueError("not a session file (bad magic)")
    head = len(_FILE_MAGIC)
    if len(data) < head + 2 + 6 + _CHECK_LEN:
        raise ValueError("truncated")
    if data[head] != _FILE_FORMAT:
        raise ValueError(f"format {data[head]} is not supported (expected {_FILE_FORMAT})")
    body, check = data[:-_CHECK_LEN], data[-_CHECK_LEN:]
    if not hmac.compare_digest(hashlib.sha256(body).digest()[:_CHECK_LEN], check):
        raise ValueError("checksum mismatch")
    name_len = data[head + 1]
    pos = head + 2 + name_len
    if pos + 6 > len(body):
        raise ValueError("truncated")
    try:
        host = body[head + 2 : pos].decode()
    except UnicodeError:
        raise ValueError("bad host name") from None
    port, blob_len = struct.unpack("!HI", body[pos : pos + 6])
    blob = body[pos + 6 :]
    if len(blob) != blob_len:
        raise ValueError("length mismatch")
    return host, port, blob


class SessionFile:
    """``--session FILE`` for the URL's host and port."""

    def __init__(self, path: str, host: str, port: int, warn: Callable[[str], None]) -> None:
        self.path = path
        self.host = host
        self.port = port
        self.warn = warn

    def load(self, versions: tuple[int, ...], server_name: str | None) -> Session | None:
        """The saved session, or None (with one warning when the file is unusable)."""
        from .tls.session import Session, SessionError, SessionFormatError

        try:
            with open(self.path, "rb") as f:
                data = f.read(1 << 20)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._skip(f"cannot read it: {exc.strerror or exc}")
            return None
        try:
            host, port, blob = decode_session_file(data)
            session = Session.from_bytes(blob)
        except SessionFormatError as exc:
            self._skip(f"{exc} (saved by another version of https-request)")
            return None
        except (ValueError, SessionError) as exc:
            self._skip(f"corrupt ({exc})")
            return None
        mine = origin_key(self.host, self.port)
        if origin_key(host, port) != mine:
            self._skip(f"it holds a session for {origin_key(host, port)}, not {mine}")
            return None
        if session.expired(time.time()):
            self._skip("the saved session has expired")
            return None
        if session.version not in versions:
            shown = {0x0304: "TLS 1.3", 0x0303: "TLS 1.2"}.get(session.version, f"0x{session.version:04x}")
            self._skip(f"the saved session is {shown}, which this request does not offer")
            return None
        if (session.server_name or None) != server_name:
            self._skip(f"the saved session is for server name {session.server_name!r}, not {server_name!r}")
            return None
        return session

    def warn_if_refused(self, tls: EspTls) -> None:
        """One warning when the connection did not offer the session it was given because its
        server was not verified the way this run verifies it (``tls.session_refused``)."""
        why, offered = tls.session_refused, tls.cfg.client_session
        if why is None or offered is None:
            return
        hint = "" if offered.peer_check.verified else " (-k)"
        self.warn(f"session file {self.path}: the saved session is not used: {why}{hint}; doing a full handshake")

    def _skip(self, why: str) -> None:
        self.warn(f"session file {self.path}: {why}; doing a full handshake")

    def save(self, session: Session) -> None:
        """Write ``session`` back atomically (0600); a failure costs one warning."""
        try:
            from .files import write_atomically

            write_atomically(self.path, encode_session_file(self.host, self.port, session.to_bytes()))
        except OSError as exc:
            self.warn(f"cannot save the session to {self.path}: {exc.strerror or exc}")
        except ValueError as exc:
            self.warn(f"cannot save the session to {self.path}: {exc}")
