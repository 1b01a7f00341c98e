"""WSGI: the server span of a request handled by a WSGI application.

    application(instrumentation)   an interceptor for a WSGI callable `(environ, start_response)`
                                   (Flask.wsgi_app, Django's WSGIHandler.__call__)
    server_app(instrumentation, attribute)
                                   an interceptor for a server method that loads the app
                                   into `instance.<attribute>` (gunicorn's Worker.load_wsgi):
                                   the loaded app is wrapped, whatever framework it is
    app_argument(instrumentation, position, keyword)
                                   the same for a server method that takes the app as an
                                   argument (wsgiref's BaseHandler.run, werkzeug's server)

The span starts when the app is called and ends when the server closes the body it
returned (PEP 3333: servers call close() after sending it, or when the client went
away), so a streamed response is timed to its last byte.

Layers: a request may pass through several instrumented callables (gunicorn's, then
Flask's). The outermost one marks the environ; the inner ones see the mark and only
pass the call through.
"""

from autotrace.patching import Interceptor, switch_for
from autotrace.propagation.carriers import environ_getter

from ._server import ServerPolicy, split_host, wrap_app
from ._server import _reset   # context_var's, imported there once OpenTelemetry is loaded

__all__ = ["application", "server_app", "app_argument", "request_facts", "MARK"]

MARK = "autotrace.exchange"


def application(instrumentation):
    policy = ServerPolicy(instrumentation)
    switch = switch_for(instrumentation)

    def before(instance, args, kwargs):
        if len(args) < 2:
            return None, args, kwargs   # called by keyword: unusual; leave it untraced
        environ, start_response = args[0], args[1]
        if not isinstance(environ, dict) or MARK in environ:
            return None, args, kwargs
        exchange = policy.start(environ, lambda: request_facts(environ, policy), environ_getter)
        environ[MARK] = True   # a mark only: our objects need not live as long as the environ's cycle
        if exchange.ended:   # excluded or sampled out: only the context is attached
            return (exchange, None), args, kwargs
        state = exchange, environ.get("wsgi.file_wrapper")
        return state, (environ, _StartResponse(start_response, exchange, switch)) + tuple(args[2:]), kwargs

    def after(state, result):
        if state is None:
            return result
        exchange, file_wrapper = state
        token, exchange.token = exchange.token, None   # exchange.detach(), inline
        if token is not None:
            try:
                _reset(token)
            except Exception:   # noqa: BLE001 - a server that finished the request in another context
                pass
        if exchange.ended:   # no span: the app's body is passed on as it is
            return result
        if isinstance(file_wrapper, type) and isinstance(result, file_wrapper) and _close_ends(result, exchange):
            return result   # the server's own file wrapper stays itself: it may send the file with sendfile()
        return _Body(result, exchange, switch)

    def failed(state, exc):
        if state is not None:
            exchange = state[0]
            exchange.detach()
            exchange.fail(exc)
            exchange.end()

    return Interceptor(before, after, failed, rewrites=True)


def server_app(instrumentation, attribute):
    """After the server's loading method: wrap the app it stored on the instance."""
    interceptor = application(instrumentation)

    def after(instance, result):
        app = getattr(instance, attribute, None)
        if app is not None:
            setattr(instance, attribute, wrap_app(app, interceptor, instrumentation))
        return result

    return Interceptor(lambda instance, args, kwargs: instance, after, lambda instance, exc: None)


def app_argument(instrumentation, position, keyword):
    """Before the server's method: the app argument (`position` after self, or
    `keyword`) is replaced by the wrapped app."""
    interceptor = application(instrumentation)

    def before(instance, args, kwargs):
        if len(args) > position:
            app = wrap_app(args[position], interceptor, instrumentation)
            return None, args[:position] + (app,) + tuple(args[position + 1:]), kwargs
        if kwargs.get(keyword) is not None:
            kwargs = dict(kwargs)
            kwargs[keyword] = wrap_app(kwargs[keyword], interceptor, instrumentation)
        return None, args, kwargs

    return Interceptor(before, lambda state, result: result, lambda state, exc: None, rewrites=True)




def _close_ends(result, exchange):
    """Make the server's close() of a file wrapper end the span; False when the object
    does not allow it (then it is wrapped like any other body)."""
    close = getattr(result, "close", None)

    def closing():
        try:
            if close is not None:
                close()
        finally:
            exchange.end()

    try:
        result.close = closing
    except (AttributeError, TypeError):
        return False
    return True


class _StartResponse:
    """The server's start_response, recording the status and adding our headers."""

    __slots__ = ("_start_response", "_exchange", "_switch")

    def __init__(self, start_response, exchange, switch):
        self._start_response = start_response
        self._exchange = exchange
        self._switch = switch

    def __call__(self, status, headers, *exc_info):
        try:
            code = _STATUS_CODES.get(status) if type(status) is str else None
            extra = self._exchange.response_started(code if code is not None else _status_code(status), headers)
            if extra:
                headers = list(headers) + [pair for pair in extra if not _has_header(headers, pair[0])]
        except Exception as ours:
            self._switch.trip(ours)
        return self._start_response(status, headers, *exc_info)


class _Body:
    """The app's response iterable; ends the span when the server closes it."""

    __slots__ = ("_result", "_exchange", "_switch")

    def __init__(self, result, exchange, switch):
        self._result = result
        self._exchange = exchange
        self._switch = switch

    def __iter__(self):
        try:
            yield from self._result
        except GeneratorExit:
            raise
        except BaseException as exc:
            try:
                self._exchange.fail(exc)
            except Exception as ours:
                self._switch.trip(ours)
            raise

    def close(self):
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            try:
                self._exchange.end()
            except Exception as ours:
                self._switch.trip(ours)


def request_facts(environ, policy):
    """ServerPolicy.begin's arguments for this request, but the carrier (`start` takes
    it apart; `begin(headers=environ, getter=environ_getter, **facts)`)."""
    get = environ.get
    scheme = get("wsgi.url_scheme")
    host = get("HTTP_HOST")
    # host and port, and the protocol version, worked out once per value seen
    known = _HOSTS.get((host, scheme)) if host and type(host) is str else None
    if known is None:
        known = _host_and_port(environ)
    server_protocol = get("SERVER_PROTOCOL")
    protocol = _PROTOCOLS.get(server_protocol) if type(server_protocol) is str else None
    if protocol is None:
        protocol = _protocol(server_protocol)
    # The path as the client sent it (still percent-encoded) when the server keeps it
    raw = get("RAW_URI") or get("REQUEST_URI")
    if raw and raw.startswith("/"):
        path = raw.split("?", 1)[0]
    else:   # _path, inline: rebuilt from the decoded PATH_INFO (WSGI strings are latin-1 bytes)
        path = get("SCRIPT_NAME", "") + get("PATH_INFO", "")
        if not path.isascii():
            path = _path(environ)
    return dict(
        method=get("REQUEST_METHOD"),
        scheme=scheme,
        host=known[0],
        port=known[1],
        path=path,
        query=get("QUERY_STRING"),
        client=get("REMOTE_ADDR"),
        user_agent=get("HTTP_USER_AGENT"),
        protocol=protocol,
        header_pairs=(lambda: _header_pairs(environ)) if policy.request_capture is not None else None,
    )


# (Host header, scheme) -> (host, port), and SERVER_PROTOCOL -> version: the few values
# a server sees, bounded by _CACHED_ENTRIES (a client may send any Host header).
_HOSTS = {}
_PROTOCOLS = {}
_CACHED_ENTRIES = 256


def _host_and_port(environ):
    host = environ.get("HTTP_HOST")
    if host:
        name, port = split_host(host)
        scheme = environ.get("wsgi.url_scheme")
        if port is None:
            port = {"http": 80, "https": 443}.get(scheme)
        if type(host) is str and len(_HOSTS) < _CACHED_ENTRIES:
            _HOSTS[host, scheme] = name, port
        return name, port
    return environ.get("SERVER_NAME"), _int(environ.get("SERVER_PORT"))


def _path(environ):
    # The path as the client sent it (still percent-encoded) when the server keeps it;
    # otherwise rebuilt from the decoded PATH_INFO (WSGI strings are latin-1 bytes).
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        return raw.split("?", 1)[0]
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    try:
        return path.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return path


def _protocol(server_protocol):
    if server_protocol and server_protocol.startswith("HTTP/"):
        version = server_protocol[5:]
        if type(server_protocol) is str and len(_PROTOCOLS) < _CACHED_ENTRIES:
            _PROTOCOLS[server_protocol] = version
        return version
    return None


def _header_pairs(environ):
    pairs = [(key[5:].replace("_", "-").lower(), value) for key, value in environ.items() if key.startswith("HTTP_")]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            pairs.append((key.replace("_", "-").lower(), environ[key]))
    return pairs


def _status_code(status):
    try:
        code = int(str(status)[:3])
    except ValueError:
        return None
    if type(status) is str and len(_STATUS_CODES) < _CACHED_ENTRIES:
        _STATUS_CODES[status] = code
    return code


_STATUS_CODES = {}   # "200 OK" -> 200


def _has_header(headers, name):
    return any(key.lower() == name for key, _value in headers)


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None
