"""Make docs/trace-page.png: run the two-service example for real (tests/viewer/apps),
serve the store with `autotrace view`'s server and photograph the trace page.

usage: python docs/trace_page_screenshot.py   (needs playwright and /usr/bin/chromium)"""

import os
import sys
import tempfile
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "tests" / "viewer")]

from playwright.sync_api import sync_playwright  # noqa: E402

from autotrace.store.queries import list_traces  # noqa: E402
from autotrace.store.writer import StoreExporter  # noqa: E402
from autotrace.viewer.server import Viewer  # noqa: E402
from viewer_support import run_two_services  # noqa: E402


def main():
    folder = pathlib.Path(tempfile.mkdtemp())
    store = run_two_services(folder, folder / "traces.db")
    (trace,) = list_traces(store, operation="checkout")
    writer = StoreExporter(store)
    viewer = Viewer(store, writer)
    port = viewer.serve("127.0.0.1", 0).server_address[1]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1500, "height": 900}, color_scheme="light")
        page.goto(f"http://127.0.0.1:{port}/trace/{trace['trace_id']}")
        page.locator("#rows .row", has_text="GET /fail").click()
        page.locator("#detail").wait_for(state="visible")
        out = HERE / "trace-page.png"
        page.screenshot(path=str(out), full_page=False)
        browser.close()
    viewer.stop()
    writer.shutdown()
    print(out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
