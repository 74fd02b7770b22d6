"""The servers bench/server.py measures ``https-request serve`` against, each run as its own process.

Every peer serves the same certificate and key (``cert.pem``/``key.pem`` in the bench's
temp dir), one TLS version per process (``1.3`` or ``1.2``), one suite per version
(:data:`SUITE13`, :data:`SUITE12`), x25519 only, and answers every request with the
bytes ``serve`` answered the load generator's request (``answer-<version>.http`` in the
temp dir, written by the bench before the peers start): the same status line and
body, ``Connection: close``. What each one is:

* ``stdlib``: :func:`serve_blocking`, an ``ssl.SSLContext`` server with one thread and
  blocking sockets: ``accept()``, ``wrap_socket()`` (the handshake), read the request
  head, ``sendall()`` the answer (serve's header lines, a fresh ``Date``), ``unwrap()``
  (close_notify, then the client's) and close; one log line per connection on stderr.
* ``uvicorn`` / ``uvicorn-fast``: :func:`serve_uvicorn`, uvicorn with a tiny ASGI app
  (no framework: ``http.response.start`` with serve's header lines but ``Date``, which
  uvicorn adds with its ``server`` header, then ``http.response.body``), its default
  access log (one line per request, sent to stderr), ``lifespan="off"``. ``uvicorn``:
  ``loop="asyncio"``, ``http="h11"``; ``uvicorn-fast``: ``loop="uvloop"``,
  ``http="httptools"``. The TLS context is uvicorn's own
  (``Config.ssl_context_factory`` calls its default factory) narrowed by
  :func:`narrow` as for ``stdlib``. The listening socket is made here with
  ``IPPROTO_TCP`` as its protocol and given to ``Server.run(sockets=...)``, so that
  asyncio sets TCP_NODELAY on the connections as on ``serve``'s (uvloop always does).
  Runs in the bench's own venv (``make bench-venv``).
* ``nginx``: :func:`nginx_conf`, Debian's nginx with a config of its own in the temp dir
  (``daemon off``, one ``worker_processes``, its pid, error log and temp paths there,
  a port chosen by the bench): ``ssl_protocols`` the one version, ``ssl_ciphers``
  :data:`SUITE12`, ``ssl_conf_command Ciphersuites`` :data:`SUITE13` and ``NumTickets``,
  ``ssl_ecdh_curve X25519``, session tickets on (nginx's own random keys, made before
  the worker forks), no session cache; ``keepalive_timeout 0`` (``Connection: close``);
  the body a static file (in a world-readable dir of its own: a worker started by root
  runs as ``nobody``) with serve's content type (``types {}``, ``default_type``) and its
  other headers through ``add_header`` (nginx adds ``Server``, ``Date`` and
  ``Last-Modified``); an access log line per request with version, suite, group and
  resumption.

``stdlib`` and ``uvicorn`` narrow their contexts the same way (:func:`narrow`): the one
version as minimum and maximum, ``set_ciphers(SUITE12)``, ``num_tickets`` (2 by
default, the number of TLS 1.3 tickets ``serve`` sends; nginx gets ``NumTickets``).
Python 3.11 cannot choose TLS 1.3 suites or groups, so their processes get
``OPENSSL_CONF`` naming :data:`OPENSSL_CNF` (``Ciphersuites`` and ``Groups``).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

__all__ = [
    "HOST",
    "MODES",
    "OPENSSL_CNF",
    "SUITE12",
    "SUITE12_IANA",
    "SUITE13",
    "VERSIONS",
    "listening_socket",
    "load_answer",
    "narrow",
    "nginx_conf",
    "serve_blocking",
    "serve_uvicorn",
]

HOST = "127.0.0.1"
VERSIONS = ("1.3", "1.2")
MODES = tuple(f"{v} {k}" for v in VERSIONS for k in ("full", "resumed"))  # what bench/server.py measures
SUITE13 = "TLS_AES_128_GCM_SHA256"
SUITE12 = "ECDHE-ECDSA-AES128-GCM-SHA256"  # OpenSSL's name
SUITE12_IANA = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
MAX_HEAD = 65536  # request head bytes a peer reads at most

OPENSSL_CNF = """\
# Written by bench/server.py: the TLS 1.3 suite and the group of the Python peers.
openssl_conf = openssl_init

[openssl_init]
ssl_conf = ssl_sect

[ssl_sect]
system_default = system_default_sect

[system_default_sect]
Ciphersuites = TLS_AES_128_GCM_SHA256
Groups = X25519
"""


def load_answer(folder: str | Path, version: str) -> tuple[list[tuple[str, str]], bytes]:
    """serve's answer for ``version`` (``answer-<version>.http``): its header lines and body.

    Raises ValueError when the file is not a ``200`` answer."""
    raw = Path(folder, f"answer-{version}.http").read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 200 "):
        raise ValueError(f"answer-{version}.http is no 200 answer: {lines[0]!r}")
    headers = [(k, v.strip()) for k, _, v in (ln.partition(":") for ln in lines[1:])]
    return headers, body


def narrow(ctx: Any, version: str, tickets: int) -> Any:
    """The bench's settings on a server ``ssl.SSLContext``: one version, its suite, ``tickets``."""
    import ssl

    v = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    ctx.set_ciphers(SUITE12)
    ctx.num_tickets = tickets
    return ctx


def listening_socket() -> socket.socket:
    """127.0.0.1, a free port, listening; protocol IPPROTO_TCP so that asyncio sets TCP_NODELAY."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(1024)
    return sock


def _log(line: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
    sys.stderr.flush()


# ---------------------------------------------------------------------- stdlib, blocking, one thread


def serve_blocking(folder: str, version: str, tickets: int) -> None:
    """The blocking one-thread server; prints ``listening: https://HOST:PORT/``. Runs until killed."""
    import ssl
    from email.utils import formatdate

    ctx = narrow(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), version, tickets)
    ctx.load_cert_chain(os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem"))
    headers, body = load_answer(folder, version)
    lines = [f"{k}: {v}\r\n".encode("latin-1") for k, v in headers]
    at = [k for k, _ in headers].index("Date")  # ValueError: serve always writes one
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(lines[:at]) + b"Date: "
    tail = b"\r\n" + b"".join(lines[at + 1 :]) + b"\r\n" + body

    sock = listening_socket()
    print(f"listening: https://{HOST}:{sock.getsockname()[1]}/", flush=True)
    while True:
        conn, peer = sock.accept()
        start = time.monotonic()
        fields = [f"worker=0 peer={peer[0]}:{peer[1]}"]
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(10)
            tls = ctx.wrap_socket(conn, server_side=True)
            fields.append(f"version={tls.version()} suite={tls.cipher()[0]} group=- "
                          f"resumed={'yes' if tls.session_reused else 'no'}")  # fmt: skip
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(MAX_HEAD)
                if not chunk or len(data) > MAX_HEAD:
                    raise EOFError("no complete request head")
                data += chunk
            method, target = data.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[:2]
            tls.sendall(head + formatdate(usegmt=True).encode() + tail)
            fields.append(f'request="{method} {target}" status=200')
            tls.unwrap()
        except (OSError, EOFError, ValueError) as exc:  # ssl.SSLError is an OSError
            fields.append(f'error="{type(exc).__name__}: {exc}"')
        finally:
            conn.close()
            fields.append(f"ms={(time.monotonic() - start) * 1000:.1f}")
            _log(" ".join(fields))


# ---------------------------------------------------------------------- uvicorn (the bench venv)


def serve_uvicorn(folder: str, version: str, tickets: int, fast: bool) -> None:
    """uvicorn with the bench's ASGI app; prints ``listening: https://HOST:PORT/``. Runs until SIGTERM."""
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    headers, body = load_answer(folder, version)
    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers if k != "Date"]
    start_msg = {"type": "http.response.start", "status": 200, "headers": raw_headers}
    body_msg = {"type": "http.response.body", "body": body}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await send(start_msg)
            await send(body_msg)

    def context(config: Any, default: Any) -> Any:
        return narrow(default(), version, tickets)

    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # stdout is the bench's pipe
    config = uvicorn.Config(
        app, lifespan="off", loop="uvloop" if fast else "asyncio", http="httptools" if fast else "h11",
        ssl_certfile=os.path.join(folder, "cert.pem"), ssl_keyfile=os.path.join(folder, "key.pem"),
        ssl_context_factory=context, log_config=log_config, use_colors=False, backlog=1024,
        timeout_graceful_shutdown=2,
    )  # fmt: skip
    sock = listening_socket()
    print(f"listening: https://{HOST}:{sock.getsockname()[1]}/", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


# ---------------------------------------------------------------------- nginx


def _nginx_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nginx_conf(folder: Path, www: Path, version: str, port: int, tickets: int) -> Path:
    """Write nginx's prefix dir (``folder/nginx-<version>``), its config and the body file
    (``www/<version>/index.html``); return the config's path. The access log is
    ``folder/nginx-<version>.log``."""
    prefix = folder / f"nginx-{version}"
    prefix.mkdir(exist_ok=True)
    headers, body = load_answer(folder, version)
    root = www / version
    root.mkdir(exist_ok=True)
    root.chmod(0o755)
    (root / "index.html").write_bytes(body)
    (root / "index.html").chmod(0o644)
    ctype = dict(headers).get("Content-Type", "text/html")
    skip = {"Date", "Content-Length", "Content-Type", "Connection"}  # nginx writes these itself
    add = "".join(f"            add_header {k} {_nginx_quote(v)} always;\n" for k, v in headers if k not in skip)
    temp = "".join(f"    {d}_temp_path {prefix / d};\n" for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = f"""\
# Written by bench/server.py: nginx for TLS {version} only, one worker, in its own prefix.
daemon off;
master_process on;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} notice;
events {{
    worker_connections 1024;
}}
http {{
    log_format bench 'worker=0 peer=$remote_addr:$remote_port version=$ssl_protocol suite=$ssl_cipher '
                     'group=$ssl_curve resumed=$ssl_session_reused request="$request_method $request_uri" '
                     'status=$status';
    access_log {folder / f"nginx-{version}.log"} bench;
{temp}    server_tokens off;
    keepalive_timeout 0;
    etag off;
    server {{
        listen {HOST}:{port} ssl backlog=1024;
        server_name localhost;
        ssl_certificate {folder / "cert.pem"};
        ssl_certificate_key {folder / "key.pem"};
        ssl_protocols TLSv{version};
        ssl_ciphers {SUITE12};
        ssl_conf_command Ciphersuites {SUITE13};
        ssl_conf_command NumTickets {tickets};
        ssl_ecdh_curve X25519;
        ssl_prefer_server_ciphers on;
        ssl_session_tickets on;
        ssl_session_cache off;
        root {root};
        location / {{
            types {{ }}
            default_type {_nginx_quote(ctype)};
            max_ranges 0;
            try_files /index.html =404;
{add}        }}
    }}
}}
"""
    path = prefix / "nginx.conf"
    path.write_text(conf)
    return path


def main(argv: list[str]) -> int:
    """``python bench/server_peers.py stdlib|uvicorn|uvicorn-fast DIR VERSION TICKETS``: run one peer
    (bench/server.py starts them; no argparse, so that a peer's RSS holds little of the bench's own)."""
    if len(argv) != 4 or argv[0] not in ("stdlib", "uvicorn", "uvicorn-fast") or argv[2] not in VERSIONS:
        print(main.__doc__, file=sys.stderr)
        return 2
    kind, folder, version, tickets = argv[0], argv[1], argv[2], int(argv[3])
    if kind == "stdlib":
        serve_blocking(folder, version, tickets)
    else:
        serve_uvicorn(folder, version, tickets, fast=kind == "uvicorn-fast")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
