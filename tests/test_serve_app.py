"""``serve``'s answers in process (``server.app``): the howsmyssl answers kept by the rating's
inputs (:class:`~https_request.server.app.RatingCache`), with real ClientHellos from our
client and from stdlib ssl; each must be exactly what a fresh rating renders."""

from __future__ import annotations

import json
import ssl
from datetime import UTC, datetime, timedelta

import pytest

from https_request.howsmyssl import rating
from https_request.howsmyssl import tables as T
from https_request.server.app import AppConfig, RatingCache, RequestReader, TlsInfo, render_report, route
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import ClientConfig
from https_request.tls.enums import CipherSuite, NamedGroup, ProtocolVersion
from https_request.tls.messages import ClientHello

HOST = "www.howsmyssl.com"
TLS12, TLS13 = ProtocolVersion.TLS1_2, ProtocolVersion.TLS1_3
NOW = datetime(2026, 7, 1, tzinfo=UTC)


def ours(**kw: object) -> bytes:
    """The ClientHello message our client sends (no verification: only the hello matters)."""
    conn = ClientConnection(ClientConfig(verifier=None, **kw), HOST)  # type: ignore[arg-type]
    conn.start_handshake()
    flight = conn.data_to_send()
    return flight[5 : 5 + int.from_bytes(flight[3:5], "big")]


def stdlib(ciphers: str | None = None) -> bytes:
    ctx = ssl.create_default_context()
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=HOST)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    record = outgoing.read()
    return record[5 : 5 + int.from_bytes(record[3:5], "big")]


def info(hello: bytes, version: int = TLS13, peer: str = "127.0.0.1:1", decoded: bool = True) -> TlsInfo:
    parsed = ClientHello.decode(hello[4:]) if decoded else None
    return TlsInfo(hello, version, 0x1301, NamedGroup.x25519, HOST, None, False, 0, peer, 0, parsed)


def get(path: str, tls: TlsInfo, config: AppConfig) -> bytes:
    request = RequestReader().feed(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    assert request is not None
    response = route(request, tls, config)
    assert response.status == 200
    return response.body


def fresh(hello: bytes, version: int, schema: rating.Schema, now: datetime) -> dict[str, object]:
    return rating.check(hello, negotiated_version=version, schema=schema, now=now)


HELLOS = {
    "ours default": ours(),
    "ours TLS 1.2 only": ours(versions=(TLS12,)),
    "ours x25519 only": ours(groups=(NamedGroup.x25519,), key_share_groups=(NamedGroup.x25519,)),
    "ours one suite": ours(cipher_suites=(CipherSuite.TLS_AES_128_GCM_SHA256,)),
    "stdlib": stdlib(),
    "stdlib with CBC": stdlib("ECDHE+AESGCM:ECDHE+AES"),
}


@pytest.mark.parametrize("schema", ["classic", "2026"])
def test_every_client_gets_its_own_rating_from_one_cache(schema: rating.Schema) -> None:
    """Six different ClientHellos, twice each (the second time from what was kept), interleaved:
    each answer is the fresh rating of that client's hello, JSON and page."""
    config = AppConfig(schema=schema, clock=NOW.timestamp)
    for _ in range(2):
        for name, hello in HELLOS.items():
            version = TLS12 if name == "ours TLS 1.2 only" else TLS13
            expected = fresh(hello, version, schema, NOW)
            rated = rating.inputs(ClientHello.decode(hello[4:]), negotiated_version=version, schema=schema, now=NOW)
            assert get("/a/check", info(hello, version), config) == rating.to_json(expected), name
            assert get("/", info(hello, version), config) == render_report(expected, rated).encode(), name
    assert len(config.cache) == 2 * len(HELLOS) and config.cache.hits == 2 * len(HELLOS)
    # the answers differ where the hellos differ in what is shown
    answers = {get("/a/check", info(h), config) for h in HELLOS.values()}
    assert len(answers) == len(HELLOS) - (schema == "classic")  # classic shows no groups: x25519-only == default


def test_what_is_not_rated_shares_an_answer() -> None:
    """Two connections of one client (another random, session id, key share, address): one entry."""
    config = AppConfig(schema="2026", clock=NOW.timestamp)
    first, second = ours(), ours()
    assert first != second
    a = get("/a/check", info(first, peer="127.0.0.1:1"), config)
    b = get("/a/check", info(second, peer="127.0.0.2:2", decoded=False), config)  # (parsed from the bytes)
    assert a == b and len(config.cache) == 1 and config.cache.hits == 1
    assert b"127.0.0" not in a


def test_the_2026_cutovers_are_part_of_the_key() -> None:
    """One cache, the same hello before and after each cutover: three ratings, none stale."""
    cache = RatingCache()
    hello = ours(versions=(TLS12,))
    verdicts = []
    for when in (T.IMPROVABLE_AT - timedelta(seconds=1), T.IMPROVABLE_AT, T.BAD_AT):
        config = AppConfig(schema="2026", clock=when.timestamp, cache=cache)
        body = get("/a/check", info(hello, TLS12), config)
        assert body == rating.to_json(fresh(hello, TLS12, "2026", when))
        verdicts.append(json.loads(body)["rating"])
    assert verdicts == [rating.PROBABLY_OKAY, rating.IMPROVABLE, rating.BAD] and len(cache) == 3


def test_cache_is_bounded_by_entries_and_bytes() -> None:
    hello = ClientHello.decode(ours()[4:])

    def inputs(n: int, suites: int = 4) -> rating.Inputs:
        fake = ClientHello(hello.legacy_version, hello.random, b"", tuple(range(n, n + suites)),
                           hello.legacy_compression_methods, hello.extensions)  # fmt: skip
        return rating.inputs(fake, negotiated_version=TLS13, schema="2026", now=NOW)

    cache = RatingCache(max_entries=8, max_bytes=64 * 1024)
    for n in range(100):
        assert cache.get("json", inputs(n), rating.to_json) == rating.to_json(rating.rate(inputs(n)))
        assert len(cache) <= 8 and cache.bytes <= 64 * 1024
    assert len(cache) == 8
    # the least recently used goes first: touch the oldest, add one more, it stays
    oldest = 92
    cache.get("json", inputs(oldest), rating.to_json)
    hits = cache.hits
    cache.get("json", inputs(1000), rating.to_json)
    cache.get("json", inputs(oldest), rating.to_json)
    assert cache.hits == hits + 1
    # bytes: many suites make big entries; the total stays under the bound
    small = RatingCache(max_entries=1000, max_bytes=200_000)
    for n in range(0, 30_000, 300):
        small.get("json", inputs(n, suites=100), rating.to_json)
        assert small.bytes <= 200_000
    assert 0 < len(small) < 100
    # an answer over a sixteenth of the budget is rendered but not kept
    tiny = RatingCache(max_bytes=16 * 1024)
    body = tiny.get("html", inputs(0, suites=400), lambda r: render_report(r).encode())
    assert len(body) > 1024 and len(tiny) == 0 and tiny.bytes == 0


def test_a_malformed_hello_is_not_kept() -> None:
    """An extension body the rating cannot decode: 500, every time, nothing kept."""
    hello = ClientHello.decode(ours()[4:])
    broken = tuple(e if e.type != 10 else type(e)(10, b"\x00\x03\x00\x1d\x00") for e in hello.extensions)
    raw = ClientHello(hello.legacy_version, hello.random, b"", hello.cipher_suites, b"\x00", broken).encode()
    message = bytes((1,)) + len(raw).to_bytes(3, "big") + raw
    config = AppConfig(schema="2026", clock=NOW.timestamp)
    for _ in range(2):
        request = RequestReader().feed(f"GET /a/check HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        assert request is not None
        assert route(request, info(message), config).status == 500
    assert len(config.cache) == 0


@pytest.mark.parametrize(
    "host",
    ["www.howsmyssl.com", "WWW.HowsMySSL.com", "www.howsmyssl.com:443", "www.howsmyssl.com:", "www.howsmyssl.com.",
     "localhost", "127.0.0.1:8443", ":443", "[::1]:443", "user@www.howsmyssl.com", "www.howsmyssl.com:x", "[::1"],
)  # fmt: skip
def test_the_host_header_names_the_host_urlsplit_finds(host: str) -> None:
    """Routing by the Host header (--strict-howsmyssl): the howsmyssl answers exactly when urlsplit's
    hostname is its host, the 301 otherwise; without it, the same answer on every host."""
    from urllib.parse import urlsplit

    try:
        expected = urlsplit("//" + host).hostname == HOST
    except ValueError:
        expected = False
    request = RequestReader(fast=False).feed(f"GET /a/check HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    assert request is not None
    hello = info(ours())
    strict = route(request, hello, AppConfig(strict_howsmyssl=True))
    assert strict.status == (200 if expected else 301)
    assert ("Strict-Transport-Security", rating_hsts()) in strict.headers
    default = route(request, hello, AppConfig())
    assert default.status == 200 and default.body.startswith(b'{"given_cipher_suites":')


def rating_hsts() -> str:
    return "max-age=631138519; includeSubdomains; preload"


def test_the_page_says_why() -> None:
    """The report page lists what lowered the rating: TLS 1.2 and no post-quantum group after the
    2026-06-14 cutover (Improvable), compression or RC4 (Bad); nothing for a modern hello."""
    import re

    def reasons(page: bytes) -> list[str]:
        found = re.search(rb'<ul class="why" id="reasons">(.*?)</ul>', page, re.S)
        assert found is not None
        return [re.sub(r"<[^>]+>", "", li) for li in re.findall(r"<li[^>]*>(.*?)</li>", found.group(1).decode())]

    config = AppConfig(schema="2026", clock=NOW.timestamp)
    page = get("/", info(HELLOS["ours TLS 1.2 only"], TLS12), config)
    assert b'id="rating" class="improvable">Improvable<' in page and b'id="version">TLS 1.2<' in page
    assert [r.split(":")[0] for r in reasons(page)] == ["ImprovableProtocol version"]
    assert "since 2026-06-14 17:00 UTC" in reasons(page)[0]
    page = get("/", info(HELLOS["ours x25519 only"]), config)  # (TLS 1.3 suites only: no "DHE_" in a name)
    titles = [r.split(":")[0] for r in reasons(page)]
    assert titles == ["ImprovableEphemeral keys", "ImprovablePost-quantum key agreement"]
    classic = get("/", info(HELLOS["ours TLS 1.2 only"], TLS12), AppConfig(clock=NOW.timestamp))
    assert reasons(classic) == ["GoodNothing in this hello lowers the rating."]
    rc4 = stdlib("ECDHE+AESGCM:RC4-SHA:@SECLEVEL=0")
    result = fresh(rc4, TLS13, "classic", NOW)
    if result["insecure_cipher_suites"]:  # (an OpenSSL built without RC4 offers none)
        page = get("/", info(rc4), AppConfig(clock=NOW.timestamp))
        assert b'class="bad">Bad<' in page and any(r.startswith("BadInsecure cipher suites") for r in reasons(page))
        assert b"<code>TLS_RSA_WITH_RC4_128_SHA</code>" in page


def test_the_page_lists_a_bounded_part_of_a_huge_hello() -> None:
    """tlsfuzzer's test-large-hello offers up to 32,000 suites: the JSON names every one, the page
    the first PAGE_LIST_MAX and how many more (it was 50 bytes a suite, megabytes for 64 KiB of hello)."""
    import re

    from https_request.server.report_page import PAGE_LIST_MAX

    suites = [*range(0x0100, 0x0100 + 8000), 0xC02F]  # ... and TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    body = (b"\x03\x03" + bytes(32) + b"\x00" + (2 * len(suites)).to_bytes(2, "big")
            + b"".join(s.to_bytes(2, "big") for s in suites) + b"\x01\x00")  # fmt: skip
    hello = b"\x01" + len(body).to_bytes(3, "big") + body
    for config in (AppConfig(clock=NOW.timestamp), AppConfig(schema="2026", clock=NOW.timestamp)):
        result = json.loads(get("/a/check", info(hello, TLS12), config))
        assert len(result["given_cipher_suites"]) == len(suites)
        page = get("/", info(hello, TLS12), config)
        listing = re.search(rb"<h2>Cipher suites given \((\d+)\)</h2><ul>(.*?)</ul>", page)
        assert listing is not None and int(listing[1]) == len(suites)
        assert listing[2].count(b"<li><code>") == PAGE_LIST_MAX
        assert f"and {len(suites) - PAGE_LIST_MAX} more".encode() in listing[2]
        assert len(page) < 16384  # (one TLS record)
