"""Read back, promote across workflows (with the step diff), and roll back: on both API versions."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest
from redis.asyncio import Redis

from sandbox import Sandbox
from tests.conftest import API_KEY, run_worker_burst
from tests.deploy.conftest import MakeRelay
from tests.deploy.support import (
    EACH,
    EACH_DEFINITION,
    EACH_DEPLOY,
    EXTEND_DEPLOY,
    EXTEND_TARGET,
    EXTRACT,
    STEPS,
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
from tests.deploy.test_deploy_api import _cli
from tests.support.wait import until

DIALECTS = ["2026-02-09", "2025-04-21"]
BETTER = {**EXTRACT, "config": {"extractor": {"id": "ex_2"}, "schema": {"total": "number"}}}
STAGING_STEPS = [
    STEPS[0],
    {**STEPS[1], "next": [{"step": "extract"}, {"step": "classify"}]},
    BETTER,
    {"name": "classify", "type": "CLASSIFY", "config": {"classes": ["invoice"]}},
]


async def extend_call(sb: Sandbox, method: str, path: str, body: Any = None) -> Any:
    headers = {"Authorization": "Bearer sk_sandbox", "x-extend-api-version": "2026-02-09"}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, sb.base_url + path, json=body, headers=headers) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json()


async def staging_workflow(sb: Sandbox) -> str:
    """A second Extend workflow whose latest published version has other steps."""
    created = await extend_call(sb, "POST", "/workflows", {"name": "Staging", "steps": STEPS})
    wid = str(created["id"])
    await extend_call(
        sb, "POST", f"/workflows/{wid}/versions", {"name": "s1", "steps": STAGING_STEPS}
    )
    return wid


def promote_deploy(staging: str, version: str = "latest") -> str:
    return (
        f'provider = "extend"\nworkflow = "{EXTEND_TARGET}"\nname = "promote {{subject}}"\n'
        f'steps_from = {{ workflow = "{staging}", version = "{version}" }}'
    )


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_every_deploy_is_read_back_and_verified(
    relay: MakeRelay, redis: Redis, sb: Sandbox, dialect: str
) -> None:
    settings, client = await relay(
        rule_toml("promote", "run.completed", EXTEND_DEPLOY), EXTEND_API_VERSION=dialect
    )
    await complete_run(client, "run_1")
    await run_worker_burst(settings)
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed"
    assert deploy["verified"] is True
    assert deploy["superseded"] is None
    read = deploy["readBack"]
    assert read["version"]["id"] == deploy["version"]["id"] == read["latest"]["id"]
    by_id = await requests_to(sb, f"/workflows/{EXTEND_TARGET}/versions/{deploy['version']['id']}")
    latest = await requests_to(sb, f"/workflows/{EXTEND_TARGET}/versions/latest")
    assert len(by_id) == 1 and len(latest) == 1
    resp = await client.get(f"/v1/deploys/{deploy['id']}", headers=auth())
    assert (await resp.json())["verified"] is True


async def test_a_newer_version_deployed_meanwhile_is_reported_as_superseding(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    settings, client = await relay(rule_toml("promote", "run.completed", EXTEND_DEPLOY))
    # Every version POST commits, then its answer is held for a second: someone else's
    # deploy lands between ours and our read back.
    faults = {
        "p_commit_then_fail": 1.0,
        "commit_then_fail": "delay",
        "commit_delay_seconds": 1.0,
        "only_methods": ["POST"],
        "only_paths": [f"/workflows/{EXTEND_TARGET}/versions"],
    }
    await sandbox_post(sb, "/_sandbox/config", {"faults": faults})
    await complete_run(client, "run_1")
    worker = asyncio.create_task(run_worker_burst(settings))

    async def ours_committed() -> bool:
        return len((await sandbox_get(sb, "/_sandbox/deploys"))["deploys"]) == 1

    await until(ours_committed)
    other = asyncio.create_task(
        extend_call(sb, "POST", f"/workflows/{EXTEND_TARGET}/versions", {"name": "by hand"})
    )
    await asyncio.gather(worker, other)
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed"
    assert deploy["version"]["number"] == "2"
    assert deploy["verified"] is False
    assert deploy["superseded"] == {"id": other.result()["id"], "version": "3", "name": "by hand"}


async def test_eachlabs_and_xpander_are_read_back(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    rules = rule_toml("each", "run.completed", EACH_DEPLOY) + rule_toml(
        "flow", "run.completed", XP_DEPLOY
    )
    settings, client = await relay(rules)
    await complete_run(client, "run_1")
    await run_worker_burst(settings)
    found = {d["rule"]: d for d in await all_deploys(redis)}
    assert found["each"]["verified"] is True
    assert found["each"]["readBack"]["definitionMatch"] is True
    assert found["each"]["readBack"]["latest"] == {"version_id": "v2"}
    assert found["flow"]["verified"] is True
    assert found["flow"]["readBack"]["version"] == {"version": 2, "status": "ACTIVE"}


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_promote_steps_from_a_staging_workflow_after_a_diff(
    relay: MakeRelay, redis: Redis, sb: Sandbox, dialect: str
) -> None:
    staging = await staging_workflow(sb)
    settings, client = await relay(
        rule_toml("promote", "batch.completed", promote_deploy(staging)),
        EXTEND_API_VERSION=dialect,
    )
    resp = await client.get("/v1/rules/promote/diff", headers=auth())
    assert resp.status == 200, await resp.text()
    diff = await resp.json()
    assert diff["source"]["workflow"] == staging and diff["source"]["version"] == "1"
    assert diff["target"]["version"] == "1"
    assert diff["steps"] == [
        {"step": "parse", "change": "changed", "type": "PARSE", "keys": ["next"]},
        {
            "step": "extract",
            "change": "changed",
            "type": "EXTRACT",
            "keys": ["config.extractor", "config.schema"],
        },
        {"step": "classify", "change": "added", "type": "CLASSIFY", "keys": []},
    ]
    assert not (await sandbox_get(sb, "/_sandbox/deploys"))["deploys"][1:]  # nothing deployed

    resp = await client.post("/v1/rules/promote/deploy", json={"subject": "p1"}, headers=auth())
    assert resp.status == 202
    await run_worker_burst(settings)
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed" and deploy["verified"] is True
    assert deploy["facts"]["source"]["workflow"] == staging
    assert deploy["readBack"]["stepsMatch"] is True
    target_latest = await extend_call(sb, "GET", f"/workflows/{EXTEND_TARGET}/versions/latest")
    assert target_latest["version"] == "2"
    assert target_latest["steps"] == STAGING_STEPS
    resp = await client.get("/v1/rules/promote/diff", headers=auth())
    assert (await resp.json())["steps"] == []


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_rollback_to_previous_deploys_the_earlier_steps_as_a_new_version(
    relay: MakeRelay, redis: Redis, sb: Sandbox, dialect: str
) -> None:
    settings, client = await relay(
        rule_toml("promote", "run.completed", EXTEND_DEPLOY), EXTEND_API_VERSION=dialect
    )
    body = {"name": "v2 bad", "steps": STAGING_STEPS}
    await extend_call(sb, "POST", f"/workflows/{EXTEND_TARGET}/versions", body)
    asks = [
        client.post(
            "/v1/rules/promote/rollback", json={"to": "previous", "subject": "r1"}, headers=auth()
        )
        for _ in range(20)
    ]
    statuses = sorted(r.status for r in await asyncio.gather(*asks))
    assert statuses == [200] * 19 + [202]
    await asyncio.gather(run_worker_burst(settings), run_worker_burst(settings))
    (deploy,) = await all_deploys(redis)
    assert deploy["id"] == "promote:rollback:r1"
    assert deploy["status"] == "deployed" and deploy["verified"] is True
    assert deploy["reason"] == "rollback to v1"
    assert deploy["rollbackTo"] == "previous"
    assert deploy["version"]["number"] == "3"
    assert deploy["version"]["name"].startswith("rollback to v1: ")
    latest = await extend_call(sb, "GET", f"/workflows/{EXTEND_TARGET}/versions/latest")
    assert latest["steps"] == STEPS
    assert len(await requests_to(sb, f"/workflows/{EXTEND_TARGET}/versions", "POST")) == 2


async def test_rollback_to_a_number_and_the_refusals(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    rules = rule_toml("promote", "run.completed", EXTEND_DEPLOY) + rule_toml(
        "flow", "run.completed", XP_DEPLOY
    )
    settings, client = await relay(rules)
    for name in ("v2", "v3"):
        body = {"name": name, "steps": STAGING_STEPS}
        await extend_call(sb, "POST", f"/workflows/{EXTEND_TARGET}/versions", body)
    resp = await client.post("/v1/rules/promote/rollback", json={"to": 1}, headers=auth())
    assert resp.status == 202
    resp = await client.post("/v1/rules/flow/rollback", json={"to": "previous"}, headers=auth())
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert (
        error["code"] == "unsupported" and "xpander keeps no earlier versions" in error["message"]
    )
    resp = await client.post("/v1/rules/promote/rollback", json={"to": "../x"}, headers=auth())
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_to"
    resp = await client.post("/v1/rules/nope/rollback", json={"to": "1"}, headers=auth())
    assert resp.status == 404
    resp = await client.get("/v1/rules/flow/diff", headers=auth())
    assert resp.status == 400
    await run_worker_burst(settings)
    (deploy,) = await all_deploys(redis)
    assert deploy["version"]["number"] == "4" and deploy["reason"] == "rollback to v1"
    assert (await extend_call(sb, "GET", f"/workflows/{EXTEND_TARGET}/versions/4"))[
        "steps"
    ] == STEPS
    assert not any(
        r["path"].startswith(f"/xpander/v1/workflows/{XP}")
        for r in await requests_to(sb, "/xpander")
    )


async def test_rollback_with_no_earlier_version_fails_audited(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    settings, client = await relay(rule_toml("promote", "run.completed", EXTEND_DEPLOY))
    resp = await client.post("/v1/rules/promote/rollback", json={"to": "previous"}, headers=auth())
    assert resp.status == 202
    await run_worker_burst(settings)
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "failed"
    assert "no published version before v1" in deploy["error"]["message"]
    assert not await requests_to(sb, f"/workflows/{EXTEND_TARGET}/versions", "POST")


async def test_eachlabs_rollback_makes_the_earlier_definition_production(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    settings, client = await relay(rule_toml("each", "run.completed", EACH_DEPLOY))
    changed = {**EACH_DEFINITION, "version": "v2", "metadata": {"bad": True}}
    put = {"version_id": "v2", "definition": changed}
    headers = {"Authorization": "Bearer el_sandbox"}
    url = f"{sb.eachlabs_base_url}/workflows/{EACH}/versions/v2"
    async with aiohttp.ClientSession() as http, http.put(url, json=put, headers=headers) as r:
        assert r.status == 200, await r.text()
    resp = await client.post("/v1/rules/each/rollback", json={"to": "previous"}, headers=auth())
    assert resp.status == 202
    await run_worker_burst(settings)
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed" and deploy["verified"] is True
    assert deploy["version"]["id"] == "v3" and deploy["reason"] == "rollback to v1"
    url = f"{sb.eachlabs_base_url}/workflows/{EACH}/versions/v3"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
        v3 = await r.json()
    assert v3["production"] is True
    assert v3["definition"] == {**EACH_DEFINITION, "version": "v3"}


async def test_cli_diff_rollback_and_show(relay: MakeRelay, redis: Redis, sb: Sandbox) -> None:
    staging = await staging_workflow(sb)
    settings, client = await relay(rule_toml("promote", "batch.completed", promote_deploy(staging)))
    env = {"RELAY_URL": str(client.make_url("")).rstrip("/"), "RELAY_API_KEY": API_KEY}
    code, out, err = await _cli(env, "deploys", "diff", "promote")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"promote: {staging} 1 -> {EXTEND_TARGET} latest (1)"
    assert lines[1].split() == ["step", "change", "type", "changed", "keys"]
    assert lines[3].split() == [
        "extract",
        "changed",
        "EXTRACT",
        "config.extractor,",
        "config.schema",
    ]
    assert lines[4].split() == ["classify", "added", "CLASSIFY"]
    code, out, err = await _cli(env, "deploys", "rollback", "promote", "--to", "previous")
    assert code == 0, err
    await run_worker_burst(settings)  # v1 is the only version: nothing before it
    code, out, err = await _cli(env, "deploys", "run", "promote", "--subject", "s1")
    await run_worker_burst(settings)
    code, out, err = await _cli(env, "deploys", "show", "promote:manual:s1")
    assert code == 0, err
    assert out.splitlines()[-1] == "read back: verified true"
    code, out, err = await _cli(env, "deploys", "rollback", "promote", "--to", "previous", "--json")
    assert code == 0, err
    did = orjson.loads(out)["deploy"]["id"]
    await run_worker_burst(settings)
    code, out, err = await _cli(env, "deploys", "show", did)
    assert "rollback to v1" in out and "deployed" in out


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_rollback_answer_lost_after_commit_is_found_not_redone(
    relay: MakeRelay, redis: Redis, sb: Sandbox, dialect: str
) -> None:
    settings, client = await relay(
        rule_toml("promote", "run.completed", EXTEND_DEPLOY), EXTEND_API_VERSION=dialect
    )
    await extend_call(sb, "POST", f"/workflows/{EXTEND_TARGET}/versions", {"name": "v2"})
    faults = {
        "p_commit_then_fail": 1.0,
        "commit_then_fail": "drop",
        "only_methods": ["POST"],
        "only_paths": [f"/workflows/{EXTEND_TARGET}/versions"],
    }
    await sandbox_post(sb, "/_sandbox/config", {"faults": faults})
    resp = await client.post("/v1/rules/promote/rollback", json={"to": "1"}, headers=auth())
    assert resp.status == 202
    await run_worker_burst(settings)
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed", deploy
    assert [a["outcome"] for a in deploy["attempts"]] == ["calling", "retry", "found"]
    assert deploy["version"]["number"] == "3" and deploy["verified"] is True
    # Ours and the v2 made by hand above: the retry looked and found it instead of posting.
    assert len(await requests_to(sb, f"/workflows/{EXTEND_TARGET}/versions", "POST")) == 2


async def test_a_failed_read_back_never_fails_the_deploy(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    settings, client = await relay(rule_toml("promote", "run.completed", EXTEND_DEPLOY))
    # Every Get Workflow Version answers 500; the list the deploy itself reads still works.
    faults = {
        "p_500": 1.0,
        "only_methods": ["GET"],
        "only_paths": [f"/workflows/{EXTEND_TARGET}/versions/"],
    }
    await sandbox_post(sb, "/_sandbox/config", {"faults": faults})
    await complete_run(client, "run_1")
    await run_worker_burst(settings)
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed" and deploy["version"]["number"] == "2"
    assert deploy["verified"] is None
    assert "HTTP 500" in deploy["readBack"]["error"]
    assert len(await requests_to(sb, f"/workflows/{EXTEND_TARGET}/versions", "POST")) == 1
