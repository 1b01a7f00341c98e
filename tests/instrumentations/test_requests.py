"""requests against a real local HTTP server (pytest-httpserver)."""

import pytest
import requests
from opentelemetry.trace import SpanKind, StatusCode


@pytest.fixture
def traced(instrument):
    instrument("requests")


def test_one_client_span_and_the_server_sees_its_traceparent(traced, spans, httpserver):
    httpserver.expect_request("/items").respond_with_data("ok")
    response = requests.get(httpserver.url_for("/items") + "?page=2&token=s3cret")
    assert response.text == "ok"
    (span,) = spans()
    assert span.name == "GET" and span.kind == SpanKind.CLIENT
    attributes = dict(span.attributes)
    assert attributes["http.request.method"] == "GET"
    assert attributes["url.full"] == httpserver.url_for("/items") + "?page=2&token=REDACTED"
    assert attributes["server.address"] == "localhost"
    assert attributes["server.port"] == httpserver.port
    assert attributes["http.response.status_code"] == 200
    assert attributes["network.protocol.version"] == "1.0"   # werkzeug's dev server answers in HTTP/1.0
    (request, _response), = httpserver.log
    version, trace_id, span_id, flags = request.headers["traceparent"].split("-")
    assert trace_id == format(span.context.trace_id, "032x")
    assert span_id == format(span.context.span_id, "016x")
    assert version == "00" and int(flags, 16) & 0x01   # sampled (the SDK also sets 0x02, random)


def test_4xx_and_5xx_are_errors(traced, spans, httpserver):
    httpserver.expect_request("/missing").respond_with_data("no", status=404)
    httpserver.expect_request("/broken").respond_with_data("no", status=503)
    assert requests.post(httpserver.url_for("/missing"), data=b"x").status_code == 404
    assert requests.get(httpserver.url_for("/broken")).status_code == 503
    missing, broken = spans()
    assert missing.name == "POST" and missing.attributes["error.type"] == "404"
    assert missing.status.status_code == StatusCode.ERROR
    assert broken.attributes["http.response.status_code"] == 503


def test_transport_error_reaches_the_app_unchanged(traced, spans):
    with pytest.raises(requests.ConnectionError) as info:
        requests.get("http://127.0.0.1:9/x?api_key=k-123456", timeout=2)
    (span,) = spans()
    assert span.attributes["error.type"] == "requests.exceptions.ConnectionError"
    assert span.status.status_code == StatusCode.ERROR
    event = span.events[0]
    assert event.name == "exception"
    assert "k-123456" not in event.attributes["exception.message"]
    assert "k-123456" not in event.attributes["exception.stacktrace"]
    assert "k-123456" in str(info.value)   # the app's exception itself is untouched


def test_credentials_never_reach_the_span(traced, spans, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    url = httpserver.url_for("/").replace("http://", "http://alice:pa55word@")
    requests.get(url)
    (span,) = spans()
    assert span.attributes["url.full"].startswith("http://REDACTED:REDACTED@localhost:")
    assert "pa55word" not in str(dict(span.attributes))


def test_calls_made_inside_a_span_are_its_children(traced, spans, httpserver):
    from opentelemetry import trace
    httpserver.expect_request("/a").respond_with_data("ok")
    with trace.get_tracer("test").start_as_current_span("job") as parent:
        requests.get(httpserver.url_for("/a"))
        requests.get(httpserver.url_for("/a"))
    first, second, job = spans()
    assert job.name == "job"
    assert first.parent.span_id == parent.context.span_id == second.parent.span_id
    assert first.context.trace_id == job.context.trace_id
