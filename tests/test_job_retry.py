"""A job failing with an error arq itself would never retry is retried, so the acknowledged
events it holds are applied once the fault is gone (worker.jobmetrics)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from relay_core import keys
from relay_core.runstore import RunStore
from relay_core.settings import Settings
from tests.batches.support import wait_for
from tests.support.signing import event, extend_headers, run_payload
from worker.app import build_worker

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

        await wait_for(retried)
        await redis.delete(keys.run(RUN))  # the fault is gone before the retry runs
        await asyncio.wait_for(task, 30)
    finally:
        await worker.close()

    assert worker.jobs_failed == 0 and worker.jobs_retried >= 1
    stored = await RunStore(redis).get(RUN)
    assert stored is not None and stored["status"] == "PROCESSED"
    assert [h["eventId"] for h in stored["history"]] == ["evt_corrupt_1"]
