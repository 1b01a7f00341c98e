"""Jaeger propagation (https://www.jaegertracing.io/docs/client-libraries/#propagation-format).

    uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}
    uberctx-{baggage-key}: {baggage-value}

Jaeger clients write ids in hex without leading zeros, so a trace id has 1 to 32
hex digits and a span id 1 to 16; clients parse them case-insensitively, and so do
we. Some HTTP stacks url-encode the header (":" as "%3A"); we decode it first.
Flags: 0x01 is sampled, 0x02 debug, which Jaeger always samples. Baggage entries
arrive as one header each; their values are url-encoded.
"""

import re
from urllib.parse import quote, unquote

from opentelemetry.baggage import get_all, set_baggage
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, get_current_span, set_span_in_context

from .base import SafePropagator
from .baggage import MAX_MEMBER_BYTES, MAX_MEMBERS, is_token
from .carriers import read_header
from .ids import parse_hex_id

__all__ = ["JaegerPropagator"]

_HEADER = "uber-trace-id"
_BAGGAGE_PREFIX = "uberctx-"
_TRACE_ID_LENGTHS = range(1, 33)
_SPAN_ID_LENGTHS = range(1, 17)
_FLAGS = re.compile(r"[0-9a-fA-F]{1,2}")
_SAMPLED = 0x01
_DEBUG = 0x02
# 32 + 16 + 16 + 2 characters and three separators, url-encoded at worst ("%3A").
_MAX_LENGTH = 32 + 16 + 16 + 2 + 3 * 3


def _parse_uber_trace_id(values):
    """(trace_id, span_id, sampled) from the uber-trace-id values, or None."""
    if len(values) != 1:
        return None
    value = values[0].strip(" \t")
    if len(value) > _MAX_LENGTH:
        return None
    if "%" in value:
        value = unquote(value, errors="replace")
    fields = value.split(":")
    if len(fields) != 4:
        return None
    trace_id = parse_hex_id(fields[0], _TRACE_ID_LENGTHS, any_case=True)
    span_id = parse_hex_id(fields[1], _SPAN_ID_LENGTHS, any_case=True)
    parent_ok = fields[2] == "0" or parse_hex_id(fields[2], _SPAN_ID_LENGTHS, any_case=True) is not None
    if trace_id is None or span_id is None or not parent_ok or _FLAGS.fullmatch(fields[3]) is None:
        return None
    flags = int(fields[3], 16)
    return trace_id, span_id, bool(flags & (_SAMPLED | _DEBUG))


class JaegerPropagator(SafePropagator):
    """Extracts and injects `uber-trace-id` and `uberctx-*` baggage headers."""

    FIELDS = frozenset((_HEADER,))

    def _extract(self, carrier, context, getter):
        found = _parse_uber_trace_id(read_header(getter, carrier, _HEADER))
        if found is not None:
            trace_id, span_id, sampled = found
            flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
            context = set_span_in_context(NonRecordingSpan(SpanContext(trace_id, span_id, True, flags)), context)
        return self._extract_baggage(carrier, context, getter)

    def _extract_baggage(self, carrier, context, getter):
        # A getter without a working keys() must not cost the span context found above.
        try:
            return self._read_baggage_headers(carrier, context, getter)
        except Exception:  # noqa: BLE001
            return context

    def _read_baggage_headers(self, carrier, context, getter):
        count = 0
        for name in getter.keys(carrier):
            if not isinstance(name, str) or len(name) <= len(_BAGGAGE_PREFIX):
                continue
            if name[: len(_BAGGAGE_PREFIX)].lower() != _BAGGAGE_PREFIX:
                continue
            values = read_header(getter, carrier, name)
            if len(values) != 1 or len(values[0]) > MAX_MEMBER_BYTES:
                continue
            # Header names are case-insensitive, so the key is read in lowercase.
            key = _utf8_text(name[len(_BAGGAGE_PREFIX) :].lower())
            value = _utf8_text(unquote(values[0].strip(" \t"), errors="replace"))
            context = set_baggage(key, value, context=context)
            count += 1
            if count == MAX_MEMBERS:
                break
        return context

    def _inject(self, carrier, context, setter):
        span_context = get_current_span(context).get_span_context()
        if span_context.is_valid:
            flags = _SAMPLED if span_context.trace_flags.sampled else 0
            # Parent span id "0": deprecated in Jaeger, and receivers ignore it.
            value = "%032x:%016x:0:%x" % (span_context.trace_id, span_context.span_id, flags)
            setter.set(carrier, _HEADER, value)
        for key, value in get_all(context).items():
            if is_token(key):  # anything else cannot be a header name
                text = value if isinstance(value, str) else str(value)
                setter.set(carrier, _BAGGAGE_PREFIX + key, quote(text, safe="", errors="replace"))


def _utf8_text(text):
    """`text` with what UTF-8 cannot carry (lone surrogates, which no real header
    holds) replaced by "?", as inject would send it: a value reads back as it was read."""
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")
