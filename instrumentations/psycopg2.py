"""psycopg2 (and psycopg2-binary): C types, so connect() makes traced subclasses.

psycopg2.pool calls psycopg2.connect, so pooled connections are traced too."""

from autotrace.spec import Instrumentation, Patch, Wrapper


def _statement(cursor, args, kwargs):
    query = args[0] if args else kwargs.get("query")
    if isinstance(query, (str, bytes)) or query is None:
        return query
    as_string = getattr(query, "as_string", None)   # psycopg2.sql.Composable
    return as_string(cursor) if as_string is not None else str(query)


def _connection_facts(cursor):
    info = cursor.connection.info
    host = info.host
    return info.dbname, (None if host.startswith("/") else host), info.port   # "/..." is a socket dir


def _sqlstate(exc):
    return getattr(exc, "pgcode", None)


SPEC = Instrumentation(
    name="psycopg2",
    modules=("psycopg2",),
    distribution=("psycopg2", "psycopg2-binary"),
    supported=">=2.8,<3",
    description="Query spans for psycopg2 (any cursor factory, pools)",
    patches=(
        Patch("psycopg2", "connect",
              Wrapper("_dbapi_subclasses.connect", system="postgresql", connection_facts=_connection_facts, statement=_statement,
                      connection_class="psycopg2.extensions:connection",
                      cursor_class="psycopg2.extensions:cursor", error_code=_sqlstate)),
    ),
)
