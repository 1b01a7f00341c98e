"""Zipkin B3, single header and multiple headers."""

import pytest
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, get_current_span, set_span_in_context

from autotrace.propagation.b3 import B3MultiPropagator, B3SinglePropagator

T32 = "80f198ee56343ba864fe8b2a57d3eff7"
T16 = "a3ce929d0e0e4736"
S = "e457b5a2e4d86bd1"
P = "05e3ac9a4f6e3b90"

# (case, headers, expected (trace hex, sampled) or None)
CASES = [
    ("single, sampled", {"b3": "%s-%s-1" % (T32, S)}, (T32, True)),
    ("single, not sampled", {"b3": "%s-%s-0" % (T32, S)}, (T32, False)),
    ("single, debug means sampled", {"b3": "%s-%s-d" % (T32, S)}, (T32, True)),
    ("single, no sampling state", {"b3": "%s-%s" % (T32, S)}, (T32, False)),
    ("single, with parent", {"b3": "%s-%s-1-%s" % (T32, S, P)}, (T32, True)),
    ("single, 64-bit trace id", {"b3": "%s-%s-1" % (T16, S)}, (T16, True)),
    ("single, header name case", {"B3": "%s-%s-1" % (T32, S)}, (T32, True)),
    ("single, sampling only", {"b3": "0"}, None),
    ("single, unknown sampling state", {"b3": "%s-%s-x" % (T32, S)}, None),
    ("single, bad parent", {"b3": "%s-%s-1-xyz" % (T32, S)}, None),
    ("single, too many fields", {"b3": "%s-%s-1-%s-1" % (T32, S, P)}, None),
    ("single, uppercase hex", {"b3": "%s-%s-1" % (T32.upper(), S)}, None),
    ("single, trace id of 20 chars", {"b3": "%s-%s-1" % (T32[:20], S)}, None),
    ("single, zero trace id", {"b3": "%s-%s-1" % ("0" * 32, S)}, None),
    ("single, zero span id", {"b3": "%s-%s-1" % (T32, "0" * 16)}, None),
    ("single, short span id", {"b3": "%s-%s-1" % (T32, S[:-1])}, None),
    ("single, repeated", {"b3": ["%s-%s-1" % (T32, S)] * 2}, None),
    ("multi, sampled", {"X-B3-TraceId": T32, "X-B3-SpanId": S, "X-B3-Sampled": "1"}, (T32, True)),
    ("multi, not sampled", {"x-b3-traceid": T32, "x-b3-spanid": S, "x-b3-sampled": "0"}, (T32, False)),
    ("multi, legacy true", {"x-b3-traceid": T32, "x-b3-spanid": S, "x-b3-sampled": "true"}, (T32, True)),
    ("multi, debug flag", {"x-b3-traceid": T32, "x-b3-spanid": S, "x-b3-flags": "1"}, (T32, True)),
    ("multi, no sampling", {"x-b3-traceid": T32, "x-b3-spanid": S}, (T32, False)),
    ("multi, 64-bit trace id", {"x-b3-traceid": T16, "x-b3-spanid": S, "x-b3-sampled": "1"}, (T16, True)),
    ("multi, WSGI environ", {"HTTP_X_B3_TRACEID": T32, "HTTP_X_B3_SPANID": S, "HTTP_X_B3_SAMPLED": "1"}, (T32, True)),
    ("multi, missing span id", {"x-b3-traceid": T32}, None),
    ("multi, bad trace id", {"x-b3-traceid": "xyz", "x-b3-spanid": S}, None),
    ("multi, repeated trace id", {"x-b3-traceid": [T32, T32], "x-b3-spanid": S}, None),
    (
        "single wins over multi",
        {"b3": "%s-%s-0" % (T16, S), "x-b3-traceid": T32, "x-b3-spanid": S, "x-b3-sampled": "1"},
        (T16, False),
    ),
    ("invalid single falls back to multi", {"b3": "garbage", "x-b3-traceid": T32, "x-b3-spanid": S}, (T32, False)),
]


@pytest.mark.parametrize("propagator", [B3SinglePropagator(), B3MultiPropagator()], ids=["b3", "b3multi"])
@pytest.mark.parametrize("headers, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_extract(propagator, headers, expected):
    start = Context({"x": 1})
    context = propagator.extract(headers, start)
    if expected is None:
        assert context is start
        return
    span_context = get_current_span(context).get_span_context()
    assert span_context.trace_id == int(expected[0], 16)
    assert span_context.span_id == int(S, 16)
    assert span_context.is_remote
    assert span_context.trace_flags.sampled is expected[1]


def _context(sampled):
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    return set_span_in_context(NonRecordingSpan(SpanContext(int(T16, 16), int(S, 16), False, flags)), Context())


@pytest.mark.parametrize("sampled, state", [(True, "1"), (False, "0")])
def test_inject_single(sampled, state):
    out = {}
    B3SinglePropagator().inject(out, _context(sampled))
    assert out == {"b3": "0000000000000000%s-%s-%s" % (T16, S, state)}


@pytest.mark.parametrize("sampled, state", [(True, "1"), (False, "0")])
def test_inject_multi(sampled, state):
    out = {}
    B3MultiPropagator().inject(out, _context(sampled))
    assert out == {"x-b3-traceid": "0000000000000000" + T16, "x-b3-spanid": S, "x-b3-sampled": state}


def test_fields():
    assert B3SinglePropagator().fields == {"b3"}
    assert B3MultiPropagator().fields == {"x-b3-traceid", "x-b3-spanid", "x-b3-sampled"}
