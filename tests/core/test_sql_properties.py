"""Property tests for autotrace.sql.summarize: generated literals never survive, and no
input whatsoever makes it raise or return over-long text."""

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from autotrace.sql import SqlSummary, summarize

# -- building blocks of generated statements -------------------------------------------
# Each part is (sql_text, secret): secret is the value a literal holds (None for parts
# that are not literals). Parts are joined with whitespace, so that no literal is glued
# to a neighbour that would change how SQL reads it (e'..', 1abc...).

KEYWORDS = ["SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "INSERT", "INTO", "VALUES", "UPDATE",
            "SET", "DELETE", "IN", "LIKE", "AS", "JOIN", "ON", "ORDER BY", "LIMIT", "IS", "WITH"]
OPERATORS = ["=", "<", ">", "<>", ",", "(", ")", "+", "-", "*", "/", "||", "::", ";"]
PLACEHOLDERS = ["%s", "%(name)s", "$1", "$12", "?", ":name"]

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_$]{0,12}", fullmatch=True)
quoted_identifiers = st.text(min_size=1, max_size=12).map(lambda name: '"%s"' % name.replace('"', '""'))
backticked = st.text(min_size=1, max_size=12).map(lambda name: "`%s`" % name.replace("`", "``"))
comment_text = st.text(alphabet=st.characters(blacklist_characters="\n\r*/"), max_size=20)
comments = st.one_of(comment_text.map(lambda text: "-- %s\n" % text),
                     comment_text.map(lambda text: "/* %s */" % text))

skeleton_parts = st.one_of(
    st.sampled_from(KEYWORDS), st.sampled_from(OPERATORS), st.sampled_from(PLACEHOLDERS),
    identifiers, quoted_identifiers, backticked, comments,
).map(lambda text: (text, None))

values = st.text(max_size=30)


def standard_string(value):
    return "'" + value.replace("'", "''") + "'"


def backslash_escaped(value):
    return value.replace("\\", "\\\\").replace("'", "\\'")


@st.composite
def dollar_quoted(draw):
    tag = draw(st.from_regex(r"(?:[A-Za-z_][A-Za-z0-9_]{0,4})?", fullmatch=True))
    value = draw(values)
    assume("$%s$" % tag not in value + "$")  # the body cannot hold (or end in) its closing tag
    return "$%s$%s$%s$" % (tag, value, tag), value


string_literals = st.one_of(
    values.map(lambda value: (standard_string(value), value)),
    values.map(lambda value: ("'" + backslash_escaped(value) + "'", value)),       # MySQL
    values.map(lambda value: ("E'" + backslash_escaped(value) + "'", value)),      # PostgreSQL E''
    values.map(lambda value: ("N" + standard_string(value), value)),
    dollar_quoted(),
)

number_literals = st.one_of(
    st.integers(min_value=0, max_value=10 ** 30).map(str),
    st.integers(min_value=1, max_value=10 ** 12).map(lambda number: "-%d" % number),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr).filter(lambda text: "e" in text or "." in text),
    st.integers(min_value=0, max_value=2 ** 64).map(lambda number: "0x%X" % number),
    st.binary(min_size=1, max_size=8).map(lambda data: "X'%s'" % data.hex()),
).map(lambda text: (text, text))

literal_parts = st.one_of(string_literals, number_literals)
separators = st.sampled_from([" ", "  ", "\n", "\t", " \n "])


@st.composite
def statements(draw, literals=literal_parts):
    parts = [(draw(st.sampled_from(["SELECT", "INSERT INTO t VALUES (", "UPDATE t SET a =",
                                    "DELETE FROM t WHERE a ="])), None)]
    parts += draw(st.lists(st.one_of(skeleton_parts, literals), min_size=1, max_size=12))
    gaps = [draw(separators) for _ in parts[1:]]
    return _join(parts, gaps), parts, gaps


def _join(parts, gaps):
    return parts[0][0] + "".join(gap + text for gap, (text, _) in zip(gaps, parts[1:]))


def _normal(text):
    return " ".join(text.split())


def _secret_checks(parts):
    """The substrings that must not appear in the summary text, and why they could."""
    skeleton = _normal(" ".join(text for text, secret in parts if secret is None))
    checks = []
    for text, secret in parts:
        if secret is None:
            continue
        if text == secret:  # a number: its digit runs of two or more
            candidates = re.findall(r"[0-9A-Fa-f]{2,}" if "x" in text.lower() else r"[0-9]{2,}", text)
        else:               # a string: its value, whitespace collapsed as the output is
            candidates = [_normal(secret)]
        for candidate in candidates:
            if len(candidate) >= (2 if text == secret else 4) and "?" not in candidate \
                    and candidate not in skeleton:
                checks.append(candidate)
    return checks


@pytest.mark.timeout(900)  # 10,000 examples take over a minute on a busy machine
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.filter_too_much])
@given(statements())
def test_no_generated_literal_survives(generated):
    statement, parts, _ = generated
    text = summarize(statement).text
    for secret in _secret_checks(parts):
        assert secret not in text, (secret, statement, text)


plain_strings = values.filter(lambda value: "\\" not in value).map(
    lambda value: (standard_string(value), value))


@settings(max_examples=2_000, deadline=None)
@given(statements(literals=plain_strings))
def test_same_shape_with_other_values_gives_the_same_text_or_is_dropped(generated):
    # Scrubbing must not depend on the values: with every string replaced by 'x' the
    # text must be the same (unless one of the two could not be tokenised).
    statement, parts, gaps = generated
    plain = _join([(text if secret is None else "'x'", secret) for text, secret in parts], gaps)
    first, second = summarize(statement), summarize(plain)
    assert first.operation == second.operation
    if first.text != first.operation and second.text != second.operation:
        assert first.text == second.text


@settings(max_examples=10_000, deadline=None)
@given(st.one_of(st.text(), st.binary(), st.text(alphabet="'\"`$/*-#\\ \nEeXx0123456789.()")),
       st.integers(min_value=0, max_value=300), st.booleans())
def test_any_input_gives_a_short_enough_summary(statement, max_length, sanitize):
    summary = summarize(statement, max_length=max_length, sanitize=sanitize)
    assert isinstance(summary, SqlSummary)
    assert len(summary.text) <= max_length
    assert summary.operation is None or summary.operation.isupper()
    assert summary.name == " ".join(p for p in (summary.operation, summary.collection) if p) \
        or (summary.name == "" and summary.operation is None)
