"""What `autotrace traces` and `autotrace show` print, from real stores."""

import io
import re
import sqlite3

from hypothesis import given, strategies as st
from opentelemetry.trace import SpanKind

from autotrace.store.humanize import format_duration
from autotrace.store.terminal import _bar, print_trace, print_traces
from autotrace.store.tree import tree_rows
from autotrace.store.writer import StoreExporter
from store_support import FixedTraceIds, finish, make_tracer, remote_parent_context, start_at

TRACE = int("feed" * 8, 16)
TRACE_ID = format(TRACE, "032x")
BAR_CHARS = re.compile(r"█+")


def run(function, *args, **kwargs):
    out = io.StringIO()
    code = function(*args, out=out, **kwargs)
    return code, out.getvalue()


def write_skewed_trace(path):
    """front GET / [0-100 ms]
         ├─ back load   [-20-130 ms]  starts before and ends after its parent (skew)
         │    └─ back query [10-20 ms] failing
         └─ front render [60-90 ms]
       plus back late [95-99 ms] whose parent never arrived (an orphan)."""
    exporter = StoreExporter(path)
    ids = FixedTraceIds([TRACE])
    front, back = make_tracer(exporter, "front", ids), make_tracer(exporter, "back", ids)
    root = start_at(front, "GET /", 0, kind=SpanKind.SERVER)
    render = start_at(front, "render", 60, parent=root)
    load = start_at(back, "load", -20, parent=root)
    query = start_at(back, "query", 10, parent=load, error="connection reset")
    late = start_at(back, "late", 95, context=remote_parent_context(TRACE, 0xABCDEF))
    finish(query, 20)
    finish(render, 90)
    finish(late, 99)
    finish(root, 100)
    finish(load, 130)
    exporter.shutdown()


def waterfall_lines(text):
    return [line for line in text.splitlines()[2:] if line.strip()]


def test_waterfall_tree_order_markers_and_bars(store_path):
    write_skewed_trace(store_path)
    code, text = run(print_trace, store_path, TRACE_ID[:10], width=120)
    assert code == 0
    header, *_ = text.splitlines()
    assert TRACE_ID in header and "5 spans" in header and "1 error" in header
    assert "incomplete" not in header
    lines = waterfall_lines(text)
    names = [re.split(r"\s{2,}", line.lstrip("├└─│ "))[0] for line in lines]
    # Depth first, siblings by start time; the orphan is a top-level row, by its start.
    assert names == ["GET /", "load", "query", "render", "late"]
    by_name = dict(zip(names, lines))
    assert "⚠ parent 0000000000abcdef not in trace" in by_name["late"]
    assert "✗ connection reset" in by_name["query"]
    assert "✗" not in by_name["GET /"] and "⚠" not in by_name["GET /"]
    assert by_name["load"].startswith("├─ load")
    assert by_name["query"].startswith("│  └─ query")
    assert by_name["render"].startswith("└─ render")
    # Bars: one run of blocks each, inside the same column range.
    spans = [BAR_CHARS.search(line).span() for line in lines]
    assert all(end > start for start, end in spans)
    left = min(start for start, _ in spans)
    right = max(end for _, end in spans)
    assert right - left <= 120
    load_bar, root_bar = spans[names.index("load")], spans[names.index("GET /")]
    assert load_bar[0] < root_bar[0] and load_bar[1] > root_bar[1]  # skew drawn as is


def test_waterfall_fits_the_given_width(store_path):
    write_skewed_trace(store_path)
    for width in (60, 100, 200):
        _, text = run(print_trace, store_path, TRACE_ID, width=width)
        bars = [line for line in waterfall_lines(text)]
        bar_ends = {BAR_CHARS.search(line).end() for line in bars if "✗" not in line and "⚠" not in line}
        assert max(bar_ends) <= width


def test_unknown_or_invalid_trace_id_is_one_line_and_exit_1(store_path, tmp_path):
    write_skewed_trace(store_path)
    for wanted in ("0123456789abcdef", "xyz", "12"):
        code, text = run(print_trace, store_path, wanted)
        assert code == 1 and len(text.splitlines()) == 1, text
    code, text = run(print_trace, tmp_path / "missing.db", TRACE_ID)
    assert code == 1 and text.startswith("autotrace: no trace")


def test_trace_table(store_path):
    write_skewed_trace(store_path)
    exporter = StoreExporter(store_path)
    tracer = make_tracer(exporter, "worker")
    with tracer.start_as_current_span("nightly-job"):
        pass
    code, text = run(print_traces, store_path)
    assert code == 0
    header, first, second, *rest = text.splitlines()
    assert header.split() == ["START", "TRACE", "SERVICE", "OPERATION", "DURATION", "SPANS", "ERRORS"]
    assert "worker" in first and "nightly-job" in first  # newest first
    assert TRACE_ID[:12] in second and "front" in second and "GET /" in second
    assert "150 ms" in second and second.rstrip().endswith("1")  # skew widens the trace
    assert "autotrace show" in text
    code, text = run(print_traces, store_path, errors_only=True)
    assert "nightly-job" not in text and TRACE_ID[:12] in text


def test_incomplete_trace_is_marked(store_path):
    exporter = StoreExporter(store_path)
    tracer = make_tracer(exporter, "back")
    span = start_at(tracer, "handle", 0, context=remote_parent_context(TRACE, 0x99))
    finish(span, 5)
    _, text = run(print_traces, store_path)
    assert "handle (incomplete)" in text
    _, text = run(print_trace, store_path, format(TRACE, "032x"))
    assert "incomplete" in text.splitlines()[0]


def test_empty_and_missing_store_say_how_to_record(store_path, tmp_path):
    blank = tmp_path / "blank.db"
    sqlite3.connect(blank).close()  # an empty file: created, nothing written yet
    exporter = StoreExporter(store_path)
    exporter._connection()  # tables created, no spans
    for path in (tmp_path / "missing.db", blank, store_path):
        code, text = run(print_traces, path)
        assert code == 0, text
        assert text.splitlines() == [
            "No traces yet. Run your app under autotrace to record some, "
            "e.g.: autotrace run python app.py"]
    code, text = run(print_traces, store_path, service="nobody")
    assert code == 0 and "No traces match" in text


def test_foreign_file_is_one_line_exit_1(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello" * 1000)
    code, text = run(print_traces, path)
    assert code == 1 and text.count("\n") == 1 and "not an autotrace trace store" in text


def test_ascii_only_stream_gets_ascii(store_path):
    write_skewed_trace(store_path)
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    assert print_trace(store_path, TRACE_ID, out=stream, width=80) == 0
    stream.flush()
    text = raw.getvalue().decode("ascii")
    assert "#" in text and "x connection reset" in text


def test_durations_read_naturally():
    assert format_duration(12_345_678) == "12.3 ms"
    assert format_duration(1_200_000_000) == "1.20 s"
    assert format_duration(850_000) == "850 µs"
    assert format_duration(125 * 10**9) == "2m 05s"
    assert format_duration(-5) == "0 ns"


@given(start=st.integers(-10**12, 10**12), length=st.integers(-10**9, 10**12),
       axis_start=st.integers(-10**12, 10**12), axis_length=st.integers(0, 10**12),
       width=st.integers(1, 300))
def test_bar_is_always_the_full_width_with_at_least_one_block(start, length, axis_start,
                                                              axis_length, width):
    bar = _bar(start, start + length, axis_start, axis_start + axis_length, width)
    assert len(bar) == width
    assert BAR_CHARS.fullmatch(bar.strip())


@given(st.lists(st.integers(0, 12), min_size=1, max_size=12), st.data())
def test_every_span_appears_exactly_once_whatever_the_parents(parents, data):
    # Parent ids point anywhere: to real spans, to themselves, into cycles, or nowhere.
    spans = [{"span_id": f"s{i}", "parent_span_id": None if p == 12 else f"s{p}",
              "start_ns": data.draw(st.integers(0, 100))} for i, p in enumerate(parents)]
    rows = tree_rows(spans)
    assert sorted(row.span["span_id"] for row in rows) == sorted(s["span_id"] for s in spans)
    shown = {row.span["span_id"]: row for row in rows}
    for span in spans:
        row = shown[span["span_id"]]
        if row.depth == 0 and span["parent_span_id"] is not None:
            assert row.orphan
