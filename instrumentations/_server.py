"""The one span builder for HTTP servers: the SERVER span of one incoming request.

The adapters (_wsgi.py, _asgi.py, and the aiohttp server spec) read the facts of a
request out of their framework's objects and call `ServerPolicy.start(...)` (or
`begin(...)` when the facts are at hand anyway). It
returns an `Exchange`: the request's span, attached as the current context for the
app's code, with the few things that happen later (the matched route, the response
status and headers, an exception) and `end()`.

Here, once for every server:
- the incoming context comes from the request headers only (never from whatever
  context the server's thread happens to have); with AUTOTRACE_PUBLIC_ENDPOINT the
  request starts a new trace linked to the caller's context instead;
- excluded URLs get no span, but their incoming context is still attached, so the
  calls they make keep joining the caller's trace;
- a request sampled out for certain gets no span either, only its unsampled context,
  read and built as cheaply as can be (see _incoming.py);
- the span is named `{METHOD}` until a framework names the route
  (`name_route("/items/{item_id}")` gives `GET /items/{item_id}`): never the raw path;
- 5xx and exceptions mark the span as failed; 4xx do not (the client's error);
- request and response headers are recorded only when asked for;
- AUTOTRACE_TRACERESPONSE adds the W3C `traceresponse` header to the response.

Frameworks that learn the route (or see an exception the framework turns into a 500)
deep inside their own dispatch use `route` and `exception` below: they find the
request's exchange in the current context.
"""

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, get_current_span

from autotrace import context_var, semconv, tracing
from autotrace.bootstrap import settings
from autotrace.lean_span import LeanSpan
from autotrace.lean_tracer import LeanTracer
from autotrace.patching import Interceptor
from autotrace.redaction import redact_query, url_secrets
from autotrace.spans import add_attributes, mark_failed, start_span

from ._http_headers import HeaderCapture
from ._http_scope import UrlFilter
from ._incoming import IncomingReader, unsampled

__all__ = ["ServerPolicy", "Exchange", "Unrecorded", "current_exchange", "route", "exception", "wrap_app",
           "SERVER_LIBRARIES", "split_host"]

_EXCHANGE_KEY = otel_context.create_key("autotrace.server_exchange")

# OTEL_PYTHON_<LIB>_EXCLUDED_URLS of any of these applies to every server layer of the
# process: under gunicorn the outermost layer (gunicorn's) decides whether a request of
# the Flask app inside gets a span, and the user who wrote OTEL_PYTHON_FLASK_EXCLUDED_URLS
# expects it to.
SERVER_LIBRARIES = ("flask", "django", "starlette", "fastapi", "aiohttp_server", "gunicorn", "uvicorn",
                    "werkzeug", "wsgiref")


class ServerPolicy:
    """What one server instrumentation does with a request; settings read once."""

    def __init__(self, instrumentation):
        config = settings()
        self.scope = "autotrace.instrumentations." + instrumentation
        self.extra_redacted = frozenset(p.lower() for p in config.redact_query_params)
        patterns = tuple(config.excluded_urls)
        for library in SERVER_LIBRARIES:
            patterns += tuple(config.excluded_urls_by_library.get(library, ()))
        self.excluded = UrlFilter(patterns) if patterns else None
        sanitize = config.sanitize_header_fields
        self.request_capture = HeaderCapture(config.capture_server_request_headers,
                                             semconv.HTTP_REQUEST_HEADER_PREFIX, sanitize) or None
        self.response_capture = HeaderCapture(config.capture_server_response_headers,
                                              semconv.HTTP_RESPONSE_HEADER_PREFIX, sanitize) or None
        self.public = config.public_endpoint
        self.traceresponse = config.traceresponse
        self._tracer = None
        self._lean = False   # the tracer is a LeanTracer: its `start` is called directly
        self._readers = {}   # getter -> IncomingReader
        self._drop_rule = None
        self._methods = {}   # request method -> (span label, method attributes)
        self._queries = {}   # raw query string -> redacted (a few queries come again and again)
        self._routes = {}    # (label, route template) -> span name

    def start(self, carrier, facts, getter=None):
        """`begin` for adapters on the hot path: `facts()` gives begin's keyword arguments
        (but `headers` and `getter`) and is called only when a span may be made, so a
        request sampled out for certain costs the header lookups and little else."""
        reader = self._readers.get(getter) or self._reader(getter)
        if self.excluded is None and not self.public:
            context, sampled_out = reader.read(carrier, self._drop_rule or self._find_drop_rule())
            if sampled_out:   # Unrecorded(_attach(context)), without a Python call to __init__
                unrecorded = _new_unrecorded(Unrecorded)
                unrecorded.token = _attach(context)
                return unrecorded
            return self._begin(context, carrier, sampling_checked=True, **facts())
        return self._begin(reader.read(carrier)[0], carrier, **facts())

    def begin(self, method, scheme, host, port, path, query, headers, client=None, user_agent=None,
              protocol=None, header_pairs=None, websocket=False, getter=None):
        """Start one request and attach its context; `headers` is the carrier the
        propagators read (a WSGI environ or ASGI header pairs) with `getter` (default:
        any shape, any case), `header_pairs` a callable giving (name, value) pairs for
        header capture when that differs."""
        return self._begin(self._extract(headers, getter), headers, method, scheme, host, port, path, query,
                           client, user_agent, protocol, header_pairs, websocket)

    def _extract(self, carrier, getter):
        return (self._readers.get(getter) or self._reader(getter)).read(carrier)[0]

    def _find_drop_rule(self):
        """Our sampler's rule, kept once there: tracing sets it up on first use, and for
        good (None: the sampler is not ours, so no span is certain to be dropped)."""
        self._drop_rule = tracing.drop_rule()
        return self._drop_rule

    def _reader(self, getter):
        reader = self._readers[getter] = IncomingReader(tracing.propagator(), getter)
        return reader

    def _begin(self, incoming, headers, method, scheme, host, port, path, query, client=None, user_agent=None,
               protocol=None, header_pairs=None, websocket=False, sampling_checked=False):
        if self.excluded is not None and self.excluded.excluded(_full_url(scheme, host, port, path, query)):
            return Unrecorded(_attach(incoming))
        links = None
        if self.public:   # the caller's context becomes a link, not the parent
            caller = _span_context(incoming)
            links = [Link(caller)] if caller is not None else None
            incoming = otel_context.Context()
        if not sampling_checked and tracing.span_dropped(incoming):
            # Sampled out for certain: no span, no attributes; the request's code and the
            # services it calls still get the (unsampled) trace context.
            return Unrecorded(_attach(unsampled(incoming)))
        tracer = self._tracer
        if tracer is None:
            tracer = self._tracer = tracing.tracer(self.scope)
            self._lean = type(tracer) is LeanTracer
        # The attributes in one go: the method's part is worked out once per method.
        if websocket:
            label, attributes = "WEBSOCKET", {"network.protocol.name": "websocket"}
        else:
            known = self._methods.get(method)
            if known is None:
                known = self._method_facts(method)
            label, attributes = known[0], dict(known[1])
        if scheme:
            attributes[semconv.URL_SCHEME] = scheme
        attributes[semconv.URL_PATH] = path or "/"
        if query:
            redacted = self._queries.get(query)
            if redacted is None:
                redacted = self._redacted(query)
            attributes[semconv.URL_QUERY] = redacted
        if host:
            attributes[semconv.SERVER_ADDRESS] = host
        if port:
            attributes[semconv.SERVER_PORT] = port
        if client:
            attributes[semconv.CLIENT_ADDRESS] = client
        if user_agent:
            attributes[semconv.USER_AGENT_ORIGINAL] = user_agent
        if protocol:
            attributes[semconv.NETWORK_PROTOCOL_VERSION] = protocol
        if self.request_capture is not None:
            attributes.update(self.request_capture.attributes(header_pairs() if header_pairs else headers))
        if self._lean:
            span = tracer.start(label, _SERVER, attributes, incoming, links)
        else:
            span = start_span(tracer, label, _SERVER, attributes, context=incoming, links=links)
        exchange = Exchange(span, None, self, label)
        # set_span_in_context and set_value at once: one new Context instead of two
        if not incoming:
            exchange.token = _attach(Context({_SPAN_KEY: span, _EXCHANGE_KEY: exchange}))
        else:
            values = dict(incoming)
            values[_SPAN_KEY] = span
            values[_EXCHANGE_KEY] = exchange
            exchange.token = _attach(Context(values))
        return exchange

    def _method_facts(self, method):
        upper = (method or "").upper()
        if upper in semconv.KNOWN_HTTP_METHODS:
            facts = upper, {semconv.HTTP_REQUEST_METHOD: upper}
        else:
            facts = "HTTP", {semconv.HTTP_REQUEST_METHOD: "_OTHER", semconv.HTTP_REQUEST_METHOD_ORIGINAL: str(method)}
        if type(method) is str and len(self._methods) < _CACHED_ENTRIES:   # clients may send any method
            self._methods[method] = facts
        return facts

    def _redacted(self, query):
        redacted = redact_query(query, self.extra_redacted)
        if type(query) is str:
            if len(self._queries) >= _CACHED_ENTRIES:
                self._queries.clear()
            self._queries[query] = redacted
        return redacted

    def route_name(self, label, template):
        """`{label} {template}`, kept per route (a dict lookup instead of formatting)."""
        name = self._routes.get((label, template))
        if name is None:
            name = "%s %s" % (label, template)
            if len(self._routes) < _CACHED_ENTRIES:
                self._routes[(label, template)] = name
        return name


class Exchange:
    """One request in flight. Every method is safe to call when the URL was excluded
    (no span) and after the span ended."""

    __slots__ = ("span", "token", "policy", "label", "ended", "status", "failed")

    def __init__(self, span, token, policy, label):
        self.span = span
        self.token = token
        self.policy = policy
        self.label = label
        self.ended = span is None
        self.status = None
        self.failed = False   # an exception was recorded: its class is the error.type

    def name_route(self, template):
        """The framework matched a route: name the span after its template."""
        if not self.ended and template:
            span = self.span
            name = self.policy._routes.get((self.label, template)) or self.policy.route_name(self.label, template)
            if type(span) is LeanSpan:   # what update_name and add_attributes do, inline
                if span._end_time is None:
                    span._name = name
                    span._attributes[semconv.HTTP_ROUTE] = template
            else:
                span.update_name(name)
                add_attributes(span, {semconv.HTTP_ROUTE: template})

    def response_started(self, status, headers=None):
        """Record the status (and captured headers); returns the extra response headers
        to send, as [(name, value)] (the traceresponse header, when configured)."""
        if self.ended:
            return ()
        span = self.span
        if status is not None and self.status is None:
            self.status = status
            if type(span) is LeanSpan:
                if span._end_time is None:
                    span._attributes[semconv.HTTP_RESPONSE_STATUS_CODE] = status
            else:
                add_attributes(span, {semconv.HTTP_RESPONSE_STATUS_CODE: status})
            if status >= 500 and not self.failed:
                span.set_attribute(semconv.ERROR_TYPE, str(status))
                span.set_status(Status(StatusCode.ERROR))
        if self.policy.response_capture is not None and headers is not None:
            span.set_attributes(self.policy.response_capture.attributes(headers))
        if self.policy.traceresponse:
            context = span.get_span_context()
            return (("traceresponse", "00-%032x-%016x-%02x" % (
                context.trace_id, context.span_id, context.trace_flags)),)
        return ()

    def fail(self, exc):
        """An exception escaped the app (or the framework is turning it into a 500)."""
        if not self.ended and not self.failed and self.span.is_recording():
            self.failed = True
            query = self.span.attributes.get(semconv.URL_QUERY) if self.span.attributes else None
            mark_failed(self.span, exc, secrets=url_secrets("?" + query, self.policy.extra_redacted)
                        if query else ())

    def detach(self):
        """Leave the request's context (in the thread or task that attached it)."""
        token, self.token = self.token, None
        if token is not None:
            try:
                _reset(token)
            except Exception:   # noqa: BLE001 - a server that finished the request in another context
                pass

    def end(self):
        if not self.ended:
            self.ended = True
            self.span.end()


class Unrecorded:
    """The exchange of a request with no span (an excluded URL, or sampled out for
    certain): its context is attached, and every method but `detach` does nothing."""

    __slots__ = ("token",)

    span = status = None
    ended = True
    failed = False

    def __init__(self, token):
        self.token = token

    def name_route(self, template):
        pass

    def response_started(self, status, headers=None):
        return ()

    def fail(self, exc):
        pass

    detach = Exchange.detach

    def end(self):
        pass


def current_exchange():
    """The exchange of the request being handled in this context, or None."""
    return _get_value(_EXCHANGE_KEY)


def route(instrumentation, template):
    """An interceptor for a framework method that runs once the route is matched:
    `template(instance, args, kwargs)` returns the route template, or None."""
    def before(instance, args, kwargs):
        exchange = _get_current().get(_EXCHANGE_KEY)   # current_exchange(), inline
        if exchange is not None and not exchange.ended:
            exchange.name_route(template(instance, args, kwargs))
        return None

    return Interceptor(before, _result, _nothing, needs=_EXCHANGE_KEY, observes=True)


def exception(instrumentation, exception):
    """An interceptor for the framework's handler of unhandled exceptions (which turns
    them into a 500 response): `exception(instance, args, kwargs)` returns the exception."""
    def before(instance, args, kwargs):
        exchange = current_exchange()
        if exchange is not None:
            exc = exception(instance, args, kwargs)
            if isinstance(exc, BaseException):
                exchange.fail(exc)
        return None

    return Interceptor(before, _result, _nothing, needs=_EXCHANGE_KEY, observes=True)


def wrap_app(app, interceptor, instrumentation):
    """`app` (a WSGI or ASGI callable a server loaded) wrapped with `interceptor`, once:
    an app already wrapped by us is returned as it is."""
    if getattr(app, "_self_autotrace_app", False) or not callable(app):
        return app
    import wrapt
    from autotrace.patching import guard
    wrapped = wrapt.FunctionWrapper(app, guard(interceptor, instrumentation))
    wrapped._self_autotrace_app = True
    return wrapped


_attach, _reset, _get_value = context_var.attach, context_var.reset_or_raise, context_var.get_value
_get_current, _SPAN_KEY = context_var.get_current, context_var.SPAN_KEY
_new_unrecorded = object.__new__
_SERVER = SpanKind.SERVER
# Bound of each per-policy cache (methods, queries, route names): enough for an app's
# usual values, and a client sending endless new ones cannot grow it.
_CACHED_ENTRIES = 256


def _result(state, result):
    return result


def _nothing(state, exc):
    return None


def _span_context(context):
    span_context = get_current_span(context).get_span_context()
    return span_context if span_context.is_valid else None


def _full_url(scheme, host, port, path, query):
    authority = host or ""
    if port and host:
        authority = "%s:%s" % (host, port)
    return "%s://%s%s%s" % (scheme or "http", authority, path or "/", "?" + query if query else "")


def split_host(host):
    """"example.com:8000" -> ("example.com", 8000); "[::1]:8000" -> ("::1", 8000);
    no port (or not a number) -> (host, None)."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, _int(rest[1:]) if rest.startswith(":") else None
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        return name, int(port)
    return host, None


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None
