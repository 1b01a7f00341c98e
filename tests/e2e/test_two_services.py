"""Two services, one trace: A (Flask under gunicorn) calls B (FastAPI under uvicorn) with
requests, and B queries PostgreSQL. Both write to the same store file."""

import json

from server_support import Server, get, gunicorn, stored_spans, uvicorn
from support import autotrace_env


def test_a_request_through_two_services_is_one_trace(tmp_path, pg_dsn):
    store = str(tmp_path / "traces.db")
    b = Server(uvicorn("orders_fastapi:app"), autotrace_env(tmp_path, OTEL_SERVICE_NAME="b", PG_DSN=pg_dsn),
               tmp_path / "b.log")
    try:
        a = Server(gunicorn("-w", "1", "shop_wsgi:app"),
                   autotrace_env(tmp_path, OTEL_SERVICE_NAME="a", SERVICE_B_URL=b.url), tmp_path / "a.log")
        try:
            response = get(a.port, "/orders/42")
            a.stop()
        finally:
            a.kill()
        b.stop()
    finally:
        b.kill()
    assert response.status == 200 and json.loads(response.body) == {"id": 42, "status": "shipped"}, response

    spans = stored_spans(store)
    assert len({s["trace_id"] for s in spans}) == 1
    tree = [(s["service_name"], s["kind"], s["name"], s["parent_span_id"]) for s in spans]
    a_server, a_call, b_server, b_query = (s["span_id"] for s in spans)
    assert tree == [
        ("a", "SERVER", "GET /orders/<int:order_id>", None),
        ("a", "CLIENT", "GET", a_server),
        ("b", "SERVER", "GET /orders/{order_id}", a_call),
        ("b", "CLIENT", "SELECT", b_server),
    ], tree
    assert spans[3]["attributes"]["db.system.name"] == "postgresql"
    assert spans[2]["attributes"]["http.route"] == "/orders/{order_id}"
