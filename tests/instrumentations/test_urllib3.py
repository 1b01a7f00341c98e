"""urllib3 (PoolManager and pools) against a real local HTTP server."""

import gc
import time

import pytest
import urllib3
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from http_checks import assert_carried, assert_covers_body, serve_slowly


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
    assert urllib3.PoolManager().request("DELETE", httpserver.url_for("/gone")).status == 410
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
        urllib3.PoolManager().request("GET", httpserver.url_for("/"))
    client, parent = spans()
    assert client.parent.span_id == job.context.span_id
    assert_carried(client, httpserver.log[0][0].headers["traceparent"])


# -- preload_content=False: the body is streamed after urlopen returns ------------------

def test_a_streamed_body_keeps_the_span_open_until_it_is_read(traced, spans, httpserver):
    size = serve_slowly(httpserver, "/slow", chunks=4, pause=0.1)
    http = urllib3.PoolManager()
    response = http.request("GET", httpserver.url_for("/slow"), preload_content=False)
    headers_at = time.time_ns()
    assert spans() == []   # the status and headers are in, the body is not
    body = b"".join(response.stream(1000))
    read_at = time.time_ns()
    assert len(body) == size
    (span,) = spans()      # urllib3 gives the connection back at the end of the body
    assert_covers_body(span, headers_at, read_at, 0.2)
    assert span.attributes["http.response.status_code"] == 200
    assert_carried(span, httpserver.log[0][0].headers["traceparent"])


def test_read_in_one_call_and_released_by_hand(traced, spans, httpserver):
    serve_slowly(httpserver, "/slow", chunks=3, pause=0.1)
    pool = urllib3.HTTPConnectionPool("127.0.0.1", httpserver.port)
    response = pool.urlopen("GET", "/slow", preload_content=False, release_conn=True)
    headers_at = time.time_ns()
    assert len(response.read()) == 3000
    read_at = time.time_ns()
    response.release_conn()   # a second end point: no second span, no error
    (span,) = spans()
    assert_covers_body(span, headers_at, read_at, 0.1)


@pytest.mark.parametrize("end", ["release_conn", "close", "drain_conn"])
def test_a_response_given_up_unread_ends_its_span_there(traced, spans, httpserver, end):
    serve_slowly(httpserver, "/slow", chunks=2, pause=0.05)
    response = urllib3.PoolManager().request("GET", httpserver.url_for("/slow"), preload_content=False)
    assert spans() == []
    getattr(response, end)()
    (span,) = spans()
    assert span.attributes["http.response.status_code"] == 200


def test_a_response_dropped_unread_ends_its_span_when_collected(traced, spans, httpserver):
    serve_slowly(httpserver, "/slow", chunks=2, pause=0.05)
    response = urllib3.PoolManager().request("GET", httpserver.url_for("/slow"), preload_content=False)
    assert spans() == []
    del response
    gc.collect()
    (span,) = spans()
    assert span.name == "GET"



# -- redirects and retries: one span per request the app made -----------------------------

def _redirecting(httpserver):
    httpserver.expect_request("/old").respond_with_data("", status=302, headers={"Location": "/new"})
    httpserver.expect_request("/new").respond_with_data("here")


def test_a_pool_manager_redirect_is_one_span_with_the_final_status(traced, spans, httpserver):
    _redirecting(httpserver)
    http = urllib3.PoolManager(headers={"X-Team": "blue"})
    response = http.request("GET", httpserver.url_for("/old"))
    assert response.data == b"here"
    (span,) = spans()
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["url.full"] == httpserver.url_for("/old")
    (first, _), (second, _) = httpserver.log
    assert_carried(span, first.headers["traceparent"])
    assert_carried(span, second.headers["traceparent"])
    assert second.headers["X-Team"] == "blue"
    assert dict(http.headers) == {"X-Team": "blue"}


def test_a_pool_redirect_is_one_span(traced, spans, httpserver):
    _redirecting(httpserver)
    pool = urllib3.HTTPConnectionPool("127.0.0.1", httpserver.port)
    assert pool.urlopen("GET", "/old", redirect=True).data == b"here"
    (span,) = spans()
    assert span.attributes["http.response.status_code"] == 200
    assert len(httpserver.log) == 2


def test_retries_after_a_5xx_are_one_span(traced, spans, httpserver):
    httpserver.expect_ordered_request("/flaky").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/flaky").respond_with_data("ok")
    retries = urllib3.Retry(total=2, status_forcelist=[503], backoff_factor=0)
    response = urllib3.PoolManager().request("GET", httpserver.url_for("/flaky"), retries=retries)
    assert response.data == b"ok"
    (span,) = spans()
    assert span.attributes["http.response.status_code"] == 200
    assert len(httpserver.log) == 2
