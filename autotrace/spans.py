"""Small span helpers shared by every span builder."""

from opentelemetry.trace import Status, StatusCode

from autotrace.semconv import ERROR_TYPE

__all__ = ["qualified_name", "fail_span"]


def qualified_name(kind):
    """`requests.exceptions.ConnectionError`; builtins keep their bare name (`TimeoutError`)."""
    module = getattr(kind, "__module__", "") or ""
    name = getattr(kind, "__qualname__", None) or getattr(kind, "__name__", "Exception")
    return name if module in ("builtins", "") else module + "." + name


def fail_span(span, exc, attributes=None, secrets=()):
    """Mark `span` as failed by `exc` (error.type, an exception event, ERROR status) and end it.

    `secrets`: strings that must not reach the span even though the exception's
    message or traceback quotes them (a URL's token, say)."""
    if span.is_recording():
        span.set_attribute(ERROR_TYPE, qualified_name(type(exc)))
        if attributes:
            span.set_attributes(attributes)
        message = str(exc)
        if secrets:
            from traceback import format_exception
            from autotrace.redaction import scrub
            message = scrub(message, secrets)
            span.record_exception(exc, attributes={
                "exception.message": message,
                "exception.stacktrace": scrub("".join(format_exception(exc)), secrets),
            })
        else:
            span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, "%s: %s" % (type(exc).__name__, message)))
    span.end()
