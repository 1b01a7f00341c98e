"""The "inventory" service of the two-service example: a small HTTP server that
continues the caller's trace by hand (there is no server instrumentation yet) and runs
sqlite3 queries, one per item (an N+1 pattern on purpose).

usage: python backend.py REQUESTS   (prints its port, serves REQUESTS requests, exits)"""

import http.server
import sqlite3
import sys

from opentelemetry import propagate, trace

tracer = trace.get_tracer("inventory")
db = sqlite3.connect(":memory:", check_same_thread=False)
db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
db.executemany("INSERT INTO items (name) VALUES (?)", [("item %d" % i,) for i in range(10)])


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        context = propagate.extract(dict(self.headers))
        route = "/fail" if self.path == "/fail" else "/orders/{id}"
        with tracer.start_as_current_span("GET " + route, context=context,
                                          kind=trace.SpanKind.SERVER) as span:
            span.set_attribute("http.request.method", "GET")
            span.set_attribute("http.route", route)
            try:
                if self.path == "/fail":
                    raise LookupError("order 404 has no items")
                for item in range(1, 7):
                    db.execute("SELECT name FROM items WHERE id = ?", (item,)).fetchone()
                status = 200
            except LookupError as error:
                span.record_exception(error)
                span.set_status(trace.Status(trace.StatusCode.ERROR, str(error)))
                status = 500
            span.set_attribute("http.response.status_code", status)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
for _ in range(int(sys.argv[1])):
    server.handle_request()
server.server_close()
