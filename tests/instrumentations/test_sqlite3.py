"""sqlite3 through the traced connection and cursor proxies."""

import sqlite3

import pytest
from opentelemetry.trace import SpanKind, StatusCode


@pytest.fixture
def db(instrument):
    instrument("sqlite3")
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE)")
    return connection


def test_cursor_execute_is_one_span_with_sanitised_text(db, spans):
    cursor = db.cursor()
    assert cursor.execute("INSERT INTO users (email) VALUES ('bob@example.com')") is cursor
    cursor.execute("SELECT email FROM users WHERE id = 1")
    assert cursor.fetchall() == [("bob@example.com",)]
    insert, select = spans()
    assert (insert.name, select.name) == ("INSERT users", "SELECT users")
    assert select.kind == SpanKind.CLIENT
    attributes = dict(select.attributes)
    assert attributes["db.system.name"] == "sqlite"
    assert attributes["db.namespace"] == ":memory:"
    assert attributes["db.operation.name"] == "SELECT"
    assert attributes["db.collection.name"] == "users"
    assert attributes["db.query.text"] == "SELECT email FROM users WHERE id = ?"
    assert "bob@example.com" not in str(dict(insert.attributes))


def test_connection_shortcuts_and_their_cursors(db, spans):
    cursor = db.execute("SELECT 1")
    cursor.execute("SELECT 2")
    db.executemany("INSERT INTO users (email) VALUES (?)", [("a@x",), ("b@x",)])
    db.executescript("CREATE TABLE t (x); DROP TABLE t;")
    names = [s.name for s in spans()]
    assert names[:3] == ["SELECT", "SELECT", "INSERT users"]
    assert spans()[2].attributes["db.operation.batch.size"] == 2
    assert len(names) == 4
    assert db.execute("SELECT count(*) FROM users").fetchone() == (2,)


def test_with_block_keeps_the_traced_connection(instrument, spans):
    instrument("sqlite3")
    with sqlite3.connect(":memory:") as connection:
        connection.execute("SELECT 1")
    assert isinstance(connection, sqlite3.Connection)
    assert [s.name for s in spans()] == ["SELECT"]


def test_failing_statement_reraises_the_same_error(db, spans):
    db.execute("INSERT INTO users (email) VALUES ('x@y')")
    with pytest.raises(sqlite3.IntegrityError) as info:
        db.execute("INSERT INTO users (email) VALUES ('x@y')")
    failed = spans()[-1]
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == "sqlite3.IntegrityError"
    assert failed.attributes["db.response.status_code"] == "SQLITE_CONSTRAINT_UNIQUE"
    assert failed.events[0].attributes["exception.type"] == "sqlite3.IntegrityError"
    assert info.value.sqlite_errorname == "SQLITE_CONSTRAINT_UNIQUE"


def test_a_repeated_statement_after_a_failure_gets_clean_attributes(db, spans):
    # The attributes of a repeated statement are built once and copied for each span:
    # the error recorded on the failed span must not reach the next one.
    statement = "INSERT INTO users (email) VALUES ('same@example.com')"
    db.execute(statement)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(statement)
    db.execute("DELETE FROM users")
    db.execute(statement)
    first, failed, _delete, again = spans()
    assert failed.attributes["error.type"] == "sqlite3.IntegrityError"
    assert failed.attributes["db.response.status_code"] == "SQLITE_CONSTRAINT_UNIQUE"
    assert dict(again.attributes) == dict(first.attributes)
    assert "error.type" not in again.attributes and again.status.status_code == StatusCode.UNSET


def test_a_broken_span_builder_leaves_results_intact(db, spans, monkeypatch, capsys):
    from autotrace.instrumentations import _dbapi

    def broken(*args, **kwargs):
        raise RuntimeError("sanitiser bug")

    monkeypatch.setattr(_dbapi, "summarize", broken)
    assert db.execute("SELECT 40 + 2").fetchone() == (42,)
    assert db.execute("SELECT 1").fetchone() == (1,)
    assert spans() == []
    assert capsys.readouterr().err.count("instrumentation 'sqlite3' disabled") == 1


def _drop_rule(monkeypatch, **env):
    """Our sampler's certain-drop rule, as under `autotrace run` (the test provider is
    the app's own, for which autotrace never assumes one)."""
    from autotrace import tracing
    from autotrace.config import Settings
    from autotrace.sampling import LeafDropRule
    monkeypatch.setattr(tracing, "_leaf_drop_rule", LeafDropRule(Settings.from_env(env)))


class _NoTracedPath(dict):
    def __getitem__(self, method):
        raise AssertionError("the traced path was entered for %s" % method)


def test_a_sampled_out_query_goes_straight_to_the_driver(db, spans, monkeypatch):
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
    _drop_rule(monkeypatch)   # parentbased_always_on: an unsampled parent drops its children
    unsampled = NonRecordingSpan(SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(0)))
    cursor = db.cursor()
    traced_calls = cursor._self_calls
    cursor._self_calls = db._self_calls = _NoTracedPath()   # the traced path must not be entered
    try:
        with trace.use_span(unsampled):
            assert cursor.execute("INSERT INTO users (email) VALUES (?)", ("dropped@x",)) is cursor
            assert db.execute("SELECT email FROM users").fetchall() == [("dropped@x",)]
            with pytest.raises(sqlite3.IntegrityError):   # the driver's own error, unchanged
                cursor.execute("INSERT INTO users (email) VALUES ('dropped@x')")
    finally:
        cursor._self_calls = db._self_calls = traced_calls
    assert spans() == []
    sampled = NonRecordingSpan(SpanContext(0x1234, 0x9abc, is_remote=True, trace_flags=TraceFlags(1)))
    with trace.use_span(sampled):
        cursor.execute("SELECT 1")
    (kept,) = spans()
    assert kept.name == "SELECT" and kept.parent.span_id == 0x9abc


def test_a_failing_drop_check_leaves_the_query_traced(db, spans, monkeypatch):
    from autotrace import tracing

    def broken(context=None):
        raise RuntimeError("ours")
    monkeypatch.setattr(tracing, "_leaf_drop_rule", broken)
    assert db.execute("SELECT 1").fetchone() == (1,)
    assert [s.name for s in spans()] == ["SELECT"]
