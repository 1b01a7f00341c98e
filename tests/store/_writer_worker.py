"""Run as a separate process by test_concurrency.py: export spans into a shared store.

Usage: python _writer_worker.py STORE SERVICE TRACES SPANS_PER_TRACE BATCH START_AT
Waits until wall-clock START_AT so all workers write at the same moment, exports in
small batches, and exits 1 if any batch was not a SUCCESS.
"""

import sys
import time

from opentelemetry.sdk.trace.export import SpanExportResult

from autotrace.store.writer import StoreExporter
from store_support import batches, collected_spans


def main():
    path, service, traces, per_trace, batch, start_at = sys.argv[1:7]
    spans = collected_spans(service, int(traces), int(per_trace))
    exporter = StoreExporter(path)
    time.sleep(max(0.0, float(start_at) - time.time()))
    failures = 0
    for chunk in batches(spans, int(batch)):
        if exporter.export(chunk) is not SpanExportResult.SUCCESS:
            failures += 1
    exporter.shutdown()
    print(f"{len(spans)} {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
