"""Packing exported spans into one inbox row, and unpacking them for the indexer.

Why a packed batch: the app pays for every microsecond its export thread spends
(on CPython that thread competes with the app's own for the GIL). Turning a span
into indexed rows (JSON columns, search pairs, a trace summary, five SQLite indexes)
costs ~45 us of CPU per span; reading a span's fields into a tuple and packing 512
of them with `marshal` costs ~2 us. So the app only packs and appends, and the
indexing is done later, away from the app's requests (store/indexer.py).

The packing is `marshal` (format 1): the fastest serialiser in the standard library
for plain tuples, dicts and strings, and it keeps every value exactly (big ints,
lone surrogates). It is only ever written by autotrace processes of the user who
owns the store and read back by the same user's autotrace; spans from elsewhere
(OTLP ingest, imports) never come through here. A body that does not unpack (a
Python whose marshal cannot read it, a damaged file) is skipped and counted by the
indexer, never half-read.

One batch: (FORMAT, resources, scopes, records), where resources is a list of
resource attribute dicts and scopes a list of (name, version); each record:

    (trace_id, span_id, parent_span_id or 0, name, kind, start_ns, end_ns,
     status_code, status_description, attributes, events, links, resource_no, scope_no)

ids are ints, kind and status_code are the OpenTelemetry enum values, attributes a
dict, events [(name, timestamp_ns, attributes)] or None, links
[(trace_id, span_id, attributes)] or None.
"""

import marshal

__all__ = ["FORMAT", "pack", "unpack", "KIND_NAMES", "STATUS_NAMES"]

FORMAT = 1
# OpenTelemetry's SpanKind and StatusCode values, fixed by the specification.
KIND_NAMES = ("INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS_NAMES = ("UNSET", "OK", "ERROR")


def pack(spans):
    """(body bytes, span count) for finished spans (any ReadableSpan); never raises on
    odd attribute values: anything marshal cannot take is written as its str()."""
    from autotrace.lean_span import _UNSET, LeanSpan   # _UNSET: the Status a span has until one is set
    resources, resource_numbers = [], {}
    scopes, scope_numbers = [], {}
    records = []
    add = records.append
    for span in spans:
        if span.__class__ is LeanSpan:
            # Ours: its own fields, without the read-only copies the properties make.
            (name, context, parent, kind, start, end, status, attributes, events, links, resource,
             scope) = (span._name, span._context, span._parent, span._kind, span._start_time, span._end_time,
                       span._status, span._attributes, span._events, span._links, span._resource,
                       span._instrumentation_scope)
            plain = status is _UNSET and not events and not links
        else:
            (name, context, parent, kind, start, end, status, attributes, events, links, resource,
             scope) = (span.name, span.context, span.parent, span.kind, span.start_time, span.end_time,
                       span.status, span.attributes, span.events, span.links, span.resource,
                       span.instrumentation_scope)
            attributes = dict(attributes) if attributes else {}
            plain = False
        resource_no = resource_numbers.get(id(resource))
        if resource_no is None:
            resource_no = resource_numbers[id(resource)] = len(resources)
            resources.append(dict(resource.attributes) if resource is not None else {})
        scope_no = scope_numbers.get(id(scope))
        if scope_no is None:
            scope_no = scope_numbers[id(scope)] = len(scopes)
            scopes.append((scope.name, scope.version) if scope is not None else (None, None))
        if plain:
            # The usual span of ours, read without a Python call: a LeanSpan exists only
            # when SpanContext's fields sit at known indexes (lean_tracer._LAYOUT_KNOWN).
            add((context[0], context[1], parent[1] if parent is not None else 0, name, kind._value_,
                 start or 0, end or 0, 0, None, attributes, None, None, resource_no, scope_no))
            continue
        # `_value_`: the enum member's own attribute; `.value` is a property that costs
        # ten times more, twice per span.
        add((context.trace_id, context.span_id, parent.span_id if parent is not None else 0,
             name, kind._value_, start or 0, end or 0,
             status.status_code._value_, status.description,
             attributes,
             [(event.name, event.timestamp, dict(event.attributes or {})) for event in events] if events else None,
             [(link.context.trace_id, link.context.span_id, dict(link.attributes or {})) for link in links]
             if links else None,
             resource_no, scope_no))
    batch = (FORMAT, resources, scopes, records)
    try:
        return marshal.dumps(batch), len(records)
    except ValueError:
        # A value marshal does not know (a str subclass, an object from an SDK span
        # the app filled by hand): write plain copies instead.
        return marshal.dumps(_plain(batch, 0)), len(records)


def unpack(body):
    """(resources, scopes, records) of one inbox body; raises ValueError when it is not
    a batch this code can read."""
    try:
        batch = marshal.loads(body)
    except (EOFError, ValueError, TypeError) as error:
        raise ValueError("unreadable inbox batch (%s)" % error) from None
    if not isinstance(batch, tuple) or len(batch) != 4 or batch[0] != FORMAT:
        raise ValueError("unknown inbox batch format")
    return batch[1], batch[2], batch[3]


def _plain(value, depth):
    """A copy of `value` made only of the exact types marshal writes."""
    kind = value.__class__
    if kind in (str, int, float, bool, bytes) or value is None:
        return value
    if depth > 20:
        return str(value)
    if isinstance(value, dict):
        return {_plain(key, depth + 1): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_plain(item, depth + 1) for item in value]
        return items if kind is list else tuple(items)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)
