"""A batching span processor with a bounded queue, one worker per exporter, fork
handling and a stop that waits no longer than it is told.

Why not the SDK's BatchSpanProcessor: its shutdown waits on the exporter for as long
as the exporter takes (an OTLP exporter retries a dead collector for a minute), it
only logs dropped spans, and it builds the exporter in the parent process. Here:

* `on_end` is a length check and a deque append; a full queue drops the span and
  counts it (`dropped`), with one warning the first time.
* the exporter is created by a factory inside the worker thread, so nothing is
  imported or connected until the first span ends, and a forked child builds its own.
* `request_stop()` + `wait_stopped(deadline)` let the caller stop every processor at
  once and give up at one shared deadline: a hung collector cannot hold the exit.
* when a whole schedule delay passes without a span, an exporter that has an
  `on_idle(should_stop)` method is given the idle time (the store indexes then).
"""

import os
import threading
import time
import weakref
from collections import deque

from opentelemetry.sdk.trace import SpanProcessor

from autotrace.messages import debug, warn, warn_once

__all__ = ["BatchingProcessor"]


class BatchingProcessor(SpanProcessor):
    def __init__(self, label, exporter_factory, max_queue=2048, max_batch=512, delay_s=1.0):
        self.label = label
        self._factory = exporter_factory
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._delay_s = delay_s
        self.dropped = 0
        self.dropped_late = 0   # ended after the exporter closed at exit
        self.exported = 0
        self.failed_batches = 0
        self._reset()
        _track_forks(self)

    def _reset(self):
        self._queue = deque()
        self._wake = threading.Event()
        self._idle = threading.Condition(threading.Lock())
        self._in_flight = 0
        self._stopping = False
        self._closed = False    # the worker's last drain has begun: later spans are too late
        self._stopped = threading.Event()
        self._worker = None
        self._exporter = None
        self._pid = os.getpid()

    # -- SpanProcessor --------------------------------------------------------------

    def on_start(self, span, parent_context=None):
        pass

    def on_end(self, span):
        queue = self._queue
        if self._stopping:
            self._on_end_while_stopping(span)
            return
        if len(queue) >= self._max_queue:
            self.dropped += 1
            warn_once(("queue-full", self.label),
                      "the %s span queue is full (OTEL_BSP_MAX_QUEUE_SIZE=%d); spans are being dropped"
                      % (self.label, self._max_queue))
            return
        queue.append(span)
        if self._worker is None:
            self._start_worker()
        if len(queue) >= self._max_batch and not self._wake.is_set():
            # (set() takes a lock and notifies: while a busy app keeps the export thread
            # waiting for the GIL, every span would pay for it again)
            self._wake.set()

    def _on_end_while_stopping(self, span):
        # The exit flush has begun, but threads the app left running (a server's daemon
        # threads finishing a request) still end spans: they are exported with the rest
        # until the worker's last drain, and counted as too late after it.
        with self._idle:
            if not self._closed and len(self._queue) < self._max_queue:
                self._queue.append(span)
                self._wake.set()
                return
        self.dropped_late += 1

    def force_flush(self, timeout_millis=30000):
        """Export everything queued now; True when done within the timeout."""
        if self._worker is None:
            return not self._queue
        deadline = time.monotonic() + timeout_millis / 1000.0
        self._wake.set()
        with self._idle:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0 or not self._worker.is_alive():
                    return False
                self._wake.set()
                self._idle.wait(min(left, 0.05))
        return True

    def shutdown(self):
        self.request_stop()
        self.wait_stopped(time.monotonic() + 30.0)

    # -- bounded stop, used at exit -------------------------------------------------

    def request_stop(self):
        self._stopping = True
        self._wake.set()

    def wait_stopped(self, deadline):
        """Wait until the worker exported what was queued, or until `deadline` passes.
        Returns the number of spans given up on."""
        if self._worker is None or not self._worker.is_alive():
            return len(self._queue)
        self._stopped.wait(max(0.0, deadline - time.monotonic()))
        return 0 if self._stopped.is_set() else len(self._queue) + self._in_flight

    # -- worker -----------------------------------------------------------------------

    def _start_worker(self):
        with self._idle:
            if self._worker is not None:
                return
            worker = threading.Thread(target=self._run, name="autotrace-export-" + self.label, daemon=True)
            self._worker = worker
        worker.start()

    def _run(self):
        # Nothing this thread does is the app's work: the exporter's HTTP requests and
        # the store's sqlite3 calls must not be traced (that would feed spans back in).
        from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, set_value
        attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            with _building:
                self._exporter = self._factory()
        except Exception as exc:
            warn("cannot start the %s exporter (%s: %s); its spans are dropped"
                 % (self.label, type(exc).__name__, exc))
            self._exporter = None
        while True:
            woken = self._wake.wait(self._delay_s)
            self._wake.clear()
            # Idle means a whole delay passed with no span ending. Being woken and
            # finding the queue empty is not idle: under load `on_end` sets the wake
            # again while a drain runs, and the drain takes those spans too.
            if not self._drain() and not woken and not self._stopping:
                self._idle_work()
            if self._stopping:
                self._drain()
                with self._idle:
                    self._closed = True
                self._drain()   # what ended while the first drain ran
                self._close_exporter()
                self._stopped.set()
                return

    def _idle_work(self):
        # A whole schedule delay went by without a span ending: the app is idle, and an
        # exporter with work it put off (the store's indexing) may do it now, until
        # spans come again.
        on_idle = getattr(self._exporter, "on_idle", None)
        if on_idle is not None:
            try:
                on_idle(lambda: bool(self._queue) or self._stopping)
            except Exception as exc:
                debug("%s exporter's idle work raised %s: %s" % (self.label, type(exc).__name__, exc))

    def _drain(self):
        """Export everything queued; returns how many spans that was."""
        queue = self._queue
        drained = 0
        while queue:
            batch = []
            with self._idle:
                while queue and len(batch) < self._max_batch:
                    batch.append(queue.popleft())
                self._in_flight = len(batch)
            drained += len(batch)
            try:
                self._export(batch)
            finally:
                with self._idle:
                    self._in_flight = 0
                    self._idle.notify_all()
        with self._idle:
            self._idle.notify_all()
        return drained

    def _export(self, batch):
        if self._exporter is None:
            self.dropped += len(batch)
            return
        try:
            result = self._exporter.export(batch)
        except Exception as exc:
            result = None
            debug("%s exporter raised %s: %s" % (self.label, type(exc).__name__, exc))
        if result is not None and getattr(result, "name", "") == "SUCCESS":
            self.exported += len(batch)
        else:
            self.failed_batches += 1

    def _close_exporter(self):
        if self._exporter is not None:
            try:
                self._exporter.shutdown()
            except Exception as exc:
                debug("%s exporter shutdown raised %s: %s" % (self.label, type(exc).__name__, exc))

    def _after_fork_in_child(self):
        # The parent's queue, worker thread and exporter connection belong to the
        # parent: the child starts empty and builds its own exporter on first use.
        self._reset()


_processors = weakref.WeakSet()
_fork_hook_installed = False
# Held while an export thread builds its exporter (which imports modules). A fork
# waits for it: a child forked in the middle of that import would inherit a half
# initialised module that no thread of its own will ever finish.
_building = threading.Lock()


def _track_forks(processor):
    global _fork_hook_installed
    _processors.add(processor)
    if not _fork_hook_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_building.acquire, after_in_parent=_building.release,
                            after_in_child=_reset_all_after_fork)
        _fork_hook_installed = True


def _reset_all_after_fork():
    _building.release()
    for processor in list(_processors):
        processor._after_fork_in_child()
