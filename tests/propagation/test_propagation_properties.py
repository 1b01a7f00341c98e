"""Property tests: whatever a peer sends, extract never raises and returns either the
context it was given or one with a valid remote span context; valid headers round-trip.
"""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import baggage
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, NonRecordingSpan, SpanContext, TraceFlags, get_current_span, set_span_in_context

from autotrace.propagation import build_propagator

# 10,000 examples per property take tens of seconds each on a slow, shared machine;
# the project-wide 120 s timeout is meant for ordinary tests.
pytestmark = pytest.mark.timeout(900)

# database=None: no .hypothesis folder written into the repository.
THOROUGH = settings(
    max_examples=10_000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

TRACE_HEX = "0af7651916cd43dd8448eb211c80319c"
SPAN_HEX = "b7ad6b7169203331"
VALID_HEADERS = {
    "tracecontext": {
        "traceparent": ["00-%s-%s-01" % (TRACE_HEX, SPAN_HEX), "cc-%s-%s-03-future" % (TRACE_HEX, SPAN_HEX)],
        "tracestate": ["a=1,b@v=x y", "k=v,,z=1"],
    },
    "baggage": {"baggage": ["a=1,b=x%20y;p=1;q", "k=v"]},
    "b3": {"b3": ["%s-%s-1-%s" % (TRACE_HEX, SPAN_HEX, SPAN_HEX), "%s-%s-d" % (TRACE_HEX[:16], SPAN_HEX)]},
    "b3multi": {"x-b3-traceid": [TRACE_HEX], "x-b3-spanid": [SPAN_HEX], "x-b3-sampled": ["1", "true"], "x-b3-flags": ["1"]},
    "jaeger": {"uber-trace-id": ["%s:%s:0:1" % (TRACE_HEX, SPAN_HEX), "abc%3A1%3A0%3A3"], "uberctx-user": ["a%20b"]},
}
# b3 also reads the multi headers and b3multi the single one: fuzz both.
VALID_HEADERS["b3"].update(VALID_HEADERS["b3multi"])
VALID_HEADERS["b3multi"].update({"b3": VALID_HEADERS["b3"]["b3"]})

NEAR_ALPHABET = "0123456789abcdefABCDEF-_,;:=%@/* \t.+dxz\x00\x7f\u00e9"


def _mutate(text, index, char, mode):
    index = index % (len(text) + 1)
    if mode == "insert":
        return text[:index] + char + text[index:]
    if mode == "delete":
        return text[:index] + text[index + 1 :]
    return text[:index] + char + text[index + 1 :]


def header_texts(valid_values):
    return st.one_of(
        st.text(),
        st.text(alphabet=NEAR_ALPHABET, max_size=120),
        st.binary().map(lambda raw: raw.decode("latin-1")),
        st.binary(),
        st.sampled_from(valid_values),
        st.builds(
            _mutate,
            st.sampled_from(valid_values),
            st.integers(0, 200),
            st.characters(),
            st.sampled_from(["insert", "delete", "replace"]),
        ),
        st.builds(lambda piece, count: piece * count, st.text(alphabet=NEAR_ALPHABET, min_size=1, max_size=8), st.integers(1_000, 15_000)),
        st.builds(lambda valid, tail: valid + tail, st.sampled_from(valid_values), st.text(alphabet=NEAR_ALPHABET, max_size=30)),
        st.none(),
        st.integers(),
    )


def carriers(name):
    headers = VALID_HEADERS[name]
    everything = [value for values in headers.values() for value in values]
    value = st.one_of(header_texts(everything), st.lists(header_texts(everything), max_size=3))
    header_name = st.sampled_from(sorted(headers)).flatmap(
        lambda n: st.sampled_from([n, n.upper(), n.title(), "HTTP_" + n.upper().replace("-", "_"), n + "x", n[1:]])
    )
    if name == "jaeger":
        header_name = st.one_of(header_name, st.text(max_size=12).map(lambda t: "uberctx-" + t))
    # A valid carrier perturbed in one header is where bugs hide; plain fuzz finds the rest.
    valid_but_one = st.builds(
        lambda chosen, replacement: {**{k: v[0] for k, v in headers.items()}, chosen: replacement},
        st.sampled_from(sorted(headers)),
        value,
    )
    return st.one_of(
        st.dictionaries(header_name, value, max_size=len(headers) + 2),
        st.lists(st.tuples(header_name, value), max_size=len(headers) + 2),
        valid_but_one,
    )


MARK = object()
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TS_KEY = re.compile(r"[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13}")
_TS_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")


def check_extract_is_safe(name, carrier):
    propagator = build_propagator([name])
    start = Context({"marker": MARK})
    result = propagator.extract(carrier, start)
    assert isinstance(result, Context)
    assert result["marker"] is MARK
    if result is start:
        return
    span = get_current_span(result)
    if span is not INVALID_SPAN:
        span_context = span.get_span_context()
        assert span_context.is_valid and span_context.is_remote
        assert 0 < span_context.trace_id < 2**128 and 0 < span_context.span_id < 2**64
        assert span_context.trace_flags & ~0x03 == 0
        assert len(span_context.trace_state) <= 32
        for key, value in span_context.trace_state.items():
            assert _TS_KEY.fullmatch(key) and _TS_VALUE.fullmatch(value)
    else:
        assert name in ("baggage", "jaeger"), "only baggage may change the context without a span"
    entries = baggage.get_all(result)
    assert len(entries) <= 180
    for key, value in entries.items():
        assert isinstance(key, str) and isinstance(value, str)
    # Whatever was accepted can be sent on, and reads back the same.
    out = {}
    propagator.inject(out, result)
    again = propagator.extract(out, Context())
    if span is not INVALID_SPAN:
        sent, received = span.get_span_context(), get_current_span(again).get_span_context()
        assert (received.trace_id, received.span_id, received.trace_flags) == (
            sent.trace_id,
            sent.span_id,
            sent.trace_flags,
        )
        assert dict(received.trace_state) == dict(sent.trace_state)
    # Baggage can only shrink on the way: a decoded value may re-encode too long.
    for key, value in baggage.get_all(again).items():
        assert entries[key] == value


@THOROUGH
@given(carriers("tracecontext"))
def test_tracecontext_never_raises(carrier):
    check_extract_is_safe("tracecontext", carrier)


@THOROUGH
@given(carriers("baggage"))
def test_baggage_never_raises(carrier):
    check_extract_is_safe("baggage", carrier)


@THOROUGH
@given(carriers("b3"))
def test_b3_never_raises(carrier):
    check_extract_is_safe("b3", carrier)


@THOROUGH
@given(carriers("b3multi"))
def test_b3multi_never_raises(carrier):
    check_extract_is_safe("b3multi", carrier)


@THOROUGH
@given(carriers("jaeger"))
def test_jaeger_never_raises(carrier):
    check_extract_is_safe("jaeger", carrier)


# ---- round trips of valid headers ----

trace_ids = st.integers(1, 2**128 - 1)
span_ids = st.integers(1, 2**64 - 1)
# Built from alphabets rather than from_regex: same languages, generated much faster.
_LCALPHA = "abcdefghijklmnopqrstuvwxyz"
_KEY_CHARS = _LCALPHA + "0123456789_-*/"
_VALUE_CHARS = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in ",=")


def _joined(*parts):
    return st.tuples(*parts).map("".join)


tracestate_keys = st.one_of(
    _joined(st.sampled_from(_LCALPHA), st.text(_KEY_CHARS, max_size=255)),
    _joined(
        st.sampled_from(_LCALPHA + "0123456789"),
        st.text(_KEY_CHARS, max_size=240),
        st.just("@"),
        st.sampled_from(_LCALPHA),
        st.text(_KEY_CHARS, max_size=13),
    ),
)
tracestate_values = _joined(st.text(_VALUE_CHARS, max_size=255), st.sampled_from(_VALUE_CHARS.strip()))
separators = st.sampled_from([",", " , ", ",,", ",\t", ", ,"])


@THOROUGH
@given(
    trace_ids,
    span_ids,
    st.integers(0, 255),
    st.sampled_from(["00", "01", "cc", "fe"]),
    st.lists(st.tuples(tracestate_keys, tracestate_values), max_size=34),
    separators,
)
def test_tracecontext_round_trip(trace_id, span_id, flags, version, members, separator):
    traceparent = "%s-%032x-%016x-%02x" % (version, trace_id, span_id, flags)
    if version != "00":
        traceparent += "-future"
    headers = {"traceparent": traceparent}
    if members:
        headers["tracestate"] = separator.join("%s=%s" % member for member in members)
    out = {}
    propagator = build_propagator(["tracecontext"])
    propagator.inject(out, propagator.extract(headers))
    assert out["traceparent"] == "00-%032x-%016x-%02x" % (trace_id, span_id, flags & 0x03)
    first = {}
    for key, value in members:
        first.setdefault(key, value)
    expected = ",".join("%s=%s" % pair for pair in first.items()) if 0 < len(first) <= 32 else None
    assert out.get("tracestate") == expected


_TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" + _LCALPHA
baggage_keys = st.text(_TOKEN_CHARS, min_size=1, max_size=20)


@THOROUGH
@given(st.dictionaries(baggage_keys, st.text(max_size=40), max_size=20))
def test_baggage_round_trip(entries):
    context = Context()
    for key, value in entries.items():
        context = baggage.set_baggage(key, value, context=context)
    propagator = build_propagator(["baggage"])
    out = {}
    propagator.inject(out, context)
    assert dict(baggage.get_all(propagator.extract(out, Context()))) == entries


def _span_context_in(trace_id, span_id, sampled):
    flags = TraceFlags(0x01 if sampled else 0x00)
    return set_span_in_context(NonRecordingSpan(SpanContext(trace_id, span_id, False, flags)), Context())


@THOROUGH
@given(st.sampled_from(["b3", "b3multi", "jaeger"]), trace_ids, span_ids, st.booleans())
def test_b3_and_jaeger_round_trip(name, trace_id, span_id, sampled):
    propagator = build_propagator([name])
    out = {}
    propagator.inject(out, _span_context_in(trace_id, span_id, sampled))
    span_context = get_current_span(propagator.extract(out)).get_span_context()
    assert (span_context.trace_id, span_context.span_id, span_context.trace_flags.sampled) == (trace_id, span_id, sampled)
    assert span_context.is_remote


@THOROUGH
@given(st.dictionaries(st.text(_TOKEN_CHARS.lower(), min_size=1, max_size=20), st.text(max_size=40), max_size=10))
def test_jaeger_baggage_round_trip(entries):
    context = Context()
    for key, value in entries.items():
        context = baggage.set_baggage(key, value, context=context)
    propagator = build_propagator(["jaeger"])
    out = {}
    propagator.inject(out, context)
    assert dict(baggage.get_all(propagator.extract(out, Context()))) == entries


# ---- the fast tracestate path agrees with the member-by-member one ----

_TRACESTATE_ALPHABET = "abz09_-*/@=, \t~\x7f\u00e9A"
tracestate_like = st.one_of(
    st.lists(st.tuples(tracestate_keys, tracestate_values), min_size=1, max_size=34).map(
        lambda members: ",".join("%s=%s" % member for member in members)
    ),
    st.text(_TRACESTATE_ALPHABET, max_size=80),
    st.builds(_mutate, st.sampled_from(["a=1,b@v=x y,c=3", "k" * 256 + "=" + "v" * 256]), st.integers(0, 600),
              st.sampled_from(_TRACESTATE_ALPHABET), st.sampled_from(["insert", "delete", "replace"])),
)


@THOROUGH
@given(tracestate_like)
def test_tracestate_fast_path_agrees_with_the_slow_one(header):
    from autotrace.propagation.tracestate import _parse_member_by_member, read_tracestate

    pairs, remembered = read_tracestate([header])
    assert pairs == _parse_member_by_member(header)
    if remembered is not None:
        assert remembered == ",".join("%s=%s" % pair for pair in pairs.items())


_BAGGAGE_ALPHABET = "aZ09!%=,;\" \t\\+~\x7f\u00e9"
baggage_like = st.one_of(
    st.lists(st.tuples(baggage_keys, st.text(_TOKEN_CHARS + "%=", max_size=12)), min_size=1, max_size=185).map(
        lambda members: ",".join("%s=%s" % member for member in members)
    ),
    st.text(_BAGGAGE_ALPHABET, max_size=60),
    st.builds(_mutate, st.sampled_from(["a=1,b=%C3%A9,c=", "k=v;p=1"]), st.integers(0, 20),
              st.sampled_from(_BAGGAGE_ALPHABET), st.sampled_from(["insert", "delete", "replace"])),
)


@THOROUGH
@given(baggage_like)
def test_baggage_fast_path_agrees_with_the_slow_one(header):
    from autotrace.propagation.baggage import _parse_member_by_member, parse_baggage

    assert parse_baggage(header) == _parse_member_by_member(header)
