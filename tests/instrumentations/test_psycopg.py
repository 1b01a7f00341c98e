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


def test_connections_to_different_databases_keep_their_own_facts(psycopg, pg_dsn, spans):
    # Connection facts are remembered per connection: interleaved connections must not mix them.
    with psycopg.connect(pg_dsn, autocommit=True) as test, \
            psycopg.connect(pg_dsn, dbname="postgres", autocommit=True) as postgres:
        for conn in (test, postgres, test, postgres):
            conn.cursor().execute("SELECT 1")
    with psycopg.connect(pg_dsn, dbname="postgres", autocommit=True) as later:   # may reuse a freed address
        later.execute("SELECT 1")
    assert [s.attributes["db.namespace"] for s in spans()] == ["test", "postgres", "test", "postgres", "postgres"]


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


def test_server_side_cursors_sync_and_async(psycopg, pg_dsn, spans):
    with psycopg.connect(pg_dsn) as conn:
        with conn.cursor(name="at_server_side") as cur:
            cur.execute("SELECT generate_series(1, 3) WHERE 'secret' <> 'x'")
            assert [row[0] for row in cur] == [1, 2, 3]

    async def work():
        async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
            async with conn.cursor(name="at_async_server_side") as cur:
                await cur.execute("SELECT relname FROM pg_class LIMIT 2")
                return len(await cur.fetchall())

    assert asyncio.run(work()) == 2
    assert [s.name for s in spans()] == ["SELECT", "SELECT pg_class"]
    assert "secret" not in spans()[0].attributes["db.query.text"]


def test_copy_is_one_span_ending_with_the_block(psycopg, pg_dsn, spans):
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TEMP TABLE at_copy (id int, email text)")
        with conn.cursor() as cur:
            with cur.copy("COPY at_copy (id, email) FROM STDIN") as copy:
                copy.write_row((1, "secret@example.com"))
                assert spans()[-1].name == "CREATE TABLE at_copy"   # the COPY span is still open
            with cur.copy("COPY at_copy TO STDOUT") as copy:
                rows = list(copy.rows())
    assert rows == [("1", "secret@example.com")]
    names = [s.name for s in spans()]
    assert names == ["CREATE TABLE at_copy", "COPY at_copy", "COPY at_copy"]
    assert spans()[1].attributes["db.query.text"] == "COPY at_copy (id, email) FROM STDIN"


def test_failing_copy_ends_its_span_as_error(psycopg, pg_dsn, spans):
    with psycopg.connect(pg_dsn) as conn:
        with conn.cursor() as cur:
            with pytest.raises(psycopg.errors.UndefinedTable):
                with cur.copy("COPY at_no_such_table FROM STDIN") as copy:
                    copy.write_row((1,))
    (span,) = spans()
    assert span.name == "COPY at_no_such_table"
    assert span.attributes["db.response.status_code"] == "42P01"
    assert span.status.status_code == StatusCode.ERROR


def test_async_copy(psycopg, pg_dsn, spans):
    async def work():
        async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
            await conn.execute("CREATE TEMP TABLE at_acopy (x int)")
            async with conn.cursor() as cur:
                async with cur.copy("COPY at_acopy FROM STDIN") as copy:
                    await copy.write_row((7,))
                await cur.execute("SELECT x FROM at_acopy")
                return await cur.fetchall()

    assert asyncio.run(work()) == [(7,)]
    assert [s.name for s in spans()] == ["CREATE TABLE at_acopy", "COPY at_acopy", "SELECT at_acopy"]


def test_pool_connections_are_traced(psycopg, pg_dsn, spans):
    from psycopg_pool import AsyncConnectionPool, ConnectionPool

    with ConnectionPool(pg_dsn, min_size=1, max_size=2, open=True) as pool:
        with pool.connection() as conn:
            conn.execute("SELECT 1")

    async def work():
        async with AsyncConnectionPool(pg_dsn, min_size=1, max_size=1, open=False) as pool:
            async with pool.connection() as conn:
                await conn.execute("SELECT 2")

    asyncio.run(work())
    assert [s.name for s in spans()] == ["SELECT", "SELECT"]
    assert spans()[0].attributes["db.namespace"] == "test"


def test_transaction_block(psycopg, pg_dsn, spans):
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TEMP TABLE at_tx (x int)")
        with pytest.raises(ZeroDivisionError):
            with conn.transaction():
                conn.execute("INSERT INTO at_tx VALUES (1)")
                1 / 0
        assert conn.execute("SELECT count(*) FROM at_tx").fetchone() == (0,)
    assert [s.name for s in spans()] == ["CREATE TABLE at_tx", "INSERT at_tx", "SELECT at_tx"]
