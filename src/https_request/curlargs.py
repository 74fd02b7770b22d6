"""curl's ``--connect-to`` and ``--resolve`` grammars, shared by ``get`` and the example.

``HOST1:PORT1:HOST2:PORT2`` (``--connect-to``): every field may be empty;
empty HOST1 / PORT1 match any host / port, empty HOST2 / PORT2 keep the
URL's. ``[+]HOST:PORT:ADDR[,ADDR...]`` (``--resolve``): HOST ``*`` matches
any host. IPv6 literals go in brackets (``[::1]``), except in ``--resolve``'s
address list, which takes the rest of the entry and may hold them bare.

Host names are letters, digits, ``_``, ``.`` and ``-`` (not leading or
trailing ``-``); ports are decimal 1-65535; a bracketed field must be an
IPv6 address; ``--resolve`` addresses must be IP addresses, as in curl.
Errors are ValueError with a message that names the bad part; callers add
which option it came from.

Light to import: ``ipaddress`` is loaded only to check an address.
"""

from __future__ import annotations

from .structs import Struct

__all__ = ["ConnectTo", "check_host", "parse_connect_to", "parse_resolve"]


class ConnectTo(Struct):
    """One ``curl --connect-to HOST1:PORT1:HOST2:PORT2`` rule (IPv6 without brackets).

    A Struct, not a ``typing.NamedTuple``: with postponed annotations a NamedTuple
    compiles each field's annotation at import, before ``get``'s SYN (see
    :class:`.tls.der.NameAttr`)."""

    host: str  #: "" matches any host
    port: int | None  #: None matches any port
    to_host: str  #: "" keeps the URL's host
    to_port: int | None  #: None keeps the URL's port

    def matches(self, host: str, port: int) -> bool:
        """Whether a connection to ``host:port`` is redirected by this rule."""
        return (not self.host or self.host.lower() == host.lower()) and (self.port is None or self.port == port)

    def target(self, host: str, port: int) -> tuple[str, int]:
        """Where a matching connection to ``host:port`` goes."""
        return (self.to_host or host, port if self.to_port is None else self.to_port)


#: What a host name may hold (curl's check, ASCII): letters, digits, "_", "." and "-",
#: neither starting with "." or "-" nor ending with "-". Checked with string methods:
#: the regular expressions this module had cost ~2 ms of every ``get --resolve``'s start.
_HOSTNAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def _split_host(text: str) -> tuple[str, str] | None:
    """Split a host field off the front of ``text``: a bracketed IPv6 address
    (``[...]``, no ``]`` inside) or a run holding none of ``:``, ``[`` and ``]``.
    Returns (field, the rest, which must then start with ``:``) or None."""
    if text.startswith("["):
        end = text.find("]")
        field, rest = (text[: end + 1], text[end + 1 :]) if end >= 0 else ("", "")
    else:
        field, colon, rest = text.partition(":")
        rest = colon + rest
        if "[" in field or "]" in field:
            return None
    return (field, rest) if rest.startswith(":") else None


def check_host(host: str) -> str:
    """A host name, IPv4 address or bracketed IPv6 address; returns it without brackets."""
    if host.startswith("["):
        import ipaddress

        inner = host[1:-1] if host.endswith("]") else ""
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise ValueError(f"host {host!r} is not a bracketed IPv6 address") from None
        return inner
    if not (host and _HOSTNAME_CHARS.issuperset(host) and host[0] not in ".-" and host[-1] != "-"):
        raise ValueError(f"host {host!r} is not a host name or address")
    return host


def _check_port(port: str) -> int:
    if not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"port {port!r} is not a port number (1-65535)")
    return int(port)


def _check_address(address: str) -> str:
    """An IP address, IPv6 bare or bracketed; returns it without brackets."""
    import ipaddress

    inner = address[1:-1] if address.startswith("[") and address.endswith("]") else address
    try:
        ipaddress.ip_address(inner)
    except ValueError:
        raise ValueError(f"address {address!r} is not an IP address") from None
    return inner


def parse_connect_to(text: str) -> ConnectTo:
    """Parse one ``HOST1:PORT1:HOST2:PORT2`` entry (curl ``--connect-to``); ValueError if malformed."""
    first = _split_host(text)  # HOST1, ":PORT1:HOST2:PORT2"
    p1, colon, rest = first[1][1:].partition(":") if first is not None else ("", "", "")
    second = _split_host(rest) if colon else None  # HOST2, ":PORT2"
    if first is not None and second is not None and ":" not in second[1][1:]:
        (h1, _), (h2, p2) = first, (second[0], second[1][1:])
        return ConnectTo(
            check_host(h1) if h1 else "",
            _check_port(p1) if p1 else None,
            check_host(h2) if h2 else "",
            _check_port(p2) if p2 else None,
        )
    raise ValueError(f"{text!r} is not HOST1:PORT1:HOST2:PORT2 (IPv6 addresses go in brackets)")


def parse_resolve(text: str) -> tuple[str, int, str]:
    """Parse one ``[+]HOST:PORT:ADDR[,ADDR...]`` entry (curl ``--resolve``): (host, port, first address).

    HOST ``*`` matches any host. Every address is checked; the first is used.
    Raises ValueError if malformed.
    """
    split = _split_host(text[1:] if text.startswith("+") else text)
    port, colon, addrs = split[1][1:].partition(":") if split is not None else ("", "", "")
    if not colon:
        raise ValueError(f"{text!r} is not [+]HOST:PORT:ADDR[,ADDR...] (IPv6 hosts go in brackets)")
    host = split[0] if split is not None else ""
    if not host:
        raise ValueError(f"{text!r}: missing host")
    name = host if host == "*" else check_host(host)
    number = _check_port(port)
    addresses = [a.strip() for a in addrs.split(",")]
    if not addresses[0]:
        raise ValueError(f"{text!r}: missing address")
    first, *_ = [_check_address(a) for a in addresses]  # all checked, the first used
    return name, number, first
