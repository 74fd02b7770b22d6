#!/usr/bin/env python3
"""Regenerate tests/vectors/rfc8448.json from the source of RFC 8448.

Usage:  python tests/vectors/gen_rfc8448.py PATH/TO/rfc8448.xml [OUT.json]

RFC 8448 ("Example Handshake Traces for TLS 1.3", M. Thomson, January 2019)
is not vendored in this repository; see tests/vectors/README.md for where the
input came from and its SHA-256.  The input is the RFC's xml2rfc (v2) source,
in which every value is a <t hangText="label (N octets):">hex</t> element
inside a "{client}" / "{server}" step, so no line-wrap or page-break handling
is needed.  Every value is checked against the octet count the RFC prints.

This is a maintenance tool, run by hand; pytest does not collect it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

SOURCE_NOTE = "github.com/bifurcation/pre-rfc-xml, xml/rfc8448.xml at commit 87292f66feb56b92d647ea9d6e1452f64a21c3ae"

# RFC section anchor -> (trace key, RFC section number)
TRACES = {
    "onertt": ("simple_1rtt", "3"),
    "zerortt": ("resumed_0rtt", "4"),
    "helloretryrequest": ("hrr", "5"),
    "client-authentication": ("client_auth", "6"),
    "compatibility-mode": ("compat_mode", "7"),
}

HS_TYPES = {
    1: "client_hello",
    2: "server_hello",
    4: "new_session_ticket",
    5: "end_of_early_data",
    8: "encrypted_extensions",
    11: "certificate",
    13: "certificate_request",
    15: "certificate_verify",
    20: "finished",
}
PARTY_SPECIFIC = {"certificate", "certificate_verify", "finished"}

LABEL_RE = re.compile(r"^(?P<label>.*?)(?: \((?P<octets>\d+) octets\))?:$")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def snake(camel: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", camel).lower()


def norm(text: str | None) -> str:
    return " ".join((text or "").split())


def parse_value(label: str, octets: int | None, text: str) -> tuple[str | None, str | None]:
    """Return (hex, text_if_not_hex)."""
    if text == "(empty)":
        assert octets == 0, (label, octets)
        return "", None
    tokens = text.split()
    if octets is None or not all(re.fullmatch(r"[0-9a-f]{2}", t) for t in tokens):
        return None, text
    value = "".join(tokens)
    if len(value) // 2 != octets:
        raise SystemExit(f"{label}: RFC says {octets} octets, joined hex has {len(value) // 2}")
    return value, None


def hs_messages(data: bytes) -> list[tuple[int, bytes]]:
    out, i = [], 0
    while i < len(data):
        typ, ln = data[i], int.from_bytes(data[i + 1 : i + 4], "big")
        out.append((typ, data[i : i + 4 + ln]))
        i += 4 + ln
    return out


class Trace:
    def __init__(self, key: str, number: str, title: str, anchor: str) -> None:
        self.key = key
        self.data: dict[str, Any] = {
            "section": number,
            "title": title,
            "rfc_anchor": anchor,
            "description": "",
            "values": {},
            "extracted": {},
            "outline": [],
            "steps": [],
        }
        self.seen: dict[str, int] = {}
        self.server_hello_seen = False
        self.msg_count: dict[str, int] = {}

    # -- convenience names -------------------------------------------------
    def put(self, name: str, hex_value: str, entry: dict[str, Any]) -> None:
        values = self.data["values"]
        if name in values and values[name] != hex_value:
            raise SystemExit(f"{self.key}: {name} given twice with different values")
        values.setdefault(name, hex_value)
        entry.setdefault("alias", name)

    def message_name(self, party: str, label: str) -> str:
        base = snake(label)
        if base in PARTY_SPECIFIC:
            base = f"{party}_{base}"
        if self.key == "hrr" and base in ("client_hello", "server_hello"):
            n = self.msg_count[base] = self.msg_count.get(base, 0) + 1
            if base == "server_hello":
                return "hello_retry_request" if n == 1 else "server_hello"
            return f"client_hello_{n}"
        if self.key == "resumed_0rtt" and base == "client_hello":
            # The RFC prints the ClientHello without its binders here (labelled
            # 477 octets, while the length field counts the 512-octet message).
            return "client_hello_prefix"
        return base

    def record_name(self, party: str, kind: str, payload: bytes) -> str:
        if kind == "handshake":
            msgs = hs_messages(payload)
            if len(msgs) > 1:
                return f"{party}_handshake_flight_record"
            name = HS_TYPES[msgs[0][0]]
            if name == "server_hello" and self.key == "hrr" and not self.server_hello_seen:
                self.server_hello_seen = True
                return "hello_retry_request_record"
            if name == "client_hello" and self.key == "hrr":
                n = self.msg_count.get("client_hello_record", 0) + 1
                self.msg_count["client_hello_record"] = n
                return f"client_hello_{n}_record"
            if name in PARTY_SPECIFIC:
                name = f"{party}_{name}"
            return f"{name}_record"
        if kind == "application_data":
            early = self.key == "resumed_0rtt" and "server_hello" not in self.data["values"]
            return f"{party}_{'early_' if early else ''}application_data_record"
        return f"{party}_{kind}_record"

    def alias(self, party: str, step: str, label: str, hex_value: str, entry: dict[str, Any]) -> None:
        lab = slug(label)
        m = re.match(r"create an ephemeral (x25519|P-256) key pair:", step)
        if m:
            curve = "x25519" if m.group(1) == "x25519" else "p256"
            self.put(f"{party}_{curve}_{lab}", hex_value, entry)
            return
        m = re.match(r"construct an? (\w+) handshake message:", step)
        if m:
            self.put(self.message_name(party, m.group(1)), hex_value, entry)
            return
        m = re.match(r"send (handshake|application_data|alert|change_cipher_spec) record:", step)
        if m:
            if lab == "payload":
                entry["_pending_payload"] = True  # named once the record's name is known
                self._payload = (hex_value, entry)
                return
            payload_hex, payload_entry = self._payload
            del payload_entry["_pending_payload"]
            name = self.record_name(party, m.group(1), bytes.fromhex(payload_hex))
            self.put(f"{name}_payload", payload_hex, payload_entry)
            self.put(name, hex_value, entry)
            return
        if step.startswith('extract secret "early"'):
            if lab == "ikm" and any(int(hex_value[i : i + 2], 16) for i in range(0, len(hex_value), 2)):
                self.put("psk", hex_value, entry)
            elif lab == "secret":
                self.put("early_secret", hex_value, entry)
            return
        if step.startswith('extract secret "handshake"'):
            names = {"ikm": "ecdhe_shared_secret", "secret": "handshake_secret"}
            if lab in names:
                self.put(names[lab], hex_value, entry)
            return
        if step.startswith('extract secret "master"'):
            if lab == "secret":
                self.put("master_secret", hex_value, entry)
            return
        m = re.match(r'derive secret for (handshake|master) "tls13 derived"', step)
        if m:
            if lab == "expanded":
                self.put(f"derived_secret_for_{m.group(1)}", hex_value, entry)
            return
        secrets = {
            "c e traffic": ("client_early_traffic_secret", "transcript_hash_client_hello"),
            "e exp master": ("early_exporter_master_secret", "transcript_hash_client_hello"),
            "c hs traffic": ("client_handshake_traffic_secret", "transcript_hash_server_hello"),
            "s hs traffic": ("server_handshake_traffic_secret", "transcript_hash_server_hello"),
            "c ap traffic": ("client_application_traffic_secret", "transcript_hash_server_finished"),
            "s ap traffic": ("server_application_traffic_secret", "transcript_hash_server_finished"),
            "exp master": ("exporter_master_secret", "transcript_hash_server_finished"),
            "res master": ("resumption_master_secret", "transcript_hash_client_finished"),
        }
        m = re.match(r'derive secret "tls13 ([a-z ]+)"', step)
        if m:
            secret_name, hash_name = secrets[m.group(1)]
            if lab == "expanded":
                self.put(secret_name, hex_value, entry)
            elif lab == "hash":
                self.put(hash_name, hex_value, entry)
            return
        if step.startswith('generate resumption secret "tls13 resumption"'):
            names = {"hash": "ticket_nonce", "expanded": "resumption_psk"}
            if lab in names:
                self.put(names[lab], hex_value, entry)
            return
        m = re.match(r"derive (write|read) traffic keys for (handshake|application|early application) data:", step)
        if m:
            direction, phase = m.groups()
            writer = party if direction == "write" else ("client" if party == "server" else "server")
            phase = {"handshake": "handshake", "application": "application", "early application": "early"}[phase]
            names = {"key_expanded": "key", "iv_expanded": "iv"}
            if lab in names:
                self.put(f"{writer}_{phase}_{names[lab]}", hex_value, entry)
            return
        if step.startswith('calculate finished "tls13 finished"'):
            names = {"expanded": f"{party}_finished_key", "finished": f"{party}_verify_data"}
            if lab in names:
                self.put(names[lab], hex_value, entry)
            return
        if step.startswith("calculate PSK binder"):
            names = {
                "clienthello_prefix": "client_hello_prefix",
                "binder_hash": "binder_hash",
                "prk": "binder_key",
                "expanded": "binder_finished_key",
                "finished": "binder",
            }
            if lab in names:
                self.put(names[lab], hex_value, entry)
            return

    def add_step(self, party: str, step: str, items: list[ET.Element]) -> None:
        self.data["outline"].append(f"{{{party}}} {step}")
        if not items:
            return
        base = f"{party}.{slug(step)}"
        n = self.seen[base] = self.seen.get(base, 0) + 1
        step_key = base if n == 1 else f"{base}_{n}"
        for item in items:
            m = LABEL_RE.match(item.get("hangText", ""))
            assert m, item.get("hangText")
            label = m.group("label")
            octets = int(m.group("octets")) if m.group("octets") else None
            hex_value, text = parse_value(label, octets, norm(item.text))
            entry: dict[str, Any] = {
                "party": party,
                "step": step.rstrip(":"),
                "label": label,
                "key": f"{step_key}.{slug(label)}",
                "octets": octets,
                "hex": hex_value,
            }
            if text is not None:
                entry["text"] = text
            if hex_value is not None:
                self.alias(party, step, label, hex_value, entry)
            self.data["steps"].append(entry)

    def extract(self) -> None:
        v, x = self.data["values"], self.data["extracted"]

        def note(name: str, value: bytes | str, how: str) -> None:
            x[name] = {"hex": value.hex() if isinstance(value, bytes) else value, "from": how}

        for ch_name in ("client_hello", "client_hello_1", "client_hello_prefix"):
            if ch_name in v:
                ch = bytes.fromhex(v[ch_name])
                note("client_random", ch[6:38], f"{ch_name}[6:38]")
                break
        if "server_hello" in v:
            sh = bytes.fromhex(v["server_hello"])
            note("server_random", sh[6:38], "server_hello[6:38]")
            note("cipher_suite", sh[39 + sh[38] : 41 + sh[38]], "server_hello cipher_suite")
        if "hello_retry_request" in v:
            hrr = bytes.fromhex(v["hello_retry_request"])
            note("hello_retry_request_random", hrr[6:38], "hello_retry_request[6:38]")
            exts = _exts(hrr)
            cookie = exts[44]
            note("cookie", cookie[2:], "hello_retry_request cookie extension (44), without its 2-octet length")
            note("hello_retry_request_selected_group", exts[51], "hello_retry_request key_share extension (51)")
        for party in ("server", "client"):
            name = f"{party}_certificate"
            if name in v:
                msg = bytes.fromhex(v[name])
                ctx_len = msg[4]
                i = 5 + ctx_len + 3
                cert_len = int.from_bytes(msg[i : i + 3], "big")
                note(f"{party}_certificate_der", msg[i + 3 : i + 3 + cert_len], f"{name}: first CertificateEntry")
            name = f"{party}_certificate_verify"
            if name in v:
                msg = bytes.fromhex(v[name])
                note(f"{party}_certificate_verify_algorithm", msg[4:6], f"{name}: SignatureScheme")
                note(f"{party}_certificate_verify_signature", msg[8:], f"{name}: signature")
        if "new_session_ticket" in v:
            nst = bytes.fromhex(v["new_session_ticket"])
            note("ticket_lifetime", nst[4:8], "new_session_ticket.ticket_lifetime (uint32, seconds)")
            note("ticket_age_add", nst[8:12], "new_session_ticket.ticket_age_add (uint32)")
            nl = nst[12]
            note("ticket_nonce", nst[13 : 13 + nl], "new_session_ticket.ticket_nonce")
            i = 13 + nl
            tl = int.from_bytes(nst[i : i + 2], "big")
            note("ticket", nst[i + 2 : i + 2 + tl], "new_session_ticket.ticket")
            i += 2 + tl
            note("new_session_ticket_extensions", nst[i + 2 :], "new_session_ticket.extensions (without length)")
        if "client_hello_prefix" in v and "client_hello_record_payload" in v:
            full = bytes.fromhex(v["client_hello_record_payload"])
            prefix = bytes.fromhex(v["client_hello_prefix"])
            note("client_hello", full, "client_hello_record_payload (complete ClientHello with binders)")
            note("binders", full[len(prefix) :], "client_hello_record_payload after client_hello_prefix")
            exts = _exts(full)
            psk = exts[41]
            ids_len = int.from_bytes(psk[0:2], "big")
            ident_len = int.from_bytes(psk[2:4], "big")
            note("psk_identity", psk[4 : 4 + ident_len], "client_hello pre_shared_key identity")
            note("obfuscated_ticket_age", psk[4 + ident_len : 8 + ident_len], "client_hello pre_shared_key identity")
            assert ids_len == ident_len + 6


def _exts(msg: bytes) -> dict[int, bytes]:
    """Extensions of a ClientHello / ServerHello handshake message, by type."""
    body = msg[4:]
    j = 2 + 32
    j += 1 + body[j]  # legacy_session_id(_echo)
    if msg[0] == 1:
        j += 2 + int.from_bytes(body[j : j + 2], "big")  # cipher_suites
        j += 1 + body[j]  # legacy_compression_methods
    else:
        j += 2 + 1  # cipher_suite, legacy_compression_method
    total = int.from_bytes(body[j : j + 2], "big")
    j += 2
    end = j + total
    out = {}
    while j < end:
        typ = int.from_bytes(body[j : j + 2], "big")
        ln = int.from_bytes(body[j + 2 : j + 4], "big")
        out[typ] = body[j + 4 : j + 4 + ln]
        j += 4 + ln
    return out


def render(elem: ET.Element) -> str:
    """Text of a prose element, with <xref>s written as the RFC text shows them."""
    parts = [elem.text or ""]
    for child in elem:
        if child.tag == "xref":
            target = child.get("target", "")
            anchors = {anchor: number for anchor, (_, number) in TRACES.items()}
            parts.append(f"Section {anchors[target]}" if target in anchors else f"[{target}]")
        else:
            parts.append(render(child))
        parts.append(child.tail or "")
    return "".join(parts)


def dump(doc: dict[str, Any]) -> str:
    """JSON with two-space indentation, but one line per step so the file diffs like the RFC reads."""
    steps = {}
    for key, trace in doc["traces"].items():
        steps[key] = trace["steps"]
        trace["steps"] = f"@@steps:{key}@@"
    text = json.dumps(doc, indent=2)
    for key, entries in steps.items():
        doc["traces"][key]["steps"] = entries
        lines = ",\n".join("        " + json.dumps(e) for e in entries)
        text = text.replace(f'"@@steps:{key}@@"', "[\n" + lines + "\n      ]")
    return text + "\n"


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    src = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) == 3 else HERE / "rfc8448.json"
    raw = src.read_bytes()
    root = ET.fromstring(raw)
    assert root.get("number") == "8448", "not the source of RFC 8448"

    rsa: dict[str, Any] = {}
    traces: dict[str, Any] = {}
    for section in root.iter("section"):
        anchor = section.get("anchor")
        if anchor == "private-keys":
            for item in section.iter("t"):
                label = item.get("hangText")
                if label:
                    m = LABEL_RE.match(label)
                    assert m
                    name = {"modulus_public": "modulus"}.get(slug(m.group("label")), slug(m.group("label")))
                    rsa[name] = "".join(norm(item.text).split())
            continue
        if anchor not in TRACES:
            continue
        key, number = TRACES[anchor]
        trace = Trace(key, number, section.get("title", ""), anchor)
        prose = [norm(render(t)) for t in section.findall("t") if t.find("list") is None]
        trace.data["description"] = " ".join(p for p in prose if p)
        for top in section.findall("t"):
            for lst in top.findall("list"):
                for st in lst.findall("t"):
                    head = st.get("hangText", "")
                    m = re.fullmatch(r"\{(client|server)\}", head)
                    if not m:
                        trace.data.setdefault("notes", []).append(f"{head} {norm(st.text)}")
                        continue
                    items = [it for sub in st.findall("list") for it in sub.findall("t")]
                    trace.add_step(m.group(1), norm(st.text), items)
        trace.extract()
        traces[key] = trace.data

    rsa_key = {
        "from": "RFC 8448 section 2 (Private Keys), labels as printed there ('modulus (public)' is 'modulus'); "
        "the server's RSA key in sections 3, 5 and 7 (section 4 resumes section 3)",
        **{
            k: rsa[k]
            for k in (
                "modulus",
                "public_exponent",
                "private_exponent",
                "prime1",
                "prime2",
                "exponent1",
                "exponent2",
                "coefficient",
            )
        },
        "cryptography_names": {
            "n": "modulus",
            "e": "public_exponent",
            "d": "private_exponent",
            "p": "prime1",
            "q": "prime2",
            "dmp1": "exponent1",
            "dmq1": "exponent2",
            "iqmp": "coefficient",
        },
    }
    doc = {
        "source": {
            "document": "RFC 8448, Example Handshake Traces for TLS 1.3 (M. Thomson, January 2019)",
            "url": "https://www.rfc-editor.org/rfc/rfc8448",
            "input": {
                "file": src.name,
                "sha256": hashlib.sha256(raw).hexdigest(),
                "what": "the RFC's xml2rfc source as agreed in AUTH48, the text the published RFC was rendered from",
                "obtained_from": SOURCE_NOTE,
            },
            "generator": "tests/vectors/gen_rfc8448.py",
            "checker": "tests/vectors/check_rfc8448.py",
            "cipher_suite": "TLS_AES_128_GCM_SHA256 in every trace",
            "hex": "lowercase, no separators; '' is the RFC's (empty)",
        },
        "server_rsa_key": rsa_key,
        "traces": traces,
    }
    out.write_text(dump(doc))
    for key, t in traces.items():
        print(f"{key}: {len(t['steps'])} values, {len(t['values'])} named, {len(t['extracted'])} extracted")


if __name__ == "__main__":
    main()
