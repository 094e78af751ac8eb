"""Jobs that exhaust their tries become dead letters (relay_core.ops.deadletters), not lost work.

worker.jobmetrics calls `note_failure` on every failed try (so a dead letter can say when the
trouble began) and `exhausted` on the last one. Each job kind describes here what a redrive
needs; a job this module does not know (reconcile, cancel) keeps arq's plain behaviour.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from relay_core import keys
from relay_core.ops import deadletters, metrics
from relay_core.ops.deadletters import Failure, Redrive
from relay_core.redis import queue
from worker.context import WorkerContext

log = logging.getLogger(__name__)
FAILURE_TALLY_MS = 2 * 86_400_000  # outlives any job's tries; deleted when dead-lettered


async def note_failure(wc: WorkerContext, error: str) -> None:
    """Count a failed try of this job (first and last time, last error)."""
    key, now = keys.job_failures(wc.job_id), queue.now_ms()
    try:
        async with wc.redis.pipeline(transaction=False) as pipe:
            pipe.hsetnx(key, "first", str(now))
            pipe.hset(key, mapping={"last": now, "error": error[:2000]})
            pipe.pexpire(key, FAILURE_TALLY_MS)
            await pipe.execute()
    except RedisError as exc:  # the retry must still happen: the tally is only a record
        log.warning("job failure not recorded (%s)", exc)


def redrive_for(function: str, args: tuple[Any, ...], job_id: str) -> tuple[str, str, Redrive]:
    """(kind, ref, redrive) of a job this module dead-letters; KeyError for any other."""
    if function == queue.APPLY_EVENTS:
        group = str(args[0])
        held = [keys.event_group(group)]
        needs = "the cause of the error fixed; the group's bodies are kept until redrive or purge"
        redrive = Redrive(function, [group], job_id, True, held, held, needs=needs)
        return deadletters.EVENT_GROUP, group, redrive
    if function == queue.SUBMIT_CHUNK:
        batch_id, n = str(args[0]), int(args[1])
        needs = "the cause fixed; the chunk is sent again (looking first for runs already made)"
        redrive = Redrive(function, [batch_id, n], job_id, needs=needs)
        return deadletters.CHUNK, f"{batch_id}:{n}", redrive
    if function == queue.BATCH_COMPLETED:
        batch_id = str(args[0])
        needs = "the cause fixed; the batch's deploy rules are claimed again (once each)"
        redrive = Redrive(function, [batch_id], job_id, needs=needs)
        return deadletters.BATCH_COMPLETION, batch_id, redrive
    if function == queue.RUN_DEPLOY:
        return deadletters.DEPLOY, str(args[0]), deploy_redrive(str(args[0]), "calling")
    raise KeyError(function)


def deploy_redrive(deploy_id: str, status: str) -> Redrive:
    """A deploy goes back to `status` (calling: the worker looks before it writes again)."""
    return Redrive(
        queue.RUN_DEPLOY,
        [deploy_id],
        queue.deploy_job_id(deploy_id),
        keep=[],
        reset_key=keys.deploy(deploy_id),
        reset={"status": status},
        reset_drop=["finishedAt", "error", "errorStatus"],
        needs="the platform reachable (or the rule fixed); a redrive looks before it deploys",
    )


async def exhausted(wc: WorkerContext, function: str, args: tuple[Any, ...], error: str) -> bool:
    """Dead-letter the job on its last try; False when this kind of job is not dead-lettered."""
    try:
        kind, ref, redrive = redrive_for(function, args, wc.job_id)
    except (KeyError, IndexError, ValueError):
        return False
    failure = await _failure(wc.redis, wc.job_id, error, wc.job_try)
    await record(wc, kind, ref, failure, redrive)
    await wc.redis.delete(keys.job_failures(wc.job_id))
    return True


async def record(
    wc: WorkerContext, kind: str, ref: str, failure: Failure, redrive: Redrive
) -> None:
    retention = wc.settings.retention.ms
    did = await deadletters.add(wc.redis, kind, ref, failure, redrive, retention)
    metrics.DEAD_LETTERED.inc(kind)
    log.error(
        "dead letter id=%s kind=%s tries=%d error=%s", did, kind, failure.tries, failure.error
    )


async def _failure(redis: Redis, job_id: str, error: str, tries: int) -> Failure:
    raw = await redis.hmget(keys.job_failures(job_id), ["first", "last"])  # type: ignore[misc]
    now = queue.now_ms()
    first = int(raw[0]) if raw[0] else now
    return Failure(error=error, tries=tries, first_ms=first, last_ms=now)


async def deploy_gave_up(wc: WorkerContext, deploy_id: str, error: str, tries: int) -> None:
    """A deploy that exhausted DEPLOY_MAX_ATTEMPTS (now `failed`) waits as a dead letter."""
    fields = ["startedAt", "createdAt"]
    raw = await wc.redis.hmget(keys.deploy(deploy_id), fields)  # type: ignore[misc]
    started, created = (int(v) if v else None for v in raw)
    # Once the pre-call facts were recorded the platform may have the version: look first.
    back_to = "calling" if started else "claimed"
    now = queue.now_ms()
    failure = Failure(error, tries, started or created or now, now)
    await record(wc, deadletters.DEPLOY, deploy_id, failure, deploy_redrive(deploy_id, back_to))
