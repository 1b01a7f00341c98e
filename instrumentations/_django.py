"""The Django seams the shared server builders do not cover (see django.py).

    handler(instrumentation, is_async)   around BaseHandler.get_response(_async)(request):
                                         the span of a request that no WSGI/ASGI layer
                                         traced (Django's test Client, other handlers
                                         built on BaseHandler); otherwise a pass-through
    resolved(instrumentation, route)     after BaseHandler.resolve_request: names the span
                                         after `route(resolver_match)`
    converted_exception(instrumentation) around exception.response_for_exception(request,
                                         exc): an exception Django turns into a 5xx response
                                         is recorded on the span (a 404 or 403 is not)
"""

from autotrace.patching import Interceptor
from autotrace.propagation.carriers import environ_getter, index_getter, index_headers

from . import _asgi, _wsgi
from ._asgi import request_facts as _asgi_facts
from ._server import ServerPolicy, current_exchange
from ._wsgi import request_facts as _wsgi_facts

__all__ = ["handler", "resolved", "converted_exception"]


def handler(instrumentation, is_async=False):
    policy = ServerPolicy(instrumentation)

    def before(instance, args, kwargs):
        request = args[0] if args else kwargs.get("request")
        # The very dict the outer layer marked: WSGIRequest keeps the environ it was
        # built from, ASGIRequest the scope.
        environ = getattr(request, "environ", None)
        if isinstance(environ, dict):
            if _wsgi.MARK in environ:
                return None
            exchange = environ[_wsgi.MARK] = policy.start(environ, lambda: _wsgi_facts(environ, policy),
                                                          environ_getter)
            return exchange
        scope = getattr(request, "scope", None)
        if isinstance(scope, dict) and scope.get("type") == "http" and _asgi.MARK not in scope:
            index = index_headers(scope.get("headers") or ())
            exchange = scope[_asgi.MARK] = policy.start(index, lambda: _asgi_facts(scope, policy, index),
                                                        index_getter)
            return exchange
        return None

    def after(exchange, response):
        if exchange is None:
            return response
        exchange.detach()
        headers = list(response.items()) if policy.response_capture is not None else None
        for name, value in exchange.response_started(response.status_code, headers):
            if not response.has_header(name):
                response[name] = value
        exchange.end()
        return response

    def failed(exchange, exc):
        if exchange is not None:
            exchange.detach()
            exchange.fail(exc)
            exchange.end()

    return Interceptor(before, after, failed, is_async=is_async)


def resolved(instrumentation, route):
    def after(state, match):
        exchange = current_exchange()
        if exchange is not None and not exchange.ended:
            exchange.name_route(route(match))
        return match

    return Interceptor(_nothing, after, _nothing)


def converted_exception(instrumentation):
    def before(instance, args, kwargs):
        exc = args[1] if len(args) > 1 else kwargs.get("exc")
        exchange = current_exchange()
        return (exchange, exc) if exchange is not None and isinstance(exc, BaseException) else None

    def after(state, response):
        # Only now is it known whether Django saw a server error or a client's (Http404,
        # PermissionDenied, SuspiciousOperation... answer 4xx and are not failures).
        status = getattr(response, "status_code", None)
        if state is not None and isinstance(status, int) and status >= 500:
            state[0].fail(state[1])
        return response

    return Interceptor(before, after, _nothing)


def _nothing(*args):
    return None
