"""pymysql against the real MariaDB."""

import pytest
from opentelemetry.trace import StatusCode

from support import mysql_arguments


@pytest.fixture
def connect(instrument, mysql_url):
    instrument("pymysql")
    import pymysql

    opened = []

    def open_connection(**extra):
        connection = pymysql.connect(**dict(mysql_arguments(mysql_url), **extra))
        opened.append(connection)
        return connection

    yield open_connection
    for connection in opened:
        connection.close()


def test_queries_attributes_and_mariadb_detection(connect, spans):
    conn = connect()
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS at_my_users")
        cur.execute("CREATE TABLE at_my_users (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) UNIQUE)")
        cur.execute("INSERT INTO at_my_users (email) VALUES (%s)", ("carol@example.com",))
        cur.execute("SELECT email FROM at_my_users WHERE email = 'carol@example.com'")
        assert cur.fetchone() == ("carol@example.com",)
    conn.commit()
    assert [s.name for s in spans()] == ["DROP TABLE at_my_users", "CREATE TABLE at_my_users",
                                         "INSERT at_my_users", "SELECT at_my_users"]
    attributes = dict(spans()[-1].attributes)
    expected_system = "mariadb" if "mariadb" in conn.server_version.lower() else "mysql"
    assert attributes == {
        "db.system.name": expected_system, "db.namespace": "test", "server.address": "127.0.0.1",
        "server.port": 3306, "db.operation.name": "SELECT", "db.collection.name": "at_my_users",
        "db.query.text": "SELECT email FROM at_my_users WHERE email = ?"}
    # pymysql interpolates parameters client-side; the statement it sends is not what we store
    assert all("carol" not in str(dict(s.attributes)) for s in spans())


def test_executemany_is_one_span_both_ways(connect, spans):
    conn = connect()
    with conn.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE at_my_many (x INT, y VARCHAR(20))")
        # a multi-row INSERT rewrite inside pymysql, then a loop of execute()
        cur.executemany("INSERT INTO at_my_many (x, y) VALUES (%s, %s)", [(1, "a"), (2, "b"), (3, "c")])
        cur.executemany("UPDATE at_my_many SET y = %s WHERE x = %s", [("secret-1", 1), ("secret-2", 2)])
        cur.execute("SELECT count(*) FROM at_my_many WHERE y LIKE 'secret%'")
        assert cur.fetchone() == (2,)
    names = [s.name for s in spans()]
    assert names == ["CREATE TABLE at_my_many", "INSERT at_my_many", "UPDATE at_my_many",
                     "SELECT at_my_many"], names
    assert spans()[1].attributes["db.operation.batch.size"] == 3
    assert spans()[2].attributes["db.operation.batch.size"] == 2
    assert "secret" not in str([dict(s.attributes) for s in spans()])


def test_dict_and_unbuffered_cursors(connect, spans):
    import pymysql.cursors

    conn = connect(cursorclass=pymysql.cursors.DictCursor)
    with conn.cursor() as cur:
        cur.execute("SELECT 1 AS one")
        assert cur.fetchone() == {"one": 1}
    with conn.cursor(pymysql.cursors.SSCursor) as cur:
        cur.execute("SELECT 2")
        assert list(cur.fetchall()) == [(2,)]
    assert [s.name for s in spans()] == ["SELECT", "SELECT"]


def test_transaction_commit_and_rollback(connect, spans):
    conn = connect()
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS at_my_tx (x INT) ENGINE=InnoDB")
        cur.execute("DELETE FROM at_my_tx")
        conn.commit()
        conn.begin()
        cur.execute("INSERT INTO at_my_tx VALUES (1)")
        conn.rollback()
        cur.execute("SELECT count(*) FROM at_my_tx")
        assert cur.fetchone() == (0,)
    assert [s.name for s in spans()][-2:] == ["INSERT at_my_tx", "SELECT at_my_tx"]


@pytest.mark.parametrize("setup, statement, error, sqlstate, number", [
    ((), "SELEC 1", "ProgrammingError", "42000", 1064),   # syntax error
    (("CREATE TEMPORARY TABLE at_my_unique (x INT PRIMARY KEY)", "INSERT INTO at_my_unique VALUES (1)"),
     "INSERT INTO at_my_unique VALUES (1)", "IntegrityError", "23000", 1062),   # duplicate key
    ((), "SELECT * FROM at_my_no_such_table", "ProgrammingError", "42S02", 1146),   # unknown table
    ((), "SELECT no_such_column FROM (SELECT 1 AS x) AS t", "OperationalError", "42S22", 1054),
])
def test_errors_carry_the_sqlstate(connect, spans, setup, statement, error, sqlstate, number):
    import pymysql

    conn = connect()
    with conn.cursor() as cur:
        for prepared in setup:
            cur.execute(prepared)
        with pytest.raises(pymysql.err.MySQLError) as info:
            cur.execute(statement)
    assert type(info.value).__name__ == error
    assert info.value.args[0] == number   # the app's exception is pymysql's own, unchanged
    failed = spans()[-1]
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == "pymysql.err." + error
    assert failed.attributes["db.response.status_code"] == sqlstate
    if getattr(info.value, "sqlstate", None) is not None:   # pymysql >= 1.2 parses it too: both agree
        assert info.value.sqlstate == sqlstate


def test_sqlstate_is_read_from_the_error_packet(connect, spans):
    # The patched boundary itself, whatever the pymysql version keeps: a packet as the
    # server sends it goes in, pymysql's exception comes out with the SQLSTATE kept.
    connect()
    import pymysql.err

    packet = b"\xff" + (1146).to_bytes(2, "little") + b"#42S02Table 'test.x' doesn't exist"
    with pytest.raises(pymysql.err.ProgrammingError) as info:
        pymysql.err.raise_mysql_exception(packet)
    assert info.value.args == (1146, "Table 'test.x' doesn't exist")
    assert info.value._autotrace_sqlstate == "42S02"
    old_protocol = b"\xff" + (1146).to_bytes(2, "little") + b"no state here"
    with pytest.raises(pymysql.err.ProgrammingError) as info:
        pymysql.err.raise_mysql_exception(old_protocol)
    assert not hasattr(info.value, "_autotrace_sqlstate")


def test_lost_connection_ends_the_span_as_error(connect, spans):
    import pymysql

    victim, killer = connect(), connect()
    with killer.cursor() as cur:
        cur.execute("KILL %s", (victim.thread_id(),))
    with pytest.raises(pymysql.err.OperationalError) as info:
        with victim.cursor() as cur:
            cur.execute("SELECT 1")
    lost = spans()[-1]
    assert lost.status.status_code == StatusCode.ERROR
    assert lost.attributes["db.response.status_code"] == str(info.value.args[0])
