"""``https-request resolve NAME``: the addresses ``get`` would try, in order.

Asks the stub resolver (:mod:`.dns.resolver`: ``--dns-server`` or
/etc/resolv.conf's servers) for AAAA, then A (lwIP's order), sorts the
answers with RFC 6724 (:func:`.dns.select.sort_destinations`: each candidate
with the source address this host would use for it) and prints them in
preference order, each pair with the rule that ordered it. When an AAAA
answer came back, the NAT64 prefix is learnt from ``ipv4only.arpa`` (RFC
7050) and each synthesised address is shown with the IPv4 address it embeds.

``-4`` / ``-6`` ask for one family only (curl's meaning); ``--json`` prints
one JSON object instead of the text; ``-vv`` prints lwIP's DNS lines
(``dns_enqueue``, ``dns_send``, ...) on stderr. An address literal is its own
only candidate (no DNS).

Exit status: 0 when the name has an address, 3 when it has none (as ``get``:
NXDOMAIN, no answer, no records of the family asked), 2 for a usage error (a
malformed ``--dns-server``, an unreadable /etc/resolv.conf).
"""

from __future__ import annotations

import argparse
import sys
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from .get_args import dns_servers_arg

__all__ = ["EXIT_DNS", "EXIT_OK", "EXIT_USAGE", "add_parser", "main"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_DNS = 3


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("resolve", help="the addresses a name resolves to, in the order get tries them")
    p.add_argument("name", help="host name (an address literal is its own answer)")
    p.add_argument(
        "--dns-server",
        "--dns-servers",
        metavar="ADDR[:PORT][,...]",
        action="extend",
        default=[],
        type=dns_servers_arg,
        help="DNS servers instead of /etc/resolv.conf's (as get's; repeatable; [IPV6]:PORT with a port)",
    )
    family = p.add_mutually_exclusive_group()
    family.add_argument("-4", "--ipv4", action="store_true", help="IPv4 addresses only (A)")
    family.add_argument("-6", "--ipv6", action="store_true", help="IPv6 addresses only (AAAA)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout instead of the text")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-vv: lwIP's DNS lines on stderr")
    p.set_defaults(func=main)


def _fail(code: int, message: str) -> int:
    sys.stderr.write(f"https-request resolve: {message}\n")
    return code


def main(args: argparse.Namespace) -> int:
    """Run ``resolve``; returns the exit status."""
    from .dns import nat64
    from .dns.select import sort_destinations

    name: str = args.name.rstrip(".") if args.name not in (".", "") else args.name
    try:
        literal: IPv4Address | IPv6Address | None = ip_address(name.strip("[]"))
    except ValueError:
        literal = None
    records: dict[IPv4Address | IPv6Address, tuple[str, int | None]] = {}
    errors: list[str] = []
    prefixes: tuple[nat64.Pref64, ...] = ()
    servers: list[str] = []
    if literal is not None:
        if (args.ipv4 and literal.version == 6) or (args.ipv6 and literal.version == 4):
            return _fail(EXIT_DNS, f"{name}: an IPv{literal.version} address, and -{6 if args.ipv6 else 4} was given")
        records[literal] = ("literal", None)
    else:
        from .dns.resolver import DnsError, StubResolver, default_resolver, parse_server

        try:
            chosen = [parse_server(text) for text in args.dns_server]
            resolver = StubResolver(chosen) if chosen else default_resolver()
        except (OSError, ValueError) as exc:
            return _fail(EXIT_USAGE, str(exc))
        if not resolver.servers:
            return _fail(EXIT_USAGE, "no DNS server: /etc/resolv.conf names none (give --dns-server)")
        servers = [str(s) for s in resolver.servers]
        if args.verbose >= 2:
            resolver.debug = lambda line: print(line, file=sys.stderr, flush=True)
        types = ("A",) if args.ipv4 else ("AAAA",) if args.ipv6 else ("AAAA", "A")
        for rdtype in types:
            try:
                answer = resolver.query(name, rdtype)
            except DnsError as exc:
                errors.append(str(exc))
                if exc.kind in ("nxdomain", "timeout", "unreachable"):
                    break  # no such name, or servers that do not answer: the other type would fare the same
                continue
            for address in answer.addresses:
                records.setdefault(address, (rdtype, answer.ttl))
            if not answer.addresses:
                errors.append(f"{name}: no {rdtype} records")
        if any(isinstance(a, IPv6Address) for a in records):
            try:
                prefixes = nat64.discover(lambda n, t: resolver.query(n, t).addresses)
            except DnsError:
                prefixes = ()  # no DNS64 to learn from: nothing is shown as synthesised
    if not records:
        return _fail(EXIT_DNS, "; ".join(errors) or f"{name}: no addresses")
    selection = sort_destinations(list(records))
    candidates: list[dict[str, Any]] = []
    for address in selection.ordered:
        rdtype, ttl = records[address]
        source = selection.source(address)
        embedded = nat64.embedded_ipv4(address, prefixes) if isinstance(address, IPv6Address) and prefixes else None
        candidates.append(
            {
                "address": str(address),
                "type": rdtype,
                "ttl": ttl,
                "source": None if source is None else str(source),
                "nat64_of": None if embedded is None else str(embedded),
            }
        )
    decisions: list[dict[str, Any]] = [
        {"rule": d.rule, "first": str(d.first), "second": str(d.second), "detail": d.detail}
        for d in selection.decisions
    ]
    if args.json:
        import json

        report: dict[str, Any] = {
            "name": name,
            "servers": servers,
            "nat64_prefixes": [str(p.network) for p in prefixes],
            "candidates": candidates,
            "decisions": decisions,
            "errors": errors,
        }
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return EXIT_OK
    out = [name + (f" (NAT64 prefix {', '.join(str(p.network) for p in prefixes)})" if prefixes else "")]
    width = max(len(c["address"]) for c in candidates)
    for i, c in enumerate(candidates):
        ttl_text = "" if c["ttl"] is None else f"  ttl {c['ttl']}"
        source_text = "  source " + (c["source"] or "none (unreachable)")
        synthesised = f"  NAT64 of {c['nat64_of']}" if c["nat64_of"] else ""
        out.append(f"  {i + 1}  {c['address']:<{width}}  {c['type']:<4}{ttl_text}{source_text}{synthesised}")
        if i < len(decisions):
            d = decisions[i]
            out.append(f"     rule {d['rule']} puts it before {i + 2}: {d['detail']}")
    for error in errors:
        out.append(f"  ({error})")
    sys.stdout.write("\n".join(out) + "\n")
    return EXIT_OK
