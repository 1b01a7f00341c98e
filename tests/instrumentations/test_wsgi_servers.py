"""Plain WSGI apps (no framework) under the standard library's wsgiref server and
werkzeug's development server, on real sockets: one SERVER span per request, the
body streamed to the client before the span ends, the incoming trace continued."""

import http.client
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from opentelemetry.trace import SpanKind, StatusCode

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def plain_app(environ, start_response):
    if environ["PATH_INFO"] == "/fail":
        raise LookupError("nothing here")

    def body():
        yield b"part one,"
        yield b"part two"

    start_response("200 OK", [("Content-Type", "text/plain")])
    return body()


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def wait_for(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def request(port, path, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def wsgiref_server(instrument):
    instrument("wsgiref")
    server = make_server("127.0.0.1", 0, plain_app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


@pytest.fixture
def werkzeug_server(instrument):
    from werkzeug.serving import make_server as make_werkzeug_server
    instrument("werkzeug")
    server = make_werkzeug_server("127.0.0.1", 0, plain_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("server", ["wsgiref_server", "werkzeug_server"])
def test_a_plain_wsgi_app_gets_one_server_span(request_fixture, spans, server):
    port = request_fixture(server)
    assert request(port, "/things?id=3", {"traceparent": PARENT}) == (200, b"part one,part two")
    assert wait_for(lambda: len(spans()) == 1)   # ended when the server closed the body
    (span,) = spans()
    assert span.kind == SpanKind.SERVER and span.name == "GET"
    assert format(span.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    attributes = dict(span.attributes)
    assert attributes["url.path"] == "/things" and attributes["url.query"] == "id=3"
    assert attributes["server.address"] == "127.0.0.1" and attributes["server.port"] == port
    assert attributes["client.address"] == "127.0.0.1" and attributes["http.response.status_code"] == 200


@pytest.mark.parametrize("server", ["wsgiref_server", "werkzeug_server"])
def test_an_exception_in_a_plain_app_is_recorded_and_the_server_answers_as_usual(request_fixture, spans, server):
    port = request_fixture(server)
    status, _body = request(port, "/fail")
    assert status == 500   # both servers' own error answer
    assert wait_for(lambda: len(spans()) == 1)
    (span,) = spans()
    assert span.status.status_code == StatusCode.ERROR and span.attributes["error.type"] == "LookupError"
    assert request(port, "/ok")[0] == 200   # and the server goes on


@pytest.fixture
def request_fixture(request):
    return request.getfixturevalue


def test_the_servers_file_wrapper_is_returned_as_itself(instrument, spans, tmp_path):
    # Servers send a wsgi.file_wrapper body with sendfile() only when it is their own
    # object: the span must end at its close() without hiding it behind a proxy.
    from wsgiref.util import FileWrapper

    instrument("flask")
    from flask import Flask, send_file
    path = tmp_path / "data.bin"
    path.write_bytes(b"z" * 10_000)
    app = Flask("files")

    @app.route("/file")
    def file():
        return send_file(path)

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/file", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": None,
               "wsgi.file_wrapper": FileWrapper, "wsgi.errors": None, "wsgi.multithread": False,
               "wsgi.multiprocess": False, "wsgi.run_once": False, "wsgi.version": (1, 0)}
    body = app(environ, lambda status, headers, exc_info=None: None)
    assert type(body) is FileWrapper
    assert b"".join(body) == b"z" * 10_000 and spans() == []
    body.close()
    (span,) = spans()
    assert span.name == "GET /file" and span.attributes["http.response.status_code"] == 200
