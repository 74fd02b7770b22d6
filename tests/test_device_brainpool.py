"""The brainpool curves (RFC 7027: brainpoolP256r1/384r1/512r1, 0x001A-0x001C) in TLS 1.2: ECDHE on each,
static ECDH with a brainpool certificate, ECDSA with a brainpool key, as the esp32 profiles offer them
(Mbed TLS's supported_groups preset) and as Mbed TLS and OpenSSL negotiate them.

Peers:

* Mbed TLS (python-mbedtls, its version in each assertion) in memory. It cannot be told which curves to
  use (``TLSConfiguration`` has no curve list), and it takes the first of its own preference (secp521r1)
  among the curves offered; so an ECDHE row offers the device's hello with one brainpool curve in
  supported_groups, which is what a server that has only that curve leaves the device with. The static
  ECDH rows send the device's whole hello: the certificate's curve is the key exchange's.
* OpenSSL, as a client of our server engine (stdlib ``ssl`` in memory, ``set_ecdh_curve``).

``openssl s_server -groups brainpoolP256r1`` against the whole device hello is a row of
tests/test_device_matrix.py (and docs/DEVICE_PROFILES.md).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certs import NOW, Issued, KeyType, make_ca, make_leaf
from https_request.tls.client13 import ClientConnection
from https_request.tls.config import ClientConfig, ServerConfig
from https_request.tls.enums import NamedGroup, ProtocolVersion
from https_request.tls.enums import SignatureScheme as SS
from https_request.tls.profiles import PROFILES, client_config
from https_request.tls.server13 import ServerConnection
from https_request.tls.signatures import choose_scheme
from https_request.tls.verify import make_verifier
from test_device_suites import EC_KU, MBEDTLS_VERSION, mbedtls_server, run_with_mbedtls

TLS12 = ProtocolVersion.TLS1_2
BRAINPOOL: dict[int, KeyType] = {
    NamedGroup.brainpoolP256r1: "bp256",
    NamedGroup.brainpoolP384r1: "bp384",
    NamedGroup.brainpoolP512r1: "bp512",
}
CURVES = list(BRAINPOOL)


def _name(group: int) -> str:
    return NamedGroup(group).name


def _pki(key_type: KeyType, root_type: KeyType) -> tuple[Issued, Issued]:
    root = make_ca(root_type, f"Brainpool {root_type} Root")
    return root, make_leaf(root, ["localhost"], key_type, key_usage_ext=EC_KU if key_type != "rsa2048" else None)


def _device(root: Issued, **kw: object) -> ClientConnection:
    verifier = make_verifier([root.cert], "mbedtls")
    return ClientConnection(client_config("esp32-mbedtls", verifier=verifier, now=lambda: NOW, **kw), "localhost")


def test_the_profiles_offer_brainpool_in_tls12_only() -> None:
    for name in ("esp32-mbedtls", "esp32-mbedtls-tls13"):
        assert PROFILES[name].groups[-3:] == tuple(CURVES)
    assert not set(CURVES) & set(PROFILES["default"].groups)


# --- Mbed TLS's server --------------------------------------------------------------------------------------


@pytest.mark.parametrize("group", CURVES, ids=_name)
@pytest.mark.parametrize(
    ("suite", "key_type", "root_type"),
    [(0xC02C, "bp", "bp"), (0xC030, "rsa2048", "rsa2048")],
    ids=["ECDHE_ECDSA-brainpool-leaf", "ECDHE_RSA"],
)
def test_mbedtls_ecdhe_on_each_brainpool_curve(group: int, suite: int, key_type: str, root_type: str) -> None:
    kt: KeyType = BRAINPOOL[group] if key_type == "bp" else "rsa2048"
    root, leaf = _pki(kt, BRAINPOOL[group] if root_type == "bp" else "rsa2048")
    client = _device(root, groups=(group,))
    done = run_with_mbedtls(client, mbedtls_server(leaf, suite))
    assert (done.version, done.cipher_suite, client.group) == (TLS12, suite, group), MBEDTLS_VERSION


@pytest.mark.parametrize("group", CURVES, ids=_name)
@pytest.mark.parametrize(("suite", "root_type"), [(0xC02E, "bp"), (0xC032, "rsa2048")], ids=["ECDH_ECDSA", "ECDH_RSA"])
def test_mbedtls_static_ecdh_with_a_brainpool_certificate(group: int, suite: int, root_type: str) -> None:
    """The device's whole hello; the certificate's brainpool key is the server's ECDH share (RFC 4492 2.1)."""
    root, leaf = _pki(BRAINPOOL[group], BRAINPOOL[group] if root_type == "bp" else "rsa2048")
    client = _device(root)
    done = run_with_mbedtls(client, mbedtls_server(leaf, suite))
    assert (done.version, done.cipher_suite, client.group) == (TLS12, suite, group), MBEDTLS_VERSION


def test_mbedtls_brainpool_leaf_with_the_whole_hello() -> None:
    """Mbed TLS's server takes its own first curve (secp521r1) and signs with its brainpool key."""
    root, leaf = _pki("bp256", "bp256")
    client = _device(root)
    done = run_with_mbedtls(client, mbedtls_server(leaf, 0xC02C))
    assert (done.cipher_suite, client.group) == (0xC02C, NamedGroup.secp521r1), MBEDTLS_VERSION


# --- our server engine, OpenSSL's client -------------------------------------------------------------------


def _stdlib_client_against(server: ServerConnection, ctx: ssl.SSLContext) -> ssl.SSLObject:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    for _ in range(10):
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        server.receive_data(outgoing.read())
        incoming.write(server.data_to_send())
    else:
        raise AssertionError("no handshake")
    server.receive_data(outgoing.read())
    return obj


@pytest.mark.parametrize("group", CURVES, ids=_name)
def test_our_server_ecdhe_on_brainpool_with_a_brainpool_key(group: int) -> None:
    """Server side: ECDHE on the curve OpenSSL's client asks for, the ServerKeyExchange signed by a
    brainpool key with the TLS 1.2 ECDSA scheme of its size."""
    root, leaf = _pki(BRAINPOOL[group], BRAINPOOL[group])
    cfg = ServerConfig(
        certificates=(leaf.certified_key(),),
        versions=(TLS12,),
        groups=(NamedGroup.x25519, *CURVES),
        now=lambda: NOW,
    )
    server = ServerConnection(cfg)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cadata=root.cert_pem.decode())
    ctx.set_ecdh_curve(_name(group))
    obj = _stdlib_client_against(server, ctx)
    assert obj.version() == "TLSv1.2" and obj.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
    assert server.group == group


@pytest.mark.parametrize("group", CURVES, ids=_name)
def test_device_client_certificate_on_brainpool(group: int, tmp_path: Path) -> None:
    """Client side: the device's CertificateVerify with a brainpool key (TLS 1.2's ECDSA scheme of its
    size), checked by OpenSSL's server (stdlib ``ssl`` in memory, client certificate required, the
    curve its one group: ECDHE on it too)."""
    root, leaf = _pki(BRAINPOOL[group], BRAINPOOL[group])
    client_leaf = make_leaf(root, ["device.example"], BRAINPOOL[group], eku="clientAuth")
    (tmp_path / "srv.pem").write_bytes(leaf.cert_pem + leaf.key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(tmp_path / "srv.pem")
    ctx.load_verify_locations(cadata=root.cert_pem.decode())
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_ecdh_curve(_name(group))  # OpenSSL checks a client key's curve against its groups (WRONG_CURVE)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = ctx.wrap_bio(incoming, outgoing, server_side=True)
    client = _device(root, certificate=client_leaf.certified_key())
    client.start_handshake()
    for _ in range(10):
        incoming.write(client.data_to_send())
        try:
            server.do_handshake()
            break
        except ssl.SSLWantReadError:
            client.receive_data(outgoing.read())
    else:
        raise AssertionError("no handshake")
    client.receive_data(outgoing.read())
    peer = server.getpeercert()
    assert peer is not None and peer["subject"] == ((("commonName", "device.example"),),)
    assert (server.version(), client.group) == ("TLSv1.2", group)


def test_brainpool_key_schemes() -> None:
    """TLS 1.2: the ECDSA scheme of the key's size; TLS 1.3 binds those schemes to the secp curves."""
    key = ec.generate_private_key(ec.BrainpoolP384R1())
    offered = [SS.ecdsa_secp256r1_sha256, SS.ecdsa_secp384r1_sha384]
    assert choose_scheme(key, offered, offered, tls13=False) == SS.ecdsa_secp384r1_sha384
    assert choose_scheme(key, offered, offered, tls13=True) is None


def test_no_brainpool_key_share_in_tls13() -> None:
    """0x001A-0x001C are obsolete in TLS 1.3 (RFC 8446 4.2.7): no key share, and client_config's
    fallback share is a TLS 1.3 group."""
    with pytest.raises(ValueError, match=r"not a TLS 1\.3 group"):
        ClientConfig(groups=(0x001A,), key_share_groups=(0x001A,))
    cfg = client_config("esp32-mbedtls-tls13", groups=(0x001A, NamedGroup.secp256r1))
    assert cfg.key_share_groups == (NamedGroup.secp256r1,)
