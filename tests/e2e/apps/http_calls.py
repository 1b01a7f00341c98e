"""Calls one URL with three clients inside a manual span (for test_run_http_clients.py)."""

import sys
import urllib.request

import httpx
import urllib3
from opentelemetry import trace

url = sys.argv[1]
with trace.get_tracer("app").start_as_current_span("job"):
    urllib.request.urlopen(url).read()
    urllib3.request("GET", url)
    with httpx.Client() as client:
        with client.stream("GET", url) as response:
            response.read()
