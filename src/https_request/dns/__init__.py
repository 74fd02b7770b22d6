"""DNS for the client: destination address selection (``select``), NAT64
prefixes (``nat64``). Importing this package imports none of its modules
(and never dnspython): each is imported where it is used.
"""

from __future__ import annotations

__all__: list[str] = []
