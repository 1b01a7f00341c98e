"""concurrent.futures: a ThreadPoolExecutor task runs in the context current at submit()
(map() and asyncio's run_in_executor go through submit)."""

from autotrace.spec import Instrumentation, Patch, Wrapper

SPEC = Instrumentation(
    name="futures",
    modules=("concurrent.futures.thread",),
    requires=("opentelemetry.trace",),   # no span can exist before; see spec.py
    distribution="",   # part of the standard library
    supported="",
    description="Thread pool tasks continue the trace of the code that submitted them",
    patches=(
        # submit() makes one _WorkItem per task in the caller's thread; a worker calls its run().
        Patch("concurrent.futures.thread", "_WorkItem.__init__", Wrapper("_context.work_item_created")),
        Patch("concurrent.futures.thread", "_WorkItem.run", Wrapper("_context.work_item_run")),
    ),
)
