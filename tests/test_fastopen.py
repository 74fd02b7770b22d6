"""TCP Fast Open end to end, on the real kernel, in a network namespace per test.

Each test makes its own namespace (tests/netns.py) with ``net.ipv4.tcp_fastopen``
set there (3: client and server; the host's setting is untouched), runs
``serve`` and ``get`` inside it on 127.0.0.1, and reads the namespace's own
``TcpExt`` counters (``/proc/net/netstat``): ``TCPFastOpenCookieReqd`` (the
server got a SYN asking for a cookie), ``TCPFastOpenActive`` / ``TCPFastOpenPassive`` (the data
in a SYN was taken, client / server side), ``TCPFastOpenActiveFail`` (it was
not, and was sent again). ``get --json`` says the same per connection
(``tcp_fastopen``, read from ``TCP_INFO``).

The proof that the first flight rides in the SYN does not rest on counters
alone: a socket filter on the client drops everything the server sends, so no
SYN-ACK is ever acknowledged, and the server still accepts the connection and
reads the whole ClientHello and the 0-RTT record, the connection still in
SYN_RECV.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import clirun
import netns
from certs import make_ca, make_leaf, write_pki
from procs import needs
from serveproc import REPO, Serve

TFO = ("TCPFastOpenActive", "TCPFastOpenActiveFail", "TCPFastOpenPassive", "TCPFastOpenCookieReqd")


@pytest.fixture
def ns() -> Iterator[netns.NetNs]:
    netns.require()
    with netns.NetNs() as made:
        made.sysctl("net.ipv4.tcp_fastopen", 3)
        yield made


def _serve(ns: netns.NetNs, state: Path, *args: str) -> Serve:
    return Serve(["--key-type", "ecdsa", "--early-data", *args], state, prefix=ns.run_prefix)


def _get(ns: netns.NetNs, *args: str) -> clirun.Run:
    """``https-request get ARGS --json -`` inside the namespace."""
    done = ns.run(clirun.cmd(*args, "--json", "-"), env=clirun.env(), check=False)
    return clirun.Run(done.returncode, done.stdout.encode(), done.stderr)


def _moved(ns: netns.NetNs, before: dict[str, int]) -> dict[str, int]:
    """How much each TFO counter moved since ``before``."""
    now = ns.tcp_ext()
    return {name: now[name] - before[name] for name in TFO}


def _ok(run: clirun.Run) -> dict[str, object]:
    assert run.code == 0, run.err
    assert run.json["status"] == 200, run.err
    return run.json


def test_the_second_request_rides_in_the_syn(ns: netns.NetNs, tmp_path: Path) -> None:
    srv = _serve(ns, tmp_path / "state")
    try:
        url = f"https://127.0.0.1:{srv.port}/"
        tfo = ("--cacert", srv.ca, "--session", str(tmp_path / "session"), "--early-data", "--tcp-fastopen", url)
        before = ns.tcp_ext()
        first = _ok(_get(ns, *tfo))
        assert first["tcp_fastopen"] == "no cookie"
        assert _moved(ns, before) == dict.fromkeys(TFO, 0) | {"TCPFastOpenCookieReqd": 1}

        before = ns.tcp_ext()
        second = _ok(_get(ns, *tfo))
        assert second["tcp_fastopen"] == "data in SYN"
        assert second["resumed"] is True
        assert second["early_data"] == {"offered": True, "accepted": True}
        assert _moved(ns, before) == dict.fromkeys(TFO, 0) | {"TCPFastOpenActive": 1, "TCPFastOpenPassive": 1}

        before = ns.tcp_ext()  # without the flag: no TFO, whatever the kernel holds
        plain = _ok(_get(ns, "--cacert", srv.ca, url))
        assert plain["tcp_fastopen"] is None
        assert _moved(ns, before) == dict.fromkeys(TFO, 0)
    finally:
        assert srv.stop() == 0, "\n".join(srv.err)


# Run inside the namespace: the project's connect (dns.happy with fastopen) and first flight
# (the python engine's start with 0-RTT data, a session saved by `get`) against a bare listening socket
# with TCP_FASTOPEN, the client's socket filtered so that it never sees the server's SYN-ACK.
_PROBE = r"""
import ctypes, json, socket, struct, sys
from https_request import fastopen
from https_request.dns import happy
from https_request.esp_tls.config import EspTlsCfg
from https_request.esp_tls.engine import EngineSpec, PythonEngine
from https_request.session_file import SessionFile

serve_port, path = int(sys.argv[1]), sys.argv[2]
session = SessionFile(path, "127.0.0.1", serve_port, print).load((0x0304,), "127.0.0.1")
assert session is not None and session.max_early_data > 0
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
assert fastopen.enable_listen(listener, 8)
listener.listen(8)
listener.settimeout(5)
port = listener.getsockname()[1]
insn = (ctypes.c_ubyte * 8).from_buffer_copy(struct.pack("HBBI", 0x06, 0, 0, 0))  # BPF_RET|BPF_K 0: drop
drop_all = struct.pack("HL", 1, ctypes.addressof(insn))  # struct sock_fprog
out = {}
for name, tfo in (("plain", False), ("fastopen", True)):
    sock, _ = happy.connect("127.0.0.1", port, lambda n, f: (), timeout=5, fastopen=tfo)
    try:
        sock.getpeername()
        deferred = False
    except OSError:
        deferred = True  # connect() returned without sending the SYN
    sock.setsockopt(socket.SOL_SOCKET, 26, drop_all)  # SO_ATTACH_FILTER: nothing from the server gets in
    cfg = EspTlsCfg(client_session=session, early_data=True, insecure=True)
    spec = EngineSpec(cfg=cfg, host="127.0.0.1", server_name="127.0.0.1", verifier=None, certificate=None,
                      versions=None, timeout=5)
    PythonEngine(sock, spec).start(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 5)  # what get's esp-tls does
    server, _ = listener.accept()
    state = server.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    server.settimeout(5)
    data = server.recv(65536)
    records, at = [], 0
    while at + 5 <= len(data):
        length = int.from_bytes(data[at + 3 : at + 5], "big")
        records.append({"type": data[at], "complete": at + 5 + length <= len(data), "first": data[at + 5]})
        at += 5 + length
    out[name] = {"deferred": deferred, "state": state, "records": records}
    server.close()
    sock.close()
print(json.dumps(out))
"""

_ESTABLISHED, _SYN_RECV = 1, 3  # linux/tcp_states.h


def test_the_server_reads_the_first_flight_before_its_syn_ack_is_answered(ns: netns.NetNs, tmp_path: Path) -> None:
    srv = _serve(ns, tmp_path / "state")
    try:
        url = f"https://127.0.0.1:{srv.port}/"
        session = tmp_path / "session"
        _ok(_get(ns, "--cacert", srv.ca, "--session", str(session), "--tcp-fastopen", url))  # cookie and session
        done = ns.run([sys.executable, "-c", _PROBE, str(srv.port), str(session)], check=False)
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout)
    finally:
        assert srv.stop() == 0, "\n".join(srv.err)
    plain, tfo = seen["plain"], seen["fastopen"]
    # without TFO the ClientHello can only leave once the handshake is over
    assert plain["deferred"] is False and plain["state"] == _ESTABLISHED
    # with the cookie, connect() sends nothing; the SYN carries the first write, and the server
    # accepts and reads it while its SYN-ACK was never acknowledged (the client saw none)
    assert tfo["deferred"] is True
    assert tfo["state"] == _SYN_RECV
    handshake, ccs, early = tfo["records"]
    assert handshake == {"type": 22, "complete": True, "first": 1}  # a whole ClientHello
    assert ccs["type"] == 20  # middlebox compatibility (RFC 8446 D.4)
    assert early["type"] == 23 and early["complete"]  # the request, as 0-RTT data


def test_a_server_without_tfo_gets_no_data_in_syns(ns: netns.NetNs, tmp_path: Path) -> None:
    """serve --tcp-fastopen-queue 0: no cookie is handed out; a client holding a
    cookie for the address (from a server with TFO) sends its data in the SYN,
    which is not taken: the client sends it again, silently."""
    on = _serve(ns, tmp_path / "on")
    off = _serve(ns, tmp_path / "off", "--tcp-fastopen-queue", "0")
    try:
        to_off = ("--cacert", off.ca, "--tcp-fastopen", f"https://127.0.0.1:{off.port}/")
        before = ns.tcp_ext()
        assert [_ok(_get(ns, *to_off))["tcp_fastopen"] for _ in range(2)] == ["no cookie", "no cookie"]
        assert _moved(ns, before) == dict.fromkeys(TFO, 0) | {"TCPFastOpenCookieReqd": 2}

        to_on = ("--cacert", on.ca, "--tcp-fastopen", f"https://127.0.0.1:{on.port}/")
        assert [_ok(_get(ns, *to_on))["tcp_fastopen"] for _ in range(2)] == ["no cookie", "data in SYN"]

        before = ns.tcp_ext()  # the cookie is the address's: offered to the server without TFO too
        assert _ok(_get(ns, *to_off))["tcp_fastopen"] == "data not taken"
        assert _moved(ns, before) == dict.fromkeys(TFO, 0) | {"TCPFastOpenActiveFail": 1}
    finally:
        assert on.stop() == 0, "\n".join(on.err)
        assert off.stop() == 0, "\n".join(off.err)


def test_a_kernel_without_client_tfo_falls_back_silently(ns: netns.NetNs, tmp_path: Path) -> None:
    ns.sysctl("net.ipv4.tcp_fastopen", 2)  # server only: TCP_FASTOPEN_CONNECT is refused
    srv = _serve(ns, tmp_path / "state")
    try:
        before = ns.tcp_ext()
        run = _get(ns, "--cacert", srv.ca, "--tcp-fastopen", "-v", f"https://127.0.0.1:{srv.port}/")
        assert _ok(run)["tcp_fastopen"] == "unavailable"
        assert "TCP Fast Open: unavailable" in run.err
        assert not [line for line in run.err.splitlines() if line.startswith("https-request: warning")]
        assert _moved(ns, before) == dict.fromkeys(TFO, 0)
    finally:
        assert srv.stop() == 0, "\n".join(srv.err)


def test_a_refusal_after_a_deferred_connect_is_a_connect_error(ns: netns.NetNs, tmp_path: Path) -> None:
    """With a cookie for 127.0.0.1, connect() to a port nobody listens on returns at
    once; the refusal comes with the ClientHello's SYN and is still exit 4 (connect)."""
    srv = _serve(ns, tmp_path / "state")
    try:
        url = f"https://127.0.0.1:{srv.port}/"
        for _ in range(2):
            _ok(_get(ns, "--cacert", srv.ca, "--tcp-fastopen", url))
        run = _get(ns, "--cacert", srv.ca, "--tcp-fastopen", "https://127.0.0.1:1/")
    finally:
        assert srv.stop() == 0, "\n".join(srv.err)
    assert run.code == 4, run.err
    assert "Connection refused" in run.err
    assert "ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST" in run.err


_STDLIB_SERVER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from stdlibhttps import serve_https
with serve_https(sys.argv[2], sys.argv[3], tcp_fastopen=8) as port:
    print(port, flush=True)
    sys.stdin.read()
"""


def test_an_openssl_server_with_tcp_fastopen_takes_the_syn_data(ns: netns.NetNs, tmp_path: Path) -> None:
    """Not our server: stdlib ssl (OpenSSL) behind a listening socket with TCP_FASTOPEN."""
    ca = make_ca(name="tfo Test Root CA")
    leaf = make_leaf(ca, ["127.0.0.1"])
    write_pki(tmp_path, ca, leaf)
    args = [sys.executable, "-c", _STDLIB_SERVER, str(REPO / "tests"), str(tmp_path / "leaf.pem")]
    proc = ns.popen([*args, str(tmp_path / "leaf.key")], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        to_it = ("--cacert", str(tmp_path / "ca.pem"), "--tcp-fastopen", f"https://127.0.0.1:{port}/")
        assert _ok(_get(ns, *to_it))["tcp_fastopen"] == "no cookie"
        before = ns.tcp_ext()
        assert _ok(_get(ns, *to_it))["tcp_fastopen"] == "data in SYN"
        assert _moved(ns, before) == dict.fromkeys(TFO, 0) | {"TCPFastOpenActive": 1, "TCPFastOpenPassive": 1}
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


@needs("curl")
def test_curl_with_tcp_fastopen_rides_in_serves_syn(ns: netns.NetNs, tmp_path: Path) -> None:
    """Not our client: curl --tcp-fastopen against serve's listening socket."""
    srv = _serve(ns, tmp_path / "state")
    try:
        curl = ["curl", "-sS", "--tcp-fastopen", "--cacert", srv.ca, f"https://127.0.0.1:{srv.port}/"]
        ns.run(curl)  # the cookie
        before = ns.tcp_ext()
        ns.run(curl)
        assert _moved(ns, before) == dict.fromkeys(TFO, 0) | {"TCPFastOpenActive": 1, "TCPFastOpenPassive": 1}
    finally:
        assert srv.stop() == 0, "\n".join(srv.err)


def test_the_asyncio_client_rides_in_the_syn_too(ns: netns.NetNs, tmp_path: Path) -> None:
    srv = _serve(ns, tmp_path / "state")
    code = r"""
import asyncio, json, sys
from https_request.esp_tls.config import EspTlsCfg
from https_request.esp_tls.conn import AsyncEspTls

async def main():
    cfg = EspTlsCfg(cacert=open(sys.argv[1], "rb").read(), tcp_fastopen=True)
    seen = []
    for _ in range(2):
        tls = await AsyncEspTls.conn_http_new_sync(sys.argv[2], cfg)
        seen.append([tls.info.tcp_fastopen, tls.info.address])
        await tls.close()
    print(json.dumps(seen))

asyncio.run(main())
"""
    try:
        seen = ns.python(code, srv.ca, f"https://127.0.0.1:{srv.port}/")
    finally:
        assert srv.stop() == 0, "\n".join(srv.err)
    assert seen == [["no cookie", "127.0.0.1"], ["data in SYN", "127.0.0.1"]]


def test_serve_refuses_a_bad_queue_length(tmp_path: Path) -> None:
    run = clirun.run("serve", "--port", "0", "--tcp-fastopen-queue", "-1")
    assert run.code == 2
    assert "--tcp-fastopen-queue" in run.err and "must be 0.." in run.err


def test_enable_listen_bounds() -> None:
    import socket

    from https_request import fastopen

    with socket.socket() as sock:
        with pytest.raises(ValueError, match="must not be negative"):
            fastopen.enable_listen(sock, -1)
        assert fastopen.enable_listen(sock, 0) is False
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN) == 0
        assert fastopen.enable_listen(sock, 5) is True
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN) == 5
