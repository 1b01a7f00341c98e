"""The trace page in a real headless Chromium (Debian's), driven by Playwright: what a
person sees of a real two-service run (colours, nesting, critical path, self time,
copy and download), and of a trace with an orphan, clock skew, links and events."""

import json
import re
import time

from autotrace.store.queries import get_trace
from autotrace.viewer.otlp import traces_data
from viewer_support import expect, page_url, post_otlp

MS = 1_000_000


def _checkout_id(client):
    (trace,) = client.get_json("/api/traces?operation=checkout")
    return trace["trace_id"]


def _rows(page):
    """What each waterfall row shows: span id, service, name, classes, indentation."""
    return page.locator("#rows .row").evaluate_all("""rows => rows.map(row => ({
        span: row.dataset.span, classes: row.className,
        label: row.querySelector('.label').title,
        dot: getComputedStyle(row.querySelector('.svc-dot')).backgroundColor,
        bar: getComputedStyle(row.querySelector('.span-bar')).backgroundColor,
        indent: parseFloat(getComputedStyle(row.querySelector('.name')).paddingLeft)}))""")


def test_colours_nesting_critical_path_and_self_time_of_a_real_run(example_viewer, page):
    trace_id = _checkout_id(example_viewer)
    answer = example_viewer.get_json("/api/traces/" + trace_id)
    page.goto(page_url(example_viewer, "/trace/" + trace_id))   # deep link
    expect(page.locator("#rows .row")).to_have_count(19)
    rows = _rows(page)

    colours = {}
    for row in rows:   # one colour per service, on its dot and its bar alike
        service = row["label"].split(":")[0]
        colours.setdefault(service, set()).update({row["dot"], row["bar"]})
    assert set(colours) == {"shop", "inventory"}
    assert all(len(found) == 1 for found in colours.values())
    assert colours["shop"] != colours["inventory"]

    # nesting: checkout > GET > GET /orders/{id} > SELECT items, each further in
    names = [row["label"].split(": ", 1)[1] for row in rows]
    assert names[:4] == ["checkout", "GET", "GET /orders/{id}", "SELECT items"]
    assert rows[0]["indent"] < rows[1]["indent"] < rows[2]["indent"] < rows[3]["indent"]
    assert rows[4]["indent"] == rows[3]["indent"]

    critical = {row["span"] for row in rows if " critical" in row["classes"]}
    assert critical == set(answer["analysis"]["critical_path"]) and len(critical) >= 5
    errors = [name for name, row in zip(names, rows) if " error" in row["classes"]]
    assert errors == ["GET", "GET /fail"]

    services = page.locator("#self-services tbody tr")
    expect(services).to_have_count(2)
    shares = [float(text.rstrip("%")) for text in services.locator("td:nth-child(3)").all_inner_texts()]
    assert abs(sum(shares) - 100) < 0.2
    assert {text.strip() for text in services.locator("td:first-child").all_inner_texts()} == {"shop", "inventory"}
    operations = page.locator("#self-operations").inner_text()
    assert re.search(r"inventory SELECT items\s+12\s", operations)


def test_copy_buttons_put_ids_on_the_clipboard(example_viewer, new_page):
    trace_id = _checkout_id(example_viewer)
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    page.goto(page_url(example_viewer, "/trace/" + trace_id))
    page.locator("#rows .row", has_text="GET /fail").click()
    detail = page.locator("#detail")
    span_id = detail.locator("tr", has_text="span id").locator("code").inner_text()
    assert re.fullmatch(r"[0-9a-f]{16}", span_id)
    button = detail.locator("tr", has_text="span id").locator("button.copy")
    button.click()
    expect(button).to_have_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == span_id
    summary_button = page.locator(".summary button.copy")
    summary_button.click()
    expect(summary_button).to_have_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == trace_id


def test_download_button_saves_the_trace_as_otlp_json_lines(example_viewer, example_store, page):
    trace_id = _checkout_id(example_viewer)
    page.goto(page_url(example_viewer, "/trace/" + trace_id))
    with page.expect_download() as started:
        page.locator("a[download]", has_text="Download OTLP JSON").click()
    download = started.value
    assert download.suggested_filename == f"trace-{trace_id}.jsonl"
    with open(download.path(), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == traces_data(get_trace(example_store, trace_id))


def _skewed_trace(now):
    """web calls stock, whose clock is 50 ms behind; a worker's span lost its parent."""
    def span(span_id, parent, name, start_ms, end_ms, kind=1, **extra):
        return {"traceId": "d" * 32, "spanId": span_id * 16, "parentSpanId": parent * 16 if parent else "",
                "name": name, "kind": kind, "startTimeUnixNano": str(now + start_ms * MS),
                "endTimeUnixNano": str(now + end_ms * MS), **extra}
    stack = "Traceback (most recent call last):\n  File \"stock.py\", line 9\nKeyError: 'sku-1'"
    return {
        "web": [span("1", None, "GET /checkout", 0, 100, kind=2,
                     links=[{"traceId": "e" * 32, "spanId": "f" * 16,
                             "attributes": [{"key": "link.reason", "value": {"stringValue": "retry of"}}]}]),
                span("2", "1", "GET", 10, 90, kind=3,
                     attributes=[{"key": "url.full", "value": {"stringValue": "http://stock/sku"}}])],
        "stock": [span("3", "2", "GET /sku", -40, 30, kind=2, status={"code": 2, "message": "no such sku"},
                       events=[{"name": "exception", "timeUnixNano": str(now - 20 * MS), "attributes": [
                           {"key": "exception.type", "value": {"stringValue": "KeyError"}},
                           {"key": "exception.stacktrace", "value": {"stringValue": stack}}]}]),
                  span("4", "3", "SELECT stock", -35, -30, kind=3)],
        "worker": [span("5", "9", "send receipt", -60, -50)],   # before the root, parent lost
    }


def _box(page, name):
    return page.locator("#rows .row", has_text=name).locator(".span-bar").bounding_box()


def test_orphans_clock_skew_events_and_links(fresh_viewer, page):
    ui, otlp, _ = fresh_viewer
    post_otlp(otlp, _skewed_trace(time.time_ns()))
    page.goto(page_url(ui, "/trace/" + "d" * 32))
    expect(page.locator("#rows .row")).to_have_count(5)

    notice = page.locator("#incomplete")
    expect(notice).to_contain_text("Incomplete trace: 1 span(s) whose parent is not in the store")
    orphan = page.locator("#rows .row", has_text="send receipt")
    assert "orphan" in orphan.get_attribute("class")
    rows = _rows(page)
    assert rows[0]["label"] == "worker: send receipt" and rows[1]["label"] == "web: GET /checkout"
    assert rows[0]["indent"] == rows[1]["indent"]   # shown at the top level, first as it starts first
    expect(page.locator(".summary h1")).to_have_text("web GET /checkout")   # named after the root

    # No bar starts before the trace or runs past its end...
    for left, width in page.locator("#rows .span-bar").evaluate_all(
            "bars => bars.map(bar => [parseFloat(bar.style.left), parseFloat(bar.style.width)])"):
        assert left >= 0 and width > 0 and left + width <= 100.001
    # ...and the skewed server span (with its query) is drawn inside its caller's bar.
    client = page.locator("#rows .row").nth(2).locator(".span-bar").bounding_box()   # "GET"
    server, query = _box(page, "GET /sku"), _box(page, "SELECT stock")
    assert client["x"] - 0.5 <= server["x"] and server["x"] + server["width"] <= client["x"] + client["width"] + 0.5
    assert server["x"] - 0.5 <= query["x"] and query["x"] + query["width"] <= server["x"] + server["width"] + 0.5
    # The exception event's marker sits on the moved bar, not where the skewed clock put it.
    marker = page.locator("#rows .row", has_text="GET /sku").locator(".ev.exception").bounding_box()
    assert server["x"] <= marker["x"] <= server["x"] + server["width"]

    page.locator("#rows .row", has_text="GET /sku").click()
    detail = page.locator("#detail")
    expect(detail).to_contain_text("shifted 50 ms for clock skew")
    expect(detail).to_contain_text("ERROR: no such sku")
    assert "KeyError: 'sku-1'" in detail.locator("pre.stack").inner_text()
    assert "stock" in detail.locator("h3:has-text('Resource') + table").inner_text()

    page.locator("#rows .row", has_text="GET /checkout").click()
    link = detail.locator("a[href='/trace/" + "e" * 32 + "']")
    expect(link).to_have_text("e" * 32)
    assert "retry of" in detail.inner_text()

    orphan.click()
    expect(detail).to_contain_text("9999999999999999")
    expect(detail).to_contain_text("(not in the store)")
