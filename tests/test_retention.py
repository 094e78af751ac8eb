"""Finished work expires after RETENTION_DAYS; open work never does."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from relay_core import keys, runmap
from relay_core.settings import Settings
from tests.batches.support import files, sandbox_config, stack, wait_for
from tests.conftest import make_settings, run_worker_burst
from tests.support.signing import event, extend_headers, run_payload

DAY_MS = 86_400_000


async def test_a_run_expires_only_once_terminal(
    client: TestClient[Any, Any], redis: Redis, settings: Settings
) -> None:
    worker_settings = make_settings(settings.redis_url, RETENTION_DAYS=2)
    run_id = "workflow_run_kept"
    for n, (kind, status) in enumerate(
        [("workflow_run.needs_review", "NEEDS_REVIEW"), ("workflow_run.completed", "PROCESSED")]
    ):
        body = event(f"evt_kept_{n}", kind, run_payload(run_id, status))
        resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
        assert resp.status == 200
        await run_worker_burst(worker_settings)
        ttl = await redis.pttl(keys.run(run_id))
        if status == "NEEDS_REVIEW":
            assert ttl == -1  # open: kept however long the review takes
        else:
            assert 2 * DAY_MS - 60_000 < ttl <= 2 * DAY_MS
    # RETENTION_DAYS=0, the default: a finished run is kept.
    body = event(
        "evt_kept_default", "workflow_run.completed", run_payload("workflow_run_k2", "PROCESSED")
    )
    resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
    assert resp.status == 200 and settings.retention_days == 0
    await run_worker_burst(settings)
    assert await redis.hget(keys.run("workflow_run_k2"), "s") == b"PROCESSED"
    assert await redis.pttl(keys.run("workflow_run_k2")) == -1


async def test_a_finished_batch_expires_with_every_key_it_owns(
    redis_url: str, redis: Redis
) -> None:
    async with stack(redis_url, sandbox_config(), RETENTION_DAYS=3) as st:
        st.start_worker()
        # 70 files in chunks of 50: two chunks, and file->run buckets 0 and 1.
        batch_id = await st.submit(files(70), chunkSize=50)

        async def expiring() -> bool:
            return int(await redis.pttl(keys.batch(batch_id))) > 0

        await wait_for(expiring)
        owned = [k.decode() async for k in redis.scan_iter(match=keys.batch(batch_id) + "*")]
        assert keys.batch_chunk(batch_id, 1) in owned
        assert runmap.key_of(batch_id, 69) in owned and runmap.key_of(batch_id, 0) in owned
        for key in owned:
            assert 0 < await redis.pttl(key) <= 3 * DAY_MS, key
        run_ids = await runmap.all_run_ids(redis, batch_id, 70)
        assert len(run_ids) == 70
        for run_id in run_ids:
            assert 0 < await redis.pttl(keys.run(run_id)) <= 3 * DAY_MS

        # Past the retention (the expiry itself is Redis's): the batch leaves the listing cleanly.
        await redis.delete(*owned)
        status, listing = await st.call("GET", "/v1/batches")
        assert status == 200 and batch_id not in [b["batchId"] for b in listing["batches"]]
        assert await redis.zscore(keys.BATCH_INDEX, batch_id) is None
        status, gone = await st.call("GET", f"/v1/batches/{batch_id}")
        assert status == 404 and gone["error"]["code"] == "not_found"
