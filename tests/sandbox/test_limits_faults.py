"""Rate limits (with and without Retry-After) and each request fault, as configured."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from sandbox import Sandbox
from tests.sandbox.support import V2025, V2026, WF, control, headers

RUN = {"workflow": {"id": WF}, "file": {"text": "x"}}


def configure(sb: Sandbox, patch: dict[str, Any]) -> None:
    sb.state.config = sb.state.config.patched(patch)


async def post_run(
    http: aiohttp.ClientSession, sb: Sandbox, body: Any = RUN, timeout: float | None = None
) -> tuple[int, Any, dict[str, str]]:
    limit = aiohttp.ClientTimeout(total=timeout)
    url = f"{sb.base_url}/workflow_runs"
    async with http.post(url, json=body, headers=headers(V2026), timeout=limit) as resp:
        return resp.status, await resp.json(), dict(resp.headers)


async def get_runs(http: aiohttp.ClientSession, sb: Sandbox) -> int:
    async with http.get(f"{sb.base_url}/workflow_runs", headers=headers(V2026)) as resp:
        return resp.status


@pytest.mark.parametrize("retry_after", [True, False])
async def test_run_bucket(sb: Sandbox, http: aiohttp.ClientSession, retry_after: bool) -> None:
    await control(http, sb, "POST", "clock", {"paused": True})
    patch = {"rate_limits": {"run_rps": 2, "send_retry_after": retry_after}}
    await control(http, sb, "POST", "config", patch)
    assert (await post_run(http, sb))[0] == 200
    assert (await post_run(http, sb))[0] == 200
    status, body, answer_headers = await post_run(http, sb)
    assert status == 429
    assert body["code"] == "RATE_LIMIT_EXCEEDED"
    assert body["retryable"] is True
    assert ("Retry-After" in answer_headers) is retry_after
    if retry_after:
        assert answer_headers["Retry-After"] == "1"
    assert len(sb.state.runs) == 2
    assert await get_runs(http, sb) == 200  # other buckets are separate
    await control(http, sb, "POST", "clock", {"advance": 0.5})
    assert (await post_run(http, sb))[0] == 200


async def test_get_and_write_buckets(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    await control(http, sb, "POST", "clock", {"paused": True})
    await control(http, sb, "POST", "config", {"rate_limits": {"get_rps": 1, "write_rps": 1}})
    assert await get_runs(http, sb) == 200
    assert await get_runs(http, sb) == 429
    url = f"{sb.base_url}/workflows/{WF}"
    async with http.post(url, json={"name": "a"}, headers=headers(V2026)) as first:
        assert first.status == 200
    async with http.post(url, json={"name": "b"}, headers=headers(V2026)) as second:
        assert second.status == 429


async def test_files_per_minute(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    await control(http, sb, "POST", "clock", {"paused": True})
    await control(http, sb, "POST", "config", {"rate_limits": {"files_per_minute": 3}})
    package = {"files": [{"url": "https://f.example/1"}, {"url": "https://f.example/2"}]}
    assert (await post_run(http, sb, {"workflow": {"id": WF}, "package": package}))[0] == 200
    assert (await post_run(http, sb))[0] == 200
    status, _, answer_headers = await post_run(http, sb)
    assert status == 429
    assert answer_headers["Retry-After"] == "60"
    await control(http, sb, "POST", "clock", {"advance": 61})
    assert (await post_run(http, sb))[0] == 200


async def test_fault_500_and_429_apply_before_anything(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    configure(sb, {"faults": {"p_500": 1.0}})
    status, body, _ = await post_run(http, sb)
    assert status == 500
    assert body["retryable"] is True
    configure(sb, {"faults": {"p_500": 0.0, "p_429": 1.0}})
    status, body, answer_headers = await post_run(http, sb)
    assert status == 429
    assert body["code"] == "RATE_LIMIT_EXCEEDED"
    assert "Retry-After" in answer_headers
    assert len(sb.state.runs) == 0
    # Never on the control API.
    runs = await control(http, sb, "GET", "runs")
    assert runs["count"] == 0
    faults = [r["fault"] for r in (await control(http, sb, "GET", "requests"))["requests"]]
    assert faults == ["500", "429"]


async def test_fault_filters_by_path_and_method(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    configure(sb, {"faults": {"p_500": 1.0, "only_paths": ["/workflow_runs/batch"]}})
    assert (await post_run(http, sb))[0] == 200
    configure(sb, {"faults": {"only_paths": [], "only_methods": ["GET"]}})
    assert (await post_run(http, sb))[0] == 200
    assert await get_runs(http, sb) == 500


async def test_latency(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    configure(sb, {"faults": {"p_latency": 1.0, "latency_seconds": 0.3}})
    with pytest.raises(asyncio.TimeoutError):
        await post_run(http, sb, timeout=0.1)
    configure(sb, {"faults": {"latency_seconds": 0.05}})
    assert (await post_run(http, sb, timeout=5))[0] == 200


async def test_commit_then_drop(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    configure(sb, {"faults": {"p_commit_then_fail": 1.0, "commit_then_fail": "drop"}})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post_run(http, sb)
    assert len(sb.state.runs) == 1  # applied, though the caller never heard
    recorded = (await control(http, sb, "GET", "requests?path=/workflow_runs"))["requests"]
    assert recorded[-1]["status"] is None
    assert recorded[-1]["fault"] == "commit_then_drop"


async def test_commit_then_delay(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    patch = {"p_commit_then_fail": 1.0, "commit_then_fail": "delay", "commit_delay_seconds": 0.5}
    configure(sb, {"faults": patch})
    with pytest.raises(asyncio.TimeoutError):
        await post_run(http, sb, timeout=0.2)
    assert len(sb.state.runs) == 1
    configure(sb, {"faults": {"commit_delay_seconds": 0.01}})
    assert (await post_run(http, sb, timeout=5))[0] == 200


async def test_usage_blocked_refuses_run_creation_with_402(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    await control(http, sb, "POST", "config", {"faults": {"usage_blocked": True}})
    batch = {"workflow": {"id": WF}, "inputs": [{"file": {"text": "x"}}]}
    batch_2025 = {"workflowId": WF, "inputs": [{"rawText": "x"}]}
    cases = [
        ("/workflow_runs", RUN, V2026),
        ("/workflow_runs", {"workflowId": WF, "rawTexts": ["x"]}, V2025),
        ("/workflow_runs/batch", batch, V2026),
        ("/workflow_runs/batch", batch_2025, V2025),
    ]
    for path, body, version in cases:
        async with http.post(sb.base_url + path, json=body, headers=headers(version)) as resp:
            assert resp.status == 402, path
            answer = await resp.json()
        assert answer["code"] == "USAGE_BLOCKED"
        assert answer["retryable"] is False
        assert answer["message"]
    assert len(sb.state.runs) == 0
    # Only run creation is blocked: reads and workflow writes still answer.
    assert await get_runs(http, sb) == 200
    url = f"{sb.base_url}/workflows/{WF}/versions"
    async with http.post(url, json={}, headers=headers(V2026)) as resp:
        assert resp.status == 200

    await control(http, sb, "POST", "config", {"faults": {"usage_blocked": False}})
    assert (await post_run(http, sb))[0] == 200
    assert len(sb.state.runs) == 1


async def test_auth_beats_usage_blocked(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    configure(sb, {"faults": {"usage_blocked": True}})
    url = f"{sb.base_url}/workflow_runs"
    async with http.post(url, json=RUN, headers=headers(V2026, key="sk_wrong")) as resp:
        assert resp.status == 401
