"""The store stays near max_mb: oldest traces go, newest stay."""

import os
import sqlite3

from opentelemetry.sdk.trace.export import SpanExportResult

from autotrace.store.indexer import catch_up
from autotrace.store.queries import get_trace, list_traces
from autotrace.store.writer import StoreExporter
from store_support import batches, collected_spans

MB = 1024 * 1024


def store_size(path):
    return sum(os.path.getsize(f"{path}{suffix}") for suffix in ("", "-wal")
               if os.path.exists(f"{path}{suffix}"))


def test_store_stays_bounded_and_keeps_the_newest_traces(store_path):
    # ~12 MB of spans into a 1 MB store.
    spans = collected_spans("app", traces=3000, spans_per_trace=5,
                            attributes={"payload": "x" * 300, "http.route": "/items"})
    exporter = StoreExporter(store_path, max_mb=1)
    largest = 0
    for chunk in batches(spans, 50):
        assert exporter.export(chunk) is SpanExportResult.SUCCESS
        largest = max(largest, store_size(store_path))
    exporter.shutdown()

    assert largest < 1.5 * MB, largest
    assert store_size(store_path) < 1.2 * MB
    newest = format(spans[-1].context.trace_id, "032x")
    oldest = format(spans[0].context.trace_id, "032x")
    assert get_trace(store_path, newest)
    assert get_trace(store_path, oldest) == []

    catch_up(store_path)
    with sqlite3.connect(store_path) as conn:
        kept, counted = conn.execute("SELECT count(*), sum(span_count) FROM traces").fetchone()
        assert 100 < kept < 3000  # pruned, but not emptied
        assert conn.execute("SELECT count(*) FROM spans").fetchone()[0] == counted
        # No index rows left behind by deleted traces.
        for table in ("span_attributes", "calls"):
            assert conn.execute(
                f"SELECT count(*) FROM {table} WHERE trace_no NOT IN (SELECT trace_no FROM traces)"
            ).fetchone()[0] == 0
    # Survivors are exactly the newest traces: nothing kept is older than anything pruned.
    in_order = list(dict.fromkeys(format(span.context.trace_id, "032x") for span in spans))
    survivors = {trace["trace_id"] for trace in list_traces(store_path, limit=kept)}
    assert survivors == set(in_order[-kept:])
    print(f"largest {largest / MB:.2f} MB, final {store_size(store_path) / MB:.2f} MB, "
          f"kept {kept} of {len(in_order)} traces")
