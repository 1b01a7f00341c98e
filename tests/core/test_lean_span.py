"""LeanSpan / LeanTracer against the SDK they stand in for: the same sampling decisions,
the same API behaviour, the same exported data, to every kind of processor and exporter."""

import itertools
import threading

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState)

from autotrace.batching import BatchingProcessor
from autotrace.config import Settings
from autotrace.lean_span import LeanSpan
from autotrace.lean_tracer import LeanTracer, lean_tracer_for
from autotrace.sampling import build_sampler, quick_decider
from autotrace.spans import add_attributes, start_span


def _pair(sampler=None, limits=None, processor=None):
    """(lean tracer, sdk tracer, exporter) over one provider."""
    provider = TracerProvider(sampler=sampler, span_limits=limits or SpanLimits())
    exporter = InMemorySpanExporter()
    provider.add_span_processor(processor or SimpleSpanProcessor(exporter))
    sdk = provider.get_tracer("test", "1.0")
    lean = lean_tracer_for(sdk, (BatchingProcessor,))
    assert type(lean) is LeanTracer
    return lean, sdk, exporter


def _parent(sampled, remote, random=True, state=None):
    flags = (TraceFlags.SAMPLED if sampled else 0) | (TraceFlags.RANDOM_TRACE_ID if random else 0)
    span_context = SpanContext(0x1234, 0x99, remote, TraceFlags(flags), TraceState(state or []))
    return trace.set_span_in_context(NonRecordingSpan(span_context))


SAMPLERS = ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off",
            "parentbased_traceidratio"]
PARENTS = [None] + [(s, r, rnd) for s, r, rnd in itertools.product((True, False), repeat=3)]


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("parent", PARENTS)
def test_sampling_decisions_match_the_sdk(name, parent):
    settings = Settings.from_env({"OTEL_TRACES_SAMPLER": name, "OTEL_TRACES_SAMPLER_ARG": "0.5"})
    lean, sdk, _ = _pair(build_sampler(settings))
    context = None if parent is None else _parent(*parent, state=[("vendor", "v1")])
    for _ in range(40):   # the ratio samplers decide by trace id: compare many
        ours = lean.start("op", SpanKind.CLIENT, {}, context)
        theirs = sdk.start_span("op", context=context, kind=SpanKind.CLIENT)
        a, b = ours.get_span_context(), theirs.get_span_context()
        if parent is not None:
            assert a.trace_id == b.trace_id == 0x1234
            assert a.trace_flags == b.trace_flags
        else:
            assert a.trace_flags.random_trace_id == b.trace_flags.random_trace_id
        if "ratio" not in name or parent is not None and name.startswith("parentbased"):
            assert a.trace_flags.sampled == b.trace_flags.sampled
        assert a.trace_state == b.trace_state
        assert ours.is_recording() == a.trace_flags.sampled
        assert isinstance(ours, LeanSpan) == a.trace_flags.sampled
        assert a.span_id and a.span_id != b.span_id and a.is_valid and not a.is_remote
        ours.end()
        theirs.end()


def test_ratio_sampler_keeps_the_ratio():
    settings = Settings.from_env({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"})
    lean, _, _ = _pair(build_sampler(settings))
    kept = sum(lean.start("op", SpanKind.CLIENT, {}).is_recording() for _ in range(20000))
    assert 4500 < kept < 5500


def test_quick_decider_only_for_the_samplers_it_knows():
    from opentelemetry.sdk.trace.sampling import ParentBased, ALWAYS_ON, TraceIdRatioBased
    assert quick_decider(ParentBased(ALWAYS_ON)) is not None
    assert quick_decider(TraceIdRatioBased(0.5)) is None
    assert quick_decider(ParentBased(ALWAYS_ON, remote_parent_not_sampled=ALWAYS_ON)) is None
    rate_capped = build_sampler(Settings.from_env({"AUTOTRACE_TRACES_PER_SECOND": "5"}))
    assert quick_decider(rate_capped) is None


def test_rate_cap_applies_through_the_lean_tracer():
    lean, _, _ = _pair(build_sampler(Settings.from_env({"AUTOTRACE_TRACES_PER_SECOND": "10"})))
    kept = sum(lean.start("op", SpanKind.SERVER, {}).is_recording() for _ in range(200))
    assert 1 <= kept <= 2   # a bucket of a tenth of a second's worth, one token at least


def test_exported_span_has_what_the_sdk_span_has():
    lean, sdk, exporter = _pair()
    parent = _parent(True, True, state=[("k", "v")])
    attributes = {"url.path": "/x", "server.port": 80, "flag": True, "ratio": 0.5, "tags": ("a", "b")}
    for tracer in (lean, sdk):
        span = start_span(tracer, "GET /x", SpanKind.SERVER, attributes, context=parent,
                          links=[Link(SpanContext(0x55, 0x66, True), {"why": "public"})])
        add_attributes(span, {"http.response.status_code": 500})
        span.set_attribute("user.id", "u1")
        span.add_event("retry", {"attempt": 2})
        span.set_status(Status(StatusCode.ERROR, "boom"))
        span.end()
    ours, theirs = exporter.get_finished_spans()
    assert isinstance(ours, LeanSpan) and isinstance(ours, ReadableSpan)
    for field in ("name", "kind", "parent", "resource", "instrumentation_scope", "dropped_attributes",
                  "dropped_events", "dropped_links"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert list(ours.attributes.items()) == list(theirs.attributes.items())
    assert ours.status.status_code == theirs.status.status_code and ours.status.description == "boom"
    assert [(e.name, dict(e.attributes)) for e in ours.events] == [(e.name, dict(e.attributes)) for e in theirs.events]
    assert [(l.context, dict(l.attributes)) for l in ours.links] == [(l.context, dict(l.attributes)) for l in theirs.links]
    assert ours.context.trace_state == theirs.context.trace_state
    assert ours.start_time <= ours.end_time
    assert '"name": "GET /x"' in ours.to_json()


def test_api_values_are_validated_like_the_sdk():
    lean, sdk, exporter = _pair()
    for tracer in (lean, sdk):
        span = tracer.start_span("op", attributes={"ok": 1, "": "empty key", "lst": [1, 2]})
        span.set_attribute("obj", object())
        span.set_attributes({"n": None, "s": "x", 3: "int key"})
        span.end()
    ours, theirs = exporter.get_finished_spans()
    assert dict(ours.attributes) == dict(theirs.attributes)
    assert ours.dropped_attributes == theirs.dropped_attributes


def test_status_rules_match_the_sdk():
    lean, sdk, exporter = _pair()
    for tracer in (lean, sdk):
        span = tracer.start_span("op")
        span.set_status(StatusCode.UNSET)
        span.set_status(StatusCode.OK)
        span.set_status(Status(StatusCode.ERROR, "after ok: ignored"))
        span.end()
    ours, theirs = exporter.get_finished_spans()
    assert ours.status.status_code is theirs.status.status_code is StatusCode.OK


def test_record_exception_and_context_manager_exit():
    lean, sdk, exporter = _pair()
    for tracer in (lean, sdk):
        with pytest.raises(KeyError):
            with tracer.start_as_current_span("op"):
                {}["missing"]
    ours, theirs = exporter.get_finished_spans()
    assert ours.status.status_code is theirs.status.status_code is StatusCode.ERROR
    mine, sdks = ours.events[0].attributes, theirs.events[0].attributes
    assert set(mine) == set(sdks)
    for key in ("exception.type", "exception.message", "exception.escaped"):
        assert mine[key] == sdks[key]
    assert "KeyError: 'missing'" in mine["exception.stacktrace"]


def test_nothing_changes_after_end_and_a_second_end_exports_nothing():
    lean, _, exporter = _pair()
    span = lean.start("op", SpanKind.INTERNAL, {"a": 1})
    span.end()
    span.set_attribute("b", 2)
    add_attributes(span, {"c": 3})
    span.add_event("late")
    span.update_name("renamed")
    span.set_status(StatusCode.ERROR)
    span.end()
    (finished,) = exporter.get_finished_spans()
    assert dict(finished.attributes) == {"a": 1} and not finished.events
    assert finished.name == "op" and finished.status.status_code is StatusCode.UNSET
    assert not finished.is_recording()


def test_racing_ends_export_once():
    lean, _, exporter = _pair()
    spans = [lean.start("op", SpanKind.INTERNAL, {}) for _ in range(2000)]
    barrier = threading.Barrier(4)

    def end_all():
        barrier.wait()
        for span in spans:
            span.end()
    threads = [threading.Thread(target=end_all) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(exporter.get_finished_spans()) == 2000


def test_limits_match_the_sdk():
    limits = SpanLimits(max_span_attributes=3, max_events=2, max_links=1, max_event_attributes=1)
    lean, sdk, exporter = _pair(limits=limits)
    links = [Link(SpanContext(0x55, i, True)) for i in (1, 2)]
    for tracer in (lean, sdk):
        span = start_span(tracer, "op", SpanKind.CLIENT, {"a": 1, "b": 2}, links=links)
        add_attributes(span, {"c": 3})
        span.set_attribute("d", 4)
        span.set_attribute("e", 5)
        for i in range(4):
            span.add_event("e%d" % i, {"x": 1, "y": 2})
        span.end()
    ours, theirs = exporter.get_finished_spans()
    assert dict(ours.attributes) == dict(theirs.attributes) == {"c": 3, "d": 4, "e": 5}
    assert ours.dropped_attributes == theirs.dropped_attributes == 2
    assert [e.name for e in ours.events] == [e.name for e in theirs.events] == ["e2", "e3"]
    assert ours.dropped_events == theirs.dropped_events == 2
    assert [len(e.attributes) for e in ours.events] == [1, 1]
    assert len(ours.links) == len(theirs.links) == 1 and ours.dropped_links == theirs.dropped_links == 1


def test_value_length_limit_falls_back_to_sdk_spans():
    provider = TracerProvider(span_limits=SpanLimits(max_span_attribute_length=4))
    sdk = provider.get_tracer("test")
    assert lean_tracer_for(sdk, (BatchingProcessor,)) is sdk


def test_a_disabled_tracer_gives_non_recording_spans():
    from opentelemetry.sdk.trace import _TracerConfig
    lean, sdk, exporter = _pair()
    sdk._set_tracer_config(_TracerConfig(is_enabled=False))
    span = lean.start("op", SpanKind.CLIENT, {"a": 1})
    assert not span.is_recording()
    span.end()
    assert not exporter.get_finished_spans()


class Recorder(SpanProcessor):
    def __init__(self):
        self.calls = []

    def on_start(self, span, parent_context=None):
        self.calls.append(("start", span.name, parent_context))
        span.set_attribute("added.on_start", True)

    def on_end(self, span):
        self.calls.append(("end", span.name, dict(span.attributes)))


def test_an_app_processor_sees_start_and_end():
    recorder = Recorder()
    lean, _, _ = _pair(processor=recorder)
    parent = _parent(True, False)
    span = lean.start("op", SpanKind.CLIENT, {"a": 1}, parent)
    span.end()
    assert recorder.calls == [("start", "op", parent), ("end", "op", {"a": 1, "added.on_start": True})]


def test_our_batching_processors_get_spans_directly_until_another_is_added(tmp_path):
    class Collect:
        def __init__(self):
            self.batches = []

        def export(self, batch):
            self.batches.append(list(batch))
            from opentelemetry.sdk.trace.export import SpanExportResult
            return SpanExportResult.SUCCESS

        def shutdown(self):
            pass
    collect = Collect()
    batching = BatchingProcessor("test", lambda: collect, delay_s=0.01)
    lean, _, _ = _pair(processor=batching)
    lean.start("one", SpanKind.CLIENT, {}).end()
    assert lean._direct is not None
    recorder = Recorder()
    lean.sdk.span_processor.add_span_processor(recorder)
    lean.start("two", SpanKind.CLIENT, {}).end()
    assert lean._direct is None
    assert [c[:2] for c in recorder.calls] == [("start", "two"), ("end", "two")]
    assert batching.force_flush(5000)
    assert [s.name for batch in collect.batches for s in batch] == ["one", "two"]
    batching.shutdown()


def test_otlp_and_store_encoders_take_lean_spans():
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from autotrace.store.rows import span_to_row
    lean, _, exporter = _pair()
    span = lean.start("SELECT users", SpanKind.CLIENT, {"db.system.name": "postgresql", "server.port": 5432},
                      _parent(True, True))
    span.record_exception(ValueError("bad"))
    span.end()
    (finished,) = exporter.get_finished_spans()
    encoded = encode_spans([finished]).resource_spans[0].scope_spans[0].spans[0]
    assert encoded.name == "SELECT users" and encoded.parent_span_id == (0x99).to_bytes(8, "big")
    assert {a.key for a in encoded.attributes} == {"db.system.name", "server.port"}
    assert encoded.events[0].name == "exception"
    row = span_to_row(finished)
    assert row.name == "SELECT users"


class _ZeroSpanIds(RandomIdGenerator):
    """An app's own id generator that hands out invalid (zero) span ids."""

    def generate_span_id(self):
        return 0


def test_span_contexts_are_the_ones_the_api_builds():
    from autotrace import lean_tracer
    assert lean_tracer._layout_is_known()   # this API's layout: the direct build is used
    lean, _, _ = _pair()
    for context in (None, _parent(True, True, state=[("vendor", "v1")])):
        made = lean.start("op", SpanKind.CLIENT, {}, context).get_span_context()
        rebuilt = SpanContext(made.trace_id, made.span_id, False, made.trace_flags, made.trace_state)
        assert tuple(made) == tuple(rebuilt) and type(made) is SpanContext and made.is_valid
    # Ids from the app's own generator keep the API's checks: a zero id is invalid.
    provider = TracerProvider(id_generator=_ZeroSpanIds())
    lean = lean_tracer_for(provider.get_tracer("test"), (BatchingProcessor,))
    assert not lean.start("op", SpanKind.CLIENT, {}, _parent(True, True)).get_span_context().is_valid


def test_the_parent_is_the_current_span_or_the_given_context():
    lean, _, _ = _pair()
    outer = lean.start("outer", SpanKind.SERVER, {})
    with trace.use_span(outer):
        child = lean.start("child", SpanKind.CLIENT, {})
        assert child.parent == outer.get_span_context()
        remote = lean.start("other", SpanKind.CLIENT, {}, _parent(True, True))
        assert remote.parent.span_id == 0x99 and remote.get_span_context().trace_id == 0x1234
    # Something that is not a span under the span key is no parent (as in the API).
    from autotrace.context_var import SPAN_KEY
    from opentelemetry.context import Context
    orphan = lean.start("orphan", SpanKind.CLIENT, {}, Context({SPAN_KEY: "not a span"}))
    assert orphan.parent is None and orphan.get_span_context().is_valid


@pytest.mark.parametrize("extra", ["plain", "status", "event", "link", "root"])
def test_the_store_inbox_packs_a_lean_span_as_the_sdk_span(extra):
    # The packer reads a plain LeanSpan (unset status, no events or links) by index,
    # the others through their properties: every kind must unpack to the SDK span's record.
    from autotrace.store.spool import pack, unpack
    lean, sdk, _ = _pair()
    parent = None if extra == "root" else _parent(True, True)
    links = [Link(SpanContext(0x77, 0x88, True), {"why": "batch"})] if extra == "link" else None
    made = []
    for tracer in (lean, sdk):
        if tracer is lean:
            span = lean.start("GET /items", SpanKind.SERVER, {"http.route": "/items", "server.port": 80}, parent,
                              links)
        else:
            span = sdk.start_span("GET /items", context=parent, kind=SpanKind.SERVER, links=links,
                                  attributes={"http.route": "/items", "server.port": 80})
        if extra == "status":
            span.set_status(Status(StatusCode.ERROR, "broken"))
        if extra == "event":
            span.add_event("retry", {"attempt": 2}, timestamp=123)
        span.end()
        made.append(span)
    ours, theirs = (unpack(pack([span])[0])[2][0] for span in made)
    # ids and times differ between the two spans; everything else must be the same
    if parent is not None:
        assert ours[0] == theirs[0] == 0x1234
    assert ours[2] == theirs[2] == (0 if parent is None else 0x99)
    assert ours[3:5] == theirs[3:5] and ours[7:] == theirs[7:]
    assert isinstance(made[0], LeanSpan)
