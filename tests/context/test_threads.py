"""Threads and executors run in the context of the code that started or submitted them."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import trace

tracer = trace.get_tracer("tests.context")


@pytest.fixture
def threads(instrument):
    instrument("threading")
    instrument("futures")


def current_span_id():
    return trace.get_current_span().get_span_context().span_id


def test_ten_thousand_tasks_from_a_hundred_parents_on_eight_workers(threads, spans):
    def task(number):
        with tracer.start_as_current_span("task %d" % number):
            pass

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = []
        for parent_number in range(100):
            with tracer.start_as_current_span("parent %d" % parent_number):
                futures += [pool.submit(task, parent_number) for _ in range(100)]
        for future in futures:
            future.result()
    finished = spans()
    parents = {s.name.split()[1]: s.context.span_id for s in finished if s.name.startswith("parent")}
    tasks = [s for s in finished if s.name.startswith("task")]
    assert len(parents) == 100 and len(tasks) == 10000
    misparented = [s for s in tasks if s.parent is None or s.parent.span_id != parents[s.name.split()[1]]]
    assert len(misparented) == 0


def test_map_and_a_worker_does_not_keep_the_first_callers_context(threads, spans):
    with ThreadPoolExecutor(max_workers=1) as pool:
        with tracer.start_as_current_span("first caller") as first:
            assert list(pool.map(lambda _: current_span_id(), range(3))) == [first.get_span_context().span_id] * 3
        # same worker thread, started inside "first caller": no span current now
        assert pool.submit(current_span_id).result() == 0
        with tracer.start_as_current_span("second caller") as second:
            assert pool.submit(current_span_id).result() == second.get_span_context().span_id


def test_thread_start_carries_the_starters_context(threads):
    seen = {}

    class Subclass(threading.Thread):
        def run(self):   # overrides run(): the context must still be there
            seen["subclass"] = current_span_id()

    with tracer.start_as_current_span("starter") as starter:
        thread = threading.Thread(target=lambda: seen.__setitem__("plain", current_span_id()))
        other = Subclass()
    thread.start()   # started outside the span: the context of start() counts, not of creation
    with tracer.start_as_current_span("second") as second:
        other.start()
    thread.join()
    other.join()
    assert seen == {"plain": 0, "subclass": second.get_span_context().span_id}
    assert starter.get_span_context().span_id not in seen.values()


def test_timer_threads_too(threads):
    seen = []
    with tracer.start_as_current_span("scheduler") as span:
        timer = threading.Timer(0.01, lambda: seen.append(current_span_id()))
        timer.start()
    timer.join()
    assert seen == [span.get_span_context().span_id]


def test_run_in_executor_uses_the_awaiting_tasks_context(threads, spans):
    async def handler(number):
        with tracer.start_as_current_span("request %d" % number) as span:
            got = await asyncio.get_running_loop().run_in_executor(None, current_span_id)
            return got == span.get_span_context().span_id

    async def main():
        return await asyncio.gather(*(handler(n) for n in range(200)))

    assert asyncio.run(main()) == [True] * 200


def test_without_a_span_nothing_is_carried_and_the_app_is_unchanged(threads):
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert pool.submit(current_span_id).result() == 0
        assert pool.submit(pow, 2, exp=10).result() == 1024
        error = ValueError("app's own")
        future = pool.submit(lambda: (_ for _ in ()).throw(error))
        with pytest.raises(ValueError) as raised:
            future.result()
        assert raised.value is error
