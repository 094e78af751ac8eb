"""deploy.succeeded / deploy.failed and review.completed notifications, from the real paths
(the deploy job, apply_events) to a real receiver, signed."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import run_worker_burst
from tests.deploy.conftest import MakeRelay
from tests.deploy.support import (
    EXTEND_DEPLOY,
    EXTEND_UNCONFIGURED,
    WF,
    auth,
    complete_run,
    post_event,
    rule_toml,
)
from tests.notify.support import receiver
from tests.support.signing import run_payload

NOTIFY = {"CALLBACK_ALLOWED_HOSTS": "127.0.0.1", "NOTIFY_RETRY_SCHEDULE": "0,20ms"}


async def subscribe(client: TestClient[Any, Any], url: str, events: list[str]) -> str:
    resp = await client.post(
        "/v1/subscriptions", json={"url": url, "events": events}, headers=auth()
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["secret"])


async def test_deploy_succeeded_and_failed(relay: MakeRelay) -> None:
    rules = rule_toml("promote", "run.completed", EXTEND_DEPLOY) + rule_toml(
        "broken", "run.completed", f'provider = "extend"\nworkflow = "{EXTEND_UNCONFIGURED}"'
    )
    settings, client = await relay(rules, **NOTIFY)
    async with receiver() as rec:
        secret = await subscribe(client, rec.url, ["deploy.succeeded", "deploy.failed"])
        await complete_run(client, "workflow_run_1")
        await run_worker_burst(settings)
        bodies = rec.verified(secret)
    by_type = {b["type"]: b["data"] for b in bodies}
    assert sorted(by_type) == ["deploy.failed", "deploy.succeeded"] and len(bodies) == 2
    assert by_type["deploy.succeeded"]["rule"] == "promote"
    assert by_type["deploy.succeeded"]["status"] == "deployed"
    assert by_type["deploy.failed"]["error"]["status"] == 400


async def test_review_completed(relay: MakeRelay) -> None:
    settings, client = await relay("", **NOTIFY)
    async with receiver() as rec:
        secret = await subscribe(client, rec.url, ["review.completed"])
        review = run_payload("workflow_run_r", "NEEDS_REVIEW", workflow_id=WF)
        await post_event(client, "evt_r1", "workflow_run.needs_review", review)
        await run_worker_burst(settings)
        assert rec.received == []
        done = run_payload(
            "workflow_run_r",
            "PROCESSED",
            workflow_id=WF,
            reviewed=True,
            reviewedByUser={"email": "ann@example.com"},
        )
        await post_event(client, "evt_r2", "workflow_run.completed", done)
        await run_worker_burst(settings)
        (body,) = rec.verified(secret)
    assert body["type"] == "review.completed"
    assert body["data"]["runId"] == "workflow_run_r" and body["data"]["status"] == "PROCESSED"
    assert body["data"]["reviewedBy"] == "ann@example.com"
