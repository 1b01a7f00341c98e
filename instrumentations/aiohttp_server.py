"""aiohttp's web server: one SERVER span per request, named by the matched resource
(`GET /items/{id}`, sub-app prefixes included), for every app and low-level
`web.Server`, whenever its runner was set up. The span covers the view and the
sending of the response; a websocket connection is one span. An exception the view
raises is recorded where aiohttp turns it into its 500 page (`handle_error`); a raised
`web.HTTPException` is a response like any other (404 is not an error, 5xx is).
See _aiohttp_server.py for the patch points."""

from autotrace.spec import Instrumentation, Patch, Wrapper


def _exception(instance, args, kwargs):
    return args[2] if len(args) > 2 else kwargs.get("exc")   # handle_error(request, status, exc)


SPEC = Instrumentation(
    name="aiohttp_server",
    modules=("aiohttp.web_protocol",),   # not `aiohttp`: client-only apps never load the server
    distribution="aiohttp",
    supported=">=3.8,<4",
    description="HTTP server spans for aiohttp.web apps, named by resource",
    patches=(
        Patch("aiohttp.web_protocol", "RequestHandler._handle_request", Wrapper("_aiohttp_server.request")),
        Patch("aiohttp.web_protocol", "RequestHandler.handle_error", Wrapper("_server.exception", exception=_exception)),
        Patch("aiohttp.web_response", "StreamResponse.prepare", Wrapper("_aiohttp_server.response")),
    ),
)
