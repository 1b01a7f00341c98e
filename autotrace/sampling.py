"""The sampler (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, AUTOTRACE_TRACES_PER_SECOND)
and the span limits, built from Settings and handed to the SDK explicitly (so the SDK
never reads those variables a second time).

The rate cap sits on top of the chosen sampler and only ever turns a "keep" into a
"drop" for a span that starts a new trace (no valid parent). A span with a parent
follows the parent-based rules untouched: a sampled remote parent stays sampled. A
dropped span is still a valid, non-recording span, so its context (sampled flag 0)
is propagated to the services and child processes it calls.
"""

import threading
import time

from opentelemetry.sdk.trace import SpanLimits
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF, ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult, TraceIdRatioBased)
from opentelemetry.trace import Span, get_current_span

from autotrace.context_var import SPAN_KEY, get_current

__all__ = ["build_sampler", "build_span_limits", "TokenBucket", "RateLimitedSampler", "LeafDropRule",
           "quick_decider"]


def build_sampler(settings, clock=time.monotonic):
    name = settings.traces_sampler
    if name.endswith("traceidratio"):
        root = TraceIdRatioBased(settings.traces_sampler_arg)
    elif name.endswith("always_off"):
        root = ALWAYS_OFF
    else:
        root = ALWAYS_ON
    sampler = ParentBased(root) if name.startswith("parentbased_") else root
    if settings.traces_per_second is not None:
        sampler = RateLimitedSampler(sampler, TokenBucket(settings.traces_per_second, clock))
    return sampler


def build_span_limits(settings):
    def limit(value):
        return SpanLimits.UNSET if value is None else value   # UNSET: no limit, and no env lookup
    return SpanLimits(
        max_attributes=settings.attribute_count_limit,
        max_events=settings.span_event_count_limit,
        max_links=settings.span_link_count_limit,
        max_span_attributes=settings.span_attribute_count_limit,
        max_event_attributes=settings.event_attribute_count_limit,
        max_link_attributes=settings.link_attribute_count_limit,
        max_attribute_length=limit(settings.attribute_value_length_limit),
        max_span_attribute_length=limit(settings.span_attribute_value_length_limit),
    )


def quick_decider(sampler):
    """For always_on, always_off and the parent-based samplers over them with the
    default delegates: a function `decide(parent_span_context or None) -> sampled`
    giving the same decision as `sampler.should_sample` (whose result then carries
    no attributes and the parent's trace state), without building a SamplingResult.
    None for any other sampler: ask it."""
    if sampler is ALWAYS_ON:
        return _always
    if sampler is ALWAYS_OFF:
        return _never
    if type(sampler) is ParentBased and sampler._root in (ALWAYS_ON, ALWAYS_OFF) \
            and sampler._remote_parent_sampled is ALWAYS_ON and sampler._local_parent_sampled is ALWAYS_ON \
            and sampler._remote_parent_not_sampled is ALWAYS_OFF \
            and sampler._local_parent_not_sampled is ALWAYS_OFF:
        return _follow_parent_else_on if sampler._root is ALWAYS_ON else _follow_parent_else_off
    return None


def _always(parent):
    return True


def _never(parent):
    return False


def _follow_parent_else_on(parent):
    return True if parent is None else parent.trace_flags.sampled


def _follow_parent_else_off(parent):
    return False if parent is None else parent.trace_flags.sampled


class LeafDropRule:
    """Tells, without asking the SDK, that a span made now would be dropped by our sampler.

    Span builders for leaf spans (a DB query: no children, nothing to propagate) skip the
    span entirely then: a sampled-out request costs almost nothing in its queries,
    where the SDK alone spends ~5 us making and ending a non-recording span. Only the
    certain cases: always_off, and for the parent-based samplers a parent that is not
    sampled (and, for parentbased_always_off, no parent)."""

    __slots__ = ("always", "parent_based", "roots", "drops_root", "drops_sampled_child", "drops_unsampled_child")

    def __init__(self, settings):
        name = settings.traces_sampler
        self.always = name == "always_off"
        self.parent_based = name.startswith("parentbased_")
        self.roots = name == "parentbased_always_off"
        # The same rule by the parent's kind, for a caller that knows the parent's
        # sampled flag without a span context (a server reading a traceparent header).
        self.drops_root = self.always or self.roots
        self.drops_sampled_child = self.always
        self.drops_unsampled_child = self.always or self.parent_based

    def __call__(self, context=None):
        """For a span whose parent is the span of `context` (default: the current one)."""
        if self.always:
            return True
        if not self.parent_based:
            return False
        # get_current_span(context).get_span_context(), without its layers of calls:
        # this runs on every query
        holder = (get_current() if context is None else context).get(SPAN_KEY)
        if holder is None or not isinstance(holder, Span):
            return self.roots
        span_context = holder.get_span_context()
        if span_context.is_valid:
            return not span_context.trace_flags.sampled
        return self.roots


class TokenBucket:
    """`rate` tokens per second, holding at most a tenth of a second's worth (at least
    one), so a burst after a quiet spell stays small and any window of a few seconds
    keeps close to rate x seconds. Starts full (empty for a rate of 0)."""

    def __init__(self, rate, clock=time.monotonic):
        self.rate = float(rate)
        self.capacity = max(1.0, self.rate / 10.0)
        self.tokens = self.capacity if self.rate > 0 else 0.0   # 0/s: no new root trace at all
        self.clock = clock
        self.updated = clock()
        self._lock = threading.Lock()

    def take(self):
        with self._lock:
            now = self.clock()
            elapsed = now - self.updated
            self.updated = now
            if elapsed > 0:
                self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False


class RateLimitedSampler(Sampler):
    """Keeps at most `bucket.rate` new root traces per second among those `inner` keeps."""

    def __init__(self, inner, bucket):
        self.inner = inner
        self.bucket = bucket

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None,
                      trace_state=None):
        result = self.inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
        if not result.decision.is_sampled() or get_current_span(parent_context).get_span_context().is_valid:
            return result
        if self.bucket.take():
            return result
        return SamplingResult(Decision.DROP, None, result.trace_state)

    def get_description(self):
        return "RateLimited{%s, %g/s}" % (self.inner.get_description(), self.bucket.rate)
