"""Excluded URLs, AUTOTRACE_PROPAGATE_TO, and header capture with its redactions."""

import asyncio

import httpx
import pytest
import requests
import urllib3
from opentelemetry import trace

from http_checks import assert_carried, client_spans, configure  # noqa: F401 (fixture)


def test_excluded_urls_get_no_span_but_the_callers_context_still_travels(configure, instrument, spans,
                                                                      httpserver):
    configure(OTEL_PYTHON_EXCLUDED_URLS="/health$,metrics")
    for name in ("requests", "urllib3", "http_client"):
        instrument(name)
    httpserver.expect_request("/health").respond_with_data("ok")
    httpserver.expect_request("/work").respond_with_data("ok")
    with trace.get_tracer("test").start_as_current_span("job") as job:
        requests.get(httpserver.url_for("/health"))   # no span at any layer
        requests.get(httpserver.url_for("/work"))
    work, parent = spans()
    assert work.attributes["url.full"].endswith("/work") and parent.name == "job"
    (health, _), (worked, _) = httpserver.log
    assert_carried(parent, health.headers["traceparent"])   # joined to the caller's span
    assert_carried(work, worked.headers["traceparent"])


def test_excluded_urls_for_one_library(configure, instrument, spans, httpserver):
    configure(OTEL_PYTHON_HTTPX_EXCLUDED_URLS=r"127\.0\.0\.1:\d+/skip")
    instrument("httpx")
    instrument("urllib3")
    httpserver.expect_request("/skip").respond_with_data("ok")
    httpx.get("http://127.0.0.1:%d/skip" % httpserver.port)                # excluded for httpx
    urllib3.request("GET", "http://127.0.0.1:%d/skip" % httpserver.port)   # not for urllib3
    (span,) = spans()
    assert span.instrumentation_scope.name == "autotrace.instrumentations.urllib3"
    assert "traceparent" not in httpserver.log[0][0].headers   # no span and no caller: nothing to send


def test_propagate_to_limits_the_hosts_that_receive_headers(configure, instrument, spans, httpserver):
    configure(AUTOTRACE_PROPAGATE_TO="*.internal,localhost:%d" % httpserver.port,
              OTEL_PROPAGATORS="tracecontext,baggage,b3")
    instrument("requests")
    httpserver.expect_request("/").respond_with_data("ok")
    requests.get(httpserver.url_for("/"))                          # localhost:<port>: allowed
    requests.get("http://127.0.0.1:%d/" % httpserver.port)         # same server, other name: not allowed
    allowed, refused = spans()
    (first, _), (second, _) = httpserver.log
    assert_carried(allowed, first.headers["traceparent"])
    assert "traceparent" not in second.headers and "b3" not in second.headers
    assert refused.attributes["http.response.status_code"] == 200   # still a span


def test_propagate_to_patterns():
    from autotrace.instrumentations._http_scope import HostFilter
    hosts = HostFilter(("*.internal", "api.example.com", "localhost:8080", "[::1]"))
    assert hosts.allows("http://db.internal/x") and hosts.allows("https://a.b.internal:9443/")
    assert not hosts.allows("http://internal/") and not hosts.allows("http://internal.evil.com/")
    assert hosts.allows("https://API.example.com/v1") and not hosts.allows("https://example.com/")
    assert hosts.allows("http://localhost:8080/") and not hosts.allows("http://localhost:8081/")
    assert not hosts.allows("http://localhost/")
    assert hosts.allows("http://[::1]:5000/")
    assert HostFilter(()).allows("http://anything/")


def test_header_capture_lists_values_and_always_redacts_credentials(configure, instrument, spans, httpserver):
    configure(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST="X-Request-Id,Authorization,x-api-key,Cookie",
              OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE="Content-Type,Set-Cookie,X-Session",
              OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS="x-session")
    instrument("requests")
    instrument("httpx")
    httpserver.expect_request("/").respond_with_data(
        "ok", content_type="text/plain", headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                                                  ("X-Session", "s-1"), ("X-Other", "o")])
    secret_headers = {"X-Request-Id": "r-1", "Authorization": "Bearer s3cret", "X-Api-Key": "k3y",
                      "Cookie": "sid=c00kie", "X-Unasked": "u"}
    requests.get(httpserver.url_for("/"), headers=secret_headers)
    httpx.get(httpserver.url_for("/"), headers=secret_headers)
    for span in spans():
        attributes = dict(span.attributes)
        assert attributes["http.request.header.x-request-id"] == ("r-1",)
        assert attributes["http.request.header.authorization"] == ("REDACTED",)
        assert attributes["http.request.header.x-api-key"] == ("REDACTED",)
        assert attributes["http.request.header.cookie"] == ("REDACTED",)
        assert attributes["http.response.header.content-type"][0].startswith("text/plain")
        assert attributes["http.response.header.x-session"] == ("REDACTED",)
        assert "http.request.header.x-unasked" not in attributes
        assert "http.response.header.x-other" not in attributes
        assert not any(secret in repr(attributes) for secret in ("s3cret", "k3y", "c00kie", "s-1"))
    requests_span, httpx_span = spans()
    assert httpx_span.attributes["http.response.header.set-cookie"] == ("REDACTED", "REDACTED")


def test_no_header_attributes_unless_asked(instrument, spans, httpserver):
    instrument("urllib3")
    httpserver.expect_request("/").respond_with_data("ok")
    urllib3.request("GET", httpserver.url_for("/"), headers={"Authorization": "Bearer x"})
    (span,) = spans()
    assert not any(key.startswith(("http.request.header.", "http.response.header.")) for key in span.attributes)


def test_aiohttp_and_http_client_capture_response_headers(configure, instrument, spans, httpserver):
    configure(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE="X-Served",
              OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST="X-Mine")
    instrument("aiohttp_client")
    instrument("http_client")
    import aiohttp
    import urllib.request
    httpserver.expect_request("/").respond_with_data("ok", headers={"X-Served": "yes"})

    async def call():
        async with aiohttp.ClientSession() as session:
            async with session.get(httpserver.url_for("/"), headers={"X-Mine": "m"}) as response:
                await response.read()

    asyncio.run(call())
    urllib.request.urlopen(httpserver.url_for("/")).read()
    via_aiohttp, via_urllib = client_spans(spans())
    assert via_aiohttp.attributes["http.request.header.x-mine"] == ("m",)
    assert via_aiohttp.attributes["http.response.header.x-served"] == ("yes",)
    assert via_urllib.attributes["http.response.header.x-served"] == ("yes",)
