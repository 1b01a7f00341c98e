"""OTEL_TRACES_SAMPLER / _ARG, the AUTOTRACE_TRACES_PER_SECOND cap and span limits,
through real SDK providers built from Settings (not the session's global provider)."""

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from autotrace.config import Settings
from autotrace.propagation.tracecontext import TraceContextPropagator
from autotrace.sampling import build_sampler, build_span_limits


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def tracer_for(env, clock=None):
    settings = Settings.from_env(env)
    assert settings.problems == []
    exporter = InMemorySpanExporter()
    sampler = build_sampler(settings, clock) if clock else build_sampler(settings)
    provider = TracerProvider(sampler=sampler, span_limits=build_span_limits(settings), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def remote_parent(sampled):
    span_context = SpanContext(0x1234, 0x5678, True, TraceFlags(1 if sampled else 0))
    return set_span_in_context(NonRecordingSpan(span_context), Context())


def test_ratio_sampler_keeps_a_quarter_of_root_traces():
    tracer, exporter = tracer_for({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"})
    for _ in range(20000):
        tracer.start_span("root", context=Context()).end()
    kept = len(exporter.get_finished_spans())
    assert 0.23 * 20000 <= kept <= 0.27 * 20000, kept


@pytest.mark.parametrize("name, root_kept, sampled_parent_kept, unsampled_parent_kept", [
    ("always_on", True, True, True),
    ("always_off", False, False, False),
    ("parentbased_always_on", True, True, False),
    ("parentbased_always_off", False, True, False),
])
def test_sampler_names(name, root_kept, sampled_parent_kept, unsampled_parent_kept):
    tracer, exporter = tracer_for({"OTEL_TRACES_SAMPLER": name})
    assert tracer.start_span("a", context=Context()).is_recording() is root_kept
    assert tracer.start_span("b", context=remote_parent(True)).is_recording() is sampled_parent_kept
    assert tracer.start_span("c", context=remote_parent(False)).is_recording() is unsampled_parent_kept


def test_default_is_parentbased_always_on():
    assert Settings.from_env({}).traces_sampler == "parentbased_always_on"
    assert "ParentBased{root:AlwaysOnSampler" in build_sampler(Settings.from_env({})).get_description()


def test_rate_cap_keeps_fifty_new_traces_per_second():
    clock = FakeClock()
    tracer, exporter = tracer_for({"AUTOTRACE_TRACES_PER_SECOND": "50"}, clock)
    for _ in range(3000):               # one root trace every millisecond for 3 s
        tracer.start_span("root", context=Context()).end()
        clock.now += 0.001
    kept = len(exporter.get_finished_spans())
    assert 135 <= kept <= 165, kept


def test_rate_cap_respects_parent_decisions_and_the_sampler():
    clock = FakeClock()
    tracer, exporter = tracer_for({"AUTOTRACE_TRACES_PER_SECOND": "1"}, clock)
    assert tracer.start_span("first", context=Context()).is_recording()
    assert not tracer.start_span("over the cap", context=Context()).is_recording()
    # the bucket is empty, yet a sampled remote parent stays sampled, an unsampled one not
    assert tracer.start_span("child", context=remote_parent(True)).is_recording()
    assert not tracer.start_span("child", context=remote_parent(False)).is_recording()
    clock.now += 1.0
    assert tracer.start_span("a second later", context=Context()).is_recording()
    # on top of the sampler: always_off stays off, whatever the bucket holds
    off, _ = tracer_for({"AUTOTRACE_TRACES_PER_SECOND": "100", "OTEL_TRACES_SAMPLER": "always_off"}, clock)
    assert not off.start_span("root", context=Context()).is_recording()


def test_a_sampled_out_request_still_propagates_its_context():
    tracer, _ = tracer_for({"OTEL_TRACES_SAMPLER": "always_off"})
    span = tracer.start_span("dropped", context=Context())
    assert not span.is_recording()
    headers = {}
    TraceContextPropagator().inject(headers, context=set_span_in_context(span))
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert int(trace_id, 16) == span.get_span_context().trace_id
    assert int(flags, 16) & 0x01 == 0   # sampled flag off (0x02, the random flag, may be set)


def test_span_limits_come_from_settings(monkeypatch):
    # The SDK would read these variables itself if we let it: prove config.py's values win.
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "50")
    tracer, exporter = tracer_for({"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "2", "OTEL_SPAN_EVENT_COUNT_LIMIT": "1",
                                   "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "4"})
    span = tracer.start_span("limited", attributes={"a": "123456"})
    span.set_attribute("b", "7891011")
    span.set_attribute("c", 2)   # the SDK drops the oldest beyond the count
    span.add_event("one")
    span.add_event("two")
    span.end()
    (finished,) = exporter.get_finished_spans()
    assert dict(finished.attributes) == {"b": "7891", "c": 2}
    assert [e.name for e in finished.events] == ["two"]


def test_span_limit_defaults_and_precedence():
    limits = build_span_limits(Settings.from_env({}))
    assert (limits.max_span_attributes, limits.max_events, limits.max_links) == (128, 128, 128)
    assert limits.max_span_attribute_length is None
    limits = build_span_limits(Settings.from_env({"OTEL_ATTRIBUTE_COUNT_LIMIT": "7",
                                                  "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "9",
                                                  "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "100"}))
    assert (limits.max_span_attributes, limits.max_event_attributes, limits.max_span_attribute_length) == (9, 7, 100)


@pytest.mark.parametrize("env, variable, default", [
    ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER", "'parentbased_always_on'"),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"}, "OTEL_TRACES_SAMPLER_ARG", "1.0"),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "abc"}, "OTEL_TRACES_SAMPLER_ARG", "1.0"),
    ({"AUTOTRACE_TRACES_PER_SECOND": "-3"}, "AUTOTRACE_TRACES_PER_SECOND", "None"),
    ({"OTEL_SPAN_EVENT_COUNT_LIMIT": "many"}, "OTEL_SPAN_EVENT_COUNT_LIMIT", "128"),
])
def test_bad_sampling_values_give_one_warning_and_the_default(env, variable, default):
    settings = Settings.from_env(env)
    (problem,) = settings.problems
    assert problem.startswith(variable + "=") and "accepted:" in problem and problem.endswith(default)
    build_sampler(settings)   # still builds


def test_the_ratio_argument_is_ignored_by_samplers_without_a_ratio():
    settings = Settings.from_env({"OTEL_TRACES_SAMPLER": "always_on", "OTEL_TRACES_SAMPLER_ARG": "abc"})
    assert settings.problems == []


def test_a_rate_of_zero_keeps_no_new_root_trace_but_follows_parents():
    tracer, _ = tracer_for({"AUTOTRACE_TRACES_PER_SECOND": "0"}, FakeClock())
    assert not tracer.start_span("root", context=Context()).is_recording()
    assert tracer.start_span("child", context=remote_parent(True)).is_recording()


@pytest.mark.parametrize("name, parent, dropped", [
    ("always_off", None, True),
    ("always_on", False, False),             # not parent-based: the parent does not decide
    ("traceidratio", None, False),           # the ratio decides per trace id: not certain
    ("parentbased_always_on", None, False),
    ("parentbased_always_on", True, False),
    ("parentbased_always_on", False, True),
    ("parentbased_traceidratio", False, True),
    ("parentbased_always_off", None, True),
    ("parentbased_always_off", True, False),
])
def test_leaf_drop_rule_is_certain_only_when_the_sampler_is(name, parent, dropped):
    from opentelemetry import context as api

    from autotrace.sampling import LeafDropRule
    rule = LeafDropRule(Settings.from_env({"OTEL_TRACES_SAMPLER": name}))
    token = api.attach(remote_parent(parent) if parent is not None else Context())
    try:
        assert rule() is dropped
    finally:
        api.detach(token)


def test_sampled_out_queries_make_no_span_and_still_run(instrument, spans, monkeypatch):
    import sqlite3

    from autotrace import tracing
    instrument("sqlite3")
    monkeypatch.setattr(tracing, "_leaf_drop_rule", lambda: True)
    assert sqlite3.connect(":memory:").execute("SELECT 41 + 1").fetchone() == (42,)
    assert spans() == []
    monkeypatch.setattr(tracing, "_leaf_drop_rule", lambda: False)
    sqlite3.connect(":memory:").execute("SELECT 1")
    assert [s.name for s in spans()] == ["SELECT"]
