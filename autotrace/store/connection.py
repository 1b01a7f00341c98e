"""Opening the store for writing, and the file facts the size check needs."""

import os
import sqlite3

from . import schema
from .transactions import BUSY_TIMEOUT_S, in_retried_write_transaction, with_retries

__all__ = ["open_writable", "file_identity", "store_bytes", "checkpoint"]

# SQLite page cache per writing connection, in KiB (allocated only as used).
CACHE_KIB = 8192
# A checkpoint after pruning must not stall the app behind a long-lived reader.
CHECKPOINT_BUSY_MS = 200


def open_writable(path, max_bytes):
    """A connection in WAL mode with the store's layout created or upgraded.
    Raises sqlite3.Error / OSError / schema.SchemaTooNew."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    try:
        # Only takes effect on a new, empty file; must come before any table.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        with_retries(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
        conn.execute("PRAGMA synchronous = NORMAL")
        # Checkpoints (copying the WAL into the file, with fsync) dominate write cost,
        # so let the WAL grow to a tenth of the limit (at most 40 MB) before one; the
        # store's size budget counts the WAL.
        limit_pages = max_bytes // 4096
        conn.execute(f"PRAGMA wal_autocheckpoint = {max(16, min(10_000, limit_pages // 10))}")
        conn.execute(f"PRAGMA journal_size_limit = {max(65536, max_bytes // 10)}")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        in_retried_write_transaction(conn, schema.migrate)
    except BaseException:
        conn.close()
        raise
    return conn


def store_bytes(path):
    total = 0
    for name in (path, path + "-wal"):
        try:
            total += os.stat(name).st_size
        except OSError:
            pass
    return total


def file_identity(path):
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def checkpoint(conn):
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
