"""nvs: ESP-IDF's NVS semantics on a real sqlite3 file, across handles and processes, and
``https-request nvs`` end to end (subprocesses)."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import clirun
from https_request import nvs
from https_request.nvs import Nvs, NvsError, NvsNotFound


def _code(exc: pytest.ExceptionInfo[NvsError]) -> str:
    return exc.value.code


@pytest.fixture
def store(tmp_path: Path) -> Nvs:
    return Nvs(tmp_path / "nvs.sqlite3")


# ------------------------------------------------------------------ values and commit


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("i64", 0),
        ("i64", -(1 << 63)),
        ("i64", (1 << 63) - 1),
        ("str", ""),
        ("str", "héllo, wörld ✓"),
        ("str", "x" * (nvs.STR_MAX_BYTES - 1)),
        ("blob", b""),
        ("blob", bytes(range(256))),
        ("blob", b"\xa5" * nvs.BLOB_MAX_BYTES),
    ],
)
def test_round_trip_through_a_new_store_object(tmp_path: Path, kind: str, value: object) -> None:
    path = tmp_path / "nvs.sqlite3"
    with Nvs(path) as first, first.open("ns") as h:
        getattr(h, f"set_{kind}")("key", value)
        h.commit()
    with Nvs(path) as second, second.open("ns", readwrite=False) as h:
        assert getattr(h, f"get_{kind}")("key") == value
        assert h.find_key("key") == kind


def test_sets_and_erases_are_seen_by_other_handles_only_after_commit(store: Nvs) -> None:
    writer, reader = store.open("storage"), store.open("storage", readwrite=False)
    writer.set_i64("timestamp", 1)
    assert writer.get_i64("timestamp") == 1  # the handle sees its own change
    with pytest.raises(NvsNotFound) as info:
        reader.get_i64("timestamp")
    assert _code(info) == "ESP_ERR_NVS_NOT_FOUND" and isinstance(info.value, KeyError)
    writer.commit()
    assert reader.get_i64("timestamp") == 1
    writer.erase_key("timestamp")
    assert reader.get_i64("timestamp") == 1
    with pytest.raises(NvsNotFound):
        writer.get_i64("timestamp")
    writer.commit()
    with pytest.raises(NvsNotFound):
        reader.get_i64("timestamp")


def test_close_drops_what_was_not_committed(store: Nvs) -> None:
    with store.open("ns") as h:
        h.set_str("a", "kept")
        h.commit()
        h.set_str("a", "dropped")
        h.set_str("b", "dropped")
    with store.open("ns", readwrite=False) as h:
        assert h.get_str("a") == "kept"
        with pytest.raises(NvsNotFound):
            h.get_str("b")
    with pytest.raises(NvsError) as info:
        h.get_str("a")
    assert _code(info) == "ESP_ERR_NVS_INVALID_HANDLE"


def test_erase_all_keeps_the_namespace_and_later_sets(store: Nvs) -> None:
    with store.open("ns") as h:
        for key in ("a", "b", "c"):
            h.set_i64(key, 1)
        h.commit()
        h.erase_all()
        h.set_i64("d", 4)
        assert h.get_i64("d") == 4
        with pytest.raises(NvsNotFound):
            h.get_i64("a")
        h.commit()
    assert [(e.namespace, e.key) for e in store.entries()] == [("ns", "d")]
    assert store.namespaces() == ["ns"]


def test_a_set_replaces_the_type_and_a_get_of_another_type_is_a_mismatch(store: Nvs) -> None:
    with store.open("ns") as h:
        h.set_i64("k", 5)
        h.commit()
        with pytest.raises(NvsError) as info:
            h.get_str("k")
        assert _code(info) == "ESP_ERR_NVS_TYPE_MISMATCH" and "i64" in info.value.message
        h.set_blob("k", b"\x01")  # ESP-IDF: a new value replaces the old value and its type
        h.commit()
        assert h.get_blob("k") == b"\x01"
        with pytest.raises(NvsError) as info:
            h.get_i64("k")
        assert _code(info) == "ESP_ERR_NVS_TYPE_MISMATCH"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda h: h.set_i64("k" * 16, 1), "ESP_ERR_NVS_KEY_TOO_LONG"),
        (lambda h: h.get_i64("k" * 16), "ESP_ERR_NVS_KEY_TOO_LONG"),
        (lambda h: h.set_i64("", 1), "ESP_ERR_NVS_INVALID_NAME"),
        (lambda h: h.set_i64("clé", 1), "ESP_ERR_NVS_INVALID_NAME"),
        (lambda h: h.set_str("k", "x" * nvs.STR_MAX_BYTES), "ESP_ERR_NVS_VALUE_TOO_LONG"),
        (lambda h: h.set_str("k", "é" * 2000), "ESP_ERR_NVS_VALUE_TOO_LONG"),  # 4000 bytes + NUL
        (lambda h: h.set_str("k", "a\0b"), "ESP_ERR_INVALID_ARG"),
        (lambda h: h.set_blob("k", bytes(nvs.BLOB_MAX_BYTES + 1)), "ESP_ERR_NVS_VALUE_TOO_LONG"),
        (lambda h: h.set_i64("k", 1 << 63), "ESP_ERR_INVALID_ARG"),
        (lambda h: h.set_i64("k", True), "ESP_ERR_INVALID_ARG"),
        (lambda h: h.set_str("k", b"bytes"), "ESP_ERR_INVALID_ARG"),
        (lambda h: h.erase_key("missing"), "ESP_ERR_NVS_NOT_FOUND"),
    ],
)
def test_limits_and_bad_values_have_esp_idf_error_names(store: Nvs, call: object, code: str) -> None:
    with store.open("ns") as h:
        with pytest.raises(NvsError) as info:
            call(h)  # type: ignore[operator]
        assert _code(info) == code
        h.commit()
    assert store.entries() == []  # nothing half-done


def test_names_and_modes_of_namespaces(store: Nvs) -> None:
    longest = "n" * nvs.KEY_MAX_CHARS
    store.open(longest).close()
    for bad in ("n" * (nvs.KEY_MAX_CHARS + 1), "", "a\tb"):
        with pytest.raises(NvsError) as info:
            store.open(bad)
        assert _code(info) == "ESP_ERR_NVS_INVALID_NAME"
    with pytest.raises(NvsNotFound):
        store.open("absent", readwrite=False)
    with store.open(longest, readwrite=False) as h:
        with pytest.raises(NvsError) as info:
            h.set_i64("k", 1)
        assert _code(info) == "ESP_ERR_NVS_READ_ONLY"
        h.commit()  # nothing to write: fine, as on the device


def test_at_most_254_namespaces(store: Nvs) -> None:
    for n in range(nvs.MAX_NAMESPACES):
        store.open(f"ns{n}").close()
    with pytest.raises(NvsError) as info:
        store.open("one-more")
    assert _code(info) == "ESP_ERR_NVS_NOT_ENOUGH_SPACE"
    assert store.stats().namespace_count == nvs.MAX_NAMESPACES


def test_the_store_is_bounded_like_a_partition(store: Nvs) -> None:
    """Full blobs until the entries run out: NOT_ENOUGH_SPACE at set time, the store intact."""
    blob = bytes(nvs.BLOB_MAX_BYTES)
    with store.open("big") as h:
        written = 0
        with pytest.raises(NvsError) as info:
            for n in range(100):
                h.set_blob(f"b{n}", blob)
                h.commit()
                written += 1
        assert _code(info) == "ESP_ERR_NVS_NOT_ENOUGH_SPACE"
    stats = store.stats()
    assert written == len(store.entries()) >= 1
    assert stats.used_entries <= nvs.TOTAL_ENTRIES == stats.total_entries
    assert stats.used_entries + 2 + nvs.BLOB_MAX_BYTES // 32 > nvs.TOTAL_ENTRIES  # the next one did not fit


def test_commit_refuses_what_no_longer_fits_and_keeps_it_pending(store: Nvs) -> None:
    blob = bytes(nvs.BLOB_MAX_BYTES)
    first, second = store.open("a"), store.open("b")
    first.set_blob("x", blob)
    second.set_blob("y", blob)
    first.set_blob("z", blob[:200_000])
    second.set_blob("w", blob[:200_000])  # each fits alone
    first.commit()
    with pytest.raises(NvsError) as info:
        second.commit()
    assert _code(info) == "ESP_ERR_NVS_NOT_ENOUGH_SPACE"
    assert [e.namespace for e in store.entries()] == ["a", "a"]
    assert second.get_blob("y") == blob  # still pending
    second.erase_key("y")
    second.commit()
    assert {(e.namespace, e.key) for e in store.entries()} == {("a", "x"), ("a", "z"), ("b", "w")}


def test_two_handles_on_one_namespace_each_commit_their_own_keys(store: Nvs) -> None:
    one, two = store.open("ns"), store.open("ns")
    one.set_i64("a", 1)
    two.set_i64("b", 2)
    two.commit()
    one.commit()
    assert [e.key for e in store.entries("ns")] == ["a", "b"]
    assert one.get_i64("b") == 2 and two.get_i64("a") == 1


def test_erase_of_the_whole_store_and_a_handle_still_open(store: Nvs) -> None:
    h = store.open("ns")
    h.set_i64("a", 1)
    h.commit()
    store.erase()
    assert (store.entries(), store.namespaces()) == ([], [])
    h.set_i64("b", 2)
    h.commit()  # its namespace comes back
    assert [(e.namespace, e.key) for e in store.entries()] == [("ns", "b")]
    store.close()
    with pytest.raises(NvsError) as info:
        h.get_i64("b")
    assert _code(info) == "ESP_ERR_NVS_INVALID_HANDLE"
    with pytest.raises(NvsError) as info:
        store.open("ns")
    assert _code(info) == "ESP_ERR_NVS_NOT_INITIALIZED"


# ------------------------------------------------------------------ the file


def test_the_file_is_0600_in_a_0700_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with Nvs() as store:
        assert store.path == nvs.DEFAULT_PATH == tmp_path / "state" / "https-request" / "nvs.sqlite3"
        with store.open("ns") as h:
            h.set_str("secret", "s3cret")
            h.commit()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


_WRITER = """
import sys
from pathlib import Path
from https_request.nvs import Nvs
with Nvs(Path(sys.argv[1])) as store, store.open("storage") as h:
    h.set_i64("timestamp", int(sys.argv[2]))
    h.set_str("pending", "never committed")
    h.commit()
    h.set_str("after", "not committed")
"""


def test_a_second_process_reads_what_the_first_committed(tmp_path: Path) -> None:
    path = tmp_path / "nvs.sqlite3"
    stamp = int(time.time())
    proc = subprocess.run(
        [sys.executable, "-c", _WRITER, str(path), str(stamp)], env=clirun.env(), capture_output=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    with Nvs(path) as store, store.open("storage", readwrite=False) as h:
        assert h.get_i64("timestamp") == stamp
        assert h.get_str("pending") == "never committed"
        with pytest.raises(NvsNotFound):
            h.get_str("after")


def _sqlite_file(path: Path) -> bytes:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (a, b)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(n, bytes(300)) for n in range(400)])
    conn.commit()
    conn.close()
    return path.read_bytes()


def _ours_truncated(path: Path) -> None:
    with Nvs(path) as store, store.open("ns") as h:
        for n in range(60):
            h.set_blob(f"k{n}", bytes(range(256)) * 8)
        h.commit()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda p: p.write_bytes(bytes(range(256)) * 20), "not an SQLite database"),
        (lambda p: p.write_bytes(_sqlite_file(p)[:12288]), "damaged"),
        (_ours_truncated, "damaged"),
        (_sqlite_file, "an SQLite database of another program, tables: t"),
    ],
    ids=["garbage", "truncated-foreign", "truncated-ours", "foreign-schema"],
)
def test_an_unusable_file_is_moved_aside_with_one_warning(tmp_path: Path, make: object, why: str) -> None:
    path = tmp_path / "nvs.sqlite3"
    make(path)  # type: ignore[operator]
    before = path.read_bytes()
    warnings: list[str] = []
    with Nvs(path, warn=warnings.append) as store:
        assert store.entries() == []
        with store.open("storage") as h:
            h.set_i64("timestamp", 1)
            h.commit()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("nvs.sqlite3.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == before, sorted(tmp_path.iterdir())
    assert len(warnings) == 1 and f"{path} is not a usable NVS store ({why}" in warnings[0], warnings
    assert aside[0].name in warnings[0]
    with Nvs(path, warn=warnings.append) as again, again.open("storage", readwrite=False) as h:
        assert h.get_i64("timestamp") == 1
    assert len(warnings) == 1  # the new store is fine


def test_a_store_of_a_newer_version_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "nvs.sqlite3"
    Nvs(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(NvsError) as info:
        Nvs(path)
    assert _code(info) == "ESP_ERR_NVS_NEW_VERSION_FOUND" and "newer version" in info.value.message
    assert [p.name for p in tmp_path.iterdir()] == ["nvs.sqlite3"]


def test_a_file_that_cannot_be_opened_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(NvsError) as info:
        Nvs(tmp_path / "missing" / "nvs.sqlite3")
    assert str(tmp_path / "missing" / "nvs.sqlite3") in str(info.value)
    with pytest.raises(NvsError):
        Nvs(tmp_path)  # a folder
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ the command


def _nvs(path: Path, *args: str) -> clirun.Run:
    return clirun.run("nvs", "--file", str(path), *args)


def test_cli_set_time_then_get_storage_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "nvs.sqlite3"
    before = int(time.time())
    done = _nvs(path, "set-time")
    after = int(time.time())
    assert done.code == 0, done.err
    got = _nvs(path, "get", "storage", "timestamp")
    assert got.code == 0 and before <= int(got.out) <= after
    fixed = _nvs(path, "set-time", "--time", "2019-01-01T00:00:00Z")
    assert (fixed.code, fixed.out) == (0, b"storage timestamp i64 1546300800 (2019-01-01T00:00:00Z)\n")
    assert _nvs(path, "get", "storage", "timestamp").out == b"1546300800\n"
    with Nvs(path) as store, store.open("storage", readwrite=False) as h:  # what time_sync reads
        assert h.get_i64("timestamp") == 1546300800
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_cli_set_get_list_erase(tmp_path: Path) -> None:
    path = tmp_path / "nvs.sqlite3"
    assert _nvs(path, "set", "app", "count", "--type", "i64", "--", "-0x10").code == 0
    assert _nvs(path, "set", "app", "name", "hé llo").code == 0
    assert clirun.run("nvs", "set", "--file", str(path), "app", "mac", "001122", "--type", "blob").code == 0
    assert _nvs(path, "get", "app", "count").out == b"-16\n"
    assert _nvs(path, "get", "app", "name").out == "hé llo\n".encode()
    assert _nvs(path, "get", "app", "mac").out == b"001122\n"
    listing = _nvs(path, "list")
    assert listing.code == 0
    assert listing.out.decode().splitlines() == [
        "app\tcount\ti64\t-16",
        "app\tmac\tblob\t001122 (3 bytes)",
        'app\tname\tstr\t"hé llo"',
    ]
    assert _nvs(path, "erase", "app", "count").code == 0
    missing = _nvs(path, "get", "app", "count")
    assert missing.code == 1 and "ESP_ERR_NVS_NOT_FOUND" in missing.err
    assert _nvs(path, "erase", "nowhere").code == 1
    assert _nvs(path, "erase", "app").code == 0
    assert _nvs(path, "list", "app").out == b""
    assert _nvs(path, "erase").code == 0
    assert _nvs(path, "list", "app").code == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("set", "app", "n", "1.5", "--type", "i64"), "not an integer"),
        (("set", "app", "b", "xyz", "--type", "blob"), "not hex"),
        (("set", "app", "k" * 16, "v"), "ESP_ERR_NVS_KEY_TOO_LONG"),
        (("set-time", "--time", "yesterday"), "--time: not an ISO 8601"),
        (("get", "app"), "usage:"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_cli_bad_values_exit_2_and_change_nothing(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    path = tmp_path / "nvs.sqlite3"
    result = _nvs(path, *args)
    assert result.code == 2 and needle in result.err, result.err
    if path.exists():
        assert Nvs(path).entries() == []


def test_cli_moves_a_corrupt_file_aside_with_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "nvs.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    result = _nvs(path, "set-time", "--time", "2020-01-01")
    assert result.code == 0, result.err
    assert len(result.warnings()) == 1 and "is not a usable NVS store (not an SQLite database)" in result.err
    assert _nvs(path, "get", "storage", "timestamp").out == b"1577836800\n"


def test_the_command_line_imports_the_store_only_when_nvs_runs() -> None:
    code = (
        "import sys\nfrom https_request import cli_parser\ncli_parser.build_parser()\n"
        "print(sorted(m for m in sys.modules if m in ('sqlite3', 'https_request.nvs')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=clirun.env(), capture_output=True, timeout=60, check=True)
    assert proc.stdout == b"[]\n"
