"""Helpers for the viewer tests: the two-service example run for real, and a viewer
server on free ports."""

import http.client
import json
import os
import subprocess
import sys

from support import autotrace_env

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")


def run_two_services(tmp_path, store):
    """Run the example for real: `autotrace run` the inventory server and the shop
    client (one trace across both, 19 spans). Returns the store path."""
    common = dict(AUTOTRACE_STORE=str(store))
    backend = subprocess.Popen(
        [sys.executable, "-m", "autotrace", "run", sys.executable, os.path.join(APPS, "backend.py"), "3"],
        env=autotrace_env(tmp_path, OTEL_SERVICE_NAME="inventory", **common),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = backend.stdout.readline().strip()
        assert port.isdigit(), backend.stderr.read()
        shop = subprocess.run(
            [sys.executable, "-m", "autotrace", "run", sys.executable, os.path.join(APPS, "frontend.py"),
             "http://127.0.0.1:" + port],
            env=autotrace_env(tmp_path, OTEL_SERVICE_NAME="shop", **common),
            capture_output=True, text=True, timeout=90)
        assert shop.returncode == 0 and shop.stderr == "", shop.stderr
        _, errors = backend.communicate(timeout=60)
        assert backend.returncode == 0 and errors == "", errors
    finally:
        if backend.poll() is None:
            backend.kill()
    return str(store)


class Client:
    """A tiny HTTP client that lets tests send any Host header and any body."""

    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = dict(headers or {})
            connection.putrequest(method, path, skip_host="Host" in headers,
                                  skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            if body is not None and "Content-Length" not in headers:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.read(), response
        finally:
            connection.close()

    def get_json(self, path, status=200):
        code, body, _ = self.request("GET", path)
        assert code == status, (code, body)
        return json.loads(body)

    def post(self, path, body, content_type, **headers):
        return self.request("POST", path, body, {"Content-Type": content_type, **headers})


def page_url(client, path="/"):
    return f"http://127.0.0.1:{client.port}{path}"


def expect(locator_or_page):
    """Playwright's retrying assertions (imported late: Playwright is optional)."""
    from playwright.sync_api import expect as playwright_expect
    return playwright_expect(locator_or_page)


def post_otlp(client, spans_by_service):
    """POST one OTLP/JSON request: {service name: [span dicts]}; asserts it is taken."""
    document = {"resourceSpans": [
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
         "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}]}
        for service, spans in spans_by_service.items()]}
    status, body, _ = client.post("/v1/traces", json.dumps(document).encode(), "application/json")
    assert status == 200, body
