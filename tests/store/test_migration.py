"""A store written by an older autotrace (layout version 1) is upgraded in place, and
everything the viewer asks of it still answers the same."""

import sqlite3

from opentelemetry.trace import SpanKind

from autotrace.store import schema
from autotrace.store.queries import (get_trace, list_traces, service_map, service_names,
                                     services, traces_after)
from autotrace.store.writer import StoreExporter
from store_support import MS, T0, finish, make_tracer, remote_parent_context, start_at

TRACE_A = "a" * 32      # front GET /a -> back handle-a -> back query
TRACE_B = "b" * 32      # back orphan: its parent was never stored
FRONT_RES = '{"service.name":"front"}'
BACK_RES = '{"service.name":"back"}'

# (trace, span, parent, service, name, kind, start ms, end ms, status, attributes, resource)
V1_SPANS = [
    (TRACE_A, "1" * 16, None, "front", "GET /a", "SERVER", 0, 10, "UNSET",
     '{"http.route":"/a","http.response.status_code":200}', FRONT_RES),
    (TRACE_A, "2" * 16, "1" * 16, "back", "handle-a", "SERVER", 2, 8, "ERROR",
     '{"user.id":"u7"}', BACK_RES),
    (TRACE_A, "3" * 16, "2" * 16, "back", "SELECT", "CLIENT", 3, 4, "UNSET", '{}', BACK_RES),
    (TRACE_B, "4" * 16, "9" * 16, "back", "orphan-work", "INTERNAL", 1000, 1005, "UNSET",
     '{"user.id":"u8"}', BACK_RES),
]


def _write_v1_store(path):
    """The tables and rows autotrace wrote with layout version 1."""
    conn = sqlite3.connect(path)
    for statement in schema.V1.split(";"):
        if statement.strip():
            conn.execute(statement)
    for trace, span, parent, service, name, kind, start, end, status, attributes, resource \
            in V1_SPANS:
        conn.execute(
            "INSERT INTO spans (trace_id, span_id, parent_span_id, service_name, name, kind, "
            "start_ns, end_ns, duration_ns, status_code, attributes, resource) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (trace, span, parent, service, name, kind, T0 + start * MS, T0 + end * MS,
             (end - start) * MS, status, attributes, resource))
        conn.execute("INSERT OR IGNORE INTO trace_services VALUES (?, ?)", (service, trace))
    for key, value, trace in (("http.route", "/a", TRACE_A),
                              ("http.response.status_code", "200", TRACE_A),
                              ("user.id", "u7", TRACE_A), ("user.id", "u8", TRACE_B)):
        conn.execute("INSERT INTO span_attributes VALUES (?, ?, ?)", (key, value, trace))
    conn.execute(
        "INSERT INTO traces VALUES (?, ?, ?, ?, ?, 'front', 'GET /a', 'front', 'GET /a', 3, 1, "
        "'[\"back\",\"front\"]')", (TRACE_A, T0, T0 + 10 * MS, 10 * MS, "1" * 16))
    conn.execute(
        "INSERT INTO traces VALUES (?, ?, ?, ?, NULL, NULL, NULL, 'back', 'orphan-work', 1, 0, "
        "'[\"back\"]')", (TRACE_B, T0 + 1000 * MS, T0 + 1005 * MS, 5 * MS))
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_a_version_1_store_is_upgraded_and_reads_the_same(store_path):
    store_path.parent.mkdir(parents=True, exist_ok=True)
    _write_v1_store(store_path)

    exporter = StoreExporter(store_path)
    # A late span of trace A (from a third service) joins the migrated trace.
    worker = make_tracer(exporter, "worker")
    late = start_at(worker, "job", 20, kind=SpanKind.CONSUMER,
                    context=remote_parent_context(int(TRACE_A, 16), int("1" * 16, 16)),
                    attributes={"job.name": "mail"})
    finish(late, 30)
    exporter.shutdown()

    with sqlite3.connect(store_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert not any(name.startswith("v1_") for name in tables) and "trace_services" not in tables

    [a] = list_traces(store_path, attributes={"http.route": "/a"})
    assert a["trace_id"] == TRACE_A and a["span_count"] == 4 and a["error_count"] == 1
    assert a["services"] == ["back", "front", "worker"] and a["name"] == "GET /a"
    assert a["end_ns"] == T0 + 30 * MS
    assert [t["trace_id"] for t in list_traces(store_path, service="back")] == [TRACE_B, TRACE_A]
    assert [t["trace_id"] for t in list_traces(store_path, service="worker")] == [TRACE_A]
    assert [t["trace_id"] for t in list_traces(store_path, attributes=["user.id=u8"])] == [TRACE_B]
    assert [t["trace_id"] for t in list_traces(store_path, attributes=["job.name=mail"])] == [TRACE_A]
    assert service_names(store_path) == ["back", "front", "worker"]

    spans = get_trace(store_path, TRACE_A)
    assert [s["name"] for s in spans] == ["GET /a", "handle-a", "SELECT", "job"]
    assert spans[1]["attributes"] == {"user.id": "u7"} and spans[1]["trace_id"] == TRACE_A

    edges = {(e["caller"], e["callee"]): e for e in service_map(store_path)}
    assert set(edges) == {("front", "back"), ("front", "worker")}
    assert edges[("front", "back")]["error_count"] == 1 and edges[("front", "back")]["p50_ns"] == 6 * MS
    by_name = {s["name"]: s for s in services(store_path)}
    # back's entries: handle-a (called by front) and the orphan; the query is internal.
    assert by_name["back"]["entry_count"] == 2 and by_name["back"]["span_count"] == 3
    assert by_name["front"]["entry_count"] == 1

    # The live list's cursor counts stored spans: the late span, indexed after the
    # copied ones, is news for trace A only.
    latest, _ = traces_after(store_path, None)
    cursor, found = traces_after(store_path, latest - 1)
    assert cursor == latest and [t["trace_id"] for t in found] == [TRACE_A]
