"""The JSON API over a store written by real `autotrace run` processes of the
two-service example (shop -> inventory over HTTP, sqlite3 in inventory)."""

import http.client
import json
import time

from autotrace.viewer.otlp import traces_data
from autotrace.store.queries import get_trace


def _the_trace(client):
    (trace,) = client.get_json("/api/traces?service=shop")
    return trace


def test_trace_list_newest_first_with_summary_columns(example_viewer):
    traces = example_viewer.get_json("/api/traces")
    starts = [t["start_ns"] for t in traces]
    assert starts == sorted(starts, reverse=True)
    checkout = _the_trace(example_viewer)
    assert checkout["name"] == "checkout" and checkout["service"] == "shop"
    assert checkout["services"] == ["inventory", "shop"]
    assert checkout["span_count"] == 19          # root, 3 GETs, 3 server spans, 12 queries
    assert checkout["error_count"] == 2          # the failing server span and its client span
    assert checkout["duration_ns"] > 0


def test_filters_combine(example_viewer):
    get = example_viewer.get_json
    checkout_id = _the_trace(example_viewer)["trace_id"]
    ids = lambda query: [t["trace_id"] for t in get("/api/traces?" + query)]
    assert ids("operation=checkout") == [checkout_id]
    assert ids("errors=1") == [checkout_id]
    assert ids("attr=shop.customer=c-42&attr=http.route=/fail") == [checkout_id]
    assert ids("attr=shop.customer=c-42&attr=http.route=/nope") == []
    assert ids("attr=http.response.status_code=500") == [checkout_id]
    assert ids("service=inventory&operation=checkout&min_ms=0.001") == [checkout_id]
    assert ids("operation=checkout&max_ms=0.001") == []
    assert ids("operation=checkout&since=1h") == [checkout_id]
    assert ids("operation=checkout&until=2000-01-01") == []
    # inventory's own startup statements are traces of their own, without errors
    assert set(ids("service=inventory")) - {checkout_id}
    assert ids("service=nobody") == []


def test_bad_filters_are_400_with_a_reason(example_viewer):
    for query in ("min_ms=fast", "since=yesterday-ish", "attr=novalue", "limit=x"):
        status, body, _ = example_viewer.request("GET", "/api/traces?" + query)
        assert status == 400 and json.loads(body)["error"], query


def test_one_trace_with_analysis(example_viewer):
    trace_id = _the_trace(example_viewer)["trace_id"]
    trace = example_viewer.get_json("/api/traces/" + trace_id[:10])   # a prefix works
    assert trace["trace_id"] == trace_id and len(trace["spans"]) == 19
    analysis = trace["analysis"]
    rows = analysis["rows"]   # columns in display order; `span` indexes trace["spans"]
    assert sorted(rows["span"]) == list(range(19)) and all(len(column) == 19 for column in rows.values())
    shown = [trace["spans"][position] for position in rows["span"]]
    assert [(s["name"], depth) for s, depth in zip(shown, rows["depth"])][:4] == [
        ("checkout", 0), ("GET", 1), ("GET /orders/{id}", 2), ("SELECT items", 3)]
    for n, span in enumerate(shown):   # every child right below its parent's subtree start
        if span["parent_span_id"]:
            parent = next(k for k in range(n - 1, -1, -1) if shown[k]["span_id"] == span["parent_span_id"])
            assert rows["depth"][n] == rows["depth"][parent] + 1
    assert all(offset >= 0 for offset in rows["offset_ns"]) and all(d >= 0 for d in rows["duration_ns"])
    assert all(offset + d <= analysis["duration_ns"] for offset, d in zip(rows["offset_ns"], rows["duration_ns"]))
    assert rows["child_count"][0] == 3 and not any(rows["orphan"])
    assert not analysis["incomplete"]
    names = {s["span_id"]: s["name"] for s in trace["spans"]}
    # every call is awaited in turn: root, clients and server spans are all critical
    critical = [names[i] for i in analysis["critical_path"]]
    assert critical[0] == "checkout" and critical.count("GET") == 3
    n_plus_one = [f for f in analysis["flags"] if f["kind"] == "n+1"]
    assert [f["count"] for f in n_plus_one] == [6, 6]
    assert n_plus_one[0]["query"] == "SELECT name FROM items WHERE id = ?"
    (sequential,) = [f for f in analysis["flags"] if f["kind"] == "sequential"]
    assert [names[i] for i in sequential["span_ids"]] == ["GET"] * 3
    services = {s["service"]: s["self_ns"] for s in analysis["self_time"]["services"]}
    assert set(services) == {"shop", "inventory"}
    assert sum(services.values()) <= analysis["duration_ns"] * 1.01
    operations = {(o["service"], o["name"]): o["count"] for o in analysis["self_time"]["operations"]}
    assert operations[("inventory", "SELECT items")] == 12


def test_failing_span_carries_the_exception(example_viewer):
    trace = example_viewer.get_json("/api/traces/" + _the_trace(example_viewer)["trace_id"])
    (failed,) = [s for s in trace["spans"] if s["name"] == "GET /fail"]
    assert failed["status_code"] == "ERROR"
    (event,) = failed["events"]
    assert event["name"] == "exception"
    assert "LookupError: order 404 has no items" in event["attributes"]["exception.stacktrace"]
    assert trace["resources"][trace["resource_index"][trace["spans"].index(failed)]]["service.name"] == "inventory"
    assert {r["service.name"] for r in trace["resources"]} == {"shop", "inventory"}


def test_unknown_and_malformed_trace_ids(example_viewer):
    assert example_viewer.request("GET", "/api/traces/" + "0" * 32)[0] == 404
    assert example_viewer.request("GET", "/api/traces/nothex!")[0] == 400


def test_download_is_one_otlp_json_line(example_viewer, example_store):
    trace_id = _the_trace(example_viewer)["trace_id"]
    status, body, response = example_viewer.request("GET", f"/api/traces/{trace_id}/otlp")
    assert status == 200 and "attachment" in response.getheader("Content-Disposition")
    assert body.count(b"\n") == 1
    assert json.loads(body) == traces_data(get_trace(example_store, trace_id))


def test_services_and_service_map(example_viewer):
    services = {s["name"]: s for s in example_viewer.get_json("/api/services")}
    assert set(services) == {"shop", "inventory"}
    assert example_viewer.get_json("/api/service-names") == ["inventory", "shop"]
    graph = example_viewer.get_json("/api/service-map?since=1h")
    (edge,) = graph["edges"]
    assert (edge["caller"], edge["callee"], edge["call_count"], edge["error_count"]) == ("shop", "inventory", 3, 1)
    assert abs(edge["error_rate"] - 1 / 3) < 1e-9
    assert 0 < edge["p50_ns"] <= edge["p95_ns"]
    assert example_viewer.get_json("/api/service-map?until=2000-01-01")["edges"] == []
    operations = {o["name"]: o["count"] for o in example_viewer.get_json("/api/operations?service=inventory")}
    assert operations["SELECT items"] == 12


def test_pages_serve_the_app(example_viewer):
    for path in ("/", "/map", "/trace/0123456789abcdef"):
        status, body, response = example_viewer.request("GET", path)
        assert status == 200 and b"/static/app.js" in body
        assert "script-src 'self'" in response.getheader("Content-Security-Policy")
    status, body, response = example_viewer.request("GET", "/static/app.js")
    assert status == 200 and response.getheader("Content-Type").startswith("text/javascript")


def test_live_feed_announces_new_and_grown_traces(fresh_viewer):
    ui, otlp, _ = fresh_viewer
    connection = http.client.HTTPConnection("127.0.0.1", ui.port, timeout=10)
    connection.request("GET", "/api/live")
    response = connection.getresponse()
    assert response.getheader("Content-Type") == "text/event-stream"
    assert response.readline() == b"event: hello\n"
    hello = json.loads(response.readline()[len(b"data: "):])
    response.readline()
    span = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "live-one", "kind": 2,
            "startTimeUnixNano": str(time.time_ns()), "endTimeUnixNano": str(time.time_ns() + 1000)}
    document = {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "go-svc"}}]}, "scopeSpans": [{"spans": [span]}]}]}
    assert otlp.post("/v1/traces", json.dumps(document).encode(), "application/json")[0] == 200
    assert response.readline() == b"event: traces\n"
    event = json.loads(response.readline()[len(b"data: "):])
    assert event["cursor"] > hello["cursor"]
    assert [(t["trace_id"], t["name"], t["service"]) for t in event["traces"]] == [("ab" * 16, "live-one", "go-svc")]
    # Another service's span of the same trace arrives later: the trace grew, that is news too.
    response.readline()
    child = dict(span, spanId="ef" * 8, parentSpanId="cd" * 8, name="child", kind=3)
    later = {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "node-svc"}}]}, "scopeSpans": [{"spans": [child]}]}]}
    assert otlp.post("/v1/traces", json.dumps(later).encode(), "application/json")[0] == 200
    assert response.readline() == b"event: traces\n"
    grown = json.loads(response.readline()[len(b"data: "):])
    connection.close()
    assert grown["cursor"] > event["cursor"]
    assert [(t["trace_id"], t["span_count"], t["services"]) for t in grown["traces"]] == \
        [("ab" * 16, 2, ["go-svc", "node-svc"])]


def test_trace_answer_carries_the_stored_spans_unchanged(example_viewer, example_store):
    # The answer splices the stored JSON text in: it must decode to what get_trace reads.
    trace_id = _the_trace(example_viewer)["trace_id"]
    trace = example_viewer.get_json("/api/traces/" + trace_id)
    stored = {span["span_id"]: span for span in get_trace(example_store, trace_id)}
    assert len(trace["spans"]) == len(stored) == 19
    assert len(trace["resource_index"]) == 19
    for span, resource in zip(trace["spans"], trace["resource_index"]):
        expected = dict(stored[span["span_id"]])
        assert trace["resources"][resource] == expected.pop("resource")
        del expected["trace_id"]
        assert span == expected


def test_a_damaged_json_column_is_sent_as_text(fresh_viewer):
    import sqlite3
    ui, otlp, store = fresh_viewer
    body = json.dumps({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "damaged"}}]},
        "scopeSpans": [{"spans": [{"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "work",
                                   "startTimeUnixNano": "1000", "endTimeUnixNano": "2000",
                                   "attributes": [{"key": "k", "value": {"stringValue": "v"}}]}]}]}]})
    assert otlp.post("/v1/traces", body.encode(), "application/json")[0] == 200
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE spans SET attributes = '{\"k\": broken'")
    trace = ui.get_json("/api/traces/" + "ab" * 16)
    (span,) = trace["spans"]
    assert span["attributes"] == '{"k": broken' and span["name"] == "work"
    assert trace["resources"] == [{"service.name": "damaged"}]
