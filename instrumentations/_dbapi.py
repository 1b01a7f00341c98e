"""The one span builder for SQL drivers (DB-API style execute calls).

Span name `{operation} {table}` (`SELECT users`), or the operation alone, from the
sanitised statement; attributes per the stable database conventions. The statement's
parameters are never read. A driver's spec supplies two small functions:

    statement(instance, args, kwargs) -> the SQL (str, bytes, or a driver object)
    connection_facts(instance) -> (namespace, host, port), any of them None

Connection facts are cached per connection object, and a statement's span name and
attributes per (statement text, connection facts), so a repeated query costs two
lookups, a copy of its attribute dict, a span, and nothing else.

A driver whose executemany calls its own execute (pymysql) gets one span: while a
batch span is open for a cursor, that cursor's execute calls are not traced again.

With AUTOTRACE_SQLCOMMENTER=true the statement sent to the server gets
`/*traceparent='00-<trace>-<span>-<flags>'*/` appended (sqlcommenter format), so
database logs and pg_stat_statements point at the span. Only plain str/bytes
statements are changed (a psycopg.sql.Composed is left alone), and the span's
db.query.text is summarised from the statement as the app wrote it.
"""

import weakref
from contextvars import ContextVar

import wrapt

from opentelemetry.trace import SpanKind

from autotrace import semconv, tracing
from autotrace.bootstrap import settings
from autotrace.patching import Interceptor
from autotrace.spans import data_free_message, fail_span, span_starter
from autotrace.sql import summarize

__all__ = ["execute", "first_argument", "with_traceparent", "keep_on_error"]

_STATEMENT_KEYWORDS = ("query", "sql", "operation", "statement", "sql_script")
_inside_batch = ContextVar("autotrace_dbapi_batch", default=None)   # the cursor running a traced batch


def first_argument(instance, args, kwargs):
    if args:
        return args[0]
    for name in _STATEMENT_KEYWORDS:
        if name in kwargs:
            return kwargs[name]
    return None


def execute(instrumentation, system, connection_facts, statement=first_argument,
            error_code=None, is_async=False, batch=False, cache_facts=True, comment=True, system_of=None,
            block=False, drop_checked=False):
    """An Interceptor for one execute-like method (`batch`: executemany-like).

    `block=True`: the method returns a context manager (psycopg's `cursor.copy()`,
    sync or async) and the span lasts until that block exits.

    `system_of(cursor)`: the db.system.name when it depends on the server (MySQL or
    MariaDB behind one driver); it is remembered with the connection facts.

    `cache_facts=False` when connection_facts is already a cheap attribute read;
    `comment=False` keeps sqlcommenter off this method (pymysql's executemany, whose
    multi-row INSERT rewrite only recognises an uncommented statement).

    `drop_checked=True` when the caller runs the interceptor only after checking that
    the sampler keeps the span (_dbapi_proxies): the check is then not made twice."""
    scope = "autotrace.instrumentations." + instrumentation
    if system_of is not None:
        plain_facts = connection_facts

        def connection_facts(instance):
            return tuple(plain_facts(instance)) + (system_of(instance),)
    facts_cache = _FactsCache(connection_facts) if cache_facts else None
    known_facts = facts_cache.known if cache_facts else None   # weakref(connection) -> facts
    config = settings()
    max_length, sanitize = config.db_query_max, config.db_sanitize

    described = {}   # (statement, connection facts) -> (span name, attributes)
    starters = []    # the scope's span_starter, once asked for (tracing.py keeps the tracer for good)

    def describe(query, facts):
        summary = summarize(query, max_length, sanitize)
        return summary.name or system, _attributes(system, system_of is not None, summary, facts)

    # start() runs on every traced query: it is written out flat, without helpers,
    # because a Python call costs more here than most of the lines it would hold.
    def start(instance, args, kwargs):
        if _inside_batch.get() is instance:
            return None   # executemany's own inner execute: already inside its span
        if not drop_checked and tracing.leaf_span_dropped():   # sampled out: the span would be dropped anyway
            return None
        query = args[0] if args else None
        if type(query) is not str:   # every driver takes a str statement first: only others need asking
            query = statement(instance, args, kwargs)
        if known_facts is None:
            facts = connection_facts(instance)
        else:
            try:
                facts = known_facts[_ref(instance.connection)]
            except Exception:   # a connection not seen yet (or without weak references)
                facts = facts_cache(instance)
        kind = type(query)
        found = key = None
        if kind is str or kind is bytes:   # a repeated query: one lookup, no summary, no dict to build
            key = (query, facts)
            try:
                found = described.get(key)
            except TypeError:   # facts a driver spec made unhashable: work it out each time
                key = None
        if found is None:
            found = describe(query, facts)
            if key is not None:
                if len(described) >= _DESCRIBED_ENTRIES:
                    described.clear()
                described[key] = found
        name, attributes = found   # (the span copies the attributes: this dict stays as it is)
        if not starters:
            starters.append(span_starter(tracing.tracer(scope)))
        if batch:
            attributes = dict(attributes)
            size = _batch_size(args, kwargs)
            if size is not None and size >= 2:   # the conventions: only for 2 or more
                attributes[semconv.DB_OPERATION_BATCH_SIZE] = size
            return starters[0](name, _CLIENT, attributes), _inside_batch.set(instance)
        return starters[0](name, _CLIENT, attributes)

    def finish(state):
        if batch:
            span, token = state
            _inside_batch.reset(token)
            return span
        return state

    def span_of(state):
        return state[0] if batch else state

    if block:
        def after(state, result):
            if state is None:
                return result
            return _SpanBlock(result, lambda: finish(state).end(), lambda exc: failed(state, exc))
    elif batch:
        def after(state, result):
            if state is not None:
                finish(state).end()
            return result
    else:
        def after(state, result):
            if state is not None:
                state.end()
            return result

    def failed(state, exc):
        if state is None:
            return
        code = error_code(exc) if error_code is not None else None
        fail_span(finish(state), exc, {semconv.DB_RESPONSE_STATUS_CODE: code} if code else None,
                  clean_message=data_free_message)

    if comment and config.sqlcommenter:
        def commented(instance, args, kwargs):
            state = start(instance, args, kwargs)
            if state is None:
                return state, args, kwargs
            args, kwargs = with_traceparent(span_of(state), args, kwargs)
            return state, args, kwargs

        return Interceptor(commented, after, failed, is_async=is_async, rewrites=True)
    return Interceptor(start, after, failed, is_async=is_async)


_DESCRIBED_ENTRIES = 2048   # per builder; cleared when full, as sql.py's caches
_CLIENT = SpanKind.CLIENT
_ref = weakref.ref


def _attributes(system, system_in_facts, summary, facts):
    """The span attributes of a statement's summary on a connection's facts."""
    namespace, host, port = facts[:3]
    attributes = {semconv.DB_SYSTEM_NAME: (system_in_facts and facts[3]) or system}
    if summary.text:
        attributes[semconv.DB_QUERY_TEXT] = summary.text
    if summary.operation:
        attributes[semconv.DB_OPERATION_NAME] = summary.operation
    if summary.collection:
        attributes[semconv.DB_COLLECTION_NAME] = summary.collection
    if namespace:
        attributes[semconv.DB_NAMESPACE] = namespace
    if host:
        attributes[semconv.SERVER_ADDRESS] = host
    if port:
        attributes[semconv.SERVER_PORT] = port
    return attributes


def keep_on_error(instrumentation, read, attribute):
    """An Interceptor for a driver function that turns a server's error reply into an
    exception and drops a fact on the way (pymysql before 1.2 reads the SQLSTATE out
    of MySQL's error packet and throws it away): `read(args, kwargs)` takes the fact
    from the reply, and it is stored on the raised exception as `attribute` (a private
    name), where the driver spec's error_code finds it. The exception is the same
    object; the function's behaviour is unchanged."""
    def before(instance, args, kwargs):
        return read(args, kwargs)

    def after(state, result):
        return result

    def failed(state, exc):
        if state is not None:
            try:
                setattr(exc, attribute, state)
            except Exception:   # an exception type with __slots__: no code for its span
                pass

    return Interceptor(before, after, failed)


def with_traceparent(span, args, kwargs):
    """(args, kwargs) with the statement (first argument or its keyword) followed by a
    sqlcommenter traceparent comment; unchanged when the statement is not str/bytes."""
    if args:
        replaced = _commented(args[0], span)
        return ((replaced,) + tuple(args[1:]) if replaced is not None else args), kwargs
    for name in _STATEMENT_KEYWORDS:
        if name in kwargs:
            replaced = _commented(kwargs[name], span)
            if replaced is not None:
                kwargs = dict(kwargs)
                kwargs[name] = replaced
            break
    return args, kwargs


def _place(statement, comment):
    """`statement comment`, inside a trailing `;` (sqlite3 runs only up to the first `;`)
    and on a new line after a trailing `-- line comment`, which would swallow it."""
    body = statement.rstrip()
    end = ""
    if body.endswith(";"):
        body, end = body[:-1].rstrip(), ";"
    separator = "\n" if body.rfind("--") > body.rfind("\n") else " "
    return body + separator + comment + end


def _commented(statement, span):
    context = span.get_span_context()
    if not context.is_valid:
        return None
    comment = "/*traceparent='00-%032x-%016x-%02x'*/" % (context.trace_id, context.span_id,
                                                         context.trace_flags)
    if isinstance(statement, str):
        return _place(statement, comment)
    if isinstance(statement, bytes):   # latin-1 maps every byte to itself and back
        return _place(statement.decode("latin-1"), comment).encode("latin-1")
    return None


class _SpanBlock(wrapt.ObjectProxy):
    """A context manager (sync or async) that ends a span when its block exits: as
    failed when the block raised or entering it failed (the statement runs on enter)."""

    def __init__(self, wrapped, end, fail):
        super().__init__(wrapped)
        self._self_end = end
        self._self_fail = fail

    def __enter__(self):
        try:
            return self.__wrapped__.__enter__()
        except BaseException as exc:
            self._self_close(exc)
            raise

    def __exit__(self, kind, exc, traceback):
        try:
            suppressed = self.__wrapped__.__exit__(kind, exc, traceback)
        except BaseException as raised:
            self._self_close(raised)
            raise
        self._self_close(None if suppressed else exc)
        return suppressed

    async def __aenter__(self):
        try:
            return await self.__wrapped__.__aenter__()
        except BaseException as exc:
            self._self_close(exc)
            raise

    async def __aexit__(self, kind, exc, traceback):
        try:
            suppressed = await self.__wrapped__.__aexit__(kind, exc, traceback)
        except BaseException as raised:
            self._self_close(raised)
            raise
        self._self_close(None if suppressed else exc)
        return suppressed

    def _self_close(self, exc):
        try:   # ours: never raise into the app's with-block
            if exc is None:
                self._self_end()
            else:
                self._self_fail(exc)
        except Exception:
            pass


def _batch_size(args, kwargs):
    """len() of executemany's parameter sequence, when it has one (a generator has not)."""
    params = args[1] if len(args) > 1 else next(
        (kwargs[name] for name in ("params_seq", "seq_of_parameters", "vars_list", "args") if name in kwargs), None)
    try:
        return len(params)
    except TypeError:
        return None


class _FactsCache:
    """connection_facts(instance), remembered per connection (weakly).

    The builder reads `known[weakref.ref(cursor.connection)]` itself (C calls only);
    calling this is the slow path, taken once per connection."""

    def __init__(self, connection_facts):
        self._compute = connection_facts
        self.known = {}   # weakref to a connection -> its facts; the entry goes with the connection

    def __call__(self, instance):
        connection = getattr(instance, "connection", instance)
        try:
            facts = self._compute(instance)
        except Exception:
            facts = (None, None, None, None)
        try:
            self.known[weakref.ref(connection, self._forget)] = facts
        except TypeError:   # not weak-referenceable: compute each time
            pass
        return facts

    def _forget(self, reference):
        self.known.pop(reference, None)
