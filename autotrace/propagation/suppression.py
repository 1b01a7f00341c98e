"""Marking a context so nested HTTP client instrumentations stay quiet.

One logical request must produce exactly one CLIENT span, yet `requests` calls
`urllib3`, which calls `http.client`, and each of them is instrumented. The outermost
instrumentation starts its span and runs the inner calls under
`suppress_http_spans()`; the inner ones see `http_spans_suppressed()` and only pass
the call through (the outer one already injected the headers).

The key is OTel's own `_SUPPRESS_HTTP_INSTRUMENTATION_KEY` when opentelemetry-api
defines it, so OTel contrib instrumentations installed next to ours honour our mark
and we honour theirs. It is a private name, hence the fallback to a key of our own.
"""

from opentelemetry import context as _otel_context

__all__ = ["SUPPRESS_HTTP_KEY", "http_spans_suppressed", "suppress_http_spans"]

SUPPRESS_HTTP_KEY = getattr(_otel_context, "_SUPPRESS_HTTP_INSTRUMENTATION_KEY", None) or _otel_context.create_key(
    "suppress_http_instrumentation"
)


def suppress_http_spans(context=None):
    """A copy of `context` (default: the current one) in which HTTP client spans are off."""
    return _otel_context.set_value(SUPPRESS_HTTP_KEY, True, context)


def http_spans_suppressed(context=None):
    """Whether HTTP client spans are off in `context` (default: the current one)."""
    return bool(_otel_context.get_value(SUPPRESS_HTTP_KEY, context))
