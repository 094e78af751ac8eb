"""Each trigger (and what does not fire it) and each gate, passing and failing."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from relay_core import keys
from sandbox import Sandbox
from tests.conftest import run_worker_burst
from tests.deploy.conftest import MakeRelay
from tests.deploy.support import (
    EXTEND_DEPLOY,
    WF,
    XP_DEPLOY,
    all_deploys,
    complete_run,
    enqueue_batch_completed,
    make_batch,
    post_event,
    requests_to,
    rule_toml,
)
from tests.support.signing import run_payload


async def test_run_completed_fires_only_for_matching_runs(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    rules = rule_toml(
        "promote", "run.completed", XP_DEPLOY, version="draft", metadata={"env": "staging"}
    )
    settings, client = await relay(rules)
    staging = {"env": "staging", "extra": 1}
    await complete_run(client, "run_match", version="draft", metadata=staging)
    await complete_run(
        client, "run_other_wf", workflow_id="workflow_x", version="draft", metadata=staging
    )
    await complete_run(client, "run_published", version="3", metadata=staging)
    await complete_run(client, "run_prod", version="draft", metadata={"env": "prod"})
    failed = run_payload("run_failed", "FAILED", workflow_id=WF, version="draft", metadata=staging)
    await post_event(client, "evt_failed", "workflow_run.failed", failed)
    await run_worker_burst(settings)

    deploys = await all_deploys(redis)
    assert [(d["trigger"], d["status"]) for d in deploys] == [
        ({"type": "run.completed", "subject": "run_match"}, "deployed")
    ]


async def _review(client: Any, run_id: str, end: str) -> None:
    review = run_payload(run_id, "NEEDS_REVIEW", workflow_id=WF)
    await post_event(client, f"evt_{run_id}_nr", "workflow_run.needs_review", review)
    if end == "PROCESSED":
        await complete_run(client, run_id, reviewed=True)
    else:
        rejected = run_payload(run_id, "REJECTED", workflow_id=WF, rejectionNote="bad")
        await post_event(client, f"evt_{run_id}_rej", "workflow_run.rejected", rejected)


async def test_review_completed_fires_on_approval_and_rejection(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    rules = rule_toml("reviewed", "review.completed", XP_DEPLOY, require_reviews_approved=True)
    settings, client = await relay(rules)
    await _review(client, "run_approved", "PROCESSED")
    await _review(client, "run_rejected", "REJECTED")
    await complete_run(client, "run_never_reviewed")
    await run_worker_burst(settings)

    found = {d["trigger"]["subject"]: d for d in await all_deploys(redis)}
    assert set(found) == {"run_approved", "run_rejected"}
    assert found["run_approved"]["status"] == "deployed"
    assert found["run_approved"]["trigger"]["type"] == "review.completed"
    rejected = found["run_rejected"]
    assert (rejected["status"], rejected["gate"]) == ("skipped", "require_reviews_approved")
    assert "REJECTED" in rejected["reason"]


async def test_review_completed_without_the_gate_deploys_a_rejection_too(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    settings, client = await relay(rule_toml("reviewed", "review.completed", XP_DEPLOY))
    await _review(client, "run_rejected", "REJECTED")
    await run_worker_burst(settings)
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed"


BATCH_GATES = {"max_failure_rate": 0.1, "min_processed": 8, "require_reviews_approved": True}


@pytest.mark.parametrize(
    ("counters", "gate"),
    [
        ({"c:PROCESSED": 10}, None),
        ({"c:PROCESSED": 9, "c:FAILED": 1}, None),  # exactly at the rate: passes
        ({"c:PROCESSED": 8, "c:FAILED": 1, "c:CANCELLED": 1}, "max_failure_rate"),
        ({"c:PROCESSED": 7, "submitFailed": 3}, "min_processed"),
        ({"c:PROCESSED": 9, "c:REJECTED": 1}, "require_reviews_approved"),
        ({"c:PROCESSED": 10, "state": "cancelled"}, "batch_state"),
    ],
)
async def test_batch_gates(
    relay: MakeRelay,
    redis: Redis,
    sb: Sandbox,
    redis_url: str,
    counters: dict[str, Any],
    gate: str | None,
) -> None:
    settings, _ = await relay(rule_toml("batch", "batch.completed", XP_DEPLOY, **BATCH_GATES))
    await make_batch(redis, "batch_1", **counters)
    await enqueue_batch_completed(redis_url, "batch_1")
    await run_worker_burst(settings)

    (deploy,) = await all_deploys(redis)
    assert deploy["trigger"] == {"type": "batch.completed", "subject": "batch_1"}
    puts = await requests_to(sb, "/xpander/v1/workflows/{workflow_id}", "PUT")
    if gate is None:
        assert deploy["status"] == "deployed", deploy
        assert len(puts) == 1
    else:
        assert (deploy["status"], deploy["gate"]) == ("skipped", gate)
        assert deploy["reason"]
        assert puts == []


async def test_batch_completed_matches_workflow_version_and_metadata(
    relay: MakeRelay, redis: Redis, sb: Sandbox, redis_url: str
) -> None:
    rules = rule_toml(
        "batch", "batch.completed", XP_DEPLOY, version="draft", metadata={"env": "staging"}
    )
    settings, _ = await relay(rules)
    staging = {"env": "staging"}
    await make_batch(redis, "b_match", version="draft", metadata=staging, **{"c:PROCESSED": 10})
    await make_batch(redis, "b_version", version="2", metadata=staging, **{"c:PROCESSED": 10})
    await make_batch(
        redis, "b_meta", version="draft", metadata={"env": "prod"}, **{"c:PROCESSED": 10}
    )
    for batch_id in ("b_match", "b_version", "b_meta"):
        await enqueue_batch_completed(redis_url, batch_id)
    await run_worker_burst(settings)
    assert [d["trigger"]["subject"] for d in await all_deploys(redis)] == ["b_match"]


async def test_batch_completed_through_real_events(
    relay: MakeRelay, redis: Redis, sb: Sandbox
) -> None:
    """Runs of a relay batch complete by webhook; the tracker's Lua completes the batch."""
    rules = rule_toml(
        "batch",
        "batch.completed",
        EXTEND_DEPLOY.replace("{subject}", "{batch_id}"),
        min_processed=2,
    )
    settings, client = await relay(rules)
    await redis.hset(
        keys.batch("rb_1"), mapping={"files": "2", "state": "running", "workflowId": WF}
    )  # type: ignore[misc]
    for index in range(2):
        meta = {"relayBatchId": "rb_1", "relayFileIndex": index}
        await complete_run(client, f"run_{index}", metadata=meta)
    await run_worker_burst(settings)

    assert await redis.hget(keys.batch("rb_1"), "state") == b"completed"  # type: ignore[misc]
    (deploy,) = await all_deploys(redis)
    assert deploy["status"] == "deployed", deploy
    assert deploy["version"]["name"] == "auto batch rb_1"
    # Completed runs of the batch fired no run trigger of their own: no run rule exists.
    assert deploy["trigger"] == {"type": "batch.completed", "subject": "rb_1"}
