"""Traced connections and cursors for drivers whose classes cannot be patched.

sqlite3's (and psycopg2's) connection and cursor are C types: their methods cannot be
replaced. Instead `connect()` is patched to return the connection inside a proxy
whose execute methods are traced and whose cursors come back as traced proxies too.
wrapt's proxies keep `isinstance`, attribute access and assignment working as on the
real objects.
"""

import wrapt

from autotrace.instrumentations._dbapi import execute, first_argument
from autotrace.patching import Interceptor, guard

__all__ = ["connect"]

_SINGLE = ("execute",)
_BATCH = ("executemany", "executescript")


def connect(instrumentation, system, connect_facts, error_code=None):
    """An Interceptor for a driver's `connect()`: the returned connection is wrapped.

    connect_facts(args, kwargs) -> (namespace, host, port), from the connect call."""
    def facts_of(proxy):
        return proxy._self_facts

    calls = {}
    for method in _SINGLE + _BATCH:
        calls[method] = guard(execute(instrumentation, system, facts_of, statement=first_argument,
                                      error_code=error_code, batch=method in _BATCH), instrumentation)

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

    def _self_run(self, method, args, kwargs):
        return self._self_calls[method](getattr(self.__wrapped__, method), self, args, kwargs)


class TracedCursor(_Traced):
    def _self_same(self, result):
        # execute() returns the cursor itself: hand back the proxy, not the raw cursor.
        return self if result is self.__wrapped__ else result

    def execute(self, *args, **kwargs):
        return self._self_same(self._self_run("execute", args, kwargs))

    def executemany(self, *args, **kwargs):
        return self._self_same(self._self_run("executemany", args, kwargs))

    def executescript(self, *args, **kwargs):
        return self._self_same(self._self_run("executescript", args, kwargs))

    def __iter__(self):
        return iter(self.__wrapped__)

    def __next__(self):
        return next(self.__wrapped__)


class TracedConnection(_Traced):
    def cursor(self, *args, **kwargs):
        return TracedCursor(self.__wrapped__.cursor(*args, **kwargs), self._self_calls, self._self_facts)

    def _self_cursor_result(self, result):
        if result is None or isinstance(result, TracedCursor):
            return result
        return TracedCursor(result, self._self_calls, self._self_facts)

    # Connection shortcuts create their cursor in C, out of reach of cursor(): trace
    # them here and return the cursor traced, so its next execute() is seen too.
    def execute(self, *args, **kwargs):
        return self._self_cursor_result(self._self_run("execute", args, kwargs))

    def executemany(self, *args, **kwargs):
        return self._self_cursor_result(self._self_run("executemany", args, kwargs))

    def executescript(self, *args, **kwargs):
        return self._self_cursor_result(self._self_run("executescript", args, kwargs))

    def __enter__(self):
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self.__wrapped__.__exit__(*exc_info)
