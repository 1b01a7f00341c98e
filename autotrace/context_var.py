"""The ContextVar behind OpenTelemetry's current context, for the few per-call paths
where OpenTelemetry's functions cost more than the work they do.

`opentelemetry.context.attach(c)` is two Python calls around `ContextVar.set(c)`,
`detach(t)` two more around `ContextVar.reset(t)` (plus a try that logs), and
`get_current()` two around `ContextVar.get()`. On a per-task or per-request path of a
few microseconds (a thread pool's submit, a request that is not sampled) those
layers are a measurable share. With the default runtime context (contextvars) the
variable's own methods do the same thing; with any other runtime context
(OTEL_PYTHON_CONTEXT) OpenTelemetry's functions are used as they are.

Import only once `opentelemetry.context` is loaded: this module imports it.
"""

from opentelemetry import context as _otel_context
from opentelemetry.trace import INVALID_SPAN, set_span_in_context

__all__ = ["get_current", "attach", "reset", "reset_or_raise", "get_value", "SPAN_KEY"]

# The key `trace.set_span_in_context` stores the current span under (the API keeps its
# name private): found by asking the API itself, so a rename cannot break it.
SPAN_KEY = next(iter(set_span_in_context(INVALID_SPAN, _otel_context.Context())))


def _variable():
    runtime = getattr(_otel_context, "_RUNTIME_CONTEXT", None)
    try:
        from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
    except ImportError:   # pragma: no cover - present in every supported release
        return None
    if type(runtime) is not ContextVarsRuntimeContext:
        return None
    variable = getattr(runtime, "_current_context", None)
    return variable if hasattr(variable, "reset") else None


_VARIABLE = _variable()

if _VARIABLE is not None:
    get_current = _VARIABLE.get
    attach = _VARIABLE.set
    # `reset` without its try, for a caller that has one anyway (one Python call less):
    # raises on a token of another thread or task, or one used already.
    reset_or_raise = _VARIABLE.reset

    def reset(token, _reset=_VARIABLE.reset):
        """Leave a context attached with `attach`; never raises (a token from another
        thread or task is ignored, as OpenTelemetry's detach does after logging)."""
        try:
            _reset(token)
        except Exception:
            pass

    def get_value(key, _get=_VARIABLE.get):
        """The value of `key` in the current context (None when absent)."""
        return _get().get(key)
else:
    get_current = _otel_context.get_current
    attach = _otel_context.attach
    reset = reset_or_raise = _otel_context.detach

    def get_value(key):
        return _otel_context.get_value(key)
