"""R8: a poison event group goes to the dead letters after JOB_MAX_TRIES; reconcile leaves it
there; once the cause is gone, a redrive applies it exactly once. The API and the CLI see it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from relay_cli.main import main as relay_main
from relay_core import keys
from relay_core.ops import deadletters
from relay_core.redis import queue
from relay_core.runs.store import RunStore
from relay_core.settings import Settings
from tests.conftest import API_KEY, auth, make_settings, run_worker_burst
from tests.support.signing import event, extend_headers, run_payload
from worker.app import build_worker
from worker.runs.sweep import requeue_orphan_groups

POISON = "workflow_run_poison"
HEALTHY = "workflow_run_healthy"


async def _post(client: TestClient[Any, Any], event_id: str, run_id: str) -> None:
    body = event(event_id, "workflow_run.completed", run_payload(run_id, "PROCESSED"))
    resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
    assert resp.status == 200 and (await resp.json())["status"] == "queued"


async def _reconcile(settings: Settings) -> None:
    pool = await queue.arq_pool(settings.redis.url)
    try:
        await pool.enqueue_job(queue.RECONCILE)
    finally:
        await pool.aclose()
    await run_worker_burst(settings)


async def test_r8_poison_group_is_dead_lettered_then_redriven_once(
    client: TestClient[Any, Any], redis: Redis, settings: Settings
) -> None:
    tries = make_settings(settings.redis.url, JOB_MAX_TRIES=3)
    await _post(client, "evt_poison_1", POISON)
    await _post(client, "evt_healthy_1", HEALTHY)
    # The real fault: the run's key holds the wrong type, so every apply gets WRONGTYPE.
    await redis.set(keys.run(POISON), "not a hash")
    worker = build_worker(tries, burst=True, poll_delay=0.01)
    try:
        await asyncio.wait_for(worker.main(), 60)
    finally:
        await worker.close()
    assert (await RunStore(redis).get(HEALTHY) or {}).get("status") == "PROCESSED"

    resp = await client.get("/v1/dead-letters", headers=auth())
    listing = await resp.json()
    assert resp.status == 200 and len(listing["deadLetters"]) == 1, listing
    dead = listing["deadLetters"][0]
    assert dead["kind"] == "event_group" and dead["tries"] == 3
    assert "WRONGTYPE" in dead["error"] and dead["needs"]
    assert dead["firstFailedAt"] < dead["lastFailedAt"]
    group = keys.event_group(dead["ref"])
    assert 0 < await redis.pttl(group) <= settings.retention.ms  # kept with its dead letter
    metrics_text = await (await client.get("/metrics")).text()
    assert 'relay_dead_letters{kind="event_group"} 1.0' in metrics_text

    # Reconcile no longer re-queues it: it waits for a person.
    await _reconcile(tries)
    assert await requeue_orphan_groups(redis) == 0
    assert await redis.zcard(queue.QUEUE) == 0
    assert await deadletters.exists(redis, "event_group", dead["ref"])

    await redis.delete(keys.run(POISON))  # the cause is removed
    resp = await client.post(f"/v1/dead-letters/{dead['id']}/redrive", headers=auth())
    assert resp.status == 202 and (await resp.json())["redriven"] == 1
    again = await client.post(f"/v1/dead-letters/{dead['id']}/redrive", headers=auth())
    assert again.status == 404  # redriven once; the second asks for something gone
    await run_worker_burst(tries)
    await _reconcile(tries)
    stored = await RunStore(redis).get(POISON)
    assert stored is not None and stored["status"] == "PROCESSED"
    assert [h["eventId"] for h in stored["history"]] == ["evt_poison_1"]  # applied once
    assert not await redis.exists(group, keys.dead_letter(dead["id"]))
    assert (await (await client.get("/v1/dead-letters", headers=auth())).json())[
        "deadLetters"
    ] == []


async def test_dead_letters_api_errors_purge_and_cli(
    client: TestClient[Any, Any],
    redis: Redis,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _post(client, "evt_poison_2", POISON)
    await redis.set(keys.run(POISON), "not a hash")
    await run_worker_burst(make_settings(settings.redis.url, JOB_MAX_TRIES=1))
    (dead,) = (
        await (await client.get("/v1/dead-letters?kind=event_group", headers=auth())).json()
    )["deadLetters"]
    for path, code in [
        ("/v1/dead-letters?kind=nope", "invalid_kind"),
        ("/v1/dead-letters?limit=0", "invalid_limit"),
        ("/v1/dead-letters?cursor=x", "invalid_cursor"),
    ]:
        resp = await client.get(path, headers=auth())
        assert resp.status == 400 and (await resp.json())["error"]["code"] == code, path
    assert (await client.get("/v1/dead-letters/nope", headers=auth())).status == 404
    resp = await client.post("/v1/dead-letters/redrive", headers=auth())
    assert resp.status == 400
    assert (await client.get("/v1/dead-letters")).status == 401

    monkeypatch.setenv("RELAY_URL", str(client.make_url("")).rstrip("/"))
    monkeypatch.setenv("RELAY_API_KEY", API_KEY)
    assert await asyncio.to_thread(relay_main, ["dlq", "list"]) == 0
    assert dead["id"] in capsys.readouterr().out
    assert await asyncio.to_thread(relay_main, ["dlq", "show", dead["id"]]) == 0
    assert "WRONGTYPE" in capsys.readouterr().out
    assert await asyncio.to_thread(relay_main, ["dlq", "purge", dead["id"]]) == 0
    # Purged: the dead letter and the bodies it held are gone; reconcile has nothing to revive.
    assert not await redis.exists(keys.dead_letter(dead["id"]), keys.event_group(dead["ref"]))
    assert await asyncio.to_thread(relay_main, ["dlq", "show", dead["id"]]) == 1
    assert await asyncio.to_thread(relay_main, ["dlq", "redrive", "--kind", "deploy"]) == 0
    assert "redriven: 0" in capsys.readouterr().out


async def test_a_batch_completion_that_keeps_failing_is_dead_lettered_and_redriven(
    client: TestClient[Any, Any], redis: Redis, settings: Settings
) -> None:
    batch_id = "rbatch_poison"
    await redis.set(keys.batch(batch_id), "not a hash")  # every completion job gets WRONGTYPE
    pool = await queue.arq_pool(settings.redis.url)
    try:
        job_id = queue.batch_completed_job_id(batch_id)
        await pool.enqueue_job(queue.BATCH_COMPLETED, batch_id, _job_id=job_id)
    finally:
        await pool.aclose()
    await run_worker_burst(make_settings(settings.redis.url, JOB_MAX_TRIES=2))
    resp = await client.get("/v1/dead-letters/batch_completion:" + batch_id, headers=auth())
    dead = await resp.json()
    assert resp.status == 200 and dead["tries"] == 2 and "WRONGTYPE" in dead["error"], dead
    assert dead["redrive"] == {"job": queue.BATCH_COMPLETED, "args": [batch_id]}

    await redis.delete(keys.batch(batch_id))
    resp = await client.post("/v1/dead-letters/redrive?kind=batch_completion", headers=auth())
    assert resp.status == 202 and (await resp.json())["redriven"] == 1
    assert await run_worker_burst(settings) == 1  # the job ran once more, and ended
    assert not await redis.exists(keys.dead_letter(dead["id"]))


async def test_a_chunk_job_that_exhausts_its_tries_waits_as_a_dead_letter(
    client: TestClient[Any, Any], redis: Redis, settings: Settings
) -> None:
    from arq.worker import func

    from relay_core.batches.producer import Producer
    from relay_core.scheduler.ratelimit import Limits
    from relay_core.scheduler.state import Scheduler
    from worker.app import _last_try
    from worker.batches.dispatch import dispatch
    from worker.batches.fanout import submit_chunk
    from worker.jobmetrics import instrument

    fanout = make_settings(settings.redis.url, EXTEND_API_KEY="sk_x")
    accepted = await Producer(redis, fanout).submit(
        {"workflowId": "workflow_x", "files": [{"url": "https://files.example/a.pdf"}]}
    )
    # The scheduler cuts the chunk (and queues its job) when its slot comes: take it here.
    sched = Scheduler(redis, Limits.of(fanout), fanout.batches.slot_seconds)
    await redis.delete(keys.SCHED_LEASE)  # the submit's kick: this test dispatches itself
    while (await sched.take("test")).outcome != "granted":
        pass
    chunk_key = keys.batch_chunk(accepted.batchId, 0)
    saved = await redis.hgetall(chunk_key)  # type: ignore[misc]
    await redis.delete(chunk_key)
    await redis.set(chunk_key, "not a hash")  # every try of the chunk job gets WRONGTYPE
    # The real job and seam; only arq's bound is lowered (CHUNK_MAX_TRIES is 10,000).
    functions = instrument(
        [
            func(submit_chunk, name=queue.SUBMIT_CHUNK, max_tries=2),
            func(dispatch, name=queue.DISPATCH, max_tries=2),
        ],
        40,
        2,
        _last_try,
    )
    worker = build_worker(fanout, burst=True, poll_delay=0.01, functions=functions, cron_jobs=[])
    try:
        await asyncio.wait_for(worker.main(), 60)
    finally:
        await worker.close()
    dead_id = f"chunk:{accepted.batchId}:0"
    resp = await client.get(f"/v1/dead-letters/{dead_id}", headers=auth())
    dead = await resp.json()
    assert resp.status == 200 and dead["tries"] == 2 and "WRONGTYPE" in dead["error"], dead
    assert dead["redrive"] == {"job": queue.SUBMIT_CHUNK, "args": [accepted.batchId, 0]}

    await redis.delete(chunk_key)
    await redis.hset(chunk_key, mapping=saved)  # type: ignore[misc]  # the cause is removed
    pool = await queue.arq_pool(fanout.redis.url)
    try:
        await pool.enqueue_job(queue.RECONCILE)
    finally:
        await pool.aclose()
    reconcile_only = build_worker(fanout, burst=True, cron_jobs=[], max_burst_jobs=1)
    try:
        await asyncio.wait_for(reconcile_only.main(), 60)
    finally:
        await reconcile_only.close()
    job_id = queue.chunk_job_id(accepted.batchId, 0)
    assert await redis.zscore(queue.QUEUE, job_id) is None  # reconcile left it to a person

    resp = await client.post(f"/v1/dead-letters/{dead_id}/redrive", headers=auth())
    assert resp.status == 202
    assert await redis.zscore(queue.QUEUE, job_id) is not None  # queued again, fresh tries
    assert not await redis.exists(queue.RETRY_KEY_PREFIX + job_id)
