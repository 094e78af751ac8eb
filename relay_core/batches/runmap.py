"""Which run each file of a relay batch got: file index -> run id, the first run wins.

The map is kept in buckets of BUCKET consecutive files, one small hash each, not one hash per
batch: a hash of at most 128 short entries stays in Redis's listpack encoding, while one big
map becomes a hashtable costing about twice the bytes per entry (bench B4 measures both).
A chunk (at most 50 files) therefore spans at most two buckets.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from relay_core import keys

BUCKET = 64


def bucket_of(index: int) -> int:
    return index // BUCKET


def key_of(batch_id: str, index: int) -> str:
    return keys.batch_runs(batch_id, bucket_of(index))


def keys_of(batch_id: str, start: int, end: int) -> list[str]:
    """The bucket keys covering file indexes [start, end), in order (none for an empty range)."""
    if end <= start:
        return []
    return [keys.batch_runs(batch_id, b) for b in range(bucket_of(start), bucket_of(end - 1) + 1)]


async def run_ids(redis: Redis, batch_id: str, indexes: Sequence[int]) -> list[bytes | None]:
    """The run id of each file index (None: no run recorded), in the order given."""
    if not indexes:
        return []
    by_bucket: dict[int, list[int]] = {}
    for index in indexes:
        by_bucket.setdefault(bucket_of(index), []).append(index)
    async with redis.pipeline(transaction=False) as pipe:
        for bucket, members in by_bucket.items():
            pipe.hmget(keys.batch_runs(batch_id, bucket), [str(i) for i in members])
        answers = await pipe.execute()
    found: dict[int, bytes | None] = {}
    for members, values in zip(by_bucket.values(), answers, strict=True):
        found.update(zip(members, values, strict=True))
    return [found[i] for i in indexes]


async def all_run_ids(redis: Redis, batch_id: str, files: int) -> list[str]:
    """Every run id the batch's files got (a file's first run only)."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys_of(batch_id, 0, files):
            pipe.hvals(key)
        answers = await pipe.execute()
    return [run_id.decode() for values in answers for run_id in values]
