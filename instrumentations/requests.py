"""requests: one CLIENT span per `Session.send` (every requests call goes through it)."""

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


SPEC = Instrumentation(
    name="requests",
    modules=("requests",),
    distribution="requests",
    supported=">=2.20,<3",
    description="HTTP client spans and outgoing trace context for requests",
    patches=(
        Patch("requests.sessions", "Session.send", Wrapper("_http.client", describe=_describe, response=_response,
                                                                   response_headers=_response_headers)),
    ),
)
