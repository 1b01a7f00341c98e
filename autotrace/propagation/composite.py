"""Running several propagators as one, and the propagator that does nothing."""

from opentelemetry.propagators.textmap import TextMapPropagator, default_getter, default_setter

from .base import SafePropagator
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

    def extract(self, carrier, context=None, getter=default_getter):
        # Each member is itself safe; resolving the getter once saves them the work.
        getter = resolve_getter(getter)
        for propagator in self.propagators:
            context = propagator.extract(carrier, context, getter)
        return context

    def inject(self, carrier, context=None, setter=default_setter):
        for propagator in self.propagators:
            propagator.inject(carrier, context, setter)

    def __repr__(self):
        return "CompositePropagator(%r)" % (self.propagators,)


class NoopPropagator(TextMapPropagator):
    """OTEL_PROPAGATORS=none: extract returns the context it was given, inject writes nothing."""

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
