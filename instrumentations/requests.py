"""requests: one CLIENT span per `Session.send` (every requests call goes through it;
redirects, which Session.send follows by calling itself, and urllib3's retries stay
inside it).

With `stream=True` the body is still on the wire when send returns: the span then
waits on the urllib3 response underneath (`response.raw`) and ends when that one
gives its connection back (`release_conn`, which urllib3 calls itself once the body
is read to the end), or is closed (`Response.close`, or io.IOBase's close when an
unread response is garbage-collected). These are the same two patches the urllib3
instrumentation makes; whichever spec is applied first owns them."""

from autotrace.spec import Instrumentation, Patch, Wrapper


def _describe(instance, args, kwargs):
    request = args[0] if args else kwargs["request"]
    return request.method, request.url, request.headers


def _response(response):
    raw = getattr(response, "raw", None)
    version = getattr(raw, "version", None)   # urllib3: 10, 11, 20
    protocol = {10: "1.0", 11: "1.1", 20: "2"}.get(version) if isinstance(version, int) else None
    return response.status_code, protocol


def _response_headers(response):
    return response.headers


def _still_open(response):
    # Without stream=True, send has read the body already (_content_consumed).
    if getattr(response, "_content_consumed", True):
        return False
    try:
        raw = response.raw
        # A urllib3 response with its body unread; a known empty body (204, HEAD,
        # Content-Length: 0) has nothing left to wait for.
        return not raw.isclosed() and getattr(raw, "length_remaining", None) != 0
    except Exception:   # a transport adapter of its own: end the span now
        return False


def _raw(response):
    return response.raw


SPEC = Instrumentation(
    name="requests",
    modules=("requests",),
    distribution="requests",
    supported=">=2.20,<3",
    description="HTTP client spans and outgoing trace context for requests",
    patches=(
        Patch("requests.sessions", "Session.send", Wrapper("_http.client", describe=_describe, response=_response,
                                                                   response_headers=_response_headers,
                                                                   still_open=_still_open, waits_on=_raw),
              plain=True),
        Patch("urllib3.response", "HTTPResponse.release_conn", Wrapper("_http.finish"), plain=True),
        Patch("urllib3.response", "HTTPResponse.close", Wrapper("_http.finish"), plain=True),
    ),
)
