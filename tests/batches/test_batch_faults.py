"""Faults: commit-then-fail, 429 and 500 storms, rate limits, lost webhooks, cancel."""

from __future__ import annotations

import logging
import time

import pytest
from redis.asyncio import Redis

from relay_core import keys
from relay_core.redis import queue
from tests.batches.support import files, sandbox_config, stack
from tests.support.wait import until
from worker.batches import fanout

BATCH_PATHS = {"only_paths": ["/workflow_runs"], "only_methods": ["POST"]}


@pytest.mark.parametrize("dialect", ["2026-02-09", "2025-04-21"])
async def test_commit_then_fail_creates_no_duplicate(
    redis_url: str, redis: Redis, dialect: str
) -> None:
    faults = {"p_commit_then_fail": 0.5, "commit_then_fail": "drop", **BATCH_PATHS}
    async with stack(redis_url, sandbox_config(faults=faults), EXTEND_API_VERSION=dialect) as st:
        st.start_worker()
        batch_id = await st.submit(files(400), chunkSize=20)
        view = await st.wait_done(batch_id)
        assert view["runs"]["PROCESSED"] == 400 and view["duplicateRuns"] == 0
        per_url = await st.runs_per_url()
        assert len(per_url) == 400 and set(per_url.values()) == {1}
        dropped = [
            r
            for r in await st.requests(
                "/workflow_runs" + ("/batch" if dialect == "2026-02-09" else "")
            )
            if r["status"] is None
        ]
        assert dropped, "the fault never struck"


async def test_a_slow_look_retries_within_its_budget_and_keeps_what_it_fetched(
    redis_url: str, redis: Redis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """arq does not retry a job it timed out, so the chunk job stops itself first and retries;
    the run its look fetched is kept, so the retry finishes the look instead of starting over."""
    monkeypatch.setattr(fanout, "CHUNK_BUDGET_SECONDS", 2.0)
    drop = {"p_commit_then_fail": 1.0, "commit_then_fail": "drop", **BATCH_PATHS}
    settings = {"EXTEND_RETRY_BASE_SECONDS": 4, "EXTEND_RETRY_MAX_SECONDS": 4}
    async with stack(redis_url, sandbox_config(faults=drop), **settings) as st:
        st.start_worker()
        batch_id = await st.submit(files(5), chunkSize=5)

        async def dropped() -> bool:
            return any(r["status"] is None for r in await st.requests("/workflow_runs/batch"))

        await until(dropped)  # committed, answer lost: the chunk waits 2-4 s, then looks
        # Every look request now takes 1.2 s: a list and a GET overrun the 2 s budget once.
        slow = {"p_commit_then_fail": 0.0, "p_latency": 1.0, "latency_seconds": 1.2}
        slow |= {"only_paths": ["/workflow_runs"], "only_methods": ["GET"]}
        await st.sandbox("POST", "/_sandbox/config", {"faults": slow})

        async def settled() -> bool:
            return bool((await st.batch(batch_id))["chunks"]["submitted"] == 1)

        with caplog.at_level(logging.WARNING, logger="worker.batches.fanout"):
            await until(settled)
        view = await st.wait_done(batch_id)
        assert view["runs"]["PROCESSED"] == 5 and view["duplicateRuns"] == 0
        assert "ran out of time, retrying" in caplog.text
        assert len(await st.requests("/workflow_runs/batch")) == 1  # never sent again
        gets = await st.requests("/workflow_runs/{id}", "GET")
        assert len(gets) == 1, gets  # the run was fetched once, across both tries


@pytest.mark.parametrize("fault", ["p_429", "p_500"])
async def test_storms_end_with_every_file_once(redis_url: str, redis: Redis, fault: str) -> None:
    faults = {fault: 0.4, **BATCH_PATHS}
    async with stack(redis_url, sandbox_config(faults=faults)) as st:
        st.start_worker()
        batch_id = await st.submit(files(300), chunkSize=10)
        view = await st.wait_done(batch_id)
        assert view["runs"]["PROCESSED"] == 300 and view["notSubmitted"] == 0
        per_url = await st.runs_per_url()
        assert len(per_url) == 300 and set(per_url.values()) == {1}


@pytest.mark.parametrize("retry_after", [True, False])
async def test_rate_limit_is_shared_and_429_pauses_the_fleet(
    redis_url: str, redis: Redis, retry_after: bool
) -> None:
    # The platform allows 10 RUN requests/s; relay is configured above it, so 429s come.
    limits = {"run_rps": 10, "send_retry_after": retry_after}
    async with stack(redis_url, sandbox_config(rate_limits=limits), EXTEND_RUN_RPS=40) as st:
        st.start_worker()
        st.start_worker()
        batch_id = await st.submit(files(60), chunkSize=2)
        view = await st.wait_done(batch_id)
        assert view["runs"]["PROCESSED"] == 60
        sent = await st.requests("/workflow_runs/batch")
        accepted = [r for r in sent if r["status"] == 200]
        throttled = [r for r in sent if r["status"] == 429]
        assert len(accepted) == 30
        assert len(throttled) < 30  # the fleet-wide pause keeps a storm short


async def test_pacing_stays_under_the_limit(redis_url: str, redis: Redis) -> None:
    limits = {"run_rps": 10}
    async with stack(redis_url, sandbox_config(rate_limits=limits), EXTEND_RUN_RPS=10) as st:
        st.start_worker()
        st.start_worker()
        started = time.monotonic()
        batch_id = await st.submit(files(40), chunkSize=1)
        await st.wait_done(batch_id)
        elapsed = time.monotonic() - started
        sent = await st.requests("/workflow_runs/batch")
        assert [r for r in sent if r["status"] == 429] == []
        assert len(sent) == 40 and elapsed >= 3.5  # 40 requests at 10/s, one worker or two


async def test_lost_webhooks_are_recovered_by_reconciliation(redis_url: str, redis: Redis) -> None:
    config = sandbox_config(webhooks={"p_drop": 0.3})
    async with stack(redis_url, config, RECONCILE_AFTER_SECONDS=1) as st:
        st.start_worker()
        batch_id = await st.submit(files(100), chunkSize=25)

        async def sent() -> bool:
            return (await st.batch(batch_id))["chunks"]["submitted"] == 4

        await until(sent)
        await st.deliveries_idle()
        assert (await st.batch(batch_id))["completedAt"] is None  # some events were dropped
        pool = await queue.arq_pool(st.settings.redis.url)

        async def reconciled() -> bool:
            if (await st.batch(batch_id))["completedAt"] is not None:
                return True
            await pool.enqueue_job(queue.RECONCILE)
            return False

        try:
            await until(reconciled, every=0.2)
        finally:
            await pool.aclose()
        view = await st.batch(batch_id)
        assert view["runs"]["PROCESSED"] == 100


async def test_cancel_stops_unsent_chunks_and_cancels_runs(redis_url: str, redis: Redis) -> None:
    config = sandbox_config(processing={"pending_seconds": 30})
    async with stack(redis_url, config, EXTEND_RUN_RPS=2) as st:
        batch_id = await st.submit(files(50), chunkSize=5)
        st.start_worker()

        async def some_sent() -> bool:
            return (await st.batch(batch_id))["chunks"]["submitted"] >= 2

        await until(some_sent)
        status, body = await st.call("POST", f"/v1/batches/{batch_id}/cancel")
        assert status == 202 and body["outcome"] == "cancelled"
        view = await st.wait_done(batch_id)
        assert view["state"] == "cancelled"
        assert view["unsent"] > 0 and view["runs"]["CANCELLED"] + view["unsent"] == 50
        status, again = await st.call("POST", f"/v1/batches/{batch_id}/cancel")
        assert status == 200 and again["outcome"] in ("already_cancelled", "already_completed")


async def test_a_platform_that_will_not_list_does_not_stop_the_reconcile_pass(
    redis_url: str, redis: Redis
) -> None:
    config = sandbox_config(webhooks={"p_drop": 1.0})  # every event lost: only reconcile heals
    async with stack(redis_url, config, RECONCILE_AFTER_SECONDS=1) as st:
        st.start_worker()
        batch_ids = [await st.submit(files(20), chunkSize=10) for _ in range(2)]

        async def sent() -> bool:
            views = [await st.batch(b) for b in batch_ids]
            return all(v["chunks"]["submitted"] == 2 for v in views)

        await until(sent)
        faults = {"p_500": 1.0, "only_paths": ["/workflow_runs"], "only_methods": ["GET"]}
        await st.sandbox("POST", "/_sandbox/config", {"faults": faults})

        async def due() -> bool:
            """Every chunk settled over RECONCILE_AFTER_SECONDS ago: the pass will ask."""
            settled = [
                int(await redis.hget(keys.batch_chunk(b, n), "settledAt") or 0)
                for b in batch_ids
                for n in range(2)
            ]
            return max(settled) < queue.now_ms() - 1100

        await until(due)
        pool = await queue.arq_pool(st.settings.redis.url)

        async def reconciled() -> bool:
            if all([(await st.batch(b))["completedAt"] for b in batch_ids]):
                return True
            await pool.enqueue_job(queue.RECONCILE)
            return False

        try:
            job = await pool.enqueue_job(queue.RECONCILE)
            assert job is not None
            # The pass ends (each batch skipped with a warning) instead of failing at the first.
            assert (await job.result(timeout=30))["batches"] == 0
            await st.sandbox("POST", "/_sandbox/config", {"faults": {"p_500": 0.0}})
            await until(reconciled, every=0.2)
        finally:
            await pool.aclose()
