#!/usr/bin/env python3
"""Check tests/vectors/rfc8448.json for internal consistency, using `cryptography`.

Usage:  python tests/vectors/check_rfc8448.py [PATH/TO/rfc8448.json]

This proves that the hex copied out of RFC 8448 was joined correctly: every
value has the octet count the RFC prints, every handshake message and record
parses, the ephemeral keys and ECDHE secrets agree, the whole TLS 1.3 key
schedule (every HKDF step the RFC shows, with its "info") recomputes, every
encrypted record decrypts to the RFC's payload, the Finished and PSK binder
MACs verify, the CertificateVerify signatures verify, and the RSA key in
section 2 builds with RSAPrivateNumbers and matches the certificate.

A maintenance tool run by hand, not a pytest test (pytest does not collect
this file name).  Exit status 0 when every check passes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DEFAULT = Path(__file__).resolve().parent / "rfc8448.json"

ZERO32 = bytes(32)
EARLY_SECRET_NO_PSK = "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"
HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").hexdigest()
CONTENT_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}
HS_TYPES = {1, 2, 4, 5, 8, 11, 13, 15, 20}

passed = 0
failures: list[str] = []


def check(ok: bool, what: str, detail: str = "") -> bool:
    global passed
    if ok:
        passed += 1
    else:
        failures.append(f"{what}: {detail}" if detail else what)
        print(f"FAIL {what}{': ' + detail if detail else ''}")
    return ok


def eq(got: bytes | str, want: bytes | str, what: str) -> bool:
    g = got.hex() if isinstance(got, bytes) else got
    w = want.hex() if isinstance(want, bytes) else want
    if g == w:
        return check(True, what)
    if len(g) + len(w) <= 160:
        return check(False, what, f"got {g}, want {w}")
    i = next((i for i, (a, c) in enumerate(zip(g, w, strict=False)) if a != c), min(len(g), len(w)))
    i -= i % 2
    return check(
        False,
        what,
        f"{len(g) // 2} vs {len(w) // 2} octets, first difference at octet {i // 2}: "
        f"got ...{g[i : i + 32]}..., want ...{w[i : i + 32]}...",
    )


# --- TLS 1.3 primitives (RFC 8446 section 7) ---------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or ZERO32, ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


def hkdf_label(label: str, context: bytes, length: int) -> bytes:
    full = b"tls13 " + label.encode()
    return length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context


def expand_label(secret: bytes, label: str, context: bytes, length: int) -> bytes:
    return hkdf_expand(secret, hkdf_label(label, context, length), length)


def derive_secret(secret: bytes, label: str, transcript: bytes) -> bytes:
    return expand_label(secret, label, sha256(transcript), 32)


def hs_messages(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        ln = int.from_bytes(data[i + 1 : i + 4], "big")
        out.append(data[i : i + 4 + ln])
        i += 4 + ln
    if i != len(data):
        raise ValueError("trailing bytes after last handshake message")
    return out


def hello_extensions(msg: bytes) -> dict[int, bytes]:
    body, j = msg[4:], 2 + 32
    j += 1 + body[j]
    if msg[0] == 1:
        j += 2 + int.from_bytes(body[j : j + 2], "big")
        j += 1 + body[j]
    else:
        j += 3
    end = j + 2 + int.from_bytes(body[j : j + 2], "big")
    j += 2
    out = {}
    while j < end:
        typ, ln = int.from_bytes(body[j : j + 2], "big"), int.from_bytes(body[j + 2 : j + 4], "big")
        out[typ] = body[j + 4 : j + 4 + ln]
        j += 4 + ln
    if j != end or end != len(body):
        raise ValueError("extensions do not fill the message")
    return out


def key_shares(msg: bytes) -> dict[int, bytes]:
    ks = hello_extensions(msg).get(51, b"")
    if msg[0] == 1:
        ks = ks[2:]
    out, i = {}, 0
    while i + 4 <= len(ks):
        group, ln = int.from_bytes(ks[i : i + 2], "big"), int.from_bytes(ks[i + 2 : i + 4], "big")
        out[group] = ks[i + 4 : i + 4 + ln]
        i += 4 + ln
    return out


# --- checks -------------------------------------------------------------------


def check_steps(name: str, trace: dict[str, Any]) -> None:
    """Octet counts, and every HKDF step the RFC prints, recomputed from its own inputs."""
    steps = trace["steps"]
    for s in steps:
        if s["hex"] is None:
            continue
        ok = re.fullmatch(r"(?:[0-9a-f]{2})*", s["hex"]) is not None and len(s["hex"]) // 2 == s["octets"]
        check(ok, f"{name}: {s['key']} is {s['octets']} octets of lowercase hex")
    groups: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for s in steps:
        step_key = s["key"].rsplit(".", 1)[0]
        if step_key not in groups:
            groups[step_key] = {"step": s["step"]}
            order.append(step_key)
        groups[step_key][s["label"]] = s
    n_extract = n_expand = 0
    for step_key in order:
        g = groups[step_key]
        step = g["step"]

        def b(label: str, g: dict[str, Any] = g) -> bytes:
            return bytes.fromhex(g[label]["hex"])

        if step.startswith("extract secret"):
            salt = b"" if g["salt"]["hex"] is None else b("salt")
            if g["salt"]["hex"] is None:
                check(g["salt"].get("text") == "0 (all zero octets)", f"{name}: {step_key} salt is zero")
            n_extract += eq(hkdf_extract(salt, b("IKM")), b("secret"), f"{name}: {step_key}: HKDF-Extract")
        m = re.match(r'(?:derive secret|derive secret for \w+|generate resumption secret) "tls13 ([a-z ]+)"', step)
        if m and "expanded" in g:
            label = m.group(1)
            eq(hkdf_label(label, b("hash"), 32), b("info"), f"{name}: {step_key}: HkdfLabel info")
            n_expand += eq(hkdf_expand(b("PRK"), b("info"), 32), b("expanded"), f"{name}: {step_key}: HKDF-Expand")
        if step.startswith('calculate finished "tls13 finished"') or step.startswith("calculate PSK binder"):
            eq(hkdf_label("finished", b"", 32), b("info"), f"{name}: {step_key}: HkdfLabel info")
            n_expand += eq(hkdf_expand(b("PRK"), b("info"), 32), b("expanded"), f"{name}: {step_key}: HKDF-Expand")
            if "binder hash" in g:
                eq(sha256(b("ClientHello prefix")), b("binder hash"), f"{name}: {step_key}: binder hash")
                mac = hmac.new(b("expanded"), b("binder hash"), hashlib.sha256).digest()
                eq(mac, b("finished"), f"{name}: {step_key}: binder HMAC")
        if step.startswith("derive ") and "traffic keys" in step:
            for label, ln in (("key", 16), ("iv", 12)):
                eq(hkdf_label(label, b"", ln), b(f"{label} info"), f"{name}: {step_key}: {label} info")
                out = hkdf_expand(b("PRK"), b(f"{label} info"), ln)
                n_expand += eq(out, b(f"{label} expanded"), f"{name}: {step_key}: {label} HKDF-Expand")
    print(f"ok   {name}: {n_extract} HKDF-Extract and {n_expand} HKDF-Expand steps the RFC prints recompute")


MESSAGE_NAMES = {
    "client_hello", "client_hello_1", "client_hello_2", "client_hello_prefix", "hello_retry_request",
    "server_hello", "encrypted_extensions", "certificate_request", "server_certificate",
    "server_certificate_verify", "server_finished", "end_of_early_data", "client_certificate",
    "client_certificate_verify", "client_finished", "new_session_ticket",
}  # fmt: skip


def record_inner_type(rec_name: str) -> int:
    """Content type of what a named record carries (before protection, for encrypted records)."""
    for suffix, typ in (("application_data_record", 23), ("alert_record", 21), ("change_cipher_spec_record", 20)):
        if rec_name.endswith(suffix):
            return typ
    return 22


def record_writer(rec_name: str) -> str:
    if rec_name.startswith(("client_", "end_of_early_data")):
        return "client"
    return "server"  # server_*, hello_retry_request_record, new_session_ticket_record


def check_messages(name: str, v: dict[str, str]) -> None:
    for key, value in v.items():
        data = bytes.fromhex(value)
        if key.endswith("_record"):
            ln = int.from_bytes(data[3:5], "big")
            check(data[0] in CONTENT_TYPES and data[1:3] in (b"\x03\x01", b"\x03\x03"), f"{name}: {key} header")
            check(ln == len(data) - 5, f"{name}: {key} record length {ln} == {len(data) - 5}")
            if data[0] != 23:
                check(data[0] == record_inner_type(key), f"{name}: {key} content type {data[0]}")
                eq(data[5:], v[f"{key}_payload"], f"{name}: {key} plaintext fragment == payload")
        elif key.endswith("_record_payload") and record_inner_type(key[: -len("_payload")]) == 22:
            try:
                msgs = hs_messages(data)
            except ValueError as exc:
                check(False, f"{name}: {key} splits into handshake messages", str(exc))
            else:
                check(all(m[0] in HS_TYPES for m in msgs), f"{name}: {key} handshake types {[m[0] for m in msgs]}")
        elif key in MESSAGE_NAMES:
            ln = int.from_bytes(data[1:4], "big")
            check(data[0] in HS_TYPES, f"{name}: {key} handshake type {data[0]}")
            if key == "client_hello_prefix":
                full = bytes.fromhex(v["client_hello_record_payload"])
                check(ln == len(full) - 4 and full.startswith(data), f"{name}: {key} is a prefix of the ClientHello")
            else:
                check(ln == len(data) - 4, f"{name}: {key} handshake length {ln} == body length {len(data) - 4}")


def check_flights(name: str, v: dict[str, str]) -> list[bytes]:
    """Named messages are exactly the contents of the handshake records; return the transcript."""
    all_msgs: list[bytes] = []
    for key in v:
        if key.endswith("_record") and record_inner_type(key) == 22:
            try:
                all_msgs += hs_messages(bytes.fromhex(v[f"{key}_payload"]))
            except ValueError:
                pass  # reported by check_messages
    named = [bytes.fromhex(v[k]) for k in v if k in MESSAGE_NAMES and k != "client_hello_prefix"]
    if "client_hello_prefix" in v:
        named.insert(0, bytes.fromhex(v["client_hello_record_payload"]))
    eq(b"".join(named), b"".join(all_msgs), f"{name}: named handshake messages == handshake record payloads, in order")
    return [m for m in all_msgs if m[0] != 4]  # NewSessionTicket is not part of the transcript


def check_key_exchange(name: str, v: dict[str, str]) -> bytes:
    b = {k: bytes.fromhex(x) for k, x in v.items()}
    ch = b.get("client_hello_2") or b.get("client_hello") or b["client_hello_record_payload"]
    sh = b["server_hello"]
    for party in ("client", "server"):
        if f"{party}_x25519_private_key" in b:
            priv = x25519.X25519PrivateKey.from_private_bytes(b[f"{party}_x25519_private_key"])
            eq(
                priv.public_key().public_bytes_raw(),
                b[f"{party}_x25519_public_key"],
                f"{name}: {party} x25519 public key derives from the private key",
            )
        if f"{party}_p256_private_key" in b:
            priv_ec = ec.derive_private_key(int.from_bytes(b[f"{party}_p256_private_key"], "big"), ec.SECP256R1())
            pub = priv_ec.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
            eq(pub, b[f"{party}_p256_public_key"], f"{name}: {party} P-256 public key derives from the private key")
    if "client_hello_1" in b:
        eq(
            key_shares(b["client_hello_1"]).get(0x1D, b""),
            b["client_x25519_public_key"],
            f"{name}: first ClientHello carries the x25519 share",
        )
    if "server_x25519_private_key" in b:
        group = 0x1D
        c = x25519.X25519PrivateKey.from_private_bytes(b["client_x25519_private_key"])
        s = x25519.X25519PrivateKey.from_private_bytes(b["server_x25519_private_key"])
        shared_c = c.exchange(x25519.X25519PublicKey.from_public_bytes(b["server_x25519_public_key"]))
        shared_s = s.exchange(x25519.X25519PublicKey.from_public_bytes(b["client_x25519_public_key"]))
        client_pub, server_pub = b["client_x25519_public_key"], b["server_x25519_public_key"]
    else:
        group = 0x17
        c_ec = ec.derive_private_key(int.from_bytes(b["client_p256_private_key"], "big"), ec.SECP256R1())
        s_ec = ec.derive_private_key(int.from_bytes(b["server_p256_private_key"], "big"), ec.SECP256R1())
        shared_c = c_ec.exchange(
            ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b["server_p256_public_key"])
        )
        shared_s = s_ec.exchange(
            ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b["client_p256_public_key"])
        )
        client_pub, server_pub = b["client_p256_public_key"], b["server_p256_public_key"]
    eq(key_shares(ch).get(group, b""), client_pub, f"{name}: ClientHello key_share is the client public key")
    eq(key_shares(sh).get(group, b""), server_pub, f"{name}: ServerHello key_share is the server public key")
    eq(shared_c, shared_s, f"{name}: ECDHE(client priv, server pub) == ECDHE(server priv, client pub)")
    eq(shared_c, b["ecdhe_shared_secret"], f'{name}: ECDHE shared secret == IKM of extract secret "handshake"')
    return shared_c


def check_schedule(name: str, v: dict[str, str], x: dict[str, Any], transcript: list[bytes]) -> dict[str, bytes]:
    b = {k: bytes.fromhex(h) for k, h in v.items()}
    types = [m[0] for m in transcript]
    if "hello_retry_request" in b:
        # RFC 8446 4.4.1: ClientHello1 is replaced by message_hash.
        ch1 = transcript[0]
        transcript = [b"\xfe\x00\x00\x20" + sha256(ch1), *transcript[1:]]
        eq(
            x["hello_retry_request_random"]["hex"],
            HRR_RANDOM,
            f'{name}: HelloRetryRequest random is SHA-256("HelloRetryRequest")',
        )
        eq(
            hello_extensions(b["client_hello_2"])[44],
            hello_extensions(b["hello_retry_request"])[44],
            f"{name}: second ClientHello echoes the cookie",
        )
    sh_i = max(i for i, t in enumerate(types) if t == 2)
    sf_i = next(i for i, t in enumerate(types) if t == 20)
    cf_i = max(i for i, t in enumerate(types) if t == 20)

    def th(last: int) -> bytes:
        return b"".join(transcript[: last + 1])

    psk = b.get("psk", ZERO32)
    early = hkdf_extract(ZERO32, psk)
    eq(early, b["early_secret"], f"{name}: early secret = HKDF-Extract(0, {'PSK' if 'psk' in b else '0'})")
    if "psk" not in b:
        eq(early, EARLY_SECRET_NO_PSK, f"{name}: HKDF-Extract(0, 0) == 33ad0a1c...f92a (RFC early secret)")
    else:
        ch = transcript[0]
        eq(
            derive_secret(early, "res binder", b""),
            b["binder_key"],
            f'{name}: binder_key = Derive-Secret(early, "res binder", "")',
        )
        fk = expand_label(b["binder_key"], "finished", b"", 32)
        eq(fk, b["binder_finished_key"], f"{name}: binder finished_key")
        eq(sha256(b["client_hello_prefix"]), b["binder_hash"], f"{name}: binder hash = SHA-256(ClientHello prefix)")
        binder = hmac.new(fk, b["binder_hash"], hashlib.sha256).digest()
        eq(binder, b["binder"], f"{name}: binder = HMAC(finished_key, binder hash)")
        eq(x["binders"]["hex"], "0021" + "20" + binder.hex(), f"{name}: ClientHello ends with the binders list")
        eq(sha256(ch), b["transcript_hash_client_hello"], f"{name}: SHA-256(ClientHello)")
        eq(
            derive_secret(early, "c e traffic", ch),
            b["client_early_traffic_secret"],
            f"{name}: client_early_traffic_secret",
        )
        eq(
            derive_secret(early, "e exp master", ch),
            b["early_exporter_master_secret"],
            f"{name}: early_exporter_master_secret",
        )
    derived = derive_secret(early, "derived", b"")
    eq(derived, b["derived_secret_for_handshake"], f'{name}: derive secret for handshake "tls13 derived"')
    hs = hkdf_extract(derived, b["ecdhe_shared_secret"])
    eq(hs, b["handshake_secret"], f"{name}: handshake secret = HKDF-Extract(derived, ECDHE)")
    eq(sha256(th(sh_i)), b["transcript_hash_server_hello"], f"{name}: transcript hash through ServerHello")
    c_hs = derive_secret(hs, "c hs traffic", th(sh_i))
    s_hs = derive_secret(hs, "s hs traffic", th(sh_i))
    eq(
        c_hs,
        b["client_handshake_traffic_secret"],
        f'{name}: SHA-256(ClientHello..ServerHello) -> "c hs traffic" secret',
    )
    eq(s_hs, b["server_handshake_traffic_secret"], f'{name}: "s hs traffic" secret')
    derived_m = derive_secret(hs, "derived", b"")
    eq(derived_m, b["derived_secret_for_master"], f'{name}: derive secret for master "tls13 derived"')
    master = hkdf_extract(derived_m, ZERO32)
    eq(master, b["master_secret"], f"{name}: master secret")
    eq(sha256(th(sf_i)), b["transcript_hash_server_finished"], f"{name}: transcript hash through server Finished")
    c_ap = derive_secret(master, "c ap traffic", th(sf_i))
    s_ap = derive_secret(master, "s ap traffic", th(sf_i))
    eq(c_ap, b["client_application_traffic_secret"], f'{name}: "c ap traffic" secret')
    eq(s_ap, b["server_application_traffic_secret"], f'{name}: "s ap traffic" secret')
    eq(derive_secret(master, "exp master", th(sf_i)), b["exporter_master_secret"], f"{name}: exporter master secret")
    eq(sha256(th(cf_i)), b["transcript_hash_client_finished"], f"{name}: transcript hash through client Finished")
    res = derive_secret(master, "res master", th(cf_i))
    eq(res, b["resumption_master_secret"], f"{name}: resumption master secret")
    if "new_session_ticket" in b:
        eq(
            x["ticket_nonce"]["hex"],
            b["ticket_nonce"],
            f'{name}: NewSessionTicket nonce == context of "tls13 resumption"',
        )
        eq(expand_label(res, "resumption", b["ticket_nonce"], 32), b["resumption_psk"], f"{name}: resumption PSK")

    # Finished (RFC 8446 4.4.4): HMAC(finished_key, Transcript-Hash(... up to but excluding Finished)).
    for party, secret, idx in (("server", s_hs, sf_i), ("client", c_hs, cf_i)):
        fk = expand_label(secret, "finished", b"", 32)
        eq(fk, b[f"{party}_finished_key"], f"{name}: {party} finished_key")
        vd = hmac.new(fk, sha256(th(idx - 1)), hashlib.sha256).digest()
        eq(vd, b[f"{party}_verify_data"], f"{name}: {party} verify_data")
        eq(b"\x14\x00\x00\x20" + vd, b[f"{party}_finished"], f"{name}: {party} Finished message")

    # CertificateVerify (RFC 8446 4.4.3), with the public key of the certificate just before it.
    for party in ("server", "client"):
        if f"{party}_certificate_verify" not in b:
            continue
        idx = next(i for i, m in enumerate(transcript) if m == b[f"{party}_certificate_verify"])
        context = f"TLS 1.3, {party} CertificateVerify".encode()
        content = b" " * 64 + context + b"\x00" + sha256(th(idx - 1))
        cert = x509.load_der_x509_certificate(bytes.fromhex(x[f"{party}_certificate_der"]["hex"]))
        scheme = x[f"{party}_certificate_verify_algorithm"]["hex"]
        sig = bytes.fromhex(x[f"{party}_certificate_verify_signature"]["hex"])
        key = cert.public_key()
        try:
            if scheme == "0804":
                assert isinstance(key, rsa.RSAPublicKey)
                key.verify(sig, content, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
            elif scheme == "0403":
                assert isinstance(key, ec.EllipticCurvePublicKey)
                key.verify(sig, content, ec.ECDSA(hashes.SHA256()))
            else:
                raise AssertionError(f"unexpected SignatureScheme {scheme}")
            check(True, "")
            print(f"ok   {name}: {party} CertificateVerify ({scheme}) verifies with the certificate's key")
        except (InvalidSignature, AssertionError) as exc:
            check(False, f"{name}: {party} CertificateVerify verifies", repr(exc))

    keys = {
        "client_early": b.get("client_early_traffic_secret"),
        "client_handshake": c_hs,
        "server_handshake": s_hs,
        "client_application": c_ap,
        "server_application": s_ap,
    }
    out = {}
    for phase, secret in keys.items():
        if secret is None:
            continue
        key, iv = expand_label(secret, "key", b"", 16), expand_label(secret, "iv", b"", 12)
        eq(key, b[f"{phase}_key"], f"{name}: {phase} write key")
        eq(iv, b[f"{phase}_iv"], f"{name}: {phase} write iv")
        out[phase] = key + iv
    return out


def check_records(name: str, v: dict[str, str], keys: dict[str, bytes]) -> None:
    """Decrypt every protected record with the writer's current keys and sequence number."""
    epochs = {
        party: [
            p
            for p in ("client_early", f"{party}_handshake", f"{party}_application")
            if p.startswith(party) and p in keys
        ]
        for party in ("client", "server")
    }
    state = {party: [0, 0] for party in epochs}  # epoch index, sequence number
    used = []
    for rec_name in [k for k in v if k.endswith("_record")]:
        rec = bytes.fromhex(v[rec_name])
        if rec[0] != 23:
            continue
        party = record_writer(rec_name)
        payload = bytes.fromhex(v[f"{rec_name}_payload"])
        inner_type = record_inner_type(rec_name)
        epoch_i, seq = state[party]
        while epoch_i < len(epochs[party]):
            phase = epochs[party][epoch_i]
            key, iv = keys[phase][:16], keys[phase][16:]
            nonce = bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big"), strict=True))
            try:
                plain = AESGCM(key).decrypt(nonce, rec[5:], rec[:5])
            except InvalidTag:
                epoch_i, seq = epoch_i + 1, 0
                continue
            content = plain.rstrip(b"\x00")
            check(len(content) == len(plain), f"{name}: {rec_name} has no padding")
            check(content[-1] == inner_type, f"{name}: {rec_name} inner content type {content[-1]} == {inner_type}")
            eq(content[:-1], payload, f"{name}: {rec_name} decrypts ({phase} key, seq {seq}) to the RFC payload")
            used.append(f"{rec_name}={phase}#{seq}")
            state[party] = [epoch_i, seq + 1]
            break
        else:
            check(False, f"{name}: {rec_name} decrypts with some {party} key")
    print(f"ok   {name}: records: {', '.join(used)}")


def check_rsa(doc: dict[str, Any]) -> None:
    k = doc["server_rsa_key"]
    num = {ours: int(k[rfc], 16) for ours, rfc in k["cryptography_names"].items()}
    n, e, d, p, q = num["n"], num["e"], num["d"], num["p"], num["q"]
    check(p * q == n, "RSA: prime1 * prime2 == modulus")
    check(d * e % ((p - 1) * (q - 1) // math.gcd(p - 1, q - 1)) == 1, "RSA: d*e == 1 mod lcm(p-1, q-1)")
    check(num["dmp1"] == rsa.rsa_crt_dmp1(d, p), "RSA: exponent1 == d mod (p-1)")
    check(num["dmq1"] == rsa.rsa_crt_dmq1(d, q), "RSA: exponent2 == d mod (q-1)")
    check(num["iqmp"] == rsa.rsa_crt_iqmp(p, q), "RSA: coefficient == q^-1 mod p")
    priv = rsa.RSAPrivateNumbers(
        p, q, d, num["dmp1"], num["dmq1"], num["iqmp"], rsa.RSAPublicNumbers(e, n)
    ).private_key()
    check(priv.key_size == 1024, "RSA: RSAPrivateNumbers builds a 1024-bit key")
    for name in ("simple_1rtt", "hrr", "compat_mode"):  # section 4 resumes section 3 and sends no certificate
        x = doc["traces"][name]["extracted"]
        cert = x509.load_der_x509_certificate(bytes.fromhex(x["server_certificate_der"]["hex"]))
        pub = cert.public_key()
        assert isinstance(pub, rsa.RSAPublicKey)
        check(pub.public_numbers() == priv.public_key().public_numbers(), f"RSA: {name} certificate holds this key")
    msg = b"RFC 8448 round trip"
    sig = priv.sign(msg, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    try:
        priv.public_key().verify(sig, msg, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
        check(True, "")
    except InvalidSignature:
        check(False, "RSA: sign/verify round trip")
    print("ok   RSA key (section 2): n = p*q, CRT values, RSAPrivateNumbers, matches the certificate")


def check_resumption(doc: dict[str, Any]) -> None:
    first, second = doc["traces"]["simple_1rtt"], doc["traces"]["resumed_0rtt"]
    eq(second["values"]["psk"], first["values"]["resumption_psk"], "resumed_0rtt: PSK == simple_1rtt resumption PSK")
    eq(
        second["extracted"]["psk_identity"]["hex"],
        first["extracted"]["ticket"]["hex"],
        "resumed_0rtt: PSK identity == simple_1rtt ticket",
    )
    age_add = int(first["extracted"]["ticket_age_add"]["hex"], 16)
    obfuscated = int(second["extracted"]["obfuscated_ticket_age"]["hex"], 16)
    age = (obfuscated - age_add) % 2**32
    check(
        0 <= age < 1000 * int(first["extracted"]["ticket_lifetime"]["hex"], 16),
        f"resumed_0rtt: obfuscated_ticket_age - ticket_age_add = {age} ms, within the ticket lifetime",
    )


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    doc = json.loads(path.read_text())
    for name, trace in doc["traces"].items():
        v, x = trace["values"], trace["extracted"]
        steps_named = {s["alias"]: s["hex"] for s in trace["steps"] if "alias" in s}
        check(steps_named == v, f"{name}: every named value is one of the RFC's steps")
        try:
            check_steps(name, trace)
            check_messages(name, v)
            transcript = check_flights(name, v)
            check_key_exchange(name, v)
            keys = check_schedule(name, v, x, transcript)
            check_records(name, v, keys)
        except Exception as exc:  # a broken value can make a later step impossible
            check(False, f"{name}: checks stopped", f"{type(exc).__name__}: {exc}")
    for final in (check_rsa, check_resumption):
        try:
            final(doc)
        except Exception as exc:
            check(False, f"{final.__name__} stopped", f"{type(exc).__name__}: {exc}")
    print()
    if failures:
        print(f"{len(failures)} check(s) failed:")
        for f in failures:
            print("  " + f)
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
