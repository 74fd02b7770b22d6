"""Real clients against ``https-request serve``: curl, ``openssl s_client`` (TLS 1.2 and 1.3),
Python's ssl module and ``gnutls-cli``. Each fetches ``https://www.howsmyssl.com:PORT/a/check``
and must get 200 and JSON whose ``given_cipher_suites`` is exactly, in order, what that client
really offered.

What a client offers is learnt from the client itself, never from a hard-coded list: it is run
once, with the same options, against a one-shot TCP listener (:class:`HelloCatcher`: accept,
read the first ClientHello, close), and its ClientHello is decoded with our own parser. Python's
ssl module writes its ClientHello into a MemoryBIO instead; ``openssl s_client -trace`` also
prints the ClientHello of the very connection that gets the answer, which is compared as well.

Each client also resumes where it can: curl within one run (two URLs), s_client with
``-sess_out``/``-sess_in``, Python with ``session=``, gnutls-cli with ``--resume``; the resumed
connection gets 200 and the same list.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from https_request.tls.catalogue import NSS_FIPS_NAMES, in_classic_table, suite_name
from https_request.tls.messages import ClientHello
from procs import needs, tool
from serveproc import Serve
from test_serve import read_to_close

HOST = "www.howsmyssl.com"
WAIT = 20.0
REQUEST = f"GET /a/check HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()

pytestmark = [pytest.mark.timeout(60), pytest.mark.interop]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """The default server (classic /a/check schema), with a fresh CA."""
    server = Serve([], tmp_path_factory.mktemp("state"))
    try:
        yield server
    finally:
        rc = server.stop()
    assert rc == 0, "\n".join(server.err[-20:])


# ------------------------------------------------------------------ what a client offers


class HelloCatcher:
    """A one-shot TCP listener on 127.0.0.1: accepts one connection, reads the records up to the
    end of the first ClientHello handshake message, then closes the connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(WAIT)
        self.port: int = self.sock.getsockname()[1]
        self.message = b""
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @staticmethod
    def _exactly(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError(f"connection closed after {len(data)} of {n} bytes")
            data += chunk
        return data

    def _run(self) -> None:
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(WAIT)
                handshake = b""
                while len(handshake) < 4 or len(handshake) < 4 + int.from_bytes(handshake[1:4], "big"):
                    header = self._exactly(conn, 5)
                    assert header[0] == 22, f"not a handshake record: {header.hex()}"
                    handshake += self._exactly(conn, int.from_bytes(header[3:5], "big"))
                self.message = handshake[: 4 + int.from_bytes(handshake[1:4], "big")]
        except BaseException as exc:  # reported by hello()
            self.error = exc
        finally:
            self.sock.close()

    def hello(self) -> ClientHello:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "no ClientHello in time"
        if self.error is not None:
            raise AssertionError(f"capturing the ClientHello failed: {self.error!r}")
        assert self.message[0] == 1, "not a ClientHello"
        return ClientHello.decode(self.message[4:])


def caught(command: Sequence[str], stdin: bytes = b"") -> ClientHello:
    """Run ``command``, with the port of a new :class:`HelloCatcher` in place of ``{port}``,
    against that catcher; the ClientHello it sent."""
    catcher = HelloCatcher()
    args = [a.replace("{port}", str(catcher.port)) for a in command]
    assert any(str(catcher.port) in a for a in args), args
    subprocess.run(args, input=stdin, capture_output=True, timeout=WAIT)  # fails: the catcher hangs up
    return catcher.hello()


def hello_from_records(flight: bytes) -> ClientHello:
    """The ClientHello in a client's first flight (TLS records)."""
    handshake, at = b"", 0
    while at < len(flight):
        assert flight[at] == 22, flight[at : at + 5].hex()
        length = int.from_bytes(flight[at + 3 : at + 5], "big")
        handshake += flight[at + 5 : at + 5 + length]
        at += 5 + length
    assert handshake[0] == 1 and int.from_bytes(handshake[1:4], "big") == len(handshake) - 4
    return ClientHello.decode(handshake[4:])


def howsmyssl_names(suites: Sequence[int]) -> list[str]:
    """``given_cipher_suites`` for these offered ids, as the classic schema names them."""
    return [
        suite_name(s) if in_classic_table(s) or s in NSS_FIPS_NAMES else f"Some unknown cipher suite: 0x{s:04x}"
        for s in suites
    ]


def check_json(raw: bytes) -> tuple[int, dict[str, Any]]:
    """(status, /a/check object) from a client's output holding one HTTP response."""
    text = raw.decode("latin-1")
    status = re.search(r"HTTP/1\.1 (\d{3}) ", text)
    start = text.find('{"given_cipher_suites"')
    assert status is not None and start >= 0, text[-3000:]
    obj, _ = json.JSONDecoder().raw_decode(text, start)
    return int(status.group(1)), obj


def new_lines(srv: Serve, mark: int, count: int) -> list[str]:
    """The ``count`` connection log lines the server wrote after ``mark``."""
    deadline = time.monotonic() + WAIT
    while len(srv.err) - mark < count:
        assert time.monotonic() < deadline, "\n".join(srv.err[mark:])
        time.sleep(0.02)
    time.sleep(0.1)
    lines = srv.err[mark:]
    assert len(lines) == count, "\n".join(lines)
    return lines


def test_catcher_and_names_agree_with_our_own_client_hello(srv: Serve) -> None:
    """The method itself, on our own client (esp32-mbedtls profile): the ClientHello caught on the
    wire is the profile's, and the server's given_cipher_suites for it are howsmyssl_names()."""
    from https_request.io.blocking import connect
    from https_request.tls.profiles import PROFILES, client_config
    from https_request.tls.verify import make_verifier

    ca = x509.load_pem_x509_certificate(Path(srv.ca).read_bytes())
    config = client_config("esp32-mbedtls", verifier=make_verifier([ca]))
    catcher = HelloCatcher()
    with pytest.raises(Exception):  # noqa: B017 - the catcher hangs up: any failure will do
        with connect("127.0.0.1", catcher.port, config, HOST, timeout=WAIT):
            pass
    offered = catcher.hello().cipher_suites
    assert offered == PROFILES["esp32-mbedtls"].cipher_suites and offered[-1] == 0x00FF
    mark = srv.log_mark()
    with connect("127.0.0.1", srv.port, config, HOST, timeout=WAIT) as tls:
        tls.send(REQUEST)
        raw = b""
        while chunk := tls.recv():
            raw += chunk
    status, result = check_json(raw)
    assert status == 200 and result["given_cipher_suites"] == howsmyssl_names(offered)
    new_lines(srv, mark, 1)
    assert howsmyssl_names([0x1301, 0xC02F, 0x00FF, 0xFEFF, 0x1306]) == [
        "TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        NSS_FIPS_NAMES[0xFEFF], "Some unknown cipher suite: 0x1306",  # 0x1306: assigned after 2019
    ]  # fmt: skip


# ------------------------------------------------------------------ curl


@needs("curl")
@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--tls-max", "1.2"],
        ["--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305"],
        ["--tlsv1.3", "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"],
    ],
    ids=["default", "tls12", "tls12-ciphers", "tls13-ciphers"],
)
def test_curl(srv: Serve, tmp_path: Path, options: list[str]) -> None:
    curl = tool("curl")

    def command(port: str) -> list[str]:
        return [curl, "-sS", "--max-time", "15", "--cacert", srv.ca, "--resolve", f"{HOST}:{port}:127.0.0.1", *options]

    offered = caught([*command("{port}"), f"https://{HOST}:{{port}}/a/check"]).cipher_suites
    if "--ciphers" in options:  # the list asked for, then OpenSSL's SCSV: the capture is not vacuous
        assert offered == (0xC02F, 0xCCA8, 0x00FF)
    if "--tls13-ciphers" in options:
        assert offered[:2] == (0x1303, 0x1301)
    url = f"https://{HOST}:{srv.port}/a/check"
    outs = [tmp_path / "first", tmp_path / "second"]
    mark = srv.log_mark()
    run = subprocess.run(
        [*command(str(srv.port)), "-w", "%{http_code} ", url, "-o", str(outs[0]), url, "-o", str(outs[1])],
        capture_output=True, timeout=WAIT,
    )  # fmt: skip
    assert run.returncode == 0 and run.stdout == b"200 200 ", run.stdout + run.stderr
    for out in outs:
        assert json.loads(out.read_bytes())["given_cipher_suites"] == howsmyssl_names(offered)
    first, second = new_lines(srv, mark, 2)  # one curl run: the second transfer resumes the session
    assert "resumed=no" in first and "resumed=yes" in second and "status=200" in second


# ------------------------------------------------------------------ openssl s_client


def _traced_suites(text: str) -> tuple[int, ...]:
    """The cipher suites of the first ClientHello that ``s_client -trace`` printed."""
    m = re.search(r"ClientHello, Length=\d+\n.*?cipher_suites \(len=(\d+)\)\n(.*?)\n\s*compression_methods", text, re.S)
    assert m is not None, text[:3000]
    ids = tuple(int(a + b, 16) for a, b in re.findall(r"\{0x([0-9A-F]{2}), 0x([0-9A-F]{2})\}", m.group(2)))
    assert len(ids) * 2 == int(m.group(1))
    return ids


@needs("openssl")
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_openssl_s_client(srv: Serve, tmp_path: Path, version: str) -> None:
    openssl = tool("openssl")
    flag = f"-tls{version.replace('.', '_')}"

    def command(port: str) -> list[str]:
        return [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", HOST, "-CAfile", srv.ca,
                "-verify_return_error", flag, "-ign_eof"]  # fmt: skip

    offered = caught(command("{port}"), REQUEST).cipher_suites
    assert offered[-1] == 0x00FF  # OpenSSL sends the renegotiation SCSV even with -tls1_3
    if version == "1.3":
        assert offered[:-1] and all(s >> 8 == 0x13 for s in offered[:-1])
    else:
        assert not any(s >> 8 == 0x13 for s in offered)
    sess = str(tmp_path / "sess.pem")
    for extra, verdict in ((["-sess_out", sess], "New"), (["-sess_in", sess], "Reused")):
        mark = srv.log_mark()
        run = subprocess.run([*command(str(srv.port)), "-trace", *extra], input=REQUEST, capture_output=True,
                             timeout=WAIT)  # fmt: skip
        text = run.stdout.decode("latin-1")
        assert run.returncode == 0, text[-2000:] + run.stderr.decode(errors="replace")
        assert re.search(rf"\n{verdict}, TLSv{version}, Cipher is ", text), text[-3000:]
        assert _traced_suites(text) == offered  # this very connection offered what was caught
        status, result = check_json(run.stdout)
        assert status == 200 and result["given_cipher_suites"] == howsmyssl_names(offered)
        assert result["tls_version"] == f"TLS {version}"
        (line,) = new_lines(srv, mark, 1)
        assert f"resumed={'yes' if verdict == 'Reused' else 'no'}" in line and "status=200" in line


# ------------------------------------------------------------------ Python's ssl module


@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2], ids=["tls13", "tls12"])
def test_python_ssl(srv: Serve, maximum: ssl.TLSVersion) -> None:
    ctx = ssl.create_default_context(cafile=srv.ca)
    ctx.maximum_version = maximum
    # the ClientHello, in memory: the handshake stops waiting for the ServerHello
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=HOST)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    offered = hello_from_records(outgoing.read()).cipher_suites
    assert (0x1301 in offered) == (maximum == ssl.TLSVersion.TLSv1_3)

    session: ssl.SSLSession | None = None
    for resumed in (False, True):
        mark = srv.log_mark()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as raw:
            with ctx.wrap_socket(raw, server_hostname=HOST, session=session) as tls:
                assert tls.session_reused is resumed
                tls.sendall(REQUEST)
                out = read_to_close(tls)
                session = tls.session  # read to the end first: a TLS 1.3 ticket comes after the handshake
        status, result = check_json(out)
        assert status == 200 and result["given_cipher_suites"] == howsmyssl_names(offered), resumed
        assert result["tls_version"] == ("TLS 1.3" if maximum == ssl.TLSVersion.TLSv1_3 else "TLS 1.2")
        (line,) = new_lines(srv, mark, 1)
        assert f"resumed={'yes' if resumed else 'no'}" in line and "status=200" in line


# ------------------------------------------------------------------ gnutls-cli


@needs("gnutls-cli")
@pytest.mark.parametrize("priority", [None, "NORMAL:-VERS-TLS1.3"], ids=["default", "tls12"])
def test_gnutls_cli(srv: Serve, priority: str | None) -> None:
    gnutls_cli = tool("gnutls-cli")

    def command(port: str, *extra: str) -> list[str]:
        prio = ["--priority", priority] if priority else []
        return [gnutls_cli, "--x509cafile", srv.ca, "-p", port, "--sni-hostname", HOST, "--verify-hostname", HOST,
                *prio, *extra, "127.0.0.1"]  # fmt: skip

    offered = caught(command("{port}"), REQUEST).cipher_suites
    assert (0x1301 in offered) == (priority is None)
    for extra in ((), ("--resume",)):
        mark = srv.log_mark()
        run = subprocess.run(command(str(srv.port), *extra), input=REQUEST, capture_output=True, timeout=WAIT)
        text = run.stdout.decode("latin-1")
        assert run.returncode == 0, text[-2000:] + run.stderr.decode(errors="replace")
        status, result = check_json(run.stdout)
        assert status == 200 and result["given_cipher_suites"] == howsmyssl_names(offered), extra
        assert result["tls_version"] == ("TLS 1.3" if priority is None else "TLS 1.2")
        if extra:  # a handshake only, then a resumed connection that sends the request
            assert "*** This is a resumed session" in text
            first, second = new_lines(srv, mark, 2)
            assert "resumed=no" in first and "resumed=yes" in second and "status=200" in second
        else:
            (line,) = new_lines(srv, mark, 1)
            assert "resumed=no" in line and "status=200" in line
