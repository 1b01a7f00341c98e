"""Run one contract scenario for one spec in a fresh interpreter (see test_contract.py).

usage: python contract_probe.py SPEC_NAME SCENARIO; exits 0 and prints "ok" on success.
"""

import importlib
import sys

from autotrace import hooks, patching
from autotrace.config import Settings
from autotrace.registry import Registry


def targets(spec):
    found = []
    for patch in spec.patches:
        owner, attribute = patching._resolve(importlib.import_module(patch.module), patch.attribute)
        found.append((patch, owner, attribute))
    return found


def assert_patched(spec):
    for patch, owner, attribute in targets(spec):
        value = patching.raw_attribute(owner, attribute)
        assert patching.is_patched(value), "%r is not wrapped" % patch
        inner = value.__wrapped__
        assert not patching.is_patched(inner), "%r is wrapped twice" % patch


def originals(spec):
    return {repr(p): patching.raw_attribute(owner, attribute) for p, owner, attribute in targets(spec)}


def main(name, scenario):
    registry = Registry(Settings.from_env({"AUTOTRACE_INSTRUMENT_" + name.upper(): "true"}))
    spec = registry.specs[name]
    for other in list(registry.specs):
        if other != name:
            del registry.specs[other]

    if scenario == "import_then_patch":
        for module in spec.modules + spec.requires:
            importlib.import_module(module)
        before = originals(spec)
        registry.install()          # hooks fire at once for imported modules
        assert name in registry.applied, registry.events.get(name) and registry.events[name].detail
        assert_patched(spec)
        for key, value in before.items():
            assert not patching.is_patched(value), key
    elif scenario == "patch_then_import":
        # A spec with requirements waits for the last of them: a module like os is
        # imported at startup, its requirement (opentelemetry.trace) is not.
        last = spec.requires or spec.modules
        for module in last:
            assert module not in sys.modules, module + " imported too early"
        registry.install()
        assert name not in registry.applied, "applied before the library was imported"
        for module in spec.modules[:1] + spec.requires:
            importlib.import_module(module)
        assert name in registry.applied, registry.events.get(name) and registry.events[name].detail
        assert_patched(spec)
    elif scenario == "patch_unpatch_patch":
        for module in spec.modules[:1] + spec.requires:
            importlib.import_module(module)
        before = originals(spec)
        registry.activate(spec)
        assert_patched(spec)
        registry.deactivate(name)
        after = originals(spec)
        assert after == before, "unpatch did not restore the originals"
        for value in after.values():
            assert not patching.is_patched(value)
        registry.activate(spec)
        assert_patched(spec)
    elif scenario == "double_patch":
        for module in spec.modules[:1] + spec.requires:
            importlib.import_module(module)
        registry.activate(spec)
        registry.activate(spec)                 # the registry refuses
        extra = patching.apply(spec)            # and so does the core itself
        assert extra.originals == [], "the core wrapped an already wrapped target"
        assert_patched(spec)
    else:
        raise SystemExit("unknown scenario " + scenario)
    hooks.uninstall()
    print("ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
