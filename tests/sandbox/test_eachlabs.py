"""Eachlabs workflow versions (Eachlabs' API page "Create or update workflow version"), field by
field, over raw HTTP."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from sandbox import Sandbox

DEFINITION = {
    "version": "v2",
    "steps": [
        {
            "step_id": "generate_text",
            "type": "model",
            "model": "openai-chatgpt-5",
            "params": {"user_prompt": "{{inputs.prompt}}"},
        }
    ],
    "input_schema": {},
    "metadata": {},
}
VERSION_FIELDS = {
    "version_id",
    "slug",
    "locked",
    "production",
    "allowed_to_share",
    "trigger_count",
    "created_at",
    "updated_at",
    "status",
    "definition",
}


async def put(
    http: aiohttp.ClientSession,
    sb: Sandbox,
    path: str,
    body: Any,
    auth: dict[str, str] | None = None,
) -> tuple[int, Any]:
    auth = {"X-API-Key": "el_sandbox"} if auth is None else auth
    async with http.put(f"{sb.eachlabs_base_url}{path}", json=body, headers=auth) as resp:
        return resp.status, await resp.json()


async def test_create_then_patch_version(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    body = {"version_id": "v2", "definition": DEFINITION, "production": True}
    status, version = await put(http, sb, "/workflows/wf_each/versions/v2", body)
    assert status == 200
    assert set(version) == VERSION_FIELDS
    assert version["version_id"] == "v2"
    assert version["slug"] == "text-to-image"
    assert version["production"] is True
    assert version["locked"] is False
    assert version["allowed_to_share"] is False
    assert version["trigger_count"] == 0
    assert version["status"] == "active"
    assert version["definition"] == DEFINITION
    assert version["created_at"].endswith("Z")

    # Patch semantics: omitted fields are kept; Bearer auth on the current host works too.
    bearer = {"Authorization": "Bearer el_sandbox"}
    body = {"version_id": "v2", "allowed_to_share": True}
    status, patched = await put(http, sb, "/workflows/wf_each/versions/v2", body, bearer)
    assert status == 200
    assert patched["definition"] == DEFINITION
    assert patched["production"] is True
    assert patched["allowed_to_share"] is True

    async with http.get(
        f"{sb.eachlabs_base_url}/workflows/wf_each", headers={"X-API-Key": "el_sandbox"}
    ) as resp:
        workflow = await resp.json()
    assert workflow["latest_version_id"] == "v2"
    assert [v["version_id"] for v in workflow["versions"]] == ["v1", "v2"]
    assert "definition" not in workflow["versions"][0]

    # Every PUT makes that version the latest, even an older one.
    await put(http, sb, "/workflows/wf_each/versions/v1", {"version_id": "v1"})
    assert sb.state.eachlabs.workflows["wf_each"].latest_version_id == "v1"
    deploys = [d for d in sb.state.deploys if d["platform"] == "eachlabs"]
    assert [d["version"] for d in deploys] == ["v2", "v2", "v1"]  # seeds are not deploys


async def test_locked_version(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    body = {"version_id": "v3", "definition": DEFINITION, "locked": True}
    assert (await put(http, sb, "/workflows/wf_each/versions/v3", body))[0] == 200
    status, answer = await put(http, sb, "/workflows/wf_each/versions/v3", {"version_id": "v3"})
    assert (status, answer) == (403, {"error": "version is locked"})


@pytest.mark.parametrize(
    ("path", "body", "auth", "want"),
    [
        (
            "/workflows/wf_missing/versions/v1",
            {"version_id": "v1"},
            None,
            (404, "workflow not found"),
        ),
        ("/workflows/wf_each/versions/v9", {"version_id": "v9"}, None, (400, None)),
        ("/workflows/wf_each/versions/v9", {"definition": DEFINITION}, None, (400, None)),
        (
            "/workflows/wf_each/versions/v9",
            {"version_id": "v8", "definition": {}},
            None,
            (400, None),
        ),
        (
            "/workflows/wf_each/versions/v1",
            {"version_id": "v1", "locked": "yes"},
            None,
            (400, None),
        ),
        ("/workflows/wf_each/versions/v1", {"version_id": "v1"}, {"X-API-Key": "bad"}, (401, None)),
    ],
)
async def test_errors(
    sb: Sandbox,
    http: aiohttp.ClientSession,
    path: str,
    body: Any,
    auth: dict[str, str] | None,
    want: tuple[int, str | None],
) -> None:
    status, answer = await put(http, sb, path, body, auth)
    assert status == want[0]
    assert set(answer) == {"error"}
    if want[1] is not None:
        assert answer["error"] == want[1]


async def test_create_workflow(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    async with http.post(
        f"{sb.base_url}/eachlabs/api/v1/workflows",
        json={"name": "My Flow"},
        headers={"X-API-Key": "el_sandbox"},
    ) as resp:
        assert resp.status == 201
        created = await resp.json()
    assert created["slug"] == "my-flow"
    assert created["latest_version_id"] is None
    assert created["versions"] == []
