"""urllib3 (PoolManager and pools) against a real local HTTP server."""

import pytest
import urllib3
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from http_checks import assert_carried


@pytest.fixture
def traced(instrument):
    instrument("urllib3")


def test_pool_manager_request_is_one_span_carried_to_the_server(traced, spans, httpserver):
    httpserver.expect_request("/items").respond_with_data("ok")
    http = urllib3.PoolManager()
    response = http.request("GET", httpserver.url_for("/items") + "?page=2&sig=abc")
    assert response.data == b"ok"
    (span,) = spans()
    assert span.name == "GET" and span.kind == SpanKind.CLIENT
    attributes = dict(span.attributes)
    assert attributes["url.full"] == httpserver.url_for("/items") + "?page=2&sig=REDACTED"
    assert attributes["server.address"] == "localhost" and attributes["server.port"] == httpserver.port
    assert attributes["http.response.status_code"] == 200
    assert attributes["network.protocol.version"] == "1.0"   # werkzeug's dev server
    (request, _), = httpserver.log
    assert_carried(span, request.headers.get("traceparent"))


def test_the_pools_default_headers_do_not_keep_our_headers(traced, spans, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    pool = urllib3.HTTPConnectionPool("127.0.0.1", httpserver.port, headers={"X-Team": "blue"})
    pool.request("GET", "/")
    pool.request("GET", "/")
    assert dict(pool.headers) == {"X-Team": "blue"}
    first, second = spans()
    (one, _), (two, _) = httpserver.log
    assert one.headers["X-Team"] == "blue"
    assert_carried(first, one.headers["traceparent"])
    assert_carried(second, two.headers["traceparent"])
    assert first.attributes["url.full"] == "http://127.0.0.1:%d/" % httpserver.port


def test_status_errors(traced, spans, httpserver):
    httpserver.expect_request("/gone").respond_with_data("no", status=410)
    assert urllib3.request("DELETE", httpserver.url_for("/gone")).status == 410
    (span,) = spans()
    assert span.name == "DELETE" and span.attributes["error.type"] == "410"
    assert span.status.status_code == StatusCode.ERROR


def test_refused_connection_reaches_the_app_as_the_same_exception(traced, spans):
    pool = urllib3.HTTPConnectionPool("127.0.0.1", 9, retries=False)
    raised = []
    try:
        pool.request("GET", "/x?token=t0ps3cret")
    except Exception as exc:
        raised.append(exc)
    (exc,) = raised
    (span,) = spans()
    assert span.attributes["error.type"] == "%s.%s" % (type(exc).__module__, type(exc).__qualname__)
    assert type(exc).__module__.startswith("urllib3")
    assert "t0ps3cret" not in span.events[0].attributes["exception.message"]
    assert span.status.status_code == StatusCode.ERROR


def test_nested_in_a_manual_span(traced, spans, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    with trace.get_tracer("test").start_as_current_span("job") as job:
        urllib3.request("GET", httpserver.url_for("/"))
    client, parent = spans()
    assert client.parent.span_id == job.context.span_id
    assert_carried(client, httpserver.log[0][0].headers["traceparent"])
