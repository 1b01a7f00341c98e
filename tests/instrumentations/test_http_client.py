"""The standard library's http.client, and urllib.request on top of it, against a real server."""

import http.client
import urllib.error
import urllib.request

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from http_checks import assert_carried, configure  # noqa: F401 (fixture)


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


def test_request_headers_are_captured_when_asked_with_credentials_redacted(configure, instrument, spans,
                                                                           httpserver):
    configure(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST=(
                  "X-Request-Id,Authorization,Proxy-Authorization,Cookie,X-Api-Key,X-Team,X-Twice,User-Agent,"
                  "traceparent"),
              OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS="x-team")
    instrument("http_client")
    httpserver.expect_request("/").respond_with_data("ok")
    secret = {"X-Request-Id": "r-1", "Authorization": "Bearer s3cret", "Proxy-Authorization": "Basic pr0xy",
              "Cookie": "sid=c00kie", "X-Api-Key": "k3y", "X-Team": "blue", "X-Unasked": "u"}
    request = urllib.request.Request(httpserver.url_for("/"), headers=secret)
    urllib.request.urlopen(request).read()
    connection = http.client.HTTPConnection("127.0.0.1", httpserver.port)
    connection.putrequest("GET", "/")        # step by step: a header sent twice, one with two values
    connection.putheader("X-Twice", "one")
    connection.putheader("X-Twice", "two", "three")
    connection.putheader("Authorization", b"Basic YWxpY2U6aHVudGVyMg==")
    connection.endheaders()
    connection.getresponse().read()
    connection.close()

    via_urllib, by_steps = spans()
    attributes = dict(via_urllib.attributes)
    assert attributes["http.request.header.x-request-id"] == ("r-1",)
    for name in ("authorization", "proxy-authorization", "cookie", "x-api-key", "x-team"):
        assert attributes["http.request.header." + name] == ("REDACTED",), name
    assert attributes["http.request.header.user-agent"][0].startswith("Python-urllib/")
    assert "http.request.header.x-unasked" not in attributes
    assert not any(word in repr(attributes) for word in ("s3cret", "pr0xy", "c00kie", "k3y", "blue"))
    # what was sent, our trace header included (it is sent by then)
    (received, _), (stepped, _) = httpserver.log
    assert attributes["http.request.header.traceparent"] == (received.headers["traceparent"],)
    assert_carried(via_urllib, received.headers["traceparent"])

    attributes = dict(by_steps.attributes)
    assert attributes["http.request.header.x-twice"] == ("one", "two three")
    assert attributes["http.request.header.authorization"] == ("REDACTED",)
    assert "YWxpY2U6aHVudGVyMg" not in repr(attributes)
    assert_carried(by_steps, stepped.headers["traceparent"])


def test_no_request_header_attributes_unless_asked(traced, spans, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    request = urllib.request.Request(httpserver.url_for("/"), headers={"Authorization": "Bearer x"})
    urllib.request.urlopen(request).read()
    (span,) = spans()
    assert not any(key.startswith("http.request.header.") for key in span.attributes)
