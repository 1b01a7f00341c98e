"""The one span builder for HTTP clients.

A client's spec supplies small functions that pull facts out of its own objects:

    describe(instance, args, kwargs) -> (method, url, headers) or None to skip
        `headers` is the outgoing header mapping to inject trace context into.
    response(result) -> (status_code, protocol_version or None)

Everything else is here: the CLIENT span named by the method, stable HTTP attributes,
URL redaction, context injection, status and errors.
"""

from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from autotrace import semconv, tracing
from autotrace.bootstrap import settings
from autotrace.patching import Interceptor
from autotrace.redaction import redact_url, url_secrets
from autotrace.spans import fail_span

__all__ = ["client"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def client(instrumentation, describe, response, is_async=False):
    scope = "autotrace.instrumentations." + instrumentation
    extra_redacted = frozenset(settings().redact_query_params)

    def before(instance, args, kwargs):
        described = describe(instance, args, kwargs)
        if described is None:
            return None
        method, url, headers = described
        span = tracing.tracer(scope).start_span(
            _span_name(method), kind=SpanKind.CLIENT, attributes=request_attributes(method, url, extra_redacted))
        span_context = set_span_in_context(span)
        if headers is not None:
            tracing.propagator().inject(headers, context=span_context)
        return span, otel_context.attach(span_context), url

    def after(state, result):
        if state is None:
            return result
        span, token, _url = state
        otel_context.detach(token)
        status, protocol = response(result)
        if status is not None:
            span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status)
            if status >= 400:
                span.set_attribute(semconv.ERROR_TYPE, str(status))
                span.set_status(Status(StatusCode.ERROR))
        if protocol:
            span.set_attribute(semconv.NETWORK_PROTOCOL_VERSION, protocol)
        span.end()
        return result

    def failed(state, exc):
        if state is None:
            return
        span, token, url = state
        otel_context.detach(token)
        fail_span(span, exc, secrets=url_secrets(url, extra_redacted) if url else ())

    return Interceptor(before, after, failed, is_async=is_async)


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
