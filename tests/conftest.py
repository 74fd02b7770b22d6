"""Checks every test marked with :func:`procs.needs` for its external programs
before its fixtures run, and marks it ``interop``; the ``esp_log`` fixture; the
TLS peers' versions at the end of the report."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from https_request import log
from procs import tool


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The library versions of the TLS peers the device-suite matrix ran against (test_device_suites),
    printed under -q too."""
    import ssl
    from importlib.metadata import version

    from mbedtls import version as mbedtls_version

    terminalreporter.write_line(
        f"tls peers: {mbedtls_version.version} (python-mbedtls {version('python-mbedtls')}), {ssl.OPENSSL_VERSION}"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("needs_tools") is not None:
            item.add_marker(pytest.mark.interop)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs_tools"):
        for name in mark.args:
            tool(name)  # skips, or under CI=true fails, when it is missing


@pytest.fixture
def esp_log() -> Iterator[io.StringIO]:
    """ESP log lines at DEBUG (default level, so the DEBUG-only esp-tls lines print too)."""
    stream = io.StringIO()
    log.setup(log.DEBUG, stream=stream, color=False)
    yield stream
    log.reset()


@pytest.fixture(autouse=True)
def _library_log_defaults() -> Iterator[None]:
    """Each test starts with the library's log defaults (records to logging), whatever the
    previous one installed (the CLI run in-process installs the ESP handler)."""
    log.reset()
    yield
