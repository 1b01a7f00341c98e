"""How fast `autotrace view` is on a big store: the filtered trace list API, one
10,000-span trace rendered in a real browser, and OTLP/HTTP protobuf ingest.

Run: PYTHONPATH=. python benchmarks/bench_viewer.py [--store PATH] [--traces 50000]

The store (1,000,000 spans in 50,000 traces of 20 spans, plus one trace of 10,000
spans) is generated through the store's own write path (StoreExporter.write_rows, the
one the viewer's ingest uses) in batches of 5,000 rows, so the summary, service and
attribute-search tables are exactly what real traffic leaves. Rows are built directly
as SpanRow tuples (no SDK spans: that would time the SDK, not the viewer). An existing
--store is reused. The viewer runs as `autotrace view` in its own process.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, median  # noqa: E402

from autotrace.store.rows import SpanRow, searchable_pairs, to_json  # noqa: E402
from autotrace.store.writer import StoreExporter  # noqa: E402

SERVICES = [f"svc-{n}" for n in range(8)]
RESOURCES = {name: {"service.name": name, "host.name": "bench", "process.pid": 4242} for name in SERVICES}
RESOURCE_JSON = {name: to_json(value) for name, value in RESOURCES.items()}
SPANS_PER_TRACE = 20
BIG_TRACE_SPANS = 10_000
BATCH = 5_000
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def _hex(rng, digits):
    return format(rng.getrandbits(digits * 4) | 1, f"0{digits}x")


def _row(trace_id, span_id, parent, service, name, kind, start, duration, error, attributes):
    return (SpanRow(trace_id, span_id, parent, service, name, kind, start, start + duration, duration,
                    "ERROR" if error else "UNSET", "boom" if error else None, to_json(attributes), "[]", "[]",
                    RESOURCE_JSON[service], "bench", None),
            searchable_pairs(attributes, RESOURCES[service]))


def trace_rows(rng, start):
    """One 20-span trace: a server span, 3 calls to other services, queries under each."""
    trace_id = _hex(rng, 32)
    entry = rng.choice(SERVICES)
    failed = rng.random() < 0.02
    root_id = _hex(rng, 16)
    total = rng.randint(5, 400) * 1_000_000
    route = f"/api/{rng.choice(['orders', 'items', 'users', 'carts'])}/{{id}}"
    rows = [_row(trace_id, root_id, None, entry, "GET " + route, "SERVER", start, total, failed,
                 {"http.request.method": "GET", "http.route": route,
                  "http.response.status_code": 500 if failed else 200, "user.id": f"u{rng.randint(1, 5000)}"})]
    at = start + 1_000_000
    for call in range(3):
        callee = rng.choice([s for s in SERVICES if s != entry])
        client_id, server_id = _hex(rng, 16), _hex(rng, 16)
        length = total // 4
        rows.append(_row(trace_id, client_id, root_id, entry, "GET", "CLIENT", at, length, False,
                         {"http.request.method": "GET", "server.address": callee}))
        rows.append(_row(trace_id, server_id, client_id, callee, "GET /internal", "SERVER", at + 100_000,
                         length - 200_000, False, {"http.route": "/internal"}))
        for query in range(4):
            rows.append(_row(trace_id, _hex(rng, 16), server_id, callee, "SELECT items", "CLIENT",
                             at + 200_000 + query * 50_000, 40_000, False,
                             {"db.system.name": "postgresql", "db.query.text": "SELECT * FROM items WHERE id = $1"}))
        at += length + 500_000
    rows.append(_row(trace_id, _hex(rng, 16), root_id, entry, "render", "INTERNAL", at, 500_000, False, {}))
    return rows[:SPANS_PER_TRACE]


def big_trace_rows(rng, start):
    """One trace of 10,000 spans: 100 calls, each a server span with 98 queries."""
    trace_id = "b" * 32
    root = "a" * 16
    rows = [_row(trace_id, root, None, "svc-0", "GET /report", "SERVER", start, 900_000_000, False,
                 {"http.route": "/report"})]
    at = start
    while len(rows) < BIG_TRACE_SPANS:
        client = _hex(rng, 16)
        server = _hex(rng, 16)
        rows.append(_row(trace_id, client, root, "svc-0", "GET", "CLIENT", at, 8_000_000, False, {}))
        rows.append(_row(trace_id, server, client, "svc-1", "GET /part", "SERVER", at + 100_000, 7_800_000, False, {}))
        for query in range(97):
            if len(rows) >= BIG_TRACE_SPANS:
                break
            rows.append(_row(trace_id, _hex(rng, 16), server, "svc-1", "SELECT parts", "CLIENT",
                             at + 200_000 + query * 75_000, 60_000, False,
                             {"db.query.text": f"SELECT * FROM parts WHERE id = {query}"}))
        at += 8_900_000
    return rows


def fill(path, traces):
    rng = random.Random(7)
    writer = StoreExporter(path, max_mb=100_000)
    now = time.time_ns()
    started = time.perf_counter()
    pending = []
    for n in range(traces):
        pending.extend(trace_rows(rng, now - rng.randint(0, 86_400) * 1_000_000_000))
        if len(pending) >= BATCH:
            writer.write_rows([r for r, _ in pending], [p for _, p in pending])
            pending = []
            if n % 10_000 < BATCH // SPANS_PER_TRACE:
                print(f"  {n} traces written, {time.perf_counter() - started:.0f} s", flush=True)
    pending.extend(big_trace_rows(rng, now - 60_000_000_000))
    writer.write_rows([r for r, _ in pending], [p for _, p in pending])
    writer.shutdown()
    return time.perf_counter() - started


# The viewer writes through the store's writer, which prunes the store down to
# AUTOTRACE_STORE_MAX_MB (default 200): lift it, or ingest would delete the test data.
VIEW_ENV = {**os.environ, "AUTOTRACE_STORE_MAX_MB": "100000"}


def start_viewer(store):
    process = subprocess.Popen([sys.executable, "-m", "autotrace", "view", "--store", store, "--port", "0",
                                "--otlp-port", "-1"], stdout=subprocess.PIPE, text=True, env=VIEW_ENV)
    port = int(re.search(r":(\d+)/", process.stdout.readline()).group(1))
    return process, port


def get(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 200, (path, response.status, body[:200])
    return body


def time_list(port, query, runs=15):
    samples = []
    for _ in range(runs + 2):
        started = time.perf_counter()
        found = json.loads(get(port, "/api/traces?" + query))
        samples.append((time.perf_counter() - started) * 1000)
    return median(samples[2:]), max(samples[2:]), len(found)


def time_render(port, runs=7):
    from playwright.sync_api import sync_playwright
    samples = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        page.goto(f"http://127.0.0.1:{port}/map")   # assets cached, as for a user clicking through
        for _ in range(runs + 1):
            page.goto(f"http://127.0.0.1:{port}/")
            page.locator("#traces tbody tr").first.wait_for()   # the list is loaded: now "click"
            started = time.perf_counter()
            page.evaluate("window.history.pushState(null, '', '/trace/' + 'b'.repeat(32)); "
                          "window.dispatchEvent(new PopStateEvent('popstate'))")
            # Done when the first screen of rows is drawn and the waterfall scrolls
            # through all 10,000 (rows outside the window are drawn as they scroll in).
            page.wait_for_function(f"document.querySelector('#rows .row') && "
                                   f"document.getElementById('rows').style.height === '{BIG_TRACE_SPANS * 24}px'",
                                   polling="raf", timeout=60_000)
            page.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r)))")  # painted
            samples.append((time.perf_counter() - started) * 1000)
        browser.close()
    return median(samples[1:]), max(samples[1:])


def otlp_requests(count, spans_per_request, seed):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    rng = random.Random(seed)
    bodies = []
    now = time.time_ns()
    for _ in range(count):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        attribute = resource_spans.resource.attributes.add()
        attribute.key, attribute.value.string_value = "service.name", "ingest-bench"
        spans = resource_spans.scope_spans.add()
        spans.scope.name = "bench"
        trace_id = None
        for n in range(spans_per_request):
            if n % 10 == 0:
                trace_id, parent = rng.getrandbits(128).to_bytes(16, "big"), b""
            span = spans.spans.add()
            span.trace_id = trace_id
            span.span_id = rng.getrandbits(64).to_bytes(8, "big")
            span.parent_span_id = parent
            if not parent:
                parent = span.span_id
            span.name = "GET /ingest" if n % 10 == 0 else "SELECT rows"
            span.kind = 2 if n % 10 == 0 else 3
            span.start_time_unix_nano = now + n * 1000
            span.end_time_unix_nano = now + n * 1000 + 500_000
            for key, value in (("http.route", "/ingest"), ("db.system.name", "postgresql")):
                item = span.attributes.add()
                item.key, item.value.string_value = key, value
            item = span.attributes.add()
            item.key, item.value.int_value = "http.response.status_code", 200
        bodies.append(request.SerializeToString())
    return bodies


def time_ingest(store, requests=40, spans_per_request=1000, connections=1):
    """Spans per second from the first request sent to the last answered (each answer
    comes after its spans are committed), over `connections` keep-alive connections."""
    import threading
    bodies = otlp_requests(requests, spans_per_request, seed=len(store) + time.time_ns())
    process = subprocess.Popen([sys.executable, "-m", "autotrace", "view", "--store", store, "--port", "0",
                                "--otlp-port", "-1"], stdout=subprocess.PIPE, text=True, env=VIEW_ENV)
    failures = []

    def send(share):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for body in share:
            connection.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)
        connection.close()

    try:
        port = int(re.search(r":(\d+)/", process.stdout.readline()).group(1))
        threads = [threading.Thread(target=send, args=(bodies[n::connections],)) for n in range(connections)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait()
    assert not failures, failures
    return requests * spans_per_request / elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", help="store to use (generated if missing)")
    parser.add_argument("--traces", type=int, default=50_000)
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true")
    options = parser.parse_args()
    store = options.store or os.path.join(tempfile.mkdtemp(), "bench-viewer.db")
    print("machine:", machine())
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    if not os.path.exists(store):
        seconds = fill(store, options.traces)
        spans = options.traces * SPANS_PER_TRACE + BIG_TRACE_SPANS
        print(f"generated {spans:,} spans in {options.traces + 1:,} traces in {seconds:.0f} s "
              f"({spans / seconds:,.0f} spans/s through StoreExporter.write_rows); "
              f"{os.path.getsize(store) / 1e6:.0f} MB")
    process, port = start_viewer(store)
    try:
        for label, query in (("newest 100, no filter", ""),
                             ("service", "service=svc-3"),
                             ("service + min duration", "service=svc-3&min_ms=300"),
                             ("errors only + since 6h", "errors=1&since=6h"),
                             ("attribute", "attr=user.id=u1234"),
                             ("root operation + attribute AND", "operation=GET%20/api/orders/%7Bid%7D&attr=http.response.status_code=500"),
                             ("service + attribute matching nothing", "service=svc-1&attr=user.id=nobody")):
            med, worst, found = time_list(port, query)
            print(f"trace list API, {label}: median {med:.1f} ms, max {worst:.1f} ms ({found} traces)")
        for label, path in (("service names (list page)", "/api/service-names"),
                            ("service map, last hour", "/api/service-map?since=1h"),
                            ("service map, all stored", "/api/service-map")):
            started = time.perf_counter()
            get(port, path)
            print(f"{label}: {(time.perf_counter() - started) * 1000:.0f} ms")
        samples = []
        for _ in range(8):   # the first warms the page cache and is left out
            started = time.perf_counter()
            body = get(port, "/api/traces/" + "b" * 32)
            samples.append((time.perf_counter() - started) * 1000)
        print(f"trace API, 10,000-span trace: median {median(samples[1:]):.0f} ms, max {max(samples[1:]):.0f} ms "
              f"(first {samples[0]:.0f} ms), {len(body) / 1e6:.1f} MB of JSON")
        if not options.skip_browser:
            med, worst = time_render(port)
            print(f"browser render of the 10,000-span trace (navigation to first screen painted): "
                  f"median {med:.0f} ms, max {worst:.0f} ms")
        print("load average: %.2f %.2f %.2f" % os.getloadavg())
    finally:
        process.terminate()
        process.wait()
    if options.skip_ingest:
        return
    fresh = os.path.join(tempfile.mkdtemp(), "fresh.db")
    for connections in (1, 2):
        for label, target in (("the big store", store), ("an empty store", fresh)):
            rates = [time_ingest(target, connections=connections) for _ in range(3)]
            print(f"OTLP/HTTP protobuf ingest into {label}, {connections} connection(s): median "
                  f"{median(rates):,.0f} spans/s (3 runs of 40 requests of 1,000 spans; "
                  f"min {min(rates):,.0f}, max {max(rates):,.0f})")


if __name__ == "__main__":
    main()
