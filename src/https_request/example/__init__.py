"""ESP-IDF's ``examples/protocols/https_request``: its configuration and data.

* :mod:`.config` reads the example's Kconfig options (``Kconfig`` in this
  package) from an sdkconfig file and ``--set NAME=VALUE`` overrides, with
  esp-idf-kconfig's kconfiglib, and checks every value.
* ``data/`` holds the certificates the example embeds in ESP-IDF: ISRG Root X1
  (``server_root_cert.pem``) and a self-signed local server certificate made
  like ESP-IDF's, with its (public, test-only) key.

Nothing heavy is imported here: the CLI imports this package.
"""

from __future__ import annotations

__all__: list[str] = []
