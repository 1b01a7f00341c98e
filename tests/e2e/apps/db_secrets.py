"""Runs statements with secrets in their literals through real drivers (traced by
`autotrace run`); prints how many statements it sent. usage: db_secrets.py PG_DSN MYSQL_URL REDIS_URL"""

import sqlite3
import sys

import psycopg
import psycopg2
import pymysql
import redis

sys.path.insert(0, sys.argv[4])
from support import mysql_arguments  # noqa: E402  (the tests' own helper)

SECRETS = [
    "alice.secret@example.com", "Hunter2!Hunter2", "4111111111111111", "sk_live_51HxAbCdEfGhIjKl",
    "ghp_16C7e42F292c6912E7710c8", "AKIAIOSFODNN7EXAMPLE", "078-05-1120", "GB82WEST12345698765432",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2VjcmV0", "correct-horse-battery-staple",
    "bob.private@example.org", "5500005555555559",
]

# (template, quoting): {s} is a secret inside a literal; every template runs for several secrets
COMMON = [
    "INSERT INTO at_secrets (email, note) VALUES ('{s}', 'note for {s}')",
    "SELECT id FROM at_secrets WHERE email = '{s}' OR note LIKE '%{s}%'",
    "UPDATE at_secrets SET note = '{s}' WHERE email IN ('{s}', 'other-{s}')",
    "DELETE FROM at_secrets WHERE note = '{s}'",
]
POSTGRES_ONLY = ["SELECT E'{s}\\n' AS escaped", "SELECT $${s}$$ AS dollar", "SELECT $tag${s}$tag$ AS tagged"]
NUMBERS = ["SELECT {n} AS card_number", "SELECT id FROM at_secrets WHERE id = {n}"]
FAILING_PG = ["INSERT INTO at_secrets (email, note) VALUES ('dup-{s}', 'x')",   # second time: unique violation
              "SELEC '{s}'", "SELECT '{s}'::int"]
FAILING_MYSQL = ["INSERT INTO at_secrets (email, note) VALUES ('dup-{s}', 'x')", "SELEC '{s}'"]

sent = 0


def run(execute, statements, failing=()):
    global sent
    for statement in statements:
        execute(statement)
        sent += 1
    for statement in failing:
        try:
            execute(statement)
        except Exception:
            pass
        sent += 1


def statements(templates, secrets):
    return [t.format(s=s, n=s) for t in templates for s in secrets]


def digits(secrets):
    return [s for s in secrets if s.isdigit()]


pg_dsn, mysql_url, redis_url = sys.argv[1:4]
create = "CREATE TABLE at_secrets (id {key}, email VARCHAR(200) UNIQUE, note VARCHAR(500))"

with psycopg.connect(pg_dsn, autocommit=True) as conn:
    conn.execute("DROP TABLE IF EXISTS at_secrets")
    conn.execute(create.format(key="serial PRIMARY KEY"))
    run(conn.execute, statements(COMMON + POSTGRES_ONLY, SECRETS[:4]) + statements(NUMBERS, digits(SECRETS)),
        statements(FAILING_PG + FAILING_PG[:1], SECRETS[:2]))
    conn.execute("DROP TABLE at_secrets")

conn2 = psycopg2.connect(pg_dsn)
conn2.autocommit = True
cursor = conn2.cursor()
cursor.execute(create.format(key="serial PRIMARY KEY"))
run(cursor.execute, statements(COMMON + POSTGRES_ONLY, SECRETS[4:8]),
    statements(FAILING_PG + FAILING_PG[:1], SECRETS[4:6]))
cursor.execute("DROP TABLE at_secrets")
conn2.close()

conn3 = pymysql.connect(autocommit=True, **mysql_arguments(mysql_url))
with conn3.cursor() as cursor:
    cursor.execute("DROP TABLE IF EXISTS at_secrets")
    cursor.execute(create.format(key="INT AUTO_INCREMENT PRIMARY KEY"))
    run(cursor.execute, statements(COMMON, SECRETS[8:12]) + statements(NUMBERS, digits(SECRETS)),
        statements(FAILING_MYSQL + FAILING_MYSQL[:1], SECRETS[8:10]))
    cursor.execute("DROP TABLE at_secrets")
conn3.close()

lite = sqlite3.connect(":memory:")
lite.execute(create.format(key="INTEGER PRIMARY KEY"))
run(lite.execute, statements(COMMON, SECRETS), statements(FAILING_MYSQL[:1] * 2, SECRETS[:1]))

client = redis.Redis.from_url(redis_url)
for secret in SECRETS:
    client.set("at:secret:" + secret, secret)
    client.get("at:secret:" + secret)
    client.delete("at:secret:" + secret)
try:
    client.execute_command("NO-SUCH-COMMAND", SECRETS[0])
except redis.exceptions.ResponseError:
    pass
client.close()

print(sent)
