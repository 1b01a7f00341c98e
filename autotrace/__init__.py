"""autotrace: zero-code distributed tracing for Python, on OpenTelemetry.

This package is imported at interpreter startup by the bootstrap, so it must stay
empty: every submodule pulls in only what it needs.
"""

__version__ = "0.1.0"
