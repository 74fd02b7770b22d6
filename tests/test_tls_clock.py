"""The clock certificates are checked on (``get --clock/--now/--sntp-server``), end to end:
a stdlib-``ssl`` HTTPS server whose certificate is valid only in 2019, chrony
as the SNTP server that tells the truth, scripted servers that lie, refuse or
stay silent."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certs import at, make_ca, make_leaf
from clirun import get
from https_request.esp_tls.errors import LastError
from https_request.get_report import describe
from https_request.tls_clock import duration, parse_instant
from ntpserver import Responder, chrony
from procs import needs
from stdlibhttps import BODY, serve_https

pytestmark = pytest.mark.timeout(60)

CA = make_ca(name="tls-clock Test Root CA", not_before=at(2018))
LEAF_2019 = make_leaf(CA, ("localhost", "127.0.0.1"), not_before=at(2019), not_after=at(2019, 12, 31))
IN_2019 = "2019-06-01T00:00:00Z"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(URL, CA file) of an HTTPS server whose certificate is valid only in 2019."""
    d = tmp_path_factory.mktemp("pki2019")
    (d / "ca.pem").write_bytes(CA.cert_pem)
    (d / "leaf.pem").write_bytes(LEAF_2019.chain_pem)
    (d / "leaf.key").write_bytes(LEAF_2019.key_pem)
    with serve_https(d / "leaf.pem", d / "leaf.key") as port:
        yield f"https://localhost:{port}/", str(d / "ca.pem")


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def test_fixed_clock_accepts_what_the_system_clock_refuses(server: tuple[str, str]) -> None:
    url, ca = server
    r = get(url, "--cacert", ca, "--now", IN_2019)
    assert r.code == 0 and r.out == BODY, r.err
    r = get(url, "--cacert", ca, "--now", IN_2019, "--verify-policy", "mbedtls")
    assert r.code == 0 and r.out == BODY, r.err
    r = get(url, "--cacert", ca, "--sntp-server", "none")
    assert r.code == 6, r.err
    assert (
        "flags 0x1 The certificate validity has expired): webpki: 'CN=localhost' expired on 2019-12-31 00:00:00 UTC; "
        f"on the system clock, {today()}T" in r.err
    ), r.err
    r = get(url, "--cacert", ca, "--now", "2018-06-01", "--sntp-server", "none", "--verify-policy", "mbedtls")
    assert r.code == 6, r.err
    assert r.err.rstrip().endswith(
        "flags 0x200 The certificate validity starts in the future): mbedtls: 'CN=localhost' is not valid before "
        "2019-01-01 00:00:00 UTC; on the fixed clock, 2018-06-01T00:00:00Z"
    ), r.err


@needs("chronyd")
def test_skew_against_chrony(server: tuple[str, str], tmp_path: Path) -> None:
    url, ca = server
    with chrony(tmp_path) as port:
        ntp = f"127.0.0.1:{port}"
        r = get(url, "--cacert", ca, "--sntp-server", ntp)  # the host's clock is right: the certificate is old
        assert r.code == 6 and f"; this clock agrees with {ntp} to within 1 s\n" in r.err, r.err
        r = get(url, "--cacert", ca, "--now", "2018-06-01T00:00:00Z", "--sntp-server", ntp)
        behind = duration(time.time() - parse_instant("2018-06-01T00:00:00Z").timestamp())
        assert r.code == 6, r.err
        assert f"on the fixed clock, 2018-06-01T00:00:00Z; this clock is {behind} behind {ntp}\n" in r.err, r.err
        assert behind.endswith(" years"), behind


def test_skew_against_a_lying_server(server: tuple[str, str]) -> None:
    url, ca = server
    with Responder("lie", time=parse_instant(IN_2019).timestamp()) as liar:
        r = get(url, "--cacert", ca, "--sntp-server", liar.server)
    ahead = duration(time.time() - parse_instant(IN_2019).timestamp())
    assert r.code == 6 and f"on the system clock, {today()}T" in r.err
    assert f"; this clock is {ahead} ahead of {liar.server}\n" in r.err, r.err


def test_sntp_clock(server: tuple[str, str]) -> None:
    url, ca = server
    with Responder("lie", time=parse_instant(IN_2019).timestamp()) as liar:  # its 2019 is the certificate's
        r = get(url, "--cacert", ca, "--clock", "sntp", "--sntp-server", liar.server)
    assert r.code == 0 and r.out == BODY, r.err
    with Responder("lie", time=parse_instant("2025-03-01T00:00:00Z").timestamp()) as liar:
        r = get(url, "--cacert", ca, "--clock", "sntp", "--sntp-server", liar.server)
    assert r.code == 6 and re.search(r"on the SNTP clock, 2025-03-01T00:00:0\dZ\n", r.err), r.err
    assert "this clock" not in r.err  # the clock was just set over SNTP: no second measurement
    with Responder("kod", code="RSTR") as kod:
        r = get(url, "--cacert", ca, "--clock", "sntp", "--sntp-server", kod.server)
    assert r.code == 4 and f"--clock sntp: no SNTP server answered in 1 waits of 3 s: {kod.server} sent a " in r.err
    with Responder("silent") as silent:
        r = get(url, "--cacert", ca, "--clock", "sntp", "--sntp-server", silent.server)
    assert r.code == 4 and f"no answer from the SNTP server {silent.server} within 3 s" in r.err, r.err


def test_clock_option_errors(server: tuple[str, str]) -> None:
    url, ca = server
    r = get(url, "--cacert", ca, "--now", "yesterday")
    assert r.code == 2 and "https-request: --now: not an ISO 8601 date/time: 'yesterday'" in r.err
    r = get(url, "--cacert", ca, "--now", IN_2019, "--clock", "nvs")
    assert r.code == 2 and "--now and --clock nvs do not go together" in r.err
    r = get(url, "--cacert", ca, "--clock", "sntp", "--sntp-server", "none")
    assert r.code == 2 and "--clock sntp needs an SNTP server" in r.err
    r = get(url, "--cacert", ca, "--sntp-server", "host:99999")
    assert r.code == 2 and "bad SNTP server 'host:99999': port '99999' is not 1-65535" in r.err
    r = get(url, "--cacert", ca, "--now", IN_2019, "--engine", "openssl")
    assert r.code == 2, r.err
    assert "engine 'openssl' cannot honour clock: OpenSSL checks certificates on the system clock" in r.err


def test_describe_names_the_clock_only_for_dates() -> None:
    reason = "certificate expired: The certificate validity has expired (x) [flags 0x1]"
    expired = LastError(0x801A, 0x2700, 0x1, reason)
    assert describe(expired, "on the NVS clock, 2019-01-01T00:00:00Z").endswith(
        "flags 0x1 The certificate validity has expired): x; on the NVS clock, 2019-01-01T00:00:00Z"
    )
    untrusted = LastError(0x801A, 0x2700, 0x8, "untrusted")
    assert "NVS clock" not in describe(untrusted, "on the NVS clock, 2019-01-01T00:00:00Z")


@needs("chronyd")
def test_nvs_clock(server: tuple[str, str], tmp_path: Path) -> None:
    """A certificate valid only on the NVS clock: accepted with --clock nvs, refused on the system clock."""
    from https_request import nvs

    url, ca = server
    path = tmp_path / "nvs.sqlite3"
    r = get(url, "--cacert", ca, "--clock", "nvs", "--nvs-file", str(path))
    assert r.code == 2 and "--clock nvs: no time in NVS (storage/timestamp in " in r.err, r.err
    with nvs.Nvs(path) as store, store.open("storage") as handle:
        handle.set_i64("timestamp", int(parse_instant(IN_2019).timestamp()))
        handle.commit()
    r = get(url, "--cacert", ca, "--clock", "nvs", "--nvs-file", str(path))
    assert r.code == 0 and r.out == BODY, r.err
    with chrony(tmp_path) as port:
        r = get(url, "--cacert", ca, "--nvs-file", str(path), "--sntp-server", f"127.0.0.1:{port}")
        assert r.code == 6 and "on the system clock" in r.err and "agrees with" in r.err, r.err
        with nvs.Nvs(path) as store, store.open("storage") as handle:
            handle.set_i64("timestamp", int(parse_instant("2018-06-01T00:00:00Z").timestamp()))
            handle.commit()
        r = get(url, "--cacert", ca, "--clock", "nvs", "--nvs-file", str(path), "--sntp-server", f"127.0.0.1:{port}")
    assert r.code == 6, r.err
    assert re.search(r"on the NVS clock, 2018-06-01T00:00:0\dZ; this clock is [\d.]+ years behind", r.err), r.err
