"""The TLS 1.3 server (RFC 8446): ClientHello processing, HelloRetryRequest
(with an optional cookie), stateless ticket resumption, 0-RTT with
anti-replay, optional client certificates, NewSessionTicket.

Flights (mbedTLS state names)::

    CLIENT_HELLO          <== ClientHello          (==> HelloRetryRequest, back to CLIENT_HELLO)
    SERVER_HELLO          ==> ServerHello EncryptedExtensions (CertificateRequest)
                              (Certificate CertificateVerify) Finished
    END_OF_EARLY_DATA     <== (0-RTT data) EndOfEarlyData
    CLIENT_CERTIFICATE    <== (Certificate CertificateVerify)
    CLIENT_FINISHED       <== Finished             ==> NewSessionTicket x N
    HANDSHAKE_OVER

When 0-RTT data was accepted the tickets go out right after our Finished
instead (``ServerConfig.early_tickets``, RFC 8446 4.6.1): the answer to the
early request leaves as 0.5-RTT data before the client's Finished, and a
client that stops reading once it has that answer must still get a fresh
ticket. No client certificate is requested on a resumed handshake, so the
rest of the transcript (EndOfEarlyData, the client's Finished) is known and
the resumption secret is derived from the Finished we expect. Otherwise the
tickets follow the client's Finished, where every client expects them.

The raw first ClientHello is kept in :attr:`ServerConnection.client_hello_raw`
for servers that rate it (the howsmyssl check).
"""

from __future__ import annotations

import hmac
from typing import NamedTuple

from . import extensions as X
from .config import CertifiedKey, ServerConfig
from .enums import NOT_FOR_TLS13, ProtocolVersion, PskKeyExchangeMode
from .enums import ExtensionType as ET
from .enums import HandshakeType as HT
from .errors import Reason, TlsError
from .events import EarlyDataReceived
from .keyschedule import KeySchedule, finished_verify_data, hkdf_expand_label, new_hash
from .kx import SUPPORTED_GROUPS, server_exchange
from .messages import (
    HRR_RANDOM,
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    Extension,
    encode_certificate_verify,
    encode_encrypted_extensions,
    encode_new_session_ticket,
    encode_server_hello,
    handshake_message,
)
from .server12 import Tls12Server
from .session import TicketState, encode_ticket_state
from .signatures import choose_scheme, sign, tls13_certificate_verify_input, verify
from .states import EXPECTED_SERVER, HsState
from .suites import SUITES, SuiteParams
from .transcript import Transcript

__all__ = ["ServerConnection"]

S = HsState
# Members read on every handshake, kept in module globals (see enums.py on an Enum class's attributes).
_TLS13 = ProtocolVersion.TLS1_3
_PSK_DHE_KE, _PSK_KE = PskKeyExchangeMode.psk_dhe_ke, PskKeyExchangeMode.psk_ke
_X_SUPPORTED_VERSIONS = ET.supported_versions
_X_SERVER_NAME = ET.server_name
_X_SUPPORTED_GROUPS = ET.supported_groups
_X_KEY_SHARE = ET.key_share
_X_PSK_MODES = ET.psk_key_exchange_modes
_X_SIGNATURE_ALGORITHMS = ET.signature_algorithms
_X_EARLY_DATA = ET.early_data
_X_PRE_SHARED_KEY = ET.pre_shared_key
_X_ALPN = ET.application_layer_protocol_negotiation
_M_SERVER_HELLO = HT.SERVER_HELLO
_M_ENCRYPTED_EXTENSIONS = HT.ENCRYPTED_EXTENSIONS
_M_CERTIFICATE = HT.CERTIFICATE
_M_CERTIFICATE_VERIFY = HT.CERTIFICATE_VERIFY
_M_FINISHED = HT.FINISHED
_M_NEW_SESSION_TICKET = HT.NEW_SESSION_TICKET
_S_CLIENT_HELLO = S.CLIENT_HELLO
_S_SERVER_HELLO = S.SERVER_HELLO
_S_CCS_AFTER_SERVER_HELLO = S.SERVER_CCS_AFTER_SERVER_HELLO
_S_ENCRYPTED_EXTENSIONS = S.ENCRYPTED_EXTENSIONS
_S_SERVER_CERTIFICATE = S.SERVER_CERTIFICATE
_S_CERTIFICATE_VERIFY = S.CERTIFICATE_VERIFY
_S_SERVER_FINISHED = S.SERVER_FINISHED
_S_CLIENT_FINISHED = S.CLIENT_FINISHED
_S_END_OF_EARLY_DATA = S.END_OF_EARLY_DATA  # (compared on every application data record)
_S_HANDSHAKE_OVER = S.HANDSHAKE_OVER
_SELECTED_TLS13 = Extension(ET.supported_versions, _TLS13.to_bytes(2, "big"))  # ServerHello's, HRR's
_MAX_TICKET_AGE_SKEW_MS = 10_000
_SKIP_EARLY_DEFAULT = 16384 + 256 * 8
_HALF_RTT_STATES = frozenset(
    {S.END_OF_EARLY_DATA, S.CLIENT_CERTIFICATE, S.CLIENT_CERTIFICATE_VERIFY, S.CLIENT_FINISHED}
)


class _ServerHs:
    """One TLS 1.3 handshake's state on the server (the ClientHello's too, before the version is
    chosen), dropped (with its secrets) when it ends. A plain class, not a Struct: mutable, never
    compared, made on every connection (~4k instructions against a Struct's ~13k)."""

    __slots__ = (
        "transcript", "ch1", "hrr_sent", "cookie", "schedule", "c_hs", "c_early", "early_received",
        "cert_requested", "client_cert_pub", "ticket_modes", "tickets_done",
    )  # fmt: skip

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript
        self.ch1: ClientHello | None = None
        self.hrr_sent = False
        self.cookie = b""
        self.schedule: KeySchedule | None = None
        self.c_hs = b""
        self.c_early = b""
        self.early_received = 0
        self.cert_requested = False
        self.client_cert_pub: object = None
        self.ticket_modes: tuple[int, ...] = ()
        self.tickets_done = False


class _Psk(NamedTuple):
    """The offered ticket the server resumes (a plain tuple: made on every resumption, never compared)."""

    state: TicketState
    selected: int  # its position in the offer (the ServerHello's selected_identity)
    age_ok: bool
    schedule: KeySchedule  # at the ticket's Early Secret (the binder's): the handshake goes on from it


class ServerConnection(Tls12Server):
    """A TLS server connection on :class:`ServerConfig`."""

    is_client = False
    _expected_initial = EXPECTED_SERVER

    def __init__(self, config: ServerConfig) -> None:
        super().__init__(config)
        self._scfg = config
        self._hs: _ServerHs | None = _ServerHs(Transcript())
        self.state = _S_CLIENT_HELLO
        self.client_hello_raw = b""
        self.client_hello: ClientHello | None = None
        self.tickets_sent = 0

    # ------------------------------------------------------------ ClientHello

    def _parse_client_hello(self, body: bytes, whole: bytes) -> HsState:
        hs, cfg = self._hs, self._scfg
        assert hs is not None
        ch = ClientHello.decode(body)
        if hs.ch1 is None:
            self.client_hello_raw = whole
            self.client_hello = ch
            self.client_random = ch.random
        else:
            self._check_second_hello(hs.ch1, ch)
        if ch.legacy_version <= 0x0300:  # RFC 8446 D.5: SSL 3.0 or older, even with supported_versions
            raise TlsError(Reason.NO_COMMON_VERSION, f"ClientHello.legacy_version 0x{ch.legacy_version:04x}")
        raw_sv = ch.ext(_X_SUPPORTED_VERSIONS)
        versions = X.decode_supported_versions(raw_sv) if raw_sv is not None else []
        if _TLS13 not in versions or not self._scfg.tls13_capable:
            # RFC 8446 4.2.1: without supported_versions, legacy_version is the client's highest
            # (RFC 5246 E.1: the server takes the highest it has up to that one)
            ours = [v for v in cfg.versions if v < _TLS13]
            if raw_sv is not None:
                usable = [v for v in ours if v in versions]
            else:
                usable = [v for v in ours if v <= ch.legacy_version]
            if usable and hs.ch1 is None:
                return self._parse_client_hello12(ch, whole, max(usable))
            shown = [hex(v) for v in versions] or hex(ch.legacy_version)
            raise TlsError(Reason.NO_COMMON_VERSION, f"client offered {shown}")
        if ch.legacy_compression_methods != b"\x00":
            raise TlsError(Reason.ILLEGAL_PARAMETER, "TLS 1.3 ClientHello with compression")
        raw_sni = ch.ext(_X_SERVER_NAME)
        self.server_name = X.decode_client_server_name(raw_sni) if raw_sni is not None else None

        # key shares and groups (RFC 8446 4.2.8)
        raw_groups = ch.ext(_X_SUPPORTED_GROUPS)
        raw_shares = ch.ext(_X_KEY_SHARE)
        client_groups = X.decode_u16_list(raw_groups, "supported_groups") if raw_groups is not None else []
        shares = X.decode_key_share_client(raw_shares) if raw_shares is not None else []
        share_groups = [g for g, _ in shares]
        if len(set(share_groups)) != len(share_groups):
            raise TlsError(Reason.ILLEGAL_PARAMETER, "two key shares for one group")
        if any(g not in client_groups for g in share_groups):
            raise TlsError(Reason.ILLEGAL_PARAMETER, "key share for a group not in supported_groups")
        if (raw_groups is None) != (raw_shares is None):
            raise TlsError(Reason.MISSING_EXTENSION, "supported_groups and key_share must come together")

        suite = self._choose_suite(ch)
        psk = self._find_psk(ch, whole, suite, hs)
        ticket_suite = psk.state.cipher_suite if psk is not None else None
        if ticket_suite in ch.cipher_suites and ticket_suite in cfg.cipher_suites and not hs.hrr_sent:
            suite = SUITES[ticket_suite]  # resume with the ticket's own suite
        raw_modes = ch.ext(_X_PSK_MODES)
        modes = X.decode_psk_modes(raw_modes) if raw_modes is not None else []
        hs.ticket_modes = tuple(m for m in modes if m in cfg.psk_modes)
        if raw_modes is None:  # no restriction advertised (RFC 8446 4.2.9): tickets as OpenSSL sends them
            hs.ticket_modes = cfg.psk_modes

        group = next((g for g in cfg.groups if g in share_groups and g in SUPPORTED_GROUPS), None)
        use_dhe = True
        if psk is not None and _PSK_DHE_KE not in hs.ticket_modes:
            use_dhe = False
        if use_dhe and group is None:
            common = next((g for g in cfg.groups if g in client_groups and g in SUPPORTED_GROUPS), None)
            if common is not None and hs.ch1 is None:
                return self._write_hello_retry_request(ch, whole, suite, common, hs)
            if psk is not None and _PSK_KE in hs.ticket_modes:
                use_dhe = False
            elif common is not None:
                raise TlsError(Reason.ILLEGAL_PARAMETER, "second ClientHello still has no usable key share")
            else:
                raise TlsError(Reason.NO_COMMON_GROUP, f"client groups {[hex(g) for g in client_groups]}")
        if hs.hrr_sent and cfg.hrr_cookie:
            raw_cookie = ch.ext(ET.cookie)
            if raw_cookie is None or not hmac.compare_digest(X.decode_cookie(raw_cookie), hs.cookie):
                raise TlsError(Reason.ILLEGAL_PARAMETER, "HelloRetryRequest cookie missing or wrong")

        cert: CertifiedKey | None = None
        scheme = None
        if psk is None:
            raw_sig = ch.ext(_X_SIGNATURE_ALGORITHMS)
            if raw_sig is None:
                raise TlsError(Reason.MISSING_EXTENSION, "ClientHello without signature_algorithms")
            offered = X.decode_u16_list(raw_sig, "signature_algorithms")
            for ck in cfg.certificates:
                scheme = choose_scheme(ck.key, offered, cfg.signature_schemes, tls13=True)
                if scheme is not None:
                    cert = ck
                    break
            if cert is None or scheme is None:
                raise TlsError(Reason.NO_COMMON_SIGNATURE, f"client schemes {[hex(s) for s in offered]}")
        self._choose_alpn(ch)

        # ---- the server's flight
        self.negotiated_version = _TLS13
        self.cipher_suite = suite.id
        self._suite = suite
        if not hs.hrr_sent:
            hs.transcript.set_hash(suite.hash_name)
        hs.transcript.add(whole)
        if psk is None:
            ks = KeySchedule(suite.hash_name)
        elif psk.schedule.hash_name == suite.hash_name:
            ks = psk.schedule
        else:
            ks = KeySchedule(suite.hash_name, psk.state.secret)
        hs.schedule = ks
        self.resumed = psk is not None
        early = self._accept_early_data(ch, psk, suite, hs)
        if early:
            hs.c_early = ks.derive(b"c e traffic", hs.transcript.digest())
            self._keylog("CLIENT_EARLY_TRAFFIC_SECRET", hs.c_early)
        elif ch.ext(_X_EARLY_DATA) is not None:
            self._skip_budget = max(cfg.max_early_data, _SKIP_EARLY_DEFAULT)
        else:
            self._skip_budget = 0  # RFC 8446 4.2.10: after a HelloRetryRequest skipping ends here

        self._set_state(_S_SERVER_HELLO)
        shared: bytes | None = None
        sh_exts = [_SELECTED_TLS13]
        if use_dhe:
            assert group is not None
            client_kx = dict(shares)[group]
            server_kx, shared = server_exchange(group, client_kx, cfg.random)
            self.group = group
            sh_exts.append(Extension(_X_KEY_SHARE, X.encode_key_share_entry(group, server_kx)))
        if psk is not None:
            sh_exts.append(Extension(_X_PRE_SHARED_KEY, psk.selected.to_bytes(2, "big")))
        if cfg.extensions_hook is not None:
            sh_exts = cfg.extensions_hook(_M_SERVER_HELLO, sh_exts)
        sh = encode_server_hello(0x0303, cfg.random(32), ch.legacy_session_id, suite.id, 0, sh_exts)
        self._log_write("server hello")
        hs.transcript.add(self._queue_handshake(_M_SERVER_HELLO, sh))
        if ch.legacy_session_id and not hs.hrr_sent:
            self._set_state(_S_CCS_AFTER_SERVER_HELLO)
            self._send_ccs()
        ks.handshake_stage(shared)
        th = hs.transcript.digest()
        hs.c_hs = ks.derive(b"c hs traffic", th)
        s_hs = ks.derive(b"s hs traffic", th)
        keylogging = self._keylogging()  # (asked once: no call per secret when nothing logs them)
        if keylogging:
            self._keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", hs.c_hs)
            self._keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", s_hs)
        self._set_write_key(s_hs)

        self._set_state(_S_ENCRYPTED_EXTENSIONS)
        self._log_write("encrypted extensions")
        ee: list[Extension] = []
        if self.server_name is not None and not self.resumed:
            ee.append(Extension(_X_SERVER_NAME, b""))
        if self.alpn_protocol is not None:
            ee.append(Extension(_X_ALPN, X.encode_alpn([self.alpn_protocol])))
        if early:
            ee.append(Extension(_X_EARLY_DATA, b""))
        ours = [g for g in cfg.groups if g in SUPPORTED_GROUPS]
        if self.group is not None and ours and self.group != ours[0]:
            # RFC 8446 4.2.7: tell the client our preference when it chose another group (as OpenSSL)
            ee.append(Extension(ET.supported_groups, X.encode_u16_list(ours)))
        if cfg.extensions_hook is not None:
            ee = cfg.extensions_hook(_M_ENCRYPTED_EXTENSIONS, ee)
        hs.transcript.add(self._queue_handshake(_M_ENCRYPTED_EXTENSIONS, encode_encrypted_extensions(ee)))
        if cert is not None and scheme is not None:
            if cfg.request_client_certificate or cfg.require_client_certificate:
                self._set_state(S.CERTIFICATE_REQUEST)
                self._log_write("certificate request")
                sig_ext = Extension(ET.signature_algorithms, X.encode_u16_list(cfg.signature_schemes))
                cr = CertificateRequest(b"", (sig_ext,))
                hs.transcript.add(self._queue_handshake(HT.CERTIFICATE_REQUEST, cr.encode()))
                hs.cert_requested = True
            self._set_state(_S_SERVER_CERTIFICATE)
            self._log_write("certificate")
            hs.transcript.add(self._queue_handshake(_M_CERTIFICATE, cert.certificate13))
            self._set_state(_S_CERTIFICATE_VERIFY)
            self._log_write("certificate verify")
            data = tls13_certificate_verify_input(hs.transcript.digest(), server=True)
            sig = cfg.signer(scheme, data) if cfg.signer is not None else sign(cert.key, scheme, data)
            hs.transcript.add(self._queue_handshake(_M_CERTIFICATE_VERIFY, encode_certificate_verify(scheme, sig)))
        self._set_state(_S_SERVER_FINISHED)
        self._log_write("finished")
        verify_data = finished_verify_data(suite.hash_name, s_hs, hs.transcript.digest())
        hs.transcript.add(self._queue_handshake(_M_FINISHED, verify_data))
        ks.master_stage()
        th = hs.transcript.digest()
        c_ap = ks.derive(b"c ap traffic", th)
        s_ap = ks.derive(b"s ap traffic", th)
        if keylogging:
            self._keylog("CLIENT_TRAFFIC_SECRET_0", c_ap)
            self._keylog("SERVER_TRAFFIC_SECRET_0", s_ap)
            self._keylog("EXPORTER_SECRET", ks.derive(b"exp master", th))  # (no exporter API: only logged)
        self._app_read_secret, self._app_write_secret = c_ap, s_ap
        self._set_write_key(s_ap)
        if early and cfg.early_tickets and not hs.cert_requested and self._tickets_wanted(hs):
            # RFC 8446 4.6.1: the client's Finished (after EndOfEarlyData) is known in advance
            eoed = handshake_message(HT.END_OF_EARLY_DATA, b"")
            client_verify = finished_verify_data(suite.hash_name, hs.c_hs, hs.transcript.digest_with(eoed))
            rest = eoed + handshake_message(HT.FINISHED, client_verify)
            self._write_new_session_tickets(ks.derive(b"res master", hs.transcript.digest_with(rest)), suite)
            hs.tickets_done = True
        if early:
            self.early_data_accepted = True
            self._set_read_key(hs.c_early)
            return S.END_OF_EARLY_DATA
        self._set_read_key(hs.c_hs)
        return S.CLIENT_CERTIFICATE if hs.cert_requested else _S_CLIENT_FINISHED

    def _check_second_hello(self, ch1: ClientHello, ch2: ClientHello) -> None:
        """RFC 8446 4.1.2: the second ClientHello repeats the first, except for
        key_share, early_data (removed), cookie, pre_shared_key and padding."""
        if ch2.random != ch1.random or ch2.legacy_session_id != ch1.legacy_session_id:
            raise TlsError(Reason.ILLEGAL_PARAMETER, "second ClientHello changed random or session id")
        if ch2.cipher_suites != ch1.cipher_suites:
            raise TlsError(Reason.ILLEGAL_PARAMETER, "second ClientHello changed the cipher suites")
        if ch2.ext(ET.early_data) is not None:
            raise TlsError(Reason.ILLEGAL_PARAMETER, "early_data after HelloRetryRequest")
        skip = {ET.key_share, ET.early_data, ET.cookie, ET.pre_shared_key, ET.padding}
        a = [e for e in ch1.extensions if e.type not in skip]
        b = [e for e in ch2.extensions if e.type not in skip]
        if a != b:
            raise TlsError(Reason.ILLEGAL_PARAMETER, "second ClientHello changed its extensions")

    def _choose_suite(self, ch: ClientHello) -> SuiteParams:
        for s in self._scfg.cipher_suites:
            p = SUITES.get(s)
            if p is not None and p.tls13 and s in ch.cipher_suites:
                return p
        raise TlsError(Reason.NO_COMMON_SUITE, f"client suites {[hex(s) for s in ch.cipher_suites]}")

    def _write_hello_retry_request(
        self, ch: ClientHello, whole: bytes, suite: SuiteParams, group: int, hs: _ServerHs
    ) -> HsState:
        cfg = self._scfg
        self._set_state(S.HELLO_RETRY_REQUEST)
        self._log_write("hello retry request")
        hs.ch1 = ch
        hs.hrr_sent = True
        hs.transcript.set_hash(suite.hash_name)
        hs.transcript.add(whole)
        hs.transcript.restart_for_hrr()
        exts = [
            _SELECTED_TLS13,
            Extension(ET.key_share, group.to_bytes(2, "big")),
        ]
        if cfg.hrr_cookie:
            hs.cookie = cfg.random(32)
            exts.append(Extension(ET.cookie, X.encode_cookie(hs.cookie)))
        if cfg.extensions_hook is not None:
            exts = cfg.extensions_hook(HT.SERVER_HELLO, exts)
        hrr = encode_server_hello(0x0303, HRR_RANDOM, ch.legacy_session_id, suite.id, 0, exts)
        hs.transcript.add(self._queue_handshake(HT.SERVER_HELLO, hrr))
        self._suite = suite
        self.cipher_suite = suite.id
        if ch.legacy_session_id:
            self._set_state(S.SERVER_CCS_AFTER_HELLO_RETRY_REQUEST)
            self._send_ccs()
        if ch.ext(ET.early_data) is not None:
            self._skip_budget = max(cfg.max_early_data, _SKIP_EARLY_DEFAULT)
        return S.CLIENT_HELLO

    def _ccs_ok_before_hello(self) -> bool:
        return self._hs is not None and self._hs.hrr_sent

    # ---------------------------------------------------------- resumption

    def _find_psk(self, ch: ClientHello, whole: bytes, suite: SuiteParams, hs: _ServerHs) -> _Psk | None:
        cfg = self._scfg
        raw = ch.ext(_X_PRE_SHARED_KEY)
        if raw is None:
            return None
        if ch.ext(_X_PSK_MODES) is None:
            raise TlsError(Reason.MISSING_EXTENSION, "pre_shared_key without psk_key_exchange_modes")
        offered = X.decode_offered_psks(raw)
        if cfg.ticket_keys is None:
            return None
        now = cfg.now()
        for index, ident in enumerate(offered.identities):
            opened = cfg.ticket_keys.open(ident.identity, now)
            if opened is None:
                continue
            state = TicketState.decode(opened[0])
            if state is None or state.version != _TLS13 or state.cipher_suite not in SUITES:
                continue
            if SUITES[state.cipher_suite].hash_name != suite.hash_name and state.cipher_suite not in ch.cipher_suites:
                continue
            ticket_hash = SUITES[state.cipher_suite].hash_name
            if hs.hrr_sent and ticket_hash != hs.transcript.hash_name:
                continue
            if now >= state.issued_at + state.lifetime or now < state.issued_at - 60:
                continue
            if (state.server_name or None) != (self.server_name or None):
                continue
            # binder over the truncated ClientHello (RFC 8446 4.2.11.2)
            truncated = whole[: len(whole) - X.binders_length(offered.binders)]
            th = hs.transcript.digest_with(truncated) if hs.hrr_sent else new_hash(ticket_hash, truncated).digest()
            schedule = KeySchedule(ticket_hash, state.secret)
            if not hmac.compare_digest(
                finished_verify_data(ticket_hash, schedule.binder_key(), th), offered.binders[index]
            ):
                raise TlsError(Reason.BAD_BINDER, f"binder of PSK identity {index}")
            age = (ident.obfuscated_ticket_age - state.ticket_age_add) & 0xFFFFFFFF
            actual = int((now - state.issued_at) * 1000)
            return _Psk(state, index, abs(actual - age) <= _MAX_TICKET_AGE_SKEW_MS, schedule)
        return None

    def _accept_early_data(self, ch: ClientHello, psk: _Psk | None, suite: SuiteParams, hs: _ServerHs) -> bool:
        cfg = self._scfg
        if ch.ext(_X_EARLY_DATA) is None or psk is None or hs.hrr_sent:
            return False
        st = psk.state
        ok = (
            cfg.max_early_data > 0
            and st.max_early_data > 0
            and psk.selected == 0
            and psk.age_ok
            and st.cipher_suite == suite.id
            and st.alpn_protocol == (self.alpn_protocol or "")
        )
        if ok and not cfg.anti_replay.claim(st.ticket_id, st.issued_at + st.lifetime, cfg.now()):
            if self._dbg.threshold >= 2:
                self._dbg.msg(2, "early data refused: ticket already used for 0-RTT")
            ok = False
        if self._dbg.threshold >= 2:
            self._dbg.msg(2, f"early data {'accepted' if ok else 'rejected'}")
        return ok

    # ------------------------------------------------------------ client flight

    def _half_rtt_ok(self) -> bool:
        """TLS 1.3 server after its Finished: application keys are installed
        and RFC 8446 allows sending before the client's Finished ("0.5-RTT")."""
        return self._scfg.send_half_rtt_data and self.negotiated_version == _TLS13 and self.state in _HALF_RTT_STATES

    def _try_early_data(self, data: bytes) -> bool:
        if not self._half_rtt_ok():
            return False
        self._seal_app(data)
        return True

    def _defer_close(self) -> bool:
        return self._half_rtt_ok()

    def _handle_application_data(self, data: bytes) -> None:
        hs = self._hs
        if self.state == _S_END_OF_EARLY_DATA and hs is not None:
            hs.early_received += len(data)
            if hs.early_received > self._scfg.max_early_data:
                raise TlsError(Reason.EARLY_DATA_TOO_LARGE, f"{hs.early_received} bytes of early data")
            if data:
                self._events.append(EarlyDataReceived(data))
            else:
                self._empty_record("empty early data")
            return
        super()._handle_application_data(data)

    def _parse_end_of_early_data(self, body: bytes, whole: bytes) -> HsState:
        hs = self._hs
        assert hs is not None
        if body:
            raise TlsError(Reason.DECODE, "EndOfEarlyData with a body")
        hs.transcript.add(whole)
        self._set_read_key(hs.c_hs)
        return S.CLIENT_CERTIFICATE if hs.cert_requested else S.CLIENT_FINISHED

    def _parse_client_certificate(self, body: bytes, whole: bytes) -> HsState:
        hs, cfg = self._hs, self._scfg
        assert hs is not None
        cert = Certificate.decode(body)
        if cert.certificate_request_context:
            raise TlsError(Reason.ILLEGAL_PARAMETER, "unexpected certificate_request_context")
        hs.transcript.add(whole)
        if not cert.certificate_list:
            if cfg.require_client_certificate:
                raise TlsError(Reason.CERT_REQUIRED, "client sent no certificate")
            return S.CLIENT_FINISHED
        hs.client_cert_pub = self._accept_client_chain(tuple(e.cert_data for e in cert.certificate_list))
        return S.CLIENT_CERTIFICATE_VERIFY

    def _parse_client_certificate_verify(self, body: bytes, whole: bytes) -> HsState:
        hs, cfg = self._hs, self._scfg
        assert hs is not None
        cv = CertificateVerify.decode(body)
        if cv.algorithm not in cfg.signature_schemes or cv.algorithm in NOT_FOR_TLS13:
            raise TlsError(Reason.ILLEGAL_PARAMETER, f"CertificateVerify with scheme 0x{cv.algorithm:04x}")
        data = tls13_certificate_verify_input(hs.transcript.digest(), server=False)
        verify(hs.client_cert_pub, cv.algorithm, data, cv.signature)  # type: ignore[arg-type]
        hs.transcript.add(whole)
        return S.CLIENT_FINISHED

    def _parse_client_finished(self, body: bytes, whole: bytes) -> HsState:
        hs, suite = self._hs, self._suite
        assert hs is not None and suite is not None and hs.schedule is not None
        # the body is verify_data alone (Finished.decode's whole rule, non-empty, is in the length check)
        expected = finished_verify_data(suite.hash_name, hs.c_hs, hs.transcript.digest())
        if len(body) != len(expected):  # RFC 8446 4.4.4 / 5246 7.4.9: a malformed message
            raise TlsError(Reason.DECODE, f"client Finished of {len(body)} bytes")
        if not hmac.compare_digest(expected, body):
            raise TlsError(Reason.BAD_FINISHED, "client Finished")
        hs.transcript.add(whole)
        self._set_read_key(self._app_read_secret)
        # tickets first: buffered application data and a deferred close_notify follow them
        if not hs.tickets_done and self._tickets_wanted(hs):
            self._write_new_session_tickets(hs.schedule.derive(b"res master", hs.transcript.digest()), suite)
        hs.schedule.secret = b""
        self._hs = None
        self._complete_handshake()
        return _S_HANDSHAKE_OVER

    def _tickets_wanted(self, hs: _ServerHs) -> bool:
        return self._scfg.ticket_keys is not None and bool(hs.ticket_modes) and self._scfg.num_tickets > 0

    def _write_new_session_tickets(self, res_master: bytes, suite: SuiteParams) -> None:
        cfg = self._scfg
        assert cfg.ticket_keys is not None and self.cipher_suite is not None
        now = cfg.now()
        count = min(cfg.num_tickets, 1) if self.resumed else cfg.num_tickets  # (OpenSSL's numbers)
        alpn, name = self.alpn_protocol or "", self.server_name or ""
        exts: tuple[Extension, ...] = ()
        if cfg.max_early_data:
            exts = (Extension(_X_EARLY_DATA, X.encode_max_early_data(cfg.max_early_data)),)
        for i in range(count):
            self._log_write("new session ticket")
            nonce = i.to_bytes(8, "big")
            psk = hkdf_expand_label(suite.hash_name, res_master, b"resumption", nonce, suite.hash_len)
            age_add = int.from_bytes(cfg.random(4), "big")
            state = encode_ticket_state(  # (a TicketState's fields: no Struct made only to be encoded)
                _TLS13, self.cipher_suite, psk, now, age_add, cfg.ticket_lifetime, cfg.max_early_data, alpn, name,
                cfg.random(16),  # ticket_id
            )  # fmt: skip
            ticket = cfg.ticket_keys.seal(state, now)
            nst = encode_new_session_ticket(cfg.ticket_lifetime, age_add, nonce, ticket, exts)
            self._queue_handshake(_M_NEW_SESSION_TICKET, nst)
            self.tickets_sent += 1
        self._flush_handshake()
