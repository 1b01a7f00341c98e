"""The one span builder for HTTP clients.

A client's spec supplies small functions that pull facts out of its own objects:

    describe(instance, args, kwargs) -> (method, url, headers) or None to skip
        `headers` is the outgoing header mapping to inject trace context into
        (a fresh one the extractor placed in `kwargs`, never a mapping the app keeps).
    response(result) -> (status_code, protocol_version or None)
    response_headers(result) -> the response's header mapping (optional)
    still_open(result) -> True when the body is still being streamed (optional); the
        span then waits on the response and ends in `finish`, which the spec patches
        onto whatever ends the body: its last read, its release, its close, and
        whatever runs when an unread response is garbage-collected, so no span waits
        longer than the response object lives.
    waits_on(result) -> the object the span waits on when still open (optional; default
        the result itself): the one whose patched methods end the body, such as the
        urllib3 response under a requests one.

Everything else is here: the CLIENT span named by the method, stable HTTP attributes,
URL redaction, excluded URLs, context injection (only to allowed hosts), header
capture, status and errors.

One span per logical request: while the wrapped call runs, the current context has
HTTP spans suppressed (propagation/suppression.py), so a client built on another
(requests on urllib3 on http.client) produces one span, and only the outermost one
injects the trace headers.

Excluded URLs get no span, but the calls below are still suppressed and the
current context (the caller's span, if any) is still injected: the service called
keeps joining the caller's trace, it just has no client span to hang from.

`begin` / `sending` / `finish` serve clients that send a request in steps
(http.client: putrequest, putheader..., endheaders, getresponse): the span starts
with the first step and waits on the connection object for the response.
"""

from urllib.parse import urlsplit

from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, SpanKind, Status, StatusCode, set_span_in_context

from autotrace import semconv, tracing
from autotrace.bootstrap import settings
# OpenTelemetry's current context, read and set through its ContextVar (one call, not three)
from autotrace.context_var import attach, get_current, reset
from autotrace.patching import Interceptor
from autotrace.propagation.suppression import SUPPRESS_HTTP_KEY, suppress_http_spans
from autotrace.redaction import redact_url, url_secrets
from autotrace.spans import add_attributes, fail_span, start_span

from ._http_headers import HeaderCapture
from ._http_scope import HostFilter, UrlFilter

__all__ = ["client", "begin", "sending", "finish", "request_attributes", "PENDING"]

PENDING = "_autotrace_http_span"   # on a connection or streamed response: the span waiting to end
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CACHE_LIMIT = 1024
# OTEL_PYTHON_<LIB>_EXCLUDED_URLS: OpenTelemetry's name for a library, where it differs from ours
_LIBRARY_ALIASES = {"http_client": ("urllib",)}
# The key set_span_in_context stores a span under (the API keeps its name private):
# with it, one copy of the context carries both the span and the suppression mark.
_SPAN_KEY = next(iter(set_span_in_context(INVALID_SPAN, Context())))
_ERROR = Status(StatusCode.ERROR)


def client(instrumentation, describe, response, response_headers=None, still_open=None, waits_on=None,
           is_async=False):
    """The span covers the wrapped call (and, with `still_open`, the streamed body)."""
    policy = _Policy(instrumentation, response, response_headers)

    def before(instance, args, kwargs):
        current = get_current()
        if current.get(SUPPRESS_HTTP_KEY):   # inside another HTTP client's span
            return None
        described = describe(instance, args, kwargs)
        if described is None:
            return None
        method, url, headers = described
        span, context = policy.start(method, url, headers, current)
        return span, attach(context), url

    def after(state, result):
        if state is None:
            return result
        span, token, _url = state
        reset(token)
        if span is not None:
            if span.is_recording():
                policy.record_response(span, result)
            if still_open is not None and still_open(result):
                setattr(result if waits_on is None else waits_on(result), PENDING, (span, _url))
            else:
                span.end()
        return result

    def failed(state, exc):
        if state is None:
            return
        span, token, url = state
        reset(token)
        if span is not None:
            policy.fail(span, exc, url)

    return Interceptor(before, after, failed, is_async=is_async, unless=SUPPRESS_HTTP_KEY)


def begin(instrumentation, describe, add_header):
    """The first step of a request sent in steps: `describe` gives (method, url);
    after the step, the trace headers are sent with `add_header(instance, name, value)`
    and the span is left on the instance for `finish`."""
    policy = _Policy(instrumentation)

    def before(instance, args, kwargs):
        current = get_current()
        if current.get(SUPPRESS_HTTP_KEY):
            return None
        described = describe(instance, args, kwargs)
        if described is None:
            return None
        _end_abandoned(instance)
        method, url = described
        return instance, policy.start(method, url, None, current)[0], url

    def after(state, result):
        if state is None:
            return result
        instance, span, url = state
        carrier = {}
        policy.inject(carrier, set_span_in_context(span) if span is not None else None, url)
        for name, value in carrier.items():
            add_header(instance, name, value)
        if span is not None:
            setattr(instance, PENDING, (span, url))
        return result

    def failed(state, exc):
        if state is not None and state[1] is not None:
            policy.fail(state[1], exc, state[2])

    return Interceptor(before, after, failed, unless=SUPPRESS_HTTP_KEY)


def sending(instrumentation, is_async=False, sent_headers=None):
    """A middle step: when it raises (connection refused, say), the waiting span ends
    with that error; when it succeeds, the span keeps waiting.

    `sent_headers(instance)` -> the (name, value) pairs sent so far: given for the step
    that sends the headers, it records the request headers the user asked to capture."""
    policy = _Policy(instrumentation)
    capture = policy.request_capture if sent_headers is not None else None

    def before(instance, args, kwargs):
        if capture is not None:
            pending = getattr(instance, "__dict__", {}).get(PENDING)
            if pending is not None:
                pending[0].set_attributes(capture.attributes(sent_headers(instance)))
        return instance   # request() starts the span inside this call, so look only on failure

    def after(instance, result):
        return result

    def failed(instance, exc):
        pending = _pop_pending(instance) if instance is not None else None
        if pending is not None:
            policy.fail(pending[0], exc, pending[1])

    # Sending the headers: only a span left by the first step is concerned. A whole
    # request (http.client's request(), which starts the span itself): only when HTTP
    # spans are not suppressed, or its first step makes none.
    if sent_headers is not None:
        return Interceptor(before, after, failed, is_async=is_async, needs_attribute=PENDING)
    return Interceptor(before, after, failed, is_async=is_async, unless=SUPPRESS_HTTP_KEY)


def finish(instrumentation, response=None, response_headers=None, is_async=False):
    """The last step (getresponse, or closing a streamed response): ends the span left
    on the instance, recording the response when `response` is given."""
    policy = _Policy(instrumentation, response, response_headers)

    def before(instance, args, kwargs):
        return _pop_pending(instance)

    def after(pending, result):
        if pending is not None:
            if response is not None:
                policy.record_response(pending[0], result)
            pending[0].end()
        return result

    def failed(pending, exc):
        if pending is not None:
            policy.fail(pending[0], exc, pending[1])

    return Interceptor(before, after, failed, is_async=is_async, needs_attribute=PENDING)


class _Policy:
    """What one instrumentation does with a request: settings read once, at patch time."""

    def __init__(self, instrumentation, response=None, response_headers=None):
        config = settings()
        self.scope = "autotrace.instrumentations." + instrumentation
        self.extra_redacted = frozenset(config.redact_query_params)
        patterns = tuple(config.excluded_urls)
        for library in (instrumentation,) + _LIBRARY_ALIASES.get(instrumentation, ()):
            patterns += tuple(config.excluded_urls_by_library.get(library, ()))
        self.excluded = UrlFilter(patterns) if patterns else None
        self.hosts = _host_filter(tuple(sorted(config.propagate_to)))
        sanitize = config.sanitize_header_fields
        self.request_capture = HeaderCapture(config.capture_request_headers, semconv.HTTP_REQUEST_HEADER_PREFIX,
                                             sanitize) or None
        self.response_capture = HeaderCapture(config.capture_response_headers, semconv.HTTP_RESPONSE_HEADER_PREFIX,
                                              sanitize) or None
        self.response = response
        self.response_headers = response_headers
        self._requests = {}   # (method, url) -> (span name, request attributes); the span copies them
        self._tracer = None

    def start(self, method, url, headers, current):
        """(span, `current` with the span and HTTP spans suppressed), or (None, `current`
        with HTTP spans suppressed) for an excluded URL; injects into `headers`."""
        url = str(url) if url is not None else ""
        if self.excluded is not None and self.excluded.excluded(url):
            if headers is not None:
                self.inject(headers, current, url)
            return None, suppress_http_spans(current)
        key = (method, url)
        request = self._requests.get(key)
        if request is None:   # a service calls the same few URLs: parse and redact each once
            request = (_span_name(method), request_attributes(method, url, self.extra_redacted))
            if len(self._requests) >= _CACHE_LIMIT:
                self._requests.clear()
            self._requests[key] = request
        tracer = self._tracer
        if tracer is None:
            tracer = self._tracer = tracing.tracer(self.scope)
        span = start_span(tracer, request[0], SpanKind.CLIENT, request[1], current)
        context = Context({**current, _SPAN_KEY: span, SUPPRESS_HTTP_KEY: True})   # set_value, once for both
        if headers is not None:
            self.inject(headers, context, url, span.get_span_context())
            if self.request_capture is not None:
                span.set_attributes(self.request_capture.attributes(headers))
        return span, context

    def inject(self, headers, context, url, span_context=None):
        """The trace headers of `context` (None: the current one) into `headers`,
        unless AUTOTRACE_PROPAGATE_TO keeps them from this host. `span_context`: that
        of the span in `context`, which lets the default propagators take their
        quick path (every request: see TraceContextPropagator.quick_inject)."""
        if self.hosts.allows(url):
            propagator = tracing.propagator()
            if span_context is not None:
                quick = getattr(propagator, "quick_inject", None)
                if quick is not None:
                    try:
                        if quick(headers, span_context, context):
                            return
                    except Exception:   # a carrier of its own: the propagator knows what to do
                        pass
            propagator.inject(headers, context=context)

    def record_response(self, span, result):
        status, protocol = self.response(result)
        attributes = {}
        if status is not None:
            attributes[semconv.HTTP_RESPONSE_STATUS_CODE] = status
            if status >= 400:
                attributes[semconv.ERROR_TYPE] = str(status)
                span.set_status(_ERROR)
        if protocol:
            attributes[semconv.NETWORK_PROTOCOL_VERSION] = protocol
        if attributes:   # one call: the SDK checks each set_attribute under its lock
            add_attributes(span, attributes)
        if self.response_capture is not None and self.response_headers is not None:
            span.set_attributes(self.response_capture.attributes(self.response_headers(result)))

    def fail(self, span, exc, url):
        fail_span(span, exc, secrets=url_secrets(url, self.extra_redacted) if url else ())


_host_filters = {}


def _host_filter(patterns):
    found = _host_filters.get(patterns)
    if found is None:
        found = _host_filters[patterns] = HostFilter(patterns)
    return found


def _pop_pending(instance):
    namespace = getattr(instance, "__dict__", None)
    return namespace.pop(PENDING, None) if namespace is not None else None


def _end_abandoned(instance):
    # A request whose response was never read (the app gave up on the connection):
    # its span ends now, rather than never.
    pending = _pop_pending(instance)
    if pending is not None:
        pending[0].end()


def _span_name(method):
    method = (method or "").upper()
    return method if method in semconv.KNOWN_HTTP_METHODS else "HTTP"


def request_attributes(method, url, extra_redacted=frozenset()):
    """The request-side attributes of a client span."""
    upper = (method or "").upper()
    attributes = {}
    if upper in semconv.KNOWN_HTTP_METHODS:
        attributes[semconv.HTTP_REQUEST_METHOD] = upper
    else:
        attributes[semconv.HTTP_REQUEST_METHOD] = "_OTHER"
        attributes[semconv.HTTP_REQUEST_METHOD_ORIGINAL] = str(method)
    if url:
        url = str(url)
        attributes[semconv.URL_FULL] = redact_url(url, extra_redacted)
        try:
            parts = urlsplit(url)
            if parts.hostname:
                attributes[semconv.SERVER_ADDRESS] = parts.hostname
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
            if port:
                attributes[semconv.SERVER_PORT] = port
        except ValueError:   # a bad port: keep what we have
            pass
    return attributes
