"""Chain verification and mbedTLS verify flags (tls/verify.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs import (
    NOT_AFTER,
    NOT_BEFORE,
    NOW,
    Issued,
    KeyType,
    at,
    key_usage,
    make_ca,
    make_key,
    make_leaf,
    make_self_signed_leaf,
    resign,
)
from https_request.tls.config import CertificateVerifier, VerifiedChain
from https_request.tls.errors import Reason, TlsError
from https_request.tls.mbedtls_path import mbedtls_name_problem
from https_request.tls.verify import (
    POLICIES,
    MbedtlsVerifier,
    WebPkiVerifier,
    make_verifier,
    match_name,
)
from https_request.tls.x509_flags import (
    X509_BADCERT_BAD_KEY,
    X509_BADCERT_BAD_MD,
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
    describe_flags,
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


def fails(
    verifier: CertificateVerifier, chain: tuple[bytes, ...], name: str | None = "localhost", **kw: object
) -> TlsError:
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
    assert result == VerifiedChain(path=(leaf.cert, ca.cert)) and result.chain == (leaf.der, ca.der)


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


def test_match_name_never_reads_the_cn() -> None:
    assert not match_name(ESP_CERT, "ESP32 HTTPS request example")
    # mbedTLS's rule reads it when there is no SAN (up to ASCII case).
    assert mbedtls_name_problem(ESP_CERT, "esp32 https request example") is None


# --- the mbedtls policy -----------------------------------------------------------------
#
# cryptography only builds v3 certificates and refuses to sign with SHA-1, so the
# few certificates these tests need beyond that are re-encoded and re-signed (certs.resign).


ECDSA_WITH_SHA1 = bytes.fromhex("300906072a8648ce3d0401")
SHA1_WITH_RSA = bytes.fromhex("300d06092a864886f70d0101050500")
SHA224_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010e0500")


def _cn(name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])


def make_v1_ca(name: str = "V1 Root", key_type: KeyType = "ec", *, parent: Issued | None = None) -> Issued:
    """An X.509 v1 CA certificate (no extensions at all), self-signed or issued by ``parent``."""
    key = make_key(key_type, label=f"v1:{name}")
    issuer_key = parent.key if parent is not None else key
    template = (
        x509.CertificateBuilder()
        .subject_name(_cn(name))
        .issuer_name(parent.cert.subject if parent is not None else _cn(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .sign(issuer_key, hashes.SHA256())
    )
    cert = resign(template, issuer_key, hashes.SHA256(), v1=True)
    assert cert.version is x509.Version.v1
    chain = () if parent is None or parent.cert.issuer == parent.cert.subject else (parent.cert, *parent.chain)
    return Issued(cert=cert, key=key, chain=chain)


def mbedtls(*anchors: x509.Certificate, check_name: bool = True) -> MbedtlsVerifier:
    verifier = make_verifier(anchors, "mbedtls", check_name=check_name)
    assert isinstance(verifier, MbedtlsVerifier)
    return verifier


def test_make_verifier() -> None:
    root = make_ca()
    assert POLICIES == ("webpki", "mbedtls")
    default = make_verifier([root.cert])
    assert isinstance(default, WebPkiVerifier) and default.check_name and default.policy == "webpki"
    strict: CertificateVerifier = make_verifier([root.cert], policy="mbedtls", check_name=False)
    assert isinstance(strict, MbedtlsVerifier) and not strict.check_name and strict.policy == "mbedtls"
    assert strict.anchors == (root.cert,)
    with pytest.raises(ValueError, match="unknown verification policy"):
        make_verifier([root.cert], "openssl")
    with pytest.raises(ValueError):
        make_verifier([], "mbedtls")


def test_mbedtls_leaf_intermediate_root(ca: Issued) -> None:
    inter = make_ca(name="Test Intermediate", parent=ca)
    leaf = make_leaf(inter, ["www.example.com"], key_type="rsa")
    result = mbedtls(ca.cert).verify(leaf.chain_der, "www.example.com", NOW, server=True)
    assert result == VerifiedChain(path=(leaf.cert, inter.cert, ca.cert))
    assert result.chain == (leaf.der, inter.der, ca.der)
    # The leaf directly under the root, IP names, P-384.
    direct = make_leaf(ca, key_type="p384")
    assert mbedtls(ca.cert).verify(direct.chain_der, "127.0.0.1", NOW, server=True).chain == (direct.der, ca.der)
    v6 = make_leaf(ca, ["::1"])
    mbedtls(ca.cert).verify(v6.chain_der, "::1", NOW, server=True)


def test_mbedtls_rsa_root_and_pss_free_chain() -> None:
    root = make_ca("rsa", name="RSA Root")
    for key_type in ("rsa", "rsa3072", "p256", "p521"):
        leaf = make_leaf(root, key_type=key_type)
        mbedtls(root.cert).verify(leaf.chain_der, "localhost", NOW, server=True)


def test_mbedtls_v1_root_as_anchor() -> None:
    root = make_v1_ca()
    leaf = make_leaf(root)
    assert leaf.chain == ()
    result = mbedtls(root.cert).verify(leaf.chain_der, "localhost", NOW, server=True)
    assert result.chain == (leaf.der, root.der)
    # webpki has no v1 certificates at all.
    assert fails(WebPkiVerifier([root.cert]), leaf.chain_der).verify_flags == X509_BADCERT_OTHER


def test_mbedtls_v1_ca_only_as_trust_anchor(ca: Issued) -> None:
    inter = make_v1_ca("V1 Intermediate", parent=ca)
    leaf = make_leaf(inter)
    assert leaf.chain == (inter.cert,)
    err = fails(mbedtls(ca.cert), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_NOT_TRUSTED
    assert "X.509 v1" in str(err)
    # Trusted itself, the v1 intermediate is an acceptable root.
    assert mbedtls(inter.cert).verify(leaf.chain_der, "localhost", NOW, server=True).chain == (leaf.der, inter.der)


def test_mbedtls_esp_example_v1_certificate() -> None:
    # cacert + skip_common_name, as the example's local server test uses it.
    verifier = make_verifier([ESP_CERT], "mbedtls", check_name=False)
    assert verifier.verify((ESP_DER,), "192.168.1.10", NOW, server=True).chain == (ESP_DER,)
    assert verifier.verify((ESP_DER,), None, NOW, server=True).chain == (ESP_DER,)
    assert fails(verifier, (ESP_DER,), now=at(2032).timestamp()).verify_flags == X509_BADCERT_EXPIRED
    assert fails(verifier, (ESP_DER,), now=at(2021).timestamp()).verify_flags == X509_BADCERT_FUTURE
    # With the name check, its CN is compared (no SAN): "localhost" is not it.
    err = fails(mbedtls(ESP_CERT), (ESP_DER,), "localhost")
    assert err.verify_flags == X509_BADCERT_CN_MISMATCH
    assert err.reason is Reason.CERT_NAME_MISMATCH
    assert "ESP32 HTTPS request example" in str(err) and "'localhost'" in str(err)
    mbedtls(ESP_CERT).verify((ESP_DER,), "esp32 https REQUEST example", NOW, server=True)
    # Not trusted when it is not an anchor.
    other = make_ca()
    err = fails(mbedtls(other.cert, check_name=False), (ESP_DER,))
    assert err.verify_flags == X509_BADCERT_NOT_TRUSTED
    assert "ESP32 HTTPS request example" in str(err)


def test_mbedtls_cn_fallback_without_san(ca: Issued) -> None:
    leaf = make_leaf(ca, [], common_name="localhost")
    assert mbedtls(ca.cert).verify(leaf.chain_der, "localhost", NOW, server=True).chain == (leaf.der, ca.der)
    mbedtls(ca.cert).verify(leaf.chain_der, "LOCALHOST", NOW, server=True)
    assert fails(mbedtls(ca.cert), leaf.chain_der, "other.example").verify_flags == X509_BADCERT_CN_MISMATCH
    # webpki never reads the CN.
    assert fails(WebPkiVerifier([ca.cert]), leaf.chain_der, "localhost").verify_flags == X509_BADCERT_CN_MISMATCH
    # With a SAN, the CN is ignored by mbedTLS too.
    with_san = make_leaf(ca, ["www.example.com"], common_name="localhost")
    err = fails(mbedtls(ca.cert), with_san.chain_der, "localhost")
    assert err.verify_flags == X509_BADCERT_CN_MISMATCH
    assert "DNS:www.example.com" in str(err)


def test_mbedtls_wildcards(ca: Issued) -> None:
    leaf = make_leaf(ca, ["*.example.com"])
    verifier = mbedtls(ca.cert)
    verifier.verify(leaf.chain_der, "www.example.com", NOW, server=True)
    verifier.verify(leaf.chain_der, "WWW.Example.COM", NOW, server=True)
    for bad in ("example.com", "a.b.example.com", ".example.com", "localhost"):
        assert fails(verifier, leaf.chain_der, bad).verify_flags == X509_BADCERT_CN_MISMATCH, bad
    partial = make_leaf(ca, ["a*.example.com"])
    assert fails(verifier, partial.chain_der, "ab.example.com").verify_flags == X509_BADCERT_CN_MISMATCH


def test_mbedtls_name_is_compared_verbatim(ca: Issued, leaf: Issued) -> None:
    # mbedTLS does not strip a trailing dot (webpki does).
    assert fails(mbedtls(ca.cert), leaf.chain_der, "localhost.").verify_flags == X509_BADCERT_CN_MISMATCH
    assert fails(mbedtls(ca.cert), leaf.chain_der, "127.0.0.2").verify_flags == X509_BADCERT_CN_MISMATCH


def test_mbedtls_check_name_false(ca: Issued, leaf: Issued) -> None:
    verifier = mbedtls(ca.cert, check_name=False)
    verifier.verify(leaf.chain_der, "not-the-name.example", NOW, server=True)
    assert fails(verifier, make_leaf(ca, eku="clientAuth").chain_der).verify_flags == X509_BADCERT_EXT_KEY_USAGE


def test_mbedtls_expired(ca: Issued) -> None:
    leaf = make_leaf(ca, not_before=at(2020), not_after=at(2024))
    err = fails(mbedtls(ca.cert), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_EXPIRED == 0x01
    assert err.reason is Reason.CERT_EXPIRED
    assert "The certificate validity has expired" in str(err)
    assert "'CN=localhost' expired on 2024-01-01 00:00:00 UTC" in str(err)


def test_mbedtls_not_yet_valid(ca: Issued) -> None:
    leaf = make_leaf(ca, not_before=at(2026), not_after=at(2027))
    err = fails(mbedtls(ca.cert), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_FUTURE == 0x200
    assert err.reason is Reason.CERT_NOT_YET_VALID
    assert "not valid before 2026-01-01" in str(err)


def test_mbedtls_expired_intermediate_and_root(ca: Issued) -> None:
    inter = make_ca(name="Old Intermediate", parent=ca, not_after=at(2024))
    leaf = make_leaf(inter)
    err = fails(mbedtls(ca.cert), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_EXPIRED
    assert "'CN=Old Intermediate' expired" in str(err)
    old_root = make_ca(name="Old Root", not_after=at(2024))
    assert fails(mbedtls(old_root.cert), make_leaf(old_root).chain_der).verify_flags == X509_BADCERT_EXPIRED


def test_mbedtls_wrong_name(ca: Issued, leaf: Issued) -> None:
    err = fails(mbedtls(ca.cert), leaf.chain_der, "example.com")
    assert err.verify_flags == X509_BADCERT_CN_MISMATCH == 0x04
    assert err.reason is Reason.CERT_NAME_MISMATCH
    assert "Common Name (CN) does not match" in str(err)
    assert "'example.com' is not in the subjectAltName" in str(err)


def test_mbedtls_untrusted(leaf: Issued) -> None:
    err = fails(mbedtls(make_ca(name="Other CA").cert), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_NOT_TRUSTED == 0x08
    assert err.reason is Reason.CERT_UNTRUSTED
    assert "no trusted issuer for 'CN=localhost' (issuer 'CN=Test Root CA')" in str(err)


def test_mbedtls_same_name_other_key(ca: Issued, leaf: Issued) -> None:
    impostor = make_ca(name="Test Root CA")
    err = fails(mbedtls(impostor.cert), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_NOT_TRUSTED
    assert "did not sign" in str(err)


def test_mbedtls_presented_parent_with_bad_signature(ca: Issued) -> None:
    inter = make_ca(name="Test Intermediate", parent=ca)
    leaf = make_leaf(inter)
    fake = make_ca(name="Test Intermediate", parent=ca)  # same name, other key
    err = fails(mbedtls(ca.cert), (leaf.der, fake.der))
    assert err.verify_flags == X509_BADCERT_NOT_TRUSTED
    assert "does not verify with the key of 'CN=Test Intermediate'" in str(err)


def test_mbedtls_missing_intermediate(ca: Issued) -> None:
    leaf = make_leaf(make_ca(name="Test Intermediate", parent=ca))
    assert fails(mbedtls(ca.cert), (leaf.der,)).verify_flags == X509_BADCERT_NOT_TRUSTED


def test_mbedtls_chain_order_matters(ca: Issued) -> None:
    # mbedTLS looks for a parent only among the certificates sent after the child.
    upper = make_ca(name="Upper Intermediate", parent=ca)
    lower = make_ca(name="Lower Intermediate", parent=upper)
    leaf = make_leaf(lower)
    assert leaf.chain == (lower.cert, upper.cert)
    mbedtls(ca.cert).verify(leaf.chain_der, "localhost", NOW, server=True)
    assert fails(mbedtls(ca.cert), (leaf.der, upper.der, lower.der)).verify_flags == X509_BADCERT_NOT_TRUSTED
    WebPkiVerifier([ca.cert]).verify((leaf.der, upper.der, lower.der), "localhost", NOW, server=True)


def test_mbedtls_non_ca_cannot_issue(ca: Issued, leaf: Issued) -> None:
    below = make_leaf(leaf, ["below.example"])
    assert below.chain == (leaf.cert,)
    err = fails(mbedtls(ca.cert), below.chain_der, "below.example")
    assert err.verify_flags == X509_BADCERT_NOT_TRUSTED
    assert "'CN=localhost' is not a CA" in str(err)


def test_mbedtls_path_length(ca: Issued) -> None:
    root = make_ca(name="Short Root", path_length=0)
    direct = make_leaf(root)
    mbedtls(root.cert).verify(direct.chain_der, "localhost", NOW, server=True)
    leaf = make_leaf(make_ca(name="Too Deep", parent=root))
    err = fails(mbedtls(root.cert), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_NOT_TRUSTED
    assert "pathLenConstraint 0" in str(err)


def test_mbedtls_at_most_eight_intermediates(ca: Issued) -> None:
    issuer = ca
    for depth in range(9):
        issuer = make_ca(name=f"Intermediate {depth}", parent=issuer)
        if depth == 7:
            eight = make_leaf(issuer)
    assert len(eight.chain) == 8
    mbedtls(ca.cert).verify(eight.chain_der, "localhost", NOW, server=True)
    nine = make_leaf(issuer)
    # x509_crt_verify_chain returns X509_FATAL_ERROR and the flags become 0xFFFFFFFF (as for the bundle).
    err = fails(mbedtls(ca.cert), nine.chain_der)
    assert err.verify_flags == X509_VERIFY_ABORTED
    assert err.reason is Reason.CERT_BAD
    assert "more than 8 intermediate" in str(err)


def test_mbedtls_client_auth_only_eku(ca: Issued) -> None:
    leaf = make_leaf(ca, eku="clientAuth")
    err = fails(mbedtls(ca.cert), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_EXT_KEY_USAGE == 0x1000
    assert err.reason is Reason.CERT_BAD
    assert "extendedKeyUsage of 'CN=localhost' (clientAuth) has neither serverAuth" in str(err)


def test_mbedtls_any_eku_and_critical_eku(ca: Issued) -> None:
    any_eku = make_leaf(ca, eku=[x509.ObjectIdentifier("2.5.29.37.0")])
    mbedtls(ca.cert).verify(any_eku.chain_der, "localhost", NOW, server=True)
    critical = make_leaf(
        ca, eku=None, extra_extensions=[(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), True)]
    )
    mbedtls(ca.cert).verify(critical.chain_der, "localhost", NOW, server=True)


def test_mbedtls_key_cert_sign_only_leaf(ca: Issued) -> None:
    leaf = make_leaf(ca, key_usage_ext=key_usage(key_cert_sign=True))
    err = fails(mbedtls(ca.cert), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_KEY_USAGE == 0x800
    assert err.reason is Reason.CERT_BAD
    assert "keyUsage of 'CN=localhost' is keyCertSign" in str(err)


def test_mbedtls_key_usage_for_servers_and_clients(ca: Issued) -> None:
    # The verifier does not know the key exchange: keyEncipherment alone is fine for a server...
    leaf = make_leaf(ca, key_type="rsa", key_usage_ext=key_usage(key_encipherment=True))
    mbedtls(ca.cert).verify(leaf.chain_der, "localhost", NOW, server=True)
    # ...but a client certificate must allow digitalSignature.
    client = make_leaf(ca, key_type="rsa", eku="clientAuth", key_usage_ext=key_usage(key_encipherment=True))
    err = fails(mbedtls(ca.cert), client.chain_der, None, server=False)
    assert err.verify_flags == X509_BADCERT_KEY_USAGE
    good_client = make_leaf(ca, eku="clientAuth")
    mbedtls(ca.cert).verify(good_client.chain_der, None, NOW, server=False)
    assert fails(mbedtls(ca.cert), leaf.chain_der, None, server=False).verify_flags == (
        X509_BADCERT_KEY_USAGE | X509_BADCERT_EXT_KEY_USAGE
    )


def test_mbedtls_sha1_signed_leaf(ca: Issued, leaf: Issued) -> None:
    # cryptography's builder refuses SHA-1, so the leaf is re-signed by hand.
    sha1 = resign(leaf.cert, ca.key, hashes.SHA1(), algorithm_id=ECDSA_WITH_SHA1)
    assert isinstance(sha1.signature_hash_algorithm, hashes.SHA1)
    chain = (sha1.public_bytes(Encoding.DER),)
    err = fails(mbedtls(ca.cert), chain)
    assert err.verify_flags == X509_BADCERT_BAD_MD == 0x4000
    assert "signed with SHA1" in str(err)


def test_mbedtls_sha224_is_not_in_the_default_profile() -> None:
    root = make_ca("rsa", name="SHA-224 Root")
    template = make_leaf(root)
    sha224 = resign(
        template.cert, root.key, hashes.SHA224(), algorithm_id=bytes.fromhex("300d06092a864886f70d01010e0500")
    )
    assert isinstance(sha224.signature_hash_algorithm, hashes.SHA224)
    assert fails(mbedtls(root.cert), (sha224.public_bytes(Encoding.DER),)).verify_flags == X509_BADCERT_BAD_MD


def test_mbedtls_sha1_self_signed_root_is_fine_as_anchor() -> None:
    # The anchor's own signature is never checked, so neither is its hash.
    root = make_ca("rsa", name="SHA-1 Root")
    sha1_root = resign(root.cert, root.key, hashes.SHA1(), algorithm_id=SHA1_WITH_RSA)
    assert isinstance(sha1_root.signature_hash_algorithm, hashes.SHA1)
    leaf = make_leaf(root)
    assert mbedtls(sha1_root).verify(leaf.chain_der, "localhost", NOW, server=True).chain[-1] == (
        sha1_root.public_bytes(Encoding.DER)
    )


def test_mbedtls_rsa_1024(ca: Issued) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    leaf = make_leaf(ca, key=small)
    err = fails(mbedtls(ca.cert), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_BAD_KEY == 0x10000
    assert "1024-bit RSA key" in str(err)
    small_root = make_ca(name="Small Root", key=small)
    assert fails(mbedtls(small_root.cert), make_leaf(small_root).chain_der).verify_flags == X509_BADCERT_BAD_KEY


def test_mbedtls_curve_outside_the_profile(ca: Issued) -> None:
    leaf = make_leaf(ca, key=ec.generate_private_key(ec.SECP256K1()))
    err = fails(mbedtls(ca.cert), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_BAD_KEY
    assert "secp256k1" in str(err)


def test_mbedtls_eddsa_is_bad_pk() -> None:
    root = make_ca(name="EC Root")
    err = fails(mbedtls(root.cert), make_leaf(root, key_type="ed25519").chain_der)
    assert err.verify_flags == X509_BADCERT_BAD_PK
    ed_root = make_ca("ed25519", name="Ed25519 Root")
    with pytest.raises(ValueError, match="no trust anchor mbedTLS could load"):
        mbedtls(ed_root.cert)
    assert mbedtls(ed_root.cert, root.cert).anchors == (root.cert,)


def test_mbedtls_unsupported_critical_extension(ca: Issued) -> None:
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    leaf = make_leaf(ca, extra_extensions=[(odd, True)])
    err = fails(mbedtls(ca.cert), leaf.chain_der)
    assert err.verify_flags == X509_BADCERT_OTHER
    assert "unsupported critical extension (1.3.6.1.4.1.99999.1)" in str(err)
    # Not critical: ignored.
    fine = make_leaf(ca, extra_extensions=[(odd, False)])
    mbedtls(ca.cert).verify(fine.chain_der, "localhost", NOW, server=True)


def test_mbedtls_locally_trusted_v3_leaf() -> None:
    leaf = make_self_signed_leaf()
    verifier = mbedtls(leaf.cert)
    assert verifier.verify(leaf.chain_der, "localhost", NOW, server=True).chain == (leaf.der,)
    assert fails(verifier, leaf.chain_der, "example.com").verify_flags == X509_BADCERT_CN_MISMATCH
    assert fails(verifier, make_self_signed_leaf().chain_der).verify_flags == X509_BADCERT_NOT_TRUSTED


def test_mbedtls_expired_and_untrusted_report_both(ca: Issued) -> None:
    leaf = make_leaf(ca, not_after=at(2024))
    err = fails(mbedtls(make_ca(name="Other CA").cert), leaf.chain_der, "example.com")
    assert err.verify_flags == X509_BADCERT_EXPIRED | X509_BADCERT_NOT_TRUSTED | X509_BADCERT_CN_MISMATCH
    assert err.reason is Reason.CERT_EXPIRED
    for part in ("expired on", "no trusted issuer", "'example.com' is not in the subjectAltName"):
        assert part in str(err)


def test_mbedtls_empty_and_garbage(ca: Issued) -> None:
    err = fails(mbedtls(ca.cert), ())
    assert err.verify_flags == X509_BADCERT_MISSING
    assert err.reason is Reason.CERT_REQUIRED
    assert fails(mbedtls(ca.cert), (b"\x30\x03\x02\x01\x00",)).reason is Reason.CERT_BAD


def test_mbedtls_rsa_pss_signed_leaf() -> None:
    root = make_ca("rsa", name="PSS Root")
    key = make_key("p256")
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_cn("localhost"))
        .issuer_name(root.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(root.key, hashes.SHA256(), rsa_padding=pss)
    )
    der = cert.public_bytes(Encoding.DER)
    assert mbedtls(root.cert).verify((der,), "localhost", NOW, server=True).chain == (der, root.der)


@pytest.mark.parametrize("kind", ["webpki", "mbedtls"])
def test_prepare_signature_checks_raises_nothing_and_changes_no_verdict(kind: str) -> None:
    """esp-tls calls it while the ClientHello travels: anchors of several key types, one
    that is not self-signed and one whose self-signature does not verify (signed again by
    another key) are all taken without an error, and the verdicts stay what they were."""
    ec_root, rsa_root = make_ca("p256", name="EC Root"), make_ca("rsa2048", name="RSA Root")
    inter = make_ca("p256", name="Inter CA", parent=ec_root)
    bad_root = make_ca("p384", name="Bad Root")
    bad = resign(bad_root.cert, make_key("p384", label="another key"), hashes.SHA384())
    with pytest.raises(InvalidSignature):
        bad.verify_directly_issued_by(bad)
    anchors = [bad, inter.cert, ec_root.cert, rsa_root.cert]
    cls = WebPkiVerifier if kind == "webpki" else MbedtlsVerifier
    verifier = cls(anchors)
    verifier.prepare_signature_checks()
    verifier.prepare_signature_checks(limit=0)
    for root in (ec_root, rsa_root):
        leaf = make_leaf(root, ["localhost"])
        assert verifier.verify(leaf.chain_der, "localhost", NOW, server=True).chain
    stranger = make_leaf(make_ca("p256", name="Stranger Root"), ["localhost"])
    with pytest.raises(TlsError):
        verifier.verify(stranger.chain_der, "localhost", NOW, server=True)
