"""wsgiref: the SERVER span of every request the standard library's WSGI server (and
servers built on its handlers, such as Django's runserver) hands to a WSGI app."""

from autotrace.spec import Instrumentation, Patch, Wrapper

SPEC = Instrumentation(
    name="wsgiref",
    modules=("wsgiref.handlers",),
    distribution="",
    supported="",
    description="HTTP server spans for any WSGI app run by wsgiref's handlers",
    patches=(
        Patch("wsgiref.handlers", "BaseHandler.run",
              Wrapper("_wsgi.app_argument", position=0, keyword="application")),
    ),
)
