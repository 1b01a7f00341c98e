"""redis-py: command spans for Redis and redis.asyncio.Redis; a pipeline is one span.

A pipeline that WATCHes runs its commands at once until MULTI: those are command spans."""

from operator import attrgetter

from autotrace.spec import Instrumentation, Patch, Wrapper

_connection_pool = attrgetter("connection_pool")   # what the facts below come from: remembered per pool


def _connection_facts(client):
    settings = client.connection_pool.connection_kwargs
    database = str(settings.get("db", 0))
    if "path" in settings:   # a unix socket
        return database, None, None
    return database, settings.get("host"), settings.get("port")


def _pipeline_commands(pipeline):
    return [arguments for arguments, _options in pipeline.command_stack]


def _sync_transaction(pipeline):
    return bool(pipeline.transaction or pipeline.explicit_transaction)


def _async_transaction(pipeline):
    return bool(pipeline.is_transaction or pipeline.explicit_transaction)


def _command(is_async):
    return Wrapper("_kv.command", system="redis", connection_facts=_connection_facts,
                   connection_of=_connection_pool, is_async=is_async)


def _pipeline(is_async, is_transaction):
    return Wrapper("_kv.pipeline", system="redis", connection_facts=_connection_facts,
                   pipeline_commands=_pipeline_commands, is_transaction=is_transaction, is_async=is_async)


SPEC = Instrumentation(
    name="redis",
    modules=("redis",),
    distribution="redis",
    supported=">=4.2,<9",
    description="Command spans for redis-py (sync, asyncio, pipelines)",
    patches=(
        Patch("redis.client", "Redis.execute_command", _command(is_async=False), plain=True),
        Patch("redis.client", "Pipeline.execute", _pipeline(False, _sync_transaction), plain=True),
        Patch("redis.client", "Pipeline.immediate_execute_command", _command(is_async=False), plain=True),
        Patch("redis.asyncio.client", "Redis.execute_command", _command(is_async=True)),
        Patch("redis.asyncio.client", "Pipeline.execute", _pipeline(True, _async_transaction)),
        Patch("redis.asyncio.client", "Pipeline.immediate_execute_command", _command(is_async=True)),
    ),
)
