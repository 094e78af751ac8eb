"""Who gets which share of the limit now, and when each batch's files will all be sent.

The schedule's state says which batches have files left at which priority level; shares
follow the dispatcher's rules (the lowest level takes every slot; its producers share equally,
a producer's batches by weight). The ETA replays those rules as a fluid: batches drain at their
share of the file rate, a finished batch's share goes to the rest, a level starts when the one
before it is empty. It estimates when a batch's last file is sent, not when its runs end.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from redis.asyncio import Redis

from relay_core import keys
from relay_core.scheduler.ratelimit import Limits

MAX_CHUNK = 50


@dataclass(frozen=True, slots=True)
class Entry:
    batch_id: str
    producer: str
    priority: int
    weight: float
    files_left: int
    share: float = 0.0
    eta_seconds: float | None = None


def file_rate(limits: Limits) -> float:
    """Files a second the limits allow: files per minute, or full chunks at the RUN rate."""
    return min(limits.files_per_minute / 60.0, limits.run_rps * MAX_CHUNK)


async def snapshot(redis: Redis, limits: Limits) -> list[Entry]:
    """The batches with files left to send, in send order, with share and ETA."""
    found = await _read(redis)
    return estimate(found, file_rate(limits))


async def _read(redis: Redis) -> list[Entry]:
    levels = [lv.decode() for lv in await redis.zrange(keys.SCHED_LEVELS, 0, -1)]
    async with redis.pipeline(transaction=False) as pipe:
        for lv in levels:
            pipe.zrange(keys.sched_level(int(lv)), 0, -1)
        producers = await pipe.execute()
    places = [(lv, p.decode()) for lv, found in zip(levels, producers, strict=True) for p in found]
    async with redis.pipeline(transaction=False) as pipe:
        for lv, name in places:
            pipe.zrange(keys.sched_level(int(lv)) + keys.SCHED_PRODUCER_INFIX + name, 0, -1)
        found_batches = await pipe.execute()
    members = [
        (lv, b.decode())
        for (lv, _), found in zip(places, found_batches, strict=True)
        for b in found
    ]
    async with redis.pipeline(transaction=False) as pipe:
        for _, batch_id in members:
            pipe.hmget(keys.batch(batch_id), ["files", "next", "weight", "producer", "priority"])
        rows = await pipe.execute()
    entries = []
    for (lv, batch_id), row in zip(members, rows, strict=True):
        files, nxt, weight, producer, _ = (v.decode() if v else None for v in row)
        if files is None:
            continue
        left = int(files) - int(nxt or 0)
        if left > 0:
            entries.append(
                Entry(batch_id, producer or "default", int(lv), float(weight or 1), left)
            )
    return entries


def shares(active: list[Entry]) -> dict[str, float]:
    """Within one level: producers equally, a producer's batches in proportion to weight."""
    by_producer: dict[str, list[Entry]] = defaultdict(list)
    for entry in active:
        by_producer[entry.producer].append(entry)
    out: dict[str, float] = {}
    for group in by_producer.values():
        total = sum(e.weight for e in group)
        for entry in group:
            out[entry.batch_id] = entry.weight / total / len(by_producer)
    return out


def estimate(entries: list[Entry], rate: float) -> list[Entry]:
    """Each entry with its share now and its ETA (seconds from now), in send order."""
    left = {e.batch_id: float(e.files_left) for e in entries}
    now_share: dict[str, float] = {}
    eta: dict[str, float] = {}
    t = 0.0
    for level in sorted({e.priority for e in entries}):
        active = [e for e in entries if e.priority == level]
        first = not now_share
        while active:
            current = shares(active)
            if first:
                now_share.update(current)
                first = False
            dt = min(left[b] / (s * rate) for b, s in current.items())
            t += dt
            for b, s in current.items():
                left[b] -= s * rate * dt
                if left[b] <= 1e-6:
                    eta[b] = t
            active = [e for e in active if e.batch_id not in eta]
    out = [
        replace(e, share=now_share.get(e.batch_id, 0.0), eta_seconds=eta.get(e.batch_id))
        for e in entries
    ]
    return sorted(out, key=lambda e: (e.priority, e.eta_seconds or 0.0, e.batch_id))


def iso_in(seconds: float | None, now_ms: int) -> str | None:
    """An ETA in seconds from now as RFC 3339 (UTC), or None."""
    if seconds is None:
        return None
    at = datetime.fromtimestamp(now_ms / 1000 + seconds, UTC)
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


async def of_batch(
    redis: Redis, limits: Limits, batch_id: str, now_ms: int
) -> tuple[float, str | None]:
    """One batch's share now and ETA (0 and None once all its files are sent)."""
    for entry in await snapshot(redis, limits):
        if entry.batch_id == batch_id:
            return entry.share, iso_in(entry.eta_seconds, now_ms)
    return 0.0, None
