"""Trace context across processes under `autotrace run`, read back from the store."""

import os
import subprocess
import sys

import pytest

from support import autotrace_env
from autotrace.store.queries import get_trace, list_traces

APPS = os.path.join(os.path.dirname(__file__), "apps")


def run(tmp_path, args, **env):
    env = autotrace_env(tmp_path, **env)
    result = subprocess.run([sys.executable, "-m", "autotrace", "run", sys.executable] + args,
                            capture_output=True, text=True, env=env, timeout=120)
    return result, env["AUTOTRACE_STORE"]


def all_spans(store):
    return [span for trace in list_traces(store, limit=100) for span in get_trace(store, trace["trace_id"])]


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_chain_of_three_processes_is_one_trace(tmp_path, method):
    result, store = run(tmp_path, [os.path.join(APPS, "chain.py"), method])
    assert result.returncode == 0 and result.stderr.startswith("leaf says "), result.stderr
    (trace,) = list_traces(store)
    spans = {span["name"]: span for span in get_trace(store, trace["trace_id"])}
    assert sorted(spans) == ["leaf", "leaf thread", "script", "worker"]
    assert spans["script"]["parent_span_id"] is None
    assert spans["worker"]["parent_span_id"] == spans["script"]["span_id"]
    assert spans["leaf"]["parent_span_id"] == spans["worker"]["span_id"]
    # a root span of another thread in the leaf process also continues the parent's trace
    assert spans["leaf thread"]["parent_span_id"] == spans["worker"]["span_id"]
    assert result.stderr.split()[2] == trace["trace_id"]   # the leaf's log line carries it


SCRIPT = ("import sqlite3, threading\n"
          "db = sqlite3.connect(':memory:', check_same_thread=False)\n"
          "db.execute('SELECT 1')\n"
          "t = threading.Thread(target=db.execute, args=('SELECT 2',)); t.start(); t.join()\n"
          "print('app ran')\n")
PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_traceparent_from_the_environment_is_the_parent_of_root_spans(tmp_path):
    result, store = run(tmp_path, ["-c", SCRIPT], TRACEPARENT=PARENT, TRACESTATE="vendor=x", BAGGAGE="k=v")
    assert result.returncode == 0 and result.stdout == "app ran\n" and result.stderr == "", result.stderr
    spans = all_spans(store)
    assert sorted(s["name"] for s in spans) == ["SELECT", "SELECT"]
    assert {(s["trace_id"], s["parent_span_id"]) for s in spans} == {(PARENT[3:35], PARENT[36:52])}


def test_an_unsampled_parent_process_keeps_its_children_unsampled(tmp_path):
    result, store = run(tmp_path, ["-c", SCRIPT], TRACEPARENT=PARENT[:-2] + "00", OTEL_BSP_SCHEDULE_DELAY="10")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert not os.path.exists(store) or all_spans(store) == []


def test_bad_values_each_warn_once_and_the_app_runs(tmp_path):
    result, store = run(tmp_path, ["-c", SCRIPT], TRACEPARENT="00-zz-00f067aa0ba902b7-01",
                        OTEL_TRACES_SAMPLER="sometimes", AUTOTRACE_LOGS_AS_EVENTS="LOUD")
    assert result.returncode == 0 and result.stdout == "app ran\n"
    lines = result.stderr.splitlines()
    assert len(lines) == 3, lines
    assert all(line.startswith("autotrace: warning: ") for line in lines)
    assert [line.split()[2].split("=")[0] for line in lines] == [
        "OTEL_TRACES_SAMPLER", "AUTOTRACE_LOGS_AS_EVENTS", "TRACEPARENT"]
    spans = all_spans(store)
    assert len(spans) == 2 and all(s["parent_span_id"] is None for s in spans)   # new traces


def test_bad_ratio_warns_once_and_the_default_applies(tmp_path):
    for value in ("1.5", "abc"):
        result, store = run(tmp_path, ["-c", SCRIPT], OTEL_TRACES_SAMPLER="traceidratio",
                            OTEL_TRACES_SAMPLER_ARG=value, AUTOTRACE_STORE=str(tmp_path / (value + ".db")))
        assert result.returncode == 0 and result.stdout == "app ran\n"
        assert result.stderr == ("autotrace: warning: OTEL_TRACES_SAMPLER_ARG=%r is not valid (accepted: a number"
                                 " >= 0.0 and <= 1.0); using the default 1.0\n" % value)
        assert len(all_spans(store)) == 2


def test_stdlib_imports_alone_load_neither_wrapt_nor_opentelemetry(tmp_path):
    code = ("import sys, threading, logging, subprocess, concurrent.futures.thread, multiprocessing\n"
            "print(sorted(m for m in ('wrapt', 'opentelemetry', 'opentelemetry.sdk') if m in sys.modules))")
    result, _ = run(tmp_path, ["-c", code], TRACEPARENT=PARENT)
    assert result.returncode == 0 and result.stdout == "[]\n", result.stderr
