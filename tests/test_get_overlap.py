"""``get`` overlaps its start-up with the network, and loads trust anchors only to check a certificate
(issue 16), without weakening verification.

* The TCP connection starts before the TLS stack is imported: the order of the interpreter's own
  audit events (``socket.connect`` to the server, ``import`` of each module) in the ``get`` process.
* A resumed run (a saved session) checks no certificate: it never imports cryptography's X.509 code
  nor our verifiers, with ``--cacert`` and with ``--bundle``.
* Verification fails closed: a resumption the server declines (another server behind
  ``--connect-to``, which does not know the ticket) is a full handshake whose certificate is checked,
  exit 6 when it is not trusted; a CA file that passes the shape check but does not parse is exit 2.

Peers: ``https-request serve`` (a test CA's leaf, tickets) and ``openssl s_server`` on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certs import make_ca, make_leaf
from clirun import Run, env, get
from https_request.esp_tls.bundle import build_bundle
from procs import Proc, needs, tool
from serveproc import Serve, running

pytestmark = pytest.mark.timeout(60)

CA = make_ca(name="get-overlap Test Root CA")
OTHER_CA = make_ca(name="get-overlap Other CA")
LEAF = make_leaf(CA, ["localhost", "127.0.0.1"])
IMPOSTOR = make_leaf(OTHER_CA, ["localhost", "127.0.0.1"])
WAIT = 10.0

# What checking a certificate takes: none of it is needed to resume a session.
VERIFIER_MODULES = (
    "cryptography.x509",
    "cryptography.x509.verification",
    "https_request.tls.verify",
    "https_request.tls.mbedtls_path",
    "https_request.esp_tls.bundle_verify",
)

# What the first flight needs and the connect does not: the engine's error, event and session types
# (io.pump, tls.errors with the tls.enums registries), the HTTP request's URL split, the session code
# (tls.session, hashlib: OpenSSL's libcrypto; a saved session is read while the SYN is out). The
# certificate files' shape check (esp_tls.trust) runs while the SYN is out too.
AFTER_THE_SYN = (
    "https_request.io.pump",
    "https_request.tls.errors",
    "https_request.tls.enums",
    "urllib.parse",
    "https_request.esp_tls.trust",
    "https_request.tls.session",
    "hashlib",
)
AFTER_A_FULL_SYN = AFTER_THE_SYN

# TLS 1.2's messages, key schedule and record protection: imported when a server picks TLS 1.2.
TLS12_ONLY = ("https_request.tls.messages12", "https_request.tls.keyschedule12", "https_request.tls.protection12")

# ``get`` in a process that records, in order, its connect to PORT and every module it imports
# (sys.addaudithook: the interpreter's own events), then writes them and sys.modules to stderr.
PROBE = """\
import json, sys
port, argv = int(sys.argv[1]), sys.argv[2:]
events = []
def hook(event, args):
    if event == "import":
        events.append(["import", args[0]])
    elif event == "socket.connect" and isinstance(args[1], tuple) and args[1][1] == port:
        events.append(["connect", str(args[1][0])])
sys.addaudithook(hook)
from https_request.cli import main
code = main(argv)
sys.stderr.write("PROBE " + json.dumps({"events": events, "modules": sorted(sys.modules)}) + "\\n")
sys.exit(code)
"""


class Probed:
    """A probed ``get``: its run, its events and the modules it ended with."""

    def __init__(self, run: Run, probe: dict[str, Any]) -> None:
        self.run = run
        self.events: list[tuple[str, str]] = [(kind, what) for kind, what in probe["events"]]
        self.modules: set[str] = set(probe["modules"])

    def first(self, kind: str, prefix: str = "") -> int:
        """Index of the first event of ``kind`` (an import: of ``prefix`` or a module under it)."""
        for i, (k, what) in enumerate(self.events):
            if k == kind and (what == prefix or what.startswith(prefix + ".") or not prefix):
                return i
        raise AssertionError(f"no {kind} {prefix} among {len(self.events)} events")

    def before(self, index: int) -> set[str]:
        """The modules imported before event ``index``."""
        return {what for kind, what in self.events[:index] if kind == "import"}


def probed_get(port: int, *args: str) -> Probed:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(port), "get", *args],
        capture_output=True,
        env=env(),
        timeout=30,
        check=False,
    )
    err = proc.stderr.decode(errors="replace")
    line = next((x for x in err.splitlines() if x.startswith("PROBE ")), None)
    assert line is not None, err
    run = Run(proc.returncode, proc.stdout, "\n".join(x for x in err.splitlines() if not x.startswith("PROBE ")))
    return Probed(run, json.loads(line.removeprefix("PROBE ")))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    for name, issued in (("leaf", LEAF), ("impostor", IMPOSTOR)):
        (d / f"{name}.pem").write_bytes(issued.chain_pem)
        (d / f"{name}.key").write_bytes(issued.key_pem)
    (d / "ca.pem").write_bytes(CA.cert_pem)
    (d / "ca.bundle").write_bytes(build_bundle([CA.cert]))
    return d


@pytest.fixture(scope="module")
def serve(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    state = tmp_path_factory.mktemp("state")
    yield from running(["--cert", str(pki / "leaf.pem"), "--key", str(pki / "leaf.key"), "--early-data"], state)


def _s_server(pki: Path, name: str) -> tuple[Proc, int]:
    """``openssl s_server -www`` with the ``name`` certificate; it knows no ticket of serve's."""
    server = Proc([
        tool("openssl"), "s_server", "-accept", "127.0.0.1:0", "-cert", str(pki / f"{name}.pem"),
        "-key", str(pki / f"{name}.key"), "-www",
    ], wait=WAIT)  # fmt: skip
    server.wait_for(r"ACCEPT 127\.0\.0\.1:\d+")
    return server, int(re.findall(r"ACCEPT 127\.0\.0\.1:(\d+)", server.text)[0])


# --------------------------------------------------------------------------- the connection starts first


def test_a_full_get_connects_before_it_imports_the_tls_stack(serve: Serve, pki: Path) -> None:
    p = probed_get(serve.port, f"https://localhost:{serve.port}/", "--cacert", str(pki / "ca.pem"))
    assert p.run.code == 0, p.run.err
    connect = p.first("connect")
    for heavy in ("cryptography", "h11", "https_request.tls.client13", "https_request.tls.verify"):
        assert connect < p.first("import", heavy), heavy  # all of them loaded while the SYN was out
    assert p.before(connect) & set(AFTER_A_FULL_SYN) == set()
    assert {"https_request.tls.verify", "cryptography.x509.verification"} <= p.modules  # the chain was checked
    assert p.modules & set(TLS12_ONLY) == set()  # a TLS 1.3 connection (serve picks it)


@pytest.mark.parametrize("trust", ["cacert", "bundle"])
@pytest.mark.parametrize("early", [False, True], ids=["1-rtt", "0-rtt"])
def test_a_resumed_get_connects_first_and_loads_no_verifier(
    serve: Serve, pki: Path, tmp_path: Path, trust: str, early: bool
) -> None:
    url = f"https://localhost:{serve.port}/"
    option = ("--cacert", str(pki / "ca.pem")) if trust == "cacert" else ("--bundle", str(pki / "ca.bundle"))
    args = (url, *option, "--session", str(tmp_path / "session"), *(("--early-data",) if early else ()))
    first = get(*args, "--json", "-")
    assert first.code == 0 and first.json["resumed"] is False, first.err
    p = probed_get(serve.port, *args, "--json", "-")
    assert p.run.code == 0 and p.run.json["resumed"] is True, p.run.err
    assert p.run.json["early_data"]["accepted"] is early
    connect = p.first("connect")
    for heavy in ("cryptography", "https_request.tls.client13", "h11"):  # h11: also for the request's 0-RTT bytes
        assert connect < p.first("import", heavy), heavy
    assert p.before(connect) & set(AFTER_THE_SYN) == set()
    assert sorted(p.modules & set(VERIFIER_MODULES)) == []
    assert "pathlib" not in p.modules  # saving the session needs no state folder


# --------------------------------------------------------------------------- verification fails closed


@needs("openssl")
def test_a_declined_resumption_still_verifies_the_server(serve: Serve, pki: Path, tmp_path: Path) -> None:
    """The session resumes with serve; behind --connect-to, s_server knows no ticket: a full handshake,
    whose certificate is checked against the CA file loaded only then (exit 6 for another CA's)."""
    url = f"https://localhost:{serve.port}/"
    args = (url, "--cacert", str(pki / "ca.pem"), "--session", str(tmp_path / "session"), "--json", "-")
    first = get(*args)
    assert first.code == 0 and first.json["resumed"] is False, first.err
    for name, code in (("impostor", 6), ("leaf", 0)):
        server, port = _s_server(pki, name)
        try:
            r = get(*args, "--connect-to", f"localhost:{serve.port}:127.0.0.1:{port}")
        finally:
            server.close()
        assert r.code == code, r.err
        assert r.warnings() == []  # the session was offered (not refused): its CA file was not parsed up front
        if code == 6:
            assert f"https-request: certificate verification failed for localhost:{serve.port}" in r.err, r.err
            assert "flags 0x8 MBEDTLS_X509_BADCERT_NOT_TRUSTED): webpki: no trusted issuer" in r.err, r.err
        else:
            assert r.json["resumed"] is False and r.json["peer_subject"] == "CN=localhost", r.err


# ``get`` in a process that records whether automatic garbage collection was on when it connected to
# PORT, at each write of the body to stdout, and after the run.
GC_PROBE = """\
import gc, io, json, sys
port, argv = int(sys.argv[1]), sys.argv[2:]
events = []
def hook(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple) and args[1][1] == port:
        events.append(f"connect gc={gc.isenabled()}")
sys.addaudithook(hook)
class Out(io.RawIOBase):
    def writable(self):
        return True
    def write(self, data):
        events.append(f"write gc={gc.isenabled()}")
        return len(data)
sys.stdout = io.TextIOWrapper(io.BufferedWriter(Out(), buffer_size=1))
from https_request.cli import main
code = main(argv)
sys.stderr.write("PROBE " + json.dumps({"events": events, "gc": gc.isenabled()}) + "\\n")
sys.exit(code)
"""


def _gc_probe(port: int, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-c", GC_PROBE, str(port), "get", *args], capture_output=True, env=env(), timeout=30
    )
    err = proc.stderr.decode(errors="replace")
    line = next((x for x in err.splitlines() if x.startswith("PROBE ")), None)
    assert line is not None, err
    return proc.returncode, json.loads(line.removeprefix("PROBE ")), err


def test_no_garbage_collection_before_the_syn(serve: Serve, pki: Path) -> None:
    """get's start-up runs without automatic collection until its SYN is out; collection is on
    again for the handshake and the transfer, and after the run."""
    code, probe, err = _gc_probe(serve.port, f"https://localhost:{serve.port}/", "--cacert", str(pki / "ca.pem"))
    assert code == 0, err
    events: list[str] = probe["events"]
    assert events[0] == "connect gc=False", events
    writes = [e for e in events if e.startswith("write")]
    assert writes and set(writes) == {"write gc=True"}, events  # the body went out with collection on
    assert probe["gc"] is True


def test_garbage_collection_is_back_on_after_a_failure_before_the_connect(tmp_path: Path) -> None:
    """A run that fails before any connection (a CA file that does not exist) leaves collection on."""
    code, probe, _ = _gc_probe(1, "https://localhost:1/", "--cacert", str(tmp_path / "missing.pem"))
    assert code == 2 and probe["events"] == [] and probe["gc"] is True


def test_a_ca_file_that_does_not_parse_is_a_usage_error(serve: Serve, pki: Path, tmp_path: Path) -> None:
    """Shaped like a certificate (get's check before connecting), but version 8: exit 2 when it is parsed."""
    der = CA.der
    assert der.count(b"\xa0\x03\x02\x01\x02") == 1  # [0] EXPLICIT version INTEGER 2 (v3)
    bad = tmp_path / "v8.der"
    bad.write_bytes(der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x07"))
    r = get(f"https://localhost:{serve.port}/", "--cacert", str(bad))
    assert r.code == 2, r.err
    assert r.err.endswith("CA certificate: -0x2180: not a valid DER certificate (malformed or truncated)\n"), r.err


def test_a_file_that_holds_no_certificate_is_said_first(serve: Serve, tmp_path: Path) -> None:
    """The shape check runs once the SYN is out, yet its error comes first, as when it ran before
    connecting: whether the server answers or refuses, and before another option's error."""
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    said = f"https-request: --cacert {empty}: no certificate found in it (it is empty)\n"
    with socket.create_server(("127.0.0.1", 0)) as closed:
        refused = closed.getsockname()[1]  # closed below: nothing listens there
    for extra in ([f"https://localhost:{serve.port}/"], [f"https://127.0.0.1:{refused}/"],
                  [f"https://localhost:{serve.port}/", "--cert", str(empty)]):  # fmt: skip
        r = get("--cacert", str(empty), *extra)
        assert (r.code, r.err) == (2, said), extra


# --------------------------------------------------------------------------- 0-RTT bytes made after the SYN


def test_early_data_over_the_limit_and_refused_requests(pki: Path, tmp_path: Path) -> None:
    """The 0-RTT request is made once the connection is up: one over the session's limit (serve
    --early-data 200) goes after the handshake; one h11 refuses is exit 2, as before connecting."""
    state = tmp_path / "state"
    for srv in running(["--cert", str(pki / "leaf.pem"), "--key", str(pki / "leaf.key"), "--early-data", "200"], state):
        url = f"https://localhost:{srv.port}/"
        args = (url, "--cacert", str(pki / "ca.pem"), "--session", str(tmp_path / "session"), "--early-data")
        assert get(*args).code == 0
        short = get(*args, "--json", "-")
        assert short.code == 0 and short.json["early_data"] == {"offered": True, "accepted": True}, short.err
        long = get(*args, "-H", "X-Padding: " + "p" * 200, "--json", "-", "-v")
        assert long.code == 0 and long.json["resumed"] is True, long.err
        assert long.json["early_data"] == {"offered": False, "accepted": False}
        assert re.search(r"^\* The request \(\d+ bytes\) exceeds the early data limit \(200\)$",
                         long.err, re.M), long.err  # fmt: skip
        bad = get(*args, "-X", "GE T")
        assert (bad.code, bad.err) == (2, "https-request: cannot send this request: Illegal method characters\n")
