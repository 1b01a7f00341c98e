"""The registry applies a spec once, even when applying it imports another of the
spec's trigger modules (whose hook calls back into the registry)."""

import sys

import pytest

from autotrace import hooks, patching
from autotrace.config import Settings
from autotrace.registry import Registry
from autotrace.spec import Instrumentation, Patch

NAMES = ("regtarget_wsgi", "regtarget_asgi")


class _Builder:
    def build(self, name):
        return patching.Interceptor(lambda instance, args, kwargs: None, lambda state, result: result,
                                    lambda state, exc: None)


@pytest.fixture
def two_modules(tmp_path, monkeypatch):
    for name in NAMES:
        (tmp_path / (name + ".py")).write_text("def handle(x):\n    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield NAMES
    for name in NAMES:
        sys.modules.pop(name, None)
        hooks._callbacks.pop(name, None)


def test_a_spec_whose_patching_imports_its_other_trigger_is_applied_and_reverted_whole(two_modules):
    spec = Instrumentation(name="regtarget", modules=two_modules, distribution="", supported="",
                           patches=[Patch(name, "handle", _Builder()) for name in two_modules])
    registry = Registry(Settings.from_env({}), specs=[spec])
    registry.install()
    __import__(two_modules[0])   # its hook applies the spec, which imports the second module
    modules = [sys.modules[name] for name in two_modules]
    assert all(patching.is_patched(module.handle) for module in modules)
    assert len(registry.applied["regtarget"].originals) == 2
    registry.deactivate("regtarget")
    assert not any(patching.is_patched(module.handle) for module in modules)
