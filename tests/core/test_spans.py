"""Span helpers: error messages of databases lose the data they quote before reaching a
span; attributes stored without the SDK's validation give the same span."""

import pytest

from autotrace.spans import data_free_message


class MySQLLike(Exception):
    pass


@pytest.mark.parametrize("exc, expected", [
    (Exception('duplicate key value violates unique constraint "users_email_key"\n'
               "DETAIL:  Key (email)=(alice@example.com) already exists."),
     "duplicate key value violates unique constraint ?"),
    (Exception('syntax error at or near "SELEC"\nLINE 1: SELEC \'Hunter2\''), "syntax error at or near ?"),
    (Exception('invalid input syntax for type integer: "4111111111111111"'),
     "invalid input syntax for type integer: ?"),
    (MySQLLike(1062, "Duplicate entry 'alice@example.com' for key 'email'"), "Duplicate entry ?"),
    (MySQLLike(1064, "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB "
                     "server version for the right syntax to use near ''Hunter2'' at line 1"),
     "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB "
     "server version for the right syntax to use near ? at line ?"),
    (Exception("ERR unknown command 'FOO', with args beginning with: 'sk_live_abc' "),
     "ERR unknown command ?"),
    (Exception("value 4111111111111111 is out of range"), "value ? is out of range"),
    (Exception("unterminated 'quote with secret"), "unterminated ?"),
])
def test_quoted_data_and_extra_lines_are_dropped(exc, expected):
    assert data_free_message(exc) == expected


def _provider(**limits):
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    return TracerProvider(span_limits=SpanLimits(**limits)).get_tracer("test")


def test_fast_attributes_give_the_same_span_as_set_attributes():
    from opentelemetry.trace import SpanKind
    from autotrace.spans import add_attributes, start_span
    tracer = _provider()
    attributes = {"url.path": "/x", "server.port": 80, "flag": True, "ratio": 0.5, "http.request.header.a": ("1", "2")}
    fast = start_span(tracer, "GET", SpanKind.SERVER, attributes)
    add_attributes(fast, {"http.response.status_code": 200})
    slow = tracer.start_span("GET", kind=SpanKind.SERVER, attributes=attributes)
    slow.set_attribute("http.response.status_code", 200)
    fast.end()
    slow.end()
    assert dict(fast.attributes) == dict(slow.attributes)
    assert list(fast.attributes) == list(slow.attributes)   # same order
    assert fast.kind == SpanKind.SERVER


def test_fast_attributes_respect_the_span_limits():
    from opentelemetry.trace import SpanKind
    from autotrace.spans import start_span
    short = start_span(_provider(max_span_attribute_length=4), "GET", SpanKind.CLIENT, {"user_agent.original": "abcdefgh"})
    assert short.attributes["user_agent.original"] == "abcd"
    few = start_span(_provider(max_span_attributes=2), "GET", SpanKind.CLIENT, {"a": 1, "b": 2, "c": 3})
    assert len(few.attributes) == 2 and few.dropped_attributes == 1


def test_fast_attributes_after_the_end_change_nothing():
    from opentelemetry.trace import SpanKind
    from autotrace.spans import add_attributes, start_span
    span = start_span(_provider(), "GET", SpanKind.CLIENT, {"a": 1})
    span.end()
    add_attributes(span, {"b": 2})
    assert dict(span.attributes) == {"a": 1}
