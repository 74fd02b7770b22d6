"""The TLS 1.2 server (and TLS 1.0/1.1 when configured): ECDHE, static RSA key
exchange when its suites are configured (the premaster decrypted with RFC 5246
7.4.7.1's countermeasure: any failure becomes a random premaster, no error of
its own), extended master secret required by default, RFC 5077 tickets under
the same rotating keys as TLS 1.3, a bounded session-ID cache, secure
renegotiation indication and renegotiation refused, the RFC 8446 4.1.3
downgrade sentinels.

TLS 1.0 and 1.1 differ from 1.2 in the PRF and handshake hash
(:mod:`.keyschedule12`), the ServerKeyExchange signature
(:func:`.signatures.sign_legacy`), the record version and CBC's IV
(:mod:`.protection12`), and which suites fit (:func:`.suites.suite_fits_version`).

Flights (mbedTLS state names)::

    CLIENT_HELLO               <== ClientHello (TLS 1.2 chosen)
    SERVER_HELLO               ==> ServerHello Certificate ServerKeyExchange
                                   (CertificateRequest) ServerHelloDone
    CLIENT_CERTIFICATE         <== (Certificate)
    CLIENT_KEY_EXCHANGE        <== ClientKeyExchange
    CERTIFICATE_VERIFY         <== (CertificateVerify)
    CLIENT_CHANGE_CIPHER_SPEC  <== ChangeCipherSpec
    CLIENT_FINISHED            <== Finished   ==> (NewSessionTicket) CCS Finished
    HANDSHAKE_OVER             (a new ClientHello: refused with a no_renegotiation warning)

Abbreviated: ServerHello (NewSessionTicket) CCS Finished, then the client's
CCS and Finished.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..wire import Reader
from . import extensions as X
from .config import CertifiedKey, ServerConfig
from .connection import Connection
from .enums import AlertDescription, AlertLevel, ProtocolVersion
from .enums import ExtensionType as ET
from .enums import HandshakeType as HT
from .errors import Reason, TlsError
from .keyschedule12 import HandshakeHash, Prf, master_secret, prf_name
from .kx import TLS12_GROUPS, ClientShare
from .limits import MAX_CIPHERTEXT12
from .messages import ClientHello, Extension, encode_server_hello
from .messages12 import (
    Certificate12,
    CertificateRequest12,
    DigitallySigned,
    encode_digitally_signed,
    encode_legacy_signature,
    encode_new_session_ticket12,
    encode_server_ecdh_params,
)
from .protection12 import Protector12
from .session import TicketState, encode_ticket_state
from .signatures import choose_scheme, key_kind, leaf_public_key, sign, sign_legacy, verify
from .states import EXPECTED_SERVER12, HsState
from .suites import SUITES, SuiteParams, suite_fits_version

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

__all__ = ["DOWNGRADE_TLS11", "DOWNGRADE_TLS12", "Tls12Server"]

S = HsState
DOWNGRADE_TLS12 = b"DOWNGRD\x01"  # RFC 8446 4.1.3
DOWNGRADE_TLS11 = b"DOWNGRD\x00"
_BEAST_PROBES = (0x002F, 0x0035)  # TLS_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_AES_256_CBC_SHA
_FALLBACK_SCSV = 0x5600
_RENEGOTIATION_SCSV = 0x00FF

# Enum members read on every handshake, as module globals (tls/enums.py: an Enum class's attribute costs
# ~1,000 instructions on CPython 3.11, a global ~70; a full handshake read some forty).
_TLS1_0, _TLS1_2, _TLS1_3 = ProtocolVersion.TLS1_0, ProtocolVersion.TLS1_2, ProtocolVersion.TLS1_3
_ET_SERVER_NAME = ET.server_name
_ET_ALPN = ET.application_layer_protocol_negotiation
_ET_RENEGOTIATION_INFO = ET.renegotiation_info
_ET_EMS = ET.extended_master_secret
_ET_SESSION_TICKET = ET.session_ticket
_ET_ETM = ET.encrypt_then_mac
_ET_EC_POINT_FORMATS = ET.ec_point_formats
_ET_SIGNATURE_ALGORITHMS = ET.signature_algorithms
_ET_SUPPORTED_GROUPS = ET.supported_groups
_HT_SERVER_HELLO = HT.SERVER_HELLO
_HT_CERTIFICATE = HT.CERTIFICATE
_HT_SERVER_KEY_EXCHANGE = HT.SERVER_KEY_EXCHANGE
_HT_SERVER_HELLO_DONE = HT.SERVER_HELLO_DONE
_HT_NEW_SESSION_TICKET = HT.NEW_SESSION_TICKET
_HT_FINISHED = HT.FINISHED
_SERVER_HELLO = S.SERVER_HELLO
_SERVER_CERTIFICATE = S.SERVER_CERTIFICATE
_SERVER_KEY_EXCHANGE = S.SERVER_KEY_EXCHANGE
_SERVER_HELLO_DONE = S.SERVER_HELLO_DONE
_CLIENT_KEY_EXCHANGE = S.CLIENT_KEY_EXCHANGE
_CLIENT_CHANGE_CIPHER_SPEC = S.CLIENT_CHANGE_CIPHER_SPEC
_CLIENT_FINISHED = S.CLIENT_FINISHED
_SERVER_CHANGE_CIPHER_SPEC = S.SERVER_CHANGE_CIPHER_SPEC
_SERVER_FINISHED = S.SERVER_FINISHED
_NEW_SESSION_TICKET = S.NEW_SESSION_TICKET
_HANDSHAKE_OVER = S.HANDSHAKE_OVER
# The ServerHello's constant extensions, made once (an Extension is an immutable pair)
_RENEGOTIATION_INFO_EMPTY = Extension(_ET_RENEGOTIATION_INFO, b"\x00")  # RFC 5746 3.6, an initial handshake
_SERVER_NAME_ACK = Extension(_ET_SERVER_NAME, b"")
_EMS_ACK = Extension(_ET_EMS, b"")
_SESSION_TICKET_ACK = Extension(_ET_SESSION_TICKET, b"")
_EC_POINT_FORMATS_UNCOMPRESSED = Extension(_ET_EC_POINT_FORMATS, b"\x01\x00")  # RFC 8422 5.2
_ETM_ACK = Extension(_ET_ETM, b"")


class _Server12Hs:
    """One TLS 1.0-1.2 handshake's state on the server, dropped (with its secrets) when it ends.
    A plain class, not a Struct: mutable, never compared, made on every TLS 1.2 connection
    (~4k instructions against a Struct's ~15k for its eighteen fields)."""

    __slots__ = (
        "suite", "messages", "server_random", "ems", "etm", "session_id", "issue_ticket", "resumed", "master",
        "share", "cert_requested", "client_key", "version", "prf", "client_version", "server_key", "running",
        "hashed", "master_prf",
    )  # fmt: skip

    def __init__(
        self, suite: SuiteParams, messages: bytearray, server_random: bytes, ems: bool, etm: bool,
        session_id: bytes, issue_ticket: bool,
    ) -> None:  # fmt: skip
        self.suite = suite
        self.messages = messages
        self.server_random = server_random
        self.ems = ems
        self.etm = etm
        self.session_id = session_id
        self.issue_ticket = issue_ticket
        self.resumed = False
        self.master = b""
        self.share: ClientShare | None = None
        self.cert_requested = False
        self.client_key: object = None
        self.version: int = _TLS1_2
        self.prf = "sha256"  # the PRF / handshake hash (keyschedule12.prf_name)
        self.client_version: int = _TLS1_2  # the ClientHello's, which an RSA premaster repeats
        self.server_key: object = None  # the certificate's private key (static RSA decrypts with it)
        self.running: HandshakeHash | None = None  # Hash(messages[:hashed]), made at the first messages_hash()
        self.hashed = 0
        self.master_prf: Prf | None = None  # the PRF of ``master`` (keyed once: the key block and both Finished)

    def messages_hash(self) -> bytes:
        """Hash(handshake_messages) of :attr:`messages` for the PRF (each message hashed once)."""
        if self.running is None:
            self.running = HandshakeHash(self.prf)
        self.running.update(self.messages[self.hashed :])
        self.hashed = len(self.messages)
        return self.running.digest()


_SUITE_AUTH = {"rsa": "RSA", "ec": "ECDSA", "ed25519": "ECDSA"}  # signatures.key_kind -> SuiteParams.auth


def _key_type(key: object) -> str:
    """The TLS 1.2 suites' ``auth`` a certificate's private key serves ("" for none)."""
    return _SUITE_AUTH.get(key_kind(key), "")


class Tls12Server(Connection):
    """The server's TLS 1.2 half; :class:`~.server13.ServerConnection` adds
    TLS 1.3 and decides, at the ClientHello, which half runs."""

    _scfg: ServerConfig
    _hs: object | None
    tickets_sent: int
    _hs12: _Server12Hs | None = None
    _pending_write12: Protector12 | None = None
    _pending_read12: Protector12 | None = None

    def _log_write(self, what: str) -> None:
        if self._dbg.threshold >= 2:
            self._dbg.msg(2, f"=> write {what}")

    def _choose_alpn(self, ch: ClientHello) -> None:
        raw = ch.ext(_ET_ALPN)
        ours = self._scfg.alpn_protocols
        if raw is None or not ours:
            return
        theirs = X.decode_alpn(raw)
        chosen = next((p for p in ours if p in theirs), None)
        if chosen is None:
            raise TlsError(Reason.NO_COMMON_ALPN, f"client offered {theirs}")
        self.alpn_protocol = chosen

    def _parse_client_hello12(self, ch: ClientHello, whole: bytes, version: int) -> HsState:
        """The ClientHello once ``version`` (TLS 1.2 or below) is chosen."""
        cfg = self._scfg
        self.negotiated_version = version
        self._records.max_length = MAX_CIPHERTEXT12
        if version < _TLS1_2:  # RFC 2246 6.2.1 / 4346: records carry the chosen version
            self._record_version = version.to_bytes(2, "big")
        if _FALLBACK_SCSV in ch.cipher_suites and version < max(cfg.versions):  # RFC 7507 3
            raise TlsError(Reason.INAPPROPRIATE_FALLBACK, f"TLS_FALLBACK_SCSV at 0x{version:04x}: we have better")
        if 0 not in ch.legacy_compression_methods:
            raise TlsError(Reason.ILLEGAL_PARAMETER, "ClientHello without null compression")
        reneg = ch.ext(_ET_RENEGOTIATION_INFO)
        if reneg is not None and reneg != b"\x00":
            raise TlsError(Reason.HANDSHAKE_FAILURE, "non-empty renegotiation_info in an initial handshake")
        secure_reneg = reneg is not None or _RENEGOTIATION_SCSV in ch.cipher_suites
        raw_ems = ch.ext(_ET_EMS)
        if raw_ems:  # RFC 7627 5.1: the extension is empty
            raise TlsError(Reason.DECODE, "extended_master_secret with a body")
        ems = raw_ems is not None
        if cfg.require_extended_master_secret and not ems:
            raise TlsError(Reason.HANDSHAKE_FAILURE, "client does not offer extended_master_secret")
        raw_sni = ch.ext(_ET_SERVER_NAME)
        self.server_name = X.decode_client_server_name(raw_sni) if raw_sni is not None else None
        self._choose_alpn(ch)
        self._expected = EXPECTED_SERVER12

        # howsmyssl's rule: a TLS 1.0 connection always makes a full handshake (its suite choice)
        probing = cfg.beast_probe and version <= _TLS1_0
        resumed = None if probing else self._resume12(ch, ems)
        if resumed is not None:
            state, old_key = resumed
            return self._write_abbreviated12(ch, whole, state, old_key, secure_reneg, ems)
        return self._write_full12(ch, whole, secure_reneg, ems)

    # ------------------------------------------------------------ resumption

    def _resume12(self, ch: ClientHello, ems: bool) -> tuple[TicketState, bool] | None:
        cfg = self._scfg
        now = cfg.now()
        found: tuple[bytes, bool] | None = None
        raw_ticket = ch.ext(_ET_SESSION_TICKET)
        if raw_ticket and cfg.ticket_keys is not None:
            found = cfg.ticket_keys.open(raw_ticket, now)
        elif ch.legacy_session_id and cfg.session_cache is not None:
            blob = cfg.session_cache.get(ch.legacy_session_id)
            found = (blob, False) if blob is not None else None
        if found is None:
            return None
        state = TicketState.decode(found[0])
        if state is None or state.version != self.negotiated_version or now >= state.issued_at + state.lifetime:
            return None
        if state.cipher_suite not in ch.cipher_suites or state.cipher_suite not in cfg.cipher_suites:
            return None
        if (state.server_name or None) != (self.server_name or None):
            return None
        if state.extended_master_secret and not ems:
            raise TlsError(Reason.HANDSHAKE_FAILURE, "resumption without the extended_master_secret the session had")
        if not state.extended_master_secret and ems:
            return None  # RFC 7627 5.3: fall back to a full handshake
        return state, found[1]

    def _write_abbreviated12(
        self, ch: ClientHello, whole: bytes, state: TicketState, old_key: bool, reneg: bool, ems: bool
    ) -> HsState:
        cfg = self._scfg
        suite = SUITES[state.cipher_suite]
        self.cipher_suite, self._suite, self.resumed = suite.id, suite, True
        issue = bool(ch.ext(_ET_SESSION_TICKET)) and cfg.ticket_keys is not None and old_key
        etm = suite.cbc and ch.ext(_ET_ETM) is not None  # as in a full handshake (OpenSSL does too)
        hs12 = _Server12Hs(suite, bytearray(whole), self._server_random12(), ems, etm, ch.legacy_session_id, issue)
        self._set_version12(hs12, ch)
        hs12.resumed = True
        hs12.master = state.secret
        self._keylog("CLIENT_RANDOM", hs12.master)  # NSS key logs list resumed connections too
        self._hs12 = hs12
        self._write_server_hello12(ch, hs12, reneg)
        self._install_keys12(hs12)
        if issue:
            self._write_ticket12(hs12)
        self._write_ccs_finished12(hs12)
        return _CLIENT_CHANGE_CIPHER_SPEC

    # ------------------------------------------------------------ full handshake

    def _accept_client_chain(self, chain: tuple[bytes, ...]) -> CertificatePublicKeyTypes:
        """Both versions' client Certificate: the configured client verifier (raises
        TlsError with verify flags), then the leaf's public key (CERT_BAD; also for
        a chain longer than limits.MAX_CERTIFICATE_CHAIN)."""
        cfg = self._scfg
        self._check_chain_length(chain)
        if cfg.client_verifier is not None:
            cfg.client_verifier.verify(chain, None, cfg.now(), server=False)
        self.peer_certificates = chain
        return leaf_public_key(chain[0], "client")

    def _choose12(self, ch: ClientHello) -> tuple[SuiteParams, CertifiedKey, int | None, int | None]:
        """(suite, certified key, signature scheme, group): the scheme is None at TLS 1.0/1.1
        (:func:`.signatures.sign_legacy`) and for static RSA, which has no group either."""
        cfg = self._scfg
        version = self.negotiated_version
        assert version is not None
        raw_sig = ch.ext(_ET_SIGNATURE_ALGORITHMS)
        offered_sigs = X.decode_u16_list(raw_sig, "signature_algorithms") if raw_sig is not None else []
        raw_groups = ch.ext(_ET_SUPPORTED_GROUPS)
        client_groups = X.decode_u16_list(raw_groups, "supported_groups") if raw_groups is not None else [0x0017]
        group = next((g for g in cfg.groups if g in TLS12_GROUPS and g in client_groups), None)
        offered = frozenset(ch.cipher_suites)
        order = cfg.cipher_suites
        if cfg.beast_probe and version <= _TLS1_0:  # the client's first probe suite goes first
            probe = next((s for s in ch.cipher_suites if s in _BEAST_PROBES and s in order), None)
            order = order if probe is None else (probe, *order)
        for sid in order:
            suite = SUITES.get(sid)
            if suite is None or suite.tls13 or sid not in offered or not suite_fits_version(sid, version):
                continue
            if suite.kx == "ECDHE" and group is None:
                continue
            for ck in cfg.certificates:
                if _key_type(ck.key) != suite.auth:
                    continue
                if suite.kx == "RSA":
                    return suite, ck, None, None
                if version < _TLS1_2:
                    return suite, ck, None, group
                # (a TLS 1.2 client without signature_algorithms implies SHA-1 only, RFC 5246 7.4.1.4.1,
                # which RFC 9155 forbids, as Go's server since 1.25: no scheme, handshake_failure)
                scheme = choose_scheme(ck.key, offered_sigs, cfg.signature_schemes, tls13=False)
                if scheme is not None:
                    return suite, ck, scheme, group
        if group is None:
            raise TlsError(Reason.NO_COMMON_GROUP, "no common curve for ECDHE")
        raise TlsError(Reason.NO_COMMON_SUITE, f"no TLS 1.2 suite in common: {[hex(s) for s in ch.cipher_suites]}")

    def _write_full12(self, ch: ClientHello, whole: bytes, reneg: bool, ems: bool) -> HsState:
        cfg = self._scfg
        suite, ck, scheme, group = self._choose12(ch)
        cbc = suite.cbc  # (a property: read once)
        etm = cbc and ch.ext(_ET_ETM) is not None
        if cbc and not etm and self._dbg.threshold >= 1:
            self._dbg.msg(1, "CBC without encrypt_then_mac: MAC-then-encrypt is not constant-time here")
        self.cipher_suite, self._suite, self.group = suite.id, suite, group
        issue = ch.ext(_ET_SESSION_TICKET) is not None and cfg.ticket_keys is not None
        session_id = cfg.random(32) if cfg.session_cache is not None and not issue else b""
        hs12 = _Server12Hs(suite, bytearray(whole), self._server_random12(), ems, etm, session_id, issue)
        self._set_version12(hs12, ch)
        hs12.server_key = ck.key
        self._hs12 = hs12
        self._write_server_hello12(ch, hs12, reneg)
        self._set_state(_SERVER_CERTIFICATE)
        self._log_write("certificate")
        hs12.messages += self._queue_handshake(_HT_CERTIFICATE, ck.certificate12)
        if suite.kx == "ECDHE":
            assert group is not None
            self._set_state(_SERVER_KEY_EXCHANGE)
            self._log_write("server key exchange")
            hs12.share = ClientShare(group, cfg.random)
            params = encode_server_ecdh_params(group, hs12.share.key_exchange)
            signed = self.client_random + hs12.server_random + params
            if scheme is None:
                signature = encode_legacy_signature(sign_legacy(ck.key, signed, cfg.random))
            else:
                sig = cfg.signer(scheme, signed) if cfg.signer is not None else sign(ck.key, scheme, signed, tls12=True)
                signature = encode_digitally_signed(scheme, sig)
            # ServerKeyExchange (messages12.ServerKeyExchange12): the params, then their signature
            hs12.messages += self._queue_handshake(_HT_SERVER_KEY_EXCHANGE, params + signature)
        if cfg.request_client_certificate or cfg.require_client_certificate:
            self._set_state(S.CERTIFICATE_REQUEST)
            self._log_write("certificate request")
            cr = CertificateRequest12(b"\x01\x40", tuple(cfg.signature_schemes))
            hs12.messages += self._queue_handshake(HT.CERTIFICATE_REQUEST, cr.encode())
            hs12.cert_requested = True
        self._set_state(_SERVER_HELLO_DONE)
        self._log_write("server hello done")
        hs12.messages += self._queue_handshake(_HT_SERVER_HELLO_DONE, b"")
        return S.CLIENT_CERTIFICATE if hs12.cert_requested else _CLIENT_KEY_EXCHANGE

    def _server_random12(self) -> bytes:
        """Our random; RFC 8446 4.1.3's sentinel in its last 8 bytes when we could do better
        than the chosen version (TLS 1.2 under a TLS 1.3 server, 1.0/1.1 under 1.2 or 1.3)."""
        rnd = self._scfg.random(32)
        top, version = max(self._scfg.versions), self.negotiated_version
        assert version is not None
        if version == _TLS1_2 and top == _TLS1_3 and self._scfg.tls13_capable:
            rnd = rnd[:24] + DOWNGRADE_TLS12
        elif version < _TLS1_2 <= top:
            rnd = rnd[:24] + DOWNGRADE_TLS11
        return rnd

    def _set_version12(self, hs12: _Server12Hs, ch: ClientHello) -> None:
        version = self.negotiated_version
        assert version is not None
        hs12.version = version
        hs12.prf = prf_name(version, hs12.suite.hash_name)
        hs12.client_version = ch.legacy_version

    def _write_server_hello12(self, ch: ClientHello, hs12: _Server12Hs, reneg: bool) -> None:
        self._set_state(_SERVER_HELLO)
        self._log_write("server hello")
        exts: list[Extension] = []
        if reneg:
            exts.append(_RENEGOTIATION_INFO_EMPTY)
        if self.server_name is not None and not hs12.resumed:
            exts.append(_SERVER_NAME_ACK)
        if hs12.ems:
            exts.append(_EMS_ACK)
        if hs12.issue_ticket:
            exts.append(_SESSION_TICKET_ACK)
        if ch.ext(_ET_EC_POINT_FORMATS) is not None and not hs12.resumed:
            exts.append(_EC_POINT_FORMATS_UNCOMPRESSED)
        if self.alpn_protocol is not None:
            exts.append(Extension(_ET_ALPN, X.encode_alpn([self.alpn_protocol])))
        if hs12.etm:
            exts.append(_ETM_ACK)
        if self._scfg.extensions_hook is not None:
            exts = self._scfg.extensions_hook(_HT_SERVER_HELLO, exts)
        sh = encode_server_hello(hs12.version, hs12.server_random, hs12.session_id, hs12.suite.id, 0, exts)
        hs12.messages += self._queue_handshake(_HT_SERVER_HELLO, sh)

    def _parse_client_certificate12(self, body: bytes, whole: bytes) -> HsState:
        hs12, cfg = self._hs12, self._scfg
        assert hs12 is not None
        cert = Certificate12.decode(body)
        hs12.messages += whole
        if not cert.certificate_list:
            if cfg.require_client_certificate:
                raise TlsError(Reason.CERT_REQUIRED, "client sent no certificate")
            return _CLIENT_KEY_EXCHANGE
        hs12.client_key = self._accept_client_chain(cert.certificate_list)
        return _CLIENT_KEY_EXCHANGE

    def _parse_client_key_exchange(self, body: bytes, whole: bytes) -> HsState:
        hs12 = self._hs12
        assert hs12 is not None
        r = Reader(body)
        if hs12.suite.kx == "RSA":
            encrypted = r.opaque(2, "EncryptedPreMasterSecret")
            r.expect_end("ClientKeyExchange")
            pre_master = self._rsa_pre_master(hs12, encrypted)
        else:
            assert hs12.share is not None
            point = r.opaque(1, "ClientECDiffieHellmanPublic", 1)
            r.expect_end("ClientKeyExchange")
            pre_master = hs12.share.finish(point)
        hs12.messages += whole
        session_hash = hs12.messages_hash() if hs12.ems else None
        hs12.master = master_secret(hs12.prf, pre_master, self.client_random, hs12.server_random, session_hash)
        self._keylog("CLIENT_RANDOM", hs12.master)
        self._install_keys12(hs12)
        return S.CERTIFICATE_VERIFY if hs12.client_key is not None else _CLIENT_CHANGE_CIPHER_SPEC

    def _rsa_pre_master(self, hs12: _Server12Hs, encrypted: bytes) -> bytes:
        """RFC 5246 7.4.7.1: the premaster the client encrypted to our RSA key, its version
        bytes replaced by the ClientHello's; when the padding is wrong, the length is not 48
        or the ciphertext does not fit the key, 48 random bytes instead, chosen before the
        decryption and with no error of their own: the handshake then fails at the client's
        Finished, as it does for a wrong version (Bleichenbacher's oracle stays shut)."""
        key = hs12.server_key
        assert isinstance(key, rsa.RSAPrivateKey)
        fallback = self._scfg.random(48)
        try:
            plain = key.decrypt(encrypted, padding.PKCS1v15())
        except ValueError:
            plain = b""
        if len(plain) != 48:
            return fallback
        return hs12.client_version.to_bytes(2, "big") + plain[2:]

    def _parse_certificate_verify12(self, body: bytes, whole: bytes) -> HsState:
        hs12, cfg = self._hs12, self._scfg
        assert hs12 is not None
        r = Reader(body)
        signed = DigitallySigned.read(r)
        r.expect_end("CertificateVerify")
        if signed.algorithm not in cfg.signature_schemes:
            raise TlsError(Reason.ILLEGAL_PARAMETER, f"CertificateVerify with scheme 0x{signed.algorithm:04x}")
        verify(hs12.client_key, signed.algorithm, bytes(hs12.messages), signed.signature)  # type: ignore[arg-type]
        hs12.messages += whole
        return _CLIENT_CHANGE_CIPHER_SPEC

    def _install_keys12(self, hs12: _Server12Hs) -> None:
        suite = hs12.suite
        # TLS 1.0's CBC takes its first IVs from the key block (RFC 2246 6.3)
        iv_len = suite.block if hs12.version <= _TLS1_0 and suite.cbc else suite.iv_len
        hs12.master_prf = prf = Prf(hs12.prf, hs12.master)
        cmac, smac, ckey, skey, civ, siv = prf.key_block(
            self.client_random, hs12.server_random, suite.mac_len, suite.key_len, iv_len
        )
        rnd, v = self._scfg.random, hs12.version
        self._pending_write12 = Protector12(suite, skey, siv, smac, etm=hs12.etm, random=rnd, version=v)
        self._pending_read12 = Protector12(suite, ckey, civ, cmac, etm=hs12.etm, random=rnd, version=v)

    def _handle_ccs12(self) -> None:
        if self.state != _CLIENT_CHANGE_CIPHER_SPEC or not self._joiner.empty:
            raise TlsError(Reason.UNEXPECTED_MESSAGE, f"change_cipher_spec in state {self.state.name}")
        self._read = self._pending_read12
        self._set_state(_CLIENT_FINISHED)

    def _parse_client_finished12(self, body: bytes, whole: bytes) -> HsState:
        hs12 = self._hs12
        assert hs12 is not None
        th = hs12.messages_hash()
        assert hs12.master_prf is not None
        expected = hs12.master_prf.finished(True, th)
        if len(body) != len(expected):  # RFC 5246 7.4.9: the body is verify_data, 12 bytes; else malformed
            raise TlsError(Reason.DECODE, f"client Finished of {len(body)} bytes")
        if not hmac.compare_digest(expected, body):
            raise TlsError(Reason.BAD_FINISHED, "client Finished")
        hs12.messages += whole
        if not hs12.resumed:
            if hs12.issue_ticket:
                self._write_ticket12(hs12)
            self._write_ccs_finished12(hs12)
            self._cache_session12(hs12)
        self._hs = None
        self._hs12 = None
        self._complete_handshake()
        return _HANDSHAKE_OVER

    def _ticket_state12(self, hs12: _Server12Hs, now: float) -> bytes:
        """The session's :class:`~.session.TicketState`, encoded (a ticket's or the cache's plaintext)."""
        cfg = self._scfg
        return encode_ticket_state(
            hs12.version, hs12.suite.id, hs12.master, now, 0, cfg.ticket_lifetime, 0, self.alpn_protocol or "",
            self.server_name or "", cfg.random(16), hs12.ems,
        )  # fmt: skip

    def _write_ticket12(self, hs12: _Server12Hs) -> None:
        cfg = self._scfg
        assert cfg.ticket_keys is not None
        self._set_state(_NEW_SESSION_TICKET)
        self._log_write("new session ticket")
        now = cfg.now()
        ticket = cfg.ticket_keys.seal(self._ticket_state12(hs12, now), now)
        msg = encode_new_session_ticket12(cfg.ticket_lifetime, ticket)
        hs12.messages += self._queue_handshake(_HT_NEW_SESSION_TICKET, msg)
        self.tickets_sent += 1

    def _cache_session12(self, hs12: _Server12Hs) -> None:
        cache = self._scfg.session_cache
        if cache is not None and hs12.session_id:
            cache.put(hs12.session_id, self._ticket_state12(hs12, self._scfg.now()))

    def _write_ccs_finished12(self, hs12: _Server12Hs) -> None:
        self._set_state(_SERVER_CHANGE_CIPHER_SPEC)
        self._send_ccs()
        self._write = self._pending_write12
        self._set_state(_SERVER_FINISHED)
        self._log_write("finished")
        th = hs12.messages_hash()
        assert hs12.master_prf is not None
        verify_data = hs12.master_prf.finished(False, th)
        hs12.messages += self._queue_handshake(_HT_FINISHED, verify_data)
        self._flush_handshake()

    def _parse_renegotiation(self, body: bytes, whole: bytes) -> HsState:
        # RFC 5746 4.4 / RFC 5246 7.4.1.2: renegotiation is refused, the connection goes on.
        if self._dbg.threshold >= 2:
            self._dbg.msg(2, "ClientHello after the handshake: renegotiation refused")
        self._send_alert(AlertLevel.WARNING, AlertDescription.no_renegotiation)
        return _HANDSHAKE_OVER
