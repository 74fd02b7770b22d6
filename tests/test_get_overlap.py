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


def probed_get(port: int, *args: str, environ: dict[str, str] | None = None) -> Probed:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(port), "get", *args],
        capture_output=True,
        env=environ or env(),
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


# --------------------------------------------------------------------------- the connect before the parser


def no_proxy_env(**extra: str) -> dict[str, str]:
    """The command's environment without any ``*_proxy`` variable, and ``extra``."""
    return {k: v for k, v in env(**extra).items() if not k.lower().endswith("_proxy") or k in extra}


def test_an_ip_literal_url_connects_before_the_arguments_are_parsed(serve: Serve, pki: Path) -> None:
    """With only options that do not touch the connection, the SYN to an address in the URL leaves
    before argparse (or even typing) is imported, and the command adopts that connect: one connect
    in all."""
    url = f"https://127.0.0.1:{serve.port}/"
    p = probed_get(serve.port, "-sS", "--cacert", str(pki / "ca.pem"), "-w%{http_code}", url, environ=no_proxy_env())
    assert p.run.code == 0 and p.run.out.endswith(b"200"), p.run.err
    connect = p.first("connect")
    assert connect < p.first("import", "argparse") and connect < p.first("import", "typing")
    assert [e for e in p.events if e[0] == "connect"] == [("connect", "127.0.0.1")]  # adopted, not made again
    assert {"https_request.tls.verify", "cryptography.x509.verification"} <= p.modules  # the chain was checked


def test_an_early_connect_still_fails_closed(serve: Serve, tmp_path: Path) -> None:
    """The early connect changes nothing about verification: a server whose chain the CA file does
    not vouch for is exit 6, as when the connect starts after the parser."""
    (tmp_path / "other.pem").write_bytes(OTHER_CA.cert_pem)
    url = f"https://127.0.0.1:{serve.port}/"
    p = probed_get(serve.port, "--cacert", str(tmp_path / "other.pem"), url, environ=no_proxy_env())
    assert p.run.code == 6, p.run.err
    assert f"https-request: certificate verification failed for 127.0.0.1:{serve.port}" in p.run.err, p.run.err
    assert p.first("connect") < p.first("import", "argparse")


@pytest.mark.parametrize(
    ("extra", "proxy"),
    [
        (("--connect-to", "::127.0.0.1:{port}"), False),
        (("-4",), False),
        (("--cacer", "{ca}"), False),  # an abbreviation argparse accepts: not the scan's to guess
        ((), True),
    ],
    ids=["connect-to", "ipv4-only", "abbreviation", "https_proxy"],
)
def test_what_may_change_the_connect_leaves_it_to_the_parser(
    serve: Serve, pki: Path, extra: tuple[str, ...], proxy: bool
) -> None:
    """Options the scan does not know, and a proxy in the environment: the connect starts after the
    arguments are parsed, as before (and with a proxy it never goes to the URL's address directly)."""
    url = f"https://127.0.0.1:{serve.port}/"
    args = [a.format(port=serve.port, ca=pki / "ca.pem") for a in extra]
    if "{ca}" not in " ".join(extra):
        args += ["--cacert", str(pki / "ca.pem")]
    with socket.create_server(("127.0.0.1", 0)) as closed:
        dead = closed.getsockname()[1]
    environ = no_proxy_env(https_proxy=f"http://127.0.0.1:{dead}") if proxy else no_proxy_env()
    p = probed_get(serve.port, *args, url, environ=environ)
    if proxy:
        assert p.run.code == 4, p.run.err  # the proxy does not answer; the server was never contacted
        assert not any(kind == "connect" for kind, _ in p.events)
        return
    assert p.run.code == 0, p.run.err
    assert p.first("import", "argparse") < p.first("connect")


def test_a_usage_error_closes_the_early_connect(pki: Path) -> None:
    """Arguments the parser rejects after the SYN left: exit 2, and the server sees the connection
    closed without a byte (nothing is left open in the process either)."""
    from https_request import get_early
    from https_request.cli import main

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        code = main(["get", "--retry", "many", "--cacert", str(pki / "ca.pem"), f"https://127.0.0.1:{port}/"])
        assert code == 2
        listener.settimeout(WAIT)
        conn, _ = listener.accept()  # the early connect had reached the listen queue
        with conn:
            conn.settimeout(WAIT)
            assert conn.recv(100) == b""  # closed, no ClientHello
    assert get_early.claim(socket.AF_INET, socket.inet_pton(socket.AF_INET, "127.0.0.1"), port) is None


def test_a_connect_to_elsewhere_closes_the_early_one() -> None:
    """claim() hands the early socket only to an attempt to its own address and port; any other
    attempt closes it (the server sees an empty connection) and gets None, once."""
    from https_request import get_early

    with socket.create_server(("127.0.0.1", 0)) as here, socket.create_server(("127.0.0.1", 0)) as there:
        port, other = here.getsockname()[1], there.getsockname()[1]
        packed = socket.inet_pton(socket.AF_INET, "127.0.0.1")
        get_early.start(["get", f"http://127.0.0.1:{port}/"])
        assert get_early.claim(socket.AF_INET, packed, other) is None
        here.settimeout(WAIT)
        conn, _ = here.accept()
        with conn:
            conn.settimeout(WAIT)
            assert conn.recv(10) == b""
        get_early.start(["get", f"http://127.0.0.1:{port}/"])
        sock = get_early.claim(socket.AF_INET, packed, port)
        assert sock is not None and get_early.claim(socket.AF_INET, packed, port) is None
        with sock:
            sock.setblocking(True)
            conn, _ = here.accept()
            with conn:
                sock.sendall(b"x")
                assert conn.recv(10) == b"x"


@pytest.mark.parametrize(
    ("argv", "where"),
    [
        (["get", "https://127.0.0.1/"], (socket.AF_INET, "127.0.0.1", 443)),
        (["get", "http://127.0.0.1"], (socket.AF_INET, "127.0.0.1", 80)),
        (["get", "-sSf", "-o", "/dev/null", "HTTPS://10.0.0.1:8443/x?y#z"], (socket.AF_INET, "10.0.0.1", 8443)),
        (["get", "-o/dev/null", "--output=x", "-vvv", "https://[::1]:9/"], (socket.AF_INET6, "::1", 9)),
        (["get", "-w", "%{http_code}", "--early-data", "https://[::1]"], (socket.AF_INET6, "::1", 443)),
        (["get", "https://localhost/"], None),  # a name: looked up by the command
        (["get", "https://127.1/"], None),  # not a dotted quad
        (["get", "https://[fe80::1%25eth0]/"], None),  # a zone id
        (["get", "https://u:p@127.0.0.1/"], None),
        (["get", "https://127.0.0.1:0/"], None),
        (["get", "https://127.0.0.1:65536/"], None),
        (["get", "https://127.0.0.1:1x/"], None),
        (["get", "ftp://127.0.0.1/"], None),
        (["get", "-x", "http://127.0.0.2:3128", "https://127.0.0.1/"], None),
        (["get", "--proxy=http://127.0.0.2:3128", "https://127.0.0.1/"], None),
        (["get", "-k4", "https://127.0.0.1/"], None),
        (["get", "--", "https://127.0.0.1/"], None),
        (["get", "--insecure=yes", "https://127.0.0.1/"], None),
        (["get", "https://127.0.0.1/", "https://127.0.0.2/"], None),
        (["get", "https://127.0.0.1/", "-o"], None),  # a value missing: the parser's error
        (["get", "-o"], None),
        (["--version", "get", "https://127.0.0.1/"], None),
        (["get", "-h", "https://127.0.0.1/"], None),
        (["resolve", "https://127.0.0.1/"], None),
    ],
)
def test_the_scan_is_sure_or_says_nothing(argv: list[str], where: tuple[int, str, int] | None) -> None:
    from https_request.get_early import target

    assert target(argv) == where


# Values the parser accepts for the scan's valued options (others: any word).
VALUES = {
    "--verify-policy": "webpki", "--tls-version": "1.3", "--tls-max": "1.3", "--engine": "python",
    "--timeout": "5", "-m": "5", "--max-time": "5", "--retry": "1", "--retry-delay": "1",
    "--retry-max-time": "1", "-H": "A: b", "--header": "A: b",
}  # fmt: skip


def test_the_scan_reads_each_option_as_the_parser_does() -> None:
    """Every option the scan passes over takes a value exactly when get's parser says so: the
    scan and the parser find the same URL, with the value apart and attached."""
    from https_request.cli_parser import build_parser
    from https_request.get_early import FLAGS, VALUED, target

    parser = build_parser("get")
    url = "https://127.0.0.1:8443/"
    for option in sorted(FLAGS):
        assert parser.parse_args(["get", option, url]).url == url, option
        assert target(["get", option, url]) == (socket.AF_INET, "127.0.0.1", 8443), option
    for option in sorted(VALUED):
        value = VALUES.get(option, "word")
        joined = [f"{option}={value}"] if option.startswith("--") else [option + value]
        for args in ([option, value], joined):
            assert parser.parse_args(["get", *args, url]).url == url, args
            assert target(["get", *args, url]) == (socket.AF_INET, "127.0.0.1", 8443), args
