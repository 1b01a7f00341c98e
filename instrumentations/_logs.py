"""The builder for log correlation: trace ids on log records, in formatted lines, and
log records as span events.

Fields set on every record made through Logger.makeRecord once tracing has started,
with the names and values OpenTelemetry's logging integration uses, so format strings
written for it work unchanged:

    otelTraceID       32 hex digits, or "0" outside a span
    otelSpanID        16 hex digits, or "0" outside a span
    otelTraceSampled  True/False (False outside a span)
    otelServiceName   the service.name of this process

A field the app passed itself (`extra=`) is left as it is.
"""

from opentelemetry.trace import get_current_span

from autotrace import semconv
from autotrace.bootstrap import settings
from autotrace.patching import Interceptor
from autotrace.resource import service_name

__all__ = ["record", "output"]

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
_FIELDS = ("otelTraceID", "otelSpanID", "otelTraceSampled", "otelServiceName")


def record(instrumentation):
    service = service_name(settings())
    threshold = _LEVELS.get(settings().logs_as_events)   # None: off

    def before(instance, args, kwargs):
        return True

    def after(state, log_record):
        fields = log_record.__dict__
        span = get_current_span()
        context = span.get_span_context()
        if context.is_valid:
            values = ("%032x" % context.trace_id, "%016x" % context.span_id, context.trace_flags.sampled, service)
        else:
            values = ("0", "0", False, service)
        for name, value in zip(_FIELDS, values):
            if name not in fields:
                fields[name] = value
        if threshold is not None and log_record.levelno >= threshold and span.is_recording():
            span.add_event(semconv.LOG_EVENT_NAME, _event_attributes(log_record))
        return log_record

    return Interceptor(before, after, _nothing)


def _event_attributes(log_record):
    attributes = {
        semconv.LOG_SEVERITY_TEXT: log_record.levelname,
        semconv.LOG_MESSAGE: log_record.getMessage(),
        semconv.LOG_LOGGER_NAME: log_record.name,
        semconv.CODE_FUNCTION_NAME: log_record.funcName or "",
        semconv.CODE_FILE_PATH: log_record.pathname or "",
        semconv.CODE_LINE_NUMBER: log_record.lineno or 0,
    }
    exc_info = log_record.exc_info
    if exc_info and exc_info[0] is not None:
        attributes[semconv.EXCEPTION_TYPE] = exc_info[0].__qualname__
        attributes[semconv.EXCEPTION_MESSAGE] = str(exc_info[1])
    return attributes


def output(instrumentation):
    """AUTOTRACE_LOG_CORRELATION=true: append " trace_id=... span_id=..." to the message
    line of a formatter whose format does not show the ids already (exception text, added
    after this line by Formatter.format, stays below it)."""
    enabled = settings().log_correlation

    def before(instance, args, kwargs):
        if not enabled or not args:
            return None
        log_record = args[0]
        trace_id = getattr(log_record, "otelTraceID", "0")
        if trace_id == "0":
            return None
        style = getattr(instance, "_style", None)
        fmt = getattr(style, "_fmt", None) or ""
        if "otelTraceID" in fmt or "trace_id" in fmt or "otelSpanID" in fmt:
            return None
        return " trace_id=%s span_id=%s" % (trace_id, getattr(log_record, "otelSpanID", "0"))

    def after(suffix, text):
        if suffix is None or not isinstance(text, str):
            return text
        return text + suffix

    return Interceptor(before, after, _nothing)


def _nothing(state, result=None):
    return result
