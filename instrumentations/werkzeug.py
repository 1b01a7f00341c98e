"""werkzeug's development server (`run_simple`, `flask run`, `app.run()`, with or without
its reloader): the SERVER span of every request it hands to a WSGI app. With Flask
inside, Flask names the route."""

from autotrace.spec import Instrumentation, Patch, Wrapper

SPEC = Instrumentation(
    name="werkzeug",
    modules=("werkzeug.serving",),
    distribution="werkzeug",
    supported=">=2.0,<4",
    description="HTTP server spans for any WSGI app run by werkzeug's development server",
    patches=(
        Patch("werkzeug.serving", "BaseWSGIServer.__init__",
              Wrapper("_wsgi.app_argument", position=2, keyword="app")),
    ),
)
