"""``serve``'s report page (``GET /``) in a real browser: Debian's chromium, headless, loads it over
HTTPS from ``serve`` (trusting exactly the server's key: ``--ignore-certificate-errors-spki-list``,
no blanket ``--ignore-certificate-errors``), a phone-sized screenshot is kept as the test's
artifact (``<pytest tmp dir>/.../report-<schema>.png``, not in the repository), and the rendered
DOM (``--dump-dom``, not the HTML source) gives the rating and the version, which must be the
ones ``/a/check`` gave the same browser. With ``--schema 2026`` the browser takes HTTP/2.

Each chromium run has a fresh ``--user-data-dir`` and no network beyond 127.0.0.1 (no QUIC,
background networking, component updates or sync).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from procs import needs, tool
from serveproc import WAIT, Serve, running

pytestmark = [needs("chromium"), pytest.mark.timeout(120)]
PHONE = (412, 915)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")  # fmt: skip


@pytest.fixture(scope="module", params=["classic", "2026"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    args = ["--schema", "2026", "--now", "2026-07-01T00:00:00Z"] if request.param == "2026" else []
    yield from running(args, tmp_path_factory.mktemp("state"))


def spki_hash(srv: Serve) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of the server's certificate, as chromium's flag takes it."""
    ctx = ssl.create_default_context(cafile=srv.ca)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    key = x509.load_der_x509_certificate(der).public_key()
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def chromium(srv: Serve, profile: Path, *action: str, path: str = "/") -> bytes:
    trust = f"--ignore-certificate-errors-spki-list={spki_hash(srv)}"
    args = [
        tool("chromium"),
        *FLAGS,
        f"--user-data-dir={profile}",
        trust,
        *action,
        f"https://127.0.0.1:{srv.port}{path}",
    ]
    run = subprocess.run(args, capture_output=True, timeout=90, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
    return run.stdout


class Texts(HTMLParser):
    """The text of the elements with an id, and the meta tags, of a rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.meta: list[dict[str, str | None]] = []
        self._open: list[tuple[str, str | None]] = []  # (tag, id)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            self.meta.append(dict(attrs))
            return
        ident = dict(attrs).get("id")
        self._open.append((tag, ident))
        if ident is not None:
            self.by_id[ident] = ""

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        for _, ident in self._open:
            if ident is not None:
                self.by_id[ident] += data


def test_report_page_in_chromium(server: Serve, tmp_path: Path) -> None:
    schema = "2026" if "2026" in server.args else "classic"
    mark = server.log_mark()
    check = Texts()  # chromium shows JSON in a <pre>: its text is the body
    dom = chromium(server, tmp_path / "profile-json", "--dump-dom", path="/a/check").decode()
    check.feed(dom.replace("<pre>", '<pre id="json">', 1))
    result = json.loads(check.by_id["json"])
    texts = Texts()
    texts.feed(chromium(server, tmp_path / "profile-page", "--dump-dom").decode())
    assert texts.by_id["rating"] == result["rating"] and texts.by_id["version"] == result["tls_version"] == "TLS 1.3"
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in texts.meta
    for section in ("protocol-version", "ephemeral-keys", "session-tickets", "tls-compression", "beast",
                    "insecure-cipher-suites"):  # fmt: skip
        assert texts.by_id[section].strip(), section
    reasons = texts.by_id["reasons"]
    assert ("Nothing in this hello lowers the rating" in reasons) == (result["rating"] == "Probably Okay"), reasons

    shot = tmp_path / f"report-{schema}.png"
    chromium(server, tmp_path / "profile-shot", f"--screenshot={shot}", f"--window-size={PHONE[0]},{PHONE[1]}")
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == PHONE
    # the browser's requests, over HTTP/2 where the schema offers it
    line = server.wait_log(r'request="GET /" status=200', mark).string
    assert ("proto=h2" in line) == (schema == "2026"), line
