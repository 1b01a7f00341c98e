"""autotrace's bootstrap: start tracing, then run the sitecustomize we shadow.

This folder is put first on PYTHONPATH by `autotrace run` (or by hand, see
`autotrace path`). Python imports one module named `sitecustomize`, so ours chain-loads
the next one on sys.path (the user's own, or the Python distribution's).
"""


def _start_autotrace():
    try:
        from autotrace import bootstrap
    except Exception as exc:  # autotrace not importable by this interpreter
        import sys
        sys.stderr.write("autotrace: warning: cannot import autotrace (%s); the app runs untraced\n" % exc)
        return
    bootstrap.start()


def _chain_next_sitecustomize():
    import os
    import sys
    from importlib.machinery import PathFinder

    # Only entries after ours: two copies of this folder on sys.path then chain
    # forward and stop, instead of loading each other forever.
    here = os.path.realpath(os.path.dirname(os.path.abspath(__file__)))
    real = [os.path.realpath(p or ".") for p in sys.path]
    start = real.index(here) + 1 if here in real else 0
    rest = [p for p, r in zip(sys.path[start:], real[start:]) if r != here]
    spec = PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = type(sys)("sitecustomize")
    module.__file__ = spec.origin
    module.__spec__ = spec
    module.__loader__ = spec.loader
    # While it runs, `import sitecustomize` inside it must find itself, not us.
    ours = sys.modules.get("sitecustomize")
    sys.modules["sitecustomize"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.stderr.write("autotrace: warning: the next sitecustomize (%s) raised %s: %s\n"
                         % (spec.origin, type(exc).__name__, exc))
    finally:
        if ours is not None:
            sys.modules["sitecustomize"] = ours


_start_autotrace()
_chain_next_sitecustomize()
