"""subprocess: a child process started while a span is current gets TRACEPARENT,
TRACESTATE and BAGGAGE in its environment (a copy; the caller's mapping is untouched)."""

from autotrace.spec import Instrumentation, Patch, Wrapper

SPEC = Instrumentation(
    name="subprocess",
    modules=("subprocess",),
    requires=("opentelemetry.trace",),   # no span can exist before; see spec.py
    distribution="",   # part of the standard library
    supported="",
    description="Child processes continue the trace (TRACEPARENT/TRACESTATE/BAGGAGE in their environment)",
    patches=(
        # Popen(args, bufsize, executable, stdin, stdout, stderr, preexec_fn, close_fds, shell, cwd, env, ...)
        Patch("subprocess", "Popen.__init__", Wrapper("_context.env_argument", position=10)),
    ),
)
