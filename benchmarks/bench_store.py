"""How fast the StoreExporter writes, and how fast the trace list reads.

Run: PYTHONPATH=. python benchmarks/bench_store.py [--spans N] [--runs R]

Spans are made once by the real SDK (a server span with four children per trace,
typical HTTP attributes), then written in batches of 512, as BatchSpanProcessor
does, into a fresh store per run. Prints the median of the runs.
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
    path = os.path.join(directory, f"run{run}.db")
    exporter = StoreExporter(path, max_mb=1024)
    exporter.export(spans[:1])  # open and create the schema outside the timing
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(1, len(spans), BATCH):
        result = exporter.export(spans[start:start + BATCH])
        if result is not SpanExportResult.SUCCESS:
            sys.exit("export failed")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    exporter.shutdown()
    return (len(spans) - 1) / elapsed, cpu * 1e6 / (len(spans) - 1), path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    spans = make_spans(args.spans)
    with tempfile.TemporaryDirectory() as directory:
        rates, cpus, path = [], [], None
        for run in range(args.runs):
            rate, cpu, path = write_once(spans, directory, run)
            rates.append(rate)
            cpus.append(cpu)
        size_mb = os.path.getsize(path) / 1024 / 1024
        print(f"store write: {statistics.median(rates):,.0f} spans/s "
              f"(median of {args.runs} runs, {len(spans):,} spans, batches of {BATCH}; "
              f"min {min(rates):,.0f}, max {max(rates):,.0f}); "
              f"{size_mb * 1024 * 1024 / len(spans):,.0f} bytes/span on disk; "
              f"CPU {statistics.median(cpus):.1f} us/span (median; min {min(cpus):.1f})")

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
