"""Server spans: per-request cost in process, and throughput under real servers.

usage: python benchmarks/bench_servers.py [--runs N] [--requests N] [--server-runs N]
           [--duration S] [--connections N] [--loadgen wrk|python] [--otel-python PATH]
           [--skip-inprocess] [--skip-servers] [--profile]

The app (written to a temp folder): `GET /items/<id>` in Flask and in FastAPI (an
`async def` endpoint), each running `SELECT 1` through a cursor of one sqlite3
connection per process, and answering a small JSON object.

1. In process, no network: a driver calls the Flask WSGI app directly with a prepared
   environ (not werkzeug's test client, whose own cost would hide ours), and the
   FastAPI ASGI app as uvicorn loads it (`Config.load()`: the app inside uvicorn's
   proxy-headers layer and whatever an instrumentation wraps around it) with a scope,
   receive and send, all requests in one event loop. Each measurement runs in a fresh
   interpreter: bare; autotrace (the driver calls `bootstrap.start()` before importing
   the framework, as sitecustomize does) with its default exporter (a local store in a
   temp folder), with OTEL_TRACES_EXPORTER=none (spans made, not exported), with the
   sqlite3 instrumentation off as well (the server span alone), with the sampler
   always_off (our wrappers around spans that record nothing), and with OTLP/HTTP to a
   local sink; then `opentelemetry-instrument python driver.py` (contrib
   flask/fastapi/sqlite3) with exporter none and with OTLP/HTTP to the same sink, over
   the bare figure of its own venv. Wall time and the process's CPU time per request.
2. Under real servers, 2 workers: gunicorn (2 sync workers) for Flask, `uvicorn
   --workers 2` for FastAPI, each started as users start them (`autotrace run gunicorn
   ...`, `opentelemetry-instrument gunicorn ...`), driven for a fixed time by a load
   generator on 127.0.0.1 (wrk if installed, else a small asyncio generator in its own
   process), keep-alive where the server keeps connections (gunicorn's sync workers
   close them). Requests/s, and the CPU time of the server's processes per request.
   The machine may have few cores: the generator competes with the workers, alike in
   every mode.
3. --profile: cProfile of the in-process driver, bare against autotrace (exporter
   none), summed by package: what the added time is made of.

Before measuring, one run of the driver per framework and instrumentation with the
console exporter lists the spans each makes, so that the columns compare the same
work (FastAPI >= 0.165 has telemetry of its own, which both stand aside from).

autotrace runs from a venv of its own with autotrace installed non-editable (--venv,
built or refreshed on each run). --otel-python names the python of a venv with
opentelemetry-distro, the flask/fastapi/sqlite3 instrumentations and the OTLP/HTTP
exporter; if it does not exist it is created, with the same framework and server
versions as the autotrace venv. Without it the OpenTelemetry columns are left out.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from _common import bench_venv, machine, median

FRAMEWORK_PACKAGES = ["Flask", "Werkzeug", "fastapi", "starlette", "uvicorn", "gunicorn", "uvloop", "httptools"]
BENCH_EXTRA = ["Flask", "fastapi", "uvicorn[standard]", "gunicorn", "opentelemetry-exporter-otlp-proto-http"]
OTEL_PACKAGES = ["opentelemetry-distro", "opentelemetry-exporter-otlp-proto-http",
                 "opentelemetry-instrumentation-flask", "opentelemetry-instrumentation-fastapi",
                 "opentelemetry-instrumentation-sqlite3"]

FLASK_APP = r'''
import sqlite3
from flask import Flask

app = Flask(__name__)
_connection = None


def _cursor():
    # One connection per process, opened on first use: gunicorn forks after import.
    global _connection
    if _connection is None:
        _connection = sqlite3.connect(":memory:", check_same_thread=False)
    return _connection.cursor()


@app.get("/items/<int:item_id>")
def item(item_id):
    cursor = _cursor()
    cursor.execute("SELECT 1")
    return {"id": item_id, "value": cursor.fetchone()[0]}
'''

FASTAPI_APP = r'''
import sqlite3
from fastapi import FastAPI

app = FastAPI()
_connection = None


def _cursor():
    global _connection
    if _connection is None:
        _connection = sqlite3.connect(":memory:", check_same_thread=False)
    return _connection.cursor()


@app.get("/items/{item_id}")
async def item(item_id: int):
    cursor = _cursor()
    cursor.execute("SELECT 1")
    return {"id": item_id, "value": cursor.fetchone()[0]}
'''

# argv: framework requests rounds mode(bare|autotrace|profile-bare|profile-autotrace)
DRIVER = r'''
import io, json, sys, time
framework, requests, rounds, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if mode.endswith("autotrace"):
    from autotrace import bootstrap
    bootstrap.start()   # what sitecustomize does: before the framework is imported
statuses = []

if framework == "flask":
    from flask_app import app
    ENVIRON = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/items/7", "QUERY_STRING": "page=2",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000", "HTTP_HOST": "127.0.0.1:8000",
               "HTTP_USER_AGENT": "bench/1.0", "HTTP_ACCEPT": "*/*", "wsgi.version": (1, 0),
               "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": False,
               "wsgi.multiprocess": True, "wsgi.run_once": False}

    def start_response(status, headers, exc_info=None):
        statuses.append(status)
        return lambda data: None

    def run(n):
        for _ in range(n):
            environ = dict(ENVIRON)
            environ["wsgi.input"] = io.BytesIO(b"")
            body = app(environ, start_response)
            try:
                for chunk in body:
                    pass
            finally:
                if hasattr(body, "close"):
                    body.close()
else:
    import asyncio
    import uvicorn.config
    # The app as uvicorn loads it (its proxy-headers layer, and the layer instrumentations
    # put around the loaded app), called without uvicorn's network side.
    config = uvicorn.config.Config("fastapi_app:app", lifespan="off", log_level="warning")
    config.load()
    app = config.loaded_app
    SCOPE = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/items/7", "raw_path": b"/items/7", "root_path": "",
             "query_string": b"page=2", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    HEADERS = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench/1.0"), (b"accept", b"*/*")]
    REQUEST = {"type": "http.request", "body": b"", "more_body": False}
    DISCONNECT = {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def many(n):
        for _ in range(n):
            sent = []

            async def receive():
                if sent:
                    return DISCONNECT
                sent.append(1)
                return REQUEST
            await app(dict(SCOPE, headers=list(HEADERS)), receive, send)
    loop = asyncio.new_event_loop()
    run = lambda n: loop.run_until_complete(many(n))

run(500)   # warm up: routing caches, the SDK, the exporter thread
if str(statuses[0]) not in ("200", "200 OK") or len(set(statuses)) != 1:
    raise SystemExit("unexpected responses: %r" % sorted(set(statuses)))

if mode.startswith("profile"):
    # The default (wall) clock: a CPU-time clock is a system call per event here, and
    # that overhead would swamp calls that are themselves cheap.
    # Each entry: file, function, own time, own time by caller's file.
    import cProfile, pstats
    profile = cProfile.Profile()
    profile.runcall(run, requests)
    entries = []
    for (path, line, name), (cc, nc, tottime, cumtime, callers) in pstats.Stats(profile).stats.items():
        by_caller = {}
        for (caller_path, _, _), (_, _, caller_tt, _) in callers.items():
            by_caller[caller_path] = by_caller.get(caller_path, 0.0) + caller_tt / requests * 1e6
        entries.append([path, name, tottime / requests * 1e6, by_caller])
    print(json.dumps({"entries": entries}))
    sys.exit(0)

samples, cpu = [], []
for _ in range(rounds):
    started, cpu_started = time.perf_counter_ns(), time.process_time_ns()
    run(requests)
    samples.append((time.perf_counter_ns() - started) / requests)
    time.sleep(0.05)   # between rounds the exporter drains, as between bursts of requests
    # CPU of the whole process (the export thread too, and its work during the pause):
    # less sensitive than wall time to other programs on the machine.
    cpu.append((time.process_time_ns() - cpu_started) / requests)
samples.sort()
cpu.sort()
print(json.dumps({"ns_per_request": samples[len(samples) // 2], "cpu_ns_per_request": cpu[len(cpu) // 2]}))
'''

# A minimal OTLP/HTTP receiver: reads each export and answers an empty 200, keep-alive;
# GET /count answers the number of exports and bytes received so far.
SINK = r'''
import asyncio, sys
counts = [0, 0]

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if head.startswith(b"GET /count"):
                body = ("%d %d" % tuple(counts)).encode()
            else:
                await reader.readexactly(length)
                counts[0] += 1
                counts[1] += length
                body = b""
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n"
                         % len(body) + body)
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
'''

# Fallback load generator when wrk is not installed: C keep-alive connections for a
# fixed time, reconnecting when the server closes. argv: port path connections seconds
LOADGEN = r'''
import asyncio, json, sys, time
port, path, connections, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
REQUEST = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: bench/1.0\r\n\r\n" % (path, port)).encode()
done = [0, 0]   # responses, non-2xx

async def worker(deadline):
    reader = writer = None
    while time.monotonic() < deadline:
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        length, close = 0, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"connection" and value.strip().lower() == b"close":
                close = True
        await reader.readexactly(length)
        done[0] += 1
        if not head.startswith(b"HTTP/1.1 2"):
            done[1] += 1
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()

async def main():
    started = time.monotonic()
    await asyncio.gather(*[worker(started + seconds) for _ in range(connections)])
    elapsed = time.monotonic() - started
    print(json.dumps({"requests": done[0], "rps": done[0] / elapsed, "errors": done[1]}))

asyncio.run(main())
'''


# For scale: what the OpenTelemetry SDK alone charges for the two spans of a request
# (no processor: what exporter `none` leaves), with the attributes our spans carry.
SDK_FLOOR = r'''
import json, time
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
tracer = TracerProvider(shutdown_on_exit=False).get_tracer("bench")
server = {"http.request.method": "GET", "url.scheme": "http", "url.path": "/items/7", "url.query": "page=2",
          "server.address": "127.0.0.1", "server.port": 8000, "client.address": "127.0.0.1",
          "user_agent.original": "bench/1.0", "network.protocol.version": "1.1"}
query = {"db.system.name": "sqlite", "db.query.text": "SELECT ?", "db.operation.name": "SELECT",
         "db.namespace": ":memory:"}

def both():
    span = tracer.start_span("GET", kind=SpanKind.SERVER, attributes=server)
    span.update_name("GET /items/{item_id}")
    span.set_attribute("http.route", "/items/{item_id}")
    tracer.start_span("SELECT", kind=SpanKind.CLIENT, attributes=query).end()
    span.set_attribute("http.response.status_code", 200)
    span.end()

for _ in range(2000):
    both()
best = []
for _ in range(5):
    started = time.perf_counter_ns()
    for _ in range(5000):
        both()
    best.append((time.perf_counter_ns() - started) / 5000)
print(json.dumps({"ns": min(best)}))
'''


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load():
    return "load average %s" % " ".join(open("/proc/loadavg").read().split()[:3])


def child_json(command, env, cwd):
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    if result.returncode != 0:
        raise SystemExit("benchmark child failed: %s\n%s" % (" ".join(command), result.stderr[-3000:]))
    return json.loads(result.stdout.strip().splitlines()[-1])


def otel_venv(python, reference_python):
    """The opentelemetry venv, created if missing, with the framework and server
    versions of the autotrace venv, so that only the instrumentation differs."""
    if not os.path.exists(python):
        venv = os.path.dirname(os.path.dirname(python))
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        frozen = subprocess.run([reference_python, "-m", "pip", "freeze"], capture_output=True, text=True,
                                check=True).stdout.splitlines()
        wanted = {name.lower() for name in FRAMEWORK_PACKAGES}
        pins = [line for line in frozen if line.split("==")[0].lower() in wanted]
        subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check"] + OTEL_PACKAGES + pins,
                       check=True)
    return python


def versions(python, names):
    code = ("import importlib.metadata as m\nfor n in %r:\n    try: print(n, m.version(n))\n"
            "    except Exception: pass" % (names,))
    out = subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.split()
    return ", ".join("%s %s" % pair for pair in zip(out[::2], out[1::2]))


class Setup:
    """Where everything is: the venvs, the app folder, the environments of each mode."""

    def __init__(self, options):
        self.options = options
        self.python = bench_venv(options.venv, BENCH_EXTRA)
        self.bin = os.path.dirname(self.python)
        self.otel_python = otel_venv(options.otel_python, self.python) if options.otel_python else None
        self.otel_bin = os.path.dirname(self.otel_python) if self.otel_python else None
        self.folder = tempfile.mkdtemp(prefix="bench-servers-")
        for name, text in (("flask_app.py", FLASK_APP), ("fastapi_app.py", FASTAPI_APP), ("driver.py", DRIVER)):
            with open(os.path.join(self.folder, name), "w") as handle:
                handle.write(text)
        self.sink_port = free_port()
        self.sink = subprocess.Popen([sys.executable, "-c", SINK, str(self.sink_port)], stdout=subprocess.PIPE,
                                     text=True)
        self.sink.stdout.readline()
        self.stores = 0
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRACE_", "OTEL_", "PYTHONPATH"))}
        self.base = dict(base, OTEL_SERVICE_NAME="bench", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
        self.otlp = dict(OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
                         OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % self.sink_port)

    def store_env(self, **extra):
        # A fresh store for each measurement: a growing store would make later runs dearer.
        self.stores += 1
        return dict(self.base, AUTOTRACE_STORE=os.path.join(self.folder, "store-%d.db" % self.stores), **extra)

    def modes(self):
        """(label, kind, env factory): kind is bare, autotrace, otel-bare or otel."""
        modes = [("bare", "bare", lambda: dict(self.base)),
                 ("autotrace, default exporter (local store)", "autotrace", lambda: self.store_env()),
                 ("autotrace, exporter none", "autotrace", lambda: self.store_env(OTEL_TRACES_EXPORTER="none")),
                 ("autotrace, exporter none, sqlite3 off", "autotrace",
                  lambda: self.store_env(OTEL_TRACES_EXPORTER="none", AUTOTRACE_DISABLED_INSTRUMENTATIONS="sqlite3")),
                 # Our wrappers with spans that record nothing: what is left is our own path.
                 ("autotrace, sampler always_off", "autotrace",
                  lambda: self.store_env(OTEL_TRACES_EXPORTER="none", OTEL_TRACES_SAMPLER="always_off")),
                 ("autotrace, OTLP/HTTP to a local sink", "autotrace", lambda: self.store_env(**self.otlp))]
        if self.otel_python:
            modes += [("bare, opentelemetry venv", "otel-bare", lambda: dict(self.base)),
                      ("opentelemetry-instrument, exporter none", "otel",
                       lambda: dict(self.base, OTEL_TRACES_EXPORTER="none")),
                      ("opentelemetry-instrument, OTLP/HTTP to a local sink", "otel",
                       lambda: dict(self.base, **self.otlp))]
        return modes

    def wrap(self, kind, command):
        """`command` names a program of the venv by its bare name; prefix it for the mode."""
        if kind in ("otel-bare", "otel"):
            program = [os.path.join(self.otel_bin, command[0])] + command[1:]
            return ([os.path.join(self.otel_bin, "opentelemetry-instrument")] if kind == "otel" else []) + program
        program = [os.path.join(self.bin, command[0])] + command[1:]
        return ([os.path.join(self.bin, "autotrace"), "run"] if kind == "autotrace" else []) + program

    def sink_count(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/count" % self.sink_port, timeout=5) as response:
            return [int(x) for x in response.read().split()]

    def close(self):
        self.sink.terminate()
        self.sink.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def in_process(setup):
    options = setup.options
    print("\n## In process, per request (no network): median of %d fresh interpreters x median of 5 rounds x %d "
          "requests, after 500 warm-up requests; us per request, wall time and the process's CPU time (all "
          "threads, the exporter's too); added = median of the per-run differences from bare (modes interleaved)" % (options.runs, options.requests))
    print("Flask: the WSGI app called directly with a prepared environ; FastAPI: the ASGI app as uvicorn's "
          "Config.load() builds it, called directly, one event loop. %s" % load())
    results = {}
    for framework in ("flask", "fastapi"):
        modes = setup.modes()
        samples = {label: [] for label, _, _ in modes}
        cpu = {label: [] for label, _, _ in modes}
        for _ in range(options.runs):   # modes interleaved, so a change in load hits them all alike
            for label, kind, make_env in modes:
                command = driver_command(setup, kind, [framework, str(options.requests), "5"])
                # A queue large enough that no span is dropped: each is paid for, as in the
                # other per-call benchmarks (the server runs below keep the default queue).
                got = child_json(command, dict(make_env(), OTEL_BSP_MAX_QUEUE_SIZE="100000"), setup.folder)
                samples[label].append(got["ns_per_request"] / 1000)
                cpu[label].append(got["cpu_ns_per_request"] / 1000)
        # Added = median over the runs of (mode - its bare) within the same run: the modes of
        # one run are measured back to back, so a noisy spell of the machine hits both.
        wall_runs, cpu_runs = samples, cpu
        wall = {label: median(values) for label, values in wall_runs.items()}
        cpu = {label: median(values) for label, values in cpu_runs.items()}
        wall_added, cpu_added = {}, {}
        for label, _, _ in modes:
            base = "bare, opentelemetry venv" if label.startswith("opentelemetry") else "bare"
            wall_added[label] = median([a - b for a, b in zip(wall_runs[label], wall_runs[base])])
            cpu_added[label] = median([a - b for a, b in zip(cpu_runs[label], cpu_runs[base])])
        results[framework] = (wall, cpu, wall_added, cpu_added)
        print("%s:                                                    wall (added)        [min, max]      "
              "process CPU (added)" % framework)
        for label, _, _ in modes:
            added = "" if label.startswith("bare") else "(%+.1f)" % wall_added[label]
            added_cpu = "" if label.startswith("bare") else "(%+.1f)" % cpu_added[label]
            spread = "[%.1f, %.1f]" % (min(wall_runs[label]), max(wall_runs[label]))
            print("  %-52s %7.1f %-10s %-16s %7.1f %s" % (label, wall[label], added, spread, cpu[label], added_cpu))
    print(load())
    return results


def driver_command(setup, kind, args):
    """opentelemetry-instrument runs the driver as users run their app; autotrace is
    started by the driver itself (`bootstrap.start()`, what sitecustomize does)."""
    if kind == "autotrace":
        return setup.wrap("bare", ["python", "driver.py"] + args + ["autotrace"])
    return setup.wrap(kind, ["python", "driver.py"] + args + ["bare"])


def span_check(setup):
    """The driver's 501 requests per framework and mode with the console exporter: how
    many spans each mode makes and their names, so the columns compare known work."""
    print("\n## Spans made per mode (console exporter; the driver's 500 warm-up requests + 1)")
    cases = [("flask", "autotrace"), ("fastapi", "autotrace")]
    if setup.otel_python:
        cases += [("flask", "otel"), ("fastapi", "otel")]
    for framework, kind in cases:
        command = driver_command(setup, kind, [framework, "1", "1"])
        env = dict(setup.base, OTEL_TRACES_EXPORTER="console")
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=setup.folder, timeout=120)
        spans = json_objects(result.stdout)
        names = sorted({"%s [%s]" % (span["name"], span["kind"].replace("SpanKind.", ""))
                        for span in spans})
        print("  %-8s %-10s %5d spans for 501 requests: %s" % (framework, kind, len(spans), ", ".join(names)))


def json_objects(text):
    """The span objects in ConsoleSpanExporter output (pretty-printed JSON, one after another)."""
    decoder = json.JSONDecoder()
    spans, index = [], 0
    while True:
        index = text.find("{", index)
        if index < 0:
            return spans
        try:
            value, end = decoder.raw_decode(text, index)
        except ValueError:
            index += 1
            continue
        if isinstance(value, dict) and "name" in value and "kind" in value:
            spans.append(value)
        index = end


def profile(setup):
    """cProfile of the in-process driver, bare and autotrace
    with exporter none: where the added time goes, by package. Time spent in builtins
    and the standard library is charged to the package that called it (one level up),
    so the SDK's isinstance checks count as the SDK's. Absolute figures include the
    profiler's own overhead (larger than the timings above); the split is what counts."""
    print("\n## Where the added time goes (cProfile of the in-process driver, exporter none, us per request "
          "incl. profiler overhead)")
    for framework in ("flask", "fastapi"):
        env = dict(setup.base, OTEL_TRACES_EXPORTER="none")
        by_mode = {}
        for mode in ("profile-bare", "profile-autotrace"):
            entries = child_json([setup.python, "driver.py", framework, str(setup.options.requests), "1", mode], env,
                                 setup.folder)["entries"]
            by_mode[mode] = charge(entries)
        bare, ours = by_mode["profile-bare"], by_mode["profile-autotrace"]
        print("%-54s %7s %9s %8s" % (framework + ":", "bare", "autotrace", "added"))
        categories = {}
        for key in set(bare) | set(ours):
            row = categories.setdefault(category(key), [0.0, 0.0])
            row[0] += bare.get(key, 0.0)
            row[1] += ours.get(key, 0.0)
        for name, (b, o) in sorted(categories.items(), key=lambda item: item[1][0] - item[1][1]):
            print("  %-52s %7.1f %9.1f %+8.1f" % (name, b, o, o - b))
        print("  %-52s %7.1f %9.1f %+8.1f" % ("total", sum(bare.values()), sum(ours.values()),
                                               sum(ours.values()) - sum(bare.values())))
        top = sorted(set(bare) | set(ours), key=lambda key: bare.get(key, 0.0) - ours.get(key, 0.0))[:12]
        print("  the files that add the most: " + ", ".join("%s %+.1f" % (key, ours.get(key, 0.0) - bare.get(key, 0.0))
                                                         for key in top))


def charge(entries):
    """us per request by file, with builtins and stdlib functions charged to their callers' files."""
    files = {}
    for path, name, own, by_caller in entries:
        if owned(path) or not by_caller:
            files[short(path)] = files.get(short(path), 0.0) + own
            continue
        called = sum(by_caller.values()) or 1.0
        for caller, share in by_caller.items():   # split by what each caller accounted for
            key = short(caller) if owned(caller) else "stdlib / builtins"
            files[key] = files.get(key, 0.0) + own * share / called
    return files


def owned(path):
    """A file of an installed package or of the app/driver, not a builtin or stdlib module."""
    return "site-packages/" in path or os.path.basename(path) in ("driver.py", "flask_app.py", "fastapi_app.py")


def short(path):
    return path.split("site-packages/", 1)[1] if "site-packages/" in path else os.path.basename(path)


CATEGORIES = (("opentelemetry/sdk/", "OpenTelemetry SDK (span, sampler, ids)"),
              ("opentelemetry/attributes/", "OpenTelemetry attribute validation (for the SDK span)"),
              ("opentelemetry/", "OpenTelemetry API (context, propagators, trace)"),
              ("autotrace/instrumentations/", "autotrace instrumentations (_server, _wsgi, _asgi, ...)"),
              ("autotrace/", "autotrace core (patching guard, propagation, ...)"),
              ("wrapt/", "wrapt"),
              ("fastapi/telemetry/", "FastAPI's own telemetry"))


def category(key):
    for prefix, name in CATEGORIES:
        if key.startswith(prefix):
            return name
    if key == "stdlib / builtins":
        return "stdlib / builtins called from stdlib"
    return "framework, server, app and driver"


def run_load(setup, port, path, seconds):
    options = setup.options
    if options.loadgen == "wrk":
        out = subprocess.run(["wrk", "-t1", "-c%d" % options.connections, "-d%ds" % seconds, "--timeout", "5s",
                              "http://127.0.0.1:%d%s" % (port, path)], capture_output=True, text=True,
                             timeout=seconds + 60).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        total = int(re.search(r"(\d+) requests in", out).group(1))
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        socket_errors = re.search(r"Socket errors: (.*)", out)
        errors = (int(bad.group(1)) if bad else 0)
        return {"rps": rps, "requests": total, "errors": errors,
                "socket_errors": socket_errors.group(1) if socket_errors else ""}
    result = subprocess.run([sys.executable, "-c", LOADGEN, str(port), path, str(options.connections), str(seconds)],
                            capture_output=True, text=True, timeout=seconds + 60, check=True)
    return json.loads(result.stdout)


def server_command(framework, port):
    if framework == "flask":
        return ["gunicorn", "--workers", "2", "--worker-class", "sync", "--bind", "127.0.0.1:%d" % port,
                "--log-level", "warning", "flask_app:app"]
    return ["uvicorn", "--workers", "2", "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            "--log-level", "warning", "fastapi_app:app"]


def wait_ready(port, server, deadline=60):
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        if server.poll() is not None:
            raise SystemExit("server exited with %s" % server.returncode)
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/items/1" % port, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server not ready after %ds" % deadline)


def stop_server(server):
    server.send_signal(signal.SIGTERM)   # graceful: workers flush their spans on the way out
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)   # its own session, started below
        server.wait()


def session_cpu(session):
    """CPU seconds used so far by the processes of a session: the server started in
    its own session, its master and workers (exporter threads included)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:
            total += int(fields[11]) + int(fields[12])   # utime + stime
    return total / tick


def count_spans(store):
    # Apps only append packed batches to the store's inbox; a reader indexes them
    # first (as `autotrace traces` and the viewer do), or the count would miss them.
    import sqlite3
    from autotrace.store.indexer import catch_up
    try:
        catch_up(store)
        with sqlite3.connect(store) as connection:
            return connection.execute("SELECT count(*) FROM spans").fetchone()[0]
    except sqlite3.Error:
        return None


def one_server_run(setup, framework, kind, env):
    port = free_port()
    command = setup.wrap(kind, server_command(framework, port))
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(command, env=env, cwd=setup.folder, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        wait_ready(port, server)
        warm = run_load(setup, port, "/items/7?page=2", 2)   # warm up every worker: imports, SDK, exporter
        cpu = session_cpu(server.pid)
        result = run_load(setup, port, "/items/7?page=2", setup.options.duration)
        result["cpu_us"] = (session_cpu(server.pid) - cpu) / result["requests"] * 1e6
        result["served"] = 1 + warm["requests"] + result["requests"]   # with the readiness probe
    finally:
        stop_server(server)
    log.seek(0)
    text = log.read().decode("utf-8", "replace")
    # Errors, and autotrace's own warnings (a full span queue says so once per worker).
    noise = sorted({line.strip() for line in text.splitlines()
                    if "Traceback" in line or "rror" in line or "warning" in line.lower()})
    if noise:
        result["log"] = noise[:3]
    return result


def servers(setup):
    options = setup.options
    print("\n## Under real servers, 2 workers: requests/s, median of %d runs of %d s (modes interleaved), "
          "%d connections, load generator: %s on the same machine (%d cores: it competes with the workers, "
          "alike in every mode)" % (options.server_runs, options.duration, options.connections,
                                    "wrk -t1" if options.loadgen == "wrk" else "asyncio (Python)",
                                    os.cpu_count() or 0))
    print("Flask under gunicorn (2 sync workers: one connection per request); FastAPI under uvicorn --workers 2 "
          "(keep-alive). %s" % load())
    results = {}
    for framework in ("flask", "fastapi"):
        modes = [m for m in setup.modes() if "sqlite3 off" not in m[0] and "always_off" not in m[0]]
        samples = {label: [] for label, _, _ in modes}
        cpu = {label: [] for label, _, _ in modes}
        stored = {}
        for _ in range(options.server_runs):
            for label, kind, make_env in modes:
                env = make_env()
                store = env["AUTOTRACE_STORE"] if kind == "autotrace" and "OTEL_TRACES_EXPORTER" not in env else None
                result = one_server_run(setup, framework, kind, env)
                samples[label].append(result["rps"])
                cpu[label].append(result["cpu_us"])
                if result.get("errors") or result.get("log"):
                    print("  note: %s / %s: %s" % (framework, label, {k: v for k, v in result.items()
                                                                       if k in ("errors", "socket_errors", "log")}))
                if store:   # did the exporter keep up, or did the queue drop spans?
                    stored.setdefault(label, []).append((count_spans(store), result["served"]))
        got = {label: median(values) for label, values in samples.items()}
        cpu = {label: median(values) for label, values in cpu.items()}
        results[framework] = (got, cpu)
        print("%s (%s):                                       req/s (of bare)  [each run]                  "
              "server CPU us/request (added)" % (framework, "gunicorn" if framework == "flask" else "uvicorn"))
        for label, _, _ in modes:
            base = "bare, opentelemetry venv" if label.startswith("opentelemetry") else "bare"
            ratio = "" if label.startswith("bare") else "(%.2f)" % (got[label] / got[base])
            added = "" if label.startswith("bare") else "(%+.0f)" % (cpu[label] - cpu[base])
            runs = "[%s]" % ", ".join("%.0f" % v for v in samples[label])
            print("  %-52s %6.0f %-7s %-28s %6.0f %s" % (label, got[label], ratio, runs, cpu[label], added))
        for label, pairs in stored.items():
            print("  %s: spans in the store / requests served, each run: %s"
                  % (label, ", ".join("%s/%d" % pair for pair in pairs)))
    print(load())
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--venv", default="/tmp/autotrace-bench-servers-venv")
    parser.add_argument("--otel-python", default="",
                        help="python of a venv with opentelemetry-instrument (created if missing), e.g. "
                             "/tmp/otel-bench-servers-venv/bin/python")
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per in-process mode")
    parser.add_argument("--requests", type=int, default=1000, help="requests per in-process round")
    parser.add_argument("--server-runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per server run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--loadgen", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--skip-inprocess", action="store_true")
    parser.add_argument("--skip-servers", action="store_true")
    parser.add_argument("--profile", action="store_true", help="also a cProfile breakdown of the in-process path")
    options = parser.parse_args()

    setup = Setup(options)
    try:
        print("machine: " + machine())
        print(load() + " (before)")
        floor = median([child_json([setup.python, "-c", SDK_FLOOR], setup.base, setup.folder)["ns"] / 1000
                        for _ in range(5)])
        print("for scale: the OpenTelemetry SDK alone, a server span (9 attributes, renamed, route and status set) "
              "and a query span (4 attributes), no processor: %.1f us (median of 5 interpreters, best of 5 x 5000)"
              % floor)
        print("autotrace venv: %s (%s)" % (options.venv, versions(setup.python, FRAMEWORK_PACKAGES +
                                                                  ["opentelemetry-sdk"])))
        if setup.otel_python:
            print("opentelemetry venv: %s (%s)" % (os.path.dirname(os.path.dirname(setup.otel_python)),
                                                  versions(setup.otel_python, OTEL_PACKAGES + ["opentelemetry-sdk"])))
        span_check(setup)
        if not options.skip_inprocess:
            in_process(setup)
        if options.profile:
            profile(setup)
        if not options.skip_servers:
            servers(setup)
        print("OTLP sink received %d exports, %d bytes" % tuple(setup.sink_count()))
        print(load() + " (after)")
    finally:
        setup.close()


if __name__ == "__main__":
    main()
