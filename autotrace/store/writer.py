"""StoreExporter: the span exporter that writes finished spans into the local store.

Promises to the host app:
  * export() costs the app little: the batch is packed (store/spool.py) and appended
    to the store's inbox in one short transaction. Indexing it (summaries, search
    index, service map) is left to readers and to the app's idle time
    (store/indexer.py), never done while spans keep coming.
  * export() never raises. A failure returns FAILURE and prints one warning line to
    stderr (the first time only); the app keeps running, untraced.
  * Several processes can write to the same file at once: each batch is one
    BEGIN IMMEDIATE transaction, retried with backoff while another writer holds
    the lock.
  * A forked child never touches its parent's SQLite connection (SQLite forbids it):
    it opens its own.
  * The file stays near `max_mb`: oldest traces (and oldest waiting batches) are
    deleted when it grows past it.
"""

import os
import sqlite3
import sys
import threading
import time
import weakref

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from . import pruning
from .connection import checkpoint, file_identity, open_writable, store_bytes
from .indexer import index_pending
from .spool import FORMAT, pack
from .tables import write_batch
from .transactions import in_retried_write_transaction

__all__ = ["StoreExporter"]

# Check the file size after this share of the limit has been written by this
# process, or after SIZE_CHECK_INTERVAL_S (other processes write too).
SIZE_CHECK_SHARE = 0.02
SIZE_CHECK_INTERVAL_S = 2.0
# Idle-time indexing: spans per transaction (a few milliseconds of work, so a request
# that arrives meanwhile waits little for the GIL), and at most this many per idle turn.
IDLE_CHUNK_SPANS = 256
IDLE_MAX_SPANS = 20_000

# Connections inherited across fork. Closing them in the child could disturb the
# parent's locks or WAL, and letting them be garbage-collected closes them, so they
# are kept here, unused, for the life of the child.
_ABANDONED = []

_INSERT_BATCH = "INSERT INTO inbox (format, span_count, body) VALUES (?, ?, ?)"


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
        body, count = pack(spans)
        if not count:
            return
        conn = self._connection()
        record = (FORMAT, count, sqlite3.Binary(body))
        try:
            in_retried_write_transaction(conn, lambda c: c.execute(_INSERT_BATCH, record))
        except sqlite3.Error:
            self._close_quietly()   # the connection may be the problem: start afresh next time
            raise
        self._after_write(conn, len(body))

    def on_idle(self, should_stop):
        """Index what is waiting in the inbox while the app is idle (the batching
        processor calls this when no span has ended for a while), a small chunk at a
        time, until `should_stop()` says spans are coming again. Never raises."""
        if self._shut_down or self._pid != os.getpid() or self._conn is None:
            return
        try:
            with self._lock:
                index_pending(self._conn, max_spans=IDLE_MAX_SPANS, should_stop=should_stop,
                              chunk_spans=IDLE_CHUNK_SPANS)
        except Exception:
            pass   # a reader will index it instead

    def _write_locked(self, rows, attribute_pairs):
        if not rows:
            return
        conn = self._connection()
        try:
            written = in_retried_write_transaction(
                conn, lambda c: write_batch(c, rows, attribute_pairs))
        except sqlite3.Error:
            # Start afresh next time: the connection may be the problem (file
            # replaced, disk error). The failure itself is reported by export().
            self._close_quietly()
            raise
        self._after_write(conn, written)

    def _after_write(self, conn, written):
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
        conn = open_writable(self.path, self.max_bytes)
        self._identity = file_identity(self.path)
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
        if file_identity(self.path) != self._identity:
            # The file was deleted or replaced (e.g. the user cleared the store):
            # writing on would go to an unlinked file. Reopen on the next batch.
            self._close_quietly()
            return
        if store_bytes(self.path) <= self.max_bytes:
            return
        in_retried_write_transaction(conn, lambda c: pruning.prune(c, self.max_bytes))
        checkpoint(conn)

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
