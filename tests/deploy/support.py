"""Deploy tests: a sandbox seeded for all three platforms, rules files, events, the web app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from relay_core import keys
from relay_core.deploys import store as deploys
from relay_core.redis import queue
from relay_core.settings import Settings
from sandbox import Sandbox, SandboxConfig
from tests.conftest import API_KEY, make_settings
from tests.support.signing import SECRET, event, extend_headers, run_payload

WF = "workflow_promote"  # the relay-side workflow the runs and batches belong to
EXTEND_TARGET = "workflow_target"
EXTEND_UNCONFIGURED = "workflow_unconfigured"
EACH = "wf_each"
EACH_LOCKED = "wf_locked"
XP = "11111111-1111-4111-8111-111111111111"
XP_EMPTY = "22222222-2222-4222-8222-222222222222"

EXTRACT = {"name": "extract", "type": "EXTRACT", "config": {"extractor": {"id": "ex_1"}}}
STEPS = [
    {"name": "trigger", "type": "TRIGGER", "next": [{"step": "parse"}]},
    {"name": "parse", "type": "PARSE", "next": [{"step": "extract"}]},
    EXTRACT,
]
UNCONFIGURED = [*STEPS[:2], {"name": "extract", "type": "EXTRACT"}]
EACH_DEFINITION = {
    "version": "v1",
    "steps": [{"step_id": "gen", "type": "model", "model": "flux-dev", "params": {"n": 1}}],
    "input_schema": {},
    "metadata": {},
}


def sandbox_config(**overrides: Any) -> SandboxConfig:
    data: dict[str, Any] = {
        "seed": 5,
        "webhook_secret": SECRET,
        "workflows": {
            "extend": [
                {
                    "id": EXTEND_TARGET,
                    "name": "Target",
                    "steps": STEPS,
                    "versions": [{"name": "v1"}],
                },
                {"id": EXTEND_UNCONFIGURED, "name": "Unconfigured", "steps": UNCONFIGURED},
            ],
            "eachlabs": [
                {
                    "id": EACH,
                    "name": "Each",
                    "versions": [{"version_id": "v1", "definition": EACH_DEFINITION}],
                },
                {
                    "id": EACH_LOCKED,
                    "name": "Locked",
                    "versions": [
                        {"version_id": "v1", "definition": EACH_DEFINITION, "locked": True}
                    ],
                },
            ],
            "xpander": [
                {
                    "id": XP,
                    "name": "Flow",
                    "orchestration_nodes": [{"id": "a", "next_node_ids": ["b"]}, {"id": "b"}],
                },
                {"id": XP_EMPTY, "name": "Empty flow"},
            ],
        },
    }
    data.update(overrides)
    return SandboxConfig.model_validate(data)


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


def deploy_settings(redis_url: str, sb: Sandbox, rules: Path, **overrides: Any) -> Settings:
    env = {k: v for k, v in sb.env().items() if k != "EXTEND_WEBHOOK_SECRETS"}
    values = {
        **env,
        "RELAY_RULES": str(rules),
        "DEPLOY_RETRY_BASE_SECONDS": "0.01",
        "DEPLOY_RETRY_MAX_SECONDS": "0.05",
        **overrides,
    }
    return make_settings(redis_url, **values)


def rule_toml(name: str, on: str, deploy: str, **fields: Any) -> str:
    """One [[rules]] entry for workflow WF; `deploy` is the body of its [rules.deploy] table."""
    lines = ["[[rules]]", f'name = "{name}"', f'on = "{on}"', f'workflow = "{WF}"']
    for key, value in fields.items():
        lines.append(f"{key} = {_toml(value)}")
    return "\n".join([*lines, "[rules.deploy]", deploy.strip(), ""]) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value)


EXTEND_DEPLOY = (
    f'provider = "extend"\nworkflow = "{EXTEND_TARGET}"\nname = "auto {{rule}} {{subject}}"'
)
EACH_DEPLOY = (
    f'provider = "eachlabs"\nworkflow = "{EACH}"\ndefinition_from = "latest"\nproduction = true'
)
XP_DEPLOY = f'provider = "xpander"\nworkflow = "{XP}"'


async def post_event(
    client: TestClient[Any, Any], event_id: str, event_type: str, payload: dict[str, Any]
) -> None:
    body = event(event_id, event_type, payload)
    resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
    assert resp.status == 200, await resp.text()


async def complete_run(
    client: TestClient[Any, Any], run_id: str, *, event_id: str | None = None, **kw: Any
) -> None:
    payload = run_payload(run_id, "PROCESSED", workflow_id=kw.pop("workflow_id", WF), **kw)
    await post_event(client, event_id or f"evt_{run_id}_done", "workflow_run.completed", payload)


async def make_batch(redis: Redis, batch_id: str, **fields: Any) -> None:
    """A finished batch hash as the batch tracker leaves it; our own state, not a mock."""
    values = {"files": 10, "state": "completed", "completedAt": queue.now_ms(), "workflowId": WF}
    values.update(fields)
    if isinstance(values.get("metadata"), dict):
        values["metadata"] = orjson.dumps(values["metadata"]).decode()
    await redis.hset(keys.batch(batch_id), mapping={k: str(v) for k, v in values.items()})  # type: ignore[misc]


async def enqueue_batch_completed(redis_url: str, batch_id: str) -> None:
    pool = await queue.arq_pool(redis_url)
    try:
        await pool.enqueue_job(
            queue.BATCH_COMPLETED, batch_id, _job_id=queue.batch_completed_job_id(batch_id)
        )
    finally:
        await pool.aclose()


async def all_deploys(redis: Redis) -> list[dict[str, Any]]:
    ids = await redis.zrange(keys.DEPLOYS, 0, -1)
    found = [await deploys.get(redis, i.decode()) for i in ids]
    return [d for d in found if d is not None]


async def sandbox_get(sb: Sandbox, url_path: str, params: dict[str, str] | None = None) -> Any:
    headers = {"Authorization": "Bearer sk_sandbox", "x-extend-api-version": "2026-02-09"}
    url = sb.base_url + url_path
    async with aiohttp.ClientSession() as http, http.get(url, params=params, headers=headers) as r:
        return await r.json()


async def sandbox_post(sb: Sandbox, path: str, body: dict[str, Any]) -> Any:
    async with aiohttp.ClientSession() as http, http.post(sb.base_url + path, json=body) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def requests_to(sb: Sandbox, path: str, method: str | None = None) -> list[dict[str, Any]]:
    """The sandbox's log of requests to `path`, with their headers and bodies."""
    params = {"path": path, "include": "headers,body", **({"method": method} if method else {})}
    answer = await sandbox_get(sb, "/_sandbox/requests", params)
    return list(answer["requests"])


def sent_headers(entry: dict[str, Any], *names: str) -> dict[str, str | None]:
    """The named headers of a logged request (None = not sent), to compare in one assert."""
    return {name: entry["headers"].get(name) for name in names}


# Every header that carries a credential on one of the three platforms.
AUTH_HEADERS = ("authorization", "x-api-key")


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}
