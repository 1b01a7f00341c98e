"""psycopg 3 against the real PostgreSQL, sync and async."""

import asyncio

import pytest
from opentelemetry.trace import StatusCode


@pytest.fixture
def psycopg(instrument, pg_dsn):
    instrument("psycopg")
    import psycopg
    return psycopg


def test_queries_sync(psycopg, pg_dsn, spans):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS at_users")
        conn.execute("CREATE TABLE at_users (id serial PRIMARY KEY, email text)")
        with conn.cursor() as cur:
            cur.execute("INSERT INTO at_users (email) VALUES (%s)", ("carol@example.com",))
            cur.executemany("INSERT INTO at_users (email) VALUES (%s)", [("a@x",), ("b@x",)])
            cur.execute("SELECT email FROM at_users WHERE email = 'carol@example.com'")
            assert cur.fetchone() == ("carol@example.com",)
    names = [s.name for s in spans()]
    assert names == ["DROP TABLE at_users", "CREATE TABLE at_users", "INSERT at_users", "INSERT at_users",
                     "SELECT at_users"]
    select = spans()[-1]
    attributes = dict(select.attributes)
    assert attributes["db.system.name"] == "postgresql"
    assert attributes["db.namespace"] == "test"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == 5432
    assert attributes["db.query.text"] == "SELECT email FROM at_users WHERE email = ?"
    assert all("carol" not in str(dict(s.attributes)) for s in spans())


def test_errors_carry_sqlstate(psycopg, pg_dsn, spans):
    with psycopg.connect(pg_dsn) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable) as info:
            conn.execute("SELECT * FROM no_such_table_here")
    (span,) = spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["db.response.status_code"] == "42P01"
    assert span.attributes["error.type"] == "psycopg.errors.UndefinedTable"
    assert info.value.sqlstate == "42P01"


def test_queries_async(psycopg, pg_dsn, spans):
    async def work():
        async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
            async with conn.cursor() as cur:
                await cur.execute("SELECT 1")
                await cur.executemany("SELECT %s", [(1,), (2,)])
                await cur.execute("SELECT relname FROM pg_class WHERE relname = 'pg_type'")
                return await cur.fetchone()

    assert asyncio.run(work()) == ("pg_type",)
    assert [s.name for s in spans()] == ["SELECT", "SELECT", "SELECT pg_class"]


def test_composed_sql_is_summarised(psycopg, pg_dsn, spans):
    from psycopg import sql
    query = sql.SQL("SELECT {} FROM {} WHERE relname = {}").format(
        sql.Identifier("relname"), sql.Identifier("pg_class"), sql.Literal("secret-literal"))
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(query)
    (span,) = spans()
    assert span.name == "SELECT pg_class"
    assert "secret-literal" not in span.attributes["db.query.text"]
