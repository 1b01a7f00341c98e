"""logging: records carry the current trace and span ids (OpenTelemetry's field names);
optionally the ids are appended to formatted lines and records become span events."""

from autotrace.spec import Instrumentation, Patch, Wrapper

SPEC = Instrumentation(
    name="logging",
    modules=("logging",),
    requires=("opentelemetry.trace",),   # no span can exist before; see spec.py
    distribution="",   # part of the standard library
    supported="",
    description="Log records carry otelTraceID/otelSpanID; AUTOTRACE_LOG_CORRELATION, AUTOTRACE_LOGS_AS_EVENTS",
    patches=(
        # Patched rather than setLogRecordFactory: a factory the app sets later still
        # runs, and ours is never replaced by it.
        Patch("logging", "Logger.makeRecord", Wrapper("_logs.record")),
        Patch("logging", "Formatter.formatMessage", Wrapper("_logs.output")),
    ),
)
