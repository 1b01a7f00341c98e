"""The UI in a real headless Chromium (Debian's), driven by Playwright for Python,
over the store written by the real two-service example."""

import json
import os
import time

import pytest

from support import service_unavailable

CHROMIUM = os.environ.get("AUTOTRACE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        service_unavailable("Playwright for Python", error)
    if not os.path.exists(CHROMIUM):
        service_unavailable("Chromium", f"{CHROMIUM} does not exist (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as error:
            service_unavailable("Chromium", str(error).splitlines()[0])
        yield browser
        browser.close()


def expect(locator):
    from playwright.sync_api import expect as playwright_expect
    return playwright_expect(locator)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []   # no JavaScript exceptions on any page


def _url(client, path="/"):
    return f"http://127.0.0.1:{client.port}{path}"


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
    page.goto(_url(example_viewer, "/?operation=checkout"))
    page.locator("#traces tbody tr").first.wait_for()
    page.keyboard.press("j")
    assert "selected" in page.locator("#traces tbody tr").first.get_attribute("class")
    page.keyboard.press("Enter")
    page.wait_for_url("**/trace/*")
    page.locator("#rows .row").first.wait_for()
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.locator("#detail").wait_for(state="visible")
    assert page.locator("#rows .row.selected").get_attribute("data-index") == "2"
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.wait_for_url(_url(example_viewer, "/"))


def test_service_map_page(example_viewer, page):
    page.goto(_url(example_viewer, "/map"))
    edges = page.locator("#edges tbody tr")
    edges.first.wait_for()
    assert edges.count() == 1
    cells = [edges.first.locator("td").nth(i).inner_text() for i in range(4)]
    assert cells == ["shop", "inventory", "3", "33.3%"]
    assert page.locator("svg circle.node").count() == 2


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
