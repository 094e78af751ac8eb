"""Finished work expires after RETENTION_DAYS; open work never does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from relay_core import keys
from relay_core.batches import runmap
from relay_core.ops import metrics, retention
from relay_core.redis import queue
from relay_core.runs import expiry as runexpiry
from relay_core.settings import Settings
from tests.batches.support import (
    WF,
    Stack,
    files,
    jobs_in_progress,
    sandbox_config,
    stack,
)
from tests.conftest import make_settings, run_worker_burst
from tests.support.signing import event, extend_headers, run_payload
from tests.support.wait import until

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


async def test_a_run_expires_only_once_terminal(
    client: TestClient[Any, Any], redis: Redis, settings: Settings
) -> None:
    worker_settings = make_settings(settings.redis.url, RETENTION_DAYS=2)
    run_id = "workflow_run_kept"
    for n, (kind, status) in enumerate(
        [("workflow_run.needs_review", "NEEDS_REVIEW"), ("workflow_run.completed", "PROCESSED")]
    ):
        body = event(f"evt_kept_{n}", kind, run_payload(run_id, status))
        resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
        assert resp.status == 200
        await run_worker_burst(worker_settings)
        scheduled = keys.run(run_id) in await runexpiry.scheduled_runs(redis)
        # Open: kept however long the review takes. Terminal: in its hour's expiry list.
        assert scheduled is (status == "PROCESSED")
        assert await redis.pttl(keys.run(run_id)) == -1  # no TTL per run (runexpiry says why)
    # The sweep deletes it once its hour is past the retention, not before.
    finished = int(await redis.hget(keys.run(run_id), "u") or 0)
    due = (finished // HOUR_MS + 1) * HOUR_MS + 2 * DAY_MS
    assert await runexpiry.sweep(redis, due - 1, 2 * DAY_MS) == 0
    assert await runexpiry.sweep(redis, due, 2 * DAY_MS) == 1
    assert not await redis.exists(keys.run(run_id))
    # The default keeps a finished run 30 days; RETENTION_DAYS=0, an explicit choice, keeps it.
    assert settings.retention.days == 30
    for n, days in enumerate((30, 0)):
        run_id = f"workflow_run_k{n}"
        body = event(f"evt_kept_d{n}", "workflow_run.completed", run_payload(run_id, "PROCESSED"))
        resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
        assert resp.status == 200
        await run_worker_burst(make_settings(settings.redis.url, RETENTION_DAYS=days))
        assert await redis.hget(keys.run(run_id), "s") == b"PROCESSED"
        scheduled = keys.run(run_id) in await runexpiry.scheduled_runs(redis)
        assert scheduled is bool(days)


async def test_a_finished_batch_expires_with_every_key_it_owns(
    redis_url: str, redis: Redis
) -> None:
    async with stack(redis_url, sandbox_config(), RETENTION_DAYS=3) as st:
        st.start_worker()
        # 70 files in chunks of 50: two chunks, and file->run buckets 0 and 1.
        batch_id = await st.submit(files(70), chunkSize=50)

        async def expiring() -> bool:
            return int(await redis.pttl(keys.batch(batch_id))) > 0

        await until(expiring)
        owned = [k.decode() async for k in redis.scan_iter(match=keys.batch(batch_id) + "*")]
        assert keys.batch_chunk(batch_id, 1) in owned
        assert runmap.key_of(batch_id, 69) in owned and runmap.key_of(batch_id, 0) in owned
        for key in owned:
            assert 0 < await redis.pttl(key) <= 3 * DAY_MS, key
        run_ids = await runmap.all_run_ids(redis, batch_id, 70)
        assert len(run_ids) == 70
        assert {keys.run(r) for r in run_ids} <= await runexpiry.scheduled_runs(redis)

        # Past the retention (the expiry itself is Redis's): the batch leaves the listing cleanly.
        await redis.delete(*owned)
        status, listing = await st.call("GET", "/v1/batches")
        assert status == 200 and batch_id not in [b["batchId"] for b in listing["batches"]]
        assert await redis.zscore(keys.BATCH_INDEX, batch_id) is None
        status, gone = await st.call("GET", f"/v1/batches/{batch_id}")
        assert status == 404 and gone["error"]["code"] == "not_found"


TARGET = "workflow_retention_target"
STEPS = [
    {"name": "trigger", "type": "TRIGGER", "next": [{"step": "parse"}]},
    {"name": "parse", "type": "PARSE"},
]
RULES = f"""
[[rules]]
name = "promote"
on = "batch.completed"
workflow = "{WF}"
[rules.deploy]
provider = "extend"
workflow = "{TARGET}"

[[rules]]
name = "each-review"
on = "review.completed"
workflow = "{WF}"
dry_run = true
[rules.deploy]
provider = "extend"
workflow = "{TARGET}"
"""


async def _loop(st: Stack, redis: Redis, n: int) -> None:
    """One whole loop: a batch whose runs partly go to review, reviewed, and a deploy."""
    batch_id = await st.submit(files(40, prefix=f"loop{n}"), chunkSize=20)
    view = await st.wait_done(batch_id)
    assert view["runs"]["PROCESSED"] + view["runs"]["REJECTED"] == 40, view

    async def settled() -> bool:
        found = await redis.hget(keys.deploy(f"promote:{batch_id}"), "status")
        queued = await redis.zcard(queue.QUEUE)
        return found == b"deployed" and queued == 0 and not await jobs_in_progress(redis)

    await until(settled)
    await st.deliveries_idle()


async def test_two_loops_leave_no_more_keys_without_a_ttl(
    redis_url: str, redis: Redis, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    config = sandbox_config(
        processing={"p_needs_review": 0.4, "review_seconds": 0, "review_requires_step": False},
        workflows={
            "extend": [
                {"id": WF, "name": "Batch workflow"},
                {"id": TARGET, "name": "Target", "steps": STEPS, "versions": [{"name": "v1"}]},
            ]
        },
    )
    async with stack(redis_url, config, RELAY_RULES=str(rules), EXTEND_API_KEY="sk_sandbox") as st:
        st.start_worker(cron_jobs=[])
        await _loop(st, redis, 1)
        # Reviews happened, and every family the loop wrote is there to be measured.
        assert await redis.exists(keys.deploys_by_rule("each-review"))
        await metrics.TALLY.flush(redis)  # the counters hash is there in both reports
        first = await retention.ttl_report(redis)
        await _loop(st, redis, 2)
        await metrics.TALLY.flush(redis)
        second = await retention.ttl_report(redis)
    # Counters are fixed in number; their values may gain a digit or a first-seen label.
    grown = second.grown_since(first, slack_bytes={"metrics": 512, "event-types": 16})
    assert grown == {}, f"keys without a TTL grew with the work: {grown}"
    # What does grow with the work expires: runs, batches, deploys, their indexes.
    for family in ("run", "batch", "deploy", "deploy-index", "batch-index", "event-seen"):
        assert second.expiring[family] > first.expiring[family] or family.endswith("index"), family
        assert second.expiring[family] > 0, family
