"""The README's quick start in a fresh virtualenv with a regular (non-editable) install:
packaging ships the bootstrap folder, the sh launcher finds it, the example's traces
reach the store and `autotrace traces` / `autotrace show` read them back."""

import os
import subprocess
import sys

import pytest

from support import REPO, autotrace_env


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    result = subprocess.run(pip + [REPO, "requests"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def test_quick_start(fresh_venv, tmp_path):
    bin_dir = fresh_venv / "bin"
    env = autotrace_env(tmp_path)
    env["PATH"] = str(bin_dir) + os.pathsep + env["PATH"]
    env.pop("PYTHONPATH", None)
    run = subprocess.run(["autotrace", "run", "python", os.path.join(REPO, "examples", "quickstart.py")],
                         capture_output=True, text=True, env=env, timeout=120, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert "apple  price 12.50, 3 in stock" in run.stdout
    assert run.stderr == ""

    traces = subprocess.run(["autotrace", "traces"], capture_output=True, text=True, env=env, timeout=60,
                            cwd=str(tmp_path))
    assert traces.returncode == 0, traces.stderr
    assert "quickstart" in traces.stdout and "checkout" in traces.stdout
    trace_id = next(word for line in traces.stdout.splitlines() if "checkout" in line
                    for word in line.split() if len(word) >= 8 and all(c in "0123456789abcdef" for c in word))
    show = subprocess.run(["autotrace", "show", trace_id], capture_output=True, text=True, env=env, timeout=60,
                          cwd=str(tmp_path))
    assert show.returncode == 0, show.stderr
    for name in ("checkout", "GET", "SELECT stock", "UPDATE stock"):
        assert name in show.stdout


def test_launcher_matches_the_python_cli(fresh_venv, tmp_path):
    env = autotrace_env(tmp_path, PYTHONPATH="/somewhere/else")
    env["PATH"] = str(fresh_venv / "bin") + os.pathsep + env["PATH"]
    code = "import os, sys; print(os.environ['PYTHONPATH']); print(os.environ.get('OTEL_SERVICE_NAME'))"
    # cwd: not the checkout, whose autotrace/ folder would shadow the installed package
    result = subprocess.run(["autotrace", "run", "--service-name", "svc", "autotrace", "run", "python", "-c", code],
                            capture_output=True, text=True, env=env, timeout=60, cwd=str(tmp_path))
    pythonpath, service = result.stdout.split()
    parts = pythonpath.split(":")
    assert parts[0].endswith("autotrace/sitecustomize") and parts[1:] == ["/somewhere/else"]
    assert service == "svc"
    missing = subprocess.run(["autotrace", "run", "no-such-command-xyz"], capture_output=True, text=True,
                             env=env, timeout=60, cwd=str(tmp_path))
    assert (missing.returncode, missing.stderr) == (127, "autotrace: command not found: no-such-command-xyz\n")
    doctor = subprocess.run(["autotrace", "doctor"], capture_output=True, text=True, env=env, timeout=60,
                            cwd=str(tmp_path))
    assert doctor.returncode == 0 and "requests" in doctor.stdout, doctor.stdout + doctor.stderr
