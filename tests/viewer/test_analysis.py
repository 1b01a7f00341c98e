"""The trace page's analysis on hand-built traces: skew clamping, orphans, critical
path, self time, N+1 and sequential-call flags."""

from autotrace.viewer import analysis
from autotrace.viewer.analysis import N_PLUS_ONE_MIN, columns_of

MS = 1_000_000


def span(span_id, parent, start, end, service="a", name=None, kind="INTERNAL", **attributes):
    return {"trace_id": "t" * 32, "span_id": span_id, "parent_span_id": parent, "service_name": service,
            "name": name or span_id, "kind": kind, "start_ns": start * MS, "end_ns": end * MS,
            "duration_ns": (end - start) * MS, "status_code": "UNSET", "attributes": attributes, "events": []}


def analyze(spans):
    """The analysis with its rows turned back into one dict per span (`span_id` added)."""
    trace = columns_of(spans)
    result = analysis.analyze(trace)
    columns = result["rows"]
    result["row_list"] = [dict({name: values[n] for name, values in columns.items()},
                               span_id=trace.span_id[position])
                          for n, position in enumerate(columns["span"])]
    return result


def rows_by_id(result):
    return {row["span_id"]: row for row in result["row_list"]}


def test_skewed_child_from_another_service_is_moved_inside_its_parent():
    spans = [span("root", None, 100, 200), span("call", "root", 110, 190, kind="CLIENT"),
             # the server's clock is 50 ms behind: its span seems to start before the call
             span("server", "call", 65, 135, service="b", kind="SERVER"),
             span("query", "server", 70, 80, service="b")]
    result = analyze(spans)
    rows = rows_by_id(result)
    assert rows["server"]["offset_ns"] == 10 * MS and rows["server"]["skew_shift_ns"] == 45 * MS
    assert rows["query"]["offset_ns"] == 15 * MS      # moved with its parent
    assert all(row["offset_ns"] >= 0 and row["duration_ns"] >= 0 for row in result["row_list"])
    assert rows["server"]["duration_ns"] == 70 * MS   # durations are never changed


def test_same_service_children_are_not_moved():
    result = analyze([span("root", None, 100, 200), span("early", "root", 90, 120)])
    assert rows_by_id(result)["early"]["skew_shift_ns"] == 0
    assert min(row["offset_ns"] for row in result["row_list"]) == 0


def test_orphans_are_kept_and_flag_the_trace_incomplete():
    result = analyze([span("root", None, 0, 10), span("lost", "gone", 2, 4)])
    assert result["incomplete"] and result["orphans"] == ["lost"]
    assert rows_by_id(result)["lost"]["orphan"]
    assert analyze([span("x", "gone", 0, 1)])["incomplete"]
    assert not analyze([span("root", None, 0, 1)])["incomplete"]


def test_critical_path_follows_what_the_parent_waited_for():
    spans = [span("root", None, 0, 100),
             span("fast", "root", 10, 30), span("slow", "root", 10, 80),   # parallel: slow matters
             span("last", "root", 80, 95),
             span("inner", "slow", 20, 70)]
    result = analyze(spans)
    assert set(result["critical_path"]) == {"root", "slow", "inner", "last"}


def test_self_time_subtracts_overlapping_children_once():
    spans = [span("root", None, 0, 100, service="a"),
             span("c1", "root", 10, 50, service="b"), span("c2", "root", 30, 60, service="b")]
    result = analyze(spans)
    rows = rows_by_id(result)
    assert rows["root"]["self_ns"] == 50 * MS
    services = {s["service"]: s["self_ns"] for s in result["self_time"]["services"]}
    assert services == {"a": 50 * MS, "b": 70 * MS}


def test_n_plus_one_needs_five_identical_sanitised_queries():
    def trace(count):
        return [span("root", None, 0, 100)] + [
            span(f"q{i}", "root", i * 2, i * 2 + 1, name="SELECT users", kind="CLIENT",
                 **{"db.query.text": f"SELECT * FROM users WHERE id = {i}"}) for i in range(count)]
    assert not [f for f in analyze(trace(N_PLUS_ONE_MIN - 1))["flags"] if f["kind"] == "n+1"]
    (flag,) = [f for f in analyze(trace(N_PLUS_ONE_MIN))["flags"] if f["kind"] == "n+1"]
    assert flag["count"] == 5 and flag["query"] == "SELECT * FROM users WHERE id = ?"
    # identical repeats are N+1, not "sequential calls to different places"
    assert not [f for f in analyze(trace(N_PLUS_ONE_MIN))["flags"] if f["kind"] == "sequential"]


def test_sequential_calls_are_flagged_but_parallel_ones_are_not():
    sequential = [span("root", None, 0, 100)] + [
        span(f"c{i}", "root", i * 30, i * 30 + 20, name="GET", kind="CLIENT", **{"url.full": f"http://svc/{i}"})
        for i in range(3)]
    (flag,) = analyze(sequential)["flags"]
    assert flag["kind"] == "sequential" and flag["span_ids"] == ["c0", "c1", "c2"]
    parallel = [span("root", None, 0, 100)] + [
        span(f"c{i}", "root", 10 + i, 50, name="GET", kind="CLIENT", **{"url.full": f"http://svc/{i}"})
        for i in range(3)]
    assert analyze(parallel)["flags"] == []


def test_deep_and_cyclic_traces_do_not_crash():
    deep = [span("s0", None, 0, 10_000)] + [span(f"s{i}", f"s{i - 1}", i, 10_000 - i) for i in range(1, 3000)]
    result = analyze(deep)
    assert len(result["row_list"]) == 3000 and len(result["critical_path"]) == 3000
    assert [row["depth"] for row in result["row_list"]] == list(range(3000))
    cycle = analyze([span("a", "b", 0, 5), span("b", "a", 1, 4)])
    assert [(row["span_id"], row["depth"], row["orphan"], row["child_count"]) for row in cycle["row_list"]] == \
        [("a", 0, True, 1), ("b", 1, False, 0)]
    assert cycle["incomplete"] and cycle["orphans"] == ["a"]


def test_display_order_is_depth_first_with_children_by_start_time():
    spans = [span("root", None, 0, 100), span("late", "root", 50, 60), span("early", "root", 10, 20),
             span("tie-b", "early", 12, 13), span("tie-a", "early", 12, 14), span("lost", "gone", 5, 6)]
    result = analyze(spans)
    assert [(row["span_id"], row["depth"]) for row in result["row_list"]] == [
        ("root", 0), ("early", 1), ("tie-a", 2), ("tie-b", 2), ("late", 1), ("lost", 0)]
    assert [row["child_count"] for row in result["row_list"]] == [2, 2, 0, 0, 0, 0]


def test_self_time_ignores_children_outside_the_span():
    # fire-and-forget work that outlives its parent, and a child that (same clock)
    # seems to start before it: neither may push self time above the duration
    outside = [span("root", None, 0, 100), span("after", "root", 150, 160), span("before", "root", -20, -10)]
    assert rows_by_id(analyze(outside))["root"]["self_ns"] == 100 * MS
    overlapping = outside + [span("half", "root", 90, 130)]
    rows = rows_by_id(analyze(overlapping))
    assert rows["root"]["self_ns"] == 90 * MS
    assert all(0 <= row["self_ns"] <= row["duration_ns"] for row in rows.values())


def _random_trace(rng):
    """Up to 60 spans over 3 services: roots, children, orphans, parent cycles, clocks
    that disagree, negative durations."""
    ids = [f"{rng.getrandbits(64) | 1:016x}" for _ in range(rng.randint(1, 60))]
    spans = []
    for i, span_id in enumerate(ids):
        draw = rng.random()
        if i == 0 and draw < 0.8:
            parent = None
        elif i and draw < 0.85:
            parent = rng.choice(ids[:i])
        else:   # a parent not in the trace, or any span (cycles, itself)
            parent = f"{rng.getrandbits(64):016x}" if draw < 0.93 else rng.choice(ids)
        start = rng.randint(0, 1000)
        spans.append(span(span_id, parent, start, start + rng.randint(-50, 400), service=rng.choice("abc")))
    return spans


def _covered(segments):
    """Length of the union of [a, b) segments, by sweeping their boundaries."""
    points = sorted({x for segment in segments for x in segment})
    return sum(y - x for x, y in zip(points, points[1:])
               if any(a <= x and y <= b for a, b in segments))


def test_random_traces_bars_stay_possible_and_self_time_is_exact():
    import random
    rng = random.Random(7)
    for _ in range(300):
        spans = _random_trace(rng)
        by_id = {s["span_id"]: s for s in spans}
        result = analyze(spans)
        rows = rows_by_id(result)
        assert len(result["row_list"]) == len(spans)              # nothing dropped, nothing twice
        for span_id, row in rows.items():
            measured = max(0, by_id[span_id]["end_ns"] - by_id[span_id]["start_ns"])
            assert row["duration_ns"] == measured                  # never stretched or cut
            assert row["offset_ns"] >= 0 and row["offset_ns"] + row["duration_ns"] <= result["duration_ns"]
        shown = result["row_list"]
        for n, row in enumerate(shown):
            parent = next((shown[k] for k in range(n - 1, -1, -1) if shown[k]["depth"] < row["depth"]), None)
            if row["depth"] == 0:
                continue
            assert row["depth"] == parent["depth"] + 1 and by_id[row["span_id"]]["parent_span_id"] == parent["span_id"]
            p_start, p_end = parent["offset_ns"], parent["offset_ns"] + parent["duration_ns"]
            moved = by_id[row["span_id"]]["service_name"] != by_id[parent["span_id"]]["service_name"]
            if moved and row["duration_ns"] <= p_end - p_start:  # another clock: fitted inside
                assert p_start <= row["offset_ns"] and row["offset_ns"] + row["duration_ns"] <= p_end
        for row in shown:
            lo, hi = row["offset_ns"], row["offset_ns"] + row["duration_ns"]
            kids = [rows[k] for k in rows if by_id[k]["parent_span_id"] == row["span_id"]
                    and not rows[k]["orphan"] and rows[k]["depth"] == row["depth"] + 1]
            assert row["child_count"] == len(kids)
            segments = [(max(lo, k["offset_ns"]), min(hi, k["offset_ns"] + k["duration_ns"])) for k in kids]
            assert row["self_ns"] == (hi - lo) - _covered([s for s in segments if s[0] < s[1]])
