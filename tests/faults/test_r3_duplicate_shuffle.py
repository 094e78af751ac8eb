"""R3: 5,000 events, each delivered 3 times in shuffled order: final statuses and batch
counters exact.

The runs are a real relay batch's: submitted through the fan-out to the sandbox, whose
webhooks are off. The events are then written here from the sandbox's runs (each run as the
platform shows it, with its metadata and the status of the event), signed like the platform
signs them, and posted to the web app concurrently in a shuffled order while two workers
apply them. Each run gets 1 to 3 events, so the true final statuses are known.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from typing import Any

import pytest
from redis.asyncio import Redis

from relay_core import keys
from relay_core.redis import queue
from relay_core.runs.store import run_view
from tests.batches.support import (
    WF,
    Stack,
    files,
    jobs_in_progress,
    sandbox_config,
    stack,
)
from tests.support.signing import event, extend_headers, run_payload
from tests.support.wait import until

# Per kind (file index % 6): the events a run gets, in the order the platform sent them.
PLANS: list[list[str]] = [
    ["workflow_run.needs_review", "workflow_run.completed"],
    ["workflow_run.needs_review", "workflow_run.rejected"],
    ["workflow_run.completed"],
    ["workflow_run.failed"],
    ["workflow_run.step_run.processed", "workflow_run.needs_review", "workflow_run.completed"],
    ["workflow_run.step_run.processed", "workflow_run.failed"],
]
STATUS_OF = {
    "workflow_run.needs_review": "NEEDS_REVIEW",
    "workflow_run.completed": "PROCESSED",
    "workflow_run.rejected": "REJECTED",
    "workflow_run.failed": "FAILED",
}
RUNS = 2728  # 454 cycles of PLANS (11 events each) and 4 runs more: 5,000 events
EVENTS = 5000
COPIES = 3
CONCURRENCY = 32


def events_of(run: dict[str, Any]) -> list[bytes]:
    plan = PLANS[int(run["metadata"]["relayFileIndex"]) % len(PLANS)]
    out = []
    for n, event_type in enumerate(plan):
        event_id = f"evt_r3_{run['id']}_{n}"
        if event_type == "workflow_run.step_run.processed":
            payload: dict[str, Any] = {
                "object": "workflow_step_run",
                "id": f"workflow_step_run_{run['id']}",
                "workflowRunId": run["id"],
                "status": "PROCESSED",
                "stepType": "EXTRACT",
                "step": {"object": "workflow_step", "name": "Extract", "type": "EXTRACT"},
            }
        else:
            status = STATUS_OF[event_type]
            extra: dict[str, Any] = {"batchId": run["batchId"]}
            if event_type == "workflow_run.rejected":
                extra["rejectionNote"] = "not an invoice"
            payload = run_payload(
                run["id"],
                status,
                workflow_id=WF,
                version=str(run["version"]),
                metadata=run["metadata"],
                reviewed=plan[0] == "workflow_run.needs_review" and status != "NEEDS_REVIEW",
                **extra,
            )
        out.append(event(event_id, event_type, payload))
    return out


def final_status(run: dict[str, Any]) -> str:
    plan = PLANS[int(run["metadata"]["relayFileIndex"]) % len(PLANS)]
    return STATUS_OF[plan[-1]]


async def deliver(st: Stack, deliveries: list[bytes]) -> Counter[str]:
    """POST every delivery (signed at send time, like the platform), CONCURRENCY at a time."""
    todo = iter(deliveries)
    outcomes: Counter[str] = Counter()
    url = st.base_url + "/webhooks/extend"

    async def sender() -> None:
        for body in todo:
            async with st.http.post(url, data=body, headers=extend_headers(body)) as resp:
                answer = await resp.json()
                assert resp.status == 200, answer
                outcomes[answer["status"]] += 1

    await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
    return outcomes


async def queue_drained(redis: Redis) -> bool:
    if await redis.zcard(queue.QUEUE):
        return False
    return not await jobs_in_progress(redis)


@pytest.mark.timeout(180)
async def test_events_delivered_three_times_shuffled_counters_exact(
    redis_url: str, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="worker.runs.apply")
    config = sandbox_config(webhooks={"event_types": []})  # the events come from the test
    async with stack(redis_url, config) as st:
        st.start_worker()
        batch_id = await st.submit(files(RUNS))

        async def all_sent() -> bool:
            return (await st.batch(batch_id))["state"] == "running"

        await until(all_sent)
        runs = (await st.sandbox("GET", "/_sandbox/runs", **{"meta.relayBatchId": batch_id}))[
            "runs"
        ]
        assert sorted(r["metadata"]["relayFileIndex"] for r in runs) == list(range(RUNS))
        bodies = [body for run in runs for body in events_of(run)]
        assert len(bodies) == EVENTS
        deliveries = bodies * COPIES
        random.Random(3).shuffle(deliveries)

        st.start_worker()
        started = time.monotonic()
        outcomes = await deliver(st, deliveries)
        posted_in = time.monotonic() - started
        assert outcomes == {"queued": EVENTS, "duplicate": EVENTS * (COPIES - 1)}

        async def applied() -> bool:
            return (await st.batch(batch_id))["completedAt"] is not None

        await until(applied, within=60)
        completed_at = (await st.batch(batch_id))["completedAt"]
        await until(lambda: queue_drained(redis), within=60)
        view = await st.batch(batch_id)

    print(f"R3: {len(deliveries)} deliveries posted in {posted_in:.1f} s")
    truth = Counter(final_status(r) for r in runs)
    assert view["runs"] == {
        "PENDING": 0,
        "PROCESSING": 0,
        "NEEDS_REVIEW": 0,
        "PROCESSED": truth["PROCESSED"],
        "FAILED": truth["FAILED"],
        "REJECTED": truth["REJECTED"],
        "CANCELLED": 0,
    }
    assert view["state"] == "completed" and view["completedAt"] == completed_at
    assert view["duplicateRuns"] == 0 and view["notSubmitted"] == 0
    async with redis.pipeline(transaction=False) as pipe:
        for run in runs:
            pipe.hgetall(keys.run(run["id"]))
        stored = await pipe.execute()
    late_reviews = 0
    for run, raw in zip(runs, stored, strict=True):
        tracked = run_view(run["id"], {k.decode(): v.decode() for k, v in raw.items()})
        assert tracked["status"] == final_status(run), (run["id"], tracked)
        applied_ids = [h["eventId"] for h in tracked["history"]]
        assert len(applied_ids) == len(set(applied_ids)), tracked["history"]
        late_reviews += "NEEDS_REVIEW" not in {h["status"] for h in tracked["history"]} and any(
            e == "workflow_run.needs_review" for e in PLANS[tracked["fileIndex"] % len(PLANS)]
        )
    # The shuffle did put terminal events first: their late NEEDS_REVIEW moved nothing back.
    assert late_reviews > 0
    signals = [r for r in caplog.records if r.getMessage().startswith("batch_completed batch=")]
    assert len(signals) == 1 and batch_id in signals[0].getMessage()
