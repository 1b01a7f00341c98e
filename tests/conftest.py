"""Fixtures shared by every test folder.

Services: tests that need PostgreSQL (and later MariaDB, Redis) ask for a fixture that
connects first; unreachable means skip with the reason, or fail when
AUTOTRACE_REQUIRE_SERVICES=1 (set by .ci/run), so CI cannot pass by skipping.
"""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_DSN = os.environ.get("AUTOTRACE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")


def service_unavailable(what, reason):
    message = "%s is not reachable (%s)" % (what, reason)
    if os.environ.get("AUTOTRACE_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " and AUTOTRACE_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_dsn():
    try:
        import psycopg
        psycopg.connect(PG_DSN, connect_timeout=3).close()
    except Exception as exc:
        service_unavailable("PostgreSQL at %r" % PG_DSN, exc)
    return PG_DSN


# -- spans in this process ------------------------------------------------------------

@pytest.fixture(scope="session")
def _memory_exporter():
    """One SDK provider for the whole test process (OpenTelemetry allows setting the
    global provider once); autotrace's lazy setup adopts it."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from autotrace import tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    tracing.start()
    return exporter


@pytest.fixture
def spans(_memory_exporter):
    """The list of finished spans of this test (read it after the calls)."""
    _memory_exporter.clear()

    class Finished:
        def __call__(self):
            return list(_memory_exporter.get_finished_spans())

    yield Finished()
    _memory_exporter.clear()


@pytest.fixture
def instrument(_memory_exporter):
    """instrument("requests") applies that spec for the test and reverts it after."""
    from autotrace.config import Settings
    from autotrace.registry import Registry

    registry = Registry(Settings.from_env())
    names = []

    def apply(name):
        registry.activate(registry.specs[name])
        assert name in registry.applied, registry.events.get(name) and registry.events[name].detail
        names.append(name)
        return registry

    yield apply
    for name in names:
        registry.deactivate(name)


# -- subprocesses ---------------------------------------------------------------------

def autotrace_env(tmp_path, **extra):
    """An environment for a traced subprocess: its own store, no inherited toggles."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AUTOTRACE_", "OTEL_")) or k == "AUTOTRACE_REQUIRE_SERVICES"}
    env["AUTOTRACE_STORE"] = str(tmp_path / "traces.db")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update({k: str(v) for k, v in extra.items()})
    return env
