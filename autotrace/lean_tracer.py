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
_SAMPLED_BIT = TraceFlags.SAMPLED
_RANDOM_BIT = TraceFlags.RANDOM_TRACE_ID
# the flags a span of ours can carry, by their value (sampled | random trace id), built once
_FLAGS_BY_BITS = tuple(TraceFlags(bits) for bits in range(4))
# SpanContext is a tuple (trace_id, span_id, is_remote, trace_flags, trace_state, is_valid):
# its properties are Python calls, indexing is not (see _layout_is_known)
_TRACE_ID, _FLAGS_AT, _TRACE_STATE, _IS_VALID = 0, 3, 4, 5


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
        if not _LAYOUT_KNOWN:
            return sdk_tracer   # parents' span contexts are read by index
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
def _fields_by_index():
    """True when a SpanContext's fields are at the indexes LeanTracer.start reads."""
    try:
        made = SpanContext(0x1234, 0x56, True, TraceFlags(3), None)
        return (made[_TRACE_ID], made[1], made[2], made[_FLAGS_AT], made[_TRACE_STATE], made[_IS_VALID]) == (
            made.trace_id, made.span_id, made.is_remote, made.trace_flags, made.trace_state, made.is_valid)
    except Exception:
        return False


_LAYOUT_KNOWN = _fields_by_index()
_new_tuple = tuple.__new__
_span_context = _direct_span_context if _layout_is_known() else _checked_span_context


def _nonzero_bits(bits):
    """A random id as the SDK's RandomIdGenerator draws it (zero is not a valid id)."""
    value = getrandbits(bits)
    while not value:
        value = getrandbits(bits)
    return value


class LeanTracer(trace_api.Tracer):
    def __init__(self, sdk_tracer, processor_types):
        from autotrace.sampling import quick_rule
        self.sdk = sdk_tracer
        self.resource = sdk_tracer.resource
        self.instrumentation_scope = sdk_tracer._instrumentation_scope
        self.instrumentation_info = sdk_tracer.instrumentation_info
        self.limits = limits = sdk_tracer._span_limits
        self.count_limit = limits.max_span_attributes
        self._random_ids = type(sdk_tracer.id_generator) is RandomIdGenerator
        self._quick = quick_rule(sdk_tracer.sampler)   # (root_sampled, follows_parent) or None
        self._processor_types = processor_types
        self._seen = None          # the processors tuple the two fields below were made from
        self._direct = None        # on_end of each processor, when all are ours; else None

    # -- the path our builders take ---------------------------------------------------

    def start(self, name, kind, attributes, context=None, links=None):
        """A started span, or a NonRecordingSpan when sampled out. `attributes` must be
        valid values (our builders' own); the span copies the dict."""
        sdk = self.sdk
        if not sdk._tracer_config.is_enabled:
            return sdk.start_span(name, context=context, kind=kind, attributes=attributes, links=links)
        # get_current_span(context).get_span_context(), without its layers of calls; the
        # parent's fields are read by index (the layout was checked: _layout_is_known)
        holder = (_get_current() if context is None else context).get(_SPAN_KEY)
        if holder is None:
            parent = None
        elif type(holder) is LeanSpan:
            parent = holder._context
        else:
            parent = holder.get_span_context() if isinstance(holder, trace_api.Span) else None
        if parent is None or not parent[_IS_VALID]:
            parent = None
            trace_id = (getrandbits(128) or _nonzero_bits(128)) if self._random_ids else self._new_trace_id()
            flags = _RANDOM_BIT if self._random_ids or sdk.id_generator.is_trace_id_random() else 0
            trace_state = None
        else:
            trace_id = parent[_TRACE_ID]
            flags = parent[_FLAGS_AT]
            trace_state = parent[_TRACE_STATE]
        quick = self._quick
        if quick is not None:   # the sampler's decision, read off the parent's flag
            root_sampled, follows_parent = quick
            if parent is not None and follows_parent:
                recording = flags & _SAMPLED_BIT
            else:
                recording = root_sampled
            extra = None
        else:
            result = sdk.sampler.should_sample(context, trace_id, name, kind, None, links)
            recording = result.decision.is_recording()
            trace_state = result.trace_state
            extra = result.attributes
            if not result.decision.is_sampled():
                flags &= ~_SAMPLED_BIT
            else:
                flags |= _SAMPLED_BIT
        if quick is not None:
            flags = (flags & _RANDOM_BIT) | (_SAMPLED_BIT if recording else 0)
        if self._random_ids and _span_context is _direct_span_context:
            # _direct_span_context, inline: ids we draw ourselves are always valid
            span_context = _new_tuple(SpanContext, (trace_id, getrandbits(64) or _nonzero_bits(64), False,
                                                    _FLAGS_BY_BITS[flags & 3],
                                                    trace_state if trace_state is not None else _DEFAULT_STATE,
                                                    True))
        elif self._random_ids:
            span_context = _span_context(trace_id, getrandbits(64) or _nonzero_bits(64), _FLAGS_BY_BITS[flags & 3],
                                         trace_state)
        else:
            span_context = _checked_span_context(trace_id, self._new_span_id(), _FLAGS_BY_BITS[flags & 3],
                                                 trace_state)
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
        if sdk.span_processor._span_processors is not self._seen:
            self._on_end_all()
        if self._direct is None:
            sdk.span_processor.on_start(span, parent_context=context)
        return span

    def span_ended(self, span):
        direct = self._direct if self.sdk.span_processor._span_processors is self._seen else self._on_end_all()
        if direct is not None:
            for on_end in direct:
                on_end(span)
            return
        processors = self.sdk.span_processor
        ending = getattr(processors, "_on_ending", None)
        if ending is not None:
            ending(span)
        processors.on_end(span)

    def _on_end_all(self):
        processors = self.sdk.span_processor._span_processors
        if processors is not self._seen:
            ours = all(type(p) in self._processor_types for p in processors)
            self._direct = tuple(p.on_end for p in processors) if ours else None
            self._seen = processors
        return self._direct

    def _new_trace_id(self):
        if self._random_ids:
            return _nonzero_bits(128)
        return self.sdk.id_generator.generate_trace_id()

    def _new_span_id(self):
        if self._random_ids:
            return _nonzero_bits(64)
        return self.sdk.id_generator.generate_span_id()

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
