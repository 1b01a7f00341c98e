"""The "shop" service of the two-service example: one hand-made root span that calls
the inventory service three times, one after another (requests is instrumented).

usage: python frontend.py BASE_URL"""

import sys

import requests
from opentelemetry import trace

base = sys.argv[1]
with trace.get_tracer("shop").start_as_current_span("checkout") as span:
    span.set_attribute("shop.customer", "c-42")
    for path in ("/orders/1", "/orders/2", "/fail"):
        print(path, requests.get(base + path, timeout=10).status_code)
