"""GET /v1/deploys, POST /v1/rules/{name}/deploy, the batch view helper, Extend's
workflow.deployed event, and the `relay deploys` CLI against a real web process."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import orjson
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from relay_core.deploys.store import list_for_subject
from sandbox import Sandbox
from tests.conftest import API_KEY, run_worker_burst
from tests.deploy.conftest import MakeRelay
from tests.deploy.support import (
    EXTEND_DEPLOY,
    EXTEND_UNCONFIGURED,
    XP_DEPLOY,
    all_deploys,
    auth,
    complete_run,
    enqueue_batch_completed,
    make_batch,
    rule_toml,
    sandbox_get,
    sandbox_post,
)
from tests.support.wait import until

TWO_RULES = rule_toml("ok", "run.completed", XP_DEPLOY) + rule_toml(
    "bad", "run.completed", f'provider = "extend"\nworkflow = "{EXTEND_UNCONFIGURED}"'
)


async def _get(client: TestClient[Any, Any], path: str, **params: str) -> tuple[int, Any]:
    resp = await client.get(path, params=params, headers=auth())
    return resp.status, await resp.json()


async def test_list_filters_by_rule_and_status_with_a_cursor(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    settings, client = await relay(TWO_RULES)
    for i in range(3):
        await complete_run(client, f"run_{i}")
    await run_worker_burst(settings)

    status, body = await _get(client, "/v1/deploys")
    assert status == 200
    assert len(body["deploys"]) == 6
    assert body["nextCursor"] is None
    _, failed = await _get(client, "/v1/deploys", status="failed")
    assert {(d["rule"], d["status"]) for d in failed["deploys"]} == {("bad", "failed")}
    assert len(failed["deploys"]) == 3

    seen: list[str] = []
    params = {"rule": "ok", "limit": "2"}
    while True:
        _, page = await _get(client, "/v1/deploys", **params)
        seen += [d["id"] for d in page["deploys"]]
        if not page["nextCursor"]:
            break
        params["cursor"] = page["nextCursor"]
    assert sorted(seen) == ["ok:run_0", "ok:run_1", "ok:run_2"]
    assert len(seen) == 3

    numbers = set()
    for run_id in seen:
        status, one = await _get(client, f"/v1/deploys/{run_id}")
        assert (status, one["status"]) == (200, "deployed")
        numbers.add(one["version"]["number"])
    assert numbers == {"2", "3", "4"}  # three deploys, three versions, in whatever order


async def test_list_errors_are_4xx_in_the_one_shape(relay: MakeRelay, sb: Sandbox) -> None:
    _, client = await relay(TWO_RULES)
    assert (await client.get("/v1/deploys")).status == 401
    for params, code in (
        ({"status": "bogus"}, "invalid_status"),
        ({"cursor": "!!"}, "invalid_cursor"),
        ({"limit": "0"}, "invalid_limit"),
    ):
        status, body = await _get(client, "/v1/deploys", **params)
        assert (status, body["error"]["code"]) == (400, code)
    status, body = await _get(client, "/v1/deploys/nope")
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_manual_deploy_goes_through_the_same_path(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    settings, client = await relay(
        rule_toml("promote", "batch.completed", XP_DEPLOY, min_processed=5)
    )
    resp = await client.post("/v1/rules/nope/deploy", headers=auth())
    assert (resp.status, (await resp.json())["error"]["code"]) == (404, "unknown_rule")
    resp = await client.post("/v1/rules/promote/deploy", data=b"[1]", headers=auth())
    assert resp.status == 400
    resp = await client.post("/v1/rules/promote/deploy", json={"subject": "a b"}, headers=auth())
    assert (await resp.json())["error"]["code"] == "invalid_subject"
    assert (await client.post("/v1/rules/promote/deploy")).status == 401

    resp = await client.post("/v1/rules/promote/deploy", headers=auth())
    body = await resp.json()
    assert resp.status == 202
    assert body["created"] is True
    assert body["deploy"]["trigger"]["type"] == "manual"
    assert body["deploy"]["status"] == "claimed"
    await run_worker_burst(settings)
    # Gates guard automatic promotion; a manual deploy is a person's decision.
    (deploy,) = await all_deploys(redis)
    assert (deploy["status"], deploy["version"]["number"]) == ("deployed", "2")


async def test_rules_are_listed(relay: MakeRelay, sb: Sandbox) -> None:
    _, client = await relay(TWO_RULES)
    status, body = await _get(client, "/v1/rules")
    assert status == 200
    assert [(r["name"], r["provider"]) for r in body["rules"]] == [
        ("ok", "xpander"),
        ("bad", "extend"),
    ]


async def test_deploys_of_a_batch_for_its_view(
    relay: MakeRelay, redis: Redis, sb: Sandbox, redis_url: str
) -> None:
    settings, _ = await relay(rule_toml("promote", "batch.completed", XP_DEPLOY))
    await make_batch(redis, "batch_9", **{"c:PROCESSED": 10})
    await enqueue_batch_completed(redis_url, "batch_9")
    await run_worker_burst(settings)
    (deploy,) = await list_for_subject(redis, "batch_9")
    assert (deploy["rule"], deploy["status"]) == ("promote", "deployed")
    assert await list_for_subject(redis, "batch_other") == []


async def test_workflow_deployed_event_is_recorded_against_the_deploy(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    settings, client = await relay(rule_toml("promote", "run.completed", EXTEND_DEPLOY))
    webhook = str(client.make_url("/webhooks/extend"))
    await sandbox_post(sb, "/_sandbox/config", {"webhook_urls": [webhook]})
    await complete_run(client, "run_1")
    await run_worker_burst(settings)

    async def delivered() -> bool:
        found = await sandbox_get(sb, "/_sandbox/deliveries", {"eventType": "workflow.deployed"})
        return any(d["delivered"] for d in found["deliveries"])

    await until(delivered)
    await run_worker_burst(settings)
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed"
    assert deploy["platformEvent"] is not None
    assert deploy["platformEvent"]["eventId"].startswith("evt_")


async def test_cli_lists_and_deploys(relay: MakeRelay, redis: Redis, sb: Sandbox) -> None:
    settings, client = await relay(rule_toml("promote", "batch.completed", XP_DEPLOY))
    env = {"RELAY_URL": str(client.make_url("")).rstrip("/"), "RELAY_API_KEY": API_KEY}

    code, out, _ = await _cli(env, "deploys", "run", "promote", "--subject", "batch_7")
    assert code == 0
    assert "promote:manual:batch_7" in out
    await run_worker_burst(settings)
    code, out, _ = await _cli(env, "deploys", "list", "--rule", "promote")
    assert code == 0
    assert "deployed" in out
    assert "promote:manual:batch_7" in out
    code, out, _ = await _cli(env, "deploys", "show", "promote:manual:batch_7", "--json")
    assert orjson.loads(out)["version"]["number"] == "2"
    code, _, err = await _cli(env, "deploys", "list", "--status", "bogus")
    assert code == 1
    assert "invalid_status" in err
    code, _, err = await _cli({"RELAY_URL": env["RELAY_URL"]}, "deploys")
    assert code == 2
    assert "RELAY_API_KEY" in err


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relay_cli.main",
        *args,
        env={**base, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()
