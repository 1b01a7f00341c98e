"""`autotrace export` and `autotrace import`: OTLP JSON Lines round trip through the
real commands, a single OTLP JSON object, and a Jaeger JSON export."""

import json
import subprocess
import sys

from autotrace.store.queries import get_trace, list_traces

_COMPARED = ("trace_id", "span_id", "parent_span_id", "service_name", "name", "kind", "start_ns",
             "end_ns", "status_code", "status_message", "attributes", "events", "links", "resource",
             "scope_name", "scope_version")


def _autotrace(*args):
    return subprocess.run([sys.executable, "-m", "autotrace", *args], capture_output=True, text=True, timeout=60)


def _spans(store, trace_id):
    return sorted(({k: s[k] for k in _COMPARED} for s in get_trace(store, trace_id)), key=lambda s: s["span_id"])


def test_export_then_import_round_trips_every_field(example_store, tmp_path):
    exported = tmp_path / "all.jsonl"
    result = _autotrace("export", "--store", example_store, str(exported))
    assert result.returncode == 0, result.stderr
    lines = exported.read_text().splitlines()
    traces = list_traces(example_store, limit=None)
    assert len(lines) == len(traces)
    for line in lines:   # one TracesData per line, hex ids
        document = json.loads(line)
        span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        assert len(span["traceId"]) == 32 and int(span["traceId"], 16)
    copy = str(tmp_path / "copy.db")
    result = _autotrace("import", "--store", copy, str(exported))
    assert result.returncode == 0, result.stderr
    assert "span(s)" in result.stdout
    for summary in traces:
        assert _spans(copy, summary["trace_id"]) == _spans(example_store, summary["trace_id"])
    assert [(t["trace_id"], t["span_count"], t["error_count"], t["services"]) for t in list_traces(copy, limit=None)] == \
        [(t["trace_id"], t["span_count"], t["error_count"], t["services"]) for t in traces]


def test_export_one_trace_and_since(example_store, tmp_path):
    (checkout,) = list_traces(example_store, operation="checkout")
    one = tmp_path / "one.jsonl"
    assert _autotrace("export", "--store", example_store, "--trace", checkout["trace_id"][:8], str(one)).returncode == 0
    assert one.read_text().count("\n") == 1
    spans = json.loads(one.read_text())["resourceSpans"]
    services = {a["value"]["stringValue"] for r in spans for a in r["resource"]["attributes"] if a["key"] == "service.name"}
    assert services == {"shop", "inventory"}
    none = tmp_path / "none.jsonl"
    assert _autotrace("export", "--store", example_store, "--since", "2099-01-01", str(none)).returncode == 0
    assert none.read_text() == ""
    result = _autotrace("export", "--store", example_store, "--since", "whenever", str(none))
    assert result.returncode == 1 and "whenever" in result.stderr


def test_import_single_otlp_object_pretty_printed(tmp_path):
    document = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "java-svc"}}]},
                                   "scopeSpans": [{"spans": [{"traceId": "ab" * 16, "spanId": "01" * 8, "name": "main",
                                                              "startTimeUnixNano": "100", "endTimeUnixNano": "300"}]}]}]}
    path = tmp_path / "one.json"
    path.write_text(json.dumps(document, indent=2))
    store = str(tmp_path / "s.db")
    assert _autotrace("import", "--store", store, str(path)).returncode == 0
    (summary,) = list_traces(store)
    assert (summary["service"], summary["name"], summary["duration_ns"]) == ("java-svc", "main", 200)


JAEGER = {"data": [{"traceID": "4bf92f3577b34da6a3ce929d0e0e4736", "spans": [
    {"traceID": "4bf92f3577b34da6a3ce929d0e0e4736", "spanID": "a3ce929d0e0e4736", "operationName": "HTTP GET /api",
     "references": [], "startTime": 1700000000000000, "duration": 25000, "processID": "p1",
     "tags": [{"key": "span.kind", "type": "string", "value": "server"},
              {"key": "http.status_code", "type": "int64", "value": 500},
              {"key": "error", "type": "bool", "value": True}],
     "logs": [{"timestamp": 1700000000010000, "fields": [{"key": "event", "type": "string", "value": "retry"},
                                                         {"key": "attempt", "type": "int64", "value": 2}]}]},
    {"traceID": "4bf92f3577b34da6a3ce929d0e0e4736", "spanID": "e0e4736", "operationName": "SELECT",
     "references": [{"refType": "CHILD_OF", "traceID": "4bf92f3577b34da6a3ce929d0e0e4736", "spanID": "a3ce929d0e0e4736"}],
     "startTime": 1700000000002000, "duration": 5000, "processID": "p2", "tags": [{"key": "span.kind", "value": "client"}]},
], "processes": {"p1": {"serviceName": "api", "tags": [{"key": "hostname", "type": "string", "value": "h1"}]},
                 "p2": {"serviceName": "db-proxy", "tags": []}}}]}


def test_import_jaeger_json(tmp_path):
    path = tmp_path / "jaeger.json"
    path.write_text(json.dumps(JAEGER))
    store = str(tmp_path / "s.db")
    result = _autotrace("import", "--store", store, str(path))
    assert result.returncode == 0, result.stderr
    (summary,) = list_traces(store)
    assert (summary["service"], summary["name"], summary["span_count"], summary["error_count"]) == ("api", "HTTP GET /api", 2, 1)
    root, child = get_trace(store, summary["trace_id"])
    assert (root["kind"], root["duration_ns"], root["attributes"]) == ("SERVER", 25_000_000, {"http.status_code": 500})
    assert root["events"] == [{"name": "retry", "timestamp_ns": 1700000000010000000, "attributes": {"attempt": 2}}]
    assert root["resource"] == {"service.name": "api", "hostname": "h1"}
    assert (child["span_id"], child["parent_span_id"], child["service_name"], child["kind"]) == \
        ("000000000e0e4736", "a3ce929d0e0e4736", "db-proxy", "CLIENT")


def test_a_bad_file_imports_nothing(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "ab" * 16, "spanId": "01" * 8, "name": "x",
                                                          "startTimeUnixNano": "1", "endTimeUnixNano": "2"}]}]}]}
    path.write_text(json.dumps(good) + "\n" + "{broken\n")
    store = tmp_path / "s.db"
    result = _autotrace("import", "--store", str(store), str(path))
    assert result.returncode == 1 and "line 2" in result.stderr
    assert list_traces(store) == []


def test_import_through_the_api(fresh_viewer):
    ui, _, store = fresh_viewer
    status, body, _ = ui.post("/api/import", json.dumps(JAEGER).encode(), "application/json")
    assert status == 200 and json.loads(body) == {"spans": 2}
    assert len(list_traces(store)) == 1
