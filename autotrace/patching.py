"""Apply and revert an instrumentation's declared patches, and contain our own errors.

A shared span builder returns an `Interceptor`: three small functions around the
app's call. The wrapper built here calls them in a fixed order and is the one place
that decides what happens when *our* code fails:

    state = before(instance, args, kwargs)     # ours: an error here skips tracing
    (rewrites=True: before returns (state, args, kwargs), the call's new arguments)
    result = wrapped(*args, **kwargs)          # the app's: its exception passes through
    result = after(state, result)              # ours: an error here keeps `result`
    (on the app's exception) failed(state, exc), then the same exception is re-raised

The first internal error disables that instrumentation (every later call goes
straight through) and prints one warning. Because the app's call is never inside our
try blocks, its exception reaches it as the same object, with its own traceback.
"""

import sys
from types import FunctionType

from autotrace.messages import warn

__all__ = ["Interceptor", "Replacement", "apply", "revert", "guard", "switch_for", "is_patched", "raw_attribute", "Applied"]

_MARK = "_self_autotrace_instrumentation"


class Interceptor:
    """What a span builder hands to the core. `after` may return a replacement result
    (for example a proxy that ends the span when a streamed body is closed).

    `rewrites=True`: `before` returns `(state, args, kwargs)` and the original is called
    with those arguments instead (a comment added to a SQL statement, a factory
    argument swapped). If `before` fails, the app's own arguments are used.

    `accepts(instance, args, kwargs)` (async only): False sends the call straight to the
    original, synchronously. An async wrapper otherwise returns a coroutine for any
    arguments, where the original raises TypeError at once; servers probe for that
    error (uvicorn calls `app()` to tell an ASGI app from an app factory). It also
    spares the calls this layer has nothing to do for (an inner layer of a request an
    outer one traces) a coroutine of ours around the original's.

    `needs` (a key of OpenTelemetry's context): the interceptor has nothing to do
    unless the current context holds a value under that key (a framework's route hook
    finds no request span otherwise). A plain-method patch then calls the original at
    once, without the guard: on a request that is not sampled that is most of what
    such a hook costs.

    `unless` (a key of OpenTelemetry's context): the opposite: nothing to do while the
    current context holds a true value under it (an inner HTTP layer of a request an
    outer one traces). `needs_attribute` (a name): nothing to do unless the instance's
    `__dict__` holds it (the step that ends a span another step left there). Both are
    hints for plain-method patches, which then call the original at once; `before`
    must still decline such calls itself, as a wrapt-wrapped target runs it anyway.

    `observes=True`: `before` only looks (names the request's span after its route) and
    `after` / `failed` do nothing; a plain-method patch then runs `before`, contained,
    and calls the original itself, without the guard's frames around it."""

    __slots__ = ("before", "after", "failed", "is_async", "rewrites", "accepts", "needs", "unless",
                 "needs_attribute", "observes")

    def __init__(self, before, after, failed, is_async=False, rewrites=False, accepts=None, needs=None,
                 unless=None, needs_attribute=None, observes=False):
        self.before = before
        self.after = after
        self.failed = failed
        self.is_async = is_async
        self.rewrites = rewrites
        self.accepts = accepts
        self.needs = needs
        self.unless = unless
        self.needs_attribute = needs_attribute
        self.observes = observes and not (is_async or rewrites)


class Replacement:
    """What a builder hands to the core instead of an Interceptor when a wrapt wrapper
    and the guard would cost more than the work itself (per-task context moves in the
    standard library's thread pools, microseconds on a path of a few microseconds).

    `make(original, switch)` returns a plain function put in the original's place; it
    calls `original` itself and must contain its own errors (trip `switch`), as the
    guard would. The core marks it, sets its `__wrapped__`, and reverts it like any
    other patch. Only for plain functions (methods defined with `def`)."""

    __slots__ = ("make",)

    def __init__(self, make):
        self.make = make


class _Switch:
    """Per-instrumentation on/off state shared by all its wrappers."""

    __slots__ = ("name", "on")

    def __init__(self, name):
        self.name = name
        self.on = True

    def trip(self, exc):
        if self.on:
            self.on = False
            warn("instrumentation %r disabled after an internal error (%s: %s); "
                 "the app continues untraced for this library" % (self.name, type(exc).__name__, exc))


_switches = {}   # instrumentation name -> _Switch


def switch_for(name):
    """The on/off state of one instrumentation (created on first use)."""
    found = _switches.get(name)
    if found is None:
        found = _switches[name] = _Switch(name)
    return found


def guard(interceptor, instrumentation):
    """A `(wrapped, instance, args, kwargs)` function running `interceptor` around the
    call with our errors contained. Used for patches, and by builders that wrap
    objects the app receives (proxies for C types that cannot be patched)."""
    return _make_wrapper(interceptor, switch_for(instrumentation))


class Applied:
    """The record of one applied instrumentation: enough to restore every original."""

    def __init__(self, name):
        self.name = name
        self.switch = switch_for(name)
        self.switch.on = True
        self.originals = []   # (owner, attribute, original value as found in owner.__dict__)


def apply(spec):
    """Wrap every target of `spec`; return an Applied record. Raises on a missing target
    after restoring what was already wrapped, so a spec is applied whole or not at all."""
    import wrapt  # only now: the target library is being imported anyway
    from importlib import import_module

    applied = Applied(spec.name)
    try:
        for patch in spec.patches:
            owner, attribute = _resolve(import_module(patch.module), patch.attribute)
            original = raw_attribute(owner, attribute)
            if is_patched(original):
                continue   # already ours: patching twice is impossible
            interceptor = patch.wrapper.build(spec.name)
            if isinstance(interceptor, Replacement):
                _replace(owner, attribute, original, interceptor, applied.switch)
            elif getattr(patch, "plain", False) and type(original) is FunctionType and not interceptor.is_async:
                _replace(owner, attribute, original, _plain_method(interceptor), applied.switch)
            else:
                wrapt.wrap_function_wrapper(owner, attribute, guard(interceptor, spec.name))
            setattr(raw_attribute(owner, attribute), _MARK, spec.name)
            applied.originals.append((owner, attribute, original))
    except Exception:
        revert(applied)
        raise
    return applied


def revert(applied):
    """Put every original back, newest first."""
    for owner, attribute, original in reversed(applied.originals):
        setattr(owner, attribute, original)
    applied.originals.clear()
    applied.switch.on = False


def is_patched(value):
    """True when `value` (as stored on its owner, see raw_attribute) is our wrapper."""
    try:
        return getattr(value, _MARK, None) is not None
    except Exception:
        return False


def raw_attribute(owner, attribute):
    """The attribute as stored: on a class, the descriptor itself, not a bound method."""
    namespace = getattr(owner, "__dict__", None)
    if namespace is not None and attribute in namespace:
        return namespace[attribute]
    return getattr(owner, attribute)


def _replace(owner, attribute, original, replacement, switch):
    function = replacement.make(original, switch)
    function.__wrapped__ = original
    for name in ("__name__", "__qualname__", "__doc__", "__module__"):
        try:
            setattr(function, name, getattr(original, name))
        except (AttributeError, TypeError):
            pass
    setattr(owner, attribute, function)


def _resolve(module, dotted):
    owner = module
    parts = dotted.split(".")
    for part in parts[:-1]:
        owner = getattr(owner, part)
    return owner, parts[-1]


def _make_wrapper(interceptor, switch):
    get_value, _SUPPRESS_INSTRUMENTATION_KEY = _suppression_check()
    before, after, failed = interceptor.before, interceptor.after, interceptor.failed
    rewrites = interceptor.rewrites

    if interceptor.is_async:
        async def async_wrapper(wrapped, instance, args, kwargs):
            if not switch.on or get_value(_SUPPRESS_INSTRUMENTATION_KEY):
                return await wrapped(*args, **kwargs)
            try:
                state = before(instance, args, kwargs)
                if rewrites:
                    state, args, kwargs = state
            except Exception as exc:
                switch.trip(exc)
                return await wrapped(*args, **kwargs)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                _contain(failed, state, exc, switch)
                raise
            return _finish(after, state, result, switch)

        accepts = interceptor.accepts
        if accepts is None:
            return async_wrapper

        def checked_wrapper(wrapped, instance, args, kwargs):
            if switch.on:
                try:
                    accepted = accepts(instance, args, kwargs)
                except Exception as exc:
                    switch.trip(exc)
                    accepted = False
                if accepted:
                    return async_wrapper(wrapped, instance, args, kwargs)
            return wrapped(*args, **kwargs)
        return checked_wrapper

    get_current = _current_context_getter()

    def wrapper(wrapped, instance, args, kwargs):
        if not switch.on or (get_current().get(_SUPPRESS_INSTRUMENTATION_KEY) if get_current is not None
                             else get_value(_SUPPRESS_INSTRUMENTATION_KEY)):
            return wrapped(*args, **kwargs)
        try:
            state = before(instance, args, kwargs)
            if rewrites:
                state, args, kwargs = state
        except Exception as exc:
            switch.trip(exc)
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            _contain(failed, state, exc, switch)
            raise
        try:   # _finish, inlined: this runs on every traced call
            return after(state, result)
        except Exception as exc:
            switch.trip(exc)
            return result
    return wrapper


_NOTHING = frozenset()


def _plain_method(interceptor):
    """`Patch(..., plain=True)`: the guard above as a plain function in place of a
    method defined with `def`, for per-request paths. A wrapt proxy costs a bound
    wrapper object and a call through it on every call (about 6,000 instructions per
    call under callgrind, with the guard); this costs one Python call into the same
    guard (`instance` is self)."""
    needs, unless, needs_attribute = interceptor.needs, interceptor.unless, interceptor.needs_attribute

    def make(original, switch):
        guarded = _make_wrapper(interceptor, switch)   # the one guard: same order, same containment
        if unless is not None or needs is not None:
            # (only now: context_var needs OpenTelemetry loaded, which these hints' keys imply)
            from autotrace.context_var import get_current

        if interceptor.observes and needs is not None:
            before = interceptor.before
            _, suppressed = _suppression_check()

            def method(self, *args, **kwargs):
                current = get_current()
                # the guard's checks, in its order, around `before` alone
                if current.get(needs) is not None and switch.on and not current.get(suppressed):
                    try:
                        before(self, args, kwargs)
                    except Exception as exc:
                        switch.trip(exc)
                if args or kwargs:
                    return original(self, *args, **kwargs)
                return original(self)   # (Flask's full_dispatch_request) a plain call is cheaper
            return method

        if unless is not None:
            def method(self, *args, **kwargs):
                if get_current().get(unless):   # nothing for the interceptor to do
                    return original(self, *args, **kwargs)
                return guarded(original.__get__(self), self, args, kwargs)
            return method

        if needs_attribute is not None:
            def method(self, *args, **kwargs):
                if needs_attribute not in getattr(self, "__dict__", _NOTHING):   # nothing to end here
                    return original(self, *args, **kwargs)
                return guarded(original.__get__(self), self, args, kwargs)
            return method

        if needs is not None:
            def method(self, *args, **kwargs):
                if get_current().get(needs) is None:   # nothing for the interceptor to do
                    if args or kwargs:
                        return original(self, *args, **kwargs)
                    return original(self)   # (Flask's full_dispatch_request) a plain call is cheaper
                return guarded(original.__get__(self), self, args, kwargs)
            return method

        def method(self, *args, **kwargs):
            return guarded(original.__get__(self), self, args, kwargs)   # bound, as wrapt passes it
        return method
    return Replacement(make)


def _suppression_check():
    """(get_value, key) telling whether OpenTelemetry's "do not trace this" flag is set:
    set by our exporter threads (their HTTP and sqlite3 calls must not become spans) and
    by OpenTelemetry code. The standard-library instrumentations are applied before
    OpenTelemetry may be imported, and must not import it (it costs milliseconds):
    until it is imported nothing can be suppressed."""
    context = sys.modules.get("opentelemetry.context")
    if context is not None:
        from autotrace import context_var   # one C-level lookup instead of three Python calls
        return context_var.get_value, context._SUPPRESS_INSTRUMENTATION_KEY

    def get_value(key):
        loaded = sys.modules.get("opentelemetry.context")
        return loaded is not None and loaded.get_value(loaded._SUPPRESS_INSTRUMENTATION_KEY)
    return get_value, None


def _current_context_getter():
    """context_var.get_current once OpenTelemetry is loaded (the sync wrapper then reads
    the suppression flag in one C call, no Python function between); None before."""
    if sys.modules.get("opentelemetry.context") is None:
        return None
    from autotrace import context_var
    return context_var.get_current


def _contain(failed, state, exc, switch):
    try:
        failed(state, exc)
    except Exception as ours:
        switch.trip(ours)


def _finish(after, state, result, switch):
    try:
        return after(state, result)
    except Exception as exc:
        switch.trip(exc)
        return result
