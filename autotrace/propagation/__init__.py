"""Context propagation over HTTP headers: W3C Trace Context and Baggage, B3, Jaeger.

    from autotrace.propagation import build_propagator
    propagator = build_propagator(("tracecontext", "baggage"))
    context = propagator.extract(request_headers)
    propagator.inject(outgoing_headers)

Every propagator here is an OTel `TextMapPropagator`, so it can also be installed
with `opentelemetry.propagate.set_global_textmap`. None of them raises, whatever the
carrier holds. Modules are imported only for the names asked for.
"""

from importlib import import_module

__all__ = ["PROPAGATOR_CLASSES", "build_propagator", "headers_read"]

# OTEL_PROPAGATORS name -> (module, class)
PROPAGATOR_CLASSES = {
    "tracecontext": ("tracecontext", "TraceContextPropagator"),
    "baggage": ("baggage", "W3CBaggagePropagator"),
    "b3": ("b3", "B3SinglePropagator"),
    "b3multi": ("b3", "B3MultiPropagator"),
    "jaeger": ("jaeger", "JaegerPropagator"),
}


def build_propagator(names):
    """One propagator running the named ones in order ("none" stands for nothing).

    Names are OTEL_PROPAGATORS names, already validated by the config module; an
    unknown name is a programming error and raises ValueError. A repeated name runs
    once.
    """
    from .composite import CompositePropagator, NoopPropagator

    propagators = []
    seen = set()
    for name in names:
        if name == "none" or name in seen:
            continue
        if name not in PROPAGATOR_CLASSES:
            raise ValueError("unknown propagator %r (known: %s, none)" % (name, ", ".join(PROPAGATOR_CLASSES)))
        seen.add(name)
        module_name, class_name = PROPAGATOR_CLASSES[name]
        propagators.append(getattr(import_module("." + module_name, __name__), class_name)())
    if not propagators:
        return NoopPropagator()
    if len(propagators) == 1:
        return propagators[0]
    return CompositePropagator(propagators)


def headers_read(propagator):
    """The lowercase header names `propagator.extract` may read, or None when it cannot
    say (a propagator of someone else's, or one that reads names by prefix)."""
    reads = getattr(propagator, "READS", None)
    return frozenset(reads) if reads is not None else None
