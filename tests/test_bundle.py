"""The ESP-IDF certificate bundle: generation, format checks, the built-in bundle, verification, CLI."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certs import NOW, Issued, at, make_ca, make_key, make_leaf, make_self_signed_leaf
from helpers import shuttle
from https_request import log
from https_request.esp_tls import bundle as B
from https_request.tls.config import CertificateVerifier, VerifiedChain
from https_request.tls.der import cert_parts
from https_request.tls.errors import Reason, TlsError
from https_request.tls.x509_flags import (
    X509_BADCERT_BAD_MD,
    X509_BADCERT_CN_MISMATCH,
    X509_BADCERT_EXPIRED,
    X509_BADCERT_EXT_KEY_USAGE,
    X509_BADCERT_FUTURE,
    X509_BADCERT_NOT_TRUSTED,
)
from tlsenv import CA as ENGINE_CA
from tlsenv import client_config, pair, server_config

DATA = Path(__file__).parent / "data" / "crt_bundle"
ALL_PEM = DATA / "cacrt_all.pem"
CSV = DATA / "cmn_crt_authorities.csv"
CUSTOM = [DATA / "custom_input_isrg_root_x1.pem", DATA / "custom_input_esp_local_server_cert.pem"]
SRC_DIR = Path(B.__file__).resolve().parents[2]


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


@pytest.fixture
def esp_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    log.setup(log.INFO, stream=stream, color=False)
    try:
        yield stream
    finally:
        log.setup(log.INFO)


def lines(stream: io.StringIO) -> list[str]:
    """Log lines without the ``(ms)`` field: ``I esp-x509-crt-bundle: ...``."""
    out = []
    for line in stream.getvalue().splitlines():
        level, _, rest = line.partition(" ")
        out.append(f"{level} {rest.partition(' ')[2]}")
    return out


# ------------------------------------------------------------------------------------------------ generation


def test_all_is_byte_identical() -> None:
    certs = B.load_inputs([str(ALL_PEM)])
    assert len(certs) == 121
    assert B.build_bundle(certs) == fixture("bundle_all.bin")


def test_cmn_filter_is_byte_identical() -> None:
    certs = B.load_inputs([str(ALL_PEM)], str(CSV))
    assert len(certs) == 33  # two CSV names live in cacrt_local.pem, not cacrt_all.pem
    assert B.build_bundle(certs) == fixture("bundle_cmn.bin")


def test_custom_inputs_are_byte_identical() -> None:
    assert B.build_bundle(B.load_inputs([str(p) for p in CUSTOM])) == fixture("bundle_custom.bin")
    # order of inputs does not matter: the bundle is sorted by subject
    assert B.build_bundle(B.load_inputs([str(p) for p in reversed(CUSTOM)])) == fixture("bundle_custom.bin")


def test_folder_input_and_der_files(tmp_path: Path) -> None:
    folder = tmp_path / "certs"
    folder.mkdir()
    shutil.copy(CUSTOM[0], folder / "isrg.pem")
    cert = x509.load_pem_x509_certificate(CUSTOM[1].read_bytes())
    (folder / "local.der").write_bytes(der(cert))
    (folder / "notes.txt").write_text("ignored")
    messages: list[str] = []
    certs = B.load_inputs([str(folder)], status=messages.append)
    assert B.build_bundle(certs) == fixture("bundle_custom.bin")
    assert "Successfully added 1 certificate" in messages
    assert messages[-1] == "Successfully added 2 certificates in total"


def test_folder_without_certificates(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(B.InputError, match="No valid x509 certificates found in"):
        B.load_inputs([str(tmp_path)])


def test_neither_file_nor_folder(tmp_path: Path) -> None:
    with pytest.raises(B.InputError, match="is neither file nor folder"):
        B.load_inputs([str(tmp_path / "missing.pem")])


def test_filter_applies_only_to_cacrt_all_pem(tmp_path: Path) -> None:
    other = tmp_path / "roots.pem"
    shutil.copy(ALL_PEM, other)
    assert len(B.load_inputs([str(other)], str(CSV))) == 121
    renamed = tmp_path / "cacrt_all.pem"
    shutil.copy(ALL_PEM, renamed)
    assert len(B.load_inputs([str(renamed)], str(CSV))) == 33


def test_filter_matches_the_name_line_exactly(tmp_path: Path) -> None:
    csv_file = tmp_path / "f.csv"
    csv_file.write_text("Owner,Name\nx,ISRG Root X1\ny,isrg root x2\nz,ISRG Root X1 \n", encoding="utf-8")
    certs = B.load_inputs([str(ALL_PEM)], str(csv_file))
    assert [c.subject.rfc4514_string() for c in certs] == ["CN=ISRG Root X1,O=Internet Security Research Group,C=US"]


def test_pem_splitting_is_line_exact(tmp_path: Path) -> None:
    isrg, local = (p.read_text() for p in CUSTOM)
    crlf = tmp_path / "crlf.pem"
    crlf.write_bytes(isrg.replace("\n", "\r\n").encode())  # text mode: universal newlines
    assert len(B.load_inputs([str(crlf)])) == 1
    indented = tmp_path / "indented.pem"
    indented.write_text(" " + local)  # BEGIN line not exact: no certificate
    messages: list[str] = []
    assert B.load_inputs([str(indented)], status=messages.append) == []
    assert "No certificate found" in messages
    unterminated = tmp_path / "unterminated.pem"
    unterminated.write_text(isrg + local.rstrip("\n"))  # last END line without newline: dropped
    assert len(B.load_inputs([str(unterminated)])) == 1


def test_invalid_certificate(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(B.InputError, match="Invalid certificate in"):
        B.load_inputs([str(bad)])
    bad_der = tmp_path / "bad.der"
    bad_der.write_bytes(b"\x30\x03\x02\x01\x00")
    with pytest.raises(B.InputError, match="Invalid certificate in"):
        B.load_inputs([str(bad_der)])


def test_max_certs() -> None:
    with pytest.raises(B.InputError, match="exceeds"):
        B.load_inputs([str(ALL_PEM)], max_certs=120)
    certs = B.load_inputs([str(ALL_PEM)], max_certs=121)
    with pytest.raises(B.InputError, match="exceeds"):
        B.build_bundle(certs, max_certs=100)
    assert B.build_bundle(certs, max_certs=None) == fixture("bundle_all.bin")


def test_duplicates_are_kept_and_der_accepted() -> None:
    cert = x509.load_pem_x509_certificate(CUSTOM[0].read_bytes())
    data = B.build_bundle([cert, der(cert)])
    parsed = B.parse_bundle(data)
    assert len(parsed) == 2 and parsed.entries[0] == parsed.entries[1]


def test_empty_input_is_refused() -> None:
    with pytest.raises(B.InputError):
        B.build_bundle([])


# ------------------------------------------------------------------------------------------------ format


def test_parse_fixture_entries() -> None:
    parsed = B.parse_bundle(fixture("bundle_custom.bin"))
    certs = [x509.load_pem_x509_certificate(p.read_bytes()) for p in CUSTOM]
    by_name = {c.subject.public_bytes(): c for c in certs}
    assert len(parsed) == 2 and parsed.is_sorted
    for entry in parsed.entries:
        spki = by_name[entry.name].public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        assert entry.key == spki


def test_subjects_match_cryptography() -> None:
    parsed = B.parse_bundle(fixture("bundle_all.bin"))
    certs = sorted(B.load_inputs([str(ALL_PEM)]), key=lambda c: c.subject.public_bytes())
    assert parsed.subjects() == [c.subject.rfc4514_string() for c in certs]


def test_subjects_custom() -> None:
    assert B.parse_bundle(fixture("bundle_custom.bin")).subjects() == [
        "CN=ESP32 HTTPS request example",
        "CN=ISRG Root X1,O=Internet Security Research Group,C=US",
    ]


def _bundle(*entries: tuple[bytes, bytes]) -> bytes:
    return B._pack([B.BundleEntry(n, k) for n, k in entries])


def _set_offset(data: bytes, index: int, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into("<I", out, 4 * index, value)
    return bytes(out)


CUSTOM_BIN = (DATA / "bundle_custom.bin").read_bytes()

MALFORMED = {
    "empty": b"",
    "eight-bytes": b"\x04\x00\x00\x00\x00\x00\x00\x00",
    "first-offset-zero": b"\x00" * 16,
    "first-offset-unaligned": _set_offset(CUSTOM_BIN, 0, 6),
    "first-offset-past-end": _set_offset(CUSTOM_BIN, 0, len(CUSTOM_BIN)),
    "next-offset-wrong": _set_offset(CUSTOM_BIN, 1, struct.unpack_from("<I", CUSTOM_BIN, 4)[0] + 1),
    "header-past-end": struct.pack("<II", 8, 12) + b"\x00\x00",
    "entry-fills-bundle": _bundle((b"\x30\x00", b"k"), (b"\x30\x00", b"k"))[:-7],
    "last-header-past-end": struct.pack("<II", 8, 12) + struct.pack("<HH", 0, 0) + b"\x00",
    "last-entry-truncated": CUSTOM_BIN[:-1],
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_bundles(data: bytes) -> None:
    with pytest.raises(B.BundleError) as info:
        B.parse_bundle(data)
    message = str(info.value)
    assert message and "\n" not in message


def test_too_many_certificates() -> None:
    with pytest.raises(B.BundleError, match="exceed max allowed") as info:
        B.parse_bundle(fixture("bundle_all.bin"), max_certs=120)
    assert info.value.max_certs_exceeded
    assert len(B.parse_bundle(fixture("bundle_all.bin"), max_certs=121)) == 121


def test_trailing_bytes_and_minimal_bundle_are_accepted() -> None:
    assert len(B.parse_bundle(CUSTOM_BIN + b"junk")) == 2
    minimal = _bundle((b"\x30\x00", b"k"))
    assert len(minimal) == 4 + 4 + 3 and B.parse_bundle(minimal).entries == (B.BundleEntry(b"\x30\x00", b"k"),)


def test_lookup_is_esp_binary_search_with_prefix_quirk() -> None:
    parsed = B.parse_bundle(fixture("bundle_all.bin"))
    for entry in parsed.entries:
        index = parsed.find_index(entry.name)
        assert index is not None and parsed.entries[index].name == entry.name
    name = parsed.entries[40].name
    assert parsed.find(name[:12]) is not None  # a prefix counts as a match
    assert parsed.find(name + b"\x00extra") == parsed.entries[40]
    assert parsed.find(b"") is None
    assert parsed.find(b"\x30\x03\x31\x01\x00") is None


def test_unsorted_bundle_misses() -> None:
    a, b, c = (B.BundleEntry(bytes([0x30, 1, x]), b"k") for x in (1, 2, 3))
    parsed = B.parse_bundle(B._pack([b, c, a]))
    assert not parsed.is_sorted
    assert parsed.find(a.name) is None  # binary search over unsorted data, as on the device


# ------------------------------------------------------------------------------------------------ built-in bundle


def test_builtin_full() -> None:
    full = B.parse_bundle(B.builtin_bundle("FULL"))
    assert len(full) > 100 and full.is_sorted
    assert "CN=ISRG Root X1,O=Internet Security Research Group,C=US" in full.subjects()
    assert B.builtin_bundle("full") is B.builtin_bundle("FULL")  # cached


def test_builtin_cmn() -> None:
    names = B.cmn_authorities()
    assert len(names) == 35 and names[0] == "Amazon Root CA 1"
    cmn = B.parse_bundle(B.builtin_bundle())
    full = set(B.parse_bundle(B.builtin_bundle("FULL")).entries)
    assert 20 < len(cmn) <= 35 and set(cmn.entries) <= full
    assert any("ISRG Root X1" in s for s in cmn.subjects())


def test_builtin_kind_is_checked() -> None:
    with pytest.raises(ValueError):
        B.builtin_bundle("ALL")


# ------------------------------------------------------------------------------------------------ verification


def verifier_for(*roots: Issued, **kw: Any) -> B.BundleVerifier:
    return B.BundleVerifier(B.build_bundle([r.cert for r in roots]), **kw)


def test_is_a_certificate_verifier() -> None:
    v: CertificateVerifier = verifier_for(make_ca())
    assert isinstance(v, B.BundleVerifier)


@pytest.mark.parametrize("key_type", ["rsa", "ec", "p384"])
def test_root_in_bundle_validates(key_type: str, esp_log: io.StringIO) -> None:
    root = make_ca(key_type, name=f"Bundle Root {key_type}")  # type: ignore[arg-type]
    leaf = make_leaf(root, ["example.test"], key_type=key_type)  # type: ignore[arg-type]
    result = verifier_for(root, make_ca(name="Another Root")).verify(leaf.chain_der, "example.test", NOW, server=True)
    assert isinstance(result, VerifiedChain) and result.chain == leaf.chain_der
    assert lines(esp_log) == ["I esp-x509-crt-bundle: Certificate validated"]


def test_intermediate_chain_validates_once(esp_log: io.StringIO) -> None:
    root = make_ca("rsa", name="Bundle Chain Root")
    inter = make_ca(name="Bundle Chain Intermediate", parent=root)
    leaf = make_leaf(inter, ["example.test"])
    assert len(leaf.chain_der) == 2
    log.set_level(B.TAG, log.DEBUG)
    result = verifier_for(root).verify(leaf.chain_der, "example.test", NOW, server=True)
    assert result.chain == leaf.chain_der
    got = lines(esp_log)
    assert got[0] == "D esp-x509-crt-bundle: 1 certificates in bundle"
    assert "D esp-x509-crt-bundle: Using ECDSA_ANY algorithm (no hash constraint)" not in got  # RSA root
    assert "D esp-x509-crt-bundle: Using RSA PKCS1V15 SIGN algorithm with hash" in got
    assert got[-1] == "I esp-x509-crt-bundle: Certificate validated"
    assert got.count("I esp-x509-crt-bundle: Certificate validated") == 1


def test_root_not_in_bundle(esp_log: io.StringIO) -> None:
    leaf = make_leaf(make_ca(name="Unknown Root"), ["example.test"])
    v = verifier_for(make_ca(name="Some Other Root"))
    with pytest.raises(B.CertVerifyError) as info:
        v.verify(leaf.chain_der, "example.test", NOW, server=True)
    err = info.value
    assert isinstance(err, TlsError) and err.reason is Reason.CERT_UNTRUSTED
    assert err.verify_flags == 0xFFFFFFFF == B.X509_VERIFY_ABORTED
    assert err.mbedtls_error == B.MBEDTLS_ERR_X509_FATAL_ERROR == -0x3000
    assert lines(esp_log) == [
        "I esp-x509-crt-bundle: No matching trusted root certificate found",
        "E esp-x509-crt-bundle: Failed to verify certificate",
    ]


@pytest.mark.parametrize("key_type", ["rsa", "ec"])
def test_right_subject_wrong_key(key_type: str, esp_log: io.StringIO) -> None:
    name = f"Impostor Root {key_type}"
    real = make_ca(key_type, name=name)  # type: ignore[arg-type]
    fake = make_ca(key_type, name=name, key=make_key(key_type, label="impostor"))  # type: ignore[arg-type]
    assert real.cert.subject == fake.cert.subject
    leaf = make_leaf(real, ["example.test"])
    with pytest.raises(B.CertVerifyError) as info:
        verifier_for(fake).verify(leaf.chain_der, "example.test", NOW, server=True)
    assert info.value.verify_flags == 0xFFFFFFFF and info.value.mbedtls_error == -0x3000
    got = lines(esp_log)
    assert "E esp-x509-crt-bundle: Certificate matched but signature verification failed" in got
    assert got[-1] == "E esp-x509-crt-bundle: Failed to verify certificate"
    assert "I esp-x509-crt-bundle: Certificate validated" not in got


def test_signature_failure_debug_line(esp_log: io.StringIO) -> None:
    real = make_ca(name="Debug Root")
    fake = make_ca(name="Debug Root")
    log.set_level(B.TAG, log.DEBUG)
    with pytest.raises(B.CertVerifyError):
        verifier_for(fake).verify(make_leaf(real).chain_der, None, NOW, server=True)
    got = lines(esp_log)
    assert any(
        line.startswith("E esp-x509-crt-bundle: PSA signature verification failed with error 0xffffff6b")
        for line in got
    )
    assert any(line.startswith("E esp-x509-crt-bundle: Certificate matched with 0") for line in got)


def test_unparsable_bundle_key(esp_log: io.StringIO) -> None:
    root = make_ca(name="Garbage Key Root")
    v = B.BundleVerifier(B._pack([B.BundleEntry(root.cert.subject.public_bytes(), b"\x30\x03\x02\x01\x00")]))
    with pytest.raises(B.CertVerifyError):
        v.verify(make_leaf(root).chain_der, None, NOW, server=True)
    assert lines(esp_log) == [
        "E esp-x509-crt-bundle: PK parse failed with error 0x3d00",
        "E esp-x509-crt-bundle: Certificate matched but signature verification failed",
        "E esp-x509-crt-bundle: Failed to verify certificate",
    ]


def test_expired_leaf_is_not_masked(esp_log: io.StringIO) -> None:
    root = make_ca(name="Expiry Root")
    leaf = make_leaf(root, ["example.test"], not_before=at(2020), not_after=at(2021))
    with pytest.raises(B.CertVerifyError) as info:
        verifier_for(root).verify(leaf.chain_der, "example.test", NOW, server=True)
    err = info.value
    assert err.verify_flags & X509_BADCERT_EXPIRED
    assert err.verify_flags == X509_BADCERT_EXPIRED | X509_BADCERT_NOT_TRUSTED  # the leaf is the top cert
    assert err.reason is Reason.CERT_EXPIRED and err.mbedtls_error == B.MBEDTLS_ERR_X509_CERT_VERIFY_FAILED
    assert lines(esp_log) == []  # the callback leaves it alone: no bundle lookup


def test_expired_leaf_below_validated_intermediate(esp_log: io.StringIO) -> None:
    root = make_ca(name="Expiry Chain Root")
    inter = make_ca(name="Expiry Chain Intermediate", parent=root)
    leaf = make_leaf(inter, ["example.test"], not_before=at(2026), not_after=at(2027))
    with pytest.raises(B.CertVerifyError) as info:
        verifier_for(root).verify(leaf.chain_der, "example.test", NOW, server=True)
    assert info.value.verify_flags == X509_BADCERT_FUTURE
    assert info.value.reason is Reason.CERT_NOT_YET_VALID
    assert lines(esp_log) == ["I esp-x509-crt-bundle: Certificate validated"]


def test_name_mismatch(esp_log: io.StringIO) -> None:
    root = make_ca(name="Name Root")
    inter = make_ca(name="Name Intermediate", parent=root)
    leaf = make_leaf(inter, ["example.test"])
    v = verifier_for(root)
    with pytest.raises(B.CertVerifyError) as info:
        v.verify(leaf.chain_der, "other.test", NOW, server=True)
    assert info.value.verify_flags == X509_BADCERT_CN_MISMATCH
    assert info.value.reason is Reason.CERT_NAME_MISMATCH and info.value.mbedtls_error == -0x2700
    # skip_common_name, no name, or a client certificate: no name check
    assert verifier_for(root, check_name=False).verify(leaf.chain_der, "other.test", NOW, server=True)
    assert v.verify(leaf.chain_der, None, NOW, server=True)


def test_cn_fallback_only_with_mbedtls_policy() -> None:
    root = make_ca(name="CN Root")
    leaf = make_leaf(root, [], common_name="cn-only.test")  # no SAN
    assert verifier_for(root).verify(leaf.chain_der, "cn-only.test", NOW, server=True)
    with pytest.raises(B.CertVerifyError) as info:
        verifier_for(root, policy="webpki").verify(leaf.chain_der, "cn-only.test", NOW, server=True)
    assert info.value.verify_flags == X509_BADCERT_CN_MISMATCH | X509_BADCERT_NOT_TRUSTED  # the leaf is the top


def test_self_signed_root_presented_alone(esp_log: io.StringIO) -> None:
    root = make_ca("rsa", name="Lonely Root")
    assert verifier_for(root).verify((root.der,), None, NOW, server=True).chain == (root.der,)
    assert lines(esp_log) == ["I esp-x509-crt-bundle: Certificate validated"]


def test_self_signed_leaf_in_bundle() -> None:
    leaf = make_self_signed_leaf(["device.local"])
    assert verifier_for(leaf).verify((leaf.der,), "device.local", NOW, server=True)


def test_esp_local_server_cert_through_custom_bundle() -> None:
    # The example's self-signed X.509 v1 certificate (CN only) in bundle_custom.bin.
    cert = (DATA / "custom_input_esp_local_server_cert.pem").read_bytes()
    leaf = der(x509.load_pem_x509_certificate(cert))
    v = B.BundleVerifier(fixture("bundle_custom.bin"))
    when = datetime(2025, 6, 1, tzinfo=UTC).timestamp()
    assert v.verify((leaf,), "ESP32 HTTPS request example", when, server=True)
    with pytest.raises(B.CertVerifyError) as info:
        v.verify((leaf,), "localhost", when, server=True)
    assert info.value.verify_flags == X509_BADCERT_CN_MISMATCH | X509_BADCERT_NOT_TRUSTED


def test_broken_link_below_the_top_fails(esp_log: io.StringIO) -> None:
    root = make_ca(name="Link Root")
    inter = make_ca(name="Link Intermediate", parent=root)
    twin = make_ca(name="Link Intermediate", parent=root)  # same name, another key
    leaf = make_leaf(twin, ["example.test"])
    with pytest.raises(B.CertVerifyError) as info:
        verifier_for(root).verify((leaf.der, inter.der), "example.test", NOW, server=True)
    assert info.value.verify_flags == 0xFFFFFFFF
    assert lines(esp_log) == [
        "I esp-x509-crt-bundle: Certificate validated",  # the intermediate, against the bundle root
        "I esp-x509-crt-bundle: No matching trusted root certificate found",  # the leaf: bad link, not in bundle
        "E esp-x509-crt-bundle: Failed to verify certificate",
    ]


def _resign_with_sha1(cert: x509.Certificate, key: rsa.RSAPrivateKey) -> x509.Certificate:
    """``cert`` (sha256WithRSAEncryption) re-signed as sha1WithRSAEncryption (cryptography no longer signs SHA-1)."""
    sha256_rsa, sha1_rsa = bytes.fromhex("2a864886f70d01010b"), bytes.fromhex("2a864886f70d010105")
    data = der(cert).replace(sha256_rsa, sha1_rsa)
    tbs = cert_parts(data).tbs
    old_signature, new_signature = cert.signature, key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    assert len(old_signature) == len(new_signature) and data.endswith(old_signature)
    return x509.load_der_x509_certificate(data[: -len(old_signature)] + new_signature)


def test_weak_hash_on_top_cert_is_tolerated(esp_log: io.StringIO) -> None:
    root = make_ca("rsa", name="SHA1 Root")
    inter = make_ca(name="SHA1 Intermediate", parent=root)
    assert isinstance(root.key, rsa.RSAPrivateKey)
    weak = _resign_with_sha1(inter.cert, root.key)
    assert isinstance(weak.signature_hash_algorithm, hashes.SHA1)
    leaf = make_leaf(inter, ["example.test"])
    chain = (leaf.der, der(weak))
    assert verifier_for(root).verify(chain, "example.test", NOW, server=True).chain == chain
    assert lines(esp_log) == ["I esp-x509-crt-bundle: Certificate validated"]


def test_weak_hash_below_the_top_is_bad_md(esp_log: io.StringIO) -> None:
    root = make_ca(name="SHA1 Chain Root")
    inter = make_ca("rsa", name="SHA1 Chain Intermediate", parent=root)
    assert isinstance(inter.key, rsa.RSAPrivateKey)
    leaf = _resign_with_sha1(make_leaf(inter, ["example.test"]).cert, inter.key)
    with pytest.raises(B.CertVerifyError) as info:
        verifier_for(root).verify((der(leaf), inter.der), "example.test", NOW, server=True)
    assert info.value.verify_flags == X509_BADCERT_BAD_MD and info.value.mbedtls_error == -0x2700
    assert lines(esp_log) == ["I esp-x509-crt-bundle: Certificate validated"]


def test_detached_bundle(esp_log: io.StringIO) -> None:
    leaf = make_leaf(make_ca(name="Detached Root"))
    with pytest.raises(B.CertVerifyError) as info:
        B.BundleVerifier(None).verify(leaf.chain_der, None, NOW, server=True)
    assert info.value.verify_flags == 0xFFFFFFFF
    assert lines(esp_log) == ["E esp-x509-crt-bundle: No certificates in bundle"]


def test_wrong_eku_is_bad_certificate() -> None:
    root = make_ca(name="EKU Root")
    leaf = make_leaf(root, ["example.test"], eku="clientAuth")
    with pytest.raises(B.CertVerifyError) as info:
        verifier_for(root).verify(leaf.chain_der, "example.test", NOW, server=True)
    assert info.value.verify_flags == X509_BADCERT_EXT_KEY_USAGE
    assert info.value.reason is Reason.CERT_BAD and info.value.mbedtls_error == B.MBEDTLS_ERR_SSL_BAD_CERTIFICATE
    assert verifier_for(root).verify(leaf.chain_der, None, NOW, server=False)  # fine as a client certificate


def test_bad_bundle_bytes_refused() -> None:
    with pytest.raises(B.BundleError):
        B.BundleVerifier(b"\x00" * 4)
    with pytest.raises(ValueError):
        B.BundleVerifier(None, policy="openssl")


def test_handshake_through_bundle(esp_log: io.StringIO) -> None:
    verifier = B.BundleVerifier(B.build_bundle([ENGINE_CA.cert]))
    c, s = pair(client_config(verifier=verifier), server_config())
    c.start_handshake()
    shuttle(c, s)
    assert not c.is_handshaking and c.peer_certificates
    assert lines(esp_log) == ["I esp-x509-crt-bundle: Certificate validated"]


def test_handshake_fails_without_root() -> None:
    verifier = B.BundleVerifier(B.build_bundle([make_ca(name="Not The Engine CA").cert]))
    c, s = pair(client_config(verifier=verifier), server_config())
    c.start_handshake()
    with pytest.raises(TlsError) as info:
        shuttle(c, s)
    assert info.value.verify_flags == 0xFFFFFFFF


# ------------------------------------------------------------------------------------------------ CLI


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC_DIR), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "https_request", "bundle", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_module_import_is_light() -> None:
    code = "import sys, https_request.esp_tls.bundle; print('cryptography' in sys.modules)"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC_DIR), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "False", proc.stderr


def test_cli_build_cmn_and_custom(tmp_path: Path) -> None:
    out = tmp_path / "cmn.bin"
    proc = run_cli("build", "-i", str(ALL_PEM), "--filter", str(CSV), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == fixture("bundle_cmn.bin")
    assert "Successfully added 33 certificates in total" in proc.stderr
    out2 = tmp_path / "custom.bin"
    proc = run_cli("build", "-q", "-i", str(CUSTOM[0]), "-i", str(CUSTOM[1]), "-o", str(out2))
    assert proc.returncode == 0 and proc.stderr == ""
    assert out2.read_bytes() == fixture("bundle_custom.bin")


def test_cli_build_default_is_certifi(tmp_path: Path) -> None:
    out = tmp_path / "full.bin"
    proc = run_cli("build", "-q", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == B.builtin_bundle("FULL")


def test_cli_build_errors(tmp_path: Path) -> None:
    out = tmp_path / "x.bin"
    proc = run_cli("build", "-i", str(tmp_path / "missing"), "-o", str(out))
    assert proc.returncode == 2 and "neither file nor folder" in proc.stderr and not out.exists()
    proc = run_cli("build", "-q", "-i", str(ALL_PEM), "--max-certs", "10", "-o", str(out))
    assert proc.returncode == 2 and "exceeds" in proc.stderr
    assert run_cli("build", "-i", str(ALL_PEM)).returncode == 2  # -o is required
    assert run_cli("build", "--max-certs", "zero", "-o", str(out)).returncode == 2


def test_cli_build_errors_name_the_files(tmp_path: Path) -> None:
    """The output's own name and the OS's reason, never the temporary file written first; a missing
    filter file likewise (no errno, no repeated path)."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_bytes(b"")
    for out, why in (
        (tmp_path / "folder", "Is a directory"),
        (tmp_path / "missing" / "x.bin", "No such file or directory"),
        (tmp_path / "file" / "x.bin", "Not a directory"),
    ):
        proc = run_cli("build", "-q", "-i", str(CUSTOM[0]), "-o", str(out))
        assert (proc.returncode, proc.stderr) == (2, f"https-request bundle: error: cannot write {out}: {why}\n")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["file", "folder"]  # no temporary file left behind
    missing = tmp_path / "missing.csv"
    proc = run_cli("build", "-q", "-f", str(missing), "-o", str(tmp_path / "x.bin"))
    assert (proc.returncode, proc.stderr) == (
        2,
        f"https-request bundle: error: cannot read {missing}: No such file or directory\n",
    )


def test_cli_inspect(tmp_path: Path) -> None:
    proc = run_cli("inspect", str(DATA / "bundle_custom.bin"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "2 certificates",
        "CN=ESP32 HTTPS request example",
        "CN=ISRG Root X1,O=Internet Security Research Group,C=US",
    ]
    proc = run_cli("inspect", str(DATA / "bundle_cmn.bin"))
    assert proc.stdout.splitlines()[0] == "33 certificates" and len(proc.stdout.splitlines()) == 34


def test_cli_inspect_malformed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(CUSTOM_BIN[:-1])
    proc = run_cli("inspect", str(bad))
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "invalid bundle" in proc.stderr
    proc = run_cli("inspect", str(tmp_path / "missing.bin"))
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    proc = run_cli("inspect", "--max-certs", "100", str(DATA / "bundle_all.bin"))
    assert proc.returncode == 2 and "exceed max allowed" in proc.stderr
