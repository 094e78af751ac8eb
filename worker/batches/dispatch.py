"""dispatch: give the platform's rate-limit slots to chunks, one after another, fleet-wide.

One dispatcher at a time holds the schedule's lease and takes slots (relay_core.scheduler):
each slot cuts the next chunk of the batch the rules pick and queues its submit_chunk job,
due at the slot. It sleeps between slots when they are close, hands over to a job due later
when they are not, and ends when nothing is left to send. Kicks start a new one whenever no
lease is held: a batch stored, a chunk finished, a worker started, and a timer every 10 s, so a
killed dispatcher is replaced within seconds. The job is idempotent: a granted slot is written
with its chunk and job in one step, and a second dispatcher finds the lease held and ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from relay_core import keys
from relay_core.scheduler import state as scheduler
from relay_core.scheduler.state import LOOKAHEAD_MS
from worker.context import WorkerContext, context

log = logging.getLogger(__name__)

DISPATCH_JOB_TIMEOUT_SECONDS = 40
BUDGET_SECONDS = 25.0
# Wait in the job for a slot this close; further ones are a job due then (no slot held idle).
MAX_INLINE_WAIT_MS = 2000.0


async def dispatch(ctx: dict[str, Any], token: str) -> dict[str, Any]:
    sched = context(ctx).scheduler
    deadline = time.monotonic() + BUDGET_SECONDS
    granted, files, outcome = 0, 0, "idle"
    while True:
        taken = await sched.take(token)
        outcome = taken.outcome
        if outcome == "granted":
            granted, files = granted + 1, files + taken.files
        elif outcome == "wait" and taken.wait_ms <= MAX_INLINE_WAIT_MS:
            await asyncio.sleep(max(0.0, taken.wait_ms - LOOKAHEAD_MS / 2) / 1000)
        elif outcome == "wait":
            await sched.handoff(token, taken.wait_ms - LOOKAHEAD_MS)
            outcome = "handoff"
            break
        else:
            break  # idle (lease released) or busy (another dispatcher is at work)
        if time.monotonic() > deadline:
            # Long dispatches end as jobs under their timeout; the next one goes on at once.
            await sched.handoff(token, 0)
            outcome = "handoff"
            break
    log.info("dispatch token=%s outcome=%s chunks=%d files=%d", token, outcome, granted, files)
    return {"outcome": outcome, "chunks": granted, "files": files}


async def kick(ctx: dict[str, Any]) -> bool:
    """The timer's kick (and any job's): start a dispatcher if work waits and none is at it."""
    return await scheduler.kick(context(ctx).redis)


async def dispatch_startup(wc: WorkerContext) -> None:
    redis = wc.redis
    await scheduler.kick(redis)
    # A lease left by a dispatcher killed with this worker's predecessor outlives the restart:
    # a job due when it lapses takes over (or finds another dispatcher at work and ends).
    left = int(await redis.pttl(keys.SCHED_LEASE))
    if left > 0:
        await scheduler.start_later(redis, left + 100)
