"""The SNTP client (:mod:`https_request.sntp`) against chrony and scripted servers on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from https_request import sntp
from https_request.wire import DecodeError
from ntpserver import Responder, chrony
from procs import needs

pytestmark = pytest.mark.timeout(30)

LIE = 1_546_300_800.0  # 2019-01-01T00:00:00Z


def test_packet_round_trip_and_layout() -> None:
    packet = sntp.NtpPacket(
        leap=1,
        version=4,
        mode=4,
        stratum=2,
        poll=-6,
        precision=-20,
        root_delay=0x00010000,
        root_dispersion=0x8000,
        reference_id=b"\xc0\x00\x02\x01",
        reference_time=1,
        origin_time=2,
        receive_time=3,
        transmit_time=0xE000000080000000,
    )
    data = sntp.encode(packet)
    assert len(data) == 48
    assert data[0] == 0b01_100_100 and data[1] == 2 and data[2] == 0xFA and data[3] == 0xEC
    assert data[40:48] == bytes.fromhex("e000000080000000")
    assert sntp.decode(data) == packet
    assert sntp.decode(data + b"\0" * 20) == packet  # a MAC or extension fields after the header are ignored
    with pytest.raises(DecodeError, match="47 bytes"):
        sntp.decode(data[:47])


def test_timestamps_follow_the_era_rule() -> None:
    # RFC 4330 section 3: a seconds field with the top bit set is 1968-2036, clear is 2036-2104
    assert sntp.to_unix(sntp.NTP_EPOCH_OFFSET << 32) == 0.0
    assert sntp.to_unix(0) == 2**32 - sntp.NTP_EPOCH_OFFSET  # 2036-02-07T06:28:16Z
    for unix in (0.0, LIE, 2_085_978_496.5, 2**32 - sntp.NTP_EPOCH_OFFSET + 12.25, 4_000_000_000.0):
        assert abs(sntp.to_unix(sntp.from_unix(unix)) - unix) < 1e-6
    with pytest.raises(ValueError, match="1968-2104"):
        sntp.from_unix(-100_000_000.0)


def test_server_syntax() -> None:
    assert sntp.parse_server("pool.ntp.org") == ("pool.ntp.org", 123)
    assert sntp.parse_server("127.0.0.1:12345") == ("127.0.0.1", 12345)
    assert sntp.parse_server("[::1]:4123") == ("::1", 4123)
    assert sntp.parse_server("::1") == ("::1", 123)
    for bad in ("host:0", "host:x", "[::1", ":123", "[::1]x"):
        with pytest.raises(ValueError, match="bad SNTP server"):
            sntp.parse_server(bad)
    assert sntp.format_server("::1", 4123) == "[::1]:4123" and sntp.format_server("a.example", 123) == "a.example"


@needs("chronyd")
def test_query_chrony(tmp_path: Path) -> None:
    with chrony(tmp_path) as port:
        r = sntp.query("127.0.0.1", port, timeout=2)
        assert r.stratum == 8 and r.leap == 0 and r.address == "127.0.0.1" and r.server == f"127.0.0.1:{port}"
        assert abs(r.offset) < 0.5 and 0 <= r.delay < 0.5 and abs(r.server_time - time.time()) < 1
        # a clock an hour slow is measured as such (chrony serves the host's clock)
        slow = sntp.query("localhost", port, clock=lambda: time.time() - 3600)
        assert abs(slow.offset - 3600) < 0.5, slow


def test_a_server_that_lies() -> None:
    with Responder("lie", time=LIE) as srv:
        r = sntp.query("127.0.0.1", srv.port)
    assert abs(r.offset - (LIE - time.time())) < 1 and r.server_time == LIE and r.stratum == 2
    assert r.reference_id == "192.0.2.1"


@pytest.mark.parametrize("code", ["RATE", "DENY", "RSTR"])
def test_kiss_of_death(code: str) -> None:
    with Responder("kod", code=code) as srv, pytest.raises(sntp.KissOfDeath) as err:
        sntp.query("127.0.0.1", srv.port)
    assert err.value.code == code and err.value.server == srv.server
    assert f"{srv.server} sent a kiss-o'-death {code!r}" in str(err.value)


def test_silent_server_times_out_naming_it() -> None:
    with Responder("silent") as srv:
        t0 = time.monotonic()
        expected = rf"no answer from the SNTP server 127\.0\.0\.1:{srv.port} within 0\.3 s$"
        with pytest.raises(sntp.SntpError, match=expected):
            sntp.query("127.0.0.1", srv.port, timeout=0.3)
        assert 0.3 <= time.monotonic() - t0 < 1.5 and srv.requests == 1


def test_unsynchronised_servers_are_refused() -> None:
    with Responder("alarm", time=LIE) as srv, pytest.raises(sntp.SntpError, match=r"synchronised \(leap indicator 3"):
        sntp.query("127.0.0.1", srv.port)
    with Responder("stratum16", time=LIE) as srv, pytest.raises(sntp.SntpError, match="stratum 16"):
        sntp.query("127.0.0.1", srv.port)


def test_answers_to_other_requests_and_garbage_are_dropped() -> None:
    with Responder("foreign", time=LIE) as srv, pytest.raises(sntp.SntpError) as err:
        sntp.query("127.0.0.1", srv.port, timeout=0.3)
    assert "dropped: an answer to another request (its origin timestamp is not ours)" in str(err.value)
    with Responder("garbage-first", time=LIE) as srv:
        assert sntp.query("127.0.0.1", srv.port).server_time == LIE


def test_nothing_listening() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(sntp.SntpError, match=rf"SNTP server 127\.0\.0\.1:{port}: Connection refused"):
        sntp.query("127.0.0.1", port, timeout=1)
