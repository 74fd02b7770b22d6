"""Name resolution for the client: the stub resolver (``resolver``, with
lwIP's table and lines in ``lwip_log``), destination address selection
(``select``), NAT64 prefixes (``nat64``) and Happy Eyeballs (``happy``), one
module each. Importing this package imports none of them, so importing one
does not load dnspython (only ``resolver`` does).
"""

from __future__ import annotations

__all__: list[str] = []
