"""The control API, reset, determinism under a seed, and config files."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from sandbox import Sandbox, SandboxConfig, start_sandbox
from tests.sandbox.support import V2025, V2026, WF, base_config, control, headers


async def post(http: aiohttp.ClientSession, url: str, body: object, version: str = V2026) -> object:
    async with http.post(url, json=body, headers=headers(version)) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_requests_runs_and_deploys(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    inputs = [
        {"file": {"url": "https://f.example/a.pdf"}, "metadata": {"tenant": "t1"}},
        {"file": {"url": "https://f.example/b.pdf"}, "metadata": {"tenant": "t2"}},
    ]
    batch = await post(
        http, f"{sb.base_url}/workflow_runs/batch", {"workflow": {"id": WF}, "inputs": inputs}
    )
    assert isinstance(batch, dict)
    await post(http, f"{sb.base_url}/workflows/{WF}/versions", {})
    async with http.put(
        f"{sb.xpander_base_url}/v1/workflows/11111111-1111-4111-8111-111111111111",
        headers={"x-api-key": "xp_sandbox"},
    ) as resp:
        assert resp.status == 200

    log = await control(http, sb, "GET", "requests?method=POST")
    assert [r["path"] for r in log["requests"]] == [
        "/workflow_runs/batch",
        f"/workflows/{WF}/versions",
    ]
    assert log["counts"]["POST /workflow_runs/batch"] == 1
    assert log["counts"]["PUT /xpander/v1/workflows/{workflow_id}"] == 1
    assert log["requests"][0]["bodyBytes"] > 0
    assert log["requests"][0]["status"] == 200

    runs = await control(http, sb, "GET", "runs?meta.tenant=t2")
    assert [r["files"][0]["url"] for r in runs["runs"]] == ["https://f.example/b.pdf"]
    runs = await control(http, sb, "GET", f"runs?batchId={batch['batchId']}")
    assert runs["count"] == 2
    assert {r["deleted"] for r in runs["runs"]} == {False}
    runs = await control(http, sb, "GET", "runs?fileUrl=https://f.example/a.pdf")
    assert runs["runs"][0]["metadata"] == {"tenant": "t1"}

    deploys = (await control(http, sb, "GET", "deploys"))["deploys"]
    assert [(d["platform"], d["version"]) for d in deploys] == [("extend", "2"), ("xpander", "2")]


async def test_config_patch_and_validation(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    effective = await control(http, sb, "POST", "config", {"faults": {"p_500": 0.5}})
    assert effective["faults"]["p_500"] == 0.5
    assert effective["faults"]["p_429"] == 0.0  # deep merge keeps siblings
    assert (await control(http, sb, "GET", "config"))["faults"]["p_500"] == 0.5
    async with http.post(f"{sb.base_url}/_sandbox/config", json={"faults": {"p_500": 2}}) as r:
        assert r.status == 400
    async with http.post(f"{sb.base_url}/_sandbox/config", json={"nonsense": 1}) as r:
        assert r.status == 400


async def test_reset_keeps_config_and_seeded_workflows(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    await control(http, sb, "POST", "config", {"processing": {"p_failed": 1.0}})
    created = await post(http, f"{sb.base_url}/workflows", {"name": "temp"})
    assert isinstance(created, dict)
    await post(http, f"{sb.base_url}/workflows/{WF}/versions", {})
    await post(http, f"{sb.base_url}/workflow_runs", {"workflowId": WF, "rawTexts": ["a"]}, V2025)
    await control(http, sb, "POST", "reset")
    assert len(sb.state.runs) == 0
    assert sb.state.requests.entries == []
    assert set(sb.state.catalog.workflows) == {WF, "workflow_test_review"}
    assert len(sb.state.catalog.workflows[WF].published) == 1
    assert (await control(http, sb, "GET", "config"))["processing"]["p_failed"] == 1.0


async def run_session(http: aiohttp.ClientSession) -> list[tuple[str, str]]:
    config = base_config(seed=42, processing={"p_failed": 0.5})
    async with await start_sandbox(config) as sb:
        await control(http, sb, "POST", "clock", {"paused": True})
        texts = [f"doc {i}" for i in range(20)]
        await post(
            http, f"{sb.base_url}/workflow_runs", {"workflowId": WF, "rawTexts": texts}, V2025
        )
        await control(http, sb, "POST", "clock", {"advance": 10})
        return [(r.id, r.status.value) for r in sb.state.runs.all_runs()]


async def test_same_seed_same_session(http: aiohttp.ClientSession) -> None:
    first = await run_session(http)
    assert first == await run_session(http)
    assert {status for _, status in first} == {"PROCESSED", "FAILED"}


async def test_clock_pause_and_advance(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    paused = await control(http, sb, "POST", "clock", {"paused": True})
    run = await post(
        http, f"{sb.base_url}/workflow_runs", {"workflowId": WF, "rawTexts": ["a"]}, V2025
    )
    assert isinstance(run, dict)
    run_id = run["workflowRuns"][0]["id"]
    await control(http, sb, "POST", "clock", {"advance": 0.01})
    assert sb.state.runs.by_id[run_id].status == "PENDING"
    moved = await control(http, sb, "POST", "clock", {"advance": 0.05})
    assert sb.state.runs.by_id[run_id].status == "PROCESSING"
    assert moved["now"] == pytest.approx(paused["now"] + 0.06)
    await control(http, sb, "POST", "clock", {"advance": 1})
    assert sb.state.runs.by_id[run_id].status == "PROCESSED"


def test_config_files(tmp_path: Path) -> None:
    toml = tmp_path / "sandbox.toml"
    toml.write_text('seed = 3\nwebhook_urls = ["http://127.0.0.1:1/h"]\n[faults]\np_500 = 0.1\n')
    loaded = SandboxConfig.from_file(toml)
    assert loaded.seed == 3
    assert loaded.faults.p_500 == 0.1
    assert loaded.webhook_secret.startswith("wss_")
    as_json = tmp_path / "sandbox.json"
    as_json.write_text(json.dumps({"rate_limits": {"run_rps": 5}}))
    assert SandboxConfig.from_file(as_json).rate_limits.run_rps == 5
