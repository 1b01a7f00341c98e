"""Parsing the W3C `tracestate` header (Trace Context Level 2, section 3.3).

Our reading of the spec, where it leaves room:

* One invalid list-member does not cost the others. The spec says a vendor MAY
  discard the whole header or only the invalid entries; dropping only the bad ones
  keeps other vendors' state flowing through us (OTel's parser drops everything).
* Empty and whitespace-only members are allowed (`a=1,,b=2`) and skipped.
* A key that appears twice keeps its first occurrence: members are ordered newest
  first (a vendor that updates its entry moves it to the front), so the first one is
  the current value. The W3C test suite accepts either choice.
* Several tracestate headers are one list, joined with commas (RFC 9110 5.3).
* More than 32 valid members breaks the list grammar (`list-member 0*31(...)`): we
  cannot tell which 32 the sender meant, so the whole tracestate is discarded, as
  the W3C test suite expects. The trace itself continues.
"""

import re

from opentelemetry.trace.span import TraceState

__all__ = ["MAX_MEMBERS", "parse_tracestate", "read_tracestate", "trace_state_from_pairs", "tracestate_header"]

MAX_MEMBERS = 32

_KEY = (
    r"[a-z][_0-9a-z\-*/]{0,255}"  # simple key
    r"|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13}"  # tenant@vendor
)
# 1 to 256 printable ASCII characters except "," and "=", not ending in a space.
_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
# Every quantifier is bounded, and members are length-checked before matching, so a
# member costs at most a few hundred steps whatever a peer sends.
_MEMBER = re.compile(r"(%s)=(%s)" % (_KEY, _VALUE))
_MEMBER_MAX_LENGTH = 256 + 1 + 256

# The common case, 1 to 32 valid members and no whitespace or empty members, is
# checked by one regex in C; keys and values then contain neither "," nor "=", so
# plain string splits take the header apart. Each repetition can only end at the
# next ",", so a failed match costs time linear in the header length.
def _compile_well_formed():
    plain = r"(?:{m},){{0,{n}}}{m}".format(m="(?:%s)=%s" % (_KEY, _VALUE), n=MAX_MEMBERS - 1)
    # The same language with possessive quantifiers (Python 3.11+), which never give
    # back what they matched: nearly twice as fast. A value is 1 to 256 characters
    # not ending in a space, said here with a lookbehind.
    key = r"(?:[a-z][_0-9a-z\-*/]{0,255}+|[a-z0-9][_0-9a-z\-*/]{0,240}+@[a-z][_0-9a-z\-*/]{0,13}+)"
    member = key + r"=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{1,256}+(?<! )"
    possessive = r"{m}(?:,{m}){{0,{n}}}+".format(m=member, n=MAX_MEMBERS - 1)
    try:
        return re.compile(possessive)
    except re.error:  # Python 3.10
        return re.compile(plain)


_WELL_FORMED = _compile_well_formed()


def parse_tracestate(headers):
    """The valid (key, value) members of the given tracestate header values, in order.

    Returns a dict (insertion ordered). Never raises for str input.
    """
    return read_tracestate(headers)[0]


def read_tracestate(headers):
    """(pairs, header) for the given tracestate values: the valid members as a dict,
    and the header string that writes them back when it is the input itself (the
    common case), else None.
    """
    header = headers[0] if len(headers) == 1 else ",".join(headers)
    if _WELL_FORMED.fullmatch(header) is not None:
        fields = header.replace("=", ",").split(",")
        alternate = iter(fields)
        pairs = dict(zip(alternate, alternate))  # key, value, key, value...
        if len(pairs) * 2 == len(fields):  # else a key repeats: keep the first below
            return pairs, header
    return _parse_member_by_member(header), None


def _parse_member_by_member(header):
    pairs = {}
    match_member = _MEMBER.fullmatch
    for member in header.split(","):
        member = member.strip(" \t")  # optional whitespace around members
        if not member or len(member) > _MEMBER_MAX_LENGTH:
            continue
        match = match_member(member)
        if match is None:
            continue
        key, value = match.groups()
        if key not in pairs:
            pairs[key] = value
    if len(pairs) > MAX_MEMBERS:
        return {}
    return pairs


def _can_build_directly():
    # TraceState() validates every pair with two regexes and logs; the pairs we hand
    # it are already validated, so we fill its dict ourselves when its layout is the
    # one we know (checked once, here) and fall back to the constructor otherwise.
    try:
        probe = TraceState([("a", "1")])
        empty = object.__new__(TraceState)
        empty._dict = {"a": "1"}  # noqa: SLF001
        return isinstance(probe._dict, dict) and empty == probe and empty.to_header() == "a=1"  # noqa: SLF001
    except Exception:  # noqa: BLE001
        return False


_DIRECT = _can_build_directly()
_EMPTY = TraceState()


# Attribute under which a TraceState we built keeps its header string: injecting the
# state of a span whose trace continues then costs no re-serialisation. TraceState is
# copy-on-write (add/update/delete return new objects), so the string stays true.
HEADER_ATTRIBUTE = "_autotrace_header"


def trace_state_from_pairs(pairs, header=None):
    """A TraceState holding `pairs`, a dict that `parse_tracestate` already validated.

    `header`, when given, must be exactly the serialisation of `pairs`.
    """
    if not pairs:
        return _EMPTY
    if _DIRECT:
        state = object.__new__(TraceState)
        state._dict = pairs  # noqa: SLF001
        if header is not None:
            setattr(state, HEADER_ATTRIBUTE, header)
        return state
    return TraceState(list(pairs.items()))


def tracestate_header(state):
    """The tracestate header for `state`, reusing the string it was read from."""
    return getattr(state, HEADER_ATTRIBUTE, None) or state.to_header()
