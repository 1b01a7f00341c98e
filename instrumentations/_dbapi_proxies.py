"""Traced connections and cursors for drivers whose classes cannot be patched.

sqlite3's (and psycopg2's) connection and cursor are C types: their methods cannot be
replaced. Instead `connect()` is patched to return the connection inside a proxy
whose execute methods are traced and whose cursors come back as traced proxies too.
wrapt's proxies keep `isinstance`, attribute access and assignment working as on the
real objects.
"""

from operator import attrgetter

import wrapt

from autotrace import tracing as _tracing
from autotrace.instrumentations._dbapi import execute, first_argument
from autotrace.patching import Interceptor, guard

__all__ = ["connect"]

_SINGLE = ("execute",)
_BATCH = ("executemany", "executescript")


def connect(instrumentation, system, connect_facts, error_code=None):
    """An Interceptor for a driver's `connect()`: the returned connection is wrapped.

    connect_facts(args, kwargs) -> (namespace, host, port), from the connect call."""
    facts_of = attrgetter("_self_facts")   # a C call: this runs for every statement
    calls = {}
    for method in _SINGLE + _BATCH:
        calls[method] = guard(execute(instrumentation, system, facts_of, statement=first_argument,
                                      error_code=error_code, batch=method in _BATCH, cache_facts=False,
                                      drop_checked=True),   # _traced checks first
                              instrumentation)

    def before(instance, args, kwargs):
        return connect_facts(args, kwargs)

    def after(facts, connection):
        return TracedConnection(connection, calls, facts)

    def failed(facts, exc):
        pass

    return Interceptor(before, after, failed)


class _Traced(wrapt.ObjectProxy):
    def __init__(self, wrapped, calls, facts):
        super().__init__(wrapped)
        self._self_calls = calls
        self._self_facts = facts


def _traced(method, result):
    """A proxy method that runs `method` of the wrapped object traced, then passes
    what it returned through `result(proxy, returned)`. (One Python call per traced
    call: this runs for every statement.)

    A statement whose span the sampler is certain to drop (a sampled-out request's
    queries) goes straight to the driver: the traced path would only decide the same
    after three more calls. The check is contained like the rest of our code."""
    def call(self, *args, **kwargs):
        try:
            dropped = _tracing._leaf_drop_rule()   # tracing.leaf_span_dropped(), one call less
        except Exception:
            dropped = False
        if dropped:
            return result(self, getattr(self.__wrapped__, method)(*args, **kwargs))
        return result(self, self._self_calls[method](getattr(self.__wrapped__, method), self, args, kwargs))
    call.__name__ = method
    return call


def _cursor_itself(cursor, returned):
    # execute() returns the cursor itself: hand back the proxy, not the raw cursor.
    return cursor if returned is cursor.__wrapped__ else returned


def _traced_cursor(connection, returned):
    # Connection shortcuts create their cursor in C, out of reach of cursor(): return
    # it traced, so its next execute() is seen too.
    if returned is None or isinstance(returned, TracedCursor):
        return returned
    return TracedCursor(returned, connection._self_calls, connection._self_facts)


class TracedCursor(_Traced):
    execute = _traced("execute", _cursor_itself)
    executemany = _traced("executemany", _cursor_itself)
    executescript = _traced("executescript", _cursor_itself)

    def __iter__(self):
        return iter(self.__wrapped__)

    def __next__(self):
        return next(self.__wrapped__)


class TracedConnection(_Traced):
    execute = _traced("execute", _traced_cursor)
    executemany = _traced("executemany", _traced_cursor)
    executescript = _traced("executescript", _traced_cursor)

    def cursor(self, *args, **kwargs):
        return TracedCursor(self.__wrapped__.cursor(*args, **kwargs), self._self_calls, self._self_facts)

    def __enter__(self):
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self.__wrapped__.__exit__(*exc_info)
