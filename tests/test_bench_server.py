"""bench/server.py's smoke run (``--quick``): ``serve`` and the stdlib server in every mode, end to end.

The bench's own checks do the work: every connection's version, suite, resumption and body,
the group and tickets seen by the project's client, and each server's log lines against what
the clients saw; the exit status is 1 (or SystemExit's message) when one fails. The numbers
are not asserted (performance belongs to the bench), only that each row was measured.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from procs import needs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from server_report import workers_bound

BENCH = Path(__file__).resolve().parent.parent / "bench" / "server.py"
MODES = ("1.3 full", "1.3 resumed", "1.2 full", "1.2 resumed")


def _bench(*args: str, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_quick_run_serve_and_stdlib(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    run = _bench("--quick", "--servers", "serve,stdlib", "--no-workers", "--json", str(out))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(out.read_text())

    assert set(result["per_cpu_s"]) == {"serve", "stdlib"}
    for kind in ("serve", "stdlib"):
        assert all(result["per_cpu_s"][kind][m] > 0 for m in MODES), result["per_cpu_s"]
        assert result["peak_rss_mib"][kind] > 5
    assert result["body_bytes"]["1.3"] > 2000  # serve's howsmyssl page, the same for both servers

    for name in ("serve 1.3", "serve 1.2", "stdlib 1.3", "stdlib 1.2"):
        version = name.split()[1]
        full, resumed = (result["sanity"][name][f"{version} {k}"]["our_client"] for k in ("full", "resumed"))
        assert (full["resumed"], resumed["resumed"]) == (False, True), name
        assert full["group"] == "x25519"
        assert resumed["group"] == ("x25519" if version == "1.3" else None)
        assert full["tickets"] == (2 if version == "1.3" else 1)
        log = result["logs"][name]
        assert log["problems"] == [] and log["lines"] > 10 and log["resumed"] > 0, log

    targets = {(t["what"], t["mode"]): t for t in result["targets"]}
    assert all(isinstance(targets["stretch: serve >= stdlib", m]["pass"], bool) for m in MODES)
    assert targets["serve >= uvicorn + uvloop + httptools", "1.3 full"]["pass"] is None  # not run
    assert "| `serve` |" in run.stdout and "| stdlib ssl, blocking, one thread |" in run.stdout


@pytest.mark.slow
@needs("h2load")
def test_quick_workers_rows_with_h2load(tmp_path: Path) -> None:
    """``--scaling-client h2load``: the --workers rows driven by h2load, its counts checked against the
    servers' log lines (TLS 1.3 full against --no-tickets servers: nothing resumed; the resumed rows:
    every connection but each h2load client's first), and the ratio of the rows' ceilings."""
    out = tmp_path / "bench.json"
    run = _bench("--quick", "--servers", "serve", "--scaling-client", "h2load", "--json", str(out), timeout=200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [w["mode"] for w in result["workers"]] == list(MODES)
    for w in result["workers"]:
        assert w["workers1_per_s"] > 0 and w["workers2_per_s"] > 0
        assert w["server_cpu_ms"] > 0 and w["client_cpu_ms"] > 0 and 1.0 <= w["bound"] <= 2.0, w
    logs = result["logs"]
    for name in ("serve-w1-nt 1.3", "serve-w2-nt 1.3"):
        assert logs[name]["problems"] == [] and logs[name]["lines"] > 10 and logs[name]["resumed"] == 0, logs[name]
    for name in ("serve-w1 1.3", "serve-w2 1.3", "serve-w1 1.2", "serve-w2 1.2"):
        assert logs[name]["problems"] == [] and logs[name]["resumed"] > 0, logs[name]  # (counts: the bench's check)
    assert "ceilings 2/1" in run.stdout


def test_workers_bound_arithmetic() -> None:
    """One worker is held to one core; two to what the cores left by the load generator allow."""
    assert workers_bound(1.0, 0.0, 2) == 2.0  # a free load generator: two cores, twice one
    assert workers_bound(1.0, 1.0, 2) == 1.0  # the client costs as much: one worker already fills both cores
    assert abs(workers_bound(0.6, 0.35, 2) - 1.2 / 0.95) < 1e-9
    assert workers_bound(0.6, 0.35, 8) == 2.0  # cores to spare


@pytest.mark.parametrize(
    ("servers", "said"), [("serve,bogus", "--servers: bogus"), ("stdlib,nginx", "--servers: serve missing")]
)
def test_servers_option_refuses_what_it_cannot_run(servers: str, said: str) -> None:
    run = _bench("--quick", "--servers", servers, timeout=30)
    assert run.returncode == 2
    assert said in run.stderr


def test_smaps_breakdown_adds_up_to_the_process_rss() -> None:
    """bench/server_rss.py's table: every resident KiB of this process on exactly one line, each
    shared object split by segment (its text among them)."""
    import os

    from server_rss import smaps_breakdown

    lines = smaps_breakdown(os.getpid())
    with open("/proc/self/smaps_rollup") as f:
        rollup = next(int(ln.split()[1]) for ln in f if ln.startswith("Rss:")) / 1024
    assert abs(sum(v["rss"] for v in lines.values()) - rollup) < 0.5, (lines, rollup)  # (pages moved in between)
    assert any(k.endswith(" text") and k.startswith(("libpython", "python")) for k in lines), sorted(lines)
    assert lines["[heap]"]["rss"] > 0 and all(v["private"] <= v["rss"] + 1e-9 for v in lines.values())


@pytest.mark.slow
def test_rss_only_run_serve_and_stdlib() -> None:
    run = subprocess.run([sys.executable, str(BENCH.with_name("server_rss.py")), "--servers", "serve,stdlib",
                          "--seconds", "0.3", "--smaps"], capture_output=True, text=True, timeout=100)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    peaks = dict(re.findall(r"^(\S+ 1\.[23]) +peak RSS \(VmHWM\) +([\d.]+) MiB$", run.stdout, re.M))
    assert set(peaks) == {"serve 1.3", "serve 1.2", "stdlib 1.3", "stdlib 1.2"} and min(map(float, peaks.values())) > 5
    rust = re.search(r"^_rust\.abi3\.so text +([\d.]+) +([\d.]+)$", run.stdout, re.M)
    assert rust is not None and float(rust.group(1)) > 1 and float(rust.group(2)) == 0, run.stdout  # serve's crypto
