"""start(): what runs at interpreter startup, once per process.

Called from sitecustomize. Reads the settings, prints their warnings, installs the
import hooks, arranges the exit flush, and returns. It imports nothing heavy: no
OpenTelemetry, no wrapt, no instrumented library; those load when the app imports a
library we instrument. Any failure here prints one line and the app runs untraced.
"""

import os
import sys

__all__ = ["start", "settings", "registry"]

_settings = None
_registry = None
_started = False


def settings():
    """The process's Settings, read from the environment on first use."""
    global _settings
    if _settings is None:
        from autotrace.config import Settings
        _settings = Settings.from_env()
    return _settings


def registry():
    return _registry


def start():
    """Set up autotrace for this process. Never raises."""
    global _started, _registry
    if _started:
        return
    _started = True
    try:
        from autotrace import hooks, messages
        from autotrace.registry import Registry

        current = settings()
        messages.set_debug(current.debug)
        if not current.enabled:
            messages.debug("AUTOTRACE_ENABLED=false: nothing is instrumented")
            return
        _registry = Registry(current)
        for problem in current.problems:
            messages.warn(problem)
        _registry.install()
        hooks.when_imported("opentelemetry.trace", _start_tracing)
        hooks.when_imported("opentelemetry.propagate", _use_our_propagators)
        _flush_on_sigterm()
        messages.debug("started in pid %d; watching %s" % (os.getpid(), ", ".join(hooks.watched_modules())))
    except Exception as exc:
        try:
            sys.stderr.write("autotrace: warning: could not start (%s: %s); the app runs untraced\n"
                             % (type(exc).__name__, exc))
        except Exception:
            pass


def _start_tracing(module):
    # The API was imported (by the app or by one of our span builders): set the SDK
    # provider now, so a tracer the app takes from the API is a real one.
    from autotrace import tracing
    tracing.start()


def _use_our_propagators(module):
    # Code that injects or extracts by hand with opentelemetry.propagate then follows
    # OTEL_PROPAGATORS exactly as our instrumentations do.
    from autotrace import tracing
    module.set_global_textmap(tracing.propagator())


def _flush_on_sigterm():
    """Flush queued spans when a process manager sends SIGTERM.

    Only when SIGTERM still has its default action: an app or server that installs
    its own handler (gunicorn, uvicorn) replaces ours and exits through atexit, where
    the flush also runs. `_signal` rather than `signal`: the latter imports enum,
    which costs milliseconds at startup.
    """
    import _signal
    if not hasattr(_signal, "SIGTERM"):
        return
    try:
        if _signal.getsignal(_signal.SIGTERM) == _signal.SIG_DFL:
            _signal.signal(_signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):   # not the main thread, or an embedded interpreter
        pass


def _on_sigterm(signum, frame):
    import _signal
    try:
        from autotrace import tracing
        tracing.stop()
    finally:
        # Die of SIGTERM as the default action would, so the exit status is unchanged.
        _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
        os.kill(os.getpid(), _signal.SIGTERM)
