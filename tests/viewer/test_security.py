"""What `autotrace view` refuses: other Host names (DNS rebinding), other web sites,
paths outside the bundled assets, writes through the read-only API, oversized bodies,
and malformed OTLP (refused whole: nothing partial is stored)."""

import json

import pytest

from autotrace.store.queries import list_traces
from autotrace.viewer.server import MAX_BODY, Viewer, is_loopback_host


@pytest.mark.parametrize("host", ["evil.example", "evil.example:7318", "127.0.0.1.evil.example",
                                  "192.168.1.10", "localhost.evil.example", ""])
def test_foreign_host_headers_are_refused(fresh_viewer, host):
    ui, otlp, _ = fresh_viewer
    for client, path in ((ui, "/api/traces"), (ui, "/"), (otlp, "/v1/traces")):
        method = "POST" if path == "/v1/traces" else "GET"
        status, body, _ = client.request(method, path, b"{}" if method == "POST" else None,
                                         {"Host": host, "Content-Type": "application/json"})
        assert status == 403 and b"Host" in body, (host, path)


@pytest.mark.parametrize("host", ["localhost", "localhost:7318", "127.0.0.1:1", "[::1]:7318", "app.localhost"])
def test_loopback_host_headers_are_served(fresh_viewer, host):
    ui, _, _ = fresh_viewer
    assert ui.request("GET", "/api/traces", headers={"Host": host})[0] == 200


def test_host_named_on_the_command_line_is_allowed():
    viewer = Viewer("unused.db", writer=None, host="devbox.lan")
    assert viewer.host_allowed("devbox.lan:7318") and viewer.host_allowed("localhost")
    assert not viewer.host_allowed("evil.example")
    exposed = Viewer("unused.db", writer=None, host="0.0.0.0")
    assert exposed.host_allowed("anything")
    # exposed or not, another web site's page cannot post to it
    assert not exposed.origin_allowed("https://evil.example", "devbox.lan:7318")
    assert exposed.origin_allowed("http://devbox.lan:7318", "devbox.lan:7318")
    assert is_loopback_host("127.5.6.7") and not is_loopback_host("10.0.0.1")


def test_cross_site_posts_are_refused(fresh_viewer):
    ui, _, store = fresh_viewer
    for origin in ("https://evil.example", "null", "http://127.0.0.1.evil.example:7318"):
        status, _, _ = ui.post("/v1/traces", b"{}", "text/plain", Origin=origin)
        assert status == 403, origin
    assert ui.post("/v1/traces", b'{"resourceSpans": []}', "application/json",
                   Origin="http://localhost:7318")[0] == 200


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/..%2fserver.py", "/static/%2e%2e/server.py",
                                  "/static//etc/passwd", "/static/", "/../../etc/passwd", "/etc/passwd",
                                  "/static/__init__.py", "/static/app.js/../../server.py", "/favicon.ico"])
def test_only_bundled_assets_are_served(fresh_viewer, path):
    ui, _, _ = fresh_viewer
    status, body, _ = ui.request("GET", path)
    assert status == 404, path
    assert b"import" not in body and b"root:" not in body


@pytest.mark.parametrize("method,path", [("PUT", "/api/traces"), ("DELETE", "/api/traces/" + "a" * 32),
                                         ("POST", "/api/traces"), ("PATCH", "/v1/traces")])
def test_the_api_is_read_only(fresh_viewer, method, path):
    ui, _, _ = fresh_viewer
    assert ui.request(method, path, b"{}", {"Content-Type": "application/json"})[0] == 405


def test_ingest_port_serves_nothing_else(fresh_viewer):
    _, otlp, _ = fresh_viewer
    assert otlp.request("GET", "/")[0] == 404
    assert otlp.request("GET", "/api/traces")[0] == 404


def test_bodies_over_16_mib_get_413_unread(fresh_viewer):
    ui, otlp, store = fresh_viewer
    for client, path in ((otlp, "/v1/traces"), (ui, "/api/import")):
        status, body, _ = client.request("POST", path, b"", {
            "Content-Type": "application/json", "Content-Length": str(MAX_BODY + 1)})
        assert status == 413 and b"limit" in body
    assert list_traces(store) == []


def test_gzip_bombs_get_413(fresh_viewer):
    import gzip
    _, otlp, _ = fresh_viewer
    bomb = gzip.compress(b" " * (MAX_BODY + 10))
    assert len(bomb) < MAX_BODY
    status, _, _ = otlp.post("/v1/traces", bomb, "application/json", **{"Content-Encoding": "gzip"})
    assert status == 413


def _span(span_id, **extra):
    return {"traceId": "1" * 32, "spanId": span_id, "name": "s", "startTimeUnixNano": "1000",
            "endTimeUnixNano": "2000", **extra}


@pytest.mark.parametrize("document,reason", [
    ({"resourceSpans": [{"scopeSpans": [{"spans": [_span("2" * 16), _span("short")]}]}]}, "spans[1].spanId"),
    ({"resourceSpans": [{"scopeSpans": [{"spans": [_span("2" * 16), _span("3" * 16, traceId="0" * 32)]}]}]}, "all-zero"),
    ({"resourceSpans": [{"scopeSpans": [{"spans": [_span("2" * 16, startTimeUnixNano="soon")]}]}]}, "startTimeUnixNano"),
    ({"resourceSpans": [{"scopeSpans": [{"spans": [_span("2" * 16, kind=42)]}]}]}, "kind"),
    ({"resourceSpans": [{"scopeSpans": [{"spans": [_span("2" * 16, attributes=[{"value": {}}])]}]}]}, "key"),
    ({"resourceSpans": "many"}, "not a list"),
    ({"spans": []}, "resourceSpans"),
    ([1, 2], "not a JSON object"),
])
def test_malformed_otlp_json_is_400_and_stores_nothing(fresh_viewer, document, reason):
    _, otlp, store = fresh_viewer
    status, body, _ = otlp.post("/v1/traces", json.dumps(document).encode(), "application/json")
    assert status == 400 and reason in json.loads(body)["error"]
    assert list_traces(store) == []


def test_malformed_bodies_are_400(fresh_viewer):
    _, otlp, store = fresh_viewer
    assert otlp.post("/v1/traces", b"{not json", "application/json")[0] == 400
    status, body, _ = otlp.post("/v1/traces", b"\xff\xff\xff garbage", "application/x-protobuf")
    assert status == 400 and b"protobuf" in body
    assert otlp.post("/v1/traces", b"<xml/>", "application/xml")[0] == 415
    assert list_traces(store) == []


def _protobuf_request(span_ids):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add()
    for span_id in span_ids:
        span = spans.spans.add()
        span.trace_id, span.span_id, span.name = b"\x01" * 16, span_id, "s"
        span.start_time_unix_nano, span.end_time_unix_nano = 1000, 2000
    return request.SerializeToString()


def test_malformed_otlp_protobuf_is_400_and_stores_nothing(fresh_viewer):
    ui, otlp, store = fresh_viewer
    for client in (otlp, ui):
        # the first span is fine, the second has a 4-byte span id
        status, body, _ = client.post("/v1/traces", _protobuf_request([b"\x02" * 8, b"\x03" * 4]),
                                      "application/x-protobuf")
        assert status == 400 and "spans[1].spanId" in json.loads(body)["error"]
    assert list_traces(store) == []
    assert otlp.post("/v1/traces", _protobuf_request([b"\x02" * 8]), "application/x-protobuf")[0] == 200
    assert [t["span_count"] for t in list_traces(store)] == [1]


def test_a_bad_import_is_400_with_the_line_and_stores_nothing(fresh_viewer):
    ui, _, store = fresh_viewer
    good = {"resourceSpans": [{"scopeSpans": [{"spans": [_span("2" * 16)]}]}]}
    bad = {"resourceSpans": [{"scopeSpans": [{"spans": [_span("3" * 16, endTimeUnixNano="later")]}]}]}
    body = (json.dumps(good) + "\n" + json.dumps(bad) + "\n").encode()
    status, answer, _ = ui.post("/api/import", body, "application/x-ndjson")
    assert status == 400 and json.loads(answer)["error"].startswith("line 2: ")
    assert "endTimeUnixNano" in json.loads(answer)["error"]
    assert list_traces(store) == []
