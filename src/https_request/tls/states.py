"""Handshake states (mbedTLS's names and numbers) and the table of which
handshake messages each receiving state accepts.

A state names the next step to do, as in mbedTLS. ``EXPECTED_CLIENT`` and
``EXPECTED_SERVER`` map a state to the handshake types accepted there and the
name of the handler method; any other message is an unexpected_message.
"""

from __future__ import annotations

from enum import IntEnum

from .enums import HandshakeType as HT

__all__ = ["EXPECTED_CLIENT", "EXPECTED_CLIENT12", "EXPECTED_SERVER", "EXPECTED_SERVER12", "HsState"]


class HsState(IntEnum):
    HELLO_REQUEST = 0
    CLIENT_HELLO = 1
    SERVER_HELLO = 2
    SERVER_CERTIFICATE = 3
    SERVER_KEY_EXCHANGE = 4
    CERTIFICATE_REQUEST = 5
    SERVER_HELLO_DONE = 6
    CLIENT_CERTIFICATE = 7
    CLIENT_KEY_EXCHANGE = 8
    CERTIFICATE_VERIFY = 9
    CLIENT_CHANGE_CIPHER_SPEC = 10
    CLIENT_FINISHED = 11
    SERVER_CHANGE_CIPHER_SPEC = 12
    SERVER_FINISHED = 13
    FLUSH_BUFFERS = 14
    HANDSHAKE_WRAPUP = 15
    NEW_SESSION_TICKET = 16
    SERVER_HELLO_VERIFY_REQUEST_SENT = 17
    HELLO_RETRY_REQUEST = 18
    ENCRYPTED_EXTENSIONS = 19
    END_OF_EARLY_DATA = 20
    CLIENT_CERTIFICATE_VERIFY = 21
    CLIENT_CCS_AFTER_SERVER_FINISHED = 22
    CLIENT_CCS_BEFORE_2ND_CLIENT_HELLO = 23
    SERVER_CCS_AFTER_SERVER_HELLO = 24
    CLIENT_CCS_AFTER_CLIENT_HELLO = 25
    SERVER_CCS_AFTER_HELLO_RETRY_REQUEST = 26
    HANDSHAKE_OVER = 27
    TLS1_3_NEW_SESSION_TICKET = 28
    TLS1_3_NEW_SESSION_TICKET_FLUSH = 29


S = HsState

# state -> {handshake type -> handler method}
EXPECTED_CLIENT: dict[HsState, dict[int, str]] = {
    S.SERVER_HELLO: {HT.SERVER_HELLO: "_parse_server_hello"},
    S.ENCRYPTED_EXTENSIONS: {HT.ENCRYPTED_EXTENSIONS: "_parse_encrypted_extensions"},
    S.CERTIFICATE_REQUEST: {
        HT.CERTIFICATE_REQUEST: "_parse_certificate_request",
        HT.CERTIFICATE: "_parse_server_certificate",
    },
    S.SERVER_CERTIFICATE: {HT.CERTIFICATE: "_parse_server_certificate"},
    S.CERTIFICATE_VERIFY: {HT.CERTIFICATE_VERIFY: "_parse_certificate_verify"},
    S.SERVER_FINISHED: {HT.FINISHED: "_parse_server_finished"},
    S.HANDSHAKE_OVER: {
        HT.NEW_SESSION_TICKET: "_parse_new_session_ticket",
        HT.KEY_UPDATE: "_parse_key_update",
    },
}

EXPECTED_SERVER: dict[HsState, dict[int, str]] = {
    S.CLIENT_HELLO: {HT.CLIENT_HELLO: "_parse_client_hello"},
    S.END_OF_EARLY_DATA: {HT.END_OF_EARLY_DATA: "_parse_end_of_early_data"},
    S.CLIENT_CERTIFICATE: {HT.CERTIFICATE: "_parse_client_certificate"},
    S.CLIENT_CERTIFICATE_VERIFY: {HT.CERTIFICATE_VERIFY: "_parse_client_certificate_verify"},
    S.CLIENT_FINISHED: {HT.FINISHED: "_parse_client_finished"},
    S.HANDSHAKE_OVER: {HT.KEY_UPDATE: "_parse_key_update"},
}

EXPECTED_CLIENT12: dict[HsState, dict[int, str]] = {
    S.SERVER_HELLO: {HT.SERVER_HELLO: "_parse_server_hello"},  # a renegotiation's
    S.SERVER_CERTIFICATE: {HT.CERTIFICATE: "_parse_certificate12"},
    S.SERVER_KEY_EXCHANGE: {HT.SERVER_KEY_EXCHANGE: "_parse_server_key_exchange"},
    S.CERTIFICATE_REQUEST: {
        HT.CERTIFICATE_REQUEST: "_parse_certificate_request12",
        HT.SERVER_HELLO_DONE: "_parse_server_hello_done",
    },
    S.SERVER_HELLO_DONE: {HT.SERVER_HELLO_DONE: "_parse_server_hello_done"},
    S.NEW_SESSION_TICKET: {HT.NEW_SESSION_TICKET: "_parse_new_session_ticket12"},
    S.SERVER_FINISHED: {HT.FINISHED: "_parse_server_finished12"},
    S.HANDSHAKE_OVER: {HT.HELLO_REQUEST: "_parse_hello_request"},
}
"""TLS 1.2 client; ChangeCipherSpec is accepted in SERVER_CHANGE_CIPHER_SPEC only."""

EXPECTED_SERVER12: dict[HsState, dict[int, str]] = {
    S.CLIENT_CERTIFICATE: {HT.CERTIFICATE: "_parse_client_certificate12"},
    S.CLIENT_KEY_EXCHANGE: {HT.CLIENT_KEY_EXCHANGE: "_parse_client_key_exchange"},
    S.CERTIFICATE_VERIFY: {HT.CERTIFICATE_VERIFY: "_parse_certificate_verify12"},
    S.CLIENT_FINISHED: {HT.FINISHED: "_parse_client_finished12"},
    S.HANDSHAKE_OVER: {HT.CLIENT_HELLO: "_parse_renegotiation"},
}
"""TLS 1.2 server; ChangeCipherSpec is accepted in CLIENT_CHANGE_CIPHER_SPEC only."""
