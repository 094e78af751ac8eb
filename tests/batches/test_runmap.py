"""The file -> run map in buckets: a chunk that spans two buckets settles and lists exactly."""

from __future__ import annotations

from redis.asyncio import Redis

from relay_core import keys
from relay_core.batches import runmap
from relay_core.batches import runs as batch_runs
from relay_core.batches.producer import Producer
from relay_core.runs.events import RunUpdate
from relay_core.runs.store import RunStore
from relay_core.scheduler.ratelimit import Limits
from relay_core.scheduler.state import Scheduler
from tests.conftest import make_settings
from worker.batches.chunkstate import load_chunk, settle, unresolved


async def test_a_chunk_across_two_buckets_keeps_its_runs_and_fails_the_rest(
    redis: Redis, redis_url: str
) -> None:
    settings = make_settings(redis_url, EXTEND_FILES_PER_MINUTE=100_000, EXTEND_RUN_RPS=1000)
    files = [{"url": f"https://files.example.com/{i}.pdf"} for i in range(100)]
    accepted = await Producer(redis, settings).submit(
        {"workflowId": "workflow_map", "files": files, "chunkSize": 50}
    )
    batch_id = accepted.batchId
    # The scheduler cuts the chunks as the limits allow: two slots, two full chunks.
    sched = Scheduler(redis, Limits.of(settings), settings.batches.slot_seconds)
    for _ in range(2):
        while (await sched.take("test")).outcome != "granted":
            pass
    # Chunk 1 holds files 50..99: buckets 0 (50..63) and 1 (64..99).
    chunk = await load_chunk(redis, batch_id, 1)
    assert chunk is not None and (chunk.start, chunk.end) == (50, 100)
    assert runmap.bucket_of(chunk.start) != runmap.bucket_of(chunk.end - 1)

    store = RunStore(redis)
    for index in (60, 70):
        meta = {"relayBatchId": batch_id, "relayFileIndex": index}
        await store.apply(RunUpdate(f"run_{index}", "PROCESSING", metadata=meta), f"e{index}", 1)

    assert await unresolved(redis, chunk) == [i for i in range(50, 100) if i not in (60, 70)]
    reason = {"status": "SUBMIT_FAILED", "message": "refused"}
    await settle(redis, chunk, "failed", dict.fromkeys(chunk.indexes, reason))

    assert int(await redis.hget(keys.batch(batch_id), "submitFailed") or 0) == 48
    assert await unresolved(redis, chunk) == []
    page = await batch_runs.runs_page(redis, batch_id, 100, status=None, cursor=50, limit=50)
    by_index = {item["fileIndex"]: item for item in page.items}
    assert by_index[60]["runId"] == "run_60" and by_index[70]["runId"] == "run_70"
    assert {by_index[i]["status"] for i in by_index if i not in (60, 70)} == {"SUBMIT_FAILED"}
    assert sorted(await runmap.all_run_ids(redis, batch_id, 100)) == ["run_60", "run_70"]
    # The point of the buckets: each stays a compact listpack.
    for key in runmap.keys_of(batch_id, 50, 100):
        assert await redis.object("encoding", key) == b"listpack"
