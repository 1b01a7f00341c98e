"""Several real processes writing one store at the same moment."""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from autotrace.store.indexer import catch_up
from autotrace.store.queries import list_traces

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def test_four_processes_write_8000_spans_without_loss_or_lock_errors(store_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}
    start_at = time.time() + 3.0  # after every interpreter has started and built its spans
    workers = [
        subprocess.Popen(
            [sys.executable, str(HERE / "_writer_worker.py"), str(store_path), f"svc-{n}",
             "200", "10", "20", str(start_at)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for n in range(4)
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, (out, err)
        assert out.split() == ["2000", "0"]
        assert err == ""  # no warning line, no traceback

    catch_up(store_path)   # what every reader does first
    with sqlite3.connect(store_path) as conn:
        assert conn.execute("SELECT count(*) FROM spans").fetchone()[0] == 8000
        per_service = dict(conn.execute(
            "SELECT service_name, count(*) FROM spans GROUP BY service_name"))
        assert per_service == {f"svc-{n}": 2000 for n in range(4)}
        assert conn.execute("SELECT count(*), sum(span_count) FROM traces").fetchone() == (800, 8000)
    assert all(trace["complete"] for trace in list_traces(store_path, limit=1000))


def test_reading_while_a_writer_holds_the_lock(exporter, store_path):
    from store_support import collected_spans
    exporter.export(collected_spans("app", 2, 1))
    assert len(list_traces(store_path)) == 2   # indexed by this first read
    exporter.export(collected_spans("app", 1, 1))   # waits in the inbox
    blocker = sqlite3.connect(store_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        blocker.execute("DELETE FROM traces")  # uncommitted: readers must not see it
        started = time.monotonic()
        # The reader cannot index the waiting span while another writer holds the
        # lock: after a short wait it reads what is indexed, as committed.
        assert len(list_traces(store_path)) == 2
        assert time.monotonic() - started < 1.0  # readers do not wait long for writers
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert len(list_traces(store_path)) == 3   # the lock is free: the waiting span is indexed
