"""`autotrace run python manage.py runserver` with Django's autoreloader on (the default):
the request is served by the reloader's child process, which must trace it all the
same; the stored SERVER span is named after the route and continues the caller's trace."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time

from support import autotrace_env
from autotrace.store.queries import get_trace

SITE = os.path.join(os.path.dirname(__file__), "apps", "djangosite")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def test_runserver_with_its_autoreloader_traces_a_request(tmp_path):
    port = _free_port()
    env = autotrace_env(tmp_path, OTEL_SERVICE_NAME="shop", OTEL_BSP_SCHEDULE_DELAY="50")
    log = open(tmp_path / "runserver.log", "w+")
    server = subprocess.Popen([sys.executable, "-m", "autotrace", "run", sys.executable, "manage.py", "runserver",
                               "127.0.0.1:%d" % port], cwd=SITE, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        _wait_until_listening(port, server, log)
        status, body = _get(port, "/shop/orders/42/", {"traceparent": "00-%s-%s-01" % (TRACE_ID, PARENT_ID)})
        assert (status, body) == (200, b"order 42: 420")
        spans = _wait_for_spans(env["AUTOTRACE_STORE"], TRACE_ID, count=2)
    finally:
        _stop(server)
        log.seek(0)
        output = log.read()
        log.close()
    assert "Watching for file changes" in output, output   # the reloader's child served it
    assert "autotrace: warning" not in output, output
    server_span = next(s for s in spans if s["kind"] == "SERVER")
    assert server_span["name"] == "GET /shop/orders/<int:order_id>/"
    assert server_span["parent_span_id"] == PARENT_ID and server_span["service_name"] == "shop"
    attributes = server_span["attributes"]
    assert attributes["http.route"] == "/shop/orders/<int:order_id>/"
    assert attributes["url.path"] == "/shop/orders/42/" and attributes["http.response.status_code"] == 200
    assert attributes["server.port"] == port
    (query,) = [s for s in spans if s is not server_span]
    assert query["kind"] == "CLIENT" and query["parent_span_id"] == server_span["span_id"]


def test_importing_django_instruments_it_without_configuring_settings(tmp_path):
    # No DJANGO_SETTINGS_MODULE: reading a setting would raise ImproperlyConfigured, and
    # configuring them would take that choice from the app.
    env = autotrace_env(tmp_path)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    code = "import django.test; from django.conf import settings; print(settings.configured)"
    result = subprocess.run([sys.executable, "-m", "autotrace", "run", "--debug", sys.executable, "-c", code],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and result.stdout == "False\n", result.stdout + result.stderr
    assert "django: instrumented" in result.stderr and "warning" not in result.stderr, result.stderr


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_listening(port, server, log):
    for _ in range(600):   # bounded: at most about a minute
        if server.poll() is not None:
            log.seek(0)
            raise AssertionError("runserver exited with %s:\n%s" % (server.returncode, log.read()))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("runserver did not listen on port %d" % port)


def _get(port, path, headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _wait_for_spans(store, trace_id, count):
    """The trace's spans once `count` of them are stored (the exporter sends them in
    the background while the server keeps running)."""
    spans = []
    for _ in range(300):   # bounded: at most about 30 seconds
        spans = get_trace(store, trace_id) if os.path.exists(store) else []
        if len(spans) >= count:
            return spans
        time.sleep(0.1)
    raise AssertionError("expected %d spans of trace %s, found %r" % (count, trace_id, spans))


def _stop(server):
    """End the whole process group we started (the reloader and its child), bounded."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(server.pid, signal.SIGKILL)   # whatever is left of the group (the child)
    except ProcessLookupError:
        pass
    server.wait(timeout=15)
