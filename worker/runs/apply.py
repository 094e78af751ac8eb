"""apply_events: apply one group of queued webhook events to the tracked runs.

At-least-once: the group's bodies stay in Redis until every apply has succeeded; applying twice
is harmless because a run's status only moves forward and each transition is applied atomically.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from relay_core import keys
from relay_core.batches import store as batches
from relay_core.errors import InvalidEvent
from relay_core.notify import emit
from relay_core.redis import queue
from relay_core.runs import eventlog
from relay_core.runs.events import Envelope, RunUpdate, parse_envelope, run_update
from worker.batches.events import fetch_signed_payloads, resolve_run_files
from worker.context import context
from worker.deploys.triggers import fire_batch_triggers, fire_run_triggers, record_deployed_events

log = logging.getLogger(__name__)


async def apply_events(ctx: dict[str, Any], group_id: str) -> dict[str, int]:
    wc = context(ctx)
    started = time.perf_counter()
    redis, group_key = wc.redis, keys.event_group(group_id)
    bodies: list[bytes] = await redis.lrange(group_key, 0, -1)  # type: ignore[misc]
    envelopes = [env for env in map(_parse, bodies) if env is not None]
    envelopes = await fetch_signed_payloads(wc, envelopes)
    found = [(env, u) for env in envelopes if (u := run_update(env)) is not None]
    found = await resolve_run_files(redis, found)
    updates: list[tuple[RunUpdate, str]] = [(u, env.event_id) for env, u in found]
    event_types = [env.event_type for env, _ in found]
    results = await wc.runs.apply_many(updates, queue.now_ms()) if updates else []
    # Deploy claims before the group is deleted: a crash here re-runs the group, harmlessly.
    applied = zip(event_types, (u for u, _ in updates), results, strict=True)
    await fire_run_triggers(redis, wc.rules, applied, retention_ms=wc.settings.retention.ms)
    await record_deployed_events(redis, envelopes)
    now, replayed = queue.now_ms(), eventlog.is_replay(group_id)
    if not replayed:
        # Notifications are created (with their jobs) before the group is deleted, never sent
        # here; a replay re-applies state, it does not tell the producers again.
        await emit.emit(redis, emit.run_events(found, results))
    async with redis.pipeline(transaction=False) as pipe:
        for env in envelopes if not replayed else []:  # a replay is not new traffic
            pipe.hincrby(keys.EVENT_TYPES, env.event_type, 1)
        if not replayed:
            eventlog.queue_log(pipe, group_id, bodies, now, wc.settings.retention.event_log_ms)
        pipe.delete(group_key)
        await pipe.execute()
    changed = sum(r.changed for r in results)
    log.info(
        "apply_events group=%s events=%d runs=%d changed=%d try=%d ms=%.1f",
        group_id,
        len(bodies),
        len(updates),
        changed,
        wc.job_try,
        (time.perf_counter() - started) * 1000,
    )
    return {"events": len(bodies), "changed": changed}


def _parse(body: bytes) -> Envelope | None:
    try:
        return parse_envelope(body)
    except InvalidEvent:
        # ingest verified and parsed it already; a body that fails here is recorded, not retried.
        log.warning("skipping an unparseable queued event (%d bytes)", len(body))
        return None


async def batch_completed(ctx: dict[str, Any], batch_id: str) -> dict[str, str]:
    """The batch tracker's completion signal (enqueued once, atomically with completedAt).

    Claims a deploy for every matching `batch.completed` rule; the deploy job checks the gates.
    """
    wc = context(ctx)
    redis, retention = wc.redis, wc.settings.retention.ms
    claimed = await fire_batch_triggers(redis, wc.rules, batch_id, retention_ms=retention)
    await emit.emit(redis, await emit.batch_events(redis, batch_id))
    await batches.expire_finished(redis, batch_id, retention)
    # Completed by a run's apply (not a chunk's settle): out of the open set now, not when
    # reconcile happens to pass, or the set grows with the work done.
    if await redis.hexists(keys.batch(batch_id), "completedAt"):  # type: ignore[misc]
        await redis.srem(keys.BATCHES_OPEN, batch_id)  # type: ignore[misc]
    log.info("batch_completed batch=%s deploys=%d try=%d", batch_id, claimed, wc.job_try)
    return {"batchId": batch_id}
