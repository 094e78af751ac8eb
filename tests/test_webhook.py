"""POST /webhooks/extend: each negative case changes exactly one thing of a valid delivery."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from relay_core.settings import Settings
from tests.conftest import run_worker_burst
from tests.support.signing import OTHER_SECRET, SECRET, event, extend_headers, run_payload

Delivery = tuple[bytes, dict[str, str]]


def valid(event_id: str = "evt_valid") -> Delivery:
    body = event(event_id, "workflow_run.completed", run_payload("workflow_run_a", "PROCESSED"))
    return body, extend_headers(body)


async def queued_count(redis: Redis) -> int:
    return int(await redis.zcard("arq:queue")) + len(await redis.keys("relay:evt:*"))


async def test_valid_delivery_is_queued(client: TestClient[Any, Any], redis: Redis) -> None:
    body, headers = valid()
    resp = await client.post("/webhooks/extend", data=body, headers=headers)
    assert resp.status == 200
    assert await resp.json() == {"status": "queued", "eventId": "evt_valid"}
    assert await redis.zcard("arq:queue") == 1
    assert await redis.exists("relay:evt:evt_valid") == 1


def _drop(name: str) -> Callable[[Delivery], Delivery]:
    return lambda d: (d[0], {k: v for k, v in d[1].items() if k != name})


def _header(name: str, value: str) -> Callable[[Delivery], Delivery]:
    return lambda d: (d[0], {**d[1], name: value})


def _resign(body: bytes, **kw: Any) -> Callable[[Delivery], Delivery]:
    return lambda d: (body, extend_headers(body, **kw))


TS = "x-extend-request-timestamp"
SIG = "x-extend-request-signature"
NEGATIVE: dict[str, tuple[Callable[[Delivery], Delivery], int, str]] = {
    "missing timestamp header": (_drop(TS), 401, "invalid_signature"),
    "missing signature header": (_drop(SIG), 401, "invalid_signature"),
    "wrong secret": (
        lambda d: (d[0], extend_headers(d[0], secret="wss_nope")),
        401,
        "invalid_signature",
    ),
    "tampered body": (
        lambda d: (d[0].replace(b"PROCESSED", b"FAILED"), d[1]),
        401,
        "invalid_signature",
    ),
    "stale timestamp": (
        lambda d: (d[0], extend_headers(d[0], timestamp=int(time.time()) - 301)),
        401,
        "invalid_signature",
    ),
    "future timestamp": (
        lambda d: (d[0], extend_headers(d[0], timestamp=int(time.time()) + 120)),
        401,
        "invalid_signature",
    ),
    "non-hex signature": (_header(SIG, "z" * 64), 401, "invalid_signature"),
    "non-numeric timestamp": (_header(TS, "yesterday"), 401, "invalid_signature"),
    "empty body": (_resign(b""), 400, "invalid_event"),
    "invalid json": (_resign(b'{"eventId": '), 400, "invalid_event"),
    "missing eventId": (
        _resign(orjson.dumps({"eventType": "workflow_run.completed", "payload": {}})),
        400,
        "invalid_event",
    ),
    "payload not an object": (
        _resign(orjson.dumps({"eventId": "e", "eventType": "x", "payload": []})),
        400,
        "invalid_event",
    ),
}


@pytest.mark.parametrize("case", NEGATIVE)
async def test_negative_case(case: str, client: TestClient[Any, Any], redis: Redis) -> None:
    change, status, code = NEGATIVE[case]
    body, headers = change(valid())
    resp = await client.post("/webhooks/extend", data=body, headers=headers)
    assert resp.status == status
    error = (await resp.json())["error"]
    assert error["code"] == code
    assert headers.get(SIG, "<none>") not in error["message"]
    assert await queued_count(redis) == 0


async def test_oversized_body_is_413_and_nothing_queued(redis_url: str, redis: Redis) -> None:
    from aiohttp.test_utils import TestServer

    from ingest.app import create_app
    from tests.conftest import make_settings

    settings = make_settings(redis_url, WEBHOOK_MAX_BODY_BYTES=2048)
    body = event("evt_big", "workflow_run.completed", run_payload("r", "PROCESSED", pad="x" * 4096))
    async with TestClient(TestServer(create_app(settings))) as small:
        resp = await small.post("/webhooks/extend", data=body, headers=extend_headers(body))
        assert resp.status == 413
        assert (await resp.json())["error"]["code"] == "payload_too_large"
    assert await queued_count(redis) == 0


async def test_both_rotated_secrets_are_accepted(client: TestClient[Any, Any]) -> None:
    for i, secret in enumerate([SECRET, OTHER_SECRET]):
        body = event(f"evt_rot_{i}", "workflow_run.completed", run_payload("r", "PROCESSED"))
        resp = await client.post(
            "/webhooks/extend", data=body, headers=extend_headers(body, secret)
        )
        assert resp.status == 200, secret


async def test_same_event_three_times_is_queued_and_applied_once(
    client: TestClient[Any, Any], redis: Redis, settings: Settings
) -> None:
    body = event("evt_dup", "workflow_run.completed", run_payload("workflow_run_d", "PROCESSED"))
    answers = []
    for _ in range(3):
        resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
        answers.append((await resp.json())["status"])
    assert answers == ["queued", "duplicate", "duplicate"]
    assert await redis.zcard("arq:queue") == 1
    assert await run_worker_burst(settings) == 1
    run = await (await client.get("/v1/runs/workflow_run_d", headers=_auth())).json()
    assert [h["eventId"] for h in run["history"]] == ["evt_dup"]


async def test_unknown_event_type_and_signed_url_are_queued(
    client: TestClient[Any, Any], redis: Redis, settings: Settings
) -> None:
    signed = {
        "object": "signed_data_url",
        "id": "workflow_run_s",
        "data": "https://files.invalid/x",
    }
    for event_id, event_type, payload in [
        ("evt_new_type", "workflow.some_future_event", {"anything": 1}),
        ("evt_signed", "workflow_run.completed", signed),
    ]:
        body = event(event_id, event_type, payload)
        resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
        assert (await resp.json())["status"] == "queued"
    await run_worker_burst(settings)
    assert await redis.hget("relay:stats:event-types", "workflow.some_future_event") == b"1"


async def test_concurrent_deliveries_coalesce_without_losing_any(
    client: TestClient[Any, Any], redis: Redis, settings: Settings
) -> None:
    import asyncio

    bodies = [
        event(f"evt_c{i}", "workflow_run.completed", run_payload(f"workflow_run_c{i}", "PROCESSED"))
        for i in range(200)
    ]
    resps = await asyncio.gather(
        *(client.post("/webhooks/extend", data=b, headers=extend_headers(b)) for b in bodies)
    )
    assert [r.status for r in resps] == [200] * 200
    assert await redis.zcard("arq:queue") < 200  # grouped into fewer jobs than events
    await run_worker_burst(settings)
    for i in (0, 99, 199):
        run = await (await client.get(f"/v1/runs/workflow_run_c{i}", headers=_auth())).json()
        assert run["status"] == "PROCESSED"


def _auth() -> dict[str, str]:
    from tests.conftest import auth

    return auth()
