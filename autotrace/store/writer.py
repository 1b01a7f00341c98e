"""StoreExporter: the span exporter that writes finished spans into the local store.

Promises to the host app:
  * export() never raises. A failure returns FAILURE and prints one warning line to
    stderr (the first time only); the app keeps running, untraced.
  * Several processes can write to the same file at once: each batch is one
    BEGIN IMMEDIATE transaction, retried with backoff while another writer holds
    the lock.
  * A forked child never touches its parent's SQLite connection (SQLite forbids it):
    it opens its own.
  * The file stays near `max_mb`: oldest traces are deleted when it grows past it.
"""

import json
import os
import sqlite3
import sys
import threading
import time
import weakref

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from . import pruning, schema
from .rows import span_row_and_pairs, to_json
from .transactions import BUSY_TIMEOUT_S, in_retried_write_transaction, with_retries

__all__ = ["StoreExporter"]

# Check the file size after this share of the limit has been written by this
# process, or after SIZE_CHECK_INTERVAL_S (other processes write too).
SIZE_CHECK_SHARE = 0.02
SIZE_CHECK_INTERVAL_S = 2.0
# Rough per-row bytes that are not JSON text (ids, names, index entries).
ROW_OVERHEAD_BYTES = 200
# SQLite page cache per writing process, in KiB.
CACHE_KIB = 8192
# A checkpoint after pruning must not stall the app behind a long-lived reader.
CHECKPOINT_BUSY_MS = 200

# Connections inherited across fork. Closing them in the child could disturb the
# parent's locks or WAL, and letting them be garbage-collected closes them, so they
# are kept here, unused, for the life of the child.
_ABANDONED = []

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


class StoreExporter(SpanExporter):
    """Writes spans to the SQLite store at `path`, keeping it near `max_mb` megabytes."""

    def __init__(self, path, max_mb=200):
        self.path = os.path.abspath(os.path.expanduser(os.fspath(path)))
        try:
            max_mb = max(float(max_mb), 0.1)
        except (TypeError, ValueError):
            max_mb = 200.0  # settings validate this; never fail the app over it here
        self.max_bytes = int(max_mb * 1024 * 1024)
        self._lock = threading.Lock()
        self._conn = None
        self._pid = os.getpid()
        self._identity = None          # (st_dev, st_ino) of the file we opened
        self._warned = False
        self._shut_down = False
        self._written_since_check = 0
        self._last_size_check = None
        _reset_in_forked_children(self)

    # -- SpanExporter -------------------------------------------------------------

    def export(self, spans):
        if self._shut_down:
            return SpanExportResult.FAILURE
        try:
            if self._pid != os.getpid():
                self._forget_parent_connection()
            with self._lock:
                self._export_locked(spans)
            return SpanExportResult.SUCCESS
        except Exception as error:  # never raise into the host app
            self._warn_once(error)
            return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis=30000):
        # Every export is committed before it returns: nothing is buffered here.
        return True

    def shutdown(self):
        try:
            self._shut_down = True
            with self._lock:
                if self._conn is not None and self._pid == os.getpid():
                    self._conn.close()
                self._conn = None
        except Exception:
            pass

    def prepare(self):
        """Open the store now, creating or upgrading its layout (the viewer calls this at
        start, so a store from an older autotrace is readable before anything is
        written). Raises on failure, unlike export()."""
        if self._pid != os.getpid():
            self._forget_parent_connection()
        with self._lock:
            self._connection()

    # -- writing ------------------------------------------------------------------

    def write_rows(self, rows, attribute_pairs):
        """Write already-converted rows (OTLP ingest, import) in one transaction.

        The same path as export(), but failures raise: the caller (the viewer) answers
        its client with the reason. Either every row is written or none is.
        """
        if self._shut_down:
            raise RuntimeError("the store writer is shut down")
        if self._pid != os.getpid():
            self._forget_parent_connection()
        with self._lock:
            self._write_locked(list(rows), list(attribute_pairs))

    def _export_locked(self, spans):
        rows, attribute_pairs = [], []
        add_row, add_pairs = rows.append, attribute_pairs.append
        trace_hexes = {}
        for span in spans:
            row, pairs = span_row_and_pairs(span, trace_hexes)
            add_row(row)
            add_pairs(pairs)
        self._write_locked(rows, attribute_pairs)

    def _write_locked(self, rows, attribute_pairs):
        if not rows:
            return
        conn = self._connection()
        try:
            written = in_retried_write_transaction(
                conn, lambda c: _write_batch(c, rows, attribute_pairs))
        except sqlite3.Error:
            # Start afresh next time: the connection may be the problem (file
            # replaced, disk error). The failure itself is reported by export().
            self._close_quietly()
            raise
        self._written_since_check += written
        try:
            self._keep_under_limit(conn)
        except sqlite3.Error:
            # The batch is safely written; a prune that could not run (another
            # process busy for too long) is simply tried again at the next check.
            pass

    def _connection(self):
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self):
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
        try:
            # Only takes effect on a new, empty file; must come before any table.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            with_retries(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            conn.execute("PRAGMA synchronous = NORMAL")
            # Checkpoints (copying the WAL into the file, with fsync) dominate write
            # cost, so let the WAL grow to a tenth of the limit (at most 40 MB)
            # before one; and the store's size budget counts the WAL.
            limit_pages = self.max_bytes // 4096
            conn.execute(f"PRAGMA wal_autocheckpoint = {max(16, min(10_000, limit_pages // 10))}")
            conn.execute(f"PRAGMA journal_size_limit = {max(65536, self.max_bytes // 10)}")
            # Index pages keyed by random trace ids are touched all over; a bigger page
            # cache (allocated only as used) saves re-reading them for every batch.
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            in_retried_write_transaction(conn, schema.migrate)
            self._identity = _file_identity(self.path)
        except BaseException:
            conn.close()
            raise
        self._pid = os.getpid()
        return conn

    # -- size limit ---------------------------------------------------------------

    def _keep_under_limit(self, conn):
        now = time.monotonic()
        due = (self._last_size_check is None
               or self._written_since_check >= self.max_bytes * SIZE_CHECK_SHARE
               or now - self._last_size_check >= SIZE_CHECK_INTERVAL_S)
        if not due:
            return
        self._written_since_check = 0
        self._last_size_check = now
        if _file_identity(self.path) != self._identity:
            # The file was deleted or replaced (e.g. the user cleared the store):
            # writing on would go to an unlinked file. Reopen on the next batch.
            self._close_quietly()
            return
        if _store_bytes(self.path) <= self.max_bytes:
            return
        in_retried_write_transaction(conn, lambda c: pruning.prune(c, self.max_bytes))
        _checkpoint(conn)

    # -- failures and fork --------------------------------------------------------

    def _warn_once(self, error):
        if self._warned:
            return
        self._warned = True
        try:
            print(f"autotrace: cannot write traces to {self.path} ({_reason(error)}); "
                  "spans are dropped", file=sys.stderr, flush=True)
        except Exception:
            pass

    def _forget_parent_connection(self):
        """Called in a forked child: drop (never use, never close) the parent's state."""
        if self._conn is not None:
            _ABANDONED.append(self._conn)
        self._conn = None
        # The parent's lock may have been held by a thread that does not exist here.
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._written_since_check = 0
        self._last_size_check = None

    def _close_quietly(self):
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass


def _write_batch(conn, rows, attribute_pairs):
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


def _store_bytes(path):
    total = 0
    for name in (path, path + "-wal"):
        try:
            total += os.stat(name).st_size
        except OSError:
            pass
    return total


def _file_identity(path):
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _checkpoint(conn):
    """Copy the WAL into the database and truncate it, so freed space really leaves."""
    try:
        conn.execute(f"PRAGMA busy_timeout = {CHECKPOINT_BUSY_MS}")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except sqlite3.Error:
        pass  # a busy reader only delays it; the next check tries again
    finally:
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        except sqlite3.Error:
            pass


def _reason(error):
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(error) or type(error).__name__
    return text.splitlines()[0]


def _reset_in_forked_children(exporter):
    # A weak reference, so registering does not keep every exporter alive forever.
    ref = weakref.ref(exporter)

    def after_fork_in_child():
        target = ref()
        if target is not None:
            target._forget_parent_connection()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=after_fork_in_child)
