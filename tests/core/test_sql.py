"""Examples for autotrace.sql.summarize: scrubbing rules, operation/table parsing,
the secrets corpus, adversarial inputs and the cache."""

import time

import pytest

from autotrace import sql
from autotrace.sql import SqlSummary, summarize


# -- scrubbing: (statement, expected text) ---------------------------------------------

SCRUBBED = [
    # string literals
    ("SELECT * FROM t WHERE a = 'bob'", "SELECT * FROM t WHERE a = ?"),
    ("SELECT * FROM t WHERE a = 'it''s'", "SELECT * FROM t WHERE a = ?"),
    ("SELECT * FROM t WHERE a = ''", "SELECT * FROM t WHERE a = ?"),
    ("SELECT * FROM t WHERE a = 'x -- not a comment' AND b = 1", "SELECT * FROM t WHERE a = ? AND b = ?"),
    ("SELECT * FROM t WHERE a = '/* not a comment */'", "SELECT * FROM t WHERE a = ?"),
    ("SELECT E'line\\nbreak', E'it\\'s', e'q''q'", "SELECT E?, E?, e?"),
    ("SELECT N'unicode', _utf8mb4'abc'", "SELECT N?, _utf8mb4?"),
    # MySQL backslash escapes inside a plain string
    ("INSERT INTO t VALUES ('it\\'s', 'x')", "INSERT INTO t VALUES (?)"),
    ("SELECT * FROM t WHERE a = 'C:\\\\' AND b = 2", "SELECT * FROM t WHERE a = ? AND b = ?"),
    # PostgreSQL backslash (standard_conforming_strings): 'C:\' is a whole string
    ("SELECT * FROM t WHERE path = 'C:\\' AND id = 3", "SELECT * FROM t WHERE path = ? AND id = ?"),
    # dollar quotes
    ("SELECT $$it's $1 -- here$$", "SELECT ?"),
    ("SELECT $fn$ body $x$ inner $x$ $fn$, 2", "SELECT ?, ?"),
    ("SELECT a$b$c FROM t", "SELECT a$b$c FROM t"),
    # numbers
    ("SELECT 42, 3.14, .5, 6., 1e10, 2.5E-3, 1_000_000", "SELECT ?, ?, ?, ?, ?, ?, ?"),
    ("SELECT 0xDEADBEEF, X'ABCD', x'00ff', 0b1010, B'0101'", "SELECT ?, X?, x?, ?, B?"),
    ("SELECT t1.c2, col_3, x9 FROM t1", "SELECT t1.c2, col_3, x9 FROM t1"),
    # sign versus subtraction
    ("SELECT * FROM t WHERE a = -5", "SELECT * FROM t WHERE a = ?"),
    ("SELECT * FROM t WHERE a=-5 AND b IN (-1, -2)", "SELECT * FROM t WHERE a=? AND b IN (?)"),
    ("SELECT a - 5, a-5, (b) - 1, ? - 2 FROM t", "SELECT a - ?, a-?, (b) - ?, ? - ? FROM t"),
    ("SELECT -1, - 2 WHERE x BETWEEN -3 AND -4", "SELECT ?, ? WHERE x BETWEEN ? AND ?"),
    # keywords that are values
    ("UPDATE t SET a = NULL, b = TRUE, c = false WHERE d IS NOT null",
     "UPDATE t SET a = ?, b = ?, c = ? WHERE d IS NOT ?"),
    ("SELECT t.null, nullable, true_col, \"null\" FROM t", "SELECT t.null, nullable, true_col, \"null\" FROM t"),
    # identifiers are kept
    ('SELECT "my col" FROM "my table" WHERE "a""b" = 1', 'SELECT "my col" FROM "my table" WHERE "a""b" = ?'),
    ("SELECT `order` FROM `my db`.`t` WHERE `x` = 'y'", "SELECT `order` FROM `my db`.`t` WHERE `x` = ?"),
    # placeholders are kept
    ("SELECT * FROM t WHERE a = %s AND b = %(name)s AND c = $1 AND d = ? AND e = :id AND f = :1",
     "SELECT * FROM t WHERE a = %s AND b = %(name)s AND c = $1 AND d = ? AND e = :id AND f = :1"),
    # list collapsing
    ("SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (?)"),
    ("SELECT * FROM t WHERE id in ('a','b')", "SELECT * FROM t WHERE id in (?)"),
    ("SELECT * FROM t WHERE id IN (%s, %s, %s)", "SELECT * FROM t WHERE id IN (?)"),
    ("SELECT * FROM t WHERE id IN ($1,$2)", "SELECT * FROM t WHERE id IN (?)"),
    ("SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4))", "SELECT * FROM t WHERE (a, b) IN (?)"),
    ("SELECT * FROM t WHERE id IN (SELECT id FROM u)", "SELECT * FROM t WHERE id IN (SELECT id FROM u)"),
    ("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')", "INSERT INTO t (a, b) VALUES (?)"),
    ("INSERT INTO t (a, b) values (%s, %s), (%s, %s)", "INSERT INTO t (a, b) values (?)"),
    ("INSERT INTO t (a) VALUES (1) RETURNING id", "INSERT INTO t (a) VALUES (?) RETURNING id"),
    # comments
    ("-- leading\nSELECT 1 -- trailing", "SELECT ?"),
    ("/* leading */ SELECT /* inline */ a FROM t", "SELECT a FROM t"),
    ("SELECT /* outer /* nested */ still comment */ a FROM t", "SELECT a FROM t"),
    ("SELECT a FROM t # mysql comment\nWHERE b = 1", "SELECT a FROM t WHERE b = ?"),
    ("# line comment\nSELECT a FROM t", "SELECT a FROM t"),
    ("SELECT data #>> '{a,b}' FROM t", "SELECT data #>> ? FROM t"),
    ("SELECT 1--2", "SELECT ?"),
    # whitespace
    ("  SELECT\n\ta ,\r\n  b\n\nFROM   t  ", "SELECT a , b FROM t"),
]


@pytest.mark.parametrize("statement, expected", SCRUBBED)
def test_scrubbed_text(statement, expected):
    assert summarize(statement).text == expected


@pytest.mark.parametrize("statement", [
    "SELECT * FROM t WHERE a = 'unterminated secret",
    "SELECT * FROM t WHERE a = $$unterminated secret",
    "SELECT * FROM t WHERE a = $tag$unterminated secret $other$",
    "SELECT * FROM t WHERE a = E'secret\\'",
    "SELECT * FROM t /* unterminated secret",
    "SELECT * FROM t /* outer /* inner */ secret",
    'SELECT * FROM "unterminated secret',
    "SELECT * FROM `unterminated secret",
])
def test_untokenisable_statement_is_reduced_to_its_operation(statement):
    summary = summarize(statement)
    assert summary.text == "SELECT"
    assert summary.operation == "SELECT"
    assert "secret" not in summary.text


def test_untokenisable_statement_without_operation_gives_empty_text():
    assert summarize("'secret").text == ""
    assert summarize("'secret").name == ""


@pytest.mark.parametrize("statement", [
    # PostgreSQL cannot close the last quote; MySQL closes everything but leaves
    # `secret` and a backslash outside literals: neither reading can be trusted.
    "SELECT 'a\\', 'secret', 'b\\'c'",
    # Valid MySQL; PostgreSQL closes all quotes too, but with `secret` outside.
    "INSERT INTO t VALUES ('x\\'', 'secret', 'a\\'b')",
    # Valid PostgreSQL; MySQL reads `secret` as code.
    "INSERT INTO t VALUES ('C:\\', 'secret', 'D:\\', 'E:\\')",
])
def test_backslash_ambiguity_never_leaks(statement):
    assert "secret" not in summarize(statement).text


# -- operation and collection ----------------------------------------------------------

PARSED = [
    # (statement, operation, collection)
    ("SELECT * FROM users", "SELECT", "users"),
    ("select * from users where id = 1", "SELECT", "users"),
    ("SELECT * FROM public.users", "SELECT", "public.users"),
    ('SELECT * FROM "public"."Users"', "SELECT", "public.Users"),
    ('SELECT "auth_user"."id" FROM "auth_user" WHERE "auth_user"."id" = %s', "SELECT", "auth_user"),
    ("SELECT * FROM `shop`.`orders`", "SELECT", "shop.orders"),
    ("SELECT * FROM users u WHERE u.id = 1", "SELECT", "users"),
    ("SELECT * FROM users AS u", "SELECT", "users"),
    ("SELECT * FROM a JOIN b ON a.id = b.a_id", "SELECT", None),
    ("SELECT * FROM a LEFT OUTER JOIN b USING (id)", "SELECT", None),
    ("SELECT * FROM a, b", "SELECT", None),
    ("SELECT * FROM a x, b y", "SELECT", None),
    ("SELECT * FROM t WHERE id IN (SELECT t_id FROM u)", "SELECT", None),
    ("SELECT * FROM (SELECT * FROM t) AS sub", "SELECT", "t"),
    ("SELECT EXTRACT(YEAR FROM created) FROM t", "SELECT", "t"),
    ("SELECT TRIM(BOTH ' ' FROM name) FROM t", "SELECT", "t"),
    ("SELECT * FROM t WHERE a IS DISTINCT FROM b", "SELECT", "t"),
    ("SELECT * FROM t LIMIT 10, 20", "SELECT", "t"),
    ("SELECT 1", "SELECT", None),
    ("SELECT NOW()", "SELECT", None),
    ("  \n -- comment\n /* c */ SELECT * FROM t", "SELECT", "t"),
    ("(SELECT a FROM t) UNION (SELECT a FROM u)", "SELECT", None),
    ("SELECT a FROM t UNION ALL SELECT a FROM t", "SELECT", "t"),
    ("INSERT INTO orders (a, b) VALUES (1, 2)", "INSERT", "orders"),
    ("insert into orders values (1)", "INSERT", "orders"),
    ("INSERT IGNORE INTO orders VALUES (1)", "INSERT", "orders"),
    ("INSERT orders VALUES (1)", "INSERT", "orders"),
    ("INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 2", "INSERT", "t"),
    ("INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 2", "INSERT", "t"),
    ("INSERT INTO t SELECT * FROM u", "INSERT", None),
    ("REPLACE INTO t VALUES (1)", "REPLACE", "t"),
    ("UPDATE t SET a = 1 WHERE id = 2", "UPDATE", "t"),
    ("UPDATE ONLY t SET a = 1", "UPDATE", "t"),
    ("UPDATE t SET a = u.b FROM u WHERE t.id = u.id", "UPDATE", None),
    ("UPDATE a, b SET a.x = b.y", "UPDATE", None),
    ("DELETE FROM t WHERE id = 1", "DELETE", "t"),
    ("DELETE FROM t USING u WHERE t.id = u.id", "DELETE", None),
    ("CREATE TABLE t (id INT PRIMARY KEY)", "CREATE TABLE", "t"),
    ("CREATE TABLE IF NOT EXISTS s.t (id INT)", "CREATE TABLE", "s.t"),
    ("CREATE TEMPORARY TABLE t (id INT)", "CREATE TABLE", "t"),
    ("CREATE TABLE t AS SELECT * FROM u", "CREATE TABLE", None),
    ("CREATE INDEX i ON t USING btree (a)", "CREATE INDEX", None),
    ("CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE VIEW", None),
    ("create materialized  view mv as select * from t", "CREATE MATERIALIZED VIEW", None),
    ("DROP TABLE t", "DROP TABLE", "t"),
    ("DROP TABLE IF EXISTS t", "DROP TABLE", "t"),
    ("DROP TABLE a, b", "DROP TABLE", None),
    ("ALTER TABLE t ADD COLUMN c INT", "ALTER TABLE", "t"),
    ("TRUNCATE TABLE t", "TRUNCATE", "t"),
    ("TRUNCATE t", "TRUNCATE", "t"),
    ("COPY t FROM STDIN", "COPY", "t"),
    ("COPY t (a, b) TO STDOUT WITH CSV", "COPY", "t"),
    ("COPY (SELECT * FROM t) TO STDOUT", "COPY", "t"),
    ("WITH r AS (SELECT * FROM orders) SELECT * FROM r", "SELECT", "orders"),
    ("WITH r AS (SELECT * FROM a), s AS (SELECT * FROM b) SELECT * FROM r JOIN s ON true", "SELECT", None),
    ("WITH RECURSIVE r (n) AS (SELECT 1 UNION SELECT n + 1 FROM r) SELECT n FROM r", "SELECT", None),
    ("WITH d AS (DELETE FROM t RETURNING *) INSERT INTO arch SELECT * FROM d", "INSERT", None),
    ("WITH x AS (SELECT 1) UPDATE t SET a = (SELECT * FROM x)", "UPDATE", "t"),
    ("BEGIN", "BEGIN", None),
    ("COMMIT", "COMMIT", None),
    ("ROLLBACK TO SAVEPOINT s1", "ROLLBACK", None),
    ("START TRANSACTION", "START", None),
    ("CALL refresh_stats(1)", "CALL", None),
    ("SET search_path TO public", "SET", None),
    ("SHOW TABLES", "SHOW", None),
    ("EXPLAIN SELECT * FROM t", "EXPLAIN", "t"),
    ("TABLE users", "TABLE", "users"),
    ("SELECT * FROM a; DROP TABLE b", "SELECT", None),
    ("hello world", None, None),
    ("", None, None),
    ("   ", None, None),
    ("? = 1", None, None),
]


@pytest.mark.parametrize("statement, operation, collection", PARSED)
def test_operation_and_collection(statement, operation, collection):
    summary = summarize(statement)
    assert (summary.operation, summary.collection) == (operation, collection)


@pytest.mark.parametrize("statement, name", [
    ("SELECT * FROM users", "SELECT users"),
    ("SELECT 1", "SELECT"),
    ("select * from a join b on true", "SELECT"),
    ("hello", ""),
    ("COMMIT", "COMMIT"),
])
def test_span_name(statement, name):
    assert summarize(statement).name == name


# -- options ---------------------------------------------------------------------------

def test_sanitize_false_keeps_values_but_still_parses_and_collapses_whitespace():
    summary = summarize("SELECT *\n  FROM users WHERE email = 'a@b.c'", sanitize=False)
    assert summary.text == "SELECT * FROM users WHERE email = 'a@b.c'"
    assert (summary.operation, summary.collection) == ("SELECT", "users")


def test_sanitize_false_on_untokenisable_text_still_returns_it():
    summary = summarize("SELECT 'open", sanitize=False)
    assert summary.text == "SELECT 'open"
    assert summary.operation == "SELECT"


@pytest.mark.parametrize("max_length", [0, 1, 3, 4, 10, 30])
def test_long_text_is_cut_with_a_marker(max_length):
    statement = "SELECT a, b, c, d, e, f, g, h FROM some_table WHERE x = 1"
    text = summarize(statement, max_length=max_length).text
    assert len(text) <= max_length
    if max_length > 3:
        assert text.endswith("...")
        assert text[:-3] == "SELECT a, b, c, d, e, f, g, h FROM some_table WHERE x = ?"[:max_length - 3]


def test_text_within_max_length_is_not_cut():
    assert summarize("SELECT a FROM t", max_length=15).text == "SELECT a FROM t"


def test_cut_applies_to_unsanitized_text_too():
    text = summarize("SELECT 'secret-value-here'", max_length=12, sanitize=False).text
    assert text == "SELECT 's..."


# -- odd inputs ------------------------------------------------------------------------

@pytest.mark.parametrize("statement, text", [
    (b"SELECT * FROM t WHERE a = 'x'", "SELECT * FROM t WHERE a = ?"),
    (bytearray(b"SELECT 1"), "SELECT ?"),
    (memoryview(b"SELECT 2"), "SELECT ?"),
    (b"SELECT \xff\xfe FROM t", "SELECT \ufffd\ufffd FROM t"),
    (12345, "?"),
])
def test_non_str_statements(statement, text):
    assert summarize(statement).text == text


class _Unprintable:
    def __str__(self):
        raise RuntimeError("no")


class _Composed:
    """Stands in for psycopg.sql.Composed and friends: str() gives the SQL."""

    def __str__(self):
        return "SELECT * FROM t WHERE a = 'x'"


def test_objects_are_read_through_str_and_failures_give_an_empty_summary():
    assert summarize(_Composed()).text == "SELECT * FROM t WHERE a = ?"
    assert summarize(_Unprintable()) == SqlSummary()
    assert summarize(None) == SqlSummary()


@pytest.mark.parametrize("max_length", [None, "x", -5, 2.5, [1]])
def test_odd_max_length_never_raises(max_length):
    summary = summarize("SELECT 1", max_length=max_length)
    assert isinstance(summary, SqlSummary)
    assert summary.operation == "SELECT"


def test_summary_is_immutable():
    summary = summarize("SELECT 1")
    with pytest.raises((AttributeError, TypeError)):
        summary.text = "x"
    with pytest.raises(TypeError):
        summary[0] = "x"
    assert summary == ("SELECT ?", "SELECT", None, "SELECT")
    assert "SELECT ?" in repr(summary)


# -- secrets corpus: none of these values may survive ----------------------------------

SECRETS = [
    ("INSERT INTO users (email, password) VALUES ('alice@example.com', 'Hunter2!Hunter2')",
     ["alice@example.com", "Hunter2!Hunter2"]),
    ("UPDATE users SET password_hash = '$2b$12$KIXQhrxk3pUo0sQ1uV6Yte' WHERE id = 7",
     ["$2b$12$KIXQhrxk3pUo0sQ1uV6Yte"]),
    ("SELECT * FROM cards WHERE number = '4111111111111111'", ["4111111111111111"]),
    ("SELECT * FROM cards WHERE number = 4111111111111111", ["4111111111111111"]),
    ("SELECT * FROM cards WHERE number = 4111-1111-1111-1111", ["4111", "1111"]),
    ("INSERT INTO tokens VALUES ('sk_live_51HxAbCdEfGhIjKlMnOp')", ["sk_live_51HxAbCdEfGhIjKlMnOp"]),
    ("INSERT INTO tokens VALUES ('ghp_16C7e42F292c6912E7710c838347Ae178B4a')",
     ["ghp_16C7e42F292c6912E7710c838347Ae178B4a"]),
    ("SELECT * FROM keys WHERE k = 'AKIAIOSFODNN7EXAMPLE'", ["AKIAIOSFODNN7EXAMPLE"]),
    ("INSERT INTO phones VALUES ('+44 20 7946 0958')", ["+44 20 7946 0958", "7946"]),
    ("INSERT INTO phones VALUES (+15551234567)", ["15551234567"]),
    ("INSERT INTO accounts (iban) VALUES ('GB82 WEST 1234 5698 7654 32')", ["GB82 WEST", "5698"]),
    ("INSERT INTO accounts (iban) VALUES (N'DE89370400440532013000')", ["DE89370400440532013000"]),
    ("INSERT INTO events (payload) VALUES ('{\"ssn\": \"078-05-1120\", \"name\": \"Jane\"}')",
     ["078-05-1120", "Jane", "ssn"]),
    ("INSERT INTO events (payload) VALUES ($${\"token\": \"abc123secret\"}$$)", ["abc123secret"]),
    ("INSERT INTO events (payload) VALUES ($json${\"pin\": \"8642\", \"q\": \"$$\"}$json$)",
     ["8642", "pin"]),
    ("SELECT * FROM users WHERE email = E'bob\\'s-mail@example.org'", ["example.org", "bob"]),
    ("SELECT * FROM users WHERE note = E'line1\\nsecret-note\\\\'", ["secret-note"]),
    ("INSERT INTO blobs VALUES (X'DEADBEEFCAFEBABE')", ["DEADBEEFCAFEBABE"]),
    ("INSERT INTO blobs VALUES (0xFEEDFACE12345678)", ["FEEDFACE12345678"]),
    ("INSERT INTO blobs VALUES (x'0badc0de')", ["0badc0de"]),
    ("INSERT INTO flags VALUES (B'1011001110001111')", ["1011001110001111"]),
    ("SELECT * FROM users WHERE ssn = '123-45-6789' AND dob = '1984-02-29'", ["123-45-6789", "1984"]),
    ("SELECT * FROM users WHERE salary > 183500.75", ["183500", "75"]),
    ("SELECT * FROM users WHERE lat = -33.8688 AND lon = 151.2093", ["33.8688", "151.2093", "8688"]),
    ("SELECT * FROM geo WHERE x = 6.02214076e23", ["6.02214076", "02214076"]),
    ("SELECT * FROM sessions WHERE id = 'c0ffee00-1234-4bad-8e57-000000000042'", ["c0ffee00", "4bad"]),
    ("INSERT INTO log VALUES ('it''s my password: ''pa55word''')", ["pa55word", "password:"]),
    ("INSERT INTO log (msg) VALUES ('Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig')",
     ["eyJhbGciOiJIUzI1NiJ9", "Bearer"]),
    ("INSERT INTO log (msg) VALUES ('-- not a comment secretA1')", ["secretA1"]),
    ("INSERT INTO log (msg) VALUES ('/* not a comment */ secretB2')", ["secretB2"]),
    ("INSERT INTO log (msg) VALUES ('# not a comment secretC3')", ["secretC3"]),
    ("INSERT INTO log (msg) VALUES ('\"quoted\" secretD4')", ["secretD4"]),
    ("INSERT INTO log (msg) VALUES ('`tick` secretE5')", ["secretE5"]),
    ("INSERT INTO log (msg) VALUES ('$$ secretF6 $$')", ["secretF6"]),
    ("INSERT INTO users VALUES ('it\\'s secretG7', 'second secretH8')", ["secretG7", "secretH8"]),
    ("INSERT INTO users VALUES ('C:\\\\temp\\\\secretI9.txt')", ["secretI9"]),
    ("SELECT * FROM users WHERE pin IN (1234, 5678, 9012)", ["1234", "5678", "9012"]),
    ("INSERT INTO cards VALUES (1, '5500005555555559', '12/27', '737')",
     ["5500005555555559", "12/27", "737"]),
    ("INSERT INTO cards VALUES (2, '378282246310005', '01/30', '1234'), (3, '6011111111111117', '02/31', '9')",
     ["378282246310005", "6011111111111117", "01/30"]),
    ("UPDATE users SET api_key = 'xoxb-1234567890-abcdefghij' WHERE name = 'carol'",
     ["xoxb-1234567890", "carol"]),
    ("SELECT * FROM users WHERE name = 'Zoë Ångström' AND city = 'Zürich'", ["Zoë", "Ångström", "Zürich"]),
    ("SELECT * FROM users WHERE name = '山田太郎'", ["山田太郎"]),
    ("SELECT * FROM t WHERE secret = 'line one\nline two secretJ0'", ["secretJ0", "line one"]),
    ("SELECT * FROM t WHERE a = 'x' /* comment with api_key=sk-commentsecret */", ["sk-commentsecret"]),
    ("SELECT * FROM t -- password=commentpass\nWHERE a = 1", ["commentpass"]),
    ("SELECT * FROM t # token=hashcomment\nWHERE a = 1", ["hashcomment"]),
    ("SELECT * FROM t /* outer /* inner */ nestedsecret */ WHERE a = 1", ["nestedsecret"]),
    ("SELECT * FROM t WHERE amount = 1_000_000_042", ["000", "042"]),
    ("SELECT * FROM t WHERE active = TRUE AND deleted IS NULL AND bonus = FALSE", ["TRUE", "NULL", "FALSE"]),
    ("INSERT INTO creds VALUES (U&'d\\0061t\\+000061', 'mysqlsecret')", ["mysqlsecret", "0061"]),
    ("SELECT pgp_sym_decrypt(data, 'symmetric-key-42') FROM vault", ["symmetric-key-42"]),
    ("SET PASSWORD FOR 'app'@'localhost' = 'N3wPassw0rd'", ["N3wPassw0rd", "localhost"]),
    ("CREATE USER app WITH PASSWORD 'createuserpw'", ["createuserpw"]),
    ("ALTER ROLE app PASSWORD 'alterrolepw' VALID UNTIL '2030-01-01'", ["alterrolepw", "2030"]),
    ("DO $body$ BEGIN PERFORM set_secret('plpgsqlsecret'); END $body$", ["plpgsqlsecret"]),
    ("SELECT * FROM t WHERE id = -0x7FFF AND x = -42", ["7FFF", "42"]),
]


def test_secrets_corpus_is_large_enough():
    assert len(SECRETS) >= 50


@pytest.mark.parametrize("statement, secrets", SECRETS)
def test_no_secret_survives(statement, secrets):
    text = summarize(statement).text
    assert text  # the statement is scrubbed, not merely dropped
    for secret in secrets:
        assert secret not in text


# -- adversarial inputs: no exception, linear time -------------------------------------

MEGABYTE = 1 << 20

ADVERSARIAL = {
    "quotes": lambda n: "'" * n,
    "quote pairs then open": lambda n: "SELECT " + "''" * (n // 2) + "'",
    "dollars": lambda n: "$" * n,
    "dollar tags": lambda n: "SELECT " + "$a$b" * (n // 4),
    "distinct unterminated tags": lambda n: "SELECT " + "".join("$t%d$" % i for i in range(n // 8)),
    "open comments": lambda n: "/*" * (n // 2),
    "open then closes": lambda n: "/*" + "/* */" * (n // 5),
    "nested comments": lambda n: "/*" * (n // 4) + "*/" * (n // 4),
    "digits": lambda n: "SELECT " + "9" * n,
    "signs and blanks": lambda n: "SELECT 1" + " -" * (n // 2),
    "negative numbers": lambda n: "SELECT " + "-1 " * (n // 3),
    "minus before blanks": lambda n: "SELECT a -" + " " * n + "x",
    "backslashes": lambda n: "SELECT '" + "\\" * n,
    "mysql escapes": lambda n: "SELECT " + "'\\'" * (n // 3),
    "parentheses": lambda n: "SELECT * FROM " + "(" * (n // 2) + ")" * (n // 2),
    "in lists": lambda n: "SELECT * FROM t WHERE a IN (" + "?, " * (n // 3),
    "long identifier": lambda n: "SELECT * FROM " + "a" * n,
    "from from": lambda n: "SELECT " + "FROM " * (n // 5),
    "hash lines": lambda n: "#\n" * (n // 2),
    "double quotes": lambda n: '"' * n,
}


@pytest.mark.parametrize("shape", sorted(ADVERSARIAL))
def test_adversarial_megabyte_inputs_finish_and_stay_short(shape):
    statement = ADVERSARIAL[shape](MEGABYTE)
    summary = summarize(statement)
    assert isinstance(summary, SqlSummary)
    assert len(summary.text) <= 2048


def _best_time(function, argument, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function(argument)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("shape", sorted(ADVERSARIAL))
def test_adversarial_time_grows_linearly(shape):
    # Quadratic code takes 4x as long on twice the input; linear code 2x. The bound
    # of 10x leaves room for a noisy machine while still catching quadratic blow-ups
    # (these inputs are big enough that a quadratic scan would take minutes).
    one = _best_time(summarize, ADVERSARIAL[shape](MEGABYTE))
    two = _best_time(summarize, ADVERSARIAL[shape](2 * MEGABYTE))
    assert two < 10 * max(one, 0.005)


def test_binary_junk_never_raises():
    junk = bytes(range(256)) * 4096
    assert isinstance(summarize(junk), SqlSummary)
    assert isinstance(summarize(junk.decode("latin-1")), SqlSummary)


# -- cache -----------------------------------------------------------------------------

def test_repeated_statement_returns_the_identical_object():
    statement = "SELECT * FROM cached_table WHERE id = 99"
    first = summarize(statement)
    assert summarize(statement) is first
    assert summarize(statement, max_length=10) is not first  # options are part of the key
    assert summarize(statement, sanitize=False).text.endswith("99")


def test_cache_stays_bounded():
    for number in range(100_000):
        summarize("SELECT * FROM t WHERE id = %d" % number)
    assert len(sql._CACHE) <= sql._CACHE_ENTRIES


def test_huge_statements_are_not_cached():
    statement = "SELECT " + "a, " * 40_000 + "b FROM t"
    summarize(statement)
    assert (statement, 2048, True) not in sql._CACHE


def test_cached_result_equals_fresh_result():
    statement = "UPDATE t SET a = 'x' WHERE b IN (1, 2)"
    cached = summarize(statement)
    sql._CACHE.clear()
    assert summarize(statement) == cached
