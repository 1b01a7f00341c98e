"""pymysql (MySQL and MariaDB): Cursor is a pure Python class, every cursor subclasses it.

executemany calls execute itself; the builder keeps that to the one batch span.
db.response.status_code is the SQLSTATE from the server's error packet ("42000");
pymysql before 1.2 drops it in `err.raise_mysql_exception(data)`, so that function is
patched to keep it on the exception. Errors without one (a lost connection, raised by
the client) give the MySQL error number ("2013")."""

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


_SQLSTATE = "_autotrace_sqlstate"


def _packet_sqlstate(args, kwargs):
    # Error packet: 0xFF, error number (2 bytes), then "#" and the 5-character SQLSTATE
    # (protocol 4.1 and later), then the message.
    data = args[0] if args else kwargs.get("data")
    if isinstance(data, (bytes, bytearray)) and len(data) >= 9 and data[3] == 0x23:
        return bytes(data[4:9]).decode("ascii", "replace")
    return None


def _error_code(exc):
    state = getattr(exc, _SQLSTATE, None) or getattr(exc, "sqlstate", None)   # pymysql >= 1.2 keeps it too
    if isinstance(state, str) and state:
        return state
    code = exc.args[0] if exc.args else None
    return str(code) if isinstance(code, int) else None   # no SQLSTATE: the MySQL error number


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
        Patch("pymysql.err", "raise_mysql_exception",
              Wrapper("_dbapi.keep_on_error", read=_packet_sqlstate, attribute=_SQLSTATE)),
    ),
)
