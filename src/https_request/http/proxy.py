"""HTTP proxies for ``get -x/--proxy``, as curl uses them.

* :func:`parse_proxy`: curl's proxy strings, ``[http://][user:password@]host[:port]``
  (port 1080 when none is given, as curl; the user and password are
  percent-decoded). Only ``http://`` proxies: other schemes (socks5://, https://)
  raise ValueError.
* :func:`choose`: which proxy a URL goes through. ``-x`` wins; without it the
  environment, as curl reads it: ``http_proxy`` (lower case only: a CGI program
  receives a client's ``Proxy:`` header as ``HTTP_PROXY``) for http:// URLs,
  ``https_proxy`` or ``HTTPS_PROXY`` for https://, then ``all_proxy`` /
  ``ALL_PROXY``. ``--noproxy LIST`` (else ``no_proxy`` / ``NO_PROXY``) names
  the hosts reached directly: ``*`` for all, a name matching itself and its
  subdomains (a leading dot ignored), an IP address itself, or a CIDR block.
* :func:`tunnel`: the HTTP CONNECT (RFC 9110 section 9.3.6) that opens a tunnel
  for an https:// URL, on a socket connected to the proxy, with
  ``Proxy-Authorization: Basic`` (RFC 7617) when the proxy URL has a user. A
  proxy's answer other than 2xx raises :class:`ProxyError` with its status line;
  a head larger than 64 KiB too. http:// URLs go to the proxy in absolute form
  (with :func:`authorization`'s header), no tunnel.

Imported only when a proxy is used (or the environment names one).
"""

from __future__ import annotations

import base64
import ipaddress
import re
import socket
import time
from collections.abc import Callable, Mapping

from ..structs import Struct

__all__ = ["MAX_HEAD", "Proxy", "ProxyError", "authorization", "choose", "parse_proxy", "tunnel"]

#: The most of a CONNECT answer's head read before giving up.
MAX_HEAD = 65536

_PROXY = re.compile(
    r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://)?(?:(?P<user>[^:@/]*)(?::(?P<password>[^@/]*))?@)?"
    r"(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:/?#\[\]@]+))(?::(?P<port>[0-9]{1,5}))?/?$"
)


class ProxyError(ConnectionError):
    """The proxy refused the tunnel, or answered something that is not HTTP."""


class Proxy(Struct):
    """An HTTP proxy: where it listens, and the credentials for it (None: none)."""

    host: str
    port: int
    user: str | None = None
    password: str | None = None

    def __str__(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"


def parse_proxy(text: str) -> Proxy:
    """curl's proxy string. Raises ValueError (in the user's terms) for anything else."""
    from urllib.parse import unquote

    m = _PROXY.match(text.strip())
    if m is None:
        raise ValueError(f"bad proxy {text!r}: expected [http://][USER:PASSWORD@]HOST[:PORT]")
    scheme = (m["scheme"] or "http").lower()
    if scheme != "http":
        raise ValueError(f"proxy {text!r}: only http:// proxies are supported, not {scheme}://")
    port = int(m["port"]) if m["port"] else 1080
    if not 0 < port <= 0xFFFF:
        raise ValueError(f"proxy {text!r}: port {port} out of range")
    user = unquote(m["user"]) if m["user"] is not None else None
    password = unquote(m["password"]) if m["password"] is not None else (None if user is None else "")
    return Proxy(host=m["ip6"] or m["host"], port=port, user=user, password=password)


def _bypassed(host: str, noproxy: str) -> bool:
    """Whether ``host`` is in a no_proxy list (see the module docstring)."""
    name = host.strip("[]").rstrip(".").lower()
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(name)
    except ValueError:
        address = None
    for raw in noproxy.split(","):
        entry = raw.strip().lower().strip("[]")
        if not entry:
            continue
        if entry == "*":
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry = entry.lstrip(".").rstrip(".")
        if name == entry or name.endswith("." + entry):
            return True
    return False


def choose(
    scheme: str, host: str, given: Proxy | None, noproxy: str | None, environ: Mapping[str, str]
) -> Proxy | None:
    """The proxy for a URL of ``scheme`` to ``host`` (see the module docstring), or None.

    ``given``: ``-x``'s; ``noproxy``: ``--noproxy``'s list (None: the environment's).
    Raises ValueError for an environment variable that is not a proxy string
    (naming the variable)."""
    skip = noproxy if noproxy is not None else (environ.get("no_proxy") or environ.get("NO_PROXY") or "")
    if skip and _bypassed(host, skip):
        return None
    if given is not None:
        return given
    names = ("http_proxy",) if scheme == "http" else ("https_proxy", "HTTPS_PROXY")
    for name in (*names, "all_proxy", "ALL_PROXY"):
        value = environ.get(name)
        if value:
            try:
                return parse_proxy(value)
            except ValueError as exc:
                raise ValueError(f"${name}: {exc}") from None
    return None


def authorization(proxy: Proxy) -> str | None:
    """The ``Proxy-Authorization`` value for ``proxy`` (Basic), or None without a user."""
    if proxy.user is None:
        return None
    token = f"{proxy.user}:{proxy.password or ''}".encode()
    return "Basic " + base64.b64encode(token).decode("ascii")


def tunnel(
    proxy: Proxy,
    host: str,
    port: int,
    user_agent: str | None,
    trace: Callable[[str, str], None] | None = None,
) -> Callable[[socket.socket, float], None]:
    """The CONNECT to ``host``:``port`` as :attr:`EspTlsCfg.tunnel <https_request.esp_tls.config.EspTlsCfg>`
    wants it: called with the socket connected to the proxy and the seconds it may
    take. ``trace(prefix, line)`` sees the request's (``>``) and the answer's (``<``)
    head lines, as ``curl -v`` shows them. The call raises ProxyError (refused, not
    HTTP, too large), TimeoutError, OSError."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    credentials = authorization(proxy)
    if credentials is not None:
        lines.append(f"Proxy-Authorization: {credentials}")
    if user_agent:
        lines.append(f"User-Agent: {user_agent}")
    lines.append("Proxy-Connection: Keep-Alive")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def connect(sock: socket.socket, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        if trace is not None:
            for line in lines:
                trace(">", line)
            trace(">", "")
        sock.settimeout(seconds)
        sock.sendall(request)
        head = bytearray()
        while b"\r\n\r\n" not in head:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to CONNECT from {proxy} in {seconds:.1f} s")
            sock.settimeout(left)
            chunk = sock.recv(4096)
            if not chunk:
                raise ProxyError(f"{proxy} closed the connection before answering CONNECT")
            head += chunk
            if len(head) > MAX_HEAD:
                raise ProxyError(f"{proxy}: CONNECT answer head over {MAX_HEAD} bytes")
        text = bytes(head[: head.index(b"\r\n\r\n")]).decode("latin-1")
        answer = text.split("\r\n")
        if trace is not None:
            for line in answer:
                trace("<", line)
            trace("<", "")
        status = re.match(r"HTTP/1\.[01] ([0-9]{3})(?: (.*))?$", answer[0])
        if status is None:
            raise ProxyError(f"{proxy} answered CONNECT with {answer[0][:80]!r}, not HTTP")
        if not status[1].startswith("2"):
            raise ProxyError(f"{proxy} refused CONNECT to {authority}: {status[1]} {status[2] or ''}".rstrip())

    return connect
