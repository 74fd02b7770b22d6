"""curl's --connect-to and --resolve grammars (https_request.curlargs)."""

from __future__ import annotations

import pytest

from https_request.curlargs import ConnectTo, check_host, parse_connect_to, parse_resolve


@pytest.mark.parametrize(
    ("entry", "rule"),
    [
        ("example.com:443:127.0.0.1:8443", ConnectTo("example.com", 443, "127.0.0.1", 8443)),
        (":::", ConnectTo("", None, "", None)),
        ("::other.example:", ConnectTo("", None, "other.example", None)),
        (":443::8443", ConnectTo("", 443, "", 8443)),
        ("a.example:443::", ConnectTo("a.example", 443, "", None)),
        ("[2001:db8::1]:443:[::1]:4433", ConnectTo("2001:db8::1", 443, "::1", 4433)),
        ("::[::1]:", ConnectTo("", None, "::1", None)),
        ("[::1]:443::", ConnectTo("::1", 443, "", None)),
        ("a_b.example:1:c-d.example:65535", ConnectTo("a_b.example", 1, "c-d.example", 65535)),
    ],
)
def test_connect_to(entry: str, rule: ConnectTo) -> None:
    assert parse_connect_to(entry) == rule


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("", "is not HOST1:PORT1:HOST2:PORT2"),
        ("a:443", "is not HOST1:PORT1:HOST2:PORT2"),
        ("a:443:b", "is not HOST1:PORT1:HOST2:PORT2"),
        ("a:1:2:3:4", "is not HOST1:PORT1:HOST2:PORT2"),
        ("example.com:443:::1:8443", "is not HOST1:PORT1:HOST2:PORT2"),  # IPv6 without brackets
        ("[::1:443:b:1", "is not HOST1:PORT1:HOST2:PORT2"),  # unclosed bracket
        ("a:443:b:x", "port 'x' is not a port number (1-65535)"),
        ("a:https:b:1", "port 'https' is not a port number"),
        ("a:0:b:1", "port '0' is not a port number"),
        ("a:443:b:65536", "port '65536' is not a port number"),
        ("a:-1:b:1", "port '-1' is not a port number"),
        ("a:\u0661:b:1", "port '\u0661' is not a port number"),  # a non-ASCII digit
        ("[nope]:443:b:1", "host '[nope]' is not a bracketed IPv6 address"),
        ("[1.2.3.4]:443:b:1", "host '[1.2.3.4]' is not a bracketed IPv6 address"),
        ("a:443:[]:1", "host '[]' is not a bracketed IPv6 address"),
        ("exa mple:443:b:1", "host 'exa mple' is not a host name or address"),
        ("-bad:443:b:1", "host '-bad' is not a host name"),
        ("a:443:bad-:1", "host 'bad-' is not a host name"),
    ],
)
def test_connect_to_errors(entry: str, why: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_connect_to(entry)
    assert why in str(info.value)


def test_connect_to_rule() -> None:
    rule = parse_connect_to("WWW.example.com:443:127.0.0.1:")
    assert rule.matches("www.example.com", 443) and rule.target("www.example.com", 443) == ("127.0.0.1", 443)
    assert not rule.matches("www.example.com", 8443) and not rule.matches("other.example", 443)
    anything = parse_connect_to("::h:1")
    assert anything.matches("x.example", 9) and anything.target("x.example", 9) == ("h", 1)
    keep = parse_connect_to(":::8443")
    assert keep.target("x.example", 443) == ("x.example", 8443)
    rule = parse_connect_to("a:1:b:2")
    assert (rule.host, rule.port, rule.to_host, rule.to_port) == ("a", 1, "b", 2)


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("example.test:443:127.0.0.1", ("example.test", 443, "127.0.0.1")),
        ("+example.test:443:[::1],127.0.0.1", ("example.test", 443, "::1")),
        ("example.test:8443:::1", ("example.test", 8443, "::1")),
        ("example.test:443: 10.0.0.1 , 10.0.0.2", ("example.test", 443, "10.0.0.1")),
        ("*:443:127.0.0.1", ("*", 443, "127.0.0.1")),
        ("[::1]:443:127.0.0.1", ("::1", 443, "127.0.0.1")),
    ],
)
def test_resolve(entry: str, parsed: tuple[str, int, str]) -> None:
    assert parse_resolve(entry) == parsed


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("bad", "is not [+]HOST:PORT:ADDR[,ADDR...]"),
        ("a:443", "is not [+]HOST:PORT:ADDR[,ADDR...]"),
        ("[::1:443:1.2.3.4", "is not [+]HOST:PORT:ADDR[,ADDR...]"),
        (":443:1.2.3.4", "missing host"),
        ("a:443:", "missing address"),
        ("a::1.2.3.4", "port '' is not a port number"),
        ("a:x:1.2.3.4", "port 'x' is not a port number"),
        ("a:70000:1.2.3.4", "port '70000' is not a port number"),
        ("a b:443:1.2.3.4", "host 'a b' is not a host name"),
        ("a:443:not-an-ip", "address 'not-an-ip' is not an IP address"),
        ("a:443:1.2.3.4,", "address '' is not an IP address"),
        ("a:443:1.2.3.4,[nope]", "address '[nope]' is not an IP address"),
    ],
)
def test_resolve_errors(entry: str, why: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_resolve(entry)
    assert why in str(info.value)


def test_check_host() -> None:
    assert check_host("example.com") == "example.com"
    assert check_host("127.0.0.1") == "127.0.0.1"
    assert check_host("[::1]") == "::1"
    for bad in ("", "a b", "[::1", "::1", "a/b"):
        with pytest.raises(ValueError):
            check_host(bad)
