"""The local servers the example can run against, offline (``example --local``, ``demo``).

Two ``https-request serve`` processes on 127.0.0.1 at free ports, with their
state in ``state_home`` (``XDG_STATE_HOME``): the ticket server with the
packaged local certificate and key (the role of the Python server in
ESP-IDF's own test of the example) and the check server with a fresh CA.
:func:`local_servers` yields the example's settings that point at them:
www.howsmyssl.com:443 (and tls13.browserleaks.com:443) connected to the check
server, EXAMPLE_SERVER_ROOT_CERT and the bundle's extra certificates its CA,
the local URL the ticket server's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..nvs import Nvs

__all__ = ["device_nvs", "local_servers"]

_START_TIMEOUT_S = 30.0


@contextmanager
def _server(args: list[str], env: dict[str, str]) -> Iterator[tuple[int, str | None]]:
    """Run ``https-request serve``; yields (port, ca-file) once it listens.
    Raises RuntimeError when it exits or does not listen in time."""
    cmd = [sys.executable, "-m", "https_request", "serve", "--host", "127.0.0.1", "--port", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        ca: str | None = None
        deadline = time.monotonic() + _START_TIMEOUT_S
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the local server exited early ({proc.wait()})")
            if line.startswith("ca-file: "):
                ca = line[len("ca-file: ") :].strip()
            elif line.startswith("listening: "):
                port = int(line.strip().rstrip("/").rsplit(":", 1)[1])
                yield port, ca
                return
        raise RuntimeError("the local server did not start in time")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def local_servers(state_home: Path) -> Iterator[list[str]]:
    """Start both servers; yields the ``--set`` items that point the example at
    them. Raises RuntimeError when a server does not start."""
    from .config import LOCAL_SERVER_CERT, LOCAL_SERVER_KEY

    env = dict(os.environ, XDG_STATE_HOME=str(state_home))
    with ExitStack() as stack:
        ticket = ["--esp-local-server", "--cert", str(LOCAL_SERVER_CERT), "--key", str(LOCAL_SERVER_KEY)]
        local_port, _ = stack.enter_context(_server([*ticket, "--key-type", "rsa"], env))
        check_port, ca_file = stack.enter_context(_server([], env))
        if ca_file is None:
            raise RuntimeError("the check server did not report its CA file")
        check = f"127.0.0.1:{check_port}"
        yield [
            f"EXAMPLE_LOCAL_SERVER_URL=https://127.0.0.1:{local_port}",
            f"EXAMPLE_CONNECT_TO=www.howsmyssl.com:443:{check} tls13.browserleaks.com:443:{check}",
            f"EXAMPLE_SERVER_ROOT_CERT={ca_file}",
            f"MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH={ca_file}",
        ]


def device_nvs(state_home: Path) -> Nvs:
    """A fresh NVS store in ``state_home`` holding the host's time as the
    example's clock (``storage``/``timestamp``): what ESP-IDF's CI writes into
    the device before its test, so the run needs no SNTP server."""
    from ..nvs import Nvs
    from ..time_sync import STORAGE_NAMESPACE, TIMESTAMP_KEY

    store = Nvs(state_home / "https-request" / "nvs.sqlite3")
    with store.open(STORAGE_NAMESPACE) as handle:
        handle.set_i64(TIMESTAMP_KEY, int(time.time()))
        handle.commit()
    return store
