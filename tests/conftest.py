"""Checks every test marked with :func:`procs.needs` for its external programs
before its fixtures run, and marks it ``interop``."""

from __future__ import annotations

import pytest

from procs import tool


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("needs_tools") is not None:
            item.add_marker(pytest.mark.interop)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs_tools"):
        for name in mark.args:
            tool(name)  # skips, or under CI=true fails, when it is missing
