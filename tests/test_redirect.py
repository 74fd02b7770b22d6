"""The one redirect rule (:mod:`https_request.redirect`) that ``get -L`` and the API's clients follow."""

from __future__ import annotations

import pytest

from https_request.redirect import redirect

HEADERS = [
    ("Authorization", "Bearer t"),
    ("Cookie", "a=b"),
    ("Proxy-Authorization", "Basic x"),
    ("Host", "example.com"),
    ("Content-Type", "text/plain"),
    ("Content-Length", "4"),
    ("X-Kept", "1"),
]


def names(headers: list[tuple[str, str]]) -> set[str]:
    return {n.lower() for n, _ in headers}


@pytest.mark.parametrize(
    ("method", "status", "after", "drops_body"),
    [
        ("POST", 303, "GET", True),
        ("PUT", 303, "GET", True),
        ("HEAD", 303, "HEAD", False),
        ("POST", 301, "GET", True),
        ("POST", 302, "GET", True),
        ("PUT", 302, "PUT", False),
        ("POST", 307, "POST", False),
        ("POST", 308, "POST", False),
    ],
)
def test_method_and_body(method: str, status: int, after: str, drops_body: bool) -> None:
    r = redirect(method, "https://example.com/a", HEADERS, status, "/b")
    assert (r.method, r.url, r.drops_body) == (after, "https://example.com/b", drops_body)
    body_headers = {"content-type", "content-length"}
    assert (body_headers & names(r.headers)) == (set() if drops_body else body_headers)


@pytest.mark.parametrize(
    ("location", "same"),
    [
        ("/elsewhere", True),
        ("https://EXAMPLE.com:443/x", True),  # the default port and the host's case do not make another origin
        ("https://other.example/x", False),
        ("https://example.com:8443/x", False),
        ("http://example.com/x", False),  # https -> http leaves the origin: no credentials in clear
    ],
)
def test_credentials_stay_with_their_origin(location: str, same: bool) -> None:
    r = redirect("GET", "https://example.com/a", HEADERS, 302, location)
    credentials = {"authorization", "cookie", "proxy-authorization", "host"}
    assert (credentials <= names(r.headers)) is same
    assert not same or r.headers == HEADERS
    assert same or not credentials & names(r.headers)
    assert "x-kept" in names(r.headers)


def test_an_unparsable_location_counts_as_another_origin() -> None:
    r = redirect("GET", "https://example.com/a", HEADERS, 302, "https://example.com:99999/")
    assert not {"authorization", "cookie"} & names(r.headers)
