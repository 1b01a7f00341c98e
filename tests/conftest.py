"""Fixtures shared by every test folder.

Services: tests that need PostgreSQL (and later MariaDB, Redis) ask for a fixture that
connects first; unreachable means skip with the reason, or fail when
AUTOTRACE_REQUIRE_SERVICES=1 (set by .ci/run), so CI cannot pass by skipping.
"""

import pytest

from support import MYSQL_URL, PG_DSN, REDIS_URL, mysql_arguments, service_unavailable


def _reachable(what, address, connect):
    """`address` once `connect()` succeeds; otherwise skip, or fail under CI."""
    try:
        connect()
    except Exception as exc:
        service_unavailable("%s at %r" % (what, address), exc)
    return address


def _connect_pg():
    import psycopg
    psycopg.connect(PG_DSN, connect_timeout=3).close()


def _connect_mysql():
    import pymysql
    pymysql.connect(connect_timeout=3, **mysql_arguments(MYSQL_URL)).close()


def _connect_redis():
    import redis
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    finally:
        client.close()


@pytest.fixture(scope="session")
def pg_dsn():
    return _reachable("PostgreSQL", PG_DSN, _connect_pg)


@pytest.fixture(scope="session")
def mysql_url():
    return _reachable("MariaDB/MySQL", MYSQL_URL, _connect_mysql)


@pytest.fixture(scope="session")
def redis_url():
    return _reachable("Redis", REDIS_URL, _connect_redis)


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
