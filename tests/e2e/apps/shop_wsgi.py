"""A Flask app for the server tests (gunicorn, werkzeug's server, `flask run`).

/items/<int:item_id>   answers with the worker's pid (which process served)
/greet/<name>          answers "hello <name>" (the same from every process: bad-input test)
/echo                  POST: reads the body, answers with its length
/work/<int:n>          GET DOWNSTREAM_URL with requests, then one PostgreSQL query (PG_DSN)
/orders/<int:order_id> service A of the two-service test: calls SERVICE_B_URL

`python shop_wsgi.py` runs werkzeug's server with its reloader on a free port.
"""

import os

from flask import Flask, request

app = Flask(__name__)


@app.after_request
def mark(response):
    # Tells the bad-input test that the request reached the app (not the server's own error page).
    response.headers["X-Reached-App"] = "yes"
    return response


@app.get("/items/<int:item_id>")
def item(item_id):
    return "%d" % os.getpid()


@app.get("/greet/<name>")
def greet(name):
    return "hello " + name


@app.post("/echo")
def echo():
    return "%d bytes" % len(request.get_data())


@app.get("/work/<int:n>")
def work(n):
    import requests
    answer = requests.get(os.environ["DOWNSTREAM_URL"] + "/echo/%d" % n, timeout=30).text
    with _pool().connection() as conn:
        (value,) = conn.execute("SELECT %s::int AS n", (n,)).fetchone()
    return "%s %d" % (answer, value)


@app.get("/orders/<int:order_id>")
def order(order_id):
    import requests
    return requests.get(os.environ["SERVICE_B_URL"] + "/orders/%d" % order_id, timeout=30).text


_pools = []


def _pool():
    # One pool per worker process, opened on first use (after gunicorn forked).
    if not _pools:
        from psycopg_pool import ConnectionPool
        _pools.append(ConnectionPool(os.environ["PG_DSN"], min_size=1, max_size=8, open=True))
    return _pools[0]


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=0, use_reloader=True)
