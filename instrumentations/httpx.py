"""httpx: one CLIENT span per `Client.send` / `AsyncClient.send` (get, post, stream()...
all go through them; redirects followed inside send stay in its span). A streamed
response's span ends when the response is closed (read to the end, or `close()`)."""

from autotrace.spec import Instrumentation, Patch, Wrapper


def _describe(instance, args, kwargs):
    request = args[0] if args else kwargs["request"]
    return request.method, _url_text(request.url), request.headers


_TEXTS = {}   # an httpx URL's parsed form (a tuple, its str() is made of) -> that str()


def _url_text(url):
    # str() of an httpx URL joins its parts anew, about as costly as the rest of
    # describe; a service calls the same few URLs, and a tuple is found by value.
    parsed = getattr(url, "_uri_reference", None)
    if not isinstance(parsed, tuple):   # an httpx that stores its URL differently
        return str(url)
    try:
        text = _TEXTS.get(parsed)
    except TypeError:   # a part that cannot be hashed
        return str(url)
    if text is None:
        text = str(url)
        if len(_TEXTS) >= 1024:
            _TEXTS.clear()
        _TEXTS[parsed] = text
    return text


_PROTOCOLS = {"HTTP/1.0": "1.0", "HTTP/1.1": "1.1", "HTTP/2": "2", "HTTP/3": "3"}


def _response(response):
    version = response.http_version   # "HTTP/1.1", "HTTP/2"
    protocol = _PROTOCOLS.get(version)
    if protocol is None and version.startswith("HTTP/"):
        protocol = version[5:]
    return response.status_code, protocol


def _response_headers(response):
    return response.headers


def _still_open(response):
    return not response.is_closed


def _send(is_async=False):
    return Wrapper("_http.client", describe=_describe, response=_response, response_headers=_response_headers,
                   still_open=_still_open, is_async=is_async)


SPEC = Instrumentation(
    name="httpx",
    modules=("httpx",),
    distribution="httpx",
    supported=">=0.23,<1",
    description="HTTP client spans and outgoing trace context for httpx (sync, async, streaming)",
    patches=(
        Patch("httpx", "Client.send", _send(), plain=True),
        Patch("httpx", "AsyncClient.send", _send(is_async=True)),
        Patch("httpx", "Response.close", Wrapper("_http.finish"), plain=True),
        Patch("httpx", "Response.aclose", Wrapper("_http.finish", is_async=True)),
    ),
)
