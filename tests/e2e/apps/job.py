"""A small traced program for the end-to-end tests: one manual root span, an HTTP call
(requests), a PostgreSQL query (psycopg) and a sqlite3 query inside it.

usage: python job.py HTTP_URL [PG_DSN]"""

import sqlite3
import sys

import requests
from opentelemetry import trace

url = sys.argv[1]
dsn = sys.argv[2] if len(sys.argv) > 2 else None

with trace.get_tracer("job").start_as_current_span("job"):
    print("http", requests.get(url, timeout=5).status_code)
    if dsn:
        import psycopg
        with psycopg.connect(dsn) as connection:
            row = connection.execute("SELECT count(*) FROM pg_class WHERE relname = 'secret-name'").fetchone()
            print("pg", row[0])
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
    db.execute("INSERT INTO users (email) VALUES ('alice@example.com')")
    print("sqlite", db.execute("SELECT email FROM users WHERE id = 1").fetchone()[0])
