"""Which instrumentations exist, which are on, and what happened to each.

Built-in specs are the public modules of `autotrace.instrumentations` (one file per
library: adding a file adds an instrumentation, there is no table to edit);
third-party ones come from the `autotrace.instrumentations` entry-point group. The
registry installs an import hook per enabled spec; when the hook fires it checks the
installed version against the spec's range and applies the patches.
"""

import os
import sys

from autotrace import distributions, hooks, patching
from autotrace.messages import debug, warn

__all__ = ["Registry", "Status", "load_specs"]

# States shown by `autotrace doctor`
ACTIVE = "active"
WAITING = "waiting for import"
DISABLED = "disabled"
NOT_INSTALLED = "not installed"
UNSUPPORTED = "unsupported version"
FAILED = "failed"


class Status:
    __slots__ = ("name", "state", "detail", "version", "supported")

    def __init__(self, name, state, detail="", version=None, supported=""):
        self.name = name
        self.state = state
        self.detail = detail
        self.version = version
        self.supported = supported


class Registry:
    def __init__(self, settings, specs=None):
        self.settings = settings
        self.specs = load_specs() if specs is None else {s.name: s for s in specs}
        self.applied = {}   # name -> patching.Applied
        self.events = {}    # name -> Status for what happened at run time
        self._applying = set()   # names being applied right now (see activate)
        settings.warn_unknown_instrumentations(self.specs)

    def install(self):
        """Register the import hooks of every enabled spec."""
        for spec in self.specs.values():
            enabled, reason = self.settings.instrumentation_enabled(spec.name)
            if not enabled:
                debug("%s: %s" % (spec.name, reason))
                continue
            for module in spec.modules + spec.requires:
                hooks.when_imported(module, _Activator(self, spec))

    def activate(self, spec):
        """Apply `spec` unless it is applied already or its library is out of range."""
        # Applying imports the spec's other target modules, whose own hooks call back here
        # (Django's wsgi hook imports the asgi handler): that nested call must not apply
        # the spec a second time, or this record would miss what it wrapped.
        if spec.name in self.applied or spec.name in self._applying:
            return
        self._applying.add(spec.name)
        try:
            self._activate(spec)
        finally:
            self._applying.discard(spec.name)

    def _activate(self, spec):
        distribution, version = _installed(spec)
        if spec.distribution and version is not None and not distributions.version_in_range(version, spec.supported):
            detail = "installed %s %s is outside the supported range %s" % (
                distribution, version, spec.supported)
            self.events[spec.name] = Status(spec.name, UNSUPPORTED, detail, version, spec.supported)
            debug("%s: left alone: %s" % (spec.name, detail))
            return
        try:
            self.applied[spec.name] = patching.apply(spec)
        except Exception as exc:
            detail = "%s: %s" % (type(exc).__name__, exc)
            self.events[spec.name] = Status(spec.name, FAILED, detail, version, spec.supported)
            warn("instrumentation %r could not be applied (%s); %s runs untraced"
                 % (spec.name, detail, distribution or spec.name))
            return
        self.events[spec.name] = Status(spec.name, ACTIVE, "patched", version, spec.supported)
        debug("%s: instrumented %s %s" % (spec.name, distribution, version or ""))

    def deactivate(self, name):
        applied = self.applied.pop(name, None)
        if applied is not None:
            patching.revert(applied)
            self.events.pop(name, None)

    def statuses(self):
        """The status of every known spec, without importing any target library."""
        rows = []
        for name in sorted(self.specs):
            spec = self.specs[name]
            if name in self.events:
                rows.append(self.events[name])
                continue
            enabled, reason = self.settings.instrumentation_enabled(name)
            distribution, version = _installed(spec)
            if not enabled:
                rows.append(Status(name, DISABLED, reason, version, spec.supported))
            elif version is None:
                missing = " or ".join(_names(spec.distribution))
                rows.append(Status(name, NOT_INSTALLED, "%s is not installed" % missing, None, spec.supported))
            elif spec.distribution and not distributions.version_in_range(version, spec.supported):
                rows.append(Status(name, UNSUPPORTED, "installed %s is outside %s" % (version, spec.supported),
                                   version, spec.supported))
            else:
                rows.append(Status(name, WAITING if name not in self.applied else ACTIVE,
                                   _applied_when(spec),
                                   version, spec.supported))
        return rows


class _Activator:
    """The import-hook callback for one spec (a class, so tests can tell hooks apart)."""

    __slots__ = ("registry", "spec")

    def __init__(self, registry, spec):
        self.registry = registry
        self.spec = spec

    def __call__(self, module):
        if _ready(self.spec, module.__name__):
            self.registry.activate(self.spec)


def _applied_when(spec):
    if not spec.requires:
        return "applied when %s is imported" % " or ".join(spec.modules)
    return "applied when %s and %s are imported" % (" or ".join(spec.modules), " and ".join(spec.requires))


def _ready(spec, firing):
    """One of the spec's modules and all of its required modules are imported. The
    module whose hook fires counts as imported; any other must have finished executing
    (a hook can fire while a required module is still halfway through its own import)."""
    def imported(name):
        if name == firing:
            return True
        module = sys.modules.get(name)
        return module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False)
    return any(imported(name) for name in spec.modules) and all(imported(name) for name in spec.requires)


def _installed(spec):
    """(distribution, installed version) of the target; for the standard library,
    Python's own version. A spec naming several distributions gets the first installed."""
    if not spec.distribution:
        import platform
        return "python", "python " + platform.python_version()
    return distributions.first_installed(spec.distribution)


def _names(distribution):
    return (distribution,) if isinstance(distribution, str) else tuple(distribution)


def load_specs():
    """{name: Instrumentation} from the built-in folder and the entry-point group."""
    from importlib import import_module

    specs = {}
    for module_name in _builtin_module_names():
        try:
            spec = import_module("autotrace.instrumentations." + module_name).SPEC
        except Exception as exc:
            warn("built-in instrumentation %r cannot be loaded (%s: %s); skipped"
                 % (module_name, type(exc).__name__, exc))
            continue
        specs[spec.name] = spec
    for entry_name, target in distributions.entry_points():
        try:
            spec = _load_entry_point(target)
        except Exception as exc:
            warn("entry point %r = %r cannot be loaded (%s: %s); skipped"
                 % (entry_name, target, type(exc).__name__, exc))
            continue
        if spec.name in specs:
            warn("entry point %r defines instrumentation %r, which already exists; skipped"
                 % (entry_name, spec.name))
            continue
        specs[spec.name] = spec
    return specs


def _builtin_module_names():
    try:
        import autotrace.instrumentations as package
    except ImportError as exc:   # e.g. a source checkout shadowing the install
        warn("the built-in instrumentations cannot be imported (%s); none is active" % exc)
        return []
    names = set()
    for folder in package.__path__:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".py") and not entry.startswith("_"):
                names.add(entry[:-3])
    return sorted(names)


def _load_entry_point(target):
    from importlib import import_module
    module_name, _, attribute = target.partition(":")
    value = import_module(module_name.strip())
    for part in attribute.strip().split(".") if attribute else ():
        value = getattr(value, part)
    return value() if callable(value) and not hasattr(value, "patches") else value
