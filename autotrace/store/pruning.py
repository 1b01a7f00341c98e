"""Keeping the store under its size limit by forgetting the oldest traces.

Size is judged from live pages (page_count - freelist_count), not the file size: the
file only shrinks when freed pages are handed back by `incremental_vacuum`, so the
file size alone would make us delete again and again without effect.

Deleting rows from indexes keyed by random trace ids frees few whole pages (it leaves
room inside pages instead, which later inserts reuse), so one round of deletion may
not reach the target. A few rounds are allowed, never an unbounded loop that could
empty the store chasing pages that will not come back.
"""

import math

TARGET_RATIO = 0.9
MAX_ROUNDS = 3

# Tables keyed by trace_no. span_attributes and calls are not (see schema.py): they are
# swept once per prune instead of once per deleted trace.
_TABLES_BY_TRACE = ("spans", "traces")
_SWEPT = ("span_attributes", "calls")


def live_bytes(conn):
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return (pages - free) * page_size


def _prune_inbox(conn, share):
    """Delete the oldest `share` of the waiting batches; False when there are none."""
    total = conn.execute("SELECT count(*) FROM inbox").fetchone()[0]
    if total == 0:
        return False
    count = max(1, math.ceil(total * share))
    conn.execute("DELETE FROM inbox WHERE batch_no IN "
                 "(SELECT batch_no FROM inbox ORDER BY batch_no LIMIT ?)", (count,))
    return True


def prune(conn, max_bytes):
    """Delete the oldest traces until live data is under ~90% of `max_bytes`; when no
    indexed trace is left, the oldest batches waiting in the inbox.

    Runs inside the caller's write transaction. Returns how many traces were deleted.
    Freed pages are returned to the file system (auto_vacuum=INCREMENTAL), so the
    file shrinks once the WAL is checkpointed.
    """
    target = max_bytes * TARGET_RATIO
    deleted = 0
    for _ in range(MAX_ROUNDS):
        used = live_bytes(conn)
        if used <= target:
            break
        share = (used - target) / used
        total = conn.execute("SELECT count(*) FROM traces").fetchone()[0]
        if total == 0:
            # Everything left is waiting in the inbox (no reader has indexed it yet):
            # its oldest batches go instead, whole (a trace cut at a batch boundary
            # keeps its newer spans).
            if not _prune_inbox(conn, share):
                break
            continue
        count = max(1, math.ceil(total * share))
        doomed = [(row[0],) for row in conn.execute(
            "SELECT trace_no FROM traces ORDER BY start_ns LIMIT ?", (count,))]
        for table in _TABLES_BY_TRACE:
            conn.executemany(f"DELETE FROM {table} WHERE trace_no = ?", doomed)
        deleted += len(doomed)
    if deleted:
        for table in _SWEPT:
            conn.execute(f"DELETE FROM {table} "
                         "WHERE trace_no NOT IN (SELECT trace_no FROM traces)")
    conn.execute("PRAGMA incremental_vacuum").fetchall()
    return deleted
