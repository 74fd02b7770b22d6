"""ESP-IDF log lines and the mbedTLS debug bridge (https_request.log)."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator

import pytest

from certs import KeyType, make_ca
from https_request import log
from https_request.tls.debug import hexdump_lines

LINE = re.compile(r"^(?P<L>[EWIDV]) \((?P<ms>\d+)\) (?P<tag>[^:]+): (?P<msg>.*)$")


class FakeStream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.fixture
def out(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStream]:
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream = FakeStream(tty=False)
    log.setup(log.INFO, stream=stream)
    yield stream
    log.setup(log.INFO)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def parsed(stream: io.StringIO) -> list[tuple[str, str, str]]:
    result = []
    for line in lines(stream):
        m = LINE.match(line)
        assert m, line
        result.append((m["L"], m["tag"], m["msg"]))
    return result


class Explodes:
    """Fails the test if anything formats it."""

    def __str__(self) -> str:
        raise AssertionError("__str__ called on a disabled level")

    def __repr__(self) -> str:
        raise AssertionError("__repr__ called on a disabled level")

    def __format__(self, spec: str) -> str:
        raise AssertionError("__format__ called on a disabled level")


# --- line format -----------------------------------------------------------


def test_line_format(out: FakeStream) -> None:
    lg = log.get_logger("example")
    lg.i("Start https_request example")
    lg.w("%d bytes written", 102)
    lg.e("Connection failed...")
    text = out.getvalue()
    assert text.endswith("\n")
    got = lines(out)
    assert len(got) == 3
    for line in got:
        assert re.match(r"^[EWIDV] \(\d+\) example: .+$", line), line
    assert parsed(out) == [
        ("I", "example", "Start https_request example"),
        ("W", "example", "102 bytes written"),
        ("E", "example", "Connection failed..."),
    ]


def test_timestamps_are_monotonic_ms(out: FakeStream) -> None:
    lg = log.get_logger("t")
    lg.i("a")
    lg.i("b")
    ms = [int(LINE.match(line)["ms"]) for line in lines(out)]  # type: ignore[index]
    assert 0 <= ms[0] <= ms[1]
    assert ms[1] <= log.millis()


def test_no_args_means_no_percent_formatting(out: FakeStream) -> None:
    log.get_logger("t").i("100% done")
    assert parsed(out) == [("I", "t", "100% done")]


def test_get_logger_is_cached() -> None:
    assert log.get_logger("same") is log.get_logger("same")


def test_levels_and_letters(out: FakeStream) -> None:
    log.set_level("*", log.VERBOSE)
    lg = log.get_logger("x")
    lg.e("e")
    lg.w("w")
    lg.i("i")
    lg.d("d")
    lg.v("v")
    lg.log(log.INFO, "via %s", "log")
    assert [(letter, msg) for letter, _, msg in parsed(out)] == [
        ("E", "e"),
        ("W", "w"),
        ("I", "i"),
        ("D", "d"),
        ("V", "v"),
        ("I", "via log"),
    ]


def test_default_level_is_info(out: FakeStream) -> None:
    lg = log.get_logger("x")
    lg.d("hidden")
    lg.v("hidden")
    lg.i("shown")
    assert parsed(out) == [("I", "x", "shown")]
    assert lg.is_enabled(log.INFO)
    assert not lg.is_enabled(log.DEBUG)
    assert not lg.is_enabled(log.NONE)


def test_level_none_silences_everything(out: FakeStream) -> None:
    log.set_level("*", log.NONE)
    lg = log.get_logger("x")
    lg.e("nothing")
    assert out.getvalue() == ""


# --- per-tag levels (esp_log_level_set) ------------------------------------


def test_per_tag_override_wins(out: FakeStream) -> None:
    log.set_level("*", log.WARN)
    log.set_level("esp-tls", log.DEBUG)
    log.set_level("quiet", log.NONE)
    log.get_logger("example").i("hidden: default is WARN")
    log.get_logger("example").w("shown")
    log.get_logger("esp-tls").d("shown: override DEBUG")
    log.get_logger("esp-tls").v("hidden")
    log.get_logger("quiet").e("hidden: override NONE")
    assert parsed(out) == [("W", "example", "shown"), ("D", "esp-tls", "shown: override DEBUG")]
    assert log.get_level("esp-tls") == log.DEBUG
    assert log.get_level("other") == log.WARN
    assert log.get_level("*") == log.WARN


def test_default_change_does_not_touch_overrides(out: FakeStream) -> None:
    log.set_level("a", log.ERROR)
    log.set_level("*", log.VERBOSE)
    assert log.get_level("a") == log.ERROR
    assert log.get_level("b") == log.VERBOSE


def test_setup_clears_overrides() -> None:
    log.set_level("a", log.ERROR)
    log.setup(log.DEBUG, stream=io.StringIO())
    try:
        assert log.get_level("a") == log.DEBUG
    finally:
        log.setup(log.INFO)


def test_bad_level_rejected() -> None:
    with pytest.raises(ValueError):
        log.set_level("x", 6)
    with pytest.raises(ValueError):
        log.set_level("*", -1)


# --- colour ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "color"),
    [("e", "\033[0;31m"), ("w", "\033[0;33m"), ("i", "\033[0;32m"), ("d", ""), ("v", "")],
)
def test_colour_on_tty(method: str, color: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream = FakeStream(tty=True)
    log.setup(log.VERBOSE, stream=stream)
    try:
        getattr(log.get_logger("c"), method)("msg")
    finally:
        log.setup(log.INFO)
    text = stream.getvalue()
    if color:
        assert text.startswith(color)
        assert text.endswith("c: msg\033[0m\n")
    else:
        assert "\033" not in text
        assert LINE.match(text.rstrip("\n"))


def test_no_colour_when_not_tty(out: FakeStream) -> None:
    log.get_logger("c").e("msg")
    assert "\033" not in out.getvalue()
    assert parsed(out) == [("E", "c", "msg")]


def test_colour_forced_and_no_color_env(monkeypatch: pytest.MonkeyPatch) -> None:
    forced = FakeStream(tty=False)
    log.setup(log.INFO, stream=forced, color=True)
    log.get_logger("c").e("x")
    monkeypatch.setenv("NO_COLOR", "1")
    tty = FakeStream(tty=True)
    log.setup(log.INFO, stream=tty)
    log.get_logger("c").e("x")
    log.setup(log.INFO)
    assert forced.getvalue().startswith("\033[0;31m")
    assert "\033" not in tty.getvalue()


def test_default_stream_is_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    log.setup(log.INFO)
    log.get_logger("err").i("to stderr")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert LINE.match(captured.err.rstrip("\n"))
    assert captured.err.rstrip("\n").endswith("err: to stderr")


# --- laziness ------------------------------------------------------------------


def test_disabled_levels_do_not_format(out: FakeStream) -> None:
    lg = log.get_logger("lazy")
    bomb = Explodes()
    lg.d("%s", bomb)
    lg.v("%r", bomb)
    lg.log(log.DEBUG, "%s", bomb)
    log.set_level("lazy", log.NONE)
    lg.e("%s %r", bomb, bomb)
    lg.i("%s", bomb)
    assert out.getvalue() == ""


def test_enabled_level_formats_once(out: FakeStream) -> None:
    calls = []

    class Counted:
        def __str__(self) -> str:
            calls.append(1)
            return "counted"

    log.get_logger("lazy").i("value %s", Counted())
    assert parsed(out) == [("I", "lazy", "value counted")]
    assert len(calls) == 1


# --- hexdump -------------------------------------------------------------------


def test_hexdump_lines_format() -> None:
    data = bytes(range(0x10, 0x10 + 20)) + b"Hi!"
    got = hexdump_lines(data)
    assert got == [
        "0000:  10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f  ................",
        "0010:  20 21 22 23 48 69 21" + " " * 27 + '   !"#Hi!',
    ]
    for line in got:
        assert re.match(r"^[0-9a-f]{4}:  ([0-9a-f]{2} ){0,15}[0-9a-f]{2} *  .{1,16}$", line), line
    assert hexdump_lines(b"") == []


# --- mbedTLS bridge ----------------------------------------------------------------


def mbed_lines(stream: io.StringIO) -> list[tuple[str, str]]:
    result = []
    for letter, tag, msg in parsed(stream):
        assert tag == "mbedtls"
        result.append((letter, msg))
    return result


def test_mbedtls_level_mapping(out: FakeStream) -> None:
    dbg = log.MbedtlsDebug(4)
    assert dbg.threshold == 4
    assert log.get_level("mbedtls") == log.VERBOSE
    line = sys._getframe().f_lineno + 1
    dbg.msg(1, "bad server hello message")
    dbg.msg(2, "=> parse server hello")
    dbg.msg(3, "handshake state: 2 (SERVER_HELLO) -> 3 (SERVER_CERTIFICATE)")
    dbg.msg(4, "secret")
    dbg.msg(0, "never")
    dbg.msg(5, "never")
    assert mbed_lines(out) == [
        ("W", f"test_log.py:{line} bad server hello message"),
        ("I", f"test_log.py:{line + 1} => parse server hello"),
        ("D", f"test_log.py:{line + 2} handshake state: 2 (SERVER_HELLO) -> 3 (SERVER_CERTIFICATE)"),
        ("V", f"test_log.py:{line + 3} secret"),
    ]


@pytest.mark.parametrize(("threshold", "tag_level"), [(0, 0), (1, 2), (2, 3), (3, 4), (4, 5)])
def test_mbedtls_threshold_sets_tag_level(out: FakeStream, threshold: int, tag_level: int) -> None:
    log.MbedtlsDebug(threshold)
    assert log.get_level("mbedtls") == tag_level


def test_mbedtls_threshold_filters(out: FakeStream) -> None:
    dbg = log.MbedtlsDebug(2)
    bomb = b"\x00" * 4
    dbg.msg(3, "hidden")
    dbg.ret(3, "hidden", -1)
    dbg.buf(3, "hidden", bomb)
    dbg.crt(3, "hidden", b"not a certificate")
    dbg.msg(2, "shown")
    assert [msg.split(" ", 1)[1] for _, msg in mbed_lines(out)] == ["shown"]
    off = log.MbedtlsDebug(0)
    off.msg(1, "hidden")
    assert len(lines(out)) == 1


def test_mbedtls_esp_level_filters_too(out: FakeStream) -> None:
    dbg = log.MbedtlsDebug(4, set_tag_level=False)  # tag stays at the INFO default
    dbg.msg(4, "hidden by ESP level")
    dbg.msg(3, "hidden by ESP level")
    dbg.msg(2, "shown")
    assert [letter for letter, _ in mbed_lines(out)] == ["I"]


def test_mbedtls_bad_threshold() -> None:
    with pytest.raises(ValueError):
        log.MbedtlsDebug(5)


def test_mbedtls_disabled_buf_does_not_dump(out: FakeStream, monkeypatch: pytest.MonkeyPatch) -> None:
    import https_request.tls.debug as tls_debug

    def boom(data: bytes) -> list[str]:
        raise AssertionError("hexdump computed for a disabled level")

    monkeypatch.setattr(tls_debug, "hexdump_lines", boom)
    log.MbedtlsDebug(3).buf(4, "record", b"\x16\x03\x01")
    assert out.getvalue() == ""


def test_mbedtls_ret(out: FakeStream) -> None:
    dbg = log.MbedtlsDebug(1)
    line = sys._getframe().f_lineno + 1
    dbg.ret(1, "mbedtls_ssl_handshake", -0x7780)
    dbg.ret(1, "mbedtls_ssl_read", -0x6900)  # WANT_READ: not logged, as in mbedTLS
    dbg.ret(1, "mbedtls_ssl_write", -0x6880)
    assert mbed_lines(out) == [
        ("W", f"test_log.py:{line} mbedtls_ssl_handshake() returned -30592 (-0x7780)"),
        ("W", f"test_log.py:{line + 2} mbedtls_ssl_write() returned -26752 (-0x6880)"),
    ]


def test_mbedtls_buf(out: FakeStream) -> None:
    dbg = log.MbedtlsDebug(4)
    data = bytes(range(20))
    line = sys._getframe().f_lineno + 1
    dbg.buf(4, "input record from network", data)
    prefix = f"test_log.py:{line} "
    assert mbed_lines(out) == [
        ("V", prefix + "dumping 'input record from network' (20 bytes)"),
        *[("V", prefix + h) for h in hexdump_lines(data)],
    ]


def test_mbedtls_caller_skips_tls_debug_helpers(out: FakeStream) -> None:
    """A helper living in https_request.tls.debug is not named as the caller."""
    ns: dict[str, object] = {"__name__": "https_request.tls.debug"}
    exec(compile("def helper(d):\n    d.msg(2, 'via helper')\n", "debug.py", "exec"), ns)
    helper = ns["helper"]
    dbg = log.MbedtlsDebug(2)
    line = sys._getframe().f_lineno + 1
    helper(dbg)  # type: ignore[operator]
    assert mbed_lines(out) == [("I", f"test_log.py:{line} via helper")]


def test_mbedtls_crt(out: FakeStream) -> None:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"), x509.NameAttribute(NameOID.COMMON_NAME, "www.howsmyssl.com")]
    )
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(0x01A2)
        .not_valid_before(datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC))
        .sign(key, hashes.SHA256())
    )
    dbg = log.MbedtlsDebug(3)
    line = sys._getframe().f_lineno + 1
    dbg.crt(3, "peer certificate", cert.public_bytes(Encoding.DER))
    prefix = f"test_log.py:{line} "
    got = mbed_lines(out)
    assert all(letter == "D" and msg.startswith(prefix) for letter, msg in got)
    msgs = [msg[len(prefix) :] for _, msg in got]
    assert msgs[0] == "peer certificate:"
    assert "serial number     : 01:A2" in msgs
    assert "issuer name       : CN=Test CA" in msgs
    assert "subject name      : C=CN, CN=www.howsmyssl.com" in msgs
    assert "issued  on        : 2025-01-02 03:04:05" in msgs
    assert "expires on        : 2026-01-02 03:04:05" in msgs
    assert "EC key size       : 256 bits (secp256r1)" in msgs
    assert "signed using      : ECDSA with SHA256" in msgs  # mbedTLS's name for ecdsa-with-SHA256

    out.seek(0)
    out.truncate()
    dbg.crt(3, "garbage", b"\x30\x03\x02\x01\x00")
    assert "unparseable certificate (5 bytes)" in lines(out)[1]


@pytest.mark.parametrize(
    ("key_type", "signed_using"),
    [("rsa", "RSA with SHA-256"), ("p384", "ECDSA with SHA384"), ("ed25519", "1.3.101.112")],
)
def test_certificate_summary_names_the_signature_as_mbedtls_does(key_type: KeyType, signed_using: str) -> None:
    """mbedTLS's own description; the dotted OID for an algorithm mbedTLS does not know."""
    ca = make_ca(key_type, name=f"summary {key_type}")
    assert f"signed using      : {signed_using}" in log.certificate_summary(ca.der)


def test_mbedtls_debug_satisfies_protocol() -> None:
    from https_request.tls.debug import TlsDebug

    sink: TlsDebug = log.MbedtlsDebug(1)
    assert sink.threshold == 1


def test_bad_format_does_not_raise(out: FakeStream) -> None:
    log.get_logger("t").i("%d items", "not a number")
    ((letter, tag, msg),) = parsed(out)
    assert (letter, tag) == ("I", "t")
    assert msg.startswith("%d items % ('not a number',)")


def test_handler_filters_see_each_record(out: FakeStream) -> None:
    handler = log.setup(log.DEBUG, stream=out)
    seen: list[log.EspRecord] = []
    handler.add_filter(lambda record: seen.append(record) is None and record.level != log.ERROR)
    lg = log.get_logger("flt")
    lg.e("dropped %d", 1)
    lg.w("kept %d", 2)
    assert parsed(out) == [("W", "flt", "kept 2")]
    assert [(r.level, r.tag, r.message) for r in seen] == [(log.ERROR, "flt", "dropped 1"), (log.WARN, "flt", "kept 2")]


def test_closed_stream_loses_the_line_without_raising() -> None:
    stream = io.StringIO()
    log.setup(log.INFO, stream=stream)
    stream.close()
    try:
        log.get_logger("closed").e("nowhere to go")  # must not raise
    finally:
        log.setup(log.INFO)


def test_no_stderr_at_all_loses_the_line_without_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    log.setup(log.INFO)  # the current sys.stderr, looked up at each line
    monkeypatch.setattr(sys, "stderr", None)
    log.get_logger("nostderr").e("nowhere to go")  # must not raise


def test_a_stream_that_logs_does_not_deadlock() -> None:
    class Echo(io.StringIO):
        def write(self, text: str) -> int:
            if "inner" not in text:
                log.get_logger("echo").w("inner")
            return super().write(text)

    stream = Echo()
    log.setup(log.INFO, stream=stream)
    try:
        log.get_logger("echo").w("outer")
    finally:
        log.setup(log.INFO)
    assert [m for _, _, m in parsed(stream)] == ["inner", "outer"]


def test_milliseconds_count_from_the_process_start() -> None:
    """As the device's count from boot: a process that waits 0.5 s before logging shows >= 500 ms
    (not the time since the log module was imported)."""
    import subprocess
    import sys

    code = "import time; time.sleep(0.5); from https_request import log; print(log.millis())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert 480 <= int(done.stdout) < 5000
