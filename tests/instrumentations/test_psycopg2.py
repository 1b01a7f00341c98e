"""psycopg2 against the real PostgreSQL: traced subclasses of its C types."""

import pytest
from opentelemetry.trace import StatusCode


@pytest.fixture
def psycopg2(instrument, pg_dsn):
    instrument("psycopg2")
    import psycopg2
    return psycopg2


def test_queries_attributes_and_no_literals(psycopg2, pg_dsn, spans):
    conn = psycopg2.connect(pg_dsn)
    try:
        cur = conn.cursor()
        cur.execute("DROP TABLE IF EXISTS at2_users")
        cur.execute("CREATE TABLE at2_users (id serial PRIMARY KEY, email text UNIQUE)")
        cur.execute("INSERT INTO at2_users (email) VALUES (%s)", ("carol@example.com",))
        cur.executemany("INSERT INTO at2_users (email) VALUES (%s)", [("a@x",), ("b@x",)])
        cur.execute("SELECT email FROM at2_users WHERE email = 'carol@example.com'")
        assert cur.fetchone() == ("carol@example.com",)
        conn.commit()
    finally:
        conn.close()
    assert [s.name for s in spans()] == ["DROP TABLE at2_users", "CREATE TABLE at2_users", "INSERT at2_users",
                                         "INSERT at2_users", "SELECT at2_users"]
    assert spans()[3].attributes["db.operation.batch.size"] == 2
    attributes = dict(spans()[-1].attributes)
    assert attributes == {
        "db.system.name": "postgresql", "db.namespace": "test", "server.address": "127.0.0.1",
        "server.port": 5432, "db.operation.name": "SELECT", "db.collection.name": "at2_users",
        "db.query.text": "SELECT email FROM at2_users WHERE email = ?"}
    assert all("carol" not in str(dict(s.attributes)) for s in spans())


def test_every_cursor_factory_is_traced_and_keeps_its_class(psycopg2, pg_dsn, spans):
    from psycopg2.extras import DictCursor, NamedTupleCursor, RealDictCursor

    with psycopg2.connect(pg_dsn, cursor_factory=RealDictCursor) as conn:
        cur = conn.cursor()
        assert isinstance(cur, RealDictCursor)
        cur.execute("SELECT 1 AS one")
        assert cur.fetchone() == {"one": 1}
        named = conn.cursor(cursor_factory=NamedTupleCursor)
        named.execute("SELECT 2 AS two")
        assert named.fetchone().two == 2
        positional = conn.cursor(None, DictCursor)
        positional.execute("SELECT 3 AS three")
        assert positional.fetchone()["three"] == 3
        server_side = conn.cursor("at_named")
        server_side.execute("SELECT generate_series(1, 3)")
        assert [row["generate_series"] for row in server_side] == [1, 2, 3]
    conn.close()
    assert [s.name for s in spans()] == ["SELECT"] * 4
    assert type(cur).__name__ == "RealDictCursor"


def test_connection_factory_and_psycopg2_c_functions_still_accept_it(psycopg2, pg_dsn, spans):
    from psycopg2 import extensions, sql
    from psycopg2.extras import LoggingConnection, register_uuid

    conn = psycopg2.connect(pg_dsn, connection_factory=LoggingConnection)
    try:
        conn.initialize(open("/dev/null", "w"))
        assert isinstance(conn, LoggingConnection)
        register_uuid(conn_or_curs=conn)                     # C type checks on the connection
        extensions.register_type(extensions.UNICODE, conn)
        query = sql.SQL("SELECT {} FROM {}").format(sql.Identifier("relname"), sql.Identifier("pg_class"))
        assert query.as_string(conn) == 'SELECT "relname" FROM "pg_class"'
        cur = conn.cursor()
        cur.execute(query)
        cur.execute("SELECT %s::uuid", ("12345678-1234-5678-1234-567812345678",))
        assert str(cur.fetchone()[0]) == "12345678-1234-5678-1234-567812345678"
    finally:
        conn.close()
    assert [s.name for s in spans()] == ["SELECT pg_class", "SELECT"]


def test_pool_connections_are_traced(psycopg2, pg_dsn, spans):
    from psycopg2.pool import ThreadedConnectionPool

    pool = ThreadedConnectionPool(1, 2, pg_dsn)
    try:
        conn = pool.getconn()
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        pool.putconn(conn)
    finally:
        pool.closeall()
    assert [s.name for s in spans()] == ["SELECT"]


def test_errors_carry_sqlstate_and_reach_the_app_unchanged(psycopg2, pg_dsn, spans):
    import psycopg2.errors

    conn = psycopg2.connect(pg_dsn)
    try:
        cur = conn.cursor()
        with pytest.raises(psycopg2.errors.SyntaxError) as info:
            cur.execute("SELEC 1")
        conn.rollback()
        cur.execute("CREATE TEMP TABLE at2_unique (x int PRIMARY KEY)")
        cur.execute("INSERT INTO at2_unique VALUES (1)")
        with pytest.raises(psycopg2.errors.UniqueViolation):
            cur.execute("INSERT INTO at2_unique VALUES (1)")
    finally:
        conn.close()
    syntax, unique = spans()[0], spans()[-1]
    assert info.value.pgcode == "42601"
    assert syntax.status.status_code == StatusCode.ERROR
    assert syntax.attributes["db.response.status_code"] == "42601"
    assert syntax.attributes["error.type"] == "psycopg2.errors.SyntaxError"
    assert unique.attributes["db.response.status_code"] == "23505"


def test_cancelled_query_ends_its_span_as_error(psycopg2, pg_dsn, spans):
    import psycopg2.errors

    conn = psycopg2.connect(pg_dsn)
    try:
        cur = conn.cursor()
        cur.execute("SET statement_timeout = 50")
        with pytest.raises(psycopg2.errors.QueryCanceled):
            cur.execute("SELECT pg_sleep(2)")
    finally:
        conn.close()
    cancelled = spans()[-1]
    assert cancelled.status.status_code == StatusCode.ERROR
    assert cancelled.attributes["db.response.status_code"] == "57014"
