"""The command line's own plumbing (not the demo itself)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from https_request import __version__, cli

SRC = Path(__file__).resolve().parent.parent / "src"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"https-request {__version__}"


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["nope"]) == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_help_to_a_full_disk_is_an_error_in_plain_words() -> None:
    """The console script flushes stdout itself: a failed write is said once, with exit 2
    (not Python's "Exception ignored" and status 120)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "https_request", "--help"],
            stdout=full,
            stderr=subprocess.PIPE,
            env=env,
            timeout=30,
            check=False,
        )
    assert (proc.returncode, proc.stderr) == (2, b"https-request: cannot write the output: No space left on device\n")
