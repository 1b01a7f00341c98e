"""Store rows from an unpacked inbox batch (store/spool.py), for the indexer.

The same rows and search pairs `rows.span_row_and_pairs` makes from a live span, made
from the plain values the app packed: ids as hex, JSON columns, a duration that is
never negative, text SQLite can store.
"""

from .rows import UNKNOWN_SERVICE, SpanRow, clean_text, resource_search_pairs, searchable_pairs_of, to_json
from .spool import KIND_NAMES, STATUS_NAMES

__all__ = ["rows_from_batch"]


def rows_from_batch(resources, scopes, records):
    """[(SpanRow, search pairs)] for one batch's records."""
    facts = [_resource_facts(attributes) for attributes in resources]
    scope_texts = [(clean_text(name) if name else None, clean_text(version) if version else None)
                   for name, version in scopes]
    trace_hexes = {}
    result = []
    add = result.append
    for (trace_id, span_id, parent_id, name, kind, start, end, status_code, description,
         attributes, events, links, resource_no, scope_no) in records:
        trace_hex = trace_hexes.get(trace_id)
        if trace_hex is None:
            trace_hex = trace_hexes[trace_id] = format(trace_id, "032x")
        service, resource_json, resource_pairs = facts[resource_no]
        scope_name, scope_version = scope_texts[scope_no]
        if end < start:   # a clock step: never a negative duration
            end = start
        if attributes:
            pairs = searchable_pairs_of(attributes)
            pairs.extend(resource_pairs)
            attributes_json = to_json(attributes)
        else:
            pairs = list(resource_pairs)
            attributes_json = "{}"
        if name.__class__ is not str or not name.isascii():
            name = clean_text(name)
        add((SpanRow(
            trace_hex,
            format(span_id, "016x"),
            format(parent_id, "016x") if parent_id else None,
            service,
            name,
            KIND_NAMES[kind] if 0 <= kind < len(KIND_NAMES) else "INTERNAL",
            start,
            end,
            end - start,
            STATUS_NAMES[status_code] if 0 <= status_code < len(STATUS_NAMES) else "UNSET",
            clean_text(description) if description else None,
            attributes_json,
            to_json([{"name": event_name, "timestamp_ns": timestamp, "attributes": event_attributes}
                     for event_name, timestamp, event_attributes in events]) if events else "[]",
            to_json([{"trace_id": format(link_trace, "032x"), "span_id": format(link_span, "016x"),
                      "attributes": link_attributes}
                     for link_trace, link_span, link_attributes in links]) if links else "[]",
            resource_json,
            scope_name,
            scope_version,
        ), pairs))
    return result


def _resource_facts(attributes):
    """(service name, resource JSON, search pairs) of one resource's attributes."""
    service = attributes.get("service.name")
    return (clean_text(service) if service else UNKNOWN_SERVICE, to_json(attributes),
            resource_search_pairs(attributes))
