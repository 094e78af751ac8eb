"""Applying run events: forward-only status, both dialects, reviews, step runs, ordering."""

from __future__ import annotations

import random
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from relay_core import keys
from relay_core.runs.events import RunUpdate
from relay_core.runs.store import RunStore
from relay_core.settings import Settings
from tests.conftest import auth, run_worker_burst
from tests.support.signing import event, extend_headers, run_payload

EVENT_FOR = {
    "PROCESSED": "workflow_run.completed",
    "FAILED": "workflow_run.failed",
    "NEEDS_REVIEW": "workflow_run.needs_review",
    "REJECTED": "workflow_run.rejected",
    "CANCELLED": "workflow_run.cancelled",
}


async def deliver(
    client: TestClient[Any, Any], event_id: str, status: str, run_id: str, **kw: Any
) -> None:
    body = event(event_id, EVENT_FOR[status], run_payload(run_id, status, **kw))
    resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
    assert resp.status == 200


async def get_run(client: TestClient[Any, Any], run_id: str) -> dict[str, Any]:
    resp = await client.get(f"/v1/runs/{run_id}", headers=auth())
    assert resp.status == 200
    data: dict[str, Any] = await resp.json()
    return data


@pytest.mark.parametrize("dialect", ["2026-02-09", "2025-04-21"])
async def test_fields_kept_from_either_dialect(
    dialect: str, client: TestClient[Any, Any], settings: Settings
) -> None:
    await deliver(
        client,
        "e1",
        "FAILED",
        "workflow_run_x",
        dialect=dialect,
        version="7",
        workflow_id="workflow_abc",
        batchId="batch_1",
        metadata={"team": "a"},
        failureReason="PARSE_ERROR",
        failureMessage="bad pdf",
    )
    await run_worker_burst(settings)
    run = await get_run(client, "workflow_run_x")
    assert run["status"] == "FAILED"
    assert (run["workflowId"], run["workflowVersion"], run["batchId"]) == (
        "workflow_abc",
        "7",
        "batch_1",
    )
    assert run["metadata"] == {"team": "a"}
    assert (run["failureReason"], run["failureMessage"]) == ("PARSE_ERROR", "bad pdf")
    assert run["history"][0]["status"] == "FAILED"
    assert run["history"][0]["eventId"] == "e1"
    assert run["updatedAt"].endswith("Z")


async def test_a_late_event_never_moves_a_run_back(
    client: TestClient[Any, Any], settings: Settings
) -> None:
    await deliver(client, "e_done", "PROCESSED", "workflow_run_y")
    await run_worker_burst(settings)
    await deliver(client, "e_review_late", "NEEDS_REVIEW", "workflow_run_y")
    await deliver(client, "e_failed_late", "FAILED", "workflow_run_y")
    await run_worker_burst(settings)
    run = await get_run(client, "workflow_run_y")
    assert run["status"] == "PROCESSED"
    assert [h["eventId"] for h in run["history"]] == ["e_done"]


async def test_review_approved_is_a_completed_review(
    client: TestClient[Any, Any], settings: Settings
) -> None:
    await deliver(client, "r1", "NEEDS_REVIEW", "workflow_run_r")
    await run_worker_burst(settings)
    assert (await get_run(client, "workflow_run_r"))["reviewCompleted"] is False
    await deliver(
        client,
        "r2",
        "PROCESSED",
        "workflow_run_r",
        reviewed=True,
        reviewedAt="2026-11-22T10:00:00Z",
        reviewedByUser="reviewer@example.com",
    )
    await run_worker_burst(settings)
    run = await get_run(client, "workflow_run_r")
    assert (run["status"], run["reviewed"], run["reviewCompleted"]) == ("PROCESSED", True, True)
    assert run["reviewedAt"] == "2026-11-22T10:00:00Z"
    assert [h["status"] for h in run["history"]] == ["NEEDS_REVIEW", "PROCESSED"]


async def test_review_rejected_keeps_the_note(
    client: TestClient[Any, Any], settings: Settings
) -> None:
    await deliver(client, "j1", "NEEDS_REVIEW", "workflow_run_j")
    await deliver(client, "j2", "REJECTED", "workflow_run_j", rejectionNote="wrong vendor")
    await run_worker_burst(settings)
    run = await get_run(client, "workflow_run_j")
    assert (run["status"], run["reviewCompleted"], run["rejectionNote"]) == (
        "REJECTED",
        True,
        "wrong vendor",
    )


async def test_processed_without_review_is_not_a_review(
    client: TestClient[Any, Any], settings: Settings
) -> None:
    await deliver(client, "p1", "PROCESSED", "workflow_run_p")
    await run_worker_burst(settings)
    assert (await get_run(client, "workflow_run_p"))["reviewCompleted"] is False


async def test_step_run_updates_last_step_not_status(
    client: TestClient[Any, Any], settings: Settings
) -> None:
    await deliver(client, "s0", "NEEDS_REVIEW", "workflow_run_s")
    step = {
        "object": "workflow_step_run",
        "id": "step_run_1",
        "workflowRunId": "workflow_run_s",
        "status": "PROCESSED",
        "step": {"name": "extract-invoice"},
        "stepType": "EXTRACT",
    }
    body = event("s1", "workflow_run.step_run.processed", step)
    await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
    await run_worker_burst(settings)
    run = await get_run(client, "workflow_run_s")
    assert (run["status"], run["lastStep"]) == ("NEEDS_REVIEW", "extract-invoice")


async def test_shuffled_and_duplicated_deliveries_end_in_the_right_status(
    client: TestClient[Any, Any], settings: Settings
) -> None:
    rng = random.Random(7)
    finals = {}
    deliveries = []
    for i in range(40):
        run_id = f"workflow_run_m{i}"
        path = (
            ["NEEDS_REVIEW", rng.choice(["PROCESSED", "REJECTED"])]
            if i % 2
            else [rng.choice(["PROCESSED", "FAILED"])]
        )
        finals[run_id] = path[-1]
        deliveries += [(f"{run_id}-{s}", s, run_id) for s in path] * 3
    rng.shuffle(deliveries)
    for event_id, status, run_id in deliveries:
        await deliver(client, event_id, status, run_id)
        if rng.random() < 0.1:
            await run_worker_burst(settings)
    await run_worker_burst(settings)
    for run_id, final in finals.items():
        run = await get_run(client, run_id)
        assert run["status"] == final, run_id
        assert len({h["eventId"] for h in run["history"]}) == len(run["history"])


async def test_unknown_run_is_404_and_api_needs_a_key(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/v1/runs/workflow_run_nope", headers=auth())
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        resp = await client.get("/v1/runs/workflow_run_nope", headers=headers)
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_health_and_unknown_route(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200
    resp = await client.get("/nope")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"


async def test_the_reviews_index_moves_with_the_status_in_one_step(redis: Redis) -> None:
    """The index is written by the apply step itself: a needs_review applied just before a
    completion, whose job ends after the completion's, left a stale entry for ever when the
    index was written afterwards from each job's own result."""
    store = RunStore(redis)
    review = RunUpdate(run_id="run_idx", status="NEEDS_REVIEW")
    await store.apply(review, "e_review", 1_000)
    assert await redis.zscore(keys.REVIEWS, "run_idx") == 1_000
    await store.apply(RunUpdate(run_id="run_idx", status="PROCESSED"), "e_done", 2_000)
    assert await redis.zcard(keys.REVIEWS) == 0
    await store.apply(review, "e_review", 3_000)  # a replay of the older event adds nothing
    assert await redis.zcard(keys.REVIEWS) == 0
    # A stale entry (an index written by an older version) is repaired by a re-apply.
    await redis.zadd(keys.REVIEWS, {"run_idx": 1_000})
    await store.apply(RunUpdate(run_id="run_idx", status="PROCESSED"), "e_done", 4_000)
    assert await redis.zcard(keys.REVIEWS) == 0
