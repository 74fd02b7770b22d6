"""The TLS 1.2 client (RFC 5246 with RFC 4492/8422 ECDHE and static ECDH, RFC 5077 tickets,
RFC 7627 extended master secret, RFC 7366 encrypt-then-MAC, RFC 5746
renegotiation indication, RFC 7918 False Start).

Flights (mbedTLS state names)::

    SERVER_HELLO               <== ServerHello (no supported_versions: TLS 1.2)
    SERVER_CERTIFICATE         <== Certificate
    SERVER_KEY_EXCHANGE        <== ServerKeyExchange (ECDHE suites; static RSA and ECDH have none:
                                   the certificate's key is the server's)
    CERTIFICATE_REQUEST        <== (CertificateRequest) ServerHelloDone
                               ==> (Certificate) ClientKeyExchange (CertificateVerify) CCS Finished
    NEW_SESSION_TICKET         <== (NewSessionTicket)
    SERVER_CHANGE_CIPHER_SPEC  <== ChangeCipherSpec
    SERVER_FINISHED            <== Finished
    HANDSHAKE_OVER             (HelloRequest: renegotiation refused with a warning; with a
                               device profile that renegotiates, a new ClientHello under the
                               keys in use, back to SERVER_HELLO: RFC 5746 secure renegotiation,
                               our last verify_data in renegotiation_info, the server's checked,
                               its certificate unchanged, CCS records protected; application
                               data may interleave, at most limits.MAX_RENEGOTIATIONS without it)

An abbreviated handshake (session ID or ticket accepted) goes from ServerHello
straight to NEW_SESSION_TICKET / SERVER_CHANGE_CIPHER_SPEC and answers the
server's Finished with CCS + Finished.

:class:`Tls12Client` is the base of :class:`~.client13.ClientConnection`;
the TLS 1.3 ServerHello handler hands over here when the server picks TLS 1.2.
"""

from __future__ import annotations

import hmac
import itertools
from typing import TYPE_CHECKING, Protocol

from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ..structs import Struct
from ..wire import Writer
from . import extensions as X
from .config import ClientConfig, VerifiedChain
from .connection import Connection
from .enums import AlertDescription, AlertLevel, ProtocolVersion
from .enums import ExtensionType as ET
from .enums import HandshakeType as HT
from .errors import Reason, TlsError
from .events import SessionTicketReceived
from .keyschedule import new_hash
from .kx import ClientShare, ec_point, group_of_curve
from .limits import MAX_CIPHERTEXT12, MAX_RENEGOTIATIONS
from .messages import Finished, ServerHello
from .session import PeerCheck, Session
from .signatures import choose_scheme, leaf_public_key, sign, verify
from .states import EXPECTED_CLIENT12, HsState
from .suites import SIGNALLING, SUITES, SuiteParams

if TYPE_CHECKING:  # TLS 1.2's messages, key schedule and records: imported when the server picks TLS 1.2
    from .messages12 import CertificateRequest12, NewSessionTicket12
    from .protection12 import Protector12

__all__ = ["Tls12Client"]

S = HsState
# Extensions a TLS 1.2 ServerHello may answer with.
_SH12_ALLOWED = frozenset(
    {
        ET.server_name,
        ET.application_layer_protocol_negotiation,
        ET.extended_master_secret,
        ET.renegotiation_info,
        ET.ec_point_formats,
        ET.session_ticket,
        ET.max_fragment_length,
        ET.encrypt_then_mac,
        ET.status_request,
        ET.signed_certificate_timestamp,
        ET.record_size_limit,
    }
)


class _Client12Hs(Struct, frozen=False, slots=False):
    suite: SuiteParams
    messages: bytearray
    server_random: bytes
    ems: bool
    etm: bool
    ticket_expected: bool
    resumed_session: Session | None = None
    master: bytes = b""
    server_public: bytes = b""
    group: int = 0
    leaf_key: object = None
    cert_request: CertificateRequest12 | None = None
    new_ticket: NewSessionTicket12 | None = None
    session_id: bytes = b""
    false_started: bool = False
    cv_scheme: int | None = None
    client_verify: bytes = b""


class _HelloState(Protocol):
    """What the TLS 1.2 half needs from the ClientHello the client sent."""

    ch_msg: bytes
    offered_exts: set[int]
    session_id: bytes


class Tls12Client(Connection):
    """The client's TLS 1.2 half; :class:`~.client13.ClientConnection` adds
    TLS 1.3 and hands over here when the ServerHello picks TLS 1.2."""

    _ccfg: ClientConfig
    _hs: _HelloState | None
    _offer12: Session | None
    _peer_check: PeerCheck
    session: Session | None

    _hs12: _Client12Hs | None = None
    _pending_write12: Protector12 | None = None
    _pending_read12: Protector12 | None = None
    # RFC 5746: the server answered with renegotiation_info, and the last handshake's verify_data
    _secure_renegotiation = False
    _verify_data12: tuple[bytes, bytes] = (b"", b"")

    # ------------------------------------------------------------ ServerHello

    def _parse_server_hello12(self, sh: ServerHello, whole: bytes) -> HsState:
        hs, cfg = self._hs, self._ccfg
        assert hs is not None
        if ProtocolVersion.TLS1_2 not in cfg.versions or sh.legacy_version != ProtocolVersion.TLS1_2:
            raise TlsError(Reason.NO_COMMON_VERSION, f"server chose version 0x{sh.legacy_version:04x}")
        suite = SUITES.get(sh.cipher_suite)
        # a TLS 1.3 suite or a signalling value is never offered as a TLS 1.2 suite
        offered = sh.cipher_suite in cfg.cipher_suites and sh.cipher_suite not in SIGNALLING
        if not offered or (suite is not None and suite.tls13):
            raise TlsError(Reason.ILLEGAL_PARAMETER, f"server chose cipher suite 0x{sh.cipher_suite:04x}, not offered")
        if suite is None:
            raise TlsError(Reason.HANDSHAKE_FAILURE, f"server chose 0x{sh.cipher_suite:04x}, which we do not implement")
        if sh.legacy_compression_method != 0:
            raise TlsError(Reason.ILLEGAL_PARAMETER, "server chose compression")
        for e in sh.extensions:
            if e.type not in hs.offered_exts and e.type != ET.renegotiation_info:  # the SCSV solicits it
                raise TlsError(Reason.UNSOLICITED_EXTENSION, f"extension 0x{e.type:04x} in ServerHello")
            if e.type not in _SH12_ALLOWED:
                raise TlsError(Reason.ILLEGAL_PARAMETER, f"extension 0x{e.type:04x} in a TLS 1.2 ServerHello")
        reneg = sh.ext(ET.renegotiation_info)
        if self._renegotiating:  # RFC 5746 3.5: both verify_data, or the handshake ends
            client_vd, server_vd = self._verify_data12
            expected = bytes((len(client_vd) + len(server_vd),)) + client_vd + server_vd
            if reneg is None or not hmac.compare_digest(reneg, expected):
                raise TlsError(Reason.HANDSHAKE_FAILURE, "renegotiation_info does not match the last handshake")
        elif reneg is not None and reneg != b"\x00":
            raise TlsError(Reason.HANDSHAKE_FAILURE, "non-empty renegotiation_info in an initial handshake")
        else:
            self._secure_renegotiation = reneg is not None
        alpn = sh.ext(ET.application_layer_protocol_negotiation)
        if alpn is not None:
            names = X.decode_alpn(alpn)
            if len(names) != 1 or names[0] not in cfg.alpn_protocols:
                raise TlsError(Reason.ILLEGAL_PARAMETER, "server selected an ALPN protocol we did not offer")
            self.alpn_protocol = names[0]
        ems = sh.ext(ET.extended_master_secret) is not None
        etm = sh.ext(ET.encrypt_then_mac) is not None
        if etm and not suite.cbc:
            etm = False  # RFC 7366 3: meaningless for AEAD suites
        self.negotiated_version = ProtocolVersion.TLS1_2
        self._records.max_length = MAX_CIPHERTEXT12  # RFC 5246 6.2.3
        self.cipher_suite = suite.id
        self._suite = suite
        self._expected = EXPECTED_CLIENT12
        hs12 = _Client12Hs(
            suite=suite,
            messages=bytearray(hs.ch_msg + whole),
            server_random=sh.random,
            ems=ems,
            etm=etm,
            ticket_expected=sh.ext(ET.session_ticket) is not None,
            session_id=sh.legacy_session_id_echo,
        )
        self._hs12 = hs12
        offer = self._offer12
        if (
            offer is not None
            and sh.legacy_session_id_echo
            and hmac.compare_digest(sh.legacy_session_id_echo, hs.session_id)
        ):
            if offer.cipher_suite != suite.id:
                raise TlsError(Reason.ILLEGAL_PARAMETER, "resumed session with another cipher suite")
            if offer.extended_master_secret and not ems:
                raise TlsError(Reason.HANDSHAKE_FAILURE, "resumed session lost extended_master_secret")
            hs12.resumed_session = offer
            hs12.master = offer.secret
            self._keylog("CLIENT_RANDOM", hs12.master)  # NSS key logs list resumed connections too
            self.resumed = True
            self._install_keys12(hs12)
            return S.NEW_SESSION_TICKET if hs12.ticket_expected else S.SERVER_CHANGE_CIPHER_SPEC
        return S.SERVER_CERTIFICATE

    # ------------------------------------------------------------ full handshake

    def _verify_server_chain(self, chain: tuple[bytes, ...]) -> VerifiedChain | None:
        """Both versions' server Certificate: the leaf in the debug trace, then the
        configured verifier (raises TlsError with verify flags) and the keyUsage the
        key exchange needs; None without a verifier.
        Raises TlsError CERT_BAD for a chain longer than limits.MAX_CERTIFICATE_CHAIN."""
        cfg = self._ccfg
        self._check_chain_length(chain)
        if self._dbg.threshold >= 3:
            self._dbg.crt(3, "peer certificate", chain[0])
        if cfg.verifier is not None:
            verified = cfg.verifier.verify(chain, self.server_name, cfg.now(), server=True)
            self._device_ca_rsa_check(verified)
            # the verifier is not told the key exchange: TLS 1.3 and ECDHE sign, static RSA/ECDH do not
            _check_kx_usage(chain[0], self._hs12.suite.kx if self._hs12 is not None else "ECDHE")
            return verified
        if self._dbg.threshold >= 1:
            self._dbg.msg(1, "server certificate NOT verified (no verifier configured)")
        return None

    def _parse_certificate12(self, body: bytes, whole: bytes) -> HsState:
        from .messages12 import Certificate12  # TLS 1.2 only

        hs12 = self._hs12
        assert hs12 is not None
        cert = Certificate12.decode(body)
        if not cert.certificate_list:
            raise TlsError(Reason.DECODE, "server sent an empty certificate list")
        chain = cert.certificate_list
        if self._renegotiating and chain[0] != self.peer_certificates[0]:  # Mbed TLS: ssl_check_peer_crt_unchanged
            raise TlsError(Reason.CERT_BAD, "the server's certificate changed during renegotiation")
        self._verify_server_chain(chain)
        hs12.leaf_key = key = leaf_public_key(chain[0], "server")
        suite = hs12.suite
        if suite.kx == "ECDH":  # RFC 4492 2.1/2.3: the certificate's EC key is the server's ECDH key
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise TlsError(Reason.CERT_UNSUPPORTED, f"{suite.name} needs an EC certificate key")
            group = group_of_curve(key.curve)
            if group not in self._ccfg.groups:  # mbedtls_ssl_check_curve: MBEDTLS_ERR_SSL_BAD_CERTIFICATE
                raise TlsError(Reason.CERT_BAD, f"the certificate's key is on {key.curve.name}, a curve not offered")
            hs12.group = group
            hs12.server_public = ec_point(key)
        elif isinstance(key, rsa.RSAPublicKey) != (suite.auth == "RSA"):
            raise TlsError(Reason.CERT_UNSUPPORTED, f"certificate key does not fit {suite.name}")
        self.peer_certificates = chain
        hs12.messages += whole
        return S.SERVER_KEY_EXCHANGE if suite.kx == "ECDHE" else S.CERTIFICATE_REQUEST

    def _device_ca_rsa_check(self, verified: VerifiedChain) -> None:
        """A device profile's RSA hardware checks the certificate signatures too
        (``x509_crt_check_signature`` -> ``mbedtls_pk_verify`` -> ``esp_mpi_exp_mod``): a signature
        made by an RSA CA key longer than it takes does not verify, so Mbed TLS finds no trusted
        parent, or marks the child NOT_TRUSTED (-0x2700, flags 0x08). The path's last certificate
        is the trust anchor or, with a certificate bundle, the top one sent (the bundle root that
        signed it is not in the path and not checked)."""
        dev, path = self._device, verified.path
        if dev is None or len(path) < 2:
            return
        for child, parent in itertools.pairwise(path):
            key = parent.public_key()
            if isinstance(key, rsa.RSAPublicKey) and key.key_size > dev.rsa_max_bits:
                from . import mbedtls_path as mp  # (device profiles only)
                from . import x509_flags as xf

                raise xf.failure(
                    xf.X509_BADCERT_NOT_TRUSTED,
                    f"mbedtls: {mp.label(child)} is signed by the {key.key_size}-bit RSA key of {mp.label(parent)}, "
                    f"which the device's RSA hardware cannot check (at most {dev.rsa_max_bits} bits: "
                    "esp_mpi_exp_mod's MBEDTLS_ERR_MPI_NOT_ACCEPTABLE, no CONFIG_MBEDTLS_LARGE_KEY_SOFTWARE_MPI)",
                )

    def _device_rsa_check(self, key: object, where: str, reason: Reason) -> None:
        """A device profile's RSA hardware: a server key longer than it takes fails where the
        device first uses it (ESP-IDF's ``esp_mpi_exp_mod``: MBEDTLS_ERR_MPI_NOT_ACCEPTABLE)."""
        dev = self._device
        if dev is not None and isinstance(key, rsa.RSAPublicKey) and key.key_size > dev.rsa_max_bits:
            raise TlsError(
                reason,
                f"the server's {key.key_size}-bit RSA key ({where}): the device's RSA hardware takes at most "
                f"{dev.rsa_max_bits} bits (SOC_RSA_MAX_BIT_LEN, no CONFIG_MBEDTLS_LARGE_KEY_SOFTWARE_MPI)",
            )

    def _parse_server_key_exchange(self, body: bytes, whole: bytes) -> HsState:
        from .messages12 import DigitallySigned, ServerKeyExchange12  # TLS 1.2 only

        hs12, hs, cfg = self._hs12, self._hs, self._ccfg
        assert hs12 is not None and hs is not None
        ske = ServerKeyExchange12.decode(body)
        group = ske.params.named_curve
        if group not in cfg.groups:
            raise TlsError(Reason.ILLEGAL_PARAMETER, f"server chose curve 0x{group:04x} we did not offer")
        assert isinstance(ske.signed, DigitallySigned)  # (decode reads TLS 1.2's)
        scheme = ske.signed.algorithm
        if scheme not in cfg.signature_schemes:
            raise TlsError(Reason.ILLEGAL_PARAMETER, f"ServerKeyExchange signed with 0x{scheme:04x}, not offered")
        signed = self.client_random + hs12.server_random + ske.params.encode()
        self._device_rsa_check(hs12.leaf_key, "ServerKeyExchange", Reason.DEVICE_RSA_TOO_LARGE)
        verify(hs12.leaf_key, scheme, signed, ske.signed.signature, allow_legacy=True)  # type: ignore[arg-type]
        hs12.group = group
        hs12.server_public = ske.params.public
        hs12.messages += whole
        return S.CERTIFICATE_REQUEST

    def _parse_certificate_request12(self, body: bytes, whole: bytes) -> HsState:
        from .messages12 import CertificateRequest12  # TLS 1.2 only

        hs12 = self._hs12
        assert hs12 is not None
        hs12.cert_request = CertificateRequest12.decode(body)
        hs12.messages += whole
        return S.SERVER_HELLO_DONE

    def _parse_server_hello_done(self, body: bytes, whole: bytes) -> HsState:
        from .keyschedule12 import master_secret  # TLS 1.2 only
        from .messages12 import DigitallySigned  # TLS 1.2 only

        hs12, cfg = self._hs12, self._ccfg
        assert hs12 is not None
        if body:
            raise TlsError(Reason.DECODE, "ServerHelloDone with a body")
        hs12.messages += whole
        suite = hs12.suite
        if hs12.cert_request is not None:
            self._set_state(S.CLIENT_CERTIFICATE)
            self._write_client_certificate12(hs12)
        self._set_state(S.CLIENT_KEY_EXCHANGE)
        self._log2("=> write client key exchange")
        if suite.kx in ("ECDHE", "ECDH"):  # ECDH: the server's share is its certificate's key
            if hs12.group == 0:
                raise TlsError(Reason.UNEXPECTED_MESSAGE, "ServerHelloDone before ServerKeyExchange")
            try:
                share = ClientShare(hs12.group, cfg.random)
            except ValueError:
                raise TlsError(Reason.HANDSHAKE_FAILURE, f"curve 0x{hs12.group:04x} is not implemented") from None
            pre_master = share.finish(hs12.server_public)
            self.group = hs12.group
            cke = bytes((len(share.key_exchange),)) + share.key_exchange
        else:
            assert isinstance(hs12.leaf_key, rsa.RSAPublicKey)
            self._device_rsa_check(hs12.leaf_key, "ClientKeyExchange", Reason.DEVICE_RSA_TOO_LARGE)
            pre_master = b"\x03\x03" + cfg.random(46)
            encrypted = hs12.leaf_key.encrypt(pre_master, padding.PKCS1v15())
            cke = len(encrypted).to_bytes(2, "big") + encrypted
        hs12.messages += self._queue_handshake(HT.CLIENT_KEY_EXCHANGE, cke)
        session_hash = new_hash(suite.hash_name, hs12.messages).digest() if hs12.ems else None
        hs12.master = master_secret(suite.hash_name, pre_master, self.client_random, hs12.server_random, session_hash)
        self._keylog("CLIENT_RANDOM", hs12.master)
        if cfg.certificate is not None and hs12.cv_scheme is not None:
            self._set_state(S.CERTIFICATE_VERIFY)
            scheme, data = hs12.cv_scheme, bytes(hs12.messages)
            key = cfg.certificate.key
            sig = cfg.signer(scheme, data) if cfg.signer is not None else sign(key, scheme, data, tls12=True)
            w = Writer()
            DigitallySigned(scheme, sig).write(w)
            hs12.messages += self._queue_handshake(HT.CERTIFICATE_VERIFY, w.getvalue())
        self._install_keys12(hs12)
        self._write_ccs_finished12(hs12)
        if cfg.false_start and suite.kx == "ECDHE" and not suite.cbc:
            hs12.false_started = True  # RFC 7918: application data may follow our Finished
            if self._pending_app:
                data = bytes(self._pending_app)
                self._pending_app.clear()
                self._seal_app(data)
        return S.NEW_SESSION_TICKET if hs12.ticket_expected else S.SERVER_CHANGE_CIPHER_SPEC

    def _write_client_certificate12(self, hs12: _Client12Hs) -> None:
        from .messages12 import Certificate12  # TLS 1.2 only

        cfg = self._ccfg
        cr = hs12.cert_request
        assert cr is not None
        self._log2("=> write certificate")
        ck = cfg.certificate
        scheme = None
        if ck is not None:
            scheme = choose_scheme(ck.key, cr.supported_signature_algorithms, cfg.signature_schemes, tls13=False)
        chain = ck.chain_der if ck is not None and scheme is not None else ()
        hs12.messages += self._queue_handshake(HT.CERTIFICATE, Certificate12(chain).encode())
        hs12.cv_scheme = scheme

    def _install_keys12(self, hs12: _Client12Hs) -> None:
        """Derive the key block; the write key is installed with our CCS, the
        read key with the server's."""
        from .keyschedule12 import key_block  # TLS 1.2 only
        from .protection12 import Protector12  # TLS 1.2 only

        suite = hs12.suite
        cmac, smac, ckey, skey, civ, siv = key_block(
            suite.hash_name,
            hs12.master,
            self.client_random,
            hs12.server_random,
            suite.mac_len,
            suite.key_len,
            suite.iv_len,
        )
        rnd = self._ccfg.random
        self._pending_write12 = Protector12(suite, ckey, civ, cmac, etm=hs12.etm, random=rnd)
        self._pending_read12 = Protector12(suite, skey, siv, smac, etm=hs12.etm, random=rnd)

    def _write_ccs_finished12(self, hs12: _Client12Hs) -> None:
        from .keyschedule12 import finished_verify_data12  # TLS 1.2 only

        self._set_state(S.CLIENT_CHANGE_CIPHER_SPEC)
        self._send_ccs()
        self._write = self._pending_write12
        self._set_state(S.CLIENT_FINISHED)
        self._log2("=> write finished")
        th = new_hash(hs12.suite.hash_name, hs12.messages).digest()
        verify_data = finished_verify_data12(hs12.suite.hash_name, hs12.master, True, th)
        hs12.client_verify = verify_data
        hs12.messages += self._queue_handshake(HT.FINISHED, verify_data)
        self._flush_handshake()

    # ------------------------------------------------------------ server's end

    def _parse_new_session_ticket12(self, body: bytes, whole: bytes) -> HsState:
        from .messages12 import NewSessionTicket12  # TLS 1.2 only

        hs12 = self._hs12
        assert hs12 is not None
        hs12.new_ticket = NewSessionTicket12.decode(body)
        hs12.messages += whole
        return S.SERVER_CHANGE_CIPHER_SPEC

    def _handle_ccs12(self) -> None:
        if self.state != S.SERVER_CHANGE_CIPHER_SPEC or not self._joiner.empty:
            raise TlsError(Reason.UNEXPECTED_MESSAGE, f"change_cipher_spec in state {self.state.name}")
        self._read = self._pending_read12
        self._set_state(S.SERVER_FINISHED)

    def _parse_server_finished12(self, body: bytes, whole: bytes) -> HsState:
        from .keyschedule12 import finished_verify_data12  # TLS 1.2 only

        hs12 = self._hs12
        assert hs12 is not None
        fin = Finished.decode(body)
        th = new_hash(hs12.suite.hash_name, hs12.messages).digest()
        expected = finished_verify_data12(hs12.suite.hash_name, hs12.master, False, th)
        if not hmac.compare_digest(expected, fin.verify_data):
            raise TlsError(Reason.BAD_FINISHED, "server Finished")
        hs12.messages += whole
        if self.resumed:
            self._write_ccs_finished12(hs12)
        self._verify_data12 = (hs12.client_verify, fin.verify_data)
        self._renegotiating = False
        self._set_state(S.FLUSH_BUFFERS)
        self._set_state(S.HANDSHAKE_WRAPUP)
        session = self._session12(hs12)
        self._hs = None
        self._hs12 = None
        self._complete_handshake()
        if session is not None:
            self.session = session
            self._events.append(SessionTicketReceived(session))
        return S.HANDSHAKE_OVER

    def _session12(self, hs12: _Client12Hs) -> Session | None:
        old = hs12.resumed_session
        nst = hs12.new_ticket
        if nst is not None and nst.ticket:
            ticket, lifetime = nst.ticket, nst.ticket_lifetime_hint or 7200
        elif old is not None:
            if old.ticket and nst is None:
                return None  # resumed with a ticket the server did not renew: keep using the old one
            ticket, lifetime = old.ticket, old.lifetime
        else:
            ticket, lifetime = b"", 0
        session_id = hs12.session_id if not ticket else b""
        if not ticket and not session_id:
            return None
        return Session(
            version=ProtocolVersion.TLS1_2,
            cipher_suite=hs12.suite.id,
            server_name=self.server_name or "",
            secret=hs12.master,
            ticket=ticket,
            lifetime=lifetime if ticket else 0,
            received_at=self._ccfg.now(),
            alpn_protocol=self.alpn_protocol or "",
            session_id=session_id,
            extended_master_secret=hs12.ems,
            peer_check=old.peer_check if old is not None else self._peer_check,
        )

    def _parse_hello_request(self, body: bytes, whole: bytes) -> HsState:
        dev = self._device
        if dev is not None and dev.renegotiation and self._secure_renegotiation and not self._closed:
            if body:
                raise TlsError(Reason.DECODE, "HelloRequest with a body")
            self._renegotiations += 1
            if self._renegotiations > MAX_RENEGOTIATIONS:
                raise TlsError(
                    Reason.FLOOD,
                    f"{self._renegotiations} renegotiations without application data (limit {MAX_RENEGOTIATIONS})",
                )
            self._log2("HelloRequest: renegotiating (the device accepts renegotiation)")
            self._start_renegotiation()
            return S.SERVER_HELLO
        # RFC 5746 4.2: we never renegotiate (nor with a server without RFC 5746); say so and carry on.
        self._log2("HelloRequest: renegotiation refused")
        self._send_alert(AlertLevel.WARNING, AlertDescription.no_renegotiation)
        return S.HANDSHAKE_OVER

    def _start_renegotiation(self) -> None:
        """Write the renegotiating ClientHello (the client's TLS 1.3 half owns the hello)."""
        raise NotImplementedError

    def _log2(self, text: str) -> None:
        if self._dbg.threshold >= 2:
            self._dbg.msg(2, text)


def _check_kx_usage(leaf: bytes, kx: str) -> None:
    """``mbedtls_ssl_check_cert_usage`` for the key exchange: keyEncipherment (RSA), keyAgreement (ECDH) or
    digitalSignature (the others) in the leaf's keyUsage, if it has one. Raises TlsError with
    MBEDTLS_X509_BADCERT_KEY_USAGE."""
    from cryptography import x509

    from . import mbedtls_path as mp
    from . import x509_flags as xf

    flags, notes = mp.usage_flags(x509.load_der_x509_certificate(leaf), True, kx=kx)
    if flags & xf.X509_BADCERT_KEY_USAGE:
        raise xf.failure(xf.X509_BADCERT_KEY_USAGE, notes[0])
