"""R9: Redis at maxmemory (noeviction, a private redis-server) while webhooks arrive.

Deliveries get 503 + Retry-After and /readyz says redis_full; nothing acknowledged is lost;
once memory is freed the platform's redeliveries are accepted and every event is applied once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ingest.app import create_app
from relay_core.redis.client import connect
from relay_core.runs.store import RunStore
from relay_core.settings import Settings
from tests.conftest import make_settings, run_worker_burst
from tests.support.redis_server import RedisServer, fill_to
from tests.support.signing import event, extend_headers, run_payload


@pytest.fixture
async def full_stack() -> AsyncIterator[tuple[Settings, TestClient[Any, Any]]]:
    server = RedisServer().start()
    settings = make_settings(server.url)
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield settings, client
    finally:
        await client.close()
        server.stop()


def _body(n: int) -> bytes:
    return event(
        f"evt_full_{n}", "workflow_run.completed", run_payload(f"run_full_{n}", "PROCESSED")
    )


async def _deliver(client: TestClient[Any, Any], ns: range) -> list[tuple[int, Any, str | None]]:
    async def one(n: int) -> tuple[int, Any, str | None]:
        body = _body(n)
        resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
        return resp.status, await resp.json(), resp.headers.get("Retry-After")

    return list(await asyncio.gather(*(one(n) for n in ns)))


async def test_r9_redis_full_refuses_then_applies_redeliveries_once(
    full_stack: tuple[Settings, TestClient[Any, Any]],
) -> None:
    settings, client = full_stack
    redis = connect(settings.redis.url)
    try:
        acked = await _deliver(client, range(0, 30))
        assert all(s == 200 and b["status"] == "queued" for s, b, _ in acked)
        used = int((await redis.info("memory"))["used_memory"])
        await redis.config_set("maxmemory", used + 2 * 1024 * 1024)
        filler = await fill_to(redis, 1.5)  # until Redis refuses writes

        refused = await _deliver(client, range(30, 60))
        assert all(s == 503 and b["error"]["code"] == "unavailable" for s, b, _ in refused)
        assert all(retry_after for _, _, retry_after in refused)
        ready = await client.get("/readyz")
        assert ready.status == 503 and (await ready.json())["error"]["code"] == "redis_full"

        await redis.delete(*filler)  # an operator frees memory (or the retention catches up)
        assert (await client.get("/readyz")).status == 200
        # The platform redelivers what was refused, and some of what was acknowledged.
        again = await _deliver(client, range(20, 60))
        outcomes = [b["status"] for _, b, _ in again]
        assert outcomes == ["duplicate"] * 10 + ["queued"] * 30
        await run_worker_burst(settings)

        store = RunStore(redis)
        for n in range(60):
            run = await store.get(f"run_full_{n}")
            assert run is not None and run["status"] == "PROCESSED", n
            assert [h["eventId"] for h in run["history"]] == [f"evt_full_{n}"]  # applied once
    finally:
        await redis.aclose()
