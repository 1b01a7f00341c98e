"""uvicorn: the SERVER span of every HTTP request and websocket connection uvicorn hands
to its ASGI app, whatever framework the app is built with (a framework's own
instrumentation then only names the route). `Config.load` builds the app stack in
every worker process (`--workers`, `--reload` start fresh interpreters, which
bootstrap autotrace again from the inherited environment)."""

from autotrace.spec import Instrumentation, Patch, Wrapper

SPEC = Instrumentation(
    name="uvicorn",
    modules=("uvicorn.config",),
    distribution="uvicorn",
    supported=">=0.20,<1",
    description="HTTP server spans for any ASGI app served by uvicorn",
    patches=(
        Patch("uvicorn.config", "Config.load", Wrapper("_asgi.server_app", attribute="loaded_app")),
    ),
)
