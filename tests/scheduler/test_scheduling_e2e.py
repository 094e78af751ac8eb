"""Scheduling end to end: two producers share one limit against the sandbox, real Redis and
real workers. Priority preempts a backfill at a chunk boundary, producers share a level, a
running batch can be re-prioritised, and the queue, share and ETA read true."""

from __future__ import annotations

import io
from typing import Any

import orjson
from redis.asyncio import Redis

from relay_core import keys
from tests.batches.support import WF, Stack, files, sandbox_config, stack
from tests.conftest import API_KEY
from tests.support.wait import until

KEYS = f"{API_KEY},backfill:bk_key:read+submit,urgent:ur_key:read+submit,viewer:rd_key:read"
# 100 files a second: a lone batch gets 25-file chunks (its share of a quarter second of budget).
LIMITS = {"EXTEND_FILES_PER_MINUTE": 6000, "RELAY_API_KEYS": KEYS}
BATCH_PATH = "/workflow_runs/batch"


async def submit_as(st: Stack, key: str, n: int, prefix: str, **fields: Any) -> str:
    body = {"workflowId": WF, "files": files(n, prefix), **fields}
    async with st.http.post(
        st.base_url + "/v1/batches", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as resp:
        answer = await resp.json()
        assert resp.status == 202, answer
        return str(answer["batchId"])


async def sends(st: Stack) -> list[dict[str, Any]]:
    """Accepted chunk requests in the order the sandbox took them: (time, relay batch, files)."""
    log = await st.sandbox("GET", "/_sandbox/requests", path=BATCH_PATH, include="body")
    return [
        {
            "batch": r["body"]["inputs"][0]["metadata"]["relayBatchId"],
            "files": len(r["body"]["inputs"]),
            "priority": r["body"].get("priority"),
        }
        for r in log["requests"]
        if r["status"] == 200
    ]


async def test_priority_one_preempts_a_backfill_at_a_chunk_boundary(
    redis_url: str, redis: Redis
) -> None:
    async with stack(redis_url, sandbox_config(), **LIMITS) as st:
        big = await submit_as(st, "bk_key", 1000, "big")
        st.start_worker()
        await until(lambda: _sent_at_least(st, big, 100))
        before = len(await sends(st))
        urgent = await submit_as(st, "ur_key", 10, "urgent", priority=1)
        done = await st.wait_done(urgent)
        backfill = await st.batch(big)
        assert backfill["completedAt"] is None and backfill["queued"] > 0  # still sending
        order = [s["batch"] for s in await sends(st)]
        # Slots are granted just before they are due: behind the newcomer, at most the slot
        # already granted (and one sent while it was being submitted).
        assert order.index(urgent) - before <= 2
        assert {s["priority"] for s in await sends(st) if s["batch"] == urgent} == {1}
        assert done["priority"] == 1 and done["producer"] == "urgent"
        assert backfill["priority"] == 90 and backfill["producer"] == "backfill"
        await st.wait_done(big, timeout=60)


async def _sent_at_least(st: Stack, batch_id: str, n: int) -> bool:
    return sum(s["files"] for s in await sends(st) if s["batch"] == batch_id) >= n


async def test_two_producers_share_a_level_and_chunks_shrink_to_the_share(
    redis_url: str, redis: Redis
) -> None:
    async with stack(redis_url, sandbox_config(), **LIMITS) as st:
        one = [await submit_as(st, "bk_key", 200, f"a{i}") for i in range(3)]
        other = await submit_as(st, "ur_key", 200, "b")
        view = await st.batch(other)
        assert view["share"] == 0.5 and view["eta"] is not None
        assert [round((await st.batch(b))["share"], 4) for b in one] == [0.1667] * 3
        st.start_worker()
        await st.wait_done(other, timeout=60)
        sent = await sends(st)
        # While all four competed, the lone producer's batch got as many files as the three
        # of the other producer together, in chunks of its share (25), not 50.
        upto = max(i for i, s in enumerate(sent) if s["batch"] == other)
        mine = sum(s["files"] for s in sent[: upto + 1] if s["batch"] == other)
        theirs = sum(s["files"] for s in sent[: upto + 1] if s["batch"] in one)
        assert mine == 200 and abs(theirs - mine) <= 75
        assert max(s["files"] for s in sent[: upto + 1]) <= 25
        for batch_id in one:
            await st.wait_done(batch_id, timeout=60)


async def test_patch_reprioritises_a_running_batch_and_queue_reads_in_send_order(
    redis_url: str, redis: Redis
) -> None:
    async with stack(redis_url, sandbox_config(), **LIMITS) as st:
        first = await submit_as(st, "bk_key", 300, "first")
        second = await submit_as(st, "bk_key", 300, "second", weight=2)
        status, queue = await st.call("GET", "/v1/queue")
        assert status == 200 and queue["filesPerMinute"] == 6000
        assert {b["batchId"] for b in queue["batches"]} == {first, second}
        by_id = {b["batchId"]: b for b in queue["batches"]}
        assert by_id[second]["share"] == round(2 / 3, 4) and by_id[second]["weight"] == 2
        assert by_id[first]["filesLeft"] == 300 and by_id[first]["producer"] == "backfill"
        status, moved = await st.call("PATCH", f"/v1/batches/{first}", {"priority": 5})
        assert status == 200 and moved["priority"] == 5 and moved["share"] == 1.0
        status, queue = await st.call("GET", "/v1/queue")
        assert [b["batchId"] for b in queue["batches"]] == [first, second]
        assert queue["batches"][1]["share"] == 0.0
        st.start_worker()
        await st.wait_done(first)
        view = await st.batch(second)
        assert view["queued"] > 0  # held back while the re-prioritised batch went first
        await st.wait_done(second)
        assert (await st.batch(first))["eta"] is None
        for body, field in (
            ({"priority": 0}, "priority"),
            ({}, "priority"),
            ({"weight": 0}, "weight"),
        ):
            status, error = await st.call("PATCH", f"/v1/batches/{first}", body)
            assert status == 400 and field in error["error"]["message"]
        status, error = await st.call("PATCH", "/v1/batches/rbatch_nope", {"priority": 3})
        assert status == 404


async def test_cancel_counts_unscheduled_files_unsent_and_completes(
    redis_url: str, redis: Redis
) -> None:
    async with stack(redis_url, sandbox_config(), **LIMITS) as st:
        batch_id = await submit_as(st, "bk_key", 500, "c")
        status, answer = await st.call("POST", f"/v1/batches/{batch_id}/cancel")
        assert status == 202 and answer["outcome"] == "cancelled"
        view = await st.wait_done(batch_id)  # no chunk was ever cut: complete at once
        assert view["state"] == "cancelled" and view["unsent"] == 500
        status, page = await st.call("GET", f"/v1/batches/{batch_id}/runs?limit=3")
        assert {r["status"] for r in page["runs"]} == {"UNSENT"}
        status, queue = await st.call("GET", "/v1/queue")
        assert queue["batches"] == []


async def test_scopes_and_producer_names(redis_url: str, redis: Redis) -> None:
    async with stack(redis_url, sandbox_config(), **LIMITS) as st:
        body = {"workflowId": WF, "files": files(2)}
        async with st.http.post(
            st.base_url + "/v1/batches", json=body, headers={"Authorization": "Bearer rd_key"}
        ) as resp:
            error = await resp.json()
            assert resp.status == 403 and error["error"]["code"] == "insufficient_scope"
        async with st.http.get(
            st.base_url + "/v1/queue", headers={"Authorization": "Bearer rd_key"}
        ) as resp:
            assert resp.status == 200
        async with st.http.get(
            st.base_url + "/v1/rules", headers={"Authorization": "Bearer bk_key"}
        ) as resp:
            assert resp.status == 200
        async with st.http.post(
            st.base_url + "/v1/rules/any/deploy",
            json={},
            headers={"Authorization": "Bearer bk_key"},
        ) as resp:
            assert resp.status == 403
        batch_id = await submit_as(st, API_KEY, 2, "plain")
        view = await st.batch(batch_id)
        assert view["producer"].startswith("key-") and API_KEY not in view["producer"]


async def post_big(st: Stack, body: dict[str, Any]) -> tuple[int, Any]:
    """POST a large body as a stream (aiohttp warns about big byte bodies)."""
    async with st.http.post(
        st.base_url + "/v1/batches",
        data=io.BytesIO(orjson.dumps(body)),
        headers=st.headers(**{"Content-Type": "application/json"}),
    ) as resp:
        return resp.status, await resp.json()


async def test_a_big_submission_is_validated_in_slices(redis_url: str, redis: Redis) -> None:
    async with stack(redis_url, sandbox_config(), BATCH_MAX_BODY_BYTES=2_000_000, **LIMITS) as st:
        many = files(20_000, "slice")
        bad = [*many[:12_345], {"url": "ftp://nope"}, *many[12_346:]]
        status, error = await post_big(st, {"workflowId": WF, "files": bad})
        assert status == 400 and error["error"]["message"].startswith("files[12345].url")
        status, error = await post_big(st, {"workflowId": WF, "files": many, "chunk": 1})
        assert status == 400 and error["error"]["message"] == "chunk: unknown field"
        status, answer = await post_big(st, {"workflowId": WF, "files": many})
        assert status == 202, answer
        view = await st.batch(answer["batchId"])
        assert view["files"] == 20_000 and view["chunks"]["total"] == 400
        status, page = await st.call("GET", f"/v1/batches/{view['batchId']}/runs?cursor=19999")
        assert page["runs"][0]["file"] == many[19_999]
        status, error = await post_big(st, {"workflowId": WF, "files": files(60_000, "big")})
        assert status == 413 and error["error"]["code"] == "payload_too_large"


async def test_a_dead_dispatchers_lease_is_taken_over(redis_url: str, redis: Redis) -> None:
    """A dispatcher SIGKILLed with its worker leaves its lease behind: kicks are refused while
    it lasts, and the restarted worker's takeover job dispatches once it lapses."""
    async with stack(redis_url, sandbox_config(), **LIMITS) as st:
        await redis.set(keys.SCHED_LEASE, "dead-dispatcher", px=1500)
        batch_id = await submit_as(st, "bk_key", 120, "orphan")
        assert await redis.get(keys.SCHED_LEASE) == b"dead-dispatcher"  # the kick was refused
        st.start_worker()
        view = await st.wait_done(batch_id, timeout=30)
        assert view["runs"]["PROCESSED"] == 120 and view["duplicateRuns"] == 0
        assert await redis.get(keys.SCHED_LEASE) != b"dead-dispatcher"
