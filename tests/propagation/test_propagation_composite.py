"""build_propagator, the composite, OTel's global propagator, suppression, never-raise."""

import pytest
from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace import get_current_span

from autotrace.propagation import build_propagator
from autotrace.propagation.composite import CompositePropagator, NoopPropagator
from autotrace.propagation.suppression import SUPPRESS_HTTP_KEY, http_spans_suppressed, suppress_http_spans

TRACE = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = "00-%s-b7ad6b7169203331-01" % TRACE
B3 = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"


@pytest.mark.parametrize("names", [(), ("none",), ["none", "none"]])
def test_none_does_nothing(names):
    propagator = build_propagator(names)
    assert isinstance(propagator, NoopPropagator)
    start = Context({"x": 1})
    assert propagator.extract({"traceparent": TRACEPARENT}, start) is start
    out = {}
    propagator.inject(out, propagator.extract({"traceparent": TRACEPARENT}))
    assert out == {} and propagator.fields == set()


def test_unknown_name_raises():
    with pytest.raises(ValueError):
        build_propagator(("tracecontext", "xray"))


def test_one_name_gives_that_propagator():
    assert type(build_propagator(["b3"])).__name__ == "B3SinglePropagator"


def test_default_pair():
    propagator = build_propagator(("tracecontext", "baggage"))
    assert isinstance(propagator, CompositePropagator)
    assert propagator.fields == {"traceparent", "tracestate", "baggage"}
    context = propagator.extract({"Traceparent": TRACEPARENT, "Baggage": "a=1"})
    assert get_current_span(context).get_span_context().trace_id == int(TRACE, 16)
    assert baggage.get_baggage("a", context) == "1"
    out = {}
    propagator.inject(out, context)
    assert out == {"traceparent": TRACEPARENT, "baggage": "a=1"}


@pytest.mark.parametrize("names, winner", [(("tracecontext", "b3"), B3[:32]), (("b3", "tracecontext"), TRACE)])
def test_later_propagator_wins(names, winner):
    context = build_propagator(names).extract({"traceparent": TRACEPARENT, "b3": B3})
    assert get_current_span(context).get_span_context().trace_id == int(winner, 16)


def test_later_invalid_header_does_not_erase_an_earlier_context():
    context = build_propagator(("b3", "tracecontext")).extract({"traceparent": "garbage", "b3": B3})
    assert get_current_span(context).get_span_context().trace_id == int(B3[:32], 16)


def test_works_as_the_otel_global_propagator():
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(build_propagator(("tracecontext", "baggage", "jaeger")))
    try:
        context = propagate.extract({"TRACEPARENT": TRACEPARENT})
        out = {}
        propagate.inject(out, context)
        assert out["traceparent"] == TRACEPARENT
        assert out["uber-trace-id"].startswith(TRACE)
    finally:
        propagate.set_global_textmap(previous)


def test_suppression_uses_otel_key_so_contrib_instrumentations_cooperate():
    assert SUPPRESS_HTTP_KEY == otel_context._SUPPRESS_HTTP_INSTRUMENTATION_KEY  # noqa: SLF001
    assert not http_spans_suppressed(Context())
    suppressed = suppress_http_spans(Context())
    assert http_spans_suppressed(suppressed)
    assert otel_context.get_value(otel_context._SUPPRESS_HTTP_INSTRUMENTATION_KEY, suppressed)  # noqa: SLF001
    token = otel_context.attach(suppressed)
    try:
        assert http_spans_suppressed()
    finally:
        otel_context.detach(token)
    assert not http_spans_suppressed()


class ExplodingGetter(Getter):
    def get(self, carrier, key):
        raise RuntimeError("boom")

    def keys(self, carrier):
        raise RuntimeError("boom")


class ExplodingSetter(Setter):
    def set(self, carrier, key, value):
        raise RuntimeError("boom")


ALL = ("tracecontext", "baggage", "b3", "b3multi", "jaeger")


@pytest.mark.parametrize("name", ALL)
def test_never_raises_from_a_broken_getter_or_setter(name):
    propagator = build_propagator([name])
    start = Context({"x": 1})
    assert propagator.extract({}, start, ExplodingGetter()) is start
    context = build_propagator(ALL).extract({"traceparent": TRACEPARENT, "baggage": "a=1", "b3": B3, "uberctx-a": "1"})
    propagator.inject({}, context, ExplodingSetter())


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("carrier", [None, 42, "traceparent", object(), {1: 2}, [1, 2, 3], {"traceparent": object()}])
def test_never_raises_from_a_strange_carrier(name, carrier):
    start = Context({"x": 1})
    assert build_propagator([name]).extract(carrier, start) is start
