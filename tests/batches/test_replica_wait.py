"""In replica mode a chunk's `sending` mark must reach a replica before its request leaves."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from relay_core import keys
from relay_core.batches.producer import Producer
from relay_core.scheduler.ratelimit import Limits
from relay_core.scheduler.state import Scheduler
from tests.conftest import make_settings
from worker.batches.chunkstate import (
    ChunkState,
    NotReplicated,
    begin_send,
    load_chunk,
    set_state,
    settle,
)


async def cut_one_chunk(redis: Redis, redis_url: str) -> ChunkState:
    """A one-file batch whose only chunk the scheduler has cut (no worker runs)."""
    settings = make_settings(redis_url, EXTEND_FILES_PER_MINUTE=100_000, EXTEND_RUN_RPS=1000)
    accepted = await Producer(redis, settings).submit(
        {"workflowId": "wf", "files": [{"url": "https://f.example/1"}]}
    )
    await redis.delete(keys.SCHED_LEASE)
    sched = Scheduler(redis, Limits.of(settings), settings.batches.slot_seconds)
    while (await sched.take("test")).outcome != "granted":
        pass
    chunk = await load_chunk(redis, accepted.batchId, 0)
    assert chunk is not None
    return chunk


async def test_no_replica_no_send_and_the_mark_stays_for_a_look(
    redis: Redis, redis_url: str
) -> None:
    chunk = await cut_one_chunk(redis, redis_url)
    # This server has no replica: WAIT 1 answers 0 when its timeout ends.
    with pytest.raises(NotReplicated):
        await begin_send(redis, chunk, [0], replica_wait_ms=50)
    after = await load_chunk(redis, chunk.batch_id, 0)
    assert after is not None and after.state == "sending" and after.sending == [0]


async def test_a_chunk_a_failover_lost_is_not_written_back_in_part(
    redis: Redis, redis_url: str
) -> None:
    """Replication is asynchronous: a failover can lose a chunk's cut while a job that loaded
    it runs on. Its writes must not leave a chunk without a range (the job and the reconcile
    pass would fail on it for good); the dispatcher cuts the chunk again instead."""
    chunk = await cut_one_chunk(redis, redis_url)
    chunk_key = keys.batch_chunk(chunk.batch_id, 0)
    await redis.delete(chunk_key)  # what the new primary lacks

    assert await begin_send(redis, chunk, [0]) == "missing"
    assert await set_state(redis, chunk, "pending", "boom") == chunk.attempts
    reason = {"status": "UNSENT", "message": "x"}
    assert await settle(redis, chunk, "cancelled", {0: reason}) == -2
    assert not await redis.exists(chunk_key)
    assert await load_chunk(redis, chunk.batch_id, 0) is None
    # One left behind by an older version reads as missing, not as an error on every try.
    await redis.hset(chunk_key, "sendingFiles", "[0]")  # type: ignore[misc]
    assert await load_chunk(redis, chunk.batch_id, 0) is None
