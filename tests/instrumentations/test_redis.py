"""redis-py against the real Redis: commands, pipelines, transactions, sync and asyncio."""

import asyncio

import pytest
from opentelemetry.trace import StatusCode


@pytest.fixture
def redis(instrument, redis_url):
    instrument("redis")
    import redis
    return redis


def test_commands_are_spans_without_keys_or_values(redis, redis_url, spans):
    client = redis.Redis.from_url(redis_url)
    client.set("at:user:42", "secret-value")
    assert client.get("at:user:42") == b"secret-value"
    client.delete("at:user:42")
    client.close()
    set_span, get_span, delete_span = spans()
    assert (set_span.name, get_span.name, delete_span.name) == ("SET", "GET", "DEL")
    assert dict(set_span.attributes) == {
        "db.system.name": "redis", "db.namespace": "0", "server.address": "127.0.0.1", "server.port": 6379,
        "db.operation.name": "SET", "db.query.text": "SET ? ?"}
    assert get_span.attributes["db.query.text"] == "GET ?"
    stored = str([dict(s.attributes) for s in spans()])
    assert "secret-value" not in stored and "at:user" not in stored


def test_database_index_is_the_namespace(redis, redis_url, spans):
    client = redis.Redis(host="127.0.0.1", port=6379, db=3)
    client.ping()
    client.close()
    (ping,) = spans()
    assert (ping.name, ping.attributes["db.namespace"]) == ("PING", "3")


def test_pipeline_and_transaction_are_one_span_each(redis, redis_url, spans):
    client = redis.Redis.from_url(redis_url)
    with client.pipeline(transaction=False) as pipe:
        pipe.set("at:p1", "v1").get("at:p1").delete("at:p1")
        assert pipe.execute() == [True, b"v1", 1]
    with client.pipeline() as pipe:
        pipe.incr("at:counter").delete("at:counter")
        assert pipe.execute() == [1, 1]
    with client.pipeline() as pipe:
        assert pipe.execute() == []   # nothing queued, nothing sent
    client.close()
    pipeline, multi = spans()
    assert pipeline.name == "PIPELINE"
    assert pipeline.attributes["db.operation.batch.size"] == 3
    assert pipeline.attributes["db.query.text"] == "SET ? ?; GET ?; DEL ?"
    assert multi.name == "MULTI"
    assert multi.attributes["db.operation.name"] == "MULTI"
    assert multi.attributes["db.query.text"] == "INCRBY ? ?; DEL ?"   # redis-py sends incr() as INCRBY


def test_asyncio_commands_and_pipeline(redis, redis_url, spans):
    import redis.asyncio

    async def work():
        client = redis.asyncio.Redis.from_url(redis_url)
        await client.set("at:a", "1")
        value = await client.get("at:a")
        async with client.pipeline(transaction=True) as pipe:
            pipe.get("at:a").delete("at:a")
            result = await pipe.execute()
        await client.aclose()
        return value, result

    assert asyncio.run(work()) == (b"1", [b"1", 1])
    assert [s.name for s in spans()] == ["SET", "GET", "MULTI"]
    assert spans()[-1].attributes["db.operation.batch.size"] == 2


def test_errors_end_the_span_and_reach_the_app_unchanged(redis, redis_url, spans):
    client = redis.Redis.from_url(redis_url)
    client.set("at:string", "x")
    with pytest.raises(redis.exceptions.ResponseError) as info:
        client.lpush("at:string", "y")
    client.delete("at:string")
    client.close()
    failed = spans()[1]
    assert failed.name == "LPUSH"
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == "redis.exceptions.ResponseError"
    assert "WRONGTYPE" in str(info.value)


def test_unreachable_server_is_an_error_span(redis, spans):
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, retry=None)
    with pytest.raises(redis.exceptions.ConnectionError):
        client.get("k")
    (span,) = spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "redis.exceptions.ConnectionError"


def test_watch_then_multi(redis, redis_url, spans):
    client = redis.Redis.from_url(redis_url)
    client.set("at:balance", 10)

    def spend(pipe):
        balance = int(pipe.get("at:balance"))
        pipe.multi()
        pipe.set("at:balance", balance - 3)

    assert client.transaction(spend, "at:balance") == [True]
    assert client.get("at:balance") == b"7"
    client.delete("at:balance")
    client.close()
    names = [s.name for s in spans()]
    assert names == ["SET", "WATCH", "GET", "MULTI", "GET", "DEL"], names
    assert spans()[3].attributes["db.query.text"] == "SET ? ?"
    assert "db.operation.batch.size" not in spans()[3].attributes   # one command: not a batch


def test_clients_on_different_databases_keep_their_own_namespace(redis, redis_url, spans):
    # Connection facts are remembered per connection pool: interleaved clients must not mix them.
    first, third = redis.Redis(host="127.0.0.1", port=6379, db=1), redis.Redis(host="127.0.0.1", port=6379, db=3)
    for client in (first, third, first, third):
        client.ping()
    first.close()
    third.close()
    del first   # a new pool may now reuse the first one's memory: it must get its own facts
    again = redis.Redis(host="127.0.0.1", port=6379, db=5)
    again.ping()
    again.close()
    assert [s.attributes["db.namespace"] for s in spans()] == ["1", "3", "1", "3", "5"]
