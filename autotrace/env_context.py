"""Trace context across processes: the TRACEPARENT / TRACESTATE / BAGGAGE variables.

Outgoing: `child_carrier()` gives the three variables for the context current now (or
None when no span is current) and `child_env(env)` a new environment holding them; the
subprocess, os.exec*/os.spawn* and multiprocessing instrumentations use these.

Incoming: when tracing starts, the context a parent process handed over (read from the
environment by config.py, or carried inside a multiprocessing Process object) becomes
the *default* context of every thread of this process: a span that has no other
parent becomes a child of the parent process's span, whichever thread makes it, and
baggage is there too. Code that attaches a context of its own (a server span from an
incoming request) is unaffected.

The carriers use the W3C formats whatever OTEL_PROPAGATORS says: that is what the
environment-variable convention of OpenTelemetry specifies.
"""

import os
import sys

__all__ = ["child_carrier", "child_env", "install", "continue_from_carrier", "CarriedContext", "VARIABLES"]

VARIABLES = ("TRACEPARENT", "TRACESTATE", "BAGGAGE")

_pending = None       # a carrier that arrived (multiprocessing) before tracing started
_installed = False
_propagators = None


def _w3c():
    global _propagators
    if _propagators is None:
        from autotrace.propagation.baggage import W3CBaggagePropagator
        from autotrace.propagation.tracecontext import TraceContextPropagator
        _propagators = (TraceContextPropagator(), W3CBaggagePropagator())
    return _propagators


def child_carrier():
    """{"TRACEPARENT": ..., maybe "TRACESTATE", "BAGGAGE"} for the current context, or
    None when no span is current (or OpenTelemetry was never imported: then none can be)."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None or not trace.get_current_span().get_span_context().is_valid:
        return None
    headers = {}
    for propagator in _w3c():
        propagator.inject(headers)
    return {name.upper(): value for name, value in headers.items() if name.upper() in VARIABLES}


def child_env(env, carrier):
    """A new environment: `env` (or os.environ when None) with the carrier's variables.

    The caller's mapping is never changed. A TRACESTATE or BAGGAGE left over from an
    older context is removed when the current context has none, so the child cannot
    mix two traces. bytes keys (os.environb style) get bytes."""
    base = os.environ if env is None else env
    merged = dict(base)
    as_bytes = any(isinstance(key, bytes) for key in merged)
    for name in VARIABLES:
        key = name.encode() if as_bytes else name
        value = carrier.get(name)
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value.encode() if as_bytes else value
    return merged


def context_from_carrier(carrier):
    """An OpenTelemetry Context from {"TRACEPARENT": ..., ...} (missing keys are fine)."""
    from opentelemetry.context import Context
    headers = {name.lower(): value for name, value in carrier.items() if value}
    context = Context()
    for propagator in _w3c():
        context = propagator.extract(headers, context=context)
    return context


def install(settings):
    """At tracing start: make the inherited context the default of every thread."""
    global _installed
    carrier = _pending or {"TRACEPARENT": settings.env_traceparent, "TRACESTATE": settings.env_tracestate,
                           "BAGGAGE": settings.env_baggage}
    _installed = True
    if any(carrier.values()):
        _set_default(context_from_carrier(carrier))


def continue_from_carrier(carrier):
    """Runs in a spawned or forkserver multiprocessing child while its Process object is
    unpickled: the parent's context becomes this process's default context."""
    global _pending
    try:
        if _installed:
            _set_default(context_from_carrier(carrier))
        else:
            _pending = dict(carrier)
    except Exception as exc:   # never fail the child's start
        from autotrace.messages import warn
        warn("the parent process's trace context could not be used (%s: %s)" % (type(exc).__name__, exc))
    return CarriedContext(carrier)


class CarriedContext:
    """Set on a multiprocessing Process object before it starts; pickled with it for
    spawn and forkserver children, where unpickling it continues the parent's trace."""

    __slots__ = ("carrier",)

    def __init__(self, carrier):
        self.carrier = carrier

    def __reduce__(self):
        return continue_from_carrier, (self.carrier,)


def _set_default(context):
    """Make `context` what get_current() returns wherever nothing was attached.

    OpenTelemetry keeps the current context in one ContextVar whose default is an empty
    Context object; every `get` in a thread or task that attached nothing returns that
    very object. Its contents are replaced in place, so every reader sees the parent's
    context: OpenTelemetry's get_current and autotrace's direct reads of the variable
    (context_var.py) alike, with nothing wrapped and no cost per call. attach and
    detach are untouched, so every token stays valid. If the runtime context is not
    the usual contextvars one, the context is attached in this thread only."""
    import contextvars
    from opentelemetry import context as api

    runtime = getattr(api, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    default = None
    if isinstance(var, contextvars.ContextVar):
        try:
            # In a fresh, empty contextvars.Context nothing is set: `get` gives the default.
            default = contextvars.Context().run(var.get)
        except LookupError:
            default = None
    if not isinstance(default, dict):
        from autotrace.messages import debug
        debug("unusual OpenTelemetry runtime context: the parent's context is used in this thread only")
        api.attach(context)
        return
    # Context forbids item assignment; dict's own methods fill the object in place.
    dict.clear(default)
    dict.update(default, context)
