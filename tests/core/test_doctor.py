"""`autotrace doctor` in a subprocess: sources, statuses, exporter checks, exit code."""

import subprocess
import sys

from support import autotrace_env


def doctor(tmp_path, **env):
    result = subprocess.run([sys.executable, "-m", "autotrace", "doctor"], capture_output=True, text=True,
                            env=autotrace_env(tmp_path, **env), timeout=60, cwd=str(tmp_path))
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    return result, rows


def test_healthy_configuration(tmp_path):
    result, rows = doctor(tmp_path, AUTOTRACE_INSTRUMENT_PSYCOPG="false", OTEL_SERVICE_NAME="shop")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "autotrace 0.1.0" in result.stdout
    assert "shop" in rows["service_name"] and "from OTEL_SERVICE_NAME" in rows["service_name"]
    assert rows["store_max_mb"].split()[-1] == "default"
    assert "disabled" in rows["psycopg"] and "AUTOTRACE_INSTRUMENT_PSYCOPG" in rows["psycopg"]
    assert "waiting for import" in rows["requests"]
    assert "python 3" in rows["sqlite3"]
    assert "[writable]" in rows["store"]
    assert "No problems found." in result.stdout
    assert "Propagators: tracecontext, baggage (headers: baggage, traceparent, tracestate)" in result.stdout
    for name in ("urllib3", "httpx", "http_client", "aiohttp_client"):
        assert name in rows, name


def test_propagators_and_http_settings_are_listed(tmp_path):
    result, rows = doctor(tmp_path, OTEL_PROPAGATORS="b3multi,jaeger", AUTOTRACE_PROPAGATE_TO="*.internal",
                          OTEL_PYTHON_HTTPX_EXCLUDED_URLS="/health,/metrics")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Propagators: b3multi, jaeger (headers: uber-trace-id, x-b3-" in result.stdout
    assert "*.internal" in rows["propagate_to"] and "AUTOTRACE_PROPAGATE_TO" in rows["propagate_to"]
    assert "httpx=/health,/metrics" in rows["excluded_urls_by_library"]
    none = doctor(tmp_path, OTEL_PROPAGATORS="none")[0]
    assert "Propagators: none" in none.stdout


def test_bad_values_and_unreachable_targets_fail(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result, rows = doctor(tmp_path, AUTOTRACE_INSTRUMENT_REDIS="maybe", AUTOTRACE_STORE=str(blocker / "t.db"),
                          OTEL_TRACES_EXPORTER="store,otlp", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert result.returncode == 1
    problems = result.stdout.split("Problems", 1)[1]
    assert "AUTOTRACE_INSTRUMENT_REDIS='maybe'" in problems
    assert "store exporter: not writable" in problems
    assert "otlp exporter: unreachable: 127.0.0.1:9" in problems


def test_unsupported_version_is_explained(tmp_path):
    fake = tmp_path / "site"
    (fake / "requests-1.0.0.dist-info").mkdir(parents=True)
    (fake / "requests-1.0.0.dist-info" / "METADATA").write_text("Name: requests\nVersion: 1.0.0\n")
    result, rows = doctor(tmp_path, PYTHONPATH=str(fake))
    assert "unsupported version" in rows["requests"]
    assert "1.0.0 is outside >=2.20,<3" in rows["requests"]
