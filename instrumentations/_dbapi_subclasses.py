"""Traced connections and cursors for drivers whose C types can be subclassed (psycopg2).

psycopg2's connection and cursor are C types, so their methods cannot be patched,
and a proxy (as for sqlite3) would break psycopg2's own C functions, which check
the exact type of what they are given (`register_type(oid, conn)`,
`sql.Identifier(...).as_string(conn)`). A subclass passes those checks. So
`connect()` is called with a traced subclass of the connection factory the app
asked for (or the driver's own connection), and that connection's `cursor()` makes
cursors of a traced subclass of whatever cursor factory applies (the app's
`RealDictCursor`, `connect(cursor_factory=...)`, or the plain cursor). `isinstance`
checks against the app's classes keep holding; class names are kept for tracebacks.
"""

from importlib import import_module

from autotrace.instrumentations._dbapi import execute, first_argument
from autotrace.patching import Interceptor, guard

__all__ = ["connect"]


def connect(instrumentation, system, connection_facts, connection_class, cursor_class, statement=first_argument,
            error_code=None):
    """An Interceptor for a driver's `connect(dsn, connection_factory, ...)`.

    connection_class, cursor_class: the driver's base C types as "module:name"
    (resolved now: the driver is being imported); connection_facts(cursor) and
    statement(cursor, args, kwargs) as in _dbapi."""
    base_connection = _resolve(connection_class)
    base_cursor = _resolve(cursor_class)
    single, batch = (guard(execute(instrumentation, system, connection_facts, statement=statement,
                                   error_code=error_code, batch=many), instrumentation)
                     for many in (False, True))
    cursors = _Subclasses(lambda factory: _traced_cursor_class(factory, single, batch))
    connections = _Subclasses(lambda factory: _traced_connection_class(factory, cursors, base_cursor))

    def before(instance, args, kwargs):
        if len(args) > 1:   # connect(dsn, connection_factory, ...)
            traced = connections.get(args[1] or base_connection)
            return None, (args[0], traced) + tuple(args[2:]), kwargs
        kwargs = dict(kwargs)
        kwargs["connection_factory"] = connections.get(kwargs.get("connection_factory") or base_connection)
        return None, args, kwargs

    def after(state, connection):
        return connection

    def failed(state, exc):
        pass

    return Interceptor(before, after, failed, rewrites=True)


def _resolve(path):
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


class _Subclasses:
    """One traced subclass per factory class, made once. A factory that is not a class
    (any callable is accepted by some drivers) is returned as it is: untraced."""

    def __init__(self, make):
        self._make = make
        self._made = {}

    def get(self, factory):
        if getattr(factory, "_autotrace_traced", False):
            return factory
        found = self._made.get(factory)
        if found is None:
            if not isinstance(factory, type):
                return factory
            found = self._made[factory] = self._make(factory)
            for attribute in ("__name__", "__qualname__", "__module__"):
                setattr(found, attribute, getattr(factory, attribute))
        return found


def _traced_connection_class(factory, cursors, base_cursor):
    class TracedConnection(factory):
        _autotrace_traced = True

        def cursor(self, *args, **kwargs):
            # cursor(name=None, cursor_factory=None, withhold=False, scrollable=None)
            if len(args) > 1:
                chosen = args[1] or self.cursor_factory or base_cursor
                args = (args[0], cursors.get(chosen)) + tuple(args[2:])
            else:
                chosen = kwargs.get("cursor_factory") or self.cursor_factory or base_cursor
                kwargs["cursor_factory"] = cursors.get(chosen)
            return super().cursor(*args, **kwargs)

    return TracedConnection


def _traced_cursor_class(factory, single, batch):
    class TracedCursor(factory):
        _autotrace_traced = True

        def execute(self, *args, **kwargs):
            return single(super().execute, self, args, kwargs)

        def executemany(self, *args, **kwargs):
            return batch(super().executemany, self, args, kwargs)

    return TracedCursor
