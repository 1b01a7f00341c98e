"""The context a parent process hands over becomes the default of every reader.

Run in a fresh interpreter each time: the default context is process-wide state."""

import subprocess
import sys
import textwrap

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

SCRIPT = textwrap.dedent("""
    import threading, types
    from opentelemetry import context, trace
    from autotrace import context_var, env_context   # the direct reader is bound first

    env_context.install(types.SimpleNamespace(env_traceparent=%r, env_tracestate="v=1", env_baggage="k=v"))

    def ids(ctx):
        span_context = trace.get_current_span(ctx).get_span_context()
        return "%%032x-%%016x" %% (span_context.trace_id, span_context.span_id)

    seen = [ids(context_var.get_current()), ids(context.get_current())]
    worker = threading.Thread(target=lambda: seen.append(ids(context_var.get_current())))
    worker.start(); worker.join()
    token = context.attach(context.Context())        # an attached context still wins
    seen.append(ids(context_var.get_current()))
    context.detach(token)
    seen.append(ids(context.get_current()))
    from opentelemetry import baggage
    seen.append(baggage.get_baggage("k"))
    print(" ".join(map(str, seen)))
""")


def test_every_reader_and_thread_sees_the_parent_context_unless_one_is_attached():
    result = subprocess.run([sys.executable, "-c", SCRIPT % PARENT], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    parent = PARENT[3:35] + "-" + PARENT[36:52]
    unset = "0" * 32 + "-" + "0" * 16
    assert result.stdout.split() == [parent, parent, parent, unset, parent, "v"]
