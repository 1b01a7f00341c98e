"""The default propagators' quick inject (used by HTTP clients on every request) writes
exactly what inject writes, or nothing at all and says so."""

from opentelemetry import baggage
from opentelemetry.context import Context, set_value
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState, set_span_in_context

from autotrace.propagation import build_propagator
from autotrace.propagation.tracecontext import RANDOM_TRACE_KEY

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331


def _context(flags=1, trace_state=None, context=None):
    span_context = SpanContext(TRACE_ID, SPAN_ID, False, TraceFlags(flags), trace_state)
    return span_context, set_span_in_context(NonRecordingSpan(span_context), context or Context())


def _both(propagator, span_context, context):
    quick, full = {}, {}
    done = propagator.quick_inject(quick, span_context, context)
    propagator.inject(full, context=context)
    return done, quick, full


def test_the_default_propagators_write_the_same_traceparent():
    propagator = build_propagator(("tracecontext", "baggage"))
    for flags in (0, 1, 2, 3):
        done, quick, full = _both(propagator, *_context(flags))
        assert done and quick == full and list(quick) == ["traceparent"]


def test_the_random_flag_remembered_from_the_caller_is_set_again():
    propagator = build_propagator(("baggage", "tracecontext"))
    done, quick, full = _both(propagator, *_context(1, context=set_value(RANDOM_TRACE_KEY, TRACE_ID, Context())))
    assert done and quick == full and quick["traceparent"].endswith("-03")


def test_baggage_or_a_trace_state_leave_it_to_inject():
    propagator = build_propagator(("tracecontext", "baggage"))
    span_context, context = _context(1, context=baggage.set_baggage("user", "alice", Context()))
    carrier = {}
    assert propagator.quick_inject(carrier, span_context, context) is False and carrier == {}
    span_context, context = _context(1, TraceState([("vendor", "value")]))
    assert propagator.quick_inject(carrier, span_context, context) is False and carrier == {}


def test_other_propagators_have_no_quick_path():
    for names in (("tracecontext", "baggage", "b3"), ("b3",), ("baggage",)):
        assert getattr(build_propagator(names), "quick_inject", None) is None
