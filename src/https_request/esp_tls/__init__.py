"""An esp-tls-style layer over the TLS engine: configuration, errors, the certificate bundle."""

__all__: list[str] = []
