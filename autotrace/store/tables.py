"""Writing span rows into the indexed tables: spans, the per-trace summaries, the
attribute search index and the entry spans of the service map.

Used by the indexer (spans apps spooled into the inbox) and by the viewer's OTLP
ingest and imports, always inside the caller's write transaction.
"""

import json

from .rows import to_json

__all__ = ["write_batch", "ROW_OVERHEAD_BYTES"]

# Rough per-row bytes that are not JSON text (ids, names, index entries).
ROW_OVERHEAD_BYTES = 200

_INSERT_SPAN = (
    "INSERT OR IGNORE INTO spans (trace_no, span_id, parent_span_id, service_name, name, "
    "kind, start_ns, end_ns, duration_ns, status_code, status_message, attributes, "
    "events, links, resource, scope_name, scope_version) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_ATTRIBUTE = "INSERT OR IGNORE INTO span_attributes (key, value, trace_no) VALUES (?, ?, ?)"
_INSERT_TRACE = (
    "INSERT INTO traces (trace_id, start_ns, end_ns, duration_ns, root_span_id, root_service, "
    "root_name, first_service, first_name, span_count, error_count, services) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_UPDATE_TRACE = (
    "UPDATE traces SET start_ns = ?, end_ns = ?, duration_ns = ?, root_span_id = ?, "
    "root_service = ?, root_name = ?, first_service = ?, first_name = ?, span_count = ?, "
    "error_count = ?, services = ? WHERE trace_no = ?")
_INSERT_CALL = (
    "INSERT INTO calls (trace_no, span_id, parent_span_id, caller, service_name, start_ns, "
    "duration_ns, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
# SQLite allows 999 parameters per statement in old builds; stay well under.
_LOOKUP_CHUNK = 500


def write_batch(conn, rows, attribute_pairs):
    """Insert one batch, fold its new spans into the trace summaries, and record its
    entry spans for the service map.

    Returns an estimate of the bytes written, for the size check. Spans already in the
    store (re-exported) are skipped and do not count twice in the summaries.

    Most batches bring whole new traces: their summary is worked out here and their
    spans go in with one executemany, at the end of every index (trace_no grows).
    Spans of a trace already stored are inserted one by one, to learn which are new.
    """
    groups = {}   # trace_id -> {span_id: index into rows}, a repeated span once
    for index, row in enumerate(rows):
        members = groups.get(row.trace_id)
        if members is None:
            groups[row.trace_id] = {row.span_id: index}
        elif row.span_id not in members:
            members[row.span_id] = index
    known = _known_traces(conn, list(groups))
    cursor = conn.cursor()
    fresh, attributes, calls = [], set(), []
    written = 0
    for trace_id, members in groups.items():
        trace_rows = [rows[index] for index in members.values()]
        old = known.get(trace_id)
        if old is None:
            new_rows = trace_rows
            cursor.execute(_INSERT_TRACE, (trace_id, *_summary(new_rows)))
            trace_no = cursor.lastrowid
            fresh.extend((trace_no,) + row[1:] for row in new_rows)
        else:
            trace_no = old[1]
            new_rows = []
            for row in trace_rows:
                cursor.execute(_INSERT_SPAN, (trace_no,) + row[1:])
                if cursor.rowcount == 1:
                    new_rows.append(row)
            if not new_rows:
                continue
            cursor.execute(_UPDATE_TRACE, (*_merged(old, _summary(new_rows)), trace_no))
            _resolve_waiting(cursor, trace_no, members, rows)
        services = set()
        for row in new_rows:
            written += (ROW_OVERHEAD_BYTES + len(row.attributes) + len(row.events)
                        + len(row.links) + len(row.resource))
            services.add(row.service_name)
            call = _entry(cursor, trace_no, row, members, rows, old is not None)
            if call is not None:
                calls.append(call)
        for service in services:
            attributes.add(("service.name", service, trace_no))
        for index in members.values():
            for key, value in attribute_pairs[index]:
                attributes.add((key, value, trace_no))
    cursor.executemany(_INSERT_SPAN, fresh)
    cursor.executemany(_INSERT_ATTRIBUTE, attributes)
    cursor.executemany(_INSERT_CALL, calls)
    return written


_TRACE_COLUMNS = ("trace_id, trace_no, start_ns, end_ns, root_span_id, root_service, "
                  "root_name, first_service, first_name, span_count, error_count, services")


def _known_traces(conn, trace_ids):
    """{trace_id: its traces row} for the ids already stored (a few queries per batch,
    not one per span)."""
    found = {}
    for start in range(0, len(trace_ids), _LOOKUP_CHUNK):
        chunk = trace_ids[start:start + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
                f"SELECT {_TRACE_COLUMNS} FROM traces WHERE trace_id IN ({marks})", chunk):
            found[row[0]] = row
    return found


def _summary(rows):
    """The traces columns after trace_id for a trace made of `rows` alone."""
    first = root = None
    end = 0
    errors = 0
    services = set()
    for row in rows:
        if first is None or row.start_ns < first.start_ns:
            first = row
        if row.end_ns > end:
            end = row.end_ns
        if root is None and row.parent_span_id is None:
            root = row
        if row.status_code == "ERROR":
            errors += 1
        services.add(row.service_name)
    start = first.start_ns
    end = max(end, start)
    return (start, end, end - start,
            root.span_id if root else None, root.service_name if root else None,
            root.name if root else None, first.service_name, first.name,
            len(rows), errors, to_json(sorted(services)))


def _merged(old, new):
    """A stored summary row (see _TRACE_COLUMNS) with a batch's summary folded in."""
    (_, _, start, end, root_id, root_service, root_name, first_service, first_name,
     span_count, error_count, services) = old
    (n_start, n_end, _, n_root_id, n_root_service, n_root_name, n_first_service,
     n_first_name, n_count, n_errors, n_services) = new
    if n_start < start:
        start, first_service, first_name = n_start, n_first_service, n_first_name
    end = max(end, n_end)
    if root_id is None:
        root_id, root_service, root_name = n_root_id, n_root_service, n_root_name
    try:
        names = set(json.loads(services))
    except (TypeError, ValueError):
        names = set()
    names.update(json.loads(n_services))
    return (start, end, max(0, end - start), root_id, root_service, root_name,
            first_service, first_name, span_count + n_count, error_count + n_errors,
            to_json(sorted(names)))


def _entry(cursor, trace_no, row, members, rows, trace_existed):
    """The calls row for `row` if it is an entry span (its parent missing or in another
    service), else None. A parent not stored yet leaves the caller NULL: the batch
    that brings the parent fills it in (_resolve_waiting)."""
    parent = row.parent_span_id
    caller = None
    if parent is not None:
        index = members.get(parent)
        if index is not None:
            caller = rows[index].service_name
        elif trace_existed:
            found = cursor.execute(
                "SELECT service_name FROM spans WHERE trace_no = ? AND span_id = ?",
                (trace_no, parent)).fetchone()
            caller = found[0] if found else None
        if caller == row.service_name:
            return None
    return (trace_no, row.span_id, parent, caller, row.service_name, row.start_ns,
            row.duration_ns, 1 if row.status_code == "ERROR" else 0)


def _resolve_waiting(cursor, trace_no, members, rows):
    """Entries of this trace stored earlier whose parent arrives in this batch: a parent
    in the same service means the span was no entry after all."""
    waiting = cursor.execute(
        "SELECT rowid, parent_span_id, service_name FROM calls WHERE trace_no = ? "
        "AND caller IS NULL AND parent_span_id IS NOT NULL", (trace_no,)).fetchall()
    for rowid, parent, service in waiting:
        index = members.get(parent)
        if index is None:
            continue
        caller = rows[index].service_name
        if caller == service:
            cursor.execute("DELETE FROM calls WHERE rowid = ?", (rowid,))
        else:
            cursor.execute("UPDATE calls SET caller = ? WHERE rowid = ?", (caller, rowid))
