"""Exactly once: duplicates, concurrent workers, lost answers, transient errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from relay_core.settings import Settings
from sandbox import Sandbox
from tests.conftest import run_worker_burst
from tests.deploy.conftest import MakeRelay
from tests.deploy.support import (
    EACH,
    EACH_DEPLOY,
    EXTEND_DEPLOY,
    EXTEND_TARGET,
    XP,
    XP_DEPLOY,
    all_deploys,
    auth,
    complete_run,
    requests_to,
    rule_toml,
    sandbox_get,
    sandbox_post,
)
from tests.support.wait import until


async def _two_workers(settings: Settings) -> None:
    await asyncio.gather(run_worker_burst(settings), run_worker_burst(settings))


async def test_100_duplicate_completion_events_two_workers_one_deploy(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    settings, client = await relay(rule_toml("promote", "run.completed", EXTEND_DEPLOY))
    # 60 redeliveries with fresh event ids (the platform's duplicates) and 40 of one id.
    ids = [f"evt_dup_{i}" for i in range(60)] + ["evt_same"] * 40
    await asyncio.gather(*(complete_run(client, "run_dup", event_id=i) for i in ids))
    await _two_workers(settings)

    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed"
    assert len(await requests_to(sb, f"/workflows/{EXTEND_TARGET}/versions", "POST")) == 1
    assert len((await sandbox_get(sb, "/_sandbox/deploys"))["deploys"]) == 1


async def test_100_concurrent_manual_requests_for_one_subject_one_deploy(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    settings, client = await relay(rule_toml("promote", "batch.completed", XP_DEPLOY))

    async def ask() -> int:
        resp = await client.post(
            "/v1/rules/promote/deploy", json={"subject": "b_1"}, headers=auth()
        )
        return resp.status

    statuses = await asyncio.gather(*(ask() for _ in range(100)))
    assert sorted(set(statuses)) == [200, 202]
    assert statuses.count(202) == 1
    await _two_workers(settings)
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed"
    assert len(await requests_to(sb, f"/xpander/v1/workflows/{XP}", "PUT")) == 1


WRITES = {
    "extend": (EXTEND_DEPLOY, "POST", f"/workflows/{EXTEND_TARGET}/versions"),
    "eachlabs": (EACH_DEPLOY, "PUT", f"/eachlabs/v1/workflows/{EACH}/versions/v2"),
    "xpander": (XP_DEPLOY, "PUT", f"/xpander/v1/workflows/{XP}"),
}


@pytest.mark.parametrize("provider", list(WRITES))
async def test_answer_lost_after_commit_is_found_not_redeployed(
    relay: MakeRelay, redis: Redis, sb: Sandbox, provider: str
) -> None:
    """The platform applies the write and the connection dies before its answer is recorded."""
    target, method, path = WRITES[provider]
    settings, client = await relay(rule_toml("promote", "run.completed", target))
    faults = {"p_commit_then_fail": 1.0, "commit_then_fail": "drop", "only_methods": [method]}
    await sandbox_post(sb, "/_sandbox/config", {"faults": faults})
    await complete_run(client, "run_1")
    await run_worker_burst(settings)

    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed", deploy
    outcomes = [a["outcome"] for a in deploy["attempts"]]
    assert outcomes == ["calling", "retry", "found"]
    writes = await requests_to(sb, path, method)
    assert [(w["status"], w["fault"]) for w in writes] == [(None, "commit_then_drop")]
    assert len((await sandbox_get(sb, "/_sandbox/deploys"))["deploys"]) == 1


async def test_transient_errors_retry_with_a_bound(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    rules = rule_toml("promote", "run.completed", XP_DEPLOY)
    settings, client = await relay(rules, DEPLOY_MAX_ATTEMPTS="3")
    faults: dict[str, Any] = {"p_429": 1.0, "only_methods": ["PUT"]}
    await sandbox_post(sb, "/_sandbox/config", {"faults": faults})
    await complete_run(client, "run_1")
    await run_worker_burst(settings)

    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "failed"
    assert deploy["error"]["status"] == 429
    assert deploy["error"]["message"].startswith("gave up after 3 attempts")
    assert [a["outcome"] for a in deploy["attempts"]] == ["calling", "retry", "retry", "failed"]
    assert len(await requests_to(sb, f"/xpander/v1/workflows/{XP}", "PUT")) == 3

    # It exhausted its tries: a dead letter; after the platform heals, a redrive deploys once
    # (the deploy is back in `calling`, so the worker looks before it writes again).
    resp = await client.get("/v1/dead-letters?kind=deploy", headers=auth())
    (dead,) = (await resp.json())["deadLetters"]
    assert dead["ref"] == deploy["id"] and dead["tries"] == 3 and "Rate limit" in dead["error"]
    await sandbox_post(sb, "/_sandbox/config", {"faults": {"p_429": 0.0}})
    resp = await client.post("/v1/dead-letters/redrive?kind=deploy", headers=auth())
    assert resp.status == 202 and (await resp.json())["redriven"] == 1
    await run_worker_burst(settings)
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed" and deploy["error"] is None
    assert len(await requests_to(sb, f"/xpander/v1/workflows/{XP}", "PUT")) == 4


async def test_transient_error_then_success(relay: MakeRelay, redis: Redis, sb: Sandbox) -> None:
    rules = rule_toml("promote", "run.completed", XP_DEPLOY)
    slow = {"DEPLOY_RETRY_BASE_SECONDS": "0.2", "DEPLOY_RETRY_MAX_SECONDS": "0.2"}
    settings, client = await relay(rules, DEPLOY_MAX_ATTEMPTS="20", **slow)
    await sandbox_post(sb, "/_sandbox/config", {"faults": {"p_500": 1.0, "only_methods": ["PUT"]}})
    await complete_run(client, "run_1")
    worker = asyncio.create_task(run_worker_burst(settings))
    # Let the first PUT fail, then heal the platform; the retry must deploy once.
    await until(lambda: _count_puts(sb), within=10, every=0.005, what="a first PUT")
    await sandbox_post(sb, "/_sandbox/config", {"faults": {"p_500": 0.0}})
    await worker

    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed", deploy
    statuses = [r["status"] for r in await requests_to(sb, f"/xpander/v1/workflows/{XP}", "PUT")]
    assert statuses[-1] == 200
    assert statuses.count(200) == 1


async def _count_puts(sb: Sandbox) -> int:
    return len(await requests_to(sb, f"/xpander/v1/workflows/{XP}", "PUT"))
