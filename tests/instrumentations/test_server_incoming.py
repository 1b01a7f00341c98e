"""The server's quick read of the caller's context (instrumentations/_incoming.py):
whatever the request carries, the same context as the configured propagator's
extract, and the same sampling decision as the SDK's rule, without building the
caller's span context until someone asks for it."""

import threading

import pytest
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, get_current_span

from autotrace.config import Settings
from autotrace.instrumentations._incoming import IncomingReader
from autotrace.propagation import build_propagator
from autotrace.propagation.carriers import environ_getter, index_getter, index_headers
from autotrace.sampling import LeafDropRule

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"

HEADERS = [
    {},
    {"traceparent": "00-%s-%s-00" % (TRACE, SPAN)},
    {"traceparent": "00-%s-%s-01" % (TRACE, SPAN)},
    {"traceparent": "00-%s-%s-02" % (TRACE, SPAN)},   # random trace id flag: kept in the context
    {"traceparent": "00-%s-%s-03" % (TRACE, SPAN)},
    {"traceparent": "cc-%s-%s-01-later" % (TRACE, SPAN)},
    {"traceparent": " 00-%s-%s-01\t" % (TRACE, SPAN)},
    {"traceparent": "00-%s-%s-01" % ("0" * 32, SPAN)},
    {"traceparent": "00-%s-%s-01" % (TRACE.upper(), SPAN)},
    {"traceparent": "garbage"},
    {"traceparent": "00-%s-%s-00" % (TRACE, SPAN), "tracestate": "a=1"},
    {"traceparent": "00-%s-%s-00" % (TRACE, SPAN), "baggage": "user=alice"},
    {"baggage": "user=alice"},
    {"b3": "%s-%s-0" % (TRACE, SPAN)},
    {"x-b3-traceid": TRACE, "x-b3-spanid": SPAN, "x-b3-sampled": "0"},
    {"user-agent": "probe"},
]
PROPAGATORS = [("tracecontext", "baggage"), ("tracecontext",), ("baggage",), ("b3",),
               ("tracecontext", "baggage", "b3"), ("baggage", "tracecontext")]
SAMPLERS = ["always_on", "always_off", "parentbased_always_on", "parentbased_always_off", "traceidratio"]


def environ(headers):
    found = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
    found.update(("HTTP_" + name.upper().replace("-", "_"), value) for name, value in headers.items())
    return found


def index(headers):
    return index_headers([(name.encode(), value.encode()) for name, value in headers.items()])


def described(context):
    """Everything a context holds, with spans as their span context's values."""
    def value(item):
        if hasattr(item, "get_span_context"):
            c = item.get_span_context()
            return ("span", c.trace_id, c.span_id, c.is_remote, int(c.trace_flags), str(c.trace_state))
        return item
    return {key: value(item) for key, item in context.items()}


@pytest.mark.parametrize("names", PROPAGATORS, ids=["+".join(n) for n in PROPAGATORS])
@pytest.mark.parametrize("carrier, getter", [(environ, environ_getter), (index, index_getter)],
                         ids=["environ", "asgi-index"])
def test_the_context_is_the_propagators(names, carrier, getter):
    propagator = build_propagator(names)
    reader = IncomingReader(propagator, getter)
    for headers in HEADERS:
        request = carrier(headers)
        context, sampled_out = reader.read(request)
        assert not sampled_out
        assert described(context) == described(propagator.extract(request, Context(), getter)), headers


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_the_sampling_decision_is_the_rules_and_a_dropped_request_keeps_a_trace(sampler):
    rule = LeafDropRule(Settings.from_env({"OTEL_TRACES_SAMPLER": sampler}))
    propagator = build_propagator(("tracecontext", "baggage"))
    reader = IncomingReader(propagator, environ_getter)
    for headers in HEADERS:
        request = environ(headers)
        extracted = propagator.extract(request, Context(), environ_getter)
        context, sampled_out = reader.read(request, rule)
        assert sampled_out == rule(extracted), headers
        if not sampled_out:
            assert described(context) == described(extracted)
            continue
        span_context = get_current_span(context).get_span_context()
        assert span_context.is_valid
        caller = get_current_span(extracted).get_span_context()
        if caller.is_valid:   # the caller's context goes on as it came
            assert described(context) == described(extracted)
        else:                 # a new trace, not sampled, with the request's baggage
            assert not span_context.trace_flags.sampled and not span_context.is_remote
            assert {k: v for k, v in described(context).items() if k in extracted} == described(extracted)


def test_a_new_unsampled_trace_has_one_id_whoever_asks_first():
    rule = LeafDropRule(Settings.from_env({"OTEL_TRACES_SAMPLER": "always_off"}))
    reader = IncomingReader(build_propagator(("tracecontext", "baggage")), environ_getter)
    contexts = [reader.read(environ({}), rule)[0] for _ in range(20)]
    spans = [get_current_span(context) for context in contexts]
    seen = [[] for _ in spans]
    start = threading.Barrier(4)

    def ask():
        start.wait()
        for span, found in zip(spans, seen):
            found.append(span.get_span_context())

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for span, found in zip(spans, seen):
        assert len({(c.trace_id, c.span_id) for c in found}) == 1
        assert found[0] is span.get_span_context() and span is not INVALID_SPAN
    assert len({found[0].trace_id for found in seen}) == 20   # each request its own trace
