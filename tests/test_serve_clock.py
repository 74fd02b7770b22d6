"""``serve``'s clock, end to end (``--clock system|nvs|sntp``, ``--now``, ``--sntp-server``,
``--nvs-file`` as ``get`` has them, and ``--clock-refresh``): the time its TLS checks client
certificates on (``--client-ca``), dates tickets with and rates /a/check at (the 2026 schema
turns a TLS 1.3 client without a post-quantum group from "Probably Okay" to "Bad" during 2026),
set again over SNTP in each worker while it serves.

Peers: ``serve`` started by the test (tests/serveproc.py); Python's ssl module as the client,
with a client certificate valid only in 2019 or only around 2027; chrony as an SNTP server
that tells the truth and ``ntpserver.Responder`` as one that lies (a fixed wrong time the test
changes), then falls silent (tests/ntpserver.py).
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certs import at, make_ca, make_leaf
from https_request.tls_clock import parse_instant
from ntpserver import Responder, chrony
from procs import needs
from serveproc import WAIT, Serve

pytestmark = pytest.mark.timeout(90)

HOST = "www.howsmyssl.com"
CA = make_ca(name="serve-clock client CA", not_before=at(2018), not_after=at(2030))
CLIENT_2019 = make_leaf(CA, ("client.test",), not_before=at(2019), not_after=at(2019, 12, 31), eku="clientAuth")
CLIENT_2027 = make_leaf(CA, ("client.test",), not_before=at(2026, 12, 20), not_after=at(2027, 6, 1), eku="clientAuth")
IN_2019 = parse_instant("2019-06-01T00:00:00Z").timestamp()
IN_2027 = parse_instant("2027-01-01T00:00:00Z").timestamp()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """The client CA, and each client certificate with its key."""
    out = {"ca": tmp_path / "client-ca.pem"}
    out["ca"].write_bytes(CA.cert_pem)
    for name, leaf in (("2019", CLIENT_2019), ("2027", CLIENT_2027)):
        (tmp_path / f"client-{name}.pem").write_bytes(leaf.chain_pem)
        (tmp_path / f"client-{name}.key").write_bytes(leaf.key_pem)
        out[name] = tmp_path / f"client-{name}.pem"
    return out


def request(srv: Serve, client: Path | None = None, path: str = "/tls") -> bytes | str:
    """One HTTPS request with Python's ssl module (presenting ``client``'s certificate): the
    response's body, or the TLS error the handshake or the first read met."""
    ctx = ssl.create_default_context(cafile=srv.ca)
    if client is not None:
        ctx.load_cert_chain(client, client.with_suffix(".key"))
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as raw:
            with ctx.wrap_socket(raw, server_hostname=HOST) as tls:
                tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
                out = b""
                while chunk := tls.recv(65536):
                    out += chunk
    except ssl.SSLError as exc:
        return exc.reason or str(exc)
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), out
    return body


def rating(srv: Serve, client: Path | None = None) -> str:
    body = request(srv, client, "/a/check")
    assert isinstance(body, bytes), body
    return str(json.loads(body)["rating"])


def iso_day(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d")


EXPIRED = "SSLV3_ALERT_CERTIFICATE_EXPIRED"  # the alert for a certificate out of its dates, either side


def test_client_certificates_are_checked_on_the_chosen_clock(files: dict[str, Path], tmp_path: Path) -> None:
    """A client certificate valid only in 2019: accepted by a serve whose clock an SNTP server
    (lying) set to 2019, or fixed there with --now; refused on the system clock, in the serve's
    log as expired; one valid from 2026-12-20 is refused in 2019 as not yet valid."""
    ca = ["--client-ca", str(files["ca"])]
    with Responder("lie", time=IN_2019) as liar:
        srv = Serve([*ca, "--clock", "sntp", "--sntp-server", liar.server], tmp_path)
        try:
            srv.wait_log(r" clock: the SNTP clock, 2019-06-01T00:00:0\dZ; set again over SNTP every 86400 s$")
            assert isinstance(request(srv, files["2019"]), bytes), srv.err
            mark = srv.log_mark()
            assert request(srv, files["2027"]) == EXPIRED
            srv.wait_log(
                r"error=\"tls: certificate not yet valid: .*'CN=client\.test' is not valid before 2026-12-20", mark
            )
            assert request(srv) == "TLSV13_ALERT_CERTIFICATE_REQUIRED"
        finally:
            assert srv.stop() == 0
    srv = Serve([*ca, "--now", "2019-06-01T00:00:00Z"], tmp_path)
    try:
        srv.wait_log(r" clock: the fixed clock, 2019-06-01T00:00:00Z$")
        assert isinstance(request(srv, files["2019"]), bytes), srv.err
    finally:
        assert srv.stop() == 0
    srv = Serve(ca, tmp_path)  # the system clock: 2019 is long gone
    try:
        assert request(srv, files["2019"]) == EXPIRED
        srv.wait_log(r"error=\"tls: certificate expired: .*'CN=client\.test' expired on 2019-12-31")
        assert not [line for line in srv.err if " clock: " in line]  # the system clock is not announced
    finally:
        assert srv.stop() == 0


def test_refresh_picks_up_a_changed_time_in_every_worker_and_an_outage_keeps_serving(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """--clock sntp --clock-refresh: each worker sets its clock again over SNTP; the TLS clock
    (client certificates) and the rating's follow. When the SNTP server falls silent, the
    refresh fails, is logged, and the server serves on, its clock running on from its last time."""
    args = ["--workers", "2", "--schema", "2026", "--client-ca", str(files["ca"]), "--clock", "sntp"]
    with Responder("lie", time=IN_2019) as liar:
        srv = Serve([*args, "--sntp-server", liar.server, "--clock-refresh", "0.5"], tmp_path)
        try:
            srv.wait_log(r" clock: the SNTP clock, 2019-06-01T00:00:\d\dZ; set again over SNTP every 0\.5 s$")
            assert rating(srv, files["2019"]) == "Probably Okay"  # TLS 1.3 without ML-KEM: fine before 2026-06
            assert request(srv, files["2027"]) == EXPIRED
            liar.time = IN_2027
            mark = srv.log_mark()
            for worker in (0, 1):
                srv.wait_log(rf"worker={worker} clock set again over SNTP: 2027-01-01T00:00:\d\dZ$", mark)
            assert request(srv, files["2019"]) == EXPIRED
            assert rating(srv, files["2027"]) == "Bad"  # the same client after 2026-12-14
            liar.mode = "silent"
            mark = srv.log_mark()
            for worker in (0, 1):
                srv.wait_log(
                    rf"worker={worker} clock refresh failed, running on from its last time \(2027-01-01T00:00:\d\dZ\): "
                    rf"no SNTP server answered in 10 waits of 0\.025 s: no answer from the SNTP server {liar.server}",
                    mark,
                )
            assert rating(srv, files["2027"]) == "Bad"
            assert request(srv, files["2019"]) == EXPIRED
        finally:
            assert srv.stop() == 0
    assert not [line for line in srv.err if "Traceback" in line], srv.err


def test_nvs_clock_is_refreshed_over_sntp_and_stored(files: dict[str, Path], tmp_path: Path) -> None:
    """--clock nvs: the time NVS holds (2019, as a device restores it at power-on), then, every
    --clock-refresh, SNTP's (2027), stored in NVS with the device's lines."""
    from https_request import nvs

    path = tmp_path / "nvs.sqlite3"
    with nvs.Nvs(path) as store, store.open("storage") as handle:
        handle.set_i64("timestamp", int(IN_2019))
        handle.commit()
    args = ["--client-ca", str(files["ca"]), "--clock", "nvs", "--nvs-file", str(path)]
    with Responder("lie", time=IN_2027) as liar:
        srv = Serve([*args, "--sntp-server", liar.server, "--clock-refresh", "1"], tmp_path)
        try:
            srv.wait_log(r" clock: the NVS clock, 2019-06-01T00:00:0\dZ; set again over SNTP every 1 s$")
            assert isinstance(request(srv, files["2019"]), bytes), srv.err
            srv.wait_log(r"^I \(\d+\) time_sync: Updated time in NVS$")
            srv.wait_log(r"worker=0 clock set again over SNTP: 2027-01-01T00:00:0\dZ$")
            assert request(srv, files["2019"]) == EXPIRED
            assert isinstance(request(srv, files["2027"]), bytes), srv.err
        finally:
            assert srv.stop() == 0
    with nvs.Nvs(path) as store, store.open("storage") as handle:
        assert abs(handle.get_i64("timestamp") - IN_2027) < 60


@needs("chronyd")
def test_sntp_clock_from_chrony(files: dict[str, Path], tmp_path: Path) -> None:
    """chrony tells the truth (the host's clock): the SNTP clock reads today, and a client
    certificate of 2019 is refused on it."""
    with chrony(tmp_path) as port:
        srv = Serve(
            ["--client-ca", str(files["ca"]), "--clock", "sntp", "--sntp-server", f"127.0.0.1:{port}"], tmp_path
        )
        try:
            today = datetime.now(UTC).strftime("%Y-%m-%d")
            srv.wait_log(rf" clock: the SNTP clock, {today}T")
            assert request(srv, files["2019"]) == EXPIRED
        finally:
            assert srv.stop() == 0


def test_clock_option_errors(files: dict[str, Path], tmp_path: Path) -> None:
    """Bad clock options exit 2 naming the option; no SNTP answer at start exits 1 (no time to serve on)."""
    import subprocess
    import sys

    from serveproc import REPO

    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "https_request", "serve", "--port", "0", *args]
        env = {"XDG_STATE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
        return subprocess.run(command, capture_output=True, text=True, timeout=WAIT, cwd=REPO, env=env)

    for args, code, message in (
        (["--now", "2019-06-01", "--clock", "nvs"], 2, "--now and --clock nvs do not go together"),
        (["--clock", "sntp", "--sntp-server", "none"], 2, "--clock sntp needs an SNTP server"),
        (["--clock", "nvs", "--nvs-file", str(tmp_path / "empty.sqlite3")], 2, "--clock nvs: no time in NVS"),
        (["--client-ca", str(tmp_path / "missing.pem")], 2, "--client-ca: cannot read"),
        (["--client-ca", str(files["2019"].with_suffix(".key"))], 2, "no PEM certificate found in it"),
        (["--clock-refresh", "0"], 2, "--clock-refresh: must be positive"),
    ):
        done = serve(*args)
        assert done.returncode == code and message in done.stderr, (args, done.stderr)
        assert "listening:" not in done.stdout
    with Responder("silent") as silent:
        done = serve("--clock", "sntp", "--sntp-server", silent.server)
    assert done.returncode == 1, done.stderr
    assert re.search(rf"error: --clock sntp: no SNTP server answered .*{re.escape(silent.server)}", done.stderr)
    assert "listening:" not in done.stdout
