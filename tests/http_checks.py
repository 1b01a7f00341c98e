"""Helpers for the HTTP client tests (import as `from http_checks import ...`)."""

import pytest


def traceparent_ids(value):
    """(trace id, span id) as ints from a traceparent header value."""
    version, trace_id, span_id, flags = value.split("-")
    assert version == "00" and int(flags, 16) & 0x01, value
    return int(trace_id, 16), int(span_id, 16)


def assert_carried(span, traceparent):
    """The server received the context of `span` itself (not of a parent, not a copy)."""
    assert traceparent is not None, "the server received no traceparent"
    assert traceparent_ids(traceparent) == (span.context.trace_id, span.context.span_id)


def client_spans(finished):
    from opentelemetry.trace import SpanKind
    return [s for s in finished if s.kind == SpanKind.CLIENT]


@pytest.fixture
def configure(monkeypatch):
    """configure(VAR="value", ...): the settings the next instrument(...) is built with."""
    from autotrace import bootstrap
    from autotrace.config import Settings

    def apply(**env):
        settings = Settings.from_env(env)
        assert settings.problems == [], settings.problems
        monkeypatch.setattr(bootstrap, "_settings", settings)
        return settings
    return apply
