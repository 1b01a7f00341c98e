"""Trace ids on log records, in formatted lines, and log records as span events."""

import io
import logging

import pytest
from opentelemetry import trace

from autotrace import bootstrap
from autotrace.config import Settings

tracer = trace.get_tracer("tests.context")


@pytest.fixture
def logs(instrument, monkeypatch):
    """logs(**env): the logging instrumentation built with these settings, and a logger
    writing to a fresh handler (returned with the stream it writes to)."""
    def apply(fmt=None, **env):
        monkeypatch.setattr(bootstrap, "_settings", Settings.from_env(dict(env, OTEL_SERVICE_NAME="log-svc")))
        instrument("logging")
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(fmt))
        logger = logging.getLogger("tests.context.logs")
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        return logger, stream
    return apply


class Keep(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_records_inside_and_outside_spans(logs):
    logger, _ = logs()
    keep = Keep()
    logger.addHandler(keep)
    logger.info("before")
    with tracer.start_as_current_span("work") as span:
        logger.info("inside")
        with tracer.start_as_current_span("inner") as inner:
            logger.warning("nested")
    logger.info("after")
    fields = [(r.otelTraceID, r.otelSpanID, r.otelTraceSampled, r.otelServiceName) for r in keep.records]
    trace_id = "%032x" % span.get_span_context().trace_id
    assert fields == [
        ("0", "0", False, "log-svc"),
        (trace_id, "%016x" % span.get_span_context().span_id, True, "log-svc"),
        (trace_id, "%016x" % inner.get_span_context().span_id, True, "log-svc"),
        ("0", "0", False, "log-svc"),
    ]


def test_existing_otel_format_strings_work(logs):
    logger, stream = logs(fmt="%(message)s [%(otelTraceID)s %(otelSpanID)s %(otelServiceName)s]")
    logger.info("outside")
    with tracer.start_as_current_span("work") as span:
        logger.info("inside")
    context = span.get_span_context()
    assert stream.getvalue().splitlines() == [
        "outside [0 0 log-svc]", "inside [%032x %016x log-svc]" % (context.trace_id, context.span_id)]


def test_an_app_factory_set_later_still_runs_and_extra_wins(logs):
    logger, _ = logs()
    keep = Keep()
    logger.addHandler(keep)
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.custom = "app"
        return record

    logging.setLogRecordFactory(factory)
    try:
        with tracer.start_as_current_span("work"):
            logger.info("x", extra={"otelServiceName": "mine"})
    finally:
        logging.setLogRecordFactory(previous)
    (record,) = keep.records
    assert record.custom == "app" and record.otelServiceName == "mine" and record.otelSpanID != "0"


def test_log_correlation_appends_ids_to_lines_that_do_not_show_them(logs):
    logger, stream = logs(fmt="%(levelname)s %(message)s", AUTOTRACE_LOG_CORRELATION="true")
    logger.info("outside")
    with tracer.start_as_current_span("work") as span:
        try:
            raise KeyError("k")
        except KeyError:
            logger.exception("failed")
    lines = stream.getvalue().splitlines()
    context = span.get_span_context()
    assert lines[0] == "INFO outside"
    assert lines[1] == "ERROR failed trace_id=%032x span_id=%016x" % (context.trace_id, context.span_id)
    assert lines[2].startswith("Traceback") and lines[-1] == "KeyError: 'k'"


def test_log_correlation_leaves_formats_that_show_the_ids(logs):
    logger, stream = logs(fmt="%(message)s %(otelTraceID)s", AUTOTRACE_LOG_CORRELATION="true")
    with tracer.start_as_current_span("work") as span:
        logger.info("m")
    assert stream.getvalue() == "m %032x\n" % span.get_span_context().trace_id


def test_log_correlation_is_off_by_default(logs):
    logger, stream = logs(fmt="%(message)s")
    with tracer.start_as_current_span("work"):
        logger.info("m")
    assert stream.getvalue() == "m\n"


def test_logs_as_events_from_the_given_level(logs, spans):
    logger, _ = logs(AUTOTRACE_LOGS_AS_EVENTS="WARNING")
    with tracer.start_as_current_span("work"):
        logger.info("quiet %s", "info")
        logger.warning("disk %d%% full", 91)
        try:
            1 / 0
        except ZeroDivisionError:
            logger.exception("boom")
    (span,) = spans()
    events = [(e.name, dict(e.attributes)) for e in span.events]
    assert [attributes["log.message"] for _, attributes in events] == ["disk 91% full", "boom"]
    name, warning = events[0]
    assert name == "log" and warning["log.severity_text"] == "WARNING"
    assert warning["log.logger.name"] == "tests.context.logs"
    assert warning["code.function.name"] == "test_logs_as_events_from_the_given_level"
    assert events[1][1]["exception.type"] == "ZeroDivisionError"


def test_logs_as_events_off_by_default(logs, spans):
    logger, _ = logs()
    with tracer.start_as_current_span("work"):
        logger.error("e")
    (span,) = spans()
    assert list(span.events) == []


def test_unknown_level_name_is_one_warning_and_off():
    settings = Settings.from_env({"AUTOTRACE_LOGS_AS_EVENTS": "LOUD"})
    (problem,) = settings.problems
    assert problem.startswith("AUTOTRACE_LOGS_AS_EVENTS='LOUD' is not valid (accepted: off, debug, info")
    assert settings.logs_as_events == "off"
