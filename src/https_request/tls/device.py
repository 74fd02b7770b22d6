"""What a device's TLS stack does beyond its hello: the limits and rules a
client profile carries so the engine fails where the device fails.

A :class:`Device` is set on :attr:`ClientConfig.device
<.config.ClientConfig.device>` by a device profile (``esp32-mbedtls``,
``esp32-mbedtls-tls13``); the engine then applies, as Mbed TLS 3.6.2 does:

``in_content_len`` (``MBEDTLS_SSL_IN_CONTENT_LEN``, ESP-IDF default 16384)
    A record whose plaintext is longer fails with
    :attr:`~.errors.Reason.DEVICE_RECORD_TOO_LARGE` (Mbed TLS:
    ``MBEDTLS_ERR_SSL_INVALID_RECORD``, -0x7200, "bad message length" in
    ``ssl_prepare_record_content``, no alert).
``out_content_len`` (``MBEDTLS_SSL_OUT_CONTENT_LEN``, ESP-IDF default 4096)
    The largest record the device writes: the profile's
    ``max_fragment_length`` (application data goes out in records of at most
    this many bytes, as ``mbedtls_ssl_write`` writes them).
``reassembles_handshake`` (False in 3.6.2; 3.6.3 added reassembly)
    When False, a handshake message must end in the record it starts in
    (``mbedtls_ssl_prepare_handshake_record``: "TLS handshake fragmentation
    not supported"): one that spans records fails with
    :attr:`~.errors.Reason.DEVICE_HANDSHAKE_FRAGMENTED`
    (``MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE``, -0x7080, no alert). A server
    splits a message when it is larger than a record (a certificate chain
    over ~16 KiB) or when it packs a flight into full records (some do; this
    engine does not: :func:`.record.record_payloads`).
``resume_pins_version`` (``ssl_prepare_client_hello`` in ``ssl_client.c``)
    A hello that resumes a session offers that session's version only
    (``handshake->min_tls_version = ssl->tls_version = session's``): a TLS
    1.3 resumption sends supported_versions 1.3, the TLS 1.3 suites, the
    groups TLS 1.3 allows and no TLS 1.2 extension; a TLS 1.2 one is a TLS
    1.2 hello.
``scsv_always`` (``ssl_write_client_hello_cipher_suites``)
    The renegotiation SCSV ends every initial hello while TLS 1.2 is
    configured, even one that offers TLS 1.3 only.
``rsa_max_bits`` (ESP32: ``SOC_RSA_MAX_BIT_LEN`` 4096)
    The longest RSA modulus the RSA accelerator takes; ESP-IDF's
    ``esp_mpi_exp_mod`` refuses a longer one (``MBEDTLS_ERR_MPI_NOT_ACCEPTABLE``)
    unless ``CONFIG_MBEDTLS_LARGE_KEY_SOFTWARE_MPI`` (default only on chips whose
    hardware stops at 3072 bits). The server's leaf key fails where the device
    first uses it: TLS 1.2's ServerKeyExchange signature
    (:attr:`~.errors.Reason.DEVICE_RSA_TOO_LARGE`: -0x428E, RSA_PUBLIC_FAILED +
    MPI_NOT_ACCEPTABLE, decrypt_error alert) or RSA key exchange, TLS 1.3's
    CertificateVerify (``BAD_SIGNATURE``: -0x6E00, decrypt_error, as
    ``ssl_tls13_parse_certificate_verify``). A certificate on the verified path
    signed by an RSA CA key over the limit fails verification
    (``x509_crt_check_signature``: -0x2700, flags 0x08 NOT_TRUSTED).
``renegotiation`` (``CONFIG_MBEDTLS_SSL_RENEGOTIATION`` default y, and esp-tls calls
``mbedtls_ssl_conf_renegotiation(ENABLED)``)
    A TLS 1.2 server's HelloRequest starts a new handshake (RFC 5746 secure
    renegotiation only: with a server that sent no renegotiation_info, Mbed
    TLS's ``MBEDTLS_SSL_LEGACY_NO_RENEGOTIATION`` refuses with a
    no_renegotiation warning). The hello has renegotiation_info with our last
    verify_data instead of the SCSV and no session id; the server's
    certificate must not change (``ssl_check_peer_crt_unchanged``).
``tls12_signature_types`` (``mbedtls_ssl_tls12_sig_alg_is_supported``)
    A hello that offers TLS 1.2 only lists just these signature algorithm
    types (the low byte: 1 RSA PKCS#1, 3 ECDSA); RSA-PSS (0x08xx) is left
    out.
"""

from __future__ import annotations

from ..structs import Struct

__all__ = ["ESP32_MBEDTLS", "Device", "DeviceStats"]


class Device(Struct, slots=False):
    """A device TLS stack's limits and hello rules (see the module docstring)."""

    name: str
    in_content_len: int = 16384
    out_content_len: int = 4096
    reassembles_handshake: bool = False
    resume_pins_version: bool = True
    scsv_always: bool = True
    tls12_signature_types: tuple[int, ...] = (1, 3)
    rsa_max_bits: int = 4096
    renegotiation: bool = True

    def __post_init__(self) -> None:
        for label, value in (("in_content_len", self.in_content_len), ("out_content_len", self.out_content_len)):
            if not 512 <= value <= 16384:  # ESP-IDF's Kconfig range for both
                raise ValueError(f"{label} must be 512..16384, not {value}")


#: An ESP32 with ESP-IDF v5's defaults: Mbed TLS 3.6.2, ``CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN=y``,
#: ``CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN=16384``, ``CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN=4096``.
ESP32_MBEDTLS = Device(name="ESP32, ESP-IDF v5 defaults (Mbed TLS 3.6.2)")


class DeviceStats(Struct, frozen=False, slots=False):
    """What a connection under a :class:`Device` received nearest its limits (for
    ``get --explain``): the largest record's plaintext, the largest handshake message
    (with its 4-byte header) and its type."""

    largest_record: int = 0
    largest_message: int = 0
    largest_message_type: int = -1
