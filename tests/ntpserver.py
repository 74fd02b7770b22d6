"""NTP peers for the SNTP tests, on 127.0.0.1 at free high ports.

* :func:`chrony`: Debian's ``chronyd`` as an NTP server (``procs.needs("chronyd")``):
  ``port N``, ``bindaddress 127.0.0.1``, ``allow 127.0.0.1``, ``local stratum 8``
  (it serves its own clock, the host's, with no upstream), ``cmdport 0`` (no
  control socket), its pid and drift files in the test's directory; started
  with ``-x`` (it never touches the host's clock) and ``-d`` (foreground,
  logging to stderr). Yields the port once it answers (bounded), killed on exit.
* :class:`Responder`: a scripted server for what chrony will not do, built with
  :mod:`https_request.sntp`'s packet writer: a fixed wrong time (a server that
  lies), kiss-o'-death, silence, leap indicator 3, stratum 16, an answer to
  another request, garbage before a valid answer. It counts the requests.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from dnsserver import free_port
from https_request import sntp
from procs import Proc, tool

__all__ = ["Responder", "chrony"]

WAIT = 5.0

CONF = """port {port}
bindaddress 127.0.0.1
allow 127.0.0.1
local stratum 8
cmdport 0
pidfile {dir}/chronyd.pid
driftfile {dir}/chrony.drift
"""


def _answers(port: int) -> bool:
    try:
        sntp.query("127.0.0.1", port, timeout=0.2)
    except sntp.SntpError:
        return False
    return True


@contextmanager
def chrony(directory: Path) -> Iterator[int]:
    """chronyd serving NTP on 127.0.0.1 at a free port (see the module docstring); yields the port.

    The port is free when picked but chronyd binds it later: when chronyd exits
    at once (another process took the port in between, as a parallel test run
    can), a new port is tried, three times at most."""
    for attempt in range(3):
        port = free_port()
        conf = directory / "chrony.conf"
        conf.write_text(CONF.format(port=port, dir=directory))
        with Proc([tool("chronyd"), "-x", "-d", "-u", "root", "-f", str(conf)]) as proc:
            deadline = time.monotonic() + WAIT
            while not _answers(port):
                if proc.p.poll() is not None and attempt < 2:
                    break  # it could not start: try another port
                if time.monotonic() > deadline or proc.p.poll() is not None:
                    raise AssertionError(f"chronyd does not answer on 127.0.0.1:{port}:\n{proc.text}")
            else:
                yield port
                return


class Responder:
    """A UDP "NTP server" on 127.0.0.1 whose answer the test scripts.

    ``mode``: ``"lie"`` answers with ``time`` (Unix seconds) as its clock,
    stratum 2; ``"kod"`` a kiss-o'-death with ``code``; ``"silent"`` never
    answers; ``"alarm"`` leap indicator 3; ``"stratum16"``; ``"foreign"`` an
    answer whose origin timestamp is not the request's; ``"garbage-first"``
    10 bytes, then a valid answer as ``"lie"``.
    """

    def __init__(self, mode: str = "lie", time: float = 0.0, code: str = "RATE") -> None:
        self.mode, self.time, self.code = mode, time, code
        self.requests = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Responder:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(WAIT)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(1024)
            except TimeoutError:
                continue
            self.requests += 1
            for reply in self.replies(sntp.decode(data)):
                self.sock.sendto(reply, peer)

    def replies(self, request: sntp.NtpPacket) -> list[bytes]:
        if self.mode == "silent":
            return []
        stamp = sntp.from_unix(self.time)
        fields = {
            "mode": sntp.MODE_SERVER,
            "stratum": 2,
            "reference_id": bytes([192, 0, 2, 1]),
            "reference_time": stamp,
            "origin_time": request.transmit_time,
            "receive_time": stamp,
            "transmit_time": stamp,
        }
        if self.mode == "kod":
            fields.update(stratum=0, leap=3, reference_id=self.code.encode(), receive_time=0, transmit_time=0)
        elif self.mode == "alarm":
            fields.update(leap=3)
        elif self.mode == "stratum16":
            fields.update(stratum=16)
        elif self.mode == "foreign":
            fields.update(origin_time=request.transmit_time ^ 1)
        answer = sntp.encode(sntp.NtpPacket(**fields))
        return [b"\x24" * 10, answer] if self.mode == "garbage-first" else [answer]
