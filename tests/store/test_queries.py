"""Reading the store back: every filter must actually filter."""

import pytest
from opentelemetry.trace import SpanKind

from autotrace.store.queries import (AmbiguousTraceId, explain_list_traces,
                                     get_trace, list_traces, operations, service_map,
                                     services)
from autotrace.store.writer import StoreExporter
from store_support import MS, T0, FixedTraceIds, finish, make_tracer, remote_parent_context, start_at

A, B, C, D = (int(f"{n}" * 32, 16) for n in "abcd")
TRACE_A, TRACE_B, TRACE_C, TRACE_D = (format(t, "032x") for t in (A, B, C, D))


@pytest.fixture
def shop(store_path):
    """Four traces, one second apart:

    A  front GET /a (10 ms) -> back handle-a (http.route=/a, status 200)
    B  front GET /b (100 ms) -> back handle-b, failing
    C  worker job (1 s), flag=True
    D  back orphan-work (5 ms): its parent lives in an untraced process (incomplete)
    """
    exporter = StoreExporter(store_path)
    ids = FixedTraceIds([A, B, C])
    front = make_tracer(exporter, "front", ids)
    back = make_tracer(exporter, "back", ids)
    worker = make_tracer(exporter, "worker", ids)

    root = start_at(front, "GET /a", 0, kind=SpanKind.SERVER, attributes={"http.status_code": 200})
    call = start_at(back, "handle-a", 2, parent=root, kind=SpanKind.SERVER,
                    attributes={"http.route": "/a"})
    finish(call, 8)
    finish(root, 10)

    root = start_at(front, "GET /b", 1000, kind=SpanKind.SERVER, attributes={"http.status_code": 500})
    call = start_at(back, "handle-b", 1010, parent=root, kind=SpanKind.SERVER, error="db down")
    finish(call, 1090)
    finish(root, 1100)

    job = start_at(worker, "job", 2000, attributes={"flag": True})
    finish(job, 3000)

    orphan = start_at(back, "orphan-work", 3000, context=remote_parent_context(D, 0x1234))
    finish(orphan, 3005)
    exporter.shutdown()
    return store_path


def ids(traces):
    return [trace["trace_id"] for trace in traces]


def test_list_is_newest_first_with_summaries(shop):
    traces = list_traces(shop)
    assert ids(traces) == [TRACE_D, TRACE_C, TRACE_B, TRACE_A]
    by_id = {trace["trace_id"]: trace for trace in traces}
    assert by_id[TRACE_A]["services"] == ["back", "front"]
    assert by_id[TRACE_A]["duration_ns"] == 10 * MS
    assert by_id[TRACE_B]["error_count"] == 1 and by_id[TRACE_A]["error_count"] == 0
    incomplete = by_id[TRACE_D]
    assert not incomplete["complete"] and incomplete["root_name"] is None
    assert (incomplete["service"], incomplete["name"]) == ("back", "orphan-work")


def test_limit(shop):
    assert ids(list_traces(shop, limit=2)) == [TRACE_D, TRACE_C]


def test_service_filter_matches_any_span_of_the_trace(shop):
    assert ids(list_traces(shop, service="back")) == [TRACE_D, TRACE_B, TRACE_A]
    assert ids(list_traces(shop, service="worker")) == [TRACE_C]
    assert list_traces(shop, service="nobody") == []


def test_errors_only(shop):
    assert ids(list_traces(shop, errors_only=True)) == [TRACE_B]


def test_operation_is_the_root_name_or_the_earliest_span_name(shop):
    assert ids(list_traces(shop, operation="GET /b")) == [TRACE_B]
    assert ids(list_traces(shop, operation="orphan-work")) == [TRACE_D]
    assert list_traces(shop, operation="handle-a") == []  # not a root


def test_duration_bounds(shop):
    assert ids(list_traces(shop, min_duration_ns=50 * MS)) == [TRACE_C, TRACE_B]
    assert ids(list_traces(shop, max_duration_ns=10 * MS)) == [TRACE_D, TRACE_A]
    assert ids(list_traces(shop, min_duration_ns=50 * MS, max_duration_ns=500 * MS)) == [TRACE_B]


def test_time_range(shop):
    assert ids(list_traces(shop, since_ns=T0 + 1000 * MS, until_ns=T0 + 2000 * MS)) == [TRACE_C, TRACE_B]
    assert ids(list_traces(shop, until_ns=T0)) == [TRACE_A]


def test_attribute_search_in_every_accepted_form(shop):
    assert ids(list_traces(shop, attributes={"http.route": "/a"})) == [TRACE_A]
    assert ids(list_traces(shop, attributes=["http.status_code=500"])) == [TRACE_B]
    assert ids(list_traces(shop, attributes={"http.status_code": 200})) == [TRACE_A]
    assert ids(list_traces(shop, attributes={"flag": True})) == [TRACE_C]
    assert ids(list_traces(shop, attributes=["flag=true"])) == [TRACE_C]
    # Every pair must match, possibly on different spans of the trace.
    assert ids(list_traces(shop, attributes={"http.route": "/a", "http.status_code": 200})) == [TRACE_A]
    assert list_traces(shop, attributes={"http.route": "/a", "http.status_code": 500}) == []
    with pytest.raises(ValueError):
        list_traces(shop, attributes=["no-equals-sign"])


def test_filters_combine(shop):
    assert ids(list_traces(shop, service="back", errors_only=True)) == [TRACE_B]
    assert list_traces(shop, service="worker", errors_only=True) == []


def test_get_trace_by_full_id_and_prefix(shop):
    spans = get_trace(shop, TRACE_A)
    assert [span["name"] for span in spans] == ["GET /a", "handle-a"]  # by start time
    assert get_trace(shop, TRACE_A[:8].upper()) == spans
    assert get_trace(shop, "0123456789abcdef") == []
    with pytest.raises(ValueError):
        get_trace(shop, "abc")  # too short to be a prefix
    with pytest.raises(ValueError):
        get_trace(shop, "not-a-trace-id!")


def test_ambiguous_prefix(store_path):
    exporter = StoreExporter(store_path)
    twins = [int("12345678" + "0" * 23 + "1", 16), int("12345678" + "0" * 23 + "2", 16)]
    tracer = make_tracer(exporter, "app", FixedTraceIds(twins))
    for _ in twins:
        with tracer.start_as_current_span("work"):
            pass
    with pytest.raises(AmbiguousTraceId):
        get_trace(store_path, "12345678")
    assert len(get_trace(store_path, format(twins[0], "032x"))) == 1


def test_services_count_entry_spans_for_latency_and_errors(shop):
    by_name = {service["name"]: service for service in services(shop)}
    assert set(by_name) == {"front", "back", "worker"}
    back = by_name["back"]
    assert back["span_count"] == 3 and back["error_count"] == 1 and back["trace_count"] == 3
    assert back["entry_count"] == 3 and back["error_rate"] == pytest.approx(1 / 3)
    assert (back["p50_ns"], back["p99_ns"]) == (6 * MS, 80 * MS)
    assert by_name["front"]["error_rate"] == 0.0 and by_name["front"]["p99_ns"] == 100 * MS
    assert [s["name"] for s in services(shop, since_ns=T0 + 2000 * MS)] == ["back", "worker"]


def test_service_map_edges(shop):
    [edge] = service_map(shop)
    assert (edge["caller"], edge["callee"]) == ("front", "back")
    assert edge["call_count"] == 2 and edge["error_count"] == 1 and edge["error_rate"] == 0.5
    assert edge["p50_ns"] == 6 * MS and edge["p95_ns"] == 80 * MS


def test_operations(shop):
    assert operations(shop, "back") == [
        {"name": "handle-a", "count": 1}, {"name": "handle-b", "count": 1},
        {"name": "orphan-work", "count": 1}]


def test_missing_store_reads_as_empty(tmp_path):
    missing = tmp_path / "nothing" / "traces.db"
    assert list_traces(missing) == []
    assert get_trace(missing, TRACE_A) == []
    assert services(missing) == [] and service_map(missing) == []
    assert not missing.exists()  # reading never creates it


def test_a_directory_is_not_a_store(tmp_path):
    assert list_traces(tmp_path) == []


def test_list_query_walks_indexes(shop):
    plan = " | ".join(explain_list_traces(shop))
    assert "traces_by_start" in plan and "TEMP B-TREE" not in plan, plan
    plan = " | ".join(explain_list_traces(shop, attributes={"http.route": "/a"}))
    assert "span_attributes USING PRIMARY KEY (key=? AND value=?)" in plan, plan
    plan = " | ".join(explain_list_traces(shop, service="back"))
    # A trace's services are in the attribute index under service.name.
    assert "span_attributes USING PRIMARY KEY (key=? AND value=?)" in plan, plan


def test_no_limit_returns_everything(shop):
    assert len(list_traces(shop, limit=None)) == 4
