"""Acknowledged events are applied even when their job fails: a job failing with an error arq
itself would never retry is retried (worker.jobmetrics), and a group whose job is gone gets it
back from the reconcile pass (worker.runs.sweep)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from relay_core import keys
from relay_core.redis import queue
from relay_core.runs.store import RunStore
from relay_core.settings import Settings
from tests.conftest import run_worker_burst
from tests.support.signing import event, extend_headers, run_payload
from tests.support.wait import until
from worker.app import build_worker
from worker.runs.sweep import requeue_orphan_groups

RUN = "workflow_run_corrupt"


async def test_an_apply_that_redis_refuses_is_retried_then_applied(
    client: TestClient[Any, Any],
    redis: Redis,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="worker.jobmetrics")
    body = event("evt_corrupt_1", "workflow_run.completed", run_payload(RUN, "PROCESSED"))
    resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
    assert resp.status == 200 and (await resp.json())["status"] == "queued"
    # The real fault: the run's key holds the wrong type, so Redis answers WRONGTYPE to the
    # apply script. Left to arq, that exception would end the job for good.
    await redis.set(keys.run(RUN), "not a hash")

    worker = build_worker(settings, burst=True)
    task = asyncio.create_task(worker.main())
    try:

        async def retried() -> bool:
            return any("retrying in" in r.getMessage() for r in caplog.records)

        await until(retried)
        await redis.delete(keys.run(RUN))  # the fault is gone before the retry runs
        await asyncio.wait_for(task, 30)
    finally:
        await worker.close()

    assert worker.jobs_failed == 0 and worker.jobs_retried >= 1
    stored = await RunStore(redis).get(RUN)
    assert stored is not None and stored["status"] == "PROCESSED"
    assert [h["eventId"] for h in stored["history"]] == ["evt_corrupt_1"]


async def test_a_group_whose_job_is_gone_gets_it_back_from_reconcile(
    client: TestClient[Any, Any], redis: Redis, settings: Settings
) -> None:
    run_id = "workflow_run_orphan"
    body = event("evt_orphan_1", "workflow_run.completed", run_payload(run_id, "PROCESSED"))
    resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
    assert resp.status == 200 and (await resp.json())["status"] == "queued"
    assert await requeue_orphan_groups(redis) == 0  # queued: nothing to do
    # What arq giving up after max_tries, or the job key's 24 h expiry, leaves behind: the
    # acknowledged group without its job (and, after max_tries, a used-up try count).
    (job_id,) = [j.decode() for j in await redis.zrange(queue.QUEUE, 0, -1)]
    await redis.delete(queue.JOB_KEY_PREFIX + job_id)
    await redis.zrem(queue.QUEUE, job_id)
    await redis.set(queue.RETRY_KEY_PREFIX + job_id, 20)
    assert await run_worker_burst(settings) == 0
    assert await RunStore(redis).get(run_id) is None

    pool = await queue.arq_pool(settings.redis.url)
    try:
        await pool.enqueue_job(queue.RECONCILE)
    finally:
        await pool.aclose()
    await run_worker_burst(settings)

    stored = await RunStore(redis).get(run_id)
    assert stored is not None and stored["status"] == "PROCESSED"
    assert [k async for k in redis.scan_iter(match=keys.EVENT_GROUP + "*")] == []
    assert await requeue_orphan_groups(redis) == 0
