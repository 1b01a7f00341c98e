"""OTLP/HTTP ingest while `autotrace view` runs: protobuf from a real traced program
(autotrace run with the OTLP exporter pointed at the viewer), and OTLP/JSON."""

import gzip
import os
import json
import subprocess
import sys

from support import autotrace_env
from autotrace.store.queries import get_trace, list_traces


def test_protobuf_from_a_traced_program_lands_in_the_store(tmp_path, fresh_viewer):
    _, otlp, store = fresh_viewer
    script = tmp_path / "app.py"
    script.write_text(
        "import sqlite3\n"
        "from opentelemetry import trace\n"
        "with trace.get_tracer('app').start_as_current_span('job') as span:\n"
        "    span.set_attribute('job.size', 3)\n"
        "    span.add_event('started', {'ok': True})\n"
        "    db = sqlite3.connect(':memory:')\n"
        "    db.execute('SELECT 1')\n")
    env = autotrace_env(tmp_path, OTEL_SERVICE_NAME="py-otlp",
                        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{otlp.port}")
    result = subprocess.run([sys.executable, "-m", "autotrace", "run", "--exporter", "otlp",
                             sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    (summary,) = list_traces(store)
    assert (summary["service"], summary["name"], summary["span_count"]) == ("py-otlp", "job", 2)
    spans = {s["name"]: s for s in get_trace(store, summary["trace_id"])}
    job, query = spans["job"], spans["SELECT"]
    assert job["attributes"] == {"job.size": 3} and job["kind"] == "INTERNAL"
    assert job["events"][0]["name"] == "started" and job["events"][0]["attributes"] == {"ok": True}
    assert query["parent_span_id"] == job["span_id"] and query["kind"] == "CLIENT"
    assert query["attributes"]["db.system.name"] == "sqlite"
    assert job["resource"]["service.name"] == "py-otlp" and job["scope_name"] == "app"
    # searchable like spans written by the store exporter
    assert [t["trace_id"] for t in list_traces(store, attributes=["job.size=3"])] == [summary["trace_id"]]


def _document(trace_id="5" * 32):
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "node-svc"}},
                                    {"key": "host.name", "value": {"stringValue": "box"}}]},
        "scopeSpans": [{"scope": {"name": "@opentelemetry/http", "version": "0.5"}, "spans": [
            {"traceId": trace_id, "spanId": "a" * 16, "name": "GET /x", "kind": "SPAN_KIND_SERVER",
             "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": 1700000000500000000,
             "attributes": [{"key": "http.response.status_code", "value": {"intValue": "503"}},
                            {"key": "ratio", "value": {"doubleValue": 0.5}},
                            {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 2}]}}},
                            {"key": "cached", "value": {"boolValue": False}}],
             "status": {"code": 2, "message": "upstream down"},
             "events": [{"timeUnixNano": "1700000000100000000", "name": "exception",
                         "attributes": [{"key": "exception.stacktrace", "value": {"stringValue": "Error: boom\n  at x.js:1"}}]}],
             "links": [{"traceId": "6" * 32, "spanId": "b" * 16, "attributes": []}]},
            {"traceId": trace_id, "spanId": "c" * 16, "parentSpanId": "a" * 16, "name": "db",
             "kind": 3, "startTimeUnixNano": "1700000000200000000", "endTimeUnixNano": "1700000000300000000"},
        ]}]}]}


def test_otlp_json_with_every_value_type(fresh_viewer):
    ui, otlp, store = fresh_viewer
    status, body, _ = otlp.post("/v1/traces", json.dumps(_document()).encode(), "application/json")
    assert (status, body) == (200, b"{}")
    trace = ui.get_json("/api/traces/" + "5" * 32)
    server, client = trace["spans"]
    assert (server["name"], server["kind"], server["status_code"], server["status_message"]) == \
        ("GET /x", "SERVER", "ERROR", "upstream down")
    assert server["attributes"] == {"http.response.status_code": 503, "ratio": 0.5, "tags": ["a", 2], "cached": False}
    assert server["events"][0]["attributes"]["exception.stacktrace"].startswith("Error: boom")
    assert server["links"] == [{"trace_id": "6" * 32, "span_id": "b" * 16, "attributes": {}}]
    assert (server["scope_name"], server["scope_version"]) == ("@opentelemetry/http", "0.5")
    assert client["parent_span_id"] == "a" * 16 and client["kind"] == "CLIENT"
    assert server["duration_ns"] == 500_000_000
    assert [t["trace_id"] for t in ui.get_json("/api/traces?attr=http.response.status_code=503&attr=host.name=box")] == ["5" * 32]


def test_gzip_json_on_the_ui_port_too(fresh_viewer):
    ui, _, store = fresh_viewer
    body = gzip.compress(json.dumps(_document("7" * 32)).encode())
    status, _, _ = ui.post("/v1/traces", body, "application/json; charset=utf-8", **{"Content-Encoding": "gzip"})
    assert status == 200
    assert [t["trace_id"] for t in list_traces(store)] == ["7" * 32]


def test_reingesting_the_same_spans_does_not_double_count(fresh_viewer):
    _, otlp, store = fresh_viewer
    body = json.dumps(_document()).encode()
    for _ in range(2):
        assert otlp.post("/v1/traces", body, "application/json")[0] == 200
    (summary,) = list_traces(store)
    assert summary["span_count"] == 2 and summary["error_count"] == 1


def test_store_size_limit_applies_to_ingested_spans(tmp_path):
    """Ingest goes through the store's writer, so its pruning keeps the file near the limit."""
    from autotrace.store.writer import StoreExporter
    from autotrace.viewer.server import Viewer
    from viewer_support import Client
    store = tmp_path / "small.db"
    writer = StoreExporter(store, max_mb=1)
    viewer = Viewer(str(store), writer)
    client = Client(viewer.serve("127.0.0.1", 0, ingest_only=True).server_address[1])
    try:
        filler = "x" * 2000
        for batch in range(12):
            spans = [{"traceId": format(batch * 1000 + n + 1, "032x"), "spanId": "1" * 16, "name": "s",
                      "startTimeUnixNano": str(batch * 1000 + n), "endTimeUnixNano": str(batch * 1000 + n + 1),
                      "attributes": [{"key": "blob", "value": {"stringValue": filler}}]} for n in range(100)]
            body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).encode()
            assert client.post("/v1/traces", body, "application/json")[0] == 200
    finally:
        viewer.stop()
        writer.shutdown()
    traces = list_traces(store, limit=None)
    assert 0 < len(traces) < 1200                          # the oldest were pruned
    assert max(t["start_ns"] for t in traces) == 11 * 1000 + 99  # the newest kept
    size = sum(os.path.getsize(p) for p in (store, str(store) + "-wal") if os.path.exists(p))
    assert size < 2.5 * 1024 * 1024


def test_protobuf_on_the_viewers_own_port(fresh_viewer):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    ui, _, store = fresh_viewer
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    attribute = resource_spans.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", "dotnet-svc"
    span = resource_spans.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name, span.kind = b"\x0a" * 16, b"\x0b" * 8, "POST /pay", 2
    span.start_time_unix_nano, span.end_time_unix_nano = 1_000_000, 3_000_000
    status, body, response = ui.post("/v1/traces", request.SerializeToString(), "application/x-protobuf")
    assert (status, response.getheader("Content-Type")) == (200, "application/x-protobuf")
    (summary,) = list_traces(store)
    assert (summary["trace_id"], summary["service"], summary["name"], summary["duration_ns"]) == \
        ("0a" * 16, "dotnet-svc", "POST /pay", 2_000_000)
