"""aiohttp's web server: real servers on 127.0.0.1 (AppRunner + TCPSite on port 0, in
the test's event loop), called by a real client (aiohttp's, or a raw socket)."""

import asyncio
import logging
import time

import aiohttp
import pytest
from aiohttp import web
from opentelemetry.trace import SpanKind, StatusCode

from http_checks import configure, traceparent_ids  # noqa: F401 (fixture)

CALLER_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CALLER_SPAN = 0x00F067AA0BA902B7
CALLER = "00-%032x-%016x-01" % (CALLER_TRACE, CALLER_SPAN)


@pytest.fixture
def traced(instrument):
    instrument("aiohttp_server")


def servers(spans):
    return [s for s in spans() if s.kind == SpanKind.SERVER]


async def item(request):
    return web.Response(text="item %s" % request.match_info["id"], headers={"X-Served-By": "items"})


def text_view(text):
    async def view(request):
        return web.Response(text=text)
    return view


def make_app(**views):
    """Plain, dynamic, regex and sub-app routes, plus `path=view` extras ("/" + name)."""
    app = web.Application()
    app.router.add_get("/", text_view("home"))
    app.router.add_get("/items/{id}", item)
    app.router.add_get(r"/files/{name:.+\.txt}", text_view("file"))
    users = web.Application()
    users.router.add_get("/users/{uid}", text_view("user"))
    app.add_subapp("/api/v1", users)
    for name, view in views.items():
        app.router.add_get("/" + name, view)
    return app


async def started(app, **runner_options):
    """(runner, base URL) of `app` served on a free loopback port."""
    runner = web.AppRunner(app, **runner_options)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, "http://127.0.0.1:%d" % site._server.sockets[0].getsockname()[1]


def serve(app, scenario, **runner_options):
    """Run `scenario(base_url)` against `app` and return its result."""
    async def main():
        runner, base = await started(app, **runner_options)
        try:
            return await scenario(base)
        finally:
            await runner.cleanup()
    return asyncio.run(main())


async def fetch(base, path, headers=None):
    """(status, body, response headers) of one GET."""
    async with aiohttp.ClientSession() as session:
        async with session.get(base + path, headers=headers or {}, allow_redirects=False) as response:
            return response.status, await response.text(), response.headers.copy()


def test_route_templates_and_request_attributes(traced, spans):
    paths = ["/", "/items/42?page=2", "/files/a/b.txt", "/api/v1/users/7"]

    async def scenario(base):
        return base, [await fetch(base, path, {"User-Agent": "probe/1"}) for path in paths]

    base, answers = serve(make_app(), scenario)
    assert [status for status, _, _ in answers] == [200] * 4
    finished = servers(spans)
    assert [s.name for s in finished] == ["GET /", "GET /items/{id}", "GET /files/{name}", "GET /api/v1/users/{uid}"]
    assert [s.attributes["http.route"] for s in finished] == ["/", "/items/{id}", "/files/{name}", "/api/v1/users/{uid}"]
    attributes = dict(finished[1].attributes)
    port = int(base.rsplit(":", 1)[1])
    assert attributes == {
        "http.request.method": "GET", "url.scheme": "http", "url.path": "/items/42", "url.query": "page=2",
        "server.address": "127.0.0.1", "server.port": port, "client.address": "127.0.0.1",
        "user_agent.original": "probe/1", "network.protocol.version": "1.1",
        "http.response.status_code": 200, "http.route": "/items/{id}",
    }
    assert all(s.parent is None and s.status.status_code == StatusCode.UNSET for s in finished)


def test_incoming_traceparent_continues_the_trace(traced, spans):
    # any spelling: aiohttp keeps the client's, and our getter reads its CIMultiDictProxy
    serve(make_app(), lambda base: fetch(base, "/items/1", {"TraceParent": CALLER}))
    (span,) = servers(spans)
    assert span.context.trace_id == CALLER_TRACE
    assert span.parent.span_id == CALLER_SPAN and span.parent.is_remote


def test_client_call_in_the_handler_is_a_child_of_the_server_span(instrument, spans):
    instrument("aiohttp_server")
    instrument("aiohttp_client")

    where = {}

    async def hop(request):   # calls this same server: the context must be current here
        async with aiohttp.ClientSession() as session:
            async with session.get(where["base"] + "/items/9") as response:
                return web.Response(text="hop " + await response.text())

    async def scenario(base):
        where["base"] = base
        return await fetch(base, "/hop")

    app = make_app(hop=hop)
    status, body, _ = serve(app, scenario)
    assert (status, body) == (200, "hop item 9")
    by_name = {s.name: s for s in spans()}
    assert set(by_name) == {"GET", "GET /hop", "GET /items/{id}"}   # GET: the two client spans
    outer_client, inner_client = sorted((s for s in spans() if s.kind == SpanKind.CLIENT),
                                        key=lambda s: s.start_time)
    hop_span, leaf = by_name["GET /hop"], by_name["GET /items/{id}"]
    assert hop_span.parent.span_id == outer_client.context.span_id
    assert inner_client.parent.span_id == hop_span.context.span_id
    assert leaf.parent.span_id == inner_client.context.span_id
    assert len({s.context.trace_id for s in spans()}) == 1


def test_http_exceptions_are_responses(traced, spans):
    async def moved(request):
        raise web.HTTPFound("/")

    async def broken(request):
        raise web.HTTPInternalServerError()

    async def scenario(base):
        return [(await fetch(base, path))[0] for path in ("/nope", "/moved", "/broken")]

    assert serve(make_app(moved=moved, broken=broken), scenario) == [404, 302, 500]
    missing, redirect, failed = servers(spans)
    assert missing.name == "GET" and "http.route" not in missing.attributes   # no route: never the raw path
    assert missing.attributes["http.response.status_code"] == 404
    assert redirect.name == "GET /moved" and redirect.attributes["http.response.status_code"] == 302
    for span in (missing, redirect):
        assert span.status.status_code == StatusCode.UNSET and "error.type" not in span.attributes
    assert failed.name == "GET /broken" and failed.attributes["http.response.status_code"] == 500
    assert failed.attributes["error.type"] == "500" and failed.status.status_code == StatusCode.ERROR
    assert failed.events == ()   # an HTTP 500 the view chose, not an exception


def test_an_exception_is_recorded_and_aiohttp_answers_as_without_us(instrument, spans, caplog):
    raised = []

    async def boom(request):
        raised.append(ValueError("no such order"))
        raise raised[-1]

    async def scenario(base):
        return await fetch(base, "/boom")

    with caplog.at_level(logging.ERROR, logger="aiohttp.server"):
        bare = serve(make_app(boom=boom), scenario)
        instrument("aiohttp_server")
        ours = serve(make_app(boom=boom), scenario)
    assert ours[0] == bare[0] == 500 and ours[1] == bare[1]
    assert ours[2]["Content-Type"] == bare[2]["Content-Type"]
    # aiohttp logged the very exception the view raised, both times
    logged = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert logged == raised and logged[0] is not logged[1]
    (span,) = servers(spans)
    assert span.name == "GET /boom" and span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "ValueError" and span.attributes["http.response.status_code"] == 500
    (event,) = span.events
    assert event.name == "exception" and event.attributes["exception.message"] == "no such order"


def test_query_values_are_redacted(traced, spans):
    serve(make_app(), lambda base: fetch(base, "/items/1?token=s3cret&page=2&api_key=k&q=%20a"))
    (span,) = servers(spans)
    assert span.attributes["url.query"] == "token=REDACTED&page=2&api_key=REDACTED&q=%20a"
    assert "s3cret" not in str(dict(span.attributes))


def test_excluded_url_has_no_span_and_keeps_the_callers_context(configure, instrument, spans):
    configure(OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS="/health$")
    instrument("aiohttp_server")
    instrument("aiohttp_client")

    where = {}

    async def health(request):   # an excluded request's calls still join the caller's trace
        async with aiohttp.ClientSession() as session:
            async with session.get(where["base"] + "/items/2") as response:
                return web.Response(text=await response.text())

    async def scenario(base):
        where["base"] = base
        return await fetch(base, "/health")   # from a traced client: the caller

    assert serve(make_app(health=health), scenario)[:2] == (200, "item 2")
    caller, inner = sorted((s for s in spans() if s.kind == SpanKind.CLIENT), key=lambda s: s.start_time)
    (server,) = servers(spans)
    assert server.name == "GET /items/{id}"   # the only server span: /health has none
    assert caller.parent is None and inner.parent.span_id == caller.context.span_id
    assert server.parent.span_id == inner.context.span_id


def test_websocket_connection_is_one_span(traced, spans):
    async def echo(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str("echo " + message.data)
        return ws

    async def scenario(base):
        replies = []
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(base + "/ws?room=1") as ws:
                for text in ("a", "b", "c"):
                    await ws.send_str(text)
                    replies.append(await ws.receive_str())
        return replies

    assert serve(make_app(ws=echo), scenario) == ["echo a", "echo b", "echo c"]
    (span,) = servers(spans)
    assert span.name == "WEBSOCKET /ws"
    assert span.attributes["network.protocol.name"] == "websocket" and span.attributes["url.scheme"] == "ws"
    assert span.attributes["http.response.status_code"] == 101 and span.attributes["url.query"] == "room=1"
    assert span.status.status_code == StatusCode.UNSET


def test_a_streamed_response_ends_the_span_after_its_last_chunk(traced, spans):
    written = []

    async def stream(request):
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        for chunk in (b"one ", b"two ", b"three"):
            await response.write(chunk)
            written.append(time.time_ns())
        await response.write_eof()
        return response

    status, body, _ = serve(make_app(stream=stream), lambda base: fetch(base, "/stream"))
    assert (status, body) == (200, "one two three")
    (span,) = servers(spans)
    assert span.name == "GET /stream" and span.attributes["http.response.status_code"] == 200
    assert span.end_time >= written[-1]


def test_traceresponse_and_captured_headers_on_every_kind_of_response(configure, instrument, spans):
    configure(AUTOTRACE_TRACERESPONSE="true",
              OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST="x-request-id,authorization",
              OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE="x-served-by")
    instrument("aiohttp_server")

    async def stream(request):
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"streamed")
        return response

    async def boom(request):
        raise ValueError("boom")

    async def scenario(base):
        headers = {"X-Request-Id": "r-1", "Authorization": "Bearer secret"}
        return [await fetch(base, path, headers) for path in ("/items/5", "/stream", "/nope", "/boom")]

    answers = serve(make_app(stream=stream, boom=boom), scenario)
    assert [status for status, _, _ in answers] == [200, 200, 404, 500]
    finished = servers(spans)
    for (_, _, headers), span in zip(answers, finished):
        assert traceparent_ids(headers["traceresponse"]) == (span.context.trace_id, span.context.span_id)
        assert span.attributes["http.request.header.x-request-id"] == ("r-1",)
        assert span.attributes["http.request.header.authorization"] == ("REDACTED",)
    assert finished[0].attributes["http.response.header.x-served-by"] == ("items",)
    assert "http.response.header.x-served-by" not in finished[1].attributes


def test_a_client_gone_mid_body_still_ends_the_span(traced, spans):
    reading = asyncio.Event()
    seen = []

    async def upload(request):
        reading.set()
        try:
            return web.Response(text="%d bytes" % len(await request.read()))
        except ConnectionError as exc:
            seen.append(exc)
            raise

    async def scenario(base):
        host, port = base[len("http://"):].split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n0123456789")
        await writer.drain()
        await asyncio.wait_for(reading.wait(), 30)
        writer.close()   # 990 bytes short
        for _ in range(1000):   # bounded: until aiohttp has finished with the request
            if servers(spans):
                break
            await asyncio.sleep(0.01)

    app = web.Application()
    app.router.add_post("/upload", upload)
    serve(app, scenario)
    (span,) = servers(spans)
    assert span.name == "POST /upload" and span.attributes["server.port"] == 80   # Host without a port
    assert isinstance(seen[0], ConnectionError)
    assert span.attributes["error.type"] == type(seen[0]).__name__ and span.status.status_code == StatusCode.ERROR


def test_runner_set_up_before_patching_and_low_level_server(instrument, spans):
    async def low_level(request):
        return web.Response(text="low " + request.path)

    async def main():
        runner, base = await started(make_app())   # the server holds app._handle from here on
        instrument("aiohttp_server")
        server = web.Server(low_level)
        low_runner = web.ServerRunner(server)
        await low_runner.setup()
        site = web.TCPSite(low_runner, "127.0.0.1", 0)
        await site.start()
        low_base = "http://127.0.0.1:%d" % site._server.sockets[0].getsockname()[1]
        try:
            return await fetch(base, "/items/3"), await fetch(low_base, "/anything?x=1")
        finally:
            await runner.cleanup()
            await low_runner.cleanup()

    app_answer, low_answer = asyncio.run(main())
    assert app_answer[:2] == (200, "item 3") and low_answer[:2] == (200, "low /anything")
    routed, low = servers(spans)
    assert routed.name == "GET /items/{id}"
    assert low.name == "GET" and low.attributes["url.path"] == "/anything" and low.attributes["url.query"] == "x=1"
