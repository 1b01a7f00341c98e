"""aiohttp's client: one CLIENT span per `ClientSession._request` (get, post, request,
`async with session.get(...)`; redirects followed inside it stay in its span).

aiohttp returns the response when the status and headers have arrived; the span goes
on until the body has (`_response_eof`, aiohttp's own end-of-payload callback), or the
app gives the response up first (`release`, which `async with` calls, or `close`), or
drops it unread (`__del__`). A body that arrived with the headers ends it at once."""

from autotrace.spec import Instrumentation, Patch, Wrapper


def _describe(instance, args, kwargs):
    from multidict import CIMultiDict   # aiohttp's own dependency; loaded with it

    method = args[0] if args else kwargs.get("method")
    url = args[1] if len(args) > 1 else kwargs.get("str_or_url")
    try:   # as aiohttp will: the session's base_url, then params
        url = instance._build_url(url)
        if kwargs.get("params"):
            url = url.extend_query(kwargs["params"])
    except Exception:   # aiohttp raises its own error for this URL in a moment; keep the text
        url = str(url)
    headers = kwargs["headers"] = CIMultiDict(kwargs.get("headers") or ())   # ours: the app's stays untouched
    return method, str(url), headers


def _response(response):
    version = response.version
    return response.status, ("%d.%d" % (version.major, version.minor) if version else None)


def _response_headers(response):
    return response.headers


def _still_open(response):
    return not response.closed


SPEC = Instrumentation(
    name="aiohttp_client",
    modules=("aiohttp",),
    distribution="aiohttp",
    supported=">=3.8,<4",
    description="HTTP client spans and outgoing trace context for aiohttp.ClientSession",
    patches=(
        Patch("aiohttp", "ClientSession._request", Wrapper("_http.client", describe=_describe, response=_response,
                                                           response_headers=_response_headers, still_open=_still_open,
                                                           is_async=True)),
        Patch("aiohttp.client_reqrep", "ClientResponse._response_eof", Wrapper("_http.finish")),
        Patch("aiohttp.client_reqrep", "ClientResponse.release", Wrapper("_http.finish")),
        Patch("aiohttp.client_reqrep", "ClientResponse.close", Wrapper("_http.finish")),
        Patch("aiohttp.client_reqrep", "ClientResponse.__del__", Wrapper("_http.finish")),
    ),
)
