"""W3C Baggage rules, extract and inject."""

import pytest
from opentelemetry import baggage
from opentelemetry.context import Context

from autotrace.propagation.baggage import MAX_MEMBER_BYTES, W3CBaggagePropagator

propagator = W3CBaggagePropagator()


def extract(header):
    return dict(baggage.get_all(propagator.extract({"baggage": header}, Context())))


def inject(entries, context=None):
    context = context if context is not None else Context()
    for name, value in entries.items():
        context = baggage.set_baggage(name, value, context=context)
    out = {}
    propagator.inject(out, context)
    return out.get("baggage")


EXTRACT_CASES = [
    ("one member", "a=1", {"a": "1"}),
    ("several members", "a=1,b=2", {"a": "1", "b": "2"}),
    ("whitespace around members and equals", " a = 1 ,\tb=2 ", {"a": "1", "b": "2"}),
    ("key case kept", "UserId=1", {"UserId": "1"}),
    ("token characters in key", "a!#$%&'*+-.^_`|~9=1", {"a!#$%&'*+-.^_`|~9": "1"}),
    ("percent-decoded value", "a=hello%20world%2C%3B", {"a": "hello world,;"}),
    ("UTF-8 decoded", "a=caf%C3%A9", {"a": "caf\u00e9"}),
    ("invalid UTF-8 becomes U+FFFD", "a=%FF", {"a": "\ufffd"}),
    ("plus is a plus", "a=1+2", {"a": "1+2"}),
    ("stray percent kept", "a=100%", {"a": "100%"}),
    ("key not decoded", "a%20b=1", {"a%20b": "1"}),
    ("empty value", "a=", {"a": ""}),
    ("empty members skipped", "a=1,,b=2", {"a": "1", "b": "2"}),
    ("properties are not part of the value", "a=1;ttl=60;secret", {"a": "1"}),
    ("properties with whitespace", "a=1 ; ttl = 60 ; secret ", {"a": "1"}),
    ("malformed member dropped: no equals", "a=1,b,c=3", {"a": "1", "c": "3"}),
    ("malformed member dropped: empty key", "a=1,=2,c=3", {"a": "1", "c": "3"}),
    ("malformed member dropped: space in key", "a=1,b c=2,c=3", {"a": "1", "c": "3"}),
    ("malformed member dropped: separator in key", "a=1,b/c=2,c=3", {"a": "1", "c": "3"}),
    ("malformed member dropped: space in value", "a=1,b=x y,c=3", {"a": "1", "c": "3"}),
    ("malformed member dropped: quote in value", 'a=1,b=x"y,c=3', {"a": "1", "c": "3"}),
    ("malformed member dropped: backslash in value", "a=1,b=x\\y,c=3", {"a": "1", "c": "3"}),
    ("malformed member dropped: non-ASCII", "a=1,b=caf\u00e9,c=3", {"a": "1", "c": "3"}),
    ("malformed member dropped: bad property", "a=1,b=2;=x,c=3", {"a": "1", "c": "3"}),
    ("malformed member dropped: bad property value", "a=1,b=2;p=x y,c=3", {"a": "1", "c": "3"}),
    ("duplicate key: last wins, as in OTel", "a=1,a=2", {"a": "2"}),
    ("several headers are one list", ["a=1", "b=2"], {"a": "1", "b": "2"}),
    ("oversized member dropped, next kept", "a=" + "x" * MAX_MEMBER_BYTES + ",b=2", {"b": "2"}),
    ("member of exactly 4096 bytes kept", "a=" + "x" * (MAX_MEMBER_BYTES - 2), {"a": "x" * (MAX_MEMBER_BYTES - 2)}),
    ("garbage", "\x00\x01,;;;===", {}),
]


@pytest.mark.parametrize("header, expected", [c[1:] for c in EXTRACT_CASES], ids=[c[0] for c in EXTRACT_CASES])
def test_extract_rules(header, expected):
    assert extract(header) == expected


def test_at_most_180_members_extracted():
    header = ",".join("k%d=v" % i for i in range(200))
    assert list(extract(header)) == ["k%d" % i for i in range(180)]


def test_at_most_8192_bytes_extracted():
    member = "k%02d=" + "v" * 3000  # 3004 bytes: two fit in 8192, a third does not
    header = ",".join(member % i for i in range(3))
    assert list(extract(header)) == ["k00", "k01"]


def test_extract_merges_with_existing_baggage():
    start = baggage.set_baggage("old", "1", context=Context())
    context = propagator.extract({"baggage": "new=2"}, start)
    assert dict(baggage.get_all(context)) == {"old": "1", "new": "2"}


def test_nothing_valid_returns_the_context_unchanged():
    start = Context({"x": 1})
    assert propagator.extract({"baggage": "not valid"}, start) is start
    assert propagator.extract({}, start) is start


INJECT_CASES = [
    ("plain", {"a": "1"}, "a=1"),
    ("order kept", {"b": "1", "a": "2"}, "b=1,a=2"),
    ("encoded outside baggage-octet", {"a": 'x y,z;"\\'}, "a=x%20y%2Cz%3B%22%5C"),
    ("percent is encoded", {"a": "100%"}, "a=100%25"),
    ("UTF-8 encoded", {"a": "caf\u00e9"}, "a=caf%C3%A9"),
    ("allowed octets not encoded", {"a": "!#$&'()*+-./:<=>?@[]^_`{|}~"}, "a=!#$&'()*+-./:<=>?@[]^_`{|}~"),
    ("non-string value", {"a": 12}, "a=12"),
    ("key that is not a token skipped", {"a b": "1", "c": "2"}, "c=2"),
    ("empty", {}, None),
]


@pytest.mark.parametrize("entries, header", [c[1:] for c in INJECT_CASES], ids=[c[0] for c in INJECT_CASES])
def test_inject_rules(entries, header):
    assert inject(entries) == header


def test_inject_stops_at_180_members():
    header = inject({"k%d" % i: "v" for i in range(200)})
    assert header.split(",") == ["k%d=v" % i for i in range(180)]


def test_inject_stops_at_8192_bytes():
    header = inject({"k%d" % i: "v" * 3000 for i in range(5)})
    assert len(header) <= 8192
    assert [member.split("=")[0] for member in header.split(",")] == ["k0", "k1"]


def test_inject_skips_an_oversized_member():
    assert inject({"big": "v" * MAX_MEMBER_BYTES, "small": "1"}) == "small=1"


def test_properties_written_back():
    context = propagator.extract({"baggage": "a=1;ttl=60;secret,b=2"}, Context())
    out = {}
    propagator.inject(out, context)
    assert out["baggage"] == "a=1;ttl=60;secret,b=2"


def test_properties_dropped_when_the_value_changes():
    context = propagator.extract({"baggage": "a=1;ttl=60"}, Context())
    context = baggage.set_baggage("a", "2", context=context)
    out = {}
    propagator.inject(out, context)
    assert out["baggage"] == "a=2"


@pytest.mark.parametrize("header", ["a=1,b=2", "a=x%20y,b=%C3%A9", "k=v;p=1;q"])
def test_round_trip(header):
    out = {}
    propagator.inject(out, propagator.extract({"baggage": header}, Context()))
    assert out["baggage"] == header
