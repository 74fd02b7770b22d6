"""``python -m https_request``: the same as the ``https-request`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
