"""The W3C Baggage propagator (https://www.w3.org/TR/baggage/).

    baggage: userId=alice,serverNode=DF%2028,isProduction=false;ttl=60

Keys are HTTP tokens and are never percent-decoded. Values are percent-decoded on
extract (a sequence that is not UTF-8 becomes U+FFFD, as the spec requires; "+" is a
plus sign, not a space) and percent-encoded on inject for every character outside
the spec's baggage-octet set, "%" included.

Properties (`;ttl=60`, `;secret`) have no place in OTel's baggage API, which stores
one value per name. We keep them beside it, under `METADATA_KEY`, and write them
back on inject as long as the application has not changed that entry's value.

A malformed member is dropped on its own; the rest of the header survives. Limits:
at most 180 members, 4096 bytes per member, 8192 bytes in all. On extract, what
lies beyond a limit is ignored; on inject, members stop being added once a limit
would be exceeded (a single oversized member is skipped).
"""

import re
from urllib.parse import quote, unquote

from opentelemetry import baggage as _otel_baggage
from opentelemetry.baggage import get_all, set_baggage
from opentelemetry.context import create_key, get_current, get_value, set_value
from opentelemetry.propagators.textmap import default_setter

from .base import SafePropagator
from .carriers import read_header

__all__ = ["METADATA_KEY", "W3CBaggagePropagator", "format_baggage", "is_token", "parse_baggage"]

METADATA_KEY = create_key("autotrace-baggage-metadata")

MAX_MEMBERS = 180
MAX_MEMBER_BYTES = 4096
MAX_TOTAL_BYTES = 8192

_HEADER = "baggage"
# token (RFC 9110 5.6.2)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# baggage-octet: printable ASCII except space, DQUOTE, comma, semicolon, backslash
_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")
# quote() never encodes letters, digits and "_.-~"; these are the other baggage
# octets that may stay as they are. "%" is left out: it must be encoded.
_SAFE = "!#$&'()*+/:<=>?@[]^`{|}"
_OWS = " \t"
# The key OTel's baggage API stores its dict under (private; None if a release renames
# it, and inject then asks the API instead).
_BAGGAGE_KEY = BAGGAGE_KEY = getattr(_otel_baggage, "_BAGGAGE_KEY", None)


def is_token(name):
    """Whether `name` is an HTTP token: a valid baggage key or header name."""
    return isinstance(name, str) and _TOKEN.fullmatch(name) is not None


def _parse_member(member):
    """(name, decoded value, properties) of one stripped list-member, or None."""
    head, has_properties, rest = member.partition(";")
    name, equals, value = head.partition("=")
    if not equals:
        return None
    name = name.rstrip(_OWS)
    value = value.strip(_OWS)
    if _TOKEN.fullmatch(name) is None or _VALUE.fullmatch(value) is None:
        return None
    properties = []
    if has_properties:
        for prop in rest.split(";"):
            prop_name, prop_equals, prop_value = prop.partition("=")
            prop_name = prop_name.strip(_OWS)
            if _TOKEN.fullmatch(prop_name) is None:
                return None
            if prop_equals:
                prop_value = prop_value.strip(_OWS)
                if _VALUE.fullmatch(prop_value) is None:
                    return None
                properties.append(prop_name + "=" + prop_value)
            else:
                properties.append(prop_name)
    if "%" in value:
        value = unquote(value, errors="replace")
    return name, value, ";".join(properties)


# The common case, plain `key=value` members without whitespace or properties, in a
# header short enough that no size limit can apply, is checked by one regex and taken
# apart with splits. Both character classes exclude "," and "=", so a failed match
# costs time linear in the header length.
_SIMPLE = re.compile(
    r"{m}(?:,{m}){{0,{n}}}".format(m=r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+=[\x21\x23-\x2b\x2d-\x3a\x3c\x3e-\x5b\x5d-\x7e]*", n=MAX_MEMBERS - 1)
)


def parse_baggage(header):
    """The valid members of a baggage header as (name, value, properties) tuples."""
    if len(header) <= MAX_MEMBER_BYTES and _SIMPLE.fullmatch(header) is not None:
        fields = header.replace("=", ",").split(",")
        alternate = iter(fields)
        return [
            (name, unquote(value, errors="replace") if "%" in value else value, "")
            for name, value in zip(alternate, alternate)
        ]
    return _parse_member_by_member(header)


def _parse_member_by_member(header):
    members = []
    total = 0
    for member in header.split(","):
        member = member.strip(_OWS)
        if not member:
            continue
        size = len(member)  # a valid member is ASCII: characters are bytes
        if size > MAX_MEMBER_BYTES:
            continue
        parsed = _parse_member(member)
        if parsed is None:
            continue
        total += size + (1 if members else 0)
        if total > MAX_TOTAL_BYTES:
            break
        members.append(parsed)
        if len(members) == MAX_MEMBERS:
            break
    return members


def format_baggage(entries, metadata=None):
    """The baggage header for a name -> value mapping, within the limits ("" if none)."""
    members = []
    total = 0
    metadata = metadata or {}
    for name, value in entries.items():
        if not is_token(name):
            continue  # a key that is not a token cannot be sent at all
        text = value if isinstance(value, str) else str(value)
        member = name + "=" + quote(text, safe=_SAFE, errors="replace")
        kept = metadata.get(name)
        if kept is not None and kept[0] == value:
            member += ";" + kept[1]
        size = len(member)
        if size > MAX_MEMBER_BYTES:
            continue
        if len(members) == MAX_MEMBERS or total + size + (1 if members else 0) > MAX_TOTAL_BYTES:
            break
        total += size + (1 if members else 0)
        members.append(member)
    return ",".join(members)


class W3CBaggagePropagator(SafePropagator):
    """Extracts and injects the W3C `baggage` header through OTel's baggage API."""

    FIELDS = frozenset((_HEADER,))
    READS = FIELDS

    def _default_context(self):
        return get_current()

    def _extract(self, carrier, context, getter):
        values = read_header(getter, carrier, _HEADER)
        if not values:
            return context
        # Several baggage headers are one list (RFC 9110 5.3).
        members = parse_baggage(values[0] if len(values) == 1 else ",".join(values))
        if not members:
            return context
        metadata = None
        for name, value, properties in members:
            context = set_baggage(name, value, context=context)
            if properties:
                if metadata is None:
                    metadata = dict(get_value(METADATA_KEY, context) or {})
                metadata[name] = (value, properties)
        if metadata is not None:
            context = set_value(METADATA_KEY, metadata, context)
        return context

    def _inject(self, carrier, context, setter):
        if context is None:
            context = get_current()
        if _BAGGAGE_KEY is not None:
            # Most requests carry no baggage: one dict lookup says so, no API calls.
            entries = context.get(_BAGGAGE_KEY)
            if not entries or not isinstance(entries, dict):
                return
        else:
            entries = get_all(context)
            if not entries:
                return
        header = format_baggage(entries, context.get(METADATA_KEY))
        if header:
            if setter is default_setter:
                carrier[_HEADER] = header
            else:
                setter.set(carrier, _HEADER, header)
