"""Store rows and their pieces: the SpanRow layout, JSON columns, search pairs, text
SQLite can store.

Nothing here may fail on odd input: attribute values are whatever the host app put
there, so JSON encoding falls back to `str()` for unknown types, writes non-finite
floats as strings (browsers cannot parse NaN in JSON), and escapes text that is not
valid UTF-8 (lone surrogates from undecodable file names) instead of refusing it.
"""

import json
import math
from typing import NamedTuple, Optional

from .schema import MAX_INDEXED_KEY, MAX_INDEXED_VALUE

UNKNOWN_SERVICE = "unknown_service"


class SpanRow(NamedTuple):
    """One row of the `spans` table, in column order."""

    trace_id: str
    span_id: str
    parent_span_id: Optional[str]
    service_name: str
    name: str
    kind: str
    start_ns: int
    end_ns: int
    duration_ns: int
    status_code: str
    status_message: Optional[str]
    attributes: str
    events: str
    links: str
    resource: str
    scope_name: Optional[str]
    scope_version: Optional[str]


def span_to_row(span):
    """Build a SpanRow from a finished span, the way the store indexes it."""
    return _row_and_pairs(span)[0]


def searchable_attributes(span):
    """The (key, value) pairs of a span and its resource that attribute search can find.

    Values are written the way a user would type them: bools as true/false, numbers in
    their usual text form. Sequences and long values are left out (see schema.py).
    """
    return _row_and_pairs(span)[1]


def _row_and_pairs(span):
    # The one conversion the store uses: packed as an app packs it, unpacked as the
    # indexer unpacks it.
    from .inbox_rows import rows_from_batch
    from .spool import pack, unpack
    return rows_from_batch(*unpack(pack([span])[0]))[0]


def searchable_pairs(attributes, resource_attributes):
    """Like searchable_attributes(), from plain dicts (spans that arrive over OTLP)."""
    pairs = _searchable(attributes)
    pairs.extend(resource_search_pairs(resource_attributes or {}))
    return pairs


def resource_search_pairs(resource_attributes):
    """The search pairs of a resource's attributes (service.name and the SDK's own
    telemetry.sdk.* are left out: the same for every span, or searchable otherwise)."""
    skip = {key for key in resource_attributes
            if key in _NOT_SEARCHED or key.startswith("telemetry.sdk.")}
    return _searchable(resource_attributes, skip)


# (key, value, type) -> its (key, text) search pair or None. Most attribute values
# repeat from span to span (methods, routes, statuses, queries): each is turned into
# index text once. The type is in the key because True == 1 but "true" != "1".
_PAIRS = {}
_PAIRS_LIMIT = 8192


def _searchable(attributes, skip=()):
    pairs = []
    if not attributes:
        return pairs
    cache = _PAIRS
    for key, value in attributes.items():
        if key in skip:
            continue
        try:
            memo = (key, value, value.__class__)
            pair = cache[memo]
        except KeyError:
            pair = _search_pair(key, value)
            if len(cache) >= _PAIRS_LIMIT:
                cache.clear()
            cache[memo] = pair
        except TypeError:  # unhashable: a list or dict, never indexed
            continue
        if pair is not None:
            pairs.append(pair)
    return pairs


def searchable_pairs_of(attributes):
    """The (key, text) search pairs of one span's attribute dict."""
    return _searchable(attributes)


def _search_pair(key, value):
    if not isinstance(key, str) or len(key) > MAX_INDEXED_KEY:
        return None
    text = search_text(value)
    return None if text is None else (clean_text(key), text)


# Same for every span, or already searchable another way (service filter).
_NOT_SEARCHED = frozenset({"service.name"})


def search_text(value):
    """The text form of a scalar attribute value as stored in the search index, or None."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int)):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)
    else:
        return None
    if len(text) > MAX_INDEXED_VALUE:
        return None
    return clean_text(text)


# Built once: json.dumps() with options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                            default=str)
# The C encoder that JSONEncoder.encode() builds on every call, built once: half the
# cost of encoding a span's few attributes. The same arguments as _ENCODER's (no
# circular-reference markers: a self-referential value ends in RecursionError, which
# to_json() handles). None on Pythons without the C accelerator.
try:
    _C_ENCODE = json.encoder.c_make_encoder(
        None, str, json.encoder.encode_basestring, None, ":", ",", False, False, False)
except (AttributeError, TypeError):
    _C_ENCODE = None


def _encode(value):
    if _C_ENCODE is None:
        return _ENCODER.encode(value)
    if isinstance(value, str):
        return json.encoder.encode_basestring(value)
    return "".join(_C_ENCODE(value, 0))


def to_json(value):
    """Compact JSON text for `value`; never raises."""
    try:
        text = _encode(value)
    except (ValueError, TypeError, RecursionError):
        # NaN/inf, keys json cannot take, or something self-referential.
        text = _ENCODER.encode(_plain(value, 0))
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        # Lone surrogates: SQLite cannot store them as UTF-8, JSON escapes can.
        return _ascii_json(value)


def _ascii_json(value):
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)
    except (ValueError, TypeError, RecursionError):
        return json.dumps(_plain(value, 0), separators=(",", ":"), allow_nan=False, default=str)


def _plain(value, depth):
    """A copy of `value` that json.dumps accepts with allow_nan=False."""
    if depth > 20:
        return str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(key): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, depth + 1) for item in value]
    return str(value)


def clean_text(value):
    """`value` as a str that SQLite can store as UTF-8."""
    if not isinstance(value, str):
        value = str(value)
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
