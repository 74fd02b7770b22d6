"""``https_request.httpx.Transport`` / ``AsyncTransport``: httpx's own behaviour through our engine.

Each request of a matrix (methods, bodies, chunked, redirects, HEAD, error
statuses, a streamed body, transport errors) goes through ``httpx.Client`` with
our transport and with httpx's default one (httpcore on stdlib ``ssl``), to the
same keep-alive server (:mod:`apiserver`, stdlib ``http.server`` on OpenSSL):
status, headers (but Date), body, history and the exception class must be the
same. Then a second process resumes the first one's session with 0-RTT through
the transport, against ``https-request serve --early-data``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from apiserver import ApiServer, serve_api
from certs import make_ca, make_leaf, write_pki
from https_request.api import EspBundle
from https_request.esp_tls.bundle import build_bundle
from https_request.httpx import AsyncTransport, Transport
from serveproc import REPO, Serve, running

pytestmark = pytest.mark.timeout(60)

WAIT = 10.0
CA = make_ca(name="httpx transport Test Root CA")
LEAF = make_leaf(CA, ("localhost", "127.0.0.1"))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pki(tmp_path_factory.mktemp("pki"), CA, LEAF)


@pytest.fixture
def server(pki: Path) -> Iterator[ApiServer]:
    with serve_api(pki / "leaf.pem", pki / "leaf.key") as srv:
        yield srv


Call = Callable[[httpx.Client, str], httpx.Response]

MATRIX: dict[str, Call] = {
    "get": lambda c, u: c.get(u + "/echo?a=1&b=2"),
    "get-headers": lambda c, u: c.get(u + "/echo", headers={"X-One": "1", "x-two": "2"}),
    "post-json": lambda c, u: c.post(u + "/echo", json={"k": [1, 2, 3]}),
    "post-form": lambda c, u: c.post(u + "/echo", data={"a": "b c"}),
    "post-bytes": lambda c, u: c.post(u + "/echo", content=b"\x00\x01binary"),
    "post-iter": lambda c, u: c.post(u + "/echo", content=iter([b"chunk1", b"chunk2"])),
    "put": lambda c, u: c.put(u + "/echo", content=b"put body"),
    "patch": lambda c, u: c.patch(u + "/echo", content=b"patch"),
    "delete": lambda c, u: c.delete(u + "/echo"),
    "options": lambda c, u: c.options(u + "/echo"),
    "head": lambda c, u: c.head(u + "/echo"),
    "head-chunked": lambda c, u: c.head(u + "/chunked"),
    "chunked": lambda c, u: c.get(u + "/chunked"),
    "big": lambda c, u: c.get(u + "/big"),
    "404": lambda c, u: c.get(u + "/status/404"),
    "500": lambda c, u: c.post(u + "/status/500", content=b"x"),
    "204": lambda c, u: c.get(u + "/status/204"),
    "redirect-not-followed": lambda c, u: c.get(u + "/redirect/2"),
    "redirect-followed": lambda c, u: c.get(u + "/redirect/3", follow_redirects=True),
    "303-post": lambda c, u: c.post(u + "/see-other", content=b"gone", follow_redirects=True),
    "307-post": lambda c, u: c.post(u + "/temporary", content=b"kept", follow_redirects=True),
    "close": lambda c, u: c.get(u + "/close"),
    "until-close": lambda c, u: c.get(u + "/until-close"),
    "too-many-redirects": lambda c, u: c.get(u + "/redirect/30", follow_redirects=True),
    "read-timeout": lambda c, u: c.get(u + "/stall", timeout=httpx.Timeout(5.0, read=0.3)),
    "unsupported": lambda c, u: c.get(u.replace("https://", "ftp://") + "/"),
}


def outcome(call: Call, client: httpx.Client, url: str) -> dict[str, Any]:
    """What a request came to, as comparable values (an exception by its class)."""
    try:
        r = call(client, url)
    except httpx.HTTPError as exc:
        return {"error": type(exc).__name__}
    headers = sorted((k, v) for k, v in r.headers.multi_items() if k != "date")
    return {
        "status": r.status_code,
        "reason": r.reason_phrase,
        "http_version": r.http_version,
        "headers": headers,
        "content": r.content,
        "history": [(h.status_code, str(h.url)) for h in r.history],
        "url": str(r.url).replace(url, ""),
    }


def test_same_responses_as_httpx_default_transport(server: ApiServer, pki: Path) -> None:
    url = f"https://127.0.0.1:{server.port}"
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    with (
        httpx.Client(transport=Transport(verify=str(pki / "ca.pem"))) as ours,
        httpx.Client(verify=ctx) as theirs,
    ):
        for name, call in MATRIX.items():
            mine, reference = outcome(call, ours, url), outcome(call, theirs, url)
            assert mine == reference, name
        with pytest.raises(httpx.ConnectError):  # certifi's CAs: the test CA is unknown
            httpx.Client(transport=Transport()).get(url + "/echo")


def test_connect_errors_as_httpx(pki: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    for client in (httpx.Client(transport=Transport(verify=str(pki / "ca.pem"))), httpx.Client(verify=ctx)):
        with client, pytest.raises(httpx.ConnectError):
            client.get(f"https://127.0.0.1:{closed}/")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        for client in (httpx.Client(transport=Transport(verify=str(pki / "ca.pem"))), httpx.Client(verify=ctx)):
            with client, pytest.raises(httpx.ConnectTimeout):
                client.get(f"https://127.0.0.1:{port}/", timeout=0.3)


def test_keepalive_and_extensions(server: ApiServer, pki: Path) -> None:
    transport = Transport(verify=EspBundle(build_bundle([CA.cert])), profile="esp32-mbedtls-tls13")
    with httpx.Client(transport=transport) as client:
        for _ in range(5):
            r = client.get(f"https://127.0.0.1:{server.port}/echo")
            assert r.status_code == 200
        tls = r.extensions["tls"]
        assert tls.version == "TLS 1.3" and tls.resumed is False
        with client.stream("GET", f"https://127.0.0.1:{server.port}/big") as s:
            assert sum(len(chunk) for chunk in s.iter_raw()) == 1 << 20
    assert server.handshakes == 1 and transport.pool.handshakes == 1


def test_async_transport_same_as_httpx(server: ApiServer, pki: Path) -> None:
    url = f"https://127.0.0.1:{server.port}"
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))

    async def run(client: httpx.AsyncClient) -> list[Any]:
        async with client:
            out: list[Any] = []
            for path in ("/echo", "/chunked", "/status/404"):
                r = await client.get(url + path)
                out.append(
                    (r.status_code, r.content, sorted((k, v) for k, v in r.headers.multi_items() if k != "date"))
                )
            r = await client.post(url + "/see-other", content=b"x", follow_redirects=True)
            out.append((r.status_code, r.json()["method"], len(r.history)))
            try:
                await client.get(url + "/stall", timeout=httpx.Timeout(5.0, read=0.3))
            except httpx.HTTPError as exc:
                out.append(type(exc).__name__)
            return out

    ours = asyncio.run(run(httpx.AsyncClient(transport=AsyncTransport(verify=str(pki / "ca.pem")))))
    theirs = asyncio.run(run(httpx.AsyncClient(verify=ctx)))
    assert ours == theirs and ours[-1] == "ReadTimeout"


_PROCESS = """
import json, sys, httpx
from https_request.httpx import Transport
with httpx.Client(transport=Transport(verify=sys.argv[2], sessions=sys.argv[3])) as client:
    r = client.get(sys.argv[1])
print(json.dumps({"early": r.extensions["tls"].early_data, "server": r.json()}))
"""


@pytest.fixture(scope="module")
def serve_early(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    yield from running(["--early-data"], tmp_path_factory.mktemp("serve-state"))


def test_second_process_resumes_with_early_data(serve_early: Serve, tmp_path: Path) -> None:
    url = f"https://127.0.0.1:{serve_early.port}/tls"
    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", _PROCESS, url, serve_early.ca, str(tmp_path / "store")],
            capture_output=True, text=True, timeout=WAIT, cwd=REPO,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout))
    assert runs[0]["early"] == "none" and runs[0]["server"]["resumed"] is False
    for run in runs[1:]:
        assert run["early"] == "accepted"
        assert run["server"]["resumed"] is True and run["server"]["early_data"] is True
