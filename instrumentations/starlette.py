"""Starlette: the SERVER span of each request and websocket connection, named after the
matched route's template (`GET /items/{item_id}`, `WEBSOCKET /ws/{room}`).

The span comes from the ASGI layer around `Starlette.__call__` (or from the server's,
when uvicorn runs the app: the outermost layer makes it). FastAPI apps are left to
the `fastapi` spec, which also names their own routes; the Starlette routes, mounts
and websocket routes inside them are named here.

Starlette's router calls `handle` on the route it matched (the path-matching one
for a 405, which keeps its name). A `Mount` adds its template to a prefix kept in
the scope, which its app's router shares: a route under `Mount("/users/{uid}")` is
named `/users/{uid}/posts`, and a mounted app without routes (static files)
`/static/{path}`. No match (404) leaves the name `{METHOD}`. An unhandled exception
is re-raised by ServerErrorMiddleware after its 500, and recorded by the ASGI layer.
"""

from autotrace.spec import Instrumentation, Patch, Wrapper

PREFIX = "autotrace.route_prefix"   # the templates of the mounts matched so far


def _route(instance, args, kwargs):
    scope = args[0] if args else kwargs.get("scope")
    return scope.get(PREFIX, "") + instance.path_format


def _mount(instance, args, kwargs):
    scope = args[0] if args else kwargs.get("scope")
    own = instance.path_format   # the mount's path + "/{path}"
    own = own[:-len("/{path}")] if own.endswith("/{path}") else own
    prefix = scope[PREFIX] = scope.get(PREFIX, "") + own
    return prefix + "/{path}"


_FASTAPI_TYPES = {}   # type -> whether it is a FastAPI app (asked on every request)


def _is_fastapi(instance):
    kind = type(instance)
    found = _FASTAPI_TYPES.get(kind)
    if found is None:
        found = _FASTAPI_TYPES[kind] = any(cls.__module__ == "fastapi.applications" for cls in kind.__mro__)
    return found


SPEC = Instrumentation(
    name="starlette",
    modules=("starlette.applications",),
    distribution="starlette",
    supported=">=0.27,<2",
    description="HTTP and websocket server spans for Starlette apps, named by route",
    patches=(
        Patch("starlette.applications", "Starlette.__call__", Wrapper("_asgi.application", skip=_is_fastapi)),
        Patch("starlette.routing", "Route.handle", Wrapper("_server.route", template=_route), plain=True),
        Patch("starlette.routing", "WebSocketRoute.handle", Wrapper("_server.route", template=_route), plain=True),
        Patch("starlette.routing", "Mount.handle", Wrapper("_server.route", template=_mount), plain=True),
    ),
)
