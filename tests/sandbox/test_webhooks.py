"""Webhook deliveries: the SDK's verify_and_parse accepts every one, and delivery faults behave."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest
from extend_ai.wrapper.webhooks import WebhookEventWithSignedUrl, Webhooks

from sandbox import Sandbox, start_sandbox
from tests.sandbox.support import (
    WF,
    WF_REVIEW,
    Receiver,
    base_config,
    control,
    headers,
)
from tests.support.wait import until

SECRET = "wss_test_secret"
hooks = Webhooks()


def hook(sb: Sandbox, receiver: Receiver, **webhooks: Any) -> None:
    patch: dict[str, Any] = {"webhook_urls": [receiver.url], "webhooks": webhooks}
    sb.state.config = sb.state.config.patched(patch)


def configure(sb: Sandbox, patch: dict[str, Any]) -> None:
    sb.state.config = sb.state.config.patched(patch)


async def run_files(
    http: aiohttp.ClientSession,
    sb: Sandbox,
    n: int = 1,
    workflow: str = WF,
    version: str = "2026-02-09",
) -> list[str]:
    ids = []
    for i in range(n):
        body: dict[str, Any] = {
            "workflow": {"id": workflow},
            "file": {"url": f"https://f.example/{i}.pdf"},
        }
        if version == "2025-04-21":
            body = {"workflowId": workflow, "files": [{"fileUrl": f"https://f.example/{i}.pdf"}]}
        async with http.post(
            f"{sb.base_url}/workflow_runs", json=body, headers=headers(version)
        ) as r:
            assert r.status == 200, await r.text()
            data = await r.json()
        ids.append(data["workflowRuns"][0]["id"] if "workflowRuns" in data else data["id"])
    return ids


async def settle(sb: Sandbox, receiver: Receiver, count: int) -> None:
    await until(lambda: len(receiver.deliveries) >= count and sb.state.dispatcher.idle)


def envelope(delivery: Any) -> dict[str, Any]:
    return dict(json.loads(delivery.body))


async def test_sdk_verifies_and_types_every_event(
    sb: Sandbox, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    hook(sb, receiver)
    configure(sb, {"processing": {"p_needs_review": 1.0, "step_run_events": True}})
    await control(http, sb, "POST", "clock", {"paused": True})
    approved = await run_files(http, sb, workflow=WF_REVIEW)
    configure(sb, {"processing": {"p_reject": 1.0}})
    rejected = await run_files(http, sb, workflow=WF_REVIEW)
    configure(sb, {"processing": {"p_failed": 1.0}})
    failed = await run_files(http, sb)
    old_dialect = await run_files(http, sb, version="2025-04-21")
    cancelled = await run_files(http, sb)
    async with http.post(f"{sb.base_url}/workflow_runs/{cancelled[0]}/cancel", headers=headers()):
        pass
    async with http.post(f"{sb.base_url}/workflows/{WF}/versions", json={}, headers=headers()):
        pass
    async with http.post(f"{sb.base_url}/workflows", json={"name": "n"}, headers=headers()) as r:
        created = (await r.json())["id"]
    await control(http, sb, "POST", "clock", {"advance": 30})
    await settle(sb, receiver, 13)

    seen: dict[str, list[str]] = {}
    for delivery in receiver.deliveries:
        event = hooks.verify_and_parse(delivery.body, delivery.headers, SECRET)
        payload = envelope(delivery)["payload"]
        # The SDK models the 2026-02-09 dialect; older payloads verify but stay plain dicts.
        if "url" not in payload:
            assert not isinstance(event, dict), f"SDK could not type {envelope(delivery)}"

        subject = payload.get("workflowRunId") or payload["id"]
        seen.setdefault(subject, []).append(envelope(delivery)["eventType"])
    assert seen[approved[0]][-2:] == ["workflow_run.needs_review", "workflow_run.completed"]
    assert seen[rejected[0]][-2:] == ["workflow_run.needs_review", "workflow_run.rejected"]
    assert "workflow_run.step_run.processed" in seen[approved[0]]
    assert seen[failed[0]] == ["workflow_run.failed"]
    assert seen[cancelled[0]] == ["workflow_run.cancelled"]
    assert seen[WF] == ["workflow.deployed"]
    assert seen[created] == ["workflow.created"]
    # 2025-04-21 runs are delivered in their own dialect.
    old = [envelope(d) for d in receiver.deliveries if old_dialect[0] in d.body.decode()]
    assert old
    assert "url" in old[-1]["payload"]
    assert "dashboardUrl" not in old[-1]["payload"]


async def test_review_through_control_api(
    sb: Sandbox, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    hook(sb, receiver)
    configure(sb, {"processing": {"p_needs_review": 1.0, "auto_review": False}})
    await control(http, sb, "POST", "clock", {"paused": True})
    first, second = await run_files(http, sb, 2, workflow=WF_REVIEW)
    await control(http, sb, "POST", "clock", {"advance": 3600})
    assert sb.state.runs.by_id[first].status == "NEEDS_REVIEW"
    await control(http, sb, "POST", f"runs/{first}/approve")
    await control(http, sb, "POST", f"runs/{second}/reject", {"note": "blurry"})
    await settle(sb, receiver, 4)
    async with http.get(f"{sb.base_url}/workflow_runs/{first}", headers=headers()) as r:
        run = await r.json()
    assert run["status"] == "PROCESSED"
    assert run["reviewed"] is True
    assert run["reviewedByUser"]
    assert run["reviewedAt"]
    async with http.get(f"{sb.base_url}/workflow_runs/{second}", headers=headers()) as r:
        run = await r.json()
    assert run["status"] == "REJECTED"
    assert run["rejectionNote"] == "blurry"
    async with http.post(f"{sb.base_url}/_sandbox/runs/{first}/approve") as r:
        assert r.status == 409


async def test_signed_url_payloads(
    sb: Sandbox, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    hook(sb, receiver, signed_url_threshold_bytes=100)
    await control(http, sb, "POST", "clock", {"paused": True})
    async with http.post(
        f"{sb.base_url}/workflow_runs",
        json={
            "workflow": {"id": WF},
            "file": {"url": "https://f.example/a.pdf"},
            "metadata": {"env": "t"},
        },
        headers=headers(),
    ) as r:
        run_id = (await r.json())["id"]
    await control(http, sb, "POST", "clock", {"advance": 5})
    await settle(sb, receiver, 1)
    delivery = receiver.deliveries[0]
    with pytest.raises(Exception, match="signed"):
        hooks.verify_and_parse(delivery.body, delivery.headers, SECRET)
    event = hooks.verify_and_parse(delivery.body, delivery.headers, SECRET, allow_signed_url=True)
    assert isinstance(event, WebhookEventWithSignedUrl)
    assert event.payload.id == run_id
    assert event.payload.metadata == {"env": "t"}
    full = await hooks.fetch_signed_payload(event)
    assert not isinstance(full, dict)
    assert full.payload.id == run_id
    assert full.payload.status == "PROCESSED"
    await control(http, sb, "POST", "clock", {"advance": 3601})
    async with http.get(event.payload.data) as expired:
        assert expired.status == 403


async def test_retries_keep_event_id_and_resign(
    sb: Sandbox, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    receiver.statuses = [500, 503]
    hook(sb, receiver, backoff_base_seconds=0.01)
    await run_files(http, sb)
    await settle(sb, receiver, 3)
    ids = {envelope(d)["eventId"] for d in receiver.deliveries}
    assert len(ids) == 1
    for d in receiver.deliveries:
        hooks.verify_and_parse(d.body, d.headers, SECRET)
    log = (await control(http, sb, "GET", "deliveries"))["deliveries"]
    assert [a["status"] for a in log[0]["attempts"]] == [500, 503, 200]
    assert log[0]["delivered"] is True


async def test_timeout_is_retried_and_attempts_are_capped(
    sb: Sandbox, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    receiver.hang_first = 1
    hook(sb, receiver, timeout_seconds=0.2, backoff_base_seconds=0.01)
    await run_files(http, sb)
    await settle(sb, receiver, 2)
    attempts = sb.state.events.events[0].attempts
    assert attempts[0].status is None
    assert attempts[0].error == "TimeoutError"
    assert attempts[1].status == 200

    receiver.statuses = [500] * 10
    hook(sb, receiver, max_attempts=3, backoff_base_seconds=0.01)
    await run_files(http, sb)
    await until(lambda: len(sb.state.events.events) == 2 and sb.state.dispatcher.idle)
    last = sb.state.events.events[1]
    assert [a.status for a in last.attempts] == [500, 500, 500]
    assert not last.delivered_urls


async def test_duplicates_drops_and_redelivery(
    sb: Sandbox, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    hook(sb, receiver, p_duplicate=1.0)
    (_run_id,) = await run_files(http, sb)
    await settle(sb, receiver, 2)
    first, second = (envelope(d) for d in receiver.deliveries)
    assert first["eventId"] == second["eventId"]

    hook(sb, receiver, p_drop=1.0, p_duplicate=0.0)
    (dropped_run,) = await run_files(http, sb)
    await until(lambda: len(sb.state.events.events) == 2 and sb.state.dispatcher.idle)
    assert len(receiver.deliveries) == 2
    log = (await control(http, sb, "GET", f"deliveries?runId={dropped_run}"))["deliveries"]
    assert log[0]["dropped"] is True
    assert log[0]["delivered"] is False

    await control(http, sb, "POST", f"runs/{dropped_run}/redeliver")
    await settle(sb, receiver, 3)
    assert envelope(receiver.deliveries[-1])["eventId"] == log[0]["eventId"]


async def test_reorder_window_and_delay(receiver: Receiver, http: aiohttp.ClientSession) -> None:
    # One delivery worker, so arrival order is exactly the order the window released.
    config = base_config(webhooks={"concurrency": 1})
    async with await start_sandbox(config) as sb:
        await _reorder_then_delay(sb, receiver, http)


async def _reorder_then_delay(sb: Sandbox, receiver: Receiver, http: aiohttp.ClientSession) -> None:
    hook(sb, receiver, reorder_window=5, concurrency=1)
    await control(http, sb, "POST", "clock", {"paused": True})
    await run_files(http, sb, 5)
    await control(http, sb, "POST", "clock", {"advance": 5})
    await settle(sb, receiver, 5)
    emitted = [e.event_id for e in sb.state.events.events]
    received = [envelope(d)["eventId"] for d in receiver.deliveries]
    assert sorted(received) == sorted(emitted)
    assert received != emitted

    receiver.deliveries.clear()
    hook(sb, receiver, reorder_window=0, delivery_delay_seconds=0.3)
    await run_files(http, sb)
    started = time.time()
    await control(http, sb, "POST", "clock", {"advance": 5})
    await settle(sb, receiver, 1)
    assert receiver.deliveries[0].received_at - started >= 0.3
