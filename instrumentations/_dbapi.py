"""The one span builder for SQL drivers (DB-API style execute calls).

Span name `{operation} {table}` (`SELECT users`), or the operation alone, from the
sanitised statement; attributes per the stable database conventions. The statement's
parameters are never read. A driver's spec supplies two small functions:

    statement(instance, args, kwargs) -> the SQL (str, bytes, or a driver object)
    connection_facts(instance) -> (namespace, host, port), any of them None

Connection facts are cached per connection object, so a repeated query costs a
cache lookup, a span, and nothing else.
"""

import weakref

from opentelemetry.trace import SpanKind

from autotrace import semconv, tracing
from autotrace.bootstrap import settings
from autotrace.patching import Interceptor
from autotrace.spans import fail_span
from autotrace.sql import summarize

__all__ = ["execute", "first_argument"]


def first_argument(instance, args, kwargs):
    if args:
        return args[0]
    for name in ("query", "sql", "operation", "statement", "sql_script"):
        if name in kwargs:
            return kwargs[name]
    return None


def execute(instrumentation, system, connection_facts, statement=first_argument,
            error_code=None, is_async=False, batch=False, cache_facts=True):
    """An Interceptor for one execute-like method (`batch`: executemany-like).

    `cache_facts=False` when connection_facts is already a cheap attribute read."""
    scope = "autotrace.instrumentations." + instrumentation
    facts_of = _FactsCache(connection_facts) if cache_facts else connection_facts
    config = settings()
    max_length, sanitize = config.db_query_max, config.db_sanitize

    def before(instance, args, kwargs):
        if tracing.leaf_span_dropped():   # sampled out: a query span would be dropped anyway
            return None
        summary = summarize(statement(instance, args, kwargs), max_length, sanitize)
        namespace, host, port = facts_of(instance)
        attributes = {semconv.DB_SYSTEM_NAME: system}
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
        if batch:
            size = _batch_size(args, kwargs)
            if size is not None and size >= 2:   # the conventions: only for 2 or more
                attributes[semconv.DB_OPERATION_BATCH_SIZE] = size
        return tracing.tracer(scope).start_span(summary.name or system, kind=SpanKind.CLIENT,
                                                attributes=attributes)

    def after(span, result):
        if span is not None:
            span.end()
        return result

    def failed(span, exc):
        if span is None:
            return
        code = error_code(exc) if error_code is not None else None
        fail_span(span, exc, {semconv.DB_RESPONSE_STATUS_CODE: code} if code else None)

    return Interceptor(before, after, failed, is_async=is_async)


def _batch_size(args, kwargs):
    """len() of executemany's parameter sequence, when it has one (a generator has not)."""
    params = args[1] if len(args) > 1 else kwargs.get("params_seq", kwargs.get("seq_of_parameters"))
    try:
        return len(params)
    except TypeError:
        return None


class _FactsCache:
    """connection_facts(instance), remembered per connection (weakly)."""

    def __init__(self, connection_facts):
        self._compute = connection_facts
        self._cache = weakref.WeakKeyDictionary()

    def __call__(self, instance):
        connection = getattr(instance, "connection", instance)
        try:
            return self._cache[connection]
        except (KeyError, TypeError):
            pass
        try:
            facts = self._compute(instance)
        except Exception:
            facts = (None, None, None)
        try:
            self._cache[connection] = facts
        except TypeError:   # not weak-referenceable: compute each time
            pass
        return facts
