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
        Patch("concurrent.futures.thread", "ThreadPoolExecutor.submit", Wrapper("_context.submit")),
    ),
)
