"""Span-building helpers for the store tests (import as `from store_support import ...`).

Shared helpers: real SDK tracers that export into a real store file."""

import itertools

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

from autotrace.store.writer import StoreExporter

T0 = 1_700_000_000_000_000_000  # a fixed epoch-ns start, so durations are exact
MS = 1_000_000


class FixedTraceIds(IdGenerator):
    """Hands out the given trace ids in turn (random span ids), to test id prefixes."""

    def __init__(self, trace_ids):
        self._trace_ids = iter(trace_ids)
        self._random = RandomIdGenerator()

    def generate_trace_id(self):
        return next(self._trace_ids)

    def generate_span_id(self):
        return self._random.generate_span_id()


def make_tracer(exporter, service, id_generator=None):
    provider = TracerProvider(resource=Resource.create({"service.name": service}),
                              id_generator=id_generator)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("tests.store")


def child_context(span):
    return trace.set_span_in_context(span)


def remote_parent_context(trace_id, span_id):
    """A context whose parent span lives elsewhere (another process, never exported)."""
    parent = trace.NonRecordingSpan(trace.SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=trace.TraceFlags(1)))
    return trace.set_span_in_context(parent)


def start_at(tracer, name, start_ms, parent=None, attributes=None, error=None,
               kind=trace.SpanKind.INTERNAL, context=None):
    """Start a span at an exact offset from T0 (end it with finish())."""
    if context is None and parent is not None:
        context = child_context(parent)
    span = tracer.start_span(name, context=context, kind=kind, attributes=attributes,
                             start_time=T0 + int(start_ms * MS))
    if error:
        span.set_status(trace.Status(trace.StatusCode.ERROR, error))
    return span


def finish(span, end_ms):
    span.end(end_time=T0 + int(end_ms * MS))


def collected_spans(service, traces, spans_per_trace, attributes=None):
    """ReadableSpans made by the real SDK but not exported yet (for batch control)."""
    memory = InMemorySpanExporter()
    tracer = make_tracer(memory, service)
    for _ in range(traces):
        with tracer.start_as_current_span("root", attributes=attributes):
            for index in range(spans_per_trace - 1):
                with tracer.start_as_current_span(f"step-{index}", attributes=attributes):
                    pass
    return list(memory.get_finished_spans())


def batches(items, size):
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


