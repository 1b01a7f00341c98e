"""`autotrace run` and plain PYTHONPATH bootstrap, spans read back from a real OTLP
receiver; traceparent seen by the server matches the client span."""

import os
import subprocess
import sys
import time

import pytest

from support import autotrace_env
from otlp_receiver import OtlpReceiver

APPS = os.path.join(os.path.dirname(__file__), "apps")
AUTOTRACE = [sys.executable, "-m", "autotrace"]


def run_traced(args, env, via="run", timeout=60):
    if via == "run":
        command = AUTOTRACE + ["run", sys.executable] + args
    else:
        path = subprocess.run(AUTOTRACE + ["path"], capture_output=True, text=True, check=True).stdout.strip()
        env = dict(env, PYTHONPATH=path)
        command = [sys.executable] + args
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.parametrize("via", ["run", "pythonpath"])
def test_one_trace_across_http_postgres_and_sqlite(tmp_path, httpserver, pg_dsn, via):
    httpserver.expect_request("/work").respond_with_data("ok")
    with OtlpReceiver() as receiver:
        env = autotrace_env(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_SERVICE_NAME="job-svc")
        result = run_traced([os.path.join(APPS, "job.py"), httpserver.url_for("/work"), pg_dsn], env, via)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["http", "200", "pg", "0", "sqlite", "alice@example.com"]
        assert "autotrace: warning" not in result.stderr
        spans = receiver.spans
    by_name = {}
    for span in spans:
        by_name.setdefault(span["name"], []).append(span)
    (job,) = by_name["job"]
    (get,) = by_name["GET"]
    (pg,) = by_name["SELECT pg_class"]
    assert {s["name"] for s in spans} >= {"CREATE TABLE users", "INSERT users", "SELECT users"}
    assert len({s["trace_id"] for s in spans}) == 1
    assert job["parent_span_id"] is None
    assert all(s["parent_span_id"] == job["span_id"] for s in spans if s is not job)
    assert all(s["service"] == "job-svc" for s in spans)
    assert pg["attributes"]["db.system.name"] == "postgresql"
    assert "secret-name" not in pg["attributes"]["db.query.text"]
    (request, _), = httpserver.log
    _, trace_id, span_id, _ = request.headers["traceparent"].split("-")
    assert (trace_id, span_id) == (get["trace_id"], get["span_id"])


@pytest.mark.parametrize("hang", [False, True], ids=["down", "hanging"])
def test_collector_down_or_hanging_does_not_hold_the_exit(tmp_path, hang):
    script = tmp_path / "quick.py"
    script.write_text("import sqlite3\nsqlite3.connect(':memory:').execute('SELECT 1')\nprint('done')\n")
    with OtlpReceiver(hang=hang) as receiver:
        endpoint = receiver.endpoint if hang else "http://127.0.0.1:9"
        env = autotrace_env(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
        started = time.monotonic()
        result = run_traced([str(script)], env)
        elapsed = time.monotonic() - started
    assert result.returncode == 0 and result.stdout.strip() == "done"
    assert "Traceback" not in result.stderr, result.stderr
    assert elapsed < 2.0 + 3.0, "exit took %.1fs; the flush bound is 2s" % elapsed


def test_otlp_over_grpc(tmp_path):
    from otlp_receiver import OtlpGrpcReceiver
    script = tmp_path / "quick.py"
    script.write_text("import sqlite3\nsqlite3.connect(':memory:').execute('SELECT 1')\nprint('done')\n")
    with OtlpGrpcReceiver() as receiver:
        env = autotrace_env(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
                            OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_SERVICE_NAME="grpc-svc")
        result = run_traced([str(script)], env)
        assert result.returncode == 0 and result.stdout.strip() == "done", result.stderr
        assert "autotrace: warning" not in result.stderr, result.stderr
    assert [(s["name"], s["service"]) for s in receiver.spans] == [("SELECT", "grpc-svc")]
