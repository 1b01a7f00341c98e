"""Malformed and hostile requests, sent as raw bytes to real servers: gunicorn serving
Flask and uvicorn serving Starlette, each run twice, under `autotrace run` and bare
(the control).

For each request: the response (status, headers but Date, body) is the bare server's,
byte for byte; the traced server goes on serving; and when the request reached the
app (the apps mark their responses with X-Reached-App) its one SERVER span is stored,
ended, in a trace of its own. A request the server refuses by itself (bytes not
allowed in a request line, a line over its limit) reaches no app and makes no span.
"""

import socket

import pytest

from server_support import Server, exchange, get, gunicorn, parse, uvicorn, wait_for_spans
from support import autotrace_env

# One hash seed for both: Flask's 405 lists the allowed methods in set order.
SAME = dict(PYTHONHASHSEED="0")
# Header capture on, so that hostile header values go through it too.
TRACED = dict(SAME, OTEL_BSP_SCHEDULE_DELAY="50",
              OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST="x-note,x-big,traceparent")
SERVERS = {
    # Headers up to 100 KB (its default limit is 8 KB), so the huge one reaches the app.
    "gunicorn-flask": lambda: gunicorn("-w", "1", "--limit-request-field_size", "100000", "shop_wsgi:app"),
    "uvicorn-starlette": lambda: uvicorn("shop_asgi:app"),
}
ROUTES = {"gunicorn-flask": "/greet/<name>", "uvicorn-starlette": "/greet/{name}"}

# name: (request line, header lines); every request also names its case in User-Agent
GET = b"GET /greet/x HTTP/1.1"
CASES = {
    "bad-percent-encoding": (b"GET /greet/%zz%E0%A4%FF%FE% HTTP/1.1", ()),
    "bad-query": (b"GET /greet/x?q=%zz%FF&token=s%E0cret%&&=&% HTTP/1.1", ()),
    "invalid-utf8-path": (b"GET /greet/\xff\xfe HTTP/1.1", ()),
    "long-path": (b"GET /greet/" + b"x" * 8_000 + b" HTTP/1.1", ()),
    "absolute-form": (b"GET http://elsewhere.example/greet/x HTTP/1.1", ()),
    "unknown-method": (b"BREW /greet/x HTTP/1.1", ()),
    "http-1.0-without-host": (b"GET /greet/x HTTP/1.0", ()),
    "invalid-utf8-header": (GET, (b"X-Note: caf\xe9 \xff\xfe\xc3",)),
    "huge-header": (GET, (b"X-Big: " + b"a" * 60_000,)),
    "invalid-traceparent": (GET, (b"traceparent: 00-not-a-trace-id-at-all-01",)),
    "zero-trace-id": (GET, (b"traceparent: 00-" + b"0" * 32 + b"-00f067aa0ba902b7-01",)),
    "two-traceparents": (GET, (b"traceparent: 00-" + b"1" * 32 + b"-00f067aa0ba902b7-01",
                               b"traceparent: 00-" + b"2" * 32 + b"-00f067aa0ba902b7-01")),
}
UA_TAIL = {"invalid-utf8-header": b" \xff\xfe"}   # in a header the span records too


@pytest.fixture(scope="module", params=list(SERVERS))
def servers(request, tmp_path_factory):
    """(kind, traced server, bare server, store path), shared by every case."""
    tmp = tmp_path_factory.mktemp(request.param)
    env = autotrace_env(tmp, **TRACED)
    traced = Server(SERVERS[request.param](), env, tmp / "traced.log")
    try:
        bare = Server(SERVERS[request.param](), autotrace_env(tmp, AUTOTRACE_ENABLED="false", **SAME),
                      tmp / "bare.log", traced=False)
    except BaseException:
        traced.kill()
        raise
    yield request.param, traced, bare, env["AUTOTRACE_STORE"]
    bare.kill()
    traced.kill()


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_request_gets_the_bare_servers_response(servers, case):
    kind, traced, bare, store = servers
    request_line, headers = CASES[case]
    host = [] if case == "http-1.0-without-host" else [b"Host: 127.0.0.1"]
    data = b"\r\n".join([request_line] + host + [b"Connection: close", b"User-Agent: bad-input/" + case.encode()
                                                  + UA_TAIL.get(case, b"")] + list(headers)) + b"\r\n\r\n"
    got = exchange(traced.port, data)
    assert without_date(got) == without_date(exchange(bare.port, data)), traced.log()

    reached = b"x-reached-app: yes" in got.lower()
    assert reached or case in ("invalid-utf8-path", "long-path")   # what both servers refuse themselves
    (span,) = spans_after(traced, store, case, 1 if reached else 0) or [None]
    if span is not None:
        response = parse(got)
        method = "HTTP" if case == "unknown-method" else "GET"   # only known methods name spans
        # Starlette's 405 keeps the name of the route whose path matched; Flask's has no rule.
        named = response.status == 200 or (response.status == 405 and kind == "uvicorn-starlette")
        assert span["name"] == (method + " " + ROUTES[kind] if named else method)
        assert span["attributes"]["http.response.status_code"] == response.status
        assert span["parent_span_id"] is None and span["trace_id"] != "0" * 32   # a new trace
        assert span["end_ns"] >= span["start_ns"]
        if case == "unknown-method":
            assert span["attributes"]["http.request.method"] == "_OTHER"
            assert span["attributes"]["http.request.method_original"] == "BREW"
        if case == "bad-query":
            assert "token=REDACTED" in span["attributes"]["url.query"] and "cret" not in span["attributes"]["url.query"]
        if case == "huge-header":
            assert span["attributes"]["http.request.header.x-big"] == ["a" * 60_000]
        if case == "invalid-utf8-header":
            assert span["attributes"]["http.request.header.x-note"][0].startswith("caf")


def test_a_client_that_leaves_mid_body_ends_its_span(servers):
    kind, traced, bare, store = servers
    data = (b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bad-input/leaves\r\n"
            b"Content-Length: 100000\r\n\r\n0123456789")
    for server in (traced, bare):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(data)
    (span,) = spans_after(traced, store, "leaves", 1)
    assert span["name"] == "POST /echo" and span["end_ns"] >= span["start_ns"]


def spans_after(traced, store, case, expected):
    """Check that the traced server still answers, then return the SERVER spans of the
    case once its control request's span (sent after it) and `expected` of them are in."""
    after = get(traced.port, "/greet/after", "User-Agent: bad-input/%s/after" % case)
    assert (after.status, after.body) == (200, b"hello after"), traced.log()

    def of_case(spans, name):
        return [s for s in spans if s["kind"] == "SERVER"
                and s["attributes"].get("user_agent.original", "").split(" ")[0] == "bad-input/" + name]

    spans = wait_for_spans(store, lambda spans: of_case(spans, case + "/after")
                           and len(of_case(spans, case)) >= expected)
    assert len(of_case(spans, case + "/after")) == 1
    found = of_case(spans, case)
    assert len(found) == expected, (found, traced.log())
    return found


def without_date(raw):
    return b"\r\n".join(line for line in raw.split(b"\r\n") if not line.lower().startswith(b"date:"))
