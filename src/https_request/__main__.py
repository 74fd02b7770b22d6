"""``python -m https_request``: the same as the ``https-request`` command."""

from .cli import console_main

if __name__ == "__main__":
    console_main()
