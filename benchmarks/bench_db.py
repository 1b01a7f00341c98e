"""Per-call cost of database calls, instrumented minus bare, and opentelemetry-instrument's
figure for the same call in the same run.

Calls: sqlite3 `cursor.execute("SELECT 1")` in memory, psycopg 3 `cursor.execute("SELECT 1")`
against the local PostgreSQL, redis `GET` against the local Redis. Each measurement runs in
a fresh interpreter (bare, ours with the default store exporter, ours with
OTEL_TRACES_EXPORTER=none = the span alone, opentelemetry-instrument with
OTEL_TRACES_EXPORTER=none) and the median of the runs is reported.

usage: python benchmarks/bench_db.py [--runs N] [--calls N] [--venv PATH] [--otel-venv PATH | --no-otel]
Both venvs are created if missing, under paths named after the checkout's git branch
(/tmp/autotrace-bench-db-<branch>-venv, /tmp/otel-bench-db-<branch>-venv), so that
checkouts of several branches do not share them. --venv: autotrace installed the way
users install it (not editable), refreshed from this checkout on every run, with psycopg
and redis. --otel-venv: opentelemetry-distro with the contrib instrumentations for
sqlite3, psycopg and redis and the same psycopg and redis versions as --venv.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _common import REPO, bench_venv, machine, median
from bench_sqlite import sdk_span_cost

DRIVERS = ["psycopg[binary]", "redis"]
OTEL_PACKAGES = ["opentelemetry-distro", "opentelemetry-instrumentation-sqlite3",
                 "opentelemetry-instrumentation-psycopg", "opentelemetry-instrumentation-redis"]


def branch():
    """The checkout's git branch, for venv paths no other checkout uses."""
    result = subprocess.run(["git", "-C", REPO, "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True, text=True)
    name = result.stdout.strip() if result.returncode == 0 else ""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "unknown"


def otel_venv(path, reference_python):
    """The opentelemetry venv, created if missing, with the driver versions of the
    autotrace venv, so that only the instrumentation differs."""
    python = os.path.join(path, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
        frozen = subprocess.run([reference_python, "-m", "pip", "freeze"], capture_output=True, text=True,
                                check=True).stdout.splitlines()
        pins = [line for line in frozen
                if line.split("==")[0].lower() in ("psycopg", "psycopg-binary", "redis")]
        subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check"] + OTEL_PACKAGES + pins,
                       check=True)
    return python


def versions(python, names):
    code = ("import importlib.metadata as m\nfor n in %r:\n    try: print(n, m.version(n))\n"
            "    except Exception: pass" % (names,))
    out = subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.split()
    return ", ".join("%s %s" % pair for pair in zip(out[::2], out[1::2]))

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
    # Run outside the checkout: `python -c` puts the current directory first on
    # sys.path, and the checkout's autotrace/ (without its instrumentations/, which
    # only an install maps into the package) would shadow the installed one.
    result = subprocess.run(list(prefix) + [python, "-c", CHILD, which, str(calls), mode],
                            capture_output=True, text=True, env=env, check=True, cwd=tempfile.gettempdir())
    return json.loads(result.stdout.strip().splitlines()[-1])["ns_per_call"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--venv", default="/tmp/autotrace-bench-db-%s-venv" % branch())
    parser.add_argument("--otel-venv", default="/tmp/otel-bench-db-%s-venv" % branch())
    parser.add_argument("--no-otel", action="store_true", help="leave out the opentelemetry-instrument column")
    options = parser.parse_args()
    python = bench_venv(options.venv, DRIVERS)
    otel_python = None if options.no_otel else otel_venv(options.otel_venv, python)
    folder = tempfile.mkdtemp()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRACE_", "OTEL_"))}
    env.update(AUTOTRACE_STORE=os.path.join(folder, "bench.db"), OTEL_BSP_MAX_QUEUE_SIZE="100000",
               BENCH_PG_DSN=os.environ.get("AUTOTRACE_TEST_PG_DSN",
                                           "host=127.0.0.1 port=5432 user=postgres dbname=test"),
               BENCH_REDIS_URL=os.environ.get("AUTOTRACE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    no_export = dict(env, OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    print("machine: " + machine())
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    print("autotrace venv: %s (%s)" % (options.venv, versions(python, ["autotrace", "opentelemetry-sdk", "psycopg",
                                                                     "redis"])))
    if otel_python:
        print("opentelemetry venv: %s (%s)" % (options.otel_venv, versions(otel_python, [
            "opentelemetry-sdk", "opentelemetry-distro", "opentelemetry-instrumentation-sqlite3",
            "opentelemetry-instrumentation-psycopg", "opentelemetry-instrumentation-redis", "psycopg", "redis"])))
    print("median of %d fresh interpreters x median of 5 rounds x %d calls; us per call (added over bare)"
          % (options.runs, options.calls))
    for which in ("sqlite3", "psycopg", "redis"):
        modes = {"bare": (python, "bare", env, ()), "ours": (python, "ours", env, ()),
                 "alone": (python, "ours", no_export, ())}
        if otel_python:
            otel_bin = os.path.dirname(otel_python)
            modes["otel_bare"] = (otel_python, "bare", no_export, ())
            modes["otel"] = (otel_python, "bare", no_export,
                             (os.path.join(otel_bin, "opentelemetry-instrument"),))
        samples = {mode: [] for mode in modes}
        for _ in range(options.runs):   # interleaved, so a change in the machine's load hits every mode alike
            for mode, (child_python, child_mode, child_env, prefix) in modes.items():
                samples[mode].append(measure(child_python, which, options.calls, child_mode, child_env, prefix))
        got = {mode: median(values) / 1000 for mode, values in samples.items()}
        print(CALLS[which])
        print("  bare                                      %8.2f" % got["bare"])
        print("  autotrace, default store exporter         %8.2f  (+%.2f)" % (got["ours"], got["ours"] - got["bare"]))
        print("  autotrace, OTEL_TRACES_EXPORTER=none      %8.2f  (+%.2f)" % (got["alone"], got["alone"] - got["bare"]))
        if otel_python:
            print("  opentelemetry-instrument, exporter none   %8.2f  (+%.2f over its own bare %.2f)"
                  % (got["otel"], got["otel"] - got["otel_bare"], got["otel_bare"]))
    print("for scale: one bare SDK span with 6 attributes: %.2f us"
          % (median([sdk_span_cost() for _ in range(options.runs)]) / 1000))
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())

if __name__ == "__main__":
    main()
