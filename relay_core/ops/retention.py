"""Retention: finished work expires after RETENTION_DAYS, and so do the indexes that list it.

Records expire by their own TTL (a completed batch with its keys, a final deploy, a dead
letter), or, finished runs, by the hour they finished in (relay_core.runs.expiry). An index (a
sorted set by time) is trimmed by the same clock whenever it is written, and expires a
retention after its last write, so it neither grows beyond its window nor outlives what it
lists. `ttl_report` is how tests, the soak and operators check that no
family of keys without a TTL grows with the work done.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from relay_core import keys
from relay_core.runs import expiry as runexpiry


def touch_index(pipe: Any, key: str, now_ms: int, retention_ms: int) -> None:
    """Queue on `pipe` the trim by time and the sliding expiry of an index (0: kept)."""
    if retention_ms > 0:
        pipe.zremrangebyscore(key, "-inf", now_ms - retention_ms)
        pipe.pexpire(key, retention_ms)


async def touch_indexes(redis: Redis, index_keys: list[str], now_ms: int, retention: int) -> None:
    if retention <= 0:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for key in index_keys:
            touch_index(pipe, key, now_ms, retention)
        await pipe.execute()


@dataclass(slots=True)
class TtlReport:
    """Keys without a TTL, per family: how many and their MEMORY USAGE in bytes."""

    count: Counter[str] = field(default_factory=Counter)
    memory: Counter[str] = field(default_factory=Counter)
    expiring: Counter[str] = field(default_factory=Counter)

    def grown_since(
        self, before: TtlReport, slack_bytes: dict[str, int] | None = None
    ) -> dict[str, str]:
        """Families whose keys without a TTL grew in number or memory since `before` (beyond
        `slack_bytes` of a family: counters gain digits and labels, not entries per run)."""
        grown: dict[str, str] = {}
        slack = slack_bytes or {}
        for family in set(self.count) | set(before.count):
            n0, n1 = before.count[family], self.count[family]
            m0, m1 = before.memory[family], self.memory[family]
            if n1 > n0 or m1 > m0 + slack.get(family, 0):
                grown[family] = f"{n0} -> {n1} keys, {m0} -> {m1} bytes"
        return grown


async def ttl_report(redis: Redis) -> TtlReport:
    """Walk every key (SCAN): for tests and operators, not for a hot path."""
    report = TtlReport()
    by_sweep = await runexpiry.scheduled_runs(redis)  # no TTL of their own, yet expiring
    async for raw in redis.scan_iter(count=1000):
        async with redis.pipeline(transaction=False) as pipe:
            pipe.pttl(raw)
            pipe.memory_usage(raw, samples=0)
            ttl, size = await pipe.execute()
        name = raw.decode(errors="replace")
        family = keys.family_of(name)
        if ttl == -1 and name not in by_sweep:
            report.count[family] += 1
            report.memory[family] += int(size or 0)
        else:
            report.expiring[family] += ttl != -2  # -2: gone since the scan listed it
    return report
