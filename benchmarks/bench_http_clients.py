"""Per-request cost of `requests.get` and `httpx.Client.get` against a keep-alive local
server, instrumented minus bare.

usage: python benchmarks/bench_http_clients.py [--runs N] [--calls N] [--otel-python PATH]

The server is a minimal HTTP/1.1 keep-alive responder in its own process, so it does
not compete with the client for the GIL. Each measurement runs in a fresh
interpreter: bare; autotrace with the default exporter (local store); autotrace with
OTEL_TRACES_EXPORTER=none (the span is made, not exported); and, when --otel-python
names a venv's python with opentelemetry-distro and the contrib requests/httpx
instrumentations, `opentelemetry-instrument` with OTEL_TRACES_EXPORTER=none.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile

from _common import machine, median

SERVER = r"""
import asyncio, sys
REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(REPLY)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""

# The client's set-up and warm-up, then `calls` requests (also run under callgrind by
# callgrind_http_clients.py, which needs no timing).
CLIENT_LOOP = r"""
import sys
client_name, url, calls, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if mode == "autotrace":
    from autotrace import bootstrap
    bootstrap.start()   # what sitecustomize does; the clients are patched on import
if client_name == "requests":
    import requests
    session = requests.Session()
    get = session.get
else:
    import httpx
    client = httpx.Client()
    get = client.get
for _ in range(500):   # warm up: connection, caches, the SDK, the exporter thread
    get(url)
if "timed" not in sys.argv[5:]:
    for _ in range(calls):
        get(url)
"""

CLIENT = CLIENT_LOOP + r"""
import json, time
samples, cpu_samples = [], []
for _ in range(7):
    started, cpu_started = time.perf_counter_ns(), time.process_time_ns()
    for _ in range(calls):
        get(url)
    samples.append((time.perf_counter_ns() - started) / calls)
    cpu_samples.append((time.process_time_ns() - cpu_started) / calls)
    time.sleep(0.05)
# The quietest round: on a shared machine the others mostly measure the neighbours.
# CPU time is the process's (every thread: the export thread's work is counted), and
# does not count the wait for the server, whose own timing varies from process to process.
print(json.dumps({"ns_per_call": min(samples), "cpu_ns_per_call": min(cpu_samples)}))
"""


PATH_ONLY = r"""
import json, sys, time
import httpx
from autotrace import bootstrap, patching
from autotrace.instrumentations import httpx as spec
bootstrap.start()
from autotrace.instrumentations import _http
from autotrace.instrumentations._http import client
if sys.argv[2] == "noop-span":   # our code alone: the span replaced by one that does nothing
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
    noop = NonRecordingSpan(SpanContext(0x1234, 0x5678, is_remote=False, trace_flags=TraceFlags(1)))
    _http.start_span = lambda *args, **kwargs: noop
interceptor = client("httpx", describe=spec._describe, response=spec._response,
                     response_headers=spec._response_headers, still_open=spec._still_open)
call = patching.guard(interceptor, "httpx")
request = httpx.Request("GET", sys.argv[1])
response = httpx.Response(200, content=b"ok", request=request)
response.read()
send = lambda request: response
for _ in range(2000):
    call(send, None, (request,), {})
samples = []
for _ in range(7):
    started = time.perf_counter_ns()
    for _ in range(5000):
        call(send, None, (request,), {})
    samples.append((time.perf_counter_ns() - started) / 5000)
    time.sleep(0.05)
print(json.dumps({"ns_per_call": min(samples)}))
"""


BREAKDOWN = r"""
import timeit, httpx
from autotrace import bootstrap, tracing
bootstrap.start()
from opentelemetry import context
from opentelemetry.trace import SpanKind, set_span_in_context
from autotrace.instrumentations._http import request_attributes
from autotrace.propagation.suppression import suppress_http_spans
from autotrace.spans import add_attributes, start_span
tracer = tracing.tracer("bench")
url = "http://127.0.0.1:8080/items?page=2"
attributes = request_attributes("GET", url)
span = start_span(tracer, "GET", SpanKind.CLIENT, attributes)
span_context = set_span_in_context(span)
propagator = tracing.propagator()
request = httpx.Request("GET", url)
# What the client path runs (spans.start_span, spans.add_attributes: our builders'
# values are valid already); the public API's set_attribute validates each value.
for label, statement in (
        ("span with the 5 request attributes, start+end", "start_span(tracer, 'GET', SpanKind.CLIENT, "
                                                          "attributes).end()"),
        ("request attributes (parse + redact; cached per URL)", "request_attributes('GET', url)"),
        ("inject traceparent + baggage into httpx headers", "propagator.inject(request.headers, context=span_context)"),
        ("context with span + suppression, attach + detach", "context.detach(context.attach("
                                                             "suppress_http_spans(set_span_in_context(span))))"),
        ("status + protocol attributes, one add_attributes", "add_attributes(span, {'http.response.status_code': 200, "
                                                             "'network.protocol.version': '1.1'})"),
        ("the same by two set_attribute (public API)", "span.set_attribute('http.response.status_code', 200); "
                                                       "span.set_attribute('network.protocol.version', '1.1')")):
    best = min(timeit.repeat(statement, number=20000, repeat=5, globals=globals()))
    print("  %-52s %6.2f us" % (label, best / 20000 * 1e6))
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(command, env, key="ns_per_call"):
    return measure_all(command, env)[key]


def measure_all(command, env):
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit("benchmark child failed:\n" + result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--otel-python", help="python of a venv with opentelemetry-distro and the "
                                              "requests/httpx contrib instrumentations")
    options = parser.parse_args()

    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE, text=True)
    server.stdout.readline()
    url = "http://127.0.0.1:%d/items?page=2" % port
    folder = tempfile.mkdtemp()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRACE_", "OTEL_"))}
    env.update(AUTOTRACE_STORE=os.path.join(folder, "bench.db"), OTEL_BSP_MAX_QUEUE_SIZE="100000")
    no_export = dict(env, OTEL_TRACES_EXPORTER="none")

    modes = [("bare", [sys.executable], "bare", env),
             ("autotrace, default store exporter", [sys.executable], "autotrace", env),
             ("autotrace, OTEL_TRACES_EXPORTER=none", [sys.executable], "autotrace", no_export)]
    if options.otel_python:
        otel_bin = os.path.dirname(options.otel_python)
        otel_env = dict(no_export, OTEL_SERVICE_NAME="bench", OTEL_METRICS_EXPORTER="none",
                        OTEL_LOGS_EXPORTER="none", PATH=otel_bin + os.pathsep + env.get("PATH", ""))
        modes.append(("opentelemetry-instrument, exporter none", [os.path.join(otel_bin, "opentelemetry-instrument"),
                                                                  options.otel_python], "bare", otel_env))
        modes.append(("bare, in the opentelemetry venv", [options.otel_python], "bare", otel_env))
    try:
        print("machine: " + machine())
        print("GET %s, keep-alive; median over %d fresh processes of the fastest of 7 rounds x %d calls "
              "(added: median of the per-run differences, modes interleaved)"
              % (url, options.runs, options.calls))
        for client_name in ("requests", "httpx"):
            samples = {label: [] for label, _, _, _ in modes}
            for _ in range(options.runs):   # modes interleaved, so a noisy minute hits them all alike
                for label, prefix, mode, mode_env in modes:
                    command = prefix + ["-c", CLIENT, client_name, url, str(options.calls), mode, "timed"]
                    samples[label].append(measure_all(command, mode_env))
            print("%s:%s wall time | CPU time of the client process" % (client_name, " " * (50 - len(client_name))))
            for key, unit in (("ns_per_call", "wall"), ("cpu_ns_per_call", "cpu")):
                for label, values in samples.items():
                    base = "bare, in the opentelemetry venv" if label.startswith("opentelemetry") else "bare"
                    # added: the median of the per-run differences (the modes of a run are
                    # measured back to back, so a noisy spell hits both sides of a pair)
                    added = median([sample[key] - base_sample[key] for sample, base_sample in zip(values, samples[base])])
                    note = "" if label.startswith("bare") else "  (%+.1f us)" % (added / 1000)
                    value = median([sample[key] for sample in values])
                    print("  %-4s %-42s %8.1f us/request%s" % (unit, label, value / 1000, note))
        path_only = median([measure([sys.executable, "-c", PATH_ONLY, url, "sdk-span"], no_export)
                            for _ in range(options.runs)])
        print("our path alone (httpx describe, span, inject, response, end; no network, exporter none): "
              "%.1f us/request" % (path_only / 1000))
        noop_span = median([measure([sys.executable, "-c", PATH_ONLY, url, "noop-span"], no_export)
                            for _ in range(options.runs)])
        print("the same with a span that does nothing (our own code: guard, describe, context, inject, "
              "response): %.1f us/request" % (noop_span / 1000))
        print("its parts (best of 5 x 20,000):")
        sys.stdout.flush()
        subprocess.run([sys.executable, "-c", BREAKDOWN], env=no_export, check=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
