"""Exporter factories chosen by OTEL_TRACES_EXPORTER: store, otlp, console, none.

Each entry is (label, factory); the batching processor calls the factory in its
worker thread, so exporter modules are imported only when the first span is exported.
"""

from autotrace.messages import warn

__all__ = ["exporter_factories", "describe_target"]

_OTLP_MODULES = {
    "http/protobuf": "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "grpc": "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
}


def exporter_factories(settings):
    factories = []
    for name in settings.exporters:
        if name == "otlp" and not otlp_available(settings):
            warn("OTEL_TRACES_EXPORTER=otlp needs the OTLP exporter: pip install 'autotrace[otlp]'; "
                 "writing to the local store instead")
            name = "store"
        if any(label == name for label, _ in factories):
            continue
        factories.append((name, _FACTORIES[name](settings)))
    return factories


def otlp_available(settings):
    from importlib.util import find_spec
    try:
        return find_spec(_OTLP_MODULES[settings.otlp_protocol]) is not None
    except (ImportError, ValueError):
        return False


def describe_target(settings, name):
    """A human description of where `name` sends spans (for doctor)."""
    if name == "store":
        return settings.store_path
    if name == "otlp":
        endpoint = settings.otlp_endpoint or (
            "http://localhost:4318/v1/traces" if settings.otlp_protocol == "http/protobuf" else "http://localhost:4317")
        return "%s (%s)" % (endpoint, settings.otlp_protocol)
    if name == "console":
        return "stdout"
    return ""


def _store(settings):
    def build():
        from autotrace.store.writer import StoreExporter
        return StoreExporter(settings.store_path, max_mb=settings.store_max_mb)
    return build


def _otlp(settings):
    # The OTLP exporters read the standard OTEL_EXPORTER_OTLP_* variables themselves
    # (endpoint, headers, certificates, compression, timeout): we do not re-implement
    # those, we only choose the protocol.
    #
    # Imported here, in the thread that starts tracing, not lazily in the export
    # thread: grpc registers an atexit hook when imported, which fails if a short
    # program is already exiting by the time the export thread gets to it.
    from importlib import import_module
    module = import_module(_OTLP_MODULES[settings.otlp_protocol])

    def build():
        return module.OTLPSpanExporter()
    return build


def _console(settings):
    def build():
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter
        return ConsoleSpanExporter()
    return build


_FACTORIES = {"store": _store, "otlp": _otlp, "console": _console}
