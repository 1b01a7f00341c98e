"""Reading headers from the carriers frameworks hand us."""

import io
from http.client import parse_headers

import pytest
from opentelemetry.propagators.textmap import Getter, default_getter
from opentelemetry.trace import get_current_span

from autotrace.propagation.carriers import case_insensitive_getter as getter
from autotrace.propagation.carriers import read_header
from autotrace.propagation.tracecontext import TraceContextPropagator

VALUE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize(
    "carrier, expected",
    [
        ({"traceparent": "v"}, ["v"]),
        ({"TraceParent": "v"}, ["v"]),
        ({"TRACEPARENT": "v"}, ["v"]),
        ({"HTTP_TRACEPARENT": "v", "traceparentx": "no"}, ["v"]),
        ({"traceparent": ["a", "b"]}, ["a", "b"]),
        ({"traceparent": "a", "Traceparent": "b"}, ["a", "b"]),
        ([("traceparent", "a"), ("Content-Type", "x"), ("TRACEPARENT", "b")], ["a", "b"]),
        ([(b"traceparent", b"a")], ["a"]),
        ({"other": "x"}, None),
        ([], None),
        (None, None),
        ([("only-one-item",), 5, None, ("traceparent", "a")], ["a"]),
    ],
)
def test_get(carrier, expected):
    assert getter.get(carrier, "traceparent") == expected


def test_http_message_with_repeated_header():
    message = parse_headers(io.BytesIO(b"Traceparent: a\r\ntraceparent: b\r\nHost: x\r\n\r\n"))
    assert getter.get(message, "traceparent") == ["a", "b"]


def test_keys_translate_environ_names():
    assert getter.keys({"HTTP_UBERCTX_USER_ID": "1", "Content-Type": "x"}) == ["uberctx-user-id", "Content-Type"]
    assert getter.get({"HTTP_UBERCTX_USER_ID": "1"}, "uberctx-user-id") == ["1"]


@pytest.mark.parametrize(
    "returned, expected",
    [(None, []), ("v", ["v"]), (b"v", ["v"]), (["v", None, 3, b"w"], ["v", "w"]), ([], [])],
)
def test_read_header_tolerates_any_getter_result(returned, expected):
    class Odd(Getter):
        def get(self, carrier, key):
            return returned

        def keys(self, carrier):
            return []

    assert read_header(Odd(), {}, "x") == expected


def test_default_getter_is_replaced_by_the_case_insensitive_one():
    carrier = {"TraceParent": VALUE}
    assert default_getter.get(carrier, "traceparent") is None  # why we replace it
    context = TraceContextPropagator().extract(carrier, getter=default_getter)
    assert get_current_span(context).get_span_context().is_valid


def test_a_custom_getter_is_used_as_given():
    class ExactCase(Getter):
        def get(self, carrier, key):
            return [carrier[key]] if key in carrier else None

        def keys(self, carrier):
            return list(carrier)

    context = TraceContextPropagator().extract({"TraceParent": VALUE}, getter=ExactCase())
    assert not get_current_span(context).get_span_context().is_valid


def test_the_environ_getter_reads_wsgi_names_only():
    from autotrace.propagation.carriers import environ_getter
    environ = {"HTTP_TRACEPARENT": "00-a-b-01", "HTTP_X_B3_TRACEID": "abc", "traceparent": "not a header",
               "REQUEST_METHOD": "GET"}
    assert environ_getter.get(environ, "traceparent") == ["00-a-b-01"]
    assert environ_getter.get(environ, "X-B3-TraceId") == ["abc"]
    assert environ_getter.get(environ, "baggage") is None
    assert environ_getter.get(environ, 42) is None
    assert sorted(environ_getter.keys(environ)) == ["traceparent", "x-b3-traceid"]


def test_the_header_index_reads_asgi_pairs_in_one_pass():
    from autotrace.propagation.carriers import index_getter, index_headers
    index = index_headers([(b"traceparent", b"00-a-b-01"), (b"Baggage", b"k=v"), (b"baggage", b"k2=v2"),
                           (b"x-bin", b"caf\xe9"), ("broken",), (b"x", None)])
    assert index_getter.get(index, "TraceParent") == ["00-a-b-01"]
    assert index_getter.get(index, "baggage") == ["k=v", "k2=v2"]   # repeated: every value, in order
    assert index_getter.get(index, "x-bin") == ["caf\xe9"]          # header bytes are latin-1
    assert index_getter.get(index, "tracestate") is None
    assert sorted(index_getter.keys(index)) == ["baggage", "traceparent", "x-bin"]
