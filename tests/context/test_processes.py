"""Child processes get TRACEPARENT/TRACESTATE/BAGGAGE for the span current when they start."""

import os
import subprocess
import sys

import pytest
from opentelemetry import baggage, context, trace

tracer = trace.get_tracer("tests.context")
PRINT_ENV = "import os, sys; sys.stdout.write(repr({k: os.environ.get(k) for k in ('TRACEPARENT', 'TRACESTATE', 'BAGGAGE', 'KEEP')}))"


@pytest.fixture
def processes(instrument):
    instrument("subprocess")
    instrument("os_exec")


def child_env(*popen_args, **popen_kwargs):
    output = subprocess.run([sys.executable, "-c", PRINT_ENV], *popen_args, capture_output=True, text=True,
                            check=True, **popen_kwargs).stdout
    return eval(output)


def traceparent_of(span):
    span_context = span.get_span_context()
    return "%032x-%016x" % (span_context.trace_id, span_context.span_id)


def test_subprocess_gets_the_current_span_and_baggage(processes):
    token = context.attach(baggage.set_baggage("tenant", "a b"))
    try:
        with tracer.start_as_current_span("parent") as span:
            env = child_env()
    finally:
        context.detach(token)
    assert env["TRACEPARENT"][3:-3] == traceparent_of(span) and int(env["TRACEPARENT"][-2:], 16) & 1
    assert env["BAGGAGE"] == "tenant=a%20b"


def test_the_callers_env_is_copied_never_changed(processes, monkeypatch):
    monkeypatch.setenv("TRACESTATE", "stale=1")   # left over from an older context: must not reach the child
    given = {"KEEP": "yes", "PATH": os.environ["PATH"], "TRACEPARENT": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    snapshot = dict(given)
    with tracer.start_as_current_span("parent") as span:
        env = child_env(env=given)
        inherited = child_env()
    assert given == snapshot
    assert env["KEEP"] == "yes" and env["TRACEPARENT"][3:-3] == traceparent_of(span)
    assert inherited["TRACESTATE"] is None and os.environ["TRACESTATE"] == "stale=1"


def test_nothing_is_added_without_a_current_span(processes, monkeypatch):
    monkeypatch.delenv("TRACEPARENT", raising=False)
    assert child_env(env={"KEEP": "1", "PATH": os.environ["PATH"]}) == {
        "TRACEPARENT": None, "TRACESTATE": None, "BAGGAGE": None, "KEEP": "1"}
    assert child_env()["TRACEPARENT"] is None


def test_positional_env_and_popen(processes):
    with tracer.start_as_current_span("parent") as span:
        # Popen(args, bufsize, executable, stdin, stdout, stderr, preexec_fn, close_fds, shell, cwd, env)
        process = subprocess.Popen([sys.executable, "-c", PRINT_ENV], -1, None, None, subprocess.PIPE, None, None,
                                   True, False, None, {"KEEP": "2"})
        output = process.communicate()[0].decode()
    assert eval(output)["TRACEPARENT"][3:-3] == traceparent_of(span) and eval(output)["KEEP"] == "2"


@pytest.mark.parametrize("how", ["spawnv", "spawnve", "spawnvp", "posix_spawn"])
def test_os_spawn_and_posix_spawn(processes, how, tmp_path):
    out = str(tmp_path / "env.txt")
    code = PRINT_ENV.replace("sys.stdout.write(", "open(%r, 'w').write(" % out)
    argv = [sys.executable, "-c", code]
    env = {"KEEP": "3"}
    with tracer.start_as_current_span("parent") as span:
        if how == "spawnv":
            status = os.spawnv(os.P_WAIT, sys.executable, argv)
        elif how == "spawnve":
            status = os.spawnve(os.P_WAIT, sys.executable, argv, env)
        elif how == "spawnvp":
            status = os.spawnvp(os.P_WAIT, sys.executable, argv)
        else:
            pid = os.posix_spawn(sys.executable, argv, env)
            status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    assert status == 0
    seen = eval(open(out).read())
    assert seen["TRACEPARENT"][3:-3] == traceparent_of(span)
    assert seen["KEEP"] == ("3" if how in ("spawnve", "posix_spawn") else None)
    assert env == {"KEEP": "3"}


def test_execv_that_fails_leaves_the_environment_as_it_was(processes, monkeypatch):
    monkeypatch.delenv("TRACEPARENT", raising=False)
    with tracer.start_as_current_span("parent"):
        with pytest.raises(OSError):
            os.execv("/nonexistent/program", ["program"])
    assert "TRACEPARENT" not in os.environ
