"""A howsmyssl.com-compatible ``/a/check``: what the server says about a client's TLS.

* :mod:`.rating`: sans-I/O. ``check(client_hello, negotiated_version=...,
  schema=..., now=...)`` turns the raw first ClientHello into the JSON object
  howsmyssl.com prints (classic 10-field schema or the 2026 one), and
  ``to_json`` prints it byte for byte as the real server does.
* :mod:`.tables`: the data behind it (insecure-suite lists, CBC ids, version,
  named-group and signature-scheme names, the 2026 cutover instants).

The cipher-suite names themselves are in :mod:`https_request.tls.catalogue`.
"""

__all__ = ["rating", "tables"]
