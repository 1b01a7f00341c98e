"""LeanTracer: starts LeanSpans for our span builders, on the SDK provider's own parts.

It takes everything that decides what a span is from the SDK tracer it wraps (sampler,
id generator, resource, instrumentation scope, span limits, span processors), so a
span it makes is the span the SDK would have made, only cheaper (see lean_span.py).
The SDK tracer is used instead whenever this one could differ from it: a tracer
disabled by a tracer configurator (checked per span), the SDK's own metrics switched
on, a limit on attribute value lengths (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT and the
span one), an SDK other than the one this was written against.

Two shortcuts, each taken only when it is exactly equivalent:
* the sampler: for always_on / always_off and parent-based on top of them (the
  default), the decision is read off the parent's sampled flag without building a
  SamplingResult (sampling.quick_decider); any other sampler is asked as usual.
* the processors: when every processor is one of our BatchingProcessors, whose
  on_start does nothing, spans go straight to their on_end; a processor added by the
  app (provider.add_span_processor) gets the full on_start / on_end sequence.
"""

from contextlib import contextmanager
from random import getrandbits
from time import time_ns

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from autotrace.context_var import SPAN_KEY as _SPAN_KEY
from autotrace.context_var import get_current as _get_current
from autotrace.lean_span import LeanSpan

__all__ = ["LeanTracer", "lean_tracer_for"]

_INTERNAL = SpanKind.INTERNAL
# (sampled, random trace id) -> flags, built once
_FLAGS = {(s, r): TraceFlags((TraceFlags.SAMPLED if s else 0) | (TraceFlags.RANDOM_TRACE_ID if r else 0))
          for s in (False, True) for r in (False, True)}


def lean_tracer_for(sdk_tracer, processor_types):
    """A LeanTracer over `sdk_tracer`, or `sdk_tracer` itself when it is not the SDK's
    plain Tracer with the parts this module knows how to stand in for."""
    try:
        from opentelemetry.sdk.trace import Tracer
        from opentelemetry.sdk.trace._tracer_metrics import NoOpTracerMetrics
        if type(sdk_tracer) is not Tracer or type(sdk_tracer._tracer_metrics) is not NoOpTracerMetrics:
            return sdk_tracer
        if sdk_tracer._span_limits.max_span_attribute_length is not None:
            return sdk_tracer   # our builders' values would need truncating one by one
        sdk_tracer.span_processor._span_processors
        sdk_tracer._tracer_config.is_enabled
        return LeanTracer(sdk_tracer, processor_types)
    except Exception:
        return sdk_tracer


def _checked_span_context(trace_id, span_id, flags, trace_state):
    return SpanContext(trace_id, span_id, False, flags, trace_state)


def _direct_span_context(trace_id, span_id, flags, trace_state, _new=tuple.__new__):
    # SpanContext is a tuple (trace_id, span_id, is_remote, flags, state, is_valid); its
    # __new__ only fills the defaults and works out is_valid, which ids we draw ourselves
    # (nonzero, within range) under a valid parent's or a new random trace id always are.
    # Ids from an app's own id generator go through SpanContext's checks instead.
    return _new(SpanContext, (trace_id, span_id, False, flags,
                              trace_state if trace_state is not None else _DEFAULT_STATE, True))


def _layout_is_known():
    """True when a SpanContext built directly equals one the API builds."""
    try:
        flags = TraceFlags(TraceFlags.SAMPLED)
        made = SpanContext(0x1234, 0x56, False, flags, None)
        return tuple(made) == tuple(_direct_span_context(0x1234, 0x56, flags, None)) and made.is_valid
    except Exception:
        return False


_DEFAULT_STATE = SpanContext(1, 1, False).trace_state
_DIRECT = _layout_is_known()   # LeanTracer.start builds span contexts as _direct_span_context does
_new_tuple = tuple.__new__


def _nonzero_bits(bits):
    """A random id as the SDK's RandomIdGenerator draws it (zero is not a valid id);
    callers try `getrandbits(bits) or _nonzero_bits(bits)`, one call in the usual case."""
    value = getrandbits(bits)
    while not value:
        value = getrandbits(bits)
    return value


_getrandbits = getrandbits


class LeanTracer(trace_api.Tracer):
    def __init__(self, sdk_tracer, processor_types):
        from autotrace.sampling import quick_decider
        self.sdk = sdk_tracer
        self.resource = sdk_tracer.resource
        self.instrumentation_scope = sdk_tracer._instrumentation_scope
        self.instrumentation_info = sdk_tracer.instrumentation_info
        self.limits = limits = sdk_tracer._span_limits
        self.count_limit = limits.max_span_attributes
        self._random_ids = type(sdk_tracer.id_generator) is RandomIdGenerator
        self._decide = decide = quick_decider(sdk_tracer.sampler)
        self._root_sampled = decide(None) if decide is not None else None   # the same for every root span
        self._processor_types = processor_types
        self._seen = None          # the processors tuple the two fields below were made from
        self._direct = None        # on_end of each processor, when all are ours; else None

    # -- the path our builders take ---------------------------------------------------

    def start(self, name, kind, attributes, context=None, links=None):
        """A started span, or a NonRecordingSpan when sampled out. `attributes` must be
        valid values (our builders' own); the span copies the dict.

        This runs for every span our builders make: helpers are inlined on purpose (a
        Python call costs more than most of the lines it would hold)."""
        sdk = self.sdk
        if not sdk._tracer_config.is_enabled:
            return sdk.start_span(name, context=context, kind=kind, attributes=attributes, links=links)
        # get_current_span(context), without its three layers of calls (and without
        # the ABC isinstance check when there is no span at all, the usual case)
        holder = (_get_current() if context is None else context).get(_SPAN_KEY)
        parent = None
        if holder is not None and (type(holder) is LeanSpan or isinstance(holder, trace_api.Span)):
            parent = holder.get_span_context()
            if not parent.is_valid:
                parent = None
        random_ids = self._random_ids
        if parent is not None:
            trace_id = parent.trace_id
            random = parent.trace_flags.random_trace_id
        elif random_ids:
            trace_id = _getrandbits(128) or _nonzero_bits(128)
            random = True
        else:
            trace_id = sdk.id_generator.generate_trace_id()
            random = sdk.id_generator.is_trace_id_random()
        decide = self._decide
        if decide is not None:
            sampled = recording = self._root_sampled if parent is None else decide(parent)
            trace_state = parent.trace_state if parent is not None else None
            extra = None
        else:
            result = sdk.sampler.should_sample(context, trace_id, name, kind, None, links)
            sampled = result.decision.is_sampled()
            recording = result.decision.is_recording()
            trace_state = result.trace_state
            extra = result.attributes
        if random_ids and _DIRECT:   # _direct_span_context, inlined
            span_context = _new_tuple(SpanContext, (trace_id, _getrandbits(64) or _nonzero_bits(64), False,
                                                    _FLAGS[sampled, random],
                                                    _DEFAULT_STATE if trace_state is None else trace_state, True))
        elif random_ids:
            span_context = _checked_span_context(trace_id, _getrandbits(64) or _nonzero_bits(64),
                                                 _FLAGS[sampled, random], trace_state)
        else:
            span_context = _checked_span_context(trace_id, sdk.id_generator.generate_span_id(),
                                                 _FLAGS[sampled, random], trace_state)
        if not recording:
            return NonRecordingSpan(span_context)
        if extra:
            values = dict(extra)
            if attributes:
                values.update(attributes)
        else:
            values = dict(attributes) if attributes else {}
        span = LeanSpan(name, span_context, parent, kind, values, time_ns(), self._links(links) if links else (),
                        self)
        processors = sdk.span_processor
        if processors._span_processors is not self._seen:
            self._see(processors._span_processors)
        if self._direct is None:
            processors.on_start(span, parent_context=context)
        return span

    def span_ended(self, span):
        processors = self.sdk.span_processor
        if processors._span_processors is not self._seen:
            self._see(processors._span_processors)
        direct = self._direct
        if direct is not None:
            for on_end in direct:
                on_end(span)
            return
        ending = getattr(processors, "_on_ending", None)
        if ending is not None:
            ending(span)
        processors.on_end(span)

    def _see(self, processors):
        """Note which processors the provider has now: when every one is ours, spans
        go straight to their on_end (see the module docstring)."""
        ours = all(type(p) in self._processor_types for p in processors)
        self._direct = tuple(p.on_end for p in processors) if ours else None
        self._seen = processors

    def _links(self, links):
        if not links:
            return ()
        from opentelemetry.sdk.util import BoundedList
        limits = self.limits
        kept = [trace_api.Link(link.context, BoundedAttributes(
                    limits.max_link_attributes, link.attributes, immutable=True,
                    max_value_len=limits.max_attribute_length))
                for link in links
                if link and link.context and (link.context.is_valid or link.attributes or link.context.trace_state)]
        return BoundedList.from_seq(limits.max_links, kept)

    # -- the OpenTelemetry Tracer API, for anyone holding this tracer -----------------

    def start_span(self, name, context=None, kind=_INTERNAL, attributes=None, links=None, start_time=None,
                   record_exception=True, set_status_on_exception=True):
        if start_time is not None:
            return self.sdk.start_span(name, context, kind, attributes, links, start_time,
                                       record_exception, set_status_on_exception)
        if not attributes:
            return self.start(name, kind, None, context, links)
        cleaned = BoundedAttributes(None, attributes, immutable=False)
        span = self.start(name, kind, dict(cleaned), context, links)
        if type(span) is LeanSpan:
            span._dropped_attributes += cleaned.dropped
        return span

    @contextmanager
    def start_as_current_span(self, name, context=None, kind=_INTERNAL, attributes=None, links=None,
                              start_time=None, record_exception=True, set_status_on_exception=True,
                              end_on_exit=True):
        span = self.start_span(name, context, kind, attributes, links, start_time,
                               record_exception, set_status_on_exception)
        with trace_api.use_span(span, end_on_exit=end_on_exit, record_exception=record_exception,
                                set_status_on_exception=set_status_on_exception) as current:
            yield current
