import pytest

from autotrace.distributions import entry_points, installed_version, version_in_range


@pytest.mark.parametrize("version,supported,expected", [
    ("2.31.0", ">=2.20,<3", True),
    ("2.19.9", ">=2.20,<3", False),
    ("3.0.0", ">=2.20,<3", False),
    ("3.0", "<3", False),
    ("3.2.1rc1", ">=3.1,<4", True),
    ("1.26.18", ">=1.26,<3", True),
    ("4.0.0.post1", ">=3.1,<4", False),
    ("2.0", "==2", True),
    ("2.0.1", "!=2.0.1", False),
    ("9.9", "", True),
])
def test_version_ranges(version, supported, expected):
    assert version_in_range(version, supported) is expected


def test_installed_version_matches_importlib_metadata():
    from importlib.metadata import version
    assert installed_version("opentelemetry-sdk") == version("opentelemetry-sdk")
    assert installed_version("Opentelemetry_SDK") == version("opentelemetry-sdk")
    assert installed_version("surely-not-installed-xyz") is None


def test_entry_points_finds_our_group(tmp_path, monkeypatch):
    import sys
    from autotrace import distributions
    dist = tmp_path / "thirdparty_tracer-1.0.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text(
        "[console_scripts]\nx = y:z\n\n[autotrace.instrumentations]\nmylib = thirdparty_tracer.spec:SPEC\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path)] + sys.path)
    distributions.refresh()
    try:
        assert ("mylib", "thirdparty_tracer.spec:SPEC") in entry_points()
        assert installed_version("thirdparty-tracer") == "1.0"
    finally:
        distributions.refresh()


def test_every_package_folder_is_shipped():
    """A folder of modules missing from pyproject's package list works from a checkout
    and breaks in every real install."""
    import os
    tomllib = pytest.importorskip("tomllib")   # Python 3.11+
    from support import REPO
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as handle:
        shipped = set(tomllib.load(handle)["tool"]["setuptools"]["packages"])
    for folder, _dirs, files in os.walk(os.path.join(REPO, "autotrace")):
        if "__pycache__" in folder or not any(f.endswith(".py") for f in files):
            continue
        package = os.path.relpath(folder, REPO).replace(os.sep, ".")
        assert package in shipped, package + " is not in pyproject.toml's packages"


def test_first_installed_of_several_names():
    from importlib.metadata import version
    from autotrace.distributions import first_installed
    assert first_installed(("surely-not-installed-xyz", "opentelemetry-sdk")) == (
        "opentelemetry-sdk", version("opentelemetry-sdk"))
    assert first_installed("opentelemetry-sdk") == ("opentelemetry-sdk", version("opentelemetry-sdk"))
    assert first_installed(("nope-a-xyz", "nope-b-xyz")) == ("nope-a-xyz", None)
