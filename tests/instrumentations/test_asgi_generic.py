"""The generic ASGI layer, as uvicorn loads it (Config.load), around plain ASGI apps:
called directly with a scope and message queues, so every edge of the protocol
(streaming, disconnects, websockets, lifespan) is driven exactly."""

import asyncio

import pytest
import uvicorn
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from http_checks import configure  # noqa: F401 (fixture)


def http_scope(path="/items/1", query=b"", headers=()):
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode("utf-8", "surrogateescape"), "query_string": query, "root_path": "",
            "headers": [(b"host", b"api.local:8000")] + list(headers),
            "client": ("10.1.2.3", 50000), "server": ("127.0.0.1", 8000)}


def loaded(app):
    config = uvicorn.Config(app, lifespan="off", proxy_headers=False)
    config.load()
    return config.loaded_app


def call(app, scope, incoming=({"type": "http.request", "body": b"", "more_body": False},)):
    """Run one request; returns the messages the app sent."""
    sent = []

    async def run():
        queue = list(incoming)

        async def receive():
            if queue:
                return queue.pop(0)
            await asyncio.sleep(0)
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        await app(scope, receive, send)

    asyncio.run(run())
    return sent


async def hello(scope, receive, send):
    if scope["type"] != "http":
        return
    with trace.get_tracer("test").start_as_current_span("work"):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture
def traced(instrument):
    instrument("uvicorn")


def test_one_server_span_per_request_with_the_work_inside(traced, spans):
    sent = call(loaded(hello), http_scope(query=b"q=1&api_key=k",
                                          headers=[(b"user-agent", b"probe"), (b"traceparent",
                                                   b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    server, work = spans()   # the server span ends with the last body message, before the handler returns
    assert server.kind == SpanKind.SERVER and server.name == "GET"   # no framework: no route
    assert work.parent.span_id == server.context.span_id
    assert server.parent.span_id == 0xb7ad6b7169203331
    assert dict(server.attributes) == {
        "http.request.method": "GET", "url.scheme": "http", "url.path": "/items/1", "url.query": "q=1&api_key=REDACTED",
        "server.address": "api.local", "server.port": 8000, "client.address": "10.1.2.3",
        "user_agent.original": "probe", "network.protocol.version": "1.1", "http.response.status_code": 200,
    }


def test_a_streamed_body_ends_the_span_at_its_last_chunk(traced, spans):
    seen_open = []

    async def streaming(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(3):
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            seen_open.append(len(spans()))
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        seen_open.append(len(spans()))

    call(loaded(streaming), http_scope())
    assert seen_open == [0, 0, 0, 1]


def test_a_client_that_goes_away_still_ends_the_span(traced, spans):
    async def waits_for_body(scope, receive, send):
        message = await receive()
        while message["type"] == "http.request" and message.get("more_body"):
            message = await receive()
        # the client disconnected mid-body: the app gives up without answering

    call(loaded(waits_for_body), http_scope(),
         incoming=[{"type": "http.request", "body": b"x" * 10, "more_body": True}])
    (server,) = spans()
    assert server.end_time is not None and "http.response.status_code" not in server.attributes


def test_an_exception_is_recorded_and_reaches_the_server_as_the_same_object(traced, spans):
    error = RuntimeError("handler broke")

    async def broken(scope, receive, send):
        raise error

    with pytest.raises(RuntimeError) as caught:
        call(loaded(broken), http_scope())
    assert caught.value is error
    (server,) = spans()
    assert server.status.status_code == StatusCode.ERROR and server.attributes["error.type"] == "RuntimeError"
    assert server.events[0].attributes["exception.message"] == "handler broke"


def test_a_websocket_connection_is_one_span(traced, spans):
    async def echo(scope, receive, send):
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": message["text"]})

    scope = dict(http_scope(path="/ws"), type="websocket", scheme="ws")
    del scope["method"]
    sent = call(loaded(echo), scope, incoming=[
        {"type": "websocket.connect"}, {"type": "websocket.receive", "text": "a"},
        {"type": "websocket.receive", "text": "b"}, {"type": "websocket.disconnect", "code": 1000}])
    assert [m.get("text") for m in sent] == [None, "a", "b"]
    (server,) = spans()
    assert server.name == "WEBSOCKET" and server.attributes["url.scheme"] == "ws"
    assert server.attributes["http.response.status_code"] == 101
    assert "http.request.method" not in server.attributes


def test_lifespan_passes_through_without_a_span(traced, spans):
    events = []

    async def app(scope, receive, send):
        events.append(scope["type"])

    call(loaded(app), {"type": "lifespan", "asgi": {"version": "3.0"}}, incoming=[])
    assert events == ["lifespan"] and spans() == []


def test_traceresponse_is_added_to_the_response_headers(configure, instrument, spans):
    configure(AUTOTRACE_TRACERESPONSE="true")
    instrument("uvicorn")
    sent = call(loaded(hello), http_scope())
    headers = dict(sent[0]["headers"])
    server = [s for s in spans() if s.kind == SpanKind.SERVER][0]
    context = server.context
    assert headers[b"traceresponse"] == ("00-%032x-%016x-%02x" % (context.trace_id, context.span_id,
                                                                  context.trace_flags)).encode()
    assert context.trace_flags & 0x01   # sampled
    assert headers[b"content-type"] == b"text/plain"


def test_hostile_scopes_never_raise_from_our_code(traced, spans):
    weird = http_scope(path="/caf\udce9", query=b"\xff\xfe=%zz&token=\xff",
                       headers=[(b"traceparent", b"\xff\xff"), (b"user-agent", b"\xc3\x28"),
                                (b"x-big", b"v" * 70_000)])
    weird["raw_path"] = b"/caf\xe9/%zz"
    weird["client"] = None
    weird["server"] = None
    call(loaded(hello), weird)
    server = [s for s in spans() if s.kind == SpanKind.SERVER][0]
    assert server.attributes["url.path"] == "/caf\xe9/%zz" and server.parent is None
    assert server.attributes["url.query"] == "\xff\xfe=%zz&token=REDACTED"
    assert server.attributes["http.response.status_code"] == 200


def test_an_instrumented_asgi_app_still_fails_at_once_when_called_without_arguments(traced, spans):
    # uvicorn calls app() to tell an ASGI app from an app factory: the TypeError must
    # come at the call, as without autotrace, not later from an awaited coroutine.
    import wrapt
    from autotrace.instrumentations import _asgi
    from autotrace.patching import guard

    class App:
        async def __call__(self, scope, receive, send):
            await hello(scope, receive, send)

    wrapped = wrapt.FunctionWrapper(App(), guard(_asgi.application("uvicorn"), "uvicorn"))
    with pytest.raises(TypeError):
        wrapped()
    call(wrapped, http_scope())
    assert sorted(s.kind.name for s in spans()) == ["INTERNAL", "SERVER"]


def test_request_headers_are_captured_from_the_raw_pairs(configure, instrument, spans):
    configure(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST="x-request-id,cookie")
    instrument("uvicorn")
    call(loaded(hello), http_scope(headers=[(b"x-request-id", b"a"), (b"x-request-id", b"b"),
                                            (b"cookie", b"session=s3cr3t")]))
    server = [s for s in spans() if s.kind == SpanKind.SERVER][0]
    assert server.attributes["http.request.header.x-request-id"] == ("a", "b")
    assert server.attributes["http.request.header.cookie"] == ("REDACTED",)


def test_two_traceparent_headers_start_a_new_trace(traced, spans):
    call(loaded(hello), http_scope(headers=[
        (b"traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        (b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]))
    server = [s for s in spans() if s.kind == SpanKind.SERVER][0]
    assert server.parent is None
