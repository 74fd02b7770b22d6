"""Handshakes per CPU-second: our TLS engine against the stdlib ``ssl`` module.

Run as ``.venv/bin/python bench/handshake.py [--seconds S] [--batches N] [--json FILE]``.

What is measured
----------------
One "handshake" is a whole connection, fully in memory, with both ends in
this process (client and server CPU counted together, with
``time.process_time()``): ClientHello -> full or resumed handshake -> one
small application-data exchange (``ping``/``pong``, which is also what makes
TLS 1.3 tickets arrive) -> close_notify both ways. Contexts and configs are
built once, as a long-running client and server would; each handshake makes
fresh connection objects.

Both implementations get the same conditions, checked by a sanity run before
timing (the run aborts if any check fails):

* the same certificate: an ECDSA P-256 leaf for ``localhost`` signed by a P-256
  CA, made once at start with ``cryptography`` (PEMs in a temp dir for ssl);
* both sides verify: our client with ``WebPkiVerifier`` over the CA, the
  stdlib client with ``cafile`` + ``check_hostname``;
* the same group, x25519: ours is restricted to it (client groups and key
  share, server groups); Python 3.11 cannot choose groups per context, but
  OpenSSL 3.0's default first key share is x25519 -- the sanity run reads the
  ServerHello's key_share through ``SSLContext._msg_callback`` to confirm;
* the same suite, TLS_AES_128_GCM_SHA256: ours is restricted to it; the TLS 1.3
  suites cannot be chosen with ``set_ciphers`` on 3.11, so the script re-execs
  itself with ``OPENSSL_CONF`` pointing at a file whose ``system_default``
  section says ``Ciphersuites = TLS_AES_128_GCM_SHA256`` (that replaces the
  system openssl.cnf for this process); checked with ``SSLObject.cipher()``;
* one ticket per connection (stdlib ``num_tickets = 1``, ours ``num_tickets=1``);
  resumption offers the ticket of the previous connection (a chain), checked
  with ``session_reused`` / ``resumed``.

Each row runs ``--batches`` timed batches per implementation (interleaved,
ours then stdlib, so load from other processes hits both alike), sized so the
row takes about ``--seconds`` of CPU; the table shows medians. The ratio is
our median CPU per handshake over stdlib's (lower is better; ``--json`` also
records the median of the per-batch-pair ratios); the targets are
full <= 2.0x, resumed <= 3.0x (TLS 1.3), full <= 2.0x (TLS 1.2; its resumed
row has no target).

Caveats worth knowing when reading the numbers: the stdlib side is the system
OpenSSL that ``_ssl`` links (3.0.x here, known for heavy per-handshake
overhead), while our primitives come from ``cryptography``'s own OpenSSL; and
on Python 3.11 the stdlib's resumed rows include CPython's ``SSLObject.session``
getter, which copies the session through i2d/d2i (re-parsing the server
certificate) -- a real cost for any stdlib user who resumes.

``--profile full|resumed|mlkem|full12|resumed12`` runs cProfile over our
engine instead (no table) and prints the top functions by tottime.

TLS 1.2 rows (:func:`tls12_cases`): the same certificate, verification and
group, both ends pinned to TLS 1.2, ECDHE-ECDSA-AES128-GCM-SHA256 (0xC02B;
stdlib via ``set_ciphers``, the curve read from ServerKeyExchange), tickets
and extended master secret on both sides; target full <= 2.0x, resumed
reported only.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

_ROOT = Path(__file__).resolve().parent.parent
for _p in (_ROOT / "src", _ROOT / "tests"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from certs import make_ca, make_leaf  # noqa: E402  (tests/certs.py: the project's cert factory)
from https_request.tls.client13 import ClientConnection  # noqa: E402
from https_request.tls.config import ClientConfig, ServerConfig  # noqa: E402
from https_request.tls.connection import Connection  # noqa: E402
from https_request.tls.enums import CipherSuite, NamedGroup, ProtocolVersion  # noqa: E402
from https_request.tls.events import (  # noqa: E402
    NEED_DATA,
    ApplicationData,
    CloseNotify,
    HandshakeComplete,
    SessionTicketReceived,
)
from https_request.tls.server13 import ServerConnection  # noqa: E402
from https_request.tls.session import Session, TicketKeys  # noqa: E402
from https_request.tls.suites import SUITES  # noqa: E402
from https_request.tls.verify import WebPkiVerifier  # noqa: E402

if TYPE_CHECKING:
    import ssl

SERVER_NAME = "localhost"
PING = b"ping"
PONG = b"pong"
STDLIB_SUITE = "TLS_AES_128_GCM_SHA256"
TLS12_SUITE = 0xC02B  # TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (OpenSSL: ECDHE-ECDSA-AES128-GCM-SHA256)

_CONF_ENV = "HRQ_BENCH_OPENSSL_CONF"
_OPENSSL_CNF = """\
# Written by bench/handshake.py: TLS 1.3 suite for the stdlib ssl module.
openssl_conf = openssl_init

[openssl_init]
ssl_conf = ssl_sect

[ssl_sect]
system_default = system_default_sect

[system_default_sect]
Ciphersuites = TLS_AES_128_GCM_SHA256
"""


def _reexec_with_openssl_conf() -> None:
    """Restart this process with OPENSSL_CONF set, before ``ssl`` is imported.

    OpenSSL reads its config once per process, so the variable must be there
    from the start. The child removes the file at exit.
    """
    conf = os.environ.get(_CONF_ENV)
    if conf:
        tmp = os.path.dirname(conf)
        if os.path.basename(tmp).startswith("hrq-bench-conf-"):  # ours: made below by the parent
            atexit.register(shutil.rmtree, tmp, True)
        return
    if "ssl" in sys.modules or "_ssl" in sys.modules:  # pragma: no cover - only if imported by a wrapper
        print("warning: ssl already imported; re-exec anyway", file=sys.stderr)
    tmp = tempfile.mkdtemp(prefix="hrq-bench-conf-")
    path = os.path.join(tmp, "openssl.cnf")
    with open(path, "w") as f:
        f.write(_OPENSSL_CNF)
    env = dict(os.environ, OPENSSL_CONF=path, **{_CONF_ENV: path})
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


# --------------------------------------------------------------- environment


@dataclass
class Env:
    """The shared certificate, our configs and the stdlib contexts' files."""

    tmp: str
    ca: Any
    leaf: Any
    ca_pem: str
    cert_pem: str
    key_pem: str
    verifier: WebPkiVerifier
    ticket_keys: TicketKeys

    @classmethod
    def make(cls) -> Env:
        ca = make_ca("p256", name="Bench Root CA")
        leaf = make_leaf(ca, [SERVER_NAME], key_type="p256")
        tmp = tempfile.mkdtemp(prefix="hrq-bench-")
        atexit.register(shutil.rmtree, tmp, True)
        paths = {}
        for name, data in (("ca.pem", ca.cert_pem), ("cert.pem", leaf.chain_pem), ("key.pem", leaf.key_pem)):
            paths[name] = os.path.join(tmp, name)
            with open(paths[name], "wb") as f:
                f.write(data)
        return cls(
            tmp=tmp,
            ca=ca,
            leaf=leaf,
            ca_pem=paths["ca.pem"],
            cert_pem=paths["cert.pem"],
            key_pem=paths["key.pem"],
            verifier=WebPkiVerifier([ca.cert]),
            ticket_keys=TicketKeys(os.urandom, now=time.time()),
        )


# ------------------------------------------------------------- our engine


@dataclass(frozen=True)
class OursSpec:
    """What our engine negotiates: versions (both sides) and the one suite.

    TLS 1.2 mirrors ``TLS12`` on the stdlib side: both ends pinned to 1.2
    (like ``minimum_version = maximum_version``), ECDHE-ECDSA with AES-128-GCM,
    tickets (RFC 5077) under the same ``TicketKeys`` as TLS 1.3, extended
    master secret (our server's default requirement; the client sends it).
    """

    versions: tuple[int, ...] = (ProtocolVersion.TLS1_3,)
    suite: int = CipherSuite.TLS_AES_128_GCM_SHA256
    tickets_on_resume: int | None = 1  # None: not checked (a TLS 1.2 ticket is renewed only when it must)

    @property
    def version(self) -> int:
        return self.versions[0]


OURS13 = OursSpec()
OURS12 = OursSpec(versions=(ProtocolVersion.TLS1_2,), suite=TLS12_SUITE, tickets_on_resume=None)


def ours_configs(
    env: Env, group: int = NamedGroup.x25519, spec: OursSpec = OURS13
) -> tuple[ClientConfig, ServerConfig]:
    ccfg = ClientConfig(
        verifier=env.verifier,
        versions=spec.versions,
        cipher_suites=(spec.suite,),
        groups=(group,),
        key_share_groups=(group,),
    )
    scfg = ServerConfig(
        certificates=(env.leaf.certified_key(),),
        versions=spec.versions,
        cipher_suites=(spec.suite,),
        groups=(group,),
        ticket_keys=env.ticket_keys,
        num_tickets=1,
    )
    return ccfg, scfg


def _pump(c: Connection, s: Connection) -> None:
    while True:
        out = c.data_to_send()
        if out:
            s.receive_data(out)
        back = s.data_to_send()
        if back:
            c.receive_data(back)
        if not out and not back:
            return


def _events(conn: Connection) -> list[Any]:
    out = []
    while (ev := conn.next_event()) is not NEED_DATA:
        out.append(ev)
    return out


@dataclass
class OursResult:
    client: ClientConnection
    server: ServerConnection
    client_events: list[Any]
    server_events: list[Any]
    session: Session | None


def ours_connection(ccfg: ClientConfig, scfg: ServerConfig, session: Session | None = None) -> OursResult:
    """One whole connection: handshake, ping/pong, close_notify both ways."""
    c = ClientConnection(ccfg, SERVER_NAME, session=session)
    s = ServerConnection(scfg)
    c.start_handshake()
    _pump(c, s)
    c.send_application_data(PING)
    _pump(c, s)
    s_events = _events(s)
    s.send_application_data(PONG)
    _pump(c, s)
    c.close()
    _pump(c, s)
    s_events += _events(s)
    s.close()
    _pump(c, s)
    c_events = _events(c)
    ticket = None
    got_pong = got_ping = False
    for ev in c_events:
        if isinstance(ev, SessionTicketReceived):
            ticket = ev.session
        elif isinstance(ev, ApplicationData):
            got_pong = ev.data == PONG
    for ev in s_events:
        if isinstance(ev, ApplicationData):
            got_ping = ev.data == PING
    if not (got_ping and got_pong) or not isinstance(c_events[-1], CloseNotify):
        raise AssertionError("ours: application data or close_notify missing")
    return OursResult(c, s, c_events, s_events, ticket)


def ours_runner(
    env: Env, *, resumed: bool, group: int = NamedGroup.x25519, spec: OursSpec = OURS13
) -> Callable[[], None]:
    """A function doing one connection; resumed runs chain each new ticket into the next
    (TLS 1.2: the server renews a ticket only when it must, so the same one is offered
    again until a new one arrives -- as the stdlib client does with ``SSLObject.session``)."""
    ccfg, scfg = ours_configs(env, group, spec)
    if not resumed:

        def full() -> None:
            ours_connection(ccfg, scfg)

        return full
    first = ours_connection(ccfg, scfg).session
    if first is None:
        raise AssertionError("ours: no ticket from the full handshake")
    state: dict[str, Session] = {"session": first}
    need_ticket = spec.tickets_on_resume is not None

    def resume() -> None:
        r = ours_connection(ccfg, scfg, state["session"])
        if not r.client.resumed or (need_ticket and r.session is None):
            raise AssertionError("ours: not resumed, or no ticket")
        if r.session is not None:
            state["session"] = r.session

    return resume


def ours_sanity(env: Env, *, resumed: bool, group: int = NamedGroup.x25519, spec: OursSpec = OURS13) -> dict[str, Any]:
    ccfg, scfg = ours_configs(env, group, spec)
    session = ours_connection(ccfg, scfg).session if resumed else None
    if resumed and session is None:
        raise SystemExit("ours sanity check failed: no ticket from the full handshake")
    r = ours_connection(ccfg, scfg, session)
    hc = [e for e in r.client_events if isinstance(e, HandshakeComplete)]
    hs = [e for e in r.server_events if isinstance(e, HandshakeComplete)]
    tickets = [e for e in r.client_events if isinstance(e, SessionTicketReceived)]
    assert len(hc) == 1 and len(hs) == 1, "ours: one HandshakeComplete per side"
    info = {
        "version": hex(hc[0].version),
        "server_version": hex(hs[0].version),
        "cipher_suite": SUITES[hc[0].cipher_suite].name,
        "server_cipher_suite": SUITES[hs[0].cipher_suite].name,
        "group": NamedGroup(hc[0].group).name if hc[0].group is not None else None,
        "server_group": NamedGroup(hs[0].group).name if hs[0].group is not None else None,
        "resumed": hc[0].resumed and hs[0].resumed,
        "tickets": len(tickets),
        "peer_certificates": len(hc[0].peer_certificates),
    }
    want: dict[str, Any] = {
        "version": hex(spec.version),
        "server_version": hex(spec.version),
        "cipher_suite": SUITES[spec.suite].name,
        "server_cipher_suite": SUITES[spec.suite].name,
        "resumed": resumed,
    }
    if spec.version == ProtocolVersion.TLS1_3 or not resumed:  # a TLS 1.2 resumption has no key exchange
        want["group"] = want["server_group"] = NamedGroup(group).name
    else:
        want["group"] = want["server_group"] = None
    want_tickets = spec.tickets_on_resume if resumed else 1
    if want_tickets is not None:
        want["tickets"] = want_tickets
    bad = {k: (info[k], v) for k, v in want.items() if info[k] != v}
    if bad:
        raise SystemExit(f"ours sanity check failed (got, wanted): {bad}")
    return info


# ------------------------------------------------------------- stdlib ssl


@dataclass(frozen=True)
class StdlibSpec:
    """What the stdlib side negotiates. TLS 1.3 suites come from OPENSSL_CONF
    (see the module docstring); TLS 1.2 suites obey ``ciphers`` (set_ciphers)."""

    version: str = "TLSv1_3"  # an ssl.TLSVersion member name
    ciphers: str | None = None
    want_version: str = "TLSv1.3"  # SSLObject.version()
    want_suite: str = STDLIB_SUITE  # SSLObject.cipher()[0]
    want_group: str = "x25519"
    tickets_on_resume: int | None = 1  # None: not checked (TLS 1.2 renews a ticket only when it must)


TLS13 = StdlibSpec()
TLS12 = StdlibSpec(  # for the TLS 1.2 rows (see tls12_cases)
    version="TLSv1_2",
    ciphers="ECDHE-ECDSA-AES128-GCM-SHA256",
    want_version="TLSv1.2",
    want_suite="ECDHE-ECDSA-AES128-GCM-SHA256",
    tickets_on_resume=None,
)


def stdlib_contexts(env: Env, spec: StdlibSpec = TLS13) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    import ssl

    version = ssl.TLSVersion[spec.version]
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(env.cert_pem, env.key_pem)
    sctx.num_tickets = 1
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED + check_hostname
    cctx.load_verify_locations(cafile=env.ca_pem)
    for ctx in (sctx, cctx):
        ctx.minimum_version = ctx.maximum_version = version
        if spec.ciphers is not None:
            ctx.set_ciphers(spec.ciphers)
    assert cctx.verify_mode == ssl.CERT_REQUIRED and cctx.check_hostname
    return cctx, sctx


def stdlib_connection(
    cctx: ssl.SSLContext, sctx: ssl.SSLContext, session: ssl.SSLSession | None = None
) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    """One whole connection over MemoryBIOs: handshake, ping/pong, close_notify both ways."""
    import ssl

    want_read = ssl.SSLWantReadError
    cin, cout, sin, sout = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    c = cctx.wrap_bio(cin, cout, server_hostname=SERVER_NAME, session=session)
    s = sctx.wrap_bio(sin, sout, server_side=True)
    c_done = s_done = False
    for _ in range(10):
        if not c_done:
            try:
                c.do_handshake()
                c_done = True
            except want_read:
                pass
        if cout.pending:
            sin.write(cout.read())
        if not s_done:
            try:
                s.do_handshake()
                s_done = True
            except want_read:
                pass
        if sout.pending:
            cin.write(sout.read())
        if c_done and s_done:
            break
    else:
        raise AssertionError("stdlib: handshake did not finish")
    c.write(PING)
    sin.write(cout.read())
    if s.read(64) != PING:
        raise AssertionError("stdlib: ping lost")
    s.write(PONG)
    cin.write(sout.read())
    if c.read(64) != PONG:  # also reads the NewSessionTicket
        raise AssertionError("stdlib: pong lost")
    try:
        c.unwrap()  # sends close_notify, then wants the server's
    except want_read:
        pass
    sin.write(cout.read())
    s.unwrap()  # reads the client's close_notify, sends its own
    cin.write(sout.read())
    c.unwrap()
    return c, s


def stdlib_runner(env: Env, *, resumed: bool, spec: StdlibSpec = TLS13) -> Callable[[], None]:
    cctx, sctx = stdlib_contexts(env, spec)
    if not resumed:

        def full() -> None:
            stdlib_connection(cctx, sctx)

        return full
    state = {"session": stdlib_connection(cctx, sctx)[0].session}

    def resume() -> None:
        c, _ = stdlib_connection(cctx, sctx, state["session"])
        if not c.session_reused:
            raise AssertionError("stdlib: session not reused")
        state["session"] = c.session

    return resume


def _parse_server_hello_group(msg: bytes) -> int | None:
    """The key_share group of a TLS 1.3 ServerHello or HelloRetryRequest (handshake
    header included), read with the project's own codec."""
    from https_request.tls.enums import ExtensionType
    from https_request.tls.extensions import decode_key_share_hrr, decode_key_share_server
    from https_request.tls.messages import HRR_RANDOM, ServerHello

    if len(msg) < 4 or msg[0] != 2:
        return None
    hello = ServerHello.decode(msg[4:])
    share = hello.ext(ExtensionType.key_share)
    if share is None:
        return None
    return decode_key_share_hrr(share) if hello.random == HRR_RANDOM else decode_key_share_server(share)[0]


def _server_key_exchange_group(msg: bytes) -> int | None:
    """The named curve of a TLS 1.2 ECDHE ServerKeyExchange (handshake header included)."""
    if len(msg) >= 7 and msg[0] == 12 and msg[4] == 3:  # named_curve
        return int.from_bytes(msg[5:7], "big")
    return None


def stdlib_sanity(env: Env, *, resumed: bool, spec: StdlibSpec = TLS13) -> dict[str, Any]:
    import ssl

    cctx, sctx = stdlib_contexts(env, spec)
    seen: dict[str, Any] = {"groups": [], "tickets": 0}

    def on_msg(conn: Any, direction: str, ver: Any, ctype: Any, mtype: Any, data: bytes) -> None:
        if direction != "read" or int(ctype) != 22 or not data:  # handshake messages the client read
            return
        group = _parse_server_hello_group(data) if data[0] == 2 else _server_key_exchange_group(data)
        if group is not None:
            seen["groups"].append(group)
        elif data[0] == 4:
            seen["tickets"] += 1

    session = stdlib_connection(cctx, sctx)[0].session if resumed else None
    cctx._msg_callback = on_msg  # type: ignore[attr-defined]  # private, debugging only: not in timed runs
    c, s = stdlib_connection(cctx, sctx, session)
    cctx._msg_callback = None  # type: ignore[attr-defined]
    groups = seen["groups"]
    info = {
        "version": c.version(),
        "cipher_suite": c.cipher()[0] if c.cipher() else None,
        "server_cipher_suite": s.cipher()[0] if s.cipher() else None,
        "group": NamedGroup(groups[0]).name if groups else None,
        "resumed": c.session_reused and s.session_reused,
        "tickets": seen["tickets"],
        "openssl": ssl.OPENSSL_VERSION,
    }
    want: dict[str, Any] = {
        "version": spec.want_version,
        "cipher_suite": spec.want_suite,
        "server_cipher_suite": spec.want_suite,
        "resumed": resumed,
    }
    tickets = spec.tickets_on_resume if resumed else 1
    if tickets is not None:
        want["tickets"] = tickets
    if groups or not resumed:  # a TLS 1.2 resumption has no key exchange
        want["group"] = spec.want_group
    bad = {k: (info[k], v) for k, v in want.items() if info[k] != v}
    if bad:
        hint = ""
        if "cipher_suite" in bad:
            hint = f" (is OPENSSL_CONF={os.environ.get('OPENSSL_CONF')} honoured?)"
        raise SystemExit(f"stdlib sanity check failed (got, wanted): {bad}{hint}")
    return info


# ------------------------------------------------------------------- rows


@dataclass
class Case:
    """One table row: a runner factory per implementation (None = n/a)."""

    label: str
    ours: Callable[[], Callable[[], None]] | None
    stdlib: Callable[[], Callable[[], None]] | None
    ours_sanity: Callable[[], dict[str, Any]] | None = None
    stdlib_sanity: Callable[[], dict[str, Any]] | None = None
    target: float | None = None
    note: str = ""


def tls13_cases(env: Env) -> list[Case]:
    mlkem = NamedGroup.X25519MLKEM768
    return [
        Case(
            "TLS 1.3 full (x25519)",
            lambda: ours_runner(env, resumed=False),
            lambda: stdlib_runner(env, resumed=False),
            lambda: ours_sanity(env, resumed=False),
            lambda: stdlib_sanity(env, resumed=False),
            target=2.0,
        ),
        Case(
            "TLS 1.3 resumed (x25519)",
            lambda: ours_runner(env, resumed=True),
            lambda: stdlib_runner(env, resumed=True),
            lambda: ours_sanity(env, resumed=True),
            lambda: stdlib_sanity(env, resumed=True),
            target=3.0,
        ),
        Case(
            "TLS 1.3 full (X25519MLKEM768)",
            lambda: ours_runner(env, resumed=False, group=mlkem),
            None,
            lambda: ours_sanity(env, resumed=False, group=mlkem),
            None,
            note="stdlib: OpenSSL 3.0 has no X25519MLKEM768",
        ),
    ]


def tls12_cases(env: Env) -> list[Case]:
    """TLS 1.2 rows: ECDHE x25519, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    (OpenSSL's ECDHE-ECDSA-AES128-GCM-SHA256), both ends pinned to TLS 1.2,
    RFC 5077 tickets and extended master secret on both sides.

    Resumption is by ticket, verified per handshake (ours ``resumed``, stdlib
    ``session_reused``); neither server renews a ticket it can still open, so
    both clients keep offering the first one. The resumed row is reported
    without a target.
    """
    return [
        Case(
            "TLS 1.2 full (x25519)",
            lambda: ours_runner(env, resumed=False, spec=OURS12),
            lambda: stdlib_runner(env, resumed=False, spec=TLS12),
            lambda: ours_sanity(env, resumed=False, spec=OURS12),
            lambda: stdlib_sanity(env, resumed=False, spec=TLS12),
            target=2.0,
        ),
        Case(
            "TLS 1.2 resumed (x25519)",
            lambda: ours_runner(env, resumed=True, spec=OURS12),
            lambda: stdlib_runner(env, resumed=True, spec=TLS12),
            lambda: ours_sanity(env, resumed=True, spec=OURS12),
            lambda: stdlib_sanity(env, resumed=True, spec=TLS12),
        ),
    ]


# ------------------------------------------------------------ measurement


@dataclass
class Measurement:
    batch_size: int = 0
    rates: list[float] = field(default_factory=list)  # handshakes per CPU-second, one per batch

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_handshakes_per_cpu_s": round(self.median, 2),
            "median_cpu_ms_per_handshake": round(1000 / self.median, 4),
            "batch_size": self.batch_size,
            "batches": [round(r, 2) for r in self.rates],
        }


def _time_batch(run: Callable[[], None], n: int) -> float:
    gc.collect()
    t0 = time.process_time()
    for _ in range(n):
        run()
    dt = time.process_time() - t0
    return n / dt if dt > 0 else float("inf")


def _calibrate(run: Callable[[], None], per_batch: float) -> int:
    """Batch size so one batch takes about ``per_batch`` CPU seconds (warms up too)."""
    n, spent = 0, 0.0
    t0 = time.process_time()
    while spent < min(0.2, per_batch) or n < 3:
        run()
        n += 1
        spent = time.process_time() - t0
    return max(1, round(per_batch / (spent / n)))


def measure(case: Case, seconds: float, batches: int) -> tuple[Measurement | None, Measurement | None]:
    """``seconds`` of CPU for the row, shared by the implementations it has."""
    factories = [f for f in (case.ours, case.stdlib) if f is not None]
    per_batch = seconds / batches / max(1, len(factories))
    runners: list[tuple[Measurement, Callable[[], None]]] = []
    results: list[Measurement | None] = []
    for factory in (case.ours, case.stdlib):
        if factory is None:
            results.append(None)
            continue
        run = factory()
        m = Measurement(batch_size=_calibrate(run, per_batch))
        runners.append((m, run))
        results.append(m)
    for _ in range(batches):  # interleaved, so drift and load hit both alike
        for m, run in runners:
            m.rates.append(_time_batch(run, m.batch_size))
    return results[0], results[1]


def run_table(args: argparse.Namespace) -> None:
    import ssl

    from cryptography import __version__ as crypto_version
    from cryptography.hazmat.backends.openssl import backend

    env = Env.make()
    cases = [*tls13_cases(env), *tls12_cases(env)]
    meta = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "stdlib_openssl": ssl.OPENSSL_VERSION,
        "cryptography": crypto_version,
        "cryptography_openssl": backend.openssl_version_text(),
        "openssl_conf": os.environ.get("OPENSSL_CONF"),
        "seconds_per_row": args.seconds,
        "batches": args.batches,
        "clock": "time.process_time (client + server, one process)",
        "certificate": "ECDSA P-256 leaf for localhost, signed by a P-256 CA; both clients verify",
    }
    print(
        f"Python {meta['python']}, stdlib {meta['stdlib_openssl']}, cryptography {meta['cryptography']} "
        f"({meta['cryptography_openssl']})"
    )
    print(
        f"~{args.seconds:g} CPU-s per row, {args.batches} interleaved batches per implementation; medians", flush=True
    )
    rows: list[dict[str, Any]] = []
    for case in cases:
        sanity = {
            "ours": case.ours_sanity() if case.ours_sanity else None,
            "stdlib": case.stdlib_sanity() if case.stdlib_sanity else None,
        }
        ours, std = measure(case, args.seconds, args.batches)
        ratio = std.median / ours.median if ours is not None and std is not None else None
        result = None
        if ratio is not None and case.target is not None:
            result = "PASS" if ratio <= case.target else "MISS"
        rows.append(
            {
                "label": case.label,
                "ours": ours.as_dict() if ours else None,
                "stdlib": std.as_dict() if std else None,
                "ratio": round(ratio, 3) if ratio is not None else None,
                "target": case.target,
                "result": result,
                "paired_ratio_median": round(
                    statistics.median(b / a for a, b in zip(ours.rates, std.rates, strict=True)), 3
                )
                if ours is not None and std is not None
                else None,
                "sanity": sanity,
                "note": case.note,
            }
        )
        print(f"  measured {case.label}", file=sys.stderr, flush=True)
    _print_table(rows)
    for row in rows:
        if row["note"]:
            print(f"note: {row['label']}: {row['note']}")
    for prefix, where in (("TLS 1.3", "ServerHello key_share"), ("TLS 1.2", "ServerKeyExchange curve")):
        full = next(
            (r["sanity"] for r in rows if r["label"].startswith(f"{prefix} full") and r["sanity"]["stdlib"]), None
        )
        if full and full["ours"]:
            o, st = full["ours"], full["stdlib"]
            print(
                f"checked {prefix}: ours {o['cipher_suite']} / {o['group']}; stdlib {st['cipher_suite']} / "
                f"{st['group']} ({where}); one ticket each from the full handshake; resumption verified"
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json}")


def _print_table(rows: list[dict[str, Any]]) -> None:
    head = ("row", "ours hs/CPU-s", "stdlib hs/CPU-s", "ours/stdlib CPU", "target", "result")
    body = []
    for r in rows:
        ours = r["ours"]["median_handshakes_per_cpu_s"] if r["ours"] else None
        std = r["stdlib"]["median_handshakes_per_cpu_s"] if r["stdlib"] else None
        body.append(
            (
                r["label"],
                f"{ours:,.0f}" if ours is not None else "n/a",
                f"{std:,.0f}" if std is not None else "n/a",
                f"{r['ratio']:.2f}x" if r["ratio"] is not None else "n/a",
                f"<= {r['target']:.1f}x" if r["target"] is not None else "-",
                r["result"] or "-",
            )
        )
    widths = [max(len(x[i]) for x in (head, *body)) for i in range(len(head))]
    line = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    print()
    print(line.format(*head))
    print("  ".join("-" * w for w in widths))
    for b in body:
        print(line.format(*b))
    print()


def run_profile(args: argparse.Namespace) -> None:
    import cProfile
    import pstats

    env = Env.make()
    group = NamedGroup.X25519MLKEM768 if args.profile == "mlkem" else NamedGroup.x25519
    spec = OURS12 if args.profile.endswith("12") else OURS13
    run = ours_runner(env, resumed=args.profile.startswith("resumed"), group=group, spec=spec)
    n = _calibrate(run, args.seconds)
    prof = cProfile.Profile()
    t0 = time.process_time()
    prof.enable()
    for _ in range(n):
        run()
    prof.disable()
    dt = time.process_time() - t0
    print(f"profile: ours, {args.profile}, {n} handshakes, {dt / n * 1000:.3f} CPU-ms each under cProfile")
    pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--seconds", type=float, default=2.0, help="CPU seconds per row, shared by its implementations (default 2)"
    )
    ap.add_argument("--batches", type=int, default=5, help="timed batches per measurement (default 5)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument(
        "--profile", choices=("full", "resumed", "mlkem", "full12", "resumed12"), help="cProfile our engine instead"
    )
    ap.add_argument("--top", type=int, default=25, help="functions shown with --profile (default 25)")
    args = ap.parse_args(argv)
    if args.batches < 1 or args.seconds <= 0:
        ap.error("--batches must be >= 1 and --seconds > 0")
    if args.profile:
        run_profile(args)
        return
    _reexec_with_openssl_conf()
    run_table(args)


if __name__ == "__main__":
    main()
