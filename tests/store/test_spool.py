"""The inbox: apps append packed batches, readers and idle time index them."""

import json
import multiprocessing
import sqlite3
import time

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExportResult

from autotrace.batching import BatchingProcessor
from autotrace.store import writer
from autotrace.store.indexer import catch_up
from autotrace.store.queries import get_trace, list_traces
from autotrace.store.writer import StoreExporter
from store_support import batches, collected_spans, finish, make_tracer, start_at


def waiting_and_indexed(path):
    """(spans waiting in the inbox, spans indexed), read without indexing anything;
    None before the store exists."""
    if not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT (SELECT coalesce(sum(span_count), 0) FROM inbox), "
                            "(SELECT count(*) FROM spans)").fetchone()
    except sqlite3.OperationalError:   # the exporter is creating the tables right now
        return None
    finally:
        conn.close()


class StrSubclass(str):
    pass


def test_a_span_comes_back_from_the_inbox_with_every_field(exporter, store_path):
    tracer = make_tracer(exporter, "shop")
    root = start_at(tracer, "GET /cart é", 0, kind=trace.SpanKind.SERVER, attributes={
        "http.route": "/cart", "http.response.status_code": 200, "ok": True, "ratio": 0.5,
        "tags": ("a", "b"), "odd": StrSubclass("sub"), "nan": float("nan"), "lone": "x\udcff"})
    root.add_event("cache miss", {"key.count": 3})
    child = start_at(tracer, "SELECT carts", 2, parent=root, kind=trace.SpanKind.CLIENT,
                     error="timeout")
    child.add_link(trace.SpanContext(0xAB, 0xCD, is_remote=True), {"link.kind": "retry"})
    finish(child, 5)
    finish(root, 10)
    assert waiting_and_indexed(store_path) == (2, 0)   # exported: waiting, nothing indexed

    trace_id = format(root.get_span_context().trace_id, "032x")
    spans = {span["name"]: span for span in get_trace(store_path, trace_id)}
    assert waiting_and_indexed(store_path) == (0, 2)   # the read indexed them first

    server, client = spans["GET /cart é"], spans["SELECT carts"]
    assert server["span_id"] == format(root.get_span_context().span_id, "016x")
    assert server["parent_span_id"] is None and client["parent_span_id"] == server["span_id"]
    assert (server["kind"], client["kind"]) == ("SERVER", "CLIENT")
    assert (server["status_code"], client["status_code"], client["status_message"]) == ("UNSET", "ERROR", "timeout")
    assert (server["start_ns"], server["duration_ns"]) == (root.start_time, 10_000_000)
    assert server["service_name"] == "shop" and server["resource"]["service.name"] == "shop"
    assert server["scope_name"] == "tests.store"
    attributes = server["attributes"]
    assert attributes["http.route"] == "/cart" and attributes["http.response.status_code"] == 200
    assert attributes["ok"] is True and attributes["ratio"] == 0.5 and attributes["tags"] == ["a", "b"]
    assert attributes["odd"] == "sub" and attributes["nan"] == "nan" and attributes["lone"] == "x\udcff"
    assert [(event["name"], event["attributes"]) for event in server["events"]] == [("cache miss", {"key.count": 3})]
    assert client["links"] == [{"trace_id": format(0xAB, "032x"), "span_id": format(0xCD, "016x"),
                                "attributes": {"link.kind": "retry"}}]
    # The search index was built from the same values.
    assert [t["trace_id"] for t in list_traces(store_path, attributes={"http.route": "/cart"})] == [trace_id]
    assert [t["trace_id"] for t in list_traces(store_path, attributes={"ok": "true"})] == [trace_id]


def test_an_unreadable_batch_is_dropped_and_the_others_are_indexed(exporter, store_path):
    first, second = collected_spans("app", 1, 3), collected_spans("app", 1, 2)
    assert exporter.export(first) is SpanExportResult.SUCCESS
    with sqlite3.connect(store_path) as conn:
        conn.execute("INSERT INTO inbox (format, span_count, body) VALUES (1, 4, x'00ff00ff')")
    assert exporter.export(second) is SpanExportResult.SUCCESS
    assert waiting_and_indexed(store_path) == (9, 0)
    assert sorted(t["span_count"] for t in list_traces(store_path)) == [2, 3]
    assert waiting_and_indexed(store_path) == (0, 5)


def test_an_idle_app_indexes_its_spans_without_any_reader(store_path):
    exporter = StoreExporter(store_path)
    # Through the batching processor, as an app's spans go.
    processor = BatchingProcessor("store", lambda: exporter, delay_s=0.05)
    for span in collected_spans("idle", 20, 5):
        processor.on_end(span)
    deadline = time.monotonic() + 10
    while waiting_and_indexed(store_path) != (0, 100) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert waiting_and_indexed(store_path) == (0, 100)
    processor.shutdown()


def test_idle_indexing_stops_between_chunks_when_spans_come_again(exporter, store_path, monkeypatch):
    for chunk in batches(collected_spans("app", 40, 5), 100):   # 2 batches of 100 spans
        exporter.export(chunk)
    monkeypatch.setattr(writer, "IDLE_CHUNK_SPANS", 100)
    answers = iter([False, True])   # idle for one chunk, then spans arrive
    exporter.on_idle(lambda: next(answers))
    assert waiting_and_indexed(store_path) == (100, 100)


def _index_in_child(path, ready, go):
    ready.set()
    go.wait(10)
    catch_up(path)


def test_two_readers_indexing_at_once_index_each_batch_once(exporter, store_path):
    spans = collected_spans("app", 300, 4)
    for chunk in batches(spans, 50):
        exporter.export(chunk)
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    readers = []
    for _ in range(2):
        ready = context.Event()
        reader = context.Process(target=_index_in_child, args=(str(store_path), ready, go))
        reader.start()
        assert ready.wait(30)
        readers.append(reader)
    go.set()
    for reader in readers:
        reader.join(60)
        assert reader.exitcode == 0
    assert waiting_and_indexed(store_path) == (0, 1200)
    conn = sqlite3.connect(store_path)
    try:
        assert conn.execute("SELECT count(*), sum(span_count) FROM traces").fetchone() == (300, 1200)
    finally:
        conn.close()


def test_export_costs_the_app_no_indexing(exporter, store_path):
    # What the app's export writes: one inbox row per batch, nothing in the indexed
    # tables (they are built later, by a reader or in idle time).
    for chunk in batches(collected_spans("app", 10, 3), 6):
        exporter.export(chunk)
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        counts = [conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("inbox", "traces", "spans", "span_attributes", "calls")]
        body = conn.execute("SELECT body FROM inbox LIMIT 1").fetchone()[0]
    finally:
        conn.close()
    assert counts == [5, 0, 0, 0, 0]
    assert isinstance(body, bytes) and not body.startswith(b"{")   # packed, not JSON text
    assert json.loads(json.dumps(list_traces(store_path, limit=100)))   # and readable once indexed
