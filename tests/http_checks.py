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


def serve_slowly(httpserver, path, chunks=4, pause=0.1, chunk=b"x" * 1000):
    """`path` answers 200 at once, then sends its body in `chunks` parts `pause`
    seconds apart (no Content-Length: the body ends when the server closes)."""
    import time
    from werkzeug import Response

    def body():
        for _ in range(chunks):
            time.sleep(pause)
            yield chunk

    httpserver.expect_request(path).respond_with_handler(lambda request: Response(body(), status=200))
    return chunks * len(chunk)


def assert_covers_body(span, headers_at_ns, read_at_ns, seconds_after_headers):
    """The span ended with the body (at least `seconds_after_headers` after the call
    returned with the headers, at the latest when the app had read it), not when the
    headers arrived. Give `seconds_after_headers` some margin below the body's real
    duration: on a loaded machine the headers may reach the client late."""
    assert headers_at_ns < span.end_time <= read_at_ns, (headers_at_ns, span.end_time, read_at_ns)
    assert (span.end_time - headers_at_ns) / 1e9 >= seconds_after_headers * 0.9
