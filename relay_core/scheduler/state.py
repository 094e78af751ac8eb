"""The scheduler's Redis side: join a batch, take the next slot, start and hand over dispatchers.

Dispatching is a job (worker.batches.dispatch) that takes slots one after another while there are
files to send. Only the holder of a short, renewed lease takes slots; a kick (a batch stored
or re-prioritised, a chunk finished, a worker started, a timer) starts a dispatcher when no
lease is held, so a killed dispatcher is replaced within a lease period of the next kick.
Slots are taken at most LOOKAHEAD_MS before they are due, so a newcomer of a lower priority
number waits at most one slot behind work already granted (preemption at chunk boundaries).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from relay_core import keys
from relay_core.redis import queue, scripts
from relay_core.scheduler.ratelimit import WINDOW_MS, Limits, pace_ms

DEFAULT_PRIORITY = 90
LOOKAHEAD_MS = 50
LEASE_TTL_MS = 3000
KICK_LEASE_TTL_MS = 10_000


@dataclass(frozen=True, slots=True)
class Taken:
    outcome: str  # granted | wait | idle | busy
    wait_ms: float = 0.0
    batch_id: str = ""
    chunk: int = -1
    files: int = 0


def new_token() -> str:
    return uuid.uuid4().hex[:16]


async def join(redis: Redis, batch_id: str, pipe: Pipeline | None = None) -> None:
    """Put a stored batch in the schedule (queued on `pipe` when given)."""
    names: scripts.Names = {"batch": keys.batch(batch_id), "levels": keys.SCHED_LEVELS}
    args: scripts.Names = {
        "batch_id": batch_id,
        "default_priority": DEFAULT_PRIORITY,
        "level_prefix": keys.SCHED_LEVEL,
        "weights_suffix": keys.SCHED_WEIGHTS_SUFFIX,
        "producer_infix": keys.SCHED_PRODUCER_INFIX,
    }
    if pipe is None:
        await scripts.SCHED_JOIN(redis, keys=names, args=args)
    else:
        await scripts.SCHED_JOIN.queue(pipe, keys=names, args=args)


async def kick(redis: Redis, pipe: Pipeline | None = None) -> bool:
    """Start a dispatcher unless one is at work or nothing is left to send (queued on `pipe`
    when given: then the answer means nothing)."""
    token = new_token()
    now = queue.now_ms()
    job_id = queue.dispatch_job_id(token)
    names: scripts.Names = {
        "lease": keys.SCHED_LEASE,
        "levels": keys.SCHED_LEVELS,
        "job": queue.JOB_KEY_PREFIX + job_id,
        "queue": queue.QUEUE,
    }
    args: scripts.Names = {
        "token": token,
        "lease_ms": KICK_LEASE_TTL_MS,
        "job": queue.job_bytes(queue.DISPATCH, [token], now),
        "job_id": job_id,
        "score": queue.events_score(now),
    }
    if pipe is not None:
        await scripts.SCHED_KICK.queue(pipe, keys=names, args=args)
        return False
    return bool(await scripts.SCHED_KICK(redis, keys=names, args=args))


async def start_later(redis: Redis, delay_ms: int) -> None:
    """A dispatcher job due after `delay_ms` that takes over if the lease has lapsed by then
    (a worker restarted after a kill: the dead dispatcher's lease outlives the restart)."""
    token = new_token()
    now = queue.now_ms()
    job_id = queue.dispatch_job_id(token)
    async with redis.pipeline(transaction=True) as tx:
        tx.set(queue.JOB_KEY_PREFIX + job_id, queue.job_bytes(queue.DISPATCH, [token], now))
        tx.pexpire(queue.JOB_KEY_PREFIX + job_id, queue.JOB_EXPIRES_MS)
        tx.zadd(queue.QUEUE, {job_id: now + delay_ms})
        await tx.execute()


class Scheduler:
    def __init__(self, redis: Redis, limits: Limits, slot_seconds: float, scope: str = "extend"):
        self.redis = redis
        self.limits = limits
        self.slot_ms = slot_seconds * 1000
        self.scope = scope

    async def take(self, token: str, now_ms: float | None = None) -> Taken:
        """Grant the next slot to the batch the rules pick, or say why not (see
        relay_core/scheduler/lua/take.lua). `now_ms` replaces Redis's clock, for simulations
        of hours of scheduling in seconds."""
        raw = await scripts.SCHED_TAKE(
            self.redis,
            keys={
                "pause": keys.RATE_PAUSE,
                "run_bucket": keys.rate(f"{self.scope}:RUN"),
                "pace": keys.rate(f"{self.scope}:pace"),
                "window": keys.rate(f"{self.scope}:files"),
                "lease": keys.SCHED_LEASE,
                "levels": keys.SCHED_LEVELS,
                "queue": queue.QUEUE,
            },
            args={
                "token": token,
                "now": "" if now_ms is None else now_ms,
                "lookahead_ms": LOOKAHEAD_MS,
                "lease_ms": LEASE_TTL_MS,
                "default_priority": DEFAULT_PRIORITY,
                "slot_ms": self.slot_ms,
                "run_interval_ms": 1000.0 / self.limits.run_rps,
                "pace_ms": pace_ms(self.limits.files_per_minute),
                "files_limit": self.limits.files_per_minute,
                "window_ms": WINDOW_MS,
                "level_prefix": keys.SCHED_LEVEL,
                "weights_suffix": keys.SCHED_WEIGHTS_SUFFIX,
                "producer_infix": keys.SCHED_PRODUCER_INFIX,
                "batch_prefix": keys.BATCH,
                "chunk_infix": keys.BATCH_CHUNK_INFIX,
                "kinds_suffix": keys.BATCH_KINDS_SUFFIX,
                "job_prefix": queue.JOB_KEY_PREFIX,
                "chunk_job_prefix": queue.CHUNK_JOB_PREFIX,
                "job_function": queue.SUBMIT_CHUNK,
            },
        )
        outcome = _text(raw[0])
        if outcome == "wait":
            return Taken("wait", float(raw[1]))
        if outcome == "granted":
            return Taken("granted", float(raw[4]), _text(raw[1]), int(raw[2]), int(raw[3]))
        return Taken(outcome)

    async def handoff(self, token: str, delay_ms: float) -> bool:
        """Hand the lease to a new dispatcher job due in `delay_ms`; False if it was not ours."""
        new = new_token()
        now = queue.now_ms()
        job_id = queue.dispatch_job_id(new)
        handed = await scripts.SCHED_HANDOFF(
            self.redis,
            keys={
                "lease": keys.SCHED_LEASE,
                "job": queue.JOB_KEY_PREFIX + job_id,
                "queue": queue.QUEUE,
            },
            args={
                "token": token,
                "new_token": new,
                "lease_ms": int(delay_ms) + LEASE_TTL_MS,
                "job": queue.job_bytes(queue.DISPATCH, [new], now),
                "job_id": job_id,
                "score": now + int(delay_ms) if delay_ms > 0 else queue.events_score(now),
            },
        )
        return bool(handed)


async def change(redis: Redis, batch_id: str, priority: int | None, weight: float | None) -> int:
    """Re-prioritise or re-weight a batch's unsent files: -1 no batch, 0 none left, 1 moved."""
    moved = await scripts.SCHED_CHANGE(
        redis,
        keys={"batch": keys.batch(batch_id), "levels": keys.SCHED_LEVELS},
        args={
            "batch_id": batch_id,
            "default_priority": DEFAULT_PRIORITY,
            "priority": "" if priority is None else str(priority),
            "weight": "" if weight is None else repr(float(weight)),
            "level_prefix": keys.SCHED_LEVEL,
            "weights_suffix": keys.SCHED_WEIGHTS_SUFFIX,
            "producer_infix": keys.SCHED_PRODUCER_INFIX,
        },
    )
    return int(moved)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
