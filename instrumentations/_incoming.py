"""The caller's trace context of one server request, and whether its span is certain
to be dropped: read cheaply in the shapes most requests have.

ServerPolicy asks `IncomingReader.read(carrier, rule)`. The configured propagator
gives the context; for the common shapes this module gives the very same context
without the propagator's layers:

- none of the headers the propagator reads: an empty context;
- with our W3C propagators (tracecontext, with or without baggage), a `traceparent`
  header alone (no tracestate, no baggage): the caller's span as tracecontext's
  extract builds it, but its SpanContext is made only when asked for.

The sampling rule (sampling.LeafDropRule) then needs only the caller's sampled flag,
so a request sampled out for certain neither turns the ids into numbers nor builds
OpenTelemetry's objects for them: a request that is not sampled and calls nobody
never needs them. Anything else (tracestate, baggage, b3, a repeated header, a getter
of someone else's) is read by the propagator, as before.

A request sampled out for certain runs in an unsampled context (`unsampled`): the
caller's, or a new unsampled trace whose ids are drawn when first asked for, so the
services it calls see one unsampled trace rather than starting their own.
"""

from random import getrandbits

from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from autotrace.propagation import headers_read
from autotrace.propagation.baggage import W3CBaggagePropagator
from autotrace.propagation.carriers import EnvironGetter, IndexGetter
from autotrace.propagation.composite import CompositePropagator
from autotrace.propagation.tracecontext import RANDOM_TRACE_KEY, TraceContextPropagator
from autotrace.propagation.traceparent import RANDOM_FLAG, SAMPLED_FLAG, parse_traceparent, traceparent_flags

__all__ = ["IncomingReader", "unsampled"]

# The context key OpenTelemetry keeps the current span under, learnt through its API.
(_SPAN_KEY,) = set_span_in_context(INVALID_SPAN, Context()).keys()

_TRACEPARENT = "traceparent"
_FLAGS = tuple(TraceFlags(value) for value in range(4))
# What extract gives for a request without a (valid) parent: a Context cannot be
# changed, so one serves every such request.
_EMPTY = Context()


class IncomingReader:
    """Reads the caller's context out of one kind of carrier (`getter`'s)."""

    __slots__ = ("_propagator", "_getter", "_keys", "_traceparent", "_others", "_listed")

    def __init__(self, propagator, getter):
        self._propagator = propagator
        self._getter = getter
        storage_key = getattr(getter, "storage_key", None)
        names = headers_read(propagator) if getter is not None else None
        # The carrier keys of every header extract reads (None: the carrier cannot tell).
        self._keys = tuple(storage_key(name) for name in sorted(names)) \
            if storage_key is not None and names is not None else None
        # traceparent's key when this module knows how the propagator reads it: our
        # getters' layouts (a WSGI environ's str, an index's list) and our W3C ones.
        known = type(getter) in (EnvironGetter, IndexGetter) and _only_w3c(propagator)
        self._traceparent = storage_key(_TRACEPARENT) if known and self._keys is not None else None
        self._others = tuple(key for key in self._keys or () if key != self._traceparent)
        self._listed = type(getter) is IndexGetter

    def read(self, carrier, rule=None):
        """(context, sampled_out). With `rule` (a sampling.LeafDropRule) telling that a
        span with this parent is certain to be dropped: (the unsampled context to run
        the request in, True). Otherwise (the context the propagator extracts from
        `carrier`, False)."""
        if self._keys is not None:
            for key in self._others:
                if key in carrier:
                    break
            else:   # none of the headers, or traceparent alone
                value = carrier.get(self._traceparent) if self._traceparent is not None else None
                if value is not None and self._listed and type(value) is list and len(value) == 1:
                    value = value[0]
                if value is None or type(value) is str:   # as the getter gives it (else: let it read)
                    flags = None if value is None else traceparent_flags(value)
                    if flags is None:   # no (valid) parent: extract leaves the context as it is
                        if rule is not None and rule.drops_root:
                            return Context({_SPAN_KEY: _NewUnsampledSpan()}), True
                        return _EMPTY, False
                    span = _CallerSpan()
                    span._traceparent = value
                    if flags & RANDOM_FLAG:   # as tracecontext's extract (see RANDOM_TRACE_KEY)
                        context = Context({_SPAN_KEY: span, RANDOM_TRACE_KEY: span.get_span_context().trace_id})
                    else:
                        context = Context({_SPAN_KEY: span})
                    if rule is None:
                        return context, False
                    # The caller's own context, unsampled or not (always_off), goes on as it came.
                    return context, rule.drops_sampled_child if flags & SAMPLED_FLAG else rule.drops_unsampled_child
        if self._getter is None:
            context = self._propagator.extract(carrier, context=Context())
        else:
            context = self._propagator.extract(carrier, context=Context(), getter=self._getter)
        if rule is not None and rule(context):
            return unsampled(context), True
        return context, False


def _only_w3c(propagator):
    """True for our tracecontext propagator, alone or with our baggage propagator."""
    if type(propagator) is TraceContextPropagator:
        return True
    if type(propagator) is not CompositePropagator:
        return False
    kinds = [type(member) for member in propagator.propagators]
    return TraceContextPropagator in kinds and set(kinds) <= {TraceContextPropagator, W3CBaggagePropagator}


class _CallerSpan(NonRecordingSpan):
    """The caller's span from a valid traceparent value (`_traceparent`, set by the
    reader): the SpanContext tracecontext's extract would build (remote, no trace
    state), made when first asked for."""

    __slots__ = ("_traceparent",)   # set without making the instance's __dict__
    __init__ = object.__init__   # not NonRecordingSpan's: no SpanContext yet (and no Python call)
    _context = None

    def get_span_context(self):
        context = self._context
        if context is None:
            trace_id, span_id, flags = parse_traceparent((self._traceparent,))
            context = self._context = SpanContext(trace_id, span_id, True, _FLAGS[flags])
        return context

    def __repr__(self):
        return "NonRecordingSpan(%r)" % (self.get_span_context(),)


def unsampled(context):
    """The context a request sampled out for certain runs in: `context` when it holds
    a valid span (the caller's), otherwise `context` with a new unsampled span (what
    the SDK's dropped span would carry)."""
    span = context.get(_SPAN_KEY)
    if span is not None and span.get_span_context().is_valid:
        return context
    values = dict(context)
    values[_SPAN_KEY] = _NewUnsampledSpan()
    return Context(values)


class _NewUnsampledSpan(NonRecordingSpan):
    """The span of a request sampled out for certain that came without a trace. Its
    ids are drawn when first asked for (by a client that injects headers, a log
    record, a child span), as most such requests never ask; setdefault keeps the
    first SpanContext made when two threads ask at once, so every one sees the same."""

    __init__ = object.__init__   # not NonRecordingSpan's: no SpanContext yet (and no Python call)

    def get_span_context(self):
        context = self.__dict__.get("_context")
        if context is None:
            context = self.__dict__.setdefault("_context", SpanContext(
                getrandbits(128) or 1, getrandbits(64) or 1, is_remote=False, trace_flags=_FLAGS[0]))
        return context

    def __repr__(self):
        return "NonRecordingSpan(%r)" % (self.get_span_context(),)
