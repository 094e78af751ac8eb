"""Delivery against a real receiver: retries with one webhook-id, exhaustion to the dead
letters and their redrive, 410 disabling, the in-flight bound, the subscriptions API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ingest.app import create_app
from relay_core.notify import emit
from relay_core.settings import Settings
from tests.conftest import auth, make_settings, run_worker_burst
from tests.notify.support import receiver
from tests.support.wait import until
from worker.app import build_worker

FAST = {"CALLBACK_ALLOWED_HOSTS": "127.0.0.1", "NOTIFY_RETRY_SCHEDULE": "0,20ms,20ms"}


@pytest.fixture
def fast(redis_url: str, redis: Redis) -> Settings:
    return make_settings(redis_url, **FAST)


@pytest.fixture
async def api(fast: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(fast))) as test_client:
        yield test_client


async def subscribe(api: TestClient[Any, Any], url: str, **body: Any) -> dict[str, Any]:
    resp = await api.post("/v1/subscriptions", json={"url": url, **body}, headers=auth())
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


def deploy_event(n: int = 1) -> emit.Event:
    return emit.Event("deploy.succeeded", f"deploy_{n}", {"id": f"deploy_{n}"})


async def test_retry_keeps_the_webhook_id(
    redis: Redis, fast: Settings, api: TestClient[Any, Any]
) -> None:
    async with receiver(statuses=[500, 503]) as rec:
        sub = await subscribe(api, rec.url)
        assert await emit.emit(redis, [deploy_event()]) == 1
        await run_worker_burst(fast)
        assert len(rec.received) == 3
        assert len({r.headers["webhook-id"] for r in rec.received}) == 1
        bodies = rec.verified(sub["secret"])  # every attempt signed, by the reference library
        assert bodies[0] == bodies[2] and bodies[0]["type"] == "deploy.succeeded"
        resp = await api.get(f"/v1/subscriptions/{sub['id']}/attempts", headers=auth())
        attempts = (await resp.json())["attempts"]
        assert [a["status"] for a in attempts] == [200, 503, 500]  # newest first
        assert [a["outcome"] for a in attempts] == ["delivered", "pending", "pending"]


async def test_emitting_twice_sends_once(
    redis: Redis, fast: Settings, api: TestClient[Any, Any]
) -> None:
    async with receiver() as rec:
        await subscribe(api, rec.url)
        assert await emit.emit(redis, [deploy_event()]) == 1
        assert await emit.emit(redis, [deploy_event()]) == 0  # a job run again: same message
        await run_worker_burst(fast)
        assert len(rec.received) == 1


async def test_exhausted_then_redriven(
    redis: Redis, fast: Settings, api: TestClient[Any, Any]
) -> None:
    async with receiver(default=500) as rec:
        sub = await subscribe(api, rec.url, events=["deploy.succeeded"])
        await emit.emit(redis, [deploy_event()])
        await run_worker_burst(fast)
        assert len(rec.received) == 3  # the schedule's three attempts
        dead = (await (await api.get("/v1/notifications/dead", headers=auth())).json())[
            "deadLetters"
        ]
        assert len(dead) == 1 and dead[0]["lastStatus"] == 500 and dead[0]["attempts"] == 3
        assert dead[0]["destination"] == sub["id"]
        # The same delivery is in the relay-wide dead letters, and redriven from there too.
        resp = await api.get("/v1/dead-letters?kind=notification", headers=auth())
        listed = (await resp.json())["deadLetters"]
        assert [d["ref"] for d in listed] == [dead[0]["deliveryId"]] and listed[0]["tries"] == 3
        rec.default = 200
        resp = await api.post("/v1/notifications/dead/redrive", json={}, headers=auth())
        assert (await resp.json()) == {"redriven": 1}
        resp = await api.get("/v1/dead-letters?kind=notification", headers=auth())
        assert (await resp.json())["deadLetters"] == []
        await run_worker_burst(fast)
        assert len(rec.received) == 4
        assert len({r.headers["webhook-id"] for r in rec.received}) == 1
        rec.verified(sub["secret"])
        dead = await (await api.get("/v1/notifications/dead", headers=auth())).json()
        assert dead["deadLetters"] == []


async def test_exhausted_redriven_from_the_relay_wide_dead_letters(
    redis: Redis, fast: Settings, api: TestClient[Any, Any]
) -> None:
    async with receiver(default=500) as rec:
        await subscribe(api, rec.url, events=["deploy.succeeded"])
        await emit.emit(redis, [deploy_event()])
        await run_worker_burst(fast)
        resp = await api.get("/v1/dead-letters?kind=notification", headers=auth())
        (item,) = (await resp.json())["deadLetters"]
        rec.default = 200
        resp = await api.post(f"/v1/dead-letters/{item['id']}/redrive", headers=auth())
        assert resp.status == 202, await resp.text()
        await run_worker_burst(fast)
        assert len(rec.received) == 4
        dead = await (await api.get("/v1/notifications/dead", headers=auth())).json()
        assert dead["deadLetters"] == []


async def test_410_disables_the_subscription(
    redis: Redis, fast: Settings, api: TestClient[Any, Any]
) -> None:
    async with receiver(statuses=[410]) as rec:
        sub = await subscribe(api, rec.url)
        await emit.emit(redis, [deploy_event(1)])
        await run_worker_burst(fast)
        assert len(rec.received) == 1  # no retry after a 410
        listed = (await (await api.get("/v1/subscriptions", headers=auth())).json())[
            "subscriptions"
        ]
        assert listed[0]["id"] == sub["id"] and listed[0]["enabled"] is False
        assert await emit.emit(redis, [deploy_event(2)]) == 0  # nothing more is sent to it
        dead = await (await api.get("/v1/notifications/dead", headers=auth())).json()
        assert dead["deadLetters"] == []


async def test_in_flight_is_bounded_per_destination(redis_url: str, redis: Redis) -> None:
    settings = make_settings(redis_url, **FAST, NOTIFY_MAX_IN_FLIGHT="2")
    async with (
        receiver(hold=asyncio.Event()) as rec,
        receiver() as other,
        TestClient(TestServer(create_app(settings))) as api,
    ):
        await subscribe(api, rec.url)
        await subscribe(api, other.url)
        await emit.emit(redis, [deploy_event(n) for n in range(6)])
        worker = build_worker(settings, handle_signals=False, poll_delay=0.01, burst=True)
        task = asyncio.create_task(worker.main())
        try:
            await until(lambda: rec.in_flight == 2 and len(other.received) == 6)
            assert rec.hold is not None
            rec.hold.set()
            await asyncio.wait_for(task, 30)
        finally:
            with contextlib.suppress(Exception):
                await worker.close()
        assert len(rec.received) == 6 and rec.max_in_flight == 2
        assert other.max_in_flight >= 1  # a held destination does not hold the others


async def test_subscriptions_api(redis: Redis, api: TestClient[Any, Any]) -> None:
    sub = await subscribe(api, "https://hooks.example.com/relay", events=["batch.completed"])
    assert sub["secret"].startswith("whsec_") and sub["enabled"] is True
    assert sub["id"].startswith("sub_")
    listed = await (await api.get("/v1/subscriptions", headers=auth())).json()
    assert [s["id"] for s in listed["subscriptions"]] == [sub["id"]]
    assert "secret" not in listed["subscriptions"][0]
    one = await (await api.get(f"/v1/subscriptions/{sub['id']}", headers=auth())).json()
    assert one["events"] == ["batch.completed"]
    bad = await api.post(
        "/v1/subscriptions", json={"url": "https://h.example", "events": ["nope"]}, headers=auth()
    )
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_request"
    resp = await api.delete(f"/v1/subscriptions/{sub['id']}", headers=auth())
    assert resp.status == 200
    resp = await api.delete(f"/v1/subscriptions/{sub['id']}", headers=auth())
    assert resp.status == 404
    resp = await api.get(f"/v1/subscriptions/{sub['id']}/attempts", headers=auth())
    assert resp.status == 404


async def test_scopes(redis_url: str, redis: Redis) -> None:
    keys = "reader:rk:read,maker:mk:submit,boss:bk:admin"
    settings = make_settings(redis_url, RELAY_API_KEYS=keys, **FAST)
    async with TestClient(TestServer(create_app(settings))) as api:

        def bearer(k: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {k}"}

        url = {"url": "https://hooks.example.com/x"}
        assert (await api.post("/v1/subscriptions", json=url, headers=bearer("rk"))).status == 403
        made = await api.post("/v1/subscriptions", json=url, headers=bearer("mk"))
        sub_id = (await made.json())["id"]
        assert (await api.get("/v1/subscriptions", headers=bearer("rk"))).status == 200
        path = f"/v1/subscriptions/{sub_id}"
        assert (await api.delete(path, headers=bearer("mk"))).status == 403
        assert (await api.delete(path, headers=bearer("bk"))).status == 200
        redrive = "/v1/notifications/dead/redrive"
        assert (await api.post(redrive, json={}, headers=bearer("mk"))).status == 403


async def test_emit_after_redis_lost_its_scripts(
    redis: Redis, fast: Settings, api: TestClient[Any, Any]
) -> None:
    async with receiver() as rec:
        await subscribe(api, rec.url)
        await redis.script_flush()  # a restarted Redis: the script is loaded again, once
        assert await emit.emit(redis, [deploy_event(1), deploy_event(2)]) == 2
        await run_worker_burst(fast)
        assert len(rec.received) == 2
