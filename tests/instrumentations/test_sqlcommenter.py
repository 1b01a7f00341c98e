"""AUTOTRACE_SQLCOMMENTER=true: the server sees `/*traceparent='...'*/` naming the span;
db.query.text never shows it; statements that are not plain text are left alone."""

import re
import sqlite3

import pytest

from support import mysql_arguments

COMMENT = re.compile(r"/\*traceparent='00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}'\*/")


@pytest.fixture
def commenter(monkeypatch):
    from autotrace import bootstrap
    from autotrace.config import Settings
    monkeypatch.setattr(bootstrap, "_settings", Settings.from_env({"AUTOTRACE_SQLCOMMENTER": "true"}))


def assert_names_the_span(seen_by_server, span):
    match = COMMENT.search(seen_by_server)
    assert match, seen_by_server
    context = span.get_span_context()
    assert match.groups() == ("%032x" % context.trace_id, "%016x" % context.span_id)
    assert "traceparent" not in span.attributes["db.query.text"]


def test_psycopg_server_sees_the_comment(commenter, instrument, pg_dsn, spans):
    instrument("psycopg")
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg_dsn) as conn:
        seen = conn.execute("SELECT current_query()").fetchone()[0]
        composed = conn.execute(sql.SQL("SELECT current_query() -- {}").format(sql.Literal("x"))).fetchone()[0]
        params = conn.execute("SELECT current_query(), %s::text", ("value",)).fetchone()
    first, second, third = spans()
    assert_names_the_span(seen, first)
    assert "traceparent" not in composed          # a Composed statement is not touched
    assert_names_the_span(params[0], third)
    assert params[1] == "value"


def test_psycopg_trailing_line_comment_does_not_swallow_it(commenter, instrument, pg_dsn, spans):
    instrument("psycopg")
    import psycopg

    with psycopg.connect(pg_dsn) as conn:
        seen = conn.execute("SELECT current_query() -- the app's own comment").fetchone()[0]
    assert_names_the_span(seen, spans()[0])


def test_psycopg2_server_sees_the_comment(commenter, instrument, pg_dsn, spans):
    instrument("psycopg2")
    import psycopg2

    conn = psycopg2.connect(pg_dsn)
    try:
        cur = conn.cursor()
        cur.execute("SELECT current_query(), %s", ("value",))
        seen, value = cur.fetchone()
    finally:
        conn.close()
    assert value == "value"
    assert_names_the_span(seen, spans()[0])


def test_pymysql_server_sees_the_comment(commenter, instrument, mysql_url, spans):
    instrument("pymysql")
    import pymysql

    conn = pymysql.connect(**mysql_arguments(mysql_url))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT info FROM information_schema.processlist WHERE id = CONNECTION_ID() AND %s = 1",
                        (1,))
            (seen,) = cur.fetchone()
            cur.execute("CREATE TEMPORARY TABLE at_cm (x INT)")
            cur.executemany("INSERT INTO at_cm VALUES (%s)", [(1,), (2,)])   # batch: left as written
            cur.execute("SELECT count(*) FROM at_cm")
            assert cur.fetchone() == (2,)
    finally:
        conn.close()
    assert_names_the_span(seen, spans()[0])


def test_sqlite3_statement_carries_the_comment(commenter, instrument, spans):
    instrument("sqlite3")
    executed = []
    db = sqlite3.connect(":memory:")
    db.set_trace_callback(executed.append)
    assert db.execute("SELECT 1;").fetchone() == (1,)
    assert_names_the_span(executed[-1], spans()[0])


def test_off_by_default(instrument, pg_dsn, spans):
    instrument("psycopg")
    import psycopg

    with psycopg.connect(pg_dsn) as conn:
        seen = conn.execute("SELECT current_query()").fetchone()[0]
    assert seen == "SELECT current_query()"
