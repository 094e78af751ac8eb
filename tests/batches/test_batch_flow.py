"""Batches end to end against the sandbox: chunks per dialect, every file exactly once."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from tests.batches.support import WF, Stack, files, sandbox_config, stack

N = 2345


def mixed_files(n: int) -> list[dict[str, Any]]:
    """URLs mostly, with some file ids and raw texts (2025-04-21 sends those as rawTexts)."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        if i % 97 == 5:
            out.append({"text": f"text body {i}", "name": f"t{i}.txt"})
        elif i % 89 == 3:
            out.append({"id": f"file_{i:06d}"})
        else:
            out.append({"url": f"https://files.example/doc-{i}.pdf", "metadata": {"row": i}})
    return out


def identity(f: dict[str, Any]) -> str:
    return str(f.get("url") or f.get("fileId") or f.get("text"))


async def sandbox_identities(st: Stack) -> dict[str, int]:
    runs = (await st.sandbox("GET", "/_sandbox/runs", workflowId=WF))["runs"]
    counts: dict[str, int] = {}
    for run in runs:
        for f in run["files"]:
            counts[identity(f)] = counts.get(identity(f), 0) + 1
    return counts


def expected_identities(sent: list[dict[str, Any]]) -> set[str]:
    return {str(f.get("url") or f.get("id") or f.get("text")) for f in sent}


async def test_large_batch_2026(redis_url: str, redis: Redis) -> None:
    sent = mixed_files(N)
    async with stack(redis_url, sandbox_config()) as st:
        st.start_worker()
        batch_id = await st.submit(sent, metadata={"env": "test"}, priority=7)
        view = await st.wait_done(batch_id, timeout=90)
        assert view["state"] == "completed"
        assert view["runs"]["PROCESSED"] == N and view["duplicateRuns"] == 0
        assert view["chunks"]["total"] == 47 and view["chunks"]["submitted"] == 47
        counts = await sandbox_identities(st)
        assert set(counts) == expected_identities(sent) and set(counts.values()) == {1}
        posts = await st.sandbox(
            "GET", "/_sandbox/requests", path="/workflow_runs/batch", include="body"
        )
        bodies = [r["body"] for r in posts["requests"] if r["status"] == 200]
        assert len(bodies) == 47 and all(len(b["inputs"]) <= 50 for b in bodies)
        first = bodies[0]
        assert first["workflow"] == {"id": WF} and first["priority"] == 7
        meta = first["inputs"][0]["metadata"]
        assert meta["relayBatchId"] == batch_id and meta["env"] == "test"
        indexes = sorted(i["metadata"]["relayFileIndex"] for b in bodies for i in b["inputs"])
        assert indexes == list(range(N))
        assert await st.requests("/workflow_runs") == []


async def test_large_batch_2025(redis_url: str, redis: Redis) -> None:
    # 2025-04-21 takes one metadata per request: a file's own is refused (test_exact_inputs).
    sent = [{k: v for k, v in f.items() if k != "metadata"} for f in mixed_files(N)]
    async with stack(redis_url, sandbox_config(), EXTEND_API_VERSION="2025-04-21") as st:
        st.start_worker()
        batch_id = await st.submit(sent, chunkSize=40)
        view = await st.wait_done(batch_id, timeout=90)
        assert view["runs"]["PROCESSED"] == N and view["duplicateRuns"] == 0
        counts = await sandbox_identities(st)
        assert set(counts) == expected_identities(sent) and set(counts.values()) == {1}
        posts = await st.sandbox("GET", "/_sandbox/requests", path="/workflow_runs", include="body")
        bodies = [r["body"] for r in posts["requests"] if r["status"] == 200]
        assert len(bodies) == view["chunks"]["total"]
        for body in bodies:
            entries = body.get("files") or body.get("rawTexts")
            assert 1 <= len(entries) <= 40 and not ("files" in body and "rawTexts" in body)
            assert body["workflowId"] == WF and body["metadata"]["relayBatchId"] == batch_id
        status, page = await st.call("GET", f"/v1/batches/{batch_id}/runs?limit=1000")
        assert status == 200 and len(page["runs"]) == 1000 and page["nextCursor"] == "1000"
        assert {r["status"] for r in page["runs"]} == {"PROCESSED"}
        assert page["runs"][3]["file"] == sent[3] and page["runs"][3]["runId"]


async def test_runs_listing_filters_by_status(redis_url: str, redis: Redis) -> None:
    config = sandbox_config(processing={"p_failed": 0.5})
    async with stack(redis_url, config) as st:
        st.start_worker()
        batch_id = await st.submit(files(60))
        view = await st.wait_done(batch_id)
        failed = view["runs"]["FAILED"]
        assert 0 < failed < 60 and failed + view["runs"]["PROCESSED"] == 60
        status, page = await st.call("GET", f"/v1/batches/{batch_id}/runs?status=FAILED")
        assert status == 200 and len(page["runs"]) == failed and page["nextCursor"] is None
        status, bad = await st.call("GET", f"/v1/batches/{batch_id}/runs?status=NOPE")
        assert status == 400 and bad["error"]["code"] == "invalid_status"


@pytest.mark.parametrize("dialect", ["2026-02-09", "2025-04-21"])
async def test_events_duplicated_and_shuffled_keep_counters_exact(
    redis_url: str, redis: Redis, dialect: str
) -> None:
    config = sandbox_config(webhooks={"p_duplicate": 0.5, "reorder_window": 20})
    async with stack(redis_url, config, EXTEND_API_VERSION=dialect) as st:
        st.start_worker()
        batch_id = await st.submit(files(300), chunkSize=25)
        view = await st.wait_done(batch_id)
        assert view["runs"]["PROCESSED"] == 300
        assert sum(view["runs"].values()) == 300 and view["duplicateRuns"] == 0
