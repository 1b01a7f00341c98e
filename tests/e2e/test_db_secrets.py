"""The secrets corpus end to end: statements with passwords, emails, card numbers and
tokens inside literals, run through the real drivers under `autotrace run`; none of
the secrets is anywhere in the store's files (the bytes, not a query of them)."""

import glob
import os
import subprocess
import sys

from support import REPO, autotrace_env
from autotrace.store.queries import get_trace, list_traces

APP = os.path.join(os.path.dirname(__file__), "apps", "db_secrets.py")


def _app_secrets():
    namespace = {}
    with open(APP, encoding="utf-8") as handle:
        source = handle.read()
    exec(source[source.index("SECRETS = ["):source.index("]", source.index("SECRETS = [")) + 1], namespace)
    return namespace["SECRETS"]


def test_no_secret_reaches_the_store(tmp_path, pg_dsn, mysql_url, redis_url):
    env = autotrace_env(tmp_path, OTEL_BSP_SCHEDULE_DELAY="50")
    result = subprocess.run([sys.executable, "-m", "autotrace", "run", sys.executable, APP, pg_dsn, mysql_url,
                             redis_url, os.path.join(REPO, "tests")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    sent = int(result.stdout.strip())
    assert sent >= 50

    store = env["AUTOTRACE_STORE"]
    spans = [span for summary in list_traces(store, limit=100000) for span in get_trace(store, summary["trace_id"])]
    names = [span["name"] for span in spans]
    assert len(spans) >= sent + 36                      # every statement, and the Redis commands
    assert "INSERT at_secrets" in names and "SET" in names
    assert sum(1 for span in spans if span["status_code"] == "ERROR") >= 10, names

    files = glob.glob(store + "*")
    stored = b"".join(open(path, "rb").read() for path in files)
    assert b"at_secrets" in stored                      # the reading works: the spans are in these bytes
    leaked = [s for s in _app_secrets() if s.encode() in stored]
    assert leaked == []
