"""Ordering one trace's spans as a tree, for the waterfall.

Stored traces are not always well-formed: the root may never have arrived, a parent
may have been pruned or lost with a crashed process, and ids may even form a cycle.
Every span is shown exactly once whatever happens: spans whose parent is not in the
trace become top-level rows marked as orphans, and so do spans caught in a cycle.
"""

from typing import NamedTuple

BRANCH = "├─ "
LAST_BRANCH = "└─ "
CONTINUE = "│  "
BLANK = "   "


class TreeRow(NamedTuple):
    span: dict
    depth: int
    prefix: str      # the tree-drawing characters that go before the span's name
    orphan: bool     # has a parent id, but that parent is not in the trace


def _start_key(span):
    return (span.get("start_ns") or 0, span.get("span_id") or "")


def tree_rows(spans):
    """Rows in display order: depth-first, children sorted by start time."""
    by_id = {span["span_id"]: span for span in spans}
    children = {}
    tops = []
    for span in spans:
        parent = span.get("parent_span_id")
        if parent and parent in by_id and parent != span["span_id"]:
            children.setdefault(parent, []).append(span)
        else:
            tops.append(span)
    for siblings in children.values():
        siblings.sort(key=_start_key)
    tops.sort(key=_start_key)

    rows, seen = [], set()
    _walk(tops, children, rows, seen)
    # Whatever was not reached hangs in a parent cycle: show it rather than lose it.
    leftovers = sorted((span for span in spans if span["span_id"] not in seen), key=_start_key)
    while leftovers:
        _walk([leftovers[0]], children, rows, seen, forced_orphan=True)
        leftovers = [span for span in leftovers if span["span_id"] not in seen]
    return rows


def _walk(tops, children, rows, seen, forced_orphan=False):
    # An explicit stack: a trace can nest deeper than Python's recursion limit.
    stack = [(span, 0, "", "", True) for span in reversed(tops)]
    while stack:
        span, depth, prefix, guide, top = stack.pop()
        span_id = span["span_id"]
        if span_id in seen:
            continue
        seen.add(span_id)
        orphan = top and (forced_orphan or bool(span.get("parent_span_id")))
        rows.append(TreeRow(span, depth, prefix, orphan))
        kids = [kid for kid in children.get(span_id, ()) if kid["span_id"] not in seen]
        for index in range(len(kids) - 1, -1, -1):
            last = index == len(kids) - 1
            stack.append((kids[index], depth + 1,
                          guide + (LAST_BRANCH if last else BRANCH),
                          guide + (BLANK if last else CONTINUE), False))
