"""xpander workflows (xpander's "Deploy Workflow" page): PATCH stages, PUT validates and deploys."""

from __future__ import annotations

from typing import Any

import aiohttp

from sandbox import Sandbox

GOOD = "11111111-1111-4111-8111-111111111111"
EMPTY = "22222222-2222-4222-8222-222222222222"
KEY = {"x-api-key": "xp_sandbox"}


async def call(
    http: aiohttp.ClientSession,
    sb: Sandbox,
    method: str,
    path: str,
    body: Any = None,
    auth: dict[str, str] = KEY,
) -> tuple[int, Any]:
    url = f"{sb.xpander_base_url}{path}"
    async with http.request(method, url, json=body, headers=auth) as resp:
        return resp.status, await resp.json()


async def test_deploy_increments_version(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    status, before = await call(http, sb, "GET", f"/v1/workflows/{GOOD}")
    assert status == 200
    assert before["version"] == 1
    assert before["has_pending_changes"] is True
    async with http.put(f"{sb.xpander_base_url}/v1/workflows/{GOOD}", headers=KEY) as resp:
        assert resp.status == 200
        deployed = await resp.json()
    assert deployed["id"] == GOOD
    assert deployed["version"] == 2
    assert deployed["status"] == "ACTIVE"
    assert deployed["has_pending_changes"] is False
    assert deployed["is_latest"] is True
    assert {"name", "organization_id", "webhook_url", "orchestration_nodes"} <= set(deployed)
    assert deployed["orchestration_nodes"][0]["id"] == "a"

    status, staged = await call(
        http, sb, "PATCH", f"/v1/workflows/{GOOD}?deploy=false", {"description": "new"}
    )
    assert status == 200
    assert staged["has_pending_changes"] is True
    assert staged["version"] == 2
    status, deployed = await call(http, sb, "PUT", f"/v1/workflows/{GOOD}")
    assert deployed["version"] == 3
    assert deployed["description"] == "new"
    assert [d["version"] for d in sb.state.deploys] == ["2", "3"]


async def test_invalid_graph_is_422(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    status, answer = await call(http, sb, "PUT", f"/v1/workflows/{EMPTY}")
    assert status == 422
    (issue,) = answer["detail"]
    assert set(issue) == {"loc", "msg", "type"}
    assert sb.state.xpander.workflows[EMPTY].version == 1

    dangling = {"orchestration_nodes": [{"id": "a", "next_node_ids": ["zz"]}]}
    await call(http, sb, "PATCH", f"/v1/workflows/{EMPTY}", dangling)
    status, answer = await call(http, sb, "PUT", f"/v1/workflows/{EMPTY}")
    assert status == 422
    assert answer["detail"][0]["loc"] == ["orchestration_nodes", 0, "next_node_ids"]


async def test_create_list_and_errors(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    nodes = [{"id": "only"}]
    status, created = await call(
        http, sb, "POST", "/v1/workflows", {"name": "New", "orchestration_nodes": nodes}
    )
    assert status == 201
    assert created["status"] == "DRAFT"
    status, listed = await call(http, sb, "GET", "/v1/workflows")
    assert status == 200
    assert created["id"] in {w["id"] for w in listed["items"]}
    status, answer = await call(http, sb, "POST", "/v1/workflows", {"name": 5})
    assert status == 422
    assert answer["detail"][0]["loc"] == ["body", "name"]
    status, answer = await call(http, sb, "GET", "/v1/workflows/nope")
    assert (status, answer) == (404, {"detail": "Workflow not found"})
    status, answer = await call(http, sb, "GET", "/v1/workflows", auth={"x-api-key": "bad"})
    assert status == 401
    assert "detail" in answer
