"""gunicorn: the SERVER span of every request a worker hands to its WSGI app, whatever
framework the app is built with (a framework's own instrumentation then only names
the route). Each worker is a forked process: it builds its own exporter (see
batching.py) and gets fresh random ids (Python reseeds `random` after fork)."""

from autotrace.spec import Instrumentation, Patch, Wrapper

SPEC = Instrumentation(
    name="gunicorn",
    modules=("gunicorn.workers.base",),
    distribution="gunicorn",
    supported=">=20,<30",
    description="HTTP server spans for any WSGI app served by gunicorn",
    patches=(
        Patch("gunicorn.workers.base", "Worker.load_wsgi", Wrapper("_wsgi.server_app", attribute="wsgi")),
    ),
)
