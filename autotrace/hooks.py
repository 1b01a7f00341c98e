"""Post-import hooks: run a callback right after a module is imported.

`when_imported("requests", callback)` calls `callback(module)` once `requests` has
finished executing, or at once if it is already imported. A finder placed first on
`sys.meta_path` notices imports of watched names only; every other import costs one
set lookup. wrapt has an importer of its own, but importing wrapt costs tens of
milliseconds, which interpreter startup cannot afford.

Callbacks run inside the app's import statement, so an exception in one is caught and
reported here: unlike wrapt's hooks, ours never fail the app's import.
"""

import sys

__all__ = ["when_imported", "watched_modules", "uninstall"]

_callbacks = {}   # module name -> [callback]


def when_imported(name, callback):
    """Call `callback(module)` after `name` is imported (now, if it already is)."""
    _callbacks.setdefault(name, []).append(callback)
    _install_finder()
    module = sys.modules.get(name)
    if module is not None:
        _run(callback, module)


def watched_modules():
    return sorted(_callbacks)


def uninstall():
    """Forget every callback and remove the finder (for tests)."""
    _callbacks.clear()
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _PostImportFinder)]


def _fire(name):
    module = sys.modules.get(name)
    if module is None:
        return
    for callback in list(_callbacks.get(name, ())):
        _run(callback, module)


def _run(callback, module):
    try:
        callback(module)
    except Exception as exc:  # a hook must never fail the app's import
        from autotrace.messages import warn
        warn("hook for %s failed (%s: %s); the module is left as it is"
             % (getattr(module, "__name__", module), type(exc).__name__, exc))


class _PostImportFinder:
    """Finds nothing itself: for a watched name it asks the finders after it and wraps
    the loader they return, so the callbacks run once the module has executed."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _callbacks:
            return None
        spec = _find_spec_elsewhere(self, fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _NotifyingLoader(spec.loader)
        return spec

    def invalidate_caches(self):
        pass


def _find_spec_elsewhere(me, fullname, path, target):
    for finder in sys.meta_path:
        if finder is me or isinstance(finder, _PostImportFinder):
            continue
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        spec = find_spec(fullname, path, target)
        if spec is not None:
            return spec
    return None


class _NotifyingLoader:
    """Delegates to the real loader and fires the callbacks after `exec_module`."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        # The import system has already bound this method; from here on the module and
        # its spec should show the real loader (pkgutil, importlib.resources use it).
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        self._loader.exec_module(module)
        _fire(module.__name__)

    def __getattr__(self, name):
        return getattr(self._loader, name)


def _install_finder():
    for finder in sys.meta_path:
        if isinstance(finder, _PostImportFinder):
            return
    sys.meta_path.insert(0, _PostImportFinder())
