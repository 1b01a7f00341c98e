"""`autotrace run` with the default exporter: spans read back from the local store,
several traced processes writing to one store at once."""

import os
import subprocess
import sys

from support import autotrace_env
from autotrace.store.queries import get_trace, list_traces

APPS = os.path.join(os.path.dirname(__file__), "apps")


def test_default_exporter_writes_one_linked_trace_to_the_store(tmp_path, httpserver, pg_dsn):
    httpserver.expect_request("/work").respond_with_data("ok")
    env = autotrace_env(tmp_path, OTEL_SERVICE_NAME="job-svc")
    result = subprocess.run([sys.executable, "-m", "autotrace", "run", sys.executable,
                             os.path.join(APPS, "job.py"), httpserver.url_for("/work"), pg_dsn],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    store = env["AUTOTRACE_STORE"]
    (summary,) = list_traces(store)
    assert summary["root_service"] == "job-svc" and summary["root_name"] == "job"
    spans = get_trace(store, summary["trace_id"])
    assert len(spans) == summary["span_count"] == 6
    root = next(s for s in spans if s["name"] == "job")
    assert all(s["parent_span_id"] == root["span_id"] for s in spans if s is not root)
    get = next(s for s in spans if s["name"] == "GET")
    (request, _), = httpserver.log
    assert request.headers["traceparent"].split("-")[2] == get["span_id"]
    stored = repr(spans)
    assert "alice@example.com" not in stored and "secret-name" not in stored


def test_many_processes_share_one_store(tmp_path):
    script = tmp_path / "burst.py"
    script.write_text("import sqlite3\n"
                      "db = sqlite3.connect(':memory:')\n"
                      "for i in range(300): db.execute('SELECT %d' % i)\n")
    # This test is about concurrent writers, not the exit bound (tested elsewhere): on a
    # loaded machine six processes may need more than the default 2 s to flush.
    env = autotrace_env(tmp_path, OTEL_BSP_SCHEDULE_DELAY="10", OTEL_BSP_MAX_EXPORT_BATCH_SIZE="20",
                        AUTOTRACE_SHUTDOWN_TIMEOUT="60")
    processes = [subprocess.Popen([sys.executable, "-m", "autotrace", "run", sys.executable, str(script)],
                                  env=env, stderr=subprocess.PIPE, text=True) for _ in range(6)]
    errors = [p.communicate(timeout=120)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * 6
    assert errors == [""] * 6, errors   # no "database is locked", no dropped spans
    assert len(list_traces(env["AUTOTRACE_STORE"], limit=10000)) == 1800


def test_forked_and_spawned_children_export_their_own_spans(tmp_path):
    env = autotrace_env(tmp_path, OTEL_BSP_SCHEDULE_DELAY="60000")   # nothing leaves before the end
    result = subprocess.run([sys.executable, "-m", "autotrace", "run", sys.executable,
                             os.path.join(APPS, "forks.py"), "fork", "spawn"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    traces = list_traces(env["AUTOTRACE_STORE"], limit=100)
    names = sorted(t["root_name"] for t in traces)
    assert names == sorted(["CREATE TABLE parent_before", "CREATE TABLE parent_after"]
                           + ["CREATE TABLE child_%s_%d" % (m, n) for m in ("fork", "spawn") for n in (0, 1)])
    ids = [get_trace(env["AUTOTRACE_STORE"], t["trace_id"])[0]["span_id"] for t in traces]
    assert len(set(ids)) == len(ids) and len({t["trace_id"] for t in traces}) == len(traces)


def test_console_scripts_are_traced(tmp_path):
    test_file = tmp_path / "test_inner.py"
    test_file.write_text("import sqlite3\n\ndef test_query():\n"
                         "    assert sqlite3.connect(':memory:').execute('SELECT 42').fetchone() == (42,)\n")
    env = autotrace_env(tmp_path)
    pytest_script = os.path.join(os.path.dirname(sys.executable), "pytest")
    result = subprocess.run([sys.executable, "-m", "autotrace", "run", pytest_script, "-q", "-p", "no:cacheprovider",
                             str(test_file)], capture_output=True, text=True, env=env, timeout=120, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    (trace,) = list_traces(env["AUTOTRACE_STORE"])
    assert (trace["root_service"], trace["root_name"]) == ("pytest", "SELECT")


def test_unwritable_store_warns_once_and_the_app_runs(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    env = autotrace_env(tmp_path, AUTOTRACE_STORE=str(blocker / "traces.db"), OTEL_BSP_SCHEDULE_DELAY="10")
    code = ("import sqlite3, time\n"
            "for i in range(3):\n"
            "    sqlite3.connect(':memory:').execute('SELECT 1'); time.sleep(0.05)\n"
            "print('app ok')\n")
    result = subprocess.run([sys.executable, "-m", "autotrace", "run", sys.executable, "-c", code],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and result.stdout == "app ok\n"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write traces to" in lines[0] and "not-a-folder" in lines[0], result.stderr
