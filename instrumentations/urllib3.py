"""urllib3 1.26 and 2.x: one CLIENT span per request the app makes, through a
`PoolManager` (and so `urllib3.request()`) or a pool directly. Retries and redirects
stay inside that one span: a pool retries and redirects by calling its own urlopen,
and a PoolManager follows a redirect by calling its own urlopen again, with a new
pool per host, so `PoolManager.urlopen` is patched too and the pools' spans under it
are suppressed. Every hop carries the one span's traceparent (PoolManager copies the
request headers to the next hop).

With `preload_content=False` the body is still on the wire when urlopen returns: the
span then ends when the response gives its connection back (`release_conn`, which
urllib3 calls itself once the body is read to the end) or is closed (`close`, which
io.IOBase also calls when an unread response is garbage-collected), so it covers the
body and never stays open for good."""

from autotrace.spec import Instrumentation, Patch, Wrapper

_PROTOCOLS = {10: "1.0", 11: "1.1", 20: "2"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _describe(instance, args, kwargs):
    method = args[0] if args else kwargs.get("method")
    url = str(args[1] if len(args) > 1 else kwargs.get("url", ""))
    if "://" not in url:   # a path on this pool's host (the usual case; absolute when proxied)
        host = "[%s]" % instance.host if ":" in instance.host else instance.host
        port = "" if instance.port in (None, _DEFAULT_PORTS.get(instance.scheme)) else ":%d" % instance.port
        url = "%s://%s%s%s" % (instance.scheme, host, port, url)
    if len(args) > 3:   # headers given by position: the app's own mapping for this call
        headers = args[3]
    else:   # a copy, so the pool's default headers never keep our trace headers
        given = kwargs.get("headers")
        headers = kwargs["headers"] = (instance.headers if given is None else given).copy()
    return method, url, headers


def _describe_manager(instance, args, kwargs):
    method = args[0] if args else kwargs.get("method")
    url = str(args[1] if len(args) > 1 else kwargs.get("url", ""))
    # A copy, so the manager's default headers never keep our trace headers;
    # PoolManager.urlopen itself sends its default headers when given none.
    given = kwargs.get("headers")
    headers = kwargs["headers"] = (instance.headers if given is None else given).copy()
    return method, url, headers


def _response(response):
    return response.status, _PROTOCOLS.get(getattr(response, "version", None))


def _response_headers(response):
    return response.headers


def _still_open(response):
    try:
        return not response.isclosed()   # the body is unread (preload_content=False)
    except Exception:   # a response class of its own: end the span now
        return False


SPEC = Instrumentation(
    name="urllib3",
    modules=("urllib3",),
    distribution="urllib3",
    supported=">=1.26,<3",
    description="HTTP client spans and outgoing trace context for urllib3 (PoolManager and pools)",
    patches=(
        Patch("urllib3.poolmanager", "PoolManager.urlopen",
              Wrapper("_http.client", describe=_describe_manager, response=_response,
                      response_headers=_response_headers, still_open=_still_open), plain=True),
        Patch("urllib3.connectionpool", "HTTPConnectionPool.urlopen",
              Wrapper("_http.client", describe=_describe, response=_response, response_headers=_response_headers,
                      still_open=_still_open), plain=True),
        Patch("urllib3.response", "HTTPResponse.release_conn", Wrapper("_http.finish"), plain=True),
        Patch("urllib3.response", "HTTPResponse.close", Wrapper("_http.finish"), plain=True),
    ),
)
