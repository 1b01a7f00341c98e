"""The UI in a real headless Chromium (Debian's), driven by Playwright for Python,
over the store written by the real two-service example."""

import json
import re
import time

from viewer_support import expect, page_url as _url


def test_list_filter_open_trace_collapse_and_detail(example_viewer, page):
    page.goto(_url(example_viewer))
    rows = page.locator("#traces tbody tr")
    rows.filter(has_text="checkout").wait_for()
    total = rows.count()
    assert total >= 3   # checkout, and inventory's startup statements

    page.select_option("select[name=service]", "shop")
    page.wait_for_url("**/?service=shop")
    expect(rows).to_have_count(1)
    row = rows.first
    assert "checkout" in row.inner_text() and "19" in row.inner_text()
    assert "inventory" in row.locator("td").nth(4).inner_text()

    page.reload()   # the filter lives in the URL
    expect(rows).to_have_count(1)
    assert page.input_value("select[name=service]") == "shop"

    page.fill("input[name=until]", "2000-01-01T00:00:00")
    expect(rows).to_have_count(0)
    assert "until=2000-01-01T00" in page.url and page.locator("#count").inner_text() == "No traces match."
    page.fill("input[name=until]", "")
    page.fill("input[name=since]", "1h")
    expect(rows).to_have_count(1)
    assert "since=1h" in page.url and "until" not in page.url

    row.locator("a").click()
    page.wait_for_url("**/trace/*")
    waterfall = page.locator("#rows .row")
    waterfall.first.wait_for()
    expect(waterfall).to_have_count(19)
    assert page.locator(".flag[data-kind='n+1']").count() == 2
    assert "run one after another" in page.locator(".flag[data-kind=sequential]").inner_text()
    assert page.locator("#rows .row.critical").count() >= 5
    assert page.locator("#rows .row.error").count() == 2
    assert page.locator("#rows .ev.exception").count() == 1
    assert "SELECT items" in page.locator("#self-operations").inner_text()
    assert page.locator("#incomplete").count() == 0

    root = waterfall.first
    root.locator(".toggle").click()
    expect(page.locator('#rows .row')).to_have_count(1)
    assert root.locator(".toggle").inner_text() == "▸"
    page.locator("#rows .row").first.locator(".toggle").click()
    expect(page.locator('#rows .row')).to_have_count(19)
    first_call = page.locator("#rows .row").nth(1)   # GET, over GET /orders/{id} and its 6 queries
    first_call.locator(".toggle").click()
    expect(page.locator('#rows .row')).to_have_count(12)
    first_call.locator(".toggle").click()
    expect(page.locator('#rows .row')).to_have_count(19)

    page.locator("#rows .row", has_text="GET /fail").click()
    detail = page.locator("#detail")
    detail.wait_for(state="visible")
    text = detail.inner_text()
    assert "GET /fail" in text and "ERROR: order 404 has no items" in text
    assert "LookupError: order 404 has no items" in detail.locator("pre.stack").inner_text()
    assert "http.route" in text and "service.name" in text
    assert detail.locator("[data-copy]").count() >= 3
    page.keyboard.press("Escape")
    detail.wait_for(state="hidden")
    download = page.locator("a[download]").get_attribute("href")
    assert download.endswith("/otlp")


def test_keyboard_navigation(example_viewer, page):
    page.goto(_url(example_viewer, "/"))
    rows = page.locator("#traces tbody tr")
    rows.filter(has_text="checkout").wait_for()
    assert rows.count() >= 3
    for key, selected in (("j", 0), ("j", 1), ("j", 2), ("k", 1), ("k", 0), ("k", 0)):
        page.keyboard.press(key)
        expect(page.locator("#traces tbody tr.selected")).to_have_count(1)
        assert "selected" in rows.nth(selected).get_attribute("class"), (key, selected)
    page.keyboard.press("Escape")
    expect(page.locator("#traces tbody tr.selected")).to_have_count(0)

    page.goto(_url(example_viewer, "/?operation=checkout"))
    expect(rows).to_have_count(1)
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url("**/trace/*")
    page.locator("#rows .row").first.wait_for()
    selected = page.locator("#rows .row.selected")
    for key, index in (("j", "1"), ("j", "2"), ("j", "3"), ("k", "2")):
        page.keyboard.press(key)
        expect(selected).to_have_attribute("data-index", index)
    page.keyboard.press("Enter")
    detail = page.locator("#detail")
    expect(detail.locator("h2")).to_have_text("GET /orders/{id}")
    page.keyboard.press("j")   # the open detail follows the selection
    expect(detail.locator("h2")).to_have_text("SELECT items")
    page.keyboard.press("k")
    page.keyboard.press("k")
    expect(detail.locator("h2")).to_have_text("GET")
    page.keyboard.press("ArrowLeft")   # collapse the selected span's subtree
    expect(page.locator("#rows .row")).to_have_count(12)
    page.keyboard.press("ArrowRight")
    expect(page.locator("#rows .row")).to_have_count(19)
    page.keyboard.press("Escape")
    detail.wait_for(state="hidden")
    page.keyboard.press("Escape")
    page.wait_for_url(_url(example_viewer, "/"))


def test_list_columns(example_viewer, page):
    page.goto(_url(example_viewer, "/?service=shop"))
    rows = page.locator("#traces tbody tr")
    expect(rows).to_have_count(1)
    (trace,) = example_viewer.get_json("/api/traces?service=shop")
    cells = rows.first.locator("td")
    # the start: its time to the millisecond (with the date before it on another day)
    assert re.fullmatch(r"(\S+ )?\d\d:\d\d:\d\d\.\d{3}", cells.nth(0).inner_text())
    assert cells.nth(0).get_attribute("title") == trace["trace_id"]
    assert cells.nth(1).locator(".svc").inner_text() == "shop" and cells.nth(1).locator("a").inner_text() == "checkout"
    bar = cells.nth(2).locator(".bar")
    assert bar.get_attribute("style").startswith("width:100.0%")   # the longest in the list
    assert re.fullmatch(r"[\d.]+ (ms|s)", cells.nth(2).locator("span").inner_text())
    assert cells.nth(3).inner_text() == "19"
    assert cells.nth(4).locator(".svc").all_inner_texts() == ["inventory", "shop"]
    assert cells.nth(5).locator(".err").inner_text() == "2"
    # bars are relative to the longest trace listed
    page.goto(_url(example_viewer, "/"))
    rows.filter(has_text="checkout").wait_for()
    widths = [float(re.match(r"width:([\d.]+)%", style).group(1))
              for style in page.locator("#traces .dur .bar").evaluate_all("bars => bars.map(b => b.getAttribute('style'))")]
    assert max(widths) == 100.0 and min(widths) < 100.0


def test_every_filter_lives_in_the_url(example_viewer, page):
    rows = page.locator("#traces tbody tr")
    form = page.locator("#filters")
    page.goto(_url(example_viewer, "/?operation=checkout&min_ms=0.001&errors=1"
                                   "&attr=shop.customer%3Dc-42&attr=http.route%3D%2Ffail&since=1h"))
    expect(rows).to_have_count(1)   # the URL's filters are applied and shown
    expect(form.locator("[name=operation]")).to_have_value("checkout")
    assert form.locator("[name=min_ms]").input_value() == "0.001"
    assert form.locator("[name=since]").input_value() == "1h"
    assert form.locator("[name=errors]").is_checked()
    assert form.locator("[name=attr]").input_value() == "shop.customer=c-42 http.route=/fail"

    form.locator("[name=max_ms]").fill("0.001")
    expect(rows).to_have_count(0)
    expect(page).to_have_url(re.compile(r"[?&]max_ms=0\.001(&|$)"))
    form.locator("[name=max_ms]").fill("")
    expect(rows).to_have_count(1)
    form.locator("[name=attr]").fill("shop.customer=c-42 http.route=/nope")
    expect(rows).to_have_count(0)
    assert "attr=shop.customer%3Dc-42&attr=http.route%3D%2Fnope" in page.url
    page.reload()
    expect(form.locator("[name=attr]")).to_have_value("shop.customer=c-42 http.route=/nope")
    expect(page.locator("#count")).to_have_text("No traces match.")

    page.locator("#filters button[type=reset]").click()
    expect(page).to_have_url(_url(example_viewer, "/"))
    expect(rows.filter(has_text="checkout")).to_have_count(1)
    assert rows.count() >= 3
    form.locator("[name=errors]").check()
    expect(rows).to_have_count(1)
    expect(page).to_have_url(_url(example_viewer, "/?errors=1"))
    form.locator("[name=operation]").fill("checkout")
    expect(page).to_have_url(_url(example_viewer, "/?operation=checkout&errors=1"))


def test_service_map_page(example_viewer, page):
    page.goto(_url(example_viewer, "/map"))
    edges = page.locator("#edges tbody tr")
    edges.first.wait_for()
    assert edges.count() == 1
    cells = edges.first.locator("td").all_inner_texts()
    assert cells[:4] == ["shop", "inventory", "3", "33.3%"]
    (edge,) = example_viewer.get_json("/api/service-map?since=24h")["edges"]
    shown = [re.fullmatch(r"([\d.]+) (µs|ms|s)", text) for text in cells[4:]]
    assert all(shown), cells   # p50 and p95 as durations
    scale = {"µs": 1e3, "ms": 1e6, "s": 1e9}
    p50, p95 = (float(match.group(1)) * scale[match.group(2)] for match in shown)
    assert abs(p50 - edge["p50_ns"]) <= 0.06 * edge["p50_ns"] and abs(p95 - edge["p95_ns"]) <= 0.06 * edge["p95_ns"]
    assert page.locator("svg circle.node").count() == 2
    assert "3 calls" in page.locator("svg").text_content()

    # the time range is chosen on the page, kept in the URL, and sent to the API
    with page.expect_response(lambda response: "/api/service-map?since=15m" in response.url):
        page.select_option("select[name=since]", "15m")
    expect(page).to_have_url(_url(example_viewer, "/map?since=15m"))
    expect(edges).to_have_count(1)
    with page.expect_response(lambda response: response.url.endswith("/api/service-map")):
        page.select_option("select[name=since]", "all")
    expect(page).to_have_url(_url(example_viewer, "/map?since=all"))
    expect(edges).to_have_count(1)
    page.goto(_url(example_viewer, "/map?since=15m"))
    assert page.locator("select[name=since]").input_value() == "15m"


def test_pages_load_nothing_from_elsewhere(example_viewer, page):
    """Offline: every request the pages make goes to the viewer itself."""
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    trace_id = example_viewer.get_json("/api/traces?operation=checkout")[0]["trace_id"]
    for path, drawn in (("/", "#traces tbody tr"), ("/trace/" + trace_id, "#rows .row"), ("/map", "#edges tbody tr")):
        page.goto(_url(example_viewer, path))
        page.locator(drawn).first.wait_for()
    origin = _url(example_viewer, "/")
    assert requested and all(url.startswith(origin) for url in requested), requested
    assert any(url.endswith("/static/app.js") for url in requested)
    assert any(url.endswith("/static/style.css") for url in requested)


def test_follows_the_systems_dark_or_light_mode(example_viewer, new_page):
    colours = {}
    for scheme in ("light", "dark"):
        page = new_page(color_scheme=scheme)
        page.goto(_url(example_viewer, "/map"))
        page.locator("#edges tbody tr").first.wait_for()
        colours[scheme] = page.evaluate("""() => [document.body, document.querySelector('.top'), document.querySelector('th')]
            .map(element => { const style = getComputedStyle(element); return [style.backgroundColor, style.color]; })""")
    assert colours["light"][0] == ["rgb(255, 255, 255)", "rgb(29, 33, 39)"]
    assert colours["dark"][0] == ["rgb(17, 20, 24)", "rgb(230, 232, 235)"]
    assert all(light != dark for light, dark in zip(colours["light"], colours["dark"]))


def test_list_updates_live(fresh_viewer, page):
    ui, otlp, _ = fresh_viewer
    page.goto(_url(ui))
    page.locator("#live.on").wait_for()
    assert page.locator("#traces tbody tr").count() == 0
    now = time.time_ns()
    document = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "rust-svc"}}]},
                                   "scopeSpans": [{"spans": [{"traceId": "9" * 32, "spanId": "8" * 16, "name": "arrived-live",
                                                              "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 5_000_000)}]}]}]}
    assert otlp.post("/v1/traces", json.dumps(document).encode(), "application/json")[0] == 200
    row = page.locator("#traces tbody tr", has_text="arrived-live")
    row.wait_for(timeout=10_000)
    assert "rust-svc" in row.inner_text()
    cells = row.locator("td")
    assert cells.nth(3).inner_text() == "1"
    # A span of the same trace from another service, exported later: the row grows in place.
    child = dict(document["resourceSpans"][0]["scopeSpans"][0]["spans"][0], spanId="7" * 16, parentSpanId="8" * 16,
                 name="later-child")
    later = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "go-svc"}}]},
                                "scopeSpans": [{"spans": [child]}]}]}
    assert otlp.post("/v1/traces", json.dumps(later).encode(), "application/json")[0] == 200
    expect(cells.nth(3)).to_have_text("2", timeout=10_000)
    assert "go-svc" in cells.nth(4).inner_text()
    expect(page.locator("#traces tbody tr")).to_have_count(1)


def test_a_big_trace_draws_only_the_rows_in_view_and_scrolls_to_all(fresh_viewer, page):
    ui, otlp, _ = fresh_viewer
    now = time.time_ns()
    spans = [{"traceId": "c" * 32, "spanId": format(n + 1, "016x"), "name": f"step {n}",
              "parentSpanId": "" if n == 0 else format(1, "016x"),
              "startTimeUnixNano": str(now + n * 1000), "endTimeUnixNano": str(now + n * 1000 + 900)}
             for n in range(600)]
    spans[0]["endTimeUnixNano"] = str(now + 700_000)
    document = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    assert otlp.post("/v1/traces", json.dumps(document).encode(), "application/json")[0] == 200
    page.goto(_url(ui, "/trace/" + "c" * 32))
    rows = page.locator("#rows .row")
    rows.first.wait_for()
    assert 20 < rows.count() < 200
    page.locator("#wf-body").evaluate("element => { element.scrollTop = element.scrollHeight; }")
    page.locator("#rows .row", has_text="step 599").wait_for()
    assert page.locator("#rows .row", has_text="step 0").count() == 0
