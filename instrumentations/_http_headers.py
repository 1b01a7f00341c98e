"""Recording chosen HTTP headers as span attributes, only when the user asks for them.

`OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST/_RESPONSE` name the
headers (case-insensitive); each becomes `http.request.header.<lowercase name>` (or
`http.response.header.`) with the list of its values, as the conventions say.
Values of `..._SANITIZE_FIELDS` and of the credentials below are recorded as
REDACTED, whatever the configuration: a captured Authorization header must not
turn a trace into a password store.
"""

from autotrace.redaction import REDACTED

__all__ = ["HeaderCapture", "ALWAYS_REDACTED"]

ALWAYS_REDACTED = frozenset(("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"))


class HeaderCapture:
    __slots__ = ("wanted", "prefix", "redacted")

    def __init__(self, names, prefix, sanitize=()):
        self.wanted = frozenset(name.lower() for name in names)
        self.prefix = prefix
        self.redacted = ALWAYS_REDACTED | frozenset(name.lower() for name in sanitize)

    def __bool__(self):
        return bool(self.wanted)

    def attributes(self, headers):
        """{attribute: (value, ...)} for the wanted headers present in `headers`, a
        mapping or multi-mapping of any of the clients, or a list of (name, value)
        pairs (one pass over its items)."""
        if headers is None:
            return {}
        found = {}
        for key, value in _pairs(headers):
            name = _text(key).lower()
            if name in self.wanted:
                found.setdefault(name, []).append(REDACTED if name in self.redacted else _text(value))
        return {self.prefix + name: tuple(values) for name, values in found.items()}


def _pairs(headers):
    if isinstance(headers, (list, tuple)):   # ASGI and WSGI response headers: (name, value) pairs
        return headers
    # Multi-mappings list a repeated header once per value through these methods.
    multi_items = getattr(headers, "multi_items", None)   # httpx
    if multi_items is not None:
        return multi_items()
    return headers.items()   # dict, requests, urllib3, aiohttp's CIMultiDict, http.client's HTTPMessage


def _text(value):
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)
