"""Runs waiting for a person: an index kept by the worker, read by GET /v1/reviews.

The index is written in the apply pipeline the worker already runs, from the run's status after
each event (whether or not the event changed it), so re-applying a group after a crash repairs
it and a replayed needs_review of a finished run adds nothing. Readers still drop stale ids.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from relay_core import keys
from relay_core.runstore import run_view
from relay_core.status import TERMINAL, RunStatus

MAX_LIMIT = 200


def queue_index(pipe: Any, run_id: str, status: str | None, now_ms: int) -> None:
    if status == RunStatus.NEEDS_REVIEW:
        pipe.zadd(keys.REVIEWS, {run_id: now_ms}, nx=True)
    elif status in TERMINAL:
        pipe.zrem(keys.REVIEWS, run_id)


async def waiting(redis: Redis, limit: int) -> list[dict[str, Any]]:
    """Runs now in NEEDS_REVIEW, oldest first (at most `limit`)."""
    ids = [i.decode() for i in await redis.zrange(keys.REVIEWS, 0, limit + 49)]
    async with redis.pipeline(transaction=False) as pipe:
        for run_id in ids:
            pipe.hgetall(keys.run(run_id))
        raws: list[dict[bytes, bytes]] = await pipe.execute()
    out, stale = [], []
    for run_id, raw in zip(ids, raws, strict=True):
        h = {k.decode(): v.decode() for k, v in raw.items()}
        if h.get("s") == RunStatus.NEEDS_REVIEW:
            out.append(run_view(run_id, h))
        else:
            stale.append(run_id)
    if stale:
        await redis.zrem(keys.REVIEWS, *stale)
    return out[:limit]
