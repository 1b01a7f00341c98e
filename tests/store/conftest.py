"""Fixtures for the store tests; span-building helpers are in store_support.py."""

import pytest

from autotrace.store.writer import StoreExporter


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "store" / "traces.db"


@pytest.fixture
def exporter(store_path):
    exporter = StoreExporter(store_path)
    yield exporter
    exporter.shutdown()
