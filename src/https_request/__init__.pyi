"""Type checkers' view of the package: ``__init__.py`` imports the API's names
at first use (PEP 562) and, to stay light, not even ``typing``; here they are
the names of :mod:`https_request.api` and ``__version__``."""

from ._version import __version__ as __version__
from .api import *  # noqa: F403
