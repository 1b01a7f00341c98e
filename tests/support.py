"""Helpers shared by test modules (import as `from support import ...`).

Not in conftest.py: several folders have a conftest, and importing one by name picks
whichever is first on sys.path.
"""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_DSN = os.environ.get("AUTOTRACE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
MYSQL_URL = os.environ.get("AUTOTRACE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("AUTOTRACE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def mysql_arguments(url):
    """pymysql.connect() keyword arguments for a mysql://user:password@host:port/db URL."""
    from urllib.parse import unquote, urlsplit
    parts = urlsplit(url)
    return {"host": parts.hostname or "127.0.0.1", "port": parts.port or 3306,
            "user": unquote(parts.username or "root"), "password": unquote(parts.password or ""),
            "database": parts.path.lstrip("/") or "test"}


def service_unavailable(what, reason):
    """Skip with the reason, or fail when AUTOTRACE_REQUIRE_SERVICES=1 (CI)."""
    message = "%s is not reachable (%s)" % (what, reason)
    if os.environ.get("AUTOTRACE_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " and AUTOTRACE_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def autotrace_env(tmp_path, **extra):
    """An environment for a traced subprocess: its own store, no inherited toggles."""
    # TRACEPARENT & co. too: a CI system that sets them would make every root span a child.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AUTOTRACE_", "OTEL_")) and k not in ("TRACEPARENT", "TRACESTATE", "BAGGAGE")
           or k == "AUTOTRACE_REQUIRE_SERVICES"}
    env["AUTOTRACE_STORE"] = str(tmp_path / "traces.db")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update({k: str(v) for k, v in extra.items()})
    return env
