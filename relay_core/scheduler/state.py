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

from relay_core import keys
from relay_core.batches import lua as batch_lua
from relay_core.redis import queue
from relay_core.scheduler import lua
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


async def join(client: Redis | Any, batch_id: str, pipe: Any = None) -> Any:
    """Put a stored batch in the schedule (queued on `pipe` when given)."""
    args = [keys.SCHED_LEVEL, DEFAULT_PRIORITY]
    script_keys = [keys.batch(batch_id), keys.SCHED_LEVELS]
    return await batch_lua.run(client, lua.JOIN, script_keys, args, pipe)


async def kick(client: Redis | Any, pipe: Any = None) -> bool:
    """Start a dispatcher unless one is at work or nothing is left to send (queued on `pipe`
    when given: then the answer means nothing)."""
    token = new_token()
    now = queue.now_ms()
    job_id = queue.dispatch_job_id(token)
    script_keys = [
        keys.SCHED_LEASE,
        keys.SCHED_LEVELS,
        queue.JOB_KEY_PREFIX + job_id,
        queue.QUEUE,
    ]
    job = queue.job_bytes(queue.DISPATCH, [token], now)
    args = [token, KICK_LEASE_TTL_MS, job, job_id, queue.events_score(now)]
    started = await batch_lua.run(client, lua.KICK, script_keys, args, pipe)
    return pipe is None and bool(started)


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
        """Grant the next slot to the batch the rules pick, or say why not (see lua.TAKE).
        `now_ms` replaces Redis's clock, for simulations of hours of scheduling in seconds."""
        script_keys = [
            keys.RATE_PAUSE,
            keys.rate(f"{self.scope}:RUN"),
            keys.rate(f"{self.scope}:pace"),
            keys.rate(f"{self.scope}:files"),
            keys.SCHED_LEASE,
            keys.SCHED_LEVELS,
            queue.QUEUE,
        ]
        limit = self.limits.files_per_minute
        args: list[Any] = [
            token,
            LOOKAHEAD_MS,
            1000.0 / self.limits.run_rps,
            pace_ms(limit),
            limit,
            WINDOW_MS,
            self.slot_ms,
            keys.SCHED_LEVEL,
            keys.BATCH,
            keys.BATCH_CHUNK_INFIX,
            keys.BATCH_KINDS_SUFFIX,
            queue.JOB_KEY_PREFIX,
            queue.CHUNK_JOB_PREFIX,
            queue.SUBMIT_CHUNK,
            LEASE_TTL_MS,
            DEFAULT_PRIORITY,
            "" if now_ms is None else now_ms,
        ]
        raw = await batch_lua.run(self.redis, lua.TAKE, script_keys, args)
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
        script_keys = [keys.SCHED_LEASE, queue.JOB_KEY_PREFIX + job_id, queue.QUEUE]
        score = now + int(delay_ms) if delay_ms > 0 else queue.events_score(now)
        job = queue.job_bytes(queue.DISPATCH, [new], now)
        args = [token, new, int(delay_ms) + LEASE_TTL_MS, job, job_id, score]
        return bool(await batch_lua.run(self.redis, lua.HANDOFF, script_keys, args))


async def change(redis: Redis, batch_id: str, priority: int | None, weight: float | None) -> int:
    """Re-prioritise or re-weight a batch's unsent files: -1 no batch, 0 none left, 1 moved."""
    args = [
        keys.SCHED_LEVEL,
        DEFAULT_PRIORITY,
        "" if priority is None else str(priority),
        "" if weight is None else repr(float(weight)),
    ]
    script_keys = [keys.batch(batch_id), keys.SCHED_LEVELS]
    return int(await batch_lua.run(redis, lua.CHANGE, script_keys, args))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
