"""The guard around every patched call: results intact, app exceptions untouched,
a broken instrumentation disables itself with one warning, apply/revert as a whole."""

import types

import pytest

from autotrace import patching
from autotrace.spec import Instrumentation, Patch


class _Builder:
    """Stands in for a Wrapper: hands the core a ready Interceptor."""

    def __init__(self, interceptor):
        self.interceptor = interceptor

    def build(self, name):
        return self.interceptor


def _target_module():
    module = types.ModuleType("patch_target")

    class Client:
        def call(self, value):
            if value == "raise":
                raise KeyError("app error")
            return value * 2

    def helper(x):
        return x + 1

    module.Client = Client
    module.helper = helper
    return module


@pytest.fixture
def target(monkeypatch):
    import sys
    module = _target_module()
    monkeypatch.setitem(sys.modules, "patch_target", module)
    return module


def _spec(name, interceptor, attributes=("Client.call", "helper")):
    return Instrumentation(name=name, modules=("patch_target",), distribution="", supported="",
                           patches=[Patch("patch_target", a, _Builder(interceptor)) for a in attributes])


def recording():
    calls = []
    interceptor = patching.Interceptor(
        before=lambda instance, args, kwargs: calls.append(("before", args)) or "state",
        after=lambda state, result: calls.append(("after", state, result)) or result,
        failed=lambda state, exc: calls.append(("failed", state, exc)),
    )
    return interceptor, calls


def test_wraps_and_reverts_exactly(target):
    original_call = target.Client.__dict__["call"]
    original_helper = target.helper
    interceptor, calls = recording()
    applied = patching.apply(_spec("t1", interceptor))
    assert patching.is_patched(target.Client.__dict__["call"])
    assert patching.is_patched(target.helper)
    assert target.Client().call(3) == 6 and target.helper(1) == 2
    assert [c[0] for c in calls] == ["before", "after", "before", "after"]
    patching.revert(applied)
    assert target.Client.__dict__["call"] is original_call
    assert target.helper is original_helper


def test_double_apply_does_not_wrap_twice(target):
    interceptor, calls = recording()
    first = patching.apply(_spec("t2", interceptor))
    second = patching.apply(_spec("t2", interceptor))
    assert second.originals == []
    target.helper(1)
    assert len(calls) == 2   # one before, one after: not wrapped twice
    patching.revert(first)
    assert not patching.is_patched(target.helper)


def test_app_exception_is_the_same_object(target):
    interceptor, calls = recording()
    applied = patching.apply(_spec("t3", interceptor))
    try:
        with pytest.raises(KeyError) as info:
            target.Client().call("raise")
        assert calls[-1][0] == "failed" and calls[-1][2] is info.value
    finally:
        patching.revert(applied)


@pytest.mark.parametrize("broken", ["before", "after", "failed"])
def test_our_errors_never_reach_the_app(target, capsys, broken):
    def boom(*args):
        raise RuntimeError("builder bug")
    parts = {"before": lambda i, a, k: "s", "after": lambda s, r: r, "failed": lambda s, e: None}
    parts[broken] = boom
    applied = patching.apply(_spec("broken_" + broken, patching.Interceptor(**parts)))
    try:
        if broken == "failed":
            with pytest.raises(KeyError, match="app error"):
                target.Client().call("raise")
        else:
            assert target.Client().call(5) == 10
        # disabled now: later calls go straight through, and the warning was printed once
        assert target.Client().call(6) == 12
        err = capsys.readouterr().err
        assert err.count("disabled after an internal error") == 1
        assert "RuntimeError: builder bug" in err
    finally:
        patching.revert(applied)


def test_missing_target_applies_nothing(target):
    interceptor, _ = recording()
    spec = _spec("t4", interceptor, attributes=("helper", "Client.nope"))
    with pytest.raises(AttributeError):
        patching.apply(spec)
    assert not patching.is_patched(target.helper)


def test_async_wrapper_awaits_and_reraises(target):
    import asyncio

    async def fetch(x):
        if x < 0:
            raise ValueError(x)
        return x

    target.fetch = fetch
    calls = []
    interceptor = patching.Interceptor(lambda i, a, k: "s", lambda s, r: calls.append(r) or r,
                                       lambda s, e: calls.append(e), is_async=True)
    applied = patching.apply(_spec("t5", interceptor, attributes=("fetch",)))
    try:
        assert asyncio.run(target.fetch(4)) == 4
        with pytest.raises(ValueError) as info:
            asyncio.run(target.fetch(-1))
        assert calls == [4, info.value]
    finally:
        patching.revert(applied)


def test_a_rewriting_interceptor_changes_the_call_arguments(target):
    seen = []

    def before(instance, args, kwargs):
        return "state", (args[0] + 10,), kwargs

    interceptor = patching.Interceptor(before, lambda s, r: seen.append(s) or r, lambda s, e: None,
                                       rewrites=True)
    applied = patching.apply(_spec("t6", interceptor, attributes=("helper",)))
    try:
        assert target.helper(1) == 12          # the original saw 11
        assert seen == ["state"]
    finally:
        patching.revert(applied)


def test_a_failing_rewrite_keeps_the_apps_arguments(target, capsys):
    interceptor = patching.Interceptor(lambda i, a, k: "not a triple", lambda s, r: r, lambda s, e: None,
                                       rewrites=True)
    applied = patching.apply(_spec("t7", interceptor, attributes=("helper",)))
    try:
        assert target.helper(1) == 2
        assert target.helper(2) == 3
        assert capsys.readouterr().err.count("instrumentation 't7' disabled") == 1
    finally:
        patching.revert(applied)


def _apply_plain_patch(name, interceptor):
    """Client.call patched as a plain method by `interceptor`; returns what to revert."""
    spec = Instrumentation(name=name, modules=("patch_target",), distribution="", supported="",
                           patches=[Patch("patch_target", "Client.call", _Builder(interceptor), plain=True)])
    return patching.apply(spec)


def _apply_plain_recording_patch(name, **hint):
    """Client.call patched as a plain method by an interceptor that records the args of
    each call it handles; `hint` is the Interceptor's needs=, unless= or needs_attribute=."""
    calls = []
    interceptor = patching.Interceptor(lambda instance, args, kwargs: calls.append(args) or "state",
                                       lambda state, result: result, lambda state, exc: None, **hint)
    return calls, _apply_plain_patch(name, interceptor)


def test_a_plain_method_that_needs_a_context_value_runs_only_when_it_is_there(target):
    from opentelemetry import context as otel_context

    key = otel_context.create_key("test-needs")
    calls, applied = _apply_plain_recording_patch("t8", needs=key)
    try:
        client = target.Client()
        assert client.call(2) == 4 and calls == []   # no value: the original, nothing of ours
        with pytest.raises(KeyError):
            client.call("raise")
        token = otel_context.attach(otel_context.set_value(key, "here"))
        try:
            assert client.call(value=3) == 6
        finally:
            otel_context.detach(token)
        assert calls == [()]   # called by keyword: args empty, the interceptor ran once
        assert target.Client.call.__wrapped__ is not None
    finally:
        patching.revert(applied)


def test_an_observing_plain_method_runs_before_alone_and_contains_its_failure(target, capsys):
    from opentelemetry import context as otel_context

    key = otel_context.create_key("test-observes")
    seen = []

    def before(instance, args, kwargs):
        if args == (5,):
            raise RuntimeError("ours")
        seen.append(args)

    applied = _apply_plain_patch("t11", patching.Interceptor(
        before, lambda state, result: result, lambda state, exc: None, needs=key, observes=True))
    try:
        client = target.Client()
        assert client.call(2) == 4 and seen == []   # no value: the original alone
        token = otel_context.attach(otel_context.set_value(key, "here"))
        try:
            assert client.call(3) == 6 and seen == [(3,)]
            with pytest.raises(KeyError):   # the original's own exception, after `before` looked
                client.call("raise")
            assert seen == [(3,), ("raise",)]
            suppressed = otel_context.attach(otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True))
            try:
                assert client.call(4) == 8 and seen == [(3,), ("raise",)]   # suppressed: not observed
            finally:
                otel_context.detach(suppressed)
            assert client.call(5) == 10   # `before` fails: the app's call goes on; the patch turns off
            assert client.call(6) == 12 and seen == [(3,), ("raise",)]
        finally:
            otel_context.detach(token)
        assert capsys.readouterr().err.count("instrumentation 't11' disabled") == 1
    finally:
        patching.revert(applied)


def test_a_plain_method_unless_a_context_value_skips_the_interceptor_while_it_is_set(target):
    from opentelemetry import context as otel_context

    key = otel_context.create_key("test-unless")
    calls, applied = _apply_plain_recording_patch("t9", unless=key)
    try:
        client = target.Client()
        assert client.call(2) == 4 and calls == [(2,)]   # no value: the interceptor runs
        token = otel_context.attach(otel_context.set_value(key, True))
        try:
            assert client.call(3) == 6
            with pytest.raises(KeyError):
                client.call("raise")
        finally:
            otel_context.detach(token)
        assert calls == [(2,)]   # set: the original alone
    finally:
        patching.revert(applied)


def test_a_plain_method_that_needs_an_instance_attribute_runs_only_when_it_is_there(target):
    calls, applied = _apply_plain_recording_patch("t10", needs_attribute="_pending")
    try:
        client = target.Client()
        assert client.call(2) == 4 and calls == []   # not there: the original alone
        client._pending = "span"
        assert client.call(value=3) == 6
        assert calls == [()]
    finally:
        patching.revert(applied)
