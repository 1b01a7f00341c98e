"""A tiny inventory job to try autotrace on, with no services to set up.

    autotrace run python examples/quickstart.py
    autotrace traces

It starts a local HTTP server, calls it with requests, and keeps stock in SQLite.
There is no tracing code in it except one `checkout` span made with the plain
OpenTelemetry API, to show that hand-made spans join autotrace's traces.
"""

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from opentelemetry import trace


class PriceHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/missing"):
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps({"item": self.path.rsplit("/", 1)[-1], "price": 12.5}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), PriceHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % server.server_address[1]

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE stock (item TEXT PRIMARY KEY, count INTEGER)")
    db.executemany("INSERT INTO stock VALUES (?, ?)", [("apple", 3), ("pear", 0)])

    with trace.get_tracer("quickstart").start_as_current_span("checkout"):
        for item in ("apple", "pear"):
            price = requests.get("%s/prices/%s?api_key=not-a-real-key" % (base, item)).json()["price"]
            count = db.execute("SELECT count FROM stock WHERE item = ?", (item,)).fetchone()[0]
            print("%-6s price %.2f, %d in stock" % (item, price, count))
        db.execute("UPDATE stock SET count = count - 1 WHERE item = 'apple'")
        print("missing item ->", requests.get(base + "/missing/plum").status_code)
    server.shutdown()
    print("done: see the trace with `autotrace traces`, then `autotrace show <trace id>`")


if __name__ == "__main__":
    main()
