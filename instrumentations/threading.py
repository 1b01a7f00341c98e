"""threading: a Thread runs in the trace context that was current when it was started."""

from autotrace.spec import Instrumentation, Patch, Wrapper

SPEC = Instrumentation(
    name="threading",
    modules=("threading",),
    requires=("opentelemetry.trace",),   # no span can exist before; see spec.py
    distribution="",   # part of the standard library
    supported="",
    description="Threads continue the trace of the code that started them",
    patches=(
        Patch("threading", "Thread.start", Wrapper("_context.thread_start")),
        # Subclasses override run(), not this: it calls run() inside the new thread.
        Patch("threading", "Thread._bootstrap_inner", Wrapper("_context.thread_run")),
    ),
)
