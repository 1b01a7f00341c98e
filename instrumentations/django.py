"""Django: the SERVER span of each request, named after the matched URL pattern
(`GET /users/<int:id>/`), with nothing added to settings.MIDDLEWARE.

The span comes from the WSGI or ASGI layer around Django's handler (or from the
server's, under gunicorn or uvicorn: the outermost layer makes it). Django's test
Client skips that layer (its handlers call `get_response` directly): when no outer
layer made a span, one is made around `get_response`. The route is known when
`resolve_request` returns; an exception a view raises is recorded when Django turns
it into a 5xx response. Settings are never read or configured here: every seam runs
inside a request, after the app has set Django up.
"""

from autotrace.spec import Instrumentation, Patch, Wrapper


def _route(match):
    """The route as the app sees the path: Django gives "users/<int:id>/" (the parts of
    include() joined) and we present "/users/<int:id>/"; a regular expression from
    re_path ("^articles/(?P<year>[0-9]{4})/$") stays as Django gives it."""
    route = getattr(match, "route", None)
    if not isinstance(route, str):
        return None
    return route if route.startswith("^") else "/" + route


SPEC = Instrumentation(
    name="django",
    # Every way into Django imports one of these (runserver and gunicorn the first,
    # uvicorn/daphne the second, django.test both); base and exception come with them.
    modules=("django.core.handlers.wsgi", "django.core.handlers.asgi"),
    distribution="django",
    supported=">=4.2,<7",
    description="HTTP server spans for Django apps, named by URL pattern",
    patches=(
        Patch("django.core.handlers.wsgi", "WSGIHandler.__call__", Wrapper("_wsgi.application")),
        # handle, not __call__: an async wrapper returns a coroutine even when called with
        # no arguments, and uvicorn probes `app()` for a TypeError to tell an app from a
        # factory. __call__ only refuses non-HTTP scopes, then awaits handle.
        Patch("django.core.handlers.asgi", "ASGIHandler.handle", Wrapper("_asgi.application")),
        Patch("django.core.handlers.base", "BaseHandler.get_response", Wrapper("_django.handler")),
        Patch("django.core.handlers.base", "BaseHandler.get_response_async",
              Wrapper("_django.handler", is_async=True)),
        Patch("django.core.handlers.base", "BaseHandler.resolve_request", Wrapper("_django.resolved", route=_route)),
        # Looked up by name at each call by convert_exception_to_response's wrappers.
        Patch("django.core.handlers.exception", "response_for_exception", Wrapper("_django.converted_exception")),
    ),
)
