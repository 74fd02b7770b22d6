"""The check server's report page (``GET /``): one rating, for a person.

What howsmyssl.com's page tells (the version, ephemeral keys, session
tickets, TLS compression, BEAST, the insecure suites with why, the suites
given, the rating and what brought it down), in markup and words of our own.
One self-contained document: the style is inline, no script, font, image or
link to another site, so it works offline; a viewport meta and a fluid grid
make it readable on a phone. The facts come from the ``/a/check`` object
(:func:`..howsmyssl.rating.rate`) and, for the 2026 schema's dated rules, the
rating's inputs (which cutovers have passed); the same inputs render the same
bytes (:class:`.app.RatingCache` keeps them).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from ..howsmyssl import rating

__all__ = ["PAGE_LIST_MAX", "render"]

#: Entries of each "given" list the page shows (the JSON has them all), so that the page does not
#: grow with the hello: 50 bytes a suite made a 64 KiB hello of 32,000 suites (tlsfuzzer's
#: test-large-hello) a 1.6 MB page; bounded, a few KiB.
PAGE_LIST_MAX = 64

GOOD, IMPROVABLE, BAD, INFO = "Good", "Improvable", "Bad", "Note"
_CLASS = {GOOD: "good", IMPROVABLE: "improvable", BAD: "bad", INFO: "info"}
_RATING_CLASS = {rating.PROBABLY_OKAY: "good", rating.IMPROVABLE: "improvable", rating.BAD: "bad"}
_CUTOVERS = "2026-06-14 17:00 UTC and Bad from 2026-12-14 18:00 UTC"

_STYLE = """
:root { color-scheme: light dark; --good: #1a7f4b; --improvable: #6a4fb3; --bad: #c4461b; --info: #5b6470; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header, main, footer { max-width: 68rem; margin: 0 auto; padding: 1rem; }
header h1 { font-size: 1.1rem; margin: 0 0 .5rem; letter-spacing: .02em; }
.verdict { font-size: clamp(1.6rem, 6vw, 2.6rem); font-weight: 700; margin: .2rem 0; }
.verdict .good, .verdict .improvable, .verdict .bad { color: var(--rating); background: none; padding: 0; }
.good { --rating: var(--good); } .improvable { --rating: var(--improvable); } .bad { --rating: var(--bad); }
.info { --rating: var(--info); }
.grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 19rem), 1fr)); }
.grid + .grid { margin-top: 1rem; }
section { border: 1px solid color-mix(in srgb, currentColor 20%, transparent); border-radius: .6rem;
  padding: .8rem 1rem; min-width: 0; }
section h2 { font-size: 1.05rem; margin: 0 0 .4rem; }
.label { display: inline-block; color: #fff; background: var(--rating); border-radius: .3rem;
  padding: 0 .45rem; margin-right: .4rem; font-size: .85rem; font-weight: 600; }
ul { padding-left: 1.2rem; margin: .3rem 0; }
li, code { overflow-wrap: anywhere; }
.why li { margin: .15rem 0; }
footer { font-size: .9rem; opacity: .8; }
"""


class _Item:
    """One section: its title, label and the sentence that explains the label."""

    __slots__ = ("extra", "label", "text", "title")

    def __init__(self, title: str, label: str, text: str, extra: str = "") -> None:
        self.title, self.label, self.text, self.extra = title, label, text, extra


def _dated(what: str, improvable_due: bool, bad_due: bool) -> tuple[str, str]:
    """(label, sentence) for what the 2026 rules downgrade on a date (TLS <= 1.2, no post-quantum group)."""
    if bad_due:
        return BAD, f"{what}: rated Bad since 2026-12-14 18:00 UTC."
    if improvable_due:
        return IMPROVABLE, f"{what}: rated Improvable since 2026-06-14 17:00 UTC, Bad from 2026-12-14 18:00 UTC."
    return GOOD, f"{what}: still Good, Improvable from {_CUTOVERS}."


def _version(version: str, schema_2026: bool, improvable_due: bool, bad_due: bool) -> _Item:
    title = "Protocol version"
    if version == "TLS 1.3":
        return _Item(title, GOOD, "TLS 1.3, the current version: faster handshakes, forward secrecy always.")
    if version == "TLS 1.2":
        if schema_2026:
            return _Item(title, *_dated("TLS 1.2 is being retired for TLS 1.3", improvable_due, bad_due))
        return _Item(title, GOOD, "TLS 1.2, with its modern AEAD suites.")
    if version == "TLS 1.1":
        if schema_2026 and bad_due:
            return _Item(title, BAD, "TLS 1.1: no AEAD suites, and rated Bad with TLS 1.2 since 2026-12-14.")
        return _Item(title, IMPROVABLE, "TLS 1.1: safe from BEAST, but without the AEAD suites of TLS 1.2 and later.")
    return _Item(title, BAD, f"{version or 'An unknown version'}: too old to be safe (BEAST, weak MACs).")


def _items(result: Mapping[str, Any], improvable_due: bool, bad_due: bool) -> list[_Item]:
    schema_2026 = "post_quantum_key_agreement" in result
    items = [_version(str(result.get("tls_version", "")), schema_2026, improvable_due, bad_due)]
    if result.get("ephemeral_keys_supported"):
        items.append(_Item("Ephemeral keys", GOOD, "Offered: a server key stolen later does not open these sessions."))
    else:
        items.append(_Item("Ephemeral keys", IMPROVABLE,
                           "No (EC)DHE suite offered: a stolen server key opens every recorded session."))  # fmt: skip
    if result.get("session_ticket_supported"):
        items.append(_Item("Session tickets", INFO, "Supported: resumed connections skip a full handshake."))
    else:
        items.append(_Item("Session tickets", INFO, "Not supported: every connection runs a full handshake."))
    if result.get("tls_compression_supported"):
        items.append(_Item("TLS compression", BAD, "Offered: compressed secrets leak their length (CRIME)."))
    else:
        items.append(_Item("TLS compression", GOOD, "Not offered, so CRIME cannot read secrets through it."))
    if result.get("beast_vuln"):
        items.append(_Item("BEAST", BAD, "CBC at TLS 1.0 without 1/n-1 record splitting: open to BEAST."))
    else:
        note = "" if result.get("able_to_detect_n_minus_one_splitting") else " (splitting could not be observed here)"
        items.append(_Item("BEAST", GOOD, f"Not vulnerable{note}."))
    insecure: Mapping[str, list[str]] = result.get("insecure_cipher_suites") or {}
    if insecure:
        listed = "".join(
            f"<li><code>{escape(name)}</code>: {escape('; '.join(reasons))}</li>" for name, reasons in insecure.items()
        )
        named = f"{len(insecure)} offered: {', '.join(insecure)}."
        items.append(_Item("Insecure cipher suites", BAD, named, f"<p>Why each is unsafe:</p><ul>{listed}</ul>"))
    else:
        items.append(_Item("Insecure cipher suites", GOOD, "None offered."))
    if result.get("unknown_cipher_suite_supported"):
        items.append(_Item("Unknown cipher suites", BAD, "Suites this checker does not know were offered."))
    if schema_2026:
        if result["post_quantum_key_agreement"]:
            items.append(_Item("Post-quantum key agreement", GOOD, "A hybrid ML-KEM group is offered."))
        else:
            label, text = _dated("No post-quantum group offered", improvable_due, bad_due)
            items.append(_Item("Post-quantum key agreement", label, text))
    return items


def _listing(title: str, names: list[str]) -> str:
    lis = "".join(f"<li><code>{escape(n)}</code></li>" for n in names[:PAGE_LIST_MAX]) or "<li>(none)</li>"
    if len(names) > PAGE_LIST_MAX:
        lis += f'<li>… and {len(names) - PAGE_LIST_MAX} more: all of them in <a href="/a/check">/a/check</a></li>'
    return f'<section class="info"><h2>{escape(title)} ({len(names)})</h2><ul>{lis}</ul></section>'


def render(result: Mapping[str, Any], inputs: rating.Inputs | None = None) -> str:
    """The page for ``result`` (an ``/a/check`` object); ``inputs``: the rating's inputs, for the
    2026 schema's dated rules (None: no cutover has passed). Raises nothing."""
    improvable_due = inputs is not None and inputs.improvable_due
    bad_due = inputs is not None and inputs.bad_due
    verdict = str(result.get("rating", ""))
    items = _items(result, improvable_due, bad_due)
    why = [i for i in items if i.label in (BAD, IMPROVABLE)]
    reasons = (
        "".join(
            f'<li class="{_CLASS[i.label]}"><span class="label">{i.label}</span>'
            f"{escape(i.title)}: {escape(i.text)}</li>"
            for i in why
        )
        or '<li class="good"><span class="label">Good</span>Nothing in this hello lowers the rating.</li>'
    )
    cards = "\n".join(
        f'<section class="{_CLASS[i.label]}" id="{i.title.lower().replace(" ", "-")}"><h2>{escape(i.title)}</h2>'
        f'<p><span class="label">{i.label}</span>{escape(i.text)}</p>{i.extra}</section>'
        for i in items
    )
    lists = [_listing("Cipher suites given", list(result.get("given_cipher_suites", [])))]
    for key, title in (("given_named_groups", "Key-exchange groups given"),
                       ("given_signature_algorithms", "Signature algorithms given")):  # fmt: skip
        if key in result:
            lists.append(_listing(title, list(result[key])))
    version = escape(str(result.get("tls_version", "")))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TLS client check: {escape(verdict)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>TLS client check</h1>
<p class="verdict">Rating: <span id="rating" class="{_RATING_CLASS.get(verdict, "bad")}">{escape(verdict)}</span></p>
<p>Connected with <strong id="version">{version}</strong>. What the rating rests on:</p>
<ul class="why" id="reasons">{reasons}</ul>
</header>
<main>
<div class="grid">
{cards}
</div>
<div class="grid">
{"".join(lists)}
</div>
</main>
<footer><p>The same data as JSON: <a href="/a/check">/a/check</a>.</p></footer>
</body>
</html>
"""
