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

import os
import sqlite3
import sys
import threading
import time
import weakref

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from . import pruning, schema
from .rows import searchable_attributes, span_to_row
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
    "INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, service_name, name, "
    "kind, start_ns, end_ns, duration_ns, status_code, status_message, attributes, "
    "events, links, resource, scope_name, scope_version) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_SERVICE = "INSERT OR IGNORE INTO trace_services (service_name, trace_id) VALUES (?, ?)"
_INSERT_ATTRIBUTE = "INSERT OR IGNORE INTO span_attributes (key, value, trace_id) VALUES (?, ?, ?)"
# Spans of one trace arrive in several batches, from several processes, root last or
# never: each batch folds its new spans into the summary row. SET expressions see the
# row as it was before this update.
_UPSERT_TRACE = """
INSERT INTO traces (trace_id, start_ns, end_ns, duration_ns, root_span_id, root_service,
                    root_name, first_service, first_name, span_count, error_count, services)
VALUES (:trace_id, :start_ns, :end_ns, max(0, :end_ns - :start_ns), :root_span_id,
        :root_service, :root_name, :first_service, :first_name, :span_count, :error_count,
        (SELECT json_group_array(service_name) FROM
            (SELECT service_name FROM trace_services WHERE trace_id = :trace_id
             ORDER BY service_name)))
ON CONFLICT (trace_id) DO UPDATE SET
    start_ns = min(traces.start_ns, excluded.start_ns),
    end_ns = max(traces.end_ns, excluded.end_ns),
    duration_ns = max(0, max(traces.end_ns, excluded.end_ns)
                         - min(traces.start_ns, excluded.start_ns)),
    root_span_id = coalesce(traces.root_span_id, excluded.root_span_id),
    root_service = CASE WHEN traces.root_span_id IS NULL
                        THEN excluded.root_service ELSE traces.root_service END,
    root_name = CASE WHEN traces.root_span_id IS NULL
                     THEN excluded.root_name ELSE traces.root_name END,
    first_service = CASE WHEN excluded.start_ns < traces.start_ns
                         THEN excluded.first_service ELSE traces.first_service END,
    first_name = CASE WHEN excluded.start_ns < traces.start_ns
                      THEN excluded.first_name ELSE traces.first_name END,
    span_count = traces.span_count + excluded.span_count,
    error_count = traces.error_count + excluded.error_count,
    services = excluded.services
"""


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
        for span in spans:
            rows.append(span_to_row(span))
            attribute_pairs.append(searchable_attributes(span))
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
    """Insert one batch and fold its new spans into the trace summaries.

    Returns an estimate of the bytes written, for the size check. Spans already in the
    store (re-exported) are skipped and do not count twice in the summaries.
    """
    cursor = conn.cursor()
    summaries = {}
    services = set()
    attributes = set()
    written = 0
    for row, pairs in zip(rows, attribute_pairs):
        cursor.execute(_INSERT_SPAN, row)
        if cursor.rowcount != 1:
            continue
        written += (ROW_OVERHEAD_BYTES + len(row.attributes) + len(row.events)
                    + len(row.links) + len(row.resource))
        trace_id = row.trace_id
        services.add((row.service_name, trace_id))
        for key, value in pairs:
            attributes.add((key, value, trace_id))
        _fold(summaries, row)
    cursor.executemany(_INSERT_SERVICE, services)
    cursor.executemany(_INSERT_ATTRIBUTE, attributes)
    cursor.executemany(_UPSERT_TRACE, summaries.values())
    return written


def _fold(summaries, row):
    summary = summaries.get(row.trace_id)
    if summary is None:
        summaries[row.trace_id] = summary = {
            "trace_id": row.trace_id, "start_ns": row.start_ns, "end_ns": row.end_ns,
            "root_span_id": None, "root_service": None, "root_name": None,
            "first_service": row.service_name, "first_name": row.name,
            "span_count": 0, "error_count": 0,
        }
    elif row.start_ns < summary["start_ns"]:
        summary["start_ns"] = row.start_ns
        summary["first_service"] = row.service_name
        summary["first_name"] = row.name
    if row.end_ns > summary["end_ns"]:
        summary["end_ns"] = row.end_ns
    if row.parent_span_id is None and summary["root_span_id"] is None:
        summary["root_span_id"] = row.span_id
        summary["root_service"] = row.service_name
        summary["root_name"] = row.name
    summary["span_count"] += 1
    if row.status_code == "ERROR":
        summary["error_count"] += 1


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
