"""Differential tests: every fast path in autotrace.sql gives what the full path gives.

The fast paths only skip work for common shapes; on any statement they accept, the
result must be identical to the full walk's. Checked over the example corpora, the
benchmark's templates and generated statements built from SQL-ish parts.
"""

import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotrace import sql
from autotrace.sql_lexer import Untokenisable, scrub
from test_sql import ADVERSARIAL, SCRUBBED, SECRETS

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks"))
import bench_sql  # noqa: E402


def _shape(statement):
    try:
        return sql._collapse_lists(" ".join(scrub(statement).split()))
    except Untokenisable:
        return None


EXTRA = [
    "SELECT a FROM t", "select a from t", "SELECT COUNT(*) AS \"__count\" FROM \"app_user\"",
    "SELECT a FROM t u WHERE b = 1", "SELECT a FROM t, u", "SELECT a FROM t AS x, u",
    "SELECT a FROM t JOIN u ON u.id = t.id", "SELECT EXTRACT(YEAR FROM d) FROM t",
    "SELECT EXTRACT(YEAR FROM d)", "SELECT a IS DISTINCT FROM b", "SELECT a FROM (SELECT b FROM t) x",
    "SELECT a FROMAGE", "SELECT a FROM public.t", 'SELECT a FROM "public"."My Table"',
    "SELECT a FROM `db`.`t`", "SELECT a) (FROM t", "SELECT ) ( a FROM t", "SELECT a FROM ONLY t",
    "SELECT a FROM LATERAL t", "SELECT a FROM, b", "SELECT FROM t", "SELECT a FROM ?",
    "INSERT INTO t (a, b) VALUES (?)", "INSERT IGNORE INTO t VALUES (?)", "INSERT INTO t SELECT * FROM u",
    "INSERT INTO t DEFAULT VALUES", "INSERT INTO t(a) VALUES(?)", "INSERT t VALUES (?)",
    "UPDATE t SET a = ?", "UPDATE ONLY t SET a = ?", "UPDATE t SET a = (SELECT b FROM u)",
    "UPDATE t, u SET a = ?", "UPDATE t AS x SET a = ?", "UPDATE LOW_PRIORITY t SET a = ?",
    "DELETE FROM t WHERE a = ?", "DELETE FROM t USING u WHERE a = ?", "DELETE t FROM t JOIN u",
    "DELETE FROM ONLY t", "DELETE FROM t; DELETE FROM u", "SELECT ((a)) FROM t", "SELECT (((a))) FROM t",
    "SELECT a FROM t WHERE b IN (SELECT c FROM u)", "SELECT a FROM t WHERE (b, c) IN (?)",
    "SELECT * FROM t ( SELECT", "SELECT a FROM \"from\"", "SELECT \" FROM x\" FROM t",
    "SELECT a FROM " + "x" * 300,
]


def _corpus():
    statements = [statement for statement, _ in SCRUBBED] + [statement for statement, _ in SECRETS]
    statements += [make(200) for make in ADVERSARIAL.values()]
    statements += bench_sql.make_statements(60, seed=1) + bench_sql.make_statements(60, seed=2, new_shapes=True)
    return statements + EXTRA


def _check_targets(shape):
    operation = sql._leading_operation(shape)
    if operation is None or ";" in shape.rstrip("; "):
        return False
    fast = sql._simple_target(shape, operation)
    if fast is None:
        return False
    assert (operation, fast[0]) == sql._structured_targets(shape, operation), shape
    return True


def test_simple_target_agrees_with_the_full_walk_on_the_corpora():
    taken = 0
    for statement in _corpus():
        shape = _shape(statement)
        if shape is not None:
            taken += _check_targets(shape)
            taken += _check_targets(statement) if statement.isascii() and "  " not in statement else 0
    assert taken > 100  # the fast path is actually exercised


WORDS = ["SELECT", "select", "FROM", "from", "JOIN", "INTO", "UPDATE", "INSERT", "DELETE", "WHERE",
         "SET", "VALUES", "USING", "DISTINCT", "ONLY", "AS", "TABLE", "WITH", "IGNORE", "(", ")", ",",
         "?", "=", "t", "u", "x.y", '"a b"', '"FROM"', "`q`", "a", "b", ";", "LATERAL", "IN", "(?)",
         "( SELECT", "(VALUES", "fromage", "t1", "COUNT(*)", "EXTRACT(YEAR", "IS", ".", "Tables", "intox", "My", "Ünï"]


@st.composite
def simple_looking(draw):
    head = draw(st.sampled_from(["SELECT", "INSERT INTO", "UPDATE", "DELETE FROM", "select", "Insert into"]))
    parts = draw(st.lists(st.sampled_from(WORDS), max_size=10))
    return " ".join([head] + parts)


@settings(max_examples=5_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(simple_looking())
def test_simple_target_agrees_with_the_full_walk_on_generated_statements(statement):
    _check_targets(statement)


@pytest.mark.parametrize("statement", _corpus())
def test_summary_is_the_same_with_and_without_fast_paths(statement, monkeypatch):
    fast = sql._summarize(statement if isinstance(statement, str) else str(statement), 2048, True)
    sql._PARSED.clear()
    monkeypatch.setattr(sql, "_simple_target", lambda shape, operation: None)
    assert sql._summarize(statement, 2048, True) == fast
    sql._PARSED.clear()


LIST_PARTS = ["IN", "in", "In", "VALUES", "values", "(", ")", "?", "%s", "$1", ":id", "%(n)s", ",", "(?)",
              "(?, ?)", "x", "NOT", "IN(", "VALUES(", "((", "))", "SELECT", "'", "@v"]


@settings(max_examples=5_000, deadline=None)
@given(st.lists(st.sampled_from(LIST_PARTS), max_size=14), st.lists(st.sampled_from(["", " "]), max_size=14))
def test_list_collapsing_agrees_with_the_keyword_regex(parts, gaps):
    shape = " ".join(" ".join(gap + part for gap, part in zip(gaps + [" "] * len(parts), parts)).split())
    assert sql._collapse_lists(shape) == sql._LIST.sub(sql._collapsed, shape)


def test_list_collapsing_agrees_with_the_keyword_regex_on_the_corpora():
    for statement in _corpus():
        shape = _shape(statement)
        if shape is not None:
            assert sql._collapse_lists(shape) == sql._LIST.sub(sql._collapsed, shape), shape


@settings(max_examples=5_000, deadline=None)
@given(st.text(alphabet=st.sampled_from(" a\t\n\r\x0b\x0c\x1c\x85\xa0\u2003\u2028\u3000?é"), max_size=12)
       | st.text(max_size=20))
def test_whitespace_collapsing_agrees_with_split_and_join(text):
    assert sql._collapse_whitespace(text) == " ".join(text.split())

