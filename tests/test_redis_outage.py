"""Redis stops while a delivery arrives: 503, nothing acknowledged, nothing lost after restart.

The test owns a private redis-server (never the machine's) so it can kill and restart it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ingest.app import create_app
from tests.conftest import auth, make_settings, run_worker_burst
from tests.support.redis_server import RedisServer
from tests.support.signing import event, extend_headers, run_payload


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


async def test_delivery_during_outage_is_503_then_applied_after_retry(
    private_redis: RedisServer,
) -> None:
    settings = make_settings(private_redis.url)
    body = event("evt_outage", "workflow_run.completed", run_payload("workflow_run_o", "PROCESSED"))
    async with TestClient(TestServer(create_app(settings))) as client:
        assert (await client.get("/readyz")).status == 200
        private_redis.stop()

        resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
        assert resp.status == 503
        assert resp.headers["Retry-After"].isdigit()
        assert (await resp.json())["error"]["code"] == "unavailable"
        assert (await client.get("/readyz")).status == 503

        private_redis.start()  # same port, empty data: the 503'd event was never stored
        resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
        assert resp.status == 200
        assert (await resp.json())["status"] == "queued"
        assert await run_worker_burst(settings) == 1
        run: dict[str, Any] = await (
            await client.get("/v1/runs/workflow_run_o", headers=auth())
        ).json()
        assert run["status"] == "PROCESSED"
        assert [h["eventId"] for h in run["history"]] == ["evt_outage"]
