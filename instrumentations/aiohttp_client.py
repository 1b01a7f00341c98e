"""aiohttp's client: one CLIENT span per `ClientSession._request` (get, post, request,
`async with session.get(...)`; redirects followed inside it stay in its span). The span
ends when the status and headers have arrived, as aiohttp returns the response then."""

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


SPEC = Instrumentation(
    name="aiohttp_client",
    modules=("aiohttp",),
    distribution="aiohttp",
    supported=">=3.8,<4",
    description="HTTP client spans and outgoing trace context for aiohttp.ClientSession",
    patches=(
        Patch("aiohttp", "ClientSession._request", Wrapper("_http.client", describe=_describe, response=_response,
                                                           response_headers=_response_headers, is_async=True)),
    ),
)
