"""Dead notifications live in the one dead-letter store: the deprecated alias answers from it,
a purge there drops the delivery, the old notification-only list is folded in when a worker
starts, and a job run again after recording a death adds the dead letter it may have missed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ingest.app import create_app
from relay_core import keys
from relay_core.notify import emit
from relay_core.ops import deadletters
from relay_core.redis import queue
from relay_core.settings import Settings
from tests.conftest import auth, make_settings, run_worker_burst
from tests.notify.support import receiver

FAST = {"CALLBACK_ALLOWED_HOSTS": "127.0.0.1", "NOTIFY_RETRY_SCHEDULE": "0,20ms"}
EVENT = emit.Event("deploy.failed", "deploy_1", {"id": "deploy_1"})


@pytest.fixture
def fast(redis_url: str, redis: Redis) -> Settings:
    return make_settings(redis_url, **FAST)


@pytest.fixture
async def api(fast: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(fast))) as test_client:
        yield test_client


async def get(api: TestClient[Any, Any], path: str) -> Any:
    resp = await api.get(path, headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def dead_delivery(api: TestClient[Any, Any], redis: Redis, fast: Settings) -> str:
    """A delivery whose schedule ran out (a receiver answering 500); its id."""
    resp = await api.post("/v1/subscriptions", json={"url": "http://127.0.0.1:9/x"}, headers=auth())
    assert resp.status == 201
    assert await emit.emit(redis, [EVENT]) == 1
    await run_worker_burst(fast)
    (item,) = (await get(api, "/v1/dead-letters?kind=notification"))["deadLetters"]
    return str(item["ref"])


async def test_the_alias_answers_from_the_one_store(
    redis: Redis, fast: Settings, api: TestClient[Any, Any]
) -> None:
    async with receiver(default=500) as rec:
        resp = await api.post("/v1/subscriptions", json={"url": rec.url}, headers=auth())
        assert resp.status == 201
        await emit.emit(redis, [EVENT])
        await run_worker_burst(fast)
    (item,) = (await get(api, "/v1/dead-letters?kind=notification"))["deadLetters"]
    (alias,) = (await get(api, "/v1/notifications/dead"))["deadLetters"]
    assert alias["deliveryId"] == item["ref"] and alias["lastStatus"] == 500
    assert alias["attempts"] == item["tries"] == 2 and item["error"] == "answered 500"
    # Kept as long as its dead letter, and dropped with it.
    assert await redis.pttl(keys.notify_delivery(item["ref"])) > 0
    resp = await api.delete(f"/v1/dead-letters/{item['id']}", headers=auth())
    assert resp.status == 200
    assert (await get(api, "/v1/notifications/dead"))["deadLetters"] == []
    assert not await redis.exists(keys.notify_delivery(item["ref"]))


async def test_the_alias_routes_are_documented_as_deprecated(api: TestClient[Any, Any]) -> None:
    paths = (await (await api.get("/openapi.json")).json())["paths"]
    listed = paths["/v1/notifications/dead"]["get"]
    redrive = paths["/v1/notifications/dead/redrive"]["post"]
    for op in (listed, redrive):
        assert op["deprecated"] is True
        assert "Deprecated alias of /v1/dead-letters?kind=notification" in op["description"]
    assert "deprecated" not in paths["/v1/dead-letters"]["get"]


async def test_the_old_notification_dead_list_moves_in_when_a_worker_starts(
    redis: Redis, fast: Settings, api: TestClient[Any, Any]
) -> None:
    did = await dead_delivery(api, redis, fast)
    # What an earlier release left: the delivery in its own list, not in the relay-wide one.
    fields = await _delivery_fields(redis, did)
    assert await deadletters.purge(redis, deadletters.dead_letter_id("notification", did))
    await redis.hset(keys.notify_delivery(did), mapping=fields)  # type: ignore[misc]
    await redis.zadd(keys.NOTIFY_DEAD, {did: 1_700_000_000_000})
    await run_worker_burst(fast)
    (item,) = (await get(api, "/v1/dead-letters?kind=notification"))["deadLetters"]
    assert item["ref"] == did and item["lastFailedAt"].startswith("2023-11-14")
    assert not await redis.exists(keys.NOTIFY_DEAD)
    await run_worker_burst(fast)  # a second start moves nothing more
    assert len((await get(api, "/v1/dead-letters?kind=notification"))["deadLetters"]) == 1


async def test_a_job_run_again_after_recording_the_death_adds_the_dead_letter(
    redis: Redis, fast: Settings, api: TestClient[Any, Any]
) -> None:
    did = await dead_delivery(api, redis, fast)
    letter = keys.dead_letter(deadletters.dead_letter_id("notification", did))
    # A worker killed between the two steps leaves the death recorded and no dead letter.
    await redis.delete(letter)
    await redis.zrem(keys.dead_letters_by_kind("notification"), f"notification:{did}")
    round_, attempt = (int(x) for x in await redis.hmget(keys.notify_delivery(did), ["r", "n"]))
    pool = await queue.arq_pool(fast.redis.url)
    try:
        await pool.enqueue_job(queue.NOTIFY_DELIVER, did, round_, attempt, _job_id="again")
    finally:
        await pool.aclose()
    await run_worker_burst(fast)
    (item,) = (await get(api, "/v1/dead-letters?kind=notification"))["deadLetters"]
    assert item["ref"] == did and item["tries"] == 2


async def _delivery_fields(redis: Redis, did: str) -> dict[str, str]:
    raw = await redis.hgetall(keys.notify_delivery(did))  # type: ignore[misc]
    return {k.decode(): v.decode() for k, v in raw.items()}
