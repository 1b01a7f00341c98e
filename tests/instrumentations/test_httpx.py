"""httpx, sync and async, against a real local HTTP server."""

import asyncio

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from http_checks import assert_carried


@pytest.fixture
def traced(instrument):
    instrument("httpx")


def test_client_get_is_one_span_carried_to_the_server(traced, spans, httpserver):
    httpserver.expect_request("/items").respond_with_data("ok")
    with httpx.Client() as client:
        response = client.get(httpserver.url_for("/items"), params={"q": "x", "access_token": "abc"})
    assert response.text == "ok"
    (span,) = spans()
    assert span.name == "GET" and span.kind == SpanKind.CLIENT
    attributes = dict(span.attributes)
    assert attributes["url.full"] == httpserver.url_for("/items") + "?q=x&access_token=REDACTED"
    assert attributes["http.response.status_code"] == 200
    assert attributes["network.protocol.version"] == "1.0"   # werkzeug's dev server
    assert_carried(span, httpserver.log[0][0].headers["traceparent"])


def test_a_streamed_body_keeps_the_span_open_until_it_is_read(traced, spans, httpserver):
    httpserver.expect_request("/big").respond_with_data(b"x" * 100_000)
    with httpx.Client() as client:
        with client.stream("GET", httpserver.url_for("/big")) as response:
            assert spans() == []   # headers are in, the body is not: still open
            body = b"".join(response.iter_bytes())
            (span,) = spans()      # reading to the end closes the response
        assert len(body) == 100_000
    assert span.attributes["http.response.status_code"] == 200
    assert span.end_time > span.start_time
    assert_carried(span, httpserver.log[0][0].headers["traceparent"])


def test_a_stream_closed_unread_ends_its_span(traced, spans, httpserver):
    httpserver.expect_request("/big").respond_with_data(b"x" * 1000)
    with httpx.Client() as client:
        with client.stream("GET", httpserver.url_for("/big")):
            assert spans() == []
        assert len(spans()) == 1


def test_async_client_and_async_stream(traced, spans, httpserver):
    httpserver.expect_request("/a").respond_with_data("ok")
    httpserver.expect_request("/s").respond_with_data(b"y" * 5000)

    async def calls():
        async with httpx.AsyncClient() as client:
            first = await client.get(httpserver.url_for("/a"))
            async with client.stream("GET", httpserver.url_for("/s")) as streamed:
                open_spans = len(spans())
                body = await streamed.aread()
        return first, open_spans, body

    first, open_spans, body = asyncio.run(calls())
    assert first.status_code == 200 and len(body) == 5000
    assert open_spans == 1   # the streamed one was not finished before its body was read
    get, stream = spans()
    assert_carried(get, httpserver.log[0][0].headers["traceparent"])
    assert_carried(stream, httpserver.log[1][0].headers["traceparent"])


def test_status_errors_and_redirects_are_one_span(traced, spans, httpserver):
    httpserver.expect_request("/old").respond_with_data("", status=302, headers={"Location": "/missing"})
    httpserver.expect_request("/missing").respond_with_data("no", status=404)
    response = httpx.get(httpserver.url_for("/old"), follow_redirects=True)
    assert response.status_code == 404
    (span,) = spans()
    assert span.attributes["error.type"] == "404" and span.status.status_code == StatusCode.ERROR
    for request, _ in httpserver.log:   # both hops carry the one span's context
        assert_carried(span, request.headers["traceparent"])


def test_refused_and_timeout_reach_the_app_unchanged(traced, spans, httpserver):
    with pytest.raises(httpx.ConnectError) as refused:
        httpx.get("http://127.0.0.1:9/")
    import time
    httpserver.expect_request("/slow").respond_with_handler(lambda request: time.sleep(0.5) or "late")
    with pytest.raises(httpx.ReadTimeout) as timeout:
        httpx.get(httpserver.url_for("/slow"), timeout=0.1)
    first, second = spans()
    assert first.attributes["error.type"] == "httpx.ConnectError"
    assert second.attributes["error.type"] == "httpx.ReadTimeout"
    assert first.events[0].attributes["exception.type"] == "httpx.ConnectError"
    assert refused.value.__traceback__ is not None and timeout.value.request.url.path == "/slow"
    assert second.status.status_code == StatusCode.ERROR


def test_async_nested_in_a_manual_span(traced, spans, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")

    async def call():
        with trace.get_tracer("test").start_as_current_span("job") as job:
            async with httpx.AsyncClient() as client:
                await client.get(httpserver.url_for("/"))
        return job

    job = asyncio.run(call())
    client, parent = spans()
    assert client.parent.span_id == job.context.span_id and parent.name == "job"


def test_the_url_text_cache_gives_what_str_gives_for_each_url():
    from autotrace.instrumentations.httpx import _url_text

    urls = ["http://127.0.0.1:8080/items?page=2", "http://127.0.0.1:8080/items?page=3", "http://127.0.0.1:8080/items",
            "https://user:secret@example.com/a%20b?token=x#frag", "http://[::1]:9000/", "http://127.0.0.1:8080/items?page=2"]
    for url in urls * 2:
        parsed = httpx.URL(url)
        assert _url_text(parsed) == str(parsed)
