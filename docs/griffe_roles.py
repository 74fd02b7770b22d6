"""A griffe extension for ``make docs``: the package's docstrings are reStructuredText
(``:class:`~x.Y```, ``:meth:``, ``:func:``...), which mkdocstrings renders as Markdown;
each role becomes inline code naming its target (the last component for ``~`` and
relative targets, as Sphinx shows them)."""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|exc|obj|const|rfc):`(?P<body>[^`]+)`")


def _shown(match: re.Match[str]) -> str:
    body = match["body"]
    explicit = re.fullmatch(r"(?P<title>.+?)\s*<(?P<target>[^>]+)>", body)
    if explicit:
        return f"`{explicit['title']}`"
    if body.startswith("~") or body.startswith("."):
        body = body.lstrip("~.").rsplit(".", 1)[-1]
    return f"`{body}`"


class RolesToCode(griffe.Extension):
    """Rewrites the roles of every docstring griffe loads."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_shown, obj.docstring.value)
