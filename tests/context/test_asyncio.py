"""asyncio copies contextvars into tasks by itself; nothing of ours is needed. These
tests check that under concurrency instead of assuming it."""

import asyncio
import sys

import pytest
from opentelemetry import trace

tracer = trace.get_tracer("tests.context")


def misparented(finished):
    by_name = {s.name: s for s in finished}
    wrong = 0
    for span in finished:
        kind, number, *level = span.name.split()
        if kind != "task":
            continue
        expected = "root %s" % number if level == ["0"] else "task %s %d" % (number, int(level[0]) - 1)
        if span.parent is None or span.parent.span_id != by_name[expected].context.span_id:
            wrong += 1
    return wrong


async def nested(number, level=0, depth=3):
    """task N 0 > task N 1 > task N 2, yielding to the other 999 tasks at every level."""
    if level == depth:
        return number
    with tracer.start_as_current_span("task %d %d" % (number, level)):
        await asyncio.sleep(0)
        result = await nested(number, level + 1, depth)
        await asyncio.sleep(0)
        return result


def one_thousand(spawn):
    async def root(number):
        with tracer.start_as_current_span("root %d" % number):
            return await spawn(nested(number))

    async def main():
        return await asyncio.gather(*(root(n) for n in range(1000)))

    return asyncio.run(main())


async def as_task(coroutine):
    return await asyncio.get_running_loop().create_task(coroutine)


async def in_gather(coroutine):
    (result,) = await asyncio.gather(coroutine)
    return result


async def in_task_group(coroutine):
    async with asyncio.TaskGroup() as group:
        task = group.create_task(coroutine)
    return task.result()


async def awaited(coroutine):
    return await coroutine


@pytest.mark.parametrize("spawn", [awaited, as_task, in_gather, in_task_group])
def test_one_thousand_concurrent_tasks_with_nested_spans(spawn, spans):
    if spawn is in_task_group and sys.version_info < (3, 11):
        pytest.skip("TaskGroup is Python 3.11+")
    assert one_thousand(spawn) == list(range(1000))
    finished = spans()
    assert len(finished) == 4000
    assert misparented(finished) == 0
