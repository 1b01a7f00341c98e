"""200 requests at once, each with its own caller's traceparent, to an app whose handler
makes an HTTP call and a PostgreSQL query: under uvicorn (one event loop, httpx and
async psycopg) and under gunicorn's gthread worker (8 threads, requests and psycopg).

Every CLIENT span (HTTP and database) must be the child of its own request's SERVER
span, in its own request's trace: no span attached to another request, counts exact.
Each request's index is in its path and in the downstream URL it calls, so a span that
strayed into another request's trace would be seen by its content too.
"""

import asyncio
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from server_support import Server, gunicorn, new_parent, stored_spans, uvicorn
from support import autotrace_env

REQUESTS = 200


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, so the apps' connection pools are used

    def do_GET(self):
        self.server.seen[self.path] = self.headers.get("traceparent")
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Downstream(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512   # 200 connections may arrive at once


@pytest.fixture(scope="module")
def downstream():
    """A plain threaded HTTP server in the test process (not traced): answers its path,
    remembers the traceparent each path came with."""
    server = _Downstream(("127.0.0.1", 0), _Echo)
    server.seen = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("argv, route", [
    pytest.param(lambda: uvicorn("shop_asgi:app"), "/work/{n}", id="uvicorn-starlette"),
    pytest.param(lambda: gunicorn("-w", "1", "--threads", "8", "shop_wsgi:app"), "/work/<int:n>",
                 id="gunicorn-gthread-flask"),
])
def test_concurrent_requests_keep_their_spans_apart(tmp_path, pg_dsn, downstream, argv, route):
    downstream.seen.clear()
    env = autotrace_env(tmp_path, PG_DSN=pg_dsn, DOWNSTREAM_URL="http://127.0.0.1:%d" % downstream.server_port)
    server = Server(argv(), env, tmp_path / "server.log")
    try:
        parents = [new_parent() for _ in range(REQUESTS)]
        answers = asyncio.run(all_at_once(server.url, parents))
        server.stop()
    finally:
        server.kill()
    assert answers == ["/echo/%d %d" % (i, i) for i in range(REQUESTS)], server.log()

    spans = stored_spans(env["AUTOTRACE_STORE"])
    servers = [s for s in spans if s["kind"] == "SERVER"]
    calls = [s for s in spans if s["kind"] == "CLIENT" and "http.request.method" in s["attributes"]]
    queries = [s for s in spans if s["kind"] == "CLIENT" and "db.system.name" in s["attributes"]]
    assert (len(servers), len(calls), len(queries), len(spans)) == (REQUESTS, REQUESTS, REQUESTS, 3 * REQUESTS)

    by_trace = defaultdict(list)
    for span in spans:
        by_trace[span["trace_id"]].append(span)
    assert set(by_trace) == {trace_id for trace_id, _, _ in parents}
    for i, (trace_id, caller_span_id, _) in enumerate(parents):
        (server_span,) = [s for s in by_trace[trace_id] if s["kind"] == "SERVER"]
        (call,) = [s for s in by_trace[trace_id] if s in calls]
        (query,) = [s for s in by_trace[trace_id] if s in queries]
        assert server_span["parent_span_id"] == caller_span_id
        assert server_span["name"] == "GET " + route
        assert server_span["attributes"]["url.path"] == "/work/%d" % i
        assert call["parent_span_id"] == query["parent_span_id"] == server_span["span_id"]
        assert call["attributes"]["url.full"].endswith("/echo/%d" % i)
        assert downstream.seen["/echo/%d" % i] == "00-%s-%s-01" % (trace_id, call["span_id"])
    # The requests did overlap (else this would test nothing about concurrency).
    assert most_at_once(servers) > 1


async def all_at_once(url, parents):
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        async def one(i, traceparent):
            response = await client.get("/work/%d" % i, headers={"traceparent": traceparent})
            return response.text if response.status_code == 200 else (response.status_code, response.text)
        return await asyncio.gather(*(one(i, parent[2]) for i, parent in enumerate(parents)))


def most_at_once(spans):
    """The largest number of spans open at the same instant."""
    edges = sorted([(s["start_ns"], 1) for s in spans] + [(s["end_ns"], -1) for s in spans])
    open_now = most = 0
    for _, step in edges:
        open_now += step
        most = max(most, open_now)
    return most
