"""multiprocessing: a Process started while a span is current continues the trace, with
any start method (fork inherits the context; spawn and forkserver children receive it
inside the pickled Process object). Pool workers are left alone: they serve many callers."""

from autotrace.spec import Instrumentation, Patch, Wrapper

SPEC = Instrumentation(
    name="multiprocessing",
    modules=("multiprocessing.process",),
    requires=("opentelemetry.trace",),   # no span can exist before; see spec.py
    distribution="",   # part of the standard library
    supported="",
    description="multiprocessing children continue the trace of the code that started them",
    patches=(
        Patch("multiprocessing.process", "BaseProcess.start", Wrapper("_context.process_start")),
    ),
)
