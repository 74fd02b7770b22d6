"""`https-request demo` (what `make demo` runs): the example end to end against
the two embedded servers, in a fresh process."""

from __future__ import annotations

import re
import subprocess
import sys


def _run(*extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "https_request", "demo", "--countdown", "0", *extra],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_demo_runs_the_example_against_the_embedded_servers() -> None:
    proc = _run()
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    lines = out.splitlines()
    assert re.match(r"^I \(\d+\) example_connect: Connecting to \S+\.\.\.$", lines[0])  # example_connect() first
    assert any(re.match(r"^I \(\d+\) example: Start https_request example$", line) for line in lines)
    for banner in (
        "https_request to local server",
        "https_request using saved client session",
        "https_request using crt bundle",
        "https_request using cacert_buf",
        "https_request using global ca_store",
        "https_request using server supported ciphersuites",
        "https_request using server unsupported ciphersuites",
        "Finish https_request example",
    ):
        assert f"example: {banner}" in out, banner
    assert "esp-x509-crt-bundle: Certificate validated" in out
    assert out.count("example: Connection established...") == 6
    assert out.count("example: Connection failed...") == 1
    assert out.count("HTTP/1.1 200 OK") == 6
    assert "106 bytes written" in out  # the seed's howsmyssl request
    assert '"tls_version":"TLS 1.2","rating":"Probably Okay"}' in out.replace("\n", "")
    table = out[out.index("request ") :]
    assert re.search(r"using saved client session\s+connects\s+connected\s+TLS 1\.2\s+\S+\s+yes", table)
    assert re.search(
        r"server supported ciphersuites\s+connects\s+connected\s+TLS 1\.2\s+"
        r"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        table,
    )
    assert re.search(r"server unsupported ciphersuites\s+fails\s+failed\s", table)
    assert "UNEXPECTED" not in table
