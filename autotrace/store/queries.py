"""Reading the local store: trace lists, one trace, and per-service figures.

Every function takes the store path and returns plain dicts and lists, ready for the
terminal or JSON. Readers first index what apps have spooled into the inbox
(store/indexer.py), then read on a read-only connection that never blocks writers (WAL).
A store that does not exist yet reads as empty; a file that is not a store, or is
from a newer autotrace, raises StoreError with a message fit to show a user.
"""

import json
import math
import os
import sqlite3
import urllib.parse
from contextlib import closing
from typing import NamedTuple

from . import schema
from .indexer import catch_up
from .rows import search_text

__all__ = [
    "StoreError", "AmbiguousTraceId", "list_traces", "get_trace", "services",
    "service_map", "operations", "explain_list_traces", "parse_attribute_filters",
    "traces_after", "service_names", "get_trace_columns", "TraceColumns", "map_summary",
    "QUERY_KEYS", "TARGET_KEYS",
]

MIN_PREFIX = 8
_HEX = frozenset("0123456789abcdef")
_JSON_COLUMNS = ("attributes", "events", "links", "resource")


class StoreError(Exception):
    """The store cannot be read; the message says why in plain words."""


class AmbiguousTraceId(StoreError):
    """A trace id prefix matches more than one trace."""


# -- opening ---------------------------------------------------------------------

def _open(path):
    """A read-only connection, or None if there is no store (or no tables) yet."""
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if not os.path.isfile(path):
        return None
    uri = "file:" + urllib.parse.quote(path) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=2.0)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open the trace store {path}: {error}") from None
    try:
        version = schema.read_version(conn)
        schema.check_version(version)
    except schema.SchemaTooNew as error:
        conn.close()
        raise StoreError(str(error)) from None
    except sqlite3.DatabaseError as error:
        conn.close()
        raise StoreError(f"{path} is not an autotrace trace store ({error})") from None
    if version == 0:
        conn.close()
        return None  # created, but no app has written to it yet
    if version < schema.SCHEMA_VERSION:
        conn.close()
        raise StoreError(
            f"the trace store {path} uses an older layout (version {version}); it is "
            "upgraded the next time an app traced by autotrace writes to it")
    conn.row_factory = sqlite3.Row
    return conn


def _read(path, work, empty):
    """Run `work(conn)` on a read-only connection; `empty` if there is no store.
    Spans that apps exported but nobody indexed yet are indexed first."""
    catch_up(path)
    conn = _open(path)
    if conn is None:
        return empty
    with closing(conn):
        try:
            return work(conn)
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot read the trace store {path}: {error}") from None


# -- trace list ------------------------------------------------------------------

def list_traces(path, service=None, errors_only=False, limit=20, operation=None,
                min_duration_ns=None, max_duration_ns=None, since_ns=None, until_ns=None,
                attributes=None):
    """Trace summaries, newest first, matching every filter given (limit=None: all).

    service: a service that took part anywhere in the trace.
    operation: the root span's name (the earliest span's name while the root is missing).
    min/max_duration_ns, since_ns/until_ns: bounds on the trace's duration and start.
    attributes: {key: value}, ["key=value", ...] or [(key, value)]; every pair must be
      found on some span (or resource) of the trace. Values compare as text, so
      200, "200" and True/"true" all work.
    """
    sql, params = _list_sql(service, errors_only, limit, operation, min_duration_ns,
                            max_duration_ns, since_ns, until_ns, attributes)
    return _read(path, lambda conn: [_trace_dict(row) for row in conn.execute(sql, params)], [])


def traces_after(path, cursor=None, limit=100):
    """(new cursor, summaries of traces that gained spans after `cursor`), oldest
    first, at most `limit` of them.

    The cursor is the largest rowid of the spans table, which grows as spans are
    stored: a new trace and a trace that gets more spans later (a service that
    exports after its caller) are both news. cursor=None asks only for the current
    cursor (no traces). The live trace list polls this to learn that something
    changed. A cursor beyond the store's (a store emptied or replaced) comes back
    lowered, with no traces: the caller should reload everything.
    """
    def work(conn):
        latest = conn.execute("SELECT coalesce(max(rowid), 0) FROM spans").fetchone()[0]
        if cursor is None or latest <= cursor:
            return latest, []
        # A rowid range of the spans table: only the rows stored since the cursor.
        numbers = [row[0] for row in conn.execute(
            "SELECT DISTINCT trace_no FROM spans WHERE rowid > ? ORDER BY trace_no LIMIT ?",
            (int(cursor), int(limit)))]
        marks = ",".join("?" * len(numbers))
        rows = conn.execute(f"SELECT * FROM traces WHERE trace_no IN ({marks}) ORDER BY trace_no",
                            numbers).fetchall()
        return latest, [_trace_dict(row) for row in rows]

    return _read(path, work, (0, []))


def explain_list_traces(path, **filters):
    """EXPLAIN QUERY PLAN lines for list_traces(path, **filters) (for tests and tuning)."""
    sql, params = _list_sql(**{**_LIST_DEFAULTS, **filters})
    return _read(path, lambda conn: [row["detail"] for row in
                                     conn.execute("EXPLAIN QUERY PLAN " + sql, params)], [])


_LIST_DEFAULTS = dict(service=None, errors_only=False, limit=20, operation=None,
                      min_duration_ns=None, max_duration_ns=None, since_ns=None,
                      until_ns=None, attributes=None)


def _list_sql(service, errors_only, limit, operation, min_duration_ns, max_duration_ns,
              since_ns, until_ns, attributes):
    where, params = [], []
    if service:
        # Each service of a trace is in the attribute index under service.name.
        where.append("trace_no IN (SELECT trace_no FROM span_attributes "
                     "WHERE key = 'service.name' AND value = ?)")
        params.append(service)
    if errors_only:
        where.append("error_count > 0")
    if operation:
        where.append("coalesce(root_name, first_name) = ?")
        params.append(operation)
    for column, op, value in (("duration_ns", ">=", min_duration_ns),
                              ("duration_ns", "<=", max_duration_ns),
                              ("start_ns", ">=", since_ns),
                              ("start_ns", "<=", until_ns)):
        if value is not None:
            where.append(f"{column} {op} ?")
            params.append(int(value))
    for key, value in parse_attribute_filters(attributes):
        where.append("trace_no IN (SELECT trace_no FROM span_attributes WHERE key = ? AND value = ?)")
        params.extend((key, value))
    sql = "SELECT * FROM traces"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY start_ns DESC LIMIT ?"
    params.append(-1 if limit is None else max(0, int(limit)))  # -1: no limit
    return sql, params


def parse_attribute_filters(attributes):
    """[(key, text value)] from a dict, "key=value" strings, or (key, value) pairs."""
    if not attributes:
        return []
    items = attributes.items() if hasattr(attributes, "items") else attributes
    pairs = []
    for item in items:
        if isinstance(item, str):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"attribute filter {item!r} is not key=value")
        else:
            key, value = item
        text = value if isinstance(value, str) else search_text(value)
        pairs.append((key.strip(), "" if text is None else text.strip()))
    return pairs


def _trace_dict(row):
    trace = dict(row)
    trace.pop("trace_no", None)  # the store's own key, not part of the answer
    trace["services"] = json.loads(trace["services"] or "[]")
    trace["complete"] = trace["root_span_id"] is not None
    # What to call the trace: its root, or the earliest span seen while it has none.
    trace["service"] = trace["root_service"] if trace["complete"] else trace["first_service"]
    trace["name"] = trace["root_name"] if trace["complete"] else trace["first_name"]
    return trace


# -- one trace -------------------------------------------------------------------

def get_trace(path, trace_id):
    """The spans of one trace as dicts (JSON columns decoded), ordered by start time.

    `trace_id` may be the full 32 hex digits or a unique prefix of at least 8.
    Returns [] if there is no such trace; raises AmbiguousTraceId for a prefix that
    matches several, and ValueError for something that is not a trace id.
    """
    wanted = normalize_trace_id(trace_id)

    def work(conn):
        found = _resolve(conn, wanted)
        if found is None:
            return []
        trace_no, full = found
        rows = conn.execute("SELECT * FROM spans WHERE trace_no = ? ORDER BY start_ns, span_id",
                            (trace_no,))
        resources = {}  # one process's spans share one resource text: decode it once
        return [_span_dict(row, full, resources) for row in rows]

    return _read(path, work, [])


class TraceColumns(NamedTuple):
    """One trace's spans as columns (lists of equal length, ordered by span id): what
    the trace page's analysis reads, and the spans whole as JSON text."""
    span_id: list
    parent_span_id: list
    service_name: list
    name: list
    kind: list
    start_ns: list
    end_ns: list
    status_code: list
    query_text: list    # the first of QUERY_KEYS in the attributes, else None
    target: list        # for CLIENT and PRODUCER spans: the first of TARGET_KEYS, else None
    resource: list      # the stored resource text (one process's spans share it)
    json: str           # the spans as JSON objects separated by commas, in this order;
                        # each as get_trace() would decode it, less trace_id and resource


# The attributes the analysis looks at, pulled out by SQLite (in C) so Python never
# decodes a span's attributes: what a query ran, and where a call went.
QUERY_KEYS = ("db.query.text", "db.statement")
TARGET_KEYS = ("url.full", "http.url", "url.path", "rpc.method", "messaging.destination.name",
               "server.address")


def get_trace_columns(path, trace_id):
    """One trace for the trace page: (full trace id, TraceColumns), or (None, None).

    A 10,000-span trace is 4 MB of JSON: each span's JSON text is built by SQLite with
    the stored JSON columns embedded as they are (a damaged, non-JSON column as a
    string), and Python touches only the few values the analysis needs.
    `trace_id` is read as by get_trace().
    """
    wanted = normalize_trace_id(trace_id)

    def work(conn):
        found = _resolve(conn, wanted)
        if found is None:
            return None, None
        trace_no, full = found
        conn.row_factory = None
        count, *columns, spans_json = conn.execute(_TRACE_COLUMNS_SQL, (trace_no,)).fetchone()
        if not count:
            return None, None
        return full, TraceColumns(*(json.loads(column) for column in columns), json=spans_json)

    return _read(path, work, (None, None))


def _embedded(column, empty):
    """SQL for a stored JSON column to embed in json_object(): as stored (a damaged,
    non-JSON text as a string). Empty ones, most events and links, skip the parse."""
    blank = "json_object()" if empty == "{}" else "json_array()"
    return (f"CASE WHEN {column} = '{empty}' THEN {blank} "
            f"WHEN json_valid({column}) THEN json({column}) ELSE {column} END")


def _first_attribute(keys):
    # json_valid first: json_extract() raises on damaged text. SQLite caches the
    # parse, so the attributes are parsed once per span.
    found = ", ".join(f"json_extract(attributes, '$.\"{key}\"')" for key in keys)
    return f"CASE WHEN json_valid(attributes) THEN coalesce({found}) END"


_SPAN_JSON = f"""json_object(
    'span_id', span_id, 'parent_span_id', parent_span_id, 'service_name', service_name,
    'name', name, 'kind', kind, 'start_ns', start_ns, 'end_ns', end_ns,
    'duration_ns', duration_ns, 'status_code', status_code, 'status_message', status_message,
    'attributes', {_embedded("attributes", "{}")}, 'events', {_embedded("events", "[]")},
    'links', {_embedded("links", "[]")}, 'scope_name', scope_name, 'scope_version', scope_version)"""

# One row: each column as a JSON array, the spans' JSON joined by commas. Fetching
# 10,000 rows of 12 values costs more (a lock, a copy and a Python object per value)
# than SQLite building the arrays and Python's C decoder reading them. All aggregates
# see the rows in the same order, the primary key's (trace_no, span_id), so the
# arrays line up.
_TRACE_COLUMNS_SQL = f"""
SELECT count(*), json_group_array(span_id), json_group_array(parent_span_id),
       json_group_array(service_name), json_group_array(name), json_group_array(kind),
       json_group_array(start_ns), json_group_array(end_ns), json_group_array(status_code),
       json_group_array({_first_attribute(QUERY_KEYS)}),
       json_group_array(CASE WHEN kind IN ('CLIENT', 'PRODUCER')
                        THEN {_first_attribute(TARGET_KEYS)} END),
       json_group_array(resource), group_concat({_SPAN_JSON}, ',')
FROM spans WHERE trace_no = ?
"""


def normalize_trace_id(text):
    value = str(text).strip().lower()
    if value.startswith("0x"):
        value = value[2:]
    if not MIN_PREFIX <= len(value) <= 32 or not set(value) <= _HEX:
        raise ValueError(f"{text!r} is not a trace id (32 hex digits, or a prefix of at "
                         f"least {MIN_PREFIX})")
    return value


def _resolve(conn, wanted):
    """(trace_no, full trace id) for a full id or a unique prefix, or None."""
    if len(wanted) == 32:
        row = conn.execute("SELECT trace_no, trace_id FROM traces WHERE trace_id = ?",
                           (wanted,)).fetchone()
        return tuple(row) if row else None
    # A range on the trace id's index: every id with this prefix sorts between the two.
    matches = [tuple(row) for row in conn.execute(
        "SELECT trace_no, trace_id FROM traces WHERE trace_id >= ? AND trace_id < ? LIMIT 2",
        (wanted, wanted + "g"))]
    if len(matches) > 1:
        raise AmbiguousTraceId(f"trace id prefix {wanted} matches several traces; "
                               "give more digits")
    return matches[0] if matches else None


def _span_dict(row, trace_id, resources=None):
    span = {"trace_id": trace_id, **dict(row)}
    del span["trace_no"]
    for column in _JSON_COLUMNS:
        text = span[column]
        if column == "resource" and resources is not None and text in resources:
            span[column] = resources[text]   # shared: callers must not modify it
            continue
        if text in ("{}", "[]"):
            span[column] = {} if text == "{}" else []
            continue
        try:
            span[column] = json.loads(text)
        except (TypeError, ValueError):
            pass  # leave the text as it is rather than lose it
        if column == "resource" and resources is not None:
            resources[text] = span[column]
    return span


# -- services --------------------------------------------------------------------

def services(path, since_ns=None, until_ns=None, counts=True):
    """Per service: latency percentiles and error rate of its entry spans, and (unless
    counts=False) its span, error and trace counts.

    Entry spans are the ones that start a service's work: spans whose parent is missing
    or belongs to another service (a SERVER span, a consumer, a root), so a call counts
    once, not once per internal step. The writer records them in `calls`, a small
    table; the counts need a pass over every span in the window, which on a big store
    takes seconds (the service map does without them).
    """
    window, params = _window("", since_ns, until_ns)

    def work(conn):
        return _services(conn, window, params, counts, _entry_figures(conn, window, params)[0])

    return _read(path, work, [])


def _services(conn, window, params, counts, entries):
    """services() from entry figures already worked out, plus (counts) a pass over spans."""
    totals = {}
    if counts:
        for row in conn.execute(
                f"SELECT service_name, count(*), sum(status_code = 'ERROR'), "
                f"count(DISTINCT trace_no) FROM spans WHERE 1 {window} "
                f"GROUP BY service_name", params):
            totals[row[0]] = row[1:]
    result = []
    for name in sorted(set(entries) | set(totals)):
        entry_count, entry_errors, percentiles = entries.get(name, (0, 0, _NO_PERCENTILES))
        item = {"name": name}
        if counts:
            span_count, error_count, trace_count = totals.get(name, (0, 0, 0))
            item.update(span_count=span_count, trace_count=trace_count,
                        error_count=error_count)
        item.update({
            "entry_count": entry_count,
            "entry_error_count": entry_errors,
            "error_rate": entry_errors / entry_count if entry_count else 0.0,
            **percentiles,
        })
        result.append(item)
    return result


def service_names(path):
    """The names of all services in the store, sorted: cheap (an index walk), unlike
    services(), which measures every span."""
    def work(conn):
        # A skip-scan of the attribute index's service.name entries: one seek per service.
        names, last = [], ""
        while True:
            row = conn.execute("SELECT value FROM span_attributes WHERE key = 'service.name' "
                               "AND value > ? ORDER BY value LIMIT 1", (last,)).fetchone()
            if row is None:
                return names
            last = row[0]
            names.append(last)

    return _read(path, work, [])


def service_map(path, since_ns=None, until_ns=None):
    """Calls between services: one dict per (caller, callee) pair.

    A call is a span whose parent span belongs to another service (an entry span with
    a known caller, from `calls`). Counts, error rate and latency percentiles are those
    of the callee's spans.
    """
    window, params = _window("", since_ns, until_ns)

    def work(conn):
        return _edges(_entry_figures(conn, window, params)[1])

    return _read(path, work, [])


def _edges(figures):
    return [{"caller": caller, "callee": callee, "call_count": count,
             "error_count": errors, "error_rate": errors / count, **percentiles}
            for (caller, callee), (count, errors, percentiles) in sorted(figures.items())]


def map_summary(path, since_ns=None, until_ns=None):
    """{"services": services(counts=False), "edges": service_map()} from one pass over
    the entry spans (the service map page)."""
    window, params = _window("", since_ns, until_ns)

    def work(conn):
        entries, edges = _entry_figures(conn, window, params)
        return {"services": _services(conn, window, params, False, entries),
                "edges": _edges(edges)}

    return _read(path, work, {"services": [], "edges": []})


def operations(path, service):
    """Span names of one service with how often each occurs, most frequent first."""
    def work(conn):
        rows = conn.execute(
            "SELECT name, count(*) AS count FROM spans WHERE service_name = ? "
            "GROUP BY name ORDER BY count DESC, name", (service,))
        return [dict(row) for row in rows]

    return _read(path, work, [])


def _window(alias, since_ns, until_ns):
    sql, params = "", []
    column = f"{alias}.start_ns" if alias else "start_ns"
    if since_ns is not None:
        sql += f" AND {column} >= ?"
        params.append(int(since_ns))
    if until_ns is not None:
        sql += f" AND {column} <= ?"
        params.append(int(until_ns))
    return sql, params


_NO_PERCENTILES = {"p50_ns": None, "p95_ns": None, "p99_ns": None}


def _entry_figures(conn, window, params):
    """One pass over `calls` in the window: ({service: figures}, {(caller, callee):
    figures}), figures being (count, errors, percentiles) of the entry spans."""
    services, edges = {}, {}
    for caller, callee, duration, failed in conn.execute(
            f"SELECT caller, service_name, duration_ns, error FROM calls WHERE 1 {window}",
            params):
        entry = services.get(callee)
        if entry is None:
            services[callee] = entry = [[], 0]
        entry[0].append(duration)
        entry[1] += failed
        if caller is not None:
            edge = edges.get((caller, callee))
            if edge is None:
                edges[(caller, callee)] = edge = [[], 0]
            edge[0].append(duration)
            edge[1] += failed
    return _figures(services), _figures(edges)


def _figures(groups):
    result = {}
    for key, (durations, errors) in groups.items():
        durations.sort()
        result[key] = (len(durations), errors, _percentiles(durations))
    return result


def _percentiles(sorted_values):
    """Nearest-rank p50/p95/p99 in nanoseconds (None when there are no values)."""
    result = {}
    for label, share in (("p50_ns", 0.50), ("p95_ns", 0.95), ("p99_ns", 0.99)):
        if not sorted_values:
            result[label] = None
            continue
        rank = max(1, math.ceil(len(sorted_values) * share))
        result[label] = sorted_values[min(rank, len(sorted_values)) - 1]
    return result
