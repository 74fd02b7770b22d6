"""What the high-level API hands esp-tls: the connection configuration made from
``verify=`` / ``profile=`` / ``tls=`` (:func:`tls_config`), and the sessions a
client resumes (:class:`SessionStore` on disk, :class:`Sessions` in memory).

``verify`` is the one rule for trust here: True verifies with certifi's CA
file (what httpx and requests do), a path with that CA file (PEM or DER), an
:class:`~.models.EspBundle` with an ESP certificate bundle, False with nothing
at all (a :class:`InsecureRequestWarning` and a log warning say so, loudly).
Sessions resume only under the verification that accepted their server:
esp-tls applies :meth:`PeerCheck.refusal <https_request.tls.session.PeerCheck.refusal>`
to whatever is offered here.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import warnings
from collections import OrderedDict
from functools import cache
from typing import TYPE_CHECKING, cast

from ..esp_tls.config import EspTlsCfg, TlsVersion
from ..structs import replace
from .models import EspBundle

if TYPE_CHECKING:
    from ..session_file import SessionFile
    from ..tls.session import Session
    from .urls import Target

__all__ = ["InsecureRequestWarning", "SessionStore", "Sessions", "VerifyTypes", "tls_config"]

VerifyTypes = bool | str | os.PathLike[str] | EspBundle
"""``verify=``: True (certifi), a CA file path, an :class:`EspBundle`, or False (no verification)."""

_log = logging.getLogger("https_request.api")

#: Sessions kept in memory per client (one per origin, the least recently used dropped).
MAX_SESSIONS = 256


class InsecureRequestWarning(UserWarning):
    """A client was made with ``verify=False``: servers are not verified."""


@cache
def _certifi_cacert() -> bytes:
    import certifi

    with open(certifi.where(), "rb") as f:
        return f.read()


def tls_config(verify: VerifyTypes, profile: str | None, tls: EspTlsCfg | None) -> EspTlsCfg:
    """The esp-tls configuration of a client: ``tls`` (or the defaults) with the trust
    ``verify`` names and the ClientHello ``profile`` names (None: ``tls``'s).

    Raises ValueError for a CA file that cannot be read or a ``verify`` of another type.
    """
    base = tls if tls is not None else EspTlsCfg()
    cacert: bytes | None = None
    bundle: bool | bytes = False
    insecure = False
    if verify is True:
        cacert = _certifi_cacert()
    elif verify is False:
        warnings.warn(
            "verify=False: servers are not verified; anyone on the path can read and change the traffic",
            InsecureRequestWarning,
            stacklevel=3,
        )
        _log.warning("verify=False: server certificates are NOT verified")
        insecure = True
    elif isinstance(verify, EspBundle):
        bundle = True if verify.data is None else verify.data
    elif isinstance(verify, str | os.PathLike):
        try:
            with open(verify, "rb") as f:
                cacert = f.read()
        except OSError as exc:
            raise ValueError(f"verify={os.fspath(verify)!r}: cannot read the CA file: {exc.strerror or exc}") from None
    else:
        raise ValueError(f"verify must be True, False, a CA file path or an EspBundle, not {type(verify).__name__}")
    cfg = replace(base, cacert=cacert, crt_bundle=bundle, use_global_ca_store=False, insecure=insecure)
    return cfg if profile is None else replace(cfg, profile=profile)


def offered_versions(cfg: EspTlsCfg) -> tuple[int, ...]:
    """The TLS versions (wire values) ``cfg`` offers."""
    return {TlsVersion.TLS_1_2: (0x0303,), TlsVersion.TLS_1_3: (0x0304,)}.get(cfg.tls_version, (0x0304, 0x0303))


def server_name(cfg: EspTlsCfg, host: str) -> str | None:
    """The name esp-tls sends and checks for ``host`` under ``cfg``."""
    return None if cfg.skip_common_name else (cfg.common_name or host)


class SessionStore:
    """``sessions=``: TLS sessions kept on disk, so that another process resumes them
    (and sends its idempotent requests as 0-RTT).

    One file per origin in ``directory`` (created 0700; None: ``sessions`` in the
    package's state folder, :func:`https_request.files.state_dir`), each in the
    format of ``https-request get --session`` (:mod:`https_request.session_file`),
    written atomically and 0600. An unusable file costs one log warning and a full
    handshake. The files are secrets: whoever reads one can resume the session.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        if directory is None:
            from ..files import state_dir

            directory = state_dir() / "sessions"
        self.directory = os.fspath(directory)

    def __repr__(self) -> str:
        return f"SessionStore({self.directory!r})"

    def path_for(self, host: str, port: int) -> str:
        """The file that holds ``host``:``port``'s session."""
        name = re.sub(r"[^a-z0-9.-]", "_", host.lower())
        return os.path.join(self.directory, f"{name}_{port}.session")

    def _file(self, host: str, port: int) -> SessionFile:
        from ..session_file import SessionFile

        return SessionFile(self.path_for(host, port), host, port, lambda msg: _log.warning("%s", msg))

    def load(self, host: str, port: int, cfg: EspTlsCfg) -> Session | None:
        """The saved session for ``host``:``port`` usable under ``cfg``, or None."""
        return self._file(host, port).load(offered_versions(cfg), server_name(cfg, host))

    def save(self, host: str, port: int, session: Session) -> None:
        """Save ``session`` for ``host``:``port``; a failure costs one log warning."""
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
        except OSError as exc:
            _log.warning("cannot create the session folder %s: %s", self.directory, exc.strerror or exc)
            return
        self._file(host, port).save(session)


class Sessions:
    """A client's sessions: the newest per origin in memory (bounded: :data:`MAX_SESSIONS`),
    read from and written to a :class:`SessionStore` when the client has one. Thread-safe."""

    def __init__(self, store: SessionStore | None) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._memory: OrderedDict[tuple[str, int], Session | None] = OrderedDict()

    def get(self, host: str, port: int, cfg: EspTlsCfg) -> Session | None:
        """The session to offer to ``host``:``port`` (None: a full handshake)."""
        key = (host.lower(), port)
        with self._lock:
            known = key in self._memory
            session = self._memory.get(key)
        if not known and self.store is not None:
            session = self.store.load(host, port, cfg)
            self._remember(key, session)
        if session is not None and session.expired(time.time()):
            return None
        return session

    def keep(self, target: Target, cfg: EspTlsCfg, session: object) -> None:
        """A connection's newest session, when ``cfg``'s engine makes sessions this package
        can resume (the python engine; the openssl engine's stay inside stdlib ssl)."""
        if cfg.engine == "python" and session is not None:
            self.put(target.host, target.port, cast("Session", session))

    def put(self, host: str, port: int, session: Session | None) -> None:
        """Keep ``session`` (a connection's newest) for ``host``:``port``; saved when new."""
        if session is None:
            return
        key = (host.lower(), port)
        with self._lock:
            if self._memory.get(key) is session:
                return
        self._remember(key, session)
        if self.store is not None:
            self.store.save(host, port, session)

    def _remember(self, key: tuple[str, int], session: Session | None) -> None:
        with self._lock:
            self._memory[key] = session
            self._memory.move_to_end(key)
            while len(self._memory) > MAX_SESSIONS:
                self._memory.popitem(last=False)
