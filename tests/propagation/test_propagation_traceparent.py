"""W3C traceparent rules, one table row per rule (valid and invalid)."""

import pytest
from opentelemetry.context import Context
from opentelemetry.trace import get_current_span

from autotrace.propagation.tracecontext import TraceContextPropagator

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"
VALID = "00-%s-%s-01" % (TRACE, SPAN)
FUTURE = "cc-%s-%s-01" % (TRACE, SPAN)

propagator = TraceContextPropagator()

# (case id, traceparent header value(s), expected flags or None for "no remote context")
CASES = [
    ("valid sampled", VALID, 0x01),
    ("valid not sampled", "00-%s-%s-00" % (TRACE, SPAN), 0x00),
    ("random flag kept", "00-%s-%s-02" % (TRACE, SPAN), 0x02),
    ("sampled and random kept", "00-%s-%s-03" % (TRACE, SPAN), 0x03),
    ("unknown flag bits dropped", "00-%s-%s-ff" % (TRACE, SPAN), 0x03),
    ("unknown bit 0x08 dropped", "00-%s-%s-09" % (TRACE, SPAN), 0x01),
    ("surrounding spaces and tabs are HTTP whitespace", " \t%s\t " % VALID, 0x01),
    ("bytes value", VALID.encode(), 0x01),
    ("list of one value", [VALID], 0x01),
    ("higher version, exactly 55 chars", FUTURE, 0x01),
    ("higher version with more fields", FUTURE + "-what-the-future-will-be-like", 0x01),
    ("higher version flags masked too", "cc-%s-%s-0d-x" % (TRACE, SPAN), 0x01),
    ("version 00 with more fields", VALID + "-what-the-future-will-be-like", None),
    ("version 00 one char too long", VALID + ".", None),
    ("version 00 one char too short", VALID[:-1], None),
    ("higher version, char 55 not a dash", FUTURE + ".what-the-future", None),
    ("higher version, too short", FUTURE[:-1], None),
    ("version ff is forbidden", "ff-%s-%s-01" % (TRACE, SPAN), None),
    ("version not hex", "0g-%s-%s-01" % (TRACE, SPAN), None),
    ("version uppercase", "0A-%s-%s-01" % (TRACE, SPAN), None),
    ("trace id uppercase", "00-%s-%s-01" % (TRACE.upper(), SPAN), None),
    ("span id uppercase", "00-%s-%s-01" % (TRACE, SPAN.upper()), None),
    ("flags uppercase", "00-%s-%s-0A" % (TRACE, SPAN), None),
    ("trace id all zeros", "00-%s-%s-01" % ("0" * 32, SPAN), None),
    ("span id all zeros", "00-%s-%s-01" % (TRACE, "0" * 16), None),
    ("trace id not hex", "00-%s-%s-01" % ("z" + TRACE[1:], SPAN), None),
    ("int() syntax is not hex", "00-+%s-%s-01" % (TRACE[1:], SPAN), None),
    ("underscore is not hex", "00-%s-%s_1-01" % (TRACE, SPAN[:-2]), None),
    ("wrong separator", VALID.replace("-", "_"), None),
    ("short trace id", "00-%s-%s-01" % (TRACE[:-1], SPAN + "0"), None),
    ("non-ASCII", VALID[:-1] + "\u0661", None),
    ("empty", "", None),
    ("two values", [VALID, VALID], None),
    ("two different values", [VALID, "00-%s-%s-01" % ("1" * 32, SPAN)], None),
    ("comma-combined values", VALID + "," + VALID, None),
    ("comma-combined higher versions", FUTURE + "-x," + FUTURE, None),
    ("huge", VALID + "-" + "a" * 100_000, None),
]


@pytest.mark.parametrize("header, expected_flags", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_traceparent_rules(header, expected_flags):
    start = Context({"unrelated": 1})
    context = propagator.extract({"traceparent": header}, start)
    if expected_flags is None:
        assert context is start
        return
    span_context = get_current_span(context).get_span_context()
    assert span_context.trace_id == int(TRACE, 16)
    assert span_context.span_id == int(SPAN, 16)
    assert span_context.is_remote
    assert span_context.trace_flags == expected_flags
    assert context["unrelated"] == 1


@pytest.mark.parametrize("name", ["traceparent", "Traceparent", "TRACEPARENT", "HTTP_TRACEPARENT"])
def test_header_name_is_case_insensitive_with_the_default_getter(name):
    span_context = get_current_span(propagator.extract({name: VALID})).get_span_context()
    assert span_context.is_valid


def test_same_header_twice_in_different_case_is_two_values():
    context = propagator.extract({"traceparent": VALID, "TraceParent": VALID}, Context())
    assert not get_current_span(context).get_span_context().is_valid


def test_invalid_traceparent_ignores_tracestate():
    start = Context()
    assert propagator.extract({"traceparent": "garbage", "tracestate": "a=1"}, start) is start


@pytest.mark.parametrize("flags", ["00", "01", "02", "03"])
def test_round_trip_gives_the_same_headers(flags):
    headers = {"traceparent": "00-%s-%s-%s" % (TRACE, SPAN, flags), "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"}
    out = {}
    propagator.inject(out, propagator.extract(headers))
    assert out == headers


def test_higher_version_is_injected_as_version_00():
    out = {}
    propagator.inject(out, propagator.extract({"traceparent": FUTURE + "-future"}))
    assert out == {"traceparent": VALID}


def test_unknown_flags_are_not_forwarded():
    out = {}
    propagator.inject(out, propagator.extract({"traceparent": "00-%s-%s-fd" % (TRACE, SPAN)}))
    assert out["traceparent"].endswith("-01")


def test_nothing_injected_without_a_valid_span():
    out = {}
    propagator.inject(out, Context())
    assert out == {}


def test_fields():
    assert propagator.fields == {"traceparent", "tracestate"}


def _one_value(header):
    """The single str value parse_traceparent would look at, or None for the cases
    traceparent_flags does not take (several values, bytes)."""
    if isinstance(header, list):
        return header[0] if len(header) == 1 else None
    return header if isinstance(header, str) else None


@pytest.mark.parametrize("header", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_traceparent_flags_accepts_exactly_what_parse_accepts(header):
    from autotrace.propagation.traceparent import parse_traceparent, traceparent_flags
    value = _one_value(header)
    if value is None:
        pytest.skip("not one str value")
    parsed = parse_traceparent([value])
    assert traceparent_flags(value) == (None if parsed is None else parsed[2])


def test_traceparent_flags_agrees_with_parse_on_mutated_headers():
    import random
    from autotrace.propagation.traceparent import parse_traceparent, traceparent_flags
    rng = random.Random(6)
    alphabet = "0123456789abcdefABF-_ \t,x\u0661"
    checked = 0
    for flags in ("00", "01", "02", "03", "ff", "0a"):
        for base in ("00-%s-%s-%s" % (TRACE, SPAN, flags), "00-%s-%s-%s" % ("0" * 32, SPAN, flags),
                     "00-%s-%s-%s" % (TRACE, "0" * 16, flags), "cc-%s-%s-%s" % (TRACE, SPAN, flags)):
            for _ in range(400):
                chars = list(base)
                for _ in range(rng.randint(0, 2)):
                    chars[rng.randrange(len(chars))] = rng.choice(alphabet)
                value = "".join(chars)
                parsed = parse_traceparent([value])
                assert traceparent_flags(value) == (None if parsed is None else parsed[2]), value
                checked += 1
    assert checked == 6 * 4 * 400
