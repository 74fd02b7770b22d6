"""``https-request serve``: a howsmyssl.com-compatible HTTPS server on our own TLS engine.

* :mod:`.serve_cli`: the ``serve`` subcommand (options, settings, what SIGHUP
  reloads). Light at import time: the CLI imports it to register the subcommand.
* :mod:`.supervisor`: running the workers: one in-process, or N forked ones
  restarted when they die; SIGTERM/SIGINT and SIGHUP.
* :mod:`.tls_server`: the asyncio accept loop (handshake timeout, admission
  limits, refusals logged as a rate, one log line per connection, graceful close).
* :mod:`.app`: routing and HTTP/1.x (h11 parses, responses are built as Go's
  net/http writes them): ``/a/check``, ``/``, ``/tls``, the redirects and the
  ESP-IDF local-server answer.
* :mod:`.identity`: the local CA and server certificate in the state folder.
* :mod:`.keys` / :mod:`.replay`: ticket keys and 0-RTT anti-replay shared
  between worker processes through files.
"""

__all__: list[str] = []
