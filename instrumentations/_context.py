"""The one builder family for carrying trace context to other threads and processes.

No spans are made here: these interceptors only move the OpenTelemetry context.

    thread_start / thread_run    a Thread runs in the context current at `start()`
    work_item_created / _run     a ThreadPoolExecutor task runs in the context current at `submit()`
    env_argument                 a child process gets TRACEPARENT/TRACESTATE/BAGGAGE in the
                                 environment argument of the call (subprocess, execve, posix_spawn)
    environ_for_exec             the same for os.execv, which has no environment argument
    process_start                a multiprocessing Process carries the context in its object

Only `opentelemetry.context` and our env_context are needed; the specs using these are
applied once OpenTelemetry is imported (before it, no span can be current).
"""

import os

from opentelemetry import context as otel_context

from autotrace import context_var, env_context
from autotrace.patching import Interceptor, Replacement

__all__ = ["thread_start", "thread_run", "work_item_created", "work_item_run", "env_argument", "environ_for_exec",
           "process_start"]

_CONTEXT_ATTRIBUTE = "_autotrace_context"
_CARRIER_ATTRIBUTE = "_autotrace_carrier"


def _nothing(state, result=None):
    return result


def thread_start(instrumentation):
    """On Thread.start: remember the starter's context on the Thread object."""
    def before(instance, args, kwargs):
        instance.__dict__[_CONTEXT_ATTRIBUTE] = otel_context.get_current()
        return None   # nothing to do after start()
    return Interceptor(before, _nothing, _nothing)


def thread_run(instrumentation):
    """Inside the new thread, before run(): attach the starter's context. The thread's
    contextvars die with it, so there is nothing to detach."""
    def before(instance, args, kwargs):
        context = instance.__dict__.pop(_CONTEXT_ATTRIBUTE, None)
        if context is not None:
            otel_context.attach(context)
        return None
    return Interceptor(before, _nothing, _nothing)


def work_item_created(instrumentation):
    """ThreadPoolExecutor.submit creates one _WorkItem per task, in the submitter's
    thread: remember the submitter's context on it.

    A plain function in place of `_WorkItem.__init__` (a Replacement, not a wrapt
    wrapper with the guard): per task, a wrapper and the guard's suppression check
    cost more than the rest of submit's added work, and a context move has nothing to
    suppress. The context is kept on the work item rather than in a wrapper around fn:
    a closure per task is three more long-lived objects for the garbage collector.
    It is set as an attribute, not through `__dict__`: since Python 3.11 an instance's
    attributes live in the object until `__dict__` is asked for, which makes a dict
    (one more object per task for the collector)."""
    get_current = context_var.get_current

    def make(original, switch):
        def __init__(self, *args, **kwargs):
            original(self, *args, **kwargs)
            if switch.on:
                try:
                    self._autotrace_context = get_current()
                except Exception as exc:   # ours: the task runs without the context
                    switch.trip(exc)
        return __init__
    return Replacement(make)


def work_item_run(instrumentation):
    """In the worker, in place of `_WorkItem.run`: the task runs in the submitter's
    context, attached for this task only, so a long-lived worker never keeps one
    caller's context for the next task. (`*args`: Python 3.14's run takes one.)"""
    attach, reset = context_var.attach, context_var.reset

    def make(original, switch):
        def run(self, *args):
            try:
                context = getattr(self, _CONTEXT_ATTRIBUTE, None)
                token = None if context is None else attach(context)
            except Exception as exc:
                switch.trip(exc)
                return original(self, *args)
            if token is None:
                return original(self, *args)
            try:
                return original(self, *args)
            finally:
                reset(token)   # never raises
        return run
    return Replacement(make)


def env_argument(instrumentation, position, keyword="env"):
    """A call whose environment is argument `position` (not counting self) or `keyword`:
    the child gets a copy of it (os.environ when absent) with the carrier variables."""
    def before(instance, args, kwargs):
        carrier = env_context.child_carrier()
        if carrier is None:   # no span current: the child's environment is left as it is
            return None, args, kwargs
        if len(args) > position:
            env = env_context.child_env(args[position], carrier)
            return carrier, args[:position] + (env,) + args[position + 1:], kwargs
        kwargs = dict(kwargs)
        kwargs[keyword] = env_context.child_env(kwargs.get(keyword), carrier)
        return carrier, args, kwargs

    return Interceptor(before, _nothing, _nothing, rewrites=True)


def environ_for_exec(instrumentation):
    """os.execv(path, argv) takes the process's own environment: set the carrier
    variables there just before the process is replaced (in os.spawn* this runs in the
    forked child), and put the old values back if exec fails."""
    def before(instance, args, kwargs):
        carrier = env_context.child_carrier()
        if carrier is None:
            return None
        saved = {name: os.environ.get(name) for name in env_context.VARIABLES}
        for name in env_context.VARIABLES:
            if name in carrier:
                os.environ[name] = carrier[name]
            else:
                os.environ.pop(name, None)
        return saved

    def failed(saved, exc):
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    return Interceptor(before, _nothing, failed)


# Process targets of pools: a pool worker is long-lived and serves many callers, so it
# must not adopt the context of whoever happened to create it.
_POOL_MODULES = frozenset(("multiprocessing.pool", "concurrent.futures.process"))


def process_start(instrumentation):
    """multiprocessing Process.start(): store the context in the Process object. A spawn
    or forkserver child receives the object pickled and continues the trace while
    unpickling it (see env_context.CarriedContext); a fork child inherits the context."""
    def before(instance, args, kwargs):
        target = getattr(instance, "_target", None)
        if getattr(target, "__module__", None) in _POOL_MODULES:
            return None
        carrier = env_context.child_carrier()
        if carrier is not None:
            instance.__dict__[_CARRIER_ATTRIBUTE] = env_context.CarriedContext(carrier)
        return None
    return Interceptor(before, _nothing, _nothing)
