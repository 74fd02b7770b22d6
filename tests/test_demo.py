"""`https-request demo` (what `make demo` runs) end to end, in a fresh process."""

from __future__ import annotations

import re
import subprocess
import sys


def test_demo_runs_full_then_resumed_0rtt() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "https_request", "demo"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    lines = out.splitlines()
    assert re.match(r"^I \(\d+\) example: Start https_request example$", lines[0])
    assert "I (" in out and "example: Connection established..." in out
    assert out.count("HTTP/1.1 200 OK") == 2
    assert re.search(r"using saved client session\s+resumed \+ 0-RTT\s+ok\s+TLS 1.3\s+\S+\s+\S+\s+yes\s+accepted", out)
    full = r"full handshake\)\s+full handshake\s+ok\s+TLS 1.3\s+TLS_AES_128_GCM_SHA256\s+X25519MLKEM768\s+no"
    assert re.search(full, out)


def test_demo_trace_shows_mbedtls_style_states() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "https_request", "demo", "-vv"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert re.search(r"^I \(\d+\) mbedtls: \w+\.py:\d+ => write client hello$", out, re.M)
    state = r"^D \(\d+\) mbedtls: \w+\.py:\d+ handshake state: 1 \(CLIENT_HELLO\) -> 2 \(SERVER_HELLO\)$"
    assert re.search(state, out, re.M)
    assert "=> parse new session ticket" in out
