"""Parsing and formatting the W3C `traceparent` header (Trace Context Level 2, 3.2).

    version "-" trace-id "-" parent-id "-" trace-flags      e.g.
    00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01

Version 00 is parsed strictly: exactly 55 characters, lowercase hex only, ids not all
zeros. A higher version (any but ff, which is forbidden) may carry more fields after
the first four; as the spec asks we parse those four and require that anything
beyond character 55 starts with "-". Surrounding spaces and tabs are optional
whitespace in HTTP (RFC 9110 5.5), not part of the value, so they are trimmed first;
the W3C test suite sends such headers and expects them accepted.

Of the flags we keep sampled (0x01) and Level 2's random-trace-id (0x02); the other
bits have no meaning yet and must not be forwarded.
"""

import re

__all__ = ["KNOWN_FLAGS", "RANDOM_FLAG", "SAMPLED_FLAG", "format_traceparent", "parse_traceparent",
           "traceparent_flags"]

SAMPLED_FLAG = 0x01
RANDOM_FLAG = 0x02
KNOWN_FLAGS = SAMPLED_FLAG | RANDOM_FLAG

_LENGTH = 55
_FIELDS = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
# The form nearly every request has: version 00, nothing around it, ids not all zeros.
_COMMON = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
# The known flags sit in the last hex digit.
_KNOWN_FLAGS_OF_DIGIT = {digit: int(digit, 16) & KNOWN_FLAGS for digit in "0123456789abcdef"}


def parse_traceparent(values):
    """(trace_id, span_id, flags) from the traceparent header values, or None.

    `values` holds every traceparent value found on the request; more than one
    (repeated header, or values combined with a comma) makes the header invalid.
    """
    if len(values) != 1:
        return None
    value = values[0]
    if len(value) != _LENGTH:
        value = value.strip(" \t")
        if len(value) < _LENGTH or "," in value:
            return None
    match = _FIELDS.fullmatch(value, 0, _LENGTH)
    if match is None:
        return None
    version, trace_hex, span_hex, flags_hex = match.groups()
    if version == "00":
        if len(value) != _LENGTH:
            return None
    elif version == "ff":
        return None
    elif len(value) > _LENGTH and value[_LENGTH] != "-":
        return None
    trace_id = int(trace_hex, 16)
    span_id = int(span_hex, 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, int(flags_hex, 16) & KNOWN_FLAGS


def traceparent_flags(value):
    """The known flags of one traceparent value, or None when parse_traceparent would
    reject it: the same checks, without turning the ids into numbers (a server that
    only needs to know whether the caller sampled the request)."""
    if _COMMON.fullmatch(value) is not None:   # 55 characters, or it would not match
        return _KNOWN_FLAGS_OF_DIGIT[value[54]]
    parsed = parse_traceparent((value,))
    return None if parsed is None else parsed[2]


def format_traceparent(trace_id, span_id, flags):
    """The version 00 traceparent for these ids and flags (unknown bits removed)."""
    return "00-%032x-%016x-%02x" % (trace_id, span_id, flags & KNOWN_FLAGS)
