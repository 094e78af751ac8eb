"""Each provider's deploy request as its docs say, and each documented permanent error.

Method, path, query, headers and body of each deploy request are read back from the sandbox's
request log and compared exactly with the provider's API reference pages; the
sandbox's state then shows what the request did.
"""

from __future__ import annotations

import aiohttp
import pytest
from redis.asyncio import Redis

from relay_core.platforms.deploy_clients import eachlabs_headers
from sandbox import Sandbox
from tests.conftest import make_settings, run_worker_burst
from tests.deploy.conftest import MakeRelay
from tests.deploy.support import (
    AUTH_HEADERS,
    EACH,
    EACH_DEFINITION,
    EACH_DEPLOY,
    EACH_LOCKED,
    EXTEND_DEPLOY,
    EXTEND_TARGET,
    EXTEND_UNCONFIGURED,
    STEPS,
    XP,
    XP_DEPLOY,
    XP_EMPTY,
    all_deploys,
    complete_run,
    requests_to,
    rule_toml,
    sandbox_get,
    sent_headers,
)

EXTEND_HEADERS = (*AUTH_HEADERS, "x-extend-api-version", "content-type")
JSON = "application/json"


@pytest.mark.parametrize("api_version", ["2026-02-09", "2025-04-21"])
async def test_extend_posts_a_named_version_of_the_draft(
    relay: MakeRelay, redis: Redis, sb: Sandbox, api_version: str
) -> None:
    rules = rule_toml("promote", "run.completed", EXTEND_DEPLOY)
    settings, client = await relay(rules, EXTEND_API_VERSION=api_version)
    await complete_run(client, "workflow_run_1")
    await run_worker_burst(settings)

    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed", deploy
    assert deploy["trigger"] == {"type": "run.completed", "subject": "workflow_run_1"}
    assert deploy["version"]["number"] == "2"
    assert deploy["version"]["name"] == "auto promote workflow_run_1"
    path = f"/workflows/{EXTEND_TARGET}/versions"
    (post,) = await requests_to(sb, path, "POST")
    assert (post["path"], post["query"], post["status"]) == (path, "", 200)
    assert sent_headers(post, *EXTEND_HEADERS) == {
        "authorization": "Bearer sk_sandbox",
        "x-api-key": None,
        "x-extend-api-version": api_version,
        "content-type": JSON,
    }
    # A name and no steps: the draft is deployed as it is.
    assert post["body"] == {"name": "auto promote workflow_run_1"}
    version = await sandbox_get(sb, f"{path}/2")
    assert version["name"] == "auto promote workflow_run_1"
    assert version["steps"] == STEPS
    assert version["id"] == deploy["version"]["id"]


async def test_extend_steps_from_the_rule_are_sent(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    steps = '[{ name = "trigger", type = "TRIGGER", next = [{ step = "parse" }] }, { name = "parse", type = "PARSE" }]'
    rules = rule_toml("promote", "run.completed", EXTEND_DEPLOY + f"\nsteps = {steps}")
    settings, client = await relay(rules)
    await complete_run(client, "workflow_run_1")
    await run_worker_burst(settings)

    sent_steps = [
        {"name": "trigger", "type": "TRIGGER", "next": [{"step": "parse"}]},
        {"name": "parse", "type": "PARSE"},
    ]
    (post,) = await requests_to(sb, f"/workflows/{EXTEND_TARGET}/versions", "POST")
    assert post["body"] == {"name": "auto promote workflow_run_1", "steps": sent_steps}
    assert sent_headers(post, *EXTEND_HEADERS) == {
        "authorization": "Bearer sk_sandbox",
        "x-api-key": None,
        "x-extend-api-version": "2026-02-09",
        "content-type": JSON,
    }
    version = await sandbox_get(sb, f"/workflows/{EXTEND_TARGET}/versions/2")
    assert version["steps"] == sent_steps
    draft = await sandbox_get(sb, f"/workflows/{EXTEND_TARGET}/versions/draft")
    assert draft["steps"] == STEPS  # steps given: the draft is left alone


async def test_extend_400_for_an_unconfigured_step_is_recorded_not_retried(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    target = f'provider = "extend"\nworkflow = "{EXTEND_UNCONFIGURED}"'
    settings, client = await relay(rule_toml("promote", "run.completed", target))
    await complete_run(client, "workflow_run_1")
    await run_worker_burst(settings)

    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "failed"
    assert deploy["error"]["status"] == 400
    assert "must include config" in deploy["error"]["message"]
    assert len(await requests_to(sb, f"/workflows/{EXTEND_UNCONFIGURED}/versions", "POST")) == 1


async def test_eachlabs_puts_the_next_version_copied_from_the_latest(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    settings, client = await relay(rule_toml("promote", "run.completed", EACH_DEPLOY))
    await complete_run(client, "workflow_run_1")
    await run_worker_burst(settings)

    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed", deploy
    assert deploy["version"]["id"] == "v2"
    (put,) = await requests_to(sb, f"/eachlabs/v1/workflows/{EACH}/versions/v2", "PUT")
    assert (put["query"], put["status"]) == ("", 200)
    assert sent_headers(put, *AUTH_HEADERS, "content-type") == {
        "authorization": "Bearer el_sandbox",
        "x-api-key": None,
        "content-type": JSON,
    }
    assert put["body"] == _each_body("v2", {**EACH_DEFINITION, "version": "v2"}, production=True)
    headers = {"Authorization": "Bearer el_sandbox"}
    version = await _eachlabs(sb, f"/workflows/{EACH}/versions/v2", headers)
    assert version["production"] is True
    assert version["locked"] is False
    assert version["definition"] == {**EACH_DEFINITION, "version": "v2"}
    workflow = await _eachlabs(sb, f"/workflows/{EACH}", headers)
    assert workflow["latest_version_id"] == "v2"


async def test_eachlabs_legacy_host_style_x_api_key(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    legacy = sb.base_url + "/eachlabs/api/v1"
    settings, client = await relay(
        rule_toml("promote", "run.completed", EACH_DEPLOY),
        EACHLABS_BASE_URL=legacy,
        EACHLABS_AUTH="x-api-key",
    )
    await complete_run(client, "workflow_run_1")
    await run_worker_burst(settings)
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed", deploy
    (put,) = await requests_to(sb, f"/eachlabs/api/v1/workflows/{EACH}/versions/v2", "PUT")
    assert sent_headers(put, *AUTH_HEADERS, "content-type") == {
        "authorization": None,
        "x-api-key": "el_sandbox",
        "content-type": JSON,
    }
    assert put["body"] == _each_body("v2", {**EACH_DEFINITION, "version": "v2"}, production=True)


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://workflows.eachlabs.run/api/v1", {"X-API-Key": "el_key"}),
        ("https://api.eachlabs.ai/v1", {"Authorization": "Bearer el_key"}),
    ],
)
def test_eachlabs_auth_style_follows_the_documented_host(
    redis_url: str, base_url: str, expected: dict[str, str]
) -> None:
    # The sandbox is on loopback, so the host-based choice ("auto") is checked here directly.
    settings = make_settings(redis_url, EACHLABS_BASE_URL=base_url, EACHLABS_API_KEY="el_key")
    assert eachlabs_headers(settings) == expected


async def test_eachlabs_locked_version_403_is_recorded_not_retried(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    target = (
        f'provider = "eachlabs"\nworkflow = "{EACH_LOCKED}"\nversion_id = "v1"\n'
        'definition = { version = "v1", steps = [] }'
    )
    settings, client = await relay(rule_toml("promote", "run.completed", target))
    await complete_run(client, "workflow_run_1")
    await run_worker_burst(settings)

    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "failed"
    assert deploy["error"] == {"message": deploy["error"]["message"], "status": 403}
    assert "version is locked" in deploy["error"]["message"]
    path = f"/eachlabs/v1/workflows/{EACH_LOCKED}/versions/v1"
    (put,) = await requests_to(sb, path, "PUT")
    # The rule's own definition, sent as configured; flags left at their documented defaults.
    assert put["body"] == _each_body("v1", {"version": "v1", "steps": []})


async def test_xpander_puts_without_a_body_and_records_the_new_version(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    settings, client = await relay(rule_toml("promote", "run.completed", XP_DEPLOY))
    await complete_run(client, "workflow_run_1")
    await run_worker_burst(settings)

    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed", deploy
    assert deploy["version"]["number"] == "2"
    assert deploy["facts"] == {"versionBefore": 1}
    (put,) = await requests_to(sb, f"/xpander/v1/workflows/{XP}", "PUT")
    assert (put["status"], put["query"], put["bodyBytes"], put["body"]) == (200, "", 0, None)
    assert sent_headers(put, *AUTH_HEADERS, "content-length") == {
        "authorization": None,
        "x-api-key": "xp_sandbox",
        "content-length": "0",
    }
    # A bodiless PUT claims no content type at all.
    assert "content-type" not in put["headers"]


async def test_xpander_invalid_graph_422_is_recorded_not_retried(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    target = f'provider = "xpander"\nworkflow = "{XP_EMPTY}"'
    settings, client = await relay(rule_toml("promote", "run.completed", target))
    await complete_run(client, "workflow_run_1")
    await run_worker_burst(settings)

    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "failed"
    assert deploy["error"]["status"] == 422
    assert "no nodes to deploy" in deploy["error"]["message"]
    assert len(await requests_to(sb, f"/xpander/v1/workflows/{XP_EMPTY}", "PUT")) == 1


async def test_unknown_workflow_404_is_permanent(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    target = 'provider = "xpander"\nworkflow = "33333333-3333-4333-8333-333333333333"'
    settings, client = await relay(rule_toml("promote", "run.completed", target))
    await complete_run(client, "workflow_run_1")
    await run_worker_burst(settings)
    (deploy,) = await all_deploys(redis)
    assert (deploy["status"], deploy["error"]["status"]) == ("failed", 404)


async def test_dry_run_records_the_request_and_calls_nothing(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    rules = "".join(
        rule_toml(name, "run.completed", target, dry_run=True)
        for name, target in (("ext", EXTEND_DEPLOY), ("each", EACH_DEPLOY), ("xp", XP_DEPLOY))
    )
    settings, client = await relay(rules)
    await complete_run(client, "workflow_run_1")
    await run_worker_burst(settings)

    found = {d["rule"]: d for d in await all_deploys(redis)}
    assert {d["status"] for d in found.values()} == {"dry_run"}
    assert all(d["dryRun"] for d in found.values())
    assert found["ext"]["request"] == {
        "method": "POST",
        "path": f"/workflows/{EXTEND_TARGET}/versions",
        "body": {"name": "auto ext workflow_run_1"},
    }
    assert found["each"]["request"]["path"] == f"/workflows/{EACH}/versions/v{{next}}"
    assert found["xp"]["request"] == {"method": "PUT", "path": f"/v1/workflows/{XP}", "body": None}
    answer = await sandbox_get(sb, "/_sandbox/requests")
    assert answer["requests"] == []


def _each_body(
    version_id: str, definition: object, *, production: bool = False
) -> dict[str, object]:
    return {
        "version_id": version_id,
        "definition": definition,
        "locked": False,
        "production": production,
        "allowed_to_share": False,
    }


async def _eachlabs(sb: Sandbox, path: str, headers: dict[str, str]) -> dict[str, object]:
    url = sb.eachlabs_base_url + path
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        assert resp.status == 200
        body: dict[str, object] = await resp.json()
        return body
