"""How fast the StoreExporter writes, how fast the indexer indexes, how fast the
trace list reads.

Run: PYTHONPATH=. python benchmarks/bench_store.py [--spans N] [--runs R]

Spans are made once by the real SDK (a server span with four children per trace,
typical HTTP attributes), then exported in batches of 512, as the batching processor
does, into a fresh store per run: that is the app's cost (its export thread packs each
batch and appends it to the inbox). Then a reader indexes the inbox (what `autotrace
traces` or `autotrace view` does before answering, or the app in its idle time).
Prints the median of the runs, wall time and the process's CPU time per span.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from autotrace.store.indexer import catch_up
from autotrace.store.queries import explain_list_traces, list_traces
from autotrace.store.writer import StoreExporter

BATCH = 512


def make_spans(count):
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    for n in range(count // 5):
        with tracer.start_as_current_span("GET /items/{id}", kind=SpanKind.SERVER, attributes={
                "http.request.method": "GET", "http.route": "/items/{id}",
                "url.path": f"/items/{n}", "http.response.status_code": 200}):
            for step in range(4):
                with tracer.start_as_current_span(f"SELECT items {step}", kind=SpanKind.CLIENT,
                                                  attributes={"db.system": "postgresql",
                                                              "db.statement": "SELECT * FROM items WHERE id = %s"}):
                    pass
    return list(memory.get_finished_spans())


def write_once(spans, directory, run):
    """(export spans/s, export CPU us/span, index spans/s, index CPU us/span, path)"""
    path = os.path.join(directory, f"run{run}.db")
    exporter = StoreExporter(path, max_mb=1024)
    exporter.export(spans[:1])  # open and create the schema outside the timing
    catch_up(path)
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(1, len(spans), BATCH):
        result = exporter.export(spans[start:start + BATCH])
        if result is not SpanExportResult.SUCCESS:
            sys.exit("export failed")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    exporter.shutdown()
    count = len(spans) - 1
    index_started, index_cpu = time.perf_counter(), time.process_time()
    if catch_up(path) != count:
        sys.exit("the indexer did not index every span")
    index_elapsed, index_cpu = time.perf_counter() - index_started, time.process_time() - index_cpu
    return count / elapsed, cpu * 1e6 / count, count / index_elapsed, index_cpu * 1e6 / count, path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    spans = make_spans(args.spans)
    with tempfile.TemporaryDirectory() as directory:
        runs = [write_once(spans, directory, run) for run in range(args.runs)]
        path = runs[-1][-1]
        size_mb = sum(os.path.getsize(name) for name in (path, path + "-wal") if os.path.exists(name)) / 1024 / 1024
        for label, rate_at, cpu_at in (("app export (pack + append to the inbox)", 0, 1),
                                       ("indexing by a reader (inbox -> tables)", 2, 3)):
            rates = [run[rate_at] for run in runs]
            cpus = [run[cpu_at] for run in runs]
            print(f"{label}: {statistics.median(rates):,.0f} spans/s "
                  f"(median of {args.runs} runs, {len(spans):,} spans, batches of {BATCH}; "
                  f"min {min(rates):,.0f}, max {max(rates):,.0f}); "
                  f"CPU {statistics.median(cpus):.1f} us/span (median; min {min(cpus):.1f})")
        print(f"{size_mb * 1024 * 1024 / len(spans):,.0f} bytes/span on disk once indexed")

        timings = []
        for _ in range(20):
            started = time.perf_counter()
            list_traces(path, limit=20)
            timings.append(time.perf_counter() - started)
        filtered = []
        for _ in range(20):
            started = time.perf_counter()
            list_traces(path, limit=20, attributes={"url.path": "/items/7"}, service="bench")
            filtered.append(time.perf_counter() - started)
        print(f"list_traces over {len(spans) // 5:,} traces: "
              f"{statistics.median(timings) * 1000:.2f} ms newest 20, "
              f"{statistics.median(filtered) * 1000:.2f} ms with service + attribute filter; "
              f"plan: {' / '.join(explain_list_traces(path))}")


if __name__ == "__main__":
    main()
