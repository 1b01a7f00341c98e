"""FastAPI: the SERVER span of each request and websocket connection, named after the
route's template with the prefixes of `include_router` (`GET /v1/items/{item_id}`).

FastAPI is a Starlette subclass: the `starlette` spec names its Starlette routes and
mounts; this one makes the span around `FastAPI.__call__` (FastAPI's own entry point,
which runs before Starlette's) and names its API routes. A route of an included
router runs with FastAPI's "effective route context" in the scope, holding the
template with the prefixes; a route of the app itself is its own template.

FastAPI versions with native telemetry (`fastapi.telemetry`, 0.165 here) trace each
request themselves once a global tracer provider is set, and autotrace sets one. For
every request autotrace traces (or excludes) FastAPI is told to stand aside as it
tells the apps mounted under a request it excludes itself: `"fastapi.telemetry"` in
the scope. A request then has one SERVER span, ours (our conventions, redaction,
excluded URLs, public endpoint, traceresponse); FastAPI's operation spans, which hang
off its own span, are not made. With this instrumentation disabled FastAPI behaves
as it does without autotrace, and the `starlette` spec leaves FastAPI apps alone.
"""

from autotrace.instrumentations.starlette import PREFIX   # a spec too: nothing heavy
from autotrace.spec import Instrumentation, Patch, Wrapper


def _api_route(instance, args, kwargs):
    scope = args[0] if args else kwargs.get("scope")
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    if effective is None or getattr(effective, "original_route", None) is not instance:
        effective = instance
    return scope.get(PREFIX, "") + effective.path_format


def _stand_aside(scope):
    scope.setdefault("fastapi.telemetry", None)


SPEC = Instrumentation(
    name="fastapi",
    modules=("fastapi.applications",),
    distribution="fastapi",
    supported=">=0.100,<1",
    description="HTTP and websocket server spans for FastAPI apps, named by route",
    patches=(
        Patch("fastapi.applications", "FastAPI.__call__", Wrapper("_asgi.application", claim=_stand_aside)),
        Patch("fastapi.routing", "APIRoute.handle", Wrapper("_server.route", template=_api_route), plain=True),
    ),
)
