"""A batch as the API shows it: built from its hash's counters alone (O(1) in its size), and
the recent-batches listing (the dashboard's)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from relay_core import keys
from relay_core.runs.status import BATCH_COUNTED
from relay_core.scheduler import state as scheduler


async def recent(redis: Redis, limit: int, offset: int) -> tuple[list[dict[str, Any]], int | None]:
    """The most recent batches first (the dashboard's list), and the offset of the next page."""
    ids = await redis.zrevrange(keys.BATCH_INDEX, offset, offset + limit)
    page = [i.decode() for i in ids[:limit]]
    async with redis.pipeline(transaction=False) as pipe:
        for batch_id in page:
            pipe.hgetall(keys.batch(batch_id))
        raws = await pipe.execute()
    views = [
        view(batch_id, {k.decode(): v.decode() for k, v in raw.items()})
        for batch_id, raw in zip(page, raws, strict=True)
        if raw and b"files" in raw
    ]
    expired = [b for b, raw in zip(page, raws, strict=True) if not raw]
    if expired:
        await redis.zrem(keys.BATCH_INDEX, *expired)  # past their retention: out of the listing
    return views, (offset + limit if len(ids) > limit else None)


def view(
    batch_id: str, h: dict[str, str], share: float = 0.0, eta: str | None = None
) -> dict[str, Any]:
    """GET /v1/batches/{id}: built from the hash's counters alone (O(1) in the batch size);
    `share` and `eta` come from the schedule (relay_core.scheduler.snapshot)."""

    def num(name: str) -> int:
        return int(h.get(name, "0") or 0)

    files, size = num("files"), max(1, num("chunkSize"))
    unscheduled = max(0, files - int(h.get("next", files) or 0))

    runs = {status: max(0, num("c:" + status)) for status in BATCH_COUNTED}
    # Files whose chunk was accepted but of which no event has arrived yet (2026-02-09 batches
    # answer with a platform batch id only) are shown as PENDING, which is what they are.
    runs["PENDING"] += max(0, num("filesSent") - sum(runs.values()))
    failed, unsent = num("submitFailed"), num("unsent")
    return {
        "batchId": batch_id,
        "workflowId": h.get("workflowId"),
        "version": h.get("version"),
        "priority": int(h.get("priority") or scheduler.DEFAULT_PRIORITY),
        "weight": float(h.get("weight") or 1),
        "producer": h.get("producer", "default"),
        "share": round(share, 4),
        "eta": eta,
        "metadata": orjson.loads(h.get("metadata") or "{}"),
        "dialect": h.get("dialect"),
        "state": h.get("state"),
        "files": num("files"),
        "chunks": {
            # Cut so far, and the rest at the batch's largest size (an estimate until cut).
            "total": num("chunks") + -(-unscheduled // size),
            "submitted": num("chunksSubmitted"),
            "failed": num("chunksFailed"),
            "cancelled": num("chunksCancelled"),
            "size": num("chunkSize"),
        },
        "runs": runs,
        "notSubmitted": failed + unsent,
        "submitFailed": failed,
        "unsent": unsent,
        "queued": max(0, num("files") - num("filesSent") - failed - unsent),
        "duplicateRuns": num("duplicateRuns"),
        "createdAt": _iso(h.get("createdAt")),
        "completedAt": _iso(h.get("completedAt")),
        "cancelledAt": _iso(h.get("cancelledAt")),
    }


def _iso(ms: str | None) -> str | None:
    if not ms:
        return None
    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat().replace("+00:00", "Z")
