"""The shared frame of our propagators: never raise into the host application.

A propagator runs inside the host's request path, on data a remote peer chose. A bug
of ours, a strange carrier or a getter/setter that raises must cost at most the
propagated context, never the request. Subclasses write `_extract` and `_inject`;
this class catches everything around them and substitutes the case-insensitive
getter for OTel's default one.
"""

import logging

from opentelemetry.context.context import Context
from opentelemetry.propagators.textmap import TextMapPropagator, default_getter, default_setter

from .carriers import resolve_getter

_logger = logging.getLogger(__name__)


class SafePropagator(TextMapPropagator):
    """A TextMapPropagator whose extract and inject never raise."""

    # Header names written by `inject`; subclasses set it.
    FIELDS = frozenset()
    # Every header name extract may read (lowercase), or None when it also reads names
    # it cannot list (Jaeger's uberctx-* prefix). A server that sees none of them in a
    # request can skip extract: nothing would be found (see `headers_read`).
    READS = None

    # Where to start when extract() is given no context: OTel's trace propagators
    # start from an empty Context, its baggage propagator from the current one.
    def _default_context(self):
        return Context()

    def extract(self, carrier, context=None, getter=default_getter):
        if context is None:
            context = self._default_context()
        try:
            return self._extract(carrier, context, resolve_getter(getter))
        except Exception:  # noqa: BLE001 - peer data must never break the host
            _logger.debug("%s: extract failed; context left unchanged", type(self).__name__, exc_info=True)
            return context

    def inject(self, carrier, context=None, setter=default_setter):
        try:
            self._inject(carrier, context, setter)
        except Exception:  # noqa: BLE001
            inject_failed(self)

    @property
    def fields(self):
        return set(self.FIELDS)

    def _extract(self, carrier, context, getter):
        raise NotImplementedError

    def _inject(self, carrier, context, setter):
        raise NotImplementedError


def inject_failed(propagator):
    """Log (at debug level) the exception being handled: an inject that raised."""
    _logger.debug("%s: inject failed; headers not written", type(propagator).__name__, exc_info=True)
