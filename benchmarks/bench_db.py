"""Per-call cost of database calls, instrumented minus bare, and opentelemetry-instrument's
figure for the same call in the same run.

Calls: sqlite3 `cursor.execute("SELECT 1")` in memory, psycopg 3 `cursor.execute("SELECT 1")`
against the local PostgreSQL, redis `GET` against the local Redis. Each measurement runs in
a fresh interpreter (bare, ours with the default store exporter, ours with
OTEL_TRACES_EXPORTER=none = the span alone, opentelemetry-instrument with
OTEL_TRACES_EXPORTER=none) and the median of the runs is reported.

usage: python benchmarks/bench_db.py [--runs N] [--calls N] [--otel-python PATH]
--otel-python: a venv's python with opentelemetry-distro and the contrib instrumentations
for sqlite3, psycopg and redis (and psycopg, redis) installed; without it that column is
left out.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _common import machine, median
from bench_sqlite import sdk_span_cost

CHILD = r"""
import json, os, sys, time
which, calls, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "ours":
    from autotrace import bootstrap
    bootstrap.start()   # what sitecustomize does; the library is patched on import
if which == "sqlite3":
    import sqlite3
    cursor = sqlite3.connect(":memory:").cursor()
    call = lambda: cursor.execute("SELECT 1")
elif which == "psycopg":
    import psycopg
    connection = psycopg.connect(os.environ["BENCH_PG_DSN"], autocommit=True)
    cursor = connection.cursor()
    call = lambda: cursor.execute("SELECT 1")
else:
    import redis
    client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    client.set("bench:key", "value")
    call = lambda: client.get("bench:key")
for _ in range(min(calls, 2000)):   # warm up caches, the SDK, the exporter thread
    call()
samples = []
for _ in range(5):
    started = time.perf_counter_ns()
    for _ in range(calls):
        call()
    samples.append((time.perf_counter_ns() - started) / calls)
    time.sleep(0.05)   # let the exporter drain between rounds, as between requests
samples.sort()
print(json.dumps({"ns_per_call": samples[len(samples) // 2]}))
"""

CALLS = {"sqlite3": 'sqlite3 cursor.execute("SELECT 1"), :memory:',
         "psycopg": 'psycopg cursor.execute("SELECT 1"), local PostgreSQL',
         "redis": "redis GET, local Redis"}


def measure(python, which, calls, mode, env, prefix=()):
    result = subprocess.run(list(prefix) + [python, "-c", CHILD, which, str(calls), mode],
                            capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])["ns_per_call"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--otel-python", default="")
    options = parser.parse_args()
    folder = tempfile.mkdtemp()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRACE_", "OTEL_"))}
    env.update(AUTOTRACE_STORE=os.path.join(folder, "bench.db"), OTEL_BSP_MAX_QUEUE_SIZE="100000",
               BENCH_PG_DSN=os.environ.get("AUTOTRACE_TEST_PG_DSN",
                                           "host=127.0.0.1 port=5432 user=postgres dbname=test"),
               BENCH_REDIS_URL=os.environ.get("AUTOTRACE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    no_export = dict(env, OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    print("machine: " + machine())
    print("median of %d fresh interpreters x median of 5 rounds x %d calls; us per call (added over bare)"
          % (options.runs, options.calls))
    for which in ("sqlite3", "psycopg", "redis"):
        modes = {"bare": (sys.executable, "bare", env, ()), "ours": (sys.executable, "ours", env, ()),
                 "alone": (sys.executable, "ours", no_export, ())}
        if options.otel_python:
            otel_bin = os.path.dirname(options.otel_python)
            modes["otel_bare"] = (options.otel_python, "bare", no_export, ())
            modes["otel"] = (options.otel_python, "bare", no_export,
                             (os.path.join(otel_bin, "opentelemetry-instrument"),))
        samples = {mode: [] for mode in modes}
        for _ in range(options.runs):   # interleaved, so a change in the machine's load hits every mode alike
            for mode, (python, child_mode, child_env, prefix) in modes.items():
                samples[mode].append(measure(python, which, options.calls, child_mode, child_env, prefix))
        got = {mode: median(values) / 1000 for mode, values in samples.items()}
        print(CALLS[which])
        print("  bare                                      %8.2f" % got["bare"])
        print("  autotrace, default store exporter         %8.2f  (+%.2f)" % (got["ours"], got["ours"] - got["bare"]))
        print("  autotrace, OTEL_TRACES_EXPORTER=none      %8.2f  (+%.2f)" % (got["alone"], got["alone"] - got["bare"]))
        if options.otel_python:
            print("  opentelemetry-instrument, exporter none   %8.2f  (+%.2f over its own bare %.2f)"
                  % (got["otel"], got["otel"] - got["otel_bare"], got["otel_bare"]))
    print("for scale: one bare SDK span with 6 attributes: %.2f us"
          % (median([sdk_span_cost() for _ in range(options.runs)]) / 1000))

if __name__ == "__main__":
    main()
