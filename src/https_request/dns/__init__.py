"""Name resolution for the example's connections (issue 10): the stub resolver,
RFC 6724 destination selection, NAT64 prefixes and RFC 8305 Happy Eyeballs.

Importing the package is cheap: it imports none of its modules (and not
dnspython); each module is imported where it is used.
"""

__all__: list[str] = []
