"""A batch's callback end to end: the sandbox runs the files, the relay tells a real receiver
(run.completed with the extracted values, then batch.completed with the counts), signed with
the secret the 202 answered; a cancelled batch says batch.cancelled."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from tests.batches.support import WF, sandbox_config, stack
from tests.notify.support import receiver
from tests.sandbox.support import STEPS
from tests.support.wait import until

NOTIFY = {"CALLBACK_ALLOWED_HOSTS": "127.0.0.1", "NOTIFY_RETRY_SCHEDULE": "0,20ms,20ms"}


def invoices(n: int) -> list[dict[str, Any]]:
    return [
        {"url": f"https://files.example/inv-{i}.pdf?number=INV-{i}&total={i}.5", "name": f"i{i}"}
        for i in range(n)
    ]


async def test_callback_hears_each_run_then_the_batch(redis_url: str, redis: Redis) -> None:
    config = sandbox_config(workflows={"extend": [{"id": WF, "name": "Inv", "steps": STEPS}]})
    async with receiver(statuses=[500]) as rec, stack(redis_url, config, **NOTIFY) as st:
        status, answer = await st.call(
            "POST",
            "/v1/batches",
            {
                "workflowId": WF,
                "files": invoices(7),
                "callbackUrl": rec.url,
                "callbackEvents": ["batch.completed", "run.completed"],
            },
        )
        assert status == 202 and answer["callbackSecret"].startswith("whsec_")
        st.start_worker()
        await st.wait_done(answer["batchId"])
        await until(lambda: len(rec.of_type("batch.completed")) == 1)
        await until(lambda: len({r.headers["webhook-id"] for r in rec.received}) == 8)
        bodies = rec.verified(answer["callbackSecret"])
    runs = {b["data"]["fileIndex"]: b["data"] for b in bodies if b["type"] == "run.completed"}
    assert sorted(runs) == list(range(7))
    assert runs[3]["status"] == "PROCESSED" and runs[3]["outputs"]["number"] == "INV-3"
    assert runs[3]["file"] == {"url": invoices(7)[3]["url"], "name": "i3"}
    (done,) = [b["data"] for b in bodies if b["type"] == "batch.completed"]
    assert done["batchId"] == answer["batchId"] and done["state"] == "completed"
    assert done["runs"]["PROCESSED"] == 7 and done["files"] == 7


async def test_default_events_and_cancel(redis_url: str, redis: Redis) -> None:
    async with receiver() as rec, stack(redis_url, sandbox_config(), **NOTIFY) as st:
        status, answer = await st.call(
            "POST",
            "/v1/batches",
            {"workflowId": WF, "files": invoices(3), "callbackUrl": rec.url},
        )
        assert status == 202
        status, _ = await st.call("POST", f"/v1/batches/{answer['batchId']}/cancel")
        assert status in (200, 202)
        st.start_worker()
        await st.wait_done(answer["batchId"])
        await until(lambda: len(rec.received) == 1)
        (body,) = rec.verified(answer["callbackSecret"])  # no run.completed by default
    assert body["type"] == "batch.cancelled" and body["data"]["state"] == "cancelled"


async def test_replayed_create_answers_the_same_secret(redis_url: str, redis: Redis) -> None:
    async with stack(redis_url, sandbox_config(), **NOTIFY) as st:
        body = {"workflowId": WF, "files": invoices(1), "callbackUrl": "https://hooks.example/x"}
        first = await st.call("POST", "/v1/batches", body, **{"Idempotency-Key": "k1"})
        again = await st.call("POST", "/v1/batches", body, **{"Idempotency-Key": "k1"})
    assert first[0] == 202 and again[0] == 200
    assert first[1]["callbackSecret"] == again[1]["callbackSecret"]


async def test_410_turns_a_batch_callback_off(redis_url: str, redis: Redis) -> None:
    one_at_a_time = {**NOTIFY, "NOTIFY_MAX_IN_FLIGHT": "1"}  # posts in flight are not recalled
    async with (
        receiver(statuses=[410]) as rec,
        stack(redis_url, sandbox_config(), **one_at_a_time) as st,
    ):
        body = {
            "workflowId": WF,
            "files": invoices(3),
            "callbackUrl": rec.url,
            "callbackEvents": ["run.completed", "batch.completed"],
        }
        status, answer = await st.call("POST", "/v1/batches", body, **{"Idempotency-Key": "x"})
        assert status == 202
        st.start_worker()
        await st.wait_done(answer["batchId"])
        await st.stop_workers()
    # The first notification was answered 410: nothing more was sent to the callback (the
    # two other runs' and the batch's deliveries are dropped), and nothing is dead-lettered.
    assert len(rec.received) == 1
    assert await redis.zcard("relay:notify:dead") == 0
    assert await redis.hget(f"relay:batch:{answer['batchId']}", "cbOff") is not None
