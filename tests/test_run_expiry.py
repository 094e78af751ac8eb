"""Finished runs expire by the hour they finished in (relay_core.runs.expiry), and their history
is kept in its compact form (relay_core.runs.store)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from relay_core import keys
from relay_core.deploys.rules import RuleSet
from relay_core.redis import queue
from relay_core.runs import expiry as runexpiry
from relay_core.runs.events import RunUpdate
from relay_core.runs.store import RunStore
from relay_core.settings import Settings
from tests.conftest import make_settings
from worker.context import start, stop
from worker.runs.expiry import sweep_runs

HOUR_MS = runexpiry.BUCKET_MS
RETENTION_MS = 2 * 86_400_000
T0 = 1_796_000_000_000 // HOUR_MS * HOUR_MS  # the start of an hour


def done(run_id: str, status: str = "PROCESSED") -> RunUpdate:
    return RunUpdate(run_id=run_id, status=status, workflow_id="workflow_x")


async def finish(store: RunStore, prefix: str, count: int, at_ms: int) -> list[str]:
    ids = [f"{prefix}_{i}" for i in range(count)]
    await store.apply_many([(done(run_id), f"evt_{run_id}") for run_id in ids], at_ms)
    return ids


@contextlib.asynccontextmanager
async def job_context(redis: Redis, settings: Settings, days: int) -> AsyncIterator[dict[str, Any]]:
    """arq's ctx as a started worker's jobs see it, with RETENTION_DAYS=days."""
    ctx: dict[str, Any] = {"redis": redis}
    await start(ctx, make_settings(settings.redis.url, RETENTION_DAYS=days), RuleSet([]))
    try:
        yield ctx
    finally:
        await stop(ctx)


async def present(redis: Redis, ids: list[str]) -> int:
    return int(await redis.exists(*(keys.run(i) for i in ids)))


async def test_the_sweep_deletes_the_runs_of_each_hour_past_the_retention_only(
    redis: Redis,
) -> None:
    store = RunStore(redis, retention_ms=RETENTION_MS)
    early = await finish(store, "run_early", 3, T0 + 10)
    late = await finish(store, "run_late", 2, T0 + HOUR_MS + 5)
    await store.apply(RunUpdate(run_id="run_open", status="PROCESSING"), "evt_open", T0)
    # Each hour's list and the index expire on their own too, after the grace.
    ttl = await redis.pttl(keys.run_expiry(T0 // HOUR_MS))
    assert RETENTION_MS + runexpiry.GRACE_MS < ttl <= runexpiry.list_ttl_ms(RETENTION_MS)
    assert await redis.pttl(keys.RUN_EXPIRY_BUCKETS) > RETENTION_MS

    first_due = T0 + HOUR_MS + RETENTION_MS  # every run of the first hour is past the retention
    assert await runexpiry.sweep(redis, first_due - 1, RETENTION_MS) == 0
    assert await present(redis, early) == 3
    assert await runexpiry.sweep(redis, first_due, RETENTION_MS) == 3
    assert await present(redis, early) == 0 and await present(redis, late) == 2
    assert await runexpiry.sweep(redis, first_due, RETENTION_MS) == 0  # idempotent
    assert await redis.zrange(keys.RUN_EXPIRY_BUCKETS, 0, -1) == [str(T0 // HOUR_MS + 1).encode()]
    assert await runexpiry.sweep(redis, first_due + HOUR_MS, RETENTION_MS) == 2
    assert await redis.hget(keys.run("run_open"), "s") == b"PROCESSING"  # open: never swept
    assert not await redis.exists(keys.RUN_EXPIRY_BUCKETS)


async def test_concurrent_sweeps_delete_each_run_once_and_leave_none(redis: Redis) -> None:
    store = RunStore(redis, retention_ms=RETENTION_MS)
    ids = await finish(store, "run_many", 1_234, T0 + 1)
    due = T0 + HOUR_MS + RETENTION_MS
    counts = await asyncio.gather(*(runexpiry.sweep(redis, due, RETENTION_MS) for _ in range(4)))
    assert sum(counts) == 1_234  # popped and deleted in one step: nothing twice, nothing skipped
    assert await present(redis, ids) == 0
    assert not await redis.exists(keys.run_expiry(T0 // HOUR_MS))


async def test_retention_zero_keeps_every_run(redis: Redis, settings: Settings) -> None:
    store = RunStore(redis, retention_ms=0)
    ids = await finish(store, "run_kept", 2, T0)
    assert not await redis.exists(keys.RUN_EXPIRY_BUCKETS)
    assert await runexpiry.sweep(redis, T0 + 365 * 86_400_000, 0) == 0
    async with job_context(redis, settings, days=0) as ctx:
        assert await sweep_runs(ctx) == 0
    assert await present(redis, ids) == 2


async def test_the_worker_job_sweeps_by_the_settings_retention(
    redis: Redis, settings: Settings
) -> None:
    now = queue.now_ms()  # the job's clock is the real one
    store = RunStore(redis, retention_ms=86_400_000)
    old = await finish(store, "run_old", 2, now - 3 * 86_400_000)
    async with job_context(redis, settings, days=1) as ctx:
        assert await sweep_runs(ctx) == 2
    assert await present(redis, old) == 0


async def test_the_history_reads_back_in_order_across_the_ring_and_the_older_form(
    redis: Redis,
) -> None:
    store = RunStore(redis, history_limit=3)
    steps = ["PENDING", "PROCESSING", "NEEDS_REVIEW", "PROCESSED"]
    for n, status in enumerate(steps):
        await store.apply(RunUpdate(run_id="run_h", status=status), f"evt_h{n}", T0 + 1000 * n)
    raw = await redis.hgetall(keys.run("run_h"))  # type: ignore[misc]
    assert raw[b"h0"] == b"Devt_h3|3000"  # the 4th entry took the oldest slot of three
    view = await store.get("run_h")
    assert view is not None
    assert [(e["status"], e["eventId"]) for e in view["history"]] == [
        ("PROCESSING", "evt_h1"),
        ("NEEDS_REVIEW", "evt_h2"),
        ("PROCESSED", "evt_h3"),
    ]
    assert view["history"][-1]["at"] == "2026-11-30T00:00:03Z"
    # A run written before the compact form ("seq|STATUS|eventId|ms") still reads back.
    await redis.hset(keys.run("run_old"), mapping={"s": "PROCESSED", "f": T0, "hn": 2})  # type: ignore[misc]
    await redis.hset(keys.run("run_old"), mapping={"h0": f"1|PENDING|evt_a|{T0}", "h1": "Devt_b|7"})  # type: ignore[misc]
    old = await store.get("run_old")
    assert old is not None
    assert [(e["status"], e["eventId"]) for e in old["history"]] == [
        ("PENDING", "evt_a"),
        ("PROCESSED", "evt_b"),
    ]
