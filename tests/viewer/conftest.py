"""Fixtures for the viewer tests: a store filled by the real two-service example, and
`autotrace view` servers on free ports."""

import pytest

from autotrace.store.writer import StoreExporter
from autotrace.viewer.server import Viewer
from viewer_support import Client, run_two_services


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
