"""``https-request menuconfig``: esp-idf-kconfig's menuconfig driven in tmux.

Each test starts the command in a detached tmux session of a fixed size on its
own tmux server (a socket in the test's folder), types into it with
``send-keys`` and reads it with ``capture-pane``. Every screen a test waited
for is written to ``<tmp_path>/screens/NN-<label>.txt`` (the artifacts), and the
last one is in any failed assertion's message. The tmux server is always killed.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import clirun
from https_request.example.config import ExampleConfig, check_sdkconfig, load_config
from https_request.structs import fields, replace
from procs import needs, tool

pytestmark = needs("tmux")

REAL = Path(__file__).parent / "data" / "esp_idf" / "sdkconfig.https_request_debug"
WIDTH, HEIGHT = 120, 40
WAIT = 20.0  # seconds for one screen to appear (Textual starts in ~1 s; 2 CPUs shared)


class Terminal:
    """One command in a detached tmux session; its screens kept as files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.screens = folder / "screens"
        self.screens.mkdir(parents=True, exist_ok=True)
        self.socket = folder / "tmux.sock"
        self.count = 0
        self.last = ""

    def tmux(self, *args: str) -> str:
        proc = subprocess.run(
            [tool("tmux"), "-S", str(self.socket), "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env=clirun.env(LANG="C.UTF-8", TERM="xterm-256color"),
        )
        if proc.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {proc.stderr.strip()}\nlast screen:\n{self.last}")
        return proc.stdout

    def start(self, args: list[str], cwd: Path) -> None:
        """Run ``https-request ARGS`` in ``cwd``; then print its exit status and wait to be killed."""
        command = shlex.join([sys.executable, "-m", "https_request", *args])
        shell = f'cd {shlex.quote(str(cwd))} && {command}; echo "EXIT=$?"; sleep 600'
        self.tmux("new-session", "-d", "-s", "t", "-x", str(WIDTH), "-y", str(HEIGHT), shell)

    def screen(self) -> str:
        self.last = self.tmux("capture-pane", "-p", "-J", "-t", "t")
        return self.last

    def wait_for(self, pattern: str, label: str, timeout: float = WAIT) -> str:
        """The screen once ``pattern`` (a regex) is on it, saved as an artifact; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if re.search(pattern, text):
                self.save(label, text)
                return text
            if time.monotonic() > deadline:
                path = self.save(f"{label}-TIMEOUT", text)
                raise AssertionError(f"{pattern!r} not on the screen after {timeout} s ({path}):\n{text}")
            time.sleep(0.1)

    def save(self, label: str, text: str) -> Path:
        self.count += 1
        path = self.screens / f"{self.count:02d}-{label}.txt"
        path.write_text(text, encoding="utf-8")
        return path

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "t", "-l", text)

    def type_into_input(self, text: str, label: str) -> None:
        """Type ``text`` into the focused input, once it shows there (typed again, up to 3 times:
        keys that arrive before a new screen's input has focus are lost)."""
        for attempt in range(3):
            self.keys("C-a", "C-k")
            self.type(text)
            try:
                self.wait_for(rf"▊  {re.escape(text)} +▎", f"{label}-typed", timeout=WAIT if attempt == 2 else 5)
                return
            except AssertionError:
                if attempt == 2:
                    raise

    def search(self, name: str) -> None:
        """menuconfig's "/" search: jump to the option ``name``."""
        self.keys("/")
        self.wait_for("Go to selected", f"search-{name}")
        self.type_into_input(name, f"search-{name}")
        self.wait_for(rf"{name}\(=", f"found-{name}")
        self.keys("Enter")

    def kill(self) -> None:
        subprocess.run(
            [tool("tmux"), "-S", str(self.socket), "kill-server"], capture_output=True, timeout=10, check=False
        )


@pytest.fixture
def term(tmp_path: Path) -> Iterator[Terminal]:
    t = Terminal(tmp_path)
    try:
        yield t
    finally:
        t.kill()


def screens_text(term: Terminal) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()}" for p in sorted(term.screens.iterdir()))


def test_edit_real_esp_idf_sdkconfig_countdown_and_log_levels(term: Terminal, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    path = proj / "sdkconfig"
    path.write_bytes(REAL.read_bytes())
    before = load_config(path, [])
    assert (before.countdown_s, before.log_level, before.log_maximum_level) == (10, 3, 4)
    foreign = check_sdkconfig(path)

    term.start(["menuconfig", "--sdkconfig", str(path)], cwd=tmp_path)
    term.wait_for(r"Example Configuration\s+--->", "top")

    term.search("EXAMPLE_COUNTDOWN_S")
    term.wait_for(r"\(Top\) > Example Configuration", "example-menu")
    term.keys("Enter")
    term.wait_for("Range: from 0 to 3600", "countdown-dialog")
    term.wait_for(r"█  ▊  10 +▎  █", "countdown-input-10")
    term.type_into_input("3", "countdown")
    term.keys("Enter")
    term.wait_for(r"\(3\) Countdown after each request", "countdown-3")

    term.search("LOG_DEFAULT_LEVEL_DEBUG")
    term.wait_for(r"Log output > Default log verbosity", "default-level-menu")
    term.keys("Enter")
    term.wait_for(r"Default log verbosity \(Debug\)", "default-debug")
    # The maximum was Debug: not above the default any more, so "Same as default"; pick Verbose.
    term.search("LOG_MAXIMUM_LEVEL_VERBOSE")
    term.wait_for(r"Log output > Maximum log verbosity", "maximum-level-menu")
    term.keys("Enter")
    term.wait_for(r"Maximum log verbosity \(Verbose\)", "maximum-verbose")

    term.keys("s")
    term.wait_for("Configuration saved to", "saved")
    term.keys("q")
    screen = term.wait_for(r"EXIT=\d+", "exited")
    assert "EXIT=0" in screen, screens_text(term)
    assert f"https-request menuconfig: saved {path} (and the 1349 options of other components)" in screen, screen

    after = load_config(path, [])
    assert (after.countdown_s, after.log_level, after.log_maximum_level) == (3, 4, 5), screens_text(term)
    # Everything else as before, the other components' options kept line for line.
    assert after == replace(before, countdown_s=3, log_level=4, log_maximum_level=5)
    assert check_sdkconfig(path) == foreign
    assert sorted(p.name for p in proj.iterdir()) == ["sdkconfig", "sdkconfig.old"]  # the working copy is gone
    assert (proj / "sdkconfig.old").read_bytes() == REAL.read_bytes()


def test_new_sdkconfig_in_current_folder_read_by_load_config(
    term: Terminal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    term.start(["menuconfig"], cwd=work)
    term.wait_for(r"Example Configuration\s+--->", "top")
    term.search("LWIP_DEBUG")
    term.wait_for(r"\(Top\) > Component config > LWIP", "lwip-menu")
    term.keys("Space")
    term.wait_for(r"\[\*\] Enable LWIP Debug", "lwip-debug-on")
    term.search("LWIP_DNS_DEBUG")
    term.wait_for(r"Enable DNS debug messages", "dns-debug")
    term.keys("Space")
    term.wait_for(r"\[\*\] Enable DNS debug messages", "dns-debug-on")
    term.keys("q")
    term.wait_for(r"Save configuration\?", "quit-dialog")
    term.keys("y")
    screen = term.wait_for(r"EXIT=\d+", "exited")
    assert "EXIT=0" in screen, screens_text(term)

    assert sorted(p.name for p in work.iterdir()) == ["sdkconfig"], screens_text(term)
    monkeypatch.chdir(work)
    c = load_config()  # ./sdkconfig, as `https-request example` reads it
    assert c.sdkconfig == Path("sdkconfig")
    assert c.lwip_dns_debug
    defaults = load_config(None, [], default_file=False)
    assert c == replace(defaults, lwip_dns_debug=True, sdkconfig=Path("sdkconfig"))


def test_quit_without_saving_leaves_nothing(term: Terminal, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    term.start(["menuconfig", "--sdkconfig", "sdkconfig.mine"], cwd=work)
    term.wait_for(r"Example Configuration\s+--->", "top")
    term.search("EXAMPLE_SSL_PROTO_TLS1_3_CLIENT")
    term.wait_for(r"\(Top\) > Example Configuration", "example-menu")
    term.keys("Space")
    term.wait_for(r"\[\*\] Enable TLS 1.3 client test", "tls13-on")
    term.keys("q")
    term.wait_for(r"Save configuration\?", "quit-dialog")
    term.keys("n")
    screen = term.wait_for(r"EXIT=\d+", "exited")
    assert "EXIT=0" in screen, screens_text(term)
    assert list(work.iterdir()) == [], screens_text(term)


# ---------------------------------------------------------------------------
# Without a terminal: the file is checked first


def test_bad_value_refused_before_menuconfig(tmp_path: Path) -> None:
    path = tmp_path / "sdkconfig"
    text = "CONFIG_FOO=y\nCONFIG_EXAMPLE_COUNTDOWN_S=9999\n"
    path.write_text(text)
    r = clirun.run("menuconfig", "--sdkconfig", str(path))
    assert r.code == 2
    assert r.err == f"https-request menuconfig: {path}:2: EXAMPLE_COUNTDOWN_S: 9999 is out of range [0, 3600]\n"
    assert path.read_text() == text


def test_needs_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "sdkconfig"
    path.write_bytes(REAL.read_bytes())
    r = clirun.run("menuconfig", "--sdkconfig", str(path))
    assert (r.code, r.err) == (2, "https-request menuconfig: menuconfig needs a terminal (stdin and stdout)\n")
    assert path.read_bytes() == REAL.read_bytes()
    r = clirun.run("menuconfig", "--sdkconfig", str(tmp_path / "missing" / "sdkconfig"))
    assert r.code == 2 and "no such directory" in r.err


def test_config_struct_has_the_new_fields() -> None:
    names = {f.name for f in fields(ExampleConfig)}
    assert {"log_maximum_level", "esp_tls_client_session_tickets"} <= names
