"""Finished runs expire by the hour: one list of run ids per hour, not one TTL per run.

A TTL costs Redis about 50 B per key in its expiry table (B4: 338 against 285 B per run); a
run id in its hour's list costs little more than its length. The apply script
(relay_core/runs/lua/apply_run.lua) appends a run that turns terminal to the list of the hour
it finished in, and records the hour in a small index. `sweep` (worker.runs.expiry, every
minute) deletes the runs of each hour whose retention has passed, a few hundred per atomic
step (relay_core/runs/lua/expire_runs.lua), then drops the hour. A run is therefore deleted
between RETENTION_DAYS and RETENTION_DAYS plus an hour after it finished. The lists and the
index expire too (GRACE_MS after they are due), so a fleet that stops for good leaves nothing
behind but the runs of hours it never swept: those are kept, never lost.
"""

from __future__ import annotations

from redis.asyncio import Redis

from relay_core import keys
from relay_core.redis import scripts

BUCKET_MS = 3_600_000
GRACE_MS = 7 * 86_400_000  # a list waits this long past its due time for a sweep
SWEEP_STEP = 500  # run ids popped and deleted per atomic step


def bucket_of(now_ms: int, bucket_ms: int = BUCKET_MS) -> int:
    return now_ms // bucket_ms


def list_ttl_ms(retention_ms: int, bucket_ms: int = BUCKET_MS) -> int:
    """Set when an hour's list is created: it outlives the hour, the retention and a grace."""
    return retention_ms + bucket_ms + GRACE_MS


def last_due(now_ms: int, retention_ms: int, bucket_ms: int = BUCKET_MS) -> int:
    """The newest bucket all of whose runs are past the retention."""
    return (now_ms - retention_ms) // bucket_ms - 1


async def sweep(redis: Redis, now_ms: int, retention_ms: int, bucket_ms: int = BUCKET_MS) -> int:
    """Delete the runs of every bucket past the retention; the number deleted. Idempotent."""
    if retention_ms <= 0:
        return 0  # RETENTION_DAYS=0 keeps every run
    due = await redis.zrangebyscore(
        keys.RUN_EXPIRY_BUCKETS, "-inf", last_due(now_ms, retention_ms, bucket_ms)
    )
    deleted = 0
    for raw in due:
        hour = keys.run_expiry(int(raw))
        while popped := int(
            await scripts.EXPIRE_RUNS(
                redis, keys={"hour": hour}, args={"count": SWEEP_STEP, "run_prefix": keys.RUN}
            )
        ):
            deleted += popped
        await redis.zrem(keys.RUN_EXPIRY_BUCKETS, raw)
    return deleted


async def scheduled_runs(redis: Redis) -> set[str]:
    """Keys of every run waiting in a bucket: they expire by the sweep, not by a TTL."""
    found: set[str] = set()
    for raw in await redis.zrange(keys.RUN_EXPIRY_BUCKETS, 0, -1):
        ids = await redis.lrange(keys.run_expiry(int(raw)), 0, -1)  # type: ignore[misc]
        found.update(keys.run(run_id.decode()) for run_id in ids)
    return found
