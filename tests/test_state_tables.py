"""The handshake state tables (tls/states.py) against the classes that dispatch them.

``states.EXPECTED_*`` name each handler as a string, and ``Connection._handle_handshake``
calls it as ``getattr(self, name)(body, whole)``. A misspelt name would only show
as an AttributeError (an internal_error alert) when a peer's message reached that
state, so every entry of every table is checked here: the handler exists on the
class that dispatches the table, is a method, takes ``(body: bytes, whole: bytes)``
and returns an ``HsState``. Which class dispatches which table is checked with
real handshakes, both versions.
"""

from __future__ import annotations

import inspect
import typing

import pytest

from helpers import shuttle
from https_request.tls import states
from https_request.tls.client13 import ClientConnection
from https_request.tls.connection import Connection
from https_request.tls.enums import HandshakeType, ProtocolVersion
from https_request.tls.events import HandshakeComplete
from https_request.tls.server13 import ServerConnection
from https_request.tls.states import HsState
from tlsenv import client_config, pair, server_config

# Each table, and the class whose instances dispatch its handler names.
DISPATCHER: dict[str, type[Connection]] = {
    "EXPECTED_CLIENT": ClientConnection,
    "EXPECTED_CLIENT12": ClientConnection,
    "EXPECTED_SERVER": ServerConnection,
    "EXPECTED_SERVER12": ServerConnection,
}
# The table each side is left with after a handshake of each version.
AFTER_HANDSHAKE = {
    ProtocolVersion.TLS1_3: ("EXPECTED_CLIENT", "EXPECTED_SERVER"),
    ProtocolVersion.TLS1_2: ("EXPECTED_CLIENT12", "EXPECTED_SERVER12"),
}


def tables() -> dict[str, dict[HsState, dict[int, str]]]:
    """Every ``EXPECTED_*`` table that states exports."""
    return {name: getattr(states, name) for name in states.__all__ if name.startswith("EXPECTED_")}


def entries() -> list[tuple[str, HsState, int, str]]:
    return [
        (table, state, msg_type, handler)
        for table, rows in tables().items()
        for state, row in rows.items()
        for msg_type, handler in row.items()
    ]


def handler_problems(cls: type, name: str) -> list[str]:
    """Why ``getattr(self, name)(body, whole)`` would not work on a ``cls`` instance
    (or return an HsState); empty when it would."""
    method = inspect.getattr_static(cls, name, None)
    if method is None:
        return [f"{cls.__name__} has no attribute {name!r}"]
    if not inspect.isfunction(method):
        return [f"{cls.__name__}.{name} is a {type(method).__name__}, not a method"]
    problems = []
    try:
        inspect.signature(method).bind(object(), b"body", b"whole")
    except TypeError as exc:
        problems.append(f"{cls.__name__}.{name} cannot be called with (body, whole): {exc}")
    hints = typing.get_type_hints(method)
    params = list(inspect.signature(method).parameters)[1:]
    if [hints.get(p) for p in params] != [bytes, bytes]:
        problems.append(f"{cls.__name__}.{name} parameters are not (bytes, bytes): {hints}")
    if hints.get("return") is not HsState:
        problems.append(f"{cls.__name__}.{name} does not return HsState: {hints.get('return')}")
    return problems


def test_every_table_has_its_dispatcher() -> None:
    assert set(tables()) == set(DISPATCHER)
    assert len(entries()) >= 20  # not vacuous


@pytest.mark.parametrize("version", list(AFTER_HANDSHAKE), ids=lambda v: v.name)
def test_the_dispatcher_uses_the_table(version: ProtocolVersion) -> None:
    """After a real handshake each side dispatches with the table the checks below pair it with."""
    client, server = pair(client_config(versions=(version,)), server_config(versions=(version,)))
    client.start_handshake()
    cev, sev = shuttle(client, server)
    assert any(isinstance(e, HandshakeComplete) for e in cev) and any(isinstance(e, HandshakeComplete) for e in sev)
    assert client.negotiated_version == version
    client_table, server_table = AFTER_HANDSHAKE[version]
    assert isinstance(client, DISPATCHER[client_table]) and client._expected is tables()[client_table]
    assert isinstance(server, DISPATCHER[server_table]) and server._expected is tables()[server_table]


@pytest.mark.parametrize(
    ("table", "state", "msg_type", "handler"),
    entries(),
    ids=[f"{t}-{s.name}-{HandshakeType(m).name}" for t, s, m, _ in entries()],
)
def test_handler_exists_with_the_dispatch_shape(table: str, state: HsState, msg_type: int, handler: str) -> None:
    assert isinstance(state, HsState)
    assert msg_type in HandshakeType.__members__.values()
    assert handler_problems(DISPATCHER[table], handler) == []


def test_checker_catches_a_misspelt_or_misshapen_handler() -> None:
    class Broken(ClientConnection):
        _parse_attribute = 3

        def _parse_two(self, body: bytes) -> HsState:
            return HsState.HANDSHAKE_OVER

        def _parse_untyped(self, body: bytes, whole: bytes) -> int:
            return 0

    assert handler_problems(Broken, "_parse_server_hello") == []
    assert handler_problems(Broken, "_parse_sever_hello") == ["Broken has no attribute '_parse_sever_hello'"]
    assert handler_problems(Broken, "_parse_attribute") == ["Broken._parse_attribute is a int, not a method"]
    assert len(handler_problems(Broken, "_parse_two")) == 2  # one argument short, and not (bytes, bytes)
    assert handler_problems(Broken, "_parse_untyped") == [
        "Broken._parse_untyped does not return HsState: <class 'int'>"
    ]
