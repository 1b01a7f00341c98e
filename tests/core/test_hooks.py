"""Post-import hooks fire after import or at once, keep the real loader, contain errors."""

import sys

import pytest

from autotrace import hooks


@pytest.fixture
def fresh_module(tmp_path, monkeypatch):
    pkg = tmp_path / "hooktarget_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("VALUE = 41\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "hooktarget_pkg"
    sys.modules.pop("hooktarget_pkg", None)
    hooks._callbacks.pop("hooktarget_pkg", None)


def test_fires_after_import_with_the_executed_module(fresh_module):
    seen = []
    hooks.when_imported(fresh_module, lambda m: seen.append(m.VALUE))
    assert seen == []
    module = __import__(fresh_module)
    assert seen == [41]
    assert type(module.__loader__).__name__ != "_NotifyingLoader"
    assert type(module.__spec__.loader).__name__ != "_NotifyingLoader"


def test_fires_at_once_for_an_imported_module(fresh_module):
    __import__(fresh_module)
    seen = []
    hooks.when_imported(fresh_module, lambda m: seen.append(m.__name__))
    assert seen == [fresh_module]


def test_a_failing_hook_does_not_fail_the_import(fresh_module, capsys):
    def broken(module):
        raise RuntimeError("boom")
    hooks.when_imported(fresh_module, broken)
    module = __import__(fresh_module)
    assert module.VALUE == 41
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hook for hooktarget_pkg failed (RuntimeError: boom)" in err


def test_a_failing_import_fires_nothing(tmp_path, monkeypatch):
    (tmp_path / "hooktarget_bad.py").write_text("raise ImportError('nope')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    hooks.when_imported("hooktarget_bad", seen.append)
    try:
        with pytest.raises(ImportError, match="nope"):
            __import__("hooktarget_bad")
        assert seen == []
    finally:
        hooks._callbacks.pop("hooktarget_bad", None)


def test_reimport_after_removal_fires_again(fresh_module):
    seen = []
    hooks.when_imported(fresh_module, lambda m: seen.append(id(m)))
    first = __import__(fresh_module)
    del sys.modules[fresh_module]
    second = __import__(fresh_module)
    assert first is not second and seen == [id(first), id(second)]
