"""The TLS 1.3 client (RFC 8446): ClientHello through Finished, HRR,
resumption with tickets, 0-RTT, client certificates, NewSessionTicket.

Flights (mbedTLS state names)::

    CLIENT_HELLO           ==> ClientHello (+ early data)
    SERVER_HELLO           <== ServerHello | HelloRetryRequest
    ENCRYPTED_EXTENSIONS   <== EncryptedExtensions
    CERTIFICATE_REQUEST    <== (CertificateRequest)
    SERVER_CERTIFICATE     <== Certificate
    CERTIFICATE_VERIFY     <== CertificateVerify
    SERVER_FINISHED        <== Finished
                           ==> (EndOfEarlyData) (Certificate, CertificateVerify) Finished
    HANDSHAKE_OVER         <== NewSessionTicket / KeyUpdate

Per-handshake data lives in :class:`_ClientHs`, dropped (with its secrets)
when the handshake ends.
"""

from __future__ import annotations

import hmac
import ipaddress

from ..structs import Struct, field, replace
from . import extensions as X
from .client12 import Tls12Client
from .config import ClientConfig, VerifiedChain
from .device import DeviceStats
from .enums import NOT_FOR_TLS13, ProtocolVersion, PskKeyExchangeMode
from .enums import ExtensionType as ET
from .enums import HandshakeType as HT
from .errors import LocalProtocolError, Reason, TlsError
from .events import EarlyDataRejected, SessionTicketReceived
from .keyschedule import KeySchedule, finished_verify_data, hkdf_expand_label
from .kx import SUPPORTED_GROUPS, ClientShare
from .messages import (
    Certificate,
    CertificateEntry,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    EncryptedExtensions,
    Extension,
    Finished,
    NewSessionTicket,
    ServerHello,
    handshake_message,
)
from .session import PeerCheck, Session
from .signatures import choose_scheme, leaf_public_key, sign, tls13_certificate_verify_input, verify
from .states import EXPECTED_CLIENT, HsState
from .suites import SUITES, SuiteParams
from .transcript import Transcript

__all__ = ["ClientConnection"]

S = HsState
_DOWNGRADE_12 = b"DOWNGRD\x01"
_DOWNGRADE_11 = b"DOWNGRD\x00"
# Extensions a TLS 1.3 ServerHello may carry (RFC 8446 4.2 table).
_SH_ALLOWED = frozenset({ET.supported_versions, ET.key_share, ET.pre_shared_key})
_HRR_ALLOWED = frozenset({ET.supported_versions, ET.key_share, ET.cookie})
_EE_FORBIDDEN = frozenset(
    {
        ET.supported_versions,
        ET.key_share,
        ET.pre_shared_key,
        ET.cookie,
        ET.psk_key_exchange_modes,
        ET.signature_algorithms,
        ET.signature_algorithms_cert,
        ET.certificate_authorities,
        ET.post_handshake_auth,
        ET.status_request,
        ET.signed_certificate_timestamp,
        ET.padding,
        ET.oid_filters,
    }
)


class _ClientHs(Struct, frozen=False, slots=False):
    transcript: Transcript = field(default_factory=Transcript)
    shares: dict[int, ClientShare] = field(default_factory=dict)
    offered_exts: set[int] = field(default_factory=set)
    session_id: bytes = b""
    ch_msg: bytes = b""
    hrr_done: bool = False
    cookie: bytes | None = None
    psk_offered: bool = False
    schedule: KeySchedule | None = None
    early_offered: bool = False
    early_sent: bytearray = field(default_factory=bytearray)
    early_budget: int = 0
    sent_ccs: bool = False
    c_hs: bytes = b""
    s_hs: bytes = b""
    cert_request: CertificateRequest | None = None
    verified: VerifiedChain | None = None


class ClientConnection(Tls12Client):
    """A TLS client. ``session`` (from an earlier connection, possibly another
    process) is offered for resumption when it fits this server and config.

    A session whose server was not verified the way this config verifies it
    (:meth:`PeerCheck.refusal <.session.PeerCheck.refusal>`) is never
    offered: ``session_refused`` then says why, and the handshake is a full
    one. Sessions this connection makes record this config's check, or on a
    resumed handshake the check of the session resumed.
    """

    is_client = True
    _expected_initial = EXPECTED_CLIENT

    def __init__(self, config: ClientConfig, server_name: str | None = None, session: Session | None = None) -> None:
        super().__init__(config)
        self._ccfg = config
        self.server_name = server_name
        self._peer_check = PeerCheck.of(config.verifier, server_name)
        self.session_refused: str | None = None
        if session is not None:
            self.session_refused = self._peer_check.refusal(session.peer_check)
            if self.session_refused is not None:
                session = None
        self._offer: Session | None = self._usable_session(session)
        self._offer12: Session | None = self._usable_session12(session)
        self._device = config.device
        self._config0 = config
        if config.device is not None:
            self.device_stats = DeviceStats()
            offered = self._offer or self._offer12
            self._ccfg = _device_hello_config(config, offered.version if offered is not None else None)
        self._hs: _ClientHs | None = _ClientHs()
        self._hello_version = config.hello_record_version.to_bytes(2, "big")
        self._res_master = b""
        self.session: Session | None = None  # newest resumable session from this connection
        self.early_data_offered = False  # the first ClientHello carried early_data (kept after the handshake)

    def _usable_session(self, s: Session | None) -> Session | None:
        cfg = self._ccfg
        if s is None or s.version != ProtocolVersion.TLS1_3 or ProtocolVersion.TLS1_3 not in cfg.versions:
            return None
        if s.cipher_suite not in cfg.cipher_suites or s.cipher_suite not in SUITES or not s.ticket:
            return None
        if (s.server_name or None) != (self.server_name or None) or s.expired(cfg.now()):
            return None
        return s

    def _usable_session12(self, s: Session | None) -> Session | None:
        cfg = self._ccfg
        if s is None or s.version != ProtocolVersion.TLS1_2 or ProtocolVersion.TLS1_2 not in cfg.versions:
            return None
        if s.cipher_suite not in cfg.cipher_suites or (not s.ticket and not s.session_id):
            return None
        if (s.server_name or None) != (self.server_name or None) or (s.ticket and s.expired(cfg.now())):
            return None
        return s

    def _offered_suites(self) -> tuple[int, ...]:
        """The configured suites that fit the offered versions, plus the
        renegotiation SCSV when TLS 1.2 is offered (RFC 5746 3.4)."""
        cfg = self._ccfg
        v13, v12 = ProtocolVersion.TLS1_3 in cfg.versions, ProtocolVersion.TLS1_2 in cfg.versions
        suites = [s for s in cfg.cipher_suites if (s >> 8 == 0x13 and v13) or (s >> 8 != 0x13 and v12)]
        if self._renegotiating:  # RFC 5746 3.5: renegotiation_info instead, never the SCSV
            return tuple(s for s in suites if s != 0x00FF)
        scsv_always = self._device is not None and self._device.scsv_always
        if (v12 or not suites or scsv_always) and 0x00FF not in suites:
            suites.append(0x00FF)  # never an empty (malformed) list: mbedTLS, too, always sends the SCSV
        return tuple(suites)

    # ------------------------------------------------------------- writing

    def start_handshake(self) -> None:
        """Queue the ClientHello. Raises LocalProtocolError if called twice."""
        if self.state != S.HELLO_REQUEST:
            raise LocalProtocolError("handshake already started")
        self._set_state(S.CLIENT_HELLO)
        self._write_client_hello()
        self._flush_handshake()
        self._set_state(S.SERVER_HELLO)

    def _build_extensions(self, hs: _ClientHs) -> list[Extension]:
        cfg = self._ccfg
        v13, v12 = ProtocolVersion.TLS1_3 in cfg.versions, ProtocolVersion.TLS1_2 in cfg.versions
        exts: list[Extension] = []
        name = self.server_name
        if name and cfg.send_sni and not _is_ip(name):
            exts.append(Extension(ET.server_name, X.encode_server_name(name)))
        if v13:
            versions = [v for v in (ProtocolVersion.TLS1_3, ProtocolVersion.TLS1_2) if v in cfg.versions]
            exts.append(Extension(ET.supported_versions, X.encode_supported_versions(versions)))
        exts.append(Extension(ET.supported_groups, X.encode_u16_list(cfg.groups)))
        exts.append(Extension(ET.signature_algorithms, X.encode_u16_list(cfg.signature_schemes)))
        if v13:
            shares = [(g, s.key_exchange) for g, s in hs.shares.items()]
            exts.append(Extension(ET.key_share, X.encode_key_share_client(shares)))
        if cfg.alpn_protocols:
            exts.append(Extension(ET.application_layer_protocol_negotiation, X.encode_alpn(cfg.alpn_protocols)))
        if hs.cookie is not None:
            exts.append(Extension(ET.cookie, X.encode_cookie(hs.cookie)))
        if v13:
            exts.append(Extension(ET.psk_key_exchange_modes, X.encode_psk_modes(cfg.psk_modes)))
        if hs.early_offered and not hs.hrr_done:
            exts.append(Extension(ET.early_data, b""))
        if self._renegotiating:  # RFC 5746 3.5: our last verify_data, in place of the SCSV
            client_vd = self._verify_data12[0]
            exts.append(Extension(ET.renegotiation_info, bytes((len(client_vd),)) + client_vd))
        if v12:
            exts.append(Extension(ET.ec_point_formats, b"\x01\x00"))  # uncompressed only
            if any((p := SUITES.get(s)) is not None and p.cbc for s in cfg.cipher_suites):
                exts.append(Extension(ET.encrypt_then_mac, b""))
            exts.append(Extension(ET.extended_master_secret, b""))
            ticket = self._offer12.ticket if self._offer12 is not None else b""
            exts.append(Extension(ET.session_ticket, ticket))
        if cfg.extension_order:
            rank = {t: i for i, t in enumerate(cfg.extension_order)}
            exts.sort(key=lambda e: rank.get(e.type, len(rank)))
        if cfg.extensions_hook is not None:
            exts = cfg.extensions_hook(exts)
        return exts

    def _write_client_hello(self) -> None:
        dbg = self._dbg.threshold >= 2
        if dbg:
            self._dbg.msg(2, "=> write client hello")
        cfg, hs = self._ccfg, self._hs
        assert hs is not None
        if not hs.hrr_done:
            self.client_random = cfg.random(32)
            if cfg.unix_time_random and ProtocolVersion.TLS1_3 not in cfg.versions:
                self.client_random = int(cfg.now()).to_bytes(4, "big") + self.client_random[4:]
            offer12 = self._offer12
            if offer12 is not None and not offer12.ticket:
                hs.session_id = offer12.session_id  # session-ID resumption
            elif offer12 is not None or (cfg.middlebox_compat and ProtocolVersion.TLS1_3 in cfg.versions):
                hs.session_id = cfg.random(32)  # RFC 5077 3.4 / RFC 8446 D.4
            else:
                hs.session_id = b""
            if ProtocolVersion.TLS1_3 in cfg.versions:  # key_share is a TLS 1.3 extension: no keys for 1.2 only
                for g in cfg.key_share_groups:
                    hs.shares[g] = ClientShare(g, cfg.random)
            offer = self._offer
            hs.early_offered = bool(
                offer
                and cfg.early_data
                and offer.max_early_data > 0
                and offer.alpn_protocol == (cfg.alpn_protocols[0] if cfg.alpn_protocols else "")
            )
            self.early_data_offered = hs.early_offered
        exts = self._build_extensions(hs)
        offer = self._offer
        now = cfg.now()
        binder_len = 0
        if offer is not None:
            suite = SUITES[offer.cipher_suite]
            identity = X.PskIdentity(offer.ticket, offer.obfuscated_age(now))
            placeholder = X.OfferedPsks((identity,), (bytes(suite.hash_len),))
            exts.append(Extension(ET.pre_shared_key, X.encode_offered_psks(placeholder)))
            binder_len = X.binders_length(placeholder.binders)
        hs.offered_exts = {e.type for e in exts}
        ch = ClientHello(0x0303, self.client_random, hs.session_id, self._offered_suites(), b"\x00", tuple(exts))
        msg = handshake_message(HT.CLIENT_HELLO, ch.encode())
        if offer is not None:
            msg = self._fill_binder(hs, offer, msg, binder_len)
            hs.psk_offered = True
        hs.ch_msg = msg
        self._queue_handshake_raw(msg)
        hs.transcript.add(msg)
        if hs.early_offered and not hs.hrr_done:
            self._start_early_data(hs, offer, msg)
        if dbg:
            self._dbg.msg(2, "<= write client hello")

    def _fill_binder(self, hs: _ClientHs, offer: Session, msg: bytes, binder_len: int) -> bytes:
        suite = SUITES[offer.cipher_suite]
        ks = KeySchedule(suite.hash_name, offer.secret)
        hs.schedule = ks
        truncated = msg[:-binder_len]
        if hs.hrr_done:
            th = hs.transcript.digest_with(truncated)
        else:
            t = Transcript()
            t.set_hash(suite.hash_name)
            t.add(truncated)
            th = t.digest()
        binder = finished_verify_data(suite.hash_name, ks.binder_key(), th)
        return truncated + (len(binder) + 1).to_bytes(2, "big") + bytes((len(binder),)) + binder

    def _queue_handshake_raw(self, msg: bytes) -> None:
        self._check_device_output(msg)
        if self._dbg.threshold >= 4:
            self._dbg.buf(4, "handshake message ClientHello", msg)
        self._hs_out += msg

    def _start_early_data(self, hs: _ClientHs, offer: Session | None, ch_msg: bytes) -> None:
        assert offer is not None and hs.schedule is not None
        suite = SUITES[offer.cipher_suite]
        t = Transcript()
        t.set_hash(suite.hash_name)
        t.add(ch_msg)
        secret = hs.schedule.derive(b"c e traffic", t.digest())
        self._suite = suite
        self._keylog("CLIENT_EARLY_TRAFFIC_SECRET", secret)
        if self._ccfg.middlebox_compat:
            self._send_ccs()
            hs.sent_ccs = True
        self._set_write_key(secret)
        hs.early_budget = offer.max_early_data
        if self._dbg.threshold >= 2:
            self._dbg.msg(2, f"early data: may send {offer.max_early_data} bytes")

    def _try_early_data(self, data: bytes) -> bool:
        if self._hs12 is not None and self._hs12.false_started:
            self._seal_app(data)  # TLS 1.2 False Start (RFC 7918)
            return True
        hs = self._hs
        if hs is None or not hs.early_offered or self.state not in (S.SERVER_HELLO, S.ENCRYPTED_EXTENSIONS):
            return False
        if len(data) > hs.early_budget - len(hs.early_sent) or hs.hrr_done:
            return False
        hs.early_sent += data
        self._seal_app(data)
        return True

    def _start_renegotiation(self) -> None:
        """A TLS 1.2 renegotiation (device profiles, :mod:`.device`): a new TLS 1.2-only hello under the
        current keys, no session offered, renegotiation_info instead of the SCSV."""
        self._renegotiating = True
        self._offer = self._offer12 = None
        self._ccfg = _device_hello_config(self._config0, ProtocolVersion.TLS1_2)
        self._hs = _ClientHs()
        self._set_state(S.CLIENT_HELLO)
        self._write_client_hello()
        self._flush_handshake()

    # ------------------------------------------------------------- parsing

    def _parse_server_hello(self, body: bytes, whole: bytes) -> HsState:
        hs, cfg = self._hs, self._ccfg
        assert hs is not None
        sh = ServerHello.decode(body)
        sv = sh.ext(ET.supported_versions)
        if sv is None:
            if ProtocolVersion.TLS1_3 in cfg.versions and sh.random[-8:] in (_DOWNGRADE_12, _DOWNGRADE_11):
                raise TlsError(Reason.DOWNGRADE, "server offered a lower version while we offered TLS 1.3")
            if sh.is_hello_retry_request:
                raise TlsError(Reason.ILLEGAL_PARAMETER, "HelloRetryRequest without supported_versions")
            return self._parse_server_hello12(sh, whole)
        version = X.decode_selected_version(sv)
        if version != ProtocolVersion.TLS1_3 or version not in cfg.versions:
            raise TlsError(Reason.ILLEGAL_PARAMETER, f"server selected version 0x{version:04x}")
        if sh.legacy_version != 0x0303 or sh.legacy_compression_method != 0:
            raise TlsError(Reason.ILLEGAL_PARAMETER, "bad legacy_version or compression in ServerHello")
        if not hmac.compare_digest(sh.legacy_session_id_echo, hs.session_id):
            raise TlsError(Reason.ILLEGAL_PARAMETER, "legacy_session_id_echo does not match")
        suite = SUITES.get(sh.cipher_suite)
        if sh.cipher_suite not in cfg.cipher_suites or suite is None or not suite.tls13:
            raise TlsError(Reason.ILLEGAL_PARAMETER, f"server chose cipher suite 0x{sh.cipher_suite:04x}, not offered")
        if hs.hrr_done and self._suite is not None and suite.id != self.cipher_suite:
            raise TlsError(Reason.ILLEGAL_PARAMETER, "cipher suite changed after HelloRetryRequest")
        allowed = _HRR_ALLOWED if sh.is_hello_retry_request else _SH_ALLOWED
        for e in sh.extensions:
            # RFC 8446 4.2: cookie in a HelloRetryRequest is the one response the client need not have asked for.
            solicited = e.type in hs.offered_exts or (sh.is_hello_retry_request and e.type == ET.cookie)
            if not solicited:
                raise TlsError(Reason.UNSOLICITED_EXTENSION, f"extension 0x{e.type:04x} in ServerHello")
            if e.type not in allowed:
                raise TlsError(Reason.ILLEGAL_PARAMETER, f"extension 0x{e.type:04x} not allowed in ServerHello")
        self.negotiated_version = version
        self.cipher_suite = suite.id
        if sh.is_hello_retry_request:
            return self._handle_hrr(sh, whole, suite)
        if hs.transcript.hash_name != suite.hash_name:
            if hs.hrr_done:
                raise TlsError(Reason.ILLEGAL_PARAMETER, "hash changed after HelloRetryRequest")
            hs.transcript.set_hash(suite.hash_name)
        psk: bytes | None = None
        raw_psk = sh.ext(ET.pre_shared_key)
        if raw_psk is not None:
            if not hs.psk_offered or X.decode_selected_identity(raw_psk) != 0:
                raise TlsError(Reason.ILLEGAL_PARAMETER, "server selected a PSK we did not offer")
            assert self._offer is not None
            if SUITES[self._offer.cipher_suite].hash_name != suite.hash_name:
                raise TlsError(Reason.ILLEGAL_PARAMETER, "PSK hash does not match the cipher suite")
            psk = self._offer.secret
        shared: bytes | None = None
        raw_ks = sh.ext(ET.key_share)
        if raw_ks is not None:
            group, kx = X.decode_key_share_server(raw_ks)
            share = hs.shares.get(group)
            if share is None:
                raise TlsError(Reason.ILLEGAL_PARAMETER, f"server key share for group 0x{group:04x} we did not send")
            shared = share.finish(kx)
            self.group = group
        elif psk is None or PskKeyExchangeMode.psk_ke not in cfg.psk_modes:
            raise TlsError(Reason.MISSING_EXTENSION, "ServerHello has no key_share")
        hs.transcript.add(whole)
        self._suite = suite
        ks = hs.schedule if psk is not None and hs.schedule is not None else KeySchedule(suite.hash_name)
        hs.schedule = ks
        ks.handshake_stage(shared)
        th = hs.transcript.digest()
        hs.c_hs = ks.derive(b"c hs traffic", th)
        hs.s_hs = ks.derive(b"s hs traffic", th)
        self._keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", hs.c_hs)
        self._keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", hs.s_hs)
        self._set_read_key(hs.s_hs)
        self.resumed = psk is not None
        return S.ENCRYPTED_EXTENSIONS

    def _handle_hrr(self, sh: ServerHello, whole: bytes, suite: SuiteParams) -> HsState:
        hs, cfg = self._hs, self._ccfg
        assert hs is not None
        if hs.hrr_done:
            raise TlsError(Reason.UNEXPECTED_MESSAGE, "second HelloRetryRequest")
        raw_ks = sh.ext(ET.key_share)
        cookie = sh.ext(ET.cookie)
        group = X.decode_key_share_hrr(raw_ks) if raw_ks is not None else None
        if group is not None and (group not in cfg.groups or group not in SUPPORTED_GROUPS or group in hs.shares):
            raise TlsError(Reason.ILLEGAL_PARAMETER, f"HelloRetryRequest asks for group 0x{group:04x}")
        if group is None and cookie is None:
            raise TlsError(Reason.ILLEGAL_PARAMETER, "HelloRetryRequest would not change the ClientHello")
        self._set_state(S.HELLO_RETRY_REQUEST)
        hs.transcript.set_hash(suite.hash_name)
        hs.transcript.restart_for_hrr()
        hs.transcript.add(whole)
        hs.hrr_done = True
        hs.cookie = X.decode_cookie(cookie) if cookie is not None else None
        if group is not None:
            hs.shares = {group: ClientShare(group, cfg.random)}
        if self._offer is not None and SUITES[self._offer.cipher_suite].hash_name != suite.hash_name:
            self._offer = None  # the ticket cannot be used with this hash
        if hs.early_offered:
            self._write = None  # early data is abandoned; it is sent again after the handshake
        if cfg.middlebox_compat and not hs.sent_ccs:
            self._set_state(S.CLIENT_CCS_BEFORE_2ND_CLIENT_HELLO)
            self._send_ccs()
            hs.sent_ccs = True
        self._set_state(S.CLIENT_HELLO)
        self._suite = suite
        self._write_client_hello()
        return S.SERVER_HELLO

    def _parse_encrypted_extensions(self, body: bytes, whole: bytes) -> HsState:
        hs, cfg = self._hs, self._ccfg
        assert hs is not None
        ee = EncryptedExtensions.decode(body)
        for e in ee.extensions:
            if e.type in _EE_FORBIDDEN:
                raise TlsError(Reason.ILLEGAL_PARAMETER, f"extension 0x{e.type:04x} not allowed in EncryptedExtensions")
            if e.type not in hs.offered_exts:
                raise TlsError(Reason.UNSOLICITED_EXTENSION, f"extension 0x{e.type:04x} in EncryptedExtensions")
        alpn = ee.ext(ET.application_layer_protocol_negotiation)
        if alpn is not None:
            names = X.decode_alpn(alpn) if len(alpn) > 2 else []
            if len(names) != 1 or names[0] not in cfg.alpn_protocols:
                raise TlsError(Reason.ILLEGAL_PARAMETER, "server selected an ALPN protocol we did not offer")
            self.alpn_protocol = names[0]
        early = ee.ext(ET.early_data)
        if early is not None:
            if early or not hs.early_offered or hs.hrr_done or not self.resumed:
                raise TlsError(Reason.ILLEGAL_PARAMETER, "unexpected early_data in EncryptedExtensions")
            self.early_data_accepted = True
        hs.transcript.add(whole)
        return S.SERVER_FINISHED if self.resumed else S.CERTIFICATE_REQUEST

    def _parse_certificate_request(self, body: bytes, whole: bytes) -> HsState:
        hs = self._hs
        assert hs is not None
        cr = CertificateRequest.decode(body)
        if cr.ext(ET.signature_algorithms) is None:
            raise TlsError(Reason.MISSING_EXTENSION, "CertificateRequest without signature_algorithms")
        hs.cert_request = cr
        hs.transcript.add(whole)
        return S.SERVER_CERTIFICATE

    def _parse_server_certificate(self, body: bytes, whole: bytes) -> HsState:
        hs = self._hs
        assert hs is not None
        cert = Certificate.decode(body)
        if cert.certificate_request_context:
            raise TlsError(Reason.ILLEGAL_PARAMETER, "server Certificate with a request context")
        if not cert.certificate_list:
            raise TlsError(Reason.DECODE, "server sent an empty certificate list")
        chain = tuple(e.cert_data for e in cert.certificate_list)
        hs.verified = self._verify_server_chain(chain)
        self.peer_certificates = chain
        hs.transcript.add(whole)
        return S.CERTIFICATE_VERIFY

    def _parse_certificate_verify(self, body: bytes, whole: bytes) -> HsState:
        hs, cfg = self._hs, self._ccfg
        assert hs is not None
        cv = CertificateVerify.decode(body)
        if cv.algorithm not in cfg.signature_schemes or cv.algorithm in NOT_FOR_TLS13:
            raise TlsError(Reason.ILLEGAL_PARAMETER, f"CertificateVerify with scheme 0x{cv.algorithm:04x}")
        public_key = leaf_public_key(self.peer_certificates[0], "server")
        data = tls13_certificate_verify_input(hs.transcript.digest(), server=True)
        self._device_rsa_check(public_key, "CertificateVerify", Reason.BAD_SIGNATURE)  # Mbed TLS: -0x6E00
        verify(public_key, cv.algorithm, data, cv.signature)
        hs.transcript.add(whole)
        return S.SERVER_FINISHED

    def _parse_server_finished(self, body: bytes, whole: bytes) -> HsState:
        hs = self._hs
        suite = self._suite
        assert hs is not None and suite is not None and hs.schedule is not None
        fin = Finished.decode(body)
        expected = finished_verify_data(suite.hash_name, hs.s_hs, hs.transcript.digest())
        if not hmac.compare_digest(expected, fin.verify_data):
            raise TlsError(Reason.BAD_FINISHED, "server Finished")
        hs.transcript.add(whole)
        ks = hs.schedule
        ks.master_stage()
        th = hs.transcript.digest()
        c_ap = ks.derive(b"c ap traffic", th)
        s_ap = ks.derive(b"s ap traffic", th)
        self._keylog("CLIENT_TRAFFIC_SECRET_0", c_ap)
        self._keylog("SERVER_TRAFFIC_SECRET_0", s_ap)
        if self._keylogging():  # (no exporter API: the secret is only logged)
            self._keylog("EXPORTER_SECRET", ks.derive(b"exp master", th))
        self._set_read_key(s_ap)
        self._app_read_secret, self._app_write_secret = s_ap, c_ap
        self._write_second_flight(hs, suite)
        ks.secret = b""
        self._hs = None
        if hs.early_sent and not self.early_data_accepted:
            self._pending_app[:0] = hs.early_sent
            self._events.append(EarlyDataRejected(resent=len(hs.early_sent)))
        self._complete_handshake()
        return S.HANDSHAKE_OVER

    def _write_second_flight(self, hs: _ClientHs, suite: SuiteParams) -> None:
        cfg, dbg = self._ccfg, self._dbg.threshold >= 2
        if self.early_data_accepted:
            self._set_state(S.END_OF_EARLY_DATA)
            hs.transcript.add(self._queue_handshake(HT.END_OF_EARLY_DATA, b""))
        if cfg.middlebox_compat and not hs.sent_ccs:
            self._set_state(S.CLIENT_CCS_AFTER_SERVER_FINISHED)
            self._send_ccs()
            hs.sent_ccs = True
        self._set_write_key(hs.c_hs)
        if hs.cert_request is not None:
            self._set_state(S.CLIENT_CERTIFICATE)
            self._write_client_certificate(hs)
        self._set_state(S.CLIENT_FINISHED)
        if dbg:
            self._dbg.msg(2, "=> write finished")
        verify_data = finished_verify_data(suite.hash_name, hs.c_hs, hs.transcript.digest())
        hs.transcript.add(self._queue_handshake(HT.FINISHED, verify_data))
        if dbg:
            self._dbg.msg(2, "<= write finished")
        assert hs.schedule is not None
        self._res_master = hs.schedule.derive(b"res master", hs.transcript.digest())
        self._set_state(S.FLUSH_BUFFERS)
        self._set_write_key(self._app_write_secret)
        self._set_state(S.HANDSHAKE_WRAPUP)

    def _write_client_certificate(self, hs: _ClientHs) -> None:
        cfg = self._ccfg
        cr = hs.cert_request
        assert cr is not None
        if self._dbg.threshold >= 2:
            self._dbg.msg(2, "=> write certificate")
        ck = cfg.certificate
        scheme = None
        if ck is not None:
            raw = cr.ext(ET.signature_algorithms)
            offered = X.decode_u16_list(raw, "signature_algorithms") if raw else []
            scheme = choose_scheme(ck.key, offered, cfg.signature_schemes, tls13=True)
        entries = tuple(CertificateEntry(d) for d in ck.chain_der) if ck is not None and scheme is not None else ()
        msg = self._queue_handshake(HT.CERTIFICATE, Certificate(cr.certificate_request_context, entries).encode())
        hs.transcript.add(msg)
        if ck is not None and scheme is not None:
            self._set_state(S.CLIENT_CERTIFICATE_VERIFY)
            data = tls13_certificate_verify_input(hs.transcript.digest(), server=False)
            sig = cfg.signer(scheme, data) if cfg.signer is not None else sign(ck.key, scheme, data)
            hs.transcript.add(self._queue_handshake(HT.CERTIFICATE_VERIFY, CertificateVerify(scheme, sig).encode()))
        if self._dbg.threshold >= 2:
            self._dbg.msg(2, "<= write certificate")

    def _parse_new_session_ticket(self, body: bytes, whole: bytes) -> HsState:
        suite = self._suite
        assert suite is not None and self.cipher_suite is not None
        nst = NewSessionTicket.decode(body)
        if nst.ticket_lifetime > 604800:
            raise TlsError(Reason.ILLEGAL_PARAMETER, "ticket_lifetime over 7 days")
        if nst.ticket_lifetime == 0:
            return S.HANDSHAKE_OVER
        raw_early = nst.ext(ET.early_data)
        psk = hkdf_expand_label(suite.hash_name, self._res_master, b"resumption", nst.ticket_nonce, suite.hash_len)
        session = Session(
            version=ProtocolVersion.TLS1_3,
            cipher_suite=self.cipher_suite,
            server_name=self.server_name or "",
            secret=psk,
            ticket=nst.ticket,
            ticket_age_add=nst.ticket_age_add,
            lifetime=nst.ticket_lifetime,
            received_at=self._ccfg.now(),
            max_early_data=X.decode_max_early_data(raw_early) if raw_early is not None else 0,
            alpn_protocol=self.alpn_protocol or "",
            peer_check=self._offer.peer_check if self.resumed and self._offer is not None else self._peer_check,
        )
        self.session = session
        self._events.append(SessionTicketReceived(session))
        return S.HANDSHAKE_OVER


# RFC 8446 4.2.7: obsolete_RESERVED groups, never offered in a TLS 1.3-only hello.
_OBSOLETE_GROUPS = frozenset((*range(0x0001, 0x0017), 0x001A, 0x001B, 0x001C, 0xFF01, 0xFF02))


def _device_hello_config(config: ClientConfig, pinned_version: int | None) -> ClientConfig:
    """``config`` as a device stack writes its hello (:mod:`.device`): a resumed session's (or a
    renegotiated connection's) version alone, the groups and signature algorithms that version's
    hello may list."""
    dev = config.device
    assert dev is not None
    versions, groups, schemes = config.versions, config.groups, config.signature_schemes
    if pinned_version is not None and dev.resume_pins_version:
        versions = (pinned_version,)
    if ProtocolVersion.TLS1_2 not in versions:
        groups = tuple(g for g in groups if g not in _OBSOLETE_GROUPS) or groups  # none left: the server decides
    elif ProtocolVersion.TLS1_3 not in versions:
        types = dev.tls12_signature_types
        schemes = tuple(s for s in schemes if 1 <= s >> 8 <= 6 and s & 0xFF in types)
    if (versions, groups, schemes) == (config.versions, config.groups, config.signature_schemes):
        return config
    return replace(config, versions=versions, groups=groups, signature_schemes=schemes)


def _is_ip(name: str) -> bool:
    name = name.strip("[]")
    if ":" not in name and not name.replace(".", "").isdigit():
        return False  # neither IPv6 nor dotted-decimal IPv4: skip ipaddress's two failing parses
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
