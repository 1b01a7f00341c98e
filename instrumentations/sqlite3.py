"""sqlite3: its connection and cursor are C types, so `connect()` returns traced proxies."""

from autotrace.spec import Instrumentation, Patch, Wrapper


def _connect_facts(args, kwargs):
    database = args[0] if args else kwargs.get("database")
    if isinstance(database, bytes):
        database = database.decode("utf-8", "replace")
    return (str(database) if database is not None else None), None, None


def _error_code(exc):
    return getattr(exc, "sqlite_errorname", None)   # Python 3.11+: "SQLITE_CONSTRAINT_UNIQUE"


_connect = Wrapper("_dbapi_proxies.connect", system="sqlite", connect_facts=_connect_facts, error_code=_error_code)

SPEC = Instrumentation(
    name="sqlite3",
    modules=("sqlite3",),
    distribution="",   # part of the standard library
    supported="",
    description="Query spans for the standard library's sqlite3",
    patches=(
        Patch("sqlite3", "connect", _connect),
        Patch("sqlite3.dbapi2", "connect", _connect),
    ),
)
