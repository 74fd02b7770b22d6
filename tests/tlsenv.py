"""Shared set-up for the engine tests (test_engine, test_negative, test_fuzz).

Everything is deterministic where the engine allows it: a fixed, advanceable
clock (:class:`Clock`, starting at :data:`certs.NOW`) and seeded randomness
(``random.Random(seed).randbytes``) go into every config. ML-KEM encapsulation
and ECDSA signing still draw their own randomness inside ``cryptography``.

Record surgery: :class:`KeyLog` captures the NSS key log lines a connection
emits, so a test can decrypt a peer's records with :func:`open_records`,
change the plaintext and re-encrypt it at the same sequence numbers with
:func:`seal_records`, without mocking either side; :func:`tls12_protectors`
does the same for TLS 1.2 from the key log's master secret.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from certs import NOW, make_ca, make_leaf
from https_request.log import certificate_summary
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import ClientConfig, ServerConfig
from https_request.tls.debug import hexdump_lines
from https_request.tls.enums import ContentType
from https_request.tls.errors import Reason, TlsError
from https_request.tls.keyschedule12 import key_block
from https_request.tls.protection import Protector
from https_request.tls.protection12 import Protector12
from https_request.tls.server13 import ServerConnection
from https_request.tls.session import Session, TicketKeys
from https_request.tls.suites import SUITES
from https_request.tls.verify import WebPkiVerifier

__all__ = [
    "CA",
    "CLIENT_LEAF",
    "LEAF",
    "VERIFIER",
    "Clock",
    "FormattingDebug",
    "KeyLog",
    "client_config",
    "open_records",
    "pair",
    "plaintext_alert",
    "seal_records",
    "seeded",
    "server_config",
    "split_records",
    "ticket_keys",
    "tls12_protectors",
]

CA = make_ca()
LEAF = make_leaf(CA, ["localhost"])
CLIENT_LEAF = make_leaf(CA, ["client.test"], eku="clientAuth")
VERIFIER = WebPkiVerifier([CA.cert])


class Clock:
    """A settable clock: ``clock()`` is the time, ``clock.t += 10`` moves it."""

    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class FormattingDebug:
    """A level-4 debug sink that formats everything as the ESP printer would
    (hex dumps, certificate summaries) and prints nothing: debug paths run."""

    threshold = 4

    def msg(self, level: int, text: str) -> None:
        str(text)

    def ret(self, level: int, fn: str, err: int) -> None:
        pass

    def buf(self, level: int, text: str, data: bytes) -> None:
        hexdump_lines(bytes(data))

    def crt(self, level: int, text: str, der: bytes) -> None:
        certificate_summary(der)


def seeded(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


class KeyLog:
    """Collects NSS key log lines; :meth:`secret` returns one by label."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def secret(self, label: str, index: int = -1) -> bytes:
        found = [bytes.fromhex(parts[2]) for parts in (ln.split() for ln in self.lines) if parts[0] == label]
        if not found:
            raise KeyError(label)
        return found[index]


def client_config(*, seed: int = 1, clock: Clock | None = None, **kw: Any) -> ClientConfig:
    kw.setdefault("verifier", VERIFIER)
    return ClientConfig(now=clock or Clock(), random=seeded(seed), **kw)


def server_config(*, seed: int = 2, clock: Clock | None = None, **kw: Any) -> ServerConfig:
    kw.setdefault("certificates", (LEAF.certified_key(),))
    return ServerConfig(now=clock or Clock(), random=seeded(seed), **kw)


def ticket_keys(clock: Clock | None = None, lifetime: int = 86400, seed: int = 3) -> TicketKeys:
    return TicketKeys(seeded(seed), lifetime=lifetime, now=(clock or Clock())())


def pair(
    ccfg: ClientConfig | None = None,
    scfg: ServerConfig | None = None,
    server_name: str | None = "localhost",
    session: Session | None = None,
) -> tuple[ClientConnection, ServerConnection]:
    return (
        ClientConnection(ccfg or client_config(), server_name, session=session),
        ServerConnection(scfg or server_config()),
    )


def split_records(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """``(content type, header, payload)`` of every complete record (no checks)."""
    out = []
    pos = 0
    while pos + 5 <= len(data):
        n = int.from_bytes(data[pos + 3 : pos + 5], "big")
        out.append((data[pos], data[pos : pos + 5], data[pos + 5 : pos + 5 + n]))
        pos += 5 + n
    assert pos == len(data), "trailing partial record"
    return out


def plaintext_alert(data: bytes) -> tuple[int, int]:
    """(level, description) of the single plaintext alert record in ``data``."""
    recs = split_records(data)
    assert len(recs) == 1 and recs[0][0] == ContentType.ALERT, recs
    payload = recs[0][2]
    assert len(payload) == 2
    return payload[0], payload[1]


def client_hello_rejected(c: ClientConnection, s: ServerConnection, reason: Reason, alert: int) -> bytes:
    """The server refuses ``c``'s first flight with ``reason``, and a fatal
    plaintext ``alert`` is what it sends; returns that alert record."""
    c.start_handshake()
    with pytest.raises(TlsError) as ei:
        s.receive_data(c.data_to_send())
    assert ei.value.reason is reason
    record = s.data_to_send()
    assert plaintext_alert(record) == (2, alert)
    return record


def open_records(
    suite: int, secret: bytes, records: list[tuple[int, bytes, bytes]], seq: int = 0
) -> list[tuple[int, bytes]]:
    """Decrypt protected records in order, starting at sequence number ``seq``."""
    p = Protector(SUITES[suite], secret)
    p.seq = seq
    return [p.open(header, payload) for _, header, payload in records]


def seal_records(suite: int, secret: bytes, items: list[tuple[int, bytes]], seq: int = 0) -> bytes:
    """Encrypt ``(content type, data)`` items as records, from sequence number ``seq``."""
    p = Protector(SUITES[suite], secret)
    p.seq = seq
    return b"".join(p.seal(ctype, data) for ctype, data in items)


def tls12_protectors(
    keylog: KeyLog, client_random: bytes, server_random: bytes, suite_id: int, etm: bool
) -> tuple[Protector12, Protector12]:
    """TLS 1.2 (client write, server write) protection, from the key log's master secret."""
    suite = SUITES[suite_id]
    line = next(ln.split() for ln in reversed(keylog.lines) if ln.startswith("CLIENT_RANDOM "))
    assert bytes.fromhex(line[1]) == client_random
    master = bytes.fromhex(line[2])
    cmac, smac, ckey, skey, civ, siv = key_block(
        suite.hash_name, master, client_random, server_random, suite.mac_len, suite.key_len, suite.iv_len
    )
    rnd = bytes  # CBC IVs of zeros are fine for re-sealing in a test
    return (
        Protector12(suite, ckey, civ, cmac, etm=etm, random=rnd),
        Protector12(suite, skey, siv, smac, etm=etm, random=rnd),
    )
