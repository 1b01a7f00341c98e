"""Per-call cost of sqlite3 `cursor.execute` on an in-memory database, instrumented
minus bare, with the real default pipeline (batching processor + local store).

usage: python benchmarks/bench_sqlite.py [--runs N] [--calls N]
Each measurement runs in a fresh interpreter so bare and instrumented never mix."""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _common import machine, median

CHILD = r"""
import json, sys, time
calls, instrumented = int(sys.argv[1]), sys.argv[2] == "1"
if instrumented:
    from autotrace import bootstrap
    bootstrap.start()   # what sitecustomize does; sqlite3 is then patched on import
import sqlite3
db = sqlite3.connect(":memory:")
cursor = db.cursor()
statement = "SELECT 1"
for _ in range(2000):   # warm up caches, the SDK, the exporter thread
    cursor.execute(statement)
samples = []
for _ in range(5):
    started = time.perf_counter_ns()
    for _ in range(calls):
        cursor.execute(statement)
    samples.append((time.perf_counter_ns() - started) / calls)
    time.sleep(0.05)   # let the exporter drain between rounds, as between requests
samples.sort()
print(json.dumps({"ns_per_call": samples[len(samples) // 2]}))
"""


def measure(instrumented, calls, env):
    result = subprocess.run([sys.executable, "-c", CHILD, str(calls), "1" if instrumented else "0"],
                            capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])["ns_per_call"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--calls", type=int, default=2000)
    options = parser.parse_args()
    folder = tempfile.mkdtemp()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRACE_", "OTEL_"))}
    env.update(AUTOTRACE_STORE=os.path.join(folder, "bench.db"), OTEL_BSP_MAX_QUEUE_SIZE="100000")
    no_export = dict(env, OTEL_TRACES_EXPORTER="none")
    bare = median([measure(False, options.calls, env) for _ in range(options.runs)])
    traced = median([measure(True, options.calls, env) for _ in range(options.runs)])
    spans_only = median([measure(True, options.calls, no_export) for _ in range(options.runs)])
    sdk_span = median([sdk_span_cost() for _ in range(options.runs)])
    print("machine: " + machine())
    print("sqlite3 cursor.execute('SELECT 1'), in-memory, median of %d runs x 5 rounds x %d calls"
          % (options.runs, options.calls))
    print("bare                                   %8.2f us/call" % (bare / 1000))
    print("instrumented, default store exporter   %8.2f us/call  (+%.2f; budget +25)"
          % (traced / 1000, (traced - bare) / 1000))
    print("instrumented, OTEL_TRACES_EXPORTER=none %7.2f us/call  (+%.2f: the span alone, no export)"
          % (spans_only / 1000, (spans_only - bare) / 1000))
    print("for scale: one bare SDK span with 6 attributes: %.2f us" % (sdk_span / 1000))


SDK_SPAN = r"""
import json, time
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
tracer = TracerProvider(shutdown_on_exit=False).get_tracer("bench")
attributes = {"db.system.name": "sqlite", "db.query.text": "SELECT ?", "db.operation.name": "SELECT",
              "db.namespace": ":memory:", "server.address": "x", "server.port": 1}
for _ in range(2000):
    tracer.start_span("SELECT", kind=SpanKind.CLIENT, attributes=attributes).end()
started = time.perf_counter_ns()
for _ in range(10000):
    tracer.start_span("SELECT", kind=SpanKind.CLIENT, attributes=attributes).end()
print(json.dumps({"ns": (time.perf_counter_ns() - started) / 10000}))
"""


def sdk_span_cost():
    result = subprocess.run([sys.executable, "-c", SDK_SPAN], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)["ns"]


if __name__ == "__main__":
    main()
