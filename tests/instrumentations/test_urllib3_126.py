"""urllib3 1.26, the older of the two majors the urllib3 spec supports.

One interpreter can hold one urllib3, and the test extra installs 2.x: so the whole of
test_urllib3.py runs again in a subprocess, in a throwaway venv holding `urllib3<2` and
this checkout installed as users install it (not editable). The venv is built once and
kept in pytest's cache folder (.pytest_cache of this checkout, or the temp folder when
the cache plugin is off): built anew when pyproject.toml changes (autotrace's own
dependencies), otherwise only autotrace is reinstalled, when its files have changed.
Building it costs 30-45 s the first time (a fresh CI clone), 5-15 s after.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

import pytest

from support import REPO

MODULE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_urllib3.py")
REQUIREMENTS = ["urllib3>=1.26,<2", "pytest>=8", "pytest-httpserver>=1.0", "pytest-timeout>=2.3"]
# What `pip install .` ships: a change to any of these reinstalls autotrace in the venv.
SHIPPED = ("autotrace", "instrumentations", "sitecustomize", "bin", "pyproject.toml")


def digest_of(*tops):
    digest = hashlib.sha256(" ".join(REQUIREMENTS).encode())
    for top in tops:
        path = os.path.join(REPO, top)
        files = [path] if os.path.isfile(path) else sorted(
            os.path.join(folder, name) for folder, dirs, names in os.walk(path)
            if "__pycache__" not in folder for name in names if not name.endswith(".pyc"))
        for name in files:
            digest.update(os.path.relpath(name, REPO).encode() + b"\0")
            with open(name, "rb") as handle:
                digest.update(handle.read() + b"\0")
    return digest.hexdigest()[:16]


def shipped_copy(folder):
    """A fresh copy of what `pip install .` reads: pip builds in the source folder, and
    setuptools' build/ folder there would keep shipping files deleted since."""
    source = os.path.join(folder, "source")
    shutil.rmtree(source, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for top in SHIPPED + ("README.md",):
        path = os.path.join(REPO, top)
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(source, top), ignore=ignore)
        else:
            os.makedirs(source, exist_ok=True)
            shutil.copy2(path, os.path.join(source, top))
    return source


def run(command, timeout=600):
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    assert result.returncode == 0, "%s failed:\n%s%s" % (command, result.stdout, result.stderr)
    return result


@pytest.fixture(scope="session")
def urllib3_126_python(pytestconfig):
    """The venv's python, with urllib3 1.26 and this checkout's autotrace installed."""
    import fcntl

    cache = getattr(pytestconfig, "cache", None)
    if cache is not None:
        folder = str(cache.mkdir("urllib3-1.26-venv"))
    else:
        folder = os.path.join(tempfile.gettempdir(), "autotrace-urllib3-126-%s"
                              % hashlib.sha256(REPO.encode()).hexdigest()[:12])
        os.makedirs(folder, exist_ok=True)
    venv = os.path.join(folder, "venv-" + digest_of("pyproject.toml"))
    python = os.path.join(venv, "bin", "python")
    stamp = os.path.join(venv, "autotrace-installed")
    with open(os.path.join(folder, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # two test runs of one checkout build it once
        if not os.path.exists(python):
            for name in os.listdir(folder):   # venvs of an older pyproject.toml
                if name.startswith("venv-"):
                    shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
            run([sys.executable, "-m", "venv", venv])
            run([python, "-m", "pip", "install", "-q", shipped_copy(folder)] + REQUIREMENTS)
        digest = digest_of(*SHIPPED)
        try:
            with open(stamp) as handle:
                installed = handle.read()
        except OSError:
            installed = ""
        if installed != digest:
            run([python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", shipped_copy(folder)])
            with open(stamp, "w") as handle:
                handle.write(digest)
    return python


@pytest.mark.timeout(900)
def test_the_urllib3_tests_pass_under_urllib3_1_26(urllib3_126_python, request, tmp_path):
    report = str(tmp_path / "report.xml")
    # -I: neither the working directory nor PYTHONPATH, so `autotrace` is the installed
    # one, not the checkout's folder; the driver prints what it imported.
    driver = ("import sys, urllib3, autotrace, pytest; print('urllib3', urllib3.__version__, autotrace.__file__); "
              "sys.exit(pytest.main(sys.argv[1:]))")
    result = subprocess.run([urllib3_126_python, "-I", "-c", driver, "-q", "-p", "no:cacheprovider",
                             "--rootdir", REPO, "-c", os.path.join(REPO, "pyproject.toml"),
                             "--junitxml", report, MODULE],
                            capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    output = result.stdout + result.stderr
    first = output.splitlines()[0].split() if output else []
    assert first[:1] == ["urllib3"] and first[1].startswith("1.26."), output
    venv = os.path.dirname(os.path.dirname(urllib3_126_python))
    assert first[2].startswith(os.path.join(venv, "lib")) and "site-packages" in first[2], output
    assert result.returncode == 0, output

    suite = ElementTree.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {key: int(suite.get(key)) for key in ("tests", "failures", "errors", "skipped")}
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    # The same tests as under urllib3 2.x in this run when it collected them, else all there are.
    here = [item for item in request.session.items if str(item.fspath) == MODULE]
    expected = len(here) or counts["tests"]
    assert passed == expected and counts["tests"] == expected and expected >= 10, (counts, output)
