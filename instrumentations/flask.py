"""Flask: the SERVER span of each request, named after the matched URL rule
(`GET /users/<int:id>`).

The span comes from the WSGI layer around `Flask.wsgi_app` (or from the server's,
when gunicorn runs the app: the outermost layer makes it). The rule is known once
Flask has matched the request, just before `full_dispatch_request`; an exception
a view raises is recorded when Flask's `handle_exception` turns it into a 500.
"""

from autotrace.spec import Instrumentation, Patch, Wrapper


_request = None   # flask.request, once Flask is loaded (this spec must not import it)


_request_context = None   # flask.globals._cv_request (Flask >= 2.2), or False


def _rule(instance, args, kwargs):
    global _request, _request_context
    if _request_context is None:
        from flask import globals as flask_globals, request
        _request = request
        _request_context = getattr(flask_globals, "_cv_request", False)
    if _request_context:   # the request context's own variable: no LocalProxy layers
        context = _request_context.get(None)
        rule = context.request.url_rule if context is not None else None
    else:
        rule = _request.url_rule
    return rule.rule if rule is not None else None


def _exception(instance, args, kwargs):
    return args[0] if args else kwargs.get("e")


SPEC = Instrumentation(
    name="flask",
    modules=("flask",),
    distribution="flask",
    supported=">=2.0,<4",
    description="HTTP server spans for Flask apps, named by URL rule",
    patches=(
        Patch("flask.app", "Flask.wsgi_app", Wrapper("_wsgi.application"), plain=True),
        Patch("flask.app", "Flask.full_dispatch_request", Wrapper("_server.route", template=_rule), plain=True),
        Patch("flask.app", "Flask.handle_exception", Wrapper("_server.exception", exception=_exception),
              plain=True),
    ),
)
