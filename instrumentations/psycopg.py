"""psycopg 3: query spans for sync and async cursors (Connection.execute uses them),
server-side cursors, and COPY blocks (the span ends when the `with` block exits).
psycopg_pool's connections are ordinary connections: their cursors are covered."""

from autotrace.spec import Instrumentation, Patch, Wrapper


def _statement(instance, args, kwargs):
    query = args[0] if args else kwargs.get("query")
    if isinstance(query, (str, bytes)) or query is None:
        return query
    as_string = getattr(query, "as_string", None)   # psycopg.sql.Composable
    if as_string is not None:
        return as_string(instance.connection)
    return str(query)


def _connection_facts(cursor):
    info = cursor.connection.info
    host = info.host
    return info.dbname, (None if host.startswith("/") else host), info.port   # "/..." is a socket dir


def _sqlstate(exc):
    return getattr(exc, "sqlstate", None)


def _execute(is_async=False, batch=False, block=False):
    return Wrapper("_dbapi.execute", system="postgresql", connection_facts=_connection_facts,
                   statement=_statement, error_code=_sqlstate, is_async=is_async, batch=batch, block=block)


SPEC = Instrumentation(
    name="psycopg",
    modules=("psycopg",),
    distribution="psycopg",
    supported=">=3.1,<4",
    description="Query spans for psycopg 3 (sync and async)",
    patches=(
        Patch("psycopg", "Cursor.execute", _execute(), plain=True),
        Patch("psycopg", "Cursor.executemany", _execute(batch=True), plain=True),
        Patch("psycopg", "AsyncCursor.execute", _execute(is_async=True)),
        Patch("psycopg", "AsyncCursor.executemany", _execute(is_async=True, batch=True)),
        Patch("psycopg", "ServerCursor.execute", _execute(), plain=True),
        Patch("psycopg", "AsyncServerCursor.execute", _execute(is_async=True)),
        Patch("psycopg", "Cursor.copy", _execute(block=True), plain=True),
        Patch("psycopg", "AsyncCursor.copy", _execute(block=True)),   # returns an async context manager
    ),
)
