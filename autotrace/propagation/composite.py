"""Running several propagators as one, and the propagator that does nothing."""

from opentelemetry.propagators.textmap import TextMapPropagator, default_getter, default_setter

from .base import SafePropagator, _logger, inject_failed
from .carriers import resolve_getter

__all__ = ["CompositePropagator", "NoopPropagator"]


class CompositePropagator(SafePropagator):
    """Extracts with every propagator in order, each from the previous one's result,
    so a later one's span context wins (as with OTel's CompositePropagator); injects
    with all of them.
    """

    def __init__(self, propagators):
        self.propagators = tuple(propagators)
        self.FIELDS = frozenset().union(*(p.fields for p in self.propagators))
        reads = [getattr(p, "READS", None) for p in self.propagators]
        self.READS = None if None in reads else frozenset().union(*reads)
        # inject runs on every outgoing request: our members' _inject is called
        # directly, guarded here (as SafePropagator.inject would), one call fewer each.
        self._injects = tuple((p._inject if isinstance(p, SafePropagator) else None, p) for p in self.propagators)
        self.quick_inject = _quick_default_inject(self.propagators)

    def extract(self, carrier, context=None, getter=default_getter):
        # Resolving the getter once saves the members the work; members of ours are
        # called past their own safety frame (the same try, here), others as they are.
        getter = resolve_getter(getter)
        for propagator in self.propagators:
            if isinstance(propagator, SafePropagator):
                if context is None:
                    context = propagator._default_context()
                try:
                    context = propagator._extract(carrier, context, getter)
                except Exception:  # noqa: BLE001 - peer data must never break the host
                    _logger.debug("%s: extract failed; context left unchanged", type(propagator).__name__,
                                  exc_info=True)
            else:
                context = propagator.extract(carrier, context, getter)
        return context

    def inject(self, carrier, context=None, setter=default_setter):
        for inject, propagator in self._injects:
            if inject is None:
                propagator.inject(carrier, context, setter)
                continue
            try:
                inject(carrier, context, setter)
            except Exception:  # noqa: BLE001 - as SafePropagator.inject: never into the host
                inject_failed(propagator)

    def __repr__(self):
        return "CompositePropagator(%r)" % (self.propagators,)


def _quick_default_inject(propagators):
    """For the default OTEL_PROPAGATORS (tracecontext, baggage): a `quick_inject` (see
    TraceContextPropagator.quick_inject) that writes the traceparent alone when the
    context has no baggage, as inject would; None for any other combination."""
    from .baggage import BAGGAGE_KEY, W3CBaggagePropagator
    from .tracecontext import TraceContextPropagator

    kinds = sorted(type(p).__name__ for p in propagators)
    if BAGGAGE_KEY is None or kinds != ["TraceContextPropagator", "W3CBaggagePropagator"] \
            or not all(type(p) in (TraceContextPropagator, W3CBaggagePropagator) for p in propagators):
        return None
    trace_context = next(p for p in propagators if type(p) is TraceContextPropagator)
    quick = trace_context.quick_inject

    def quick_inject(carrier, span_context, context):
        if context.get(BAGGAGE_KEY):   # baggage to write: the whole inject
            return False
        return quick(carrier, span_context, context)
    return quick_inject


class NoopPropagator(TextMapPropagator):
    """OTEL_PROPAGATORS=none: extract returns the context it was given, inject writes nothing."""

    READS = frozenset()

    def extract(self, carrier, context=None, getter=default_getter):
        if context is None:
            from opentelemetry.context import Context

            context = Context()
        return context

    def inject(self, carrier, context=None, setter=default_setter):
        return None

    @property
    def fields(self):
        return set()
