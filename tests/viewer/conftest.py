"""Fixtures for the viewer tests: a store filled by the real two-service example,
`autotrace view` servers on free ports, and Debian's Chromium driven by Playwright."""

import os

import pytest

from autotrace.store.writer import StoreExporter
from autotrace.viewer.server import Viewer
from support import service_unavailable
from viewer_support import Client, run_two_services

CHROMIUM = os.environ.get("AUTOTRACE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="session")
def example_store(tmp_path_factory):
    """A store written by real `autotrace run` processes (shared: tests only read it)."""
    folder = tmp_path_factory.mktemp("example")
    return run_two_services(folder, folder / "traces.db")


def _start(store):
    writer = StoreExporter(store)
    viewer = Viewer(str(store), writer)
    ui = viewer.serve("127.0.0.1", 0)
    otlp = viewer.serve("127.0.0.1", 0, ingest_only=True)
    return viewer, writer, Client(ui.server_address[1]), Client(otlp.server_address[1])


@pytest.fixture
def example_viewer(example_store):
    """(viewer UI client, OTLP client) over the example store; read-only tests only."""
    viewer, writer, ui, otlp = _start(example_store)
    yield ui
    viewer.stop()
    writer.shutdown()


@pytest.fixture
def fresh_viewer(tmp_path):
    """(UI client, OTLP client, store path) over an empty store of this test's own."""
    store = tmp_path / "fresh.db"
    viewer, writer, ui, otlp = _start(store)
    yield ui, otlp, str(store)
    viewer.stop()
    writer.shutdown()


@pytest.fixture(scope="session")
def browser():
    """A real headless Chromium (Debian's package, never a downloaded build)."""
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


@pytest.fixture
def browser_context(browser):
    """A fresh browser profile per test; options go to browser.new_context()."""
    contexts = []

    def make(**options):
        context = browser.new_context(**{"viewport": {"width": 1400, "height": 900}, **options})
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def _watched(page, errors):
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


@pytest.fixture
def page(browser_context):
    errors = []
    yield _watched(browser_context().new_page(), errors)
    assert errors == []   # no JavaScript exceptions on any page


@pytest.fixture
def new_page(browser_context):
    """Pages in contexts with options (colour scheme, permissions), watched the same way."""
    errors = []
    yield lambda **options: _watched(browser_context(**options).new_page(), errors)
    assert errors == []
