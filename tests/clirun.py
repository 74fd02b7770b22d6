"""``python -m https_request ARGS`` in a subprocess for the end-to-end tests (test_get_cli,
test_session_trust): exit status, stdout and stderr, the ``--json`` object and the warnings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Run", "cmd", "env", "get", "run"]

SRC = Path(__file__).resolve().parent.parent / "src"


@dataclass
class Run:
    code: int
    out: bytes
    err: str

    @property
    def json(self) -> dict[str, Any]:
        """The --json object (written to stderr with ``--json -``)."""
        for line in reversed(self.err.splitlines()):
            if line.startswith("{"):
                obj: dict[str, Any] = json.loads(line)
                return obj
        raise AssertionError(f"no JSON in stderr:\n{self.err}")

    def warnings(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("https-request: warning:")]


def env(**extra: str) -> dict[str, str]:
    """The environment for the command: ours without SSLKEYLOGFILE, this checkout's src first, ``extra``."""
    out = {k: v for k, v in os.environ.items() if k != "SSLKEYLOGFILE"}
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), out.get("PYTHONPATH")]))
    out.update(extra)
    return out


def cmd(*args: str) -> list[str]:
    """The argv of ``https-request get ARGS``."""
    return [sys.executable, "-m", "https_request", "get", *args]


def run(*args: str, env_vars: dict[str, str] | None = None, timeout: float = 30) -> Run:
    """``https-request ARGS`` (any subcommand), to completion."""
    argv = [sys.executable, "-m", "https_request", *args]
    proc = subprocess.run(argv, capture_output=True, env=env_vars or env(), timeout=timeout, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))


def get(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> Run:
    """``https-request get ARGS``."""
    return run("get", *args, env_vars=env, timeout=timeout)
