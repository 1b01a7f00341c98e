"""A Starlette app for the server tests under uvicorn (the twin of shop_wsgi.py).

/items/{item_id:int}   answers with the worker's pid (which process served)
/greet/{name}          answers "hello <name>" (the same from every process: bad-input test)
/echo                  POST: reads the body, answers with its length
/work/{n:int}          awaits GET DOWNSTREAM_URL with httpx, then one PostgreSQL query (PG_DSN)
"""

import contextlib
import os

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def item(request):
    return PlainTextResponse("%d" % os.getpid())


async def greet(request):
    return PlainTextResponse("hello " + request.path_params["name"])


async def echo(request):
    return PlainTextResponse("%d bytes" % len(await request.body()))


async def work(request):
    n = request.path_params["n"]
    answer = (await request.app.state.http.get(os.environ["DOWNSTREAM_URL"] + "/echo/%d" % n)).text
    async with request.app.state.db.connection() as conn:
        (value,) = await (await conn.execute("SELECT %s::int AS n", (n,))).fetchone()
    return PlainTextResponse("%s %d" % (answer, value))


@contextlib.asynccontextmanager
async def lifespan(app):
    if "PG_DSN" not in os.environ:
        yield
        return
    import httpx
    from psycopg_pool import AsyncConnectionPool
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50)) as http:
        async with AsyncConnectionPool(os.environ["PG_DSN"], min_size=1, max_size=10) as db:
            app.state.http, app.state.db = http, db
            yield


class MarkReached:
    """Tells the bad-input test that the request reached the app (not the server's own error page)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def marked(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=list(message.get("headers", [])) + [(b"x-reached-app", b"yes")])
            await send(message)
        await self.app(scope, receive, marked)


routes = [Route("/items/{item_id:int}", item), Route("/greet/{name}", greet), Route("/echo", echo, methods=["POST"]),
          Route("/work/{n:int}", work)]
app = MarkReached(Starlette(routes=routes, lifespan=lifespan))
