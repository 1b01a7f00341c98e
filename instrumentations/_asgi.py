"""ASGI: the server span of an HTTP request or a websocket connection.

    application(instrumentation, skip=None, claim=None)
                                   an interceptor for an ASGI callable `(scope, receive, send)`
                                   (Starlette.__call__, Django's ASGIHandler.__call__)
    server_app(instrumentation, attribute)
                                   an interceptor for a server method that loads the app
                                   into `instance.<attribute>` (uvicorn's Config.load)

An HTTP span ends when the last body message has been sent (a streamed response is
timed to its last chunk) or, failing that, when the app returns (the client went
away, or the app never answered). A 5xx response waits for the app's return: servers
and frameworks (Starlette's ServerErrorMiddleware) send the 500 and then re-raise the
exception that caused it, which the span must still record. A websocket connection
is one span, from the handshake to the app's return; the client's normal close raised
back out of the app (Starlette's WebSocketDisconnect) is not an error. Lifespan and
other scope types pass through.

As with WSGI, the outermost instrumented layer marks the scope and the inner ones
pass the call through.
"""

from autotrace.patching import Interceptor, switch_for
from autotrace.propagation.carriers import index_getter, index_headers

from ._server import ServerPolicy, split_host, wrap_app

__all__ = ["application", "server_app", "request_facts", "MARK"]

MARK = "autotrace.exchange"


def application(instrumentation, skip=None, claim=None):
    """`skip(instance)`: true for apps left to another spec (a subclass with its own).
    `claim(scope)`: called for every request autotrace traces (or excludes) that reaches
    this app, whichever layer made the span: a framework with tracing of its own is told
    to stand aside for it."""
    policy = ServerPolicy(instrumentation)
    switch = switch_for(instrumentation)

    def accepts(instance, args, kwargs):
        """Whether this layer traces the call; decided before any coroutine of ours."""
        if len(args) != 3 or kwargs:
            return False
        scope = args[0]
        if not isinstance(scope, dict) or scope.get("type") not in _TRACED_SCOPES:
            return False
        if skip is not None and skip(instance):
            return False
        if MARK in scope:   # an outer layer traces this request
            if claim is not None:
                claim(scope)
            return False
        return True

    def before(instance, args, kwargs):
        scope, receive, send = args
        if MARK in scope:   # a layer between accepts and here took it (never seen; cheap to be sure)
            return None, args, kwargs
        index = index_headers(scope.get("headers") or ())
        exchange = policy.start(index, lambda: request_facts(scope, policy, index), index_getter)
        scope[MARK] = exchange
        if claim is not None:
            claim(scope)
        if exchange.ended:   # excluded or sampled out: only the context is attached
            return (exchange, None), args, kwargs
        if scope["type"] == "websocket":
            receive = _Receive(receive)
            return (exchange, receive), (scope, receive, _Send(send, exchange, switch)), kwargs
        return (exchange, None), (scope, receive, _Send(send, exchange, switch)), kwargs

    def after(state, result):
        if state is not None:
            state[0].detach()
            state[0].end()
        return result

    def failed(state, exc):
        if state is not None:
            exchange, receive = state
            exchange.detach()
            if receive is None or not receive.closed_by(exc):
                exchange.fail(exc)
            exchange.end()

    return Interceptor(before, after, failed, is_async=True, rewrites=True, accepts=accepts)


_TRACED_SCOPES = ("http", "websocket")


def server_app(instrumentation, attribute):
    """After the server's loading method: wrap the app it stored on the instance."""
    interceptor = application(instrumentation)

    def after(instance, result):
        app = getattr(instance, attribute, None)
        if app is not None:
            setattr(instance, attribute, wrap_app(app, interceptor, instrumentation))
        return result

    return Interceptor(lambda instance, args, kwargs: instance, after, lambda instance, exc: None)


class _Send:
    """The server's send, recording the response as it goes out."""

    __slots__ = ("_send", "_exchange", "_switch")

    def __init__(self, send, exchange, switch):
        self._send = send
        self._exchange = exchange
        self._switch = switch

    async def __call__(self, message):
        last = False
        try:
            message, last = self._observe(message)
        except Exception as ours:
            self._switch.trip(ours)
        await self._send(message)
        if last:
            try:
                self._exchange.end()
            except Exception as ours:
                self._switch.trip(ours)

    def _observe(self, message):
        """(message to send, whether it ends the response)."""
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "http.response.start":
            headers = message.get("headers") or []
            extra = self._exchange.response_started(message.get("status"), headers)
            if extra:
                message = dict(message)
                message["headers"] = list(headers) + [(name.encode("latin-1"), value.encode("latin-1"))
                                                      for name, value in extra]
            return message, False
        if kind == "http.response.body":
            last = not message.get("more_body", False)
            return message, last and (self._exchange.status or 0) < 500
        if kind == "websocket.accept":
            self._exchange.response_started(101)
        elif kind == "websocket.close" and self._exchange.status is None:
            self._exchange.response_started(403)   # closed before the handshake: refused
        elif kind == "websocket.http.response.start":
            self._exchange.response_started(message.get("status"), message.get("headers"))
        return message, False


class _Receive:
    """The server's receive, for a websocket: remembers the client's close code."""

    __slots__ = ("_receive", "_code")

    def __init__(self, receive):
        self._receive = receive
        self._code = None

    async def __call__(self):
        message = await self._receive()
        if isinstance(message, dict) and message.get("type") == "websocket.disconnect":
            self._code = message.get("code", 1005)
        return message

    def closed_by(self, exc):
        """True when `exc` is the client's normal close (1000, 1001) raised back out of
        the app, as Starlette's WebSocketDisconnect is: the end of the connection, not
        a failure."""
        return self._code in (1000, 1001) and getattr(exc, "code", None) == self._code


def request_facts(scope, policy, index):
    """ServerPolicy.begin's arguments for this request, but the carrier: `index`, the
    `index_headers` of its headers (`begin(headers=index, getter=index_getter, **facts)`)."""
    headers = scope.get("headers") or ()
    host_header = index.get("host")
    known = _HOSTS.get((host_header[0], scope.get("scheme"))) if host_header else None
    host, port = known if known is not None else _host_and_port(scope, index)
    websocket = scope.get("type") == "websocket"
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, (bytes, bytearray)) else scope.get("path")
    query = scope.get("query_string") or b""
    client = scope.get("client")
    return dict(
        method=scope.get("method"),
        scheme=scope.get("scheme") or ("ws" if websocket else "http"),
        host=host,
        port=port,
        path=path.split("?", 1)[0] if path else path,
        query=query.decode("latin-1") if isinstance(query, (bytes, bytearray)) else str(query),
        header_pairs=(lambda: headers) if policy.request_capture is not None else None,
        client=client[0] if client else None,
        user_agent=index["user-agent"][0] if "user-agent" in index else None,
        protocol=scope.get("http_version"),
        websocket=websocket,
    )


def _host_and_port(scope, index):
    host = _first(index, "host")
    if host:
        name, port = split_host(host)
        scheme = scope.get("scheme")
        if port is None:
            port = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
        if len(_HOSTS) < _CACHED_ENTRIES:
            _HOSTS[host, scheme] = name, port
        return name, port
    server = scope.get("server")
    if server and len(server) == 2 and server[1] is not None:
        return server[0], server[1]
    return None, None


# (Host header, scheme) -> (host, port): the few values a server sees, bounded (a client
# may send any Host header).
_HOSTS = {}
_CACHED_ENTRIES = 256


def _first(index, name):
    values = index.get(name)
    return values[0] if values else None
