"""reconcile (cron, every minute): catch up on webhooks that never came.

0. Event groups whose apply job is gone get it back (worker.runs.sweep), with or without Extend.

1. Runs non-terminal for longer than RECONCILE_AFTER_SECONDS: GET /workflow_runs/{id} (within
   the GET limit) and apply the answer through the same path as events.
2. Open batches: re-queue a chunk whose job is gone (it failed for good, or its key expired),
   and for chunks sent longer ago than that delay, find the runs no event reported (2026-02-09
   answers a batch with its id only) and apply them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from arq.connections import ArqRedis

from relay_core import keys
from relay_core.ops import deadletters
from relay_core.platforms.extend_runs import V2026
from relay_core.platforms.http import PlatformError
from relay_core.redis import queue
from relay_core.redis.memguard import Guard
from relay_core.scheduler import state as scheduler
from worker.batches.chunkstate import SETTLED, load_batch, load_chunk, unresolved
from worker.batches.lookup import get_run
from worker.context import WorkerContext, context
from worker.runs.record import record, run_update
from worker.runs.sweep import requeue_orphan_groups

log = logging.getLogger(__name__)

RUNS_PER_PASS = 200
BUDGET_SECONDS = 30.0
RECONCILE_JOB_TIMEOUT_SECONDS = 40


_GUARD = Guard()


async def reconcile(ctx: dict[str, Any]) -> dict[str, int]:
    wc = context(ctx)
    await _GUARD.sample(wc.redis, probe_write=False)  # the once-at-80% warning
    groups = await requeue_orphan_groups(wc.redis)
    if wc.extend_runs is None:
        return {"groups": groups, "runs": 0, "batches": 0}
    deadline = time.monotonic() + BUDGET_SECONDS
    cutoff = queue.now_ms() - wc.settings.runs.reconcile_after_seconds * 1000
    polled = await _poll_stale_runs(wc, cutoff, deadline)
    healed = await _heal_batches(wc, cutoff, deadline)
    await scheduler.kick(wc.redis)  # files left to send and no dispatcher: start one
    log.info("reconcile groups=%d runs=%d batches=%d", groups, polled, healed)
    return {"groups": groups, "runs": polled, "batches": healed}


async def _poll_stale_runs(wc: WorkerContext, cutoff: int, deadline: float) -> int:
    redis = wc.redis
    raw = await redis.zrangebyscore(keys.OPEN_RUNS, "-inf", cutoff, start=0, num=RUNS_PER_PASS)
    for run_id in (r.decode() for r in raw):
        if time.monotonic() > deadline:
            break
        try:
            run = await get_run(wc, run_id)
        except PlatformError as exc:
            if exc.status == 404:
                await redis.zrem(keys.OPEN_RUNS, run_id)  # deleted on the platform
            continue
        update = run_update(run)
        changed = await record(wc, "reconcile", [update] if update is not None else [])
        if not changed:
            # Still running: ask again after another RECONCILE_AFTER_SECONDS, not every minute.
            await redis.zadd(keys.OPEN_RUNS, {run_id: queue.now_ms()}, xx=True)
    return len(raw)


async def _heal_batches(wc: WorkerContext, cutoff: int, deadline: float) -> int:
    redis = wc.redis
    healed = 0
    open_batches = await redis.smembers(keys.BATCHES_OPEN)  # type: ignore[misc]
    for batch_id in sorted(b.decode() for b in open_batches):
        if time.monotonic() > deadline:
            break
        completed = await redis.hexists(keys.batch(batch_id), "completedAt")  # type: ignore[misc]
        if completed or not await redis.exists(keys.batch(batch_id)):
            await redis.srem(keys.BATCHES_OPEN, batch_id)  # type: ignore[misc]
            continue
        try:
            healed += await _heal_batch(wc, batch_id, cutoff)
        except PlatformError as exc:
            # One batch the platform will not answer for must not starve the batches after it
            # (the pass walks them in the same order every minute): try it again next pass.
            log.warning("reconcile batch=%s skipped this pass: %s", batch_id, exc)
    return healed


async def _heal_batch(wc: WorkerContext, batch_id: str, cutoff: int) -> int:
    redis = wc.redis
    batch = await load_batch(redis, batch_id)
    chunks = int(await redis.hget(keys.batch(batch_id), "chunks") or 0)  # type: ignore[misc]
    if batch is None:
        return 0
    found = 0
    for n in range(chunks):
        chunk = await load_chunk(redis, batch_id, n)
        if chunk is None:
            continue
        if chunk.state not in SETTLED:
            await _requeue(wc.redis, batch_id, n)
        elif chunk.state == "sent" and batch.dialect == V2026:
            found += await _unreported(wc, batch_id, n, cutoff)
    return found


async def _requeue(redis: ArqRedis, batch_id: str, n: int) -> None:
    if await deadletters.exists(redis, deadletters.CHUNK, f"{batch_id}:{n}"):
        return  # it waits for a person's redrive
    job = await redis.enqueue_job(
        queue.SUBMIT_CHUNK, batch_id, n, _job_id=queue.chunk_job_id(batch_id, n)
    )
    if job is not None:
        log.warning("reconcile re-queued batch=%s chunk=%d", batch_id, n)


async def _unreported(wc: WorkerContext, batch_id: str, n: int, cutoff: int) -> int:
    """Apply the runs of a sent chunk that no event reported within RECONCILE_AFTER_SECONDS."""
    redis = wc.redis
    chunk_key = keys.batch_chunk(batch_id, n)
    fields = ["settledAt", "platformBatchId"]
    settled_at, platform_batch = await redis.hmget(chunk_key, fields)  # type: ignore[misc]
    if not platform_batch or int(settled_at or 0) > cutoff:
        return 0
    chunk = await load_chunk(redis, batch_id, n)
    assert chunk is not None
    if not await unresolved(redis, chunk):
        return 0
    params = {"batchId": platform_batch.decode(), "maxPageSize": "1000"}
    updates = []
    while True:
        await wc.limiter.acquire_blocking("GET")
        page = await wc.extend.list(params)
        for summary in page.runs:
            if not await redis.exists(keys.run(str(summary["id"]))):
                update = run_update(await get_run(wc, str(summary["id"])))
                if update is not None:
                    updates.append(update)
        if page.next_token is None:
            break
        params = {**params, "nextPageToken": page.next_token}
    await record(wc, "reconcile", updates)
    return len(updates)
