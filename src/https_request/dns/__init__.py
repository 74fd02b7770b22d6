"""Name resolution: the stub resolver, destination address selection, NAT64
and Happy Eyeballs, one module each. Imports nothing, so that importing one
of them does not load dnspython (only ``resolver`` does)."""

from __future__ import annotations

__all__: list[str] = []
