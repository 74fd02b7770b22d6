"""ESP-IDF's HTTPS Request example in Python.

An esp-tls-style HTTPS client over a sans-I/O TLS 1.3/1.2 engine built on
``cryptography``. Importing the package is cheap on purpose: nothing heavy
(``cryptography`` included) is imported here, so ``https-request --version``
starts fast. The public surface is re-exported here as it lands.
"""

from ._version import __version__

__all__ = ["__version__"]
