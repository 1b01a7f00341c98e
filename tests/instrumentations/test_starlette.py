"""Starlette through httpx's ASGI transport and Starlette's TestClient (both call
`Starlette.__call__`): route templates through mounts, 404/405, exceptions and the
500 ServerErrorMiddleware sends, streaming, background tasks, websockets."""

import asyncio
import sqlite3

import httpx
import pytest
import uvicorn
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from http_checks import configure  # noqa: F401 (fixture)

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def item(request):
    with trace.get_tracer("test").start_as_current_span("inside"):
        return PlainTextResponse("item %s" % request.path_params["item_id"])


async def boom(request):
    raise RuntimeError("the endpoint failed")


async def teapot(request):
    raise HTTPException(418)


async def unavailable(request):
    raise HTTPException(503, "down for maintenance")


async def post(request):
    return PlainTextResponse("post %(uid)s/%(pid)s" % request.path_params)


async def echo(websocket):
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text("%s: %s" % (websocket.path_params["room"], text))


async def static_files(scope, receive, send):   # a mounted ASGI app without routes
    await PlainTextResponse("file " + scope["path"])(scope, receive, send)


def make_app(**options):
    return Starlette(routes=[
        Route("/items/{item_id:int}", item),
        Route("/boom", boom),
        Route("/teapot", teapot),
        Route("/unavailable", unavailable),
        Mount("/users/{uid}", routes=[Mount("/posts", routes=[Route("/{pid}", post)])]),
        Mount("/static", app=static_files),
        WebSocketRoute("/ws/{room}", echo),
    ], **options)


def get(app, path, method="GET", **kwargs):
    async def run():
        transport = httpx.ASGITransport(app, raise_app_exceptions=False, client=("10.0.0.9", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.local:8080") as client:
            return await client.request(method, path, **kwargs)
    return asyncio.run(run())


@pytest.fixture
def traced(instrument):
    instrument("starlette")


def test_a_request_is_one_server_span_named_by_the_route_template(traced, spans):
    response = get(make_app(), "/items/42?q=1&token=t", headers={"traceparent": PARENT, "User-Agent": "probe"})
    assert response.text == "item 42"
    inside, server = spans()
    assert server.name == "GET /items/{item_id}" and server.kind == SpanKind.SERVER
    assert server.instrumentation_scope.name == "autotrace.instrumentations.starlette"
    assert inside.parent.span_id == server.context.span_id
    assert server.parent.span_id == 0xb7ad6b7169203331
    assert dict(server.attributes) == {
        "http.request.method": "GET", "url.scheme": "http", "url.path": "/items/42",
        "url.query": "q=1&token=REDACTED", "server.address": "shop.local", "server.port": 8080,
        "client.address": "10.0.0.9", "user_agent.original": "probe", "network.protocol.version": "1.1",
        "http.route": "/items/{item_id}", "http.response.status_code": 200,
    }


def test_routes_under_mounts_are_named_by_the_joined_templates(traced, spans):
    assert get(make_app(), "/users/7/posts/99").text == "post 7/99"
    assert get(make_app(), "/static/css/site.css").text == "file /static/css/site.css"
    nested, static = spans()
    assert nested.name == "GET /users/{uid}/posts/{pid}"
    assert nested.attributes["http.route"] == "/users/{uid}/posts/{pid}"
    assert static.name == "GET /static/{path}"   # the mount's own template: its app has no routes


def test_unmatched_paths_are_named_by_the_method_and_405_keeps_the_route(traced, spans):
    assert get(make_app(), "/no/such/page/12345").status_code == 404
    assert get(make_app(), "/items/1", method="DELETE").status_code == 405
    missing, not_allowed = spans()
    assert missing.name == "GET" and "http.route" not in missing.attributes
    assert not_allowed.name == "DELETE /items/{item_id}"   # the path matched a route; its methods did not
    for span in (missing, not_allowed):
        assert span.status.status_code == StatusCode.UNSET and "error.type" not in span.attributes


def test_an_unhandled_exception_is_recorded_and_the_500_is_starlettes_own(instrument, spans):
    bare = get(make_app(), "/boom")
    instrument("starlette")
    response = get(make_app(), "/boom")
    assert (response.status_code, response.text) == (bare.status_code, bare.text) == (500, "Internal Server Error")
    (server,) = spans()
    assert server.name == "GET /boom" and server.status.status_code == StatusCode.ERROR
    assert server.attributes["error.type"] == "RuntimeError"
    assert server.attributes["http.response.status_code"] == 500
    (event,) = server.events
    assert event.name == "exception" and event.attributes["exception.message"] == "the endpoint failed"


def test_the_server_receives_the_same_exception_object(traced, spans):
    raised = []

    async def raising(request):
        raised.append(KeyError("original"))
        raise raised[0]

    app = Starlette(routes=[Route("/raise", raising)])
    with pytest.raises(KeyError) as caught:   # ServerErrorMiddleware re-raises after its 500
        with TestClient(app) as client:
            client.get("/raise")
    assert caught.value is raised[0]
    (server,) = spans()
    assert server.attributes["error.type"] == "KeyError" and server.events[0].name == "exception"


def test_a_custom_500_handler_still_gets_the_exception_recorded(traced, spans):
    async def handler(request, exc):
        return PlainTextResponse("sorry", status_code=500)

    response = get(make_app(exception_handlers={Exception: handler}), "/boom")
    assert (response.status_code, response.text) == (500, "sorry")
    (server,) = spans()
    assert server.attributes["error.type"] == "RuntimeError" and len(server.events) == 1


def test_http_exceptions_are_responses_not_exceptions(traced, spans):
    assert get(make_app(), "/teapot").status_code == 418
    assert get(make_app(), "/unavailable").text == "down for maintenance"
    teapot, unavailable = spans()
    assert teapot.status.status_code == StatusCode.UNSET and teapot.events == ()
    assert unavailable.status.status_code == StatusCode.ERROR and unavailable.events == ()
    assert unavailable.attributes["error.type"] == "503"   # the status, no exception class


def asgi_call(app, path, disconnect_after=None):
    """Drive the app as a server would; the client goes away once it has received
    `disconnect_after` body chunks. Returns the body chunks sent."""
    chunks = []

    async def run():
        gone = asyncio.Event()
        requested = []

        async def receive():
            if not requested:
                requested.append(True)
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.body" and message.get("body"):
                chunks.append(message["body"])
                if disconnect_after is not None and len(chunks) >= disconnect_after:
                    gone.set()

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "root_path": "", "headers": [(b"host", b"stream.local")], "client": None, "server": None}
        await app(scope, receive, send)

    asyncio.run(run())
    return chunks


def streaming_app(spans, seen_open, endless=False):
    async def chunks():
        for i in range(10 ** 6 if endless else 3):
            seen_open.append(len(spans()))
            yield b"chunk %d\n" % i
            await asyncio.sleep(0)

    async def stream(request):
        return StreamingResponse(chunks())

    return Starlette(routes=[Route("/stream/{name}", stream)])


def test_a_streamed_response_ends_its_span_after_the_last_chunk(traced, spans):
    seen_open = []
    assert asgi_call(streaming_app(spans, seen_open), "/stream/a") == [b"chunk 0\n", b"chunk 1\n", b"chunk 2\n"]
    assert seen_open == [0, 0, 0]   # still open while the chunks were produced
    (server,) = spans()
    assert server.name == "GET /stream/{name}" and server.attributes["http.response.status_code"] == 200


def test_a_client_leaving_mid_stream_still_ends_the_span(traced, spans):
    seen_open = []
    chunks = asgi_call(streaming_app(spans, seen_open, endless=True), "/stream/b", disconnect_after=2)
    assert 2 <= len(chunks) < 10 ** 6   # Starlette stopped streaming when the client left
    (server,) = spans()
    assert server.name == "GET /stream/{name}" and server.end_time is not None


def test_a_background_task_runs_after_the_span_ended_and_inside_its_trace(instrument, spans):
    instrument("starlette")
    instrument("sqlite3")
    ran = []

    def cleanup():
        ran.append(len([s for s in spans() if s.kind == SpanKind.SERVER]))
        with sqlite3.connect(":memory:") as connection:
            connection.execute("SELECT 1")

    async def order(request):
        return PlainTextResponse("queued", background=BackgroundTask(cleanup))

    assert get(Starlette(routes=[Route("/orders", order, methods=["POST"])]), "/orders", method="POST").text == "queued"
    assert ran == [1]   # the response was complete, and its span ended, before the task ran
    server = [s for s in spans() if s.kind == SpanKind.SERVER][0]
    query = [s for s in spans() if s.kind == SpanKind.CLIENT][0]
    assert server.name == "POST /orders"
    assert query.parent.span_id == server.context.span_id and query.start_time >= server.end_time


def test_a_websocket_connection_is_one_span_named_by_its_route(traced, spans):
    with TestClient(make_app()) as client:
        with client.websocket_connect("/ws/lobby?token=abc") as websocket:
            websocket.send_text("hi")
            assert websocket.receive_text() == "lobby: hi"
            websocket.send_text("again")
            assert websocket.receive_text() == "lobby: again"
    (server,) = spans()
    assert server.name == "WEBSOCKET /ws/{room}" and server.kind == SpanKind.SERVER
    assert server.attributes["http.route"] == "/ws/{room}" and server.attributes["url.query"] == "token=REDACTED"
    assert server.attributes["http.response.status_code"] == 101


def test_excluded_urls_have_no_span_but_keep_the_incoming_context(configure, instrument, spans):
    configure(OTEL_PYTHON_STARLETTE_EXCLUDED_URLS="/items/1$")
    instrument("starlette")
    assert get(make_app(), "/items/1", headers={"traceparent": PARENT}).text == "item 1"
    (inside,) = spans()
    assert inside.name == "inside" and inside.parent.span_id == 0xb7ad6b7169203331


def test_under_uvicorn_its_layer_makes_the_span_and_starlette_names_it(instrument, spans):
    instrument("uvicorn")
    instrument("starlette")
    config = uvicorn.Config(make_app(), lifespan="off", proxy_headers=False)
    config.load()
    assert get(config.loaded_app, "/users/1/posts/2").text == "post 1/2"
    (server,) = spans()
    assert server.name == "GET /users/{uid}/posts/{pid}"
    assert server.instrumentation_scope.name == "autotrace.instrumentations.uvicorn"


def test_a_client_closing_normally_is_not_an_error_even_when_starlette_raises_it(traced, spans):
    async def chat(websocket):   # the common loop: WebSocketDisconnect escapes when the client leaves
        await websocket.accept()
        while True:
            await websocket.send_text("echo " + await websocket.receive_text())

    async def broken(websocket):
        await websocket.accept()
        await websocket.receive_text()
        raise ValueError("the handler failed")

    app = Starlette(routes=[WebSocketRoute("/chat", chat), WebSocketRoute("/broken", broken)])
    with TestClient(app) as client:
        with pytest.raises(WebSocketDisconnect):   # as without autotrace: the app let it out
            with client.websocket_connect("/chat") as websocket:
                websocket.send_text("hi")
                assert websocket.receive_text() == "echo hi"
        with pytest.raises(ValueError):
            with client.websocket_connect("/broken") as websocket:
                websocket.send_text("hi")
                websocket.receive_text()
    chat_span, broken_span = spans()
    assert chat_span.name == "WEBSOCKET /chat" and chat_span.status.status_code == StatusCode.UNSET
    assert chat_span.events == () and "error.type" not in chat_span.attributes
    assert broken_span.status.status_code == StatusCode.ERROR and broken_span.attributes["error.type"] == "ValueError"
