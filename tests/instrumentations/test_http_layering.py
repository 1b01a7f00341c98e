"""One CLIENT span per logical request when clients are built on each other, and the
trace headers sent exactly once, by the outermost client."""

import asyncio
import urllib.request

import httpx
import pytest
import requests
import urllib3
from opentelemetry import trace

from http_checks import assert_carried, client_spans

ALL = ("requests", "urllib3", "http_client", "httpx", "aiohttp_client")


@pytest.fixture
def everything(instrument):
    for name in ALL:
        instrument(name)


def sent_traceparents(httpserver):
    return [request.headers.getlist("traceparent") for request, _ in httpserver.log]


def test_requests_over_urllib3_over_http_client_is_one_span(everything, spans, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    requests.get(httpserver.url_for("/"))
    (span,) = spans()
    assert span.instrumentation_scope.name == "autotrace.instrumentations.requests"
    (headers,) = sent_traceparents(httpserver)
    assert len(headers) == 1
    assert_carried(span, headers[0])


def test_urllib3_over_http_client_is_one_span(everything, spans, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    urllib3.PoolManager().request("GET", httpserver.url_for("/"))
    (span,) = spans()
    assert span.instrumentation_scope.name == "autotrace.instrumentations.urllib3"
    (headers,) = sent_traceparents(httpserver)
    assert len(headers) == 1 and span.attributes["http.response.status_code"] == 200


def test_urllib_request_and_httpx_are_one_span_each(everything, spans, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    urllib.request.urlopen(httpserver.url_for("/")).read()
    httpx.get(httpserver.url_for("/"))
    first, second = spans()
    assert first.instrumentation_scope.name == "autotrace.instrumentations.http_client"
    assert second.instrumentation_scope.name == "autotrace.instrumentations.httpx"
    assert [len(h) for h in sent_traceparents(httpserver)] == [1, 1]


def test_inside_a_manual_span_each_request_is_one_child(everything, spans, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    with trace.get_tracer("test").start_as_current_span("job") as job:
        requests.get(httpserver.url_for("/"))
        urllib3.request("GET", httpserver.url_for("/"))
        urllib.request.urlopen(httpserver.url_for("/")).read()
        httpx.get(httpserver.url_for("/"))
    clients = client_spans(spans())
    assert len(clients) == 4
    assert all(span.parent.span_id == job.context.span_id for span in clients)
    for span, headers in zip(clients, sent_traceparents(httpserver)):
        assert len(headers) == 1
        assert_carried(span, headers[0])


def test_async_requests_stay_separate_when_concurrent(everything, spans, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")

    async def many():
        async with httpx.AsyncClient() as client:
            await asyncio.gather(*(client.get(httpserver.url_for("/")) for _ in range(5)))

    asyncio.run(many())
    clients = client_spans(spans())
    assert len(clients) == 5
    assert len({span.context.span_id for span in clients}) == 5
    assert all(span.parent is None for span in clients)   # no request became another's child


def test_only_inner_layers_instrumented_still_trace(instrument, spans, httpserver):
    instrument("http_client")   # requests and urllib3 left alone: the innermost layer traces
    httpserver.expect_request("/").respond_with_data("ok")
    requests.get(httpserver.url_for("/"))
    (span,) = spans()
    assert span.instrumentation_scope.name == "autotrace.instrumentations.http_client"
    assert_carried(span, sent_traceparents(httpserver)[0][0])


def test_the_apps_exception_is_the_same_object(everything, spans, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    marker = LookupError("raised by the app's own hook")

    def hook(*args, **kwargs):
        raise marker

    with pytest.raises(LookupError) as from_requests:
        requests.get(httpserver.url_for("/"), hooks={"response": hook})
    with pytest.raises(LookupError) as from_httpx:
        httpx.Client(event_hooks={"response": [hook]}).get(httpserver.url_for("/"))
    assert from_requests.value is marker and from_httpx.value is marker
    spans_seen = spans()
    assert [s.attributes["error.type"] for s in spans_seen] == ["LookupError", "LookupError"]
