"""What the trace page shows beyond the raw spans, worked out in Python so it can be
tested: display order and times corrected for clock skew, the critical path, self
time per service and operation, and two patterns worth a flag (N+1 queries,
sequential calls).

Input is one trace as columns (queries.TraceColumns; `columns_of` makes them from span
dicts). Spans are referred to by their position in those columns, and every step is a
pass over plain lists: a 10,000-span trace is analysed in tens of milliseconds.
Nothing here raises on a malformed trace: orphans, cycles and skewed clocks all still
give an answer.
"""

from itertools import compress
from operator import itemgetter

from autotrace.sql import summarize
from autotrace.store.queries import QUERY_KEYS, TARGET_KEYS, TraceColumns

__all__ = ["analyze", "columns_of", "N_PLUS_ONE_MIN", "SEQUENTIAL_MIN"]

# One parent with this many children running the same sanitised query: N+1.
N_PLUS_ONE_MIN = 5
# This many calls out of one parent, one after another, to different places.
SEQUENTIAL_MIN = 3
_CALL_KINDS = frozenset({"CLIENT", "PRODUCER"})


def analyze(trace):
    """A dict for the trace page from a TraceColumns.

    rows: columns in display order (depth first, children by start time); `span` is
      the span's position in the input, the rest are its depth, its bar (offset from
      the trace's start and duration, after skew correction, and the shift applied),
      self time, number of children shown under it, and orphan and critical-path marks.
    Also: the trace's start and duration, orphans, the critical path (span ids in
    display order), self time per service and per operation, and the flags.
    """
    tree = _Tree(trace)
    order = tree.order
    start, end, shift = _adjusted_times(trace, tree)
    trace_start = min(start, default=0)
    trace_end = max(end, default=0)
    self_ns = _self_times(tree, start, end)
    critical = _critical_path(trace, tree, start, end)
    summaries = _query_summaries(trace.query_text)
    children = tree.children
    child_count = [0] * len(order)
    for parent, kids in children.items():
        child_count[parent] = len(kids)
    shown = _in_order(order)
    ids, orphan, on_path = shown(trace.span_id), shown(tree.orphan), shown(critical)
    return {
        "rows": {
            "span": order,
            "depth": shown(tree.depth),
            "offset_ns": shown([begin - trace_start for begin in start]),
            "duration_ns": shown([stop - begin for begin, stop in zip(start, end)]),
            "skew_shift_ns": shown(shift),
            "self_ns": shown(self_ns),
            "child_count": shown(child_count),
            "orphan": orphan,
            "critical": on_path,
        },
        "duration_ns": trace_end - trace_start,
        "start_ns": trace_start,
        "incomplete": any(orphan) or all(trace.parent_span_id),
        "orphans": list(compress(ids, orphan)),
        "critical_path": list(compress(ids, on_path)),
        "self_time": _self_time_breakdown(trace, self_ns),
        "flags": _n_plus_one(trace, children, summaries)
                 + _sequential(trace, children, start, end, summaries),
    }


def _in_order(order):
    """A function giving a per-position list's values in display order (in C)."""
    if len(order) > 1:
        pick = itemgetter(*order)
        return lambda values: list(pick(values))
    return lambda values: [values[i] for i in order]


class _Tree:
    """The display tree: depth-first order, children sorted by start time (ties by
    span id). A span whose parent is not in the trace is a top-level orphan; so is one
    caught in a parent cycle (never reached from a top), rather than being lost.

    children: {position: [child positions in start order]} for the tree as shown.
    """

    def __init__(self, trace):
        ids, parents, starts = trace.span_id, trace.parent_span_id, trace.start_ns
        count = len(ids)
        position = dict(zip(ids, range(count)))
        self.parent = parent = [position.get(p) if p else None for p in parents]
        children, tops = {}, []
        # A stable sort of positions (span id order) by start: ties stay in id order.
        for i in sorted(range(count), key=starts.__getitem__):
            p = parent[i]
            if p is None or p == i:
                tops.append(i)
            elif p in children:
                children[p].append(i)
            else:
                children[p] = [i]
        self.children = children
        self.order, self.depth = [], [0] * count
        self.is_top = is_top = [False] * count
        self.orphan = [False] * count
        seen = bytearray(count)
        self._walk(tops, seen, forced_orphan=False)
        if len(self.order) < count:  # parent cycles: show what was not reached
            for i in sorted(range(count), key=starts.__getitem__):
                if not seen[i]:
                    self._walk([i], seen, forced_orphan=True)
            for p, kids in children.items():
                children[p] = [k for k in kids if not is_top[k]]
            self.children = {p: kids for p, kids in children.items() if kids}
        for i in tops:
            self.orphan[i] = bool(parents[i])

    def _walk(self, tops, seen, forced_orphan):
        order, depth, children = self.order, self.depth, self.children
        for top in tops:
            self.is_top[top] = True
            if forced_orphan:
                self.orphan[top] = True
        # An explicit stack: a trace can nest deeper than Python's recursion limit.
        stack = tops[::-1]
        while stack:
            i = stack.pop()
            if seen[i]:
                continue
            seen[i] = 1
            order.append(i)
            kids = children.get(i)
            if kids:
                below = depth[i] + 1
                for k in kids:
                    if not seen[k]:  # seen: a parent cycle leads back up
                        depth[k] = below
                stack.extend(reversed(kids))


def _adjusted_times(trace, tree):
    """Start, end and shift per span after clamping clock skew between services.

    Spans of one service share a clock, so only a hop to another service can be
    skewed: a child from another service that starts before its parent (or ends after
    it, when it would fit) is shifted, with its whole subtree, to lie inside it.
    Durations are never changed (a negative one counts as 0), so no bar gets negative
    or longer than measured.
    """
    starts, ends, services = trace.start_ns, trace.end_ns, trace.service_name
    parent, is_top = tree.parent, tree.is_top
    count = len(starts)
    start, end, shift = [0] * count, [0] * count, [0] * count
    for i in tree.order:  # depth-first: a parent is always placed before its children
        begin = starts[i]
        duration = ends[i] - begin
        if duration < 0:
            duration = 0
        if not is_top[i]:
            p = parent[i]
            begin += shift[p]
            if services[i] != services[p]:
                p_start, p_end = start[p], end[p]
                if begin < p_start:
                    begin = p_start
                elif begin + duration > p_end and duration <= p_end - p_start:
                    begin = p_end - duration
            shift[i] = begin - starts[i]
        start[i], end[i] = begin, begin + duration
    return start, end, shift


def _critical_path(trace, tree, start, end):
    """Per position, whether the span is on the critical path: walking back from the
    end of the trace, the child that finished last before the current point is what
    the parent waited on."""
    tops = [i for i in tree.order if tree.is_top[i]]
    critical = [False] * len(start)
    if not tops:
        return critical
    real_roots = [i for i in tops if not trace.parent_span_id[i]]
    top = max(real_roots or tops, key=lambda i: (end[i], -start[i]))
    children = tree.children
    # An explicit stack: traces can nest deeper than the recursion limit. The tree
    # has no cycles (children are as displayed), so each span is pushed at most once.
    stack = [(top, end[top])]
    while stack:
        i, until = stack.pop()
        critical[i] = True
        kids = children.get(i)
        if not kids:
            continue
        cursor, floor = min(end[i], until), start[i]
        for child in sorted(kids, key=end.__getitem__, reverse=True):
            if cursor <= floor:
                break
            if start[child] >= cursor:
                continue  # runs entirely after what we are explaining
            stack.append((child, cursor))
            cursor = start[child]
    return critical


def _self_times(tree, start, end):
    """Duration minus the time covered by at least one child (clipped to the span)."""
    self_ns = [e - s for s, e in zip(start, end)]
    for i, kids in tree.children.items():
        lo, hi = start[i], end[i]
        spans = [(start[k], end[k]) for k in kids]
        spans.sort()  # children are in start order before skew correction: nearly sorted
        covered, cursor = 0, lo
        for a, b in spans:
            if a < cursor:
                a = cursor
            if b > hi:
                b = hi
            if b > a:  # a child outside the parent (before, after) covers none of it
                covered += b - a
                cursor = b
        self_ns[i] = hi - lo - covered
    return self_ns


def _self_time_breakdown(trace, self_ns):
    services, operations = {}, {}
    for key, value in zip(zip(trace.service_name, trace.name), self_ns):
        found = operations.get(key)
        if found is None:
            operations[key] = [value, 1]
        else:
            found[0] += value
            found[1] += 1
    for (service, _), (value, _) in operations.items():
        services[service] = services.get(service, 0) + value
    total = sum(services.values()) or 1
    return {
        "services": [{"service": name, "self_ns": value, "share": value / total}
                     for name, value in sorted(services.items(), key=lambda item: -item[1])],
        "operations": [{"service": service, "name": name, "self_ns": value, "count": count,
                        "share": value / total}
                       for (service, name), (value, count)
                       in sorted(operations.items(), key=lambda item: -item[1][0])],
    }


def _query_summaries(texts):
    """Per span: its sanitised query (summarize() groups what differs only in values),
    or None."""
    found = {}
    result = [None] * len(texts)
    for i, text in enumerate(texts):
        if text.__class__ is not str:  # None, or not text: no query to compare
            continue
        summary = found.get(text)
        if summary is None:
            summary = found[text] = summarize(text).text
        if summary:
            result[i] = summary
    return result


def _n_plus_one(trace, children, summaries):
    flags = []
    for parent, kids in children.items():
        groups = {}
        for kid in kids:
            query = summaries[kid]
            if query:
                if query in groups:
                    groups[query].append(kid)
                else:
                    groups[query] = [kid]
        for query, members in groups.items():
            if len(members) >= N_PLUS_ONE_MIN:
                flags.append({"kind": "n+1", "parent_span_id": trace.span_id[parent], "query": query,
                              "count": len(members), "span_ids": [trace.span_id[k] for k in members],
                              "message": f"{len(members)} identical queries under "
                                         f"{trace.name[parent]!r}: {query}"})
    return flags


def _sequential(trace, children, start, end, summaries):
    """Runs of calls out of one parent, each starting after the previous one ended, to
    different targets (identical repeats are the N+1 flag's business). Whether they
    really are independent cannot be seen in a trace: the flag says "may"."""
    kinds, names, targets = trace.kind, trace.name, trace.target
    flags = []
    for parent, kids in children.items():
        calls = [k for k in kids if kinds[k] in _CALL_KINDS or summaries[k]]
        if len(calls) < SEQUENTIAL_MIN:
            continue
        calls.sort(key=start.__getitem__)
        run = []
        for call in calls + [None]:
            if call is not None and (not run or start[call] >= end[run[-1]]):
                run.append(call)
                continue
            if len(run) >= SEQUENTIAL_MIN:
                head = run[0]
                name, query, target = names[head], summaries[head], targets[head]
                if any(names[k] != name or summaries[k] != query or targets[k] != target
                       for k in run):
                    ids = [trace.span_id[k] for k in run]
                    flags.append({
                        "kind": "sequential", "parent_span_id": trace.span_id[parent],
                        "count": len(run), "span_ids": ids,
                        "total_ns": sum(end[k] - start[k] for k in run),
                        "message": f"{len(run)} calls under {trace.name[parent]!r} run one after "
                                   "another; if they do not depend on each other they could run "
                                   "in parallel"})
            run = [call] if call is not None else []
    return flags


# -- from span dicts ---------------------------------------------------------------

def columns_of(spans):
    """TraceColumns from span dicts (as queries.get_trace returns them, or built by
    hand), ordered by span id like the store's; `resource` and `json` are left empty."""
    spans = sorted(spans, key=lambda span: span["span_id"])
    attributes = [span.get("attributes") if isinstance(span.get("attributes"), dict) else {}
                  for span in spans]
    return TraceColumns(
        span_id=tuple(span["span_id"] for span in spans),
        parent_span_id=tuple(span.get("parent_span_id") for span in spans),
        service_name=tuple(span.get("service_name") for span in spans),
        name=tuple(span.get("name") for span in spans),
        kind=tuple(span.get("kind") for span in spans),
        start_ns=tuple(span.get("start_ns") or 0 for span in spans),
        end_ns=tuple(span.get("end_ns") or 0 for span in spans),
        status_code=tuple(span.get("status_code") for span in spans),
        query_text=tuple(_first(found, QUERY_KEYS) for found in attributes),
        target=tuple(_first(found, TARGET_KEYS) if span.get("kind") in _CALL_KINDS else None
                     for span, found in zip(spans, attributes)),
        resource=tuple(None for _ in spans),
        json="")


def _first(attributes, keys):
    """The first of `keys` present (with a non-null value), as SQLite's coalesce of
    json_extract would give it."""
    return next((attributes[key] for key in keys if attributes.get(key) is not None), None)
