"""POST /v1/batches validation and Idempotency-Key; the Python producer gives the same result."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from relay_core.batches.models import BatchAccepted
from relay_core.batches.producer import Producer
from relay_core.settings import Settings
from tests.conftest import auth

GOOD = {"workflowId": "workflow_x", "files": [{"url": "https://f.example/a.pdf"}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**GOOD, "files": []}, "files: List should have at least 1 item"),
        ({**GOOD, "files": [{"url": "https://a"}, {"url": "ftp://x/y"}]}, "files[1].url"),
        (
            {**GOOD, "files": [{"url": "https://a/b", "id": "file_1"}]},
            "files[0]: each file needs exactly one",
        ),
        ({**GOOD, "files": [{}]}, "files[0]: each file needs exactly one"),
        ({**GOOD, "priority": 0}, "priority"),
        ({**GOOD, "chunkSize": 51}, "chunkSize"),
        ({**GOOD, "version": "v3"}, "version"),
        ({**GOOD, "metadata": {"k": "x" * 11000}}, "metadata"),
        ({**GOOD, "surprise": 1}, "surprise: unknown field"),
        ({"files": GOOD["files"]}, "workflowId"),
    ],
)
async def test_validation_names_the_field(
    client: TestClient[Any, Any], body: dict[str, Any], message: str
) -> None:
    resp = await client.post("/v1/batches", json=body, headers=auth())
    answer = await resp.json()
    assert resp.status == 400 and answer["error"]["code"] == "invalid_request"
    assert answer["error"]["message"].startswith(message), answer


async def test_not_json_and_no_auth(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/v1/batches", data=b"[1", headers=auth())
    assert resp.status == 400
    resp = await client.post("/v1/batches", json=GOOD)
    assert resp.status == 401


async def test_idempotency_key_replays_the_first_answer(
    client: TestClient[Any, Any], redis: Redis
) -> None:
    headers = {**auth(), "Idempotency-Key": "order-42"}
    first = await client.post("/v1/batches", json=GOOD, headers=headers)
    again = await client.post("/v1/batches", json=GOOD, headers=headers)
    assert first.status == 202 and again.status == 200
    assert await first.json() == await again.json()
    other = await client.post("/v1/batches", json={**GOOD, "priority": 3}, headers=headers)
    assert other.status == 409 and (await other.json())["error"]["code"] == "idempotency_conflict"
    assert await redis.zcard("relay:batches") == 1


async def test_batch_view_and_unknown_batch(client: TestClient[Any, Any]) -> None:
    resp = await client.post(
        "/v1/batches", json={**GOOD, "files": GOOD["files"] * 120}, headers=auth()
    )
    created = await resp.json()
    assert created["files"] == 120 and created["chunks"] == 3
    view = await (await client.get(created["statusUrl"], headers=auth())).json()
    assert view["state"] == "submitting" and view["chunks"]["total"] == 3
    assert view["runs"] == dict.fromkeys(view["runs"], 0) and view["completedAt"] is None
    missing = await client.get("/v1/batches/rbatch_nope", headers=auth())
    assert missing.status == 404
    assert (await client.post("/v1/batches/rbatch_nope/cancel", headers=auth())).status == 404


async def test_producer_validates_like_the_api(settings: Settings, redis: Redis) -> None:
    producer = Producer(redis, settings)
    accepted = await producer.submit(GOOD, idempotency_key="k")
    assert isinstance(accepted, BatchAccepted) and accepted.files == 1
    assert await producer.submit(GOOD, idempotency_key="k") == accepted
    from relay_core.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match=r"files\[0\]\.url"):
        await producer.submit({**GOOD, "files": [{"url": "nope"}]})


@pytest.mark.parametrize(
    "path",
    [
        # schemathesis found the first one: Redis refused the offset and the API answered 500.
        "/v1/batches?cursor=2363675087236281375035503916499",
        "/v1/batches?cursor=%C2%B2",  # "²": str.isdigit() says yes, int() says no
        "/v1/batches?limit=%C2%B2",
        "/v1/batches/rbatch_x/runs?cursor=%C2%B2",
        "/v1/reviews?limit=%C2%B2",
        "/v1/deploys?limit=%C2%B2",
        "/v1/deploys?limit=" + "1" * 5000,  # int() refuses over 4,300 digits
    ],
)
async def test_odd_numbers_in_queries_are_a_400(client: TestClient[Any, Any], path: str) -> None:
    resp = await client.get(path, headers=auth())
    assert resp.status in (400, 404), await resp.text()
    body = await resp.json()
    assert body["error"]["code"] in ("invalid_cursor", "invalid_limit", "not_found")
