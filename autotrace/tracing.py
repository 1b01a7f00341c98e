"""The OpenTelemetry SDK setup: provider, resource, processors, exporters, exit flush.

Nothing here runs at interpreter startup. `start()` runs the first time the
OpenTelemetry API is imported (by the app or by one of our span builders) or a tracer
is asked for, whichever comes first. The provider becomes the global one, so code
that uses the OpenTelemetry API by hand joins the same traces.
"""

import atexit
import threading
import time

from autotrace.messages import debug, warn

__all__ = ["start", "tracer", "stop", "propagator", "leaf_span_dropped", "span_dropped", "drop_rule"]

_lock = threading.RLock()
_provider = None
_processors = []
_starting = False
_tracers = {}


def _never(context=None):
    return False


# Replaced by a sampling.LeafDropRule when we build the provider with our sampler.
_leaf_drop_rule = _never


def leaf_span_dropped():
    """True when a span started now is certain to be dropped by the sampler, so a
    builder of leaf spans (which have no children and propagate nothing) may skip it."""
    return _leaf_drop_rule()


def span_dropped(parent_context):
    """The same for a span started with `parent_context` as its parent (a server span,
    whose parent comes from the request's headers): a builder that knows the span
    would be dropped may skip it and propagate the unsampled context itself."""
    return _leaf_drop_rule(parent_context)


def drop_rule():
    """The sampling.LeafDropRule behind the two functions above, for a builder that
    knows a parent's sampled flag without its span context; None when no span is
    certain to be dropped (the sampler is not ours)."""
    rule = _leaf_drop_rule
    return None if rule is _never else rule


def tracer(scope):
    """The tracer for one instrumentation scope (e.g. "autotrace.instrumentations.requests")."""
    found = _tracers.get(scope)
    if found is None:
        from autotrace import __version__
        from opentelemetry import trace
        start()
        from autotrace.batching import BatchingProcessor
        from autotrace.lean_tracer import lean_tracer_for
        # Also over a provider the app set up itself: the lean tracer uses that
        # provider's sampler, limits and processors, and falls back to its tracer
        # whenever it is not the SDK's.
        found = lean_tracer_for(trace.get_tracer(scope, __version__), (BatchingProcessor,))
        _tracers[scope] = found
    return found


def start(settings=None):
    """Set up the SDK once. Safe to call again, from any thread, or re-entrantly from
    the import hook that fires while the SDK itself imports the API."""
    global _provider, _starting
    if _provider is not None or _starting:
        return
    with _lock:
        if _provider is not None or _starting:
            return
        _starting = True
        try:
            settings = settings or _settings()
            _provider = _build_provider(settings)
        except Exception as exc:
            warn("tracing could not start (%s: %s); the app runs untraced" % (type(exc).__name__, exc))
            from opentelemetry.trace import NoOpTracerProvider
            _provider = NoOpTracerProvider()
        finally:
            _starting = False
        if settings is not None:
            _continue_parent_context(settings)


def _continue_parent_context(settings):
    try:
        from autotrace import env_context
        env_context.install(settings)
    except Exception as exc:
        warn("the trace context from TRACEPARENT/BAGGAGE could not be used (%s: %s); starting new traces"
             % (type(exc).__name__, exc))


def stop():
    """Export what is queued, waiting at most AUTOTRACE_SHUTDOWN_TIMEOUT seconds in all.

    Every processor is told to stop at once and they share one deadline, so a hung
    collector costs the timeout once, not once per exporter."""
    if not _processors:
        return
    settings = _settings()
    deadline = time.monotonic() + settings.shutdown_timeout
    for processor in _processors:
        processor.request_stop()
    for processor in _processors:
        left = processor.wait_stopped(deadline)
        if left:
            warn("gave up after %.1fs on %d span(s) for the %s exporter (AUTOTRACE_SHUTDOWN_TIMEOUT)"
                 % (settings.shutdown_timeout, left, processor.label))
        if processor.dropped:
            warn("%d span(s) were dropped by the %s exporter (queue full or exporter unavailable)"
                 % (processor.dropped, processor.label))
        if processor.dropped_late:
            warn("%d span(s) ended after the %s exporter closed at exit (threads still running then); "
                 "they were dropped" % (processor.dropped_late, processor.label))
    del _processors[:]


class _ForkMarker:
    """Kept alive at module level: multiprocessing holds after-fork callbacks weakly."""


_fork_marker = _ForkMarker()


def _flush_in_forked_workers(util):
    """A multiprocessing child started by fork ends with os._exit, skipping atexit;
    multiprocessing runs its own finalizers first, so the flush is registered there,
    in each child, after multiprocessing has cleared the ones inherited from the parent."""
    def register_in_child(marker):
        util.Finalize(None, stop, exitpriority=100)
    util.register_after_fork(_fork_marker, register_in_child)


def _settings():
    from autotrace import bootstrap
    return bootstrap.settings()


def _build_provider(settings):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from autotrace.batching import BatchingProcessor
    from autotrace.exporters import exporter_factories
    from autotrace.resource import build_resource
    from autotrace.sampling import build_sampler, build_span_limits

    existing = trace.get_tracer_provider()
    if isinstance(existing, TracerProvider):
        debug("the app set its own TracerProvider before autotrace; using it as is")
        return existing

    # Sampler and limits are passed explicitly: config.py is the one reader of the
    # environment, the SDK must not read OTEL_TRACES_SAMPLER or the limits again.
    provider = TracerProvider(resource=build_resource(settings), sampler=build_sampler(settings),
                              span_limits=build_span_limits(settings), shutdown_on_exit=False)
    global _leaf_drop_rule
    from autotrace.sampling import LeafDropRule
    _leaf_drop_rule = LeafDropRule(settings)
    factories = exporter_factories(settings)
    for label, factory in factories:
        processor = BatchingProcessor(label, factory, max_queue=settings.queue_size,
                                      max_batch=settings.batch_size,
                                      delay_s=settings.schedule_delay_ms / 1000.0)
        provider.add_span_processor(processor)
        _processors.append(processor)
    trace.set_tracer_provider(provider)
    atexit.register(stop)
    from autotrace import hooks
    hooks.when_imported("multiprocessing.util", _flush_in_forked_workers)
    debug("tracing started; exporters: %s" % (", ".join(label for label, _ in factories) or "none"))
    return provider


_propagator = None


def propagator():
    """The propagator chosen by OTEL_PROPAGATORS, built on first use."""
    global _propagator
    if _propagator is None:
        from autotrace.propagation import build_propagator
        _propagator = build_propagator(_settings().propagators)
    return _propagator
