"""The batching processor: bounded queue with counted drops, bounded stop, fork."""

import os
import threading
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult

from autotrace.batching import BatchingProcessor


class ListExporter:
    def __init__(self, hang=None):
        self.spans = []
        self.hang = hang
        self.shut = False

    def export(self, batch):
        if self.hang is not None:
            self.hang.wait(30)
        self.spans.extend(batch)
        return SpanExportResult.SUCCESS

    def shutdown(self):
        self.shut = True


def _provider(processor):
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    return provider.get_tracer("test")


def test_exports_everything_on_flush_in_batches():
    exporter = ListExporter()
    processor = BatchingProcessor("test", lambda: exporter, max_queue=5000, max_batch=100, delay_s=10)
    tracer = _provider(processor)
    for i in range(1234):
        tracer.start_span("s%d" % i).end()
    assert processor.force_flush(5000)
    assert len(exporter.spans) == 1234 and processor.dropped == 0


def test_a_full_queue_drops_and_counts(capsys):
    gate = threading.Event()
    exporter = ListExporter(hang=gate)
    processor = BatchingProcessor("test", lambda: exporter, max_queue=50, max_batch=10, delay_s=0.01)
    tracer = _provider(processor)
    for _ in range(500):
        tracer.start_span("s").end()
    gate.set()
    processor.force_flush(5000)
    assert processor.dropped > 0
    assert len(exporter.spans) + processor.dropped == 500
    assert capsys.readouterr().err.count("span queue is full") == 1


def test_stop_gives_up_at_the_deadline_when_the_exporter_hangs():
    gate = threading.Event()
    processor = BatchingProcessor("hung", lambda: ListExporter(hang=gate), max_batch=10, delay_s=0.01)
    tracer = _provider(processor)
    for _ in range(30):
        tracer.start_span("s").end()
    time.sleep(0.1)
    started = time.monotonic()
    processor.request_stop()
    left = processor.wait_stopped(time.monotonic() + 0.5)
    elapsed = time.monotonic() - started
    gate.set()
    assert left > 0
    assert elapsed < 1.5


def test_stop_exports_what_is_queued_and_closes_the_exporter():
    exporter = ListExporter()
    processor = BatchingProcessor("ok", lambda: exporter, delay_s=60)
    tracer = _provider(processor)
    for _ in range(7):
        tracer.start_span("s").end()
    processor.request_stop()
    assert processor.wait_stopped(time.monotonic() + 5) == 0
    assert len(exporter.spans) == 7 and exporter.shut


def test_forked_child_exports_its_own_spans_with_its_own_exporter(tmp_path):
    made_in = []

    def factory():
        made_in.append(os.getpid())
        return FileExporter(tmp_path / ("%d.txt" % os.getpid()))

    processor = BatchingProcessor("fork", factory, delay_s=0.01)
    tracer = _provider(processor)
    tracer.start_span("parent-before-fork").end()
    assert processor.force_flush(5000)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            tracer.start_span("child").end()
            code = 0 if processor.force_flush(5000) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (tmp_path / ("%d.txt" % pid)).read_text() == "child\n"
    assert (tmp_path / ("%d.txt" % os.getpid())).read_text() == "parent-before-fork\n"


class FileExporter:
    def __init__(self, path):
        self.path = path

    def export(self, batch):
        with open(self.path, "a") as handle:
            for span in batch:
                handle.write(span.name + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


def test_work_done_by_the_exporter_thread_is_not_traced(instrument, spans, tmp_path):
    """The store writes with sqlite3 and OTLP posts with requests: if those calls were
    traced, every export would create new spans to export."""
    import sqlite3
    instrument("sqlite3")

    class SqliteExporter:
        def export(self, batch):
            db = sqlite3.connect(str(tmp_path / "out.db"))
            db.execute("CREATE TABLE IF NOT EXISTS s (name TEXT)")
            db.executemany("INSERT INTO s VALUES (?)", [(span.name,) for span in batch])
            db.commit()
            return SpanExportResult.SUCCESS

        def shutdown(self):
            pass

    processor = BatchingProcessor("loop", SqliteExporter, delay_s=0.01)
    tracer = _provider(processor)
    tracer.start_span("app-work").end()
    assert processor.force_flush(5000)
    assert spans() == []   # the exporter's three sqlite3 calls made no spans
    rows = sqlite3.connect(str(tmp_path / "out.db")).execute("SELECT name FROM s").fetchall()
    assert rows == [("app-work",)]


def test_spans_ended_while_the_exit_flush_runs_are_still_exported():
    # A server's daemon threads may finish a request while the process is exiting:
    # until the worker's last drain their spans go out with the rest.
    gate = threading.Event()
    exporter = ListExporter(hang=gate)
    processor = BatchingProcessor("test", lambda: exporter, max_queue=100, max_batch=10, delay_s=10)
    tracer = _provider(processor)
    tracer.start_span("before").end()
    processor._wake.set()
    deadline = time.monotonic() + 5
    while processor._in_flight == 0 and time.monotonic() < deadline:   # the worker is inside export()
        time.sleep(0.005)
    processor.request_stop()
    tracer.start_span("late but in time").end()
    gate.set()
    assert processor.wait_stopped(time.monotonic() + 5) == 0
    assert [s.name for s in exporter.spans] == ["before", "late but in time"]
    tracer.start_span("after the exporter closed").end()
    assert processor.dropped_late == 1 and processor.dropped == 0


class IdleWatchingExporter(ListExporter):
    """Exports slowly enough that spans keep ending during each export, and counts the
    idle time the processor offers it."""

    def __init__(self):
        super().__init__()
        self.idle_calls = 0

    def export(self, batch):
        time.sleep(0.005)
        return super().export(batch)

    def on_idle(self, should_stop):
        self.idle_calls += 1


def test_a_busy_app_is_never_given_idle_work():
    # The store indexes in idle time (~45 us of CPU per span): offering that work while
    # spans keep coming starved the app and filled the queue under load.
    exporter = IdleWatchingExporter()
    processor = BatchingProcessor("test", lambda: exporter, max_queue=100000, max_batch=8, delay_s=1.0)
    tracer = _provider(processor)
    deadline = time.monotonic() + 1.5
    ended = 0
    while time.monotonic() < deadline:   # bursts of two batches, pauses far shorter than the delay
        for _ in range(16):
            tracer.start_span("busy").end()
        ended += 16
        time.sleep(0.01)
    assert processor.force_flush(5000)
    assert len(exporter.spans) == ended
    assert exporter.idle_calls == 0
    time.sleep(2.2)   # now a whole delay passes without a span: that is idle
    assert exporter.idle_calls >= 1
    processor.shutdown()
