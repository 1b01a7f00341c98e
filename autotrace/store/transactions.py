"""Small SQLite helpers shared by the writer and the pruner: write transactions that
wait politely for other processes instead of failing with "database is locked".
"""

import random
import sqlite3
import time

# How long one statement waits for another process's lock before SQLite gives up.
# Writers hold the lock for one batch (milliseconds), so this is generous.
BUSY_TIMEOUT_S = 2.0
# On top of the busy timeout, a whole transaction is retried this many times. SQLite
# can report SQLITE_BUSY without waiting (e.g. while another connection recovers
# the WAL), which the busy timeout does not cover.
ATTEMPTS = 6


def is_busy(error):
    text = str(error).lower()
    return "locked" in text or "busy" in text


def with_retries(action, attempts=ATTEMPTS):
    """Run `action()`, retrying with jittered, bounded backoff while the store is busy."""
    delay = 0.005
    for attempt in range(attempts):
        try:
            return action()
        except sqlite3.OperationalError as error:
            if not is_busy(error) or attempt == attempts - 1:
                raise
        # Jitter keeps several processes from retrying in lock-step.
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.25)


def write_transaction(conn, work):
    """Run `work(conn)` in one BEGIN IMMEDIATE transaction; roll back on any error.

    IMMEDIATE takes the write lock up front, so a busy store shows up here (where we
    can retry the whole batch) rather than half-way through it.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
        return result
    except BaseException:
        rollback(conn)
        raise


def in_retried_write_transaction(conn, work):
    return with_retries(lambda: write_transaction(conn, work))


def rollback(conn):
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass
