"""aiohttp's web server: the SERVER span of each request it handles.

    request(instrumentation)    an interceptor for `RequestHandler._handle_request(request,
                                start_time, handler)`: aiohttp runs it in a task of its
                                own for every request, around the app's handler (routing,
                                middlewares, the view) and the sending of the response
    response(instrumentation)   an interceptor for `StreamResponse.prepare(request)`, where
                                the status line and headers go out

Why these two rather than `Application._handle`: the server keeps `app._handle` as a
bound method from the moment the runner is set up, so patching it misses runners set
up earlier, while `_handle_request` is looked up on every request; it also sees what
aiohttp does after the view (the 500 or 504 it makes of an exception, the body sent),
and covers low-level `web.Server` handlers. Every response, whoever makes it (the
view, a raised `web.HTTPException`, aiohttp's own error page, a streamed
`StreamResponse`, a websocket handshake), goes through `prepare` inside the request's
task, where the exchange is the current context: that is where the status is known
and the traceresponse header can still be added.

The span ends when `_handle_request` returns: the response has been sent (a streamed
one by the view, the others by aiohttp just after it), the client went away, or the
handler was cancelled. A websocket connection is one span, as its view runs for the
whole connection. The route is named at the end, from the resource aiohttp matched
(`request.match_info.route.resource.canonical`: `/items/{id}`, with a sub-app's prefix
included, as aiohttp adds the prefix to the sub-app's resources); no resource (404,
405) leaves the span `{METHOD}`.
"""

from autotrace.patching import Interceptor

from ._server import ServerPolicy, current_exchange, split_host

__all__ = ["request", "response"]


def request(instrumentation):
    policy = ServerPolicy(instrumentation)

    def before(instance, args, kwargs):
        # A request aiohttp could not parse comes with its error handler instead of the
        # app's, and a placeholder message ("UNKNOWN /"): no span rather than a false one.
        if len(args) < 3 or args[2] is not getattr(instance, "_request_handler", None):
            return None
        exchange = policy.begin(**_facts(args[0], policy))
        return exchange, args[0]

    def after(state, result):
        if state is not None:
            exchange, request = state
            response = result[0] if isinstance(result, tuple) and result else None
            exchange.detach()
            _name_route(exchange, request)
            if response is not None:   # the status if no prepare saw it; the final headers
                exchange.response_started(getattr(response, "status", None), getattr(response, "headers", None))
            exchange.end()
        return result

    def failed(state, exc):
        # The view's own exceptions never get here (aiohttp answers them with a 500
        # after `handle_error`, which records them): this is a cancelled handler or a
        # client gone while the response was being sent.
        if state is not None:
            exchange, request = state
            exchange.detach()
            _name_route(exchange, request)
            exchange.fail(exc)
            exchange.end()

    return Interceptor(before, after, failed, is_async=True)


def response(instrumentation):
    def before(instance, args, kwargs):
        exchange = current_exchange()
        if exchange is not None and not exchange.ended and not instance.prepared:
            extra = exchange.response_started(instance.status)
            if extra:
                headers = instance.headers
                for name, value in extra:
                    if name not in headers:
                        headers[name] = value
        return None

    return Interceptor(before, _result, _nothing, is_async=True)


def _result(state, result):
    return result


def _nothing(state, exc):
    return None


def _name_route(exchange, request):
    match_info = getattr(request, "match_info", None)   # a low-level web.Server request has none
    route = getattr(match_info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is not None:
        exchange.name_route(resource.canonical)


def _facts(request, policy):
    headers = request.headers
    websocket = headers.get("Upgrade", "").lower() == "websocket"
    scheme = request.scheme
    if websocket:
        scheme = "wss" if scheme == "https" else "ws"
    host, port = _host_and_port(request, headers, scheme)
    path, query = _path_and_query(request)
    version = request.version
    return dict(
        method=request.method,
        scheme=scheme,
        host=host,
        port=port,
        path=path,
        query=query,
        headers=headers,
        client=request.remote,
        user_agent=headers.get("User-Agent"),
        protocol="%d.%d" % (version.major, version.minor) if version else None,
        websocket=websocket,
    )


def _host_and_port(request, headers, scheme):
    # Not `request.host`: without a Host header older aiohttp asks socket.getfqdn().
    host = headers.get("Host")
    if host:
        name, port = split_host(host)
        if port is None:
            port = 443 if scheme in ("https", "wss") else 80
        return name, port
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return str(sockname[0]), sockname[1]
    return None, None


def _path_and_query(request):
    # The request target as the client sent it, still percent-encoded; an absolute
    # target (`GET http://host/path`) is reduced to its path and query.
    raw = request.raw_path
    if raw.startswith("/"):
        path, _, query = raw.partition("?")
        return path, query
    url = request.rel_url
    return url.raw_path, url.raw_query_string
