"""Keep secrets out of spans: credentials in URLs and sensitive query values.

`redact_url("https://bob:pw@host/p?token=abc&page=2")`
-> "https://REDACTED:REDACTED@host/p?token=REDACTED&page=2"

Results are cached per URL string: a service calls the same few URLs again and again.
"""

from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_url", "redact_query", "url_secrets", "scrub", "SENSITIVE_QUERY_PARAMS", "REDACTED"]

REDACTED = "REDACTED"
SENSITIVE_QUERY_PARAMS = frozenset(name.lower() for name in (
    "sig", "signature", "X-Amz-Signature", "X-Goog-Signature", "AWSAccessKeyId", "token",
    "access_token", "api_key", "apikey", "key", "password", "secret", "client_secret", "code",
))
_CACHE_LIMIT = 1024
_cache = {}


def redact_url(url, extra_params=frozenset()):
    """`url` with user:password and sensitive query values replaced by REDACTED.
    Never raises: a URL that cannot be parsed is reduced to its scheme and host, or
    to "REDACTED" when even that fails."""
    key = (url, extra_params)
    found = _cache.get(key)
    if found is not None:
        return found
    try:
        result = _redact(url, extra_params)
    except Exception:
        result = _fallback(url)
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()
    _cache[key] = result
    return result


def redact_query(query, extra_params=frozenset()):
    """A raw query string with sensitive values replaced; order and encoding kept."""
    if not query:
        return query
    sensitive = SENSITIVE_QUERY_PARAMS | extra_params if extra_params else SENSITIVE_QUERY_PARAMS
    parts = []
    for piece in query.split("&"):
        name, sep, _value = piece.partition("=")
        if sep and _decoded_lower(name) in sensitive:
            piece = name + "=" + REDACTED
        parts.append(piece)
    return "&".join(parts)


def _redact(url, extra_params):
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = (REDACTED + ":" + REDACTED if ":" in userinfo else REDACTED) + "@" + hostport
    query = redact_query(parts.query, frozenset(p.lower() for p in extra_params))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _decoded_lower(name):
    if "%" in name or "+" in name:
        from urllib.parse import unquote_plus
        name = unquote_plus(name)
    return name.lower()


def _fallback(url):
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        return "%s://%s/" % (parts.scheme, host) if parts.scheme and host else REDACTED
    except Exception:
        return REDACTED


def url_secrets(url, extra_params=frozenset()):
    """The secret strings inside `url` (password, sensitive query values), so that an
    exception message quoting the URL can be scrubbed before it is recorded."""
    try:
        parts = urlsplit(str(url))
    except Exception:
        return ()
    found = []
    if parts.password:
        found.append(parts.password)
    sensitive = SENSITIVE_QUERY_PARAMS | frozenset(p.lower() for p in extra_params)
    for piece in parts.query.split("&"):
        name, sep, value = piece.partition("=")
        if sep and value and _decoded_lower(name) in sensitive:
            found.append(value)
    return tuple(sorted(found, key=len, reverse=True))


def scrub(text, secrets):
    """`text` with every secret replaced by REDACTED."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text
