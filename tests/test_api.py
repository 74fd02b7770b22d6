"""The high-level API (``https_request.get``, ``Client``, ``AsyncClient``) against real servers:

* :mod:`apiserver`: stdlib ``http.server`` over stdlib ``ssl`` (OpenSSL), keep-alive,
  counting the TLS connections it accepts (one handshake each);
* ``https-request serve --early-data`` (our server, in its own process): sessions saved
  by one process and resumed with 0-RTT by another;
* ``openssl s_server -www``;
* a listening socket that never answers (connect timeout) and a closed port.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import https_request
from apiserver import BIG, ApiServer, serve_api
from certs import make_ca, make_leaf, write_pki
from https_request.esp_tls.bundle import build_bundle
from procs import Proc, needs, tool
from serveproc import REPO, Serve, running

pytestmark = pytest.mark.timeout(60)

WAIT = 10.0
CA = make_ca(name="api Test Root CA")
LEAF = make_leaf(CA, ("localhost", "127.0.0.1"))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pki(tmp_path_factory.mktemp("pki"), CA, LEAF)


@pytest.fixture
def server(pki: Path) -> Iterator[ApiServer]:
    with serve_api(pki / "leaf.pem", pki / "leaf.key") as srv:
        yield srv


def base(srv: ApiServer) -> str:
    return f"https://127.0.0.1:{srv.port}"


def client(pki: Path, **kw: object) -> https_request.Client:
    return https_request.Client(verify=str(pki / "ca.pem"), **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the package's surface


def test_package_exports_the_api() -> None:
    assert {"get", "post", "Client", "AsyncClient", "Timeout", "SessionStore", "HTTPError"} <= set(
        https_request.__all__
    )
    for name in https_request.__all__:
        assert getattr(https_request, name) is not None
    # the package's list is api's, but for its type aliases (kept in https_request.api)
    assert set(https_request.__all__) - {"__version__"} == set(https_request.api.__all__) - {
        "SessionsTypes",
        "VerifyTypes",
    }
    params = inspect.signature(https_request.get).parameters
    assert {"url", "params", "headers", "verify", "profile", "timeout", "follow_redirects", "sessions"} <= set(params)
    assert "verify" in inspect.signature(https_request.Client).parameters
    assert "follow_redirects" in inspect.signature(https_request.AsyncClient.get).parameters


def test_import_stays_light() -> None:
    code = "import sys, https_request; print('cryptography' in sys.modules, 'https_request.api' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT, check=True)
    assert out.stdout.split() == ["False", "False"]


# --------------------------------------------------------------------------- sync client


def test_get_function(server: ApiServer, pki: Path) -> None:
    r = https_request.get(base(server) + "/echo", params={"q": "1 2"}, verify=str(pki / "ca.pem"))
    assert r.status_code == 200 and r.reason_phrase == "OK" and r.http_version == "HTTP/1.1"
    echo = r.json()
    assert echo["method"] == "GET" and echo["path"] == "/echo?q=1+2"
    assert ["User-Agent", f"https-request/{https_request.__version__}"] in echo["headers"]
    assert r.headers["content-type"] == "application/json" and r.headers["Content-Type"] == "application/json"
    assert r.tls is not None and r.tls.version in ("TLS 1.3", "TLS 1.2") and not r.tls.resumed


def test_pool_reuses_one_connection(server: ApiServer, pki: Path) -> None:
    """N requests, one TLS handshake: counted by the server (connections it accepted)."""
    with client(pki) as c:
        for i in range(10):
            r = c.post(base(server) + "/echo", content=f"body {i}".encode())
            assert r.json()["body"] == f"body {i}"
        assert c.pool.handshakes == 1
    assert server.handshakes == 1 and server.requests == 10


def test_methods_bodies_chunked_head(server: ApiServer, pki: Path) -> None:
    with client(pki) as c:
        for method in ("PUT", "PATCH", "DELETE", "OPTIONS"):
            assert c.request(method, base(server) + "/echo").json()["method"] == method
        assert c.post(base(server) + "/echo", json={"a": [1, 2]}).json()["body"] == '{"a":[1,2]}'
        form = c.post(base(server) + "/echo", data={"k": "v w"}).json()
        assert form["body"] == "k=v+w" and ["Content-Type", "application/x-www-form-urlencoded"] in form["headers"]
        sent = c.post(base(server) + "/echo", content=iter([b"a" * 10, b"", b"b" * 20])).json()
        assert sent["body"] == "a" * 10 + "b" * 20 and sent["chunks"] == [10, 20]  # streamed, chunk by chunk
        assert ["Transfer-Encoding", "chunked"] in sent["headers"]
        assert c.get(base(server) + "/chunked").content == b"one,two,three"
        head = c.head(base(server) + "/echo")
        assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
        assert c.get(base(server) + "/big").content == BIG
        r = c.get(base(server) + "/status/404")
        assert r.status_code == 404 and r.text == "status 404\n"
        with pytest.raises(https_request.HTTPStatusError) as info:
            r.raise_for_status()
        assert info.value.response is r
        with pytest.raises(TypeError):
            c.post(base(server) + "/echo", content=b"x", json={})
        with pytest.raises(TypeError, match="AsyncClient"):
            c.post(base(server) + "/echo", content=_agen())
    assert server.handshakes == 1


async def _agen() -> AsyncIterator[bytes]:
    yield b"x"


def test_streaming(server: ApiServer, pki: Path) -> None:
    with client(pki) as c:
        with c.stream("GET", base(server) + "/big") as r:
            with pytest.raises(https_request.ResponseNotRead):
                r.content  # noqa: B018
            chunks = list(r.iter_bytes())
        assert len(chunks) > 1 and b"".join(chunks) == BIG
        with c.stream("GET", base(server) + "/big") as r:  # left unread: the connection is closed
            next(r.iter_bytes())
        assert c.get(base(server) + "/echo").status_code == 200
    assert server.handshakes == 2  # the first connection was reused once; the half-read one closed


def test_redirects(server: ApiServer, pki: Path) -> None:
    with client(pki) as c:
        r = c.get(base(server) + "/redirect/3")
        assert r.status_code == 302 and r.headers["location"] == "/redirect/2" and r.is_redirect
        r = c.get(base(server) + "/redirect/3", follow_redirects=True)
        assert r.status_code == 200 and r.text == "done" and r.url.endswith("/redirect/0")
        assert [h.status_code for h in r.history] == [302, 302, 302]
        with client(pki, max_redirects=2) as short, pytest.raises(https_request.TooManyRedirects):
            short.get(base(server) + "/redirect/3", follow_redirects=True)
        r = c.post(base(server) + "/see-other", content=b"data", follow_redirects=True)
        assert r.json()["method"] == "GET" and r.json()["body"] == ""
        r = c.post(base(server) + "/temporary", content=b"data", follow_redirects=True)
        assert r.json()["method"] == "POST" and r.json()["body"] == "data" and r.json()["path"] == "/echo?kept"
        r = c.post(base(server) + "/see-other", content=iter([b"streamed"]), follow_redirects=True)
        assert r.json()["method"] == "GET" and r.json()["chunks"] == [] and r.history[0].status_code == 303
        with pytest.raises(https_request.RequestError, match="streamed"):  # sent once: not again for a 307
            c.post(base(server) + "/temporary", content=iter([b"streamed"]), follow_redirects=True)
    assert server.handshakes == 2  # one per client


def test_connection_close_and_close_delimited(server: ApiServer, pki: Path) -> None:
    with client(pki) as c:
        assert c.get(base(server) + "/close").text == "closing"
        assert c.get(base(server) + "/until-close").text == "read until the end"
        assert c.get(base(server) + "/echo").status_code == 200
    assert server.handshakes == 3


def test_stale_keepalive_connection(server: ApiServer, pki: Path) -> None:
    """The server closes an idle connection: the next request goes on a new one, without error."""
    with client(pki) as c:
        assert c.get(base(server) + "/echo").status_code == 200
        server.close_idle(1.0)
        assert c.get(base(server) + "/echo").status_code == 200
        assert c.pool.handshakes == 2


def test_read_timeout_on_stalled_server(server: ApiServer, pki: Path) -> None:
    with client(pki, timeout=https_request.Timeout(5.0, read=0.3)) as c:
        t0 = time.monotonic()
        with pytest.raises(https_request.ReadTimeout) as info:
            c.get(base(server) + "/stall")
        assert 0.25 < time.monotonic() - t0 < 3.0
        assert "/stall" in str(info.value)
        assert c.get(base(server) + "/echo").status_code == 200  # the client is still usable


def test_connect_timeout_and_refused(pki: Path) -> None:
    with socket.socket() as silent:  # accepts TCP (backlog), never speaks TLS
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(https_request.ConnectTimeout):
            https_request.get(f"https://127.0.0.1:{port}/", verify=str(pki / "ca.pem"), timeout=0.3)
        assert time.monotonic() - t0 < 3.0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(https_request.ConnectError) as info:
        https_request.get(f"https://127.0.0.1:{closed}/", verify=str(pki / "ca.pem"))
    assert info.value.last_error is not None and info.value.last_error.last_error == 0x8004


def test_pool_timeout(server: ApiServer, pki: Path) -> None:
    limits = https_request.Limits(max_connections_per_origin=1)
    with client(pki, limits=limits, timeout=https_request.Timeout(5.0, pool=0.2)) as c:
        with c.stream("GET", base(server) + "/big"):
            with pytest.raises(https_request.PoolTimeout):
                c.get(base(server) + "/echo")
        assert c.get(base(server) + "/echo").status_code == 200


def test_verify_options(server: ApiServer, pki: Path) -> None:
    url = base(server) + "/echo"
    with pytest.raises(https_request.ConnectError) as info:  # certifi's CAs do not know the test CA
        https_request.get(url)
    assert info.value.last_error is not None and info.value.last_error.esp_tls_flags
    with pytest.warns(https_request.InsecureRequestWarning):
        assert https_request.get(url, verify=False).status_code == 200
    bundle = https_request.EspBundle(build_bundle([CA.cert]))
    assert https_request.get(url, verify=bundle).status_code == 200
    with pytest.raises(ValueError, match="cannot read the CA file"):
        https_request.get(url, verify=str(pki / "missing.pem"))
    with pytest.raises(https_request.UnsupportedProtocol):
        https_request.get(f"http://127.0.0.1:{server.port}/", verify=str(pki / "ca.pem"))


def test_profile(server: ApiServer, pki: Path) -> None:
    r = https_request.get(base(server) + "/echo", verify=str(pki / "ca.pem"), profile="esp32-mbedtls")
    assert r.status_code == 200 and r.tls is not None and r.tls.version == "TLS 1.2"


@needs("openssl")
def test_openssl_s_server(pki: Path) -> None:
    server = Proc([
        tool("openssl"), "s_server", "-accept", "127.0.0.1:0", "-cert", str(pki / "leaf.pem"),
        "-key", str(pki / "leaf.key"), "-www",
    ], wait=WAIT)  # fmt: skip
    try:
        port = server.wait_for(r"ACCEPT 127\.0\.0\.1:(\d+)")[1]
        r = https_request.get(f"https://localhost:{port}/", verify=str(pki / "ca.pem"))
        assert r.status_code == 200 and "Ciphers supported in s_server binary" in r.text
    finally:
        server.kill()


# --------------------------------------------------------------------------- sessions across processes

_PROCESS = """
import json, sys, https_request
r = https_request.get(sys.argv[1], verify=sys.argv[2], sessions=sys.argv[3])
print(json.dumps({"status": r.status_code, "resumed": r.tls.resumed, "early": r.tls.early_data,
                  "server": r.json()}))
"""


@pytest.fixture(scope="module")
def serve_early(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    yield from running(["--early-data"], tmp_path_factory.mktemp("serve-state"))


def run_process(url: str, ca: str, store: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PROCESS, url, ca, str(store)], capture_output=True, text=True, timeout=WAIT, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_sessions_carry_across_processes_with_early_data(serve_early: Serve, tmp_path: Path) -> None:
    """Process 1 saves the session; process 2 resumes it and sends its GET as 0-RTT,
    which serve accepts (its /tls report says so from the server's side)."""
    store = tmp_path / "sessions"
    url = f"https://127.0.0.1:{serve_early.port}/tls"
    first = run_process(url, serve_early.ca, store)
    assert first["status"] == 200 and first["resumed"] is False and first["early"] == "none"
    files = list(store.iterdir())
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    second = run_process(url, serve_early.ca, store)
    server = second["server"]
    assert isinstance(server, dict)
    assert second["resumed"] is True and second["early"] == "accepted"
    assert server["resumed"] is True and server["early_data"] is True
    third = run_process(url, serve_early.ca, store)  # the ticket was renewed: 0-RTT again
    assert third["early"] == "accepted"


def test_session_not_resumed_under_other_verification(serve_early: Serve, tmp_path: Path) -> None:
    store = tmp_path / "sessions"
    url = f"https://127.0.0.1:{serve_early.port}/tls"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert https_request.get(url, verify=False, sessions=store).tls is not None
    r = https_request.get(url, verify=serve_early.ca, sessions=store)  # saved unverified: not offered
    assert r.tls is not None and r.tls.resumed is False


# --------------------------------------------------------------------------- asyncio


def test_async_client(server: ApiServer, pki: Path) -> None:
    async def main() -> None:
        async with https_request.AsyncClient(verify=str(pki / "ca.pem")) as c:
            for _ in range(5):
                assert (await c.get(base(server) + "/echo")).status_code == 200
            assert c.pool.handshakes == 1
            r = await c.get(base(server) + "/redirect/2", follow_redirects=True)
            assert r.text == "done" and len(r.history) == 2
            assert (await c.post(base(server) + "/echo", json=[1])).json()["body"] == "[1]"

            async def parts() -> AsyncIterator[bytes]:
                for part in (b"x" * 5, b"y" * 7):
                    await asyncio.sleep(0)
                    yield part

            sent = (await c.post(base(server) + "/echo", content=parts())).json()
            assert sent["body"] == "xxxxxyyyyyyy" and sent["chunks"] == [5, 7]
            async with c.stream("GET", base(server) + "/big") as s:
                assert b"".join([chunk async for chunk in s.aiter_bytes()]) == BIG
            results = await asyncio.gather(*(c.get(base(server) + "/echo") for _ in range(3)))
            assert [x.status_code for x in results] == [200, 200, 200]
            assert c.pool.handshakes == 3  # two more for the requests running at once
            with pytest.raises(https_request.ReadTimeout):
                await c.get(base(server) + "/stall", timeout=https_request.Timeout(5.0, read=0.3))

    asyncio.run(main())


# --------------------------------------------------------------------------- logging


def test_library_logs_through_logging(
    pki: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """A failed connection: esp-tls's error lines go to the ``https_request`` loggers, not to stderr."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with caplog.at_level(logging.DEBUG, logger="https_request"), pytest.raises(https_request.ConnectError):
        https_request.get(f"https://127.0.0.1:{closed}/", verify=str(pki / "ca.pem"))
    assert capfd.readouterr().err == ""
    errors = [r for r in caplog.records if r.name == "https_request.esp-tls" and r.levelno == logging.ERROR]
    assert any("Failed to open new connection" in r.getMessage() for r in errors)


def test_openssl_engine(server: ApiServer, pki: Path, tmp_path: Path) -> None:
    """tls=EspTlsCfg(engine="openssl"): stdlib ssl under the same pool; its sessions are not
    saved (stdlib ssl cannot export one), and nothing breaks for asking."""
    from https_request.esp_tls.config import EspTlsCfg

    with client(pki, tls=EspTlsCfg(engine="openssl"), sessions=tmp_path / "store") as c:
        for _ in range(3):
            assert c.get(base(server) + "/echo").status_code == 200
        assert c.pool.handshakes == 1
    assert not (tmp_path / "store").exists()
