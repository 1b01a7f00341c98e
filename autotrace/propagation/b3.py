"""Zipkin B3 propagation (https://github.com/openzipkin/b3-propagation).

Single header:    b3: {TraceId}-{SpanId}-{SamplingState}-{ParentSpanId}
Multiple headers: X-B3-TraceId, X-B3-SpanId, X-B3-Sampled, X-B3-Flags

Ids are lowercase hex as the B3 spec says: a trace id of 16 or 32 characters (a
64-bit id is the low half of a 128-bit one, so its value is unchanged), a span id of
16. Sampling state "1" or "d" (debug, which implies sampled) gives the sampled flag;
"0" or no state gives none. X-B3-Sampled also accepts the legacy "true"/"false".

Both propagators extract both forms, the single header first because the B3 spec
gives it precedence; they differ in what they inject. A header sent twice is
ambiguous and treated as absent.
"""

from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, get_current_span, set_span_in_context

from .base import SafePropagator
from .carriers import read_header
from .ids import parse_hex_id

__all__ = ["B3MultiPropagator", "B3SinglePropagator"]

_SINGLE = "b3"
_TRACE_ID = "x-b3-traceid"
_SPAN_ID = "x-b3-spanid"
_SAMPLED = "x-b3-sampled"
_FLAGS = "x-b3-flags"

_TRACE_ID_LENGTHS = (16, 32)
_SPAN_ID_LENGTHS = (16,)
# Longest single header: 32 + 16 + 1 + 16 characters and three dashes.
_SINGLE_MAX_LENGTH = 68
_SAMPLED_STATES = {"1": True, "d": True, "0": False}
_LEGACY_SAMPLED = {"1": True, "true": True, "0": False, "false": False}


def _one_value(getter, carrier, name):
    values = read_header(getter, carrier, name)
    return values[0].strip(" \t") if len(values) == 1 else None


def _from_single_header(getter, carrier):
    """(trace_id, span_id, sampled) from the `b3` header, or None."""
    value = _one_value(getter, carrier, _SINGLE)
    if not value or len(value) > _SINGLE_MAX_LENGTH:
        return None
    fields = value.split("-")
    if not 2 <= len(fields) <= 4:
        return None  # also "b3: 0", a sampling decision without ids: nothing to continue
    trace_id = parse_hex_id(fields[0], _TRACE_ID_LENGTHS)
    span_id = parse_hex_id(fields[1], _SPAN_ID_LENGTHS)
    sampled = _SAMPLED_STATES.get(fields[2]) if len(fields) > 2 else False
    if len(fields) == 4 and parse_hex_id(fields[3], _SPAN_ID_LENGTHS) is None:
        return None
    if trace_id is None or span_id is None or sampled is None:
        return None
    return trace_id, span_id, sampled


def _from_multiple_headers(getter, carrier):
    """(trace_id, span_id, sampled) from the X-B3-* headers, or None."""
    trace_text = _one_value(getter, carrier, _TRACE_ID)
    span_text = _one_value(getter, carrier, _SPAN_ID)
    if trace_text is None or span_text is None:
        return None
    trace_id = parse_hex_id(trace_text, _TRACE_ID_LENGTHS)
    span_id = parse_hex_id(span_text, _SPAN_ID_LENGTHS)
    if trace_id is None or span_id is None:
        return None
    sampled = _LEGACY_SAMPLED.get((_one_value(getter, carrier, _SAMPLED) or "").lower(), False)
    debug = _one_value(getter, carrier, _FLAGS) == "1"
    return trace_id, span_id, sampled or debug


class _B3Propagator(SafePropagator):
    READS = frozenset((_SINGLE, _TRACE_ID, _SPAN_ID, _SAMPLED, _FLAGS))   # either form, whichever is sent

    def _extract(self, carrier, context, getter):
        found = _from_single_header(getter, carrier) or _from_multiple_headers(getter, carrier)
        if found is None:
            return context
        trace_id, span_id, sampled = found
        flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
        span_context = SpanContext(trace_id, span_id, True, flags)
        return set_span_in_context(NonRecordingSpan(span_context), context)

    def _inject(self, carrier, context, setter):
        span_context = get_current_span(context).get_span_context()
        if span_context.is_valid:
            self._write(carrier, setter, span_context)


class B3SinglePropagator(_B3Propagator):
    """B3 propagation writing the single `b3` header (OTEL_PROPAGATORS name "b3")."""

    FIELDS = frozenset((_SINGLE,))

    def _write(self, carrier, setter, span_context):
        sampled = "1" if span_context.trace_flags.sampled else "0"
        setter.set(carrier, _SINGLE, "%032x-%016x-%s" % (span_context.trace_id, span_context.span_id, sampled))


class B3MultiPropagator(_B3Propagator):
    """B3 propagation writing the X-B3-* headers (OTEL_PROPAGATORS name "b3multi")."""

    FIELDS = frozenset((_TRACE_ID, _SPAN_ID, _SAMPLED))

    def _write(self, carrier, setter, span_context):
        setter.set(carrier, _TRACE_ID, "%032x" % span_context.trace_id)
        setter.set(carrier, _SPAN_ID, "%016x" % span_context.span_id)
        setter.set(carrier, _SAMPLED, "1" if span_context.trace_flags.sampled else "0")
