"""requests against a real local HTTP server (pytest-httpserver)."""

import gc
import time

import pytest
import requests
from opentelemetry.trace import SpanKind, StatusCode

from http_checks import assert_carried, assert_covers_body, serve_slowly


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


def _redirecting(httpserver):
    httpserver.expect_request("/old").respond_with_data("", status=302, headers={"Location": "/new"})
    httpserver.expect_request("/new").respond_with_data("here")


def test_a_followed_redirect_is_one_span_with_the_final_status(traced, spans, httpserver):
    _redirecting(httpserver)
    response = requests.get(httpserver.url_for("/old"))
    assert response.text == "here" and [r.status_code for r in response.history] == [302]
    (span,) = spans()
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["url.full"] == httpserver.url_for("/old")   # the request the app made
    (first, _), (second, _) = httpserver.log
    assert_carried(span, first.headers["traceparent"])
    assert_carried(span, second.headers["traceparent"])


# -- stream=True: the body is read after send returns ------------------------------------

def test_a_streamed_body_keeps_the_span_open_until_it_is_read(traced, spans, httpserver):
    size = serve_slowly(httpserver, "/slow", chunks=4, pause=0.1)
    response = requests.get(httpserver.url_for("/slow"), stream=True)
    headers_at = time.time_ns()
    assert spans() == []   # the status and headers are in, the body is not
    body = b"".join(response.iter_content(1000))
    read_at = time.time_ns()
    assert len(body) == size
    (span,) = spans()
    assert_covers_body(span, headers_at, read_at, 0.2)
    assert span.attributes["http.response.status_code"] == 200
    assert_carried(span, httpserver.log[0][0].headers["traceparent"])


def test_a_streamed_body_read_with_content(traced, spans, httpserver):
    serve_slowly(httpserver, "/slow", chunks=3, pause=0.1)
    with requests.Session() as session:
        response = session.get(httpserver.url_for("/slow"), stream=True)
        headers_at = time.time_ns()
        assert len(response.content) == 3000
        read_at = time.time_ns()
    (span,) = spans()
    assert_covers_body(span, headers_at, read_at, 0.1)


@pytest.mark.parametrize("end", ["close", "context manager"])
def test_a_streamed_response_closed_unread_ends_its_span_there(traced, spans, httpserver, end):
    serve_slowly(httpserver, "/slow", chunks=2, pause=0.05)
    response = requests.get(httpserver.url_for("/slow"), stream=True)
    assert spans() == []
    if end == "close":
        response.close()
    else:
        with response:
            pass
    (span,) = spans()
    assert span.attributes["http.response.status_code"] == 200


def test_a_streamed_response_dropped_unread_ends_its_span_when_collected(traced, spans, httpserver):
    serve_slowly(httpserver, "/slow", chunks=2, pause=0.05)
    response = requests.get(httpserver.url_for("/slow"), stream=True)
    assert spans() == []
    del response
    gc.collect()
    (span,) = spans()
    assert span.name == "GET"


def test_a_streamed_response_with_an_empty_body_ends_at_once(traced, spans, httpserver):
    httpserver.expect_request("/empty").respond_with_data("", status=204)
    response = requests.get(httpserver.url_for("/empty"), stream=True)
    (span,) = spans()
    assert span.attributes["http.response.status_code"] == 204
    response.close()
    assert len(spans()) == 1
