"""Which outgoing requests get a span, and which hosts get our trace headers.

Excluded URLs (`OTEL_PYTHON_EXCLUDED_URLS`, `OTEL_PYTHON_<LIB>_EXCLUDED_URLS`):
regular expressions searched anywhere in the full URL, as OpenTelemetry documents.

Propagate-to (`AUTOTRACE_PROPAGATE_TO`): host patterns where `*` (and `?`) are wildcards,
`*.internal`, `api.example.com`, `localhost:8080`. A pattern with a port matches
that host and port only; without one, any port. Empty means every host.

Both answers are cached per URL or host: a service calls the same few again and again.
"""

from urllib.parse import urlsplit

__all__ = ["UrlFilter", "HostFilter"]

_CACHE_LIMIT = 1024


class UrlFilter:
    """`excluded(url)`: True when any of the patterns is found in `url`."""

    __slots__ = ("patterns", "_cache")

    def __init__(self, patterns):
        import re
        self.patterns = tuple(re.compile(p) for p in patterns)
        self._cache = {}

    def __bool__(self):
        return bool(self.patterns)

    def excluded(self, url):
        found = self._cache.get(url)
        if found is None:
            found = any(p.search(url) for p in self.patterns)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[url] = found
        return found


class HostFilter:
    """`allows(url)`: True when trace headers may go to the host of `url`."""

    __slots__ = ("_with_port", "_without_port", "_cache", "everyone")

    def __init__(self, patterns):
        with_port = [p for p in patterns if ":" in p.rsplit("]", 1)[-1]]
        without_port = [p for p in patterns if p not in with_port]
        self._with_port = _compile(with_port)
        self._without_port = _compile(without_port)
        self._cache = {}
        self.everyone = not patterns or "*" in patterns

    def allows(self, url):
        if self.everyone:
            return True
        found = self._cache.get(url)
        if found is None:
            found = self._decide(url)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[url] = found
        return found

    def _decide(self, url):
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:   # unparsable: do not send our context there
            return False
        if not host:
            return False
        if ":" in host:
            host = "[%s]" % host   # IPv6, written as in URLs
        if self._without_port is not None and self._without_port.match(host):
            return True
        return self._with_port is not None and bool(self._with_port.match("%s:%s" % (host, port)))


def _compile(patterns):
    # Only * and ? are wildcards: "[::1]" is an IPv6 address, not a character class.
    import re
    if not patterns:
        return None
    alternatives = (re.escape(p.lower()).replace(r"\*", ".*").replace(r"\?", ".") for p in patterns)
    return re.compile("(?:%s)\\Z" % "|".join(alternatives))
