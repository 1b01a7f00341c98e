"""Django, in process: a minimal project configured here (the test configures Django;
the instrumentation never does), driven through Django's test clients and through
its real WSGI and ASGI handlers."""

import asyncio
import io

import django
import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import include, path, re_path
from opentelemetry.trace import SpanKind, StatusCode

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = "00-%s-%s-01" % (TRACE_ID, PARENT_ID)

raised = []   # the exceptions the failing views raised, to compare with what the caller sees


def user(request, id):
    return HttpResponse("user %d" % id)


def item(request, slug):
    return HttpResponse("item " + slug)


def article(request, year):
    return HttpResponse("article " + year)


def boom(request):
    raised.append(ValueError("the view failed"))
    raise raised[-1]


def forbidden(request):
    raise PermissionDenied("no")


def stream(request):
    return StreamingHttpResponse(iter([b"one ", b"two"]))


async def async_user(request, id):
    return HttpResponse("async user %d" % id)


async def async_boom(request):
    raised.append(KeyError("async view failed"))
    raise raised[-1]


urlpatterns = [
    path("users/<int:id>/", user),
    path("shop/", include([path("items/<slug:slug>/", item)])),
    re_path(r"^articles/(?P<year>[0-9]{4})/$", article),
    path("boom/", boom),
    path("forbidden/", forbidden),
    path("stream/", stream),
    path("async/<int:id>/", async_user),
    path("async-boom/", async_boom),
]

PROJECT = dict(DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, MIDDLEWARE=[])

if not settings.configured:
    settings.configure(SECRET_KEY="test", INSTALLED_APPS=[], LOGGING_CONFIG=None, **PROJECT)
    django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402  (after settings)
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402


@pytest.fixture(autouse=True)
def project():
    """This module's project, even if another test module configured Django first."""
    with override_settings(**PROJECT):
        yield


@pytest.fixture
def traced(instrument):
    instrument("django")


def server_span(spans):
    (span,) = spans()
    assert span.kind == SpanKind.SERVER
    return span


@pytest.mark.parametrize("url, name, body", [
    ("/users/5/", "GET /users/<int:id>/", b"user 5"),
    ("/shop/items/red-hat/", "GET /shop/items/<slug:slug>/", b"item red-hat"),
    ("/articles/2024/", "GET ^articles/(?P<year>[0-9]{4})/$", b"article 2024"),
])
def test_the_span_is_named_after_the_route_template(traced, spans, url, name, body):
    response = Client().get(url)
    assert response.status_code == 200 and response.content == body
    span = server_span(spans)
    assert span.name == name
    attributes = dict(span.attributes)
    assert attributes["http.route"] == name.split(" ", 1)[1]
    assert attributes["url.path"] == url and attributes["http.request.method"] == "GET"
    assert attributes["http.response.status_code"] == 200
    assert span.status.status_code == StatusCode.UNSET


def test_the_request_attributes_and_a_redacted_query(traced, spans):
    Client().get("/users/7/", {"q": "shoes", "token": "s3cret"}, headers={"user-agent": "probe/1"})
    attributes = dict(server_span(spans).attributes)
    assert attributes["url.query"] == "q=shoes&token=REDACTED"
    assert attributes["url.scheme"] == "http"
    assert attributes["server.address"] == "testserver" and attributes["server.port"] == 80
    assert attributes["client.address"] == "127.0.0.1"
    assert attributes["user_agent.original"] == "probe/1"
    assert "s3cret" not in repr(attributes)


def test_an_unknown_url_is_named_by_its_method_only_and_is_no_error(traced, spans):
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    span = server_span(spans)
    assert span.name == "GET"
    assert "http.route" not in span.attributes
    assert span.attributes["http.response.status_code"] == 404
    assert span.status.status_code == StatusCode.UNSET and span.events == ()


def test_a_client_error_raised_by_the_view_is_no_failure(traced, spans):
    assert Client().get("/forbidden/").status_code == 403
    span = server_span(spans)
    assert span.name == "GET /forbidden/"
    assert span.status.status_code == StatusCode.UNSET and span.events == ()


def test_a_view_exception_is_recorded_and_the_response_is_unchanged(instrument, spans):
    bare = Client(raise_request_exception=False).get("/boom/")
    assert spans() == []
    instrument("django")
    traced = Client(raise_request_exception=False).get("/boom/")
    assert traced.status_code == bare.status_code == 500 and traced.content == bare.content
    assert dict(traced.items()) == dict(bare.items())
    span = server_span(spans)
    assert span.name == "GET /boom/" and span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "ValueError"
    assert span.attributes["http.response.status_code"] == 500
    (event,) = span.events
    assert event.name == "exception" and event.attributes["exception.message"] == "the view failed"


def test_the_test_client_still_reraises_the_very_exception(traced, spans):
    with pytest.raises(ValueError) as caught:
        Client().get("/boom/")
    assert caught.value is raised[-1]
    assert server_span(spans).attributes["error.type"] == "ValueError"


def test_an_incoming_traceparent_continues_the_trace(traced, spans):
    Client().get("/users/1/", headers={"traceparent": TRACEPARENT})
    span = server_span(spans)
    assert "%032x" % span.context.trace_id == TRACE_ID
    assert "%016x" % span.parent.span_id == PARENT_ID and span.parent.is_remote


def test_settings_are_left_as_the_app_made_them(traced, spans):
    Client().get("/users/1/")
    assert settings.MIDDLEWARE == [] and len(spans()) == 1


# -- the real handlers ------------------------------------------------------------

def wsgi_call(url, **extra):
    """Call Django's WSGI handler as a server would: returns (status, body, spans seen
    before the body was closed)."""
    from wsgiref.util import setup_testing_defaults
    path_info, _, query = url.partition("?")
    environ = {"PATH_INFO": path_info, "QUERY_STRING": query, "wsgi.input": io.BytesIO(b""), **extra}
    setup_testing_defaults(environ)
    started = []
    body = get_wsgi_application()(environ, lambda status, headers, exc_info=None: started.append(status))
    return started, body


def test_the_wsgi_handler_makes_one_span_ending_when_the_body_is_closed(traced, spans):
    started, body = wsgi_call("/stream/?a=1", HTTP_TRACEPARENT=TRACEPARENT)
    content = b"".join(body)
    assert spans() == []   # the body is read, but the server has not closed it yet
    body.close()
    assert started == ["200 OK"] and content == b"one two"
    span = server_span(spans)   # not two: the get_response layer saw the WSGI layer's mark
    assert span.name == "GET /stream/" and span.attributes["url.query"] == "a=1"
    assert "%032x" % span.context.trace_id == TRACE_ID


def test_the_wsgi_handler_records_a_view_exception(traced, spans):
    started, body = wsgi_call("/boom/")
    body.close()
    assert started == ["500 Internal Server Error"]
    span = server_span(spans)
    assert span.attributes["error.type"] == "ValueError" and span.events[0].name == "exception"


def test_an_exception_django_propagates_reaches_the_server_as_the_same_object(traced, spans):
    with override_settings(DEBUG_PROPAGATE_EXCEPTIONS=True), pytest.raises(ValueError) as caught:
        wsgi_call("/boom/")
    assert caught.value is raised[-1]
    span = server_span(spans)
    assert span.attributes["error.type"] == "ValueError" and len(span.events) == 1


def asgi_call(path, query=b"", headers=()):
    """Call Django's ASGI handler as a server would: returns the messages it sent."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
             "root_path": "", "headers": [(b"host", b"example.test:8000"), *headers],
             "client": ("10.0.0.9", 5000), "server": ("example.test", 8000)}
    sent = []
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)   # no disconnect: Django cancels this once it has answered

    async def send(message):
        sent.append(message)

    asyncio.run(get_asgi_application()(scope, receive, send))
    return sent


def test_the_asgi_app_still_refuses_a_call_without_arguments(traced):
    # uvicorn calls app() to tell an app factory from an app: an app must raise TypeError.
    application = get_asgi_application()
    with pytest.raises(TypeError):
        application()
    assert asyncio.iscoroutinefunction(application.__call__)


def test_the_asgi_handler_makes_the_span(traced, spans):
    sent = asgi_call("/async/4/", b"code=1234&x=y", [(b"traceparent", TRACEPARENT.encode())])
    assert sent[0]["status"] == 200 and b"".join(m.get("body", b"") for m in sent[1:]) == b"async user 4"
    span = server_span(spans)
    assert span.name == "GET /async/<int:id>/"
    attributes = dict(span.attributes)
    assert attributes["url.query"] == "code=REDACTED&x=y"
    assert attributes["server.address"] == "example.test" and attributes["server.port"] == 8000
    assert attributes["client.address"] == "10.0.0.9" and attributes["http.response.status_code"] == 200
    assert "%032x" % span.context.trace_id == TRACE_ID


def test_the_asgi_handler_records_an_exception_from_a_worker_thread(traced, spans):
    # Django converts it in a thread (sync_to_async): the request's context must follow.
    sent = asgi_call("/async-boom/")
    assert sent[0]["status"] == 500
    span = server_span(spans)
    assert span.name == "GET /async-boom/" and span.attributes["error.type"] == "KeyError"


def test_the_async_test_client(traced, spans):
    async def calls():
        client = AsyncClient(raise_request_exception=False)
        return await client.get("/async/9/", headers={"traceparent": TRACEPARENT}), await client.get("/async-boom/")

    ok, failed = asyncio.run(calls())
    assert ok.status_code == 200 and failed.status_code == 500
    first, second = spans()
    assert first.name == "GET /async/<int:id>/" and first.attributes["http.response.status_code"] == 200
    assert "%032x" % first.context.trace_id == TRACE_ID
    assert second.name == "GET /async-boom/" and second.attributes["error.type"] == "KeyError"
