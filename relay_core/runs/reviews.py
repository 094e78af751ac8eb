"""Runs waiting for a person: an index kept by the worker, read by GET /v1/reviews.

The index is written by the apply script itself (relay_core/runs/lua/apply_run.lua), in the
same atomic step as the run's status, from the status after each event (whether or not the
event changed it), so re-applying a group after a crash repairs it and a replayed needs_review
of a finished run adds nothing. Readers still drop stale ids (an index written by an older version).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from relay_core import keys
from relay_core.runs.status import RunStatus
from relay_core.runs.store import run_view

MAX_LIMIT = 200


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
