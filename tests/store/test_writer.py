"""StoreExporter against real SDK spans and a real SQLite file."""

import json
import os
import signal
import sqlite3
import threading

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from autotrace.store import schema
from autotrace.store.indexer import catch_up
from autotrace.store.queries import StoreError, get_trace, list_traces
from autotrace.store.writer import StoreExporter
from store_support import collected_spans, finish, make_tracer, start_at


def rows(path, sql, params=()):
    catch_up(path)   # what readers do first: index the spooled batches
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def test_spans_are_written_with_ids_kind_status_and_json(exporter, store_path):
    tracer = make_tracer(exporter, "shop")
    root = start_at(tracer, "GET /cart", 0, kind=SpanKind.SERVER,
                    attributes={"http.route": "/cart", "tags": ("a", "b"), "ok": True})
    child = start_at(tracer, "SELECT", 1, parent=root, kind=SpanKind.CLIENT, error="timeout")
    child.add_event("retry", {"attempt": 2})
    finish(child, 4)
    finish(root, 10)

    assert store_path.exists()  # parent directory was created
    spans = {span["name"]: span for span in get_trace(store_path, format(root.context.trace_id, "032x"))}
    server, client = spans["GET /cart"], spans["SELECT"]
    assert server["span_id"] == format(root.context.span_id, "016x")
    assert len(server["trace_id"]) == 32 and server["trace_id"] == server["trace_id"].lower()
    assert server["parent_span_id"] is None
    assert client["parent_span_id"] == server["span_id"]
    assert (server["kind"], client["kind"]) == ("SERVER", "CLIENT")
    assert (server["status_code"], client["status_code"]) == ("UNSET", "ERROR")
    assert client["status_message"] == "timeout"
    assert server["attributes"] == {"http.route": "/cart", "tags": ["a", "b"], "ok": True}
    assert client["events"][0]["name"] == "retry"
    assert client["events"][0]["attributes"] == {"attempt": 2}
    assert server["resource"]["service.name"] == "shop"
    assert server["scope_name"] == "tests.store"
    assert server["duration_ns"] == 10_000_000 and client["duration_ns"] == 3_000_000

    [summary] = list_traces(store_path)
    assert summary["span_count"] == 2 and summary["error_count"] == 1
    assert summary["root_name"] == "GET /cart" and summary["complete"]
    assert summary["duration_ns"] == 10_000_000


def test_store_settings(exporter, store_path):
    exporter.export(collected_spans("svc", 1, 1))
    with sqlite3.connect(store_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # INCREMENTAL
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION


def test_re_exporting_the_same_spans_changes_nothing(exporter, store_path):
    spans = collected_spans("svc", traces=3, spans_per_trace=4)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    before = list_traces(store_path)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert exporter.export(spans[:5]) is SpanExportResult.SUCCESS
    assert rows(store_path, "SELECT count(*) FROM spans") == [(12,)]
    assert list_traces(store_path) == before
    assert all(trace["span_count"] == 4 for trace in before)


def test_a_trace_arriving_in_pieces_from_two_services_root_last(store_path):
    memory = InMemorySpanExporter()
    front, back = make_tracer(memory, "front"), make_tracer(memory, "back")
    root = start_at(front, "GET /", 0)
    call = start_at(back, "handle", 2, parent=root, error="boom")
    inner = start_at(back, "query", 3, parent=call)
    finish(inner, 4)
    finish(call, 6)
    finish(root, 9)
    inner_span, call_span, root_span = memory.get_finished_spans()

    # Separate exporters stand for separate processes writing the same store.
    back_exporter, front_exporter = StoreExporter(store_path), StoreExporter(store_path)
    back_exporter.export([inner_span])
    [partial] = list_traces(store_path)
    assert not partial["complete"] and partial["name"] == "query"
    back_exporter.export([call_span])
    [partial] = list_traces(store_path)
    assert partial["name"] == "handle" and partial["service"] == "back"  # earliest so far
    front_exporter.export([root_span])

    [whole] = list_traces(store_path)
    assert whole["complete"] and (whole["service"], whole["name"]) == ("front", "GET /")
    assert whole["span_count"] == 3 and whole["error_count"] == 1
    assert whole["services"] == ["back", "front"]
    assert whole["duration_ns"] == 9_000_000


def test_unwritable_location_fails_quietly_with_one_warning(tmp_path, capsys):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a regular file")
    path = blocker / "sub" / "traces.db"
    exporter = StoreExporter(path)
    tracer = make_tracer(exporter, "app")

    for _ in range(3):
        with tracer.start_as_current_span("work"):  # the app's code runs untouched
            pass
    assert exporter.export(collected_spans("app", 1, 2)) is SpanExportResult.FAILURE

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"autotrace: cannot write traces to {path} (")
    assert lines[0].endswith("; spans are dropped")


def test_a_file_that_is_not_a_database_fails_quietly(tmp_path, capsys):
    path = tmp_path / "traces.db"
    path.write_bytes(b"this is not sqlite" * 100)
    exporter = StoreExporter(path)
    assert exporter.export(collected_spans("app", 1, 1)) is SpanExportResult.FAILURE
    assert exporter.export(collected_spans("app", 1, 1)) is SpanExportResult.FAILURE
    [line] = capsys.readouterr().err.splitlines()
    assert "not a database" in line
    with pytest.raises(StoreError, match="not an autotrace trace store"):
        list_traces(path)


def test_a_store_from_a_newer_autotrace_is_refused(exporter, store_path, capsys):
    exporter.export(collected_spans("app", 1, 1))
    exporter.shutdown()
    with sqlite3.connect(store_path) as conn:
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")

    newer = StoreExporter(store_path)
    assert newer.export(collected_spans("app", 1, 1)) is SpanExportResult.FAILURE
    [line] = capsys.readouterr().err.splitlines()
    assert f"schema version {schema.SCHEMA_VERSION + 1}" in line and "upgrade autotrace" in line
    with pytest.raises(StoreError, match="upgrade autotrace"):
        list_traces(store_path)
    # Left untouched: the first exporter's span still waits in the inbox, not indexed
    # by this autotrace (the layout is not its own), and nothing was added.
    assert rows(store_path, "SELECT (SELECT count(*) FROM spans), (SELECT sum(span_count) FROM inbox)") \
        == [(0, 1)]


def test_migration_hook_upgrades_an_older_store(exporter, store_path, monkeypatch):
    exporter.export(collected_spans("app", 2, 1))
    exporter.shutdown()

    def add_notes_column(conn):
        conn.execute("ALTER TABLE traces ADD COLUMN notes TEXT")

    newer = schema.SCHEMA_VERSION + 1
    monkeypatch.setattr(schema, "SCHEMA_VERSION", newer)
    monkeypatch.setitem(schema.MIGRATIONS, newer - 1, add_notes_column)
    upgraded = StoreExporter(store_path)
    assert upgraded.export(collected_spans("app", 1, 1)) is SpanExportResult.SUCCESS
    upgraded.shutdown()
    catch_up(store_path)
    with sqlite3.connect(store_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == newer
        columns = [row[1] for row in conn.execute("PRAGMA table_info(traces)")]
        assert "notes" in columns
        assert conn.execute("SELECT count(*) FROM traces").fetchone()[0] == 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_opens_its_own_connection(exporter, store_path, capfd):
    assert exporter.export(collected_spans("parent", 1, 1)) is SpanExportResult.SUCCESS
    parent_connection = exporter._conn
    pid = os.fork()
    if pid == 0:  # child: must not reuse the parent's connection
        code = 1
        try:
            result = exporter.export(collected_spans("child", 1, 1))
            fresh = exporter._conn is not None and exporter._conn is not parent_connection
            code = 0 if result is SpanExportResult.SUCCESS and fresh else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert exporter.export(collected_spans("parent", 1, 1)) is SpanExportResult.SUCCESS
    assert exporter._conn is parent_connection
    services = sorted(row[0] for row in rows(store_path, "SELECT service_name FROM spans"))
    assert services == ["child", "parent", "parent"]
    assert capfd.readouterr().err == ""


def test_deleted_store_is_recreated(exporter, store_path):
    exporter.export(collected_spans("app", 1, 1))
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{store_path}{suffix}")
        except FileNotFoundError:
            pass
    exporter._last_size_check = -1e9  # make the next batch check the file
    exporter.export(collected_spans("app", 1, 1))  # notices the file is gone
    assert exporter.export(collected_spans("app", 1, 1)) is SpanExportResult.SUCCESS
    assert store_path.exists()
    assert rows(store_path, "SELECT count(*) FROM spans")[0][0] >= 1


def test_after_shutdown_export_fails_without_warning(exporter, capsys):
    exporter.shutdown()
    assert exporter.export(collected_spans("app", 1, 1)) is SpanExportResult.FAILURE
    assert exporter.force_flush() is True
    assert capsys.readouterr().err == ""


def test_odd_attribute_values_are_stored_as_valid_json(exporter, store_path):
    memory = InMemorySpanExporter()
    tracer = make_tracer(memory, "app")
    with tracer.start_as_current_span("odd", attributes={
            "nan": float("nan"), "inf": float("-inf"), "path": "caf\udce9.txt",
            "unicode": "naïve ☃", "floats": (1.5, 2.5)}):
        pass
    assert exporter.export(memory.get_finished_spans()) is SpanExportResult.SUCCESS
    [(text,)] = rows(store_path, "SELECT attributes FROM spans")
    def refuse(token):
        raise AssertionError(f"{token} is not JSON a browser can parse")

    attributes = json.loads(text, parse_constant=refuse)
    assert attributes["nan"] == "nan" and attributes["inf"] == "-inf"
    assert attributes["unicode"] == "naïve ☃" and attributes["floats"] == [1.5, 2.5]
    assert attributes["path"].startswith("caf")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_while_another_thread_holds_the_exporter_lock(exporter, store_path):
    exporter.export(collected_spans("parent", 1, 1))
    exporter._lock.acquire()  # as if a batch were being written at the moment of fork
    try:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.alarm(20)  # a deadlock kills the child instead of hanging the test
                result = exporter.export(collected_spans("child", 1, 1))
                code = 0 if result is SpanExportResult.SUCCESS else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    finally:
        exporter._lock.release()
    assert os.waitstatus_to_exitcode(status) == 0
    assert rows(store_path, "SELECT count(*) FROM spans WHERE service_name = 'child'") == [(1,)]


def test_many_threads_share_one_exporter(exporter, store_path):
    tracer = make_tracer(exporter, "threads")  # SimpleSpanProcessor: exports on each thread

    def work():
        for _ in range(100):
            with tracer.start_as_current_span("outer"):
                with tracer.start_as_current_span("inner"):
                    pass

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert rows(store_path, "SELECT count(*), sum(span_count) FROM traces") == [(800, 1600)]
    assert rows(store_path, "SELECT count(*) FROM spans") == [(1600,)]
