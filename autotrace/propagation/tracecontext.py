"""The W3C Trace Context propagator (`traceparent` + `tracestate`, Level 2).

The random-trace-id flag (0x02). Level 2 says a service that continues a trace
forwards this flag. The SDK builds the flags of every new span itself: older SDK
releases keep only "sampled" (opentelemetry-sdk 1.45 does copy the parent's random
flag, but we support older ones and other tracer implementations), so a child span
of a remote parent could lose it. When extract sees the flag it therefore also
stores the trace id under `RANDOM_TRACE_KEY` in the returned context; every context
derived from it (the server span, its children, the client spans below them) still
holds that value, and inject sets 0x02 again when the span being injected belongs to
that same trace id. Spans of any other trace are untouched, so the memory cannot
leak onto an unrelated trace.
"""

from opentelemetry.context import create_key, get_current, set_value
from opentelemetry.propagators.textmap import default_setter
from opentelemetry.trace import (INVALID_SPAN, NonRecordingSpan, Span, SpanContext, TraceFlags,
                                 set_span_in_context)

from .base import SafePropagator
from .carriers import read_header
from .traceparent import KNOWN_FLAGS, RANDOM_FLAG, format_traceparent, parse_traceparent
from .tracestate import read_tracestate, trace_state_from_pairs, tracestate_header

__all__ = ["RANDOM_TRACE_KEY", "TraceContextPropagator"]

RANDOM_TRACE_KEY = create_key("autotrace-random-trace-id")

_TRACEPARENT = "traceparent"
_TRACESTATE = "tracestate"

# TraceFlags objects are immutable ints; there are only four we ever build.
_FLAGS = tuple(TraceFlags(value) for value in range(4))

# The key get_current_span reads the span under (the API keeps its name private).
_SPAN_KEY = next(iter(set_span_in_context(INVALID_SPAN, {})))


class TraceContextPropagator(SafePropagator):
    """Extracts and injects W3C `traceparent` and `tracestate` headers."""

    FIELDS = frozenset((_TRACEPARENT, _TRACESTATE))
    READS = FIELDS

    def _extract(self, carrier, context, getter):
        parsed = parse_traceparent(read_header(getter, carrier, _TRACEPARENT))
        if parsed is None:
            return context
        trace_id, span_id, flags = parsed
        tracestate_values = read_header(getter, carrier, _TRACESTATE)
        trace_state = trace_state_from_pairs(*read_tracestate(tracestate_values)) if tracestate_values else None
        span_context = SpanContext(trace_id, span_id, True, _FLAGS[flags], trace_state)
        context = set_span_in_context(NonRecordingSpan(span_context), context)
        if flags & RANDOM_FLAG:
            context = set_value(RANDOM_TRACE_KEY, trace_id, context)
        return context

    def _inject(self, carrier, context, setter):
        # This runs on every outgoing request, so get_current_span and get_value are
        # done here by hand: a Context is a dict, one .get() each.
        if context is None:
            context = get_current()
        span = context.get(_SPAN_KEY)
        if span is None or not isinstance(span, Span):
            return
        span_context = span.get_span_context()
        if not span_context.is_valid:
            return
        trace_id = span_context.trace_id
        flags = span_context.trace_flags
        if not flags & RANDOM_FLAG and context.get(RANDOM_TRACE_KEY) == trace_id:
            flags |= RANDOM_FLAG
        traceparent = format_traceparent(trace_id, span_context.span_id, flags)
        trace_state = span_context.trace_state
        # Written back exactly as received or as the SDK sampler left it.
        tracestate = tracestate_header(trace_state) if trace_state else None
        if setter is default_setter:   # what OTel's default setter does, without the call
            carrier[_TRACEPARENT] = traceparent
            if tracestate is not None:
                carrier[_TRACESTATE] = tracestate
        else:
            setter.set(carrier, _TRACEPARENT, traceparent)
            if tracestate is not None:
                setter.set(carrier, _TRACESTATE, tracestate)

    def quick_inject(self, carrier, span_context, context):
        """`inject(carrier, context)` with the default setter, for a client that has just
        put the span of `span_context` in `context`: the traceparent formatted here,
        without the lookups inject makes to find the span. False, with nothing written,
        when the span has a trace state (or is invalid): the caller then injects as usual."""
        if span_context.trace_state or not span_context.is_valid:
            return False
        trace_id = span_context.trace_id
        flags = span_context.trace_flags
        if not flags & RANDOM_FLAG and context.get(RANDOM_TRACE_KEY) == trace_id:
            flags |= RANDOM_FLAG
        carrier[_TRACEPARENT] = "00-%032x-%016x-%02x" % (trace_id, span_context.span_id, flags & KNOWN_FLAGS)
        return True
