"""Signed-URL event payloads: the sandbox sends every event as a `signed_data_url`
pointer, the worker fetches the payload (http allowed for 127.0.0.1 only) and applies it.

A fetch that can never succeed (an expired URL, an unknown one, an http host not on the
allow-list) is recorded in `relay:signed-url-error:{eventId}` and skipped: the job does not crash and
the other events of its group are applied.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from redis.asyncio import Redis

from ingest.sink import EventSink
from relay_core import keys
from tests.batches.support import WF, Stack, files, sandbox_config, stack
from tests.faults.support import runs_per_file
from tests.support.signing import event, run_payload
from tests.support.wait import until
from worker.app import build_worker

SIGNED_ALWAYS = {"signed_url_threshold_bytes": 64}  # every event is larger


async def test_signed_payloads_are_fetched_and_applied(redis_url: str, redis: Redis) -> None:
    config = sandbox_config(processing={"p_failed": 0.3}, webhooks=SIGNED_ALWAYS)
    async with stack(redis_url, config) as st:
        st.start_worker()
        batch_id = await st.submit(files(60), chunkSize=10)
        view = await st.wait_done(batch_id)
        found = await st.sandbox("GET", "/_sandbox/runs", **{"meta.relayBatchId": batch_id})
        sent = (await st.sandbox("GET", "/_sandbox/deliveries"))["deliveries"]
        assert set((await runs_per_file(st, batch_id)).values()) == {1}

    truth = Counter(r["status"] for r in found["runs"])
    assert 0 < truth["FAILED"] < 60 and truth["PROCESSED"] + truth["FAILED"] == 60
    assert view["runs"]["PROCESSED"] == truth["PROCESSED"]
    assert view["runs"]["FAILED"] == truth["FAILED"]
    run_events = [d for d in sent if d["runId"]]
    assert len(run_events) >= 60 and all(d["signedUrl"] for d in run_events)
    assert all(d["delivered"] for d in run_events)
    assert [k async for k in redis.scan_iter(match=keys.SIGNED_URL_ERROR + "*")] == []
    for run in found["runs"]:
        assert await redis.hget(keys.run(run["id"]), "s") == run["status"].encode()  # type: ignore[misc]


async def create_runs(st: Stack, n: int) -> list[str]:
    """Runs made on the platform directly; their events are signed, then go nowhere."""
    body = {
        "workflow": {"id": WF},
        "inputs": [{"file": {"url": f"https://f.example/{i}"}} for i in range(n)],
    }
    headers = {"Authorization": "Bearer sk_sandbox", "x-extend-api-version": "2026-02-09"}
    async with st.http.post(
        st.sb.base_url + "/workflow_runs/batch", json=body, headers=headers
    ) as r:
        assert r.status == 200, await r.text()
        platform_batch = (await r.json())["batchId"]
    runs = (await st.sandbox("GET", "/_sandbox/runs", batchId=platform_batch))["runs"]
    return [r["id"] for r in runs]


async def signed_deliveries(st: Stack, run_ids: list[str]) -> list[dict[str, Any]]:
    async def signed() -> bool:
        found = (await st.sandbox("GET", "/_sandbox/deliveries"))["deliveries"]
        return sum(bool(d["signedUrl"]) for d in found if d["runId"] in run_ids) == len(run_ids)

    await until(signed)
    found = (await st.sandbox("GET", "/_sandbox/deliveries"))["deliveries"]
    return [d for d in found if d["runId"] in run_ids]


def pointer(d: dict[str, Any]) -> tuple[str, bytes]:
    """The delivery the platform would have made: the event with a signed-URL payload."""
    payload = {"object": "signed_data_url", "id": d["runId"], "data": d["signedUrl"]}
    return d["eventId"], event(d["eventId"], d["eventType"], payload)


async def test_failed_fetches_are_recorded_and_the_group_still_applied(
    redis_url: str, redis: Redis
) -> None:
    hooks = {**SIGNED_ALWAYS, "max_attempts": 1, "signed_url_ttl_seconds": 1}
    async with stack(redis_url, sandbox_config(webhooks=hooks)) as st:
        # The platform's own deliveries fail (nothing listens on port 9); the test delivers
        # the same events itself, all in one group.
        await st.sandbox("POST", "/_sandbox/config", {"webhook_urls": ["http://127.0.0.1:9/"]})
        old = await create_runs(st, 1)
        (expired,) = await signed_deliveries(st, old)
        await st.sandbox("POST", "/_sandbox/clock", {"advance": 5})  # past its 1 s TTL
        await st.sandbox("POST", "/_sandbox/config", {"webhooks": {"signed_url_ttl_seconds": 3600}})
        fresh = await create_runs(st, 3)
        valid = await signed_deliveries(st, fresh)
        statuses = {
            r["id"]: r["status"] for r in (await st.sandbox("GET", "/_sandbox/runs"))["runs"]
        }
        unknown = {**expired, "eventId": "evt_sig_404", "runId": "workflow_run_404"}
        unknown["signedUrl"] = st.sb.base_url + "/_sandbox/signed/no-such-token"
        not_allowed = {**expired, "eventId": "evt_sig_host", "runId": "workflow_run_host"}
        not_allowed["signedUrl"] = "http://payloads.example.invalid/run.json"
        inline = event(
            "evt_inline", "workflow_run.completed", run_payload("workflow_run_inline", "PROCESSED")
        )
        group = [pointer(expired), pointer(unknown), *map(pointer, valid), pointer(not_allowed)]
        group.append(("evt_inline", inline))

        sink = EventSink(redis, 3600)
        queued = await asyncio.gather(*(sink.submit(eid, body) for eid, body in group))
        await sink.close()
        assert all(queued)
        groups = [k async for k in redis.scan_iter(match=keys.EVENT_GROUP + "*")]
        assert len(groups) == 1 and await redis.llen(groups[0]) == len(group)  # type: ignore[misc]

        worker = build_worker(st.settings, burst=True, poll_delay=0.01)
        try:
            await worker.main()
        finally:
            await worker.close()
        assert worker.jobs_complete >= 1 and (worker.jobs_failed, worker.jobs_retried) == (0, 0)

    errors = {
        k.decode()[len(keys.SIGNED_URL_ERROR) :]: (await redis.get(k)).decode()
        async for k in redis.scan_iter(match=keys.SIGNED_URL_ERROR + "*")
    }
    for k in [k async for k in redis.scan_iter(match=keys.SIGNED_URL_ERROR + "*")]:
        assert 0 < await redis.pttl(k) <= st.settings.retention.ms  # kept for the retention
    assert set(errors) == {expired["eventId"], "evt_sig_404", "evt_sig_host"}, errors
    assert "HTTP 403" in errors[expired["eventId"]]
    assert "HTTP 404" in errors["evt_sig_404"]
    assert "https" in errors["evt_sig_host"]
    assert not await redis.exists(keys.run(expired["runId"]), groups[0])
    for d in valid:
        tracked = await redis.hget(keys.run(d["runId"]), "s")  # type: ignore[misc]
        assert tracked == statuses[d["runId"]].encode()
    assert await redis.hget(keys.run("workflow_run_inline"), "s") == b"PROCESSED"  # type: ignore[misc]
