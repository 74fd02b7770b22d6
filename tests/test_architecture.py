"""Layering rules that code review alone would let slip.

* ``https_request.tls`` is the sans-I/O core: bytes in, bytes and events out.
  It imports no socket, event loop, clock or thread module, and nothing from
  the I/O drivers in ``https_request.io``.
* Importing the package and its CLI does not import ``cryptography`` (CLI
  start-up time; ``https-request --version`` must be fast).
* No tracked file names a path outside the repository: what the tests need is in
  ``tests/data/``, with its public provenance.
* Under ``CI=true`` a missing peer program fails the run instead of skipping.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import https_request
from procs import TOOLS, needs, tool

PACKAGE_DIR = Path(https_request.__file__).resolve().parent
SRC_DIR = PACKAGE_DIR.parent
TLS_DIR = PACKAGE_DIR / "tls"

FORBIDDEN_IN_TLS = frozenset({"socket", "asyncio", "time", "selectors", "ssl", "threading"})
FORBIDDEN_PACKAGE = "https_request.io"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC_DIR).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module named by ``from <...> import``."""
    if node.level == 0:
        return node.module or ""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()  # a module's package is its parent
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_forbidden(module: str) -> bool:
    top = module.split(".")[0]
    return top in FORBIDDEN_IN_TLS or module == FORBIDDEN_PACKAGE or module.startswith(FORBIDDEN_PACKAGE + ".")


def forbidden_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(path, node)
            # `from x import y` may bring in a submodule x.y (`from .. import io`).
            names = [base, *(f"{base}.{alias.name}" if base else alias.name for alias in node.names)]
        else:
            continue
        bad += [f"{path.name}:{node.lineno} imports {name}" for name in names if name and _is_forbidden(name)]
    return bad


def tls_sources() -> list[Path]:
    return sorted(TLS_DIR.rglob("*.py"))


def test_tls_core_exists() -> None:
    assert (TLS_DIR / "debug.py") in tls_sources()


@pytest.mark.parametrize("path", tls_sources(), ids=lambda p: str(p.relative_to(TLS_DIR)))
def test_tls_core_is_sans_io(path: Path) -> None:
    assert forbidden_imports(path) == []


@pytest.mark.parametrize(
    "source",
    [
        "import socket",
        "import asyncio.streams",
        "from time import monotonic",
        "import selectors, ssl",
        "from threading import Lock",
        "from ..io import blocking",
        "from .. import io",
        "from ..io.pump import Pump",
        "import https_request.io.aio",
        "from https_request import io",
        "def f():\n    import time\n",
    ],
)
def test_checker_catches(tmp_path: Path, source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pkg = tmp_path / "https_request" / "tls"
    fake_pkg.mkdir(parents=True)
    path = fake_pkg / "record.py"
    path.write_text(source + "\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "SRC_DIR", tmp_path)
    assert forbidden_imports(path), source


@pytest.mark.parametrize(
    "source",
    [
        "import io",  # stdlib io (BytesIO) is fine
        "import os",
        "from . import enums",
        "from .io_helpers import x",
        "from ..wire import Reader",
        "from cryptography.hazmat.primitives import hashes",
        "import datetime",
    ],
)
def test_checker_allows(tmp_path: Path, source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pkg = tmp_path / "https_request" / "tls"
    fake_pkg.mkdir(parents=True)
    path = fake_pkg / "record.py"
    path.write_text(source + "\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "SRC_DIR", tmp_path)
    assert forbidden_imports(path) == [], source


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC_DIR), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=60, check=False)


HEAVY = ("cryptography", "h11", "certifi")


def test_light_imports() -> None:
    code = (
        "import sys, https_request, https_request.cli, https_request.log\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    proc = _run("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_version_command_is_light() -> None:
    proc = _run("-X", "importtime", "-m", "https_request", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"https-request {https_request.__version__}"
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "https_request" in imported
    assert imported.isdisjoint(HEAVY)


# --- nothing outside the repository ------------------------------------------------------------------

REPO_DIR = SRC_DIR.parent
# Spelt in pieces so that this file does not name them itself.
OUTSIDE_PATH = re.compile("|".join([re.escape("/work/" + "shared"), re.escape(".." + "/shared")]).encode())


def outside_paths(paths: list[Path]) -> list[str]:
    """``file:line`` of every mention of the shared folder beside the repository."""
    found = []
    for path in paths:
        data = path.read_bytes()
        for m in OUTSIDE_PATH.finditer(data):
            line = data.count(b"\n", 0, m.start()) + 1
            name = path.relative_to(REPO_DIR) if path.is_relative_to(REPO_DIR) else path
            found.append(f"{name}:{line}: {m.group().decode()}")
    return found


def tracked_files() -> list[Path]:
    listing = subprocess.run([tool("git"), "ls-files", "-z"], cwd=REPO_DIR, capture_output=True, check=True, timeout=30)
    return [REPO_DIR / name for name in listing.stdout.decode().split("\0") if (REPO_DIR / name).is_file()]


def test_no_tracked_file_names_a_path_outside_the_repository() -> None:
    files = tracked_files()
    assert {f.relative_to(REPO_DIR).parts[0] for f in files} >= {"src", "tests", "bench", "docs"}
    assert outside_paths(files) == []


@pytest.mark.parametrize(
    "text",
    [
        "SEED_DIR = Path('/work/" + "shared/seed')",
        "Source: ``/work/" + "shared/reference/howsmyssl.md``",
        "open(HERE / '../sha" + "red/fix" + "tures/x.pem')",
        "../../sha" + "red/se" + "ed",
    ],
)
def test_outside_path_checker_catches(tmp_path: Path, text: str) -> None:
    path = tmp_path / "example.py"
    path.write_text(f"# line 1\n{text}\n", encoding="utf-8")
    assert [f.removeprefix(f"{path}:")[:3] for f in outside_paths([path])] == ["2: "]


# --- CI runs the real peers ---------------------------------------------------------------------------


@pytest.mark.parametrize("ci", ["true", "1"])
def test_missing_program_fails_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    monkeypatch.setenv("CI", ci)
    for name in TOOLS:
        with pytest.raises(pytest.fail.Exception, match=f"CI=true and {name} not found on PATH"):
            tool(name)


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_missing_program_skips_outside_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match=r"gnutls-cli not found on PATH \(Debian package gnutls-bin"):
        tool("gnutls-cli")


def test_present_program_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = tmp_path / "curl"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    assert tool("curl") == str(program)


def test_needs_names_known_programs() -> None:
    assert needs("openssl", "stdbuf").mark.args == ("openssl", "stdbuf")
    with pytest.raises(ValueError, match="unknown programs"):
        needs("opensssl")
