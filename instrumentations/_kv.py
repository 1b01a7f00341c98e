"""The one span builder for key-value stores that speak in commands (Redis and kin).

A command is one CLIENT span named by the command (`GET`); its db.query.text is the
command with every argument replaced by `?` (`SET ? ?`): keys and values are user
data and never stored, whatever AUTOTRACE_DB_SANITIZE says. A pipeline or a
transaction is one span (`PIPELINE` or `MULTI`) whose text lists its commands and
whose db.operation.batch.size counts them; the commands inside make no spans of
their own (the driver sends them without going through the traced method).

A spec supplies small functions:

    command_args(instance, args, kwargs) -> the command's arguments, name first
                                            (optional: the positional arguments)
    connection_facts(instance) -> (namespace, host, port), any of them None
    connection_of(instance) -> what those facts belong to, to remember them (optional)
    pipeline_commands(pipeline) -> [argument tuples, name first] of the queued commands
    is_transaction(pipeline) -> True for MULTI/EXEC
"""

import weakref

from opentelemetry.trace import SpanKind

from autotrace import semconv, tracing
from autotrace.patching import Interceptor
from autotrace.spans import data_free_message, fail_span, span_starter, start_span

__all__ = ["command", "pipeline", "command_text"]


def command(instrumentation, system, connection_facts, command_args=None, is_async=False, connection_of=None):
    """An Interceptor for a client's execute-one-command method.

    `command_args` None: the method's positional arguments are the command.
    `connection_of(instance)`: the object the connection facts belong to (a client's
    connection pool), when they can be remembered for it: they are then worked out
    once per such object (held weakly) instead of on every command."""
    scope = "autotrace.instrumentations." + instrumentation
    described = {}   # (command name as sent, argument count, facts) -> (span name, attributes)
    starters = []    # the scope's span_starter, once asked for (tracing.py keeps the tracer for good)
    known_facts = {} if connection_of is not None else None   # weakref(connection_of(instance)) -> facts

    def describe(raw, count, facts):
        name = _name(raw) if count else system
        attributes = _base(system, facts)
        attributes[semconv.DB_OPERATION_NAME] = name
        attributes[semconv.DB_QUERY_TEXT] = command_text(name, count)
        return name, attributes

    def facts_remembered(instance):
        facts = connection_facts(instance)
        try:
            owner = connection_of(instance)
            known_facts[_ref(owner, lambda reference: known_facts.pop(reference, None))] = facts
        except Exception:   # nothing to remember them by: worked out again next time
            pass
        return facts

    # before() runs on every command: written out flat, a Python call costs more here
    # than most of the lines it would hold.
    def before(instance, args, kwargs):
        arguments = args if command_args is None else command_args(instance, args, kwargs)
        count = len(arguments)
        raw = arguments[0] if count else None
        if known_facts is None:
            facts = connection_facts(instance)
        else:
            try:
                facts = known_facts[_ref(connection_of(instance))]
            except Exception:   # not seen yet
                facts = facts_remembered(instance)
        key = (raw, count, facts)
        try:
            found = described.get(key)
        except TypeError:   # a command name that cannot be hashed (a bytearray)
            found = key = None
        if found is None:
            found = describe(raw, count, facts)
            if key is not None:
                if len(described) >= _DESCRIBED_ENTRIES:
                    described.clear()
                described[key] = found
        if not starters:
            starters.append(span_starter(tracing.tracer(scope)))
        name, attributes = found
        return starters[0](name, _CLIENT, attributes)   # the span copies the attributes

    return Interceptor(before, _end, _fail, is_async=is_async)


_DESCRIBED_ENTRIES = 2048   # per builder; cleared when full
_CLIENT = SpanKind.CLIENT
_ref = weakref.ref


def pipeline(instrumentation, system, connection_facts, pipeline_commands, is_transaction, is_async=False):
    """An Interceptor for a pipeline's execute(): one span for all its queued commands.
    (Its facts are worked out each time: a pipeline sends many commands at once.)"""
    scope = "autotrace.instrumentations." + instrumentation

    def before(instance, args, kwargs):
        queued = pipeline_commands(instance)
        if not queued:
            return None   # an empty pipeline sends nothing
        name = "MULTI" if is_transaction(instance) else "PIPELINE"
        attributes = _base(system, connection_facts(instance))
        attributes[semconv.DB_OPERATION_NAME] = name
        attributes[semconv.DB_QUERY_TEXT] = "; ".join(
            command_text(_name(arguments[0]), len(arguments)) for arguments in queued if arguments)
        if len(queued) >= 2:   # the conventions: only for 2 or more
            attributes[semconv.DB_OPERATION_BATCH_SIZE] = len(queued)
        return start_span(tracing.tracer(scope), name, SpanKind.CLIENT, attributes)

    def after(span, result):
        if span is not None:
            span.end()
        return result

    def failed(span, exc):
        if span is not None:
            _fail(span, exc)

    return Interceptor(before, after, failed, is_async=is_async)


def command_text(name, argument_count):
    """`SET ? ?` for a command and its argument count (the name included)."""
    return name + " ?" * (argument_count - 1) if argument_count > 1 else name


def _name(raw):
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raw = bytes(raw).decode("ascii", "replace")
    return str(raw).upper()


def _base(system, facts):
    namespace, host, port = facts
    attributes = {semconv.DB_SYSTEM_NAME: system}
    if namespace is not None:
        attributes[semconv.DB_NAMESPACE] = namespace
    if host:
        attributes[semconv.SERVER_ADDRESS] = host
    if port:
        attributes[semconv.SERVER_PORT] = port
    return attributes


def _fail(span, exc):
    fail_span(span, exc, clean_message=data_free_message)   # error replies may quote keys and values


def _end(span, result):
    span.end()
    return result
