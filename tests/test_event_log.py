"""The event log and replay: every applied body is logged (compressed, expiring), listed by
GET /v1/events, and replayed through the same apply job: a replay of the whole loop leaves
the state exactly as it was, and after an apply that lost a fact, a replay repairs it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from relay_cli.main import main as relay_main
from relay_core import keys
from relay_core.redis import queue
from relay_core.runs.store import RunStore
from relay_core.settings import Settings
from tests.batches.support import WF, files, jobs_in_progress, sandbox_config, stack
from tests.conftest import API_KEY, auth, run_worker_burst
from tests.support.signing import event, extend_headers, run_payload
from tests.support.wait import until
from tests.test_retention import RULES, STEPS, TARGET

# Counters of traffic and the log itself are not state a replay must leave alone.
_NOT_STATE = {"event-types", "metrics", "event-log", "event-seen", "rate", "readyz-probe"}


async def state(redis: Redis) -> dict[str, Any]:
    """Every relay key's value (type-aware), arq's keys and traffic counters aside."""
    out: dict[str, Any] = {}
    async for raw in redis.scan_iter(match=keys.PREFIX + "*"):
        name = raw.decode()
        if keys.family_of(name) in _NOT_STATE:
            continue
        kind = (await redis.type(raw)).decode()
        reader = {
            "hash": lambda k: redis.hgetall(k),
            "zset": lambda k: redis.zrange(k, 0, -1, withscores=True),
            "set": lambda k: redis.smembers(k),
            "list": lambda k: redis.lrange(k, 0, -1),
            "string": lambda k: redis.get(k),
        }[kind]
        out[name] = await reader(raw)
    return out


async def test_replaying_the_whole_loop_leaves_the_state_exactly_as_it_was(
    redis_url: str, redis: Redis, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    config = sandbox_config(
        processing={
            "p_needs_review": 0.4,
            "p_failed": 0.1,
            "review_seconds": 0,
            "review_requires_step": False,
            "step_run_events": True,
        },
        workflows={
            "extend": [
                {"id": WF, "name": "Batch workflow"},
                {"id": TARGET, "name": "Target", "steps": STEPS, "versions": [{"name": "v1"}]},
            ]
        },
    )
    async with stack(redis_url, config, RELAY_RULES=str(rules), EXTEND_API_KEY="sk_sandbox") as st:
        st.start_worker(cron_jobs=[])
        batch_id = await st.submit(files(30), chunkSize=10)
        await st.wait_done(batch_id)

        async def idle() -> bool:
            deployed = await redis.hget(keys.deploy(f"promote:{batch_id}"), "status")
            queued = await redis.zcard(queue.QUEUE)
            return deployed == b"deployed" and queued == 0 and not await jobs_in_progress(redis)

        await until(idle)
        await st.deliveries_idle()
        status, listing = await st.call("GET", "/v1/events?since=1h&limit=1000")
        assert status == 200 and len(listing["events"]) >= 60, listing
        types = {e["eventType"] for e in listing["events"]}
        assert {"workflow_run.completed", "workflow_run.step_run.processed"} <= types, types
        assert any(e["eventType"] == "workflow_run.needs_review" for e in listing["events"])
        (log_key,) = [k async for k in redis.scan_iter(match=keys.EVENT_LOG + "*")]
        assert 0 < await redis.pttl(log_key) <= (3 * 24 + 1) * 3_600_000
        before = await state(redis)

        status, answer = await st.call("POST", "/v1/events/replay", {"since": "1h"})
        assert status == 202 and answer["events"] == len(listing["events"]), answer
        await until(idle)
        after = await state(redis)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == set(), f"a replay changed: {sorted(changed)[:10]}"


async def test_a_replay_repairs_what_an_apply_lost_and_the_cli_drives_it(
    client: TestClient[Any, Any],
    redis: Redis,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = "workflow_run_repair"
    for n, (kind, status) in enumerate(
        [("workflow_run.processing", "PROCESSING"), ("workflow_run.completed", "PROCESSED")]
    ):
        body = event(f"evt_repair_{n}", kind, run_payload(run_id, status))
        resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
        assert resp.status == 200
        await run_worker_burst(settings)
    other = event("evt_other", "workflow_run.completed", run_payload("run_other", "PROCESSED"))
    assert (await client.post("/webhooks/extend", data=other, headers=extend_headers(other))).ok
    await run_worker_burst(settings)
    # What an apply that ignored the completion would have left behind.
    await redis.hset(keys.run(run_id), "s", "PROCESSING")

    resp = await client.get(f"/v1/events?since=2h&run={run_id}", headers=auth())
    listed = (await resp.json())["events"]
    assert [e["eventId"] for e in listed] == ["evt_repair_0", "evt_repair_1"]
    resp = await client.get("/v1/events?type=workflow_run.completed", headers=auth())
    assert {e["eventId"] for e in (await resp.json())["events"]} == {"evt_repair_1", "evt_other"}
    for bad in ("since=yesterday", "since=2026-01-01T00:00:00", "cursor=x", "limit=0"):
        resp = await client.get(f"/v1/events?{bad}", headers=auth())
        assert resp.status == 400, bad

    monkeypatch.setenv("RELAY_URL", str(client.make_url("")).rstrip("/"))
    monkeypatch.setenv("RELAY_API_KEY", API_KEY)
    argv = ["events", "replay", "--since", "2h", "--run", run_id]
    assert await asyncio.to_thread(relay_main, argv) == 0
    assert "replaying 2 events in 1 groups" in capsys.readouterr().out
    await run_worker_burst(settings)
    repaired = await RunStore(redis).get(run_id)
    assert repaired is not None and repaired["status"] == "PROCESSED"
    # Replays are not logged again: the log still holds each event once.
    resp = await client.get("/v1/events?since=2h", headers=auth())
    assert len((await resp.json())["events"]) == 3
    assert await asyncio.to_thread(relay_main, ["events", "list", "--since", "2h"]) == 0
    assert "evt_other" in capsys.readouterr().out
