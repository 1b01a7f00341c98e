"""Moving spooled batches from the inbox into the indexed tables.

Apps only append packed batches to the inbox (store/spool.py). Whoever reads the
store indexes what is waiting first (`catch_up`, called by every query in
store/queries.py: `autotrace traces`, `show`, `export`, `view`), and an app's
export thread does it in the app's idle time (StoreExporter.on_idle). Any number
of indexers may run at once, in any processes: each chunk is one write transaction
that indexes the oldest batches and deletes them, so no batch is indexed twice.
"""

import os
import sqlite3
import threading
import urllib.parse

from . import schema
from .connection import file_identity, open_writable
from .inbox_rows import rows_from_batch
from .spool import unpack
from .tables import write_batch
from .transactions import ATTEMPTS, is_busy, with_retries, write_transaction

__all__ = ["index_pending", "catch_up", "pending_spans"]

# Spans per write transaction: small enough that an app's exporter waiting on the lock
# waits a few tens of milliseconds, large enough to amortise the commit.
CHUNK_SPANS = 2048
# A reader waits this long for another writer's lock before it reads what is indexed
# already: readers must not hang behind a long transaction (a migration, a prune).
READER_WAIT_MS = 500


def pending_spans(conn):
    """How many spans are waiting in the inbox."""
    return conn.execute("SELECT coalesce(sum(span_count), 0) FROM inbox").fetchone()[0]


def index_pending(conn, max_spans=None, should_stop=None, chunk_spans=CHUNK_SPANS, attempts=ATTEMPTS):
    """Index waiting batches, oldest first, in transactions of about `chunk_spans`
    spans, until none is left, `max_spans` have been indexed, or `should_stop()` says
    so between two chunks. Returns (spans indexed, batches skipped as unreadable).
    Raises sqlite3.OperationalError when the store stays locked by another writer
    through `attempts` tries of the connection's busy timeout."""
    indexed = skipped = 0
    while max_spans is None or indexed < max_spans:
        if should_stop is not None and should_stop():
            break
        # A plain read first: taking the write lock when there is nothing to do would
        # make every reader a writer, competing with the apps for the lock.
        if conn.execute("SELECT 1 FROM inbox LIMIT 1").fetchone() is None:
            break
        done, bad = with_retries(lambda: write_transaction(conn, lambda c: _index_chunk(c, chunk_spans)),
                                 attempts)
        indexed += done
        skipped += bad
        if not done and not bad:
            break
    return indexed, skipped


def _index_chunk(conn, chunk_spans):
    batches, spans = [], 0
    for batch_no, span_count, body in conn.execute(
            "SELECT batch_no, span_count, body FROM inbox ORDER BY batch_no"):
        if batches and spans + span_count > chunk_spans:
            break
        batches.append((batch_no, body))
        spans += span_count
    if not batches:
        return 0, 0
    rows, pairs, skipped = [], [], 0
    for _, body in batches:
        try:
            unpacked = rows_from_batch(*unpack(body))
        except (ValueError, TypeError, KeyError, IndexError):
            skipped += 1   # not readable by this autotrace: dropped, never half-read
            continue
        for row, row_pairs in unpacked:
            rows.append(row)
            pairs.append(row_pairs)
    if rows:
        write_batch(conn, rows, pairs)
    conn.execute("DELETE FROM inbox WHERE batch_no <= ?", (batches[-1][0],))
    return len(rows), skipped


# One writable connection per store file and process, kept for the readers that come
# back often (the viewer answers many requests); a forked child opens its own.
_connections = {}
_lock = threading.Lock()
_ABANDONED = []   # connections inherited across fork: never used, never closed


def catch_up(path, max_bytes=None):
    """Index everything waiting in the store at `path` before a read, so the read sees
    every span exported so far. Never raises: a store this process cannot write (a
    read-only file, a newer layout, a missing file) is read as it is."""
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if not os.path.isfile(path):
        return 0
    try:
        with _lock:
            conn = _connection(path, max_bytes)
            if conn is None:
                return 0
            try:
                return index_pending(conn, attempts=1)[0]
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    _forget(path)
                return 0   # busy: read what is indexed now; the next read catches up
            except sqlite3.Error:
                _forget(path)
                return 0
    except Exception:
        return 0


def _connection(path, max_bytes):
    known = _connections.get(path)
    identity = file_identity(path)
    if known is not None:
        pid, known_identity, conn = known
        if pid == os.getpid() and known_identity == identity:
            return conn
        _forget(path)   # the file was replaced, or we are a forked child
    if not _has_inbox_rows(path):
        return None   # nothing to do: do not open (or upgrade) the store for writing
    conn = open_writable(path, max_bytes or 200 * 1024 * 1024)
    conn.execute(f"PRAGMA busy_timeout = {READER_WAIT_MS}")
    _connections[path] = (os.getpid(), identity, conn)
    return conn


def _has_inbox_rows(path):
    """Cheap check on a read-only connection (readers must not create or upgrade a
    store by merely looking at it)."""
    uri = "file:" + urllib.parse.quote(path) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=2.0)
    except sqlite3.Error:
        return False
    try:
        if schema.read_version(conn) != schema.SCHEMA_VERSION:
            return False   # an older store is upgraded by its next writer; a newer one is not ours
        return conn.execute("SELECT 1 FROM inbox LIMIT 1").fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _forget(path):
    known = _connections.pop(path, None)
    # A connection inherited across fork is left alone (closing it could disturb the
    # parent's locks): it is only dropped.
    if known is None:
        return
    if known[0] != os.getpid():
        _ABANDONED.append(known[2])
        return
    try:
        known[2].close()
    except sqlite3.Error:
        pass
