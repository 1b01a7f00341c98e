"""`autotrace run` with an app calling out through urllib.request, urllib3 and httpx:
one span per request, each carried to the server, read back from the local store."""

import os
import subprocess
import sys

from support import autotrace_env
from autotrace.store.queries import get_trace, list_traces

APPS = os.path.join(os.path.dirname(__file__), "apps")


def test_each_client_request_is_one_span_carried_to_the_server(tmp_path, httpserver):
    httpserver.expect_request("/work").respond_with_data("ok")
    env = autotrace_env(tmp_path, OTEL_SERVICE_NAME="caller")
    result = subprocess.run([sys.executable, "-m", "autotrace", "run", sys.executable,
                             os.path.join(APPS, "http_calls.py"), httpserver.url_for("/work")],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    (summary,) = list_traces(env["AUTOTRACE_STORE"])
    spans = get_trace(env["AUTOTRACE_STORE"], summary["trace_id"])
    gets = [s for s in spans if s["name"] == "GET"]
    assert len(spans) == 4 and len(gets) == 3
    received = sorted(request.headers["traceparent"].split("-")[2] for request, _ in httpserver.log)
    assert received == sorted(s["span_id"] for s in gets)
