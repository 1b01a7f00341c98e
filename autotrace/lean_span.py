"""LeanSpan: the span our span builders make, instead of the OpenTelemetry SDK's `Span`.

Why: the SDK's span costs ~15-20 us here for a span with the dozen attributes an HTTP or
database span carries (a lock and bounded containers per span, every attribute value
validated, a separate ReadableSpan copied at the end). That alone was most of every
per-call budget. A LeanSpan keeps its attributes in a plain dict, creates events and
links containers only when used, and hands itself to the span processors at the end.

It is both an OpenTelemetry API `Span` (code that calls `get_current_span()` inside a
request can set attributes, add events, record exceptions on it) and an SDK
`ReadableSpan` (exporters and processors read it through the usual properties), so
nothing downstream can tell it from an SDK span.

What it trusts: values given by our builders (spans.add_attributes) are already valid
(str, int, float, bool, tuples of str). Values set through the public API are
validated as the SDK does. The attribute count limit is applied when the span ends
(a value length limit makes the tracer use SDK spans instead: see lean_tracer.py).
"""

import threading
from time import time_ns

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace.status import Status, StatusCode

__all__ = ["LeanSpan"]

_UNSET = Status(StatusCode.UNSET)
# One lock for every span's end: ending twice (two threads racing to close one
# request) must export once; a lock per span would cost more than the race ever will.
_ending = threading.Lock()


class LeanSpan(trace_api.Span, ReadableSpan):
    """Made by lean_tracer.LeanTracer; see the module docstring."""

    # Fields every span starts with, read from the class until the span sets its own
    # (four stores less for each span made).
    _end_time = None
    _status = _UNSET
    _events = ()                                # a BoundedList once the first event comes
    _dropped_attributes = 0

    def __init__(self, name, context, parent, kind, attributes, start_time, links, tracer):
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._attributes = attributes           # a dict this span owns
        self._start_time = start_time
        self._links = links
        self._tracer = tracer                   # resource, scope, limits, processors
        self._resource = tracer.resource
        self._instrumentation_scope = tracer.instrumentation_scope
        self._instrumentation_info = tracer.instrumentation_info

    def __repr__(self):
        return '%s(name="%s", context=%s)' % (type(self).__name__, self._name, self._context)

    # -- API: reading ---------------------------------------------------------------

    def get_span_context(self):
        return self._context

    def is_recording(self):
        return self._end_time is None

    @property
    def dropped_attributes(self):
        return self._dropped_attributes

    # -- API: writing (validated, as the SDK does) ------------------------------------

    def set_attribute(self, key, value):
        self.set_attributes({key: value})

    def set_attributes(self, attributes):
        if self._end_time is not None or not attributes:
            return
        cleaned = BoundedAttributes(None, attributes, immutable=False)
        self._dropped_attributes += cleaned.dropped
        own = self._attributes
        for key in cleaned:
            own.pop(key, None)   # a key set again moves to the end, as in the SDK
            own[key] = cleaned[key]

    def add_event(self, name, attributes=None, timestamp=None):
        if self._end_time is not None:
            return
        limits = self._tracer.limits
        if type(self._events) is not BoundedList:
            self._events = BoundedList(limits.max_events)
        self._events.append(Event(name, BoundedAttributes(
            limits.max_event_attributes, attributes, immutable=True,
            max_value_len=limits.max_attribute_length), timestamp))

    def add_link(self, context, attributes=None):
        if self._end_time is not None or not context \
                or not (context.is_valid or attributes or context.trace_state):
            return   # the SDK's rule for a link worth keeping
        limits = self._tracer.limits
        if type(self._links) is not BoundedList:
            self._links = BoundedList.from_seq(limits.max_links, self._links)
        self._links.append(trace_api.Link(context, BoundedAttributes(
            limits.max_link_attributes, attributes, immutable=True,
            max_value_len=limits.max_attribute_length)))

    def update_name(self, name):
        if self._end_time is None:
            self._name = name

    def set_status(self, status, description=None):
        if self._end_time is not None:
            return
        current = self._status.status_code
        if isinstance(status, Status):
            if current is StatusCode.OK or status.status_code is StatusCode.UNSET:
                return
            self._status = status
        elif isinstance(status, StatusCode):
            if current is StatusCode.OK or status is StatusCode.UNSET:
                return
            self._status = Status(status, description)

    def record_exception(self, exception, attributes=None, timestamp=None, escaped=False):
        from traceback import format_exception
        kind = type(exception)
        module = kind.__module__
        values = {
            "exception.type": kind.__qualname__ if module in (None, "", "builtins")
            else module + "." + kind.__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            values.update(attributes)
        self.add_event("exception", values, timestamp)

    def __exit__(self, exc_type, exc_val, exc_tb):
        if exc_val is not None and self._end_time is None:
            self.record_exception(exc_val, escaped=True)
            self.set_status(Status(StatusCode.ERROR, "%s: %s" % (type(exc_val).__name__, exc_val)))
        self.end()

    # -- end --------------------------------------------------------------------------

    def end(self, end_time=None):
        with _ending:
            if self._end_time is not None:
                return
            self._end_time = end_time if end_time is not None else time_ns()
        tracer = self._tracer
        if tracer.count_limit is not None and len(self._attributes) > tracer.count_limit:
            self._apply_limits(tracer.limits)
        # tracer.span_ended(self), its usual case inlined: every processor is ours
        direct = tracer._direct
        if direct is not None and tracer.sdk.span_processor._span_processors is tracer._seen:
            for on_end in direct:
                on_end(self)
        else:
            tracer.span_ended(self)

    def _apply_limits(self, limits):
        values = self._attributes
        count = limits.max_span_attributes
        if len(values) > count:
            extra = len(values) - count
            for key in list(values)[:extra]:   # the oldest go first, as in the SDK
                del values[key]
            self._dropped_attributes += extra
