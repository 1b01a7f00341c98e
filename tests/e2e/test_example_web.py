"""The README's web example as it is written: examples/web/catalog.py under uvicorn and
examples/web/shop.py under gunicorn, both under `autotrace run`, one trace between them."""

import json
import os

from server_support import Server, get, gunicorn, stored_spans, uvicorn
from support import REPO, autotrace_env

WEB = os.path.join(REPO, "examples", "web")


def test_the_web_example_is_one_trace_across_both_services(tmp_path):
    catalog = Server(uvicorn("catalog:app"), autotrace_env(tmp_path, OTEL_SERVICE_NAME="catalog"),
                     tmp_path / "catalog.log", cwd=WEB)
    try:
        shop = Server(gunicorn("-w", "2", "shop:app"),
                      autotrace_env(tmp_path, OTEL_SERVICE_NAME="shop", CATALOG_URL=catalog.url),
                      tmp_path / "shop.log", cwd=WEB)
        try:
            found, missing = get(shop.port, "/basket/1"), get(shop.port, "/basket/9")
            shop.stop()
        finally:
            shop.kill()
        catalog.stop()
    finally:
        catalog.kill()
    assert found.status == 200 and json.loads(found.body) == {"item": "apple", "count": 3, "total": 1.5}
    assert missing.status == 404

    spans = stored_spans(str(tmp_path / "traces.db"))
    traces = {}
    for span in spans:
        traces.setdefault(span["trace_id"], []).append(span)
    # The catalog's CREATE TABLE and INSERT at import are traces of their own, one span each.
    setup = [t for t in traces.values() if t[0]["kind"] == "CLIENT"]
    assert sorted(t[0]["name"] for t in setup) == ["CREATE TABLE items", "INSERT items"]
    requests = sorted((t for t in traces.values() if t[0]["kind"] == "SERVER"), key=lambda t: t[0]["start_ns"])
    assert len(requests) == 2 and len(traces) == 4
    for trace, status in zip(requests, (200, 404)):
        tree = [(s["service_name"], s["kind"], s["name"]) for s in trace]
        assert tree == [("shop", "SERVER", "GET /basket/<int:item_id>"), ("shop", "CLIENT", "GET"),
                        ("catalog", "SERVER", "GET /items/{item_id}"), ("catalog", "CLIENT", "SELECT items")], tree
        assert [s["parent_span_id"] for s in trace] == [None] + [s["span_id"] for s in trace[:-1]]
        assert trace[0]["attributes"]["http.response.status_code"] == status
