"""aiohttp's ClientSession against a real aiohttp server on 127.0.0.1."""

import asyncio
import gc
import time

import aiohttp
import pytest
from aiohttp import web
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from http_checks import assert_carried, assert_covers_body


@pytest.fixture
def traced(instrument):
    instrument("aiohttp_client")


def serve_and_run(scenario):
    """Start an aiohttp server on a free port, run `scenario(base_url, received)`,
    return (its result, the headers of each request the server received)."""
    received = []

    async def record(request):
        received.append(request.headers.copy())
        status = int(request.query.get("status", "200"))
        if request.path == "/slow":
            await asyncio.sleep(1)
        if request.path == "/stream":   # headers now, then 4 chunks 0.1 s apart
            response = web.StreamResponse(headers={"X-Served-By": "test"})
            await response.prepare(request)
            for _ in range(4):
                await asyncio.sleep(0.1)
                await response.write(b"x" * 1000)
            await response.write_eof()
            return response
        return web.Response(text="ok", status=status, headers={"X-Served-By": "test"})

    async def main():
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            return await scenario("http://127.0.0.1:%d" % port)
        finally:
            await runner.cleanup()

    return asyncio.run(main()), received


def test_get_is_one_span_carried_to_the_server(traced, spans):
    async def scenario(base):
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/items", params={"page": "2", "apikey": "k"},
                                   headers={"X-Mine": "1"}) as response:
                return response.status, await response.text()

    (status, text), received = serve_and_run(scenario)
    assert (status, text) == (200, "ok")
    (span,) = spans()
    assert span.name == "GET" and span.kind == SpanKind.CLIENT
    attributes = dict(span.attributes)
    assert attributes["url.full"].endswith("/items?page=2&apikey=REDACTED")
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["http.response.status_code"] == 200
    assert attributes["network.protocol.version"] == "1.1"
    assert_carried(span, received[0]["traceparent"])
    assert received[0]["X-Mine"] == "1"


def test_base_url_status_errors_and_nesting(traced, spans):
    async def scenario(base):
        with trace.get_tracer("test").start_as_current_span("job") as job:
            async with aiohttp.ClientSession(base_url=base) as session:
                async with session.post("/fail?status=500", data=b"x") as response:
                    return job, response.status

    (job, status), received = serve_and_run(scenario)
    assert status == 500
    client, parent = spans()
    assert client.name == "POST" and client.parent.span_id == job.context.span_id
    assert client.attributes["url.full"].endswith("/fail?status=500")
    assert client.attributes["error.type"] == "500" and client.status.status_code == StatusCode.ERROR
    assert_carried(client, received[0]["traceparent"])


def test_refused_and_timeout_reach_the_app_unchanged(traced, spans):
    async def scenario(base):
        caught = []
        async with aiohttp.ClientSession() as session:
            for url, timeout in (("http://127.0.0.1:9/", 5), (base + "/slow", 0.1)):
                try:
                    await session.get(url, timeout=aiohttp.ClientTimeout(total=timeout))
                except Exception as exc:
                    caught.append(exc)
        return caught

    (refused, timed_out), _ = serve_and_run(scenario)
    assert isinstance(refused, aiohttp.ClientConnectorError)
    assert isinstance(timed_out, asyncio.TimeoutError)
    first, second = spans()
    assert first.attributes["error.type"] == "%s.%s" % (type(refused).__module__, type(refused).__qualname__)
    assert second.attributes["error.type"] == "TimeoutError"
    assert first.status.status_code == second.status.status_code == StatusCode.ERROR


def test_a_streamed_body_keeps_the_span_open_until_it_has_arrived(traced, spans):
    async def scenario(base):
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/stream") as response:
                headers_at = time.time_ns()
                open_then = len(spans())
                body = b"".join([chunk async for chunk in response.content.iter_chunked(100)])
                read_at = time.time_ns()
                closed_by_then = len(spans())
        return headers_at, open_then, body, read_at, closed_by_then

    (headers_at, open_then, body, read_at, closed_by_then), received = serve_and_run(scenario)
    assert len(body) == 4000
    assert (open_then, closed_by_then) == (0, 1)   # ended by the body's end, before the `async with` did
    (span,) = spans()
    assert_covers_body(span, headers_at, read_at, 0.3)
    assert span.attributes["http.response.status_code"] == 200
    assert_carried(span, received[0]["traceparent"])


def test_a_response_released_or_closed_unread_ends_its_span_there(traced, spans):
    async def scenario(base):
        ended = []
        async with aiohttp.ClientSession() as session:
            for end in ("release", "close"):
                response = await session.get(base + "/stream")
                before = len(spans())
                getattr(response, end)()
                ended.append((before, len(spans()), time.time_ns()))
        return ended

    ended, _ = serve_and_run(scenario)
    assert [counts[:2] for counts in ended] == [(0, 1), (1, 2)]
    for span, (_, _, given_up_at) in zip(spans(), ended):
        assert span.end_time <= given_up_at   # then, not when the body would have ended
        assert span.attributes["http.response.status_code"] == 200


def test_a_response_dropped_unread_ends_its_span_when_collected(traced, spans):
    async def scenario(base):
        async with aiohttp.ClientSession() as session:
            response = await session.get(base + "/stream")
            open_then = len(spans())
            del response
        gc.collect()   # the connection (and its reference to the response) is gone with the session
        return open_then, len(spans())

    (open_then, after), _ = serve_and_run(scenario)
    assert (open_then, after) == (0, 1)
