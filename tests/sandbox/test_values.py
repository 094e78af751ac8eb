"""Completed runs carry extracted values derived from their input; a version can be made worse."""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx
from extend_ai import AsyncExtend
from extend_ai.types.step_run import StepRun_Extract

from sandbox import Sandbox
from tests.sandbox.support import EXTRACT, STEPS, V2025, V2026, WF, headers

URL = "https://files.example/inv-1.pdf?number=INV-1&total=12.5&qty=3"
WORSE = {**EXTRACT, "config": {**EXTRACT["config"], "sandbox": {"wrong_share": 1.0}}}


async def call(
    http: aiohttp.ClientSession,
    sb: Sandbox,
    method: str,
    path: str,
    body: Any = None,
    v: str = V2026,
) -> Any:
    async with http.request(method, sb.base_url + path, json=body, headers=headers(v)) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def finish(http: aiohttp.ClientSession, sb: Sandbox) -> None:
    async with http.post(sb.base_url + "/_sandbox/clock", json={"advance": 5}) as r:
        assert r.status == 200


async def test_values_from_url_text_and_json_on_both_dialects(
    http: aiohttp.ClientSession, sb: Sandbox
) -> None:
    run = await call(
        http, sb, "POST", "/workflow_runs", {"workflow": {"id": WF}, "file": {"url": URL}}
    )
    text = {"workflow": {"id": WF}, "file": {"text": "vendor: ACME\ntotal: 7", "name": "a.txt"}}
    run_text = await call(http, sb, "POST", "/workflow_runs", text)
    old = {"workflowId": WF, "rawTexts": ['{"vendor": "Globex", "lines": [1, 2]}']}
    runs_2025 = await call(http, sb, "POST", "/workflow_runs", old, v=V2025)
    await finish(http, sb)

    got = await call(http, sb, "GET", f"/workflow_runs/{run['id']}")
    (extract,) = [s for s in got["stepRuns"] if s["stepType"] == "EXTRACT"]
    assert extract["result"]["extractRun"]["output"]["value"] == {
        "number": "INV-1",
        "total": 12.5,
        "qty": 3,
    }
    got = await call(http, sb, "GET", f"/workflow_runs/{run_text['id']}")
    values = [s["result"] for s in got["stepRuns"] if s["stepType"] == "EXTRACT"]
    assert values[0]["extractRun"]["output"]["value"] == {"vendor": "ACME", "total": 7}
    run_id = runs_2025["workflowRuns"][0]["id"]
    got = (await call(http, sb, "GET", f"/workflow_runs/{run_id}", v=V2025))["workflowRun"]
    assert [o["output"]["value"] for o in got["outputs"]] == [{"vendor": "Globex", "lines": [1, 2]}]
    assert got["outputs"][0]["type"] == "EXTRACT"


async def test_sdk_types_the_extract_result(sb: Sandbox) -> None:
    async with httpx.AsyncClient() as transport:
        client = AsyncExtend(token="sk_sandbox", base_url=sb.base_url, httpx_client=transport)
        run = await client.workflow_runs.create(workflow={"id": WF}, file={"url": URL})
        async with aiohttp.ClientSession() as http:
            await finish(http, sb)
        fetched = await client.workflow_runs.retrieve(run.id)
    (extract,) = [s for s in fetched.step_runs or [] if isinstance(s, StepRun_Extract)]
    assert extract.result is not None
    assert extract.result.extract_run.output.value["number"] == "INV-1"  # type: ignore[union-attr]


async def test_a_worse_version_keeps_its_steps_and_spoils_values(
    http: aiohttp.ClientSession, sb: Sandbox
) -> None:
    worse = [*STEPS[:2], WORSE]
    v2 = await call(
        http, sb, "POST", f"/workflows/{WF}/versions", {"name": "worse", "steps": worse}
    )
    await call(
        http, sb, "POST", f"/workflows/{WF}", {"steps": [*STEPS[:2], {**WORSE, "config": {"x": 1}}]}
    )
    # latest = v2 (worse), "1" = the seeded good one, the version id resolves too.
    for ref, spoiled in (("latest", True), ("1", False), (v2["id"], True), ("draft", False)):
        body = {"workflow": {"id": WF, "version": ref}, "file": {"url": URL}}
        run = await call(http, sb, "POST", "/workflow_runs", body)
        await finish(http, sb)
        got = await call(http, sb, "GET", f"/workflow_runs/{run['id']}")
        (extract,) = [s for s in got["stepRuns"] if s["stepType"] == "EXTRACT"]
        value = extract["result"]["extractRun"]["output"]["value"]
        expected = {"number": "wrong INV-1", "total": 26.0, "qty": 7} if spoiled else None
        assert value == (expected or {"number": "INV-1", "total": 12.5, "qty": 3}), ref
    assert (await call(http, sb, "GET", f"/workflows/{WF}/versions/2"))["steps"] == worse
    assert (await call(http, sb, "GET", f"/workflows/{WF}/versions/1"))["steps"] == STEPS
