"""Flask through its own test client (the WSGI layer around Flask.wsgi_app): names,
attributes, errors, streaming, and the server options of _server.py."""

import pytest
from flask import Flask, Response, abort
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from http_checks import configure  # noqa: F401 (fixture)

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def make_app():
    app = Flask("probe")

    @app.route("/users/<int:user_id>")
    def user(user_id):
        with trace.get_tracer("test").start_as_current_span("inside"):
            return {"id": user_id}

    @app.route("/boom")
    def boom():
        raise ValueError("the view failed")

    @app.route("/teapot")
    def teapot():
        abort(418)

    @app.route("/unavailable")
    def unavailable():
        return "down", 503

    @app.route("/stream")
    def stream():
        def chunks():
            for i in range(3):
                yield "chunk %d\n" % i
        return Response(chunks(), mimetype="text/plain")

    return app


def get(app, path, **kwargs):
    """A request whose response is read and closed, as a server would."""
    with app.test_client() as client:
        response = client.get(path, **kwargs)
        body = response.get_data()
        status = response.status_code
        response.close()
    return status, body


@pytest.fixture
def traced(instrument):
    instrument("flask")


def test_a_request_is_one_server_span_named_by_the_rule(traced, spans):
    status, body = get(make_app(), "/users/7?page=2&token=secret", headers={"User-Agent": "probe/1"})
    assert status == 200 and b'"id":7' in body
    inside, server = spans()
    assert server.name == "GET /users/<int:user_id>" and server.kind == SpanKind.SERVER
    assert inside.parent.span_id == server.context.span_id   # the view runs inside the server span
    assert dict(server.attributes) == {
        "http.request.method": "GET", "url.scheme": "http", "url.path": "/users/7",
        "url.query": "page=2&token=REDACTED", "server.address": "localhost", "server.port": 80,
        "client.address": "127.0.0.1", "user_agent.original": "probe/1", "network.protocol.version": "1.1",
        "http.route": "/users/<int:user_id>", "http.response.status_code": 200,
    }
    assert server.status.status_code == StatusCode.UNSET


def test_the_incoming_traceparent_is_continued(traced, spans):
    get(make_app(), "/users/1", headers={"traceparent": PARENT})
    server = [s for s in spans() if s.kind == SpanKind.SERVER][0]
    assert format(server.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert server.parent.span_id == 0xb7ad6b7169203331 and server.parent.is_remote


def test_the_server_threads_own_context_is_never_the_parent(traced, spans):
    with trace.get_tracer("test").start_as_current_span("test body"):
        get(make_app(), "/users/1")
    server = [s for s in spans() if s.kind == SpanKind.SERVER][0]
    assert server.parent is None   # a request's parent comes from its headers only


def test_an_unmatched_path_is_named_by_the_method_alone(traced, spans):
    status, _ = get(make_app(), "/no/such/page/12345")
    (server,) = spans()
    assert status == 404 and server.name == "GET"
    assert "http.route" not in server.attributes
    assert server.attributes["http.response.status_code"] == 404
    assert server.status.status_code == StatusCode.UNSET   # a client error, not the server's


def test_a_view_exception_is_recorded_and_the_response_is_flasks_own(instrument, spans):
    bare_status, bare_body = get(make_app(), "/boom")
    instrument("flask")
    status, body = get(make_app(), "/boom")
    assert (status, body) == (bare_status, bare_body) and status == 500
    (server,) = spans()
    assert server.name == "GET /boom" and server.status.status_code == StatusCode.ERROR
    assert server.attributes["error.type"] == "ValueError"
    (event,) = server.events
    assert event.name == "exception" and event.attributes["exception.message"] == "the view failed"


def test_with_propagated_exceptions_the_app_sees_the_same_exception_object(traced, spans):
    app = make_app()
    app.testing = True   # Flask re-raises view exceptions
    raised = []

    @app.route("/raise")
    def raise_it():
        raised.append(KeyError("original"))
        raise raised[0]

    with pytest.raises(KeyError) as caught:
        get(app, "/raise")
    assert caught.value is raised[0]
    (server,) = spans()
    assert server.attributes["error.type"] == "KeyError" and server.status.status_code == StatusCode.ERROR


def test_http_errors(traced, spans):
    app = make_app()
    assert get(app, "/teapot")[0] == 418
    assert get(app, "/unavailable")[0] == 503
    teapot, unavailable = spans()
    assert teapot.status.status_code == StatusCode.UNSET and "error.type" not in teapot.attributes
    assert unavailable.status.status_code == StatusCode.ERROR and unavailable.attributes["error.type"] == "503"


def test_a_streamed_response_ends_its_span_when_the_body_is_closed(traced, spans):
    with make_app().test_client() as client:
        response = client.get("/stream", buffered=False)
        assert spans() == []           # headers are out, the body is not
        assert response.get_data() == b"chunk 0\nchunk 1\nchunk 2\n"
        response.close()
    (server,) = spans()
    assert server.name == "GET /stream" and server.attributes["http.response.status_code"] == 200


def test_excluded_urls_have_no_span_but_keep_the_incoming_context(configure, instrument, spans):
    configure(OTEL_PYTHON_FLASK_EXCLUDED_URLS="/health$")
    instrument("flask")
    app = make_app()

    @app.route("/health")
    def health():
        with trace.get_tracer("test").start_as_current_span("check"):
            return "ok"

    assert get(app, "/health", headers={"traceparent": PARENT}) == (200, b"ok")
    (check,) = spans()
    assert check.name == "check" and check.parent.span_id == 0xb7ad6b7169203331   # joined the caller's trace


def test_public_endpoint_starts_a_new_trace_linked_to_the_caller(configure, instrument, spans):
    configure(AUTOTRACE_PUBLIC_ENDPOINT="true")
    instrument("flask")
    get(make_app(), "/users/1", headers={"traceparent": PARENT})
    server = [s for s in spans() if s.kind == SpanKind.SERVER][0]
    assert server.parent is None
    assert format(server.context.trace_id, "032x") != "0af7651916cd43dd8448eb211c80319c"
    (link,) = server.links
    assert link.context.span_id == 0xb7ad6b7169203331


def test_header_capture_and_the_always_redacted_headers(configure, instrument, spans):
    configure(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST="X-Request-Id,Authorization,x-tenant",
              OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE="content-type,set-cookie",
              OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS="x-tenant")
    instrument("flask")
    app = make_app()

    @app.route("/login")
    def login():
        response = Response("hi")
        response.set_cookie("session", "s3cr3t")
        return response

    get(app, "/login", headers={"X-Request-Id": "r-1", "Authorization": "Bearer abc", "X-Tenant": "acme"})
    (server,) = spans()
    attributes = dict(server.attributes)
    assert attributes["http.request.header.x-request-id"] == ("r-1",)
    assert attributes["http.request.header.authorization"] == ("REDACTED",)
    assert attributes["http.request.header.x-tenant"] == ("REDACTED",)
    assert attributes["http.response.header.content-type"] == ("text/html; charset=utf-8",)
    assert attributes["http.response.header.set-cookie"] == ("REDACTED",)


def test_traceresponse_header_when_asked(configure, instrument, spans):
    configure(AUTOTRACE_TRACERESPONSE="true")
    instrument("flask")
    with make_app().test_client() as client:
        response = client.get("/users/1", headers={"traceparent": PARENT})
        value = response.headers["traceresponse"]
        response.close()
    server = [s for s in spans() if s.kind == SpanKind.SERVER][0]
    assert value == "00-0af7651916cd43dd8448eb211c80319c-%016x-01" % server.context.span_id


def test_no_traceresponse_by_default(traced, spans):
    with make_app().test_client() as client:
        response = client.get("/users/1")
        assert "traceresponse" not in response.headers
        response.close()


@pytest.mark.parametrize("path", ["/users/%zz", "/users/%ff%fe", "/%C0%AF/x"])
def test_hostile_paths_give_flasks_own_response(instrument, spans, path):
    bare = get(make_app(), path)
    instrument("flask")
    assert get(make_app(), path) == bare
    (server,) = spans()
    assert server.name == "GET" and server.end_time is not None


def test_hostile_headers_give_flasks_own_response(instrument, spans):
    headers = {"traceparent": "00-XYZ-not-valid", "User-Agent": "u" * 100_000,
               "X-Bytes": "caf\xe9 \xff"}
    bare = get(make_app(), "/users/1", headers=headers)
    instrument("flask")
    assert get(make_app(), "/users/1", headers=headers) == bare
    server = [s for s in spans() if s.kind == SpanKind.SERVER][0]
    assert server.parent is None   # an invalid traceparent starts a new trace
    assert server.attributes["user_agent.original"] == "u" * 100_000


@pytest.fixture
def sampler_rule(monkeypatch):
    """Our sampler's certain-drop rule, as under `autotrace run` (the test provider is
    the app's own, for which autotrace never assumes a rule)."""
    from autotrace import tracing
    from autotrace.config import Settings
    from autotrace.sampling import LeafDropRule

    def use(**env):
        monkeypatch.setattr(tracing, "_leaf_drop_rule", LeafDropRule(Settings.from_env(env)))
    return use


def seen_context_app():
    app = Flask("seen")
    seen = []

    @app.route("/look")
    def look():
        seen.append(trace.get_current_span().get_span_context())
        return "ok"
    return app, seen


def test_a_sampled_out_request_makes_no_span_and_passes_the_callers_context_on(traced, spans, sampler_rule):
    sampler_rule()   # parentbased_always_on: an unsampled caller means unsampled here
    app, seen = seen_context_app()
    assert get(app, "/look", headers={"traceparent": PARENT[:-2] + "00"}) == (200, b"ok")
    assert spans() == []
    (context,) = seen
    assert format(context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert context.span_id == 0xb7ad6b7169203331 and not context.trace_flags.sampled


def test_with_sampling_off_a_root_request_still_carries_one_unsampled_trace(traced, spans, sampler_rule):
    sampler_rule(OTEL_TRACES_SAMPLER="always_off")
    app, seen = seen_context_app()
    get(app, "/look")
    get(app, "/look")
    assert spans() == []
    first, second = seen
    assert first.is_valid and not first.trace_flags.sampled
    assert first.trace_id != second.trace_id   # each request its own trace, as the SDK would give


def test_a_sampled_caller_is_still_traced_with_the_rule_on(traced, spans, sampler_rule):
    sampler_rule()
    app, seen = seen_context_app()
    get(app, "/look", headers={"traceparent": PARENT})
    (server,) = spans()
    assert seen[0].span_id == server.context.span_id
