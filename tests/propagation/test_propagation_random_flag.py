"""The Level 2 random-trace-id flag survives extract -> child span -> inject."""

from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from autotrace.propagation.tracecontext import RANDOM_TRACE_KEY, TraceContextPropagator

TRACE = "0af7651916cd43dd8448eb211c80319c"
propagator = TraceContextPropagator()


def _incoming(flags):
    return {"traceparent": "00-%s-b7ad6b7169203331-%s" % (TRACE, flags)}


def _injected_flags(context):
    out = {}
    propagator.inject(out, context)
    return out["traceparent"][-2:]


def test_with_the_real_sdk_child_spans():
    tracer = TracerProvider().get_tracer("test")
    remote = propagator.extract(_incoming("03"))
    with tracer.start_as_current_span("server", context=remote):
        with tracer.start_as_current_span("client") as client:
            assert "%032x" % client.get_span_context().trace_id == TRACE
            assert _injected_flags(None) == "03"


def test_not_invented_when_the_peer_did_not_send_it():
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("server", context=propagator.extract(_incoming("01"))):
        assert _injected_flags(None) == "01"


def _child(context, trace_id, flags):
    # What an SDK that builds child flags from "sampled" alone produces (the OTel SDK
    # did until it learnt the random flag): the flag is lost on the span itself.
    span_context = SpanContext(trace_id, 0x1234, False, TraceFlags(flags))
    return set_span_in_context(NonRecordingSpan(span_context), context)


def test_remembered_for_a_child_span_that_lost_it():
    remote = propagator.extract(_incoming("03"))
    assert remote[RANDOM_TRACE_KEY] == int(TRACE, 16)
    assert _injected_flags(_child(remote, int(TRACE, 16), 0x01)) == "03"


def test_not_applied_to_another_trace():
    remote = propagator.extract(_incoming("03"))
    assert _injected_flags(_child(remote, 0xABC, 0x01)) == "01"


def test_not_remembered_without_the_flag():
    remote = propagator.extract(_incoming("01"))
    assert RANDOM_TRACE_KEY not in remote
    assert _injected_flags(_child(remote, int(TRACE, 16), 0x01)) == "01"


def test_not_sampled_but_random():
    remote = propagator.extract(_incoming("02"))
    assert _injected_flags(_child(remote, int(TRACE, 16), 0x00)) == "02"


def test_unrelated_context_untouched():
    assert _injected_flags(_child(Context(), int(TRACE, 16), 0x01)) == "01"
