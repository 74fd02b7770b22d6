"""The example's configuration: Kconfig + sdkconfig + --set (https_request.example.config)."""
# ruff: noqa: E501  (tables of expected error messages read best one per line)

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import https_request
from https_request import log
from https_request.example import config as cfg
from https_request.example.config import (
    LOCAL_SERVER_CERT,
    LOCAL_SERVER_KEY,
    SERVER_ROOT_CERT,
    ConfigError,
    ConnectTo,
    ExampleConfig,
    load_config,
    parse_connect_to,
)

ISRG = SERVER_ROOT_CERT.read_text(encoding="ascii")


@pytest.fixture(autouse=True)
def _no_sdkconfig_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each test in an empty directory, so no ./sdkconfig is picked up by accident."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    log.setup(log.INFO, stream=stream, color=False)
    yield stream
    log.setup(log.INFO)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def kconfig_lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if " kconfig: " in line]


# ---------------------------------------------------------------------------
# Defaults


def test_defaults_without_sdkconfig() -> None:
    c = load_config(None, [])
    assert c == ExampleConfig(
        session_tickets=True,
        local_server_url="https://localhost:8070",
        tls13_client=False,
        web_url="https://www.howsmyssl.com/a/check",
        connect_to=(),
        server_root_cert=SERVER_ROOT_CERT,
        local_server_cert=LOCAL_SERVER_CERT,
        crt_bundle=True,
        default_bundle="CMN",
        custom_bundle_path=None,
        countdown_s=10,
        client_profile="esp32-mbedtls",
        log_level=3,
        log_maximum_level=3,
        esp_tls_client_session_tickets=True,  # selected by EXAMPLE_CLIENT_SESSION_TICKETS (default y here)
        sdkconfig=None,
    )
    assert not c.local_server_url_from_stdin
    assert c.connect_to_rules == ()
    assert c.local_server_key == LOCAL_SERVER_KEY
    assert load_config() == c


def test_config_is_frozen() -> None:
    c = load_config()
    with pytest.raises(AttributeError):
        c.countdown_s = 3  # type: ignore[misc]


def test_packaged_files_exist() -> None:
    for path in (cfg.KCONFIG_PATH, SERVER_ROOT_CERT, LOCAL_SERVER_CERT, LOCAL_SERVER_KEY, cfg.DATA_DIR / "README.md"):
        assert path.is_file(), path


def test_dot_sdkconfig_is_read_when_present() -> None:
    write(Path("sdkconfig"), "CONFIG_EXAMPLE_COUNTDOWN_S=2\n")
    c = load_config(None, [])
    assert c.countdown_s == 2
    assert c.sdkconfig == Path("sdkconfig")
    assert load_config(None, [], default_file=False).countdown_s == 10


def test_explicit_file_wins_over_dot_sdkconfig(tmp_path: Path) -> None:
    write(Path("sdkconfig"), "CONFIG_EXAMPLE_COUNTDOWN_S=2\n")
    other = write(tmp_path / "other" / "sdkconfig.ci", "CONFIG_EXAMPLE_COUNTDOWN_S=4\n")
    assert load_config(other, []).countdown_s == 4


# ---------------------------------------------------------------------------
# A real-ish sdkconfig


def realish_sdkconfig(known: str, n_unknown: int = 300) -> str:
    lines = [
        "#",
        "# Automatically generated file. DO NOT EDIT.",
        "# Espressif IoT Development Framework (ESP-IDF) 6.0.0 Project Configuration",
        "#",
        "CONFIG_SOC_CAPS_ECO_VER_MAX=301",
        'CONFIG_IDF_TARGET="esp32"',
        "",
    ]
    for i in range(n_unknown):
        kind = i % 4
        if kind == 0:
            lines.append(f"CONFIG_COMPONENT_{i}_ENABLE=y")
        elif kind == 1:
            lines.append(f"# CONFIG_COMPONENT_{i}_FEATURE is not set")
        elif kind == 2:
            lines.append(f'CONFIG_COMPONENT_{i}_NAME="value {i}"')
        else:
            lines.append("# default:")
            lines.append(f"CONFIG_COMPONENT_{i}_SIZE={i * 16}")
        if i % 50 == 0:
            lines += ["", "#", f"# Menu {i}", "#"]
    lines += known.splitlines()
    lines += [
        "",
        "# Deprecated options for backward compatibility",
        "# CONFIG_OLD_OPTION is not set",
        "CONFIG_EXAMPLE_COUNTDOWN_S=not-checked-in-this-block",
        "# End of deprecated options",
        "",
    ]
    return "\n".join(lines)


KNOWN = """\
#
# Example Configuration
#
CONFIG_EXAMPLE_CLIENT_SESSION_TICKETS=y
CONFIG_EXAMPLE_LOCAL_SERVER_URL="FROM_STDIN"
CONFIG_EXAMPLE_LOCAL_SERVER_URL_FROM_STDIN=y
# CONFIG_EXAMPLE_SSL_PROTO_TLS1_3_CLIENT is not set
CONFIG_EXAMPLE_COUNTDOWN_S=3  # an inline comment, as kconfiglib allows
CONFIG_EXAMPLE_CONNECT_TO="www.howsmyssl.com:443:127.0.0.1:8443 ::[::1]:"
CONFIG_EXAMPLE_CLIENT_PROFILE="esp32-mbedtls-tls13"
# end of Example Configuration
CONFIG_MBEDTLS_CERTIFICATE_BUNDLE=y
CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_FULL=y
# CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_CMN is not set
# CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_NONE is not set
# CONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE is not set
# CONFIG_LOG_DEFAULT_LEVEL_NONE is not set
# CONFIG_LOG_DEFAULT_LEVEL_ERROR is not set
# CONFIG_LOG_DEFAULT_LEVEL_WARN is not set
# CONFIG_LOG_DEFAULT_LEVEL_INFO is not set
CONFIG_LOG_DEFAULT_LEVEL_DEBUG=y
# CONFIG_LOG_DEFAULT_LEVEL_VERBOSE is not set
CONFIG_LOG_DEFAULT_LEVEL=4
"""


def test_realish_sdkconfig_silent_and_known_options_applied(
    tmp_path: Path, out: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "proj" / "sdkconfig", realish_sdkconfig(KNOWN))
    assert len(path.read_text().splitlines()) > 300
    c = load_config(path, [])
    assert c.sdkconfig == path
    assert c.session_tickets is True
    assert c.local_server_url == "FROM_STDIN" and c.local_server_url_from_stdin
    assert c.tls13_client is False
    assert c.countdown_s == 3
    assert c.connect_to == ("www.howsmyssl.com:443:127.0.0.1:8443", "::[::1]:")
    assert c.connect_to_rules == (
        ConnectTo("www.howsmyssl.com", 443, "127.0.0.1", 8443),
        ConnectTo("", None, "::1", None),
    )
    assert c.client_profile == "esp32-mbedtls-tls13"
    assert c.crt_bundle is True
    assert c.default_bundle == "FULL"
    assert c.custom_bundle_path is None
    assert c.log_level == 4
    assert c.log_maximum_level == 4  # "Same as default"
    # The 302 options this example does not define are ignored silently: no line
    # of ours, nothing from kconfiglib's own console.
    assert kconfig_lines(out) == [], out.getvalue()
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_esp_idf_ci_file_cli_ses_tkt(tmp_path: Path, out: io.StringIO) -> None:
    # examples/protocols/https_request/sdkconfig.ci.cli_ses_tkt, verbatim.
    path = write(
        tmp_path / "sdkconfig.ci.cli_ses_tkt",
        "CONFIG_EXAMPLE_CONNECT_ETHERNET=y\n"
        "CONFIG_EXAMPLE_CONNECT_WIFI=n\n"
        "CONFIG_ETHERNET_INTERNAL_SUPPORT=y\n"
        "CONFIG_ETHERNET_PHY_GENERIC=y\n"
        "CONFIG_ETHERNET_MDC_GPIO=23\n"
        "CONFIG_ETHERNET_MDIO_GPIO=18\n"
        "CONFIG_ETHERNET_PHY_RST_GPIO=5\n"
        "CONFIG_ETHERNET_PHY_ADDR=1\n"
        "CONFIG_EXAMPLE_CONNECT_IPV6=y\n"
        "CONFIG_EXAMPLE_CLIENT_SESSION_TICKETS=y\n"
        'CONFIG_EXAMPLE_LOCAL_SERVER_URL="FROM_STDIN"\n'
        "CONFIG_EXAMPLE_LOCAL_SERVER_URL_FROM_STDIN=y\n",
    )
    c = load_config(path, [])
    assert c.session_tickets and c.local_server_url_from_stdin
    assert c.default_bundle == "CMN" and c.log_level == 3
    assert c.esp_tls_client_session_tickets  # selected by the example's option, as in ESP-IDF
    assert kconfig_lines(out) == []  # its 9 Ethernet/Wi-Fi options: ignored silently


def test_foreign_options_silent_but_our_bad_values_still_errors(tmp_path: Path, out: io.StringIO) -> None:
    path = write(tmp_path / "sdkconfig", 'CONFIG_FOO=y\nCONFIG_BAR="x"\n# CONFIG_BAZ is not set\nCONFIG_QUX=0x10\n')
    assert load_config(path, []).countdown_s == 10
    assert kconfig_lines(out) == []
    # A foreign option's line must still be an sdkconfig line.
    with pytest.raises(ConfigError, match=r"sdkconfig:2: malformed line 'BAR=1'"):
        load_config(write(tmp_path / "sdkconfig", "CONFIG_FOO=y\nBAR=1\n"), [])
    # Our own options are still checked, next to any number of foreign ones.
    path = write(tmp_path / "sdkconfig", "CONFIG_FOO=y\nCONFIG_EXAMPLE_COUNTDOWN_S=soon\n")
    with pytest.raises(ConfigError, match=r"sdkconfig:2: EXAMPLE_COUNTDOWN_S: 'soon' is not an integer"):
        load_config(path, [])


def test_no_warning_without_unknown_options(tmp_path: Path, out: io.StringIO) -> None:
    load_config(write(tmp_path / "sdkconfig", "CONFIG_EXAMPLE_COUNTDOWN_S=1\n"), [])
    assert kconfig_lines(out) == []


def test_session_tickets_not_set(tmp_path: Path) -> None:
    path = write(tmp_path / "sdkconfig", "# CONFIG_EXAMPLE_CLIENT_SESSION_TICKETS is not set\n")
    assert load_config(path, []).session_tickets is False
    path = write(tmp_path / "sdkconfig", "CONFIG_EXAMPLE_CLIENT_SESSION_TICKETS=n\n")
    assert load_config(path, []).session_tickets is False


def test_string_escapes(tmp_path: Path) -> None:
    path = write(tmp_path / "sdkconfig", 'CONFIG_EXAMPLE_WEB_URL="https://example.com/a\\"b\\\\c"  # comment\n')
    assert load_config(path, []).web_url == 'https://example.com/a"b\\c'


def test_tls13_changes_the_default_web_url_only() -> None:
    assert load_config(None, ["EXAMPLE_SSL_PROTO_TLS1_3_CLIENT=y"]).web_url == "https://tls13.browserleaks.com/tls"
    c = load_config(None, ["EXAMPLE_SSL_PROTO_TLS1_3_CLIENT=y", "EXAMPLE_WEB_URL=https://example.com/"])
    assert c.tls13_client and c.web_url == "https://example.com/"


# ---------------------------------------------------------------------------
# Choices


@pytest.mark.parametrize("kind", ["FULL", "CMN", "NONE"])
def test_bundle_choice_lines(tmp_path: Path, kind: str) -> None:
    lines = [
        f"CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_{k}=y"
        if k == kind
        else f"# CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_{k} is not set"
        for k in ("FULL", "CMN", "NONE")
    ]
    path = write(tmp_path / "sdkconfig", "CONFIG_MBEDTLS_CERTIFICATE_BUNDLE=y\n" + "\n".join(lines) + "\n")
    assert load_config(path, []).default_bundle == kind


@pytest.mark.parametrize("kind", ["FULL", "CMN", "NONE"])
def test_bundle_choice_other_spelling(tmp_path: Path, kind: str, out: io.StringIO) -> None:
    path = write(tmp_path / "sdkconfig", f"CONFIG_MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE_{kind}=y\n")
    assert load_config(path, []).default_bundle == kind
    assert kconfig_lines(out) == []  # not counted as unknown
    assert load_config(None, [f"MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE_{kind}=y"]).default_bundle == kind


def test_bundle_choice_by_set() -> None:
    assert load_config(None, ["MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE=full"]).default_bundle == "FULL"
    assert load_config(None, ["MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE=NONE"]).default_bundle == "NONE"
    assert load_config(None, ["MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_FULL=y"]).default_bundle == "FULL"
    c = load_config(None, ["MBEDTLS_CERTIFICATE_BUNDLE=n"])
    assert c.crt_bundle is False and c.default_bundle == "CMN"


@pytest.mark.parametrize(
    ("value", "level"),
    [("NONE", 0), ("error", 1), ("WARN", 2), ("Warning", 2), ("INFO", 3), ("DEBUG", 4), ("VERBOSE", 5), ("0", 0)]
    + [(str(n), n) for n in range(6)],
)
def test_log_level_by_set(value: str, level: int) -> None:
    assert load_config(None, [f"LOG_DEFAULT_LEVEL={value}"]).log_level == level


def test_log_level_member_by_set() -> None:
    assert load_config(None, ["LOG_DEFAULT_LEVEL_VERBOSE=y"]).log_level == 5


def test_log_level_int_alone_in_file(tmp_path: Path) -> None:
    assert load_config(write(tmp_path / "sdkconfig", "CONFIG_LOG_DEFAULT_LEVEL=1\n"), []).log_level == 1


def test_log_level_int_disagreeing_with_choice(tmp_path: Path, out: io.StringIO) -> None:
    path = write(tmp_path / "sdkconfig", "CONFIG_LOG_DEFAULT_LEVEL_WARN=y\nCONFIG_LOG_DEFAULT_LEVEL=5\n")
    assert load_config(path, []).log_level == 2
    (warning,) = kconfig_lines(out)
    assert f"{path}:2: CONFIG_LOG_DEFAULT_LEVEL=5 disagrees" in warning


def test_two_selections_in_one_choice_last_wins_quietly(
    tmp_path: Path, out: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "sdkconfig", "CONFIG_LOG_DEFAULT_LEVEL_DEBUG=y\nCONFIG_LOG_DEFAULT_LEVEL_ERROR=y\n")
    assert load_config(path, []).log_level == 1
    assert capfd.readouterr().err == ""  # kconfiglib's note goes to our log at D level


# ---------------------------------------------------------------------------
# --set


def test_set_overrides_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "sdkconfig",
        "CONFIG_EXAMPLE_COUNTDOWN_S=3\n# CONFIG_EXAMPLE_CLIENT_SESSION_TICKETS is not set\n"
        'CONFIG_EXAMPLE_CLIENT_PROFILE="default"\n',
    )
    c = load_config(
        path,
        [
            "EXAMPLE_COUNTDOWN_S=0",
            "EXAMPLE_CLIENT_SESSION_TICKETS=y",
            "EXAMPLE_LOCAL_SERVER_URL=https://[::1]:8070/x",
            "CONFIG_EXAMPLE_WEB_URL=http://127.0.0.1:8080/a/check",  # CONFIG_ prefix tolerated
            "EXAMPLE_CONNECT_TO=a.example:443::8443  :::",
            'EXAMPLE_CLIENT_PROFILE="esp32-mbedtls"',  # sdkconfig-style quotes tolerated
            "EXAMPLE_COUNTDOWN_S=7",  # later wins
        ],
    )
    assert c.countdown_s == 7
    assert c.session_tickets is True
    assert c.local_server_url == "https://[::1]:8070/x"
    assert c.web_url == "http://127.0.0.1:8080/a/check"
    assert c.connect_to == ("a.example:443::8443", ":::")
    assert c.connect_to_rules == (ConnectTo("a.example", 443, "", 8443), ConnectTo("", None, "", None))
    assert c.client_profile == "esp32-mbedtls"


def test_set_empty_string_values() -> None:
    c = load_config(None, ["EXAMPLE_CONNECT_TO=", "EXAMPLE_SERVER_ROOT_CERT="])
    assert c.connect_to == () and c.server_root_cert == SERVER_ROOT_CERT


def test_set_local_url_from_stdin() -> None:
    assert load_config(None, ["EXAMPLE_LOCAL_SERVER_URL=FROM_STDIN"]).local_server_url_from_stdin


# ---------------------------------------------------------------------------
# Paths


def test_cert_paths_relative_to_sdkconfig_folder(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    write(proj / "certs" / "root.pem", ISRG)
    write(proj / "main" / "local.pem", LOCAL_SERVER_CERT.read_text())
    path = write(
        proj / "sdkconfig",
        'CONFIG_EXAMPLE_SERVER_ROOT_CERT="certs/root.pem"\nCONFIG_EXAMPLE_LOCAL_SERVER_CERT="main/local.pem"\n',
    )
    c = load_config(path, [])
    assert c.server_root_cert == proj / "certs" / "root.pem"
    assert c.local_server_cert == proj / "main" / "local.pem"
    assert c.local_server_key is None


def test_cert_path_by_set_is_relative_to_cwd() -> None:
    write(Path("mine.pem"), ISRG)
    c = load_config(None, ["EXAMPLE_SERVER_ROOT_CERT=mine.pem"])
    assert c.server_root_cert == Path.cwd() / "mine.pem"


def test_custom_bundle_relative_to_sdkconfig_folder(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    write(proj / "certs" / "a.pem", ISRG)
    write(proj / "certs" / "notes.txt", "not a certificate")
    path = write(
        proj / "sdkconfig",
        'CONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE=y\nCONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH="certs"\n',
    )
    assert load_config(path, []).custom_bundle_path == proj / "certs"
    path = write(
        proj / "sdkconfig",
        'CONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE=y\nCONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH="certs/a.pem"\n',
    )
    assert load_config(path, []).custom_bundle_path == proj / "certs" / "a.pem"
    # Same file, read from elsewhere: still relative to the file's folder.
    os.chdir(tmp_path)
    assert load_config(Path("proj/sdkconfig"), []).custom_bundle_path == proj / "certs" / "a.pem"


def test_custom_bundle_path_alone_in_file_enables_it(tmp_path: Path) -> None:
    write(tmp_path / "extra.der", "x")
    path = write(tmp_path / "sdkconfig", 'CONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH="extra.der"\n')
    assert load_config(path, []).custom_bundle_path == tmp_path / "extra.der"


def test_custom_bundle_switched_off_ignores_path(tmp_path: Path) -> None:
    path = write(
        tmp_path / "sdkconfig",
        '# CONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE is not set\nCONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH="nope"\n',
    )
    assert load_config(path, []).custom_bundle_path is None


def test_custom_bundle_by_set() -> None:
    write(Path("bundle") / "x.pem", ISRG)
    c = load_config(None, ["MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH=bundle"])
    assert c.custom_bundle_path == Path.cwd() / "bundle"
    # Without the bundle, no custom bundle either.
    c = load_config(None, ["MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH=bundle", "MBEDTLS_CERTIFICATE_BUNDLE=n"])
    assert c.custom_bundle_path is None
    # An empty path switches the custom bundle off again.
    c = load_config(None, ["MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH=bundle", "MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH="])
    assert c.custom_bundle_path is None


# ---------------------------------------------------------------------------
# connect-to


@pytest.mark.parametrize(
    ("entry", "rule"),
    [
        ("example.com:443:127.0.0.1:8443", ConnectTo("example.com", 443, "127.0.0.1", 8443)),
        ("::other.example:", ConnectTo("", None, "other.example", None)),
        (":443::8443", ConnectTo("", 443, "", 8443)),
        ("[2001:db8::1]:443:[::1]:4433", ConnectTo("2001:db8::1", 443, "::1", 4433)),
        ("a_b.example:1:c-d.example:65535", ConnectTo("a_b.example", 1, "c-d.example", 65535)),
    ],
)
def test_parse_connect_to(entry: str, rule: ConnectTo) -> None:
    assert parse_connect_to(entry) == rule


def test_connect_to_rule_matching() -> None:
    rule = parse_connect_to("WWW.howsmyssl.com:443:127.0.0.1:")
    assert rule.matches("www.howsmyssl.com", 443) and not rule.matches("www.howsmyssl.com", 8443)
    assert rule.target("www.howsmyssl.com", 443) == ("127.0.0.1", 443)
    anything = parse_connect_to("::h:1")
    assert anything.matches("x", 2) and anything.target("x", 2) == ("h", 1)


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("example.com:443:127.0.0.1", "is not HOST1:PORT1:HOST2:PORT2"),
        ("example.com:443:::1:8443", "is not HOST1:PORT1:HOST2:PORT2"),
        ("a:b:c:d:e", "is not HOST1:PORT1:HOST2:PORT2"),
        ("example.com:https:h:1", "port 'https' is not a port number"),
        ("example.com:0:h:1", "port '0' is not a port number"),
        ("example.com:443:h:65536", "port '65536' is not a port number"),
        ("[nope]:443:h:1", "host '[nope]' is not a bracketed IPv6 address"),
        ("exa mple:443:h:1", "host 'exa mple' is not a host name"),
        ("-bad:443:h:1", "host '-bad' is not a host name"),
    ],
)
def test_parse_connect_to_errors(entry: str, why: str) -> None:
    with pytest.raises(ConfigError, match="EXAMPLE_CONNECT_TO: ") as info:
        parse_connect_to(entry)
    assert why in str(info.value)


# ---------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("EXAMPLE_COUNTDOWN_S", "--set: 'EXAMPLE_COUNTDOWN_S': expected NAME=VALUE (NAME without CONFIG_)"),
        ("=5", "--set: '=5': expected NAME=VALUE"),
        ("NO_SUCH_OPTION=1", "--set: unknown option 'NO_SUCH_OPTION' (not in the example's Kconfig)"),
        ("EXAMPLE_COUNTDOWN=1", "unknown option 'EXAMPLE_COUNTDOWN' (not in the example's Kconfig); did you mean EXAMPLE_COUNTDOWN_S?"),
        ("EXAMPLE_COUNTDOWN_S=abc", "EXAMPLE_COUNTDOWN_S: 'abc' is not an integer"),
        ("EXAMPLE_COUNTDOWN_S=1.5", "EXAMPLE_COUNTDOWN_S: '1.5' is not an integer"),
        ("EXAMPLE_COUNTDOWN_S=0x10", "EXAMPLE_COUNTDOWN_S: '0x10' is not an integer"),
        ("EXAMPLE_COUNTDOWN_S=-1", "EXAMPLE_COUNTDOWN_S: -1 is out of range [0, 3600]"),
        ("EXAMPLE_COUNTDOWN_S=3601", "EXAMPLE_COUNTDOWN_S: 3601 is out of range [0, 3600]"),
        ("EXAMPLE_CLIENT_SESSION_TICKETS=yes", "EXAMPLE_CLIENT_SESSION_TICKETS: 'yes' is not a bool (y or n)"),
        ("EXAMPLE_SSL_PROTO_TLS1_3_CLIENT=", "EXAMPLE_SSL_PROTO_TLS1_3_CLIENT: '' is not a bool (y or n)"),
        ("EXAMPLE_WEB_URL=ftp://example.com/", "EXAMPLE_WEB_URL: 'ftp://example.com/' is not an https:// or http:// URL"),
        ("EXAMPLE_WEB_URL=www.howsmyssl.com", "is not an https:// or http:// URL"),
        ("EXAMPLE_WEB_URL=https:///path", "EXAMPLE_WEB_URL: 'https:///path' has no host"),
        ("EXAMPLE_WEB_URL=https://h:99999/", "EXAMPLE_WEB_URL: 'https://h:99999/' is not a valid URL"),
        ("EXAMPLE_WEB_URL=https://h:x/", "is not a valid URL"),
        ("EXAMPLE_WEB_URL=https://a b/", "contains white space"),
        ("EXAMPLE_WEB_URL=https://[zz]/", "is not a valid URL"),
        ("EXAMPLE_WEB_URL=FROM_STDIN", "EXAMPLE_WEB_URL: 'FROM_STDIN' is not an https:// or http:// URL"),
        ("EXAMPLE_LOCAL_SERVER_URL=stdin", "EXAMPLE_LOCAL_SERVER_URL: 'stdin' is not an https:// or http:// URL (nor FROM_STDIN)"),
        ("EXAMPLE_CONNECT_TO=a:1:b", "EXAMPLE_CONNECT_TO: 'a:1:b' is not HOST1:PORT1:HOST2:PORT2"),
        ("EXAMPLE_CONNECT_TO=a:1:b:2 c:x:d:3", "EXAMPLE_CONNECT_TO: port 'x' is not a port number (1-65535)"),
        ("EXAMPLE_CLIENT_PROFILE=x", "EXAMPLE_CLIENT_PROFILE: unknown profile 'x' (known: default, esp32-mbedtls, esp32-mbedtls-tls13)"),
        ("LOG_DEFAULT_LEVEL=LOUD", "LOG_DEFAULT_LEVEL: 'LOUD' is not a log level (NONE, ERROR, WARN, INFO, DEBUG, VERBOSE or 0-5)"),
        ("LOG_DEFAULT_LEVEL=6", "LOG_DEFAULT_LEVEL: '6' is not a log level"),
        ("LOG_DEFAULT_LEVEL_INFO=n", "LOG_DEFAULT_LEVEL_INFO: 'n': a choice option can only be set to y"),
        ("MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE=ALL", "MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE: 'ALL' is not a default bundle (FULL, CMN or NONE)"),
        ("MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE_CMN=n", "MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_CMN: 'n': a choice option can only be set to y"),
        ("EXAMPLE_LOCAL_SERVER_URL_FROM_STDIN=y", "EXAMPLE_LOCAL_SERVER_URL_FROM_STDIN: derived from other options, it cannot be set"),
        ("EXAMPLE_SERVER_ROOT_CERT=missing.pem", "--set: EXAMPLE_SERVER_ROOT_CERT: "),
        ("EXAMPLE_LOCAL_SERVER_CERT=/nonexistent/x.pem", "--set: EXAMPLE_LOCAL_SERVER_CERT: '/nonexistent/x.pem': no such file"),
        ("MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH=/nonexistent", "--set: MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH: '/nonexistent': no such file or directory"),
        ("MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE=y", "--set: MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE is enabled but MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH is empty"),
    ],
)  # fmt: skip
def test_set_errors(item: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [item])
    assert str(info.value).startswith("--set: ")
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_set_error_message_example() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, ["EXAMPLE_COUNTDOWN_S=abc"])
    assert str(info.value) == "--set: EXAMPLE_COUNTDOWN_S: 'abc' is not an integer"


def test_custom_bundle_switch_without_path_in_file(tmp_path: Path) -> None:
    path = write(tmp_path / "sdkconfig", "CONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE=y\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, [])
    assert str(info.value) == (
        f"{path}:1: MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE is enabled but MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH is empty"
    )


def test_cert_file_without_pem() -> None:
    write(Path("empty.pem"), "nothing here\n")
    with pytest.raises(ConfigError, match=r"EXAMPLE_SERVER_ROOT_CERT: '.*empty.pem' holds no PEM certificate"):
        load_config(None, ["EXAMPLE_SERVER_ROOT_CERT=empty.pem"])


def test_cert_file_is_a_directory() -> None:
    Path("dir.pem").mkdir()
    with pytest.raises(ConfigError, match=r"EXAMPLE_SERVER_ROOT_CERT: '.*dir.pem': "):
        load_config(None, ["EXAMPLE_SERVER_ROOT_CERT=dir.pem"])


def test_custom_bundle_dir_without_certificates() -> None:
    write(Path("certs") / "README", "no certificates")
    with pytest.raises(ConfigError, match=r"no \*\.pem or \*\.der certificate in '.*certs'"):
        load_config(None, ["MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH=certs"])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("EXAMPLE_COUNTDOWN_S=1", "malformed line 'EXAMPLE_COUNTDOWN_S=1' (expected CONFIG_NAME=VALUE or '# CONFIG_NAME is not set')"),
        ("CONFIG_EXAMPLE_COUNTDOWN_S", "malformed line 'CONFIG_EXAMPLE_COUNTDOWN_S'"),
        ("  CONFIG_EXAMPLE_COUNTDOWN_S=1", "malformed line '  CONFIG_EXAMPLE_COUNTDOWN_S=1'"),
        ("CONFIG_EXAMPLE-X=1", "malformed line"),
        ("garbage", "malformed line 'garbage'"),
        ("CONFIG_EXAMPLE_COUNTDOWN_S=ten", "EXAMPLE_COUNTDOWN_S: 'ten' is not an integer"),
        ("CONFIG_EXAMPLE_COUNTDOWN_S=", "EXAMPLE_COUNTDOWN_S: '' is not an integer"),
        ("CONFIG_EXAMPLE_COUNTDOWN_S=9999", "EXAMPLE_COUNTDOWN_S: 9999 is out of range [0, 3600]"),
        ("CONFIG_EXAMPLE_CLIENT_SESSION_TICKETS=yes", "EXAMPLE_CLIENT_SESSION_TICKETS: 'yes' is not a bool (y or n)"),
        ("CONFIG_EXAMPLE_WEB_URL=https://example.com/", "EXAMPLE_WEB_URL: https://example.com/ is not a double-quoted string"),
        ('CONFIG_EXAMPLE_WEB_URL="https://example.com/', "is not a double-quoted string"),
        ('CONFIG_EXAMPLE_WEB_URL="https://example.com/"junk', "is not a double-quoted string"),
        ('CONFIG_EXAMPLE_WEB_URL="example.com"', "EXAMPLE_WEB_URL: 'example.com' is not an https:// or http:// URL"),
        ('CONFIG_EXAMPLE_CLIENT_PROFILE="esp8266"', "EXAMPLE_CLIENT_PROFILE: unknown profile 'esp8266'"),
        ('CONFIG_EXAMPLE_CONNECT_TO="a:b:c:d"', "EXAMPLE_CONNECT_TO: port 'b' is not a port number"),
        ("# CONFIG_EXAMPLE_WEB_URL is not set", "EXAMPLE_WEB_URL: '# CONFIG_EXAMPLE_WEB_URL is not set' applies to bool options only"),
        ("CONFIG_LOG_DEFAULT_LEVEL=DEBUG", "LOG_DEFAULT_LEVEL: 'DEBUG' is not an integer"),
        ("CONFIG_LOG_DEFAULT_LEVEL=9", "LOG_DEFAULT_LEVEL: 9 is not a log level (0-5)"),
        ("CONFIG_MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE_CMN=1", "MBEDTLS_DEFAULT_CERTIFICATE_BUNDLE_CMN: '1' is not a bool (y or n)"),
        ("CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_FULL=Y", "MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_FULL: 'Y' is not a bool"),
    ],
)  # fmt: skip
def test_file_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path / "sdkconfig", f"# header\n\nCONFIG_UNKNOWN_THING=y\n{line}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, [])
    assert str(info.value).startswith(f"{path}:4: ")
    assert message in str(info.value)


def test_file_path_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "sdkconfig", 'CONFIG_EXAMPLE_COUNTDOWN_S=1\nCONFIG_EXAMPLE_SERVER_ROOT_CERT="nope.pem"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, [])
    assert str(info.value) == f"{path}:2: EXAMPLE_SERVER_ROOT_CERT: {str(tmp_path / 'nope.pem')!r}: no such file"


def test_missing_sdkconfig(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sdkconfig '.*nope': no such file"):
        load_config(tmp_path / "nope", [])


def test_sdkconfig_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sdkconfig '.*': is a directory"):
        load_config(tmp_path, [])


def test_sdkconfig_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "sdkconfig"
    path.write_bytes(b'CONFIG_EXAMPLE_WEB_URL="https://\xff/"\n')
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(path, [])


def test_crlf_sdkconfig(tmp_path: Path) -> None:
    path = tmp_path / "sdkconfig"
    path.write_bytes(b"CONFIG_EXAMPLE_COUNTDOWN_S=4\r\n# CONFIG_EXAMPLE_CLIENT_SESSION_TICKETS is not set\r\n")
    c = load_config(path, [])
    assert (c.countdown_s, c.session_tickets) == (4, False)


# ---------------------------------------------------------------------------
# The packaged certificates


def test_packaged_root_is_isrg_root_x1() -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(SERVER_ROOT_CERT.read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "ISRG Root X1"
    assert cert.subject == cert.issuer


def test_packaged_local_server_cert_is_made_like_esp() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(LOCAL_SERVER_CERT.read_bytes())
    assert cert.version == x509.Version.v1
    assert len(cert.extensions) == 0
    cn = "ESP32 HTTPS request example"
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
    assert cert.subject.rfc4514_string() == f"CN={cn}"
    assert cert.issuer == cert.subject
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days >= 20 * 365
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    # Self-signed: its own key verifies the signature.
    assert cert.signature_hash_algorithm is not None
    public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
    # The shipped key is its key.
    key = serialization.load_pem_private_key(LOCAL_SERVER_KEY.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.public_key().public_numbers() == public.public_numbers()


# ---------------------------------------------------------------------------
# Process hygiene


def test_kconfiglib_logger_is_restored() -> None:
    from esp_pylib.logger import EspLog

    before = EspLog.instance
    load_config(None, ["EXAMPLE_COUNTDOWN_S=1"])
    assert EspLog.instance is before


def test_import_is_light() -> None:
    src = Path(https_request.__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    code = (
        "import sys, https_request.example, https_request.example.config\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'esp_kconfiglib', 'esp_pylib', 'rich', 'cryptography', 'h11', 'certifi'}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_lwip_dns_debug_off_by_default() -> None:
    assert load_config(default_file=False).lwip_dns_debug is False


def test_lwip_dns_debug_by_set_and_in_file(tmp_path: Path) -> None:
    assert load_config(sets=["LWIP_DEBUG=y", "CONFIG_LWIP_DNS_DEBUG=y"], default_file=False).lwip_dns_debug
    sdk = tmp_path / "sdkconfig"
    sdk.write_text("CONFIG_LWIP_DEBUG=y\nCONFIG_LWIP_DNS_DEBUG=y\n")
    assert load_config(sdk).lwip_dns_debug
    sdk.write_text("CONFIG_LWIP_DNS_DEBUG=y\n")  # as in ESP-IDF: without LWIP_DEBUG the option is off
    assert not load_config(sdk).lwip_dns_debug


def test_set_option_whose_dependency_is_off_names_it() -> None:
    with pytest.raises(ConfigError, match=r"--set: LWIP_DNS_DEBUG: depends on LWIP_DEBUG, which is off"):
        load_config(sets=["LWIP_DNS_DEBUG=y"], default_file=False)
    assert not load_config(sets=["LWIP_DNS_DEBUG=n"], default_file=False).lwip_dns_debug  # off stays allowed
