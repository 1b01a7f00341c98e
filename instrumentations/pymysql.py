"""pymysql (MySQL and MariaDB): Cursor is a pure Python class, every cursor subclasses it.

executemany calls execute itself; the builder keeps that to the one batch span."""

from autotrace.spec import Instrumentation, Patch, Wrapper


def _connection_facts(cursor):
    connection = cursor.connection
    database = connection.db
    if isinstance(database, bytes):   # pymysql encodes it once connected
        database = database.decode("utf-8", "replace")
    if connection.unix_socket:
        return database, None, None
    return database, connection.host, connection.port


def _system(cursor):
    # MariaDB announces itself in the handshake's version string ("10.11.6-MariaDB-...").
    version = getattr(cursor.connection, "server_version", None) or ""
    return "mariadb" if "mariadb" in version.lower() else "mysql"


def _error_code(exc):
    code = exc.args[0] if exc.args else None
    return str(code) if isinstance(code, int) else None   # the MySQL error number: "1062"


def _execute(batch=False):
    return Wrapper("_dbapi.execute", system="mysql", system_of=_system, connection_facts=_connection_facts,
                   error_code=_error_code, batch=batch, comment=not batch)


SPEC = Instrumentation(
    name="pymysql",
    modules=("pymysql",),
    distribution="PyMySQL",
    supported=">=1.0,<2",
    description="Query spans for PyMySQL (MySQL and MariaDB)",
    patches=(
        Patch("pymysql.cursors", "Cursor.execute", _execute()),
        Patch("pymysql.cursors", "Cursor.executemany", _execute(batch=True)),
    ),
)
