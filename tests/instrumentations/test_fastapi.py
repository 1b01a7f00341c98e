"""FastAPI through httpx's ASGI transport and the TestClient: one SERVER span per
request (FastAPI's own OpenTelemetry tracing stands aside for it), named by route
templates through include_router prefixes, nested routers and mounted apps."""

import asyncio
import sqlite3

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, BackgroundTasks, FastAPI, HTTPException, WebSocket
from fastapi.responses import StreamingResponse
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from starlette.testclient import TestClient

from http_checks import configure  # noqa: F401 (fixture)

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def make_app():
    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int):
        with trace.get_tracer("test").start_as_current_span("inside"):
            return {"id": item_id}

    @app.get("/boom")
    async def boom():
        raise RuntimeError("the endpoint failed")

    @app.get("/missing/{name}")
    def missing(name: str):
        raise HTTPException(404, "no " + name)

    @app.get("/healthz")
    def healthz():
        with trace.get_tracer("test").start_as_current_span("check"):
            return "ok"

    @app.get("/stream")
    def stream():
        return StreamingResponse(iter([b"a", b"b", b"c"]))

    inner = APIRouter(prefix="/inner")

    @inner.get("/things/{thing_id}")
    def thing(thing_id: str):
        return {"thing": thing_id}

    @inner.websocket("/live/{room}")
    async def live(websocket: WebSocket, room: str):
        await websocket.accept()
        await websocket.send_text("welcome to " + room)
        await websocket.close()

    users = APIRouter()

    @users.get("/users/{user_id}")
    def user(user_id: int):
        return {"user": user_id}

    users.include_router(inner, prefix="/deep")
    app.include_router(users, prefix="/v1")

    tenant = FastAPI()

    @tenant.get("/reports/{report_id}")
    def report(report_id: int):
        return {"report": report_id}

    app.mount("/tenants/{tenant}", tenant)
    return app


def get(app, path, method="GET", **kwargs):
    async def run():
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.local") as client:
            return await client.request(method, path, **kwargs)
    return asyncio.run(run())


def server_spans(finished):
    return [s for s in finished if s.kind == SpanKind.SERVER]


@pytest.fixture
def traced(instrument):
    instrument("starlette")
    instrument("fastapi")


def test_one_server_span_per_request_and_fastapi_stands_aside(traced, spans):
    response = get(make_app(), "/items/5?token=x", headers={"traceparent": PARENT})
    assert response.json() == {"id": 5}
    inside, server = spans()   # FastAPI's own server and operation spans are not made
    assert server.name == "GET /items/{item_id}" and server.kind == SpanKind.SERVER
    assert server.instrumentation_scope.name == "autotrace.instrumentations.fastapi"
    assert server.attributes["url.query"] == "token=REDACTED"
    assert server.parent.span_id == 0xb7ad6b7169203331
    assert inside.parent.span_id == server.context.span_id


def test_without_our_instrumentation_fastapi_traces_by_itself(instrument, spans):
    """The control: FastAPI's native tracing is on under this provider, and with the
    `fastapi` spec disabled (starlette still on) it is the only server span."""
    pytest.importorskip("fastapi.telemetry", reason="this FastAPI has no tracing of its own")
    instrument("starlette")
    assert get(make_app(), "/items/5").status_code == 200
    (server,) = server_spans(spans())
    assert server.instrumentation_scope.name == "fastapi" and server.name == "GET /items/{item_id}"
    assert any(s.name.startswith("fastapi.") for s in spans())   # its operation spans


@pytest.mark.parametrize("path, name", [
    ("/v1/users/3", "GET /v1/users/{user_id}"),
    ("/v1/deep/inner/things/t-1", "GET /v1/deep/inner/things/{thing_id}"),
    ("/tenants/acme/reports/9", "GET /tenants/{tenant}/reports/{report_id}"),
    ("/v1/users/not-a-number", "GET /v1/users/{user_id}"),   # 422: routed, then refused
    ("/items/1/nothing/here", "GET"),
])
def test_routes_are_named_by_their_full_templates(traced, spans, path, name):
    get(make_app(), path)
    (server,) = spans()
    assert server.name == name
    assert server.attributes.get("http.route") == (name.split(" ", 1)[1] if " " in name else None)


def test_the_405_of_a_route_keeps_its_name(traced, spans):
    assert get(make_app(), "/v1/users/3", method="POST").status_code == 405
    (server,) = spans()
    assert server.name == "POST /v1/users/{user_id}" and server.status.status_code == StatusCode.UNSET


def test_an_unhandled_exception_is_recorded_once_and_the_500_is_fastapis_own(instrument, spans):
    bare = get(make_app(), "/boom")
    untraced = len(spans())   # FastAPI's own spans of the bare call
    instrument("starlette")
    instrument("fastapi")
    response = get(make_app(), "/boom")
    assert (response.status_code, response.text) == (bare.status_code, bare.text) == (500, "Internal Server Error")
    (server,) = server_spans(spans()[untraced:])
    assert server.status.status_code == StatusCode.ERROR and server.attributes["error.type"] == "RuntimeError"
    assert [e.name for e in server.events] == ["exception"]


def test_http_exceptions_are_responses(traced, spans):
    response = get(make_app(), "/missing/x")
    assert (response.status_code, response.json()) == (404, {"detail": "no x"})
    (server,) = spans()
    assert server.name == "GET /missing/{name}" and server.events == ()
    assert server.status.status_code == StatusCode.UNSET


def test_streaming_and_background_tasks(instrument, spans):
    instrument("starlette")
    instrument("fastapi")
    instrument("sqlite3")
    app = make_app()

    def audit():
        with sqlite3.connect(":memory:") as connection:
            connection.execute("SELECT 1")

    @app.post("/orders")
    def order(tasks: BackgroundTasks):
        tasks.add_task(audit)
        return {"queued": True}

    assert get(app, "/stream").content == b"abc"
    assert get(app, "/orders", method="POST").json() == {"queued": True}
    stream, order_span = server_spans(spans())
    (query,) = [s for s in spans() if s.kind == SpanKind.CLIENT]
    assert stream.name == "GET /stream" and order_span.name == "POST /orders"
    assert query.parent.span_id == order_span.context.span_id and query.start_time >= order_span.end_time


def test_a_websocket_of_an_included_router_is_one_span(traced, spans):
    with TestClient(make_app()) as client:
        with client.websocket_connect("/v1/deep/inner/live/blue") as websocket:
            assert websocket.receive_text() == "welcome to blue"
    (server,) = spans()
    assert server.name == "WEBSOCKET /v1/deep/inner/live/{room}"
    assert server.attributes["http.response.status_code"] == 101


def test_fastapi_excluded_urls_get_no_span_from_anyone(configure, instrument, spans):
    configure(OTEL_PYTHON_FASTAPI_EXCLUDED_URLS="/healthz")
    instrument("starlette")
    instrument("fastapi")
    assert get(make_app(), "/healthz", headers={"traceparent": PARENT}).json() == "ok"
    (check,) = spans()   # not ours, and not FastAPI's own either
    assert check.name == "check" and check.parent.span_id == 0xb7ad6b7169203331


def test_under_uvicorn_there_is_still_one_server_span(instrument, spans):
    instrument("uvicorn")
    instrument("starlette")
    instrument("fastapi")
    config = uvicorn.Config(make_app(), lifespan="off", proxy_headers=False)
    config.load()
    assert get(config.loaded_app, "/v1/deep/inner/things/z").json() == {"thing": "z"}
    (server,) = spans()
    assert server.name == "GET /v1/deep/inner/things/{thing_id}"
    assert server.instrumentation_scope.name == "autotrace.instrumentations.uvicorn"
