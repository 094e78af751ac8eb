"""100,000 runs: listing a page touches about a page of runs, whatever the filters."""

from __future__ import annotations

import aiohttp

from sandbox import Sandbox
from tests.sandbox.support import V2026, WF, WF_REVIEW, control, headers

BATCHES = 100
PER_BATCH = 1000


async def test_listing_stays_cheap_at_100k_runs(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    await control(http, sb, "POST", "clock", {"paused": True})
    batch_ids = []
    for b in range(BATCHES):
        workflow = WF_REVIEW if b % 10 == 0 else WF
        inputs = [{"file": {"url": f"https://f.example/{b}/{i}.pdf"}} for i in range(PER_BATCH)]
        body = {"workflow": {"id": workflow}, "inputs": inputs}
        url = f"{sb.base_url}/workflow_runs/batch"
        async with http.post(url, json=body, headers=headers(V2026)) as resp:
            assert resp.status == 200
            batch_ids.append((await resp.json())["batchId"])
    assert len(sb.state.runs) == BATCHES * PER_BATCH

    async def page(query: str) -> dict[str, object]:
        sb.state.runs.touched = 0
        url = f"{sb.base_url}/workflow_runs?maxPageSize=50&{query}"
        async with http.get(url, headers=headers(V2026)) as resp:
            assert resp.status == 200
            return dict(await resp.json())

    for query in ("", f"batchId={batch_ids[57]}", f"workflowId={WF_REVIEW}", "status=PENDING"):
        first = await page(query)
        assert len(first["data"]) == 50  # type: ignore[arg-type]
        assert sb.state.runs.touched <= 51
        deeper = await page(f"{query}&nextPageToken={first['nextPageToken']}")
        assert sb.state.runs.touched <= 51
        assert {r["id"] for r in deeper["data"]}.isdisjoint(  # type: ignore[attr-defined]
            r["id"]
            for r in first["data"]  # type: ignore[attr-defined]
        )

    # A status change moves a run between indexes without a rescan.
    victim = sb.state.runs.get(next(iter(sb.state.runs.by_id)))
    assert victim is not None
    async with http.post(
        f"{sb.base_url}/workflow_runs/{victim.id}/cancel", headers=headers(V2026)
    ) as resp:
        assert resp.status == 200
    cancelled = await page("status=CANCELLED")
    assert [r["id"] for r in cancelled["data"]] == [victim.id]  # type: ignore[attr-defined]
    assert sb.state.runs.touched == 1


async def test_listing_stays_cheap_after_processing(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    await control(http, sb, "POST", "clock", {"paused": True})
    for b in range(BATCHES // 2):
        inputs = [{"file": {"text": f"{b}-{i}"}} for i in range(PER_BATCH)]
        url = f"{sb.base_url}/workflow_runs/batch"
        async with http.post(
            url, json={"workflow": {"id": WF}, "inputs": inputs}, headers=headers(V2026)
        ) as resp:
            assert resp.status == 200
    # Every run goes PENDING → PROCESSING → PROCESSED: 100,000 index moves.
    await control(http, sb, "POST", "clock", {"advance": 10})
    assert {r.status.value for r in sb.state.runs.all_runs()} == {"PROCESSED"}
    for query, most in (
        ("", 51),
        ("status=PROCESSED&sortBy=createdAt", 51),
        ("status=PENDING", 115),
    ):
        sb.state.runs.touched = 0
        url = f"{sb.base_url}/workflow_runs?maxPageSize=50&{query}"
        async with http.get(url, headers=headers(V2026)) as resp:
            assert resp.status == 200
        assert sb.state.runs.touched <= most, query
