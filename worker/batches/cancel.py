"""cancel_batch: cancel on the platform every run of a cancelled batch still PENDING/PROCESSING.

Chunks not yet sent settle as cancelled by themselves (worker.batches.fanout). This job finds
the runs: those the store knows, and for 2026-02-09 the platform batches' runs not reported
yet. Each cancel answer is applied like an event. It works within a time budget and retries
itself, so a batch of any size is cancelled without a job outliving its timeout.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from arq import Retry

from relay_core import keys
from relay_core.batches import runmap
from relay_core.platforms.http import PlatformError
from worker.context import WorkerContext, context
from worker.runs.record import record, run_update

log = logging.getLogger(__name__)

CANCELLABLE = ("PENDING", "PROCESSING")
BUDGET_SECONDS = 25.0
CANCEL_JOB_TIMEOUT_SECONDS = 40


async def cancel_batch(ctx: dict[str, Any], batch_id: str) -> dict[str, Any]:
    wc = context(ctx)
    deadline = time.monotonic() + BUDGET_SECONDS
    targets = await _known_open_runs(wc, batch_id) | await _unreported_runs(wc, batch_id)
    cancelled = 0
    for run_id in sorted(targets):
        if time.monotonic() > deadline:
            raise Retry(defer=1)  # the next try finds the cancelled ones terminal and skips them
        cancelled += await _cancel_one(wc, run_id)
    log.info("cancel_batch batch=%s runs=%d cancelled=%d", batch_id, len(targets), cancelled)
    return {"batchId": batch_id, "cancelled": cancelled}


async def _known_open_runs(wc: WorkerContext, batch_id: str) -> set[str]:
    redis = wc.redis
    files = int(await redis.hget(keys.batch(batch_id), "files") or 0)  # type: ignore[misc]
    run_ids = await runmap.all_run_ids(redis, batch_id, files)
    async with redis.pipeline(transaction=False) as pipe:
        for run_id in run_ids:
            pipe.hget(keys.run(run_id), "s")
        statuses = await pipe.execute()
    return {r for r, s in zip(run_ids, statuses, strict=True) if s and s.decode() in CANCELLABLE}


async def _unreported_runs(wc: WorkerContext, batch_id: str) -> set[str]:
    """2026-02-09: runs of the batch's platform batches that no event told us about yet."""
    redis = wc.redis
    found: set[str] = set()
    for platform_batch in [
        b.decode()
        for b in await redis.hkeys(keys.batch_platform_batches(batch_id))  # type: ignore[misc]
    ]:
        for status in CANCELLABLE:
            params = {"batchId": platform_batch, "status": status, "maxPageSize": "1000"}
            while True:
                await wc.limiter.acquire_blocking("GET")
                page = await wc.extend.list(params)
                found.update(str(r["id"]) for r in page.runs if "id" in r)
                if page.next_token is None:
                    break
                params = {**params, "nextPageToken": page.next_token}
    return found


async def _cancel_one(wc: WorkerContext, run_id: str) -> int:
    await wc.limiter.acquire_blocking("WRITE")
    try:
        run = await wc.extend.cancel(run_id)
    except PlatformError as exc:
        if exc.retryable:
            raise Retry(defer=2) from None
        log.info("cancel run=%s not cancelled: %s", run_id, exc)  # finished meanwhile
        return 0
    update = run_update(run)
    await record(wc, "cancel", [update] if update is not None else [])
    return 1
