"""The standard library's http.client, and urllib.request on top of it, against a real server."""

import http.client
import urllib.error
import urllib.request

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from http_checks import assert_carried


@pytest.fixture
def traced(instrument):
    instrument("http_client")


def test_urllib_request_is_one_span_carried_to_the_server(traced, spans, httpserver):
    httpserver.expect_request("/items").respond_with_data("ok")
    with urllib.request.urlopen(httpserver.url_for("/items") + "?x=1&password=hunter2") as response:
        assert response.read() == b"ok"
    (span,) = spans()
    assert span.name == "GET" and span.kind == SpanKind.CLIENT
    attributes = dict(span.attributes)
    assert attributes["url.full"] == httpserver.url_for("/items") + "?x=1&password=REDACTED"
    assert attributes["server.address"] == "localhost" and attributes["server.port"] == httpserver.port
    assert attributes["http.response.status_code"] == 200
    assert attributes["network.protocol.version"] == "1.0"
    assert_carried(span, httpserver.log[0][0].headers["traceparent"])
    assert len(httpserver.log[0][0].headers.getlist("traceparent")) == 1


def test_http_connection_request_and_manual_steps(traced, spans, httpserver):
    httpserver.expect_request("/a", method="POST").respond_with_data("created", status=201)
    httpserver.expect_request("/b").respond_with_data("ok")
    connection = http.client.HTTPConnection("127.0.0.1", httpserver.port)
    connection.request("POST", "/a", body=b"{}", headers={"Content-Type": "application/json"})
    assert connection.getresponse().read() == b"created"
    connection.putrequest("GET", "/b")      # the step-by-step API (xmlrpc.client uses it)
    connection.putheader("X-Step", "yes")
    connection.endheaders()
    assert connection.getresponse().read() == b"ok"
    connection.close()
    post, get = spans()
    assert post.name == "POST" and post.attributes["http.response.status_code"] == 201
    assert post.attributes["url.full"] == "http://127.0.0.1:%d/a" % httpserver.port
    assert_carried(post, httpserver.log[0][0].headers["traceparent"])
    assert_carried(get, httpserver.log[1][0].headers["traceparent"])
    assert httpserver.log[1][0].headers["X-Step"] == "yes"


def test_urllib_http_error_is_a_span_with_the_status(traced, spans, httpserver):
    httpserver.expect_request("/missing").respond_with_data("no", status=404)
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(httpserver.url_for("/missing"))
    (span,) = spans()
    assert span.attributes["error.type"] == "404" and span.status.status_code == StatusCode.ERROR


def test_refused_connection_ends_the_span_and_reaches_the_app_unchanged(traced, spans):
    connection = http.client.HTTPConnection("127.0.0.1", 9, timeout=2)
    with pytest.raises(ConnectionRefusedError) as info:
        connection.request("GET", "/")
    (span,) = spans()
    assert span.attributes["error.type"] == "ConnectionRefusedError"
    assert span.status.status_code == StatusCode.ERROR
    assert span.events[0].attributes["exception.message"] == str(info.value)


def test_dns_failure_through_urllib(traced, spans):
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen("http://no-such-host.invalid/", timeout=5)
    (span,) = spans()
    assert span.attributes["error.type"] == "socket.gaierror"
    assert span.attributes["server.address"] == "no-such-host.invalid"


def test_a_timeout_waiting_for_the_response(traced, spans, httpserver):
    import time
    httpserver.expect_request("/slow").respond_with_handler(lambda request: time.sleep(0.5) or "late")
    connection = http.client.HTTPConnection("127.0.0.1", httpserver.port, timeout=0.1)
    connection.request("GET", "/slow")
    with pytest.raises(TimeoutError):
        connection.getresponse()
    (span,) = spans()
    assert span.attributes["error.type"] == "TimeoutError"


def test_nested_in_a_manual_span(traced, spans, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    with trace.get_tracer("test").start_as_current_span("job") as job:
        urllib.request.urlopen(httpserver.url_for("/")).read()
    client, parent = spans()
    assert client.parent.span_id == job.context.span_id


def test_a_bad_header_ends_the_span_with_the_error(traced, spans, httpserver):
    connection = http.client.HTTPConnection("127.0.0.1", httpserver.port)
    with pytest.raises(ValueError) as info:
        connection.request("GET", "/", headers={"X-Bad": "line\r\nbreak"})
    (span,) = spans()
    assert span.attributes["error.type"] == "ValueError"
    assert "Invalid header value" in str(info.value)
    connection.close()
