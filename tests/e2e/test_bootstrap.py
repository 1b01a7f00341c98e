"""The bootstrap in real subprocesses: once per process, never in the way, chaining,
toggles and bad values, exit codes and signals, SIGTERM flush."""

import os
import signal
import subprocess
import sys
import time

import pytest

from support import autotrace_env
from otlp_receiver import OtlpReceiver

AUTOTRACE = [sys.executable, "-m", "autotrace"]

# Prints which instrumentations patched sqlite3.connect and whether the SDK is loaded.
PROBE = """
import sqlite3, sys
from autotrace import patching
connect = patching.raw_attribute(sqlite3, "connect")
depth = 0
while patching.is_patched(connect):
    depth += 1
    connect = connect.__wrapped__
print("wraps", depth)
print("sdk", "opentelemetry.sdk.trace" in sys.modules)
"""


def autotrace_run(tmp_path, args, **env):
    return subprocess.run(AUTOTRACE + ["run"] + args, capture_output=True, text=True,
                          env=autotrace_env(tmp_path, **env), timeout=60)


def test_patched_once_even_when_run_is_nested(tmp_path):
    result = subprocess.run(AUTOTRACE + ["run"] + AUTOTRACE + ["run", sys.executable, "-c", PROBE],
                            capture_output=True, text=True, env=autotrace_env(tmp_path), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "wraps 1" in result.stdout


def test_disabled_means_no_patch_and_no_sdk(tmp_path):
    result = autotrace_run(tmp_path, [sys.executable, "-c", PROBE], AUTOTRACE_ENABLED="false")
    assert result.stdout.split() == ["wraps", "0", "sdk", "False"]
    assert result.stderr == ""


@pytest.mark.parametrize("env", [
    {"AUTOTRACE_INSTRUMENT_SQLITE3": "false"},
    {"AUTOTRACE_DISABLED_INSTRUMENTATIONS": "sqlite3"},
    {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "*"},
])
def test_toggles_leave_the_library_alone(tmp_path, env):
    result = autotrace_run(tmp_path, [sys.executable, "-c", PROBE], **env)
    assert result.stdout.split()[:2] == ["wraps", "0"], result.stderr


def test_cli_disable_option(tmp_path):
    result = autotrace_run(tmp_path, ["--disable", "sqlite3", sys.executable, "-c", PROBE])
    assert result.stdout.split()[:2] == ["wraps", "0"]


def test_bad_values_warn_once_each_and_the_app_runs(tmp_path):
    result = autotrace_run(tmp_path, [sys.executable, "-c", PROBE], AUTOTRACE_INSTRUMENT_REDIS="maybe",
                           AUTOTRACE_DISABLED_INSTRUMENTATIONS="reqeusts", AUTOTRACE_STORE_MAX_MB="big")
    assert result.returncode == 0 and "wraps 1" in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, result.stderr
    assert any("AUTOTRACE_INSTRUMENT_REDIS='maybe'" in line and "true, false" in line for line in lines)
    assert any("'reqeusts'" in line and "known:" in line for line in lines)
    assert any("AUTOTRACE_STORE_MAX_MB='big'" in line for line in lines)


def test_unknown_command_exits_127_with_one_line(tmp_path):
    result = autotrace_run(tmp_path, ["definitely-not-a-command-xyz"])
    assert result.returncode == 127
    assert result.stderr == "autotrace: command not found: definitely-not-a-command-xyz\n"


def test_exit_code_and_process_are_the_programs_own(tmp_path):
    code = "import os, sys; print(os.getpid()); sys.exit(7)"
    process = subprocess.Popen(AUTOTRACE + ["run", sys.executable, "-c", code], stdout=subprocess.PIPE,
                               text=True, env=autotrace_env(tmp_path))
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 7
    assert int(out) == process.pid   # exec'd in place: no wrapper process stays


def test_python_dash_m_and_service_name(tmp_path):
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        "import sqlite3\nsqlite3.connect(':memory:').execute('SELECT 1')\nprint('ran')\n")
    with OtlpReceiver() as receiver:
        env = autotrace_env(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, PYTHONPATH=str(tmp_path))
        result = subprocess.run(AUTOTRACE + ["run", sys.executable, "-m", "shop"], capture_output=True,
                                text=True, env=env, timeout=60, cwd=str(tmp_path))
        assert result.stdout.strip() == "ran", result.stderr
    assert [s["service"] for s in receiver.spans] == ["shop"]


def test_user_sitecustomize_still_runs(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "sitecustomize.py").write_text("import builtins\nbuiltins.USER_SITE_RAN = True\n")
    code = "import builtins, sqlite3; from autotrace import patching; " \
           "print(getattr(builtins, 'USER_SITE_RAN', False), patching.is_patched(patching.raw_attribute(sqlite3, 'connect')))"
    result = autotrace_run(tmp_path, [sys.executable, "-c", code], PYTHONPATH=str(mine))
    assert result.stdout.split() == ["True", "True"], result.stderr


def test_broken_user_sitecustomize_is_reported_and_the_app_runs(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "sitecustomize.py").write_text("raise RuntimeError('user bug')\n")
    result = autotrace_run(tmp_path, [sys.executable, "-c", "print('app')"], PYTHONPATH=str(mine))
    assert result.stdout == "app\n"
    assert "RuntimeError: user bug" in result.stderr


def _spans_after(tmp_path, code, stop):
    with OtlpReceiver() as receiver:
        env = autotrace_env(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
                            OTEL_BSP_SCHEDULE_DELAY="60000")   # nothing leaves before the end
        process = subprocess.Popen(AUTOTRACE + ["run", sys.executable, "-c", code], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=env)
        assert process.stdout.readline().strip() == "ready"
        stop(process)
        out, err = process.communicate(timeout=30)
        return process.returncode, err, [s["name"] for s in receiver.spans]


SPANS_THEN_WAIT = ("import sqlite3, sys, time\n"
                   "db = sqlite3.connect(':memory:')\n"
                   "for i in range(5): db.execute('SELECT %d' % i)\n"
                   "print('ready', flush=True)\n")


@pytest.mark.parametrize("ending", ["normal", "sys.exit", "unhandled"])
def test_queued_spans_are_flushed_at_exit(tmp_path, ending):
    tail = {"normal": "", "sys.exit": "sys.exit(3)\n", "unhandled": "raise ValueError('app crash')\n"}[ending]
    code, err, names = _spans_after(tmp_path, SPANS_THEN_WAIT + tail, lambda p: None)
    assert code == {"normal": 0, "sys.exit": 3, "unhandled": 1}[ending]
    assert names == ["SELECT"] * 5
    if ending == "unhandled":
        assert "ValueError: app crash" in err


def test_sigterm_flushes_and_still_dies_of_sigterm(tmp_path):
    code, err, names = _spans_after(tmp_path, SPANS_THEN_WAIT + "time.sleep(30)\n",
                                    lambda p: p.send_signal(signal.SIGTERM))
    assert code == -signal.SIGTERM
    assert names == ["SELECT"] * 5


def test_app_sigterm_handler_is_left_alone(tmp_path):
    app = SPANS_THEN_WAIT.replace("print('ready'", "import signal\n"
                                  "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\nprint('ready'")
    code, err, names = _spans_after(tmp_path, app + "time.sleep(30)\n", lambda p: p.send_signal(signal.SIGTERM))
    assert code == 0
    assert names == ["SELECT"] * 5


def test_a_library_outside_the_supported_range_is_left_alone(tmp_path):
    fake = tmp_path / "site"
    (fake / "requests-1.0.0.dist-info").mkdir(parents=True)
    code = "import requests; from autotrace import patching; " \
           "print(patching.is_patched(patching.raw_attribute(requests.Session, 'send')))"
    result = autotrace_run(tmp_path, ["--debug", sys.executable, "-c", code], PYTHONPATH=str(fake))
    assert result.stdout.strip() == "False"
    assert "requests: left alone: installed requests 1.0.0 is outside the supported range >=2.20,<3" in result.stderr


def test_manual_propagation_uses_the_configured_propagators(tmp_path):
    code = ("from opentelemetry import propagate, trace\n"
            "carrier = {}\n"
            "with trace.get_tracer('t').start_as_current_span('s'):\n"
            "    propagate.inject(carrier)\n"
            "print(sorted(carrier))\n")
    result = autotrace_run(tmp_path, [sys.executable, "-c", code], OTEL_PROPAGATORS="b3multi")
    assert result.stdout.strip() == "['x-b3-sampled', 'x-b3-spanid', 'x-b3-traceid']", result.stderr
