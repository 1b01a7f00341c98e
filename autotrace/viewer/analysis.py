"""What the trace page shows beyond the raw spans, worked out in Python so it can be
tested: display times corrected for clock skew, the critical path, self time per
service and operation, and two patterns worth a flag (N+1 queries, sequential calls).

Input is the span dicts of one trace (queries.get_trace); nothing here raises on a
malformed trace: orphans, cycles and skewed clocks all still give an answer.
"""

import json
import re

from autotrace import semconv
from autotrace.sql import summarize
from autotrace.store.tree import tree_rows

__all__ = ["analyze", "N_PLUS_ONE_MIN", "SEQUENTIAL_MIN"]

# One parent with this many children running the same sanitised query: N+1.
N_PLUS_ONE_MIN = 5
# This many calls out of one parent, one after another, to different places.
SEQUENTIAL_MIN = 3
_QUERY_KEYS = (semconv.DB_QUERY_TEXT, "db.statement")
_CALL_KINDS = frozenset({"CLIENT", "PRODUCER"})


def analyze(spans):
    """A dict for the trace page: ordered rows with display times, and the findings."""
    rows = tree_rows(spans)
    by_id = {row.span["span_id"]: row.span for row in rows}
    children = _children(rows, by_id)
    start, end = _adjusted_times(rows, by_id)
    trace_start = min(start.values(), default=0)
    trace_end = max(end.values(), default=0)
    critical = _critical_path(rows, children, start, end)
    self_ns = _self_times(rows, children, start, end)
    queries = {span_id: _query_of(span) for span_id, span in by_id.items()}
    orphans = [row.span["span_id"] for row in rows if row.orphan]
    out_rows = []
    for row in rows:
        span_id = row.span["span_id"]
        out_rows.append({
            "span_id": span_id, "depth": row.depth, "orphan": row.orphan,
            "offset_ns": start[span_id] - trace_start,
            "duration_ns": end[span_id] - start[span_id],
            "skew_shift_ns": start[span_id] - row.span["start_ns"],
            "critical": span_id in critical, "self_ns": self_ns[span_id],
            "child_count": len(children.get(span_id, ())),
        })
    return {
        "rows": out_rows,
        "duration_ns": trace_end - trace_start,
        "start_ns": trace_start,
        "incomplete": bool(orphans) or not any(not s.get("parent_span_id") for s in spans),
        "orphans": orphans,
        "critical_path": [row["span_id"] for row in out_rows if row["critical"]],
        "self_time": _self_time_breakdown(rows, self_ns),
        "flags": _n_plus_one(children, by_id, queries) + _sequential(children, by_id, start, end, queries),
    }


def _children(rows, by_id):
    children = {}
    for row in rows:
        parent = row.span.get("parent_span_id")
        if parent in by_id and not row.orphan:
            children.setdefault(parent, []).append(row.span)
    return children


def _adjusted_times(rows, by_id):
    """Start/end per span after clamping clock skew between services.

    Spans of one service share a clock, so only a hop to another service can be
    skewed: a child from another service that starts before its parent (or ends after
    it, when it would fit) is shifted, with its whole subtree, to lie inside it.
    Durations are never changed, so no bar gets negative or longer than measured.
    """
    start, end, shift = {}, {}, {}
    for row in rows:  # depth-first order: a parent is always placed before its children
        span = row.span
        span_id = span["span_id"]
        duration = max(0, (span.get("end_ns") or 0) - (span.get("start_ns") or 0))
        parent_id = span.get("parent_span_id")
        delta = shift.get(parent_id, 0) if not row.orphan else 0
        begin = (span.get("start_ns") or 0) + delta
        parent = by_id.get(parent_id) if not row.orphan else None
        if parent is not None and parent.get("service_name") != span.get("service_name"):
            p_start, p_end = start[parent_id], end[parent_id]
            if begin < p_start:
                begin = p_start
            elif begin + duration > p_end and duration <= p_end - p_start:
                begin = p_end - duration
        shift[span_id] = begin - (span.get("start_ns") or 0)
        start[span_id], end[span_id] = begin, begin + duration
    return start, end


def _critical_path(rows, children, start, end):
    """Span ids on the critical path: walking back from the end of the trace, the
    child that finished last before the current point is what the parent waited on."""
    tops = [row.span for row in rows if row.depth == 0]
    if not tops:
        return set()
    real_roots = [span for span in tops if not span.get("parent_span_id")]
    top = max(real_roots or tops, key=lambda s: (end[s["span_id"]], -start[s["span_id"]]))
    critical = set()
    stack = [(top, end[top["span_id"]])]
    while stack:  # explicit stack: traces can nest deeper than the recursion limit
        span, until = stack.pop()
        span_id = span["span_id"]
        if span_id in critical:
            continue
        critical.add(span_id)
        cursor = min(end[span_id], until)
        for child in sorted(children.get(span_id, ()), key=lambda s: end[s["span_id"]], reverse=True):
            if cursor <= start[span_id]:
                break
            child_id = child["span_id"]
            if start[child_id] >= cursor:
                continue  # runs entirely after what we are explaining
            stack.append((child, cursor))
            cursor = start[child_id]
    return critical


def _self_times(rows, children, start, end):
    """Duration minus the time covered by at least one child (clipped to the span)."""
    result = {}
    for row in rows:
        span_id = row.span["span_id"]
        lo, hi = start[span_id], end[span_id]
        covered, cursor = 0, lo
        for a, b in sorted((max(lo, start[c["span_id"]]), min(hi, end[c["span_id"]]))
                           for c in children.get(span_id, ())):
            if b <= cursor:
                continue
            a = max(a, cursor)
            covered += b - a
            cursor = b
        result[span_id] = max(0, hi - lo - covered)
    return result


def _self_time_breakdown(rows, self_ns):
    services, operations = {}, {}
    for row in rows:
        span = row.span
        service = span.get("service_name")
        value = self_ns[span["span_id"]]
        services[service] = services.get(service, 0) + value
        key = (service, span.get("name"))
        total, count = operations.get(key, (0, 0))
        operations[key] = (total + value, count + 1)
    total = sum(services.values()) or 1
    return {
        "services": [{"service": name, "self_ns": value, "share": value / total}
                     for name, value in sorted(services.items(), key=lambda item: -item[1])],
        "operations": [{"service": service, "name": name, "self_ns": value, "count": count,
                        "share": value / total}
                       for (service, name), (value, count)
                       in sorted(operations.items(), key=lambda item: -item[1][0])],
    }


def _attributes(span, wanted):
    """The span's attributes as a dict, or None when it has none of the `wanted` keys.

    Attributes may still be the stored JSON text (queries.get_trace_json): it is only
    decoded when one of the wanted keys appears in it, which for most spans of a big
    trace it does not."""
    attributes = span.get("attributes")
    if not attributes:
        return None
    if isinstance(attributes, str):
        if _KEY_PATTERNS[wanted].search(attributes) is None:
            return None
        try:
            attributes = json.loads(attributes)
        except ValueError:
            return None
    return attributes if isinstance(attributes, dict) else None


def _query_of(span):
    if "query_text" in span:  # extracted by queries.get_trace_json
        text = span["query_text"]
        return summarize(text).text or None if isinstance(text, str) and text.strip() else None
    attributes = _attributes(span, _QUERY_KEYS)
    if attributes is None:
        return None
    for key in _QUERY_KEYS:
        text = attributes.get(key)
        if isinstance(text, str) and text.strip():
            return summarize(text).text or None  # summarize() caches per statement
    return None


def _n_plus_one(children, by_id, queries):
    flags = []
    for parent_id, kids in children.items():
        groups = {}
        for kid in kids:
            query = queries[kid["span_id"]]
            if query:
                groups.setdefault(query, []).append(kid["span_id"])
        for query, ids in groups.items():
            if len(ids) >= N_PLUS_ONE_MIN:
                flags.append({"kind": "n+1", "parent_span_id": parent_id, "query": query,
                              "count": len(ids), "span_ids": ids,
                              "message": f"{len(ids)} identical queries under "
                                         f"{by_id[parent_id]['name']!r}: {query}"})
    return flags


def _target(span, queries):
    """What a call goes to: name, query, and URL or peer when the span has them."""
    attributes = _attributes(span, _TARGET_KEYS) or {}
    place = next((attributes[key] for key in _TARGET_KEYS if attributes.get(key)), None)
    return (span.get("name"), queries[span["span_id"]], str(place) if place is not None else None)


def _different_targets(run, queries):
    first = _target(run[0], queries)
    return any(_target(span, queries) != first for span in run[1:])


_TARGET_KEYS = ("url.full", "http.url", "url.path", "rpc.method", "messaging.destination.name",
                "server.address")
# For each key set: finds any of its keys in attributes' JSON text (one C call).
_KEY_PATTERNS = {keys: re.compile("|".join(re.escape(json.dumps(key)) for key in keys))
                 for keys in (_QUERY_KEYS, _TARGET_KEYS)}


def _sequential(children, by_id, start, end, queries):
    """Runs of calls out of one parent, each starting after the previous one ended, to
    different targets (identical repeats are the N+1 flag's business). Whether they
    really are independent cannot be seen in a trace: the flag says "may"."""
    flags = []
    for parent_id, kids in children.items():
        calls = sorted((kid for kid in kids if kid.get("kind") in _CALL_KINDS or queries[kid["span_id"]]),
                       key=lambda s: start[s["span_id"]])
        run = []
        for call in calls + [None]:
            if call is not None and (not run or start[call["span_id"]] >= end[run[-1]["span_id"]]):
                run.append(call)
                continue
            if len(run) >= SEQUENTIAL_MIN and _different_targets(run, queries):
                ids = [s["span_id"] for s in run]
                total = sum(end[i] - start[i] for i in ids)
                flags.append({"kind": "sequential", "parent_span_id": parent_id, "count": len(ids),
                              "span_ids": ids, "total_ns": total,
                              "message": f"{len(ids)} calls under {by_id[parent_id]['name']!r} run "
                                         "one after another; if they do not depend on each other "
                                         "they could run in parallel"})
            run = [call] if call is not None else []
    return flags
