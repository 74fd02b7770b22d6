"""Chain verification and mbedTLS verify flags (tls/verify.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from certs import NOW, Issued, at, key_usage, make_ca, make_leaf, make_self_signed_leaf
from https_request.tls.config import CertificateVerifier, VerifiedChain
from https_request.tls.errors import Reason, TlsError
from https_request.tls.verify import (
    X509_BADCERT_BAD_PK,
    X509_BADCERT_CN_MISMATCH,
    X509_BADCERT_EXPIRED,
    X509_BADCERT_EXT_KEY_USAGE,
    X509_BADCERT_FUTURE,
    X509_BADCERT_KEY_USAGE,
    X509_BADCERT_MISSING,
    X509_BADCERT_NOT_TRUSTED,
    X509_BADCERT_OTHER,
    X509_VERIFY_ABORTED,
    WebPkiVerifier,
    describe_flags,
    match_name,
    reason_for_flags,
)

ESP_CERT_PEM = (Path(__file__).parent / "data" / "esp_local_server_cert.pem").read_bytes()
ESP_CERT = x509.load_pem_x509_certificate(ESP_CERT_PEM)
ESP_DER = ESP_CERT.public_bytes(Encoding.DER)


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca()


@pytest.fixture(scope="module")
def leaf(ca: Issued) -> Issued:
    return make_leaf(ca)


def fails(verifier: WebPkiVerifier, chain: tuple[bytes, ...], name: str | None = "localhost", **kw: object) -> TlsError:
    now = kw.pop("now", NOW)
    assert isinstance(now, float)
    server = kw.pop("server", True)
    assert isinstance(server, bool)
    with pytest.raises(TlsError) as info:
        verifier.verify(chain, name, now, server=server)
    return info.value


# --- success -----------------------------------------------------------------


def test_is_a_certificate_verifier(ca: Issued) -> None:
    verifier: CertificateVerifier = WebPkiVerifier([ca.cert])
    assert isinstance(verifier, WebPkiVerifier)


def test_leaf_to_root(ca: Issued, leaf: Issued) -> None:
    result = WebPkiVerifier([ca.cert]).verify(leaf.chain_der, "localhost", NOW, server=True)
    assert result == VerifiedChain(chain=(leaf.der, ca.der))


def test_ip_address_name(ca: Issued, leaf: Issued) -> None:
    WebPkiVerifier([ca.cert]).verify(leaf.chain_der, "127.0.0.1", NOW, server=True)
    v6 = make_leaf(ca, ["::1"])
    WebPkiVerifier([ca.cert]).verify(v6.chain_der, "[::1]", NOW, server=True)
    WebPkiVerifier([ca.cert]).verify(v6.chain_der, "::1", NOW, server=True)


def test_trailing_dot_and_case(ca: Issued, leaf: Issued) -> None:
    WebPkiVerifier([ca.cert]).verify(leaf.chain_der, "LocalHost.", NOW, server=True)


def test_leaf_intermediate_root(ca: Issued) -> None:
    inter = make_ca(name="Test Intermediate", parent=ca)
    leaf = make_leaf(inter, ["www.example.com"], key_type="rsa")
    assert leaf.chain == (inter.cert,)
    result = WebPkiVerifier([ca.cert]).verify(leaf.chain_der, "www.example.com", NOW, server=True)
    assert result.chain == (leaf.der, inter.der, ca.der)


def test_rsa_and_p384_chains() -> None:
    root = make_ca("rsa", name="RSA Root")
    for key_type in ("rsa", "rsa3072", "p384", "ed25519"):
        leaf = make_leaf(root, key_type=key_type)
        WebPkiVerifier([root.cert]).verify(leaf.chain_der, "localhost", NOW, server=True)


def test_wildcard(ca: Issued) -> None:
    leaf = make_leaf(ca, ["*.example.com"])
    verifier = WebPkiVerifier([ca.cert])
    verifier.verify(leaf.chain_der, "www.example.com", NOW, server=True)
    for bad in ("example.com", "a.b.example.com"):
        assert fails(verifier, leaf.chain_der, bad).verify_flags == X509_BADCERT_CN_MISMATCH


def test_check_name_false_skips_only_the_name(ca: Issued, leaf: Issued) -> None:
    verifier = WebPkiVerifier([ca.cert], check_name=False)
    assert verifier.verify(leaf.chain_der, "not-the-name.example", NOW, server=True).chain == (leaf.der, ca.der)
    verifier.verify(leaf.chain_der, None, NOW, server=True)
    # The chain is still checked: EKU, validity, trust.
    client_only = make_leaf(ca, eku="clientAuth")
    assert fails(verifier, client_only.chain_der).verify_flags == X509_BADCERT_EXT_KEY_USAGE
    expired = make_leaf(ca, not_after=at(2024))
    assert fails(verifier, expired.chain_der).verify_flags == X509_BADCERT_EXPIRED
    other = make_ca(name="Other CA")
    assert fails(WebPkiVerifier([other.cert], check_name=False), leaf.chain_der).verify_flags == (
        X509_BADCERT_NOT_TRUSTED
    )


def test_no_name_given_with_check_name(ca: Issued, leaf: Issued) -> None:
    # No server name to compare (e.g. an IP-less, SNI-less call): the chain is still verified.
    WebPkiVerifier([ca.cert]).verify(leaf.chain_der, None, NOW, server=True)


def test_check_name_false_with_server_auth_intermediate(ca: Issued) -> None:
    inter = make_ca(name="Server Intermediate", parent=ca, eku="serverAuth")
    leaf = make_leaf(inter)
    WebPkiVerifier([ca.cert], check_name=False).verify(leaf.chain_der, None, NOW, server=True)


def test_leaf_without_eku_is_fine(ca: Issued) -> None:
    leaf = make_leaf(ca, eku=None)
    WebPkiVerifier([ca.cert]).verify(leaf.chain_der, "localhost", NOW, server=True)
    WebPkiVerifier([ca.cert], check_name=False).verify(leaf.chain_der, None, NOW, server=True)


def test_client_certificate(ca: Issued) -> None:
    client = make_leaf(ca, ["client.example"], eku="clientAuth")
    verifier = WebPkiVerifier([ca.cert])
    assert verifier.verify(client.chain_der, None, NOW, server=False).chain == (client.der, ca.der)
    server_only = make_leaf(ca, eku="serverAuth")
    assert fails(verifier, server_only.chain_der, None, server=False).verify_flags == X509_BADCERT_EXT_KEY_USAGE


def test_validity_bounds_are_inclusive(ca: Issued) -> None:
    leaf = make_leaf(ca, not_before=at(2025, 1, 1), not_after=at(2025, 12, 31))
    verifier = WebPkiVerifier([ca.cert])
    verifier.verify(leaf.chain_der, "localhost", at(2025, 1, 1).timestamp(), server=True)
    verifier.verify(leaf.chain_der, "localhost", at(2025, 12, 31).timestamp(), server=True)


# --- failures and flags --------------------------------------------------------


def test_wrong_name(ca: Issued, leaf: Issued) -> None:
    err = fails(WebPkiVerifier([ca.cert]), leaf.chain_der, "example.com")
    assert err.verify_flags == X509_BADCERT_CN_MISMATCH == 0x04
    assert err.reason is Reason.CERT_NAME_MISMATCH
    assert "Common Name (CN) does not match" in str(err)
    assert fails(WebPkiVerifier([ca.cert]), leaf.chain_der, "127.0.0.2").verify_flags == X509_BADCERT_CN_MISMATCH
    assert fails(WebPkiVerifier([ca.cert]), leaf.chain_der, "h\u00e9llo").verify_flags == X509_BADCERT_CN_MISMATCH


def test_expired(ca: Issued) -> None:
    leaf = make_leaf(ca, not_before=at(2020), not_after=at(2024))
    err = fails(WebPkiVerifier([ca.cert]), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_EXPIRED == 0x01
    assert err.reason is Reason.CERT_EXPIRED
    assert "The certificate validity has expired" in str(err)


def test_not_yet_valid(ca: Issued) -> None:
    leaf = make_leaf(ca, not_before=at(2026), not_after=at(2027))
    err = fails(WebPkiVerifier([ca.cert]), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_FUTURE == 0x200
    assert err.reason is Reason.CERT_NOT_YET_VALID


def test_untrusted(leaf: Issued) -> None:
    other = make_ca(name="Other CA")
    err = fails(WebPkiVerifier([other.cert]), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_NOT_TRUSTED == 0x08
    assert err.reason is Reason.CERT_UNTRUSTED


def test_same_name_other_key_is_untrusted(ca: Issued, leaf: Issued) -> None:
    impostor = make_ca(name="Test Root CA")
    assert fails(WebPkiVerifier([impostor.cert]), leaf.chain_der).verify_flags == X509_BADCERT_NOT_TRUSTED


def test_expired_and_untrusted_report_both(ca: Issued) -> None:
    leaf = make_leaf(ca, not_after=at(2024))
    other = make_ca(name="Other CA")
    err = fails(WebPkiVerifier([other.cert]), leaf.chain_der, "example.com")
    assert err.verify_flags == X509_BADCERT_EXPIRED | X509_BADCERT_NOT_TRUSTED | X509_BADCERT_CN_MISMATCH
    assert err.reason is Reason.CERT_EXPIRED


def test_missing_intermediate(ca: Issued) -> None:
    inter = make_ca(name="Test Intermediate", parent=ca)
    leaf = make_leaf(inter)
    err = fails(WebPkiVerifier([ca.cert]), (leaf.der,))
    assert err.verify_flags == X509_BADCERT_NOT_TRUSTED


def test_expired_intermediate_and_root(ca: Issued) -> None:
    inter = make_ca(name="Old Intermediate", parent=ca, not_after=at(2024))
    leaf = make_leaf(inter)
    assert fails(WebPkiVerifier([ca.cert]), leaf.chain_der).verify_flags == X509_BADCERT_EXPIRED
    old_root = make_ca(name="Old Root", not_after=at(2024))
    leaf2 = make_leaf(old_root)
    assert fails(WebPkiVerifier([old_root.cert]), leaf2.chain_der).verify_flags == X509_BADCERT_EXPIRED


def test_client_auth_only_eku(ca: Issued) -> None:
    leaf = make_leaf(ca, eku="clientAuth")
    err = fails(WebPkiVerifier([ca.cert]), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_EXT_KEY_USAGE == 0x1000
    assert err.reason is Reason.CERT_BAD
    assert "extendedKeyUsage" in str(err)


def test_any_eku_is_not_server_auth_for_webpki(ca: Issued) -> None:
    leaf = make_leaf(ca, eku=[x509.ObjectIdentifier("2.5.29.37.0")])
    assert fails(WebPkiVerifier([ca.cert]), leaf.chain_der).verify_flags == X509_BADCERT_EXT_KEY_USAGE


def test_key_usage_without_digital_signature(ca: Issued) -> None:
    leaf = make_leaf(ca, key_type="rsa", key_usage_ext=key_usage(key_encipherment=True))
    err = fails(WebPkiVerifier([ca.cert]), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_KEY_USAGE == 0x800
    assert err.reason is Reason.CERT_BAD


def test_ed25519_signed_chain_is_bad_pk() -> None:
    root = make_ca("ed25519", name="Ed25519 Root")
    leaf = make_leaf(root)
    assert fails(WebPkiVerifier([root.cert]), leaf.chain_der).verify_flags == X509_BADCERT_BAD_PK


def test_webpki_only_refusal_is_other(ca: Issued) -> None:
    # A leaf with a critical EKU: mbedTLS would not flag it, webpki refuses it.
    leaf = make_leaf(ca, eku=None, extra_extensions=[(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), True)])
    err = fails(WebPkiVerifier([ca.cert]), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_OTHER
    assert err.reason is Reason.CERT_BAD
    assert "webpki" in str(err)


def test_empty_chain() -> None:
    err = fails(WebPkiVerifier([make_ca().cert]), ())
    assert err.verify_flags == X509_BADCERT_MISSING
    assert err.reason is Reason.CERT_REQUIRED


def test_garbage_certificate(ca: Issued) -> None:
    err = fails(WebPkiVerifier([ca.cert]), (b"\x30\x03\x02\x01\x00",))
    assert err.reason is Reason.CERT_BAD


def test_no_anchors() -> None:
    with pytest.raises(ValueError):
        WebPkiVerifier([])


# --- locally trusted leaf --------------------------------------------------------


def test_self_signed_v3_leaf_trusted_as_itself() -> None:
    leaf = make_self_signed_leaf()
    verifier = WebPkiVerifier([leaf.cert])
    assert verifier.verify(leaf.chain_der, "localhost", NOW, server=True).chain == (leaf.der,)
    assert fails(verifier, leaf.chain_der, "example.com").verify_flags == X509_BADCERT_CN_MISMATCH
    other = make_self_signed_leaf()
    assert fails(verifier, other.chain_der).verify_flags == X509_BADCERT_NOT_TRUSTED


def test_trusted_ca_presented_as_leaf(ca: Issued) -> None:
    # webpki refuses a CA as end-entity; the byte-equal shortcut accepts it when no name is checked.
    verifier = WebPkiVerifier([ca.cert], check_name=False)
    assert verifier.verify((ca.der,), None, NOW, server=True).chain == (ca.der,)
    assert fails(WebPkiVerifier([ca.cert]), (ca.der,)).verify_flags == X509_BADCERT_CN_MISMATCH


def test_esp_example_v1_certificate() -> None:
    assert ESP_CERT.version is x509.Version.v1
    # The ESP example sets skip_common_name for its local server.
    verifier = WebPkiVerifier([ESP_CERT], check_name=False)
    assert verifier.verify((ESP_DER,), "192.168.1.10", NOW, server=True).chain == (ESP_DER,)
    # Validity is still checked (2021-11-14 .. 2031-11-12).
    assert fails(verifier, (ESP_DER,), now=at(2032).timestamp()).verify_flags == X509_BADCERT_EXPIRED
    assert fails(verifier, (ESP_DER,), now=at(2021).timestamp()).verify_flags == X509_BADCERT_FUTURE
    # webpki has no CN fallback: a v1 certificate (no SAN) never matches a name.
    strict = WebPkiVerifier([ESP_CERT])
    assert fails(strict, (ESP_DER,), "localhost").verify_flags == X509_BADCERT_CN_MISMATCH
    assert fails(strict, (ESP_DER,), "ESP32 HTTPS request example").verify_flags == X509_BADCERT_CN_MISMATCH
    # Not trusted when it is not the anchor.
    assert fails(WebPkiVerifier([make_ca().cert], check_name=False), (ESP_DER,)).verify_flags == (
        X509_BADCERT_NOT_TRUSTED
    )


# --- helpers ------------------------------------------------------------------------


def test_describe_flags() -> None:
    assert describe_flags(0) == []
    assert describe_flags(0x01 | 0x08) == [
        "The certificate validity has expired",
        "The certificate is not correctly signed by the trusted CA",
    ]
    assert describe_flags(0x04) == ["The certificate Common Name (CN) does not match with the expected CN"]
    assert describe_flags(0x200) == ["The certificate validity starts in the future"]
    assert describe_flags(0x1000) == ["Usage does not match the extendedKeyUsage extension"]
    every = describe_flags(X509_VERIFY_ABORTED)
    assert len(every) == 21
    assert every[-1] == "Unknown reason (this should not happen)"


def test_reason_for_flags() -> None:
    assert reason_for_flags(0x01 | 0x08) is Reason.CERT_EXPIRED
    assert reason_for_flags(0x200 | 0x08) is Reason.CERT_NOT_YET_VALID
    assert reason_for_flags(0x08 | 0x04) is Reason.CERT_UNTRUSTED
    assert reason_for_flags(0x04) is Reason.CERT_NAME_MISMATCH
    assert reason_for_flags(0x800) is Reason.CERT_BAD


@pytest.mark.parametrize(
    ("names", "host", "expected"),
    [
        (["example.com"], "EXAMPLE.com", True),
        (["example.com"], "example.com.", True),
        (["*.example.com"], "a.example.com", True),
        (["*.example.com"], "example.com", False),
        (["*.example.com"], "a.b.example.com", False),
        (["a*.example.com"], "ab.example.com", False),
        (["127.0.0.1"], "127.0.0.1", True),
        (["::1"], "[::1]", True),
        (["localhost"], "127.0.0.1", False),
        (["*.0.0.1"], "127.0.0.1", False),
    ],
)
def test_match_name(ca: Issued, names: list[str], host: str, expected: bool) -> None:
    assert match_name(make_leaf(ca, names).cert, host) is expected


def test_match_name_cn_fallback() -> None:
    assert not match_name(ESP_CERT, "ESP32 HTTPS request example")
    assert match_name(ESP_CERT, "esp32 https request example", cn_fallback=True)
